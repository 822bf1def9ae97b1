//! Issue 15: the real keeper binary (`--settlement`, every receipts job) ended by a real `SIGKILL` sent by this
//! test at every failpoint it crosses — each step of the transaction manager for every intent (anchor, challenge,
//! finalize-batch, prove, settle, refund, the settlement of an expired dispute) and the receipts jobs' own steps
//! (a batch built before its anchor intent, a range of events applied before the cursor moves, a verdict stored
//! before its challenge) — and restarted on the same database. Nothing is lost and nothing is sent twice, checked
//! from chain state: each receipt in exactly one of our batches (one anchor), that batch finalized once, each paid
//! request proven, settled or refunded once, one challenge, and the keeper's nonce equal to its transaction count.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, ExitStatus};

use alloy::primitives::{keccak256, Bytes, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use verity_abi::rpc::{IInferenceSettlement, IReceiptBatches};
use verity_abi::settlement::{batch_status, encoded_leaf_hash, request_status, StandardMerkleTree};
use verity_keeper::failpoint::Failpoint;
use verity_keeper::receipts::store::{BatchStatus, ReceiptState, ReceiptStore};
use verity_keeper::receipts::{batcher, watcher};
use verity_keeper::store::{IntentStatus, OutboxStore};

use crate::receipts::{anchor_as_other, once_each, world, World, DEADLINE, NODE, PAYER, WINDOW};
use crate::support::{run_or_sigkill_at_failpoint, wallet, Reached};

/// The keeper binary on the world's chain and database, with every receipts job.
fn keeper_bin(w: &World, failpoints: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verity-keeper"));
    cmd.args(["--exit-when-idle", "run"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_RPC_URL", w.env.node.url())
        .env("DATABASE_URL", &w.env.db_url)
        .env("VERITY_KEEPER_KEY", &w.env.key)
        .env("VERITY_SETTLEMENT", w.settlement.to_string())
        .env("VERITY_KEEPER_LISTEN", "127.0.0.1:0")
        // Nobody fetches our batches here; the data URI only has to be stable across restarts.
        .env("VERITY_KEEPER_PUBLIC_URL", "http://127.0.0.1:9/keeper")
        .env("VERITY_RECEIPT_BATCH_AGE_MS", "0")
        .env("VERITY_ALLOW_FILE_URIS", "true")
        .env("VERITY_POLL_MS", "10")
        .env("VERITY_REBROADCAST_MS", "0")
        // A restarted process keeps its instance id (a pod's name): it takes its own lease back at once, so the
        // test does not wait out the TTL after every kill.
        .env("VERITY_INSTANCE_ID", "killed-keeper")
        .env("RUST_LOG", "warn")
        .env("VERITY_FAILPOINT", failpoints);
    cmd
}

/// `VERITY_FAILPOINT` arming every failpoint in `wait` mode except the steps already killed.
fn armed_except(killed: &BTreeSet<(String, String)>) -> String {
    let mut tokens: Vec<String> = Failpoint::ALL.iter().map(|p| p.name().into()).collect();
    tokens.push("wait".into());
    tokens.extend(killed.iter().map(|(p, what)| format!("{p}@{what}")));
    tokens.join(",")
}

/// Runs the binary armed at every step not killed yet, killing it at the first one it reaches and restarting it,
/// until a run ends by itself (nothing armed was due) without having submitted anything new. Returns the steps
/// killed in this phase.
async fn kill_at_every_step(
    w: &World,
    killed: &mut BTreeSet<(String, String)>,
) -> Vec<(String, String)> {
    let store = w.env.store().await;
    let mut phase = Vec::new();
    for _ in 0..200 {
        let before = store.latest_intents(1_000).await.unwrap().len();
        let cmd = keeper_bin(w, &armed_except(killed));
        let outcome: Result<Reached, (ExitStatus, String)> =
            tokio::task::spawn_blocking(move || run_or_sigkill_at_failpoint(cmd))
                .await
                .unwrap();
        match outcome {
            Ok(Reached { point, what }) => {
                assert!(!what.is_empty(), "{point} names what it was working on");
                assert!(
                    killed.insert((point.clone(), what.clone())),
                    "{point} at {what} fired again although exempted"
                );
                phase.push((point, what));
            }
            Err((status, stderr)) => {
                assert!(status.success(), "the keeper failed: {stderr}");
                if store.latest_intents(1_000).await.unwrap().len() == before {
                    return phase;
                }
            }
        }
    }
    panic!("the keeper kept reaching failpoints: {phase:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_killed_at_every_receipts_step_anchors_proves_settles_and_refunds_once() {
    let w = world().await;
    let store = w.env.store().await;
    let t = w.env.chain_now().await;

    // Paid requests: q answered, p only requested (both with receipts), late without a receipt (refunded), d
    // proven by the node's own receipt and disputed by the payer (settled for the node after the dispute's
    // expiry).
    let (q, p, late, d, free) = (
        keccak256("kill q"),
        keccak256("kill p"),
        keccak256("kill late"),
        keccak256("kill d"),
        keccak256("kill free"),
    );
    for id in [q, p, late, d] {
        w.request(id).await;
    }
    w.answer(q, "out-q").await;
    w.answer(d, "out-d").await;
    let node = IInferenceSettlement::new(w.settlement, wallet(&w.env.node, NODE));
    let r = node
        .proveWithReceipt(
            w.sign(&w.receipt(d, "out-d", w.env.chain_now().await)),
            Bytes::new(),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status(), "proven by receipt");
    let payer = IInferenceSettlement::new(w.settlement, wallet(&w.env.node, PAYER));
    let c = payer.config().call().await.unwrap();
    let (dispute_bond, dispute_timeout) = (c._8, c._9);
    let r = payer
        .dispute(d)
        .value(dispute_bond)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status(), "disputed");

    // The receipts the keeper holds, taken in on its database by the intake writer (as `POST /receipts` does).
    let ours: Vec<(B256, Bytes)> = [(q, "out-q"), (p, "out-p"), (free, "out-free")]
        .iter()
        .map(|(id, out)| (*id, w.sign(&w.receipt(*id, out, t))))
        .collect();
    {
        let running = w.start(store.clone()).await;
        for (_, signed) in &ours {
            running.receipts.intake().submit(signed).await.unwrap();
        }
    }
    assert_eq!(store.waiting_summary().await.unwrap().0, 3);
    // Another keeper anchors a batch with a forged leaf: challenged by ours.
    let forged = w.sign_with(
        &PrivateKeySigner::random(),
        &w.receipt(keccak256("kill forged"), "x", t),
    );
    let honest = w.sign(&w.receipt(keccak256("kill honest"), "x", t));
    let bad = anchor_as_other(&w, "kill-bad.bin", &[&honest, &forged]).await;
    let nonce_before = w.env.chain_nonce().await;

    // 1. Batched, anchored; the bad batch challenged.
    let mut killed = BTreeSet::new();
    let first = kill_at_every_step(&w, &mut killed).await;
    let built = store.batches_in(BatchStatus::Anchored, true).await.unwrap();
    assert_eq!(built.len(), 1, "one batch of ours: {built:?}");
    let batch = built[0].clone();
    let chain_batch = batch.chain_batch.unwrap();
    for step in [
        (Failpoint::AfterBatchBuilt, batcher::key(batch.root)),
        (Failpoint::AfterBatchChecked, watcher::key(bad)),
    ] {
        let step = (step.0.name().to_string(), step.1);
        assert!(first.contains(&step), "{step:?} not killed in {first:?}");
    }
    assert_eq!(w.batch_status(bad).await, batch_status::VOIDED);
    assert_eq!(w.batch_status(chain_batch).await, batch_status::ANCHORED);

    // 2. Past the window: finalized, then q and p proven by batch and settled.
    w.env.advance(WINDOW + 1).await;
    kill_at_every_step(&w, &mut killed).await;
    assert_eq!(w.batch_status(chain_batch).await, batch_status::FINAL);

    // 3. Past the deadline and the dispute's expiry: late refunded, d settled for the node.
    w.env.advance(DEADLINE.max(dispute_timeout) + 1).await;
    kill_at_every_step(&w, &mut killed).await;

    // Every intent the keeper made was killed at each of the transaction manager's steps and still landed once.
    let intents = store.latest_intents(1_000).await.unwrap();
    for i in &intents {
        assert_eq!(i.status, IntentStatus::Confirmed, "{i:?}");
        for point in Failpoint::OUTBOX {
            assert!(
                killed.contains(&(point.name().to_string(), i.key.clone())),
                "never killed at {point} of {}",
                i.key
            );
        }
    }
    let events_kills = killed
        .iter()
        .filter(|(p, _)| p == Failpoint::AfterEventsApplied.name())
        .count();
    assert!(
        events_kills >= 3,
        "a range of events in each phase: {killed:?}"
    );
    println!(
        "killed {} times ({} intents, {events_kills} event ranges)",
        killed.len(),
        intents.len()
    );

    // From the chain: one anchor of one batch holding each receipt, final; one challenge; each request proven,
    // settled or refunded once; the keeper's nonce moved by exactly the transactions it sent.
    let counts = once_each(&w.sent().await);
    assert_eq!(
        counts,
        BTreeMap::from([
            ("anchor", 1),
            ("challengeLeaf", 1),
            ("finalize", 1),
            ("prove", 2),
            ("refund", 1),
            ("settle", 3),
        ])
    );
    assert_eq!(
        w.env.chain_nonce().await - nonce_before,
        counts.values().sum::<usize>() as u64,
        "no other transaction (no duplicate under another calldata, no cancel)"
    );
    assert_eq!(intents.len(), counts.values().sum::<usize>());
    let on_chain = IReceiptBatches::new(w.batches, &w.env.provider);
    let anchored = on_chain
        .batch(U256::from(chain_batch))
        .call()
        .await
        .unwrap();
    assert_eq!(
        (anchored._0, anchored._1, anchored._2),
        (batch.root, 3, w.env.signer.address())
    );
    let leaves: Vec<B256> = ours.iter().map(|(_, s)| encoded_leaf_hash(s)).collect();
    let tree = StandardMerkleTree::new(&leaves).unwrap();
    assert_eq!(
        tree.root(),
        batch.root,
        "the batch holds exactly our receipts"
    );
    for (id, signed) in &ours {
        let proof = tree.proof(encoded_leaf_hash(signed)).unwrap();
        assert_eq!(
            on_chain
                .receiptStatus(U256::from(chain_batch), signed.clone(), proof)
                .call()
                .await
                .unwrap(),
            batch_status::FINAL,
            "{id}"
        );
        let held = store.receipt(*id).await.unwrap().unwrap();
        assert_eq!(
            (held.state, held.batch_id),
            (ReceiptState::Batched, Some(batch.id))
        );
    }
    for (id, status) in [
        (q, request_status::SETTLED),
        (p, request_status::SETTLED),
        (d, request_status::SETTLED),
        (late, request_status::REFUNDED),
    ] {
        assert_eq!(w.request_status(id).await, status, "{id}");
    }
}
