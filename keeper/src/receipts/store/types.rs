//! The receipts' repository's rows and status codes (`SMALLINT` codes decoded with `TryFrom`, never a panicking
//! `From`).

use alloy::primitives::{Address, Bytes, B256, U256};

use crate::store::types::smallint_enum;
use crate::store::StoreError;

smallint_enum! {
    /// Where one of our receipts stands in the keeper (the batch it is in says the rest).
    pub enum ReceiptState (|_| StoreError::Corrupt { what: "receipts.state" }) {
        /// Persisted and acknowledged; waiting for a batch (off-chain status `Answered`).
        Answered = 0,
        /// In batch `batch_id` (built, anchored, final — or voided until it is released).
        Batched = 1,
        /// Never (re-)anchored: proven invalid by a challenge, or its request id is already included elsewhere.
        Excluded = 2,
        /// Too old to anchor before the maximum receipt age (never anchored).
        Expired = 3,
    }
}

smallint_enum! {
    /// Where a batch stands.
    pub enum BatchStatus (|_| StoreError::Corrupt { what: "receipt_batches.status" }) {
        /// Ours: built and persisted with its leaves, the anchor intent persisted or about to be; not yet seen on
        /// chain.
        Built = 0,
        /// Anchored on chain (`BatchAnchored` read); the challenge window runs.
        Anchored = 1,
        /// Finalized on chain (final).
        Final = 2,
        /// Voided on chain by a challenge (final).
        Voided = 3,
        /// Ours: the anchor intent failed; its receipts went back to waiting (final).
        Abandoned = 4,
    }
}

impl BatchStatus {
    /// The status name served over HTTP.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Built => "Built",
            Self::Anchored => "Anchored",
            Self::Final => "Final",
            Self::Voided => "Voided",
            Self::Abandoned => "Abandoned",
        }
    }
}

smallint_enum! {
    /// What the challenge watcher found in another submitter's batch.
    pub enum Checked (|_| StoreError::Corrupt { what: "receipt_batches.checked" }) {
        /// Not looked at yet.
        Unchecked = 0,
        /// Every leaf valid, no duplicate request id: nothing to challenge.
        Clean = 1,
        /// The data URI could not be read (retried while the window is open).
        Unavailable = 2,
        /// The data does not build the anchored root (nothing provable; logged).
        Mismatch = 3,
        /// A fault was found; the challenge calldata is stored with the batch.
        Faulty = 4,
    }
}

/// A validated receipt to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReceipt {
    /// The request id (unique: the dedupe key).
    pub request_id: B256,
    /// The 384-byte flat encoding (the Merkle leaf preimage).
    pub signed: Bytes,
    /// Its leaf hash.
    pub leaf: B256,
    /// The receipt's node.
    pub node: Address,
    /// The model version.
    pub model: U256,
    /// `signedAt` (chain seconds).
    pub signed_at: u64,
    /// Wall-clock intake time (Unix milliseconds).
    pub received_at: i64,
}

/// What persisting one receipt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Persisted now.
    New,
    /// The very same receipt was already persisted (an idempotent repeat).
    Duplicate,
    /// Another receipt with the same request id is persisted (refused).
    Conflict,
}

/// A persisted receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    /// The request id.
    pub request_id: B256,
    /// The flat encoding.
    pub signed: Bytes,
    /// The leaf hash.
    pub leaf: B256,
    /// The node.
    pub node: Address,
    /// The model version.
    pub model: U256,
    /// `signedAt`.
    pub signed_at: u64,
    /// Intake time (Unix milliseconds).
    pub received_at: i64,
    /// Where it stands.
    pub state: ReceiptState,
    /// The (local) batch it is in.
    pub batch_id: Option<i64>,
    /// Why it was excluded (a `void_reason`).
    pub note: Option<u8>,
}

/// A batch: ours (built here) or anyone's (read from `BatchAnchored`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// Local id.
    pub id: i64,
    /// The Merkle root.
    pub root: B256,
    /// Built by this keeper.
    pub ours: bool,
    /// Leaves.
    pub count: u64,
    /// Where it stands.
    pub status: BatchStatus,
    /// The on-chain batch id once anchored.
    pub chain_batch: Option<u64>,
    /// Who anchored it.
    pub submitter: Option<Address>,
    /// The anchoring block's time.
    pub anchored_at: Option<u64>,
    /// Where its leaves are published.
    pub data_uri: Option<String>,
    /// The watcher's verdict (others' batches).
    pub checked: Checked,
    /// The challenge calldata when [`Checked::Faulty`].
    pub challenge: Option<Bytes>,
    /// `BatchVoided.reason`.
    pub void_reason: Option<u8>,
    /// `BatchVoided.requestId`.
    pub void_request: Option<B256>,
    /// Creation time (Unix milliseconds).
    pub created_at: i64,
}

/// One leaf of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRow {
    /// The leaf hash.
    pub leaf: B256,
    /// Its request id.
    pub request_id: B256,
    /// The flat encoding.
    pub signed: Bytes,
}

/// A `BatchAnchored` event as applied to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchored {
    /// On-chain batch id.
    pub chain_batch: u64,
    /// The submitter.
    pub submitter: Address,
    /// The root.
    pub root: B256,
    /// Leaves.
    pub count: u64,
    /// The block time.
    pub anchored_at: u64,
    /// The data URI.
    pub data_uri: String,
    /// The block that holds the event (rolled back when a reorg orphans it).
    pub block: u64,
}

/// A paid request's state as the chain's view (`getRequest`) answers it, for re-deriving after a reorg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestView {
    /// Status (a `request_status` code).
    pub status: u8,
    /// Deadline (a dispute's expiry while disputed).
    pub deadline: u64,
    /// When it was proven (0 if not).
    pub proven_at: u64,
}

/// A paid request the keeper follows (from InferenceSettlement's events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidRow {
    /// The request id.
    pub request_id: B256,
    /// `request_status` code as last seen.
    pub status: u8,
    /// The deadline.
    pub deadline: u64,
    /// When it was proven.
    pub proven_at: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_round_trip_and_unknown_codes_name_their_column() {
        for s in [
            ReceiptState::Answered,
            ReceiptState::Batched,
            ReceiptState::Excluded,
            ReceiptState::Expired,
        ] {
            assert_eq!(ReceiptState::try_from(s as i16).unwrap(), s);
        }
        for s in [
            BatchStatus::Built,
            BatchStatus::Anchored,
            BatchStatus::Final,
            BatchStatus::Voided,
            BatchStatus::Abandoned,
        ] {
            assert_eq!(BatchStatus::try_from(s as i16).unwrap(), s);
        }
        for s in [
            Checked::Unchecked,
            Checked::Clean,
            Checked::Unavailable,
            Checked::Mismatch,
            Checked::Faulty,
        ] {
            assert_eq!(Checked::try_from(s as i16).unwrap(), s);
        }
        assert!(matches!(
            ReceiptState::try_from(4),
            Err(StoreError::Corrupt {
                what: "receipts.state"
            })
        ));
        assert!(matches!(
            BatchStatus::try_from(5),
            Err(StoreError::Corrupt {
                what: "receipt_batches.status"
            })
        ));
        assert!(matches!(
            Checked::try_from(-1),
            Err(StoreError::Corrupt {
                what: "receipt_batches.checked"
            })
        ));
    }
}
