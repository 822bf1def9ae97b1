//! The registration batcher: versions in `Stored` state are finalized with `finalizeRegistrations(ids)` in
//! batches, highest priority fee first, then oldest submission, then lowest id.
//!
//! A batch is bounded by [`BatcherConfig::max_count`] and by a gas budget ([`BatcherConfig::gas_budget`] over a
//! per-call base plus a per-item estimate, from the measured 46,416 gas for one item and ~9,900 per further item),
//! and is sent when it is full or when its oldest version was submitted at least [`BatcherConfig::max_wait_secs`]
//! ago by the chain's clock. Its key is `register:<first>-<last>-<count>-<hash>` (ids in batch order; `hash` = the
//! first 4 bytes of keccak256 of the calldata), the same for the same batch on every pass and after a restart.
//!
//! One batch is in flight at a time: while a `register:` intent is open in the outbox, no new batch is planned (a
//! second batch formed from a grown set of Stored versions would otherwise repeat ids of the first). A version
//! whose parent is still pending waits until the parent is final or goes earlier in the same batch (the contract
//! checks parents at registration: a child before its parent would be rejected `ParentNotRegistered`).
//!
//! Versions come from `VersionSubmitted` logs through a persisted cursor that stays below the oldest pending
//! version ([`super::versions`]); the same stream's `VersionFinalized` logs record the contract's per-item outcome
//! (`keeper_registrations_total{outcome}`, and a log line per item). Someone else finalizing the same versions
//! first leaves them final: the next plan no longer includes them; and if our batch was already persisted, the
//! contract reports those items unchanged (`AlreadyFinal`, never a revert) and the intent completes.

use alloy::primitives::{keccak256, Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use std::collections::BTreeSet;
use tracing::{debug, info};
use verity_abi::registry::{Reason, Status};
use verity_abi::rpc::IModelRegistry;

use super::versions::{Observed, VersionWatch, WatchConfig};
use super::{IntentSpec, Job, Plan, PlanFuture};
use crate::chain::events::KeeperEvent;
use crate::http::Metrics;
use crate::store::{CursorStore, IntentStatus, OutboxStore};

/// The job's name.
pub const JOB_NAME: &str = "registration-batcher";

/// The prefix of the job's idempotency keys.
pub const KEY_PREFIX: &str = "register";

/// Settings of the batcher.
#[derive(Debug, Clone)]
pub struct BatcherConfig {
    /// The registry and its log stream.
    pub watch: WatchConfig,
    /// Most versions per batch.
    pub max_count: usize,
    /// Gas a batch may be estimated at.
    pub gas_budget: u64,
    /// Estimated gas of the call itself.
    pub gas_base: u64,
    /// Estimated gas per item.
    pub gas_per_item: u64,
    /// A batch that is not full is sent once its oldest version was submitted this many chain seconds ago.
    pub max_wait_secs: u64,
}

impl BatcherConfig {
    /// Defaults for `registry` (deployed at `start_block`): 100 items, 3,000,000 gas (base 40,000, 12,000 per
    /// item: 20 % above the measured marginal cost), 60 s.
    pub fn new(registry: Address, start_block: u64) -> Self {
        Self {
            watch: WatchConfig::new("registry-batcher", registry, start_block),
            max_count: 100,
            gas_budget: 3_000_000,
            gas_base: 40_000,
            gas_per_item: 12_000,
            max_wait_secs: 60,
        }
    }

    /// Most items a batch can take: the count bound and the gas budget, at least 1.
    pub fn limit(&self) -> usize {
        let by_gas = self.gas_budget.saturating_sub(self.gas_base) / self.gas_per_item.max(1);
        self.max_count
            .min(usize::try_from(by_gas).unwrap_or(usize::MAX))
            .max(1)
    }
}

/// The calldata of `finalizeRegistrations(ids)`.
pub fn calldata(ids: &[U256]) -> Bytes {
    IModelRegistry::finalizeRegistrationsCall { ids: ids.to_vec() }
        .abi_encode()
        .into()
}

/// The idempotency key of the batch `ids` (in batch order).
pub fn key(ids: &[U256]) -> String {
    let first = ids.first().copied().unwrap_or_default();
    let last = ids.last().copied().unwrap_or_default();
    let hash = keccak256(calldata(ids));
    format!(
        "{KEY_PREFIX}:{first}-{last}-{}-{}",
        ids.len(),
        alloy::primitives::hex::encode(&hash[..4])
    )
}

/// The next batch from the pending versions (`Submitted` and `Stored`) as read at `chain_now`: `None` when no
/// version is Stored and eligible, or the batch is neither full nor old enough. Also returns how many Stored
/// versions wait and how long the oldest has waited.
pub fn next_batch(
    config: &BatcherConfig,
    pending: &[Observed],
    chain_now: u64,
) -> (Option<Vec<U256>>, u64, u64) {
    let pending_ids: BTreeSet<U256> = pending.iter().map(|v| v.submitted.id).collect();
    let mut stored: Vec<&Observed> = pending
        .iter()
        .filter(|v| v.status == Status::Stored)
        .collect();
    stored.sort_by(|a, b| {
        b.submitted
            .priority_fee
            .cmp(&a.submitted.priority_fee)
            .then(a.submitted_at.cmp(&b.submitted_at))
            .then(a.submitted.id.cmp(&b.submitted.id))
    });
    let due = stored.len() as u64;
    let lag = stored
        .iter()
        .map(|v| chain_now.saturating_sub(v.submitted_at))
        .max()
        .unwrap_or(0);
    let limit = config.limit();
    let mut batch: Vec<&Observed> = Vec::new();
    let mut taken = BTreeSet::new();
    // Sweep in priority order until nothing more fits: a child becomes eligible once its pending parents are in.
    loop {
        let before = batch.len();
        for v in &stored {
            if batch.len() == limit {
                break;
            }
            let id = v.submitted.id;
            if taken.contains(&id) {
                continue;
            }
            let ready = v
                .submitted
                .parents
                .iter()
                .all(|p| !pending_ids.contains(p) || taken.contains(p));
            if ready {
                taken.insert(id);
                batch.push(v);
            }
        }
        if batch.len() == before || batch.len() == limit {
            break;
        }
    }
    if batch.is_empty() {
        return (None, due, lag);
    }
    let oldest = batch
        .iter()
        .map(|v| chain_now.saturating_sub(v.submitted_at))
        .max()
        .unwrap_or(0);
    if batch.len() < limit && oldest < config.max_wait_secs {
        debug!(target: "keeper::jobs::batcher", size = batch.len(), oldest, "batch not full and not old enough");
        return (None, due, lag);
    }
    (
        Some(batch.iter().map(|v| v.submitted.id).collect()),
        due,
        lag,
    )
}

/// The registration batcher for one ModelRegistry.
pub struct RegistrationBatcher<S> {
    config: BatcherConfig,
    store: S,
    watch: VersionWatch<S>,
    metrics: Metrics,
}

impl<S: CursorStore + OutboxStore + Clone> RegistrationBatcher<S> {
    /// The batcher, with its cursor in `store` (whose outbox it also checks for a batch in flight).
    pub fn new(store: S, config: BatcherConfig, metrics: Metrics) -> Self {
        Self {
            watch: VersionWatch::new(store.clone(), config.watch.clone()),
            store,
            config,
            metrics,
        }
    }

    fn record(&self, events: &[KeeperEvent]) {
        for e in events {
            let KeeperEvent::VersionFinalized(f) = e else {
                continue;
            };
            let status = Status::try_from(f.status).ok();
            let reason = Reason::try_from(f.reason).ok();
            let outcome = match (f.changed, status) {
                (false, _) => "unchanged",
                (true, Some(Status::Registered)) => "registered",
                (true, Some(Status::Rejected)) => "rejected",
                (true, Some(Status::Expired)) => "expired",
                (true, _) => "other",
            };
            self.metrics
                .registrations
                .with_label_values(&[outcome])
                .inc();
            info!(target: "keeper::jobs::batcher", id = %f.id, ?status, ?reason, changed = f.changed, outcome, "registration outcome");
        }
    }

    async fn plan_with<P: Provider + Clone + 'static>(&self, provider: &P) -> super::Result<Plan> {
        let (pending, chain_now, events) =
            self.watch.observe(provider, |s| !s.is_pending()).await?;
        self.record(&events);
        let (batch, due, lag_secs) = next_batch(&self.config, &pending, chain_now);
        let in_flight = self
            .store
            .intents_in(&IntentStatus::OPEN, 1_000_000)
            .await?
            .into_iter()
            .any(|i| i.key.starts_with(&format!("{KEY_PREFIX}:")));
        let intents = match batch {
            Some(ids) if !in_flight => vec![IntentSpec {
                key: key(&ids),
                target: self.watch.registry(),
                calldata: calldata(&ids),
                value: U256::ZERO,
            }],
            _ => Vec::new(),
        };
        Ok(Plan {
            intents,
            due,
            lag_secs,
            in_flight: 0,
        })
    }
}

impl<S> std::fmt::Debug for RegistrationBatcher<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationBatcher")
            .field("config", &self.config)
            .field("watch", &self.watch)
            .finish_non_exhaustive()
    }
}

impl<P, S> Job<P> for RegistrationBatcher<S>
where
    P: Provider + Clone + 'static,
    S: CursorStore + OutboxStore + Clone,
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
    use crate::jobs::versions::Submitted;

    fn v(id: u64, status: Status, fee: u64, at: u64, parents: &[u64]) -> Observed {
        Observed {
            submitted: Submitted {
                id: U256::from(id),
                block: id,
                storage_uri: Bytes::new(),
                priority_fee: U256::from(fee),
                parents: parents.iter().map(|p| U256::from(*p)).collect(),
            },
            status,
            submitted_at: at,
            content_hash: Default::default(),
            size: 0,
        }
    }

    fn config(max_count: usize, max_wait_secs: u64) -> BatcherConfig {
        BatcherConfig {
            max_count,
            max_wait_secs,
            ..BatcherConfig::new(Address::ZERO, 0)
        }
    }

    fn ids(b: Option<Vec<U256>>) -> Option<Vec<u64>> {
        b.map(|b| b.iter().map(|i| i.to::<u64>()).collect())
    }

    #[test]
    fn orders_by_fee_then_age_and_waits_for_full_or_old() {
        let pending = [
            v(1, Status::Stored, 0, 100, &[]),
            v(2, Status::Stored, 5, 110, &[]),
            v(3, Status::Submitted, 9, 90, &[]),
            v(4, Status::Stored, 5, 105, &[]),
        ];
        // Full at 3: fee 5 (older first), then fee 0.
        let (b, due, lag) = next_batch(&config(3, 1_000), &pending, 120);
        assert_eq!(ids(b), Some(vec![4, 2, 1]));
        assert_eq!((due, lag), (3, 20));
        // Not full, not old: nothing; old enough: sent.
        assert_eq!(next_batch(&config(10, 1_000), &pending, 120).0, None);
        assert_eq!(
            ids(next_batch(&config(10, 20), &pending, 120).0),
            Some(vec![4, 2, 1])
        );
        // Count bound splits.
        assert_eq!(
            ids(next_batch(&config(2, 0), &pending, 120).0),
            Some(vec![4, 2])
        );
    }

    #[test]
    fn gas_budget_bounds_the_batch() {
        let c = BatcherConfig {
            gas_budget: 40_000 + 3 * 12_000 + 11_999,
            ..config(100, 0)
        };
        assert_eq!(c.limit(), 3);
        let pending: Vec<_> = (1..=5).map(|i| v(i, Status::Stored, 0, i, &[])).collect();
        assert_eq!(ids(next_batch(&c, &pending, 10).0), Some(vec![1, 2, 3]));
    }

    #[test]
    fn children_wait_for_pending_parents_or_follow_them() {
        let pending = [
            v(1, Status::Submitted, 0, 1, &[]),
            v(2, Status::Stored, 9, 2, &[1]),
            v(3, Status::Stored, 0, 3, &[]),
            v(4, Status::Stored, 9, 4, &[3]),
        ];
        // 2 waits for 1 (not stored); 4 goes after its parent 3 although its fee is higher.
        assert_eq!(
            ids(next_batch(&config(10, 0), &pending, 10).0),
            Some(vec![3, 4])
        );
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let a = [U256::from(1), U256::from(3)];
        let b = [U256::from(1), U256::from(2), U256::from(3)];
        assert_eq!(key(&a), key(&a));
        assert!(key(&a).starts_with("register:1-3-2-"));
        assert_ne!(key(&a), key(&b));
        assert_eq!(crate::jobs::job_of_key(&key(&a)), JOB_NAME);
    }
}
