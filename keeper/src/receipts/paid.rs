//! Paid requests (InferenceSettlement), followed from their events ([`super::events`]):
//!
//! - `Requested` / `Answered` whose receipt the keeper holds in a `Final` batch anchored by the deadline (mode TEE,
//!   the receipt matching the request) → `proveByBatch(batchId, signed, proof)` under `prove:<requestId>`;
//! - still unproven past the deadline by the chain's clock → `refund(requestId)` under `refund:<requestId>`
//!   (the node is slashed if it had answered) — but never while any batch still in its window (ours or another
//!   keeper's, whose leaves the watcher stored) that was anchored by the deadline holds a leaf for the request:
//!   it may still be proven; and an *answered* request only after `deadline + challengeWindow` (the contract's
//!   rule: the node's receipt may sit in a batch anchored just before the deadline). A `SettlementTooEarly` or
//!   `SettlementPaused` revert leaves the refund pending for a later pass (the outbox's retry-later class);
//! - `Proven` once the challenge window after the proof has passed → `settle(requestId)` under
//!   `settle:<requestId>` (the node is paid);
//! - `Disputed` and left unresolved by governance until the dispute's expiry (`Disputed.expiresAt`, the
//!   dispute timeout after it was raised) → `settle(requestId)` under `settle:<requestId>` (the node is paid and
//!   receives the payer's dispute bond). A request disputed inside its window was not settled before, so the key
//!   is used once either way.
//!
//! `SettlementAlreadySettled` (someone else settled or refunded first) counts as done.
//!
//! Reads per pass: the open requests from the store (kept by [`super::events`]), the settlement's `config` and
//! the chain's clock — no `eth_call` per open request. The one per-request call, `getRequest` before a proof (our
//! receipt must match the request on chain), is made once per answered request ([`Verified`]); only a request
//! still unanswered on chain is read again on a later pass (its answer may yet change the output hash).

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use tracing::debug;
use verity_abi::rpc::IInferenceSettlement;
use verity_abi::settlement::{decode_signed_receipt, mode, request_status};

use super::api::TreeCache;
use super::store::{BatchStatus, Checked, ReceiptState, ReceiptStore};
use crate::jobs::{IntentSpec, Job, Plan, PlanFuture, Result};

/// The job's name.
pub const JOB_NAME: &str = "paid-requests";

/// Key prefix of proofs.
pub const PROVE_PREFIX: &str = "prove";
/// Key prefix of refunds.
pub const REFUND_PREFIX: &str = "refund";
/// Key prefix of settlements.
pub const SETTLE_PREFIX: &str = "settle";

/// Answered requests whose on-chain fields were read once and match our receipt: nothing that decides the match
/// changes after the answer, so they are not read again. Forgotten once the request is no longer open.
#[derive(Debug, Default)]
pub struct Verified(std::sync::Mutex<std::collections::HashSet<B256>>);

impl Verified {
    /// Whether `id` was verified.
    pub fn contains(&self, id: &B256) -> bool {
        self.0.lock().is_ok_and(|s| s.contains(id))
    }

    /// Records `id` as answered and matching.
    pub fn insert(&self, id: B256) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(id);
        }
    }

    /// Keeps only the ids in `open`.
    pub fn retain_open(&self, open: &std::collections::HashSet<B256>) {
        if let Ok(mut s) = self.0.lock() {
            s.retain(|id| open.contains(id));
        }
    }

    /// How many are remembered.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |s| s.len())
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The paid-requests job.
pub struct PaidRequests<S> {
    store: S,
    settlement: Address,
    trees: TreeCache,
    verified: Verified,
}

impl<S> std::fmt::Debug for PaidRequests<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaidRequests")
            .field("settlement", &self.settlement)
            .finish_non_exhaustive()
    }
}

impl<S: ReceiptStore + Clone> PaidRequests<S> {
    /// The job for InferenceSettlement at `settlement`.
    pub fn new(store: S, settlement: Address) -> Self {
        Self {
            store,
            settlement,
            trees: TreeCache::default(),
            verified: Verified::default(),
        }
    }

    fn intent(&self, prefix: &str, id: B256, calldata: Bytes) -> IntentSpec {
        IntentSpec {
            key: format!("{prefix}:{id}"),
            target: self.settlement,
            calldata,
            value: U256::ZERO,
        }
    }

    /// Whether a batch anchored by `deadline` that is still in its window holds a leaf for `request_id` — ours
    /// (our receipt `Batched` there) or anyone's (leaves the watcher stored, including a batch that holds the
    /// receipt we marked `Excluded`): it may still prove the request, so no refund.
    async fn awaiting_finality(&self, request_id: B256, deadline: u64) -> Result<bool> {
        if let Some(receipt) = self.store.receipt(request_id).await? {
            if let (ReceiptState::Batched, Some(id)) = (receipt.state, receipt.batch_id) {
                if let Some(b) = self.store.batch(id).await? {
                    if b.status == BatchStatus::Anchored
                        && b.anchored_at.is_some_and(|t| t <= deadline)
                    {
                        return Ok(true);
                    }
                }
            }
        }
        Ok(self
            .store
            .live_batches_with(request_id)
            .await?
            .iter()
            .any(|b| b.anchored_at.is_some_and(|t| t <= deadline)))
    }

    /// `proveByBatch` calldata for `request_id` if we hold its receipt in a Final batch anchored by `deadline`
    /// that matches the request on chain.
    async fn proof_for<P: Provider>(
        &self,
        provider: &P,
        request_id: B256,
        deadline: u64,
    ) -> Result<Option<Bytes>> {
        let Some(receipt) = self.store.receipt(request_id).await? else {
            return Ok(None);
        };
        let batch = match (receipt.state, receipt.batch_id) {
            (ReceiptState::Batched, Some(id)) => self.store.batch(id).await?,
            (ReceiptState::Excluded, _) => self.store.inclusion_of(receipt.leaf).await?,
            _ => None,
        };
        let Some(batch) = batch.filter(|b| b.status == BatchStatus::Final) else {
            return Ok(None);
        };
        let (Some(chain_batch), Some(anchored_at)) = (batch.chain_batch, batch.anchored_at) else {
            return Ok(None);
        };
        let Some(signed) = decode_signed_receipt(&receipt.signed) else {
            return Ok(None);
        };
        if anchored_at > deadline || signed.receipt.mode != mode::TEE {
            return Ok(None);
        }
        if !self.verified.contains(&request_id) {
            let r = IInferenceSettlement::new(self.settlement, provider)
                .getRequest(request_id)
                .call()
                .await?;
            let s = &signed.receipt;
            let answered = r._6 == request_status::ANSWERED;
            let matches = r._0 == s.payer
                && r._1 == s.node
                && r._2 == s.modelVersion
                && r._3 == s.fee
                && r._4 == s.inputHash
                && (!answered || r._5 == s.outputHash)
                && r._7 == s.mode;
            if !matches {
                debug!(target: "keeper::receipts::paid", %request_id, "our receipt does not match the request; not proven by us");
                return Ok(None);
            }
            if answered {
                self.verified.insert(request_id);
            }
        }
        let tree = self.trees.tree(&self.store, batch.id).await?;
        let Some(proof) = tree.proof(receipt.leaf) else {
            return Ok(None);
        };
        Ok(Some(
            IInferenceSettlement::proveByBatchCall {
                batch_id: U256::from(chain_batch),
                signed: receipt.signed.clone(),
                proof,
            }
            .abi_encode()
            .into(),
        ))
    }

    async fn plan_with<P: Provider + Clone + 'static>(&self, provider: &P) -> Result<Plan> {
        let open = self
            .store
            .requests_in(&[
                request_status::REQUESTED,
                request_status::ANSWERED,
                request_status::PROVEN,
                request_status::DISPUTED,
            ])
            .await?;
        self.verified
            .retain_open(&open.iter().map(|r| r.request_id).collect());
        if open.is_empty() {
            return Ok(Plan::default());
        }
        let config = IInferenceSettlement::new(self.settlement, provider)
            .config()
            .call()
            .await?;
        let window = config._5;
        let chain_now = crate::jobs::latest_timestamp(provider).await?;
        // Others' batches still in their window whose leaves we have not read yet (fetch running or failed): any
        // of them may hold the receipt of a request with a deadline at or after its anchoring, so such requests
        // are not refunded until the batch is read, final or voided (a delay of at most one window).
        let unread: Vec<u64> = self
            .store
            .batches_in(BatchStatus::Anchored, false)
            .await?
            .iter()
            .filter(|b| !b.ours && matches!(b.checked, Checked::Unchecked | Checked::Unavailable))
            .filter_map(|b| b.anchored_at)
            .collect();
        let unread_since = if unread.is_empty() {
            None
        } else {
            let batch_window = verity_abi::rpc::IReceiptBatches::new(config._3, provider)
                .config()
                .call()
                .await?
                ._3;
            unread
                .into_iter()
                .filter(|t| t.saturating_add(batch_window) > chain_now)
                .min()
        };
        let mut plan = Plan::default();
        for r in open {
            let id = r.request_id;
            if r.status == request_status::DISPUTED {
                // `deadline` holds the dispute's expiry; the contract settles it for the node from then on.
                if chain_now >= r.deadline {
                    plan.due += 1;
                    plan.lag_secs = plan.lag_secs.max(chain_now - r.deadline);
                    let call = IInferenceSettlement::settleCall { request_id: id }.abi_encode();
                    plan.intents
                        .push(self.intent(SETTLE_PREFIX, id, call.into()));
                }
            } else if r.status == request_status::PROVEN {
                let Some(proven_at) = r.proven_at else {
                    continue;
                };
                let due_at = proven_at.saturating_add(window);
                if chain_now >= due_at {
                    plan.due += 1;
                    plan.lag_secs = plan.lag_secs.max(chain_now - due_at);
                    let call = IInferenceSettlement::settleCall { request_id: id }.abi_encode();
                    plan.intents
                        .push(self.intent(SETTLE_PREFIX, id, call.into()));
                }
            } else if let Some(call) = self.proof_for(provider, id, r.deadline).await? {
                // A proof by a batch anchored by the deadline counts even after it (the contract agrees), so
                // it comes before any refund.
                plan.due += 1;
                plan.intents.push(self.intent(PROVE_PREFIX, id, call));
            } else if chain_now > refundable_after(r.status, r.deadline, window)
                && unread_since.is_none_or(|t| t > r.deadline)
                && !self.awaiting_finality(id, r.deadline).await?
            {
                plan.due += 1;
                plan.lag_secs = plan.lag_secs.max(chain_now - r.deadline);
                let call = IInferenceSettlement::refundCall { request_id: id }.abi_encode();
                plan.intents
                    .push(self.intent(REFUND_PREFIX, id, call.into()));
            }
        }
        Ok(plan)
    }
}

/// The last chain second at which a request in `status` with `deadline` is not yet refundable: the deadline, or
/// for an answered request the deadline plus the challenge window.
pub fn refundable_after(status: u8, deadline: u64, window: u64) -> u64 {
    if status == request_status::ANSWERED {
        deadline.saturating_add(window)
    } else {
        deadline
    }
}

impl<P, S> Job<P> for PaidRequests<S>
where
    P: Provider + Clone + 'static,
    S: ReceiptStore + Clone,
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
    fn verified_requests_are_forgotten_once_closed() {
        let v = Verified::default();
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        v.insert(a);
        v.insert(b);
        assert!(v.contains(&a) && v.contains(&b));
        v.retain_open(&[b].into_iter().collect());
        assert!(!v.contains(&a) && v.contains(&b));
        assert_eq!(v.len(), 1);
        v.retain_open(&Default::default());
        assert!(v.is_empty());
    }
}
