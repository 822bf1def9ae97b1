//! `verity dev`'s settlement traffic: two inference nodes (staked, TEE keys approved by governance) sign EIP-712
//! receipts for a registered model and post them to the keeper's intake; a payer opens paid requests that a
//! node answers (the keeper anchors the receipt, finalizes the batch, proves the request by batch and settles
//! it) or never answers (the keeper refunds it at its deadline and the node is slashed); once, another batch
//! keeper anchors a batch of forged receipts, which the keeper's challenge watcher voids.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use alloy::transports::http::reqwest;
use anyhow::{bail, ensure, Context, Result};
use verity_abi::rpc::{
    key_registration_proof, IInferenceSettlement, IReceiptBatches, ISettlementNodes,
};
use verity_abi::settlement::{
    batch_status, batches::BatchAnchored, mode, signed_leaf_hash, Receipt, StandardMerkleTree,
};

use super::{Progress, World, KEEPER_ACCOUNT, KEEPER_PATIENCE};
use crate::client::{chain_time, send_with_headroom, sign_receipt};

/// Accounts of the inference nodes (they stake and send `answer`).
const NODE_ACCOUNTS: [usize; 2] = [9, 2];
/// The account paying for requests.
const PAYER: usize = 1;
/// Governance of the settlement contracts, and a batch keeper of its own (the forged batch comes from it).
const GOVERNANCE: usize = 0;
/// Unpaid receipts each node posts per round.
const RECEIPTS_PER_NODE: u64 = 3;
/// Every this many rounds a paid request goes to the second node, which never answers it.
const UNANSWERED_EVERY: u64 = 3;
/// The round in which the forged batch is anchored.
const FORGED_ROUND: u64 = 2;

/// One inference node: its account and its enclave's signing key.
struct Node {
    account: usize,
    tee: PrivateKeySigner,
}

/// The settlement side of the traffic.
pub(super) struct SettlementTraffic {
    nodes: Vec<Node>,
    chain_id: u64,
    settlement: Address,
    batches: Address,
    keeper_url: String,
    client: reqwest::Client,
    fee: U256,
    next_request: u64,
    rounds: u64,
    data_dir: PathBuf,
}

impl SettlementTraffic {
    /// Governance lets the keeper service anchor batches; two nodes stake and governance approves their keys.
    pub(super) async fn new(world: &World, keeper_url: String, data_dir: PathBuf) -> Result<Self> {
        let settlement = world.address("settlement")?;
        let batches = world.address("settlement-batches")?;
        let nodes_at = world.address("settlement-nodes")?;
        let chain_id = world.wallets[GOVERNANCE].get_chain_id().await?;
        let gov_batches = IReceiptBatches::new(batches, world.wallets[GOVERNANCE].clone());
        let keeper = world.accounts[KEEPER_ACCOUNT].address();
        if !gov_batches.isKeeper(keeper).call().await? {
            send_with_headroom(gov_batches.setKeeper(keeper, true), "setKeeper").await?;
        }
        let min_stake = ISettlementNodes::new(nodes_at, world.wallets[GOVERNANCE].clone())
            .config()
            .call()
            .await?
            ._5;
        let mut nodes = Vec::new();
        for account in NODE_ACCOUNTS {
            let tee = PrivateKeySigner::random();
            let as_node = ISettlementNodes::new(nodes_at, world.wallets[account].clone());
            let key_proof = key_registration_proof(
                &tee,
                chain_id,
                nodes_at,
                world.accounts[account].address(),
            )?;
            send_with_headroom(
                as_node
                    .registerNode(tee.address(), key_proof)
                    .value(min_stake),
                "registerNode",
            )
            .await?;
            let as_gov = ISettlementNodes::new(nodes_at, world.wallets[GOVERNANCE].clone());
            send_with_headroom(
                as_gov.approveKey(tee.address(), keccak256(b"verity dev enclave")),
                "approveKey",
            )
            .await?;
            let node = world.accounts[account].address();
            let as_gov = ISettlementNodes::new(nodes_at, world.wallets[GOVERNANCE].clone());
            ensure!(
                as_gov.nodeActive(node).call().await?,
                "node {node} is not active after registering and approval: {:?}",
                as_gov.node(node).call().await.map(|n| (n._0, n._1, n._2))
            );
            nodes.push(Node { account, tee });
        }
        Ok(Self {
            nodes,
            chain_id,
            settlement,
            batches,
            keeper_url,
            client: reqwest::Client::new(),
            fee: U256::from(1_000_000_000_000_000u64),
            next_request: 1,
            rounds: 0,
            data_dir,
        })
    }

    fn sign(&self, key: &PrivateKeySigner, receipt: Receipt) -> Result<Bytes> {
        sign_receipt(key, self.chain_id, self.settlement, &receipt)
    }

    fn receipt(
        &self,
        world: &World,
        node: &Node,
        request_id: B256,
        model: U256,
        at: u64,
    ) -> Receipt {
        Receipt {
            requestId: request_id,
            modelVersion: model,
            inputHash: keccak256(request_id),
            outputHash: keccak256(keccak256(request_id)),
            payer: world.accounts[PAYER].address(),
            node: world.accounts[node.account].address(),
            fee: self.fee,
            mode: mode::TEE,
            signedAt: at,
        }
    }

    fn request_id(&mut self) -> B256 {
        let id = keccak256(format!("verity dev request {}", self.next_request));
        self.next_request += 1;
        id
    }

    /// Posts a signed receipt to the keeper's intake; it must be persisted (201) or already known (200).
    async fn post(&self, signed: &Bytes) -> Result<()> {
        let res = self
            .client
            .post(format!("{}/receipts", self.keeper_url))
            .json(&serde_json::json!({ "signed": signed.to_string() }))
            .send()
            .await
            .context("posting a receipt to the keeper")?;
        let status = res.status();
        if !status.is_success() {
            let body = res.text().await.unwrap_or_default();
            bail!("the keeper refused a receipt ({status}): {body}");
        }
        Ok(())
    }

    /// The keeper's off-chain status of `request_id` (`Answered`, `Anchored`, `Final`, `Voided`, …).
    async fn receipt_status(&self, request_id: B256) -> Result<String> {
        let body: serde_json::Value = self
            .client
            .get(format!("{}/receipts/{request_id}", self.keeper_url))
            .send()
            .await?
            .json()
            .await?;
        Ok(body["status"].as_str().unwrap_or("").to_owned())
    }

    /// One round against `model` (a registered version): a paid request answered (or, every third round, left
    /// unanswered), receipts from both nodes posted, once the forged batch; then waits until the keeper has
    /// anchored this round's receipts and voided the forged batch, so time can move on.
    pub(super) async fn round(
        &mut self,
        world: &World,
        progress: &mut Progress,
        model: U256,
    ) -> Result<()> {
        self.rounds += 1;
        let now = chain_time(&world.wallets[GOVERNANCE]).await?;
        let mut posted = Vec::new();
        let payer = IInferenceSettlement::new(self.settlement, world.wallets[PAYER].clone());
        // A paid request to the first node, answered, its receipt to the keeper.
        let answered = self.request_id();
        let receipt = self.receipt(world, &self.nodes[0], answered, model, now);
        send_with_headroom(
            payer
                .request(answered, receipt.node, model, receipt.inputHash, mode::TEE)
                .value(self.fee),
            "request",
        )
        .await?;
        let as_node = IInferenceSettlement::new(
            self.settlement,
            world.wallets[self.nodes[0].account].clone(),
        );
        send_with_headroom(as_node.answer(answered, receipt.outputHash), "answer").await?;
        let signed = self.sign(&self.nodes[0].tee, receipt)?;
        self.post(&signed).await?;
        posted.push(answered);
        progress.requests += 1;
        // Every third round a paid request the second node never answers: refunded at its deadline.
        if self.rounds.is_multiple_of(UNANSWERED_EVERY) {
            let ignored = self.request_id();
            let node = world.accounts[self.nodes[1].account].address();
            send_with_headroom(
                payer
                    .request(ignored, node, model, keccak256(ignored), mode::TEE)
                    .value(self.fee),
                "request",
            )
            .await?;
            progress.requests += 1;
        }
        // Unpaid inferences: each node posts receipts for the fast layer.
        for n in 0..self.nodes.len() {
            for _ in 0..RECEIPTS_PER_NODE {
                let id = self.request_id();
                let receipt = self.receipt(world, &self.nodes[n], id, model, now);
                let signed = self.sign(&self.nodes[n].tee, receipt)?;
                self.post(&signed).await?;
                posted.push(id);
            }
        }
        progress.receipts += posted.len() as u64;
        let forged = if self.rounds == FORGED_ROUND {
            Some(self.anchor_forged_batch(world, model, now).await?)
        } else {
            None
        };
        // Time may move on only once the keeper has anchored what it received and voided the forged batch
        // (both must happen inside the challenge window and the receipts' maximum age).
        let deadline = Instant::now() + KEEPER_PATIENCE;
        loop {
            let mut waiting = 0;
            for id in &posted {
                let status = self.receipt_status(*id).await?;
                if status.is_empty() || status == "Answered" {
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
                "the keeper left {waiting} receipt(s) unanchored{} for {}s",
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

    /// Governance, an allowed batch keeper too, anchors two receipts signed by an enclave key nobody approved,
    /// publishing the leaves where the anchor's data URI says; returns the batch id.
    async fn anchor_forged_batch(&mut self, world: &World, model: U256, now: u64) -> Result<U256> {
        let rogue = PrivateKeySigner::random();
        let mut data = Vec::new();
        let mut leaves = Vec::new();
        for _ in 0..2 {
            let id = self.request_id();
            let receipt = self.receipt(world, &self.nodes[0], id, model, now);
            let signed = self.sign(&rogue, receipt)?;
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
