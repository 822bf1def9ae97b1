//! The service loop: tick the lease; while leading, run the transaction manager's pass, then every job (so jobs
//! decide on the state the outbox just confirmed), then the transaction manager again when a job submitted
//! something (signed and sent in the same pass); publish metrics (and the time of the last completed pass, which
//! `/health` checks: a hung keeper must not look healthy); stop on the shutdown signal, releasing the lease for
//! an immediate handover.
//!
//! **Decisions**
//! - While leading, the lease is renewed every `ttl / 3` in the background of the pass, so a long pass keeps
//!   it; the held term is the store's fencing token ([`crate::store::Fence`]), checked by the database's clock
//!   inside every job and outbox write transaction: a replica deposed mid-pass writes nothing (its writes fail
//!   with the transient [`StoreError::Fenced`]; the pass reports not ready and the next tick makes it a
//!   follower). A lost race between writers (e.g. two batch builds from the same receipts) is the transient
//!   [`StoreError::Raced`]: the job fails this pass and decides again from fresh reads in the next.
//! - Shutdown is bounded even mid-pass: the signal lets the current pass finish within
//!   [`LoopConfig::shutdown_grace`], then drops it. Dropping a pass is as safe as a crash, which the failpoint
//!   tests prove safe: every outbox step is persisted before the next starts (a database transaction dropped
//!   mid-way rolls back), and a restart resumes from the persisted state. A keeper stuck in a node call that never
//!   answers therefore still stops.
//!
//! With `dry_run` the loop never takes the lease (a dry run must not fence off the real keeper), never runs the
//! transaction manager, and the jobs only log what they would submit: nothing is persisted, signed or sent.

use std::future::Future;

use alloy::providers::Provider;
use tracing::{debug, error, info, instrument, warn};

use crate::failpoint::Failpoint;
use crate::http::Metrics;
use crate::jobs::{run_jobs, Job};
use crate::lease::Leadership;
use crate::outbox::{OutboxError, TxManager};
use crate::store::{IntentStatus, Store, StoreError};

/// Errors that end the service loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeeperError {
    /// A failpoint fired: the binary exits at once as if killed.
    #[error("failpoint {0} reached")]
    Failpoint(Failpoint),
    /// A permanent store error (corrupt data, failed migration).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How the loop behaves.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// The longest pause between passes (the loop wakes earlier when an intent is submitted, and does not pause
    /// after a pass that moved an intent on).
    pub poll_interval: std::time::Duration,
    /// Return once the outbox has no open intent after a pass (and, with `dry_run`, after the first pass).
    pub exit_when_idle: bool,
    /// Jobs log their intents; nothing is persisted, signed or sent, and the lease is not taken.
    pub dry_run: bool,
    /// How long a pass that is running when the shutdown signal arrives may still take before it is dropped.
    pub shutdown_grace: std::time::Duration,
    /// Below this signer balance (wei) the keeper warns and sets `keeper_signer_balance_low`; 0 disables.
    pub low_balance_wei: u128,
}

/// The keeper: store, transaction manager, lease and jobs, generic over the backend and the provider (`main`
/// names the production wiring).
#[derive(Debug)]
pub struct Keeper<S, P> {
    store: S,
    tx: TxManager<S, P>,
    jobs: Vec<Box<dyn Job<P>>>,
    /// Whether no job failed transiently in the last pass (idle exit waits for that; a permanently broken job does
    /// not hold it up).
    jobs_clean: bool,
    /// Background work the jobs reported in flight in the last pass (idle exit waits for it).
    jobs_in_flight: u64,
    /// Whether the last pass's transaction manager moved an intent on (then the next pass starts at once).
    outbox_progress: bool,
    leadership: Leadership<S>,
    metrics: Metrics,
    config: LoopConfig,
}

impl<S: Store, P: Provider + Clone + 'static> Keeper<S, P> {
    /// Assembles a keeper.
    pub fn new(
        store: S,
        tx: TxManager<S, P>,
        leadership: Leadership<S>,
        metrics: Metrics,
        config: LoopConfig,
    ) -> Self {
        Self {
            store,
            tx,
            jobs: Vec::new(),
            jobs_clean: true,
            jobs_in_flight: 0,
            outbox_progress: false,
            leadership,
            metrics,
            config,
        }
    }

    /// Adds a job, run after the transaction manager in every pass while leading.
    pub fn with_job(mut self, job: impl Job<P> + 'static) -> Self {
        self.jobs.push(Box::new(job));
        self
    }

    /// The transaction manager (jobs submit intents through it).
    pub fn tx(&self) -> &TxManager<S, P> {
        &self.tx
    }

    /// One pass: renew the lease; if leading, run the transaction manager, then the jobs (and the transaction
    /// manager once more when they submitted something); publish metrics.
    /// Returns whether this instance was active (leading, or a dry run).
    ///
    /// # Errors
    /// A failpoint or a permanent store error; transient failures only mark the instance not ready.
    #[instrument(skip_all, fields(holder = %self.leadership.holder()))]
    pub async fn run_once(&mut self) -> Result<bool, KeeperError> {
        let leading = self.pass().await?;
        self.metrics.pass_completed();
        Ok(leading)
    }

    async fn pass(&mut self) -> Result<bool, KeeperError> {
        self.outbox_progress = false;
        if self.config.dry_run {
            let report = run_jobs(&self.jobs, &self.tx, &self.metrics, true).await?;
            self.jobs_in_flight = report.in_flight;
            self.metrics.leader.set(0);
            self.metrics
                .set_ready(report.failed == 0 && report.broken == 0);
            return Ok(true);
        }
        let leading = match self.leadership.tick().await {
            Ok(l) => l,
            Err(e) if e.is_transient() => {
                warn!(target: "keeper", ?e, "lease tick failed");
                self.metrics.set_ready(false);
                self.metrics.leader.set(0);
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        self.metrics.leader.set(i64::from(leading));
        // The fencing token: the outbox allocates a nonce only while this term is still ours in the database.
        self.tx.set_fence(self.leadership.lease().cloned());
        let mut ok = true;
        if leading {
            // The lease is renewed in the background while the pass works (a pass may outlast the TTL); a lost
            // lease fences the outbox through the database (see `OutboxStore::sign_batch`), the work itself goes on.
            let mut renewer = self.leadership.clone();
            let every = renewer
                .renew_every()
                .max(std::time::Duration::from_millis(1));
            let renew = async move {
                loop {
                    tokio::time::sleep(every).await;
                    match renewer.tick().await {
                        Ok(true) => {}
                        Ok(false) => {
                            warn!(target: "keeper::lease", "lease lost mid-pass; nonce allocation is fenced");
                            return;
                        }
                        Err(e) => warn!(target: "keeper::lease", ?e, "lease renewal failed"),
                    }
                }
            };
            let work = async {
                let mut ok = self.outbox_pass().await?;
                let report = run_jobs(&self.jobs, &self.tx, &self.metrics, false).await?;
                self.jobs_clean = report.failed == 0;
                self.jobs_in_flight = report.in_flight;
                ok &= self.jobs_clean && report.broken == 0;
                if report.submitted > 0 {
                    // Sign and send what the jobs just decided now rather than one poll interval later.
                    ok &= self.outbox_pass().await?;
                }
                self.signer_metrics().await;
                Ok::<bool, KeeperError>(ok)
            };
            tokio::pin!(work);
            ok &= tokio::select! {
                r = &mut work => r?,
                () = renew => work.await?,
            };
        }
        match self.store.count_by_status().await {
            Ok(counts) => {
                for status in [
                    IntentStatus::OPEN.as_slice(),
                    IntentStatus::FINAL.as_slice(),
                ]
                .concat()
                {
                    let n = counts
                        .iter()
                        .find(|(s, _)| *s == status)
                        .map_or(0, |(_, n)| *n);
                    self.metrics
                        .intents
                        .with_label_values(&[&format!("{status:?}").to_lowercase()])
                        .set(n);
                }
            }
            Err(e) => {
                warn!(target: "keeper", ?e, "counting intents failed");
                ok = false;
            }
        }
        self.metrics.set_ready(ok);
        self.metrics
            .passes
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
        Ok(leading)
    }

    /// The signer's health for operators: oldest open intent, nonce gap, balance (a failed read is only logged:
    /// these never change readiness).
    async fn signer_metrics(&self) {
        match self.store.intents_in(&IntentStatus::OPEN, 1).await {
            Ok(open) => {
                let age = open.first().map_or(0, |i| {
                    crate::lease::now_ms().saturating_sub(i.created_at) / 1_000
                });
                self.metrics.oldest_open_secs.set(age);
            }
            Err(e) => debug!(target: "keeper", ?e, "reading the oldest open intent failed"),
        }
        let sender = self.tx.sender();
        let provider = self.tx.provider();
        let (pending, latest) = tokio::join!(
            provider.get_transaction_count(sender).pending(),
            provider.get_transaction_count(sender).latest()
        );
        if let (Ok(p), Ok(l)) = (pending, latest) {
            self.metrics
                .nonce_gap
                .set(i64::try_from(p.saturating_sub(l)).unwrap_or(i64::MAX));
        }
        if let Ok(balance) = provider.get_balance(sender).await {
            let gwei = balance / alloy::primitives::U256::from(1_000_000_000u64);
            self.metrics
                .signer_balance_gwei
                .set(i64::try_from(gwei).unwrap_or(i64::MAX));
            let low = self.config.low_balance_wei > 0
                && balance < alloy::primitives::U256::from(self.config.low_balance_wei);
            if low {
                warn!(target: "keeper", %sender, %balance, threshold = self.config.low_balance_wei, "signer balance below the low-balance threshold; top it up");
            }
            self.metrics.signer_balance_low.set(i64::from(low));
        }
    }

    /// One pass of the transaction manager; `Ok(false)` when it failed for a reason the next pass may not have.
    async fn outbox_pass(&mut self) -> Result<bool, KeeperError> {
        match self.tx.run_once().await {
            Ok(report) => {
                self.outbox_progress |= report.made_progress();
                self.metrics.broadcasts.inc_by(report.broadcast as u64);
                self.metrics.requeued.inc_by(report.requeued as u64);
                self.metrics.deferred.inc_by(report.deferred as u64);
                self.metrics.replaced.inc_by(report.replaced as u64);
                self.metrics.fee_cap_reached.inc_by(report.capped as u64);
                self.metrics.cancels.inc_by(report.cancels as u64);
                // The fee cap blocks an intent: reported (metric, log) and not ready until the fees fit again.
                Ok(report.capped == 0)
            }
            Err(OutboxError::Failpoint(p)) => Err(KeeperError::Failpoint(p)),
            Err(OutboxError::Store(e)) if !e.is_transient() => Err(e.into()),
            Err(e) => {
                warn!(target: "keeper", ?e, "outbox pass failed");
                Ok(false)
            }
        }
    }

    /// Runs passes until `shutdown` resolves (or the outbox is idle with `exit_when_idle`), then releases the
    /// lease. The next pass starts at once when the transaction manager moved an intent on, or as soon as an
    /// intent is submitted ([`TxManager::wake_handle`]); otherwise after [`LoopConfig::poll_interval`] at most.
    ///
    /// # Errors
    /// As [`Keeper::run_once`].
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) -> Result<(), KeeperError> {
        tokio::pin!(shutdown);
        let wake = self.tx.wake_handle();
        loop {
            let grace = self.config.shutdown_grace;
            let outcome = {
                let pass = self.run_once();
                tokio::pin!(pass);
                tokio::select! {
                    r = &mut pass => Some(r?),
                    _ = &mut shutdown => {
                        info!(target: "keeper", ?grace, "shutdown requested mid-pass; the pass gets the grace period");
                        match tokio::time::timeout(grace, pass).await {
                            Ok(r) => { r?; }
                            Err(_) => warn!(target: "keeper", "pass dropped at shutdown (as safe as a crash: every step is persisted before the next)"),
                        }
                        None
                    }
                }
            };
            let Some(leading) = outcome else {
                break;
            };
            if self.config.exit_when_idle
                && leading
                && self.jobs_clean
                && self.jobs_in_flight == 0
                && (self.config.dry_run
                    || self
                        .store
                        .intents_in(&IntentStatus::OPEN, 1)
                        .await?
                        .is_empty())
            {
                info!(target: "keeper", "outbox idle; exiting");
                break;
            }
            let pause = if self.outbox_progress {
                std::time::Duration::ZERO
            } else {
                self.config.poll_interval
            };
            tokio::select! {
                _ = &mut shutdown => {
                    info!(target: "keeper", "shutdown requested");
                    break;
                }
                _ = tokio::time::sleep(pause) => {}
                () = wake.notified() => {}
            }
        }
        if let Err(e) = self.leadership.release().await {
            error!(target: "keeper", ?e, "releasing the lease failed; it expires by itself");
        }
        Ok(())
    }
}
