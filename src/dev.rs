//! `verity dev`: the whole system on one machine with embedded defaults — devnode in-process, every contract
//! built and deployed by the real pipeline and plan (`deployments/devnet.json`), the keeper service started as
//! its own process on SQLite, and traffic driven as wallets drive it, with a live one-line view and a summary
//! read back from the chain.
//!
//! Traffic, round by round (`--rate` rounds per second, for `--duration`):
//! - **registry**: model owners write real `VZK1` models (verity-zk's quantized MLP) and submit versions naming
//!   them by `file://` URI, with
//!   lineage; the keeper service (granted the attester and keeper roles) fetches and hashes each file, attests
//!   storage and registers versions in batches. Every fourth lacks its license (rejected at registration), every
//!   seventh claims a wrong content hash (rejected at the storage attestation);
//! - **inference and settlement** ([`settlement`], [`nodes`]): three real `verity-node` processes (one near but
//!   flaky) run the latest registered model; the `verity infer` client ranks them by delivered consistency and
//!   routes paid and unpaid requests (retries under one request id, fallback); the nodes answer on chain and post
//!   their signed receipts to the keeper, which anchors them in Merkle batches, finalizes them, proves the paid
//!   requests by batch and settles them — or, every third round, refunds a request to a node that went offline;
//!   once, another batch keeper anchors forged receipts and the keeper's challenge watcher voids the batch; the
//!   client's routing report feeds the status page's routing table;
//! - **veBR** ([`voters`]): ~50 holders with heavy-tailed balances and lock lengths lock BR once; a few large
//!   holders vote every epoch, the rest only early in each season (turnout thins as a season goes on and comes
//!   back after the reset), over three gauges, with the GaugeController's per-voter cap binding the largest;
//! - **time**: on devnode each round is one week (`evm_increaseTime`), so epochs fall due, the keeper finalizes
//!   them, and every 12 weeks a season flips and all votes start from zero. On another chain (`--rpc-url`) time
//!   is real and nothing travels.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, Bytes, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use anyhow::{bail, ensure, Context, Result};

use crate::client::{chain_time, send_with_headroom, travel, wallet};

mod nodes;
mod process;
mod settlement;
mod voters;
use devnode::{
    chain::{derive_accounts, DEFAULT_MNEMONIC},
    rpc::{start, NodeConfig, NodeHandle},
};
use settlement::SettlementTraffic;
use verity_abi::{
    escrow::WEEK,
    gauge::{EpochFinalized, Schedule},
    registry::{Format, Relation, Role, VersionFinalized},
    rpc::{IGaugeController, IModelRegistry},
    token::UNIT,
};
use verity_script::{
    build::{build_planned, BuildOptions},
    deploy::{
        deploy_all,
        verity::{plan, RegistryParams, VerityParams},
        DeployOptions, Deployment,
    },
};

/// Dev accounts: 0 deploys (admin, attester, registry keeper role, BR treasury), 1–3 own models, 4–6 run the
/// inference nodes ([`nodes`]), 7 pays for requests, 8 runs the keeper service, 9 is the node that goes offline
/// ([`settlement`]); the veBR holders are derived after them ([`voters`]).
const OWNERS: [usize; 3] = [1, 2, 3];
const KEEPER_ACCOUNT: usize = 8;
const ACCOUNTS: u32 = 10;
/// How long a round waits for the keeper to finish its versions before giving up.
const KEEPER_PATIENCE: Duration = Duration::from_secs(60);

/// What `verity dev` runs.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The workspace root (contracts are built from it).
    pub workspace: PathBuf,
    /// How long traffic runs.
    pub duration: Duration,
    /// Traffic rounds per second.
    pub rate: f64,
    /// Use this chain instead of an in-process devnode (time then is real: no travel).
    pub rpc_url: Option<String>,
    /// Funded keys on `rpc_url`, at least [`ACCOUNTS`] of them (default: anvil's mnemonic, as devnode's).
    pub mnemonic: String,
    /// Port of the in-process devnode (0 = any free port).
    pub port: u16,
    /// Where the keeper's SQLite database and log go.
    pub data_dir: PathBuf,
    /// Where the deployment record (`devnet.json`) goes.
    pub record_dir: PathBuf,
    /// The `verity-keeper` binary (default: next to this executable, built with cargo when missing).
    pub keeper_bin: Option<PathBuf>,
    /// The `verity-node` binary (default: next to this executable, built with cargo when missing).
    pub node_bin: Option<PathBuf>,
    /// Draw the live view (one line, redrawn) even when stdout is not a terminal.
    pub live: bool,
    /// Stop after this many rounds (before `duration` if it comes first).
    pub rounds: Option<u64>,
    /// Port of the keeper's HTTP server: status page, JSON API, metrics (0 = any free port).
    pub keeper_port: u16,
}

impl DevOptions {
    /// 60 s of traffic at one round per second on an in-process devnode at port 8547.
    pub fn new(workspace: impl Into<PathBuf>) -> Self {
        let workspace = workspace.into();
        Self {
            data_dir: workspace.join("target/verity-dev"),
            record_dir: workspace.join("deployments"),
            workspace,
            duration: Duration::from_secs(60),
            rate: 1.0,
            rpc_url: None,
            mnemonic: DEFAULT_MNEMONIC.into(),
            port: 8547,
            keeper_bin: None,
            node_bin: None,
            live: false,
            rounds: None,
            keeper_port: 9464,
        }
    }
}

/// The end state, read from the chain (not from the driver's counters), with the inference client's routing record
/// and the nodes' own metrics per node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DevSummary {
    /// Versions submitted (`VersionSubmitted` events).
    pub submitted: u64,
    /// Versions finalized as Registered.
    pub registered: u64,
    /// Versions finalized as Rejected, with their reason codes.
    pub rejected: Vec<u8>,
    /// Versions still pending (`pendingCount`).
    pub pending: u64,
    /// Epochs finalized (`EpochFinalized` events).
    pub epochs_finalized: u64,
    /// Epochs finalized by the keeper service's account.
    pub epochs_by_keeper: u64,
    /// BR minted to the GaugeController as emissions.
    pub minted: U256,
    /// Seasons the chain went through (season of the last finalized epoch + 1).
    pub seasons: u64,
    /// The keeper service's account.
    pub keeper: Address,
    /// Receipt batches finalized (`BatchFinalized`).
    pub batches_final: u64,
    /// Receipts in finalized batches (their `BatchAnchored` counts).
    pub receipts_final: u64,
    /// Voided batches: reason code and challenger.
    pub batches_voided: Vec<(u8, Address)>,
    /// Paid requests opened (`Requested`).
    pub requests: u64,
    /// Paid requests proven by inclusion in a final batch (`Proven` with a batch id).
    pub proven_by_batch: u64,
    /// Paid requests settled (`Settled`).
    pub settled: u64,
    /// Paid requests refunded at their deadline (`Refunded`).
    pub refunded: u64,
    /// Who shaped the emissions of the last finalized epoch.
    pub shapers: voters::Shapers,
    /// Settlement transactions (proofs, settlements, refunds, batch finalizations, challenges) sent by the
    /// keeper service's account.
    pub settlement_txs_by_keeper: u64,
    /// Per inference node: what the client routed to it, what it ran (its metrics) and what the chain says.
    pub nodes: Vec<NodeOutcome>,
    /// Requests answered for the client during its warm-up (the first [`WARMUP_ROUNDS`] rounds).
    pub warmup_requests: u64,
    /// The client's retries per round during the warm-up and after it.
    pub retries_per_round: (f64, f64),
    /// Wall time from sending a request to its verified answer, p50 and p99, milliseconds (client-measured).
    pub answer_ms: (u64, u64),
}

/// The `q`-quantile (0..=1) of `sorted` (nearest rank; 0 when empty).
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Rounds counted as the client's warm-up in [`NodeOutcome::routed_after_warmup`].
pub const WARMUP_ROUNDS: u64 = 2;

/// One inference node at the end of `verity dev`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeOutcome {
    /// Its name in the dev output (`near-flaky`, `near`, `far`).
    pub name: String,
    /// Its SettlementNodes address.
    pub node: Address,
    /// Requests it answered for the dev client (paid and unpaid).
    pub routed: u64,
    /// Of which after the warm-up.
    pub routed_after_warmup: u64,
    /// The client's attempts to it (first tries and retries).
    pub attempts: u64,
    /// Of which retries under the same request id.
    pub retries: u64,
    /// Of which failed.
    pub failures: u64,
    /// Inferences it ran (its `/metrics`).
    pub inferences: u64,
    /// Receipts it signed (its `/metrics`).
    pub receipts_signed: u64,
    /// Paid requests addressed to it (`Requested`).
    pub requests: u64,
    /// Answered on chain (`Answered`).
    pub answered: u64,
    /// Proven (`Proven`).
    pub proven: u64,
    /// Settled: it was paid (`Settled`).
    pub settled: u64,
    /// Refunded to the payer at the deadline: it was slashed (`Refunded` of its requests).
    pub refunded: u64,
}

/// The driver's counters for the live view.
#[derive(Debug, Default)]
struct Progress {
    rounds: u64,
    submitted: u64,
    votes: u64,
    weeks: u64,
    /// Paid requests opened.
    requests: u64,
    /// Receipts posted to the keeper (paid and unpaid).
    receipts: u64,
}

type Wallet = DynProvider;

/// A workspace binary (`verity-keeper`, `verity-node`): the `explicit` flag or the `env` variable
/// (`script/test` passes the ones its workspace build made, so no second feature set is compiled); else, inside
/// the workspace, cargo builds it (a no-op when it is fresh, so a stale binary is never started) with this
/// executable's profile; else the one next to this executable.
fn workspace_binary(
    options: &DevOptions,
    package: &str,
    explicit: Option<&PathBuf>,
    env: &str,
) -> Result<PathBuf> {
    let from_env = std::env::var_os(env).map(PathBuf::from);
    if let Some(path) = explicit.or(from_env.as_ref()) {
        ensure!(
            path.is_file(),
            "{package} binary {} does not exist",
            path.display()
        );
        return Ok(path.clone());
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    let dir = exe.parent().context("executable has no directory")?;
    let release = dir.ends_with("release");
    let folder = package.trim_start_matches("verity-");
    if options.workspace.join(folder).join("Cargo.toml").is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&options.workspace)
            .args(["build", "-q", "-p", package, "--bin", package]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .with_context(|| format!("running cargo build -p {package}"))?;
        ensure!(status.success(), "cargo build -p {package} failed");
        let built = options
            .workspace
            .join("target")
            .join(if release { "release" } else { "debug" })
            .join(package);
        ensure!(
            built.is_file(),
            "{} missing after the build",
            built.display()
        );
        return Ok(built);
    }
    for candidate in [dir.join(package), dir.join("..").join(package)] {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "{package} not found next to {} (pass its --*-bin flag or {env})",
        exe.display()
    )
}

/// The keeper service as a child process; stopped (SIGTERM, then kill) on drop.
struct KeeperProcess {
    service: process::Service,
    /// Base URL of its HTTP server (status page at `/`).
    url: String,
}

/// The contracts the keeper service works on.
struct KeeperContracts {
    gauge: Address,
    registry: Address,
    settlement: Address,
    /// The deployment's first block (where its event readers start).
    start_block: u64,
}

/// What a [`run_with`] inspection sees while the chain and the keeper still run.
#[derive(Debug, Clone)]
pub struct DevSession {
    /// The chain's RPC URL.
    pub rpc_url: String,
    /// The keeper's HTTP server (status page at `/`, JSON under `/api/`).
    pub keeper_url: String,
    /// The deployed contracts.
    pub deployment: Deployment,
    /// The end state read from the chain.
    pub summary: DevSummary,
    /// The inference node processes, still serving.
    pub nodes: Vec<DevNode>,
    /// The model version the last round's inference ran (registered, `VZK1`).
    pub model: Option<U256>,
}

/// One inference node process of `verity dev`.
#[derive(Debug, Clone)]
pub struct DevNode {
    /// Its name (`near-flaky`, `near`, `far`).
    pub name: String,
    /// Its SettlementNodes address.
    pub node: Address,
    /// Its base URL (`POST /infer`, `/metrics`).
    pub url: String,
}

impl KeeperProcess {
    fn spawn(
        bin: &Path,
        url: &str,
        key: &PrivateKeySigner,
        contracts: &KeeperContracts,
        port: u16,
        dir: &Path,
    ) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let db = dir.join("keeper.db");
        for stale in ["keeper.db", "keeper.db-wal", "keeper.db-shm"] {
            let _ = std::fs::remove_file(dir.join(stale));
        }
        let log = dir.join("keeper.log");
        let out =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let listen = std::net::TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("the keeper's port {port} is taken (pass --keeper-port)"))?
            .local_addr()?;
        let child = Command::new(bin)
            .arg("--rpc-url")
            .arg(url)
            .arg("--database-url")
            .arg(format!("sqlite://{}?mode=rwc", db.display()))
            .arg("--gauge")
            .arg(contracts.gauge.to_string())
            .arg("--registry")
            .arg(contracts.registry.to_string())
            .arg("--settlement")
            .arg(contracts.settlement.to_string())
            .arg("--start-block")
            .arg(contracts.start_block.to_string())
            // A batch goes out once its oldest version is a chain second old: registrations keep up with
            // the traffic instead of waiting for full batches.
            .args(["--batch-max-wait-secs", "1"])
            // Receipts are anchored half a second after they arrive (the round waits for them).
            .args(["--receipt-batch-age-ms", "500"])
            .arg("--listen")
            .arg(listen.to_string())
            .args(["--poll-ms", "300", "--log-format", "json"])
            // The dev traffic's weights are local files and its batch data is served on loopback: the keeper's
            // fetch policy refuses both by default (production must never read local files or private hosts).
            .args(["--allow-file-uris", "--allow-private-fetch"])
            // The dev client reports where it routed inference requests (status page: routing share per node).
            .arg("--accept-routing-reports")
            .env("VERITY_KEEPER_KEY", format!("{}", key.to_bytes()))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self {
            service: process::Service::new("the keeper", child, log),
            url: format!("http://{listen}"),
        })
    }

    fn check_alive(&mut self) -> Result<()> {
        self.service.check_alive()
    }
}

fn word(text: &str) -> B256 {
    let mut w = [0u8; 32];
    let n = text.len().min(32);
    w[..n].copy_from_slice(&text.as_bytes()[..n]);
    B256::from(w)
}

/// Everything the driver talks to.
struct World {
    url: String,
    wallets: Vec<Wallet>,
    accounts: Vec<PrivateKeySigner>,
    deployment: Deployment,
    travels: bool,
}

impl World {
    fn address(&self, name: &str) -> Result<Address> {
        self.deployment
            .contracts
            .get(name)
            .map(|c| c.address)
            .with_context(|| format!("the deployment has no {name}"))
    }
}

/// Runs `verity dev` and returns the end state read from the chain.
pub async fn run(options: &DevOptions) -> Result<DevSummary> {
    run_with(options, |_| async { Ok(()) }).await
}

/// [`run`], then `inspect` with the chain and the keeper still running (tests look at the status page), then
/// the shutdown.
pub async fn run_with<F, Fut>(options: &DevOptions, inspect: F) -> Result<DevSummary>
where
    F: FnOnce(DevSession) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    ensure!(options.rate > 0.0, "--rate must be positive");
    let accounts = derive_accounts(&options.mnemonic, ACCOUNTS)
        .context("deriving dev accounts from the mnemonic")?;
    let signers: Vec<PrivateKeySigner> = accounts.iter().map(|a| a.signer.clone()).collect();
    let (_node, url, travels): (Option<NodeHandle>, String, bool) = match &options.rpc_url {
        Some(url) => (None, url.clone(), false),
        None => {
            let node = start(NodeConfig {
                port: options.port,
                ..Default::default()
            })
            .await
            .with_context(|| format!("starting devnode on port {}", options.port))?;
            let url = node.url().to_string();
            (Some(node), url, true)
        }
    };
    println!(
        "chain      {url}{}",
        if travels {
            " (devnode, in-process)"
        } else {
            ""
        }
    );

    let mut build = BuildOptions::new(&options.workspace);
    build.out_dir = options.workspace.join("target/verity");
    let planned = plan(&VerityParams {
        gauge_cap_bps: voters::CAP_BPS,
        ..Default::default()
    });
    let artifacts = build_planned(&build, &planned).context("building the contracts")?;
    let deployer = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signers[0].clone()))
        .connect_http(url.parse().context("RPC URL")?);
    let record_dir = &options.record_dir;
    if travels {
        // A fresh in-process chain: an earlier run's record names contracts that do not exist on it.
        let _ = std::fs::remove_file(record_dir.join("devnet.json"));
    }
    let deployment = deploy_all(
        &deployer,
        &artifacts,
        &planned,
        &DeployOptions::new("devnet", record_dir),
    )
    .await
    .context("deploying Verity")?;
    for (name, record) in &deployment.contracts {
        println!("deployed   {name:<20} {}", record.address);
    }
    println!("recorded   {}", record_dir.join("devnet.json").display());

    let world = World {
        wallets: signers
            .iter()
            .map(|s| wallet(&url, s))
            .collect::<Result<_>>()?,
        accounts: signers,
        url,
        deployment,
        travels,
    };
    let keeper_bin = workspace_binary(
        options,
        "verity-keeper",
        options.keeper_bin.as_ref(),
        "VERITY_KEEPER_BIN",
    )?;
    // The keeper service attests storage and finalizes registrations: the admin grants its account both roles.
    let admin_registry = IModelRegistry::new(world.address("registry")?, world.wallets[0].clone());
    let keeper_address = world.accounts[KEEPER_ACCOUNT].address();
    for role in [Role::Attester, Role::Keeper] {
        send_with_headroom(
            admin_registry.setRole(keeper_address, role.code(), true),
            "setRole",
        )
        .await?;
    }
    let contracts = KeeperContracts {
        gauge: world.address("gauge")?,
        registry: world.address("registry")?,
        settlement: world.address("settlement")?,
        start_block: world
            .deployment
            .contracts
            .values()
            .map(|c| c.deploy_block)
            .min()
            .unwrap_or(0),
    };
    let mut keeper = KeeperProcess::spawn(
        &keeper_bin,
        &world.url,
        &world.accounts[KEEPER_ACCOUNT],
        &contracts,
        options.keeper_port,
        &options.data_dir,
    )?;
    println!(
        "keeper     {} (SQLite in {}, log {})",
        keeper_bin.display(),
        options.data_dir.display(),
        keeper.service.log.display()
    );
    println!("status     {}/ (status page; JSON under /api/)", keeper.url);

    let start_block = world.wallets[0].get_block_number().await?;
    let started = Instant::now();
    let mut progress = Progress::default();
    let live = options.live || std::io::stdout().is_terminal();
    let round_every = Duration::from_secs_f64(1.0 / options.rate);
    let mut traffic =
        Traffic::new(&world, &options.mnemonic, options.data_dir.join("models")).await?;
    let node_bin = workspace_binary(
        options,
        "verity-node",
        options.node_bin.as_ref(),
        "VERITY_NODE_BIN",
    )?;
    let mut settlement = SettlementTraffic::new(
        &world,
        keeper.url.clone(),
        &node_bin,
        options.data_dir.join("settlement"),
    )
    .await?;
    for n in &settlement.fleet().nodes {
        println!(
            "node       {:<10} {} at {} (log {})",
            n.name,
            n.node,
            n.url,
            n.service.log.display()
        );
    }
    let interrupted = loop {
        if started.elapsed() >= options.duration
            || options.rounds.is_some_and(|r| progress.rounds >= r)
        {
            break false;
        }
        let round_started = Instant::now();
        traffic
            .round(&world, &mut progress, &mut settlement)
            .await?;
        keeper.check_alive()?;
        settlement.check_alive()?;
        let line = view(&world, &progress, started.elapsed()).await?;
        if live {
            print!("\r{line}\x1b[K");
            std::io::stdout().flush()?;
        } else if progress.rounds % 10 == 1 {
            println!("{line}");
        }
        let pause = round_every.saturating_sub(round_started.elapsed());
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = tokio::signal::ctrl_c() => break true,
        }
    };
    if live {
        println!();
    }
    if interrupted {
        println!("interrupted: stopping the traffic");
    }
    // Give the keeper a moment to finalize what is due, then read the end state from the chain.
    let due_deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < due_deadline
        && (traffic.epochs_due(&world).await? > 0
            || unproven_requests(&world, start_block).await? > 0
            || !keeper_idle(&keeper.url).await)
    {
        keeper.check_alive()?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut summary = summary(&world, start_block).await?;
    summary.warmup_requests = settlement
        .answered_by
        .iter()
        .filter(|(round, _)| *round <= WARMUP_ROUNDS)
        .count() as u64;
    summary.nodes = node_outcomes(&world, start_block, &settlement).await?;
    let mean = |rounds: &[u64]| {
        if rounds.is_empty() {
            0.0
        } else {
            rounds.iter().sum::<u64>() as f64 / rounds.len() as f64
        }
    };
    let warm = (WARMUP_ROUNDS as usize).min(settlement.retries_by_round.len());
    summary.retries_per_round = (
        mean(&settlement.retries_by_round[..warm]),
        mean(&settlement.retries_by_round[warm..]),
    );
    let mut ms: Vec<u64> = settlement
        .answer_times
        .iter()
        .map(|d| d.as_millis() as u64)
        .collect();
    ms.sort_unstable();
    summary.answer_ms = (quantile(&ms, 0.5), quantile(&ms, 0.99));
    print_summary(&summary, started.elapsed());
    let session = DevSession {
        rpc_url: world.url.clone(),
        keeper_url: keeper.url.clone(),
        deployment: world.deployment.clone(),
        summary: summary.clone(),
        nodes: settlement
            .fleet()
            .nodes
            .iter()
            .map(|n| DevNode {
                name: n.name.to_string(),
                node: n.node,
                url: n.url.clone(),
            })
            .collect(),
        model: traffic.usable_model(&world).await?,
    };
    let inspected = inspect(session).await;
    keeper.check_alive()?;
    drop(keeper);
    inspected?;
    Ok(summary)
}

/// The traffic driver's state.
struct Traffic {
    schedule: Schedule,
    voters: voters::Voters,
    next_version: u64,
    /// The latest submission meant to register (the next one's parent).
    last_good: Option<U256>,
    /// Where the weights files the keeper fetches are written.
    models_dir: PathBuf,
}

impl Traffic {
    async fn new(world: &World, mnemonic: &str, models_dir: PathBuf) -> Result<Self> {
        let controller = IGaugeController::new(world.address("gauge")?, world.wallets[0].clone());
        let c = controller.config().call().await?;
        let schedule = Schedule::new(c._2, c._3, c._4, c._5);
        let mut gauges = vec![
            Address::repeat_byte(0x61),
            Address::repeat_byte(0x62),
            Address::repeat_byte(0x63),
        ];
        gauges.sort();
        for g in &gauges {
            send_with_headroom(controller.addGauge(*g), "addGauge").await?;
        }
        let voters = voters::Voters::new(&world.url, mnemonic, schedule, gauges)?;
        voters.fund_and_lock(world, &world.accounts[0]).await?;
        if world.travels {
            // Into the next epoch's vote window, so every round (a week) votes inside its window.
            let now = chain_time(&world.wallets[0]).await?;
            let e = schedule.epoch_at(now).context("before genesis")? + 1;
            let target = schedule.vote_window(e).0 + 3_600;
            travel(&world.wallets[0], target.saturating_sub(now)).await?;
        }
        Ok(Self {
            schedule,
            voters,
            next_version: 1,
            last_good: None,
            models_dir,
        })
    }

    async fn epochs_due(&self, world: &World) -> Result<u64> {
        let controller = IGaugeController::new(world.address("gauge")?, world.wallets[0].clone());
        let next = controller.totals().call().await?._0;
        let now = chain_time(&world.wallets[0]).await?;
        let current = self.schedule.epoch_at(now).unwrap_or(0);
        Ok(current.saturating_sub(next))
    }

    async fn round(
        &mut self,
        world: &World,
        progress: &mut Progress,
        settlement: &mut SettlementTraffic,
    ) -> Result<()> {
        self.registry_round(world, progress).await?;
        let mut travelled = 0;
        if let Some(model) = self.usable_model(world).await? {
            travelled = settlement.round(world, progress, model).await?;
        }
        self.vebr_round(world, progress).await?;
        if world.travels {
            travel(&world.wallets[0], WEEK.saturating_sub(travelled)).await?;
            progress.weeks += 1;
        }
        progress.rounds += 1;
        Ok(())
    }

    /// The latest version meant to register, once the registry says it is usable (inference needs one).
    async fn usable_model(&self, world: &World) -> Result<Option<U256>> {
        let Some(id) = self.last_good else {
            return Ok(None);
        };
        let registry = IModelRegistry::new(world.address("registry")?, world.wallets[0].clone());
        Ok(registry.isUsable(id).call().await?.then_some(id))
    }

    /// Two submissions whose weights files are written under the data dir and named by `file://` URI; the keeper
    /// service attests storage (fetch, hash, size) and registers them in batches. Every fourth lacks its
    /// license (rejected at registration), every seventh claims a wrong content hash (rejected at the storage
    /// attestation). On devnode the round waits until the keeper has finished them before time moves on.
    async fn registry_round(&mut self, world: &World, progress: &mut Progress) -> Result<()> {
        let at = world.address("registry")?;
        let fee = RegistryParams::default().min_fee;
        std::fs::create_dir_all(&self.models_dir)
            .with_context(|| format!("creating {}", self.models_dir.display()))?;
        for _ in 0..2 {
            let v = self.next_version;
            self.next_version += 1;
            let owner = OWNERS[(v as usize) % OWNERS.len()];
            let registry = IModelRegistry::new(at, world.wallets[owner].clone());
            let (parents, relation) = match self.last_good {
                Some(parent) => (vec![parent], Relation::Finetune),
                None => (vec![], Relation::Original),
            };
            // A real `VZK1` model (the quantized MLP of verity-zk) that the inference nodes run.
            let weights = verity_zk::model::Model::example(4, 8, 3, v).to_bytes();
            let path = self.models_dir.join(format!("{v}.vzk1"));
            std::fs::write(&path, &weights)
                .with_context(|| format!("writing {}", path.display()))?;
            let missing_license = v.is_multiple_of(4);
            let wrong_hash = !missing_license && v.is_multiple_of(7);
            // Apache-2.0 allows derivatives (the registry's license flag), so each owner may fine-tune another
            // owner's model without an `approveFork`.
            let license = if missing_license {
                B256::ZERO
            } else {
                B256::from(verity_abi::registry::license_id("Apache-2.0", true))
            };
            let content = if wrong_hash {
                alloy::primitives::keccak256(b"not these weights")
            } else {
                alloy::primitives::keccak256(&weights)
            };
            let call = registry
                .submit(
                    word(&format!("verity-demo-{owner}")),
                    v,
                    parents,
                    relation.code(),
                    content,
                    weights.len() as u64,
                    Bytes::from(format!("file://{}", path.display()).into_bytes()),
                    Format::VerityZk.code(),
                    word("verity-zk-vzk1"),
                    word("io-schema-v1"),
                    license,
                    word("model-card"),
                    Bytes::from_static(b"ipfs://card"),
                    vec![word("demo")],
                )
                .value(fee);
            let receipt = send_with_headroom(call, "submit").await?;
            let id = receipt
                .inner
                .logs()
                .iter()
                .find_map(|l| {
                    verity_abi::registry::VersionSubmitted::decode_log_data(l.data()).ok()
                })
                .context("no VersionSubmitted event")?
                .id;
            progress.submitted += 1;
            if !missing_license && !wrong_hash {
                self.last_good = Some(id);
            }
        }
        if world.travels {
            // Time moves a week per round: let the keeper finish this round's versions first (a pending version
            // expires after the registry's TTL).
            let registry = IModelRegistry::new(at, world.wallets[0].clone());
            // devnode mines only when a transaction arrives, so an idle chain's clock stands still; the keeper's
            // batch age is counted in chain time, so mine an empty block now and then, as a live chain would.
            let deadline = Instant::now() + KEEPER_PATIENCE;
            let mut polls = 0u32;
            while registry.pendingCount().call().await? > 0 {
                ensure!(
                    Instant::now() < deadline,
                    "the keeper left versions pending for {}s; see its log",
                    KEEPER_PATIENCE.as_secs()
                );
                polls += 1;
                if polls.is_multiple_of(5) {
                    travel(&world.wallets[0], 0).await?;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// The holders' votes of this epoch; on a chain without time travel, only inside the vote window and once
    /// the locks have power (from the epoch after locking).
    async fn vebr_round(&mut self, world: &World, progress: &mut Progress) -> Result<()> {
        let now = chain_time(&world.wallets[0]).await?;
        if !world.travels {
            let Some(e) = self.schedule.epoch_at(now) else {
                return Ok(());
            };
            let (open, close) = self.schedule.vote_window(e);
            if now < open || now >= close || !self.voters.have_power(world, now).await? {
                return Ok(());
            }
        }
        progress.votes += self.voters.round(world, now).await?;
        Ok(())
    }
}

async fn view(world: &World, progress: &Progress, elapsed: Duration) -> Result<String> {
    let registry = IModelRegistry::new(world.address("registry")?, world.wallets[0].clone());
    let controller = IGaugeController::new(world.address("gauge")?, world.wallets[0].clone());
    let pending = registry.pendingCount().call().await?;
    let totals = controller.totals().call().await?;
    let c = controller.config().call().await?;
    let schedule = Schedule::new(c._2, c._3, c._4, c._5);
    let now = chain_time(&world.wallets[0]).await?;
    let epoch = schedule.epoch_at(now).unwrap_or(0);
    Ok(format!(
        "{:>5.1}s  round {}  | registry: {} submitted, {} pending  | settlement: {} receipts, {} paid requests  | veBR: {} votes  | epoch {} (season {}), next to finalize {}",
        elapsed.as_secs_f64(),
        progress.rounds,
        progress.submitted,
        pending,
        progress.receipts,
        progress.requests,
        progress.votes,
        epoch,
        schedule.season_of(epoch),
        totals._0,
    ))
}

/// Reads the end state from the chain's events and views.
async fn summary(world: &World, from_block: u64) -> Result<DevSummary> {
    let p = &world.wallets[0];
    let registry_at = world.address("registry")?;
    let gauge_at = world.address("gauge")?;
    let logs = |address: Address, signature: B256| {
        Filter::new()
            .address(address)
            .event_signature(signature)
            .from_block(from_block)
    };
    let submitted = p
        .get_logs(&logs(
            registry_at,
            verity_abi::registry::VersionSubmitted::SIGNATURE_HASH,
        ))
        .await?
        .len() as u64;
    let mut summary = DevSummary {
        submitted,
        ..Default::default()
    };
    for log in p
        .get_logs(&logs(registry_at, VersionFinalized::SIGNATURE_HASH))
        .await?
    {
        let event = VersionFinalized::decode_log_data(log.data())?;
        if !event.changed {
            continue;
        }
        if event.status == verity_abi::registry::Status::Registered.code() {
            summary.registered += 1;
        } else {
            summary.rejected.push(event.reason);
        }
    }
    summary.pending = IModelRegistry::new(registry_at, p.clone())
        .pendingCount()
        .call()
        .await?;
    let keeper = world.accounts[KEEPER_ACCOUNT].address();
    let controller = IGaugeController::new(gauge_at, p.clone());
    let c = controller.config().call().await?;
    let schedule = Schedule::new(c._2, c._3, c._4, c._5);
    for log in p
        .get_logs(&logs(gauge_at, EpochFinalized::SIGNATURE_HASH))
        .await?
    {
        let event = EpochFinalized::decode_log_data(log.data())?;
        summary.epochs_finalized += 1;
        summary.minted += event.emission;
        summary.seasons = summary.seasons.max(schedule.season_of(event.epoch) + 1);
        if sent_by(p, log.transaction_hash, keeper).await? {
            summary.epochs_by_keeper += 1;
        }
    }
    if summary.epochs_finalized > 0 {
        let last = controller.totals().call().await?._0.saturating_sub(1);
        summary.shapers = voters::shapers(world, &schedule, last, from_block).await?;
    }
    settlement_summary(world, from_block, &mut summary).await?;
    Ok(summary)
}

/// Whether the keeper reports no due work (`keeper_job_due`) and no open intent (`keeper_outbox_intents` pending,
/// signed or sent) on its `/metrics`; false when it cannot be asked.
async fn keeper_idle(url: &str) -> bool {
    let Ok(res) = alloy::transports::http::reqwest::get(format!("{url}/metrics")).await else {
        return false;
    };
    let Ok(text) = res.text().await else {
        return false;
    };
    let busy = |line: &str| {
        let open = line.starts_with("keeper_job_due{")
            || ["pending", "signed", "sent"]
                .iter()
                .any(|s| line.starts_with(&format!("keeper_outbox_intents{{status=\"{s}\"}}")));
        open && line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|v| v > 0.0)
    };
    text.contains("keeper_job_due") && !text.lines().any(busy)
}

/// Paid requests neither proven nor refunded yet (the keeper proves answered ones once their batch is final and
/// refunds the rest at their deadline).
async fn unproven_requests(world: &World, from_block: u64) -> Result<u64> {
    let mut s = DevSummary::default();
    settlement_summary(world, from_block, &mut s).await?;
    Ok(s.requests.saturating_sub(s.proven_by_batch + s.refunded))
}

/// Whether the transaction `hash` was signed by `account`.
async fn sent_by(p: &Wallet, hash: Option<B256>, account: Address) -> Result<bool> {
    let Some(hash) = hash else {
        return Ok(false);
    };
    Ok(p.get_transaction_by_hash(hash)
        .await?
        .is_some_and(|tx| tx.inner.signer() == account))
}

/// The settlement part of the end state: batches and paid requests, from events.
async fn settlement_summary(
    world: &World,
    from_block: u64,
    summary: &mut DevSummary,
) -> Result<()> {
    use verity_abi::settlement::{batches, Proven, Refunded, Requested, Settled};
    let p = &world.wallets[0];
    let keeper = world.accounts[KEEPER_ACCOUNT].address();
    let logs = |address: Address| Filter::new().address(address).from_block(from_block);
    let mut counts = std::collections::HashMap::new();
    let mut keeper_txs = std::collections::HashSet::new();
    for log in p
        .get_logs(&logs(world.address("settlement-batches")?))
        .await?
    {
        if let Ok(e) = batches::BatchAnchored::decode_log_data(log.data()) {
            counts.insert(e.batchId, e.count);
        } else if let Ok(e) = batches::BatchFinalized::decode_log_data(log.data()) {
            summary.batches_final += 1;
            summary.receipts_final += counts.get(&e.batchId).copied().unwrap_or(0);
            if sent_by(p, log.transaction_hash, keeper).await? {
                keeper_txs.extend(log.transaction_hash);
            }
        } else if let Ok(e) = batches::BatchVoided::decode_log_data(log.data()) {
            summary.batches_voided.push((e.reason, e.challenger));
        }
    }
    for log in p.get_logs(&logs(world.address("settlement")?)).await? {
        let by_keeper = || async { sent_by(p, log.transaction_hash, keeper).await };
        if Requested::decode_log_data(log.data()).is_ok() {
            summary.requests += 1;
        } else if let Ok(e) = Proven::decode_log_data(log.data()) {
            if e.batchId != U256::ZERO {
                summary.proven_by_batch += 1;
            }
            if by_keeper().await? {
                keeper_txs.extend(log.transaction_hash);
            }
        } else if Settled::decode_log_data(log.data()).is_ok() {
            summary.settled += 1;
            if by_keeper().await? {
                keeper_txs.extend(log.transaction_hash);
            }
        } else if Refunded::decode_log_data(log.data()).is_ok() {
            summary.refunded += 1;
            if by_keeper().await? {
                keeper_txs.extend(log.transaction_hash);
            }
        }
    }
    summary.settlement_txs_by_keeper = keeper_txs.len() as u64;
    summary.keeper = keeper;
    Ok(())
}

/// Per inference node: the client's routing record, the node's own metrics, and its paid requests' outcomes
/// from the chain's events.
async fn node_outcomes(
    world: &World,
    from_block: u64,
    traffic: &SettlementTraffic,
) -> Result<Vec<NodeOutcome>> {
    use verity_abi::settlement::{Answered, Proven, Refunded, Requested, Settled};
    let p = &world.wallets[0];
    let logs = p
        .get_logs(
            &Filter::new()
                .address(world.address("settlement")?)
                .from_block(from_block),
        )
        .await?;
    let mut node_of = std::collections::HashMap::new();
    let mut outcomes = Vec::new();
    for n in &traffic.fleet().nodes {
        let metrics = alloy::transports::http::reqwest::get(format!("{}/metrics", n.url))
            .await
            .with_context(|| format!("reading node {}'s metrics", n.name))?
            .text()
            .await?;
        let metric = |name: &str| {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
                .map_or(0, |v| v as u64)
        };
        let (attempts, retries, failures) = traffic.observed(n.node);
        let routed = |after: u64| {
            traffic
                .answered_by
                .iter()
                .filter(|(round, by)| *by == n.node && *round > after)
                .count() as u64
        };
        outcomes.push(NodeOutcome {
            name: n.name.to_string(),
            node: n.node,
            routed: routed(0),
            routed_after_warmup: routed(WARMUP_ROUNDS),
            attempts,
            retries,
            failures,
            inferences: metric("verity_node_inferences_total"),
            receipts_signed: metric("verity_node_receipts_signed_total"),
            ..NodeOutcome::default()
        });
    }
    for log in &logs {
        let row = |node: Address, outcomes: &mut Vec<NodeOutcome>| {
            outcomes.iter_mut().position(|o| o.node == node)
        };
        if let Ok(e) = Requested::decode_log_data(log.data()) {
            node_of.insert(e.requestId, e.node);
            if let Some(i) = row(e.node, &mut outcomes) {
                outcomes[i].requests += 1;
            }
        } else if let Ok(e) = Answered::decode_log_data(log.data()) {
            if let Some(i) = row(e.node, &mut outcomes) {
                outcomes[i].answered += 1;
            }
        } else if let Ok(e) = Proven::decode_log_data(log.data()) {
            if let Some(i) = row(e.node, &mut outcomes) {
                outcomes[i].proven += 1;
            }
        } else if let Ok(e) = Settled::decode_log_data(log.data()) {
            if let Some(i) = row(e.node, &mut outcomes) {
                outcomes[i].settled += 1;
            }
        } else if let Ok(e) = Refunded::decode_log_data(log.data()) {
            let node = node_of.get(&e.requestId).copied().unwrap_or_default();
            if let Some(i) = row(node, &mut outcomes) {
                outcomes[i].refunded += 1;
            }
        }
    }
    Ok(outcomes)
}

fn print_summary(s: &DevSummary, elapsed: Duration) {
    println!(
        "\nsummary after {:.0}s (read from the chain):",
        elapsed.as_secs_f64()
    );
    let mut reasons: Vec<(u8, usize)> = Vec::new();
    for r in &s.rejected {
        match reasons.iter_mut().find(|(code, _)| code == r) {
            Some((_, n)) => *n += 1,
            None => reasons.push((*r, 1)),
        }
    }
    let reasons: Vec<String> = reasons
        .iter()
        .map(
            |(code, n)| match verity_abi::registry::Reason::try_from(*code) {
                Ok(reason) => format!("{n} × {reason:?}"),
                Err(_) => format!("{n} × reason {code}"),
            },
        )
        .collect();
    println!(
        "  registry  {} versions submitted: {} registered, {} rejected ({}), {} pending",
        s.submitted,
        s.registered,
        s.rejected.len(),
        reasons.join(", "),
        s.pending
    );
    println!(
        "  veBR      {} epochs finalized ({} by the keeper service) over {} season(s); {} BR minted as emissions",
        s.epochs_finalized,
        s.epochs_by_keeper,
        s.seasons,
        s.minted / UNIT
    );
    let sh = &s.shapers;
    if sh.voters > 0 {
        let top: Vec<String> = sh
            .top
            .iter()
            .map(|(a, bps)| format!("{a} {}.{:02}%", bps / 100, bps % 100))
            .collect();
        println!(
            "  shaped by epoch {}: {} live voters; heaviest {}; Nakamoto coefficient {}{}",
            sh.epoch,
            sh.voters,
            top.join(", "),
            sh.nakamoto,
            sh.capped
                .map(|a| format!("; {a} held back by the per-voter cap"))
                .unwrap_or_default()
        );
    }
    let voided: Vec<String> = s
        .batches_voided
        .iter()
        .map(|(reason, by)| format!("reason {reason} by {by}"))
        .collect();
    println!(
        "  settle    {} receipts in {} final batches, {} voided ({}); {} paid requests: {} proven by batch, {} settled, {} refunded; {} settlement txs by the keeper",
        s.receipts_final,
        s.batches_final,
        s.batches_voided.len(),
        voided.join(", "),
        s.requests,
        s.proven_by_batch,
        s.settled,
        s.refunded,
        s.settlement_txs_by_keeper
    );
    let routed: u64 = s.nodes.iter().map(|n| n.routed).sum();
    let after: u64 = s.nodes.iter().map(|n| n.routed_after_warmup).sum();
    println!(
        "  inference {routed} requests answered through the client ({} in its warm-up of {WARMUP_ROUNDS} rounds); answered in p50 {} ms / p99 {} ms; retries per round {:.1} in the warm-up, {:.1} after; per node:",
        s.warmup_requests, s.answer_ms.0, s.answer_ms.1, s.retries_per_round.0, s.retries_per_round.1
    );
    println!(
        "    {:<10} {:>7} {:>13} {:>8} {:>7} {:>8} {:>10} {:>6} {:>9} {:>6} {:>7} {:>8}",
        "node",
        "routed",
        "after warm-up",
        "attempts",
        "retries",
        "failures",
        "inferences",
        "paid",
        "answered",
        "proven",
        "settled",
        "refunded"
    );
    for n in &s.nodes {
        let share = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                100.0 * part as f64 / whole as f64
            }
        };
        println!(
            "    {:<10} {:>6.1}% {:>12.1}% {:>8} {:>7} {:>8} {:>10} {:>6} {:>9} {:>6} {:>7} {:>8}",
            n.name,
            share(n.routed, routed),
            share(n.routed_after_warmup, after),
            n.attempts,
            n.retries,
            n.failures,
            n.inferences,
            n.requests,
            n.answered,
            n.proven,
            n.settled,
            n.refunded
        );
    }
}
