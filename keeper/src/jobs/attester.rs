//! The storage attester: for each version in `Submitted` state it fetches the bytes at the version's storage URI,
//! computes their keccak256 and length, and submits `confirmStorage(id, hash, size, now + storage_ttl)` under the
//! key `attest:<id>` with what it *found* — the contract compares with the submission and decides (`Stored`, or
//! `Rejected` with the refund on a hash or size mismatch).
//!
//! Which versions: the `VersionSubmitted` logs (the only place the storage URI is) read through a persisted
//! cursor that never moves past the oldest version still `Submitted` ([`super::versions`]): a crash or restart
//! reads every unattested submission again, and the chain's `version(id).status` decides what is still to do.
//!
//! Fetching goes through [`crate::fetch::Fetcher`] under the keeper's fetch policy (`http(s)` to global addresses
//! only unless flags allow `file://` or private addresses; a size cap; a per-fetch deadline): the URI is chosen by
//! the submitter, so it must never make the keeper read `/dev/zero`, its keystore or a cloud metadata endpoint.
//! Fetches run as background tasks (at most [`AttesterConfig::max_fetches_per_pass`] in flight): a pass starts the
//! fetches that are due, collects those that finished and returns at once, so one slow URI never stalls a pass
//! (the plan's `in_flight` tells an idle-exiting loop that work is still coming).
//!
//! An unreachable URI (refused by the policy, over the cap, past the deadline, I/O error, missing file, connection
//! failure, a non-2xx HTTP status) is **never** reported as a mismatch: the version is retried with exponential
//! backoff (from [`AttesterConfig::retry_base`], doubling, capped at [`AttesterConfig::retry_max`]: by default 2 s
//! up to 5 min) for as long as it stays `Submitted`. Each failure is logged with its attempt count and counted in
//! `keeper_attest_fetches_total{outcome="unreachable"}`. Once such a version is past the registry's TTL (its
//! `expire(id)` simulates without a revert) the attester submits `expire(id)` under `expire:<id>` (permissionless:
//! the submitter is refunded) instead of re-reading it for ever.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tracing::{info, warn};
use verity_abi::registry::Status;
use verity_abi::rpc::IModelRegistry;

use super::versions::{VersionWatch, WatchConfig};
use super::{IntentSpec, Job, Plan, PlanFuture};
use crate::fetch::{FetchPolicy, Fetcher};
use crate::http::Metrics;
use crate::store::CursorStore;

/// The job's name.
pub const JOB_NAME: &str = "storage-attester";

/// The prefix of the job's idempotency keys.
pub const KEY_PREFIX: &str = "attest";

/// The prefix of the job's expiry keys.
pub const EXPIRE_PREFIX: &str = "expire";

/// The idempotency key of version `id`'s attestation.
pub fn key(id: U256) -> String {
    format!("{KEY_PREFIX}:{id}")
}

/// The idempotency key of expiring version `id`.
pub fn expire_key(id: U256) -> String {
    format!("{EXPIRE_PREFIX}:{id}")
}

/// Settings of the attester.
#[derive(Debug, Clone)]
pub struct AttesterConfig {
    /// The registry and its log stream.
    pub watch: WatchConfig,
    /// Storage expiry attested: chain time now plus this many seconds.
    pub storage_ttl_secs: u64,
    /// First retry delay after an unreachable URI.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// What may be fetched, how much and for how long ([`crate::fetch`]).
    pub fetch: FetchPolicy,
    /// Most fetches in flight at once.
    pub max_fetches_per_pass: usize,
}

impl AttesterConfig {
    /// Defaults for `registry` (deployed at `start_block`): storage attested for 365 days, retries from 2 s to
    /// 5 min, the default [`FetchPolicy`], 64 fetches in flight.
    pub fn new(registry: Address, start_block: u64) -> Self {
        Self {
            watch: WatchConfig::new("registry-attester", registry, start_block),
            storage_ttl_secs: 365 * 86_400,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            fetch: FetchPolicy::default(),
            max_fetches_per_pass: 64,
        }
    }
}

pub use crate::fetch::{FetchError, Found};

#[derive(Debug, Default)]
struct Retry {
    attempts: u32,
    next_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Memory {
    /// Intents decided (re-planned unchanged while the version stays `Submitted`: no second fetch).
    decided: BTreeMap<U256, IntentSpec>,
    /// Backoff of unreachable URIs.
    retries: BTreeMap<U256, Retry>,
    /// Fetches in flight, by version.
    in_flight: std::collections::BTreeSet<U256>,
    /// Their tasks (dropping the job aborts them).
    tasks: JoinSet<(U256, Result<Found, FetchError>)>,
}

/// The storage attester for one ModelRegistry.
pub struct StorageAttester<S> {
    config: AttesterConfig,
    watch: VersionWatch<S>,
    fetcher: Fetcher,
    metrics: Metrics,
    memory: Mutex<Memory>,
}

impl<S: CursorStore + Clone> StorageAttester<S> {
    /// The attester, persisting its cursor in `store` and counting fetch outcomes in `metrics`.
    ///
    /// # Panics
    /// When the HTTP client cannot be built (no TLS backend: a build problem).
    pub fn new(store: S, config: AttesterConfig, metrics: Metrics) -> Self {
        let fetcher = Fetcher::new(config.fetch.clone()).expect("the HTTP client builds");
        Self {
            watch: VersionWatch::new(store, config.watch.clone()),
            config,
            fetcher,
            metrics,
            memory: Mutex::new(Memory::default()),
        }
    }

    /// The calldata of `confirmStorage(id, found.content_hash, found.size, storage_expiry)`.
    pub fn calldata(id: U256, found: Found, storage_expiry: u64) -> Bytes {
        IModelRegistry::confirmStorageCall {
            id,
            content_hash: found.content_hash,
            size: found.size,
            storage_expiry,
        }
        .abi_encode()
        .into()
    }

    /// `expire(id)` under `expire:<id>`.
    fn expire_intent(&self, id: U256) -> IntentSpec {
        IntentSpec {
            key: expire_key(id),
            target: self.watch.registry(),
            calldata: IModelRegistry::expireCall { id }.abi_encode().into(),
            value: U256::ZERO,
        }
    }

    async fn plan_with<P: Provider + Clone + 'static>(&self, provider: &P) -> super::Result<Plan> {
        let (versions, chain_now, _) = self
            .watch
            .observe(provider, |s| s != Status::Submitted)
            .await?;
        let mut memory = self.memory.lock().await;
        let live: std::collections::BTreeSet<U256> =
            versions.iter().map(|v| v.submitted.id).collect();
        memory.decided.retain(|id, _| live.contains(id));
        memory.retries.retain(|id, _| live.contains(id));

        let memory = &mut *memory;
        memory.in_flight.retain(|id| live.contains(id));
        let now = Instant::now();
        // Collect the fetches that finished (never waiting for one that did not).
        let mut results = BTreeMap::new();
        while let Some(joined) = memory.tasks.try_join_next() {
            match joined {
                Ok((id, r)) => {
                    memory.in_flight.remove(&id);
                    results.insert(id, r);
                }
                // A fetch task panicked: its version is retried (its id is freed below).
                Err(e) => warn!(target: "keeper::jobs::attester", %e, "fetch task failed; retried"),
            }
        }
        if memory.tasks.is_empty() {
            memory.in_flight.clear();
        }
        let storage_expiry = chain_now.saturating_add(self.config.storage_ttl_secs);
        let registry = IModelRegistry::new(self.watch.registry(), provider);
        for v in &versions {
            let id = v.submitted.id;
            match results.remove(&id) {
                Some(Ok(found)) => {
                    let declared = Found {
                        content_hash: v.content_hash,
                        size: v.size,
                    };
                    let outcome = if declared == found {
                        "match"
                    } else {
                        "mismatch"
                    };
                    self.metrics
                        .attest_fetches
                        .with_label_values(&[outcome])
                        .inc();
                    info!(target: "keeper::jobs::attester", %id, hash = %found.content_hash, size = found.size, outcome, "storage fetched");
                    memory.retries.remove(&id);
                    memory.decided.insert(
                        id,
                        IntentSpec {
                            key: key(id),
                            target: self.watch.registry(),
                            calldata: Self::calldata(id, found, storage_expiry),
                            value: U256::ZERO,
                        },
                    );
                }
                Some(Err(e)) => {
                    let retry = memory.retries.entry(id).or_default();
                    retry.attempts = retry.attempts.saturating_add(1);
                    let delay = self
                        .config
                        .retry_base
                        .saturating_mul(1u32 << retry.attempts.saturating_sub(1).min(20))
                        .min(self.config.retry_max);
                    retry.next_at = Some(now + delay);
                    self.metrics
                        .attest_fetches
                        .with_label_values(&["unreachable"])
                        .inc();
                    warn!(target: "keeper::jobs::attester", %id, attempts = retry.attempts, retry_in = ?delay, %e, "storage unreachable; retried later (not reported as a mismatch)");
                    if registry.expire(id).call().await.is_ok() {
                        info!(target: "keeper::jobs::attester", %id, "unreachable version past the registry's TTL; expiring it");
                        memory.decided.insert(id, self.expire_intent(id));
                    }
                }
                None => {}
            }
        }
        // Start the fetches that are due, up to the in-flight limit; an unreachable version past the TTL is
        // expired instead.
        for v in &versions {
            let id = v.submitted.id;
            if memory.decided.contains_key(&id) || memory.in_flight.contains(&id) {
                continue;
            }
            let retry = memory.retries.get(&id);
            if retry.and_then(|r| r.next_at).is_some_and(|at| at > now) {
                continue;
            }
            if retry.is_some() && registry.expire(id).call().await.is_ok() {
                info!(target: "keeper::jobs::attester", %id, "unreachable version past the registry's TTL; expiring it");
                memory.decided.insert(id, self.expire_intent(id));
                continue;
            }
            if memory.in_flight.len() >= self.config.max_fetches_per_pass.max(1) {
                break;
            }
            let fetcher = self.fetcher.clone();
            let uri = v.submitted.storage_uri.clone();
            memory.in_flight.insert(id);
            memory
                .tasks
                .spawn(async move { (id, fetcher.hash(&uri).await) });
        }
        let intents = versions
            .iter()
            .filter_map(|v| memory.decided.get(&v.submitted.id).cloned())
            .collect();
        Ok(Plan {
            intents,
            // First fetches only: a re-fetch of an unreachable URI is not waited for.
            in_flight: memory
                .in_flight
                .iter()
                .filter(|id| !memory.retries.contains_key(id))
                .count() as u64,
            due: versions.len() as u64,
            lag_secs: versions
                .iter()
                .map(|v| chain_now.saturating_sub(v.submitted_at))
                .max()
                .unwrap_or(0),
        })
    }
}

impl<S> std::fmt::Debug for StorageAttester<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageAttester")
            .field("config", &self.config)
            .field("watch", &self.watch)
            .finish_non_exhaustive()
    }
}

impl<P, S> Job<P> for StorageAttester<S>
where
    P: Provider + Clone + 'static,
    S: CursorStore + Clone,
{
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn plan<'a>(&'a self, provider: &'a P) -> PlanFuture<'a> {
        Box::pin(self.plan_with(provider))
    }
}
