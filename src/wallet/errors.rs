//! What can go wrong for a wallet user, as one enum, and the revert decoder: revert data is matched against every
//! error of every committed interface (`verity_abi::rpc`'s JSON ABIs, the very `contracts/abi/json/` files), plus
//! Solidity's `Error(string)` and `Panic(uint256)`, and printed as the error's name and arguments with one line of
//! advice. A `bytes` argument that is itself revert data (`EscrowTokenCallFailed`, `GaugeCallFailed`) is decoded
//! in turn, so a lock that fails inside BR reads `EscrowTokenCallFailed(…, ERC20InsufficientBalance(…))`.
//!
//! ## Decisions
//! - **Names from the committed interfaces, not a second list**: the table is built from
//!   [`verity_abi::rpc::json_abis`], so an error added to a contract is decoded the day its interface is
//!   regenerated; only the advice lines are written here, with a generic line by family (`…Unauthorized`,
//!   `…Paused`, `…NothingToWithdraw`) for errors without their own.
//! - **Arguments without names**: `export-abi` drops error parameter names, so arguments print by position;
//!   the advice line says what they mean where it matters (times as UTC dates, amounts in BR or ETH).

use std::{collections::BTreeMap, fmt, sync::OnceLock};

use alloy::{
    dyn_abi::{DynSolValue, JsonAbiExt},
    json_abi::Error as AbiError,
    primitives::U256,
};
use serde_json::{json, Value};

use super::format::{utc, value_text};

/// Everything a wallet command can fail with; each has one line of advice.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// A contract refused the call (in the simulation or on chain).
    #[error("{0}")]
    Revert(Box<Decoded>),
    /// A check made before sending found a problem the contract would not (or not yet) report.
    #[error("{message}")]
    Check {
        /// What is wrong.
        message: String,
        /// What to do about it.
        advice: String,
    },
    /// The transaction was mined but reverted.
    #[error("transaction {tx} reverted on chain (gas used {gas_used}){}", .decoded.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    RevertedOnChain {
        /// Its hash.
        tx: String,
        /// Gas it used.
        gas_used: u64,
        /// The reason, when replaying it gives one.
        decoded: Option<Box<Decoded>>,
    },
    /// A model version ended Rejected or Expired.
    #[error("version {id} was {status}: {reason}")]
    NotRegistered {
        /// The version id.
        id: U256,
        /// `Rejected` or `Expired`.
        status: String,
        /// The reason code's name.
        reason: String,
        /// What to do about it.
        advice: String,
    },
    /// The node could not be reached or answered with an error that is not a revert.
    #[error("{context}: {message}")]
    Rpc {
        /// What was being done.
        context: String,
        /// The node's or transport's message.
        message: String,
    },
    /// Bad input: flags, files, the deployment record, the signer.
    #[error("{0}")]
    Input(String),
}

impl WalletError {
    /// A bad-input error.
    pub fn input(message: impl Into<String>) -> Self {
        Self::Input(message.into())
    }

    /// A failed pre-send check.
    pub fn check(message: impl Into<String>, advice: impl Into<String>) -> Self {
        Self::Check {
            message: message.into(),
            advice: advice.into(),
        }
    }

    /// An error from the node while doing `context`: a revert is decoded, anything else kept as one line.
    pub fn from_contract(context: &str, err: alloy::contract::Error) -> Self {
        if let Some(data) = err.as_revert_data() {
            return Self::Revert(Box::new(decode(&data)));
        }
        Self::Rpc {
            context: context.to_owned(),
            message: one_line(&err.to_string()),
        }
    }

    /// A transport or RPC error while doing `context`.
    pub fn rpc(context: &str, err: impl fmt::Display) -> Self {
        Self::Rpc {
            context: context.to_owned(),
            message: one_line(&err.to_string()),
        }
    }

    /// One line on what to do.
    pub fn advice(&self) -> String {
        match self {
            Self::Revert(d) => d.advice.clone(),
            Self::Check { advice, .. } | Self::NotRegistered { advice, .. } => advice.clone(),
            Self::RevertedOnChain { decoded: Some(d), .. } => d.advice.clone(),
            Self::RevertedOnChain { decoded: None, .. } => {
                "the state changed between the simulation and the block; run the command again".into()
            }
            Self::Rpc { .. } => {
                "check --rpc-url (is the node running?) and that it serves the network of the deployment record"
                    .into()
            }
            Self::Input(_) => "see `verity <command> --help`".into(),
        }
    }

    /// The machine-readable form printed by `--json`.
    pub fn to_json(&self) -> Value {
        let kind = match self {
            Self::Revert(_) => "revert",
            Self::Check { .. } => "check",
            Self::RevertedOnChain { .. } => "reverted-on-chain",
            Self::NotRegistered { .. } => "not-registered",
            Self::Rpc { .. } => "rpc",
            Self::Input(_) => "input",
        };
        let mut out = json!({ "kind": kind, "message": self.to_string(), "advice": self.advice() });
        match self {
            Self::Revert(d)
            | Self::RevertedOnChain {
                decoded: Some(d), ..
            } => {
                out["error"] = d.to_json();
            }
            Self::NotRegistered {
                id, status, reason, ..
            } => {
                out["id"] = json!(id.to_string());
                out["status"] = json!(status);
                out["reason"] = json!(reason);
            }
            _ => {}
        }
        out
    }
}

/// Keeps the first line of a long transport message.
fn one_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or_default();
    if line.len() > 300 {
        format!("{}…", &line[..line.floor_char_boundary(300)])
    } else {
        line.to_owned()
    }
}

/// A decoded revert: the error's name, its arguments as text, a nested revert where an argument holds one, and
/// advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The interface that declares the error (`IModelRegistry`), `Solidity` for `Error`/`Panic`, or empty when
    /// the selector is unknown.
    pub interface: String,
    /// The error's name (`RegistryUnknownParent`); `unknown error 0x…` for an unknown selector.
    pub name: String,
    /// Each argument as text, in order.
    pub args: Vec<String>,
    /// A revert found inside a `bytes` argument.
    pub inner: Option<Box<Decoded>>,
    /// What to do about it.
    pub advice: String,
}

impl fmt::Display for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name, self.args.join(", "))
    }
}

impl Decoded {
    /// `{ interface, name, args, inner? }`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "interface": self.interface,
            "name": self.name,
            "args": self.args,
            "advice": self.advice,
        });
        if let Some(inner) = &self.inner {
            out["inner"] = inner.to_json();
        }
        out
    }

    /// This error or the one nested in it, innermost first, has `name`.
    pub fn is_or_wraps(&self, name: &str) -> bool {
        self.name == name || self.inner.as_ref().is_some_and(|i| i.is_or_wraps(name))
    }
}

/// Every error of every committed interface by selector (the first interface declaring it wins; shared errors
/// such as `SettlementUnauthorized` have one signature).
fn table() -> &'static BTreeMap<[u8; 4], (&'static str, AbiError)> {
    static TABLE: OnceLock<BTreeMap<[u8; 4], (&'static str, AbiError)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = BTreeMap::new();
        for (interface, abi) in verity_abi::rpc::json_abis() {
            for error in abi.errors() {
                table
                    .entry(error.selector().0)
                    .or_insert_with(|| (interface, error.clone()));
            }
        }
        table
    })
}

/// `Error(string)`.
const ERROR_STRING: [u8; 4] = [0x08, 0xc3, 0x79, 0xa0];
/// `Panic(uint256)`.
const PANIC: [u8; 4] = [0x4e, 0x48, 0x7b, 0x71];

/// Decodes revert data against every Verity error, `Error(string)` and `Panic(uint256)`.
pub fn decode(data: &[u8]) -> Decoded {
    decode_depth(data, 0)
}

fn decode_depth(data: &[u8], depth: u8) -> Decoded {
    let unknown = |name: String| Decoded {
        interface: String::new(),
        name,
        args: vec![],
        inner: None,
        advice:
            "the contract reverted without a Verity error; is the deployment record for this chain?"
                .into(),
    };
    let Some(selector) = data
        .get(..4)
        .map(|s| <[u8; 4]>::try_from(s).expect("4 bytes"))
    else {
        return unknown(if data.is_empty() {
            "revert without data".into()
        } else {
            format!("malformed revert of {} bytes", data.len())
        });
    };
    if selector == ERROR_STRING || selector == PANIC {
        let abi = if selector == ERROR_STRING {
            AbiError::parse("error Error(string)")
        } else {
            AbiError::parse("error Panic(uint256)")
        }
        .expect("a valid signature");
        let values = abi.abi_decode_input(&data[4..]).unwrap_or_default();
        let args: Vec<String> = values.iter().map(value_text).collect();
        let advice = if selector == PANIC {
            "the contract panicked (an arithmetic or bounds check); report it with the command that caused it"
        } else {
            "the contract's message says why"
        };
        return Decoded {
            interface: "Solidity".into(),
            name: abi.name.clone(),
            args,
            inner: None,
            advice: advice.into(),
        };
    }
    let Some((interface, abi)) = table().get(&selector) else {
        return unknown(format!(
            "unknown error 0x{} ({} bytes)",
            alloy::hex::encode(selector),
            data.len()
        ));
    };
    let values = match abi.abi_decode_input(&data[4..]) {
        Ok(values) => values,
        Err(_) => {
            return Decoded {
                interface: (*interface).into(),
                name: abi.name.clone(),
                args: vec!["<malformed arguments>".into()],
                inner: None,
                advice: advice(&abi.name, &[]),
            }
        }
    };
    let mut inner = None;
    let args = values
        .iter()
        .map(|v| match v {
            DynSolValue::Bytes(b) if depth < 4 && b.len() >= 4 => {
                let nested = decode_depth(b, depth + 1);
                let text = nested.to_string();
                inner = Some(Box::new(nested));
                text
            }
            DynSolValue::Bytes(b) if b.is_empty() => "<no data>".into(),
            other => value_text(other),
        })
        .collect();
    let mut advice = advice(&abi.name, &values);
    if let Some(nested) = &inner {
        advice = format!("{advice}; inside: {}", nested.advice);
    }
    Decoded {
        interface: (*interface).into(),
        name: abi.name.clone(),
        args,
        inner,
        advice,
    }
}

/// Argument `i` as a `u64` (0 when absent or too large).
fn arg_u64(values: &[DynSolValue], i: usize) -> u64 {
    match values.get(i) {
        Some(DynSolValue::Uint(v, _)) => u64::try_from(*v).unwrap_or(u64::MAX),
        _ => 0,
    }
}

/// Argument `i` as text.
fn arg(values: &[DynSolValue], i: usize) -> String {
    values.get(i).map(value_text).unwrap_or_default()
}

/// One line of advice for error `name` with its decoded `values`.
pub fn advice(name: &str, values: &[DynSolValue]) -> String {
    let specific = match name {
        // veBR
        "EscrowInvalidAmount" => Some(format!(
            "a new lock needs at least {} base units (0.000000000126144 BR) and an increase a non-zero amount",
            verity_abi::escrow::MIN_LOCK_AMOUNT
        )),
        "EscrowLockExists" => Some("this account already has a lock: `verity ve increase` adds BR, `verity ve extend` moves its end".into()),
        "EscrowNoLock" => Some("this account has no lock: create one with `verity ve lock AMOUNT --weeks N`".into()),
        "EscrowLockExpired" => Some(format!(
            "the lock ended {}: withdraw it with `verity ve withdraw`, then lock again",
            utc(arg_u64(values, 1))
        )),
        "EscrowLockNotExpired" => Some(format!(
            "the lock runs until {}: it can be withdrawn from then on",
            utc(arg_u64(values, 1))
        )),
        "EscrowUnlockTooEarly" => Some(format!(
            "lock ends are rounded down to a week (Thursday 00:00 UTC) and must fall after {}: lock for at least one full week (--weeks 1 or more)",
            utc(arg_u64(values, 1))
        )),
        "EscrowUnlockTooLate" => Some(format!(
            "a lock may end at most 4 years ahead, by {}",
            utc(arg_u64(values, 1))
        )),
        "EscrowTokenCallFailed" => Some("the BR transfer into or out of the escrow failed".into()),
        // BR
        "ERC20InsufficientBalance" => Some(format!("the account holds {} BR base units, {} needed", arg(values, 1), arg(values, 2))),
        "ERC20InsufficientAllowance" => Some("approve the spender first (the `ve` commands do it for you)".into()),
        "ERC20ExceededCap" => Some("BR's supply cap would be exceeded".into()),
        // gauges
        "GaugeNotStarted" => Some(format!("voting opens with the first epoch, at {}", utc(arg_u64(values, 0)))),
        "GaugeVoteOutsideWindow" => Some(format!(
            "votes for epoch {} are accepted from {} to {}",
            arg(values, 0),
            utc(arg_u64(values, 1)),
            utc(arg_u64(values, 2))
        )),
        "GaugeVoteOverflow" => Some(format!(
            "the allocations sum to {} bps; they may add up to at most 10,000",
            arg(values, 0)
        )),
        "GaugeVoteUnsorted" | "GaugeVoteLengthMismatch" => Some("name each gauge once (`verity vote` sorts them)".into()),
        "GaugeVoteRoundsToZero" => Some("that allocation is worth no weight: give it more bps or drop it".into()),
        "GaugeNoVotingPower" => Some(format!(
            "votes count the lock's power at the epoch start ({}); a lock made since counts from the next epoch",
            utc(arg_u64(values, 1))
        )),
        "GaugeUnknown" => Some("no such gauge: `verity gauges` lists them".into()),
        "GaugeIsKilled" => Some("that gauge was killed by governance and takes no votes".into()),
        // registry
        "RegistryUnknownParent" => Some(format!(
            "no version has id {}: parents must exist before their children (`verity model list`)",
            arg(values, 0)
        )),
        "RegistryUnknownVersion" => Some(format!("no version has id {}", arg(values, 0))),
        "RegistryVersionNotIncreasing" => Some(format!(
            "versions of a name only go up: pass a version above {}",
            arg(values, 2)
        )),
        "RegistryNotNameOwner" => Some("the name belongs to another account: pick another name or ask its owner to transfer it".into()),
        "RegistryInsufficientFee" => Some(format!("send at least {} wei (--fee)", arg(values, 1))),
        "RegistryFeeTooLarge" => Some("a fee must fit 64 bits of wei (at most 18.4 ETH)".into()),
        "RegistryTooManyParents" | "RegistryTooManyTags" => Some(format!("at most {} are allowed", arg(values, 1))),
        "RegistryInvalidName" => Some("give a non-empty --name".into()),
        "RegistryNotExpired" => Some(format!("the version can be expired from {}", utc(arg_u64(values, 1)))),
        // settlement
        "SettlementNodeInactive" => Some("the node is not serving: stake below the minimum, unbonding, or its TEE key not approved".into()),
        "SettlementUnknownNode" => Some("no node is registered at that address".into()),
        "SettlementModelNotUsable" => Some(format!(
            "model version {} is not Registered (or is yanked): `verity model show {}`",
            arg(values, 0),
            arg(values, 0)
        )),
        "SettlementRequestExists" => Some("that request id is taken: omit --request-id to get a fresh one".into()),
        "SettlementUnknownRequest" => Some("no request has that id".into()),
        "SettlementTooEarly" => Some(format!("not before {}", utc(arg_u64(values, 0)))),
        "SettlementTooLate" => Some(format!("the deadline passed at {}", utc(arg_u64(values, 0)))),
        "SettlementAlreadySettled" => Some("the request is already settled or refunded".into()),
        "SettlementBadRequestStatus" => Some("the request is not in a state that allows this (see its status)".into()),
        "SettlementInsufficientValue" => Some(format!("send at least {} wei", arg(values, 1))),
        "SettlementInvalidParam" => Some("a parameter is out of range (for `request`: --mode is tee or zk)".into()),
        _ => None,
    };
    if let Some(advice) = specific {
        return advice;
    }
    let family = if name.ends_with("NothingToWithdraw") {
        "nothing is owed to this account by that contract: `verity withdraw` lists every credit"
    } else if name.contains("Unauthorized") {
        "this account lacks the role this call needs (governance, keeper, node or payer)"
    } else if name.ends_with("Paused") {
        "the contract is paused by governance; try again later"
    } else if name.ends_with("TransferFailed") {
        "sending ETH to the recipient failed (a contract that refuses ETH?)"
    } else if name.starts_with("Already") || name.contains("Already") {
        "already done: nothing to do"
    } else {
        "see the error's documentation in contracts/abi (verity-abi)"
    };
    family.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;
    use verity_abi::{
        escrow::{EscrowTokenCallFailed, EscrowUnlockTooEarly},
        registry::RegistryUnknownParent,
        token::ERC20InsufficientBalance,
    };

    #[test]
    fn decodes_a_registry_error_with_its_argument() {
        let data = RegistryUnknownParent {
            parent: U256::from(999),
        }
        .abi_encode();
        let d = decode(&data);
        assert_eq!(d.to_string(), "RegistryUnknownParent(999)");
        assert_eq!(d.interface, "IModelRegistry");
        assert!(d.advice.contains("999"), "{}", d.advice);
    }

    #[test]
    fn decodes_nested_token_errors() {
        let inner = ERC20InsufficientBalance {
            sender: alloy::primitives::Address::repeat_byte(1),
            balance: U256::ZERO,
            needed: U256::from(5),
        }
        .abi_encode();
        let data = EscrowTokenCallFailed {
            token: alloy::primitives::Address::repeat_byte(2),
            reason: inner.into(),
        }
        .abi_encode();
        let d = decode(&data);
        assert_eq!(d.name, "EscrowTokenCallFailed");
        assert!(d.is_or_wraps("ERC20InsufficientBalance"), "{d}");
        assert!(d.to_string().contains("ERC20InsufficientBalance("), "{d}");
    }

    #[test]
    fn times_read_as_dates_and_unknown_selectors_stay_short() {
        let data = EscrowUnlockTooEarly {
            unlockTime: 0,
            minimum: 1_830_297_600,
        }
        .abi_encode();
        assert!(decode(&data).advice.contains("2028-01-01"));
        let d = decode(&[0xde, 0xad, 0xbe, 0xef, 0, 0]);
        assert_eq!(d.name, "unknown error 0xdeadbeef (6 bytes)");
        assert_eq!(decode(&[]).name, "revert without data");
    }

    #[test]
    fn every_interface_error_has_a_table_entry() {
        let n: usize = verity_abi::rpc::json_abis()
            .iter()
            .map(|(_, abi)| abi.errors().count())
            .sum();
        assert!(n >= 80, "{n} errors");
        for (_, abi) in verity_abi::rpc::json_abis() {
            for e in abi.errors() {
                assert!(table().contains_key(&e.selector().0), "{}", e.name);
            }
        }
    }
}
