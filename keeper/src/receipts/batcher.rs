//! The receipt batcher: waiting receipts become a Merkle batch (OpenZeppelin `StandardMerkleTree` from
//! `verity-abi`) when there are [`ReceiptBatcherConfig::max_size`] of them or the oldest has waited
//! [`ReceiptBatcherConfig::max_age`]; the batch and its leaves are persisted (receipts move to `Batched` in the same
//! transaction) **before** the anchor intent `anchor:<root>` — `anchorBatch(root, count, dataUri)` with the
//! contract's minimum bond — is planned. After a crash between the two, the Built batch is found again and the
//! same intent planned; the key makes a repeat a no-op.
//!
//! One batch is in flight at a time: while our Built batch is not seen on chain (`BatchAnchored`, applied by
//! [`super::events`]), nothing new is built. An anchor intent that failed abandons its batch (receipts wait again;
//! the same set is not rebuilt under the same failed key). Before building, receipts whose request id is already
//! a leaf of another live batch are excluded (anchoring them would void ours as a duplicate), receipts too old to
//! be anchored before the maximum receipt age are expired, and receipts signed after the chain's clock wait.

use std::time::Duration;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use tracing::{error, info, warn};
use verity_abi::rpc::IReceiptBatches;
use verity_abi::settlement::StandardMerkleTree;

use super::store::{BatchStatus, ReceiptState, ReceiptStore};
use crate::failpoint::{Failpoint, Failpoints};
use crate::jobs::{IntentSpec, Job, JobError, Plan, PlanFuture, Result};
use crate::store::{IntentStatus, OutboxStore};

/// The job's name.
pub const JOB_NAME: &str = "receipt-batcher";

/// The prefix of the job's idempotency keys.
pub const KEY_PREFIX: &str = "anchor";

/// The idempotency key of anchoring `root`.
pub fn key(root: B256) -> String {
    format!("{KEY_PREFIX}:{root}")
}

/// The calldata of `anchorBatch(root, count, dataUri)`.
pub fn calldata(root: B256, count: u64, data_uri: &str) -> Bytes {
    IReceiptBatches::anchorBatchCall {
        root,
        count,
        data_uri: data_uri.to_string(),
    }
    .abi_encode()
    .into()
}

/// Settings of the batcher.
#[derive(Debug, Clone)]
pub struct ReceiptBatcherConfig {
    /// ReceiptBatches.
    pub batches: Address,
    /// Most receipts per batch (a full batch goes at once).
    pub max_size: usize,
    /// A batch that is not full goes once its oldest receipt waited this long (wall clock).
    pub max_age: Duration,
    /// The base URL others fetch our batches from: the data URI is `<public_url>/batches/<root>`.
    pub public_url: String,
    /// SettlementNodes' maximum receipt age (seconds) when [`Self::nodes`] is not set.
    pub max_receipt_age: u64,
    /// SettlementNodes: when set, its current `maxReceiptAge` is read every pass (governance may change it).
    pub nodes: Option<Address>,
    /// A receipt is expired rather than anchored when less than this many seconds of its age budget remain.
    pub anchor_margin_secs: u64,
    /// Armed failpoints (tests): [`Failpoint::AfterBatchBuilt`] stops right after a batch is committed.
    pub failpoints: Failpoints,
}

impl ReceiptBatcherConfig {
    /// Defaults: 200,000 receipts or 60 s, a 10-minute margin.
    pub fn new(batches: Address, public_url: impl Into<String>, max_receipt_age: u64) -> Self {
        Self {
            batches,
            max_size: 200_000,
            max_age: Duration::from_secs(60),
            public_url: public_url.into(),
            max_receipt_age,
            nodes: None,
            anchor_margin_secs: 600,
            failpoints: Failpoints::none(),
        }
    }

    /// The data URI of `root`.
    pub fn data_uri(&self, root: B256) -> String {
        format!("{}/batches/{root}", self.public_url.trim_end_matches('/'))
    }
}

/// The receipt batcher.
pub struct ReceiptBatcher<S> {
    store: S,
    config: ReceiptBatcherConfig,
}

impl<S> std::fmt::Debug for ReceiptBatcher<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptBatcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: ReceiptStore + OutboxStore + Clone> ReceiptBatcher<S> {
    /// The batcher on `store`.
    pub fn new(store: S, config: ReceiptBatcherConfig) -> Self {
        Self { store, config }
    }

    async fn intent(&self, root: B256, count: u64, bond: U256) -> IntentSpec {
        IntentSpec {
            key: key(root),
            target: self.config.batches,
            calldata: calldata(root, count, &self.config.data_uri(root)),
            value: bond,
        }
    }

    async fn plan_with<P: Provider + Clone + 'static>(&self, provider: &P) -> Result<Plan> {
        let (waiting, oldest) = self.store.waiting_summary().await?;
        let now_ms = crate::lease::now_ms();
        let lag_secs = oldest.map_or(0, |o| {
            u64::try_from(now_ms.saturating_sub(o) / 1_000).unwrap_or(0)
        });
        let mut plan = Plan {
            intents: Vec::new(),
            due: waiting,
            lag_secs,
            in_flight: 0,
        };
        let bond = IReceiptBatches::new(self.config.batches, provider)
            .config()
            .call()
            .await?
            ._4;

        // A batch in flight: (re)plan its intent, or wait for its BatchAnchored, or abandon it if the intent failed.
        let built = self.store.batches_in(BatchStatus::Built, true).await?;
        if let Some(b) = built.first() {
            match self.store.intent_by_key(&key(b.root)).await? {
                Some(i) if i.status.is_final() => match i.status {
                    IntentStatus::Failed | IntentStatus::Reverted => {
                        error!(target: "keeper::receipts::batcher", batch = b.id, root = %b.root, error = ?i.error, "anchor intent failed; batch abandoned, its receipts wait again");
                        self.store.abandon_batch(b.id).await?;
                    }
                    _ => {} // Confirmed: BatchAnchored links it on the next read.
                },
                _ => plan.intents.push(self.intent(b.root, b.count, bond).await),
            }
            return Ok(plan);
        }
        // The summary decides whether a batch can be due at all; the rows are loaded only then.
        if !may_be_due(waiting, oldest, now_ms, &self.config) {
            return Ok(plan);
        }

        let excluded = self.store.exclude_included_elsewhere().await?;
        if excluded > 0 {
            warn!(target: "keeper::receipts::batcher", excluded, "receipts already included in another batch excluded");
        }
        let chain_now = crate::jobs::latest_timestamp(provider).await?;
        let candidates = self
            .store
            .waiting_receipts(i64::try_from(self.config.max_size).unwrap_or(i64::MAX))
            .await?;
        let max_receipt_age = match self.config.nodes {
            Some(nodes) => {
                verity_abi::rpc::ISettlementNodes::new(nodes, provider)
                    .config()
                    .call()
                    .await?
                    ._3
            }
            None => self.config.max_receipt_age,
        };
        let budget = max_receipt_age.saturating_sub(self.config.anchor_margin_secs);
        let (mut expired, mut ready) = (Vec::new(), Vec::new());
        for r in &candidates {
            if chain_now.saturating_sub(r.signed_at) > budget {
                expired.push(r.request_id);
            } else if r.signed_at <= chain_now {
                ready.push(r);
            }
        }
        if !expired.is_empty() {
            let n = self
                .store
                .set_receipt_state(&expired, ReceiptState::Expired, None)
                .await?;
            warn!(target: "keeper::receipts::batcher", n, "receipts too old to anchor expired");
        }
        let Some(oldest) = ready.iter().map(|r| r.received_at).min() else {
            return Ok(plan);
        };
        let full = ready.len() >= self.config.max_size;
        let old = now_ms.saturating_sub(oldest)
            >= i64::try_from(self.config.max_age.as_millis()).unwrap_or(i64::MAX);
        if !full && !old {
            return Ok(plan);
        }
        let leaves: Vec<B256> = ready.iter().map(|r| r.leaf).collect();
        let Some(tree) = StandardMerkleTree::new(&leaves) else {
            return Ok(plan);
        };
        let root = tree.root();
        if self
            .store
            .batches_by_root(root)
            .await?
            .iter()
            .any(|b| b.ours && b.status == BatchStatus::Abandoned)
        {
            error!(target: "keeper::receipts::batcher", %root, "this very batch was abandoned after its anchor failed; waiting for new receipts or an operator");
            return Ok(plan);
        }
        let ids: Vec<B256> = ready.iter().map(|r| r.request_id).collect();
        let id = self.store.build_batch(root, &ids, now_ms).await?;
        info!(target: "keeper::receipts::batcher", batch = id, %root, count = ids.len(), full, "batch built");
        self.config
            .failpoints
            .check_at(Failpoint::AfterBatchBuilt, &key(root))
            .map_err(JobError::Failpoint)?;
        plan.intents
            .push(self.intent(root, ids.len() as u64, bond).await);
        Ok(plan)
    }
}

/// Whether the waiting receipts (`waiting` of them, the oldest received at `oldest` ms) can make a batch due at
/// `now_ms`: a full batch's worth, or the oldest waited [`ReceiptBatcherConfig::max_age`]. When not, no batch can
/// be built this pass (a receipt old enough to expire is older than `max_age` too), so the rows are not loaded.
pub fn may_be_due(
    waiting: u64,
    oldest: Option<i64>,
    now_ms: i64,
    config: &ReceiptBatcherConfig,
) -> bool {
    let full = waiting >= u64::try_from(config.max_size).unwrap_or(u64::MAX);
    let max_age_ms = i64::try_from(config.max_age.as_millis()).unwrap_or(i64::MAX);
    let old = oldest.is_some_and(|o| now_ms.saturating_sub(o) >= max_age_ms);
    waiting > 0 && (full || old)
}

impl<P, S> Job<P> for ReceiptBatcher<S>
where
    P: Provider + Clone + 'static,
    S: ReceiptStore + OutboxStore + Clone,
{
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn plan<'a>(&'a self, provider: &'a P) -> PlanFuture<'a> {
        Box::pin(self.plan_with(provider))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiting_summary_decides_whether_rows_are_loaded() {
        let mut c = ReceiptBatcherConfig::new(Address::ZERO, "http://k", 86_400);
        c.max_size = 100;
        c.max_age = Duration::from_secs(60);
        let now = 1_000_000;
        // Nothing waiting, or a young partial batch: no row is loaded.
        assert!(!may_be_due(0, None, now, &c));
        assert!(!may_be_due(99, Some(now - 59_999), now, &c));
        // A full batch's worth, or the oldest aged: load and decide on the rows.
        assert!(may_be_due(100, Some(now), now, &c));
        assert!(may_be_due(1, Some(now - 60_000), now, &c));
        // A clock that went back (oldest in the future) waits.
        assert!(!may_be_due(1, Some(now + 5_000), now, &c));
    }

    #[test]
    fn keys_and_data_uris() {
        let root = B256::repeat_byte(0xab);
        assert_eq!(key(root), format!("anchor:0x{}", "ab".repeat(32)));
        let c = ReceiptBatcherConfig::new(Address::ZERO, "http://127.0.0.1:9464/", 86_400);
        assert_eq!(
            c.data_uri(root),
            format!("http://127.0.0.1:9464/batches/0x{}", "ab".repeat(32))
        );
        let call = IReceiptBatches::anchorBatchCall::abi_decode(&calldata(root, 3, "x")).unwrap();
        assert_eq!(
            (call.root, call.count, call.data_uri.as_str()),
            (root, 3, "x")
        );
    }
}
