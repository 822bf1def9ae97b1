//! The transaction manager on devnode: a kill at every failpoint loses nothing and sends nothing twice; a nonce
//! taken by another transaction re-queues the intent; a dropped transaction is rebroadcast byte for byte.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Bytes, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use verity_keeper::failpoint::{Failpoint, Failpoints};
use verity_keeper::outbox::OutboxError;
use verity_keeper::store::{IntentStatus, OutboxStore};

use crate::support::{env, TARGET};

const N: usize = 3;

fn calldata(i: usize) -> Bytes {
    Bytes::from(format!("intent-{i}").into_bytes())
}

async fn kill_at_then_restart(point: Failpoint) {
    let env = env().await;
    let first = env.manager(Failpoints::of([point])).await;
    for i in 0..N {
        first
            .submit(&format!("k{i}"), TARGET, calldata(i), U256::ZERO)
            .await
            .unwrap();
    }
    let mut fired = false;
    for _ in 0..10 {
        match first.run_once().await {
            Err(OutboxError::Failpoint(p)) => {
                assert_eq!(p, point);
                fired = true;
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(fired, "failpoint {point} never reached");
    drop(first);
    // Restart: a new manager on the same database, no failpoint.
    let second = env.manager(Failpoints::none()).await;
    assert!(second.drain(50, Duration::from_millis(10)).await.unwrap());
    for i in 0..N {
        let intent = second
            .store()
            .intent_by_key(&format!("k{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(intent.status, IntentStatus::Confirmed, "{intent:?}");
    }
    let sent = env.sent_by_calldata().await;
    let expected: BTreeMap<Bytes, usize> = (0..N).map(|i| (calldata(i), 1)).collect();
    assert_eq!(
        sent, expected,
        "each intent exactly once on chain ({point})"
    );
    assert_eq!(env.chain_nonce().await, N as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_after_sign_loses_nothing_sends_nothing_twice() {
    kill_at_then_restart(Failpoint::AfterSign).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_after_broadcast_loses_nothing_sends_nothing_twice() {
    kill_at_then_restart(Failpoint::AfterBroadcast).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_after_receipt_loses_nothing_sends_nothing_twice() {
    kill_at_then_restart(Failpoint::AfterReceipt).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_submit_sends_once() {
    let env = env().await;
    let m = env.manager(Failpoints::none()).await;
    for _ in 0..3 {
        m.submit("finalize:1", TARGET, calldata(1), U256::ZERO)
            .await
            .unwrap();
    }
    assert!(m.drain(50, Duration::from_millis(10)).await.unwrap());
    m.submit("finalize:1", TARGET, calldata(1), U256::ZERO)
        .await
        .unwrap();
    assert!(m.drain(5, Duration::from_millis(10)).await.unwrap());
    assert_eq!(env.sent_by_calldata().await.get(&calldata(1)), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn nonce_taken_by_another_sender_requeues_the_intent() {
    let env = env().await;
    let first = env.manager(Failpoints::of([Failpoint::AfterSign])).await;
    first
        .submit("k", TARGET, calldata(0), U256::ZERO)
        .await
        .unwrap();
    assert!(matches!(
        first.run_once().await,
        Err(OutboxError::Failpoint(_))
    ));
    let signed = first.store().intent_by_key("k").await.unwrap().unwrap();
    assert_eq!(signed.nonce, Some(0));
    // Someone else uses the key's nonce 0 first.
    let wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(env.signer.clone()))
        .connect_http(env.node.url().parse().unwrap());
    let other = TransactionRequest::default()
        .with_to(TARGET)
        .with_input(Bytes::from_static(b"external"))
        .with_nonce(0);
    wallet
        .send_transaction(other)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let second = env.manager(Failpoints::none()).await;
    assert!(second.drain(50, Duration::from_millis(10)).await.unwrap());
    let done = second.store().intent_by_key("k").await.unwrap().unwrap();
    assert_eq!(done.status, IntentStatus::Confirmed);
    assert_eq!(done.nonce, Some(1));
    assert_eq!(second.store().attempts(done.id).await.unwrap().len(), 2);
    let sent = env.sent_by_calldata().await;
    assert_eq!(sent.get(&calldata(0)), Some(&1));
    assert_eq!(sent.get(&Bytes::from_static(b"external")), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_transaction_is_rebroadcast_with_the_same_bytes() {
    let env = env().await;
    env.provider
        .raw_request::<_, ()>("evm_setAutomine".into(), (false,))
        .await
        .unwrap();
    let m = env.manager(Failpoints::none()).await;
    m.submit("k", TARGET, calldata(0), U256::ZERO)
        .await
        .unwrap();
    m.run_once().await.unwrap();
    let intent = m.store().intent_by_key("k").await.unwrap().unwrap();
    assert_eq!(intent.status, IntentStatus::Sent);
    let attempt = m.store().attempts(intent.id).await.unwrap().remove(0);
    let dropped: Option<alloy::primitives::B256> = env
        .provider
        .raw_request("anvil_dropTransaction".into(), (attempt.tx_hash,))
        .await
        .unwrap();
    assert_eq!(dropped, Some(attempt.tx_hash));
    // The next pass finds no receipt and rebroadcasts; mining then includes the very same transaction.
    m.run_once().await.unwrap();
    env.provider
        .raw_request::<_, String>("evm_mine".into(), ())
        .await
        .unwrap();
    m.run_once().await.unwrap();
    let done = m.store().intent_by_key("k").await.unwrap().unwrap();
    assert_eq!(done.status, IntentStatus::Confirmed);
    assert_eq!(done.tx_hash, Some(attempt.tx_hash));
    assert_eq!(m.store().attempts(done.id).await.unwrap().len(), 1);
    assert_eq!(env.sent_by_calldata().await.get(&calldata(0)), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_binary_at_each_failpoint_restarts_without_loss_or_duplicates() {
    let env = env().await;
    let bin = env!("CARGO_BIN_EXE_verity-keeper");
    let run = |args: Vec<String>, failpoint: Option<&str>| {
        let mut cmd = std::process::Command::new(bin);
        cmd.args(&args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("VERITY_RPC_URL", env.node.url())
            .env("DATABASE_URL", &env.db_url)
            .env("VERITY_KEEPER_KEY", &env.key)
            .env("VERITY_KEEPER_LISTEN", "127.0.0.1:0")
            .env("VERITY_POLL_MS", "10")
            .env("VERITY_REBROADCAST_MS", "0")
            .env("RUST_LOG", "warn");
        if let Some(f) = failpoint {
            cmd.env("VERITY_FAILPOINT", f);
        }
        cmd
    };
    let mut expected = BTreeMap::new();
    for (i, point) in Failpoint::OUTBOX.iter().enumerate() {
        let data = calldata(10 + i);
        let status = tokio::task::spawn_blocking({
            let mut cmd = run(
                vec![
                    "enqueue".into(),
                    "--key".into(),
                    format!("bin{i}"),
                    "--to".into(),
                    TARGET.to_string(),
                    "--data".into(),
                    data.to_string(),
                ],
                None,
            );
            move || cmd.status().unwrap()
        })
        .await
        .unwrap();
        assert!(status.success());
        // A real SIGKILL from this test, the moment the binary reports the step reached.
        let cmd = run(
            vec!["--exit-when-idle".into(), "run".into()],
            Some(&format!("{},wait", point.name())),
        );
        let reached =
            tokio::task::spawn_blocking(move || crate::support::sigkill_at_failpoint(cmd))
                .await
                .unwrap();
        assert_eq!(reached, point.name());
        let restarted = tokio::task::spawn_blocking({
            let mut cmd = run(vec!["--exit-when-idle".into(), "run".into()], None);
            move || cmd.status().unwrap()
        })
        .await
        .unwrap();
        assert!(restarted.success(), "{point}");
        expected.insert(data, 1);
        assert_eq!(
            env.sent_by_calldata().await,
            expected,
            "after a kill at {point}"
        );
    }
}

/// Issue 15 #5: the base fee jumps after the intents were signed (every signed attempt below it). The outbox
/// replaces each at its nonce with higher fees and lands every intent exactly once; every attempt is kept.
#[tokio::test(flavor = "multi_thread")]
async fn a_base_fee_spike_after_signing_is_met_by_same_nonce_replacements() {
    let env = env().await;
    let signing = env.manager(Failpoints::of([Failpoint::AfterSign])).await;
    for i in 0..N {
        signing
            .submit(&format!("k{i}"), TARGET, calldata(i), U256::ZERO)
            .await
            .unwrap();
    }
    // Each pass stops right after one signature: all N signed, none broadcast.
    for _ in 0..N {
        assert!(matches!(
            signing.run_once().await,
            Err(OutboxError::Failpoint(Failpoint::AfterSign))
        ));
    }
    drop(signing);
    let base = env.provider.get_gas_price().await.unwrap();
    env.provider
        .raw_request::<_, ()>(
            "anvil_setNextBlockBaseFeePerGas".into(),
            (U256::from(base * 20),),
        )
        .await
        .unwrap();
    let _: String = env
        .provider
        .raw_request("evm_mine".into(), ())
        .await
        .unwrap();
    assert!(env.provider.get_gas_price().await.unwrap() > base * 4);

    let manager = env.manager(Failpoints::none()).await;
    assert!(
        manager.drain(50, Duration::from_millis(10)).await.unwrap(),
        "every intent lands despite the spike"
    );
    for i in 0..N {
        let intent = manager
            .store()
            .intent_by_key(&format!("k{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(intent.status, IntentStatus::Confirmed, "{intent:?}");
        let attempts = manager.store().attempts(intent.id).await.unwrap();
        assert!(
            attempts.len() >= 2,
            "replaced at the same nonce: {attempts:?}"
        );
        assert!(attempts.iter().all(|a| Some(a.nonce) == intent.nonce));
    }
    let sent = env.sent_by_calldata().await;
    let expected: BTreeMap<Bytes, usize> = (0..N).map(|i| (calldata(i), 1)).collect();
    assert_eq!(sent, expected, "each intent exactly once on chain");
    assert_eq!(env.chain_nonce().await, N as u64);
}

/// Issue 15 #5 (metrics): a pass publishes the signer's balance (with the low-balance flag), its nonce gap and
/// the age of the oldest open intent, and counts deferred steps and replacements.
#[tokio::test(flavor = "multi_thread")]
async fn a_pass_publishes_the_signers_health() {
    use verity_keeper::http::Metrics;
    use verity_keeper::keeper::{Keeper, LoopConfig};
    use verity_keeper::lease::Leadership;
    let env = env().await;
    let store = env.store().await;
    let metrics = Metrics::new().unwrap();
    let config = LoopConfig {
        poll_interval: Duration::from_millis(5),
        exit_when_idle: true,
        dry_run: false,
        shutdown_grace: Duration::from_secs(5),
        low_balance_wei: u128::MAX,
    };
    let leadership = Leadership::new(store.clone(), "verity-keeper", "t", Duration::from_secs(15));
    let mut keeper: Keeper<_, alloy::providers::DynProvider> = Keeper::new(
        store,
        env.manager(Failpoints::none()).await,
        leadership,
        metrics.clone(),
        config,
    );
    assert!(keeper.run_once().await.unwrap());
    assert!(metrics.signer_balance_gwei.get() > 0);
    assert_eq!(metrics.signer_balance_low.get(), 1);
    assert_eq!(metrics.nonce_gap.get(), 0);
    assert_eq!(metrics.oldest_open_secs.get(), 0);
    let text = metrics.render();
    for name in [
        "keeper_outbox_deferred_total",
        "keeper_outbox_replaced_total",
        "keeper_outbox_fee_cap_reached_total",
        "keeper_signer_balance_low 1",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
}

/// Sets the next block's base fee to `fee` and mines that block (with automine off the keeper's pending attempts
/// below `fee` stay in the pool, not included).
async fn mine_with_base_fee(env: &crate::support::Env, fee: u128) {
    env.provider
        .raw_request::<_, ()>("anvil_setNextBlockBaseFeePerGas".into(), (U256::from(fee),))
        .await
        .unwrap();
    let _: String = env
        .provider
        .raw_request("evm_mine".into(), ())
        .await
        .unwrap();
}

async fn set_automine(env: &crate::support::Env, on: bool) {
    env.provider
        .raw_request::<_, ()>("evm_setAutomine".into(), (on,))
        .await
        .unwrap();
}

/// Issue 15 #5 (cancel): a call that stays unincluded through `cancel_after_attempts` attempts at its nonce (the
/// base fee keeps outrunning every replacement) is cancelled by a 0-value self-send at that nonce; once the cancel
/// lands the intent is re-queued, signed at the next nonce and lands exactly once. Every attempt is kept.
#[tokio::test(flavor = "multi_thread")]
async fn a_call_outrun_by_the_base_fee_is_cancelled_then_lands_once_at_a_new_nonce() {
    use verity_keeper::outbox::TxManager;
    let env = env().await;
    set_automine(&env, false).await;
    let mut config = env.tx_config();
    config.cancel_after_attempts = 2;
    config.max_fee_per_gas = u128::MAX / 4;
    let manager = TxManager::new(
        env.store().await,
        env.provider.clone(),
        env.signer.clone(),
        config,
        Failpoints::none(),
    );
    manager
        .submit("stuck", TARGET, calldata(0), U256::ZERO)
        .await
        .unwrap();
    let first = manager.run_once().await.unwrap();
    assert_eq!((first.signed, first.broadcast), (1, 1), "{first:?}");
    let id = manager
        .store()
        .intent_by_key("stuck")
        .await
        .unwrap()
        .unwrap()
        .id;
    // Two spikes, each above every attempt so far: a replacement, then (2 attempts at nonce 0) a cancel.
    let mut cancels = 0;
    for _ in 0..2 {
        let attempts = manager.store().attempts(id).await.unwrap();
        let highest = attempts.iter().map(|a| max_fee_of(&a.raw)).max().unwrap();
        mine_with_base_fee(&env, highest * 4).await;
        let report = manager.run_once().await.unwrap();
        assert_eq!(report.replaced, 1, "{report:?}");
        cancels += report.cancels;
    }
    assert_eq!(cancels, 1, "the second replacement is a cancel");
    let attempts = manager.store().attempts(id).await.unwrap();
    assert_eq!(attempts.len(), 3, "every attempt kept: {attempts:?}");
    assert!(attempts.iter().all(|a| a.nonce == 0));
    // The cancel (the only attempt that pays the current base fee) is mined; the call did not happen at nonce 0.
    let _: String = env
        .provider
        .raw_request("evm_mine".into(), ())
        .await
        .unwrap();
    set_automine(&env, true).await;
    assert!(
        manager.drain(20, Duration::from_millis(10)).await.unwrap(),
        "the intent lands after its cancel"
    );
    let intent = manager.store().intent(id).await.unwrap().unwrap();
    assert_eq!(intent.status, IntentStatus::Confirmed, "{intent:?}");
    assert_eq!(intent.nonce, Some(1), "re-signed at the next nonce");
    let attempts = manager.store().attempts(id).await.unwrap();
    assert_eq!(
        attempts.len(),
        4,
        "the old nonce's attempts are kept: {attempts:?}"
    );
    let sent = env.sent_by_calldata().await;
    let expected: BTreeMap<Bytes, usize> = [(calldata(0), 1), (Bytes::new(), 1)].into();
    assert_eq!(sent, expected, "the call once, the cancel once");
    assert_eq!(env.chain_nonce().await, 2);
}

fn max_fee_of(raw: &[u8]) -> u128 {
    use alloy::consensus::{Transaction as _, TxEnvelope};
    use alloy::eips::eip2718::Decodable2718;
    TxEnvelope::decode_2718(&mut &raw[..])
        .unwrap()
        .max_fee_per_gas()
}

/// Issue 15 #5 (fee cap): a base fee above the cap after signing blocks the intent; the keeper does not sign a
/// replacement above the cap, reports it (`keeper_outbox_fee_cap_reached_total`, not ready) and lands the intent
/// once the base fee is back under its attempt's fee.
#[tokio::test(flavor = "multi_thread")]
async fn an_intent_blocked_by_the_fee_cap_is_reported_and_lands_when_fees_fall() {
    use verity_keeper::http::Metrics;
    use verity_keeper::keeper::{Keeper, LoopConfig};
    use verity_keeper::lease::Leadership;
    use verity_keeper::outbox::TxManager;
    let env = env().await;
    set_automine(&env, false).await;
    let base = env.provider.get_gas_price().await.unwrap();
    let mut config = env.tx_config();
    config.max_fee_per_gas = base * 3;
    let store = env.store().await;
    let manager = TxManager::new(
        store.clone(),
        env.provider.clone(),
        env.signer.clone(),
        config,
        Failpoints::none(),
    );
    manager
        .submit("capped", TARGET, calldata(0), U256::ZERO)
        .await
        .unwrap();
    let metrics = Metrics::new().unwrap();
    let loop_config = LoopConfig {
        poll_interval: Duration::from_millis(5),
        exit_when_idle: false,
        dry_run: false,
        shutdown_grace: Duration::from_secs(5),
        low_balance_wei: 0,
    };
    let leadership = Leadership::new(store.clone(), "verity-keeper", "t", Duration::from_secs(15));
    let mut keeper: Keeper<_, alloy::providers::DynProvider> = Keeper::new(
        store.clone(),
        manager,
        leadership,
        metrics.clone(),
        loop_config,
    );
    assert!(keeper.run_once().await.unwrap());
    assert!(metrics.is_ready(), "signed and sent within the cap");
    // The base fee jumps above the cap: no valid replacement fits under it.
    mine_with_base_fee(&env, base * 10).await;
    assert!(keeper.run_once().await.unwrap());
    assert!(metrics.fee_cap_reached.get() >= 1, "the cap is counted");
    assert!(
        !metrics.is_ready(),
        "a capped intent makes the keeper not ready"
    );
    let intent = store.intent_by_key("capped").await.unwrap().unwrap();
    let attempts = store.attempts(intent.id).await.unwrap();
    assert!(
        attempts.iter().all(|a| max_fee_of(&a.raw) <= base * 3),
        "nothing signed above the cap: {attempts:?}"
    );
    // Fees fall back: the attempt already signed is included, the intent lands once, ready again.
    mine_with_base_fee(&env, base).await;
    set_automine(&env, true).await;
    for _ in 0..20 {
        keeper.run_once().await.unwrap();
        let _: String = env
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap();
        if store.intent(intent.id).await.unwrap().unwrap().status == IntentStatus::Confirmed {
            break;
        }
    }
    keeper.run_once().await.unwrap();
    assert_eq!(
        store.intent(intent.id).await.unwrap().unwrap().status,
        IntentStatus::Confirmed
    );
    assert!(metrics.is_ready(), "ready again once the intent fits");
    let sent = env.sent_by_calldata().await;
    assert_eq!(sent.get(&calldata(0)), Some(&1));
}

/// After a restart (a new manager on the same database, no failpoint) every intent `k0..k{n}` lands exactly once.
async fn restart_lands_each_once(env: &crate::support::Env, n: usize) {
    let second = env.manager(Failpoints::none()).await;
    assert!(second.drain(50, Duration::from_millis(10)).await.unwrap());
    for i in 0..n {
        let intent = second
            .store()
            .intent_by_key(&format!("k{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(intent.status, IntentStatus::Confirmed, "{intent:?}");
    }
    let expected: BTreeMap<Bytes, usize> = (0..n).map(|i| (calldata(i), 1)).collect();
    assert_eq!(
        env.sent_by_calldata().await,
        expected,
        "each intent exactly once on chain"
    );
    assert_eq!(env.chain_nonce().await, n as u64);
}

/// Issue 16 (batch path): one pass simulates every pending intent, signs them all in one database transaction with
/// consecutive nonces (in the order they were submitted) and broadcasts them; the next pass confirms them all from
/// the new blocks' receipts.
#[tokio::test(flavor = "multi_thread")]
async fn one_pass_signs_every_pending_intent_in_one_batch_with_consecutive_nonces() {
    let env = env().await;
    let m = env.manager(Failpoints::none()).await;
    const MANY: usize = 8;
    for i in 0..MANY {
        m.submit(&format!("k{i}"), TARGET, calldata(i), U256::ZERO)
            .await
            .unwrap();
    }
    let first = m.run_once().await.unwrap();
    assert_eq!((first.signed, first.broadcast), (MANY, MANY), "{first:?}");
    for i in 0..MANY {
        let intent = m
            .store()
            .intent_by_key(&format!("k{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(intent.nonce, Some(i as u64), "{intent:?}");
        assert_eq!(intent.status, IntentStatus::Sent);
    }
    let second = m.run_once().await.unwrap();
    assert_eq!(second.finished, MANY, "{second:?}");
    assert!(m.drain(1, Duration::from_millis(1)).await.unwrap());
    restart_lands_each_once(&env, MANY).await;
}

/// Issue 16 (batch path): a kill right after the batch's one signing transaction committed — every intent has its
/// nonce, `Signed` status and raw bytes, none is broadcast — loses nothing and sends nothing twice.
#[tokio::test(flavor = "multi_thread")]
async fn kill_after_batch_sign_loses_nothing_sends_nothing_twice() {
    let env = env().await;
    let first = env
        .manager(Failpoints::of([Failpoint::AfterBatchSign]))
        .await;
    for i in 0..N {
        first
            .submit(&format!("k{i}"), TARGET, calldata(i), U256::ZERO)
            .await
            .unwrap();
    }
    assert!(matches!(
        first.run_once().await,
        Err(OutboxError::Failpoint(Failpoint::AfterBatchSign))
    ));
    let mut nonces = Vec::new();
    for i in 0..N {
        let intent = first
            .store()
            .intent_by_key(&format!("k{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(intent.status, IntentStatus::Signed, "{intent:?}");
        let attempts = first.store().attempts(intent.id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].broadcasts, 0);
        nonces.push(intent.nonce.unwrap());
    }
    assert_eq!(
        nonces,
        (0..N as u64).collect::<Vec<_>>(),
        "one run of nonces"
    );
    assert!(env.sent_by_calldata().await.is_empty(), "nothing broadcast");
    drop(first);
    restart_lands_each_once(&env, N).await;
}

/// Issue 16 (confirmation by block): a kill after the new blocks' receipts were read and before any final status
/// was recorded (the in-memory scan position dies with the process) loses nothing and sends nothing twice: the
/// restart looks the receipts up again.
#[tokio::test(flavor = "multi_thread")]
async fn kill_mid_confirmation_loses_nothing_sends_nothing_twice() {
    let env = env().await;
    let first = env
        .manager(Failpoints::of([Failpoint::AfterBlockReceipts]))
        .await;
    for i in 0..N {
        first
            .submit(&format!("k{i}"), TARGET, calldata(i), U256::ZERO)
            .await
            .unwrap();
    }
    let mut fired = false;
    for _ in 0..10 {
        match first.run_once().await {
            Err(OutboxError::Failpoint(Failpoint::AfterBlockReceipts)) => {
                fired = true;
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert!(fired, "the receipts were never read");
    for i in 0..N {
        let intent = first
            .store()
            .intent_by_key(&format!("k{i}"))
            .await
            .unwrap()
            .unwrap();
        assert!(
            !intent.status.is_final(),
            "nothing recorded yet: {intent:?}"
        );
    }
    let expected: BTreeMap<Bytes, usize> = (0..N).map(|i| (calldata(i), 1)).collect();
    assert_eq!(
        env.sent_by_calldata().await,
        expected,
        "on chain before the kill"
    );
    drop(first);
    restart_lands_each_once(&env, N).await;
}

/// The keeper binary on `env`'s chain and database.
fn keeper_cmd(
    env: &crate::support::Env,
    args: &[&str],
    failpoint: Option<&str>,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_verity-keeper"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_RPC_URL", env.node.url())
        .env("DATABASE_URL", &env.db_url)
        .env("VERITY_KEEPER_KEY", &env.key)
        .env("VERITY_KEEPER_LISTEN", "127.0.0.1:0")
        .env("VERITY_POLL_MS", "10")
        .env("VERITY_REBROADCAST_MS", "0")
        .env("RUST_LOG", "warn");
    if let Some(f) = failpoint {
        cmd.env("VERITY_FAILPOINT", f);
    }
    cmd
}

/// Issue 16 (batch path, real binary, real `SIGKILL`): killed once right after a batch of intents was signed and
/// committed, once after their receipts were read but before anything was recorded; the restarted binary lands
/// each exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn killed_binary_in_the_batch_path_restarts_without_loss_or_duplicates() {
    const MANY: usize = 5;
    let env = env().await;
    for i in 0..MANY {
        let data = calldata(i).to_string();
        let key = format!("k{i}");
        let target = TARGET.to_string();
        let mut cmd = keeper_cmd(
            &env,
            &["enqueue", "--key", &key, "--to", &target, "--data", &data],
            None,
        );
        let status = tokio::task::spawn_blocking(move || cmd.status().unwrap())
            .await
            .unwrap();
        assert!(status.success());
    }
    let store = env.store().await;
    let statuses = || async {
        let mut out = Vec::new();
        for i in 0..MANY {
            let intent = store
                .intent_by_key(&format!("k{i}"))
                .await
                .unwrap()
                .unwrap();
            out.push((intent.status, intent.nonce));
        }
        out
    };
    let run = ["--exit-when-idle", "run"];
    let cmd = keeper_cmd(&env, &run, Some("after_batch_sign,wait"));
    let reached = tokio::task::spawn_blocking(move || crate::support::sigkill_at_failpoint(cmd))
        .await
        .unwrap();
    assert_eq!(reached, "after_batch_sign");
    let signed: Vec<_> = (0..MANY as u64)
        .map(|n| (IntentStatus::Signed, Some(n)))
        .collect();
    assert_eq!(
        statuses().await,
        signed,
        "the whole batch committed together"
    );
    assert!(env.sent_by_calldata().await.is_empty(), "nothing broadcast");

    let cmd = keeper_cmd(&env, &run, Some("after_block_receipts,wait"));
    let reached = tokio::task::spawn_blocking(move || crate::support::sigkill_at_failpoint(cmd))
        .await
        .unwrap();
    assert_eq!(reached, "after_block_receipts");
    let expected: BTreeMap<Bytes, usize> = (0..MANY).map(|i| (calldata(i), 1)).collect();
    assert_eq!(env.sent_by_calldata().await, expected);
    assert!(
        statuses().await.iter().all(|(s, _)| !s.is_final()),
        "killed before any final status was recorded"
    );

    let mut cmd = keeper_cmd(&env, &run, None);
    let status = tokio::task::spawn_blocking(move || cmd.status().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    assert!(statuses()
        .await
        .iter()
        .all(|(s, _)| *s == IntentStatus::Confirmed));
    assert_eq!(env.sent_by_calldata().await, expected, "each exactly once");
    assert_eq!(env.chain_nonce().await, MANY as u64);
}

/// Issue 16 (wake-ups): an intent submitted while the keeper idles is picked up at once, not after the loop's
/// idle interval (120 s here), and confirmed by the pass right after it was sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_submit_wakes_an_idle_keeper_long_before_its_poll_interval() {
    use std::time::Instant;
    use verity_keeper::http::Metrics;
    use verity_keeper::keeper::{Keeper, LoopConfig};
    use verity_keeper::lease::Leadership;
    let env = env().await;
    let store = env.store().await;
    let manager = env.manager(Failpoints::none()).await;
    let tx = manager.clone();
    let config = LoopConfig {
        poll_interval: Duration::from_secs(120),
        exit_when_idle: false,
        dry_run: false,
        shutdown_grace: Duration::from_secs(5),
        low_balance_wei: 0,
    };
    let leadership = Leadership::new(store.clone(), "verity-keeper", "t", Duration::from_secs(15));
    let mut keeper: Keeper<_, alloy::providers::DynProvider> = Keeper::new(
        store.clone(),
        manager,
        leadership,
        Metrics::new().unwrap(),
        config,
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let driver = async {
        // The first (empty) pass ends and the loop starts its long wait.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        tx.submit("woken", TARGET, calldata(0), U256::ZERO)
            .await
            .unwrap();
        loop {
            let intent = store.intent_by_key("woken").await.unwrap().unwrap();
            if intent.status == IntentStatus::Confirmed {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "still {:?} after {:?}",
                intent.status,
                started.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.send(()).unwrap();
    };
    let (ran, ()) = tokio::join!(
        keeper.run(async {
            let _ = stopped.await;
        }),
        driver
    );
    ran.unwrap();
    assert_eq!(env.sent_by_calldata().await.get(&calldata(0)), Some(&1));
}
