//! The receipts' repository on SQLite and PostgreSQL (one suite, both backends).

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use verity_abi::settlement::{request_status, void_reason};

use super::*;
use crate::store::testing::store_suite;
use crate::store::StoreError;

const US: Address = Address::with_last_byte(0xaa);
const THEM: Address = Address::with_last_byte(0xbb);

fn receipt(n: u8, body: u8) -> NewReceipt {
    let signed = Bytes::from(vec![body; 384]);
    NewReceipt {
        request_id: B256::repeat_byte(n),
        leaf: keccak256(keccak256(&signed)),
        signed,
        node: Address::repeat_byte(5),
        model: U256::from(1),
        signed_at: 1_000 + u64::from(n),
        received_at: i64::from(n),
    }
}

fn anchored(chain_batch: u64, submitter: Address, root: B256) -> Anchored {
    Anchored {
        chain_batch,
        submitter,
        root,
        count: 2,
        anchored_at: 5_000,
        data_uri: format!("http://x/batches/{root}"),
        block: 10 + chain_batch,
    }
}

async fn dedupes_batches_anchors_and_finalizes<S: ReceiptStore>(s: &S) {
    let (a, b, c) = (receipt(1, 1), receipt(2, 2), receipt(3, 3));
    let got = s
        .insert_receipts(&[a.clone(), b.clone(), a.clone(), receipt(1, 9)])
        .await
        .unwrap();
    assert_eq!(
        got,
        [
            Inserted::New,
            Inserted::New,
            Inserted::Duplicate,
            Inserted::Conflict
        ]
    );
    assert_eq!(
        s.insert_receipts(std::slice::from_ref(&c)).await.unwrap(),
        [Inserted::New]
    );
    let stored = s.receipt(a.request_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.state, stored.signed.clone(), stored.leaf),
        (ReceiptState::Answered, a.signed.clone(), a.leaf)
    );
    assert_eq!(s.waiting_summary().await.unwrap(), (3, Some(1)));
    let waiting = s.waiting_receipts(2).await.unwrap();
    assert_eq!(
        waiting.iter().map(|r| r.request_id).collect::<Vec<_>>(),
        [a.request_id, b.request_id]
    );

    let root = B256::repeat_byte(0x77);
    let id = s
        .build_batch(root, &[a.request_id, b.request_id], 10)
        .await
        .unwrap();
    // A receipt no longer waiting cannot be batched again: nothing is stored, and the lost race is transient (the
    // batcher re-reads next pass), never a permanent error that ends the service loop.
    let lost = s
        .build_batch(B256::repeat_byte(0x78), &[a.request_id, c.request_id], 11)
        .await
        .expect_err("a receipt no longer waiting is not batched again");
    assert!(
        matches!(lost, StoreError::Raced { .. }) && lost.is_transient(),
        "{lost:?}"
    );
    assert_eq!(
        s.receipt(c.request_id).await.unwrap().unwrap().state,
        ReceiptState::Answered
    );
    assert!(s
        .batches_by_root(B256::repeat_byte(0x78))
        .await
        .unwrap()
        .is_empty());
    let batch = s.batch(id).await.unwrap().unwrap();
    assert_eq!(
        (batch.status, batch.ours, batch.count, batch.chain_batch),
        (BatchStatus::Built, true, 2, None)
    );
    let mut leaves = s.leaves(id).await.unwrap();
    leaves.sort_by_key(|l| l.request_id);
    assert_eq!(
        leaves
            .iter()
            .map(|l| (l.request_id, l.leaf))
            .collect::<Vec<_>>(),
        [(a.request_id, a.leaf), (b.request_id, b.leaf)]
    );
    assert_eq!(
        s.receipt(a.request_id).await.unwrap().unwrap().batch_id,
        Some(id)
    );
    assert_eq!(s.waiting_summary().await.unwrap(), (1, Some(3)));
    assert_eq!(
        s.inclusion_of(a.leaf).await.unwrap().map(|b| b.id),
        Some(id)
    );

    // BatchAnchored by us links our batch (twice: the same row).
    assert_eq!(
        s.apply_anchored(&anchored(7, US, root), US, 0)
            .await
            .unwrap(),
        id
    );
    assert_eq!(
        s.apply_anchored(&anchored(7, US, root), US, 0)
            .await
            .unwrap(),
        id
    );
    let batch = s.batch(id).await.unwrap().unwrap();
    assert_eq!(
        (batch.status, batch.chain_batch, batch.anchored_at),
        (BatchStatus::Anchored, Some(7), Some(5_000))
    );
    assert_eq!(
        s.batches_in(BatchStatus::Anchored, true)
            .await
            .unwrap()
            .len(),
        1
    );
    s.apply_finalized(7, 50).await.unwrap();
    s.apply_finalized(7, 50).await.unwrap();
    assert_eq!(
        s.batch(id).await.unwrap().unwrap().status,
        BatchStatus::Final
    );
    // A void after final changes nothing.
    s.apply_voided(7, void_reason::BAD_TIME, a.request_id, 60)
        .await
        .unwrap();
    assert_eq!(
        s.batch(id).await.unwrap().unwrap().status,
        BatchStatus::Final
    );
    assert_eq!(
        s.receipt(a.request_id).await.unwrap().unwrap().state,
        ReceiptState::Batched
    );
}

async fn a_voided_batch_of_ours_releases_its_honest_receipts<S: ReceiptStore>(s: &S) {
    let (a, b, c) = (receipt(1, 1), receipt(2, 2), receipt(3, 3));
    s.insert_receipts(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    let root = B256::repeat_byte(0x11);
    let id = s
        .build_batch(root, &[a.request_id, b.request_id, c.request_id], 0)
        .await
        .unwrap();
    s.apply_anchored(&anchored(3, US, root), US, 0)
        .await
        .unwrap();
    s.apply_voided(3, void_reason::DUPLICATE_REQUEST, b.request_id, 60)
        .await
        .unwrap();
    s.apply_voided(3, void_reason::DUPLICATE_REQUEST, b.request_id, 60)
        .await
        .unwrap();
    let batch = s.batch(id).await.unwrap().unwrap();
    assert_eq!(
        (batch.status, batch.void_reason, batch.void_request),
        (
            BatchStatus::Voided,
            Some(void_reason::DUPLICATE_REQUEST),
            Some(b.request_id)
        )
    );
    let state = |r: B256| async move { s.receipt(r).await.unwrap().unwrap() };
    assert_eq!(state(a.request_id).await.state, ReceiptState::Answered);
    assert_eq!(state(a.request_id).await.batch_id, None);
    assert_eq!(state(c.request_id).await.state, ReceiptState::Answered);
    let excluded = state(b.request_id).await;
    assert_eq!(
        (excluded.state, excluded.note),
        (ReceiptState::Excluded, Some(void_reason::DUPLICATE_REQUEST))
    );
    assert_eq!(
        s.inclusion_of(a.leaf).await.unwrap(),
        None,
        "a voided batch includes nothing"
    );
    // Re-anchored in a new batch.
    let again = s
        .build_batch(B256::repeat_byte(0x12), &[a.request_id, c.request_id], 1)
        .await
        .unwrap();
    assert_ne!(again, id);
    assert_eq!(state(a.request_id).await.batch_id, Some(again));

    // An abandoned batch (its anchor failed) releases everything.
    s.abandon_batch(again).await.unwrap();
    assert_eq!(
        s.batch(again).await.unwrap().unwrap().status,
        BatchStatus::Abandoned
    );
    assert_eq!(s.waiting_summary().await.unwrap().0, 2);
    // Retention: the voided batch (anchored at 5,000) and the abandoned one (created at 1 ms) lose their leaves
    // once older than the cut-offs; nothing else does.
    let leaves = |b: i64| async move { s.leaves(b).await.unwrap().len() };
    assert_eq!((leaves(id).await, leaves(again).await), (3, 2));
    assert_eq!(
        s.prune_dead_leaves(5_000, 1).await.unwrap(),
        0,
        "not older than the cut-offs"
    );
    assert_eq!(
        s.prune_dead_leaves(5_001, 1).await.unwrap(),
        3,
        "the voided batch's"
    );
    assert_eq!(
        s.prune_dead_leaves(5_001, 2).await.unwrap(),
        2,
        "the abandoned batch's"
    );
    assert_eq!((leaves(id).await, leaves(again).await), (0, 0));
    // Expiry moves waiting receipts only.
    assert_eq!(
        s.set_receipt_state(&[a.request_id, b.request_id], ReceiptState::Expired, None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(state(a.request_id).await.state, ReceiptState::Expired);
}

async fn others_batches_duplicates_and_exclusion<S: ReceiptStore>(s: &S) {
    let (a, b) = (receipt(1, 1), receipt(2, 2));
    s.insert_receipts(&[a.clone(), b.clone()]).await.unwrap();
    // Someone else anchors a batch with a's very bytes and another leaf for b's request id.
    let root = B256::repeat_byte(0x21);
    let theirs = s
        .apply_anchored(&anchored(1, THEM, root), US, 9)
        .await
        .unwrap();
    assert_eq!(
        s.apply_anchored(&anchored(1, THEM, root), US, 9)
            .await
            .unwrap(),
        theirs
    );
    let row = s.batch(theirs).await.unwrap().unwrap();
    assert_eq!(
        (row.ours, row.status, row.checked),
        (false, BatchStatus::Anchored, Checked::Unchecked)
    );
    let other_b = receipt(2, 7);
    let leaf = |r: &NewReceipt| LeafRow {
        leaf: r.leaf,
        request_id: r.request_id,
        signed: r.signed.clone(),
    };
    s.store_leaves(theirs, &[leaf(&a), leaf(&other_b)])
        .await
        .unwrap();
    s.store_leaves(theirs, &[leaf(&a)]).await.unwrap();
    assert_eq!(s.leaves(theirs).await.unwrap().len(), 2);
    assert_eq!(
        s.batches_in(BatchStatus::Anchored, false)
            .await
            .unwrap()
            .len(),
        1
    );
    // Both of our waiting receipts' request ids are in their batch: excluded, never anchored by us.
    assert_eq!(s.exclude_included_elsewhere().await.unwrap(), 2);
    assert_eq!(s.waiting_summary().await.unwrap().0, 0);
    // a is still included (their batch has its exact leaf), b is not.
    assert_eq!(
        s.inclusion_of(a.leaf).await.unwrap().map(|r| r.id),
        Some(theirs)
    );
    assert_eq!(s.inclusion_of(b.leaf).await.unwrap(), None);

    // A later batch repeating b's request id under yet another leaf: a duplicate of the earlier one.
    let later = s
        .apply_anchored(&anchored(2, THEM, B256::repeat_byte(0x22)), US, 9)
        .await
        .unwrap();
    let third_b = receipt(2, 8);
    s.store_leaves(later, &[leaf(&third_b), leaf(&receipt(5, 5))])
        .await
        .unwrap();
    let dup = s
        .first_duplicate(later, 2)
        .await
        .unwrap()
        .expect("duplicate");
    assert_eq!((dup.request_id, dup.leaf), (b.request_id, third_b.leaf));
    let (earlier, earlier_leaf) = s
        .earlier_inclusion(dup.request_id, 2, later, dup.leaf)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((earlier.id, earlier_leaf.leaf), (theirs, other_b.leaf));
    // The earlier batch itself has no earlier duplicate.
    assert_eq!(s.first_duplicate(theirs, 1).await.unwrap(), None);
    // Twice in one batch under different leaves is a duplicate too.
    let twice = s
        .apply_anchored(&anchored(4, THEM, B256::repeat_byte(0x24)), US, 9)
        .await
        .unwrap();
    s.store_leaves(twice, &[leaf(&receipt(9, 1)), leaf(&receipt(9, 2))])
        .await
        .unwrap();
    let d = s
        .first_duplicate(twice, 4)
        .await
        .unwrap()
        .expect("same-batch duplicate");
    let (e, el) = s
        .earlier_inclusion(d.request_id, 4, twice, d.leaf)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.id, twice);
    assert_ne!(el.leaf, d.leaf);
    // Verdicts are stored.
    let call = Bytes::from_static(b"challenge");
    s.set_checked(later, Checked::Faulty, Some(&call))
        .await
        .unwrap();
    let row = s.batch(later).await.unwrap().unwrap();
    assert_eq!((row.checked, row.challenge), (Checked::Faulty, Some(call)));
    // A live batch's leaves are never pruned, however old.
    let live: usize = s.leaves(theirs).await.unwrap().len();
    assert!(live > 0);
    assert_eq!(
        s.prune_dead_leaves(u64::MAX / 2, i64::MAX).await.unwrap(),
        0
    );
    assert_eq!(s.leaves(theirs).await.unwrap().len(), live);
    // Once voided, an earlier batch no longer counts.
    s.apply_voided(1, void_reason::BAD_SIGNATURE, a.request_id, 60)
        .await
        .unwrap();
    assert_eq!(s.first_duplicate(later, 2).await.unwrap(), None);
}

async fn paid_requests_follow_their_events<S: ReceiptStore>(s: &S) {
    let (x, y) = (B256::repeat_byte(1), B256::repeat_byte(2));
    s.upsert_request(x, 100, 1).await.unwrap();
    s.upsert_request(y, 50, 1).await.unwrap();
    s.set_request_status(x, request_status::ANSWERED, None, 2)
        .await
        .unwrap();
    s.upsert_request(x, 100, 1).await.unwrap(); // a re-read keeps the status
    let open = s
        .requests_in(&[request_status::REQUESTED, request_status::ANSWERED])
        .await
        .unwrap();
    assert_eq!(
        open.iter()
            .map(|r| (r.request_id, r.status, r.deadline))
            .collect::<Vec<_>>(),
        [
            (y, request_status::REQUESTED, 50),
            (x, request_status::ANSWERED, 100)
        ]
    );
    s.set_request_status(y, request_status::PROVEN, Some(40), 2)
        .await
        .unwrap();
    s.set_request_status(y, request_status::PROVEN, None, 2)
        .await
        .unwrap();
    let proven = s.requests_in(&[request_status::PROVEN]).await.unwrap();
    assert_eq!(proven[0].proven_at, Some(40));
    assert!(s.requests_in(&[]).await.unwrap().is_empty());
}

/// Issue 15 #8: a reorg rolls back exactly what the orphaned blocks applied — a void (our receipts return to the
/// batch), another keeper's anchoring (forgotten with its leaves, our receipt it excluded waits again), our own
/// anchoring (built again), and the paid requests they touched are handed back for re-deriving.
async fn a_reorg_rolls_back_what_orphaned_blocks_applied<S: ReceiptStore>(s: &S) {
    let (a, b, c) = (receipt(1, 1), receipt(2, 2), receipt(3, 3));
    s.insert_receipts(&[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    let root = B256::repeat_byte(0x31);
    let ours = s
        .build_batch(root, &[a.request_id, b.request_id, c.request_id], 0)
        .await
        .unwrap();
    let mut e = anchored(3, US, root);
    e.block = 13;
    s.apply_anchored(&e, US, 0).await.unwrap();
    s.apply_voided(3, void_reason::DUPLICATE_REQUEST, b.request_id, 20)
        .await
        .unwrap();
    // Another keeper's batch (block 21) holds c's request: c is excluded as included elsewhere.
    let mut theirs = anchored(4, THEM, B256::repeat_byte(0x32));
    theirs.block = 21;
    let theirs_id = s.apply_anchored(&theirs, US, 0).await.unwrap();
    s.store_leaves(
        theirs_id,
        &[LeafRow {
            leaf: B256::repeat_byte(0x99),
            request_id: c.request_id,
            signed: Bytes::from_static(b"theirs"),
        }],
    )
    .await
    .unwrap();
    assert_eq!(s.exclude_included_elsewhere().await.unwrap(), 1);
    s.upsert_request(a.request_id, 100, 5).await.unwrap();
    s.set_request_status(a.request_id, request_status::ANSWERED, None, 22)
        .await
        .unwrap();
    s.upsert_request(b.request_id, 100, 6).await.unwrap();

    // Blocks 20 on are orphaned.
    let requests = s.rewind(20).await.unwrap();
    assert_eq!(
        requests,
        vec![a.request_id],
        "only a's status came from them"
    );
    let batch = s.batch(ours).await.unwrap().unwrap();
    assert_eq!(
        (batch.status, batch.void_reason, batch.chain_batch),
        (BatchStatus::Anchored, None, Some(3))
    );
    for r in [&a, &b, &c] {
        let got = s.receipt(r.request_id).await.unwrap().unwrap();
        assert_eq!(
            (got.state, got.batch_id),
            (ReceiptState::Batched, Some(ours)),
            "{got:?}"
        );
    }
    assert!(
        s.batch(theirs_id).await.unwrap().is_none(),
        "theirs forgotten"
    );
    assert!(s.leaves(theirs_id).await.unwrap().is_empty());
    s.reset_request(
        a.request_id,
        Some(RequestView {
            status: request_status::REQUESTED,
            deadline: 100,
            proven_at: 0,
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        s.requests_in(&[request_status::REQUESTED])
            .await
            .unwrap()
            .len(),
        2
    );
    // A deeper reorg orphans our anchoring too: built again, receipts still with it.
    assert!(s.rewind(13).await.unwrap().is_empty());
    let batch = s.batch(ours).await.unwrap().unwrap();
    assert_eq!(
        (batch.status, batch.chain_batch, batch.anchored_at),
        (BatchStatus::Built, None, None)
    );
    assert_eq!(
        s.receipt(a.request_id).await.unwrap().unwrap().batch_id,
        Some(ours)
    );
    s.reset_request(b.request_id, None).await.unwrap();
    assert_eq!(
        s.requests_in(&[request_status::REQUESTED])
            .await
            .unwrap()
            .len(),
        1
    );
}

store_suite!(
    a_reorg_rolls_back_what_orphaned_blocks_applied,
    dedupes_batches_anchors_and_finalizes,
    a_voided_batch_of_ours_releases_its_honest_receipts,
    others_batches_duplicates_and_exclusion,
    paid_requests_follow_their_events,
);
