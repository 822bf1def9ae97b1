//! Audit findings on InferenceSettlement (issue 14, items 2 and 7) as attacks on the compiled WASM on devnode,
//! sent over JSON-RPC as a wallet would: each test first performs the attack the finding describes and fails if the
//! contract lets it through, then checks the fixed behaviour end to end (typed errors, who is paid, escrow ==
//! open obligations read from chain).

use alloy::{
    primitives::{keccak256, B256, U256},
    providers::Provider,
};
use verity_abi::settlement::{
    mode, request_status, DisputeResolved, SettlementAlreadySettled, SettlementInsufficientValue,
    SettlementInvalidParam, SettlementPaused, SettlementTooEarly, SettlementUnauthorized,
};

use crate::settlement::{proof, tree, world, World, DEADLINE, GOV, NODE, OUTSIDER, PAYER, WINDOW};
use crate::support::{events, expect_error, now, tx};

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

/// The dispute bond governance asks for now.
async fn dispute_bond<P: Provider + Clone>(w: &World<P>) -> U256 {
    w.settlement[GOV].config().call().await.unwrap()._8
}

/// The fee every request of these tests escrows.
fn fee() -> U256 {
    crate::settlement::eth_milli(5)
}

/// Requests `id`, has the node answer it and proves it with a receipt signed now.
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
    assert!(
        now(&w.h).await < anchored_at + WINDOW,
        "the batch cannot be final yet"
    );
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
        w.settlement[GOV]
            .credit(w.h.account(NODE))
            .call()
            .await
            .unwrap(),
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

    // Resumed: the unanswered request refunds at once; the answered one only a batch window after resuming (no
    // refund can front-run the node's proof in the unpause block), then the node is slashed.
    tx!(w.settlement[GOV].setPaused(false));
    let resumed = now(&w.h).await;
    let receipt = tx!(w.settlement[OUTSIDER].refund(unanswered));
    eprintln!("gas: refund (unanswered) {}", receipt.gas_used);
    let err: SettlementTooEarly =
        expect_error(w.settlement[OUTSIDER].refund(answered).call().await);
    assert_eq!(err.until, resumed + WINDOW);
    advance_past(&w, resumed + WINDOW).await;
    let receipt = tx!(w.settlement[OUTSIDER].refund(answered));
    eprintln!("gas: refund (answered, slash) {}", receipt.gas_used);
    let slash = w.settlement[GOV].config().call().await.unwrap()._7;
    assert_eq!(stake(&w).await, stake_before - slash);
    assert_eq!(w.status(answered).await, request_status::REFUNDED);
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
    let bond = dispute_bond(&w).await;
    let err: SettlementInsufficientValue = expect_error(attempt);
    assert_eq!((err.sent, err.required), (U256::ZERO, bond));
    let err: SettlementInsufficientValue = expect_error(
        w.settlement[PAYER]
            .dispute(id)
            .value(bond - U256::from(1))
            .call()
            .await,
    );
    assert_eq!(err.sent, bond - U256::from(1));
    assert_eq!(w.status(id).await, request_status::PROVEN);
    let receipt = tx!(w.settlement[PAYER].dispute(id).value(bond));
    eprintln!("gas: dispute {}", receipt.gas_used);
    let r = w.settlement[GOV].getRequest(id).call().await.unwrap();
    assert_eq!((r._6, r._10), (request_status::DISPUTED, bond));
    w.assert_escrow(&[id]).await;
}

/// Finding 7: a dispute governance never resolves. Before the fix the fee and the node's stake stayed locked for as
/// long as governance was idle; now anyone settles it for the node after the timeout.
#[tokio::test(flavor = "multi_thread")]
async fn unresolved_dispute_settles_for_the_node_after_the_timeout() {
    let w = world().await;
    let id = keccak256("idle-governance");
    proven(&w, id).await;
    let bond = dispute_bond(&w).await;
    tx!(w.settlement[PAYER].dispute(id).value(bond));
    let expires = w.settlement[GOV].getRequest(id).call().await.unwrap()._8;
    let timeout = w.settlement[GOV].config().call().await.unwrap()._9;
    assert!(expires >= now(&w.h).await + timeout - 5);
    let err: SettlementTooEarly = expect_error(w.settlement[OUTSIDER].settle(id).call().await);
    assert_eq!(err.until, expires);
    w.assert_escrow(&[id]).await;

    // Governance stays idle past the timeout: anyone settles it for the node, which gets the fee and the bond.
    advance_past(&w, expires).await;
    let attempt = w.settlement[OUTSIDER].settle(id).call().await;
    assert!(
        attempt.is_ok(),
        "a dispute unresolved past its timeout still locks the fee and the stake: {:?}",
        attempt.err()
    );
    let receipt = tx!(w.settlement[OUTSIDER].settle(id));
    eprintln!("gas: settle (dispute timed out) {}", receipt.gas_used);
    assert!(events::<DisputeResolved>(&receipt)[0].nodeWins);
    assert_eq!(w.status(id).await, request_status::SETTLED);
    let s = &w.settlement[GOV];
    assert_eq!(
        s.credit(w.h.account(NODE)).call().await.unwrap(),
        fee() + bond
    );
    assert_eq!(
        s.credit(w.h.account(PAYER)).call().await.unwrap(),
        U256::ZERO
    );
    assert_eq!(s.openRequests(w.h.account(NODE)).call().await.unwrap(), 0);
    let _: SettlementAlreadySettled =
        expect_error(w.settlement[GOV].resolveDispute(id, false).call().await);
    let _: SettlementAlreadySettled = expect_error(w.settlement[OUTSIDER].settle(id).call().await);
    w.assert_escrow(&[id]).await;
    let before = w.balance(w.h.account(NODE)).await;
    let receipt = tx!(w.settlement[NODE].withdraw());
    let gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        w.balance(w.h.account(NODE)).await,
        before + fee() + bond - gas
    );
    w.assert_escrow(&[id]).await;
}

/// The dispute path as mined transactions: PROVEN → DISPUTED (bonded) → resolved by governance for the node (fee
/// and bond to the node) and for the payer (fee and bond back, the node slashed to the payer); each pays once, an
/// outsider cannot resolve, and escrow == open obligations throughout.
#[tokio::test(flavor = "multi_thread")]
async fn disputes_resolved_both_ways_by_governance_pay_once() {
    let w = world().await;
    let (for_node, for_payer) = (
        keccak256("dispute-node-wins"),
        keccak256("dispute-payer-wins"),
    );
    proven(&w, for_node).await;
    proven(&w, for_payer).await;
    let bond = dispute_bond(&w).await;
    for id in [for_node, for_payer] {
        tx!(w.settlement[PAYER].dispute(id).value(bond));
        assert_eq!(w.status(id).await, request_status::DISPUTED);
    }
    w.assert_escrow(&[for_node, for_payer]).await;
    let err: SettlementUnauthorized = expect_error(
        w.settlement[OUTSIDER]
            .resolveDispute(for_node, true)
            .call()
            .await,
    );
    assert_eq!(err.account, w.h.account(OUTSIDER));
    let stake_before = stake(&w).await;
    let s = &w.settlement[GOV];

    let receipt = tx!(s.resolveDispute(for_node, true));
    eprintln!("gas: resolveDispute (node wins) {}", receipt.gas_used);
    assert_eq!(w.status(for_node).await, request_status::SETTLED);
    assert_eq!(
        s.credit(w.h.account(NODE)).call().await.unwrap(),
        fee() + bond
    );
    w.assert_escrow(&[for_node, for_payer]).await;

    let receipt = tx!(s.resolveDispute(for_payer, false));
    eprintln!("gas: resolveDispute (payer wins) {}", receipt.gas_used);
    assert_eq!(w.status(for_payer).await, request_status::REFUNDED);
    assert_eq!(
        s.credit(w.h.account(PAYER)).call().await.unwrap(),
        fee() + bond
    );
    let slash = s.config().call().await.unwrap()._7;
    assert_eq!(stake(&w).await, stake_before - slash);
    assert_eq!(
        w.nodes[GOV]
            .credit(w.h.account(PAYER))
            .call()
            .await
            .unwrap(),
        slash
    );
    // Each resolves once; the timeout cannot pay a resolved dispute again.
    for id in [for_node, for_payer] {
        for node_wins in [true, false] {
            let _: SettlementAlreadySettled =
                expect_error(s.resolveDispute(id, node_wins).call().await);
        }
    }
    w.h.advance(s.config().call().await.unwrap()._9 + 1).await;
    for id in [for_node, for_payer] {
        let _: SettlementAlreadySettled =
            expect_error(w.settlement[OUTSIDER].settle(id).call().await);
    }
    w.assert_escrow(&[for_node, for_payer]).await;
}

/// The dispute bond and timeout ride on `setParams`: governance only (an outsider is rejected on WASM), a zero
/// bond or timeout is refused, and a dispute opened after a change needs the new bond and gets the new timeout.
#[tokio::test(flavor = "multi_thread")]
async fn dispute_params_are_governance_only_and_checked() {
    let w = world().await;
    let (window, answer_deadline, slash) = (WINDOW, DEADLINE, crate::settlement::eth_milli(10));
    let (bond, timeout) = (crate::settlement::eth_milli(20), 3_600u64);
    let err: SettlementUnauthorized = expect_error(
        w.settlement[OUTSIDER]
            .setParams(window, answer_deadline, slash, bond, timeout)
            .call()
            .await,
    );
    assert_eq!(err.account, w.h.account(OUTSIDER));
    let _: SettlementUnauthorized = expect_error(
        w.settlement[PAYER]
            .setParams(window, answer_deadline, slash, U256::from(1), 1)
            .call()
            .await,
    );
    for (b, t, which) in [(U256::ZERO, timeout, 3), (bond, 0, 2)] {
        let err: SettlementInvalidParam = expect_error(
            w.settlement[GOV]
                .setParams(window, answer_deadline, slash, b, t)
                .call()
                .await,
        );
        assert_eq!(err.which, which);
    }
    tx!(w.settlement[GOV].setParams(window, answer_deadline, slash, bond, timeout));
    let c = w.settlement[GOV].config().call().await.unwrap();
    assert_eq!((c._8, c._9), (bond, timeout));

    let id = keccak256("new-bond");
    proven(&w, id).await;
    let old_default = crate::settlement::eth_milli(10);
    let err: SettlementInsufficientValue = expect_error(
        w.settlement[PAYER]
            .dispute(id)
            .value(old_default)
            .call()
            .await,
    );
    assert_eq!(err.required, bond);
    tx!(w.settlement[PAYER].dispute(id).value(bond));
    let expires = w.settlement[GOV].getRequest(id).call().await.unwrap()._8;
    assert!(expires <= now(&w.h).await + timeout);
    advance_past(&w, expires).await;
    tx!(w.settlement[OUTSIDER].settle(id));
    assert_eq!(w.status(id).await, request_status::SETTLED);
    w.assert_escrow(&[id]).await;
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
