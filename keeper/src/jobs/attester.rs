//! The storage attester: for each version in `Submitted` state it fetches the bytes at the version's storage URI,
//! computes their keccak256 and length, and attests what it *found* — the contract compares with the submission
//! and decides (`Stored`, or `Rejected` with the refund on a hash or size mismatch).
//!
//! **Batches** (issue 16): fetched versions go into `confirmStorageBatch(items)` transactions
//! ([`attest_batch`]): a full batch of [`AttesterConfig::max_batch`] at once, a partial one once its oldest
//! version has waited [`AttesterConfig::batch_wait`] after its fetch. The contract judges each item on its own (a
//! bad item — unknown, already stored, already final — is reported unchanged and never reverts the batch); each
//! item's outcome is read from the batch's receipt (`keeper_attest_items_total{outcome}`, logs). A version is in at
//! most one of the attester's batches: every pass reads the attester's open intents back from the outbox and
//! their calldata names the versions they carry, so neither a restart nor a change of leader puts a version in a
//! second batch while the first is open; a batch is kept in memory (and its versions excluded) while one of
//! its versions is still `Submitted`. A finished batch the chain still calls for (reverted, or reorged and
//! confirmed again) is re-planned under its key and reported stuck by the job runner, never re-sent. Open
//! batches are not re-planned every pass.
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

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tracing::{info, warn};
use verity_abi::registry::Status;
use verity_abi::rpc::IModelRegistry;

use super::attest_batch::{self, Item, ItemOutcome};
use super::versions::{VersionWatch, WatchConfig};
use super::{IntentSpec, Job, Plan, PlanFuture};
use crate::fetch::{FetchPolicy, Fetcher};
use crate::http::Metrics;
use crate::store::{CursorStore, IntentStatus, OutboxStore};

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
    /// Most versions per `confirmStorageBatch` (100 items ≈ 1.23 M gas as measured).
    pub max_batch: usize,
    /// A partial batch is sent once its oldest fetched version has waited this long (keeper clock).
    pub batch_wait: Duration,
}

impl AttesterConfig {
    /// Defaults for `registry` (deployed at `start_block`): storage attested for 365 days, retries from 2 s to
    /// 5 min, the default [`FetchPolicy`], 64 fetches in flight, batches of up to 100 versions sent at the latest
    /// 500 ms after their oldest fetch.
    pub fn new(registry: Address, start_block: u64) -> Self {
        Self {
            watch: WatchConfig::new("registry-attester", registry, start_block),
            storage_ttl_secs: 365 * 86_400,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            fetch: FetchPolicy::default(),
            max_fetches_per_pass: 64,
            max_batch: 100,
            batch_wait: Duration::from_millis(500),
        }
    }
}

pub use crate::fetch::{FetchError, Found};

#[derive(Debug, Default)]
struct Retry {
    attempts: u32,
    next_at: Option<Instant>,
}

/// A batch the attester decided (or read back from the outbox after a restart).
#[derive(Debug)]
struct Batch {
    ids: Vec<U256>,
    spec: IntentSpec,
    /// Its per-item outcomes were read from the receipt (or it finished without one to read).
    accounted: bool,
}

#[derive(Debug, Default)]
struct Memory {
    /// Fetched versions waiting for a batch, with what was found and when.
    ready: BTreeMap<U256, (Found, Instant)>,
    /// Batches decided, by key: kept while one of their versions is Submitted, while their intent is open, or
    /// until their outcomes are read. A version in one of them is never put in another.
    batches: BTreeMap<String, Batch>,
    /// Expiry intents decided (re-planned unchanged while the version stays `Submitted`).
    expires: BTreeMap<U256, IntentSpec>,
    /// Backoff of unreachable URIs.
    retries: BTreeMap<U256, Retry>,
    /// Fetches in flight, by version.
    in_flight: BTreeSet<U256>,
    /// Their tasks (dropping the job aborts them).
    tasks: JoinSet<(U256, Result<Found, FetchError>)>,
}

/// Most open intents read per pass to find the attester's open batches.
const OPEN_LIMIT: i64 = 100_000;

/// The storage attester for one ModelRegistry.
pub struct StorageAttester<S> {
    config: AttesterConfig,
    store: S,
    watch: VersionWatch<S>,
    fetcher: Fetcher,
    metrics: Metrics,
    memory: Mutex<Memory>,
}

impl<S: CursorStore + OutboxStore + Clone> StorageAttester<S> {
    /// The attester, persisting its cursor in `store` (whose outbox it reads for its open batches) and counting
    /// fetch and item outcomes in `metrics`.
    ///
    /// # Panics
    /// When the HTTP client cannot be built (no TLS backend: a build problem).
    pub fn new(store: S, config: AttesterConfig, metrics: Metrics) -> Self {
        let fetcher = Fetcher::new(config.fetch.clone()).expect("the HTTP client builds");
        Self {
            watch: VersionWatch::new(store.clone(), config.watch.clone()),
            store,
            config,
            fetcher,
            metrics,
            memory: Mutex::new(Memory::default()),
        }
    }

    /// The calldata of `confirmStorage(id, found.content_hash, found.size, storage_expiry)` (one version; the
    /// attester itself sends [`attest_batch::calldata`]).
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

    /// The attester's open intents in the outbox (its batches, and single attestations of an older keeper), by key.
    async fn open_batches(&self) -> super::Result<BTreeMap<String, Batch>> {
        let prefix = format!("{KEY_PREFIX}:");
        let mut open = BTreeMap::new();
        for i in self
            .store
            .intents_in(&IntentStatus::OPEN, OPEN_LIMIT)
            .await?
        {
            if !i.key.starts_with(&prefix) || i.target != self.watch.registry() {
                continue;
            }
            let Some(ids) = attest_batch::attested_ids(&i.calldata) else {
                continue;
            };
            let spec = IntentSpec {
                key: i.key.clone(),
                target: i.target,
                calldata: i.calldata,
                value: i.value,
            };
            open.insert(
                i.key,
                Batch {
                    ids,
                    spec,
                    accounted: false,
                },
            );
        }
        Ok(open)
    }

    /// Reads a finished batch's per-item outcomes from its receipt (metrics and logs). `false` when there is
    /// nothing to read yet (tried again next pass); a batch never persisted is done once none of its versions is
    /// `Submitted` (`any_live` false).
    async fn account<P: Provider>(
        &self,
        provider: &P,
        batch: &Batch,
        any_live: bool,
    ) -> super::Result<bool> {
        let Some(intent) = self.store.intent_by_key(&batch.spec.key).await? else {
            return Ok(!any_live);
        };
        match (intent.status, intent.tx_hash) {
            (IntentStatus::Confirmed, Some(hash)) => {
                let Some(receipt) = provider.get_transaction_receipt(hash).await? else {
                    return Ok(false);
                };
                for (id, outcome) in attest_batch::item_outcomes(&batch.ids, receipt.inner.logs())?
                {
                    self.metrics
                        .attest_items
                        .with_label_values(&[outcome.label()])
                        .inc();
                    match outcome {
                        ItemOutcome::Stored | ItemOutcome::Finalized(..) => {
                            info!(target: "keeper::jobs::attester", %id, ?outcome, tx_hash = %hash, "attestation applied")
                        }
                        ItemOutcome::Unchanged(_) | ItemOutcome::Missing => {
                            warn!(target: "keeper::jobs::attester", %id, ?outcome, tx_hash = %hash, key = %batch.spec.key, "batch item reported unchanged")
                        }
                    }
                }
                Ok(true)
            }
            (status, _) if status.is_final() => {
                if status != IntentStatus::AlreadyDone {
                    warn!(target: "keeper::jobs::attester", key = %batch.spec.key, ?status, error = ?intent.error, items = batch.ids.len(), "attestation batch finished without applying");
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn plan_with<P: Provider + Clone + 'static>(&self, provider: &P) -> super::Result<Plan> {
        let (versions, chain_now, _) = self
            .watch
            .observe(provider, |s| s != Status::Submitted)
            .await?;
        let open = self.open_batches().await?;
        let mut memory = self.memory.lock().await;
        let memory = &mut *memory;
        let live: BTreeSet<U256> = versions.iter().map(|v| v.submitted.id).collect();
        for (key, batch) in open.iter().map(|(k, b)| (k.clone(), b)) {
            memory.batches.entry(key).or_insert_with(|| Batch {
                ids: batch.ids.clone(),
                spec: batch.spec.clone(),
                accounted: false,
            });
        }
        // Finished batches: their outcomes from the receipt, once.
        let mut finished = Vec::new();
        for (key, batch) in &memory.batches {
            let any_live = batch.ids.iter().any(|id| live.contains(id));
            if !batch.accounted
                && !open.contains_key(key)
                && self.account(provider, batch, any_live).await?
            {
                finished.push(key.clone());
            }
        }
        for key in finished {
            if let Some(b) = memory.batches.get_mut(&key) {
                b.accounted = true;
            }
        }
        memory.batches.retain(|key, b| {
            open.contains_key(key) || !b.accounted || b.ids.iter().any(|id| live.contains(id))
        });
        memory.expires.retain(|id, _| live.contains(id));
        memory.retries.retain(|id, _| live.contains(id));
        memory.in_flight.retain(|id| live.contains(id));
        let mut covered: BTreeSet<U256> = memory
            .batches
            .values()
            .flat_map(|b| b.ids.iter().copied())
            .chain(memory.expires.keys().copied())
            .collect();
        memory
            .ready
            .retain(|id, _| live.contains(id) && !covered.contains(id));

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
            if covered.contains(&id) {
                continue;
            }
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
                    memory.ready.insert(id, (found, now));
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
                        memory.expires.insert(id, self.expire_intent(id));
                    }
                }
                None => {}
            }
        }
        // New batches from the fetched versions (id order): full ones at once, the rest after the batch wait.
        let waiting: Vec<(Item, Instant)> = versions
            .iter()
            .filter_map(|v| {
                let id = v.submitted.id;
                let (found, at) = memory.ready.get(&id)?;
                Some((
                    Item {
                        id,
                        found: *found,
                        storage_expiry,
                    },
                    *at,
                ))
            })
            .collect();
        let mut intents = Vec::new();
        for items in
            attest_batch::split(&waiting, self.config.max_batch, self.config.batch_wait, now)
        {
            let ids: Vec<U256> = items.iter().map(|i| i.id).collect();
            let calldata = attest_batch::calldata(&items);
            let spec = IntentSpec {
                key: attest_batch::key(&ids, &calldata),
                target: self.watch.registry(),
                calldata,
                value: U256::ZERO,
            };
            info!(target: "keeper::jobs::attester", key = %spec.key, items = ids.len(), "attestation batch decided");
            for id in &ids {
                memory.ready.remove(id);
                covered.insert(*id);
            }
            memory.batches.insert(
                spec.key.clone(),
                Batch {
                    ids,
                    spec,
                    accounted: false,
                },
            );
        }
        // Start the fetches that are due, up to the in-flight limit; an unreachable version past the TTL is
        // expired instead.
        for v in &versions {
            let id = v.submitted.id;
            if covered.contains(&id)
                || memory.ready.contains_key(&id)
                || memory.in_flight.contains(&id)
            {
                continue;
            }
            let retry = memory.retries.get(&id);
            if retry.and_then(|r| r.next_at).is_some_and(|at| at > now) {
                continue;
            }
            if retry.is_some() && registry.expire(id).call().await.is_ok() {
                info!(target: "keeper::jobs::attester", %id, "unreachable version past the registry's TTL; expiring it");
                memory.expires.insert(id, self.expire_intent(id));
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
        // Batches not open in the outbox while a version of theirs is still Submitted: new ones, one whose enqueue
        // failed, and final ones the chain still calls for (reported stuck, never re-sent). Open batches are not
        // re-planned every pass.
        intents.extend(
            memory
                .batches
                .iter()
                .filter(|(key, b)| {
                    !open.contains_key(*key) && b.ids.iter().any(|id| live.contains(id))
                })
                .map(|(_, b)| b.spec.clone()),
        );
        intents.extend(
            versions
                .iter()
                .filter_map(|v| memory.expires.get(&v.submitted.id).cloned()),
        );
        Ok(Plan {
            intents,
            // First fetches only (a re-fetch of an unreachable URI is not waited for), and fetched versions
            // waiting for their batch.
            in_flight: memory
                .in_flight
                .iter()
                .filter(|id| !memory.retries.contains_key(id))
                .count() as u64
                + memory.ready.len() as u64,
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
    S: CursorStore + OutboxStore + Clone,
{
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn plan<'a>(&'a self, provider: &'a P) -> PlanFuture<'a> {
        Box::pin(self.plan_with(provider))
    }
}
