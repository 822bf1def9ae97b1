//! The chain's error type and its one mapping to JSON-RPC error objects.
//!
//! Transaction-admission errors carry geth's texts (`core/txpool/errors.go`, `core/error.go`) without geth's
//! detail suffixes, because clients classify failures by these prefixes. They map to code -32000 like geth's.
//! A revert maps to code 3 with message `execution reverted` (plus `: <reason>` for `Error(string)`) and the raw
//! revert bytes as `data`, as reth and geth do.

use alloy::primitives::{Address, Bytes};
use alloy::sol_types::{Revert, SolError};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};

/// Result alias for chain operations.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// JSON-RPC code geth uses for transaction and execution errors.
pub const SERVER_ERROR_CODE: i32 = -32000;
/// JSON-RPC code for a revert (geth, reth, anvil).
pub const REVERT_CODE: i32 = 3;
/// JSON-RPC code for invalid method parameters.
pub const INVALID_PARAMS_CODE: i32 = -32602;
/// JSON-RPC code for an internal error.
pub const INTERNAL_ERROR_CODE: i32 = -32603;

/// Everything the chain can refuse or fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transaction's nonce is below the sender's account nonce.
    #[error("nonce too low")]
    NonceTooLow {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The transaction's nonce is above the account nonce where a gap is not allowed (calls).
    #[error("nonce too high")]
    NonceTooHigh {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The exact transaction is already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// A pool transaction with the same sender and nonce pays at least as much (a bump of 10% is required).
    #[error("replacement transaction underpriced")]
    ReplacementUnderpriced,
    /// The sender cannot pay `gas_limit * max_fee + value`.
    #[error("insufficient funds for gas * price + value")]
    InsufficientFunds {
        /// The sender.
        address: Address,
    },
    /// The signature does not recover to a valid sender.
    #[error("invalid sender")]
    InvalidSender,
    /// The transaction is signed for another chain.
    #[error("invalid chain id for signer")]
    InvalidChainId,
    /// The fee cap is below the base fee of the next block.
    #[error("max fee per gas less than block base fee")]
    FeeCapTooLow,
    /// The tip is above the fee cap.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// The gas limit does not cover the intrinsic gas (or the EIP-7623 calldata floor).
    #[error("intrinsic gas too low")]
    IntrinsicGasTooLow,
    /// The gas limit exceeds the block gas limit.
    #[error("exceeds block gas limit")]
    GasLimitTooHigh,
    /// Blob (EIP-4844) and unknown transaction types.
    #[error("transaction type not supported")]
    TxTypeNotSupported,
    /// The raw bytes are not a signed transaction envelope.
    #[error("failed to decode signed transaction: {0}")]
    Decode(String),
    /// `eth_sendTransaction` from an address the node holds no key for.
    #[error("unknown account")]
    UnknownAccount(Address),
    /// Any other reason revm refuses the transaction.
    #[error("{0}")]
    Invalid(String),
    /// The execution reverted with this output.
    #[error("execution reverted{}", revert_suffix(.0))]
    Revert(Bytes),
    /// The execution halted (out of gas, invalid opcode, …).
    #[error("{0}")]
    Halt(String),
    /// Gas estimation: even the gas cap is not enough.
    #[error("gas required exceeds allowance ({0})")]
    GasRequiredExceedsAllowance(u64),
    /// The requested block does not exist.
    #[error("header not found")]
    HeaderNotFound,
    /// A timestamp that would make time run backwards.
    #[error("timestamp {requested} is lower than the previous block's timestamp {parent}")]
    TimestampTooLow {
        /// The requested timestamp.
        requested: u64,
        /// The head block's timestamp.
        parent: u64,
    },
    /// A reorg/rollback deeper than the chain.
    #[error("reorg depth {depth} exceeds chain height {height}")]
    ReorgTooDeep {
        /// Requested depth.
        depth: u64,
        /// Current head number.
        height: u64,
    },
    /// No pending transaction has this hash.
    #[error("transaction not found")]
    TransactionNotFound,
    /// Parameters that parse but make no sense.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// An invariant of the node broke (a bug, never bad input).
    #[error("internal error: {0}")]
    Internal(String),
}

fn revert_suffix(output: &Bytes) -> String {
    match revert_reason(output) {
        Some(reason) => format!(": {reason}"),
        None => String::new(),
    }
}

/// The reason string of an `Error(string)` revert, if the output is one (geth appends only these).
pub fn revert_reason(output: &[u8]) -> Option<String> {
    Revert::abi_decode(output).ok().map(|r| r.reason)
}

impl Error {
    /// The JSON-RPC error code for this error.
    pub fn code(&self) -> i32 {
        match self {
            Self::Revert(_) => REVERT_CODE,
            Self::Decode(_) | Self::InvalidParams(_) => INVALID_PARAMS_CODE,
            Self::Internal(_) => INTERNAL_ERROR_CODE,
            Self::NonceTooLow { .. }
            | Self::NonceTooHigh { .. }
            | Self::AlreadyKnown
            | Self::ReplacementUnderpriced
            | Self::InsufficientFunds { .. }
            | Self::InvalidSender
            | Self::InvalidChainId
            | Self::FeeCapTooLow
            | Self::TipAboveFeeCap
            | Self::IntrinsicGasTooLow
            | Self::GasLimitTooHigh
            | Self::TxTypeNotSupported
            | Self::UnknownAccount(_)
            | Self::Halt(_)
            | Self::Invalid(_)
            | Self::GasRequiredExceedsAllowance(_)
            | Self::HeaderNotFound
            | Self::TimestampTooLow { .. }
            | Self::ReorgTooDeep { .. }
            | Self::TransactionNotFound => SERVER_ERROR_CODE,
        }
    }
}

impl From<Error> for ErrorObjectOwned {
    fn from(err: Error) -> Self {
        let code = err.code();
        let message = err.to_string();
        match err {
            Error::Revert(output) => ErrorObject::owned(code, message, Some(output)),
            _ => ErrorObject::owned(code, message, None::<()>),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revert_maps_to_code_3_with_reason_and_data() {
        let data: Bytes = Revert::from("boom").abi_encode().into();
        let obj = ErrorObjectOwned::from(Error::Revert(data.clone()));
        assert_eq!(obj.code(), 3);
        assert_eq!(obj.message(), "execution reverted: boom");
        let raw = obj.data().map(|d| d.get().to_string()).unwrap_or_default();
        assert_eq!(raw, format!("\"{data}\""));
    }

    #[test]
    fn custom_error_revert_has_no_reason() {
        let obj = ErrorObjectOwned::from(Error::Revert(Bytes::from_static(&[1, 2, 3, 4])));
        assert_eq!(obj.message(), "execution reverted");
    }

    #[test]
    fn admission_errors_use_geth_code() {
        let obj = ErrorObjectOwned::from(Error::NonceTooLow {
            expected: 1,
            got: 0,
        });
        assert_eq!((obj.code(), obj.message()), (-32000, "nonce too low"));
    }
}
