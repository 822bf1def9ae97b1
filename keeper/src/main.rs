//! `verity-keeper`: parses the configuration once, wires the concrete types and runs the service.

use std::process::ExitCode;

use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context;
use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use verity_keeper::config::{Cli, Command, Config, EnqueueArgs, LogFormat, StatusArgs};
use verity_keeper::failpoint::FAILPOINT_EXIT_CODE;
use verity_keeper::http::{self, Metrics};
use verity_keeper::index::{Follower, FollowerConfig};
use verity_keeper::jobs::attester::AttesterConfig;
use verity_keeper::jobs::batcher::BatcherConfig;
use verity_keeper::jobs::{EpochFinalizer, RegistrationBatcher, StorageAttester};
use verity_keeper::keeper::{Keeper, KeeperError, LoopConfig};
use verity_keeper::lease::Leadership;
use verity_keeper::outbox::{TxConfig, TxManager};
use verity_keeper::receipts::store::ReceiptStore;
use verity_keeper::receipts::{Receipts, ReceiptsConfig};
use verity_keeper::status::StatusReport;
use verity_keeper::store::{PgStore, SqliteStore, Store};
use verity_keeper::web;

/// The production wiring on the default SQLite store.
type DefaultKeeper = Keeper<SqliteStore, DynProvider>;
/// The replica wiring on PostgreSQL.
type ReplicaKeeper = Keeper<PgStore, DynProvider>;

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn signer(config: &Config) -> anyhow::Result<PrivateKeySigner> {
    Ok(config.signer()?)
}

async fn shutdown_signal() {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The node's provider: HTTP with the `--rpc-timeout-ms` per request, else alloy's transport for the URL.
async fn provider(config: &Config) -> anyhow::Result<DynProvider> {
    let urls = &config.rpc_urls;
    Ok(if urls.iter().all(|u| u.starts_with("http")) {
        verity_keeper::chain::failover_provider(
            urls,
            std::time::Duration::from_millis(config.rpc_timeout_ms),
        )
        .map_err(|e| anyhow::anyhow!("--rpc-url / VERITY_RPC_URL: {e}"))?
    } else {
        let [url] = urls.as_slice() else {
            anyhow::bail!("--rpc-url / VERITY_RPC_URL: several URLs must all be http(s)");
        };
        ProviderBuilder::new()
            .connect(url)
            .await
            .with_context(|| format!("connecting to --rpc-url {url}"))?
            .erased()
    })
}

async fn build<S: Store + ReceiptStore>(
    store: S,
    config: &Config,
) -> anyhow::Result<(Keeper<S, DynProvider>, Metrics, Option<axum::Router>)> {
    let signer = signer(config)?;
    let provider = provider(config).await?;
    let chain_id = match config.chain_id {
        Some(id) => id,
        None => provider
            .get_chain_id()
            .await
            .with_context(|| format!("asking {} for its chain id", config.rpc_url()))?,
    };
    let tx_config = TxConfig {
        chain_id,
        max_fee_per_gas: config.max_fee_wei,
        confirmations: config.confirmations,
        rebroadcast_after: std::time::Duration::from_millis(config.rebroadcast_ms),
        ..TxConfig::default()
    };
    let tx = TxManager::new(
        store.clone(),
        provider,
        signer,
        tx_config,
        config.failpoint.clone(),
    );
    let leadership = Leadership::new(
        store.clone(),
        &config.lease_name,
        config.instance(),
        config.lease_ttl(),
    );
    let metrics = Metrics::new()?;
    metrics.set_health_max_age(std::time::Duration::from_millis(
        config.health_max_pass_age_ms,
    ));
    let loop_config = LoopConfig {
        poll_interval: config.poll_interval(),
        exit_when_idle: config.exit_when_idle,
        dry_run: config.dry_run,
        shutdown_grace: std::time::Duration::from_millis(config.shutdown_grace_ms),
        low_balance_wei: config.low_balance_wei,
    };
    let mut keeper = Keeper::new(store.clone(), tx, leadership, metrics.clone(), loop_config);
    if let Some(gauge) = config.gauge {
        let code = keeper
            .tx()
            .provider()
            .get_code_at(gauge)
            .await
            .with_context(|| format!("reading the code at --gauge {gauge}"))?;
        if code.is_empty() {
            anyhow::bail!(
                "--gauge / VERITY_GAUGE: no contract at {gauge} on {}",
                config.rpc_url()
            );
        }
        keeper = keeper.with_job(EpochFinalizer::new(gauge));
    }
    if let Some(registry) = config.registry {
        let code = keeper
            .tx()
            .provider()
            .get_code_at(registry)
            .await
            .with_context(|| format!("reading the code at --registry {registry}"))?;
        if code.is_empty() {
            anyhow::bail!(
                "--registry / VERITY_REGISTRY: no contract at {registry} on {}",
                config.rpc_url()
            );
        }
        let mut attester = AttesterConfig::new(registry, config.start_block);
        attester.storage_ttl_secs = config.storage_ttl_secs;
        attester.fetch = config.fetch_policy();
        attester.watch.lookback = config.lookback;
        attester.max_batch = config.attest_batch_max;
        attester.batch_wait = std::time::Duration::from_millis(config.attest_batch_wait_ms);
        let mut batcher = BatcherConfig::new(registry, config.start_block);
        batcher.max_count = config.batch_max;
        batcher.gas_budget = config.batch_gas;
        batcher.max_wait_secs = config.batch_max_wait_secs;
        batcher.aging_wei_per_sec = config.batch_aging_wei_per_sec;
        batcher.watch.lookback = config.lookback;
        keeper = keeper
            .with_job(StorageAttester::new(
                store.clone(),
                attester,
                metrics.clone(),
            ))
            .with_job(RegistrationBatcher::new(
                store.clone(),
                batcher,
                metrics.clone(),
            ));
    }
    if config.dry_run {
        tracing::info!(target: "keeper", "dry run: jobs log their intents; nothing is persisted, signed or sent");
    }
    let mut routes = None;
    if let Some(settlement) = config.settlement {
        let mut rc = ReceiptsConfig::new(settlement, keeper.tx().sender(), config.public_url());
        rc.start_block = config.start_block;
        rc.lookback = config.lookback;
        rc.batch_max = config.receipt_batch_max;
        rc.batch_max_age = std::time::Duration::from_millis(config.receipt_batch_age_ms);
        rc.fetch = config.batch_fetch_policy();
        rc.failpoints = config.failpoint.clone();
        let receipts = Receipts::connect(store, keeper.tx().provider().clone(), rc, &metrics)
            .await
            .with_context(|| {
                format!("--settlement / VERITY_SETTLEMENT {settlement}: not an InferenceSettlement on {}", config.rpc_url())
            })?;
        keeper = receipts.add_jobs(keeper);
        routes = Some(receipts.router());
    }
    Ok((keeper, metrics, routes))
}

async fn run<S: Store>(
    routes: Option<axum::Router>,
    mut keeper: Keeper<S, DynProvider>,
    metrics: Metrics,
    config: &Config,
) -> anyhow::Result<ExitCode> {
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let (stop_index, index_stopped) = tokio::sync::oneshot::channel::<()>();
    let mut app = http::router(metrics.clone())
        .merge(routes.unwrap_or_default())
        .merge(web::routing::router(config.accept_routing_reports));
    let mut indexer = None;
    if config.registry.is_some() || config.settlement.is_some() || config.gauge.is_some() {
        let follower = Follower::connect(
            keeper.tx().provider().clone(),
            FollowerConfig::new(
                config.registry,
                config.settlement,
                config.gauge,
                config.start_block,
            ),
        )
        .await
        .context("starting the indexer (reading the contracts' configuration)")?
        .with_metrics(&metrics)?;
        let chain_id = match config.chain_id {
            Some(id) => id,
            None => keeper
                .tx()
                .provider()
                .get_chain_id()
                .await
                .context("reading the chain id for the status page")?,
        };
        let wallet = web::WalletInfo::new(chain_id, &follower.contracts(), follower.calendar());
        app = app.merge(web::router(follower.index(), wallet));
        indexer = Some(tokio::spawn(follower.run(async {
            let _ = index_stopped.await;
        })));
    }
    let (addr, serve) = http::bind_router(config.listen, app, async {
        let _ = http_stopped.await;
    })
    .await
    .with_context(|| format!("--listen {}", config.listen))?;
    tracing::info!(target: "keeper", %addr, "http server listening (status page at /)");
    let server = tokio::spawn(serve);
    let result = keeper.run(shutdown_signal()).await;
    let _ = stop_http.send(());
    let _ = stop_index.send(());
    // The server and the indexer get the same grace as a pass (an open connection or a node call that never
    // answers must not keep the process alive), then are dropped.
    let grace = std::time::Duration::from_millis(config.shutdown_grace_ms);
    let mut server = server;
    if tokio::time::timeout(grace, &mut server).await.is_err() {
        tracing::warn!(target: "keeper", "http server did not stop within the grace period; dropped");
        server.abort();
    }
    if let Some(mut indexer) = indexer {
        if tokio::time::timeout(grace, &mut indexer).await.is_err() {
            tracing::warn!(target: "keeper", "indexer did not stop within the grace period; dropped");
            indexer.abort();
        }
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(KeeperError::Failpoint(p)) => {
            tracing::error!(target: "keeper", failpoint = %p, "failpoint reached; exiting as if killed");
            std::process::exit(FAILPOINT_EXIT_CODE)
        }
        Err(e) => Err(e).context("keeper stopped"),
    }
}

async fn enqueue<S: Store>(
    store: S,
    config: &Config,
    args: &EnqueueArgs,
) -> anyhow::Result<ExitCode> {
    let sender = signer(config)?.address();
    let intent = verity_keeper::store::NewIntent {
        key: args.key.clone(),
        sender,
        target: args.to,
        calldata: args.data.clone(),
        value: alloy::primitives::U256::ZERO,
    };
    let got = store
        .enqueue(&intent, verity_keeper::lease::now_ms())
        .await?;
    println!("{got:?}");
    Ok(ExitCode::SUCCESS)
}

async fn status<S: Store + ReceiptStore>(
    store: S,
    config: &Config,
    args: &StatusArgs,
) -> anyhow::Result<ExitCode> {
    // The chain is only asked for the epoch state and the registry backlog; without a reachable node the report
    // says so.
    let provider = match config.gauge.or(config.registry) {
        Some(_) => Some(provider(config).await?),
        None => None,
    };
    let chain = provider.as_ref().zip(config.gauge);
    let mut report = StatusReport::collect(
        &store,
        &config.lease_name,
        chain,
        args.last,
        verity_keeper::lease::now_ms(),
    )
    .await?;
    if let (Some(provider), Some(registry)) = (&provider, config.registry) {
        report.read_registry(provider, registry).await;
    }
    if config.settlement.is_some() {
        report.read_receipts(&store, 5).await?;
    }
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}

async fn dispatch<S: Store + ReceiptStore>(store: S, cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        None | Some(Command::Run) => {
            let (keeper, metrics, routes) = build(store, &cli.config).await?;
            run(routes, keeper, metrics, &cli.config).await
        }
        Some(Command::Enqueue(args)) => enqueue(store, &cli.config, args).await,
        Some(Command::Status(args)) => status(store, &cli.config, args).await,
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    init_tracing(cli.config.log_format);
    let url = cli.config.database_url.clone();
    let result = if url.starts_with("postgres") {
        match PgStore::connect(&url).await {
            Ok(store) => {
                let _: Option<ReplicaKeeper> = None;
                dispatch(store, &cli).await
            }
            Err(e) => Err(anyhow::Error::from(e).context("--database-url / DATABASE_URL")),
        }
    } else {
        match SqliteStore::connect(&url).await {
            Ok(store) => {
                let _: Option<DefaultKeeper> = None;
                dispatch(store, &cli).await
            }
            Err(e) => Err(anyhow::Error::from(e).context("--database-url / DATABASE_URL")),
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("verity-keeper: {e:#}");
            ExitCode::FAILURE
        }
    }
}
