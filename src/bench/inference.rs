//! `verity bench --inference-only`: real inference on `verity dev`'s three node processes (one near but flaky).
//!
//! 1. **Routing**: `verity dev` runs for `--inference-rounds` rounds (each: one paid request and six unpaid
//!    inferences routed by the client, the keeper anchoring, proving and settling). Reported: the share of
//!    requests answered by the stable nodes after the client's warm-up (goal ≥ 90%), and the client's retries
//!    per round in the warm-up and after it (they should fall).
//! 2. **Answered vs Proven**: time to Answered is wall time, request sent → verified answer (client-measured,
//!    retries included); time to Proven is chain time from a paid request's `Answered` block to its `Proven`
//!    block, which the batches' challenge window dominates (devnode's clock travels past it, so it is reported in
//!    chain seconds, not wall time). The keeper scoreboard's latency is shown too: answer → the anchoring time
//!    the proof names (`provenAt`), i.e. how fast the node's receipt reached a batch.
//! 3. **Throughput**: `--inference-load` unpaid inferences against the stable `near` node alone, from
//!    `--inference-concurrency` concurrent clients, each a fresh request id; inferences/s = answered / wall time,
//!    and the node's own `verity_node_inferences_total` must grow by exactly that many.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::transports::http::reqwest;
use anyhow::{ensure, Context, Result};
use tokio::sync::Mutex;
use verity_node::api::{InferRequest, InferResponse};
use verity_node::service::random_id;

use crate::dev::{quantile, run_with, DevOptions, DevSession, DevSummary};

/// The routing goal: share of requests answered by stable nodes after the warm-up.
pub const ROUTING_GOAL: f64 = 0.90;
/// The node the throughput run targets.
const TARGET: &str = "near";
/// The flaky node's name.
const FLAKY: &str = "near-flaky";

/// What to run.
#[derive(Debug, Clone)]
pub struct InferenceOptions {
    /// The workspace (contracts are built from it; the keeper and node binaries come from it).
    pub workspace: PathBuf,
    /// `verity dev` rounds.
    pub rounds: u64,
    /// Unpaid inferences of the throughput run.
    pub load: usize,
    /// Concurrent clients of the throughput run.
    pub concurrency: usize,
}

/// A node's answer → proof latency: name, p50, p99 (chain seconds).
pub type ProvenLatency = (String, u64, u64);

/// What the inspection of the running `verity dev` measures.
type Measured = (Throughput, Vec<ProvenLatency>, (u64, u64, usize));

/// The throughput run's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Throughput {
    /// Inferences answered (HTTP 200 with a receipt).
    pub answered: usize,
    /// Wall time, first request → last answer.
    pub elapsed: Duration,
    /// Per-request wall time p50 / p99, milliseconds.
    pub latency_ms: (u64, u64),
    /// The node's `verity_node_inferences_total` growth over the run.
    pub node_counted: u64,
}

impl Throughput {
    /// Inferences per second.
    pub fn per_second(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// `verity bench --inference-only`'s report.
#[derive(Debug, Clone)]
pub struct InferenceReport {
    /// `verity dev`'s end state.
    pub summary: DevSummary,
    /// Share of post-warm-up requests answered by stable nodes.
    pub stable_share: f64,
    /// Answer → proof latency of paid requests (chain seconds), p50 / p99, from the keeper's scoreboard, per node
    /// that had paid requests proven.
    pub proven_s: Vec<ProvenLatency>,
    /// Chain seconds from `Answered` to `Proven` of the paid requests, p50 / p99, and how many.
    pub answered_to_proven: (u64, u64, usize),
    /// The throughput run.
    pub throughput: Throughput,
    /// Options it ran with.
    pub options: InferenceOptions,
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// Runs `verity dev` with the inference fleet, then the throughput run while everything still serves.
///
/// # Errors
/// `verity dev` fails, or a throughput request is not answered.
pub async fn run(options: &InferenceOptions) -> Result<InferenceReport> {
    ensure!(
        options.rounds > crate::dev::WARMUP_ROUNDS,
        "--inference-rounds must exceed the warm-up of {} rounds",
        crate::dev::WARMUP_ROUNDS
    );
    ensure!(
        options.load > 0 && options.concurrency > 0,
        "--inference-load and --inference-concurrency must be at least 1"
    );
    let scratch = tempfile::tempdir().context("a scratch directory")?;
    let mut dev = DevOptions::new(&options.workspace);
    dev.rounds = Some(options.rounds);
    dev.duration = Duration::from_secs(3_600);
    dev.rate = 100.0;
    dev.port = 0;
    dev.keeper_port = 0;
    dev.data_dir = scratch.path().join("dev");
    dev.record_dir = scratch.path().join("deployments");
    let measured: Arc<Mutex<Option<Measured>>> = Arc::default();
    let out = measured.clone();
    let load = (options.load, options.concurrency);
    let summary = run_with(&dev, |session| async move {
        let proven = proof_latency(&session).await?;
        let to_proven = answered_to_proven(&session).await?;
        let throughput = throughput(&session, load.0, load.1).await?;
        *out.lock().await = Some((throughput, proven, to_proven));
        Ok(())
    })
    .await?;
    let (throughput, proven_s, answered_to_proven) = measured
        .lock()
        .await
        .take()
        .context("the throughput run did not happen")?;
    let after: u64 = summary.nodes.iter().map(|n| n.routed_after_warmup).sum();
    let stable: u64 = summary
        .nodes
        .iter()
        .filter(|n| n.name != FLAKY)
        .map(|n| n.routed_after_warmup)
        .sum();
    Ok(InferenceReport {
        stable_share: if after == 0 {
            0.0
        } else {
            stable as f64 / after as f64
        },
        summary,
        proven_s,
        answered_to_proven,
        throughput,
        options: options.clone(),
    })
}

/// The keeper scoreboard's answer → proof latency per fleet node with proven paid requests.
async fn proof_latency(session: &DevSession) -> Result<Vec<ProvenLatency>> {
    let rows: Vec<crate::infer::KeeperScore> =
        reqwest::get(format!("{}/api/nodes", session.keeper_url))
            .await?
            .json()
            .await
            .context("the keeper's /api/nodes")?;
    Ok(session
        .nodes
        .iter()
        .filter_map(|n| {
            let row = rows.iter().find(|r| r.node == n.node)?;
            Some((n.name.clone(), row.latency_p50?, row.latency_p99?))
        })
        .collect())
}

/// Chain seconds from each paid request's `Answered` block to its `Proven` block: p50, p99, count.
async fn answered_to_proven(session: &DevSession) -> Result<(u64, u64, usize)> {
    use alloy::providers::{Provider, ProviderBuilder};
    use alloy::rpc::types::Filter;
    use alloy::sol_types::SolEvent;
    use verity_abi::settlement::{Answered, Proven};
    let chain = ProviderBuilder::new().connect_http(session.rpc_url.parse()?);
    let logs = chain
        .get_logs(
            &Filter::new()
                .address(session.deployment.contracts["settlement"].address)
                .from_block(0),
        )
        .await?;
    let block_time = |n: Option<u64>| {
        let chain = chain.clone();
        async move {
            let n = n.context("a log without a block")?;
            let block = chain
                .get_block_by_number(n.into())
                .await?
                .context("a log's block is missing")?;
            anyhow::Ok(block.header.timestamp)
        }
    };
    let mut answered = std::collections::HashMap::new();
    let mut latencies = Vec::new();
    for log in &logs {
        if let Ok(e) = Answered::decode_log_data(log.data()) {
            answered.insert(e.requestId, block_time(log.block_number).await?);
        } else if let Ok(e) = Proven::decode_log_data(log.data()) {
            if let Some(at) = answered.get(&e.requestId) {
                latencies.push(block_time(log.block_number).await?.saturating_sub(*at));
            }
        }
    }
    latencies.sort_unstable();
    Ok((
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        latencies.len(),
    ))
}

/// `load` unpaid inferences against the `near` node from `concurrency` tasks.
async fn throughput(session: &DevSession, load: usize, concurrency: usize) -> Result<Throughput> {
    let node = session
        .nodes
        .iter()
        .find(|n| n.name == TARGET)
        .context("no `near` node")?
        .url
        .clone();
    let model = session.model.context("no registered model to run")?;
    let http = reqwest::Client::new();
    let metrics = |http: reqwest::Client, url: String| async move {
        let text = http
            .get(format!("{url}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        anyhow::Ok(metric(&text, "verity_node_inferences_total"))
    };
    let before = metrics(http.clone(), node.clone()).await?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, node, next) = (http.clone(), node.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < load {
                let id = random_id();
                let request = InferRequest {
                    model_version: model,
                    input: id.0[..4].iter().map(|b| i64::from(*b as i8)).collect(),
                    request_id: Some(id),
                };
                let sent = Instant::now();
                let res = http
                    .post(format!("{node}/infer"))
                    .json(&request)
                    .send()
                    .await?;
                let status = res.status();
                ensure!(status.is_success(), "the node answered {status}");
                let _: InferResponse = res.json().await.context("the node's answer")?;
                times.push(sent.elapsed().as_millis() as u64);
            }
            anyhow::Ok(times)
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.context("a load task panicked")??);
    }
    let elapsed = started.elapsed();
    let after = metrics(http, node).await?;
    times.sort_unstable();
    Ok(Throughput {
        answered: times.len(),
        elapsed,
        latency_ms: (quantile(&times, 0.5), quantile(&times, 0.99)),
        node_counted: after.saturating_sub(before),
    })
}

impl fmt::Display for InferenceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.summary;
        let t = &self.throughput;
        writeln!(
            f,
            "\nInference on devnode: three verity-node processes (near-flaky: half its calls fail; near; far), {} rounds of verity dev, warm-up {} rounds\n",
            self.options.rounds,
            crate::dev::WARMUP_ROUNDS
        )?;
        writeln!(f, "| figure | value | goal |")?;
        writeln!(f, "|---|---:|---|")?;
        writeln!(
            f,
            "| answered by stable nodes after warm-up | {:.1}% | ≥ {:.0}%: {} |",
            100.0 * self.stable_share,
            100.0 * ROUTING_GOAL,
            if self.stable_share >= ROUTING_GOAL {
                "PASS"
            } else {
                "MISS"
            }
        )?;
        writeln!(
            f,
            "| client retries per round: warm-up → after | {:.1} → {:.1} | fall: {} |",
            s.retries_per_round.0,
            s.retries_per_round.1,
            if s.retries_per_round.1 < s.retries_per_round.0 {
                "PASS"
            } else {
                "MISS"
            }
        )?;
        writeln!(
            f,
            "| time to Answered (wall, client), p50 / p99 | {} / {} ms | |",
            s.answer_ms.0, s.answer_ms.1
        )?;
        let (p50, p99, n) = self.answered_to_proven;
        writeln!(
            f,
            "| time to Proven (chain s, `Answered` → `Proven` block, {n} paid requests), p50 / p99 | {p50} / {p99} s | |"
        )?;
        for (name, p50, p99) in &self.proven_s {
            writeln!(
                f,
                "| keeper scoreboard, {name}: answer → receipt anchored (`provenAt`), p50 / p99 | {p50} / {p99} s | |"
            )?;
        }
        writeln!(
            f,
            "| inferences/s through `near` ({} requests, {} concurrent) | {:.0} | |",
            t.answered,
            self.options.concurrency,
            t.per_second()
        )?;
        writeln!(
            f,
            "| per-inference wall time under that load, p50 / p99 | {} / {} ms | |",
            t.latency_ms.0, t.latency_ms.1
        )?;
        writeln!(
            f,
            "| node-counted inferences in the load run | {} (= requests: {}) | |",
            t.node_counted,
            t.node_counted == t.answered as u64
        )?;
        writeln!(
            f,
            "\nper node (routed share, after warm-up, attempts, retries, failures):"
        )?;
        let routed: u64 = s.nodes.iter().map(|n| n.routed).sum();
        let after: u64 = s.nodes.iter().map(|n| n.routed_after_warmup).sum();
        for n in &s.nodes {
            writeln!(
                f,
                "  {:<10} {:>6.1}% {:>6.1}% {:>5} {:>5} {:>5}",
                n.name,
                100.0 * n.routed as f64 / routed.max(1) as f64,
                100.0 * n.routed_after_warmup as f64 / after.max(1) as f64,
                n.attempts,
                n.retries,
                n.failures
            )?;
        }
        Ok(())
    }
}
