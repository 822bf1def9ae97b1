//! The receipts' repository ([`ReceiptStore`]): signed receipts taken in over HTTP, the Merkle batches the keeper
//! built and the ones anyone anchored (with their leaves), and the paid requests the keeper follows — the same SQL
//! on SQLite and PostgreSQL (`migrations/*/0002_receipts.sql`), instantiated for both backends by one macro like
//! [`crate::store`]'s.
//!
//! Statuses are `SMALLINT` codes decoded with `TryFrom` (never a panicking `From`).

use std::collections::HashMap;
use std::future::Future;

use alloy::primitives::{Address, Bytes, B256, U256};
use sqlx::Row;

use crate::store::{PgStore, Result, SqliteStore, StoreError};

/// Where one of our receipts stands in the keeper (the batch it is in says the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
#[non_exhaustive]
pub enum ReceiptState {
    /// Persisted and acknowledged; waiting for a batch (off-chain status `Answered`).
    Answered = 0,
    /// In batch `batch_id` (built, anchored, final — or voided until it is released).
    Batched = 1,
    /// Never (re-)anchored: proven invalid by a challenge, or its request id is already included elsewhere.
    Excluded = 2,
    /// Too old to anchor before the maximum receipt age (never anchored).
    Expired = 3,
}

impl TryFrom<i16> for ReceiptState {
    type Error = StoreError;

    fn try_from(code: i16) -> Result<Self> {
        Ok(match code {
            0 => Self::Answered,
            1 => Self::Batched,
            2 => Self::Excluded,
            3 => Self::Expired,
            _ => {
                return Err(StoreError::Corrupt {
                    what: "receipts.state",
                })
            }
        })
    }
}

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
#[non_exhaustive]
pub enum BatchStatus {
    /// Ours: built and persisted with its leaves, the anchor intent persisted or about to be; not yet seen on chain.
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

impl TryFrom<i16> for BatchStatus {
    type Error = StoreError;

    fn try_from(code: i16) -> Result<Self> {
        Ok(match code {
            0 => Self::Built,
            1 => Self::Anchored,
            2 => Self::Final,
            3 => Self::Voided,
            4 => Self::Abandoned,
            _ => {
                return Err(StoreError::Corrupt {
                    what: "receipt_batches.status",
                })
            }
        })
    }
}

/// What the challenge watcher found in another submitter's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i16)]
#[non_exhaustive]
pub enum Checked {
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

impl TryFrom<i16> for Checked {
    type Error = StoreError;

    fn try_from(code: i16) -> Result<Self> {
        Ok(match code {
            0 => Self::Unchecked,
            1 => Self::Clean,
            2 => Self::Unavailable,
            3 => Self::Mismatch,
            4 => Self::Faulty,
            _ => {
                return Err(StoreError::Corrupt {
                    what: "receipt_batches.checked",
                })
            }
        })
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

// Statements that pick receipts by request id write `state + 0 = $n`: a bare `state = $n` lets SQLite's planner
// choose the `(state, received_at)` index and scan every waiting receipt for each chunk (150,000 × 300 row visits
// when a month of receipts is batched) instead of the primary key.

/// Rows per multi-row statement (well under both backends' bind-parameter limits).
const CHUNK: usize = 500;

/// Receipts per multi-row INSERT (8 parameters each).
const INSERT_CHUNK: usize = 100;

/// The receipts' repository.
pub trait ReceiptStore: Send + Sync + 'static {
    /// Persists receipts in one database transaction (group commit), one outcome per receipt in order.
    fn insert_receipts(
        &self,
        receipts: &[NewReceipt],
    ) -> impl Future<Output = Result<Vec<Inserted>>> + Send;

    /// One receipt by request id.
    fn receipt(
        &self,
        request_id: B256,
    ) -> impl Future<Output = Result<Option<StoredReceipt>>> + Send;

    /// Receipts waiting for a batch, oldest first, at most `limit`.
    fn waiting_receipts(
        &self,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<StoredReceipt>>> + Send;

    /// How many receipts wait, and the oldest one's intake time.
    fn waiting_summary(&self) -> impl Future<Output = Result<(u64, Option<i64>)>> + Send;

    /// Moves waiting receipts to `state` (Excluded / Expired) with `note`.
    fn set_receipt_state(
        &self,
        request_ids: &[B256],
        state: ReceiptState,
        note: Option<u8>,
    ) -> impl Future<Output = Result<u64>> + Send;

    /// Marks every waiting receipt whose request id is a leaf of a batch that is not voided or abandoned as
    /// [`ReceiptState::Excluded`] (`DUPLICATE_REQUEST`): anchoring it again would void our batch. Returns how many.
    fn exclude_included_elsewhere(&self) -> impl Future<Output = Result<u64>> + Send;

    /// In one transaction: a new batch of ours (Built) with `leaves` (waiting receipts by request id), which move
    /// to Batched. Fails with a conflict, storing nothing, if any of them is no longer waiting.
    fn build_batch(
        &self,
        root: B256,
        request_ids: &[B256],
        now_ms: i64,
    ) -> impl Future<Output = Result<i64>> + Send;

    /// Ours: the anchor intent failed; the batch is Abandoned and its receipts wait again.
    fn abandon_batch(&self, id: i64) -> impl Future<Output = Result<()>> + Send;

    /// One batch by local id.
    fn batch(&self, id: i64) -> impl Future<Output = Result<Option<BatchRow>>> + Send;

    /// The batches with `root`, newest first.
    fn batches_by_root(&self, root: B256) -> impl Future<Output = Result<Vec<BatchRow>>> + Send;

    /// Batches in `status` (ours or others'), oldest first.
    fn batches_in(
        &self,
        status: BatchStatus,
        ours: bool,
    ) -> impl Future<Output = Result<Vec<BatchRow>>> + Send;

    /// A batch's leaves (any order).
    fn leaves(&self, batch_id: i64) -> impl Future<Output = Result<Vec<LeafRow>>> + Send;

    /// Stores another submitter's leaves (once; a repeat is a no-op).
    fn store_leaves(
        &self,
        batch_id: i64,
        leaves: &[LeafRow],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records the watcher's verdict on a batch (and the challenge calldata when faulty).
    fn set_checked(
        &self,
        batch_id: i64,
        checked: Checked,
        challenge: Option<&Bytes>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The earliest other inclusion of `request_id` than `leaf` in `batch_id`: a leaf with that request id in a
    /// batch anchored before it (lower on-chain id, not voided) or in the same batch under another leaf. Returns
    /// the batch and the leaf.
    fn earlier_inclusion(
        &self,
        request_id: B256,
        chain_batch: u64,
        batch_id: i64,
        leaf: B256,
    ) -> impl Future<Output = Result<Option<(BatchRow, LeafRow)>>> + Send;

    /// A request id of batch `batch_id` (on chain `chain_batch`) that is also a leaf of an earlier batch (lower
    /// on-chain id, not voided) or twice in this batch under different leaves — what `challengeDuplicate` proves.
    fn first_duplicate(
        &self,
        batch_id: i64,
        chain_batch: u64,
    ) -> impl Future<Output = Result<Option<LeafRow>>> + Send;

    /// Every batch still in its challenge window (`Anchored`, ours or anyone's) with a leaf naming `request_id`.
    fn live_batches_with(
        &self,
        request_id: B256,
    ) -> impl Future<Output = Result<Vec<BatchRow>>> + Send;

    /// A batch that includes this exact leaf and is not voided or abandoned (the newest such), if any.
    fn inclusion_of(&self, leaf: B256) -> impl Future<Output = Result<Option<BatchRow>>> + Send;

    /// Applies `BatchAnchored`: links our Built batch with that root, or records another submitter's batch.
    /// Idempotent by on-chain id. Returns the local id.
    fn apply_anchored(
        &self,
        event: &Anchored,
        us: Address,
        now_ms: i64,
    ) -> impl Future<Output = Result<i64>> + Send;

    /// Applies `BatchFinalized` (idempotent).
    fn apply_finalized(
        &self,
        chain_batch: u64,
        block: u64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Applies `BatchVoided` (idempotent): the batch is Voided; if it is ours, the leaf proven invalid (the
    /// voided request id) is Excluded and every other receipt of the batch waits again, to be re-anchored.
    fn apply_voided(
        &self,
        chain_batch: u64,
        reason: u8,
        request_id: B256,
        block: u64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records a paid request (from `Requested`; a repeat keeps the stored status).
    fn upsert_request(
        &self,
        request_id: B256,
        deadline: u64,
        block: u64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records a paid request's new status (from its events, in `block`).
    fn set_request_status(
        &self,
        request_id: B256,
        status: u8,
        proven_at: Option<u64>,
        block: u64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// A reorg orphaned every block from `from_block` on: in one transaction, undoes what their events applied —
    /// a batch finalized or voided there is `Anchored` again (our un-voided batch takes back its receipts that
    /// were released and not batched again since), a batch anchored there is forgotten (another keeper's) or
    /// `Built` again (ours: its anchor is re-sent by the outbox once its transaction is gone), receipts excluded
    /// only because of a batch that no longer exists wait again. Returns the paid requests whose status came from
    /// those blocks: the caller re-derives them from the chain ([`ReceiptStore::reset_request`]). The re-read of
    /// the winning branch's events follows.
    fn rewind(&self, from_block: u64) -> impl Future<Output = Result<Vec<B256>>> + Send;

    /// Sets a paid request to what the chain's view says (`None`: unknown on this branch, forgotten).
    fn reset_request(
        &self,
        request_id: B256,
        view: Option<RequestView>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records a paid request's new deadline (a dispute's expiry, from `Disputed`).
    fn set_request_deadline(
        &self,
        request_id: B256,
        deadline: u64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Paid requests in any of `statuses`.
    fn requests_in(&self, statuses: &[u8]) -> impl Future<Output = Result<Vec<PaidRow>>> + Send;
}

fn b256(bytes: &[u8], what: &'static str) -> Result<B256> {
    B256::try_from(bytes).map_err(|_| StoreError::Corrupt { what })
}

fn address(bytes: &[u8], what: &'static str) -> Result<Address> {
    Address::try_from(bytes).map_err(|_| StoreError::Corrupt { what })
}

fn u64_of(v: i64, what: &'static str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

fn i64_of(v: u64, what: &'static str) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

fn u8_of(v: i16, what: &'static str) -> Result<u8> {
    u8::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

/// `$from, $from+1, …` for `n` parameters.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const RECEIPT_COLUMNS: &str =
    "request_id, signed, leaf, node, model, signed_at, received_at, state, batch_id, note";
const BATCH_COLUMNS: &str =
    "id, root, ours, leaf_count, status, chain_batch, submitter, anchored_at, data_uri, \
     checked, challenge, void_reason, void_request, created_at";

const ANSWERED: i16 = ReceiptState::Answered as i16;
const BATCHED: i16 = ReceiptState::Batched as i16;
const EXCLUDED: i16 = ReceiptState::Excluded as i16;
const BUILT: i16 = BatchStatus::Built as i16;
const ANCHORED: i16 = BatchStatus::Anchored as i16;
const FINAL: i16 = BatchStatus::Final as i16;
const VOIDED: i16 = BatchStatus::Voided as i16;
const ABANDONED: i16 = BatchStatus::Abandoned as i16;

macro_rules! impl_receipt_store {
    ($store:ty, $db:ty) => {
        impl $store {
            fn receipt_from_row(row: &<$db as sqlx::Database>::Row) -> Result<StoredReceipt> {
                let note: Option<i16> = row.try_get("note")?;
                Ok(StoredReceipt {
                    request_id: b256(&row.try_get::<Vec<u8>, _>("request_id")?, "receipts.request_id")?,
                    signed: Bytes::from(row.try_get::<Vec<u8>, _>("signed")?),
                    leaf: b256(&row.try_get::<Vec<u8>, _>("leaf")?, "receipts.leaf")?,
                    node: address(&row.try_get::<Vec<u8>, _>("node")?, "receipts.node")?,
                    model: U256::from_be_slice(&row.try_get::<Vec<u8>, _>("model")?),
                    signed_at: u64_of(row.try_get("signed_at")?, "receipts.signed_at")?,
                    received_at: row.try_get("received_at")?,
                    state: ReceiptState::try_from(row.try_get::<i16, _>("state")?)?,
                    batch_id: row.try_get("batch_id")?,
                    note: note.map(|n| u8_of(n, "receipts.note")).transpose()?,
                })
            }

            fn batch_from_row(row: &<$db as sqlx::Database>::Row) -> Result<BatchRow> {
                let chain: Option<i64> = row.try_get("chain_batch")?;
                let submitter: Option<Vec<u8>> = row.try_get("submitter")?;
                let anchored: Option<i64> = row.try_get("anchored_at")?;
                let challenge: Option<Vec<u8>> = row.try_get("challenge")?;
                let reason: Option<i16> = row.try_get("void_reason")?;
                let request: Option<Vec<u8>> = row.try_get("void_request")?;
                Ok(BatchRow {
                    id: row.try_get("id")?,
                    root: b256(&row.try_get::<Vec<u8>, _>("root")?, "receipt_batches.root")?,
                    ours: row.try_get::<i16, _>("ours")? != 0,
                    count: u64_of(row.try_get("leaf_count")?, "receipt_batches.leaf_count")?,
                    status: BatchStatus::try_from(row.try_get::<i16, _>("status")?)?,
                    chain_batch: chain.map(|c| u64_of(c, "receipt_batches.chain_batch")).transpose()?,
                    submitter: submitter.map(|s| address(&s, "receipt_batches.submitter")).transpose()?,
                    anchored_at: anchored.map(|a| u64_of(a, "receipt_batches.anchored_at")).transpose()?,
                    data_uri: row.try_get("data_uri")?,
                    checked: Checked::try_from(row.try_get::<i16, _>("checked")?)?,
                    challenge: challenge.map(Bytes::from),
                    void_reason: reason.map(|r| u8_of(r, "receipt_batches.void_reason")).transpose()?,
                    void_request: request.map(|r| b256(&r, "receipt_batches.void_request")).transpose()?,
                    created_at: row.try_get("created_at")?,
                })
            }

            fn leaf_from_row(row: &<$db as sqlx::Database>::Row) -> Result<LeafRow> {
                Ok(LeafRow {
                    leaf: b256(&row.try_get::<Vec<u8>, _>("leaf")?, "batch_leaves.leaf")?,
                    request_id: b256(&row.try_get::<Vec<u8>, _>("request_id")?, "batch_leaves.request_id")?,
                    signed: Bytes::from(row.try_get::<Vec<u8>, _>("signed")?),
                })
            }
        }

        impl ReceiptStore for $store {
            async fn insert_receipts(&self, receipts: &[NewReceipt]) -> Result<Vec<Inserted>> {
                // The first receipt of each request id in the group goes into multi-row INSERTs; a later one in the
                // same group is judged against it. Rows the INSERTs skipped (the id was persisted before) are
                // compared with the stored leaf.
                let mut first: HashMap<B256, usize> = HashMap::with_capacity(receipts.len());
                let mut out: Vec<Option<Inserted>> = vec![None; receipts.len()];
                let mut fresh = Vec::with_capacity(receipts.len());
                for (i, r) in receipts.iter().enumerate() {
                    match first.get(&r.request_id) {
                        Some(&f) => {
                            out[i] = Some(if receipts[f].leaf == r.leaf { Inserted::Duplicate } else { Inserted::Conflict });
                        }
                        None => {
                            first.insert(r.request_id, i);
                            fresh.push(i);
                        }
                    }
                }
                let mut tx = self.pool().begin().await?;
                let mut inserted = std::collections::HashSet::with_capacity(fresh.len());
                for chunk in fresh.chunks(INSERT_CHUNK) {
                    let values = (0..chunk.len())
                        .map(|k| format!("({}, ${})", placeholders(1 + 8 * k, 7), 8 + 8 * k))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!(
                        "INSERT INTO receipts (request_id, signed, leaf, node, model, signed_at, received_at, state) \
                         VALUES {values} ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
                    );
                    let mut q = sqlx::query(&sql);
                    for &i in chunk {
                        let r = &receipts[i];
                        q = q
                            .bind(r.request_id.as_slice())
                            .bind(r.signed.as_ref())
                            .bind(r.leaf.as_slice())
                            .bind(r.node.as_slice())
                            .bind(r.model.to_be_bytes::<32>().to_vec())
                            .bind(i64_of(r.signed_at, "signed_at")?)
                            .bind(r.received_at)
                            .bind(ANSWERED);
                    }
                    for row in q.fetch_all(&mut *tx).await? {
                        inserted.insert(b256(&row.try_get::<Vec<u8>, _>("request_id")?, "receipts.request_id")?);
                    }
                }
                for &i in &fresh {
                    let r = &receipts[i];
                    if inserted.contains(&r.request_id) {
                        out[i] = Some(Inserted::New);
                        continue;
                    }
                    let row = sqlx::query("SELECT leaf FROM receipts WHERE request_id = $1")
                        .bind(r.request_id.as_slice())
                        .fetch_one(&mut *tx)
                        .await?;
                    let leaf: Vec<u8> = row.try_get("leaf")?;
                    out[i] = Some(if leaf.as_slice() == r.leaf.as_slice() {
                        Inserted::Duplicate
                    } else {
                        Inserted::Conflict
                    });
                }
                tx.commit().await?;
                out.into_iter()
                    .map(|o| o.ok_or(StoreError::Corrupt { what: "receipts (an intake outcome is missing)" }))
                    .collect()
            }

            async fn receipt(&self, request_id: B256) -> Result<Option<StoredReceipt>> {
                let sql = format!("SELECT {RECEIPT_COLUMNS} FROM receipts WHERE request_id = $1");
                let row = sqlx::query(&sql)
                    .bind(request_id.as_slice())
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(Self::receipt_from_row).transpose()
            }

            async fn waiting_receipts(&self, limit: i64) -> Result<Vec<StoredReceipt>> {
                let sql = format!(
                    "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE state = $1 ORDER BY received_at, request_id LIMIT $2"
                );
                let rows = sqlx::query(&sql)
                    .bind(ANSWERED)
                    .bind(limit)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(Self::receipt_from_row).collect()
            }

            async fn waiting_summary(&self) -> Result<(u64, Option<i64>)> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM receipts WHERE state = $1",
                )
                .bind(ANSWERED)
                .fetch_one(self.pool())
                .await?;
                Ok((u64_of(row.try_get("n")?, "count")?, row.try_get("oldest")?))
            }

            async fn set_receipt_state(
                &self,
                request_ids: &[B256],
                state: ReceiptState,
                note: Option<u8>,
            ) -> Result<u64> {
                let mut n = 0;
                let mut tx = self.begin_fenced().await?;
                for chunk in request_ids.chunks(CHUNK) {
                    let sql = format!(
                        "UPDATE receipts SET state = $1, note = $2, batch_id = NULL WHERE request_id IN ({}) AND state + 0 = $3",
                        placeholders(4, chunk.len())
                    );
                    let mut q = sqlx::query(&sql)
                        .bind(state as i16)
                        .bind(note.map(i16::from))
                        .bind(ANSWERED);
                    for id in chunk {
                        q = q.bind(id.as_slice());
                    }
                    n += q.execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok(n)
            }

            async fn exclude_included_elsewhere(&self) -> Result<u64> {
                let mut tx = self.begin_fenced().await?;
                let done = sqlx::query(
                    "UPDATE receipts SET state = $1, note = $2 WHERE state = $3 AND request_id IN \
                     (SELECT l.request_id FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                      WHERE b.status IN ($4, $5, $6))",
                )
                .bind(EXCLUDED)
                .bind(i16::from(verity_abi::settlement::void_reason::DUPLICATE_REQUEST))
                .bind(ANSWERED)
                .bind(BUILT)
                .bind(ANCHORED)
                .bind(FINAL)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn build_batch(&self, root: B256, request_ids: &[B256], now_ms: i64) -> Result<i64> {
                let count = i64::try_from(request_ids.len()).map_err(|_| StoreError::Corrupt { what: "batch size" })?;
                let mut tx = self.begin_fenced().await?;
                let row = sqlx::query(
                    "INSERT INTO receipt_batches (root, ours, leaf_count, status, created_at) VALUES ($1, 1, $2, $3, $4) RETURNING id",
                )
                .bind(root.as_slice())
                .bind(count)
                .bind(BUILT)
                .bind(now_ms)
                .fetch_one(&mut *tx)
                .await?;
                let id: i64 = row.try_get("id")?;
                for chunk in request_ids.chunks(CHUNK) {
                    let sql = format!(
                        "INSERT INTO batch_leaves (batch_id, leaf, request_id, signed) \
                         SELECT $1, leaf, request_id, signed FROM receipts WHERE request_id IN ({}) AND state + 0 = $2",
                        placeholders(3, chunk.len())
                    );
                    let mut q = sqlx::query(&sql).bind(id).bind(ANSWERED);
                    for r in chunk {
                        q = q.bind(r.as_slice());
                    }
                    let inserted = q.execute(&mut *tx).await?.rows_affected();
                    let sql = format!(
                        "UPDATE receipts SET state = $1, batch_id = $2 WHERE request_id IN ({}) AND state + 0 = $3",
                        placeholders(4, chunk.len())
                    );
                    let mut q = sqlx::query(&sql).bind(BATCHED).bind(id).bind(ANSWERED);
                    for r in chunk {
                        q = q.bind(r.as_slice());
                    }
                    let moved = q.execute(&mut *tx).await?.rows_affected();
                    if inserted != chunk.len() as u64 || moved != chunk.len() as u64 {
                        // Dropping the transaction rolls everything back.
                        return Err(StoreError::Raced { what: "receipts.state (a receipt to batch was no longer waiting: another writer batched it first)" });
                    }
                }
                tx.commit().await?;
                Ok(id)
            }

            async fn abandon_batch(&self, id: i64) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                let done = sqlx::query("UPDATE receipt_batches SET status = $1 WHERE id = $2 AND status = $3")
                    .bind(ABANDONED)
                    .bind(id)
                    .bind(BUILT)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 1 {
                    sqlx::query("UPDATE receipts SET state = $1, batch_id = NULL WHERE batch_id = $2 AND state = $3")
                        .bind(ANSWERED)
                        .bind(id)
                        .bind(BATCHED)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn batch(&self, id: i64) -> Result<Option<BatchRow>> {
                let sql = format!("SELECT {BATCH_COLUMNS} FROM receipt_batches WHERE id = $1");
                let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?;
                row.as_ref().map(Self::batch_from_row).transpose()
            }

            async fn batches_by_root(&self, root: B256) -> Result<Vec<BatchRow>> {
                let sql = format!("SELECT {BATCH_COLUMNS} FROM receipt_batches WHERE root = $1 ORDER BY id DESC");
                let rows = sqlx::query(&sql).bind(root.as_slice()).fetch_all(self.pool()).await?;
                rows.iter().map(Self::batch_from_row).collect()
            }

            async fn batches_in(&self, status: BatchStatus, ours: bool) -> Result<Vec<BatchRow>> {
                let sql = format!(
                    "SELECT {BATCH_COLUMNS} FROM receipt_batches WHERE status = $1 AND ours = $2 ORDER BY id"
                );
                let rows = sqlx::query(&sql)
                    .bind(status as i16)
                    .bind(i16::from(ours))
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(Self::batch_from_row).collect()
            }

            async fn leaves(&self, batch_id: i64) -> Result<Vec<LeafRow>> {
                let rows = sqlx::query("SELECT leaf, request_id, signed FROM batch_leaves WHERE batch_id = $1")
                    .bind(batch_id)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(Self::leaf_from_row).collect()
            }

            async fn store_leaves(&self, batch_id: i64, leaves: &[LeafRow]) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                for chunk in leaves.chunks(CHUNK / 2) {
                    let values = (0..chunk.len())
                        .map(|i| format!("($1, ${}, ${}, ${})", 2 + 3 * i, 3 + 3 * i, 4 + 3 * i))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let sql = format!(
                        "INSERT INTO batch_leaves (batch_id, leaf, request_id, signed) VALUES {values} \
                         ON CONFLICT (batch_id, leaf) DO NOTHING"
                    );
                    let mut q = sqlx::query(&sql).bind(batch_id);
                    for l in chunk {
                        q = q.bind(l.leaf.as_slice()).bind(l.request_id.as_slice()).bind(l.signed.as_ref());
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn set_checked(&self, batch_id: i64, checked: Checked, challenge: Option<&Bytes>) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                sqlx::query("UPDATE receipt_batches SET checked = $1, challenge = $2 WHERE id = $3")
                    .bind(checked as i16)
                    .bind(challenge.map(|c| c.to_vec()))
                    .bind(batch_id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn live_batches_with(&self, request_id: B256) -> Result<Vec<BatchRow>> {
                let sql = format!(
                    "SELECT DISTINCT {} FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                     WHERE l.request_id = $1 AND b.status = $2 ORDER BY b.id",
                    BATCH_COLUMNS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ")
                );
                let rows = sqlx::query(&sql)
                    .bind(request_id.as_slice())
                    .bind(ANCHORED)
                    .fetch_all(self.pool())
                    .await?;
                rows.iter().map(Self::batch_from_row).collect()
            }

            async fn earlier_inclusion(
                &self,
                request_id: B256,
                chain_batch: u64,
                batch_id: i64,
                leaf: B256,
            ) -> Result<Option<(BatchRow, LeafRow)>> {
                let sql = format!(
                    "SELECT l.leaf AS l_leaf, l.request_id AS l_request_id, l.signed AS l_signed, {} \
                     FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                     WHERE l.request_id = $1 AND b.chain_batch IS NOT NULL AND b.status IN ($2, $3) \
                     AND l.leaf <> $6 AND (b.chain_batch < $4 OR b.id = $5) \
                     ORDER BY b.chain_batch LIMIT 1",
                    BATCH_COLUMNS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ")
                );
                let row = sqlx::query(&sql)
                    .bind(request_id.as_slice())
                    .bind(ANCHORED)
                    .bind(FINAL)
                    .bind(i64_of(chain_batch, "chain batch")?)
                    .bind(batch_id)
                    .bind(leaf.as_slice())
                    .fetch_optional(self.pool())
                    .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let leaf = LeafRow {
                    leaf: b256(&row.try_get::<Vec<u8>, _>("l_leaf")?, "batch_leaves.leaf")?,
                    request_id: b256(&row.try_get::<Vec<u8>, _>("l_request_id")?, "batch_leaves.request_id")?,
                    signed: Bytes::from(row.try_get::<Vec<u8>, _>("l_signed")?),
                };
                Ok(Some((Self::batch_from_row(&row)?, leaf)))
            }

            async fn first_duplicate(&self, batch_id: i64, chain_batch: u64) -> Result<Option<LeafRow>> {
                let row = sqlx::query(
                    "SELECT l.leaf, l.request_id, l.signed FROM batch_leaves l WHERE l.batch_id = $1 AND EXISTS \
                     (SELECT 1 FROM batch_leaves o JOIN receipt_batches b ON b.id = o.batch_id \
                      WHERE o.request_id = l.request_id AND b.chain_batch IS NOT NULL AND b.status IN ($2, $3) \
                      AND o.leaf <> l.leaf AND (b.chain_batch < $4 OR b.id = $1)) \
                     ORDER BY l.leaf LIMIT 1",
                )
                .bind(batch_id)
                .bind(ANCHORED)
                .bind(FINAL)
                .bind(i64_of(chain_batch, "chain batch")?)
                .fetch_optional(self.pool())
                .await?;
                row.as_ref().map(Self::leaf_from_row).transpose()
            }

            async fn inclusion_of(&self, leaf: B256) -> Result<Option<BatchRow>> {
                let sql = format!(
                    "SELECT {} FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                     WHERE l.leaf = $1 AND b.status IN ($2, $3, $4) ORDER BY b.id DESC LIMIT 1",
                    BATCH_COLUMNS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ")
                );
                let row = sqlx::query(&sql)
                    .bind(leaf.as_slice())
                    .bind(BUILT)
                    .bind(ANCHORED)
                    .bind(FINAL)
                    .fetch_optional(self.pool())
                    .await?;
                row.as_ref().map(Self::batch_from_row).transpose()
            }

            async fn apply_anchored(&self, e: &Anchored, us: Address, now_ms: i64) -> Result<i64> {
                let chain = i64_of(e.chain_batch, "chain batch")?;
                let at = i64_of(e.anchored_at, "anchored at")?;
                let mut tx = self.begin_fenced().await?;
                if let Some(row) = sqlx::query("SELECT id FROM receipt_batches WHERE chain_batch = $1")
                    .bind(chain)
                    .fetch_optional(&mut *tx)
                    .await?
                {
                    return Ok(row.try_get("id")?);
                }
                if e.submitter == us {
                    let linked = sqlx::query(
                        "UPDATE receipt_batches SET chain_batch = $1, status = $2, submitter = $3, anchored_at = $4, data_uri = $5, anchored_block = $8 \
                         WHERE id = (SELECT MIN(id) FROM receipt_batches WHERE ours = 1 AND root = $6 AND status = $7 AND chain_batch IS NULL) \
                         RETURNING id",
                    )
                    .bind(chain)
                    .bind(ANCHORED)
                    .bind(e.submitter.as_slice())
                    .bind(at)
                    .bind(&e.data_uri)
                    .bind(e.root.as_slice())
                    .bind(BUILT)
                    .bind(i64_of(e.block, "block")?)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(row) = linked {
                        let id: i64 = row.try_get("id")?;
                        tx.commit().await?;
                        return Ok(id);
                    }
                }
                let row = sqlx::query(
                    "INSERT INTO receipt_batches (root, ours, leaf_count, status, chain_batch, submitter, anchored_at, data_uri, created_at, anchored_block) \
                     VALUES ($1, 0, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                )
                .bind(e.root.as_slice())
                .bind(i64_of(e.count, "count")?)
                .bind(ANCHORED)
                .bind(chain)
                .bind(e.submitter.as_slice())
                .bind(at)
                .bind(&e.data_uri)
                .bind(now_ms)
                .bind(i64_of(e.block, "block")?)
                .fetch_one(&mut *tx)
                .await?;
                let id: i64 = row.try_get("id")?;
                tx.commit().await?;
                Ok(id)
            }

            async fn apply_finalized(&self, chain_batch: u64, block: u64) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                sqlx::query("UPDATE receipt_batches SET status = $1, settled_block = $4 WHERE chain_batch = $2 AND status = $3")
                    .bind(FINAL)
                    .bind(i64_of(chain_batch, "chain batch")?)
                    .bind(ANCHORED)
                    .bind(i64_of(block, "block")?)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn apply_voided(&self, chain_batch: u64, reason: u8, request_id: B256, block: u64) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                let row = sqlx::query(
                    "UPDATE receipt_batches SET status = $1, void_reason = $2, void_request = $3, settled_block = $6 \
                     WHERE chain_batch = $4 AND status = $5 RETURNING id, ours",
                )
                .bind(VOIDED)
                .bind(i16::from(reason))
                .bind(request_id.as_slice())
                .bind(i64_of(chain_batch, "chain batch")?)
                .bind(ANCHORED)
                .bind(i64_of(block, "block")?)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = row {
                    let id: i64 = row.try_get("id")?;
                    if row.try_get::<i16, _>("ours")? != 0 {
                        sqlx::query(
                            "UPDATE receipts SET state = $1, note = $2, batch_id = NULL \
                             WHERE batch_id = $3 AND state = $4 AND request_id = $5",
                        )
                        .bind(EXCLUDED)
                        .bind(i16::from(reason))
                        .bind(id)
                        .bind(BATCHED)
                        .bind(request_id.as_slice())
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("UPDATE receipts SET state = $1, batch_id = NULL WHERE batch_id = $2 AND state = $3")
                            .bind(ANSWERED)
                            .bind(id)
                            .bind(BATCHED)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn upsert_request(&self, request_id: B256, deadline: u64, block: u64) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                sqlx::query(
                    "INSERT INTO paid_requests (request_id, status, deadline, status_block) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (request_id) DO NOTHING",
                )
                .bind(request_id.as_slice())
                .bind(i16::from(verity_abi::settlement::request_status::REQUESTED))
                .bind(i64_of(deadline, "deadline")?)
                .bind(i64_of(block, "block")?)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_request_status(&self, request_id: B256, status: u8, proven_at: Option<u64>, block: u64) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                let proven = proven_at.map(|p| i64_of(p, "proven at")).transpose()?;
                sqlx::query(
                    "UPDATE paid_requests SET status = $1, proven_at = COALESCE($2, proven_at), status_block = $4 WHERE request_id = $3",
                )
                .bind(i16::from(status))
                .bind(proven)
                .bind(request_id.as_slice())
                .bind(i64_of(block, "block")?)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn rewind(&self, from_block: u64) -> Result<Vec<B256>> {
                let from = i64_of(from_block, "block")?;
                let mut tx = self.begin_fenced().await?;
                // 1. Finalized or voided in an orphaned block: anchored again. Our batch un-voided takes back its
                //    receipts that were released and not batched again since.
                let unsettled = sqlx::query(
                    "UPDATE receipt_batches SET status = $1, void_reason = NULL, void_request = NULL, settled_block = NULL \
                     WHERE settled_block >= $2 AND status IN ($3, $4) RETURNING id, ours",
                )
                .bind(ANCHORED)
                .bind(from)
                .bind(FINAL)
                .bind(VOIDED)
                .fetch_all(&mut *tx)
                .await?;
                for row in &unsettled {
                    if row.try_get::<i16, _>("ours")? == 0 {
                        continue;
                    }
                    let id: i64 = row.try_get("id")?;
                    sqlx::query(
                        "UPDATE receipts SET state = $1, batch_id = $2, note = NULL \
                         WHERE batch_id IS NULL AND state IN ($3, $4) \
                         AND request_id IN (SELECT request_id FROM batch_leaves WHERE batch_id = $2)",
                    )
                    .bind(BATCHED)
                    .bind(id)
                    .bind(ANSWERED)
                    .bind(EXCLUDED)
                    .execute(&mut *tx)
                    .await?;
                }
                // 2. Anchored in an orphaned block: ours is built again (its receipts stay with it), another
                //    keeper's is forgotten with its leaves.
                sqlx::query(
                    "UPDATE receipt_batches SET status = $1, chain_batch = NULL, submitter = NULL, anchored_at = NULL, \
                     anchored_block = NULL WHERE ours = 1 AND anchored_block >= $2",
                )
                .bind(BUILT)
                .bind(from)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM batch_leaves WHERE batch_id IN \
                     (SELECT id FROM receipt_batches WHERE ours = 0 AND anchored_block >= $1)",
                )
                .bind(from)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM receipt_batches WHERE ours = 0 AND anchored_block >= $1")
                    .bind(from)
                    .execute(&mut *tx)
                    .await?;
                // 3. Excluded as included elsewhere, and no live batch holds the request any more: waits again.
                sqlx::query(
                    "UPDATE receipts SET state = $1, note = NULL WHERE state = $2 AND batch_id IS NULL AND note = $3 \
                     AND request_id NOT IN (SELECT l.request_id FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                     WHERE b.status IN ($4, $5, $6))",
                )
                .bind(ANSWERED)
                .bind(EXCLUDED)
                .bind(i16::from(verity_abi::settlement::void_reason::DUPLICATE_REQUEST))
                .bind(BUILT)
                .bind(ANCHORED)
                .bind(FINAL)
                .execute(&mut *tx)
                .await?;
                // 4. Paid requests last changed in an orphaned block: the caller re-derives them from the chain.
                let rows = sqlx::query("SELECT request_id FROM paid_requests WHERE status_block >= $1")
                    .bind(from)
                    .fetch_all(&mut *tx)
                    .await?;
                let requests = rows
                    .iter()
                    .map(|r| b256(&r.try_get::<Vec<u8>, _>("request_id")?, "paid_requests.request_id"))
                    .collect::<Result<Vec<_>>>()?;
                tx.commit().await?;
                Ok(requests)
            }

            async fn reset_request(&self, request_id: B256, view: Option<RequestView>) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                match view {
                    None => {
                        sqlx::query("DELETE FROM paid_requests WHERE request_id = $1")
                            .bind(request_id.as_slice())
                            .execute(&mut *tx)
                            .await?;
                    }
                    Some(v) => {
                        sqlx::query(
                            "UPDATE paid_requests SET status = $1, deadline = $2, proven_at = $3, status_block = NULL \
                             WHERE request_id = $4",
                        )
                        .bind(i16::from(v.status))
                        .bind(i64_of(v.deadline, "deadline")?)
                        .bind((v.proven_at != 0).then(|| i64_of(v.proven_at, "proven at")).transpose()?)
                        .bind(request_id.as_slice())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }

            async fn set_request_deadline(&self, request_id: B256, deadline: u64) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                sqlx::query("UPDATE paid_requests SET deadline = $1 WHERE request_id = $2")
                    .bind(i64_of(deadline, "deadline")?)
                    .bind(request_id.as_slice())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn requests_in(&self, statuses: &[u8]) -> Result<Vec<PaidRow>> {
                if statuses.is_empty() {
                    return Ok(Vec::new());
                }
                // Codes come from `request_status` constants, never from input: safe to inline.
                let list = statuses.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
                let sql = format!(
                    "SELECT request_id, status, deadline, proven_at FROM paid_requests WHERE status IN ({list}) ORDER BY deadline"
                );
                let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
                rows.iter()
                    .map(|r| {
                        let proven: Option<i64> = r.try_get("proven_at")?;
                        Ok(PaidRow {
                            request_id: b256(&r.try_get::<Vec<u8>, _>("request_id")?, "paid_requests.request_id")?,
                            status: u8_of(r.try_get("status")?, "paid_requests.status")?,
                            deadline: u64_of(r.try_get("deadline")?, "paid_requests.deadline")?,
                            proven_at: proven.map(|p| u64_of(p, "paid_requests.proven_at")).transpose()?,
                        })
                    })
                    .collect()
            }
        }
    };
}

impl_receipt_store!(SqliteStore, sqlx::Sqlite);
impl_receipt_store!(PgStore, sqlx::Postgres);

#[cfg(test)]
mod tests;
