//! Audit findings on InferenceSettlement (issue 14, items 2 and 7) as attacks on the compiled WASM on devnode,
//! sent over JSON-RPC as a wallet would: each test first performs the attack the finding describes and fails if the
//! contract lets it through, then checks the fixed behaviour end to end (typed errors, who is paid, escrow ==
//! open obligations read from chain).

use alloy::{
    primitives::{keccak256, B256, U256},
    providers::Provider,
};
use verity_abi::settlement::{
    mode, request_status, SettlementInsufficientValue, SettlementPaused, SettlementTooEarly,
};

use crate::settlement::{
    proof, tree, world, World, DEADLINE, GOV, NODE, OUTSIDER, PAYER, WINDOW,
};
use crate::support::{expect_error, now, tx};

/// NODE's stake at SettlementNodes.
async fn stake<P: Provider + Clone>(w: &World<P>) -> U256 {
    w.nodes[GOV]
        .node(w.h.account(NODE))
        .call()
        .await
        .unwrap()
        ._1
}

/// The request's deadline.
async fn deadline<P: Provider + Clone>(w: &World<P>, id: B256) -> u64 {
    w.settlement[GOV].getRequest(id).call().await.unwrap()._8
}

/// Moves the chain's clock to just past `t` (the next mined block is later than `t`).
async fn advance_past<P: Provider + Clone>(w: &World<P>, t: u64) {
    let n = now(&w.h).await;
    if n <= t {
        w.h.advance(t - n + 1).await;
    }
}

/// Requests `id`, has the node answer it and proves it with a receipt signed now; returns the signed receipt.
async fn proven<P: Provider + Clone>(w: &World<P>, id: B256) {
    w.request(id, mode::TEE).await;
    tx!(w.settlement[NODE].answer(id, keccak256("answer")));
    let signed = w.sign(&w.receipt(id, "answer", mode::TEE, now(&w.h).await));
    tx!(w.settlement[OUTSIDER].proveWithReceipt(signed, Default::default()));
    assert_eq!(w.status(id).await, request_status::PROVEN);
}

/// Finding 2: a receipt anchored in the last batch window before the deadline cannot be `Final` by the deadline.
/// Before the fix an outsider refunded the answered request at deadline + 1 s and slashed the node although it held
/// a valid proof it could not submit yet. Now the refund waits for deadline + the batches' challenge window, and the
/// batch, once final, proves and settles the request.
#[tokio::test(flavor = "multi_thread")]
async fn refund_of_an_answered_request_waits_for_a_batch_anchored_by_the_deadline() {
    let w = world().await;
    let id = keccak256("anchored-last-minute");
    w.request(id, mode::TEE).await;
    tx!(w.settlement[NODE].answer(id, keccak256("answer")));
    let deadline = deadline(&w, id).await;
    w.h.advance(deadline - now(&w.h).await - 120).await;
    let signed = w.sign(&w.receipt(id, "answer", mode::TEE, now(&w.h).await));
    let t = tree(&[&signed]);
    let b = &w.batches;
    let bond = b[GOV].config().call().await.unwrap()._4;
    tx!(b[GOV]
        .anchorBatch(t.root(), 1, "ipfs://last-minute".into())
        .value(bond));
    let batch_id = b[GOV].config().call().await.unwrap()._5;
    let anchored_at = b[GOV].batch(batch_id).call().await.unwrap()._3;
    assert!(anchored_at <= deadline, "anchored by the deadline");
    let stake_before = stake(&w).await;

    // The attack: at deadline + 1 s anyone refunds the answered request.
    advance_past(&w, deadline).await;
    assert!(now(&w.h).await < anchored_at + WINDOW, "the batch cannot be final yet");
    let attempt = w.settlement[OUTSIDER].refund(id).call().await;
    if attempt.is_ok() {
        let receipt = tx!(w.settlement[OUTSIDER].refund(id));
        panic!(
            "an outsider refunded at the deadline and slashed the node holding a valid proof: stake {} -> {} \
             (refund gas {})",
            stake_before,
            stake(&w).await,
            receipt.gas_used
        );
    }
    let err: SettlementTooEarly = expect_error(attempt);
    assert_eq!(err.until, deadline + WINDOW);

    // The batch finalizes after its window, proves the request (proven at the anchoring time) and it settles.
    advance_past(&w, anchored_at + WINDOW).await;
    tx!(b[OUTSIDER].finalizeBatch(batch_id));
    tx!(w.settlement[OUTSIDER].proveByBatch(batch_id, signed.clone(), proof(&t, &signed)));
    assert_eq!(w.status(id).await, request_status::PROVEN);
    let receipt = tx!(w.settlement[OUTSIDER].settle(id));
    eprintln!("gas: settle (proven) {}", receipt.gas_used);
    assert_eq!(w.status(id).await, request_status::SETTLED);
    assert_eq!(stake(&w).await, stake_before, "the node was not slashed");
    assert_eq!(
        w.settlement[GOV].credit(w.h.account(NODE)).call().await.unwrap(),
        w.receipt(id, "answer", mode::TEE, 0).fee
    );
    w.assert_escrow(&[id]).await;
}

/// Finding 2, the pause: proving is paused, so refunds are too (a node cannot be slashed for a proof the pause kept
/// out). Before the fix `refund` went through while paused.
#[tokio::test(flavor = "multi_thread")]
async fn refund_reverts_while_paused() {
    let w = world().await;
    let (unanswered, answered) = (keccak256("paused-requested"), keccak256("paused-answered"));
    w.request(unanswered, mode::TEE).await;
    w.request(answered, mode::TEE).await;
    tx!(w.settlement[NODE].answer(answered, keccak256("answer")));
    tx!(w.settlement[GOV].setPaused(true));
    w.h.advance(DEADLINE + WINDOW + 1).await;
    let stake_before = stake(&w).await;
    for id in [unanswered, answered] {
        let attempt = w.settlement[OUTSIDER].refund(id).call().await;
        if attempt.is_ok() {
            let receipt = tx!(w.settlement[OUTSIDER].refund(id));
            panic!(
                "refunded while proving is paused: stake {} -> {} (refund gas {})",
                stake_before,
                stake(&w).await,
                receipt.gas_used
            );
        }
        let _: SettlementPaused = expect_error(attempt);
    }
    assert_eq!(stake(&w).await, stake_before);
    w.assert_escrow(&[unanswered, answered]).await;
}

/// Finding 7: a dispute without a bond. Before the fix the payer disputed for free.
#[tokio::test(flavor = "multi_thread")]
async fn dispute_without_a_bond_reverts() {
    let w = world().await;
    let id = keccak256("free-dispute");
    proven(&w, id).await;
    let attempt = w.settlement[PAYER].dispute(id).call().await;
    if attempt.is_ok() {
        let receipt = tx!(w.settlement[PAYER].dispute(id));
        panic!(
            "a payer disputed without a bond (status {}, dispute gas {})",
            w.status(id).await,
            receipt.gas_used
        );
    }
    let err: SettlementInsufficientValue = expect_error(attempt);
    assert_eq!(err.sent, U256::ZERO);
    w.assert_escrow(&[id]).await;
}

/// Finding 7: a dispute governance never resolves. Before the fix the fee and the node's stake stayed locked for as
/// long as governance was idle; now anyone settles it for the node after the timeout.
#[tokio::test(flavor = "multi_thread")]
async fn unresolved_dispute_settles_for_the_node_after_the_timeout() {
    let w = world().await;
    let id = keccak256("idle-governance");
    proven(&w, id).await;
    tx!(w.settlement[PAYER].dispute(id));
    w.h.advance(30 * 24 * 3_600).await;
    assert_eq!(w.status(id).await, request_status::DISPUTED);
    let attempt = w.settlement[OUTSIDER].settle(id).call().await;
    assert!(
        attempt.is_ok(),
        "a dispute unresolved for 30 days still locks the fee and the stake: {:?}",
        attempt.err()
    );
}

/// Gas of the plain settle path (proven → settled), for the before/after figures of the report.
#[tokio::test(flavor = "multi_thread")]
async fn settle_gas_of_a_proven_request() {
    let w = world().await;
    let id = keccak256("settle-gas");
    proven(&w, id).await;
    w.h.advance(WINDOW + 1).await;
    let receipt = tx!(w.settlement[OUTSIDER].settle(id));
    eprintln!("gas: settle (proven) {}", receipt.gas_used);
    assert_eq!(w.status(id).await, request_status::SETTLED);
    w.assert_escrow(&[id]).await;
}
