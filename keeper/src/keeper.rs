//! The service loop: tick the lease; while leading, run the transaction manager's pass; publish metrics; stop on
//! the shutdown signal after the current pass (every step is persisted before the next starts, so stopping
//! between passes loses nothing), releasing the lease for an immediate handover.

use std::future::Future;

use alloy::providers::Provider;
use tracing::{error, info, instrument, warn};

use crate::failpoint::Failpoint;
use crate::http::Metrics;
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
    /// Pause between passes.
    pub poll_interval: std::time::Duration,
    /// Return once the outbox has no open intent.
    pub exit_when_idle: bool,
}

/// The keeper: store, transaction manager and lease, generic over the backend and the provider (`main` names
/// the production wiring).
#[derive(Debug)]
pub struct Keeper<S, P> {
    store: S,
    tx: TxManager<S, P>,
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
            leadership,
            metrics,
            config,
        }
    }

    /// The transaction manager (jobs submit intents through it).
    pub fn tx(&self) -> &TxManager<S, P> {
        &self.tx
    }

    /// One pass: renew the lease; if leading, run the transaction manager; publish metrics.
    ///
    /// # Errors
    /// A failpoint or a permanent store error; transient failures only mark the instance not ready.
    #[instrument(skip_all, fields(holder = %self.leadership.holder()))]
    pub async fn run_once(&mut self) -> Result<bool, KeeperError> {
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
        let mut ok = true;
        if leading {
            match self.tx.run_once().await {
                Ok(report) => {
                    self.metrics.broadcasts.inc_by(report.broadcast as u64);
                    self.metrics.requeued.inc_by(report.requeued as u64);
                }
                Err(OutboxError::Failpoint(p)) => return Err(KeeperError::Failpoint(p)),
                Err(OutboxError::Store(e)) if !e.is_transient() => return Err(e.into()),
                Err(e) => {
                    warn!(target: "keeper", ?e, "outbox pass failed");
                    ok = false;
                }
            }
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

    /// Runs passes until `shutdown` resolves (or the outbox is idle with `exit_when_idle`), then releases the
    /// lease.
    ///
    /// # Errors
    /// As [`Keeper::run_once`].
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) -> Result<(), KeeperError> {
        tokio::pin!(shutdown);
        loop {
            let leading = self.run_once().await?;
            if self.config.exit_when_idle
                && leading
                && self
                    .store
                    .intents_in(&IntentStatus::OPEN, 1)
                    .await?
                    .is_empty()
            {
                info!(target: "keeper", "outbox idle; exiting");
                break;
            }
            tokio::select! {
                _ = &mut shutdown => {
                    info!(target: "keeper", "shutdown requested");
                    break;
                }
                _ = tokio::time::sleep(self.config.poll_interval) => {}
            }
        }
        if let Err(e) = self.leadership.release().await {
            error!(target: "keeper", ?e, "releasing the lease failed; it expires by itself");
        }
        Ok(())
    }
}
