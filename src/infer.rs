//! `verity infer` — the inference client: discovers nodes, ranks them by delivered consistency, routes a request
//! with retries under one request id, and follows it answered → proven → settled.
//!
//! **Discovery.** A node counts when three sources agree: SettlementNodes' `NodeRegistered` events and
//! `nodeActive` (staked, key approved), the node's own signed declaration at `GET /info` (endpoint and region;
//! SettlementNodes stores neither — [`verity_node::declaration`]), and the keeper's scoreboard (`/api/nodes`,
//! what the node delivered). Endpoints come from `--node` (a directory of URLs is outside this client); an
//! endpoint whose declaration is not signed by an active node is dropped.
//!
//! **Ranking rule** ([`rank`]): each node gets a cost in seconds (lower first):
//!
//! | term | cost |
//! |---|---|
//! | answer → proof latency | `p50 + (p99 − p50) / 2` from the keeper (unknown: [`prior_latency`]) |
//! | missed deadlines | share of its paid requests refunded × [`MISS_COST`] |
//! | voided batches | (voided + duplicate-voided batches) per request × [`VOID_COST`] |
//! | retries | this client's retries per attempt to it × [`RETRY_COST`] |
//! | recent errors | this client's failures in its last [`RECENT`] attempts, share × [`ERROR_COST`] |
//! | distance | `min(km / 20,000, 1)` × [`DISTANCE_CAP`] |
//!
//! A node without a record is assumed [`UNKNOWN_MARGIN`] (1 h) behind the best candidate with one, at most
//! [`PRIOR_LATENCY`] (8 h, also the prior when no candidate has a record): it is tried after the consistent
//! nodes and before any whose failures cost more than that hour, and a slow record never makes an unknown node
//! look worse than it.
//!
//! Shares are Laplace-smoothed (`count / (n + 1)`) so one sample does not swing a new node. Distance is one
//! input and never the deciding one: its whole range is [`DISTANCE_CAP`] (60 s), so it only orders nodes whose
//! delivered consistency is within a minute of each other — a near node with one missed deadline in ten requests
//! (1/11 × 86,400 ≈ 7,855 s) never outranks a far node without.
//!
//! **Routing.** The request id is chosen once (or given); every retry and every fallback node gets the same id,
//! so a node that did the work but lost its reply answers from its store and nothing runs twice. A refusal
//! (`4xx`) ends the request at once (nothing was signed); `5xx` and timeouts retry the same node
//! `--attempts` times, then fall back to the next. A paid request is bound on chain to one node, so it is routed
//! to that node only (the keeper refunds it at its deadline when the node never answers).
//!
//! Every answer is checked before it is believed: the signed receipt decodes, names the request, the node and
//! the model, its hashes are the Poseidon hashes of the input sent and the output returned
//! ([`verity_zk::model::input_hash`]), and it is signed by the node's declared key.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Signature, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use alloy::transports::http::reqwest;
use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;
use verity_abi::rpc::{IInferenceSettlement, ISettlementNodes};
use verity_abi::settlement::{
    decode_signed_receipt, domain_separator, mode, request_status, signing_hash,
};
use verity_keeper::web::routing::{NodeRouting, RoutingReport};
use verity_node::api::{ErrorBody, InferRequest, InferResponse, NodeInfo, Region};
use verity_zk::field::word_of;
use verity_zk::model::{input_hash, output_hash};

/// The most latency assumed for a node the keeper has no proof latency for, in seconds (8 h; also the prior when
/// no candidate has a record): see [`prior_latency`].
pub const PRIOR_LATENCY: f64 = 8.0 * 3_600.0;
/// Cost of a missed deadline (a refunded paid request), per share of requests: one day.
pub const MISS_COST: f64 = 86_400.0;
/// Cost of voided batches per request: half a day.
pub const VOID_COST: f64 = 43_200.0;
/// Cost of the client's retries per attempt: six hours.
pub const RETRY_COST: f64 = 6.0 * 3_600.0;
/// Cost of recent errors, per share of recent attempts: six hours. With [`RETRY_COST`], a node that fails half
/// its calls (≈ +6 h) ranks behind a node the client knows nothing about ([`prior_latency`]) whatever its own
/// proof latency: a failed call costs the caller a timeout and a retry now, which a slower proof later does not.
pub const ERROR_COST: f64 = 6.0 * 3_600.0;
/// The whole range of the distance term: one minute.
pub const DISTANCE_CAP: f64 = 60.0;
/// Attempts remembered as "recent" per node.
pub const RECENT: usize = 20;

/// One row of the keeper's `/api/nodes` (its `NodeScore`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct KeeperScore {
    /// The node.
    pub node: Address,
    /// Paid requests addressed to it.
    pub requests: u64,
    /// Answered.
    pub answered: u64,
    /// Proven.
    pub proven: u64,
    /// Settled.
    pub settled: u64,
    /// Refunded: no proof by the deadline.
    pub missed_deadlines: u64,
    /// Answer → proof latency, median, seconds.
    pub latency_p50: Option<u64>,
    /// Answer → proof latency, 99th percentile, seconds.
    pub latency_p99: Option<u64>,
    /// Batches voided over its receipts.
    pub voided_batches: u64,
    /// Batches voided for a duplicate request id.
    pub duplicates: u64,
}

/// What this client saw of one node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Attempts sent (first tries and retries).
    pub attempts: u64,
    /// Of which retries.
    pub retries: u64,
    /// The last [`RECENT`] attempts: `true` = failed.
    pub recent: Vec<bool>,
    /// Requests it answered for this client.
    pub answered: u64,
    /// Attempts that failed, over the client's life.
    pub failures: u64,
}

impl Observed {
    fn record(&mut self, failed: bool, retry: bool) {
        self.attempts += 1;
        self.retries += u64::from(retry);
        self.failures += u64::from(failed);
        self.recent.push(failed);
        if self.recent.len() > RECENT {
            self.recent.remove(0);
        }
    }
}

/// A node the client may use.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Its signed declaration.
    pub info: NodeInfo,
    /// The keeper's scoreboard row, if any.
    pub score: Option<KeeperScore>,
    /// This client's observations.
    pub observed: Observed,
}

/// A candidate with its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The node.
    pub candidate: Candidate,
    /// Delivered-consistency cost, seconds.
    pub reliability: f64,
    /// Distance cost, seconds (≤ [`DISTANCE_CAP`]).
    pub distance: f64,
}

impl Ranked {
    /// The total cost.
    pub fn cost(&self) -> f64 {
        self.reliability + self.distance
    }
}

fn share(count: u64, n: u64) -> f64 {
    count as f64 / (n as f64 + 1.0)
}

/// How far behind the best candidate with a record a node without one is assumed to be: one hour.
pub const UNKNOWN_MARGIN: f64 = 3_600.0;

/// The latency term of a node with a record: `p50 + (p99 − p50) / 2`.
fn recorded_latency(score: Option<&KeeperScore>) -> Option<f64> {
    let (p50, p99) = score.and_then(|s| s.latency_p50.zip(s.latency_p99))?;
    Some(p50 as f64 + (p99.saturating_sub(p50)) as f64 / 2.0)
}

/// The latency assumed for a node without a record: the best recorded latency among `candidates` plus
/// [`UNKNOWN_MARGIN`], at most [`PRIOR_LATENCY`].
pub fn prior_latency(candidates: &[Candidate]) -> f64 {
    candidates
        .iter()
        .filter_map(|c| recorded_latency(c.score.as_ref()))
        .fold(PRIOR_LATENCY, |best, l| best.min(l + UNKNOWN_MARGIN))
}

/// The delivered-consistency cost of a node (see the module docs), in seconds; `prior` is the latency assumed
/// when the node has no record ([`prior_latency`]).
pub fn reliability_cost(score: Option<&KeeperScore>, observed: &Observed, prior: f64) -> f64 {
    let latency = recorded_latency(score).unwrap_or(prior);
    let (misses, voids) = score.map_or((0.0, 0.0), |s| {
        (
            share(s.missed_deadlines, s.requests) * MISS_COST,
            share(s.voided_batches + s.duplicates, s.requests) * VOID_COST,
        )
    });
    let retries = share(observed.retries, observed.attempts) * RETRY_COST;
    let failed = observed.recent.iter().filter(|f| **f).count() as u64;
    let errors = share(failed, observed.recent.len() as u64) * ERROR_COST;
    latency + misses + voids + retries + errors
}

/// Great-circle distance in km (Haversine).
pub fn distance_km(a: Region, b: Region) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6_371.0 * h.sqrt().min(1.0).asin()
}

/// The distance cost: `min(km / 20,000, 1) × DISTANCE_CAP` (0 when the client's region is unknown).
pub fn distance_cost(origin: Option<Region>, node: Region) -> f64 {
    origin.map_or(0.0, |o| {
        (distance_km(o, node) / 20_000.0).min(1.0) * DISTANCE_CAP
    })
}

/// Orders `candidates` by cost, lowest first (ties: by address, so the order is stable).
pub fn rank(candidates: Vec<Candidate>, origin: Option<Region>) -> Vec<Ranked> {
    let prior = prior_latency(&candidates);
    let mut ranked: Vec<Ranked> = candidates
        .into_iter()
        .map(|c| Ranked {
            reliability: reliability_cost(c.score.as_ref(), &c.observed, prior),
            distance: distance_cost(origin, c.info.region),
            candidate: c,
        })
        .collect();
    ranked.sort_by(|a, b| {
        a.cost()
            .total_cmp(&b.cost())
            .then(a.candidate.info.node.cmp(&b.candidate.info.node))
    });
    ranked
}

/// Where the client finds things.
#[derive(Debug, Clone)]
pub struct Network {
    /// JSON-RPC URL.
    pub rpc_url: String,
    /// InferenceSettlement.
    pub settlement: Address,
    /// The keeper's base URL (scoreboard, receipts' status).
    pub keeper_url: Option<String>,
    /// Node endpoints to consider.
    pub endpoints: Vec<String>,
}

/// The client: an HTTP client and what it observed of each node (kept across requests).
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    provider: DynProvider,
    network: Network,
    nodes: Address,
    chain_id: u64,
    /// Observations by node.
    pub observed: HashMap<Address, Observed>,
    /// Attempts per node before falling back.
    pub attempts: u32,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

/// What happened to one request.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The node's answer.
    pub answer: InferResponse,
    /// The endpoint that answered.
    pub endpoint: String,
    /// Attempts made in all (1 = first try).
    pub attempts: u32,
}

/// A stage of a request, as printed (ordered: each follows the one before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// The node answered (fast layer).
    Answered,
    /// The keeper anchored the receipt in a batch.
    Anchored,
    /// Proven (paid: `Proven` on chain; unpaid: the batch is final).
    Proven,
    /// Settled: the node was paid.
    Settled,
}

impl Client {
    /// A client of `network`.
    ///
    /// # Errors
    /// The RPC URL is invalid or unreachable.
    pub async fn new(network: Network) -> Result<Self> {
        let provider = ProviderBuilder::new()
            .connect_http(network.rpc_url.parse().context("--rpc-url")?)
            .erased();
        let chain_id = provider.get_chain_id().await.context("eth_chainId")?;
        let nodes = IInferenceSettlement::new(network.settlement, provider.clone())
            .config()
            .call()
            .await
            .context("InferenceSettlement.config")?
            ._2;
        Ok(Self {
            http: reqwest::Client::new(),
            provider,
            network,
            nodes,
            chain_id,
            observed: HashMap::new(),
            attempts: 3,
            timeout: Duration::from_secs(10),
        })
    }

    /// Registered and active nodes (SettlementNodes' events, then `nodeActive`).
    ///
    /// # Errors
    /// The chain is unreachable.
    pub async fn active_nodes(&self) -> Result<Vec<Address>> {
        let logs = self
            .provider
            .get_logs(
                &Filter::new()
                    .address(self.nodes)
                    .event_signature(ISettlementNodes::NodeRegistered::SIGNATURE_HASH)
                    .from_block(0),
            )
            .await
            .context("eth_getLogs NodeRegistered")?;
        let contract = ISettlementNodes::new(self.nodes, self.provider.clone());
        let mut active = Vec::new();
        for node in logs
            .iter()
            .filter_map(|l| ISettlementNodes::NodeRegistered::decode_log_data(l.data()).ok())
            .map(|e| e.node)
        {
            if !active.contains(&node) && contract.nodeActive(node).call().await? {
                active.push(node);
            }
        }
        Ok(active)
    }

    /// The keeper's scoreboard (empty without a keeper or when it cannot be read: ranking then rests on the
    /// client's own observations).
    pub async fn scoreboard(&self) -> Vec<KeeperScore> {
        let Some(url) = &self.network.keeper_url else {
            return Vec::new();
        };
        let res = self
            .http
            .get(format!("{url}/api/nodes"))
            .timeout(self.timeout)
            .send()
            .await;
        match res {
            Ok(r) => r.json().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// Discovery: endpoints whose signed declaration names an active node of this chain, with their scores.
    ///
    /// # Errors
    /// The chain is unreachable.
    pub async fn discover(&self) -> Result<Vec<Candidate>> {
        let active = self.active_nodes().await?;
        let scores = self.scoreboard().await;
        let mut out: Vec<Candidate> = Vec::new();
        for endpoint in &self.network.endpoints {
            let Ok(res) = self
                .http
                .get(format!("{}/info", endpoint.trim_end_matches('/')))
                .timeout(self.timeout)
                .send()
                .await
            else {
                continue;
            };
            let Ok(info) = res.json::<NodeInfo>().await else {
                continue;
            };
            let valid = verity_node::declaration::verify(&info).is_ok()
                && info.chain_id == self.chain_id
                && info.nodes == self.nodes
                && active.contains(&info.node)
                && !out.iter().any(|c| c.info.node == info.node);
            if valid {
                out.push(Candidate {
                    score: scores.iter().find(|s| s.node == info.node).cloned(),
                    observed: self.observed.get(&info.node).cloned().unwrap_or_default(),
                    info,
                });
            }
        }
        Ok(out)
    }

    /// Checks that `answer` is a receipt for `request`, by `info`'s node and key, over the input sent and the
    /// output returned.
    fn check(&self, info: &NodeInfo, request: &InferRequest, answer: &InferResponse) -> Result<()> {
        let signed =
            decode_signed_receipt(&answer.signed).context("the receipt does not decode")?;
        let r = &signed.receipt;
        let input: Vec<i8> = request
            .input
            .iter()
            .map(|v| i8::try_from(*v))
            .collect::<Result<_, _>>()
            .context("input outside int8")?;
        ensure!(
            Some(r.requestId) == request.request_id
                && r.modelVersion == request.model_version
                && r.node == info.node,
            "the receipt names another request, model or node"
        );
        ensure!(
            r.inputHash == word_of(input_hash(&input))
                && r.outputHash == word_of(output_hash(&answer.output)),
            "the receipt's hashes are not those of the input sent and the output returned"
        );
        let digest = signing_hash(domain_separator(self.chain_id, self.network.settlement), r);
        let mut raw = [0u8; 65];
        raw[..32].copy_from_slice(signed.r.as_slice());
        raw[32..64].copy_from_slice(signed.s.as_slice());
        raw[64] = signed.v;
        let signer = Signature::try_from(&raw[..])
            .ok()
            .and_then(|s| s.recover_address_from_prehash(&digest).ok());
        ensure!(
            signer == Some(info.signing_key),
            "the receipt is not signed by the node's declared key"
        );
        Ok(())
    }

    fn record(&mut self, node: Address, failed: bool, retry: bool) {
        self.observed.entry(node).or_default().record(failed, retry);
    }

    /// Sends `request` (its id set) to the ranked nodes in order: retries on `5xx` / timeouts with the same id,
    /// falls back to the next node, stops at a refusal.
    ///
    /// # Errors
    /// A refusal (the node's one line), or every node failed.
    pub async fn route(&mut self, ranked: &[Ranked], request: &InferRequest) -> Result<Routed> {
        ensure!(
            request.request_id.is_some(),
            "the request id is chosen before routing"
        );
        ensure!(
            !ranked.is_empty(),
            "no usable node (check --node and the nodes' registration)"
        );
        let mut total = 0;
        let mut last = String::new();
        for r in ranked {
            let info = &r.candidate.info;
            for attempt in 0..self.attempts {
                total += 1;
                let retry = attempt > 0;
                let res = self
                    .http
                    .post(format!("{}/infer", info.endpoint.trim_end_matches('/')))
                    .json(request)
                    .timeout(self.timeout)
                    .send()
                    .await;
                let res = match res {
                    Ok(res) => res,
                    Err(e) => {
                        self.record(info.node, true, retry);
                        last = format!("{}: {e}", info.endpoint);
                        continue;
                    }
                };
                let status = res.status();
                if status.is_success() {
                    let answer: Result<InferResponse> =
                        res.json().await.context("the node's answer is not JSON");
                    match answer.and_then(|a| self.check(info, request, &a).map(|()| a)) {
                        Ok(answer) => {
                            self.record(info.node, false, retry);
                            self.observed.entry(info.node).or_default().answered += 1;
                            return Ok(Routed {
                                answer,
                                endpoint: info.endpoint.clone(),
                                attempts: total,
                            });
                        }
                        Err(e) => {
                            // A wrong answer is not retried at the same node.
                            self.record(info.node, true, retry);
                            last = format!("{}: {e:#}", info.endpoint);
                            break;
                        }
                    }
                }
                let body: Option<ErrorBody> = res.json().await.ok();
                let detail = body.map_or_else(
                    || status.to_string(),
                    |b| format!("{}: {}", b.error, b.detail),
                );
                if status.is_client_error() {
                    self.record(info.node, false, retry);
                    bail!("refused by {}: {detail}", info.endpoint);
                }
                self.record(info.node, true, retry);
                last = format!("{}: {detail}", info.endpoint);
            }
        }
        bail!("no node answered after {total} attempts; last: {last}")
    }

    /// This client's observations as a routing report (nodes in address order).
    pub fn routing_report(&self, client: &str) -> RoutingReport {
        let mut nodes: Vec<NodeRouting> = self
            .observed
            .iter()
            .map(|(node, o)| NodeRouting {
                node: *node,
                answered: o.answered,
                attempts: o.attempts,
                retries: o.retries,
                failures: o.failures,
            })
            .collect();
        nodes.sort_by_key(|n| n.node);
        RoutingReport {
            client: client.into(),
            nodes,
        }
    }

    /// Posts [`Self::routing_report`] to the keeper's `POST /api/routing` (its status page shows the routing
    /// share per node); without a keeper, nothing.
    ///
    /// # Errors
    /// The keeper is unreachable or refuses the report (e.g. it was not started with
    /// `--accept-routing-reports`).
    pub async fn report_routing(&self, client: &str) -> Result<()> {
        let Some(url) = &self.network.keeper_url else {
            return Ok(());
        };
        let res = self
            .http
            .post(format!("{url}/api/routing"))
            .json(&self.routing_report(client))
            .timeout(self.timeout)
            .send()
            .await
            .context("posting the routing report to the keeper")?;
        let status = res.status();
        if !status.is_success() {
            let body = res.text().await.unwrap_or_default();
            bail!("the keeper refused the routing report ({status}): {body}");
        }
        Ok(())
    }

    /// The paid request `id`'s status on chain.
    ///
    /// # Errors
    /// The call failed.
    pub async fn request_status(&self, id: B256) -> Result<u8> {
        Ok(
            IInferenceSettlement::new(self.network.settlement, self.provider.clone())
                .getRequest(id)
                .call()
                .await?
                ._6,
        )
    }

    /// The keeper's off-chain status of the receipt of `id` (`Answered`, `Anchored`, `Final`, `Voided`, …).
    pub async fn receipt_status(&self, id: B256) -> Option<String> {
        let url = self.network.keeper_url.as_ref()?;
        let v: serde_json::Value = self
            .http
            .get(format!("{url}/receipts/{id}"))
            .timeout(self.timeout)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        v["status"].as_str().map(str::to_owned)
    }

    /// The stage request `id` reached (paid: from the chain; unpaid: from the keeper).
    ///
    /// # Errors
    /// The chain is unreachable.
    pub async fn stage(&self, id: B256, paid: bool) -> Result<Stage> {
        if paid {
            return Ok(match self.request_status(id).await? {
                request_status::PROVEN => Stage::Proven,
                request_status::SETTLED => Stage::Settled,
                _ => match self.receipt_status(id).await.as_deref() {
                    Some("Anchored" | "Final") => Stage::Anchored,
                    _ => Stage::Answered,
                },
            });
        }
        Ok(match self.receipt_status(id).await.as_deref() {
            Some("Final") => Stage::Proven,
            Some("Anchored") => Stage::Anchored,
            _ => Stage::Answered,
        })
    }

    /// Opens paid request `id` to `node` as `payer` for `fee`; already open (a retry) is fine.
    ///
    /// # Errors
    /// The transaction failed.
    pub async fn pay(
        &self,
        payer: &PrivateKeySigner,
        id: B256,
        node: Address,
        request: &InferRequest,
        fee: U256,
        receipt_mode: u8,
    ) -> Result<()> {
        if self.request_status(id).await? != request_status::NONE {
            return Ok(());
        }
        let input: Vec<i8> = request
            .input
            .iter()
            .map(|v| i8::try_from(*v))
            .collect::<Result<_, _>>()
            .context("input outside int8")?;
        let wallet = crate::client::wallet(&self.network.rpc_url, payer)?;
        let settlement = IInferenceSettlement::new(self.network.settlement, wallet);
        crate::client::send_with_headroom(
            settlement
                .request(
                    id,
                    node,
                    request.model_version,
                    word_of(input_hash(&input)),
                    receipt_mode,
                )
                .value(fee),
            "request",
        )
        .await?;
        Ok(())
    }
}

/// Arguments of `verity infer`.
#[derive(Debug, Clone, clap::Args)]
pub struct InferArgs {
    /// JSON-RPC endpoint.
    #[arg(long, env = "VERITY_RPC_URL", default_value = "http://127.0.0.1:8547")]
    pub rpc_url: String,
    /// InferenceSettlement's address.
    #[arg(long, env = "VERITY_SETTLEMENT")]
    pub settlement: Address,
    /// The keeper's base URL (scoreboard and receipt status).
    #[arg(long, env = "VERITY_KEEPER_URL")]
    pub keeper_url: Option<String>,
    /// A node endpoint to consider (repeat, or comma-separated).
    #[arg(
        long = "node",
        env = "VERITY_NODES",
        value_delimiter = ',',
        required = true
    )]
    pub nodes: Vec<String>,
    /// The model version id.
    #[arg(long)]
    pub model_version: U256,
    /// The input: comma-separated int8 values.
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        required = true
    )]
    pub input: Vec<i64>,
    /// The request id (default: random; a retry of a lost request should pass the same one).
    #[arg(long)]
    pub request_id: Option<B256>,
    /// Pay this fee (wei) for an on-chain request (needs --payer-key).
    #[arg(long)]
    pub fee: Option<U256>,
    /// The payer's key (hex) for a paid request.
    #[arg(long, env = "VERITY_PAYER_KEY", hide_env_values = true)]
    pub payer_key: Option<String>,
    /// Receipt mode of a paid request: `tee` (proven by the keeper's batches) or `zk` (a Groth16 proof).
    #[arg(long, default_value = "tee", value_parser = ["tee", "zk"])]
    pub mode: String,
    /// Wait until the request reaches this stage: `answered`, `proven` or `settled`.
    #[arg(long, default_value = "answered", value_parser = ["answered", "proven", "settled"])]
    pub require: String,
    /// Longest wait for `--require`, in seconds.
    #[arg(long, default_value_t = 600)]
    pub wait_secs: u64,
    /// The client's region `<lat>,<lon>` (distance is one ranking input).
    #[arg(long)]
    pub region: Option<String>,
    /// Attempts per node before falling back to the next.
    #[arg(long, default_value_t = 3)]
    pub attempts: u32,
    /// Timeout of one attempt, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
}

fn parse_region(text: &str) -> Result<Region> {
    let (lat, lon) = text.split_once(',').context("--region is <lat>,<lon>")?;
    Ok(Region {
        lat: lat.trim().parse().context("--region latitude")?,
        lon: lon.trim().parse().context("--region longitude")?,
    })
}

/// `verity infer`: discover, rank, (pay,) route, then follow the request to `--require`, printing each stage.
///
/// # Errors
/// Discovery, a refusal, every node failing, a timeout waiting for the stage.
pub async fn main(args: &InferArgs) -> Result<()> {
    let mut client = Client::new(Network {
        rpc_url: args.rpc_url.clone(),
        settlement: args.settlement,
        keeper_url: args.keeper_url.clone(),
        endpoints: args.nodes.clone(),
    })
    .await?;
    client.attempts = args.attempts.max(1);
    client.timeout = Duration::from_millis(args.timeout_ms);
    let origin = args.region.as_deref().map(parse_region).transpose()?;
    let ranked = rank(client.discover().await?, origin);
    for (i, r) in ranked.iter().enumerate() {
        println!(
            "node {i}: {} {} cost {:.0}s (reliability {:.0}s, distance {:.0}s)",
            r.candidate.info.node,
            r.candidate.info.endpoint,
            r.cost(),
            r.reliability,
            r.distance
        );
    }
    let id = args
        .request_id
        .unwrap_or_else(verity_node::service::random_id);
    let request = InferRequest {
        model_version: args.model_version,
        input: args.input.clone(),
        request_id: Some(id),
    };
    let paid = args.fee.is_some();
    let targets: &[Ranked] = if let Some(fee) = args.fee {
        let key: PrivateKeySigner = args
            .payer_key
            .as_deref()
            .context("--fee needs --payer-key / VERITY_PAYER_KEY")?
            .trim()
            .parse()
            .context("--payer-key is not a hex private key")?;
        let first = ranked.first().context("no usable node")?;
        let receipt_mode = if args.mode == "zk" {
            mode::ZK
        } else {
            mode::TEE
        };
        client
            .pay(
                &key,
                id,
                first.candidate.info.node,
                &request,
                fee,
                receipt_mode,
            )
            .await?;
        println!(
            "paid       request {id} to {} ({fee} wei)",
            first.candidate.info.node
        );
        &ranked[..1]
    } else {
        &ranked
    };
    let started = Instant::now();
    let routed = client.route(targets, &request).await?;
    println!(
        "answered   {id} by {} in {} ms ({} attempt(s)): output {:?}",
        routed.endpoint,
        started.elapsed().as_millis(),
        routed.attempts,
        routed.answer.output
    );
    let want = match args.require.as_str() {
        "settled" => Stage::Settled,
        "proven" => Stage::Proven,
        _ => Stage::Answered,
    };
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    let mut seen = Stage::Answered;
    while seen < want {
        let stage = client.stage(id, paid).await?;
        if stage > seen {
            seen = stage;
            println!(
                "{:<10} {id} after {} ms",
                format!("{stage:?}").to_lowercase(),
                started.elapsed().as_millis()
            );
        }
        if seen >= want {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "request {id} is {seen:?} after {}s (wanted {want:?})",
            args.wait_secs
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node at `region` with the keeper's `score` (a recorded scoreboard row).
    fn candidate(byte: u8, region: Region, score: Option<KeeperScore>) -> Candidate {
        Candidate {
            info: NodeInfo {
                node: Address::repeat_byte(byte),
                signing_key: Address::ZERO,
                chain_id: 1,
                nodes: Address::ZERO,
                endpoint: format!("http://node-{byte}"),
                region,
                signature: Default::default(),
                runtimes: vec!["VZK1".into()],
                zk_prover: false,
            },
            score,
            observed: Observed::default(),
        }
    }

    const BERLIN: Region = Region {
        lat: 52.52,
        lon: 13.405,
    };
    const SYDNEY: Region = Region {
        lat: -33.87,
        lon: 151.21,
    };

    /// A scoreboard as the keeper serves it at `/api/nodes` (recorded from `verity dev`).
    const RECORDED: &str = r#"[
      {"node":"0x0101010101010101010101010101010101010101","requests":40,"answered":40,"proven":36,"settled":30,
       "missed_deadlines":4,"latency_p50":21700,"latency_p99":22100,"voided_batches":0,"duplicates":0},
      {"node":"0x0202020202020202020202020202020202020202","requests":40,"answered":40,"proven":40,"settled":33,
       "missed_deadlines":0,"latency_p50":21900,"latency_p99":23500,"voided_batches":0,"duplicates":0},
      {"node":"0x0303030303030303030303030303030303030303","requests":40,"answered":40,"proven":40,"settled":33,
       "missed_deadlines":0,"latency_p50":21850,"latency_p99":22000,"voided_batches":1,"duplicates":1}
    ]"#;

    fn recorded() -> Vec<KeeperScore> {
        serde_json::from_str(RECORDED).unwrap()
    }

    #[test]
    fn the_keepers_scoreboard_rows_parse() {
        let row = verity_keeper::index::NodeScore {
            node: Address::repeat_byte(9),
            requests: 3,
            answered: 2,
            proven: 1,
            settled: 1,
            missed_deadlines: 1,
            latency_p50: Some(10),
            latency_p99: None,
            voided_batches: 2,
            duplicates: 1,
        };
        let parsed: KeeperScore =
            serde_json::from_value(serde_json::to_value(&row).unwrap()).unwrap();
        assert_eq!(
            parsed,
            KeeperScore {
                node: Address::repeat_byte(9),
                requests: 3,
                answered: 2,
                proven: 1,
                settled: 1,
                missed_deadlines: 1,
                latency_p50: Some(10),
                latency_p99: None,
                voided_batches: 2,
                duplicates: 1,
            }
        );
    }

    #[test]
    fn a_near_node_that_missed_deadlines_loses_to_a_far_consistent_one() {
        let s = recorded();
        // Node 1 is next door (Berlin), node 2 across the world; node 1 missed 4 of 40 deadlines.
        let ranked = rank(
            vec![
                candidate(1, BERLIN, Some(s[0].clone())),
                candidate(2, SYDNEY, Some(s[1].clone())),
            ],
            Some(BERLIN),
        );
        assert_eq!(ranked[0].candidate.info.node, Address::repeat_byte(2));
        assert!(ranked[1].distance < 1.0 && ranked[0].distance > 40.0);
    }

    #[test]
    fn distance_orders_only_nodes_of_equal_consistency() {
        let s = recorded();
        let twin = KeeperScore {
            node: Address::repeat_byte(4),
            ..s[1].clone()
        };
        let ranked = rank(
            vec![
                candidate(2, SYDNEY, Some(s[1].clone())),
                candidate(4, BERLIN, Some(twin)),
            ],
            Some(BERLIN),
        );
        assert_eq!(ranked[0].candidate.info.node, Address::repeat_byte(4));
        // The whole distance range never exceeds the cap.
        assert!(distance_cost(Some(BERLIN), SYDNEY) <= DISTANCE_CAP);
        assert_eq!(distance_cost(None, SYDNEY), 0.0);
    }

    #[test]
    fn voided_batches_and_retries_cost_more_than_a_wider_latency_spread() {
        let s = recorded();
        // Node 3 has the tightest latency but two voided batches; node 2 a wider p99 and none.
        let ranked = rank(
            vec![
                candidate(3, BERLIN, Some(s[2].clone())),
                candidate(2, BERLIN, Some(s[1].clone())),
            ],
            None,
        );
        assert_eq!(ranked[0].candidate.info.node, Address::repeat_byte(2));
        // This client's own retries to node 2 push it below node 3.
        let mut retried = candidate(2, BERLIN, Some(s[1].clone()));
        for i in 0..10 {
            retried.observed.record(i % 2 == 0, i % 2 == 1);
        }
        let ranked = rank(
            vec![candidate(3, BERLIN, Some(s[2].clone())), retried],
            None,
        );
        assert_eq!(ranked[0].candidate.info.node, Address::repeat_byte(3));
    }

    #[test]
    fn an_unknown_node_ranks_behind_a_proven_one_and_ahead_of_a_failing_one() {
        let s = recorded();
        let mut failing = candidate(5, BERLIN, None);
        for _ in 0..RECENT {
            failing.observed.record(true, true);
        }
        let ranked = rank(
            vec![
                failing,
                candidate(6, BERLIN, None),
                candidate(2, BERLIN, Some(s[1].clone())),
            ],
            None,
        );
        let order: Vec<u8> = ranked.iter().map(|r| r.candidate.info.node.0[0]).collect();
        assert_eq!(order, vec![2, 6, 5]);
    }

    #[test]
    fn a_node_failing_half_its_calls_ranks_behind_an_unknown_one_despite_fast_proofs() {
        let s = recorded();
        // Node 2's proofs are the fastest known (≈ 6 h), but it failed every other call of this client, which
        // then retried; node 7 is unknown (8 h prior) and farther away.
        let mut flaky = candidate(2, BERLIN, Some(s[1].clone()));
        for i in 0..RECENT {
            let failed = i % 2 == 0;
            flaky.observed.record(failed, !failed);
        }
        let ranked = rank(vec![flaky, candidate(7, SYDNEY, None)], Some(BERLIN));
        let order: Vec<u8> = ranked.iter().map(|r| r.candidate.info.node.0[0]).collect();
        assert_eq!(order, vec![7, 2], "{ranked:?}");
    }

    #[test]
    fn an_unknown_node_is_assumed_an_hour_behind_the_best_record_and_never_behind_a_slow_one() {
        let fast = KeeperScore {
            node: Address::repeat_byte(1),
            requests: 5,
            answered: 5,
            proven: 5,
            latency_p50: Some(1),
            latency_p99: Some(3),
            ..KeeperScore::default()
        };
        let slow = KeeperScore {
            node: Address::repeat_byte(2),
            latency_p50: Some(7 * 86_400),
            latency_p99: Some(7 * 86_400),
            ..fast.clone()
        };
        let candidates = vec![
            candidate(1, BERLIN, Some(fast)),
            candidate(2, BERLIN, Some(slow)),
            candidate(3, BERLIN, None),
        ];
        assert_eq!(prior_latency(&candidates), 2.0 + UNKNOWN_MARGIN);
        assert_eq!(prior_latency(&candidates[1..]), PRIOR_LATENCY);
        assert_eq!(prior_latency(&candidates[2..]), PRIOR_LATENCY);
        let order: Vec<u8> = rank(candidates.clone(), None)
            .iter()
            .map(|r| r.candidate.info.node.0[0])
            .collect();
        assert_eq!(order, vec![1, 3, 2]);
        // The fast node failing half its calls falls behind the unknown one (proofs in seconds, as in `verity dev`).
        let mut flaky = candidates[0].clone();
        for i in 0..RECENT {
            let failed = i % 2 == 0;
            flaky.observed.record(failed, !failed);
        }
        let order: Vec<u8> = rank(vec![flaky, candidates[2].clone()], Some(BERLIN))
            .iter()
            .map(|r| r.candidate.info.node.0[0])
            .collect();
        assert_eq!(order, vec![3, 1]);
    }

    #[test]
    fn recent_errors_are_a_window() {
        let mut o = Observed::default();
        for _ in 0..RECENT {
            o.record(true, false);
        }
        for _ in 0..RECENT {
            o.record(false, false);
        }
        assert_eq!(o.recent.len(), RECENT);
        assert!(o.recent.iter().all(|f| !f));
        assert_eq!(o.attempts, 2 * RECENT as u64);
    }
}
