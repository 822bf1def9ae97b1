//! The store suite: every function runs on SQLite and PostgreSQL.

use alloy::primitives::{address, b256, Address, Bytes, B256, U256};

use super::testing::store_suite;
use super::*;

const SENDER: Address = address!("00000000000000000000000000000000000000aa");
const TARGET: Address = address!("00000000000000000000000000000000000000bb");

fn intent(key: &str) -> NewIntent {
    NewIntent {
        key: key.to_string(),
        sender: SENDER,
        target: TARGET,
        calldata: Bytes::from(key.as_bytes().to_vec()),
        value: U256::from(7u64),
    }
}

fn fake_sign(tag: u8) -> impl Fn(u64) -> std::result::Result<SignedTx, String> + Send + Sync {
    move |nonce| {
        let mut h = [0u8; 32];
        h[0] = tag;
        h[24..].copy_from_slice(&nonce.to_be_bytes());
        Ok(SignedTx {
            tx_hash: B256::from(h),
            raw: Bytes::from(vec![tag, nonce as u8]),
        })
    }
}

async fn enqueue_is_idempotent_by_key<S: Store>(s: &S) {
    let a = s.enqueue(&intent("finalize:1"), 10).await.unwrap();
    let b = s.enqueue(&intent("finalize:1"), 20).await.unwrap();
    assert!(matches!(a, Enqueued::Created(_)));
    assert_eq!(b, Enqueued::Existing(a.id()));
    let got = s.intent(a.id()).await.unwrap().unwrap();
    assert_eq!(got.key, "finalize:1");
    assert_eq!(got.sender, SENDER);
    assert_eq!(got.target, TARGET);
    assert_eq!(got.value, U256::from(7u64));
    assert_eq!(got.calldata.as_ref(), b"finalize:1");
    assert_eq!(got.status, IntentStatus::Pending);
    assert_eq!(got.created_at, 10);
    assert_eq!(
        s.intent_by_key("finalize:1").await.unwrap().unwrap().id,
        a.id()
    );
    assert!(s.intent_by_key("nope").await.unwrap().is_none());
}

async fn nonces_are_allocated_once_in_order<S: Store>(s: &S) {
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(s.enqueue(&intent(&format!("k{i}")), 1).await.unwrap().id());
    }
    let a0 = s.sign_next(ids[0], 5, &fake_sign(1), 2).await.unwrap();
    let a1 = s.sign_next(ids[1], 0, &fake_sign(1), 2).await.unwrap();
    // The chain moved ahead (another sender used our key): the floor wins.
    let a2 = s.sign_next(ids[2], 9, &fake_sign(1), 2).await.unwrap();
    assert_eq!((a0.nonce, a1.nonce, a2.nonce), (5, 6, 9));
    // A second sign of the same intent is refused and consumes nothing.
    let again = s.sign_next(ids[0], 0, &fake_sign(2), 3).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })));
    let i0 = s.intent(ids[0]).await.unwrap().unwrap();
    assert_eq!((i0.status, i0.nonce), (IntentStatus::Signed, Some(5)));
    assert_eq!(s.attempts(ids[0]).await.unwrap(), vec![a0.clone()]);
    assert_eq!(a0.raw.as_ref(), &[1, 5]);
}

async fn failed_signing_stores_nothing_and_keeps_the_nonce<S: Store>(s: &S) {
    let id = s.enqueue(&intent("k"), 1).await.unwrap().id();
    let fail = |_n: u64| -> std::result::Result<SignedTx, String> { Err("no key".into()) };
    assert!(matches!(
        s.sign_next(id, 3, &fail, 2).await,
        Err(StoreError::Sign(_))
    ));
    let i = s.intent(id).await.unwrap().unwrap();
    assert_eq!((i.status, i.nonce), (IntentStatus::Pending, None));
    assert!(s.attempts(id).await.unwrap().is_empty());
    let a = s.sign_next(id, 3, &fake_sign(1), 2).await.unwrap();
    assert_eq!(a.nonce, 3);
}

async fn sent_then_finished_with_guarded_transitions<S: Store>(s: &S) {
    let id = s.enqueue(&intent("k"), 1).await.unwrap().id();
    let a = s.sign_next(id, 0, &fake_sign(1), 2).await.unwrap();
    s.mark_sent(a.id, 3).await.unwrap();
    s.mark_sent(a.id, 4).await.unwrap();
    let attempts = s.attempts(id).await.unwrap();
    assert_eq!(attempts[0].broadcasts, 2);
    assert_eq!(attempts[0].last_broadcast_at, Some(4));
    // Wrong `from` is a conflict, not a silent write.
    let wrong = s
        .finish(
            id,
            IntentStatus::Signed,
            IntentStatus::Confirmed,
            None,
            None,
            5,
        )
        .await;
    assert!(matches!(wrong, Err(StoreError::Conflict { .. })));
    // A non-final target is refused by `finish`.
    assert!(s
        .finish(id, IntentStatus::Sent, IntentStatus::Sent, None, None, 5)
        .await
        .is_err());
    let h = b256!("1111111111111111111111111111111111111111111111111111111111111111");
    s.finish(
        id,
        IntentStatus::Sent,
        IntentStatus::Confirmed,
        Some((h, 42)),
        None,
        6,
    )
    .await
    .unwrap();
    let i = s.intent(id).await.unwrap().unwrap();
    assert_eq!(
        (i.status, i.tx_hash, i.block_number),
        (IntentStatus::Confirmed, Some(h), Some(42))
    );
    // Final: no way back.
    assert!(matches!(
        s.requeue(id, IntentStatus::Confirmed, 0, "x", 7).await,
        Err(StoreError::InvalidTransition { .. })
    ));
    assert!(s
        .intents_in(&IntentStatus::OPEN, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.count_by_status().await.unwrap(),
        vec![(IntentStatus::Confirmed, 1)]
    );
}

async fn requeue_clears_the_nonce_and_lifts_the_counter<S: Store>(s: &S) {
    let id = s.enqueue(&intent("k"), 1).await.unwrap().id();
    let a = s.sign_next(id, 4, &fake_sign(1), 2).await.unwrap();
    s.mark_sent(a.id, 3).await.unwrap();
    s.requeue(id, IntentStatus::Sent, 8, "nonce taken", 4)
        .await
        .unwrap();
    let i = s.intent(id).await.unwrap().unwrap();
    assert_eq!((i.status, i.nonce), (IntentStatus::Pending, None));
    assert_eq!(i.error.as_deref(), Some("nonce taken"));
    let b = s.sign_next(id, 0, &fake_sign(2), 5).await.unwrap();
    assert_eq!(b.nonce, 8);
    // Both attempts stay on record; each is found by its nonce.
    assert_eq!(s.attempts(id).await.unwrap().len(), 2);
    let hashes = |v: Vec<Attempt>| v.into_iter().map(|x| x.tx_hash).collect::<Vec<_>>();
    assert_eq!(
        hashes(s.attempts_for_nonce(SENDER, 4).await.unwrap()),
        vec![a.tx_hash]
    );
    assert_eq!(
        hashes(s.attempts_for_nonce(SENDER, 8).await.unwrap()),
        vec![b.tx_hash]
    );
    assert!(s.attempts_for_nonce(SENDER, 5).await.unwrap().is_empty());
}

async fn open_intents_listed_oldest_first<S: Store>(s: &S) {
    let a = s.enqueue(&intent("a"), 1).await.unwrap().id();
    let b = s.enqueue(&intent("b"), 1).await.unwrap().id();
    s.sign_next(b, 0, &fake_sign(1), 2).await.unwrap();
    let open: Vec<i64> = s
        .intents_in(&IntentStatus::OPEN, 10)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, vec![a, b]);
    let pending = s.intents_in(&[IntentStatus::Pending], 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(s.intents_in(&IntentStatus::OPEN, 1).await.unwrap().len(), 1);
}

async fn latest_intents_newest_first<S: Store>(s: &S) {
    assert!(s.latest_intents(5).await.unwrap().is_empty());
    let ids: Vec<i64> = enqueue_all(s, &["x", "y", "z"]).await;
    let latest: Vec<i64> = s
        .latest_intents(2)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(latest, vec![ids[2], ids[1]]);
}

async fn enqueue_all<S: Store>(s: &S, keys: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for k in keys {
        ids.push(s.enqueue(&intent(k), 1).await.unwrap().id());
    }
    ids
}

async fn cursor_round_trips<S: Store>(s: &S) {
    assert_eq!(s.cursor("registry").await.unwrap(), None);
    let c = Cursor {
        block: 12,
        hash: B256::repeat_byte(3),
    };
    s.set_cursor("registry", c).await.unwrap();
    let d = Cursor {
        block: 15,
        hash: B256::repeat_byte(4),
    };
    s.set_cursor("registry", d).await.unwrap();
    assert_eq!(s.cursor("registry").await.unwrap(), Some(d));
    assert_eq!(s.cursor("gauge").await.unwrap(), None);
}

async fn lease_has_one_holder_until_expiry<S: Store>(s: &S) {
    let a = s
        .try_acquire("keeper", "a", 1_000, 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.holder.as_str(), a.expires_at), ("a", 1_500));
    assert!(s
        .try_acquire("keeper", "b", 1_200, 500)
        .await
        .unwrap()
        .is_none());
    // Renewal keeps the term.
    let a2 = s
        .try_acquire("keeper", "a", 1_400, 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a2.expires_at, a2.term), (1_900, a.term));
    // After expiry another instance takes over with a higher term.
    let b = s
        .try_acquire("keeper", "b", 1_900, 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.holder, "b");
    assert!(b.term > a2.term);
    assert!(s
        .try_acquire("keeper", "a", 2_000, 500)
        .await
        .unwrap()
        .is_none());
    // Release hands over at once.
    s.release("keeper", "b").await.unwrap();
    assert_eq!(
        s.try_acquire("keeper", "a", 2_001, 500)
            .await
            .unwrap()
            .unwrap()
            .holder,
        "a"
    );
    assert_eq!(s.lease("keeper").await.unwrap().unwrap().holder, "a");
}

fn batch_sign(
    tag: u8,
) -> impl Fn(usize, u64) -> std::result::Result<SignedTx, String> + Send + Sync {
    let one = fake_sign(tag);
    move |_i, nonce| one(nonce)
}

async fn a_batch_takes_consecutive_nonces_in_one_transaction<S: Store>(s: &S) {
    let ids = enqueue_all(s, &["b0", "b1", "b2", "b3"]).await;
    // The chain's floor wins over an empty counter; the order of `ids` is the order of the nonces.
    let order = [ids[2], ids[0], ids[1]];
    let attempts = s
        .sign_batch(&order, 7, &batch_sign(1), 2, None)
        .await
        .unwrap();
    let nonces: Vec<u64> = attempts.iter().map(|a| a.nonce).collect();
    assert_eq!(nonces, vec![7, 8, 9]);
    for (a, id) in attempts.iter().zip(order) {
        assert_eq!(a.intent_id, id);
        let i = s.intent(id).await.unwrap().unwrap();
        assert_eq!((i.status, i.nonce), (IntentStatus::Signed, Some(a.nonce)));
        assert_eq!(s.attempts(id).await.unwrap(), vec![a.clone()]);
        assert_eq!(a.raw.as_ref(), &[1, a.nonce as u8]);
        assert_eq!(a.broadcasts, 0);
    }
    // The counter moved past the whole run: a single sign continues after it.
    let next = s.sign_next(ids[3], 0, &fake_sign(2), 3).await.unwrap();
    assert_eq!(next.nonce, 10);
    // One query returns every attempt of the asked intents, by intent.
    let all = s.attempts_of(&[ids[1], ids[0], 9_999]).await.unwrap();
    let owners: Vec<i64> = all.iter().map(|a| a.intent_id).collect();
    assert_eq!(owners, vec![ids[0], ids[1]]);
    assert!(s.attempts_of(&[]).await.unwrap().is_empty());
    assert!(s
        .sign_batch(&[], 0, &batch_sign(1), 2, None)
        .await
        .unwrap()
        .is_empty());
}

async fn a_batch_is_all_or_nothing<S: Store>(s: &S) {
    let ids = enqueue_all(s, &["c0", "c1", "c2"]).await;
    s.sign_next(ids[1], 0, &fake_sign(1), 2).await.unwrap();
    // One intent is no longer pending: nothing of the batch is stored, no nonce consumed.
    let conflict = s.sign_batch(&ids, 0, &batch_sign(2), 3, None).await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict { id, .. }) if id == ids[1]),
        "{conflict:?}"
    );
    // Signing fails for the second intent of the batch: nothing stored either.
    let fail_second = |i: usize, nonce: u64| -> std::result::Result<SignedTx, String> {
        if i == 1 {
            Err("no key".into())
        } else {
            fake_sign(3)(nonce)
        }
    };
    let failed = s
        .sign_batch(&[ids[0], ids[2]], 0, &fail_second, 4, None)
        .await;
    assert!(matches!(failed, Err(StoreError::Sign(_))), "{failed:?}");
    for id in [ids[0], ids[2]] {
        let i = s.intent(id).await.unwrap().unwrap();
        assert_eq!((i.status, i.nonce), (IntentStatus::Pending, None));
        assert!(s.attempts(id).await.unwrap().is_empty());
    }
    // Intents of two senders never share a batch.
    let other = NewIntent {
        sender: address!("00000000000000000000000000000000000000cc"),
        ..intent("c3")
    };
    let other = s.enqueue(&other, 1).await.unwrap().id();
    let mixed = s
        .sign_batch(&[ids[0], other], 0, &batch_sign(4), 5, None)
        .await;
    assert!(matches!(mixed, Err(StoreError::MixedSenders)), "{mixed:?}");
    assert_eq!(
        s.intent(ids[0]).await.unwrap().unwrap().status,
        IntentStatus::Pending
    );
    // The same batch goes through once it is valid, right after the single sign's nonce 0.
    let ok = s
        .sign_batch(&[ids[0], ids[2]], 0, &batch_sign(5), 6, None)
        .await
        .unwrap();
    assert_eq!(ok.iter().map(|a| a.nonce).collect::<Vec<_>>(), vec![1, 2]);
}

async fn a_batch_is_fenced_by_the_lease<S: Store>(s: &S) {
    let ids = enqueue_all(s, &["f0", "f1"]).await;
    let a = s
        .try_acquire("keeper", "a", 1_000, 10)
        .await
        .unwrap()
        .unwrap();
    // a's lease expired long ago by the database's clock: a deposed leader signs nothing.
    let fenced = s.sign_batch(&ids, 0, &batch_sign(1), 2, Some(&a)).await;
    assert!(
        matches!(&fenced, Err(StoreError::Fenced { .. })),
        "{fenced:?}"
    );
    assert!(fenced.unwrap_err().is_transient());
    for id in &ids {
        assert!(s.attempts(*id).await.unwrap().is_empty());
    }
    let now = s.db_now_ms().await.unwrap();
    let held = s
        .try_acquire("keeper", "a", now, 60_000)
        .await
        .unwrap()
        .unwrap();
    let signed = s
        .sign_batch(&ids, 0, &batch_sign(1), 2, Some(&held))
        .await
        .unwrap();
    assert_eq!(signed.len(), 2);
}

async fn batched_broadcasts_and_finishes_are_guarded<S: Store>(s: &S) {
    let ids = enqueue_all(s, &["d0", "d1", "d2"]).await;
    let attempts = s
        .sign_batch(&ids, 0, &batch_sign(1), 2, None)
        .await
        .unwrap();
    let attempt_ids: Vec<i64> = attempts.iter().map(|a| a.id).collect();
    s.mark_sent_batch(&attempt_ids, 3).await.unwrap();
    s.mark_sent_batch(&attempt_ids[..1], 4).await.unwrap();
    for (a, id) in attempts.iter().zip(&ids) {
        assert_eq!(
            s.intent(*id).await.unwrap().unwrap().status,
            IntentStatus::Sent
        );
        let stored = s.attempts(*id).await.unwrap().remove(0);
        let expected = if a.id == attempt_ids[0] { 2 } else { 1 };
        assert_eq!(stored.broadcasts, expected);
    }
    // An unknown attempt fails the whole batch.
    assert!(s
        .mark_sent_batch(&[attempt_ids[1], 9_999], 5)
        .await
        .is_err());
    assert_eq!(s.attempts(ids[1]).await.unwrap()[0].broadcasts, 1);
    let h = |b: u8| B256::repeat_byte(b);
    let finish = |id: i64, from: IntentStatus, to: IntentStatus, block: u64| Finish {
        id,
        from,
        to,
        included: Some((h(block as u8), block)),
        error: None,
    };
    // One guard fails (wrong `from`): nothing is recorded.
    let wrong = s
        .finish_batch(
            &[
                finish(ids[0], IntentStatus::Sent, IntentStatus::Confirmed, 10),
                finish(ids[1], IntentStatus::Signed, IntentStatus::Confirmed, 11),
            ],
            6,
        )
        .await;
    assert!(
        matches!(wrong, Err(StoreError::Conflict { .. })),
        "{wrong:?}"
    );
    assert_eq!(
        s.intent(ids[0]).await.unwrap().unwrap().status,
        IntentStatus::Sent
    );
    // A non-final target is refused before anything is written.
    assert!(matches!(
        s.finish_batch(
            &[finish(ids[0], IntentStatus::Sent, IntentStatus::Sent, 10)],
            6
        )
        .await,
        Err(StoreError::InvalidTransition { .. })
    ));
    s.finish_batch(
        &[
            finish(ids[0], IntentStatus::Sent, IntentStatus::Confirmed, 10),
            Finish {
                error: Some("reverted: x".into()),
                ..finish(ids[1], IntentStatus::Sent, IntentStatus::Reverted, 11)
            },
        ],
        7,
    )
    .await
    .unwrap();
    let done = s.intent(ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (done.status, done.tx_hash, done.block_number),
        (IntentStatus::Confirmed, Some(h(10)), Some(10))
    );
    let reverted = s.intent(ids[1]).await.unwrap().unwrap();
    assert_eq!(reverted.status, IntentStatus::Reverted);
    assert_eq!(reverted.error.as_deref(), Some("reverted: x"));
    // Final: a repeat conflicts and changes nothing.
    assert!(s
        .finish_batch(
            &[finish(
                ids[0],
                IntentStatus::Sent,
                IntentStatus::Confirmed,
                12
            )],
            8
        )
        .await
        .is_err());
    assert_eq!(
        s.intent(ids[0]).await.unwrap().unwrap().block_number,
        Some(10)
    );
    assert!(s.finish_batch(&[], 9).await.is_ok());
    assert_eq!(
        s.intents_in(&IntentStatus::OPEN, 10).await.unwrap().len(),
        1
    );
}

store_suite!(
    a_batch_takes_consecutive_nonces_in_one_transaction,
    a_batch_is_all_or_nothing,
    a_batch_is_fenced_by_the_lease,
    batched_broadcasts_and_finishes_are_guarded,
    enqueue_is_idempotent_by_key,
    nonces_are_allocated_once_in_order,
    failed_signing_stores_nothing_and_keeps_the_nonce,
    sent_then_finished_with_guarded_transitions,
    requeue_clears_the_nonce_and_lifts_the_counter,
    open_intents_listed_oldest_first,
    latest_intents_newest_first,
    cursor_round_trips,
    lease_has_one_holder_until_expiry,
);
