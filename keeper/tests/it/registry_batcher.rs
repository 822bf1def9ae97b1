//! Issue 16: the registration batcher's order and waiting against the real ModelRegistry on devnode — a low-fee
//! version is registered within the aging bound under a sustained flood of higher-fee versions, and a partial
//! batch is finalized after its max wait by the keeper's clock on a quiet chain (no block mined meanwhile).

use std::time::Duration;

use alloy::providers::{DynProvider, Provider};
use verity_abi::registry::{Reason, Status};
use verity_keeper::failpoint::Failpoints;
use verity_keeper::http::Metrics;
use verity_keeper::jobs::batcher::{self, BatcherConfig, ManualClock};
use verity_keeper::jobs::{run_jobs, Job, RegistrationBatcher};
use verity_keeper::store::{IntentStatus, OutboxStore};

use crate::registry_jobs::{world, World};

/// A keeper with only the storage attester, run until its outbox is idle: attests what was submitted and sends
/// whatever intent is open (a batch the test planned).
async fn run_attester(w: &World) {
    w.run_jobs(w.attester_config(), None).await;
}

/// A flood of higher-fee Stored versions — 3 new each round, batches of 2, so more than a batch holds waits at
/// every pass — never delays the low-fee version past the aging bound. Fees differ by 250,000,000 wei at 100,000
/// wei/s: only versions submitted less than 2,500 s after it go first (rounds are 1,000 chain seconds apart, so
/// those of rounds 0, 1 and 2: 9 versions), and it is in the 5th batch. In the plain fee order it starves.
#[tokio::test(flavor = "multi_thread")]
async fn a_low_fee_version_is_registered_within_the_aging_bound_under_a_high_fee_flood() {
    const HIGH: u64 = 250_000_000;
    const RATE: u64 = 100_000;
    let w = world().await;
    let weights = b"flooded weights".repeat(40);
    let path = w.dir.path().join("w.bin");
    std::fs::write(&path, &weights).unwrap();
    let store = w.env.store().await;
    let metrics = Metrics::new().unwrap();
    let config = BatcherConfig {
        aging_wei_per_sec: RATE,
        ..w.batch_config(2, 10 * 86_400)
    };
    // The keeper's clock stands still: only the chain's clock ages versions here.
    let job = RegistrationBatcher::new(store.clone(), config, metrics.clone())
        .with_clock(ManualClock::default());
    let jobs: Vec<Box<dyn Job<DynProvider>>> = vec![Box::new(job)];
    let tx = w.env.manager(Failpoints::none()).await;

    let low = w.submit("low", &path, &weights, 0).await;
    let mut registered_in = None;
    for round in 0..5 {
        if round > 0 {
            w.env.advance(1_000).await;
        }
        for i in 0..3 {
            w.submit(&format!("high-{round}-{i}"), &path, &weights, HIGH)
                .await;
        }
        run_attester(&w).await;
        let report = run_jobs(&jobs, &tx, &metrics, false).await.unwrap();
        assert_eq!(report.submitted, 1, "round {round}: a full batch");
        run_attester(&w).await;
        if registered_in.is_none() && w.status(low).await.0 == Status::Registered {
            registered_in = Some(round);
        }
    }
    assert_eq!(
        registered_in,
        Some(4),
        "the low fee goes in the 5th batch, after the 9 versions submitted within 2,500 s of it"
    );
    assert_eq!(w.status(low).await, (Status::Registered, Reason::None));
    let (attested, batches) = w.sent().await;
    assert_eq!(attested.len(), 16);
    assert_eq!(batches.len(), 5);
    assert!(batches.iter().all(|b| b.len() == 2), "{batches:?}");
    assert_eq!(
        batches.iter().filter(|b| b.contains(&low)).count(),
        1,
        "batched once"
    );
}

/// A partial batch is finalized once its oldest version has waited the max wait by the keeper's clock although
/// the chain's clock stood still (no block mined after the version was Stored), and not before.
#[tokio::test(flavor = "multi_thread")]
async fn a_partial_batch_is_finalized_after_the_max_wait_on_a_quiet_chain() {
    const MAX_WAIT: u64 = 600;
    let w = world().await;
    let weights = b"quiet weights".repeat(40);
    let path = w.dir.path().join("q.bin");
    std::fs::write(&path, &weights).unwrap();
    let v = w.submit("quiet", &path, &weights, 0).await;
    run_attester(&w).await;
    assert_eq!(w.status(v).await.0, Status::Stored);
    let head = w.env.provider.get_block_number().await.unwrap();

    let store = w.env.store().await;
    let metrics = Metrics::new().unwrap();
    let clock = ManualClock::default();
    let job =
        RegistrationBatcher::new(store.clone(), w.batch_config(10, MAX_WAIT), metrics.clone())
            .with_clock(clock.clone());
    let jobs: Vec<Box<dyn Job<DynProvider>>> = vec![Box::new(job)];
    let tx = w.env.manager(Failpoints::none()).await;
    let pass = || async { run_jobs(&jobs, &tx, &metrics, false).await.unwrap() };

    assert_eq!(pass().await.submitted, 0, "alone and fresh: waits");
    clock.advance(Duration::from_secs(MAX_WAIT / 2));
    assert_eq!(pass().await.submitted, 0, "half the max wait: still waits");
    clock.advance(Duration::from_secs(MAX_WAIT / 2 + 1));
    assert_eq!(
        w.env.provider.get_block_number().await.unwrap(),
        head,
        "no block was mined while it waited"
    );
    assert_eq!(
        pass().await.submitted,
        1,
        "past the max wait by the keeper's clock"
    );
    let key = batcher::key(&[v]);
    assert_eq!(
        store.intent_by_key(&key).await.unwrap().unwrap().status,
        IntentStatus::Pending
    );
    run_attester(&w).await;
    assert_eq!(w.status(v).await, (Status::Registered, Reason::None));
    assert_eq!(w.sent().await.1, vec![vec![v]]);
}
