//! The batch finalizer: each of our anchored batches is finalized (`finalizeBatch(id)`, which credits our bond
//! back) once its challenge window has passed by the chain's clock, under the key `finalize-batch:<id>`. Someone
//! else finalizing first, or a void racing us, answers with the typed `SettlementAlreadyFinal` /
//! `SettlementAlreadyVoided`: the outbox counts that as done (the idempotency rule).

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
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

/// The finalizer of our batches.
pub struct BatchFinalizer<S> {
    store: S,
    batches: Address,
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
        Self { store, batches }
    }

    async fn plan_with<P: Provider + Clone + 'static>(&self, provider: &P) -> Result<Plan> {
        let anchored = self.store.batches_in(BatchStatus::Anchored, true).await?;
        if anchored.is_empty() {
            return Ok(Plan::default());
        }
        let window = IReceiptBatches::new(self.batches, provider)
            .config()
            .call()
            .await?
            ._3;
        let chain_now = crate::jobs::latest_timestamp(provider).await?;
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
