//! The keeper's receipts benchmark, on devnode with the deployed contracts and the keeper's real code (HTTP
//! intake, SQLite store, jobs, outbox):
//!
//! - **intake**: pre-signed receipts POSTed (raw 384 bytes) to `POST /receipts` by many concurrent clients; each
//!   answer is a `201` given only after the receipt is committed (group commit on SQLite, `synchronous = FULL`).
//!   The clock runs from the first request to the last answer; signing is outside it.
//! - **intake without HTTP**: the same through `Intake::submit` from as many concurrent tasks (the judge and the
//!   group commit alone: what the keeper costs apart from the HTTP client and server sharing the machine).
//! - **end to end**: [`super::MONTH_OF_RECEIPTS`] receipts POSTed, batched into one Merkle tree, anchored with the
//!   bond, and — after devnode's clock is moved past the 6-hour challenge window (time travel, not waited for) —
//!   finalized; the clock runs from the first POST to the keeper seeing the batch Final.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::{local::PrivateKeySigner, SignerSync},
};
use anyhow::{ensure, Context, Result};
use verity_abi::{
    rpc::{key_registration_proof, IReceiptBatches, ISettlementNodes},
    settlement::{encode_signed_receipt, mode, signing_hash, Receipt, SignedReceipt},
};
use verity_keeper::{
    failpoint::Failpoints,
    http::Metrics,
    keeper::{Keeper, LoopConfig},
    lease::Leadership,
    outbox::{TxConfig, TxManager},
    receipts::{
        store::{BatchStatus, ReceiptStore},
        Receipts, ReceiptsConfig,
    },
    store::SqliteStore,
};

use super::gas::{GasGoal, GasReport};
use crate::client::{chain_time, register_demo_model, send_with_headroom, travel, wallet};

/// Goal: receipts persisted per second through intake on SQLite.
pub const INTAKE_GOAL_PER_SEC: f64 = 5_000.0;
/// Receipts in the intake run.
pub const INTAKE_RECEIPTS: usize = 20_000;
/// Concurrent HTTP clients.
pub const INTAKE_CLIENTS: usize = 64;

/// Where the keeper benchmark runs: a devnode with Verity deployed by its plan.
#[derive(Debug, Clone)]
pub struct KeeperBenchSetup {
    /// The node's JSON-RPC URL (a devnode: the run moves its clock past the challenge window).
    pub url: String,
    /// Governance: registry attester and keeper, approves keys, allows batch keepers.
    pub governance: PrivateKeySigner,
    /// Runs the inference node.
    pub node: PrivateKeySigner,
    /// The keeper's key.
    pub keeper: PrivateKeySigner,
    /// The ModelRegistry.
    pub registry: Address,
    /// SettlementNodes.
    pub nodes: Address,
    /// ReceiptBatches.
    pub batches: Address,
    /// InferenceSettlement.
    pub settlement: Address,
    /// Receipts of the intake run.
    pub intake_receipts: usize,
    /// Receipts of the end-to-end run.
    pub e2e_receipts: usize,
}

/// What the keeper benchmark measured.
#[derive(Debug, Clone)]
pub struct KeeperBench {
    /// Receipts in the intake run.
    pub intake_receipts: usize,
    /// First POST to last `201`.
    pub intake: Duration,
    /// The same receipts through the intake path without HTTP (judge + group commit), first to last.
    pub direct: Duration,
    /// Receipts in the end-to-end run.
    pub e2e_receipts: usize,
    /// Their intake.
    pub e2e_intake: Duration,
    /// Intake done → batch anchored (built, persisted, sent, mined, seen).
    pub anchor: Duration,
    /// Window passed (time travel) → batch Final.
    pub finalize: Duration,
    /// First POST → Final.
    pub total: Duration,
}

impl KeeperBench {
    /// Receipts persisted per second in the intake run.
    pub fn intake_per_sec(&self) -> f64 {
        self.intake_receipts as f64 / self.intake.as_secs_f64().max(1e-9)
    }

    /// Receipts persisted per second through the intake path without HTTP.
    pub fn direct_per_sec(&self) -> f64 {
        self.intake_receipts as f64 / self.direct.as_secs_f64().max(1e-9)
    }

    /// The figures as goals of the benchmark table.
    pub fn report(&self) -> GasReport {
        let mut report = GasReport::default();
        report.goals.push(GasGoal {
            goal: format!(
                "keeper intake (HTTP, SQLite) >= {INTAKE_GOAL_PER_SEC:.0} receipts/s ({} receipts)",
                self.intake_receipts
            ),
            figure: format!("{:.0}/s", self.intake_per_sec()),
            met: self.intake_per_sec() >= INTAKE_GOAL_PER_SEC,
        });
        report.goals.push(GasGoal {
            goal: format!(
                "keeper intake without HTTP (judge + group commit) >= {INTAKE_GOAL_PER_SEC:.0}/s ({} receipts)",
                self.intake_receipts
            ),
            figure: format!("{:.0}/s", self.direct_per_sec()),
            met: self.direct_per_sec() >= INTAKE_GOAL_PER_SEC,
        });
        report.goals.push(GasGoal {
            goal: format!(
                "keeper: {} receipts in, anchored, final (intake {:.1}s + anchor {:.1}s + final {:.1}s)",
                self.e2e_receipts,
                self.e2e_intake.as_secs_f64(),
                self.anchor.as_secs_f64(),
                self.finalize.as_secs_f64()
            ),
            figure: format!("{:.1}s", self.total.as_secs_f64()),
            met: true,
        });
        report
    }
}

struct Chain {
    provider: DynProvider,
    model: U256,
    tee: PrivateKeySigner,
    domain: B256,
}

/// Registers a model, a node with an approved TEE key, and allows the keeper to anchor.
async fn prepare(setup: &KeeperBenchSetup) -> Result<Chain> {
    let gov = wallet(&setup.url, &setup.governance)?;
    let model = register_demo_model(
        &gov,
        setup.registry,
        keccak256("verity-keeper-bench-model"),
        keccak256("keeper-bench-weights"),
    )
    .await?;
    let node = ISettlementNodes::new(setup.nodes, wallet(&setup.url, &setup.node)?);
    let stake = node.config().call().await?._5;
    let tee = PrivateKeySigner::random();
    let key_proof = key_registration_proof(
        &tee,
        node.provider().get_chain_id().await?,
        setup.nodes,
        setup.node.address(),
    )?;
    send_with_headroom(
        node.registerNode(tee.address(), key_proof).value(stake),
        "registerNode",
    )
    .await?;
    let nodes_gov = ISettlementNodes::new(setup.nodes, gov.clone());
    send_with_headroom(
        nodes_gov.approveKey(tee.address(), keccak256("enclave")),
        "approveKey",
    )
    .await?;
    let domain = nodes_gov.domainSeparator().call().await?;
    send_with_headroom(
        IReceiptBatches::new(setup.batches, gov.clone()).setKeeper(setup.keeper.address(), true),
        "setKeeper",
    )
    .await?;
    let provider = ProviderBuilder::new()
        .connect_http(setup.url.parse().context("RPC URL")?)
        .erased();
    Ok(Chain {
        provider,
        model,
        tee,
        domain,
    })
}

/// `n` receipts signed by the node's TEE key at `signed_at`, request ids derived from `tag`, in their flat
/// encoding; signed on every core.
async fn sign_receipts(
    chain: &Chain,
    setup: &KeeperBenchSetup,
    tag: &str,
    n: usize,
    signed_at: u64,
) -> Result<Vec<Bytes>> {
    let threads = std::thread::available_parallelism().map_or(2, |p| p.get());
    let per = n.div_ceil(threads);
    let mut tasks = Vec::new();
    for t in 0..threads {
        let (tee, domain, model, node) = (
            chain.tee.clone(),
            chain.domain,
            chain.model,
            setup.node.address(),
        );
        let tag = tag.to_string();
        tasks.push(tokio::task::spawn_blocking(
            move || -> Result<Vec<Bytes>> {
                let mut out = Vec::with_capacity(per);
                for i in (t * per)..((t + 1) * per).min(n) {
                    let receipt = Receipt {
                        requestId: keccak256(format!("{tag}-{i}")),
                        modelVersion: model,
                        inputHash: keccak256(format!("input-{i}")),
                        outputHash: keccak256(format!("output-{i}")),
                        payer: Address::with_last_byte(0xbe),
                        node,
                        fee: U256::from(1_000_000_000_000u64),
                        mode: mode::TEE,
                        signedAt: signed_at,
                    };
                    let sig = tee.sign_hash_sync(&signing_hash(domain, &receipt))?;
                    let signed = SignedReceipt {
                        receipt,
                        v: 27 + u8::from(sig.v()),
                        r: B256::from(sig.r()),
                        s: B256::from(sig.s()),
                    };
                    out.push(encode_signed_receipt(&signed).to_vec().into());
                }
                Ok(out)
            },
        ));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

struct Served {
    receipts: Receipts<SqliteStore, DynProvider>,
    store: SqliteStore,
    url: String,
    metrics: Metrics,
    _dir: tempfile::TempDir,
}

/// A fresh SQLite keeper store with the receipts routes served on an ephemeral port.
async fn serve(chain: &Chain, setup: &KeeperBenchSetup) -> Result<Served> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("keeper.db").display()
    ))
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let metrics = Metrics::new()?;
    let mut config = ReceiptsConfig::new(
        setup.settlement,
        setup.keeper.address(),
        format!("http://{addr}"),
    );
    config.batch_max_age = Duration::ZERO;
    // Batch data is served on loopback (the production policy refuses private addresses).
    config.fetch.allow_private = true;
    config.fetch.allow_file = true;
    let receipts =
        Receipts::connect(store.clone(), chain.provider.clone(), config, &metrics).await?;
    let app = receipts.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Served {
        receipts,
        store,
        url: format!("http://{addr}"),
        metrics,
        _dir: dir,
    })
}

/// POSTs every receipt from [`INTAKE_CLIENTS`] concurrent clients; requires a `201` for each.
async fn post_all(url: &str, receipts: Vec<Bytes>) -> Result<Duration> {
    let client = alloy::transports::http::reqwest::Client::new();
    let queue = Arc::new(std::sync::Mutex::new(receipts));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..INTAKE_CLIENTS {
        let (client, queue, url) = (client.clone(), queue.clone(), format!("{url}/receipts"));
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .pop();
                let Some(body) = next else {
                    return Ok::<(), anyhow::Error>(());
                };
                let resp = client
                    .post(&url)
                    .header("content-type", "application/octet-stream")
                    .body(body.to_vec())
                    .send()
                    .await?;
                ensure!(
                    resp.status().as_u16() == 201,
                    "intake answered {}: {}",
                    resp.status(),
                    resp.text().await?
                );
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(started.elapsed())
}

/// A keeper with the receipts jobs on `served`'s store, run until its outbox is idle.
async fn run_keeper(served: &Served, setup: &KeeperBenchSetup, chain: &Chain) -> Result<()> {
    let chain_id = chain.provider.get_chain_id().await?;
    let tx = TxManager::new(
        served.store.clone(),
        chain.provider.clone(),
        setup.keeper.clone(),
        TxConfig {
            chain_id,
            rebroadcast_after: Duration::from_secs(5),
            ..TxConfig::default()
        },
        Failpoints::none(),
    );
    let leadership = Leadership::new(
        served.store.clone(),
        "keeper-bench",
        "bench",
        Duration::from_secs(30),
    );
    let config = LoopConfig {
        poll_interval: Duration::from_millis(20),
        exit_when_idle: true,
        dry_run: false,
        shutdown_grace: std::time::Duration::from_secs(5),
        low_balance_wei: 0,
    };
    let keeper = Keeper::new(
        served.store.clone(),
        tx,
        leadership,
        served.metrics.clone(),
        config,
    );
    let mut keeper = served.receipts.add_jobs(keeper);
    keeper.run(std::future::pending()).await?;
    Ok(())
}

/// Runs the keeper until our batch reaches `status` (at most `passes` runs).
async fn until(
    served: &Served,
    setup: &KeeperBenchSetup,
    chain: &Chain,
    status: BatchStatus,
) -> Result<()> {
    for _ in 0..20 {
        run_keeper(served, setup, chain).await?;
        if !served.store.batches_in(status, true).await?.is_empty() {
            return Ok(());
        }
    }
    anyhow::bail!("the batch never reached {status:?}")
}

/// Runs both measurements.
pub async fn keeper_bench(setup: &KeeperBenchSetup) -> Result<KeeperBench> {
    let chain = prepare(setup).await?;
    let t = chain_time(&chain.provider).await?;

    // Intake.
    let served = serve(&chain, setup).await?;
    let receipts = sign_receipts(&chain, setup, "intake", setup.intake_receipts, t).await?;
    let intake = post_all(&served.url, receipts).await?;
    let (persisted, _) = served.store.waiting_summary().await?;
    ensure!(
        persisted == setup.intake_receipts as u64,
        "{persisted} receipts persisted of {}",
        setup.intake_receipts
    );
    drop(served);

    // The same intake without HTTP (judge + group commit), from as many concurrent tasks.
    let served = serve(&chain, setup).await?;
    let receipts = sign_receipts(&chain, setup, "direct", setup.intake_receipts, t).await?;
    let direct = {
        let queue = Arc::new(std::sync::Mutex::new(receipts));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..INTAKE_CLIENTS {
            let (queue, intake) = (queue.clone(), served.receipts.intake().clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let next = queue
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .pop();
                    let Some(body) = next else {
                        return Ok::<(), anyhow::Error>(());
                    };
                    let accepted = intake
                        .submit(&body)
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    ensure!(accepted.new, "receipt not new");
                }
            }));
        }
        for task in tasks {
            task.await??;
        }
        started.elapsed()
    };
    drop(served);

    // End to end.
    let served = serve(&chain, setup).await?;
    let receipts = sign_receipts(&chain, setup, "e2e", setup.e2e_receipts, t).await?;
    let started = Instant::now();
    let e2e_intake = post_all(&served.url, receipts).await?;
    until(&served, setup, &chain, BatchStatus::Anchored).await?;
    let anchor = started.elapsed() - e2e_intake;
    let batch = served.store.batches_in(BatchStatus::Anchored, true).await?;
    ensure!(
        batch.len() == 1 && batch[0].count == setup.e2e_receipts as u64,
        "one batch of every receipt: {batch:?}"
    );
    let window = IReceiptBatches::new(setup.batches, &chain.provider)
        .config()
        .call()
        .await?
        ._3;
    travel(&chain.provider, window + 1).await?;
    let before_final = started.elapsed();
    until(&served, setup, &chain, BatchStatus::Final).await?;
    let total = started.elapsed();
    let id = batch[0].chain_batch.context("anchored batch without id")?;
    let on_chain = IReceiptBatches::new(setup.batches, &chain.provider)
        .batch(U256::from(id))
        .call()
        .await?;
    ensure!(
        on_chain._5 == verity_abi::settlement::batch_status::FINAL
            && on_chain._1 == setup.e2e_receipts as u64,
        "batch {id} on chain: status {}, {} leaves",
        on_chain._5,
        on_chain._1
    );
    Ok(KeeperBench {
        intake_receipts: setup.intake_receipts,
        intake,
        direct,
        e2e_receipts: setup.e2e_receipts,
        e2e_intake,
        anchor,
        finalize: total - before_final,
        total,
    })
}

/// Starts a fresh devnode, deploys Verity with its plan and runs [`keeper_bench`] with [`INTAKE_RECEIPTS`] and
/// [`super::MONTH_OF_RECEIPTS`] receipts.
pub async fn bench_keeper(
    kind: &super::DevnodeKind,
    artifacts: &verity_script::build::Artifacts,
) -> Result<KeeperBench> {
    let node = super::start_devnode(kind, 8).await?;
    let deployment = super::deploy_verity(&node, artifacts).await?;
    let address = |name: &str| {
        deployment
            .contracts
            .get(name)
            .map(|c| c.address)
            .with_context(|| format!("the deployment has no {name}"))
    };
    keeper_bench(&KeeperBenchSetup {
        url: node.url.clone(),
        governance: node.accounts[0].clone(),
        node: node.accounts[1].clone(),
        keeper: node.accounts[2].clone(),
        registry: address("registry")?,
        nodes: address("settlement-nodes")?,
        batches: address("settlement-batches")?,
        settlement: address("settlement")?,
        intake_receipts: INTAKE_RECEIPTS,
        e2e_receipts: super::MONTH_OF_RECEIPTS,
    })
    .await
    .context("keeper receipts benchmark")
}
