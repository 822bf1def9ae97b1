//! The receipts' repository ([`ReceiptStore`]): signed receipts taken in over HTTP, the Merkle batches the keeper
//! built and the ones anyone anchored (with their leaves), and the paid requests the keeper follows — the same SQL
//! on SQLite and PostgreSQL (`migrations/*/0002_receipts.sql`), instantiated for both backends by one macro like
//! [`crate::store`]'s.
//!
//! Statuses are `SMALLINT` codes decoded with `TryFrom` (never a panicking `From`).

use std::future::Future;

use alloy::primitives::{Address, Bytes, B256};

use crate::store::Result;

mod sql;
mod sql_batches;
mod sql_events;
mod sql_receipts;
mod sql_requests;
mod types;

pub use types::{
    Anchored, BatchRow, BatchStatus, Checked, Inserted, LeafRow, NewReceipt, PaidRow, ReceiptState,
    RequestView, StoredReceipt,
};

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

    /// The retention rule: deletes the leaves of batches that can prove, void or serve nothing any more — voided
    /// batches anchored before `voided_anchored_before` (chain seconds) and abandoned ones created before
    /// `abandoned_created_before_ms` (every inclusion query already skips both). Leaves of live and final batches
    /// stay: `challengeDuplicate` accepts any earlier batch that is not voided, however old. Returns how many
    /// leaves went.
    fn prune_dead_leaves(
        &self,
        voided_anchored_before: u64,
        abandoned_created_before_ms: i64,
    ) -> impl Future<Output = Result<u64>> + Send;

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

#[cfg(test)]
mod tests;
