//! Jobs: the layer that decides. Each [`Job`] reads chain state (and, for event-driven jobs, the decoded logs of
//! its own cursor) and returns a [`Plan`]: the intents it wants on chain, each under an idempotency key, plus how
//! much due work it sees. [`run_jobs`] hands the intents to the outbox (or only logs them with `--dry-run`) and
//! publishes per-job metrics.
//!
//! A job never remembers what it submitted: it re-derives its intents from the chain every pass, and the key makes
//! a repeat a no-op ([`crate::store::OutboxStore::enqueue`]). A key that already exists tells the runner where that
//! work stands: still open (waiting), or final although the chain still calls for it — finished with a failure
//! (simulation or transaction reverted), or with success that the chain no longer shows (a reorg). Then the job is
//! *stuck* on that key: logged as an error, counted by the `keeper_job_stuck` metric, listed by `status` with the
//! intent's error, and never re-sent under the same key (an operator decides: a revert that costs gas every pass
//! is worse than an alert).

use std::future::Future;
use std::pin::Pin;

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::transports::{RpcError, TransportErrorKind};
use tracing::{debug, error, info, warn};

use crate::http::Metrics;
use crate::keeper::KeeperError;
use crate::outbox::TxManager;
use crate::receipts;
use crate::store::{Enqueued, IntentStatus, NewIntent, OutboxStore, StoreError};

pub mod attest_batch;
pub mod attester;
pub mod batcher;
pub mod finalizer;
pub mod versions;

pub use attester::StorageAttester;
pub use batcher::RegistrationBatcher;
pub use finalizer::EpochFinalizer;

/// Errors of a job's planning step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// An RPC call failed.
    #[error("rpc: {0}")]
    Rpc(#[from] RpcError<TransportErrorKind>),
    /// A contract call failed (transport, revert or undecodable return data).
    #[error("contract call: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading logs through the cursor failed.
    #[error("logs: {0}")]
    Chain(#[from] crate::chain::ChainError),
    /// The node has no latest block.
    #[error("the node returned no latest block")]
    NoLatestBlock,
    /// A log with a known event signature does not decode (the ABI drifted): the stream stops here, never skips.
    #[error(transparent)]
    Decode(#[from] crate::chain::events::DecodeError),
    /// A failpoint fired (tests): the pass stops as if the process were killed right there.
    #[error("failpoint {0} reached")]
    Failpoint(crate::failpoint::Failpoint),
    /// The contract reports a configuration the job cannot work with.
    #[error("{contract} at {address}: {what}")]
    BadContract {
        /// Which contract.
        contract: &'static str,
        /// Its address.
        address: Address,
        /// What is wrong.
        what: &'static str,
    },
}

/// The chain's clock: the latest block's timestamp. Jobs judge what is due by it, never by the wall clock.
///
/// # Errors
/// The node failed or has no latest block.
pub async fn latest_timestamp<P: Provider>(provider: &P) -> Result<u64> {
    Ok(provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .ok_or(JobError::NoLatestBlock)?
        .header
        .timestamp)
}

impl JobError {
    /// Whether the next pass may succeed without any change.
    pub fn is_transient(&self) -> bool {
        match self {
            JobError::Rpc(e) => crate::outbox::classify::classify_rpc(e).is_transient(),
            JobError::Contract(e) => match e {
                alloy::contract::Error::TransportError(t) => {
                    crate::outbox::classify::classify_rpc(t).is_transient()
                }
                _ => false,
            },
            JobError::Store(e) => e.is_transient(),
            JobError::Chain(e) => e.is_transient(),
            JobError::NoLatestBlock => true,
            JobError::Decode(_) | JobError::BadContract { .. } | JobError::Failpoint(_) => false,
        }
    }
}

/// Result with [`JobError`].
pub type Result<T, E = JobError> = std::result::Result<T, E>;

/// A transaction a job wants on chain (the sender is the keeper's key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentSpec {
    /// Idempotency key (`finalize:<epoch>` …); the prefix up to the first `:` names the job ([`job_of_key`]).
    pub key: String,
    /// The contract called.
    pub target: Address,
    /// The calldata.
    pub calldata: Bytes,
    /// Wei sent along.
    pub value: U256,
}

/// What a job decided in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Intents to submit, in the order they must be sent.
    pub intents: Vec<IntentSpec>,
    /// Items of work that are due now (submitted or not), e.g. epochs ended but not finalized on chain.
    pub due: u64,
    /// How long (chain seconds) the oldest due item has been due; 0 when nothing is due.
    pub lag_secs: u64,
    /// Work the job started in the background that may still produce intents (e.g. fetches in flight): an
    /// idle-exiting loop waits for it.
    pub in_flight: u64,
}

/// A boxed planning future (jobs are held as trait objects by the service loop).
pub type PlanFuture<'a> = Pin<Box<dyn Future<Output = Result<Plan>> + Send + 'a>>;

/// A job: chain state (+ its events) → intents. `plan` must be safe to repeat and must not send anything itself.
///
/// The service loop runs every job it was given after each transaction-manager pass while it leads:
///
/// ```no_run
/// # async fn wire(
/// #     store: verity_keeper::store::SqliteStore,
/// #     tx: verity_keeper::outbox::TxManager<verity_keeper::store::SqliteStore, alloy::providers::DynProvider>,
/// #     leadership: verity_keeper::lease::Leadership<verity_keeper::store::SqliteStore>,
/// #     config: verity_keeper::keeper::LoopConfig,
/// #     gauge: alloy::primitives::Address,
/// # ) -> anyhow::Result<()> {
/// use verity_keeper::{http::Metrics, jobs::EpochFinalizer, keeper::Keeper};
///
/// let mut keeper = Keeper::new(store, tx, leadership, Metrics::new()?, config)
///     .with_job(EpochFinalizer::new(gauge));
/// keeper
///     .run(async {
///         let _ = tokio::signal::ctrl_c().await;
///     })
///     .await?;
/// # Ok(())
/// # }
/// ```
pub trait Job<P>: Send + Sync + std::fmt::Debug {
    /// The job's name (metrics label, logs, `status`).
    fn name(&self) -> &'static str;

    /// Decides what the chain needs now.
    fn plan<'a>(&'a self, provider: &'a P) -> PlanFuture<'a>;
}

/// Idempotency-key prefixes of the jobs, with the job each belongs to.
pub const KEY_PREFIXES: &[(&str, &str)] = &[
    (finalizer::KEY_PREFIX, finalizer::JOB_NAME),
    (attester::KEY_PREFIX, attester::JOB_NAME),
    (attester::EXPIRE_PREFIX, attester::JOB_NAME),
    (batcher::KEY_PREFIX, batcher::JOB_NAME),
    (receipts::batcher::KEY_PREFIX, receipts::batcher::JOB_NAME),
    (
        receipts::finalizer::KEY_PREFIX,
        receipts::finalizer::JOB_NAME,
    ),
    (receipts::watcher::KEY_PREFIX, receipts::watcher::JOB_NAME),
    (receipts::paid::PROVE_PREFIX, receipts::paid::JOB_NAME),
    (receipts::paid::REFUND_PREFIX, receipts::paid::JOB_NAME),
    (receipts::paid::SETTLE_PREFIX, receipts::paid::JOB_NAME),
];

/// The job an intent key belongs to: a known prefix's job, else the key's own prefix (up to `:`), else `manual`.
pub fn job_of_key(key: &str) -> &str {
    let prefix = key.split_once(':').map(|(p, _)| p);
    match prefix {
        Some(p) => KEY_PREFIXES
            .iter()
            .find(|(known, _)| *known == p)
            .map_or(p, |(_, job)| job),
        None => "manual",
    }
}

/// What [`run_jobs`] did in one pass, summed over the jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobsReport {
    /// New intents persisted.
    pub submitted: usize,
    /// Planned intents whose key was already open in the outbox.
    pub waiting: usize,
    /// Planned intents whose key is already final although the chain still calls for it (not re-sent).
    pub stuck: usize,
    /// Intents only logged (`--dry-run`).
    pub dry_run: usize,
    /// Jobs whose planning, or the persisting of an intent, failed transiently (worth waiting for).
    pub failed: usize,
    /// Jobs whose planning failed permanently (bad contract, undecodable answer): logged every pass.
    pub broken: usize,
    /// Background work of the jobs still in flight ([`Plan::in_flight`], summed).
    pub in_flight: u64,
}

/// Runs every job once: plan, then persist each planned intent through `tx` (or log it when `dry_run`), and
/// publish the per-job metrics.
///
/// # Errors
/// A permanent store error or a job's failpoint (the loop stops); a job's own failure is logged, counted and
/// retried next pass.
pub async fn run_jobs<S, P>(
    jobs: &[Box<dyn Job<P>>],
    tx: &TxManager<S, P>,
    metrics: &Metrics,
    dry_run: bool,
) -> std::result::Result<JobsReport, KeeperError>
where
    S: OutboxStore + Clone,
    P: Provider + Clone + 'static,
{
    let mut report = JobsReport::default();
    for job in jobs {
        let name = job.name();
        let plan = match job.plan(tx.provider()).await {
            Ok(plan) => plan,
            Err(JobError::Store(e)) if !e.is_transient() => return Err(e.into()),
            Err(JobError::Failpoint(p)) => return Err(KeeperError::Failpoint(p)),
            Err(e) => {
                if e.is_transient() {
                    warn!(target: "keeper::jobs", job = name, ?e, "planning failed; retried next pass");
                    report.failed += 1;
                } else {
                    error!(target: "keeper::jobs", job = name, %e, "planning failed; retried next pass, but needs a fix");
                    report.broken += 1;
                }
                metrics.job_runs.with_label_values(&[name, "error"]).inc();
                continue;
            }
        };
        report.in_flight += plan.in_flight;
        metrics
            .job_due
            .with_label_values(&[name])
            .set(gauge(plan.due));
        metrics
            .job_lag
            .with_label_values(&[name])
            .set(gauge(plan.lag_secs));
        let mut stuck = 0u64;
        let mut outcome = "ok";
        for intent in &plan.intents {
            if dry_run {
                info!(target: "keeper::jobs", job = name, key = %intent.key, target = %intent.target, calldata = %intent.calldata, value = %intent.value, "dry run: would submit");
                report.dry_run += 1;
                continue;
            }
            match submit(tx, name, intent).await {
                Ok(Submitted::Created) => {
                    metrics.job_submitted.with_label_values(&[name]).inc();
                    report.submitted += 1;
                }
                Ok(Submitted::Waiting) => report.waiting += 1,
                Ok(Submitted::Stuck) => {
                    stuck += 1;
                    report.stuck += 1;
                }
                Err(e) if !e.is_transient() => return Err(e.into()),
                Err(e) => {
                    warn!(target: "keeper::jobs", job = name, key = %intent.key, ?e, "persisting the intent failed; retried next pass");
                    report.failed += 1;
                    outcome = "error";
                    // Later intents of the plan must not overtake this one.
                    break;
                }
            }
        }
        metrics
            .job_stuck
            .with_label_values(&[name])
            .set(gauge(stuck));
        metrics.job_runs.with_label_values(&[name, outcome]).inc();
    }
    Ok(report)
}

fn gauge(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

enum Submitted {
    Created,
    Waiting,
    Stuck,
}

async fn submit<S, P>(
    tx: &TxManager<S, P>,
    job: &str,
    intent: &IntentSpec,
) -> std::result::Result<Submitted, StoreError>
where
    S: OutboxStore + Clone,
    P: Provider + Clone + 'static,
{
    let new = NewIntent {
        key: intent.key.clone(),
        sender: tx.sender(),
        target: intent.target,
        calldata: intent.calldata.clone(),
        value: intent.value,
    };
    let enqueued = tx.store().enqueue(&new, crate::lease::now_ms()).await?;
    let id = match enqueued {
        Enqueued::Created(id) => {
            info!(target: "keeper::jobs", job, key = %intent.key, id, "intent submitted");
            return Ok(Submitted::Created);
        }
        Enqueued::Existing(id) => id,
    };
    let Some(existing) = tx.store().intent(id).await? else {
        return Err(StoreError::Corrupt {
            what: "intents (enqueue reported an id that does not exist)",
        });
    };
    Ok(match existing.status {
        IntentStatus::Pending | IntentStatus::Signed | IntentStatus::Sent => {
            debug!(target: "keeper::jobs", job, key = %intent.key, status = ?existing.status, "waiting for the outbox");
            Submitted::Waiting
        }
        IntentStatus::Confirmed | IntentStatus::AlreadyDone => {
            // The outbox confirmed it on the node the job just read: a reorg dropped it, or a load-balanced
            // endpoint lags. Re-sending under the same key is not possible; an operator must look.
            error!(target: "keeper::jobs", job, key = %intent.key, status = ?existing.status, "intent already final but the chain still calls for it (reorg or lagging node); not re-sent");
            Submitted::Stuck
        }
        IntentStatus::Failed | IntentStatus::Reverted => {
            error!(target: "keeper::jobs", job, key = %intent.key, status = ?existing.status, error = ?existing.error, "job stuck: its intent failed; operator action needed (not re-sent under the same key)");
            Submitted::Stuck
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_their_job() {
        assert_eq!(job_of_key("finalize:3"), "epoch-finalizer");
        assert_eq!(job_of_key("register:1-2-2-ab"), "registration-batcher");
        assert_eq!(job_of_key("attest:7"), "storage-attester");
        assert_eq!(job_of_key("anchor:0x01"), "receipt-batcher");
        assert_eq!(job_of_key("finalize-batch:3"), "batch-finalizer");
        assert_eq!(job_of_key("refund:0x01"), "paid-requests");
        assert_eq!(job_of_key("k0"), "manual");
    }
}
