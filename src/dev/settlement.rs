//! `verity dev`'s settlement traffic, through real inference: three `verity-node` processes ([`super::nodes`])
//! run the registered `VZK1` model; the client of `verity infer` ([`crate::infer`]) ranks them by delivered
//! consistency and routes each request, retrying under the same request id and falling back to the next node.
//! Each round:
//! - one **paid request** to the best-ranked node (the payer opens it on chain, the node runs the model, answers
//!   on chain and posts its receipt; the keeper anchors it, finalizes the batch, proves the request by batch and
//!   settles it);
//! - [`UNPAID_PER_ROUND`] **unpaid inferences** (the fast layer), each routed to the best node at that moment;
//! - every [`UNANSWERED_EVERY`] rounds, a paid request to a fourth node that registered and then went offline
//!   (no process): the keeper refunds it at its deadline and the node is slashed;
//! - once, governance — also an allowed batch keeper — anchors a batch of forged receipts (signed by a key
//!   nobody approved), which the keeper's challenge watcher voids.
//!
//! Then the round waits until the keeper has anchored every receipt, moves the chain past the batches'
//! challenge window and waits until the round's answered paid requests are proven: answer → proof latency on
//! the keeper's scoreboard is the real pipeline's (challenge window + anchoring), not the demo's week per round.
//! After every round the client posts its routing report to the keeper (status page: routing share per node).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use anyhow::{ensure, Context, Result};
use verity_abi::rpc::{key_registration_proof, IReceiptBatches, ISettlementNodes};
use verity_abi::settlement::{
    batch_status, batches::BatchAnchored, mode, request_status, signed_leaf_hash, Receipt,
    StandardMerkleTree,
};
use verity_node::api::InferRequest;

use super::nodes::{Fleet, CLIENT_REGION};
use super::{Progress, World, KEEPER_ACCOUNT, KEEPER_PATIENCE};
use crate::client::{chain_time, send_with_headroom, sign_receipt, travel};
use crate::infer::{rank, Client, Network};

/// The account of the node that registers and then goes offline.
const OFFLINE_NODE: usize = 9;
/// The account paying for requests (its own: the client sends its transactions through a provider of its own).
const PAYER: usize = 7;
/// Governance of the settlement contracts, and a batch keeper of its own (the forged batch comes from it).
const GOVERNANCE: usize = 0;
/// Unpaid inferences per round.
pub(super) const UNPAID_PER_ROUND: u64 = 6;
/// Every this many rounds a paid request goes to the offline node.
const UNANSWERED_EVERY: u64 = 3;
/// The round in which the forged batch is anchored.
const FORGED_ROUND: u64 = 2;
/// The label of the dev client's routing reports.
pub(super) const CLIENT_LABEL: &str = "verity dev";

/// The settlement side of the traffic.
pub(super) struct SettlementTraffic {
    fleet: Fleet,
    client: Client,
    chain_id: u64,
    settlement: Address,
    batches: Address,
    offline: Address,
    payer: PrivateKeySigner,
    fee: U256,
    next_request: u64,
    rounds: u64,
    data_dir: PathBuf,
    /// The round and the node of each answered request, in order (the routing record for the summary).
    pub(super) answered_by: Vec<(u64, Address)>,
    /// Paid requests no node answered (refunded at their deadline).
    pub(super) unanswered_paid: u64,
    /// Wall time from sending each answered request to its verified answer (retries and fallbacks included).
    pub(super) answer_times: Vec<Duration>,
    /// The client's retries in each round.
    pub(super) retries_by_round: Vec<u64>,
}

impl SettlementTraffic {
    /// Governance lets the keeper service anchor batches; the node fleet starts (each node stakes and proves its
    /// key; governance approves the keys); the offline node registers; the client connects.
    pub(super) async fn new(
        world: &World,
        keeper_url: String,
        node_bin: &Path,
        data_dir: PathBuf,
    ) -> Result<Self> {
        let settlement = world.address("settlement")?;
        let batches = world.address("settlement-batches")?;
        let nodes_at = world.address("settlement-nodes")?;
        let chain_id = world.wallets[GOVERNANCE].get_chain_id().await?;
        let gov_batches = IReceiptBatches::new(batches, world.wallets[GOVERNANCE].clone());
        let keeper = world.accounts[KEEPER_ACCOUNT].address();
        if !gov_batches.isKeeper(keeper).call().await? {
            send_with_headroom(gov_batches.setKeeper(keeper, true), "setKeeper").await?;
        }
        let fleet = Fleet::start(world, node_bin, &keeper_url, &data_dir.join("nodes")).await?;
        let offline = register_offline_node(world, chain_id, nodes_at).await?;
        let client = Client::new(Network {
            rpc_url: world.url.clone(),
            settlement,
            keeper_url: Some(keeper_url),
            endpoints: fleet.nodes.iter().map(|n| n.url.clone()).collect(),
        })
        .await?;
        Ok(Self {
            fleet,
            client,
            chain_id,
            settlement,
            batches,
            offline,
            payer: world.accounts[PAYER].clone(),
            fee: U256::from(1_000_000_000_000_000u64),
            next_request: 1,
            rounds: 0,
            data_dir,
            answered_by: Vec::new(),
            unanswered_paid: 0,
            answer_times: Vec::new(),
            retries_by_round: Vec::new(),
        })
    }

    /// What the client observed of `node`: `(attempts, retries, failures)`.
    pub(super) fn observed(&self, node: Address) -> (u64, u64, u64) {
        self.client
            .observed
            .get(&node)
            .map_or((0, 0, 0), |o| (o.attempts, o.retries, o.failures))
    }

    /// The fleet (names, addresses, URLs).
    pub(super) fn fleet(&self) -> &Fleet {
        &self.fleet
    }

    /// Fails when a node process has exited.
    pub(super) fn check_alive(&mut self) -> Result<()> {
        self.fleet.check_alive()
    }

    fn request_id(&mut self) -> B256 {
        let id = keccak256(format!("verity dev request {}", self.next_request));
        self.next_request += 1;
        id
    }

    /// An input for `id`: four int8 values derived from it.
    fn input(id: B256) -> Vec<i64> {
        id.0[..4].iter().map(|b| i64::from(*b as i8)).collect()
    }

    /// One round against `model` (a registered `VZK1` version); returns the chain seconds it travelled (the
    /// caller's week per round includes them).
    pub(super) async fn round(
        &mut self,
        world: &World,
        progress: &mut Progress,
        model: U256,
    ) -> Result<u64> {
        self.rounds += 1;
        let retries_before: u64 = self.client.observed.values().map(|o| o.retries).sum();
        let candidates = self.client.discover().await?;
        ensure!(
            !candidates.is_empty(),
            "no inference node is discoverable (chain, declaration and keeper disagree)"
        );
        let mut answered = Vec::new();
        let mut paid = Vec::new();
        // A paid request to the best-ranked node, routed to that node only (it is bound on chain).
        let best = rank(candidates.clone(), Some(CLIENT_REGION));
        let id = self.request_id();
        let request = InferRequest {
            model_version: model,
            input: Self::input(id),
            request_id: Some(id),
        };
        let node = best[0].candidate.info.node;
        self.client
            .pay(&self.payer, id, node, &request, self.fee, mode::TEE)
            .await
            .context("paying a request")?;
        progress.requests += 1;
        let sent = Instant::now();
        match self.client.route(&best[..1], &request).await {
            Ok(_) => {
                self.answer_times.push(sent.elapsed());
                self.answered_by.push((self.rounds, node));
                answered.push(id);
                paid.push(id);
            }
            // Refunded at its deadline, and the node slashed: what a node that cannot answer earns.
            Err(_) => self.unanswered_paid += 1,
        }
        // Every third round a paid request to the offline node: refunded at its deadline.
        if self.rounds.is_multiple_of(UNANSWERED_EVERY) {
            let ignored = self.request_id();
            let request = InferRequest {
                model_version: model,
                input: Self::input(ignored),
                request_id: Some(ignored),
            };
            self.client
                .pay(
                    &self.payer,
                    ignored,
                    self.offline,
                    &request,
                    self.fee,
                    mode::TEE,
                )
                .await
                .context("paying the offline node")?;
            progress.requests += 1;
        }
        // Unpaid inferences, each to the best node given what the client has seen so far.
        for _ in 0..UNPAID_PER_ROUND {
            let mut now = candidates.clone();
            for c in &mut now {
                c.observed = self
                    .client
                    .observed
                    .get(&c.info.node)
                    .cloned()
                    .unwrap_or_default();
            }
            let ranked = rank(now, Some(CLIENT_REGION));
            let id = self.request_id();
            let request = InferRequest {
                model_version: model,
                input: Self::input(id),
                request_id: Some(id),
            };
            let sent = Instant::now();
            let routed = self
                .client
                .route(&ranked, &request)
                .await
                .context("routing an unpaid inference (every node failed)")?;
            self.answer_times.push(sent.elapsed());
            let by = ranked
                .iter()
                .find(|r| r.candidate.info.endpoint == routed.endpoint)
                .map(|r| r.candidate.info.node)
                .context("the answering endpoint is one of the ranked nodes")?;
            self.answered_by.push((self.rounds, by));
            answered.push(id);
        }
        progress.receipts += answered.len() as u64;
        let retries_after: u64 = self.client.observed.values().map(|o| o.retries).sum();
        self.retries_by_round.push(retries_after - retries_before);
        self.client.report_routing(CLIENT_LABEL).await?;
        let now = chain_time(&world.wallets[GOVERNANCE]).await?;
        let forged = if self.rounds == FORGED_ROUND {
            Some(self.anchor_forged_batch(world, model, now).await?)
        } else {
            None
        };
        self.wait_anchored(world, &answered, &paid, forged).await?;
        if !world.travels {
            return Ok(0);
        }
        // Past the batches' challenge window: the keeper finalizes them and proves the paid requests.
        let window = IReceiptBatches::new(self.batches, world.wallets[GOVERNANCE].clone())
            .config()
            .call()
            .await?
            ._3;
        let travelled = window + 1;
        travel(&world.wallets[GOVERNANCE], travelled).await?;
        self.wait_proven(world, &answered, &paid).await?;
        Ok(travelled)
    }

    /// Waits until the keeper has anchored every answered request's receipt (nodes post them from their delivery
    /// loops), every answered paid request is answered on chain, and the forged batch is voided.
    async fn wait_anchored(
        &mut self,
        world: &World,
        answered: &[B256],
        paid: &[B256],
        forged: Option<U256>,
    ) -> Result<()> {
        let deadline = Instant::now() + KEEPER_PATIENCE;
        loop {
            self.fleet.check_alive()?;
            let mut waiting = 0;
            for id in answered {
                let status = self.client.receipt_status(*id).await.unwrap_or_default();
                if status.is_empty() || status == "Answered" {
                    waiting += 1;
                }
            }
            for id in paid {
                if self.client.request_status(*id).await? == request_status::REQUESTED {
                    waiting += 1;
                }
            }
            let forged_open = match forged {
                Some(batch) => {
                    IReceiptBatches::new(self.batches, world.wallets[GOVERNANCE].clone())
                        .batch(batch)
                        .call()
                        .await?
                        ._5
                        != batch_status::VOIDED
                }
                None => false,
            };
            if waiting == 0 && !forged_open {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "{waiting} receipt(s) or answer(s) still missing{} after {}s; see the keeper's and nodes' logs",
                if forged_open {
                    " and the forged batch unchallenged"
                } else {
                    ""
                },
                KEEPER_PATIENCE.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until every answered receipt's batch is final and every answered paid request is proven.
    async fn wait_proven(&self, world: &World, answered: &[B256], paid: &[B256]) -> Result<()> {
        let deadline = Instant::now() + KEEPER_PATIENCE;
        let mut polls = 0u32;
        loop {
            let mut waiting = 0;
            for id in answered {
                if self.client.receipt_status(*id).await.as_deref() != Some("Final") {
                    waiting += 1;
                }
            }
            for id in paid {
                let s = self.client.request_status(*id).await?;
                if s != request_status::PROVEN && s != request_status::SETTLED {
                    waiting += 1;
                }
            }
            if waiting == 0 {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "{waiting} receipt(s) not final or paid request(s) not proven after {}s; see the keeper's log",
                KEEPER_PATIENCE.as_secs()
            );
            polls += 1;
            if polls.is_multiple_of(5) {
                // devnode's clock stands still without blocks: mine one now and then.
                travel(&world.wallets[GOVERNANCE], 0).await?;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Governance, an allowed batch keeper too, anchors two receipts signed by an enclave key nobody approved,
    /// publishing the leaves where the anchor's data URI says; returns the batch id.
    async fn anchor_forged_batch(&mut self, world: &World, model: U256, now: u64) -> Result<U256> {
        let rogue = PrivateKeySigner::random();
        let mut data = Vec::new();
        let mut leaves = Vec::new();
        for _ in 0..2 {
            let id = self.request_id();
            let receipt = Receipt {
                requestId: id,
                modelVersion: model,
                inputHash: keccak256(id),
                outputHash: keccak256(keccak256(id)),
                payer: Address::ZERO,
                node: self.offline,
                fee: U256::ZERO,
                mode: mode::TEE,
                signedAt: now,
            };
            let signed = sign_receipt(&rogue, self.chain_id, self.settlement, &receipt)?;
            let decoded = verity_abi::settlement::decode_signed_receipt(&signed)
                .context("a receipt just encoded decodes")?;
            leaves.push(signed_leaf_hash(&decoded));
            data.extend_from_slice(&signed);
        }
        let tree = StandardMerkleTree::new(&leaves).context("two leaves make a tree")?;
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating {}", self.data_dir.display()))?;
        let path = self.data_dir.join("forged-batch.bin");
        std::fs::write(&path, &data).with_context(|| format!("writing {}", path.display()))?;
        let batches = IReceiptBatches::new(self.batches, world.wallets[GOVERNANCE].clone());
        let bond = batches.config().call().await?._4;
        let receipt = send_with_headroom(
            batches
                .anchorBatch(tree.root(), 2, format!("file://{}", path.display()))
                .value(bond),
            "anchorBatch",
        )
        .await?;
        receipt
            .inner
            .logs()
            .iter()
            .find_map(|l| BatchAnchored::decode_log_data(l.data()).ok())
            .map(|e| e.batchId)
            .context("no BatchAnchored event")
    }
}

/// The node that registers (stake, key proof, approved key) and then runs no process; returns its address.
async fn register_offline_node(world: &World, chain_id: u64, nodes_at: Address) -> Result<Address> {
    let gov = ISettlementNodes::new(nodes_at, world.wallets[GOVERNANCE].clone());
    let min_stake = gov.config().call().await?._5;
    let tee = PrivateKeySigner::random();
    let node = world.accounts[OFFLINE_NODE].address();
    let as_node = ISettlementNodes::new(nodes_at, world.wallets[OFFLINE_NODE].clone());
    let key_proof = key_registration_proof(&tee, chain_id, nodes_at, node)?;
    send_with_headroom(
        as_node
            .registerNode(tee.address(), key_proof)
            .value(min_stake),
        "registerNode",
    )
    .await?;
    send_with_headroom(
        gov.approveKey(tee.address(), keccak256(b"verity dev enclave")),
        "approveKey",
    )
    .await?;
    ensure!(
        gov.nodeActive(node).call().await?,
        "the offline node {node} is not active after registering and approval"
    );
    Ok(node)
}
