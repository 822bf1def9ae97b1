//! Issue 14's findings on ReceiptBatches and SettlementNodes, each performed as an attack on the compiled WASM on
//! devnode, driven over JSON-RPC as a wallet or a rogue keeper would (the world of `settlement.rs`: Verity deployed
//! by its plan, a model registered, NODE registered with an approved TEE key; GOV is governance and the honest
//! batch keeper).

use alloy::{
    primitives::{keccak256, Address, Bytes, U256},
    signers::local::PrivateKeySigner,
};
use verity_abi::{
    rpc::{key_registration_proof, IReceiptBatches, ISettlementNodes},
    settlement::{
        batch_status, batches::BatchVoided, mode, request_status, void_reason,
        SettlementBadKeyProof, SettlementInvalidReceipt, SettlementLeafValid,
        SettlementNotDuplicate, SettlementPaused, SettlementUnauthorized, SettlementWindowOpen,
    },
};

use crate::settlement::{proof, sign, tree, world, CHALLENGER, GOV, HOUR, NODE, OUTSIDER, WINDOW};
use crate::support::{events, expect_error, now, tx};

/// Finding 1 (HIGH): a rogue allowed keeper anchors a forged leaf carrying a public request id (from `Requested`),
/// withholds the batch data, and then "proves" the honest batch holding that id a duplicate — voiding it and
/// taking its bond. The earlier leaf must itself be a valid receipt.
#[tokio::test(flavor = "multi_thread")]
async fn rogue_keeper_cannot_void_an_honest_batch_with_a_forged_earlier_leaf() {
    let w = world().await;
    let b = &w.batches;
    let rogue = w.h.account(OUTSIDER);
    tx!(b[GOV].setKeeper(rogue, true));
    let bond = b[GOV].config().call().await.unwrap()._4;
    let q = keccak256("request-public");
    w.request(q, mode::TEE).await;
    let t = now(&w.h).await;

    // The rogue keeper forges a leaf with q's id (signed by a key nobody registered) and anchors it first.
    let forged = sign(
        &PrivateKeySigner::random(),
        w.chain_id,
        w.h.address("settlement"),
        &w.receipt(q, "forged", mode::TEE, t),
    );
    let rogue_tree = tree(&[&forged]);
    tx!(b[OUTSIDER]
        .anchorBatch(rogue_tree.root(), 1, "ipfs://withheld".into())
        .value(bond));
    // The honest keeper anchors the node's real receipt for q.
    let good = w.sign(&w.receipt(q, "answer", mode::TEE, t));
    let honest_tree = tree(&[&good]);
    tx!(b[GOV]
        .anchorBatch(honest_tree.root(), 1, "ipfs://honest".into())
        .value(bond));
    let (rogue_batch, honest_batch) = (U256::from(1), U256::from(2));

    // The forged leaf is no earlier receipt: the challenge reverts, typed, and the honest batch stays Anchored.
    let err: SettlementInvalidReceipt = expect_error(
        b[OUTSIDER]
            .challengeDuplicate(
                rogue_batch,
                forged.clone(),
                proof(&rogue_tree, &forged),
                honest_batch,
                good.clone(),
                proof(&honest_tree, &good),
            )
            .call()
            .await,
    );
    assert_eq!(err.reason, void_reason::BAD_SIGNATURE);
    // The same valid leaf anchored twice is no fraud either (whichever batch finalizes proves it once).
    let copy_tree = tree(&[&good]);
    tx!(b[OUTSIDER]
        .anchorBatch(copy_tree.root(), 1, "ipfs://copy".into())
        .value(bond));
    let _: SettlementNotDuplicate = expect_error(
        b[OUTSIDER]
            .challengeDuplicate(
                honest_batch,
                good.clone(),
                proof(&honest_tree, &good),
                U256::from(3),
                good.clone(),
                proof(&copy_tree, &good),
            )
            .call()
            .await,
    );
    assert_eq!(
        b[GOV].batch(honest_batch).call().await.unwrap()._5,
        batch_status::ANCHORED
    );

    // Anyone holding the rogue's data voids the rogue batch instead; the honest batch finalizes and proves q.
    let receipt =
        tx!(b[CHALLENGER].challengeLeaf(rogue_batch, forged.clone(), proof(&rogue_tree, &forged)));
    assert_eq!(
        events::<BatchVoided>(&receipt)[0].reason,
        void_reason::BAD_SIGNATURE
    );
    w.h.advance(WINDOW + 1).await;
    tx!(b[OUTSIDER].finalizeBatch(honest_batch));
    assert_eq!(
        b[GOV].credit(w.h.account(GOV)).call().await.unwrap(),
        bond,
        "the honest keeper's bond is credited back"
    );
    tx!(w.settlement[OUTSIDER].proveByBatch(
        honest_batch,
        good.clone(),
        proof(&honest_tree, &good)
    ));
    assert_eq!(w.status(q).await, request_status::PROVEN);
    w.assert_escrow(&[q]).await;
}

/// Finding 3 (MEDIUM): governance lowering `maxReceiptAge` (or the challenge window) must not reach back to
/// batches already anchored: an outsider could then void live batches, and Final batches would stop proving.
#[tokio::test(flavor = "multi_thread")]
async fn lowering_the_params_does_not_reach_back_to_anchored_batches() {
    let w = world().await;
    let b = &w.batches;
    let bond = b[GOV].config().call().await.unwrap()._4;
    let q = keccak256("request-aged");
    w.request(q, mode::TEE).await;
    let t = now(&w.h).await;
    let good = w.sign(&w.receipt(q, "answer", mode::TEE, t));
    // Anchored two hours after it was signed: valid under the default one-day maximum age.
    w.h.advance(2 * HOUR).await;
    let t1 = tree(&[&good]);
    tx!(b[GOV]
        .anchorBatch(t1.root(), 1, "ipfs://aged".into())
        .value(bond));
    let batch = U256::from(1);

    // Governance lowers the maximum receipt age to one hour and the challenge window to one hour.
    // (Fresh providers: GOV's cached nonces differ per provider once it sends to two contracts.)
    let gov_nodes = ISettlementNodes::new(w.h.address("settlement-nodes"), w.h.wallet(GOV));
    let gov_batches = IReceiptBatches::new(w.h.address("settlement-batches"), w.h.wallet(GOV));
    let nodes_config = w.nodes[GOV].config().call().await.unwrap();
    tx!(gov_nodes.setParams(HOUR, nodes_config._4, nodes_config._5));
    tx!(gov_batches.setParams(HOUR, bond));
    let anchored_at = b[GOV].batch(batch).call().await.unwrap()._3;
    assert_eq!(
        b[GOV].batchClosesAt(batch).call().await.unwrap(),
        anchored_at + WINDOW
    );

    // The batch is still judged by the age in force when it was anchored: the leaf is valid.
    let _: SettlementLeafValid = expect_error(
        b[OUTSIDER]
            .challengeLeaf(batch, good.clone(), proof(&t1, &good))
            .call()
            .await,
    );
    // Its window is still the six hours it was anchored with.
    w.h.advance(HOUR + 60).await;
    let _: SettlementWindowOpen = expect_error(b[OUTSIDER].finalizeBatch(batch).call().await);
    w.h.advance(WINDOW).await;
    tx!(b[OUTSIDER].finalizeBatch(batch));
    // The Final batch still proves the request (re-judged at its anchoring time).
    assert_eq!(
        b[GOV]
            .receiptStatus(batch, good.clone(), proof(&t1, &good))
            .call()
            .await
            .unwrap(),
        batch_status::FINAL
    );
    tx!(w.settlement[OUTSIDER].proveByBatch(batch, good.clone(), proof(&t1, &good)));
    assert_eq!(w.status(q).await, request_status::PROVEN);
    w.assert_escrow(&[q]).await;
}

/// Finding 5 (LOW): a revoked (leaked) TEE key signs a receipt dated before its revocation; a batch anchored after
/// the revocation must not hold it. Receipts anchored before the revocation stay valid.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_cannot_backdate_receipts() {
    let w = world().await;
    let b = &w.batches;
    let bond = b[GOV].config().call().await.unwrap()._4;
    let t = now(&w.h).await;
    let before = w.sign(&w.receipt(keccak256("honest"), "answer", mode::TEE, t));
    let t_before = tree(&[&before]);
    tx!(b[GOV]
        .anchorBatch(t_before.root(), 1, "ipfs://before".into())
        .value(bond));
    w.h.advance(60).await;
    // (Fresh providers: GOV's cached nonces differ per provider once it sends to two contracts.)
    let gov_nodes = ISettlementNodes::new(w.h.address("settlement-nodes"), w.h.wallet(GOV));
    let gov_batches = IReceiptBatches::new(w.h.address("settlement-batches"), w.h.wallet(GOV));
    tx!(gov_nodes.revokeKey(w.tee.address()));
    w.h.advance(60).await;

    // The leaked key backdates a receipt to before its revocation; a keeper anchors it afterwards.
    let backdated = w.sign(&w.receipt(keccak256("backdated"), "forged", mode::TEE, t + 30));
    let t_after = tree(&[&backdated]);
    tx!(gov_batches
        .anchorBatch(t_after.root(), 1, "ipfs://after".into())
        .value(bond));
    let receipt = tx!(b[CHALLENGER].challengeLeaf(
        U256::from(2),
        backdated.clone(),
        proof(&t_after, &backdated)
    ));
    assert_eq!(
        events::<BatchVoided>(&receipt)[0].reason,
        void_reason::KEY_NOT_APPROVED
    );
    // Anchored before the revocation: still valid.
    let _: SettlementLeafValid = expect_error(
        b[CHALLENGER]
            .challengeLeaf(U256::from(1), before.clone(), proof(&t_before, &before))
            .call()
            .await,
    );
    assert_eq!(
        w.nodes[GOV]
            .receiptFault(backdated.clone(), now(&w.h).await)
            .call()
            .await
            .unwrap(),
        void_reason::KEY_NOT_APPROVED,
        "a direct proof after the revocation is refused too"
    );
    w.assert_escrow(&[]).await;
}

/// Finding 8 (LOW): anyone could register another node's published signing key under their own address. A node
/// now proves it holds the key: the key's EIP-712 signature over (node, chain id, SettlementNodes).
#[tokio::test(flavor = "multi_thread")]
async fn nobody_registers_another_nodes_signing_key() {
    let w = world().await;
    let nodes_at = w.h.address("settlement-nodes");
    let stake = w.nodes[GOV].config().call().await.unwrap()._5;
    // Node A (CHALLENGER) holds a TEE key whose address is public; B (OUTSIDER) tries to claim it first.
    let tee_a = PrivateKeySigner::random();
    let (a, b) = (w.h.account(CHALLENGER), w.h.account(OUTSIDER));
    let proof_a = key_registration_proof(&tee_a, w.chain_id, nodes_at, a).unwrap();
    let own = key_registration_proof(&PrivateKeySigner::random(), w.chain_id, nodes_at, b).unwrap();
    // No proof, B's own key's signature, A's published proof replayed by B: all refused, typed.
    for p in [Bytes::new(), own, proof_a.clone()] {
        let e: SettlementBadKeyProof = expect_error(
            w.nodes[OUTSIDER]
                .registerNode(tee_a.address(), p)
                .value(stake)
                .call()
                .await,
        );
        assert_eq!(e.signingKey, tee_a.address());
    }
    // A proof for another chain or another contract does not register A either.
    for p in [
        key_registration_proof(&tee_a, w.chain_id + 1, nodes_at, a).unwrap(),
        key_registration_proof(&tee_a, w.chain_id, w.h.address("settlement"), a).unwrap(),
    ] {
        let _: SettlementBadKeyProof = expect_error(
            w.nodes[CHALLENGER]
                .registerNode(tee_a.address(), p)
                .value(stake)
                .call()
                .await,
        );
    }
    assert_eq!(w.nodes[GOV].node(b).call().await.unwrap()._0, Address::ZERO);
    // A registers its key with its proof.
    tx!(w.nodes[CHALLENGER]
        .registerNode(tee_a.address(), proof_a)
        .value(stake));
    assert_eq!(
        w.nodes[GOV].node(a).call().await.unwrap()._0,
        tee_a.address()
    );
    w.assert_escrow(&[]).await;
}

/// Issue 14 item 10: SettlementNodes' own pause — governance only; it stops registration, staking and key
/// approval, never a way out (unbonding, stake and credit withdrawals) nor the receipt judge.
#[tokio::test(flavor = "multi_thread")]
async fn settlement_nodes_pause_is_governance_only_and_never_locks_funds() {
    let w = world().await;
    let n = &w.nodes;
    let nodes_at = w.h.address("settlement-nodes");
    let stake = n[GOV].config().call().await.unwrap()._5;
    let e: SettlementUnauthorized = expect_error(n[OUTSIDER].setPaused(true).call().await);
    assert_eq!(e.account, w.h.account(OUTSIDER));
    tx!(n[GOV].setPaused(true));
    assert!(n[GOV].paused().call().await.unwrap());

    let tee = PrivateKeySigner::random();
    let proof_c =
        key_registration_proof(&tee, w.chain_id, nodes_at, w.h.account(CHALLENGER)).unwrap();
    let _: SettlementPaused = expect_error(
        n[CHALLENGER]
            .registerNode(tee.address(), proof_c.clone())
            .value(stake)
            .call()
            .await,
    );
    let _: SettlementPaused = expect_error(n[NODE].addStake().value(stake).call().await);

    // The judge still answers and the node can leave with its stake.
    let t = now(&w.h).await;
    let signed = w.sign(&w.receipt(keccak256("paused"), "answer", mode::TEE, t));
    assert_eq!(n[GOV].receiptFault(signed, t).call().await.unwrap(), 0);
    tx!(n[NODE].requestUnbond());
    let delay = n[GOV].config().call().await.unwrap()._4;
    w.h.advance(delay + 1).await;
    tx!(n[NODE].withdrawStake());
    tx!(n[NODE].withdraw());
    assert_eq!(
        n[GOV].node(w.h.account(NODE)).call().await.unwrap()._1,
        U256::ZERO
    );
    w.assert_escrow(&[]).await;

    tx!(n[GOV].setPaused(false));
    tx!(n[CHALLENGER]
        .registerNode(tee.address(), proof_c)
        .value(stake));
}
