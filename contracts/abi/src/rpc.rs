//! alloy bindings of the committed interfaces (`contracts/abi/interfaces/*.sol`), for the CLI, the keeper and
//! the tests. The files are generated (`verity abi --write`) from the contracts' `export-abi` output plus the
//! events declared in this crate; `tests/it/abi_drift.rs` fails when they drift.
#![allow(missing_docs)]

alloy::sol!(
    #[sol(rpc)]
    "interfaces/IBrToken.sol"
);

alloy::sol!(
    #[sol(rpc)]
    "interfaces/IVotingEscrow.sol"
);

alloy::sol!(
    #[sol(rpc)]
    "interfaces/IGaugeController.sol"
);

// `submit` and the `VersionInfo` constructor take one argument per field.
#[allow(clippy::too_many_arguments)]
mod model_registry {
    alloy::sol!(
        #[sol(rpc)]
        "interfaces/IModelRegistry.sol"
    );
}
pub use model_registry::*;

alloy::sol!(
    #[sol(rpc)]
    "interfaces/ISettlementNodes.sol"
);

alloy::sol!(
    #[sol(rpc)]
    "interfaces/IReceiptBatches.sol"
);

alloy::sol!(
    #[sol(rpc)]
    "interfaces/IInferenceSettlement.sol"
);

alloy::sol!(
    #[sol(rpc)]
    "interfaces/ICommitteeVerifier.sol"
);

alloy::sol!(
    #[sol(rpc)]
    "interfaces/IGroth16Verifier.sol"
);
