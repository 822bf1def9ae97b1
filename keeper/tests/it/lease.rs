//! Two replicas on one database (two stores, two leaderships, in one test process) with a lease shorter than a
//! pass: the leader keeps its lease through a long pass (background renewal), a replica whose lease was taken over
//! cannot write (the term fences every job/outbox write, checked inside the write transaction), and a lost race is
//! a transient error, never a process exit.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::DynProvider;
use verity_keeper::failpoint::Failpoints;
use verity_keeper::http::Metrics;
use verity_keeper::jobs::{IntentSpec, Job, Plan, PlanFuture};
use verity_keeper::keeper::{Keeper, LoopConfig};
use verity_keeper::lease::Leadership;
use verity_keeper::outbox::TxManager;
use verity_keeper::receipts::store::{NewReceipt, ReceiptStore};
use verity_keeper::store::{Enqueued, NewIntent, PgStore, SqliteStore, Store};

use crate::support::{env, pg_schema, Env, TARGET};

const LEASE: &str = "verity-keeper";

/// When each replica planned: `(holder, start, end)`.
type PlanLog = Arc<Mutex<Vec<(&'static str, Instant, Instant)>>>;

fn intent(key: &str) -> NewIntent {
    NewIntent {
        key: key.to_string(),
        sender: Address::with_last_byte(1),
        target: TARGET,
        calldata: Bytes::from(key.as_bytes().to_vec()),
        value: U256::ZERO,
    }
}

fn receipt(i: u8) -> NewReceipt {
    NewReceipt {
        request_id: B256::repeat_byte(i),
        signed: Bytes::from(vec![i; 384]),
        leaf: B256::repeat_byte(i.wrapping_add(100)),
        node: Address::with_last_byte(3),
        model: U256::from(1),
        signed_at: 1,
        received_at: 1,
    }
}

/// Replica `a` leads, stalls past its lease (no renewal: a stop-the-world pause), `b` takes over; every write `a`
/// then attempts fails transiently and stores nothing, `b`'s go through.
async fn stale_leader_cannot_write<S: Store + ReceiptStore>(sa: S, sb: S) {
    let ttl = Duration::from_millis(400);
    let mut a = Leadership::new(sa.clone(), LEASE, "a", ttl);
    let mut b = Leadership::new(sb.clone(), LEASE, "b", ttl);
    assert!(a.tick().await.unwrap());
    assert!(!b.tick().await.unwrap());
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert!(b.tick().await.unwrap(), "b takes over the expired lease");
    assert!(b.term() > a.term());

    sb.insert_receipts(&[receipt(1), receipt(2)]).await.unwrap();
    let ids = [B256::repeat_byte(1), B256::repeat_byte(2)];
    // b (the leader) batches the receipts; a, stale, tries the same from the rows it read before its pause.
    sb.build_batch(B256::repeat_byte(9), &ids, 1).await.unwrap();
    let lost = sa
        .build_batch(B256::repeat_byte(8), &ids, 1)
        .await
        .expect_err("a stale leader's batch must not be built");
    assert!(
        lost.is_transient(),
        "a lost race is transient, not a process exit: {lost:?}"
    );

    let lost = sa.enqueue(&intent("stale:1"), 1).await;
    assert!(
        matches!(&lost, Err(e) if e.is_transient()),
        "a stale leader's enqueue must fail transiently: {lost:?}"
    );
    assert!(sb.intent_by_key("stale:1").await.unwrap().is_none());
    assert!(matches!(
        sb.enqueue(&intent("stale:1"), 1).await.unwrap(),
        Enqueued::Created(_)
    ));
    // a finds out on its next tick and stays a follower.
    assert!(!a.tick().await.unwrap());
}

async fn pg_pair() -> Option<(PgStore, PgStore, String)> {
    let (options, schema) = pg_schema().await?;
    let a = PgStore::connect_with(options.clone(), Duration::from_secs(10))
        .await
        .unwrap();
    let b = PgStore::connect_with(options, Duration::from_secs(10))
        .await
        .unwrap();
    Some((a, b, schema))
}

async fn drop_schema(s: &PgStore, schema: &str) {
    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(s.pool())
        .await;
}

#[tokio::test]
async fn stale_leader_writes_are_fenced_postgres() {
    let Some((a, b, schema)) = pg_pair().await else {
        return;
    };
    stale_leader_cannot_write(a.clone(), b).await;
    drop_schema(&a, &schema).await;
}

#[tokio::test]
async fn stale_leader_writes_are_fenced_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
    let a = SqliteStore::connect(&url).await.unwrap();
    let b = SqliteStore::connect(&url).await.unwrap();
    stale_leader_cannot_write(a, b).await;
}

/// A job whose planning takes longer than the lease: records when each replica planned, then asks for the same
/// three transactions every pass.
#[derive(Debug)]
struct SlowJob {
    holder: &'static str,
    delay: Duration,
    log: PlanLog,
}

impl Job<DynProvider> for SlowJob {
    fn name(&self) -> &'static str {
        "slow"
    }

    fn plan<'a>(&'a self, _provider: &'a DynProvider) -> PlanFuture<'a> {
        Box::pin(async move {
            let start = Instant::now();
            tokio::time::sleep(self.delay).await;
            self.log
                .lock()
                .unwrap()
                .push((self.holder, start, Instant::now()));
            Ok(Plan {
                intents: (0..3)
                    .map(|i| IntentSpec {
                        key: format!("slow:{i}"),
                        target: TARGET,
                        calldata: Bytes::from(format!("slow-{i}").into_bytes()),
                        value: U256::ZERO,
                    })
                    .collect(),
                due: 0,
                lag_secs: 0,
                in_flight: 0,
            })
        })
    }
}

async fn replica<S: Store>(
    env: &Env,
    store: S,
    holder: &'static str,
    ttl: Duration,
    log: PlanLog,
) -> Keeper<S, DynProvider> {
    let tx = TxManager::new(
        store.clone(),
        env.provider.clone(),
        env.signer.clone(),
        env.tx_config(),
        Failpoints::none(),
    );
    let leadership = Leadership::new(store.clone(), LEASE, holder, ttl);
    let config = LoopConfig {
        poll_interval: Duration::from_millis(20),
        exit_when_idle: false,
        dry_run: false,
        shutdown_grace: Duration::from_secs(5),
        low_balance_wei: 0,
    };
    Keeper::new(store, tx, leadership, Metrics::new().unwrap(), config).with_job(SlowJob {
        holder,
        delay: ttl * 3,
        log,
    })
}

/// Two keepers run side by side for several passes that each outlast the lease: never do both plan at once, each
/// intent goes on chain exactly once, neither loop ends with an error.
async fn two_replicas_with_passes_longer_than_the_lease<S: Store>(env: &Env, sa: S, sb: S) {
    let ttl = Duration::from_millis(300);
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut a = replica(env, sa, "a", ttl, log.clone()).await;
    let mut b = replica(env, sb, "b", ttl, log.clone()).await;
    let run_for = Duration::from_secs(4);
    let (ra, rb) = tokio::join!(a.run(tokio::time::sleep(run_for)), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        b.run(tokio::time::sleep(run_for)).await
    });
    ra.expect("replica a's loop ends without error");
    rb.expect("replica b's loop ends without error");
    let log = log.lock().unwrap().clone();
    assert!(log.len() >= 2, "several passes ran: {log:?}");
    for (i, (h1, s1, e1)) in log.iter().enumerate() {
        for (h2, s2, e2) in &log[i + 1..] {
            assert!(
                h1 == h2 || e1 <= s2 || e2 <= s1,
                "replicas {h1} and {h2} planned at the same time: {log:?}"
            );
        }
    }
    let sent = env.sent_by_calldata().await;
    for i in 0..3 {
        let calldata = Bytes::from(format!("slow-{i}").into_bytes());
        assert_eq!(
            sent.get(&calldata),
            Some(&1),
            "slow:{i} sent once: {sent:?}"
        );
    }
}

#[tokio::test]
async fn two_replicas_with_passes_longer_than_the_lease_postgres() {
    let Some((a, b, schema)) = pg_pair().await else {
        return;
    };
    let env = env().await;
    two_replicas_with_passes_longer_than_the_lease(&env, a.clone(), b).await;
    drop_schema(&a, &schema).await;
}

#[tokio::test]
async fn two_replicas_with_passes_longer_than_the_lease_sqlite() {
    let env = env().await;
    let a = env.store().await;
    let b = env.store().await;
    two_replicas_with_passes_longer_than_the_lease(&env, a, b).await;
}
