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

/// The proof a node hands `SettlementNodes.registerNode(signingKey, keyProof)` that it holds `signing_key`: the
/// key's signature `r ‖ s ‖ v` (65 bytes, `v` 27/28) of
/// [`key_registration_hash`](crate::settlement::key_registration_hash)`(chain_id, nodes, node)`. One call for the
/// CLI, the benchmarks, the tests and an inference node.
///
/// # Errors
/// The signer failed.
pub fn key_registration_proof(
    signing_key: &(impl alloy::signers::SignerSync + ?Sized),
    chain_id: u64,
    nodes: alloy::primitives::Address,
    node: alloy::primitives::Address,
) -> alloy::signers::Result<alloy::primitives::Bytes> {
    let digest = crate::settlement::key_registration_hash(chain_id, nodes, node);
    let sig = signing_key.sign_hash_sync(&digest)?;
    let mut proof = alloc::vec::Vec::with_capacity(crate::settlement::KEY_PROOF_LEN);
    proof.extend_from_slice(&sig.r().to_be_bytes::<32>());
    proof.extend_from_slice(&sig.s().to_be_bytes::<32>());
    proof.push(27 + u8::from(sig.v()));
    Ok(proof.into())
}
