//! # verity-abi — the single source of Verity's interfaces
//!
//! The `no_std` core declares every event, error and shared type the contracts use, once, with `sol!`.
//! Each contract's function interface is exported from the contract itself (`export-abi`) and committed under
//! `contracts/abi/interfaces/` with its events appended from this crate ([`token::EVENTS_SOL`] …); the `rpc`
//! feature binds those committed files with `sol!(#[sol(rpc)] …)` for the CLI, the keeper and the tests.
//! `tests/abi_drift.rs` re-exports every contract's interface and fails on any difference.
#![no_std]

extern crate alloc;

/// Declares Solidity items with `sol!` and keeps their source text, so the committed interface files get the
/// very same declarations (events are not part of `export-abi`'s output).
/// The `event …` declarations of an events source (e.g. [`token::EVENTS_SOL`]), one per item, with
/// conventional spacing: `stringify!` may wrap lines and put spaces before `(` and `,`.
pub fn solidity_events(source: &str) -> alloc::vec::Vec<alloc::string::String> {
    source
        .split(';')
        .map(|event| {
            let words: alloc::vec::Vec<&str> = event.split_whitespace().collect();
            words
                .join(" ")
                .replace(" (", "(")
                .replace(" ,", ",")
                .replace("( ", "(")
                .replace(" )", ")")
        })
        .filter(|event| !event.is_empty())
        .map(|event| alloc::format!("{event};"))
        .collect()
}

macro_rules! sol_with_source {
    ($(#[$meta:meta])* $source:ident => { $($body:tt)* }) => {
        alloy_sol_types::sol! { #![sol(all_derives)] $($body)* }
        $(#[$meta])*
        pub const $source: &str = stringify!($($body)*);
    };
}

pub mod escrow;
pub mod gauge;
pub mod groth16;
pub mod registry;
pub mod settlement;
pub mod token;

/// Selector of a Stylus constructor call: `keccak256("stylus_constructor()")[..4]`, followed by the
/// ABI-encoded constructor arguments (stylus-sdk's `CONSTRUCTOR_SELECTOR`; the token's tests assert equality).
pub const STYLUS_CONSTRUCTOR_SELECTOR: [u8; 4] = [0x55, 0x85, 0x25, 0x8d];

/// Where one deployable contract's ABI lives: its package, its committed interface file and its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractAbi {
    /// Cargo package of the contract (`verity-token`).
    pub package: &'static str,
    /// Interface name printed by `export-abi` (`I` + the entrypoint struct), also the file stem under
    /// `contracts/abi/interfaces/`.
    pub interface: &'static str,
    /// Solidity source of the contract's events, appended to the exported interface.
    pub events_sol: &'static str,
}

/// Every deployable contract, in deployment order. The build pipeline, deployment and the ABI drift test
/// read this list; adding a contract is one line here.
pub const CONTRACTS: &[ContractAbi] = &[
    ContractAbi {
        package: "verity-token",
        interface: "IBrToken",
        events_sol: token::EVENTS_SOL,
    },
    ContractAbi {
        package: "verity-escrow",
        interface: "IVotingEscrow",
        events_sol: escrow::EVENTS_SOL,
    },
    ContractAbi {
        package: "verity-gauge",
        interface: "IGaugeController",
        events_sol: gauge::EVENTS_SOL,
    },
    ContractAbi {
        package: "verity-registry",
        interface: "IModelRegistry",
        events_sol: registry::EVENTS_SOL,
    },
    ContractAbi {
        package: "verity-settlement-nodes",
        interface: "ISettlementNodes",
        events_sol: settlement::nodes::EVENTS_SOL,
    },
    ContractAbi {
        package: "verity-settlement-batches",
        interface: "IReceiptBatches",
        events_sol: settlement::batches::EVENTS_SOL,
    },
    ContractAbi {
        package: "verity-settlement",
        interface: "IInferenceSettlement",
        events_sol: settlement::EVENTS_SOL,
    },
    ContractAbi {
        package: "verity-settlement-committee",
        interface: "ICommitteeVerifier",
        events_sol: settlement::committee::EVENTS_SOL,
    },
    ContractAbi {
        package: "verity-groth16",
        interface: "IGroth16Verifier",
        events_sol: groth16::EVENTS_SOL,
    },
];

#[cfg(feature = "rpc")]
pub mod rpc;
