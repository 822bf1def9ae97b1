//! The batch finalizer: each of our anchored batches is finalized (`finalizeBatch(id)`, which credits our bond
//! back) once its challenge window has passed by the chain's clock, under the key `finalize-batch:<id>`. Someone
//! else finalizing first, or a void racing us, answers with the typed `SettlementAlreadyFinal` /
//! `SettlementAlreadyVoided`: the outbox counts that as done (the idempotency rule).
//!
//! **Retention.** At most once every [`PRUNE_EVERY`], the pass also applies the store's retention rule
//! ([`ReceiptStore::prune_dead_leaves`]): the leaves of a voided batch go once it was anchored more than the challenge
//! window plus [`DEAD_LEAF_RETENTION_SECS`] ago by the chain's clock (a void happens inside the window; the extra
//! day covers any reorg that could undo it), those of an abandoned batch of ours a day after it was built. Leaves
//! of live and final batches are kept: `challengeDuplicate` accepts any earlier batch that is not voided.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use tracing::info;
use verity_abi::rpc::IReceiptBatches;

use super::store::{BatchStatus, ReceiptStore};
use crate::jobs::{IntentSpec, Job, Plan, PlanFuture, Result};
use crate::store::OutboxStore;

/// The job's name.
pub const JOB_NAME: &str = "batch-finalizer";

/// The prefix of the job's idempotency keys.
pub const KEY_PREFIX: &str = "finalize-batch";

/// The idempotency key of finalizing on-chain batch `id`.
pub fn key(id: u64) -> String {
    format!("{KEY_PREFIX}:{id}")
}

/// The calldata of `finalizeBatch(id)`.
pub fn calldata(id: u64) -> Bytes {
    IReceiptBatches::finalizeBatchCall {
        batch_id: U256::from(id),
    }
    .abi_encode()
    .into()
}

/// How long dead leaves (voided or abandoned batches) are kept beyond the point where they stop mattering.
pub const DEAD_LEAF_RETENTION_SECS: u64 = 86_400;
/// How often the retention rule runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3_600);

/// The finalizer of our batches.
pub struct BatchFinalizer<S> {
    store: S,
    batches: Address,
    last_prune: Mutex<Option<Instant>>,
}

impl<S> std::fmt::Debug for BatchFinalizer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchFinalizer")
            .field("batches", &self.batches)
            .finish_non_exhaustive()
    }
}

impl<S: ReceiptStore + OutboxStore + Clone> BatchFinalizer<S> {
    /// The finalizer of our batches on ReceiptBatches at `batches`.
    pub fn new(store: S, batches: Address) -> Self {
        Self {
            store,
            batches,
            last_prune: Mutex::new(None),
        }
    }

    /// Whether the retention rule is due this pass (and marks it done when so).
    fn prune_due(&self) -> bool {
        let Ok(mut last) = self.last_prune.lock() else {
            return false;
        };
        if last.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// The retention rule at chain time `chain_now` with challenge window `window`.
    async fn prune(&self, window: u64, chain_now: u64) -> Result<()> {
        let retention_ms = i64::try_from(DEAD_LEAF_RETENTION_SECS * 1_000).unwrap_or(i64::MAX);
        let gone = self
            .store
            .prune_dead_leaves(
                chain_now.saturating_sub(window.saturating_add(DEAD_LEAF_RETENTION_SECS)),
                crate::lease::now_ms().saturating_sub(retention_ms),
            )
            .await?;
        if gone > 0 {
            info!(target: "keeper::receipts::finalizer", gone, "leaves of voided and abandoned batches pruned");
        }
        Ok(())
    }

    async fn plan_with<P: Provider + Clone + 'static>(&self, provider: &P) -> Result<Plan> {
        let anchored = self.store.batches_in(BatchStatus::Anchored, true).await?;
        let prune = self.prune_due();
        if anchored.is_empty() && !prune {
            return Ok(Plan::default());
        }
        let window = IReceiptBatches::new(self.batches, provider)
            .config()
            .call()
            .await?
            ._3;
        let chain_now = crate::jobs::latest_timestamp(provider).await?;
        if prune {
            self.prune(window, chain_now).await?;
        }
        let mut plan = Plan::default();
        for b in anchored {
            let (Some(id), Some(at)) = (b.chain_batch, b.anchored_at) else {
                continue;
            };
            let due_at = at.saturating_add(window);
            if chain_now < due_at {
                continue;
            }
            plan.due += 1;
            plan.lag_secs = plan.lag_secs.max(chain_now - due_at);
            plan.intents.push(IntentSpec {
                key: key(id),
                target: self.batches,
                calldata: calldata(id),
                value: U256::ZERO,
            });
        }
        Ok(plan)
    }
}

impl<P, S> Job<P> for BatchFinalizer<S>
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
