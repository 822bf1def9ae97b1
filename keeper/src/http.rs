//! The HTTP server: Prometheus `/metrics`, liveness `/health` (a pass completed within the health max age — a
//! keeper hung mid-pass answers 503 so an orchestrator restarts it), readiness `/ready` (the last pass reached the
//! database and the node), with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Errors of the HTTP server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// Binding or serving failed.
    #[error("http server on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// A metric could not be registered (a duplicate name: a bug).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// The keeper's metrics and readiness flag, shared by the run loop and the server.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Outbox intents per status.
    pub intents: IntGaugeVec,
    /// Passes run, by outcome (`ok`, `error`).
    pub passes: IntCounterVec,
    /// 1 while this instance holds the lease.
    pub leader: IntGauge,
    /// Transactions broadcast (first sends and rebroadcasts).
    pub broadcasts: IntCounter,
    /// Intents re-queued after another transaction took their nonce.
    pub requeued: IntCounter,
    /// Outbox steps deferred for a transient reason (fee too low, node error, fee cap), retried next pass.
    pub deferred: IntCounter,
    /// Attempts replaced at the same nonce with higher fees.
    pub replaced: IntCounter,
    /// Replacements the fee cap prevented (the keeper reports not ready while it happens).
    pub fee_cap_reached: IntCounter,
    /// Cancels (0-value self-sends at a stuck call's nonce) signed.
    pub cancels: IntCounter,
    /// Age in seconds of the oldest open intent (0 when none).
    pub oldest_open_secs: IntGauge,
    /// Pending minus latest nonce of the signer (transactions the node holds but has not mined).
    pub nonce_gap: IntGauge,
    /// The signer's balance in gwei.
    pub signer_balance_gwei: IntGauge,
    /// 1 while the signer's balance is below the low-balance threshold.
    pub signer_balance_low: IntGauge,
    /// Job planning passes, by job and outcome (`ok`, `error`).
    pub job_runs: IntCounterVec,
    /// Intents a job persisted (new keys only), by job.
    pub job_submitted: IntCounterVec,
    /// Items of work due now per job (e.g. ended epochs not finalized on chain).
    pub job_due: IntGaugeVec,
    /// How long (chain seconds) a job's oldest due item has been due.
    pub job_lag: IntGaugeVec,
    /// Planned intents whose key is already final although the chain still calls for it (the job is stuck on
    /// them), by job.
    pub job_stuck: IntGaugeVec,
    /// Storage fetches of the attester, by outcome (`match`, `mismatch`, `unreachable`).
    pub attest_fetches: IntCounterVec,
    /// Items of the attester's `confirmStorageBatch` transactions by outcome read from the receipt (`stored`,
    /// `rejected`, `expired`, `unchanged`, `missing`, `other`).
    pub attest_items: IntCounterVec,
    /// Per-item registration outcomes read from `VersionFinalized` (`registered`, `rejected`, `expired`,
    /// `unchanged`, `other`).
    pub registrations: IntCounterVec,
    ready: Arc<AtomicBool>,
    /// Wall-clock ms of the last completed pass (the start time until the first one).
    last_pass_ms: Arc<AtomicI64>,
    /// Longest time without a completed pass before `/health` fails, in ms.
    health_max_age_ms: Arc<AtomicI64>,
}

/// Default of [`Metrics::set_health_max_age`]: 5 minutes.
pub const DEFAULT_HEALTH_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(300);

impl Metrics {
    /// Registers every metric.
    ///
    /// # Errors
    /// A duplicate metric name.
    pub fn new() -> Result<Self, HttpError> {
        let registry = Registry::new();
        let intents = IntGaugeVec::new(
            Opts::new("keeper_outbox_intents", "Outbox intents per status"),
            &["status"],
        )?;
        let passes = IntCounterVec::new(
            Opts::new("keeper_passes_total", "Keeper passes by outcome"),
            &["outcome"],
        )?;
        let leader = IntGauge::new("keeper_leader", "1 while this instance holds the lease")?;
        let broadcasts = IntCounter::new("keeper_broadcasts_total", "Transactions broadcast")?;
        let requeued = IntCounter::new(
            "keeper_requeued_total",
            "Intents re-queued after their nonce was taken",
        )?;
        let deferred = IntCounter::new(
            "keeper_outbox_deferred_total",
            "Outbox steps deferred for a transient reason",
        )?;
        let replaced = IntCounter::new(
            "keeper_outbox_replaced_total",
            "Attempts replaced at the same nonce with higher fees",
        )?;
        let fee_cap_reached = IntCounter::new(
            "keeper_outbox_fee_cap_reached_total",
            "Replacements the fee cap prevented",
        )?;
        let oldest_open_secs = IntGauge::new(
            "keeper_outbox_oldest_open_seconds",
            "Age of the oldest open intent",
        )?;
        let nonce_gap = IntGauge::new(
            "keeper_signer_nonce_gap",
            "Pending minus latest nonce of the signer",
        )?;
        let signer_balance_gwei =
            IntGauge::new("keeper_signer_balance_gwei", "The signer's balance in gwei")?;
        let signer_balance_low = IntGauge::new(
            "keeper_signer_balance_low",
            "1 while the signer's balance is below the threshold",
        )?;
        let cancels = IntCounter::new(
            "keeper_outbox_cancels_total",
            "Cancels (0-value self-sends) signed at a stuck call's nonce",
        )?;
        for c in [&deferred, &replaced, &fee_cap_reached, &cancels] {
            registry.register(Box::new(c.clone()))?;
        }
        for g in [
            &oldest_open_secs,
            &nonce_gap,
            &signer_balance_gwei,
            &signer_balance_low,
        ] {
            registry.register(Box::new(g.clone()))?;
        }
        let job_runs = IntCounterVec::new(
            Opts::new(
                "keeper_job_runs_total",
                "Job planning passes by job and outcome",
            ),
            &["job", "outcome"],
        )?;
        let job_submitted = IntCounterVec::new(
            Opts::new(
                "keeper_job_submitted_total",
                "Intents persisted by each job",
            ),
            &["job"],
        )?;
        let job_due = IntGaugeVec::new(
            Opts::new("keeper_job_due", "Items of work due now, per job"),
            &["job"],
        )?;
        let job_lag = IntGaugeVec::new(
            Opts::new(
                "keeper_job_lag_seconds",
                "Chain seconds the oldest due item of each job has been due",
            ),
            &["job"],
        )?;
        let job_stuck = IntGaugeVec::new(
            Opts::new(
                "keeper_job_stuck",
                "Planned intents whose key is already final but still needed, per job",
            ),
            &["job"],
        )?;
        registry.register(Box::new(job_runs.clone()))?;
        registry.register(Box::new(job_submitted.clone()))?;
        registry.register(Box::new(job_due.clone()))?;
        registry.register(Box::new(job_lag.clone()))?;
        registry.register(Box::new(job_stuck.clone()))?;
        let attest_fetches = IntCounterVec::new(
            Opts::new(
                "keeper_attest_fetches_total",
                "Storage fetches of the attester by outcome",
            ),
            &["outcome"],
        )?;
        let attest_items = IntCounterVec::new(
            Opts::new(
                "keeper_attest_items_total",
                "Items of the attester's confirmStorageBatch transactions by outcome (receipt events)",
            ),
            &["outcome"],
        )?;
        let registrations = IntCounterVec::new(
            Opts::new(
                "keeper_registrations_total",
                "Per-item registration outcomes (VersionFinalized)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(attest_fetches.clone()))?;
        registry.register(Box::new(attest_items.clone()))?;
        registry.register(Box::new(registrations.clone()))?;
        registry.register(Box::new(intents.clone()))?;
        registry.register(Box::new(passes.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        registry.register(Box::new(broadcasts.clone()))?;
        registry.register(Box::new(requeued.clone()))?;
        Ok(Self {
            registry,
            intents,
            passes,
            leader,
            broadcasts,
            requeued,
            deferred,
            replaced,
            fee_cap_reached,
            cancels,
            oldest_open_secs,
            nonce_gap,
            signer_balance_gwei,
            signer_balance_low,
            job_runs,
            job_submitted,
            job_due,
            job_lag,
            job_stuck,
            attest_fetches,
            attest_items,
            registrations,
            ready: Arc::new(AtomicBool::new(false)),
            last_pass_ms: Arc::new(AtomicI64::new(crate::lease::now_ms())),
            health_max_age_ms: Arc::new(AtomicI64::new(ms(DEFAULT_HEALTH_MAX_AGE))),
        })
    }

    /// Registers one more collector (modules with metrics of their own, e.g. the indexer).
    ///
    /// # Errors
    /// A duplicate metric name.
    pub fn register(
        &self,
        collector: Box<dyn prometheus::core::Collector>,
    ) -> Result<(), HttpError> {
        self.registry.register(collector)?;
        Ok(())
    }

    /// Marks the instance ready (or not).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Records that a pass completed now (liveness).
    pub fn pass_completed(&self) {
        self.last_pass_ms
            .store(crate::lease::now_ms(), Ordering::Relaxed);
    }

    /// Sets how long `/health` tolerates no completed pass.
    pub fn set_health_max_age(&self, max_age: std::time::Duration) {
        self.health_max_age_ms.store(ms(max_age), Ordering::Relaxed);
    }

    /// Whether a pass completed within the health max age (at wall-clock `now_ms`).
    pub fn is_live_at(&self, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.last_pass_ms.load(Ordering::Relaxed))
            <= self.health_max_age_ms.load(Ordering::Relaxed)
    }

    /// Whether the last pass reached the database and the node.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The router (exposed for tests).
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(m): State<Metrics>| async move { m.render() }),
        )
        .route(
            "/health",
            get(|State(m): State<Metrics>| async move {
                if m.is_live_at(crate::lease::now_ms()) {
                    (StatusCode::OK, "ok")
                } else {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "no pass completed recently",
                    )
                }
            }),
        )
        .route(
            "/ready",
            get(|State(m): State<Metrics>| async move {
                if m.is_ready() {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .with_state(metrics)
}

/// Binds `addr` and returns the bound address and the serving future, which ends when `shutdown` resolves.
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(
    addr: SocketAddr,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = Result<(), HttpError>>), HttpError> {
    bind_router(addr, router(metrics), shutdown).await
}

/// [`bind`] with any router: [`router`] merged with the routes of other modules (status page, receipts …).
///
/// # Errors
/// The address cannot be bound.
pub async fn bind_router(
    addr: SocketAddr,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = Result<(), HttpError>>), HttpError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Io { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| HttpError::Io { addr, source })?;
    let serve = async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| HttpError::Io {
                addr: bound,
                source,
            })
    };
    Ok((bound, serve))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn get(addr: SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_metrics_health_and_readiness() {
        let m = Metrics::new().unwrap();
        m.intents.with_label_values(&["pending"]).set(3);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr, serve) = bind("127.0.0.1:0".parse().unwrap(), m.clone(), async {
            let _ = rx.await;
        })
        .await
        .unwrap();
        let server = tokio::spawn(serve);
        assert!(get(addr, "/health").await.starts_with("HTTP/1.1 200"));
        assert!(get(addr, "/ready").await.starts_with("HTTP/1.1 503"));
        m.set_ready(true);
        assert!(get(addr, "/ready").await.starts_with("HTTP/1.1 200"));
        let metrics = get(addr, "/metrics").await;
        assert!(
            metrics.contains("keeper_outbox_intents{status=\"pending\"} 3"),
            "{metrics}"
        );
        tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn health_fails_when_no_pass_completed_recently() {
        let m = Metrics::new().unwrap();
        m.set_health_max_age(std::time::Duration::from_millis(200));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (addr, serve) = bind("127.0.0.1:0".parse().unwrap(), m.clone(), async {
            let _ = rx.await;
        })
        .await
        .unwrap();
        let server = tokio::spawn(serve);
        assert!(get(addr, "/health").await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert!(get(addr, "/health").await.starts_with("HTTP/1.1 503"));
        m.pass_completed();
        assert!(get(addr, "/health").await.starts_with("HTTP/1.1 200"));
        tx.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
