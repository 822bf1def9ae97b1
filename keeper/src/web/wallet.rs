//! `GET /api/wallet`: what the status page's wallet panel needs to act through the user's wallet — the chain id,
//! the contracts' addresses, the gauge calendar, and the ABI as selectors: each contract's functions (selector,
//! canonical input and output types) and every error of every committed interface by selector (name, input types),
//! plus Solidity's `Error(string)` and `Panic(uint256)`.
//!
//! ## Decisions
//! - **Selectors computed here, from `verity-abi`**: the tables are built from [`verity_abi::rpc::json_abis`],
//!   the same interfaces `contracts/abi/json/` is written from (the ABI drift test checks both), so the page holds
//!   no selector or error name of its own and needs no Keccak in JavaScript. The page does the rest with a small
//!   ABI coder for the types these functions use (static words, `bytes`, `string` and arrays of static types).
//! - **One answer, computed once at start**: the tables do not change while the keeper runs; the page fetches
//!   them once.

use std::collections::BTreeMap;

use alloy::json_abi::{JsonAbi, Param};
use alloy::primitives::Address;
use alloy::sol_types::{Panic, Revert, SolError};
use serde::Serialize;

use crate::index::Calendar;

/// The deployment names the page acts on, with their interfaces.
const CONTRACTS: [(&str, &str); 5] = [
    ("token", "IBrToken"),
    ("escrow", "IVotingEscrow"),
    ("gauge", "IGaugeController"),
    ("registry", "IModelRegistry"),
    ("settlement", "IInferenceSettlement"),
];

/// The answer of `/api/wallet`.
#[derive(Debug, Clone, Serialize)]
pub struct WalletInfo {
    /// The chain the keeper follows (the page asks the wallet to switch when it differs).
    pub chain_id: u64,
    /// The gauge controller's calendar with the vote margin (votes open `vote_margin` seconds after an epoch
    /// starts and close as long before it ends); `None` without a gauge.
    pub calendar: Option<WalletCalendar>,
    /// Lock ends round down to a multiple of this many seconds (the escrow's week).
    pub lock_week: u64,
    /// The longest lock, in seconds.
    pub lock_max: u64,
    /// Per deployment name: address, interface and functions.
    pub contracts: BTreeMap<&'static str, ContractInfo>,
    /// Every error of every interface, by `0x` selector.
    pub errors: BTreeMap<String, ErrorInfo>,
}

/// The calendar as the page uses it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct WalletCalendar {
    /// Start of epoch 0 (unix seconds).
    pub genesis: u64,
    /// Epoch length in seconds.
    pub epoch_len: u64,
    /// Epochs per season.
    pub season_len: u64,
    /// Seconds after an epoch's start (and before its end) when votes open (close).
    pub vote_margin: u64,
}

/// One contract the page can call.
#[derive(Debug, Clone, Serialize)]
pub struct ContractInfo {
    /// Its address.
    pub address: Address,
    /// Its interface (`contracts/abi/json/<interface>.json`).
    pub interface: &'static str,
    /// Its functions by name.
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// One function.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionInfo {
    /// `0x` + 4 bytes.
    pub selector: String,
    /// Canonical input types.
    pub inputs: Vec<String>,
    /// Canonical output types.
    pub outputs: Vec<String>,
}

/// One error.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorInfo {
    /// Its name.
    pub name: String,
    /// The interface that declares it (`Solidity` for `Error` and `Panic`).
    pub interface: &'static str,
    /// Canonical input types.
    pub inputs: Vec<String>,
}

fn types(params: &[Param]) -> Vec<String> {
    params
        .iter()
        .map(|p| p.selector_type().into_owned())
        .collect()
}

fn functions(abi: &JsonAbi) -> BTreeMap<String, FunctionInfo> {
    // Overloads (none today) keep the first; the page calls functions by name.
    let mut out = BTreeMap::new();
    for f in abi.functions() {
        out.entry(f.name.clone()).or_insert_with(|| FunctionInfo {
            selector: f.selector().to_string(),
            inputs: types(&f.inputs),
            outputs: types(&f.outputs),
        });
    }
    out
}

impl WalletInfo {
    /// The tables for `contracts` (deployment name, address; names other than the five the page acts on are
    /// ignored) on chain `chain_id`.
    pub fn new(chain_id: u64, contracts: &[(&str, Address)], calendar: Option<Calendar>) -> Self {
        let abis = verity_abi::rpc::json_abis();
        let abi_of = |interface: &str| abis.iter().find(|(n, _)| *n == interface).map(|(_, a)| a);
        let mut out = BTreeMap::new();
        for (name, interface) in CONTRACTS {
            let (Some((_, address)), Some(abi)) = (
                contracts.iter().find(|(n, _)| *n == name),
                abi_of(interface),
            ) else {
                continue;
            };
            out.insert(
                name,
                ContractInfo {
                    address: *address,
                    interface,
                    functions: functions(abi),
                },
            );
        }
        let mut errors = BTreeMap::new();
        for &(interface, ref abi) in &abis {
            for e in abi.errors() {
                errors
                    .entry(e.selector().to_string())
                    .or_insert_with(|| ErrorInfo {
                        name: e.name.clone(),
                        interface,
                        inputs: types(&e.inputs),
                    });
            }
        }
        for (selector, name, input) in [
            (Revert::SELECTOR, "Error", "string"),
            (Panic::SELECTOR, "Panic", "uint256"),
        ] {
            errors.insert(
                alloy::primitives::hex::encode_prefixed(selector),
                ErrorInfo {
                    name: name.into(),
                    interface: "Solidity",
                    inputs: vec![input.into()],
                },
            );
        }
        Self {
            chain_id,
            calendar: calendar.map(|c| WalletCalendar {
                genesis: c.genesis,
                epoch_len: c.epoch_len,
                season_len: c.season_len,
                vote_margin: verity_abi::gauge::VOTE_MARGIN,
            }),
            lock_week: verity_abi::escrow::WEEK,
            lock_max: verity_abi::escrow::MAX_LOCK,
            contracts: out,
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::sol_types::{SolCall, SolError};
    use verity_abi::rpc::{IGaugeController, IVotingEscrow};

    use super::*;

    #[test]
    fn selectors_and_errors_come_from_the_bindings() {
        let gauge = Address::repeat_byte(1);
        let info = WalletInfo::new(
            31337,
            &[("gauge", gauge), ("nodes", Address::repeat_byte(2))],
            None,
        );
        assert_eq!(
            info.contracts.len(),
            1,
            "only the contracts given and acted on"
        );
        let vote = &info.contracts["gauge"].functions["vote"];
        assert_eq!(
            vote.selector,
            alloy::primitives::hex::encode_prefixed(IGaugeController::voteCall::SELECTOR)
        );
        assert_eq!(vote.inputs, ["address[]", "uint16[]"]);
        // Errors of interfaces not deployed here are still decoded (a call into BR fails inside the escrow).
        let e = &info.errors[&alloy::primitives::hex::encode_prefixed(
            IVotingEscrow::EscrowUnlockTooEarly::SELECTOR,
        )];
        assert_eq!(
            (e.name.as_str(), e.interface),
            ("EscrowUnlockTooEarly", "IVotingEscrow")
        );
        assert_eq!(e.inputs, ["uint64", "uint64"]);
        assert_eq!(info.errors["0x08c379a0"].name, "Error");
    }
}
