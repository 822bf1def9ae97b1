//! The epoch finalizer against the real GaugeController (WASM on devnode, deployed by the deploy plan): epochs
//! finalized on time by chain time and in order, nothing before due, exactly once across restarts and kills at
//! every failpoint, someone else finalizing first reconciled as success; `status` and `--dry-run` of the binary.

use std::process::{Command, Output};
use std::time::Duration;

use alloy::primitives::Address;
use alloy::providers::DynProvider;
use verity_abi::rpc::IGaugeController;
use verity_keeper::failpoint::{Failpoint, Failpoints};
use verity_keeper::http::Metrics;
use verity_keeper::jobs::finalizer::{key, EpochState, JOB_NAME};
use verity_keeper::jobs::EpochFinalizer;
use verity_keeper::keeper::{Keeper, KeeperError, LoopConfig};
use verity_keeper::lease::Leadership;
use verity_keeper::outbox::TxManager;
use verity_keeper::store::{
    IntentStatus, LeaseStore, NewIntent, OutboxStore, PgStore, SqliteStore, Store,
};

use crate::support::{pg_schema, verity_env, wallet, Env};

/// Dev account that finalizes epochs behind the keeper's back.
const OTHER: usize = 1;

async fn keeper(
    env: &Env,
    gauge: Address,
    failpoints: Failpoints,
) -> (Keeper<SqliteStore, DynProvider>, Metrics) {
    keeper_on(
        env.store().await,
        env,
        gauge,
        failpoints,
        "test",
        Duration::from_secs(15),
    )
}

/// A keeper on `store` as lease holder `holder`.
fn keeper_on<S: Store>(
    store: S,
    env: &Env,
    gauge: Address,
    failpoints: Failpoints,
    holder: &str,
    lease_ttl: Duration,
) -> (Keeper<S, DynProvider>, Metrics) {
    let tx = TxManager::new(
        store.clone(),
        env.provider.clone(),
        env.signer.clone(),
        env.tx_config(),
        failpoints,
    );
    let leadership = Leadership::new(store.clone(), "verity-keeper", holder, lease_ttl);
    let metrics = Metrics::new().unwrap();
    let config = LoopConfig {
        poll_interval: Duration::from_millis(5),
        exit_when_idle: true,
        dry_run: false,
        shutdown_grace: std::time::Duration::from_secs(5),
        low_balance_wei: 0,
    };
    let k = Keeper::new(store, tx, leadership, metrics.clone(), config)
        .with_job(EpochFinalizer::new(gauge));
    (k, metrics)
}

async fn run_until_idle(k: &mut Keeper<SqliteStore, DynProvider>) {
    tokio::time::timeout(Duration::from_secs(60), k.run(std::future::pending()))
        .await
        .expect("keeper goes idle")
        .expect("keeper runs");
}

async fn state(env: &Env, gauge: Address) -> EpochState {
    EpochFinalizer::new(gauge)
        .observe(&env.provider)
        .await
        .unwrap()
}

/// How many `finalizeEpoch(e)` transactions the keeper's account has on chain, for `e` in `epochs`.
async fn finalize_txs(env: &Env, epochs: std::ops::Range<u64>) -> Vec<usize> {
    let sent = env.sent_by_calldata().await;
    epochs
        .map(|e| sent.get(&EpochFinalizer::calldata(e)).copied().unwrap_or(0))
        .collect()
}

async fn status_of<S: OutboxStore>(store: &S, k: &str) -> Option<IntentStatus> {
    store.intent_by_key(k).await.unwrap().map(|i| i.status)
}

/// Someone else (dev account [`OTHER`]) finalizes epoch `e`.
async fn finalize_as_other(env: &Env, gauge: Address, e: u64) {
    let other = IGaugeController::new(gauge, wallet(&env.node, OTHER));
    let receipt = other
        .finalizeEpoch(e)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "finalizeEpoch({e}) by another account");
}

#[tokio::test(flavor = "multi_thread")]
async fn finalizes_each_due_epoch_once_in_order_by_chain_time() {
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let s0 = state(&env, gauge).await;
    assert_eq!(s0.next, 0);
    assert!(!s0.is_due(), "epoch 0 runs at deployment");
    let (mut k, metrics) = keeper(&env, gauge, Failpoints::none()).await;
    let store = env.store().await;

    // Not due: passes (and a second just before the end by chain time) submit nothing.
    run_until_idle(&mut k).await;
    if s0.due_at - 1 > env.chain_now().await {
        env.mine_at(s0.due_at - 1).await;
        run_until_idle(&mut k).await;
    }
    assert!(store.latest_intents(10).await.unwrap().is_empty());
    assert_eq!(finalize_txs(&env, 0..1).await, [0]);

    // At the end of epoch 0 by chain time: finalized, once.
    env.mine_at(s0.due_at).await;
    run_until_idle(&mut k).await;
    assert_eq!(
        status_of(&store, &key(0)).await,
        Some(IntentStatus::Confirmed)
    );
    assert_eq!(state(&env, gauge).await.next, 1);

    // Three more epochs end at once (evm_increaseTime): worked off in order, each once.
    env.advance(3 * s0.schedule.epoch_length).await;
    let behind = state(&env, gauge).await;
    assert_eq!((behind.next, behind.due_epochs()), (1, 3));
    run_until_idle(&mut k).await;
    let mut blocks = Vec::new();
    for e in 1..=3 {
        let intent = store.intent_by_key(&key(e)).await.unwrap().unwrap();
        assert_eq!(intent.status, IntentStatus::Confirmed, "{intent:?}");
        blocks.push(intent.block_number.unwrap());
    }
    assert!(
        blocks.windows(2).all(|w| w[0] < w[1]),
        "in order: {blocks:?}"
    );
    let after = state(&env, gauge).await;
    assert_eq!(after.next, 4);
    assert!(!after.is_due(), "epoch 4 is running");
    assert!(store.intent_by_key(&key(4)).await.unwrap().is_none());
    assert_eq!(finalize_txs(&env, 0..5).await, [1, 1, 1, 1, 0]);

    // A restarted keeper (same database) sends nothing again.
    drop(k);
    let (mut restarted, _) = keeper(&env, gauge, Failpoints::none()).await;
    run_until_idle(&mut restarted).await;
    assert_eq!(finalize_txs(&env, 0..5).await, [1, 1, 1, 1, 0]);
    assert_eq!(store.latest_intents(10).await.unwrap().len(), 4);

    let text = metrics.render();
    assert!(
        text.contains(&format!(
            "keeper_job_submitted_total{{job=\"{JOB_NAME}\"}} 4"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("keeper_job_due{{job=\"{JOB_NAME}\"}} 0")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn someone_else_finalizing_first_counts_as_success() {
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let length = state(&env, gauge).await.schedule.epoch_length;
    let store = env.store().await;

    // 1. Our intent is persisted but not signed (the keeper died right after the job decided) when someone else
    //    finalizes: after the restart the simulation answers GaugeEpochAlreadyFinalized and the intent is done
    //    without a transaction.
    let s0 = state(&env, gauge).await;
    env.mine_at(s0.due_at).await;
    let planned = EpochFinalizer::new(gauge).plan_for(&state(&env, gauge).await);
    assert_eq!(planned.intents.len(), 1);
    let spec = &planned.intents[0];
    store
        .enqueue(
            &NewIntent {
                key: spec.key.clone(),
                sender: env.signer.address(),
                target: spec.target,
                calldata: spec.calldata.clone(),
                value: spec.value,
            },
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        status_of(&store, &key(0)).await,
        Some(IntentStatus::Pending)
    );
    finalize_as_other(&env, gauge, 0).await;
    let (mut k, _) = keeper(&env, gauge, Failpoints::none()).await;
    run_until_idle(&mut k).await;
    let done = store.intent_by_key(&key(0)).await.unwrap().unwrap();
    assert_eq!(done.status, IntentStatus::AlreadyDone, "{done:?}");
    assert!(done.tx_hash.is_none());

    // 2. Our transaction is signed (killed before broadcast) when someone else finalizes: after the restart the
    //    same bytes are sent, revert, and the replay's typed error records success.
    env.advance(length).await;
    let (mut killed, _) = keeper(&env, gauge, Failpoints::of([Failpoint::AfterSign])).await;
    let mut fired = false;
    for _ in 0..5 {
        match killed.run_once().await {
            Err(KeeperError::Failpoint(Failpoint::AfterSign)) => {
                fired = true;
                break;
            }
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(fired);
    drop(killed);
    assert_eq!(status_of(&store, &key(1)).await, Some(IntentStatus::Signed));
    finalize_as_other(&env, gauge, 1).await;
    let (mut k, _) = keeper(&env, gauge, Failpoints::none()).await;
    run_until_idle(&mut k).await;
    let done = store.intent_by_key(&key(1)).await.unwrap().unwrap();
    assert_eq!(done.status, IntentStatus::AlreadyDone, "{done:?}");
    assert!(done.tx_hash.is_some(), "the reverted attempt is recorded");

    // 3. Someone else finalizes before the keeper looks: nothing to do, nothing submitted.
    env.advance(length).await;
    finalize_as_other(&env, gauge, 2).await;
    run_until_idle(&mut k).await;
    assert!(store.intent_by_key(&key(2)).await.unwrap().is_none());

    assert_eq!(state(&env, gauge).await.next, 3);
    // The keeper's only finalize transaction is the reverted attempt of epoch 1.
    assert_eq!(finalize_txs(&env, 0..3).await, [0, 1, 0]);
}

fn keeper_bin(env: &Env, gauge: Address, args: &[&str], failpoint: Option<Failpoint>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_verity-keeper"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_RPC_URL", env.node.url())
        .env("DATABASE_URL", &env.db_url)
        .env("VERITY_KEEPER_KEY", &env.key)
        .env("VERITY_GAUGE", gauge.to_string())
        .env("VERITY_KEEPER_LISTEN", "127.0.0.1:0")
        .env("VERITY_POLL_MS", "10")
        .env("VERITY_REBROADCAST_MS", "0")
        // A killed instance keeps the lease: the restarted one takes it over once it expired.
        .env("VERITY_LEASE_TTL_MS", "300")
        .env("RUST_LOG", "info");
    if let Some(f) = failpoint {
        cmd.env("VERITY_FAILPOINT", f.name());
    }
    cmd
}

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_killed_at_each_failpoint_finalizes_exactly_once_and_status_reports_it() {
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let store = env.store().await;
    let first = state(&env, gauge).await;

    let status = output(keeper_bin(&env, gauge, &["status"], None)).await;
    assert!(status.status.success());
    let text = stdout(&status);
    assert!(text.contains("next to finalize    0"), "{text}");
    assert!(
        text.contains(&format!("due at              {} (in ", first.due_at)),
        "{text}"
    );

    for (e, point) in (0u64..).zip(Failpoint::OUTBOX) {
        let due_at = state(&env, gauge).await.due_at;
        env.mine_at(due_at).await;
        // A real SIGKILL from this test, the moment the binary reports the step reached.
        let mut cmd = keeper_bin(&env, gauge, &["--exit-when-idle", "run"], Some(point));
        cmd.env("VERITY_FAILPOINT", format!("{},wait", point.name()));
        let reached =
            tokio::task::spawn_blocking(move || crate::support::sigkill_at_failpoint(cmd))
                .await
                .unwrap();
        assert_eq!(reached, point.name());

        // Killed mid-way: the backlog shows the epoch's open intent.
        let status = output(keeper_bin(&env, gauge, &["status"], None)).await;
        let text = stdout(&status);
        assert!(
            text.lines()
                .any(|l| l.contains(JOB_NAME) && l.contains(&key(e))),
            "{point}: {text}"
        );
        if point == Failpoint::AfterSign {
            // Signed, not sent: the epoch is still due on chain.
            assert!(text.contains(&format!("next to finalize    {e}")), "{text}");
            assert!(
                text.contains("ago; 1 ended epoch(s) not finalized"),
                "{text}"
            );
        }

        let restarted = output(keeper_bin(&env, gauge, &["--exit-when-idle", "run"], None)).await;
        assert!(restarted.status.success(), "{point}: {restarted:?}");
        assert_eq!(
            status_of(&store, &key(e)).await,
            Some(IntentStatus::Confirmed),
            "{point}"
        );
        // A plain restart with nothing due sends nothing.
        let again = output(keeper_bin(&env, gauge, &["--exit-when-idle", "run"], None)).await;
        assert!(again.status.success());
        let expected: Vec<usize> = (0..4).map(|i| usize::from(i <= e)).collect();
        assert_eq!(
            finalize_txs(&env, 0..4).await,
            expected,
            "after a kill at {point}"
        );
    }

    let end = state(&env, gauge).await;
    assert_eq!(end.next, 3);
    let status = output(keeper_bin(&env, gauge, &["status", "--last", "3"], None)).await;
    let text = stdout(&status);
    assert!(
        text.contains("backlog (open intents by job):\n  none"),
        "{text}"
    );
    assert!(text.contains("next to finalize    3"), "{text}");
    assert!(
        text.contains(&format!("due at              {} (in ", end.due_at)),
        "{text}"
    );
    let listed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("finalize:") && l.contains("confirmed"))
        .collect();
    assert_eq!(listed.len(), 3, "{text}");
    assert!(listed[0].contains("finalize:2"), "newest first: {text}");
    assert!(text.contains("confirmed 3"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_logs_the_due_epoch_and_sends_nothing() {
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let s = state(&env, gauge).await;
    env.mine_at(s.due_at).await;
    let nonce = env.chain_nonce().await;

    let out = output(keeper_bin(
        &env,
        gauge,
        &["--dry-run", "--exit-when-idle", "run"],
        None,
    ))
    .await;
    assert!(out.status.success(), "{out:?}");
    let log = stdout(&out);
    assert!(
        log.lines()
            .any(|l| l.contains("dry run: would submit") && l.contains(&key(0))),
        "{log}"
    );
    let store = env.store().await;
    assert!(store.latest_intents(10).await.unwrap().is_empty());
    assert!(
        store.lease("verity-keeper").await.unwrap().is_none(),
        "no lease taken"
    );
    assert_eq!(env.chain_nonce().await, nonce);
    assert_eq!(state(&env, gauge).await.next, 0);
    assert_eq!(finalize_txs(&env, 0..1).await, [0]);

    // The same configuration without --dry-run does it.
    let out = output(keeper_bin(&env, gauge, &["--exit-when-idle", "run"], None)).await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(state(&env, gauge).await.next, 1);
    assert_eq!(finalize_txs(&env, 0..1).await, [1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_on_postgres_finalize_each_epoch_once() {
    let Some((options, schema)) = pg_schema().await else {
        return;
    };
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let length = state(&env, gauge).await.schedule.epoch_length;
    let connect = || PgStore::connect_with(options.clone(), Duration::from_secs(10));
    let (a_store, b_store) = (connect().await.unwrap(), connect().await.unwrap());
    // Far above a pass (WASM runs in a debug build on a shared machine): a live leader never loses the lease.
    let ttl = Duration::from_secs(3);
    let (mut a, _) = keeper_on(a_store.clone(), &env, gauge, Failpoints::none(), "a", ttl);
    let (mut b, b_metrics) = keeper_on(b_store, &env, gauge, Failpoints::none(), "b", ttl);

    // Three epochs end; both replicas run side by side; replica a crashes (no lease release) after the first
    // finalization and b takes over once the lease expired.
    env.advance(3 * length).await;
    assert!(a.run_once().await.unwrap(), "a leads first");
    let mut a_alive = true;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replicas did not finish"
        );
        if a_alive {
            let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
            assert!(ra.unwrap(), "a keeps the lease while alive");
            assert!(!rb.unwrap(), "one leader at a time");
            if state(&env, gauge).await.next >= 1 {
                a_alive = false;
            }
        } else {
            b.run_once().await.unwrap();
        }
        let open = a_store.intents_in(&IntentStatus::OPEN, 1).await.unwrap();
        if state(&env, gauge).await.next == 3 && open.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(a);
    for e in 0..3 {
        assert_eq!(
            status_of(&a_store, &key(e)).await,
            Some(IntentStatus::Confirmed),
            "epoch {e}"
        );
    }
    assert_eq!(finalize_txs(&env, 0..4).await, [1, 1, 1, 0]);
    assert!(
        b_metrics.render().contains("keeper_leader 1"),
        "b took over"
    );
    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(a_store.pool())
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_intent_that_failed_leaves_the_job_stuck_and_reported() {
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let s0 = state(&env, gauge).await;
    // An operator enqueues `finalize:0` by hand before the epoch ended: the simulation reverts
    // (GaugeEpochNotEnded) and the intent fails without a transaction.
    let calldata = EpochFinalizer::calldata(0).to_string();
    let gauge_hex = gauge.to_string();
    let enqueue = [
        "enqueue",
        "--key",
        "finalize:0",
        "--to",
        &gauge_hex,
        "--data",
        &calldata,
    ];
    let out = output(keeper_bin(&env, gauge, &enqueue, None)).await;
    assert!(out.status.success(), "{out:?}");
    let out = output(keeper_bin(&env, gauge, &["--exit-when-idle", "run"], None)).await;
    assert!(out.status.success(), "{out:?}");
    let store = env.store().await;
    let failed = store.intent_by_key(&key(0)).await.unwrap().unwrap();
    assert_eq!(failed.status, IntentStatus::Failed, "{failed:?}");
    let why = failed.error.clone().unwrap_or_default();
    assert!(why.contains("GaugeEpochNotEnded"), "typed reason: {why}");

    // Once the epoch is due, the job asks for the same key: it is not re-sent, the job is reported stuck.
    env.mine_at(s0.due_at).await;
    let (mut k, metrics) = keeper(&env, gauge, Failpoints::none()).await;
    run_until_idle(&mut k).await;
    let text = metrics.render();
    assert!(
        text.contains(&format!("keeper_job_stuck{{job=\"{JOB_NAME}\"}} 1")),
        "{text}"
    );
    assert_eq!(state(&env, gauge).await.next, 0);
    assert_eq!(finalize_txs(&env, 0..1).await, [0]);
    let status = output(keeper_bin(&env, gauge, &["status"], None)).await;
    let text = stdout(&status);
    assert!(
        text.contains("intent              finalize:0 failed — STUCK"),
        "{text}"
    );
    assert!(
        text.contains("↳ reverts in simulation: GaugeEpochNotEnded"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gauge_address_without_code_is_one_clear_line() {
    let env = crate::support::env().await;
    let nowhere = Address::repeat_byte(0x42);
    let out = output(keeper_bin(&env, nowhere, &["run"], None)).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains(&format!("--gauge / VERITY_GAUGE: no contract at {nowhere}")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_job_is_reported_and_does_not_hold_up_an_idle_exit() {
    let env = crate::support::env().await;
    // Code that answers every call with nothing: `config()` does not decode.
    let not_a_gauge = Address::repeat_byte(0x43);
    {
        let shared = env.node.chain();
        devnode::rpc::server::lock(&shared)
            .set_code(not_a_gauge, alloy::primitives::Bytes::from_static(&[0x00]));
    }
    let (mut k, metrics) = keeper(&env, not_a_gauge, Failpoints::none()).await;
    run_until_idle(&mut k).await;
    let text = metrics.render();
    assert!(
        text.contains(&format!(
            "keeper_job_runs_total{{job=\"{JOB_NAME}\",outcome=\"error\"}} 1"
        )),
        "{text}"
    );
    assert!(
        !metrics.is_ready(),
        "a broken job makes the instance not ready"
    );
    assert!(env
        .store()
        .await
        .latest_intents(1)
        .await
        .unwrap()
        .is_empty());
}

/// Issue 15 #7: two replicas on PostgreSQL whose lease (40 ms) is shorter than a pass: leadership flips mid-pass
/// and both work the same outbox at once. Each epoch is finalized once, each manual intent lands once, and neither
/// replica's loop ends with an error (a lost race is transient, never a fatal store error).
#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_with_a_lease_shorter_than_a_pass_send_each_intent_once() {
    let Some((options, schema)) = pg_schema().await else {
        return;
    };
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let length = state(&env, gauge).await.schedule.epoch_length;
    let connect = || PgStore::connect_with(options.clone(), Duration::from_secs(10));
    let (a_store, b_store) = (connect().await.unwrap(), connect().await.unwrap());
    let ttl = Duration::from_millis(40);
    let (mut a, _) = keeper_on(a_store.clone(), &env, gauge, Failpoints::none(), "a", ttl);
    let (mut b, _) = keeper_on(b_store, &env, gauge, Failpoints::none(), "b", ttl);
    const MANUAL: usize = 12;
    for i in 0..MANUAL {
        a.tx()
            .submit(
                &format!("m{i}"),
                crate::support::TARGET,
                alloy::primitives::Bytes::from(format!("manual-{i}").into_bytes()),
                alloy::primitives::U256::ZERO,
            )
            .await
            .unwrap();
    }
    env.advance(3 * length).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "replicas did not finish"
        );
        let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
        if let Err(e) = &ra {
            panic!("replica a stopped: {e}");
        }
        if let Err(e) = &rb {
            panic!("replica b stopped: {e}");
        }
        let open = a_store.intents_in(&IntentStatus::OPEN, 1).await.unwrap();
        if state(&env, gauge).await.next == 3 && open.is_empty() {
            break;
        }
    }
    assert_eq!(finalize_txs(&env, 0..4).await, [1, 1, 1, 0]);
    let sent = env.sent_by_calldata().await;
    for i in 0..MANUAL {
        let data = alloy::primitives::Bytes::from(format!("manual-{i}").into_bytes());
        assert_eq!(sent.get(&data), Some(&1), "manual intent {i}");
        assert_eq!(
            status_of(&a_store, &format!("m{i}")).await,
            Some(IntentStatus::Confirmed)
        );
    }
    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(a_store.pool())
        .await;
}

/// Issue 15 #7 (fencing): replica a led, stalled past its lease (no tick), and b took over. An intent appears (b
/// persists it: a deposed replica's own writes are fenced too, `it::lease`); a's outbox — still inside its old
/// pass — must not allocate a nonce for it: the lease term is checked in the nonce transaction. b signs and sends
/// it, once.
async fn a_deposed_leader_allocates_no_nonce<S: Store>(a_store: S, b_store: S) {
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let ttl = Duration::from_millis(300);
    let (mut a, _) = keeper_on(a_store.clone(), &env, gauge, Failpoints::none(), "a", ttl);
    let (mut b, _) = keeper_on(b_store, &env, gauge, Failpoints::none(), "b", ttl);
    assert!(a.run_once().await.unwrap(), "a leads");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert!(b.run_once().await.unwrap(), "b took over");
    let data = alloy::primitives::Bytes::from_static(b"after the takeover");
    b.tx()
        .submit(
            "late",
            crate::support::TARGET,
            data.clone(),
            alloy::primitives::U256::ZERO,
        )
        .await
        .unwrap();
    let _ = a.tx().run_once().await;
    assert_eq!(
        status_of(&a_store, "late").await,
        Some(IntentStatus::Pending),
        "a deposed leader signed"
    );
    for _ in 0..20 {
        b.run_once().await.unwrap();
        if status_of(&a_store, "late").await == Some(IntentStatus::Confirmed) {
            break;
        }
    }
    assert_eq!(
        status_of(&a_store, "late").await,
        Some(IntentStatus::Confirmed)
    );
    assert_eq!(env.sent_by_calldata().await.get(&data), Some(&1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deposed_leader_allocates_no_nonce_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    a_deposed_leader_allocates_no_nonce(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deposed_leader_allocates_no_nonce_postgres() {
    let Some((options, schema)) = pg_schema().await else {
        return;
    };
    let connect = || PgStore::connect_with(options.clone(), Duration::from_secs(10));
    let (a_store, b_store) = (connect().await.unwrap(), connect().await.unwrap());
    a_deposed_leader_allocates_no_nonce(a_store.clone(), b_store).await;
    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(a_store.pool())
        .await;
}

/// A job whose planning takes `0` (a pass longer than the lease) and then wants one intent.
#[derive(Debug)]
struct SlowJob(Duration);

impl verity_keeper::jobs::Job<DynProvider> for SlowJob {
    fn name(&self) -> &'static str {
        "slow"
    }

    fn plan<'a>(&'a self, _provider: &'a DynProvider) -> verity_keeper::jobs::PlanFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Ok(verity_keeper::jobs::Plan {
                intents: vec![verity_keeper::jobs::IntentSpec {
                    key: "slow:1".into(),
                    target: crate::support::TARGET,
                    calldata: alloy::primitives::Bytes::from_static(b"slow"),
                    value: alloy::primitives::U256::ZERO,
                }],
                ..verity_keeper::jobs::Plan::default()
            })
        })
    }
}

/// Issue 15 #7 (renewal): a leader whose pass lasts three lease TTLs keeps the lease (renewed in the background):
/// the other replica, ticking all along, never leads, and the leader signs what its long pass decided.
#[tokio::test(flavor = "multi_thread")]
async fn a_pass_longer_than_the_lease_keeps_it() {
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let store = env.store().await;
    let ttl = Duration::from_millis(300);
    let (a, _) = keeper_on(store.clone(), &env, gauge, Failpoints::none(), "a", ttl);
    let mut a = a.with_job(SlowJob(3 * ttl));
    let (mut b, _) = keeper_on(store.clone(), &env, gauge, Failpoints::none(), "b", ttl);
    let (ra, b_led) = tokio::join!(a.run_once(), async {
        let mut led = false;
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            led |= b.run_once().await.unwrap();
        }
        led
    });
    assert!(ra.unwrap(), "a led the pass");
    assert!(!b_led, "b took the lease while a's pass was still running");
    let signed = status_of(&store, "slow:1").await;
    assert!(
        matches!(
            signed,
            Some(IntentStatus::Sent | IntentStatus::Signed | IntentStatus::Confirmed)
        ),
        "a signed what its long pass decided: {signed:?}"
    );
}
