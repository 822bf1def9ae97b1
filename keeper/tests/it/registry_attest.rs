//! Issue 16: the storage attester's batched path against the real ModelRegistry on devnode — many versions in one
//! `confirmStorageBatch`, one bad item (a mismatching file, a version someone else attested after the batch was
//! persisted) never fails the batch, each item's outcome is read from the receipt, and a restarted attester
//! (empty memory) reads the open batch back from the outbox instead of putting its versions in another one.

use std::time::Duration;

use alloy::primitives::keccak256;
use alloy::providers::{DynProvider, WalletProvider};
use verity_abi::registry::{Reason, Role, Status};
use verity_abi::rpc::IModelRegistry;
use verity_keeper::failpoint::Failpoints;
use verity_keeper::http::Metrics;
use verity_keeper::jobs::{run_jobs, Job, StorageAttester};
use verity_keeper::store::IntentStatus;

use crate::registry_jobs::{attest_intents, count, world, OTHER};
use crate::support::{wallet, DEPLOYER};

#[tokio::test(flavor = "multi_thread")]
async fn attests_many_versions_per_batch_and_one_bad_item_never_fails_the_batch() {
    const N: usize = 6;
    const BAD: usize = 2;
    const TAKEN: usize = 4;
    let w = world().await;
    let mut ids = Vec::new();
    let mut declared = Vec::new();
    for i in 0..N {
        let weights = format!("batched weights {i}\n").repeat(64).into_bytes();
        let path = w.dir.path().join(format!("v{i}.bin"));
        // One file does not hold what its version declares.
        let on_disk = if i == BAD {
            b"something else".to_vec()
        } else {
            weights.clone()
        };
        std::fs::write(&path, &on_disk).unwrap();
        ids.push(w.submit(&format!("batched-{i}"), &path, &weights, 0).await);
        declared.push(weights);
    }

    // The attester decides one batch of all N (a partial batch would wait an hour): only persisted, not sent.
    let store = w.env.store().await;
    let mut config = w.attester_config();
    config.max_batch = N;
    config.batch_wait = Duration::from_secs(3_600);
    let metrics = Metrics::new().unwrap();
    let job = StorageAttester::new(store.clone(), config.clone(), metrics.clone());
    let jobs: Vec<Box<dyn Job<DynProvider>>> = vec![Box::new(job)];
    let tx = w.env.manager(Failpoints::none()).await;
    let mut submitted = 0;
    for _ in 0..400 {
        submitted += run_jobs(&jobs, &tx, &metrics, false)
            .await
            .unwrap()
            .submitted;
        if submitted > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(submitted, 1, "one batch decided");
    let open = attest_intents(&store).await;
    assert_eq!(open, vec![(ids.clone(), IntentStatus::Pending)]);
    // Planning again while it is open decides nothing new (and does not re-enqueue it).
    let again = run_jobs(&jobs, &tx, &metrics, false).await.unwrap();
    assert_eq!((again.submitted, again.waiting), (0, 0));

    // Someone else with the attester role confirms one of the versions before the batch is sent.
    let admin = IModelRegistry::new(w.registry, wallet(&w.env.node, DEPLOYER));
    let other = wallet(&w.env.node, OTHER);
    assert!(admin
        .setRole(other.default_signer_address(), Role::Attester.code(), true)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .status());
    let taken = ids[TAKEN];
    let expiry = u64::MAX / 4;
    let r = IModelRegistry::new(w.registry, other)
        .confirmStorage(
            taken,
            keccak256(&declared[TAKEN]),
            declared[TAKEN].len() as u64,
            expiry,
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status());

    // A restarted keeper (a fresh attester: empty memory) sends the persisted batch and nothing else.
    drop(jobs);
    let metrics = w.run_jobs(config, None).await;
    let done = attest_intents(&store).await;
    assert_eq!(done, vec![(ids.clone(), IntentStatus::Confirmed)]);
    for (i, id) in ids.iter().enumerate() {
        let want = if i == BAD {
            (Status::Rejected, Reason::ContentHashMismatch)
        } else {
            (Status::Stored, Reason::None)
        };
        assert_eq!(w.status(*id).await, want, "version {i}");
    }
    let (attested, _) = w.sent().await;
    let mut want = ids.clone();
    want.sort();
    assert_eq!(attested, want, "each version attested once, in one batch");
    assert_eq!(
        w.env.sent_by_calldata().await.len(),
        1,
        "one transaction from the keeper"
    );
    // Per item, from the receipt: N − 2 stored, the mismatch rejected, the taken one reported unchanged.
    assert_eq!(count(&metrics, "items", "stored"), (N - 2) as u64);
    assert_eq!(count(&metrics, "items", "rejected"), 1);
    assert_eq!(count(&metrics, "items", "unchanged"), 1);
    assert_eq!(
        count(&metrics, "attest", "match"),
        0,
        "nothing fetched again"
    );
}
