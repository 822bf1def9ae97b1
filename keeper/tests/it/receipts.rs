//! The receipts jobs against the real settlement contracts (WASM on devnode, deployed by the deploy plan): receipts
//! taken in over HTTP (persisted before the 2xx, deduplicated, invalid ones refused with their reason), batched,
//! anchored with the bond, finalized after the window, served with proofs the contract accepts; paid requests
//! proven by batch, settled, refunded past the deadline; another account's bad batch challenged; our batch voided
//! as a duplicate and its honest receipts re-anchored; restarts send nothing twice.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::DynProvider;
use alloy::signers::{local::PrivateKeySigner, SignerSync};
use alloy::sol_types::SolCall;
use alloy::transports::http::reqwest;
use verity_abi::registry::{Format, Relation};
use verity_abi::rpc::{IInferenceSettlement, IModelRegistry, IReceiptBatches, ISettlementNodes};
use verity_abi::settlement::{
    batch_status, encode_signed_receipt, encoded_leaf_hash, mode, request_status, signing_hash,
    void_reason, Receipt, SignedReceipt, StandardMerkleTree,
};
use verity_keeper::failpoint::Failpoints;
use verity_keeper::http::Metrics;
use verity_keeper::keeper::{Keeper, LoopConfig};
use verity_keeper::lease::Leadership;
use verity_keeper::outbox::TxManager;
use verity_keeper::receipts::store::{BatchStatus, ReceiptState, ReceiptStore};
use verity_keeper::receipts::{batcher, finalizer, paid, watcher, Receipts, ReceiptsConfig};
use verity_keeper::store::{IntentStatus, OutboxStore, PgStore, Store};

use crate::support::{pg_schema, verity_env, wallet, Env, DEPLOYER};

/// Dev account that runs a node (TEE key approved by governance).
pub(crate) const NODE: usize = 3;
/// Dev account that pays for requests.
pub(crate) const PAYER: usize = 4;
/// Another batch keeper (anchors batches of its own).
pub(crate) const OTHER: usize = 1;
/// A challenger that is not the keeper.
const CHALLENGER: usize = 5;

pub(crate) const HOUR: u64 = 3_600;
pub(crate) const WINDOW: u64 = 6 * HOUR;
pub(crate) const DEADLINE: u64 = 24 * HOUR;
const FEE: u64 = 5_000_000_000_000_000;

pub(crate) struct World {
    pub(crate) env: Env,
    pub(crate) settlement: Address,
    pub(crate) batches: Address,
    pub(crate) model: U256,
    pub(crate) tee: PrivateKeySigner,
    pub(crate) domain: B256,
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) async fn world() -> World {
    let (env, deployment) = verity_env().await;
    let settlement = deployment.contracts["settlement"].address;
    let batches = deployment.contracts["settlement-batches"].address;
    let nodes_at = deployment.contracts["settlement-nodes"].address;
    let registry_at = deployment.contracts["registry"].address;
    let gov = wallet(&env.node, DEPLOYER);
    let ok = |r: alloy::rpc::types::TransactionReceipt, what: &str| assert!(r.status(), "{what}");

    // A registered model version (the deployer is attester and keeper on the dev deployment).
    let registry = IModelRegistry::new(registry_at, gov.clone());
    let content = B256::repeat_byte(0xc1);
    let r = registry
        .submit(
            B256::repeat_byte(0x6d),
            1,
            vec![],
            Relation::Original.code(),
            content,
            4_096,
            Bytes::from_static(b"ipfs://weights"),
            Format::Safetensors.code(),
            B256::repeat_byte(0x11),
            B256::repeat_byte(0x22),
            B256::repeat_byte(0x33),
            B256::repeat_byte(0x44),
            Bytes::from_static(b"ipfs://card"),
            vec![],
        )
        .value(U256::from(1_000_000_000_000_000u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    ok(r.clone(), "submit");
    let model = r
        .inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<verity_abi::registry::VersionSubmitted>()
                .ok()
        })
        .unwrap()
        .inner
        .data
        .id;
    let expiry = env.chain_now().await + 365 * 86_400;
    ok(
        registry
            .confirmStorage(model, content, 4_096, expiry)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap(),
        "confirm",
    );
    ok(
        registry
            .finalizeRegistrations(vec![model])
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap(),
        "register",
    );

    // The node with an approved TEE key.
    let tee = PrivateKeySigner::random();
    let nodes = ISettlementNodes::new(nodes_at, wallet(&env.node, NODE));
    let min_stake = nodes.config().call().await.unwrap()._5;
    let key_proof = verity_abi::rpc::key_registration_proof(
        &tee,
        env.chain_id,
        nodes_at,
        alloy::providers::WalletProvider::default_signer_address(&wallet(&env.node, NODE)),
    )
    .unwrap();
    ok(
        nodes
            .registerNode(tee.address(), key_proof)
            .value(min_stake)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap(),
        "register node",
    );
    let gov_nodes = ISettlementNodes::new(nodes_at, gov.clone());
    ok(
        gov_nodes
            .approveKey(tee.address(), keccak256("enclave"))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap(),
        "approve",
    );
    let domain = gov_nodes.domainSeparator().call().await.unwrap();

    // The keeper (and another account) may anchor batches.
    let gov_batches = IReceiptBatches::new(batches, gov);
    for who in [env.signer.address(), env_account(&env, OTHER)] {
        ok(
            gov_batches
                .setKeeper(who, true)
                .send()
                .await
                .unwrap()
                .get_receipt()
                .await
                .unwrap(),
            "setKeeper",
        );
    }
    World {
        env,
        settlement,
        batches,
        model,
        tee,
        domain,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn env_account(env: &Env, i: usize) -> Address {
    use alloy::providers::WalletProvider;
    wallet(&env.node, i).default_signer_address()
}

/// The receipts part of a keeper (routes served, jobs ready to add) as `main` wires it.
pub(crate) struct Running<S> {
    pub(crate) receipts: Receipts<S, DynProvider>,
    pub(crate) metrics: Metrics,
    pub(crate) addr: SocketAddr,
    _server: tokio::task::JoinHandle<()>,
}

impl World {
    pub(crate) fn account(&self, i: usize) -> Address {
        env_account(&self.env, i)
    }

    pub(crate) fn receipt(&self, id: B256, output: &str, signed_at: u64) -> Receipt {
        Receipt {
            requestId: id,
            modelVersion: self.model,
            inputHash: keccak256("prompt"),
            outputHash: keccak256(output),
            payer: self.account(PAYER),
            node: self.account(NODE),
            fee: U256::from(FEE),
            mode: mode::TEE,
            signedAt: signed_at,
        }
    }

    pub(crate) fn sign_with(&self, key: &PrivateKeySigner, r: &Receipt) -> Bytes {
        let sig = key.sign_hash_sync(&signing_hash(self.domain, r)).unwrap();
        let signed = SignedReceipt {
            receipt: r.clone(),
            v: 27 + u8::from(sig.v()),
            r: B256::from(sig.r()),
            s: B256::from(sig.s()),
        };
        encode_signed_receipt(&signed).to_vec().into()
    }

    pub(crate) fn sign(&self, r: &Receipt) -> Bytes {
        self.sign_with(&self.tee, r)
    }

    /// The payer opens request `id` (mode TEE, the prompt every receipt names).
    pub(crate) async fn request(&self, id: B256) {
        let s = IInferenceSettlement::new(self.settlement, wallet(&self.env.node, PAYER));
        let r = s
            .request(
                id,
                self.account(NODE),
                self.model,
                keccak256("prompt"),
                mode::TEE,
            )
            .value(U256::from(FEE))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(r.status(), "request");
    }

    pub(crate) async fn answer(&self, id: B256, output: &str) {
        let s = IInferenceSettlement::new(self.settlement, wallet(&self.env.node, NODE));
        let r = s
            .answer(id, keccak256(output))
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(r.status(), "answer");
    }

    pub(crate) async fn request_status(&self, id: B256) -> u8 {
        IInferenceSettlement::new(self.settlement, &self.env.provider)
            .getRequest(id)
            .call()
            .await
            .unwrap()
            ._6
    }

    pub(crate) async fn batch_status(&self, id: u64) -> u8 {
        IReceiptBatches::new(self.batches, &self.env.provider)
            .batch(U256::from(id))
            .call()
            .await
            .unwrap()
            ._5
    }

    /// The receipts part on `store`, its routes served on an ephemeral port (the data URIs point there).
    pub(crate) async fn start<S: Store + ReceiptStore>(&self, store: S) -> Running<S> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Metrics::new().unwrap();
        let mut config = ReceiptsConfig::new(
            self.settlement,
            self.env.signer.address(),
            format!("http://{addr}"),
        );
        config.batch_max_age = Duration::ZERO;
        config.refresh = Duration::ZERO;
        // Others' batch data is a local file or served on loopback here; a short per-batch deadline.
        config.fetch.allow_file = true;
        config.fetch.allow_private = true;
        config.fetch.deadline = Duration::from_secs(3);
        let receipts = Receipts::connect(store, self.env.provider.clone(), config, &metrics)
            .await
            .unwrap();
        let app = receipts.router();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Running {
            receipts,
            metrics,
            addr,
            _server: server,
        }
    }

    /// A keeper with every receipts job on `store`, run until its outbox is idle.
    async fn run_keeper<S: Store + ReceiptStore>(&self, running: &Running<S>, store: S) {
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
        let keeper = Keeper::new(store, tx, leadership, running.metrics.clone(), config);
        let mut keeper = running.receipts.add_jobs(keeper);
        tokio::time::timeout(Duration::from_secs(120), keeper.run(std::future::pending()))
            .await
            .expect("keeper goes idle")
            .expect("keeper runs");
    }

    /// Runs the keeper until a run submits nothing new (each run ends when its outbox is idle; the next decides
    /// on what the last one confirmed).
    async fn settle_keeper<S: Store + ReceiptStore>(&self, running: &Running<S>, store: &S) {
        for _ in 0..8 {
            let before = store.latest_intents(1_000).await.unwrap().len();
            self.run_keeper(running, store.clone()).await;
            if store.latest_intents(1_000).await.unwrap().len() == before {
                return;
            }
        }
        panic!("the keeper kept submitting");
    }

    /// The keeper's transactions to the settlement contracts, by function, each calldata with its count.
    pub(crate) async fn sent(&self) -> BTreeMap<&'static str, Vec<(Bytes, usize)>> {
        let mut out: BTreeMap<&'static str, Vec<(Bytes, usize)>> = BTreeMap::new();
        for (calldata, n) in self.env.sent_by_calldata().await {
            let name = match calldata.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()) {
                Some(IReceiptBatches::anchorBatchCall::SELECTOR) => "anchor",
                Some(IReceiptBatches::finalizeBatchCall::SELECTOR) => "finalize",
                Some(IReceiptBatches::challengeLeafCall::SELECTOR) => "challengeLeaf",
                Some(IReceiptBatches::challengeDuplicateCall::SELECTOR) => "challengeDuplicate",
                Some(IInferenceSettlement::proveByBatchCall::SELECTOR) => "prove",
                Some(IInferenceSettlement::settleCall::SELECTOR) => "settle",
                Some(IInferenceSettlement::refundCall::SELECTOR) => "refund",
                _ => "other",
            };
            out.entry(name).or_default().push((calldata, n));
        }
        out
    }
}

/// Every transaction of `sent` was sent exactly once; returns how many per function.
pub(crate) fn once_each(
    sent: &BTreeMap<&'static str, Vec<(Bytes, usize)>>,
) -> BTreeMap<&'static str, usize> {
    for (name, txs) in sent {
        for (calldata, n) in txs {
            assert_eq!(*n, 1, "{name} sent {n} times: {calldata}");
        }
    }
    sent.iter().map(|(k, v)| (*k, v.len())).collect()
}

async fn post(
    client: &reqwest::Client,
    addr: SocketAddr,
    signed: &Bytes,
) -> (u16, serde_json::Value) {
    let resp = client
        .post(format!("http://{addr}/receipts"))
        .header("content-type", "application/json")
        .body(serde_json::json!({ "signed": signed }).to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn get_receipt(client: &reqwest::Client, addr: SocketAddr, id: B256) -> serde_json::Value {
    client
        .get(format!("http://{addr}/receipts/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `receiptStatus` on chain for what `GET /receipts/<id>` served.
async fn on_chain_status(w: &World, served: &serde_json::Value) -> u8 {
    let id: u64 = served["batch"]["id"].as_u64().expect("batch id");
    let signed: Bytes = serde_json::from_value(served["signed"].clone()).unwrap();
    let proof: Vec<B256> = serde_json::from_value(served["proof"].clone()).unwrap();
    IReceiptBatches::new(w.batches, &w.env.provider)
        .receiptStatus(U256::from(id), signed, proof)
        .call()
        .await
        .unwrap()
}

pub(crate) async fn key_status<S: OutboxStore>(store: &S, key: String) -> Option<IntentStatus> {
    store.intent_by_key(&key).await.unwrap().map(|i| i.status)
}

/// The whole life of receipts on `store`: intake over HTTP, anchor, final, proofs, settle, refund; a restart
/// sends nothing twice.
async fn receipts_lifecycle<S: Store + ReceiptStore>(w: &World, store: S) {
    let running = w.start(store.clone()).await;
    let client = reqwest::Client::new();
    let addr = running.addr;
    // 23.5 hours after the key's approval: a receipt signed then is within the 24-hour maximum age but too old
    // to be anchored with the keeper's 1-hour margin.
    let approved = w.env.chain_now().await;
    w.env.advance(23 * HOUR + HOUR / 2).await;
    let t = w.env.chain_now().await;

    // Paid requests: q answered, p only requested, late never gets a receipt.
    let (q, p, late, free) = (
        keccak256("q"),
        keccak256("p"),
        keccak256("late"),
        keccak256("free"),
    );
    for id in [q, p, late] {
        w.request(id).await;
    }
    w.answer(q, "out-q").await;
    let t = t.max(w.env.chain_now().await);
    let good: Vec<Bytes> = [(q, "out-q"), (p, "out-p"), (free, "out-free")]
        .iter()
        .map(|(id, out)| w.sign(&w.receipt(*id, out, t)))
        .collect();

    // Intake: persisted before the 2xx; the same receipt again is fine; another receipt for the id is refused.
    for g in &good {
        let (status, body) = post(&client, addr, g).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "Answered");
    }
    assert_eq!(post(&client, addr, &good[0]).await.0, 200);
    let (status, body) = post(&client, addr, &w.sign(&w.receipt(q, "other output", t))).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("conflict")));
    // Invalid receipts are refused with the contract's reason; nothing is persisted for them.
    let forged = w.sign_with(
        &PrivateKeySigner::random(),
        &w.receipt(keccak256("f"), "x", t),
    );
    let mut other_model = w.receipt(keccak256("m"), "x", t);
    other_model.modelVersion = U256::from(999);
    let before_key = w.receipt(keccak256("old"), "x", approved.saturating_sub(10));
    let too_old = w.receipt(keccak256("too-old"), "x", approved + 1);
    let future = w.receipt(keccak256("fut"), "x", t + 3_600);
    let mut wrong_node = w.receipt(keccak256("n"), "x", t);
    wrong_node.node = w.account(PAYER);
    for (signed, reason) in [
        (forged, "BadSignature"),
        (w.sign(&other_model), "ModelNotUsable"),
        (w.sign(&before_key), "KeyNotApproved"),
        (w.sign(&too_old), "TooOld"),
        (w.sign(&future), "Future"),
        (w.sign(&wrong_node), "BadFields"),
    ] {
        let (status, body) = post(&client, addr, &signed).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (422, Some(reason)),
            "{body}"
        );
    }
    let (status, _) = post(&client, addr, &Bytes::from_static(b"\x01\x02")).await;
    assert_eq!(status, 400);
    assert_eq!(store.waiting_summary().await.unwrap().0, 3);
    assert_eq!(get_receipt(&client, addr, q).await["status"], "Answered");

    // Batched, anchored with the bond, linked by BatchAnchored: served with a proof the contract accepts.
    w.settle_keeper(&running, &store).await;
    let served = get_receipt(&client, addr, q).await;
    assert_eq!(served["status"], "Anchored", "{served}");
    assert_eq!(on_chain_status(w, &served).await, batch_status::ANCHORED);
    let batch_id = served["batch"]["id"].as_u64().unwrap();
    let root: B256 = serde_json::from_value(served["batch"]["root"].clone()).unwrap();
    assert_eq!(
        key_status(&store, batcher::key(root)).await,
        Some(IntentStatus::Confirmed)
    );
    let anchored = IReceiptBatches::new(w.batches, &w.env.provider)
        .batch(U256::from(batch_id))
        .call()
        .await
        .unwrap();
    assert_eq!(
        (anchored._0, anchored._1, anchored._2),
        (root, 3, w.env.signer.address())
    );
    // Our data URI serves the leaves: they rebuild the root.
    let data = client
        .get(format!("http://{addr}/batches/{root}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let leaves: Vec<B256> = data.chunks(384).map(encoded_leaf_hash).collect();
    assert_eq!(StandardMerkleTree::new(&leaves).unwrap().root(), root);
    assert_eq!(once_each(&w.sent().await), BTreeMap::from([("anchor", 1)]));

    // After the window: finalized (bond back), then q and p proven by batch, then settled (proven at the anchoring
    // time, so the settlement window has passed too).
    w.env.advance(WINDOW + 1).await;
    w.settle_keeper(&running, &store).await;
    assert_eq!(w.batch_status(batch_id).await, batch_status::FINAL);
    assert_eq!(
        key_status(&store, finalizer::key(batch_id)).await,
        Some(IntentStatus::Confirmed)
    );
    let served = get_receipt(&client, addr, p).await;
    assert_eq!(served["status"], "Final");
    assert_eq!(on_chain_status(w, &served).await, batch_status::FINAL);
    for id in [q, p] {
        assert_eq!(w.request_status(id).await, request_status::SETTLED, "{id}");
        for prefix in [paid::PROVE_PREFIX, paid::SETTLE_PREFIX] {
            assert_eq!(
                key_status(&store, format!("{prefix}:{id}")).await,
                Some(IntentStatus::Confirmed)
            );
        }
    }
    assert_eq!(w.request_status(late).await, request_status::REQUESTED);

    // Past the deadline the unproven request is refunded.
    w.env.advance(DEADLINE).await;
    w.settle_keeper(&running, &store).await;
    assert_eq!(w.request_status(late).await, request_status::REFUNDED);
    let counts = once_each(&w.sent().await);
    assert_eq!(
        counts,
        BTreeMap::from([
            ("anchor", 1),
            ("finalize", 1),
            ("prove", 2),
            ("settle", 2),
            ("refund", 1)
        ])
    );

    // A restarted keeper on the same database sends nothing.
    drop(running);
    let again = w.start(store.clone()).await;
    w.settle_keeper(&again, &store).await;
    assert_eq!(once_each(&w.sent().await), counts);
    let text = again.metrics.render();
    assert!(
        text.contains("keeper_job_runs_total{job=\"receipt-batcher\",outcome=\"ok\"}"),
        "{text}"
    );

    // `verity-keeper status` shows the receipts: nothing waiting, our one batch final.
    let mut report = verity_keeper::status::StatusReport::collect(
        &store,
        "verity-keeper",
        None::<(&alloy::providers::DynProvider, alloy::primitives::Address)>,
        5,
        verity_keeper::lease::now_ms(),
    )
    .await
    .unwrap();
    report.read_receipts(&store, 5).await.unwrap();
    let r = report.receipts.clone().unwrap();
    assert_eq!(r.waiting, 0);
    assert!(r.batches.contains(&("Final", 1)), "{:?}", r.batches);
    assert_eq!(r.last.len(), 1);
    assert_eq!(r.last[0].1, "Final");
    let printed = report.to_string();
    assert!(printed.contains("receipts:"), "{printed}");
    assert!(printed.contains(" Final "), "{printed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_taken_in_anchored_finalized_proven_settled_refunded_once_sqlite() {
    let w = world().await;
    let store = w.env.store().await;
    receipts_lifecycle(&w, store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn receipts_taken_in_anchored_finalized_proven_settled_refunded_once_postgres() {
    let Some((options, schema)) = pg_schema().await else {
        return;
    };
    let w = world().await;
    let store = PgStore::connect_with(options, Duration::from_secs(10))
        .await
        .unwrap();
    receipts_lifecycle(&w, store.clone()).await;
    let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(store.pool())
        .await;
}

/// Anchors `leaves` as dev account [`OTHER`], publishing them as a file; returns the on-chain batch id.
pub(crate) async fn anchor_as_other(w: &World, name: &str, leaves: &[&Bytes]) -> u64 {
    let path = w.dir.path().join(name);
    let data: Vec<u8> = leaves.iter().flat_map(|l| l.to_vec()).collect();
    std::fs::write(&path, data).unwrap();
    anchor_as_other_at(w, format!("file://{}", path.display()), leaves).await
}

/// Anchors `leaves` as dev account [`OTHER`] naming `data_uri` as their data; returns the on-chain batch id.
pub(crate) async fn anchor_as_other_at(w: &World, data_uri: String, leaves: &[&Bytes]) -> u64 {
    let hashes: Vec<B256> = leaves.iter().map(|l| encoded_leaf_hash(l)).collect();
    let tree = StandardMerkleTree::new(&hashes).unwrap();
    let other = IReceiptBatches::new(w.batches, wallet(&w.env.node, OTHER));
    let bond = other.config().call().await.unwrap()._4;
    let r = other
        .anchorBatch(tree.root(), leaves.len() as u64, data_uri)
        .value(bond)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status(), "anchor as other");
    let e = r
        .inner
        .logs()
        .iter()
        .find_map(|l| {
            l.log_decode::<verity_abi::settlement::batches::BatchAnchored>()
                .ok()
        })
        .unwrap();
    e.inner.data.batchId.to()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_batches_of_others_are_challenged_and_our_voided_batch_is_reanchored() {
    let w = world().await;
    let store = w.env.store().await;
    let running = w.start(store.clone()).await;
    let client = reqwest::Client::new();
    let t = w.env.chain_now().await;
    let honest = w.sign(&w.receipt(keccak256("h"), "x", t));
    let forged = w.sign_with(
        &PrivateKeySigner::random(),
        &w.receipt(keccak256("forged"), "x", t),
    );

    // 1. Another keeper anchors a batch with one forged leaf among honest ones: the watcher fetches its data,
    //    finds the leaf invalid (confirmed on chain) and voids it; the bond is ours.
    let bad = anchor_as_other(&w, "bad.bin", &[&honest, &forged]).await;
    // A batch whose data does not build its root cannot be challenged: left alone.
    let liar = anchor_as_other(
        &w,
        "liar.bin",
        &[&w.sign(&w.receipt(keccak256("l"), "x", t))],
    )
    .await;
    std::fs::write(w.dir.path().join("liar.bin"), b"not the leaves").unwrap();
    w.settle_keeper(&running, &store).await;
    assert_eq!(w.batch_status(bad).await, batch_status::VOIDED);
    assert_eq!(w.batch_status(liar).await, batch_status::ANCHORED);
    assert_eq!(
        key_status(&store, watcher::key(bad)).await,
        Some(IntentStatus::Confirmed)
    );
    let batches = IReceiptBatches::new(w.batches, &w.env.provider);
    let bond = batches.config().call().await.unwrap()._4;
    assert_eq!(
        batches.credit(w.env.signer.address()).call().await.unwrap(),
        bond
    );

    // 2. Our batch of a, b, c is built (the anchor intent persisted, not yet sent) when another keeper anchors b's
    //    very receipt first. Ours lands later and is voided as a duplicate by a challenger; the keeper excludes b
    //    and re-anchors a and c in a new batch. b stays served from the other batch that includes it.
    let (a, b, c) = (keccak256("a"), keccak256("b"), keccak256("c"));
    let signed: Vec<Bytes> = [a, b, c]
        .iter()
        .map(|id| w.sign(&w.receipt(*id, "y", t)))
        .collect();
    for s in &signed {
        running.receipts.intake().submit(s).await.unwrap();
    }
    let jobs: Vec<Box<dyn verity_keeper::jobs::Job<DynProvider>>> = vec![
        Box::new(running.receipts.events()),
        Box::new(running.receipts.batcher()),
    ];
    let tx = w.env.manager(Failpoints::none()).await;
    let report = verity_keeper::jobs::run_jobs(&jobs, &tx, &running.metrics, false)
        .await
        .unwrap();
    assert_eq!(report.submitted, 1);
    let first = store.batches_in(BatchStatus::Built, true).await.unwrap()[0].clone();
    // An equivocating node signed another answer for b, and another keeper anchors it: a real duplicate (since
    // issue 14 finding 1 the same leaf in two batches is not a duplicate, and the earlier leaf must be valid).
    let b_other = w.sign(&w.receipt(b, "y2", t));
    let theirs = anchor_as_other(&w, "b.bin", &[&b_other]).await;
    w.settle_keeper(&running, &store).await;
    let ours = store.batch(first.id).await.unwrap().unwrap();
    assert_eq!(ours.status, BatchStatus::Anchored);
    let ours_id = ours.chain_batch.unwrap();
    assert!(ours_id > theirs);
    assert_eq!(
        store.batch(first.id).await.unwrap().unwrap().status,
        BatchStatus::Anchored
    );
    // The challenger proves b twice (ours is the later batch).
    let proof_in = |leaves: &[&Bytes], leaf: &Bytes| {
        let hashes: Vec<B256> = leaves.iter().map(|l| encoded_leaf_hash(l)).collect();
        StandardMerkleTree::new(&hashes)
            .unwrap()
            .proof(encoded_leaf_hash(leaf))
            .unwrap()
    };
    let challenger = IReceiptBatches::new(w.batches, wallet(&w.env.node, CHALLENGER));
    let r = challenger
        .challengeDuplicate(
            U256::from(theirs),
            b_other.clone(),
            proof_in(&[&b_other], &b_other),
            U256::from(ours_id),
            signed[1].clone(),
            proof_in(&[&signed[0], &signed[1], &signed[2]], &signed[1]),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status(), "challengeDuplicate");
    assert_eq!(w.batch_status(ours_id).await, batch_status::VOIDED);
    w.settle_keeper(&running, &store).await;
    let excluded = store.receipt(b).await.unwrap().unwrap();
    assert_eq!(
        (excluded.state, excluded.note),
        (ReceiptState::Excluded, Some(void_reason::DUPLICATE_REQUEST))
    );
    let served_a = get_receipt(&client, running.addr, a).await;
    assert_eq!(served_a["status"], "Anchored", "{served_a}");
    let again = served_a["batch"]["id"].as_u64().unwrap();
    assert!(again > ours_id, "re-anchored in a new batch");
    assert_eq!(served_a["batch"]["count"], 2, "a and c, not b");
    assert_eq!(on_chain_status(&w, &served_a).await, batch_status::ANCHORED);
    assert_eq!(
        get_receipt(&client, running.addr, c).await["batch"]["id"].as_u64(),
        Some(again)
    );
    // Our receipt for b is in no live batch (theirs holds the node's other answer): served as voided, unbatched.
    let served_b = get_receipt(&client, running.addr, b).await;
    assert_eq!(
        (
            served_b["status"].as_str(),
            served_b["batch"]["id"].as_u64()
        ),
        (Some("Voided"), None)
    );
    assert_eq!(w.batch_status(theirs).await, batch_status::ANCHORED);

    // 3. Another keeper anchors another answer for a, after our batch that includes a's: the watcher proves the
    //    request id in both batches and voids theirs (the later one).
    let copy = anchor_as_other(
        &w,
        "copy.bin",
        &[
            &w.sign(&w.receipt(a, "y3", t)),
            &w.sign(&w.receipt(keccak256("d"), "y", t)),
        ],
    )
    .await;
    w.settle_keeper(&running, &store).await;
    assert_eq!(w.batch_status(copy).await, batch_status::VOIDED);
    assert_eq!(
        key_status(&store, watcher::key(copy)).await,
        Some(IntentStatus::Confirmed)
    );
    assert_eq!(
        w.batch_status(again).await,
        batch_status::ANCHORED,
        "ours stands"
    );

    // Everything was sent once; a restart sends nothing more.
    let counts = once_each(&w.sent().await);
    assert_eq!(
        counts,
        BTreeMap::from([
            ("anchor", 2),
            ("challengeDuplicate", 1),
            ("challengeLeaf", 1)
        ])
    );
    drop(running);
    let restarted = w.start(store.clone()).await;
    w.settle_keeper(&restarted, &store).await;
    assert_eq!(once_each(&w.sent().await), counts);
}

/// A loopback HTTP server whose every answer is a 200 with a body that dribbles a byte every 50 ms for ever.
async fn serve_endless() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut req = vec![0u8; 4096];
                let _ = s.read(&mut req).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
                    .await;
                while s.write_all(&[0u8; 64]).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
    });
    addr
}

/// Issue 15 #2: another keeper's batch whose data URI never ends must not keep the watcher from challenging the
/// next forged batch within its window (the fetch is capped at count × 384 bytes, has a deadline and runs in its
/// own task).
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_batch_uri_does_not_keep_the_watcher_from_challenging_the_next_batch() {
    let w = world().await;
    let store = w.env.store().await;
    let running = w.start(store.clone()).await;
    let t = w.env.chain_now().await;
    let forged = |id: &str| {
        w.sign_with(
            &PrivateKeySigner::random(),
            &w.receipt(keccak256(id), "x", t),
        )
    };
    let endless = serve_endless().await;
    let stalled = anchor_as_other_at(&w, format!("http://{endless}/data"), &[&forged("f1")]).await;
    let honest = w.sign(&w.receipt(keccak256("h"), "x", t));
    let bad = anchor_as_other(&w, "bad.bin", &[&honest, &forged("f2")]).await;
    tokio::time::timeout(Duration::from_secs(90), w.settle_keeper(&running, &store))
        .await
        .expect("the watcher is not stalled by an endless data URI");
    assert_eq!(w.batch_status(bad).await, batch_status::VOIDED);
    assert_eq!(
        key_status(&store, watcher::key(bad)).await,
        Some(IntentStatus::Confirmed)
    );
    assert_eq!(w.batch_status(stalled).await, batch_status::ANCHORED);
}

/// Issue 15 #4: an answered request whose receipt sits in another keeper's batch, anchored before the deadline and
/// still in its challenge window, is not refunded (the honest node would be slashed); an answered request is
/// refunded only after its deadline plus the challenge window.
#[tokio::test(flavor = "multi_thread")]
async fn an_answered_request_is_not_refunded_while_a_live_batch_can_prove_it() {
    let w = world().await;
    let store = w.env.store().await;
    let running = w.start(store.clone()).await;
    let (held, bare) = (
        keccak256("held by another keeper"),
        keccak256("answered, no receipt"),
    );
    for id in [held, bare] {
        w.request(id).await;
        w.answer(id, "x").await;
    }
    let deadline = IInferenceSettlement::new(w.settlement, &w.env.provider)
        .getRequest(held)
        .call()
        .await
        .unwrap()
        ._8;
    // Another keeper anchors the node's receipt an hour before the deadline.
    w.env.mine_at(deadline - HOUR).await;
    let signed = w.sign(&w.receipt(held, "x", deadline - HOUR));
    let theirs = anchor_as_other(&w, "late.bin", &[&signed]).await;
    // Past the deadline, the batch in its window: no refund of either.
    w.env.mine_at(deadline + 1).await;
    w.settle_keeper(&running, &store).await;
    assert_eq!(w.batch_status(theirs).await, batch_status::ANCHORED);
    let sent = w.sent().await;
    assert!(!sent.contains_key("refund"), "refunded too early: {sent:?}");
    assert_eq!(w.request_status(held).await, request_status::ANSWERED);
    assert_eq!(w.request_status(bare).await, request_status::ANSWERED);
    // Past the deadline plus the window, the answered request nobody proved is refunded.
    w.env.mine_at(deadline + WINDOW + 2).await;
    w.settle_keeper(&running, &store).await;
    assert_eq!(w.request_status(bare).await, request_status::REFUNDED);
    assert_eq!(
        key_status(&store, format!("{}:{bare}", paid::REFUND_PREFIX)).await,
        Some(IntentStatus::Confirmed)
    );
}

/// A dispute left unresolved by governance past its timeout is settled for the node by the keeper (`settle`,
/// under `settle:<id>`) exactly once — and never before the dispute's expiry.
#[tokio::test(flavor = "multi_thread")]
async fn an_unresolved_dispute_is_settled_once_after_its_timeout() {
    let w = world().await;
    let store = w.env.store().await;
    let running = w.start(store.clone()).await;
    let id = B256::repeat_byte(0xd1);
    w.request(id).await;
    w.answer(id, "disputed output").await;
    let signed = w.sign(&w.receipt(id, "disputed output", w.env.chain_now().await));
    let node = IInferenceSettlement::new(w.settlement, wallet(&w.env.node, NODE));
    let r = node
        .proveWithReceipt(signed, Bytes::new())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status(), "proven by receipt");
    let payer = IInferenceSettlement::new(w.settlement, wallet(&w.env.node, PAYER));
    let c = payer.config().call().await.unwrap();
    let (bond, timeout) = (c._8, c._9);
    let r = payer
        .dispute(id)
        .value(bond)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status(), "disputed by the payer");

    // Past the challenge window but before the dispute's expiry: nothing to settle.
    w.env.advance(WINDOW + 60).await;
    w.settle_keeper(&running, &store).await;
    assert_eq!(w.request_status(id).await, request_status::DISPUTED);
    assert!(!w.sent().await.contains_key("settle"), "not settled early");

    w.env.advance(timeout).await;
    w.settle_keeper(&running, &store).await;
    assert_eq!(w.request_status(id).await, request_status::SETTLED);
    let sent = w.sent().await;
    assert_eq!(once_each(&sent).get("settle"), Some(&1), "{sent:?}");
    // Runs after the settlement send nothing more.
    w.settle_keeper(&running, &store).await;
    assert_eq!(once_each(&w.sent().await).get("settle"), Some(&1));
}

/// Governance lowers SettlementNodes' `maxReceiptAge` while the keeper runs: intake judges the next receipt by the
/// new value (re-read, not the one read at start) and refuses a receipt the contract would no longer accept.
#[tokio::test(flavor = "multi_thread")]
async fn intake_follows_a_changed_max_receipt_age_without_a_restart() {
    let w = world().await;
    let store = w.env.store().await;
    let running = w.start(store.clone()).await;
    let client = reqwest::Client::new();
    w.env.advance(4 * HOUR).await;
    let three_hours_ago = w.env.chain_now().await - 3 * HOUR;
    let (a, b) = (B256::repeat_byte(0xa1), B256::repeat_byte(0xa2));
    let (status, body) = post(
        &client,
        running.addr,
        &w.sign(&w.receipt(a, "early", three_hours_ago)),
    )
    .await;
    assert_eq!(status, 201, "accepted under the age read at start: {body}");

    let nodes_at = IInferenceSettlement::new(w.settlement, &w.env.provider)
        .config()
        .call()
        .await
        .unwrap()
        ._2;
    let gov = ISettlementNodes::new(nodes_at, wallet(&w.env.node, DEPLOYER));
    let c = gov.config().call().await.unwrap();
    assert!(c._3 > 3 * HOUR, "the default age admits the receipt");
    let r = gov
        .setParams(2 * HOUR, c._4, c._5)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status(), "setParams");

    let (status, body) = post(
        &client,
        running.addr,
        &w.sign(&w.receipt(b, "late", three_hours_ago)),
    )
    .await;
    assert_eq!(status, 422, "judged by the new maximum age: {body}");
    // What SettlementNodes' receiptFault answers for it now: older than the maximum age (BAD_TIME).
    assert_eq!(body["reason"], "BadTime", "{body}");
    assert!(store.receipt(b).await.unwrap().is_none());
}

/// Orphans the last `depth` blocks (devnode's `anvil_rollback`), drops their transactions from the pool (the
/// winning branch never saw them; `anvil_reorg` would re-include them), and mines `depth + 1` new blocks.
async fn orphan(w: &World, depth: u64) {
    use alloy::providers::Provider;
    let p = &w.env.provider;
    p.raw_request::<_, ()>("anvil_rollback".into(), (depth,))
        .await
        .unwrap();
    p.raw_request::<_, ()>("anvil_dropAllTransactions".into(), ())
        .await
        .unwrap();
    for _ in 0..=depth {
        let _: String = p.raw_request("evm_mine".into(), ()).await.unwrap();
    }
}

/// Issue 15 #8: a reorg orphans a `BatchVoided` the keeper already applied, then one of the keeper's own anchors.
/// The keeper's state follows the winning branch: the batch is live again with all its receipts (nothing is
/// re-anchored, no bond put at risk), and the orphaned anchor is sent again rather than left `Built` — each anchor
/// on chain exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_reorg_under_an_applied_void_and_an_anchor_leaves_the_keeper_on_the_winning_branch() {
    use alloy::providers::Provider;
    let w = world().await;
    let store = w.env.store().await;
    let running = w.start(store.clone()).await;
    let t = w.env.chain_now().await;
    let (a, b, c) = (keccak256("ra"), keccak256("rb"), keccak256("rc"));
    let signed: Vec<Bytes> = [a, b, c]
        .iter()
        .map(|id| w.sign(&w.receipt(*id, "y", t)))
        .collect();
    for s in &signed {
        running.receipts.intake().submit(s).await.unwrap();
    }
    // Our batch is built (anchor not sent yet) when another keeper anchors another answer for b first.
    let tx = w.env.manager(Failpoints::none()).await;
    let build: Vec<Box<dyn verity_keeper::jobs::Job<DynProvider>>> = vec![
        Box::new(running.receipts.events()),
        Box::new(running.receipts.batcher()),
    ];
    verity_keeper::jobs::run_jobs(&build, &tx, &running.metrics, false)
        .await
        .unwrap();
    let b_other = w.sign(&w.receipt(b, "y2", t));
    let theirs = anchor_as_other(&w, "rb.bin", &[&b_other]).await;
    w.settle_keeper(&running, &store).await;
    let local = store.batches_in(BatchStatus::Anchored, true).await.unwrap()[0].clone();
    let ours = local.chain_batch.unwrap();
    // A challenger voids ours (b twice); the keeper applies the void (events only: nothing re-batched yet).
    let leaves = |ls: &[&Bytes], l: &Bytes| {
        let hashes: Vec<B256> = ls.iter().map(|x| encoded_leaf_hash(x)).collect();
        StandardMerkleTree::new(&hashes)
            .unwrap()
            .proof(encoded_leaf_hash(l))
            .unwrap()
    };
    let challenger = IReceiptBatches::new(w.batches, wallet(&w.env.node, CHALLENGER));
    let r = challenger
        .challengeDuplicate(
            U256::from(theirs),
            b_other.clone(),
            leaves(&[&b_other], &b_other),
            U256::from(ours),
            signed[1].clone(),
            leaves(&[&signed[0], &signed[1], &signed[2]], &signed[1]),
        )
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r.status(), "challengeDuplicate");
    let events: Vec<Box<dyn verity_keeper::jobs::Job<DynProvider>>> =
        vec![Box::new(running.receipts.events())];
    verity_keeper::jobs::run_jobs(&events, &tx, &running.metrics, false)
        .await
        .unwrap();
    assert_eq!(
        store.batch(local.id).await.unwrap().unwrap().status,
        BatchStatus::Voided
    );
    assert_eq!(
        store.receipt(a).await.unwrap().unwrap().state,
        ReceiptState::Answered,
        "released by the void"
    );

    // The void's block is orphaned: on the winning branch our batch is live.
    let head = w.env.provider.get_block_number().await.unwrap();
    orphan(&w, head + 1 - r.block_number.unwrap()).await;
    assert_eq!(w.batch_status(ours).await, batch_status::ANCHORED);
    w.settle_keeper(&running, &store).await;
    let back = store.batch(local.id).await.unwrap().unwrap();
    assert_eq!(
        (back.status, back.void_reason, back.chain_batch),
        (BatchStatus::Anchored, None, Some(ours))
    );
    for id in [a, b, c] {
        let got = store.receipt(id).await.unwrap().unwrap();
        assert_eq!(
            (got.state, got.batch_id),
            (ReceiptState::Batched, Some(local.id)),
            "{id}: back in the live batch"
        );
    }
    assert_eq!(
        once_each(&w.sent().await).get("anchor"),
        Some(&1),
        "nothing re-anchored"
    );

    // Our next anchor is orphaned: the keeper sends it again and links it.
    let (d, e) = (keccak256("rd"), keccak256("re"));
    for id in [d, e] {
        running
            .receipts
            .intake()
            .submit(&w.sign(&w.receipt(id, "z", w.env.chain_now().await)))
            .await
            .unwrap();
    }
    w.settle_keeper(&running, &store).await;
    let second = store.receipt(d).await.unwrap().unwrap().batch_id.unwrap();
    let anchored = store.batch(second).await.unwrap().unwrap();
    assert_eq!(anchored.status, BatchStatus::Anchored);
    let anchor_intent = store
        .intent_by_key(&batcher::key(anchored.root))
        .await
        .unwrap()
        .unwrap();
    let at = anchor_intent.block_number.unwrap();
    let head = w.env.provider.get_block_number().await.unwrap();
    orphan(&w, head + 1 - at).await;
    w.settle_keeper(&running, &store).await;
    let relinked = store.batch(second).await.unwrap().unwrap();
    assert_eq!(relinked.status, BatchStatus::Anchored, "{relinked:?}");
    let chain_id = relinked.chain_batch.unwrap();
    assert_eq!(w.batch_status(chain_id).await, batch_status::ANCHORED);
    assert_eq!(
        once_each(&w.sent().await).get("anchor"),
        Some(&2),
        "the orphaned anchor on chain once"
    );
}
