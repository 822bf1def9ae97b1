//! The registration batcher: versions in `Stored` state are finalized with `finalizeRegistrations(ids)` in
//! batches, highest *effective priority* first, then oldest submission, then lowest id, where
//!
//! ```text
//! effective priority = priority fee (wei) + age (s) × BatcherConfig::aging_wei_per_sec
//! ```
//!
//! A batch is bounded by [`BatcherConfig::max_count`] and by a gas budget ([`BatcherConfig::gas_budget`] over a
//! per-call base plus a per-item estimate, from the measured 46,416 gas for one item and ~9,900 per further item),
//! and is sent when it is full or when its oldest version has waited at least [`BatcherConfig::max_wait_secs`].
//!
//! A version's *age* is the larger of two clocks: its chain age (the latest block's timestamp − `submittedAt`),
//! and its keeper age (its chain age when this batcher first saw it, plus the time since on the keeper's own
//! [`Clock`]). Its key is `register:<first>-<last>-<count>-<hash>` (ids in batch order; `hash` = the
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
//!
//! # Decisions
//! - **Aging is linear in age.** With one rate for every version, whether a version outranks another no longer
//!   depends on when the two are compared: `b` (fee `f_b`, submitted `d` seconds after `a`) goes before `a` iff
//!   `f_b − f_a > d × rate`. So a version is never overtaken by one submitted more than
//!   `(f_high − f_own) / rate` seconds after it, and under any flood of fee at most `f_high` it goes in a batch
//!   once the versions submitted before that horizon are batched. Rate 0 is the plain fee order (a low fee can
//!   starve under sustained higher-fee load). Cost: a patient low fee overtakes a recent high fee — the point.
//! - **Two clocks for age.** The chain's clock stands still on a quiet chain (Arbitrum makes no empty blocks), so a
//!   partial batch judged by it alone could wait for ever. The keeper's clock is only used as elapsed time since
//!   the batcher first saw a version (never compared with block timestamps), so a skewed host clock cannot make
//!   batches early; the cost is that a restart forgets first sights, and a quiet chain may then hold a partial
//!   batch up to one more max wait.

use alloy::primitives::{keccak256, Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
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
    /// A batch that is not full is sent once its oldest version has waited this many seconds (by the chain's
    /// clock or the keeper's, whichever says more).
    pub max_wait_secs: u64,
    /// Wei of priority one second of waiting is worth (effective priority = fee + age × this; 0 = fee order).
    pub aging_wei_per_sec: u64,
}

impl BatcherConfig {
    /// Defaults for `registry` (deployed at `start_block`): 100 items, 3,000,000 gas (base 40,000, 12,000 per
    /// item: 20 % above the measured marginal cost), 60 s, aging at [`DEFAULT_AGING_WEI_PER_SEC`].
    pub fn new(registry: Address, start_block: u64) -> Self {
        Self {
            watch: WatchConfig::new("registry-batcher", registry, start_block),
            max_count: 100,
            gas_budget: 3_000_000,
            gas_base: 40_000,
            gas_per_item: 12_000,
            max_wait_secs: 60,
            aging_wei_per_sec: DEFAULT_AGING_WEI_PER_SEC,
        }
    }

    /// A version's effective priority at age `age_secs`: its priority fee plus `age × aging_wei_per_sec`.
    pub fn effective_priority(&self, priority_fee: U256, age_secs: u64) -> U256 {
        // Overflow not possible: u64 × u64 < 2^128.
        let aging = U256::from(u128::from(age_secs) * u128::from(self.aging_wei_per_sec));
        priority_fee.saturating_add(aging)
    }

    /// Most items a batch can take: the count bound and the gas budget, at least 1.
    pub fn limit(&self) -> usize {
        let by_gas = self.gas_budget.saturating_sub(self.gas_base) / self.gas_per_item.max(1);
        self.max_count
            .min(usize::try_from(by_gas).unwrap_or(usize::MAX))
            .max(1)
    }
}

/// Default aging rate: 10^12 wei (1,000 gwei) per second waited, so a priority fee of 0.001 ETH (the dev
/// chain's minimum fee) is worth 1,000 s ≈ 17 min of waiting, and an hour of waiting 0.0036 ETH.
pub const DEFAULT_AGING_WEI_PER_SEC: u64 = 1_000_000_000_000;

/// The keeper's own clock as the batcher reads it: time elapsed since any fixed origin, never going back.
/// Injectable, so tests can move it without waiting.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time since the clock's origin.
    fn elapsed(&self) -> Duration;
}

/// The host's monotonic clock (the production clock).
#[derive(Debug, Clone, Copy)]
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that only moves when told to (tests); clones share the time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// Moves the clock forward by `by` (whole milliseconds).
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn elapsed(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
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

/// The next batch from the pending versions (`Submitted` and `Stored`) as read at `chain_now`, with each
/// version's keeper age (seconds, by the keeper's clock; missing = 0): `None` when no version is Stored and
/// eligible, or the batch is neither full nor old enough. Also returns how many Stored versions wait and how long
/// the oldest has waited. A version's age is the larger of its chain age and its keeper age.
pub fn next_batch(
    config: &BatcherConfig,
    pending: &[Observed],
    chain_now: u64,
    keeper_ages: &BTreeMap<U256, u64>,
) -> (Option<Vec<U256>>, u64, u64) {
    let age = |v: &Observed| {
        let chain = chain_now.saturating_sub(v.submitted_at);
        keeper_ages
            .get(&v.submitted.id)
            .map_or(chain, |k| chain.max(*k))
    };
    let pending_ids: BTreeSet<U256> = pending.iter().map(|v| v.submitted.id).collect();
    let mut stored: Vec<(U256, &Observed)> = pending
        .iter()
        .filter(|v| v.status == Status::Stored)
        .map(|v| {
            (
                config.effective_priority(v.submitted.priority_fee, age(v)),
                v,
            )
        })
        .collect();
    stored.sort_by(|(pa, a), (pb, b)| {
        pb.cmp(pa)
            .then(a.submitted_at.cmp(&b.submitted_at))
            .then(a.submitted.id.cmp(&b.submitted.id))
    });
    let stored: Vec<&Observed> = stored.into_iter().map(|(_, v)| v).collect();
    let due = stored.len() as u64;
    let lag = stored.iter().map(|v| age(v)).max().unwrap_or(0);
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
    let oldest = batch.iter().map(|v| age(v)).max().unwrap_or(0);
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
    clock: Arc<dyn Clock>,
    /// Per pending version: its chain age and the keeper clock's reading when this batcher first saw it.
    seen: Mutex<BTreeMap<U256, (u64, Duration)>>,
}

impl<S: CursorStore + OutboxStore + Clone> RegistrationBatcher<S> {
    /// The batcher, with its cursor in `store` (whose outbox it also checks for a batch in flight).
    pub fn new(store: S, config: BatcherConfig, metrics: Metrics) -> Self {
        Self {
            watch: VersionWatch::new(store.clone(), config.watch.clone()),
            store,
            config,
            metrics,
            clock: Arc::new(SystemClock::default()),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// The same batcher judging keeper ages by `clock` instead of the host's monotonic clock.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Each pending version's keeper age in seconds; records first sights and forgets versions no longer pending.
    fn keeper_ages(&self, pending: &[Observed], chain_now: u64) -> BTreeMap<U256, u64> {
        let now = self.clock.elapsed();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let ids: BTreeSet<U256> = pending.iter().map(|v| v.submitted.id).collect();
        seen.retain(|id, _| ids.contains(id));
        pending
            .iter()
            .map(|v| {
                let (chain_age, at) = *seen
                    .entry(v.submitted.id)
                    .or_insert_with(|| (chain_now.saturating_sub(v.submitted_at), now));
                let since = now.saturating_sub(at).as_secs();
                (v.submitted.id, chain_age.saturating_add(since))
            })
            .collect()
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
        let ages = self.keeper_ages(&pending, chain_now);
        let (batch, due, lag_secs) = next_batch(&self.config, &pending, chain_now, &ages);
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

    /// Fee order only (no aging), as the order tests below assert.
    fn config(max_count: usize, max_wait_secs: u64) -> BatcherConfig {
        BatcherConfig {
            max_count,
            max_wait_secs,
            aging_wei_per_sec: 0,
            ..BatcherConfig::new(Address::ZERO, 0)
        }
    }

    fn next(c: &BatcherConfig, pending: &[Observed], now: u64) -> (Option<Vec<U256>>, u64, u64) {
        next_batch(c, pending, now, &BTreeMap::new())
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
        let (b, due, lag) = next(&config(3, 1_000), &pending, 120);
        assert_eq!(ids(b), Some(vec![4, 2, 1]));
        assert_eq!((due, lag), (3, 20));
        // Not full, not old: nothing; old enough: sent.
        assert_eq!(next(&config(10, 1_000), &pending, 120).0, None);
        assert_eq!(
            ids(next(&config(10, 20), &pending, 120).0),
            Some(vec![4, 2, 1])
        );
        // Count bound splits.
        assert_eq!(ids(next(&config(2, 0), &pending, 120).0), Some(vec![4, 2]));
    }

    #[test]
    fn gas_budget_bounds_the_batch() {
        let c = BatcherConfig {
            gas_budget: 40_000 + 3 * 12_000 + 11_999,
            ..config(100, 0)
        };
        assert_eq!(c.limit(), 3);
        let pending: Vec<_> = (1..=5).map(|i| v(i, Status::Stored, 0, i, &[])).collect();
        assert_eq!(ids(next(&c, &pending, 10).0), Some(vec![1, 2, 3]));
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
        assert_eq!(ids(next(&config(10, 0), &pending, 10).0), Some(vec![3, 4]));
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

    /// Issue 16: under a flood of higher-fee versions (more than a batch holds arriving every pass), a low-fee
    /// version is batched within the aging bound: it is overtaken only by versions submitted less than
    /// `(f_high − f_low) / rate` seconds after it. With rate 0 (the plain fee order) it starves.
    #[test]
    fn a_low_fee_version_is_batched_within_the_aging_bound_under_a_flood() {
        // Batches of 4, one pass per second, 5 versions of fee 1,000 arrive each second; the low fee is 0 and the
        // rate 100 wei/s, so the horizon is 10 s: the 5 × 10 versions of seconds 0..9 go before it, the rest after.
        let run = |rate: u64, passes: u64| -> Option<u64> {
            let c = BatcherConfig {
                aging_wei_per_sec: rate,
                ..config(4, 1_000_000)
            };
            let low = 1_000_000u64;
            let mut pending = vec![v(low, Status::Stored, 0, 0, &[])];
            let mut next_id = 1;
            for t in 0..passes {
                for _ in 0..5 {
                    pending.push(v(next_id, Status::Stored, 1_000, t, &[]));
                    next_id += 1;
                }
                let (batch, _, _) = next(&c, &pending, t);
                let batch = ids(batch).expect("a full batch every pass");
                assert_eq!(batch.len(), 4);
                if batch.contains(&low) {
                    return Some(t);
                }
                pending.retain(|p| !batch.contains(&p.submitted.id.to::<u64>()));
            }
            None
        };
        // 50 versions ahead at 4 a pass: the last 2 of them and the low fee go in pass 12 (⌈51 / 4⌉ = 13th).
        assert_eq!(run(100, 1_000), Some(12));
        assert_eq!(run(0, 1_000), None, "without aging the low fee starves");
    }

    /// Issue 16: on a quiet chain (its clock stands still) a partial batch goes once its oldest version has waited
    /// the max wait by the keeper's clock; the keeper age counts from the chain age at first sight.
    #[test]
    fn a_partial_batch_goes_after_the_max_wait_by_the_keeper_clock() {
        let pending = [
            v(1, Status::Stored, 0, 100, &[]),
            v(2, Status::Stored, 0, 105, &[]),
        ];
        let c = config(10, 60);
        let keeper = |a: u64, b: u64| BTreeMap::from([(U256::from(1), a), (U256::from(2), b)]);
        // Chain at 110 (ages 10 and 5): not by either clock while the keeper ages are below 60.
        assert_eq!(next_batch(&c, &pending, 110, &keeper(59, 54)).0, None);
        assert_eq!(
            ids(next_batch(&c, &pending, 110, &keeper(60, 55)).0),
            Some(vec![1, 2])
        );
        // The chain's clock alone still counts.
        assert_eq!(
            ids(next_batch(&c, &pending, 160, &keeper(0, 0)).0),
            Some(vec![1, 2])
        );
    }

    #[tokio::test]
    async fn keeper_ages_start_at_the_chain_age_at_first_sight_and_follow_the_clock() {
        let (store, _dir) = crate::store::testing::sqlite().await;
        let clock = ManualClock::default();
        let b = RegistrationBatcher::new(
            store,
            BatcherConfig::new(Address::ZERO, 0),
            Metrics::new().unwrap(),
        )
        .with_clock(clock.clone());
        let one = [v(1, Status::Stored, 0, 100, &[])];
        assert_eq!(b.keeper_ages(&one, 103)[&U256::from(1)], 3);
        clock.advance(Duration::from_secs(30));
        // The chain stood still; 30 s passed on the keeper's clock.
        assert_eq!(b.keeper_ages(&one, 103)[&U256::from(1)], 33);
        // A version no longer pending is forgotten; seen again, it starts over.
        assert!(b.keeper_ages(&[], 103).is_empty());
        assert_eq!(b.keeper_ages(&one, 104)[&U256::from(1)], 4);
    }
}
