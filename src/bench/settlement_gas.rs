//! Settlement gas figures for the benchmark table: anchoring a month of private inferences (150,000 receipts) as
//! one Merkle batch against proving each receipt in its own transaction, and the cost of one challenge at that
//! size. Measured on devnode with the deployed WASM: a registered model, a node with an approved TEE key, receipts
//! signed with alloy's EIP-712 signer.

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use anyhow::{ensure, Context, Result};
use verity_abi::{
    rpc::{key_registration_proof, IInferenceSettlement, IReceiptBatches, ISettlementNodes},
    settlement::{batch_status, encoded_leaf_hash, mode, Receipt, StandardMerkleTree},
};

use super::gas::{GasGoal, GasReport, GasRow};
use crate::client::{
    chain_time, register_demo_model, send_with_headroom, sign_receipt as sign, wallet,
};

/// Receipts in the anchored batch: a month of private inferences at OpenGradient's reported volume.
pub const MONTH_OF_RECEIPTS: usize = 150_000;
/// Goal: transactions to anchor and finalize [`MONTH_OF_RECEIPTS`].
pub const ANCHOR_TX_GOAL: u64 = 15;
/// Goal: the batch's total gas as a share of one settlement transaction per receipt, in percent.
pub const ANCHOR_GAS_GOAL_PERCENT: f64 = 1.0;

/// Where the settlement benchmark runs: a devnode with Verity deployed by its plan.
#[derive(Debug, Clone)]
pub struct SettlementGasSetup {
    /// The node's JSON-RPC URL (a devnode: the run moves its clock past the challenge window).
    pub url: String,
    /// The deployer: governance, registry attester and keeper, batch keeper.
    pub governance: PrivateKeySigner,
    /// Runs the inference node (stakes, answers).
    pub node: PrivateKeySigner,
    /// Pays for the request proven directly.
    pub payer: PrivateKeySigner,
    /// Challenges the bad leaf.
    pub challenger: PrivateKeySigner,
    /// The ModelRegistry.
    pub registry: Address,
    /// SettlementNodes.
    pub nodes: Address,
    /// ReceiptBatches.
    pub batches: Address,
    /// InferenceSettlement.
    pub settlement: Address,
    /// Receipts in the batch.
    pub receipts: usize,
}

/// Measures one `proveWithReceipt`, anchoring + finalizing a batch of `receipts` receipts, and one
/// `challengeLeaf` at that size; the goals compare the batch with one settlement transaction per receipt.
pub async fn settlement_gas(setup: &SettlementGasSetup) -> Result<GasReport> {
    ensure!(setup.receipts >= 2, "a batch needs at least 2 receipts");
    let gov = wallet(&setup.url, &setup.governance)?;
    let chain_id = gov.get_chain_id().await?;

    // A registered model.
    let model = register_demo_model(
        &gov,
        setup.registry,
        keccak256("verity-bench-model"),
        keccak256("bench-weights"),
    )
    .await?;

    // A node with a TEE key approved by governance.
    let node = wallet(&setup.url, &setup.node)?;
    let nodes = ISettlementNodes::new(setup.nodes, node.clone());
    let stake = nodes.config().call().await?._5;
    let tee = PrivateKeySigner::random();
    let key_proof = key_registration_proof(
        &tee,
        nodes.provider().get_chain_id().await?,
        setup.nodes,
        setup.node.address(),
    )?;
    send_with_headroom(
        nodes.registerNode(tee.address(), key_proof).value(stake),
        "registerNode",
    )
    .await?;
    let nodes_gov = ISettlementNodes::new(setup.nodes, gov.clone());
    send_with_headroom(
        nodes_gov.approveKey(tee.address(), keccak256("enclave measurement")),
        "approveKey",
    )
    .await?;

    // One paid request proven by its own transaction: the per-receipt baseline.
    let t = chain_time(&gov).await?;
    let receipt_for = |request_id: B256, output: &str| Receipt {
        requestId: request_id,
        modelVersion: model,
        inputHash: keccak256("prompt"),
        outputHash: keccak256(output),
        payer: setup.payer.address(),
        node: setup.node.address(),
        fee: U256::from(5_000_000_000_000_000u64),
        mode: mode::TEE,
        signedAt: t,
    };
    let payer = wallet(&setup.url, &setup.payer)?;
    let request_id = keccak256("per-receipt");
    let settlement = IInferenceSettlement::new(setup.settlement, payer.clone());
    send_with_headroom(
        settlement
            .request(
                request_id,
                setup.node.address(),
                model,
                keccak256("prompt"),
                mode::TEE,
            )
            .value(U256::from(5_000_000_000_000_000u64)),
        "request",
    )
    .await?;
    let direct = sign(
        &tee,
        chain_id,
        setup.settlement,
        &receipt_for(request_id, "answer"),
    )?;
    let prove_gas = send_with_headroom(
        settlement.proveWithReceipt(direct, Bytes::new()),
        "proveWithReceipt",
    )
    .await?
    .gas_used;

    // `receipts` leaves: one forged receipt (signed by a key nobody approved), the rest distinct placeholders —
    // only the challenged leaf is judged on-chain, and the anchor costs the same whatever the leaves are.
    let n = setup.receipts;
    let forged = sign(
        &PrivateKeySigner::random(),
        chain_id,
        setup.settlement,
        &receipt_for(keccak256("forged"), "x"),
    )?;
    let mut hashes: Vec<B256> = (0..n as u64 - 1)
        .map(|i| keccak256(keccak256(i.to_be_bytes())))
        .collect();
    hashes.push(encoded_leaf_hash(&forged));
    let tree = StandardMerkleTree::new(&hashes).context("building the Merkle tree")?;
    let proof = tree
        .proof(encoded_leaf_hash(&forged))
        .context("proof of the forged leaf")?;
    let batches_gov = IReceiptBatches::new(setup.batches, gov.clone());
    let config = batches_gov.config().call().await?;
    let (window, bond) = (config._3, config._4);
    let uri = String::from("ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi");
    send_with_headroom(
        batches_gov
            .anchorBatch(tree.root(), n as u64, uri.clone())
            .value(bond),
        "anchorBatch (bad)",
    )
    .await?;
    // Batch ids count up from 1: the latest id is the batch count.
    let bad_id = batches_gov.config().call().await?._5;
    let challenger = wallet(&setup.url, &setup.challenger)?;
    let batches_challenger = IReceiptBatches::new(setup.batches, challenger.clone());
    let challenge_gas = send_with_headroom(
        batches_challenger.challengeLeaf(bad_id, forged, proof.clone()),
        "challengeLeaf",
    )
    .await?
    .gas_used;
    ensure!(
        batches_gov.batch(bad_id).call().await?._5 == batch_status::VOIDED,
        "the challenged batch was not voided"
    );

    // The honest batch of the same size: anchor, wait out the window, finalize.
    let honest = StandardMerkleTree::new(&hashes[..n - 1]).context("honest tree")?;
    let anchor_gas = send_with_headroom(
        batches_gov
            .anchorBatch(honest.root(), n as u64 - 1, uri)
            .value(bond),
        "anchorBatch",
    )
    .await?
    .gas_used;
    let _: i64 = gov
        .raw_request("evm_increaseTime".into(), (window + 1,))
        .await
        .context("evm_increaseTime")?;
    let _: String = gov.raw_request("evm_mine".into(), ()).await?;
    let honest_id = batches_gov.config().call().await?._5;
    let finalize_gas = send_with_headroom(batches_gov.finalizeBatch(honest_id), "finalizeBatch")
        .await?
        .gas_used;

    let batch_txs = 2u64;
    let batched = anchor_gas + finalize_gas;
    let per_receipt = prove_gas as f64 * n as f64;
    let percent = 100.0 * batched as f64 / per_receipt;
    let rows = vec![
        GasRow {
            operation: "InferenceSettlement.proveWithReceipt (1 receipt)".into(),
            gas_used: prove_gas,
        },
        GasRow {
            operation: format!("ReceiptBatches.anchorBatch ({n} receipts)"),
            gas_used: anchor_gas,
        },
        GasRow {
            operation: "ReceiptBatches.finalizeBatch".into(),
            gas_used: finalize_gas,
        },
        GasRow {
            operation: format!(
                "ReceiptBatches.challengeLeaf ({n} receipts, {} siblings)",
                proof.len()
            ),
            gas_used: challenge_gas,
        },
    ];
    let goals = vec![
        GasGoal {
            goal: format!("anchoring {n} receipts: txs <= {ANCHOR_TX_GOAL}"),
            figure: format!("{batch_txs} txs"),
            met: batch_txs <= ANCHOR_TX_GOAL,
        },
        GasGoal {
            goal: format!("batch gas <= {ANCHOR_GAS_GOAL_PERCENT}% of {n} x proveWithReceipt"),
            figure: format!("{percent:.4}%"),
            met: percent <= ANCHOR_GAS_GOAL_PERCENT,
        },
    ];
    Ok(GasReport { rows, goals })
}
