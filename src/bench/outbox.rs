//! `verity bench --outbox-only`: transactions per second through the keeper's outbox on devnode — the keeper's
//! real loop ([`Keeper`] with no jobs, SQLite with `synchronous = FULL`, the production [`TxConfig`] except the
//! chain id) and its real transaction manager.
//!
//! - **burst**: `intents` intents submitted through [`TxManager::submit`] (a plain call, each committed), then the
//!   keeper runs until the outbox is idle (`--exit-when-idle`); the clock runs from the keeper's start to its
//!   exit, i.e. until every intent is `Confirmed`. Afterwards every intent's status and the sender's on-chain
//!   nonce are checked (each intent exactly once).
//! - **idle pick-up**: with the keeper idling (`poll_ms` between passes), single intents are submitted one at a
//!   time and timed from `submit` to `Confirmed`: what a loop that sleeps between passes costs a lone intent.
//!
//! Only API the outbox has had since issue 15 is used, so the same file measures the code before and after a
//! change to the outbox.

use std::fmt;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use anyhow::{ensure, Context, Result};
use verity_keeper::failpoint::Failpoints;
use verity_keeper::http::Metrics;
use verity_keeper::keeper::{Keeper, LoopConfig};
use verity_keeper::lease::Leadership;
use verity_keeper::outbox::{TxConfig, TxManager};
use verity_keeper::store::{IntentStatus, OutboxStore, SqliteStore};

use super::nodes::{start_devnode, DevnodeKind};

/// What the outbox benchmark runs.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Intents in the burst.
    pub intents: usize,
    /// The keeper loop's poll interval in milliseconds (the keeper's default is 1,000).
    pub poll_ms: u64,
    /// Single intents timed in the idle pick-up run (0 skips it).
    pub singles: usize,
    /// Which devnode to measure on.
    pub devnode: DevnodeKind,
}

/// What the outbox benchmark measured.
#[derive(Debug, Clone)]
pub struct OutboxReport {
    /// The options it ran with.
    pub options: OutboxOptions,
    /// Time to submit the burst's intents (before the keeper starts).
    pub enqueue: Duration,
    /// Time from the keeper's start until every intent of the burst was confirmed.
    pub confirm: Duration,
    /// Keeper passes the burst took.
    pub passes: u64,
    /// Submit → `Confirmed` of each single intent, sorted.
    pub singles: Vec<Duration>,
}

impl OutboxReport {
    /// Confirmed transactions per second in the burst.
    pub fn tps(&self) -> f64 {
        self.options.intents as f64 / self.confirm.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for OutboxReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1_000.0;
        writeln!(
            f,
            "outbox throughput (devnode, SQLite synchronous=FULL, keeper loop, poll {} ms)",
            self.options.poll_ms
        )?;
        writeln!(
            f,
            "| intents | enqueue (ms) | submit-all → all confirmed (ms) | keeper passes | tx/s |"
        )?;
        writeln!(f, "|---:|---:|---:|---:|---:|")?;
        writeln!(
            f,
            "| {} | {:.0} | {:.0} | {} | {:.1} |",
            self.options.intents,
            ms(self.enqueue),
            ms(self.confirm),
            self.passes,
            self.tps()
        )?;
        if let (Some(first), Some(last)) = (self.singles.first(), self.singles.last()) {
            let median = self.singles[self.singles.len() / 2];
            writeln!(
                f,
                "idle pick-up, submit → Confirmed ({} single intents): min {:.0} ms, median {:.0} ms, max {:.0} ms",
                self.singles.len(),
                ms(*first),
                ms(median),
                ms(*last)
            )?;
        }
        Ok(())
    }
}

/// Where the calls go: an address without code (every call succeeds, 21,000-ish gas).
const TARGET: Address = Address::with_last_byte(0x77);

/// Runs the outbox benchmark.
///
/// # Errors
/// devnode or the store could not be started, the keeper failed, or a check failed (an intent not confirmed, or
/// the chain holding another number of transactions than intents).
pub async fn run(options: &OutboxOptions) -> Result<OutboxReport> {
    ensure!(options.intents > 0, "--outbox-intents must be at least 1");
    let node = start_devnode(&options.devnode, 2).await?;
    let provider = ProviderBuilder::new()
        .connect_http(node.url.parse().context("devnode URL")?)
        .erased();
    let chain_id = provider.get_chain_id().await.context("chain id")?;
    let signer = node.accounts.get(1).context("a dev account")?.clone();
    let sender = signer.address();
    let dir = tempfile::tempdir().context("temp dir")?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("keeper.db").display()
    );
    let store = SqliteStore::connect(&url).await.context("SQLite store")?;
    let tx = TxManager::new(
        store.clone(),
        provider.clone(),
        signer,
        TxConfig {
            chain_id,
            ..TxConfig::default()
        },
        Failpoints::none(),
    );
    let keeper = |exit_when_idle: bool| -> (Keeper<SqliteStore, DynProvider>, Metrics) {
        let config = LoopConfig {
            poll_interval: Duration::from_millis(options.poll_ms),
            exit_when_idle,
            dry_run: false,
            shutdown_grace: Duration::from_secs(5),
            low_balance_wei: 0,
        };
        let leadership = Leadership::new(
            store.clone(),
            "verity-keeper",
            "bench",
            Duration::from_secs(60),
        );
        let metrics = Metrics::new().expect("a fresh registry takes every metric");
        let keeper = Keeper::new(
            store.clone(),
            tx.clone(),
            leadership,
            metrics.clone(),
            config,
        );
        (keeper, metrics)
    };

    let started = Instant::now();
    for i in 0..options.intents {
        tx.submit(
            &format!("bench:{i}"),
            TARGET,
            Bytes::from(format!("outbox-bench-{i}").into_bytes()),
            U256::ZERO,
        )
        .await
        .context("submit")?;
    }
    let enqueue = started.elapsed();
    let (mut burst, metrics) = keeper(true);
    let started = Instant::now();
    burst
        .run(std::future::pending())
        .await
        .context("the keeper failed")?;
    let confirm = started.elapsed();
    let passes = ["ok", "error"]
        .iter()
        .map(|l| metrics.passes.with_label_values(&[*l]).get())
        .sum();
    for i in 0..options.intents {
        let intent = store
            .intent_by_key(&format!("bench:{i}"))
            .await?
            .context("intent missing")?;
        ensure!(
            intent.status == IntentStatus::Confirmed,
            "intent {i} ended {:?}",
            intent.status
        );
    }
    let nonce = provider.get_transaction_count(sender).await?;
    ensure!(
        nonce == options.intents as u64,
        "{} transactions on chain for {} intents",
        nonce,
        options.intents
    );

    let mut singles = Vec::with_capacity(options.singles);
    if options.singles > 0 {
        let (mut idle, _) = keeper(false);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let measure = async {
            let mut out = Vec::new();
            for i in 0..options.singles {
                // Let the loop settle into its wait between passes.
                tokio::time::sleep(Duration::from_millis(options.poll_ms / 2 + 50)).await;
                let key = format!("single:{i}");
                let started = Instant::now();
                tx.submit(
                    &key,
                    TARGET,
                    Bytes::from(key.clone().into_bytes()),
                    U256::ZERO,
                )
                .await?;
                loop {
                    let status = store.intent_by_key(&key).await?.map(|i| i.status);
                    if status == Some(IntentStatus::Confirmed) {
                        break;
                    }
                    ensure!(
                        started.elapsed() < Duration::from_secs(120),
                        "single intent {i} not confirmed after 120 s ({status:?})"
                    );
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                out.push(started.elapsed());
            }
            let _ = stop.send(());
            Ok::<_, anyhow::Error>(out)
        };
        let (ran, measured) = tokio::join!(
            idle.run(async {
                let _ = stopped.await;
            }),
            measure
        );
        ran.context("the keeper failed")?;
        singles = measured?;
        singles.sort();
    }
    drop(node);
    Ok(OutboxReport {
        options: options.clone(),
        enqueue,
        confirm,
        passes,
        singles,
    })
}
