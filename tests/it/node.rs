//! Real inference end to end on devnode: a `VZK1` model is submitted to the registry with a `file://` URI and the
//! keeper service (the `verity-keeper` binary) attests and registers it; `verity-node` (in-process, its own
//! SQLite store) registers in SettlementNodes with stake and key proof; the client (`verity infer`'s library)
//! discovers it, pays a request and routes it; the output equals `verity-zk`'s native inference; the keeper
//! anchors the receipt, proves the request by its final batch and settles it; a retried request id runs
//! inference once and pays once; a second node with `--fault drop-ack=1` loses its reply after storing the answer,
//! and the client's retry under the same id gets the stored answer (inference ran once); a mode-ZK request is
//! proven by the node's Groth16 proof of the same inference.
//! Refusals — unregistered, not yet registered, yanked, unsupported runtime, content hash mismatch, malformed
//! input — are each a clear error with nothing signed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use clap::Parser;
use verity::infer::{rank, Client, Network, Stage};
use verity_abi::registry::{Format, Relation, Role, VersionSubmitted};
use verity_abi::rpc::{
    IGroth16Verifier, IInferenceSettlement, IModelRegistry, IReceiptBatches, ISettlementNodes,
};
use verity_abi::settlement::{mode, request_status, Answered, Requested, Settled};
use verity_node::api::InferRequest;
use verity_node::service::random_id;
use verity_zk::evm::vk_bytes;
use verity_zk::field::word_of;
use verity_zk::model::Model;
use verity_zk::rand::{rngs::StdRng, SeedableRng};

use crate::support::{skip, tx, Harness, ScratchDir};

const GOV: usize = 0;
const NODE: usize = 1;
const PAYER: usize = 2;
const OWNER: usize = 3;
const KEEPER: usize = 8;
const FLAKY: usize = 4;

/// How long the keeper may take for one step.
const PATIENCE: Duration = Duration::from_secs(120);

/// The keeper binary: `VERITY_KEEPER_BIN`, else built by cargo as `verity dev` does.
fn keeper_bin() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("VERITY_KEEPER_BIN") {
        return Some(PathBuf::from(bin));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "-q",
            "-p",
            "verity-keeper",
            "--bin",
            "verity-keeper",
        ])
        .status()
        .is_ok_and(|s| s.success());
    let bin = root.join("target/debug/verity-keeper");
    (ok && bin.is_file()).then_some(bin)
}

/// The keeper service as a child process, killed on drop.
struct Keeper {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Keeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Keeper {
    fn spawn(bin: &Path, h: &Harness, dir: &Path) -> Keeper {
        let listen = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let log = dir.join("keeper.log");
        let out = std::fs::File::create(&log).unwrap();
        let start_block = h
            .deployment
            .contracts
            .values()
            .map(|c| c.deploy_block)
            .min()
            .unwrap_or(0);
        let child = Command::new(bin)
            .arg("--rpc-url")
            .arg(h.node.url())
            .arg("--database-url")
            .arg(format!(
                "sqlite://{}?mode=rwc",
                dir.join("keeper.db").display()
            ))
            .arg("--registry")
            .arg(h.address("registry").to_string())
            .arg("--settlement")
            .arg(h.address("settlement").to_string())
            .arg("--start-block")
            .arg(start_block.to_string())
            .args([
                "--batch-max-wait-secs",
                "1",
                "--receipt-batch-age-ms",
                "300",
            ])
            .arg("--listen")
            .arg(listen.to_string())
            .args([
                "--poll-ms",
                "200",
                "--allow-file-uris",
                "--allow-private-fetch",
            ])
            .env(
                "VERITY_KEEPER_KEY",
                h.accounts[KEEPER].signer.to_bytes().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("the keeper starts");
        Keeper {
            child,
            url: format!("http://{listen}"),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// Polls `done` (mining an empty block now and then: devnode's clock stands still without transactions) until
/// it holds or the keeper's patience runs out.
macro_rules! wait_for {
    ($h:expr, $keeper:expr, $what:expr, $done:expr) => {{
        let deadline = Instant::now() + PATIENCE;
        let mut polls = 0u32;
        loop {
            if $done {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not happen within {PATIENCE:?}; keeper log:\n{}",
                $what,
                $keeper.log()
            );
            polls += 1;
            if polls % 3 == 0 {
                $h.advance(1).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }};
}

/// Submits a version as OWNER (the keeper attests and registers it); returns its id.
async fn submit(
    h: &Harness,
    name: &str,
    content: B256,
    size: u64,
    uri: String,
    format: Format,
) -> U256 {
    let registry = IModelRegistry::new(h.address("registry"), h.wallet(OWNER));
    let fee = verity_script::deploy::verity::RegistryParams::default().min_fee;
    let receipt = tx!(registry
        .submit(
            keccak256(name),
            1,
            vec![],
            Relation::Original.code(),
            content,
            size,
            Bytes::from(uri.into_bytes()),
            format.code(),
            B256::repeat_byte(0x11),
            B256::repeat_byte(0x22),
            B256::repeat_byte(0x33),
            B256::repeat_byte(0x44),
            Bytes::from_static(b"ipfs://card"),
            vec![],
        )
        .value(fee));
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| VersionSubmitted::decode_log_data(l.data()).ok())
        .expect("VersionSubmitted")
        .id
}

/// Writes `bytes` as a weights file and submits them; returns the version and the file.
async fn publish(
    h: &Harness,
    dir: &Path,
    name: &str,
    bytes: &[u8],
    format: Format,
) -> (U256, PathBuf) {
    let path = dir.join(format!("{name}.bin"));
    std::fs::write(&path, bytes).unwrap();
    let id = submit(
        h,
        name,
        keccak256(bytes),
        bytes.len() as u64,
        format!("file://{}", path.display()),
        format,
    )
    .await;
    (id, path)
}

/// The value of counter `name` in a Prometheus text exposition (0 when absent).
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

async fn node_metrics(url: &str) -> String {
    reqwest_get(&format!("{url}/metrics")).await
}

async fn reqwest_get(url: &str) -> String {
    alloy::transports::http::reqwest::get(url)
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Events `E` of `contract` whose first topic after the signature is `id`.
async fn events_for<E: SolEvent>(h: &Harness, contract: Address, id: B256) -> usize {
    h.wallet(GOV)
        .get_logs(
            &Filter::new()
                .address(contract)
                .event_signature(E::SIGNATURE_HASH)
                .topic1(id)
                .from_block(0),
        )
        .await
        .unwrap()
        .len()
}

/// The configuration of a node for dev account `account`, storing under `dir`, with `extra` flags.
fn node_config(
    h: &Harness,
    account: usize,
    signing_key: &PrivateKeySigner,
    keeper_url: &str,
    dir: &Path,
    extra: &[String],
) -> verity_node::config::Config {
    let mut args = vec![
        "verity-node".to_string(),
        format!("--rpc-url={}", h.node.url()),
        format!("--settlement={}", h.address("settlement")),
        format!("--node-key={}", h.accounts[account].signer.to_bytes()),
        format!("--signing-key={}", signing_key.to_bytes()),
        format!("--keeper-url={keeper_url}"),
        "--listen=127.0.0.1:0".into(),
        "--region=52.52,13.405".into(),
        format!(
            "--database-url=sqlite://{}?mode=rwc",
            dir.join("node.db").display()
        ),
        format!("--cache-dir={}", dir.join("weights").display()),
        "--allow-file-uris".into(),
        "--retry-ms=200".into(),
    ];
    args.extend(extra.iter().cloned());
    std::fs::create_dir_all(dir).unwrap();
    verity_node::config::Config::try_parse_from(args).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_published_vzk1_model_runs_on_the_node_and_its_requests_are_proven_and_settled_once() {
    let Some(bin) = keeper_bin() else {
        return skip(
            "node end to end",
            "the verity-keeper binary cannot be built (set VERITY_KEEPER_BIN)",
        );
    };
    let h = Harness::start().await;
    let dir = ScratchDir::new("node");
    let gov = h.wallet(GOV);
    // The keeper service attests storage, registers versions and anchors receipt batches.
    let registry_gov = IModelRegistry::new(h.address("registry"), gov.clone());
    for role in [Role::Attester, Role::Keeper] {
        tx!(registry_gov.setRole(h.account(KEEPER), role.code(), true));
    }
    let batches = IReceiptBatches::new(h.address("settlement-batches"), gov.clone());
    tx!(batches.setKeeper(h.account(KEEPER), true));
    let keeper = Keeper::spawn(&bin, &h, &dir.0);

    // Published through the registry: the keeper registers the good ones.
    let model = Model::example(4, 8, 3, 11);
    let (version, _) = publish(&h, &dir.0, "mlp", &model.to_bytes(), Format::VerityZk).await;
    let yanked_model = Model::example(4, 8, 3, 12);
    let (yanked, _) = publish(
        &h,
        &dir.0,
        "yanked",
        &yanked_model.to_bytes(),
        Format::VerityZk,
    )
    .await;
    let swapped_model = Model::example(4, 8, 3, 13);
    let (swapped, swapped_file) = publish(
        &h,
        &dir.0,
        "swapped",
        &swapped_model.to_bytes(),
        Format::VerityZk,
    )
    .await;
    let (onnx, _) = publish(&h, &dir.0, "onnx", b"an onnx graph", Format::Onnx).await;
    let pending = submit(
        &h,
        "pending",
        keccak256(b"never served"),
        12,
        "file:///nonexistent/verity-weights".into(),
        Format::VerityZk,
    )
    .await;
    let registry = IModelRegistry::new(h.address("registry"), gov.clone());
    for v in [version, yanked, swapped, onnx] {
        wait_for!(
            h,
            keeper,
            format!("registration of version {v}"),
            registry.isUsable(v).call().await.unwrap()
        );
    }
    let as_owner = IModelRegistry::new(h.address("registry"), h.wallet(OWNER));
    tx!(as_owner.setYanked(yanked, true));
    // After registration the URI serves other bytes: the node must notice.
    std::fs::write(&swapped_file, Model::example(4, 8, 3, 14).to_bytes()).unwrap();

    // Mode ZK: the model owner registers the Groth16 key of its shape; the node holds the proving key.
    let keys = verity_zk::snark::setup(model.shape(), &mut StdRng::seed_from_u64(5)).unwrap();
    let pk_path = dir.0.join("mlp.pk");
    std::fs::write(&pk_path, keys.proving.to_bytes().unwrap()).unwrap();
    let groth16 = IGroth16Verifier::new(h.address("groth16"), h.wallet(OWNER));
    tx!(groth16.registerKey(
        version,
        word_of(model.commitment()),
        Bytes::from(vk_bytes(&keys.verifying).unwrap().to_vec())
    ));
    let settlement_gov = IInferenceSettlement::new(h.address("settlement"), gov.clone());
    tx!(settlement_gov.setVerifier(version, h.address("groth16")));

    // The node registers itself (stake + key proof); governance approves its key.
    let signing_key = PrivateKeySigner::random();
    let config = node_config(
        &h,
        NODE,
        &signing_key,
        &keeper.url,
        &dir.0.join("node"),
        &[format!("--zk-proving-key={}", pk_path.display())],
    );
    let running = verity_node::run::start(&config)
        .await
        .expect("the node starts");
    let nodes = ISettlementNodes::new(h.address("settlement-nodes"), gov.clone());
    assert_eq!(
        nodes.node(h.account(NODE)).call().await.unwrap()._0,
        signing_key.address()
    );
    tx!(nodes.approveKey(signing_key.address(), keccak256("simulated enclave")));
    assert!(nodes.nodeActive(h.account(NODE)).call().await.unwrap());
    let url = running.url();

    // Refusals: each a clear error, nothing signed.
    let http = alloy::transports::http::reqwest::Client::new();
    let refused = |version: U256, input: Vec<i64>| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let res = http
                .post(format!("{url}/infer"))
                .json(&InferRequest {
                    model_version: version,
                    input,
                    request_id: Some(random_id()),
                })
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body: serde_json::Value = res.json().await.unwrap();
            (
                status,
                body["error"].as_str().unwrap().to_string(),
                body["detail"].to_string(),
            )
        }
    };
    for (v, input, code) in [
        (U256::from(999), vec![1, 2, 3, 4], "unregistered"),
        (pending, vec![1, 2, 3, 4], "not_yet_usable"),
        (yanked, vec![1, 2, 3, 4], "yanked"),
        (onnx, vec![1, 2, 3, 4], "unsupported_runtime"),
        (swapped, vec![1, 2, 3, 4], "hash_mismatch"),
        (version, vec![1, 2, 3], "malformed_input"),
        (version, vec![1, 2, 300, 4], "malformed_input"),
    ] {
        let (status, error, detail) = refused(v, input).await;
        assert_eq!((status, error.as_str()), (422, code), "{detail}");
    }
    let text = node_metrics(&url).await;
    assert_eq!(metric(&text, "verity_node_receipts_signed_total"), 0);
    assert_eq!(metric(&text, "verity_node_inferences_total"), 0);
    assert!(running.node.store().pending(10).await.unwrap().is_empty());

    // The client discovers the node (chain + declaration + keeper), pays and routes a mode-TEE request.
    let mut client = Client::new(Network {
        rpc_url: h.node.url().to_string(),
        settlement: h.address("settlement"),
        keeper_url: Some(keeper.url.clone()),
        endpoints: vec![url.clone()],
    })
    .await
    .unwrap();
    let ranked = rank(client.discover().await.unwrap(), None);
    assert_eq!(ranked.len(), 1);
    assert_eq!(ranked[0].candidate.info.node, h.account(NODE));
    let payer = h.accounts[PAYER].signer.clone();
    let fee = U256::from(1_000_000_000_000_000u64);
    let input = vec![3i64, -7, 100, -128];
    let native = model.infer(&[3, -7, 100, -128]).unwrap();
    let tee_id = random_id();
    let request = InferRequest {
        model_version: version,
        input: input.clone(),
        request_id: Some(tee_id),
    };
    client
        .pay(&payer, tee_id, h.account(NODE), &request, fee, mode::TEE)
        .await
        .unwrap();
    let first = client.route(&ranked, &request).await.unwrap();
    assert_eq!(
        first.answer.output, native,
        "the node's output is verity-zk's native inference"
    );
    assert!(first.answer.paid && !first.answer.replayed);
    // A retry (same id; the client pays again only if no request exists) replays the stored answer.
    client
        .pay(&payer, tee_id, h.account(NODE), &request, fee, mode::TEE)
        .await
        .unwrap();
    let again = client.route(&ranked, &request).await.unwrap();
    assert!(again.answer.replayed);
    assert_eq!(again.answer.signed, first.answer.signed);
    let text = node_metrics(&url).await;
    assert_eq!(metric(&text, "verity_node_inferences_total"), 1, "{text}");

    // A flaky node loses every fresh reply after storing the answer (`--fault drop-ack=1`): the client retries with
    // the same id and gets the stored answer; inference ran once there.
    let flaky_key = PrivateKeySigner::random();
    let flaky = verity_node::run::start(&node_config(
        &h,
        FLAKY,
        &flaky_key,
        &keeper.url,
        &dir.0.join("flaky"),
        &["--fault=drop-ack=1".to_string()],
    ))
    .await
    .expect("the flaky node starts");
    tx!(nodes.approveKey(flaky_key.address(), keccak256("simulated enclave")));
    let mut via_flaky = Client::new(Network {
        rpc_url: h.node.url().to_string(),
        settlement: h.address("settlement"),
        keeper_url: Some(keeper.url.clone()),
        endpoints: vec![flaky.url()],
    })
    .await
    .unwrap();
    let flaky_ranked = rank(via_flaky.discover().await.unwrap(), None);
    let unpaid = InferRequest {
        request_id: Some(random_id()),
        ..request.clone()
    };
    let routed = via_flaky.route(&flaky_ranked, &unpaid).await.unwrap();
    assert_eq!((routed.attempts, routed.answer.replayed), (2, true));
    assert_eq!(routed.answer.output, native);
    assert!(!routed.answer.paid);
    assert_eq!(via_flaky.observed[&h.account(FLAKY)].retries, 1);
    let text = node_metrics(&flaky.url()).await;
    assert_eq!(metric(&text, "verity_node_inferences_total"), 1, "{text}");
    assert_eq!(
        metric(&text, "verity_node_faults_total{kind=\"drop_ack\"}"),
        1,
        "{text}"
    );
    flaky.stop().await;

    // A mode-ZK request: the node answers and proves it with a Groth16 proof of the same inference.
    let zk_id = random_id();
    let zk_request = InferRequest {
        request_id: Some(zk_id),
        ..request.clone()
    };
    client
        .pay(&payer, zk_id, h.account(NODE), &zk_request, fee, mode::ZK)
        .await
        .unwrap();
    let zk = client.route(&ranked, &zk_request).await.unwrap();
    assert_eq!(zk.answer.output, native);
    wait_for!(
        h,
        keeper,
        "the node's mode-ZK proof",
        client.stage(zk_id, true).await.unwrap() == Stage::Proven
    );

    // The keeper anchors the TEE receipt; past the challenge window the batch is final and the request proven by
    // it; past the window after the proof both requests are settled.
    wait_for!(
        h,
        keeper,
        "anchoring",
        client.stage(tee_id, true).await.unwrap() >= Stage::Anchored
    );
    let window = IInferenceSettlement::new(h.address("settlement"), gov.clone())
        .config()
        .call()
        .await
        .unwrap()
        ._5;
    h.advance(window + 60).await;
    wait_for!(
        h,
        keeper,
        "proof by batch",
        client.stage(tee_id, true).await.unwrap() >= Stage::Proven
    );
    h.advance(window + 60).await;
    wait_for!(
        h,
        keeper,
        "settlement",
        client.stage(tee_id, true).await.unwrap() == Stage::Settled
            && client.stage(zk_id, true).await.unwrap() == Stage::Settled
    );
    let settlement = h.address("settlement");
    for id in [tee_id, zk_id] {
        assert_eq!(
            client.request_status(id).await.unwrap(),
            request_status::SETTLED
        );
        assert_eq!(
            events_for::<Requested>(&h, settlement, id).await,
            1,
            "paid once"
        );
        assert_eq!(
            events_for::<Answered>(&h, settlement, id).await,
            1,
            "answered once"
        );
        assert_eq!(
            events_for::<Settled>(&h, settlement, id).await,
            1,
            "settled once"
        );
    }
    let text = node_metrics(&url).await;
    assert_eq!(metric(&text, "verity_node_inferences_total"), 2);
    assert_eq!(metric(&text, "verity_node_receipts_signed_total"), 2);
    assert_eq!(metric(&text, "verity_node_chain_answers_total"), 2);
    assert_eq!(metric(&text, "verity_node_zk_proofs_total"), 1);
    assert_eq!(metric(&text, "verity_node_receipts_posted_total"), 2);
    running.stop().await;
}
