//! Why the node did not answer: a [`Refusal`] (the request can never succeed as sent; nothing was signed) or a
//! transient [`NodeError`] (retry with the same request id).

use alloy::primitives::{B256, U256};

/// A request the node will not run; nothing is signed, nothing stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The version does not exist, was rejected or expired.
    #[error("model version {version} is not registered (status {status})")]
    Unregistered {
        /// The version.
        version: U256,
        /// Its registry status.
        status: &'static str,
    },
    /// The version was yanked by its owner.
    #[error("model version {0} is yanked")]
    Yanked(U256),
    /// The version is pending (submitted or stored, not yet registered) or not usable at the chain's time.
    #[error("model version {version} is not usable yet (status {status})")]
    NotYetUsable {
        /// The version.
        version: U256,
        /// Its registry status.
        status: &'static str,
    },
    /// The weights fetched from the storage URI do not hash to the registered content hash.
    #[error("weights of model version {version}: keccak256 {got} is not the registered content hash {expected}")]
    HashMismatch {
        /// The version.
        version: U256,
        /// The registered content hash.
        expected: B256,
        /// keccak256 of the bytes fetched.
        got: B256,
    },
    /// The version's format is not one this node runs.
    #[error(
        "model version {version}: format code {format} is not supported (this node runs VZK1)"
    )]
    UnsupportedRuntime {
        /// The version.
        version: U256,
        /// Its registry format code.
        format: u8,
    },
    /// The registered weights are not a valid `VZK1` file.
    #[error("weights of model version {version} are not a valid VZK1 file: {reason}")]
    BadWeights {
        /// The version.
        version: U256,
        /// The parser's reason.
        reason: verity_zk::model::FormatError,
    },
    /// The input has the wrong number of values.
    #[error("malformed input: {got} values, the model takes {expected}")]
    InputLength {
        /// What the model takes.
        expected: usize,
        /// What was sent.
        got: usize,
    },
    /// An input value is outside int8.
    #[error("malformed input: value {value} at index {index} is outside -128..=127")]
    InputRange {
        /// Its position.
        index: usize,
        /// The value.
        value: i64,
    },
    /// A paid request with this id exists on chain but does not match (another node, model or input, or no
    /// longer open).
    #[error("paid request {request_id}: {what}")]
    RequestMismatch {
        /// The id.
        request_id: B256,
        /// What differs.
        what: &'static str,
    },
    /// The id was answered before for another model version or input.
    #[error("request id {0} was already answered for another model version or input")]
    Conflict(B256),
}

impl Refusal {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unregistered { .. } => "unregistered",
            Self::Yanked(_) => "yanked",
            Self::NotYetUsable { .. } => "not_yet_usable",
            Self::HashMismatch { .. } => "hash_mismatch",
            Self::UnsupportedRuntime { .. } => "unsupported_runtime",
            Self::BadWeights { .. } => "bad_weights",
            Self::InputLength { .. } | Self::InputRange { .. } => "malformed_input",
            Self::RequestMismatch { .. } => "request_mismatch",
            Self::Conflict(_) => "conflict",
        }
    }
}

/// Every way `/infer` fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// Refused; retrying the same request cannot help.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The chain, the weights' URI or the store is unreachable now; retry with the same request id.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An injected fault (`--fault`); retry with the same request id.
    #[error("injected fault: {0}")]
    Fault(&'static str),
}

impl NodeError {
    /// Whether a retry with the same request id may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Refused(_) => false,
            Self::Unavailable(_) | Self::Fault(_) => true,
        }
    }

    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(r) => r.code(),
            Self::Unavailable(_) => "unavailable",
            Self::Fault(_) => "fault",
        }
    }
}

impl From<sqlx::Error> for NodeError {
    fn from(e: sqlx::Error) -> Self {
        Self::Unavailable(format!("store: {e}"))
    }
}
