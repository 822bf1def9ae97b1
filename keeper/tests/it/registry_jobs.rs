//! The storage attester and the registration batcher against the real ModelRegistry (WASM on devnode, deployed by
//! the deploy plan; the keeper's own account given the attester and keeper roles by the admin): a good file is
//! Stored and a mismatching one Rejected, an unreachable URI is retried and never reported; the Stored versions
//! go in one batch by priority fee; nothing is sent twice across a restart; a batch not full waits for its max
//! wait; versions someone else finalized first count as done.

use std::path::Path;
use std::time::Duration;

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::DynProvider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolCall;
use verity_abi::registry::{Format, Reason, Relation, Role, Status};
use verity_abi::rpc::IModelRegistry;
use verity_keeper::chain::events::{decode_log, KeeperEvent};
use verity_keeper::failpoint::Failpoints;
use verity_keeper::http::Metrics;
use verity_keeper::jobs::attest_batch;
use verity_keeper::jobs::attester::{self, AttesterConfig};
use verity_keeper::jobs::batcher::{self, BatcherConfig};
use verity_keeper::jobs::{run_jobs, Job, RegistrationBatcher, StorageAttester};
use verity_keeper::keeper::{Keeper, LoopConfig};
use verity_keeper::lease::Leadership;
use verity_keeper::outbox::TxManager;
use verity_keeper::status::StatusReport;
use verity_keeper::store::{IntentStatus, OutboxStore, SqliteStore};

use crate::support::{verity_env, wallet, Env, DEPLOYER};

/// Dev account that submits versions.
const ALICE: usize = 3;
/// Dev account without roles that finalizes behind the keeper's back.
pub(crate) const OTHER: usize = 1;
/// The registry's minimum fee on the dev chain.
const MIN_FEE: u64 = 1_000_000_000_000_000;

pub(crate) struct World {
    pub(crate) env: Env,
    pub(crate) registry: Address,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) async fn world() -> World {
    let (env, deployment) = verity_env().await;
    let registry = deployment.contracts["registry"].address;
    let admin = IModelRegistry::new(registry, wallet(&env.node, DEPLOYER));
    for role in [Role::Attester, Role::Keeper] {
        let receipt = admin
            .setRole(env.signer.address(), role.code(), true)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
    }
    World {
        env,
        registry,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn name(text: &str) -> B256 {
    let mut word = [0u8; 32];
    word[..text.len()].copy_from_slice(text.as_bytes());
    B256::from(word)
}

pub(crate) fn uri(path: &Path) -> Bytes {
    Bytes::from(format!("file://{}", path.display()).into_bytes())
}

impl World {
    /// Alice submits `label` v1 declaring `declared` at `path`, paying `priority` wei above the minimum fee.
    pub(crate) async fn submit(
        &self,
        label: &str,
        path: &Path,
        declared: &[u8],
        priority: u64,
    ) -> U256 {
        self.submit_uri(label, uri(path), declared, priority).await
    }

    /// Alice submits `label` v1 declaring `declared` at storage URI `storage`.
    pub(crate) async fn submit_uri(
        &self,
        label: &str,
        storage: Bytes,
        declared: &[u8],
        priority: u64,
    ) -> U256 {
        let alice = IModelRegistry::new(self.registry, wallet(&self.env.node, ALICE));
        let call = alice
            .submit(
                name(label),
                1,
                vec![],
                Relation::Original.code(),
                keccak256(declared),
                declared.len() as u64,
                storage,
                Format::Safetensors.code(),
                B256::repeat_byte(0x11),
                B256::repeat_byte(0x22),
                B256::repeat_byte(0x33),
                B256::repeat_byte(0x44),
                Bytes::from_static(b"ipfs://card"),
                vec![],
            )
            .value(U256::from(MIN_FEE + priority));
        let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
        assert!(receipt.status(), "submit {label}");
        submitted_id(&receipt)
    }

    pub(crate) async fn status(&self, id: U256) -> (Status, Reason) {
        let info = IModelRegistry::new(self.registry, &self.env.provider)
            .version(id)
            .call()
            .await
            .unwrap();
        (
            Status::try_from(info.status).unwrap(),
            Reason::try_from(info.reason).unwrap(),
        )
    }

    fn jobs(&self, store: &SqliteStore, metrics: &Metrics, batch: BatcherConfig) -> Jobs {
        let a = self.attester_config();
        (
            StorageAttester::new(store.clone(), a, metrics.clone()),
            RegistrationBatcher::new(store.clone(), batch, metrics.clone()),
        )
    }

    pub(crate) fn attester_config(&self) -> AttesterConfig {
        let mut a = AttesterConfig::new(self.registry, 0);
        a.retry_base = Duration::from_millis(1);
        a.retry_max = Duration::from_millis(5);
        // The test's weights are local files or served on loopback; an endless body ends after 2 s.
        a.fetch.allow_file = true;
        a.fetch.allow_private = true;
        a.fetch.deadline = Duration::from_secs(2);
        a
    }

    /// Fee order only (no aging: these tests assert the order of fees a few wei apart); aging is tested in
    /// `registry_batcher`.
    pub(crate) fn batch_config(&self, max_count: usize, max_wait_secs: u64) -> BatcherConfig {
        BatcherConfig {
            max_count,
            max_wait_secs,
            aging_wei_per_sec: 0,
            ..BatcherConfig::new(self.registry, 0)
        }
    }

    /// A keeper with both jobs on the test's database, run until its outbox is idle.
    async fn run_keeper(&self, batch: BatcherConfig) -> Metrics {
        self.run_keeper_with(batch, self.attester_config()).await
    }

    /// [`World::run_keeper`] with the attester configured as given.
    async fn run_keeper_with(&self, batch: BatcherConfig, attester: AttesterConfig) -> Metrics {
        self.run_jobs(attester, Some(batch)).await
    }

    /// A keeper with the storage attester (configured as given) and, when `batch` is set, the registration
    /// batcher, on the test's database, run until its outbox is idle.
    pub(crate) async fn run_jobs(
        &self,
        attester: AttesterConfig,
        batch: Option<BatcherConfig>,
    ) -> Metrics {
        let store = self.env.store().await;
        let metrics = Metrics::new().unwrap();
        let tx = TxManager::new(
            store.clone(),
            self.env.provider.clone(),
            self.env.signer.clone(),
            self.env.tx_config(),
            Failpoints::none(),
        );
        let leadership = Leadership::new(
            store.clone(),
            "verity-keeper",
            "test",
            Duration::from_secs(15),
        );
        let config = LoopConfig {
            poll_interval: Duration::from_millis(5),
            exit_when_idle: true,
            dry_run: false,
            shutdown_grace: std::time::Duration::from_secs(5),
            low_balance_wei: 0,
        };
        let a = StorageAttester::new(store.clone(), attester, metrics.clone());
        let mut k: Keeper<SqliteStore, DynProvider> =
            Keeper::new(store.clone(), tx, leadership, metrics.clone(), config).with_job(a);
        if let Some(batch) = batch {
            k = k.with_job(RegistrationBatcher::new(store, batch, metrics.clone()));
        }
        tokio::time::timeout(Duration::from_secs(120), k.run(std::future::pending()))
            .await
            .expect("keeper goes idle")
            .expect("keeper runs");
        metrics
    }

    /// The keeper account's transactions: every id it attested (each item of each `confirmStorageBatch`, or a
    /// `confirmStorage`'s id), and each `finalizeRegistrations` id list.
    pub(crate) async fn sent(&self) -> (Vec<U256>, Vec<Vec<U256>>) {
        let mut attested = Vec::new();
        let mut batches = Vec::new();
        for (calldata, n) in self.env.sent_by_calldata().await {
            for _ in 0..n {
                if let Some(ids) = attest_batch::attested_ids(&calldata) {
                    attested.extend(ids);
                } else if let Ok(c) =
                    IModelRegistry::finalizeRegistrationsCall::abi_decode(&calldata)
                {
                    batches.push(c.ids);
                }
            }
        }
        attested.sort();
        batches.sort();
        (attested, batches)
    }
}

type Jobs = (
    StorageAttester<SqliteStore>,
    RegistrationBatcher<SqliteStore>,
);

fn submitted_id(receipt: &TransactionReceipt) -> U256 {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| match decode_log(l).unwrap() {
            Some(KeeperEvent::VersionSubmitted(v)) => Some(v.id),
            _ => None,
        })
        .expect("VersionSubmitted")
}

/// The attester's intents in the outbox: the versions each carries and its status.
pub(crate) async fn attest_intents(store: &SqliteStore) -> Vec<(Vec<U256>, IntentStatus)> {
    store
        .latest_intents(100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.key.starts_with(&format!("{}:", attester::KEY_PREFIX)))
        .map(|i| {
            let ids = attest_batch::attested_ids(&i.calldata).expect("an attestation");
            (ids, i.status)
        })
        .collect()
}

pub(crate) fn count(metrics: &Metrics, family: &str, outcome: &str) -> u64 {
    let m = match family {
        "attest" => &metrics.attest_fetches,
        "items" => &metrics.attest_items,
        _ => &metrics.registrations,
    };
    m.with_label_values(&[outcome]).get()
}

#[tokio::test(flavor = "multi_thread")]
async fn attests_what_it_finds_and_registers_the_stored_in_one_batch_exactly_once() {
    let w = world().await;
    let weights = b"weights of model a".repeat(1_000);
    let other = b"weights of model c, different".repeat(100);
    let (good, bad, good_c, later) = (
        w.dir.path().join("a.bin"),
        w.dir.path().join("b.bin"),
        w.dir.path().join("c.bin"),
        w.dir.path().join("d.bin"),
    );
    std::fs::write(&good, &weights).unwrap();
    std::fs::write(&bad, b"not the declared bytes").unwrap();
    std::fs::write(&good_c, &other).unwrap();
    let a = w.submit("a", &good, &weights, 2).await;
    let b = w.submit("b", &bad, &weights, 9).await;
    let c = w.submit("c", &good_c, &other, 5).await;
    // d's file is not there yet: unreachable, retried, never reported.
    let d = w.submit("d", &later, &weights, 0).await;

    let metrics = w.run_keeper(w.batch_config(2, 3_600)).await;
    assert_eq!(w.status(a).await, (Status::Registered, Reason::None));
    assert_eq!(
        w.status(b).await,
        (Status::Rejected, Reason::ContentHashMismatch)
    );
    assert_eq!(w.status(c).await, (Status::Registered, Reason::None));
    assert_eq!(w.status(d).await.0, Status::Submitted);
    // One confirmStorage per reachable version; one batch, the higher priority fee first.
    let (attested, batches) = w.sent().await;
    assert_eq!(attested, vec![a, b, c]);
    assert_eq!(batches, vec![vec![c, a]]);
    let store = w.env.store().await;
    let intent = store
        .intent_by_key(&batcher::key(&[c, a]))
        .await
        .unwrap()
        .expect("intent");
    assert_eq!(intent.status, IntentStatus::Confirmed);
    // The attestations: confirmStorageBatch intents, all confirmed, carrying a, b and c once each, never d.
    let mut carried = Vec::new();
    for (ids, status) in attest_intents(&store).await {
        assert_eq!(status, IntentStatus::Confirmed, "{ids:?}");
        carried.extend(ids);
    }
    carried.sort();
    assert_eq!(carried, vec![a, b, c]);
    // `verity-keeper status` shows the registry's backlog: d is the one version still pending.
    let mut report = StatusReport::collect(
        &store,
        "verity-keeper",
        None::<(&DynProvider, Address)>,
        5,
        0,
    )
    .await
    .unwrap();
    report
        .read_registry(&wallet(&w.env.node, DEPLOYER), w.registry)
        .await;
    let (at, backlog) = report.registry.clone().expect("registry read");
    assert_eq!(at, w.registry);
    assert_eq!(backlog.expect("views answer").pending, 1);
    assert!(
        report.to_string().contains("pending versions    1"),
        "{report}"
    );
    assert_eq!(count(&metrics, "attest", "match"), 2);
    assert_eq!(count(&metrics, "attest", "mismatch"), 1);
    assert!(count(&metrics, "attest", "unreachable") >= 1);
    assert_eq!(count(&metrics, "reg", "registered"), 2);
    assert_eq!(count(&metrics, "reg", "rejected"), 1);
    assert_eq!(
        metrics
            .job_submitted
            .with_label_values(&[batcher::JOB_NAME])
            .get(),
        1
    );

    // Restart: nothing is sent again; d (still Submitted) is found again from the persisted cursor and attested
    // once its file exists; alone it is neither a full batch nor old enough, so it waits.
    std::fs::write(&later, &weights).unwrap();
    let metrics = w.run_keeper(w.batch_config(2, 3_600)).await;
    assert_eq!(w.status(d).await.0, Status::Stored);
    let (attested, batches) = w.sent().await;
    assert_eq!(attested, vec![a, b, c, d]);
    assert_eq!(batches, vec![vec![c, a]]);
    assert_eq!(count(&metrics, "attest", "match"), 1);
    let due = metrics
        .job_due
        .with_label_values(&[batcher::JOB_NAME])
        .get();
    assert_eq!(due, 1, "d waits in the batcher");

    // Past the max wait by chain time the partial batch goes.
    w.env.advance(3_601).await;
    w.run_keeper(w.batch_config(2, 3_600)).await;
    assert_eq!(w.status(d).await, (Status::Registered, Reason::None));
    let (attested, batches) = w.sent().await;
    assert_eq!(attested, vec![a, b, c, d]);
    assert_eq!(batches, vec![vec![c, a], vec![d]]);

    // And once more: a restart with nothing to do sends nothing.
    w.run_keeper(w.batch_config(2, 3_600)).await;
    assert_eq!(
        w.sent().await,
        (vec![a, b, c, d], vec![vec![c, a], vec![d]])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_finalized_by_someone_else_first_count_as_done() {
    let w = world().await;
    let weights = b"some weights".repeat(50);
    let path = w.dir.path().join("w.bin");
    std::fs::write(&path, &weights).unwrap();
    let v1 = w.submit("one", &path, &weights, 0).await;
    let v2 = w.submit("two", &path, &weights, 0).await;
    // Attested, not batched (max wait far away).
    w.run_keeper(w.batch_config(10, 10 * 86_400)).await;
    assert_eq!(w.status(v1).await.0, Status::Stored);
    assert_eq!(w.status(v2).await.0, Status::Stored);

    // Someone else finalizes v1 before the keeper planned any batch (anyone may after the registry's max wait).
    w.env.advance(86_400 + 1).await;
    let outsider = IModelRegistry::new(w.registry, wallet(&w.env.node, OTHER));
    let fin = |ids: Vec<U256>| {
        let outsider = outsider.clone();
        async move {
            let r = outsider
                .finalizeRegistrations(ids)
                .gas(2_000_000)
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap();
            assert!(r.status());
        }
    };
    fin(vec![v1]).await;
    assert_eq!(w.status(v1).await.0, Status::Registered);
    w.run_keeper(w.batch_config(10, 0)).await;
    assert_eq!(w.status(v2).await.0, Status::Registered);
    assert_eq!(w.sent().await.1, vec![vec![v2]], "v1 is not batched again");

    // Someone else finalizes v3 and v4 after the keeper persisted its batch of them: the batch still completes
    // (the contract reports both unchanged, it never reverts), is not retried, and nothing is stuck.
    let v3 = w.submit("three", &path, &weights, 0).await;
    let v4 = w.submit("four", &path, &weights, 0).await;
    w.run_keeper(w.batch_config(10, 10 * 86_400)).await;
    let store = w.env.store().await;
    let metrics = Metrics::new().unwrap();
    let (_, batcher_job) = w.jobs(&store, &metrics, w.batch_config(10, 0));
    let jobs: Vec<Box<dyn Job<DynProvider>>> = vec![Box::new(batcher_job)];
    let tx = w.env.manager(Failpoints::none()).await;
    let report = run_jobs(&jobs, &tx, &metrics, false).await.unwrap();
    assert_eq!(report.submitted, 1);
    let k = batcher::key(&[v3, v4]);
    assert_eq!(
        store.intent_by_key(&k).await.unwrap().unwrap().status,
        IntentStatus::Pending
    );
    w.env.advance(86_400 + 1).await;
    fin(vec![v3, v4]).await;
    let metrics = w.run_keeper(w.batch_config(10, 0)).await;
    assert_eq!(
        store.intent_by_key(&k).await.unwrap().unwrap().status,
        IntentStatus::Confirmed
    );
    assert_eq!(w.status(v3).await.0, Status::Registered);
    assert_eq!(w.status(v4).await.0, Status::Registered);
    assert_eq!(w.sent().await.1, vec![vec![v2], vec![v3, v4]]);
    assert_eq!(count(&metrics, "reg", "unchanged"), 2);
    assert_eq!(
        metrics
            .job_stuck
            .with_label_values(&[batcher::JOB_NAME])
            .get(),
        0
    );
}

/// The real binary with both registry jobs on the test's database, killed at `failpoint` when given.
fn keeper_bin(
    w: &World,
    failpoint: Option<verity_keeper::failpoint::Failpoint>,
) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_verity-keeper"));
    cmd.args(["--exit-when-idle", "--batch-max-wait-secs", "0", "run"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_RPC_URL", w.env.node.url())
        .env("DATABASE_URL", &w.env.db_url)
        .env("VERITY_KEEPER_KEY", &w.env.key)
        .env("VERITY_REGISTRY", w.registry.to_string())
        .env("VERITY_KEEPER_LISTEN", "127.0.0.1:0")
        .env("VERITY_POLL_MS", "10")
        .env("VERITY_REBROADCAST_MS", "0")
        // A killed instance keeps the lease: the restarted one takes it over once it expired.
        .env("VERITY_LEASE_TTL_MS", "300")
        .env("VERITY_ALLOW_FILE_URIS", "true")
        .env("RUST_LOG", "warn");
    if let Some(f) = failpoint {
        cmd.env("VERITY_FAILPOINT", f.name());
    }
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn binary_killed_at_each_failpoint_attests_and_registers_each_version_once() {
    use verity_keeper::failpoint::Failpoint;
    let w = world().await;
    let mut ids = Vec::new();
    for (i, point) in Failpoint::OUTBOX.into_iter().enumerate() {
        let weights = format!("weights of killed model {i}\n")
            .repeat(100)
            .into_bytes();
        let path = w.dir.path().join(format!("killed-{i}.bin"));
        std::fs::write(&path, &weights).unwrap();
        let id = w.submit(&format!("killed-{i}"), &path, &weights, 0).await;
        ids.push(id);
        // Killed at the point each time it is reached, restarted on the same database with the failpoint still
        // set, twice: after_sign and after_broadcast die at the attestation, then at the batch; after_receipt
        // dies at the attestation's receipt both times (its final status is never recorded before the kill).
        // Each kill is a real SIGKILL sent by this test the moment the binary reports the step reached.
        for _ in 0..2 {
            let mut cmd = keeper_bin(&w, Some(point));
            cmd.env("VERITY_FAILPOINT", format!("{},wait", point.name()));
            let reached =
                tokio::task::spawn_blocking(move || crate::support::sigkill_at_failpoint(cmd))
                    .await
                    .unwrap();
            assert_eq!(reached, point.name());
        }
        // Then a clean restart finishes the work.
        let cmd = keeper_bin(&w, None);
        let out = tokio::task::spawn_blocking(move || {
            let mut cmd = cmd;
            cmd.output().unwrap()
        })
        .await
        .unwrap();
        assert!(out.status.success(), "{point}: {out:?}");
        assert_eq!(
            w.status(id).await,
            (Status::Registered, Reason::None),
            "{point}"
        );
    }
    // A plain restart finds nothing to do; on chain, each version was attested once and batched once.
    let cmd = keeper_bin(&w, None);
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = cmd;
        cmd.output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    let (attested, batches) = w.sent().await;
    assert_eq!(attested, ids);
    assert_eq!(batches, ids.iter().map(|id| vec![*id]).collect::<Vec<_>>());
}

/// Serves `weights` at every path on loopback (one request per connection), except `/endless`: a 200 whose body
/// dribbles a byte every 50 ms for ever.
async fn serve_weights(weights: Vec<u8>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let weights = weights.clone();
            tokio::spawn(async move {
                let mut req = vec![0u8; 4096];
                let n = s.read(&mut req).await.unwrap_or(0);
                if req[..n].starts_with(b"GET /endless ") {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
                        .await;
                    while s.write_all(b"w").await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    return;
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    weights.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(&weights).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

/// Issue 15 #1: storage URIs are the submitter's choice. `file:///dev/zero` and a slow endless HTTP body must not
/// stall the attester (the honest version submitted after them is still registered), and a `file://` URI naming
/// a local secret (the keeper's keystore) must publish nothing about it — not a confirmation, not a hash.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_storage_uris_never_stall_the_attester_nor_leak_local_files() {
    let w = world().await;
    let weights = b"honest weights".repeat(500);
    let addr = serve_weights(weights.clone()).await;
    let secret_path = w.dir.path().join("keystore.json");
    let secret = br#"{"crypto":{"ciphertext":"the keeper's keystore"}}"#.to_vec();
    std::fs::write(&secret_path, &secret).unwrap();
    let zero = w
        .submit_uri("zero", Bytes::from_static(b"file:///dev/zero"), &weights, 0)
        .await;
    let endless = w
        .submit_uri(
            "endless",
            Bytes::from(format!("http://{addr}/endless").into_bytes()),
            &weights,
            0,
        )
        .await;
    // The submitter guesses the secret's content: a confirmation would tell them the guess is right, a
    // mismatch would publish the file's real hash and size.
    let leak = w.submit_uri("leak", uri(&secret_path), &secret, 0).await;
    let good = w
        .submit_uri(
            "good",
            Bytes::from(format!("http://{addr}/weights").into_bytes()),
            &weights,
            0,
        )
        .await;

    // The production policy except loopback (the test serves there): file:// refused, 2 s per fetch.
    let mut a = AttesterConfig::new(w.registry, 0);
    a.retry_base = Duration::from_millis(1);
    a.retry_max = Duration::from_millis(5);
    a.fetch.allow_private = true;
    a.fetch.deadline = Duration::from_secs(2);
    let metrics = tokio::time::timeout(
        Duration::from_secs(60),
        w.run_keeper_with(w.batch_config(1, 0), a),
    )
    .await
    .expect("the attester never stalls on a hostile URI");
    assert_eq!(w.status(good).await, (Status::Registered, Reason::None));
    for id in [zero, endless, leak] {
        assert_eq!(w.status(id).await.0, Status::Submitted, "{id}");
    }
    assert!(count(&metrics, "attest", "unreachable") >= 3);
    let (attested, _) = w.sent().await;
    assert_eq!(attested, vec![good], "only the honest version is attested");
    let secret_hash = keccak256(&secret);
    for calldata in w.env.sent_by_calldata().await.keys() {
        assert!(
            !calldata
                .windows(32)
                .any(|win| win == secret_hash.as_slice()),
            "the secret's hash reached the chain: {calldata}"
        );
    }
}

/// A TCP proxy to `upstream` that, while `stall` is set, holds every request it receives (the node "hangs").
async fn stalling_proxy(
    upstream: std::net::SocketAddr,
    stall: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::net::SocketAddr {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let stall = stall.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                });
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = match cr.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    while stall.load(Ordering::Relaxed) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    if sw.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// `GET path` on `addr`: the status line, or `None` when nothing answers within 2 s.
async fn http_status(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let get = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).await.ok()?;
        out.lines().next().map(str::to_string)
    };
    tokio::time::timeout(Duration::from_secs(2), get)
        .await
        .ok()
        .flatten()
}

/// Issue 15 #9 and #10: a keeper hung mid-pass (its node stops answering, no RPC timeout) fails `/health`, and
/// SIGTERM stops it within a bounded time (it ignored SIGTERM until the pass returned).
#[tokio::test(flavor = "multi_thread")]
async fn binary_hung_mid_pass_fails_health_and_stops_on_sigterm() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let w = world().await;
    let stall = std::sync::Arc::new(AtomicBool::new(false));
    let node: std::net::SocketAddr = w
        .env
        .node
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let proxy = stalling_proxy(node, stall.clone()).await;
    let listen = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_verity-keeper"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_RPC_URL", format!("http://{proxy}"))
        .env("DATABASE_URL", &w.env.db_url)
        .env("VERITY_KEEPER_KEY", &w.env.key)
        .env("VERITY_REGISTRY", w.registry.to_string())
        .env("VERITY_KEEPER_LISTEN", listen.to_string())
        .env("VERITY_POLL_MS", "50")
        .env("VERITY_RPC_TIMEOUT_MS", "600000")
        .env("VERITY_HEALTH_MAX_PASS_AGE_MS", "1500")
        .env("VERITY_SHUTDOWN_GRACE_MS", "1000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut healthy = false;
    for _ in 0..300 {
        if http_status(listen, "/health")
            .await
            .is_some_and(|l| l.contains(" 200"))
        {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The node hangs: the next pass blocks in its first call.
    stall.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let hung_health = http_status(listen, "/health").await;
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let started = std::time::Instant::now();
    let mut exited = None;
    while started.elapsed() < Duration::from_secs(15) {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if exited.is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    stall.store(false, Ordering::Relaxed);
    assert!(healthy, "the keeper came up healthy");
    assert!(sent.success());
    assert!(
        hung_health.as_deref().is_some_and(|l| l.contains(" 503")),
        "a hung keeper must fail /health: {hung_health:?}"
    );
    let status = exited.expect("SIGTERM stops a keeper hung mid-pass within 15 s");
    assert!(status.success(), "{status:?}");
    // The outbox is consistent: a restart on the same database runs and goes idle.
    let out = tokio::task::spawn_blocking({
        let cmd = keeper_bin(&w, None);
        move || {
            let mut cmd = cmd;
            cmd.output().unwrap()
        }
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");
}

/// Issue 15 #9: a Submitted version whose storage stays unreachable is not re-read for ever: once the registry's
/// TTL (7 days on the dev deployment) has passed, the attester sends the permissionless `expire(id)` (the
/// submitter is refunded), under `expire:<id>`, exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_version_past_the_ttl_is_expired() {
    let w = world().await;
    let missing = w.dir.path().join("never-written.bin");
    let id = w
        .submit("gone", &missing, b"weights that never appear", 0)
        .await;
    w.run_keeper(w.batch_config(1, 0)).await;
    assert_eq!(w.status(id).await.0, Status::Submitted, "not expired early");
    w.env.advance(7 * 86_400 + 60).await;
    w.run_keeper(w.batch_config(1, 0)).await;
    w.run_keeper(w.batch_config(1, 0)).await;
    assert_eq!(w.status(id).await, (Status::Expired, Reason::TtlElapsed));
    let expire = IModelRegistry::expireCall { id }.abi_encode();
    let sent = w.env.sent_by_calldata().await;
    assert_eq!(sent.get(&Bytes::from(expire)), Some(&1), "expired once");
    let (attested, _) = w.sent().await;
    assert!(attested.is_empty(), "never attested");
}

/// Issue 15 #11: `status` uses `--rpc-timeout-ms` too: against a node that never answers it still prints its
/// report and exits (it hung for ever).
#[tokio::test(flavor = "multi_thread")]
async fn status_gives_up_on_a_hung_node_after_the_rpc_timeout() {
    use std::sync::atomic::AtomicBool;
    let w = world().await;
    let node: std::net::SocketAddr = w
        .env
        .node
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let proxy = stalling_proxy(node, std::sync::Arc::new(AtomicBool::new(true))).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_verity-keeper"))
        .arg("status")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERITY_RPC_URL", format!("http://{proxy}"))
        .env("DATABASE_URL", &w.env.db_url)
        .env("VERITY_REGISTRY", w.registry.to_string())
        .env("VERITY_RPC_TIMEOUT_MS", "500")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let mut exited = None;
    while started.elapsed() < Duration::from_secs(20) {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if exited.is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    assert!(
        exited.is_some(),
        "status still waiting for a hung node after 20 s"
    );
}
