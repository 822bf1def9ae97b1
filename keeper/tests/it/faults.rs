//! The keeper against a faulty node: a fault-injecting JSON-RPC proxy on loopback sits between the keeper and
//! devnode and answers 500s, hangs past the client timeout, goes down (connection refused), or forwards a
//! transaction and loses the answer. The keeper keeps running (passes fail, it reports not ready), and once the
//! node is healthy again every due epoch is finalized exactly once — nothing lost, nothing sent twice.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alloy::providers::DynProvider;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use verity_keeper::failpoint::Failpoints;
use verity_keeper::http::Metrics;
use verity_keeper::jobs::EpochFinalizer;
use verity_keeper::keeper::{Keeper, LoopConfig};
use verity_keeper::lease::Leadership;
use verity_keeper::outbox::TxManager;
use verity_keeper::store::SqliteStore;

use crate::support::{verity_env, Env};

/// What the proxy does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Forward and answer.
    Pass,
    /// Answer `500 Internal Server Error` without forwarding.
    Error500,
    /// Never answer (the client's timeout fires).
    Hang,
    /// Forward `eth_sendRawTransaction` (it reaches the chain) but answer 500; everything else passes.
    LoseSendResponse,
    /// Answer `eth_getTransactionReceipt` and `eth_getBlockReceipts` with `null` (a node lagging on receipts);
    /// everything else passes, so nonces, blocks and broadcasts show the chain ahead of the receipts.
    StaleReceipts,
    /// Answer `eth_getBlockReceipts` with JSON-RPC `-32601 method not found` (a node without it); everything else
    /// passes.
    NoBlockReceipts,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    fault: Arc<Mutex<Fault>>,
    /// Transactions forwarded whose answer was lost.
    lost: Arc<std::sync::atomic::AtomicUsize>,
    /// Requests seen, by JSON-RPC method.
    calls: Arc<Mutex<std::collections::BTreeMap<String, usize>>>,
    client: alloy::transports::http::reqwest::Client,
}

async fn handle(State(p): State<Proxy>, body: Bytes) -> Response {
    let fault = *p.fault.lock().unwrap();
    let is_send = std::str::from_utf8(&body).is_ok_and(|b| b.contains("eth_sendRawTransaction"));
    let request = serde_json::from_slice::<serde_json::Value>(&body).ok();
    if let Some(method) = request.as_ref().and_then(|r| r["method"].as_str()) {
        *p.calls
            .lock()
            .unwrap()
            .entry(method.to_string())
            .or_insert(0) += 1;
    }
    let answer = |result: serde_json::Value| {
        let id = request
            .as_ref()
            .map_or(serde_json::Value::Null, |r| r["id"].clone());
        let mut body = serde_json::json!({"jsonrpc": "2.0", "id": id});
        match result {
            serde_json::Value::Object(error) => body["error"] = serde_json::Value::Object(error),
            other => body["result"] = other,
        }
        (
            StatusCode::OK,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response()
    };
    let method = request
        .as_ref()
        .and_then(|r| r["method"].as_str())
        .unwrap_or_default()
        .to_string();
    match fault {
        Fault::NoBlockReceipts if method == "eth_getBlockReceipts" => {
            return answer(
                serde_json::json!({"code": -32601, "message": "the method eth_getBlockReceipts does not exist/is not available"}),
            );
        }
        Fault::StaleReceipts if method == "eth_getBlockReceipts" => {
            return answer(serde_json::Value::Null);
        }
        Fault::NoBlockReceipts => {}
        Fault::Error500 => return (StatusCode::INTERNAL_SERVER_ERROR, "injected").into_response(),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
        }
        Fault::StaleReceipts => {
            if let Ok(req) = serde_json::from_slice::<serde_json::Value>(&body) {
                if req["method"] == "eth_getTransactionReceipt" {
                    let answer =
                        serde_json::json!({"jsonrpc": "2.0", "id": req["id"], "result": null});
                    return (
                        StatusCode::OK,
                        [("content-type", "application/json")],
                        answer.to_string(),
                    )
                        .into_response();
                }
            }
        }
        Fault::Pass | Fault::LoseSendResponse => {}
    }
    let forwarded = p
        .client
        .post(&p.upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    let Ok(res) = forwarded else {
        return (StatusCode::BAD_GATEWAY, "upstream down").into_response();
    };
    if fault == Fault::LoseSendResponse && is_send {
        p.lost.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected after forwarding",
        )
            .into_response();
    }
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let bytes = res.bytes().await.unwrap_or_default();
    (status, [("content-type", "application/json")], bytes).into_response()
}

/// The proxy's server on a fixed loopback address; dropping it (or [`ProxyServer::down`]) closes the port.
struct ProxyServer {
    addr: SocketAddr,
    proxy: Proxy,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ProxyServer {
    async fn start(upstream: &str) -> Self {
        let proxy = Proxy {
            upstream: upstream.to_owned(),
            fault: Arc::new(Mutex::new(Fault::Pass)),
            lost: Arc::default(),
            calls: Arc::default(),
            client: alloy::transports::http::reqwest::Client::new(),
        };
        let mut server = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            proxy,
            task: None,
        };
        server.up().await;
        server
    }

    /// (Re)opens the port: the same address as before once it has one.
    async fn up(&mut self) {
        let listener = tokio::net::TcpListener::bind(self.addr).await.unwrap();
        self.addr = listener.local_addr().unwrap();
        let app = Router::new()
            .fallback(handle)
            .with_state(self.proxy.clone());
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    /// Closes the port: connections are refused.
    async fn down(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }

    fn set(&self, fault: Fault) {
        *self.proxy.fault.lock().unwrap() = fault;
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests of `method` the proxy saw.
    fn calls(&self, method: &str) -> usize {
        self.proxy
            .calls
            .lock()
            .unwrap()
            .get(method)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The epoch finalizer's keeper on the proxy, with the production HTTP client (a 500 ms timeout here).
fn keeper(
    env: &Env,
    store: SqliteStore,
    rpc: DynProvider,
    gauge: alloy::primitives::Address,
) -> (Keeper<SqliteStore, DynProvider>, Metrics) {
    let mut tx_config = env.tx_config();
    tx_config.rebroadcast_after = Duration::from_millis(50);
    let tx = TxManager::new(
        store.clone(),
        rpc,
        env.signer.clone(),
        tx_config,
        Failpoints::none(),
    );
    let leadership = Leadership::new(
        store.clone(),
        "verity-keeper",
        "faults",
        Duration::from_secs(60),
    );
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

/// Passes while the fault holds: none may stop the keeper, and none may finalize anything.
async fn passes_under(k: &mut Keeper<SqliteStore, DynProvider>, metrics: &Metrics, n: usize) {
    for _ in 0..n {
        let pass = tokio::time::timeout(Duration::from_secs(20), k.run_once())
            .await
            .expect("a pass ends even when the node hangs (client timeout)");
        assert!(
            pass.is_ok(),
            "a node fault is transient, not fatal: {pass:?}"
        );
        assert!(!metrics.is_ready(), "not ready while the node fails");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn node_faults_lose_nothing_and_send_nothing_twice() {
    let (env, deployment) = verity_env().await;
    let gauge = deployment.contracts["gauge"].address;
    let mut proxy = ProxyServer::start(env.node.url()).await;
    let rpc =
        verity_keeper::chain::http_provider(&proxy.url(), Duration::from_millis(500)).unwrap();
    let store = env.store().await;
    let (mut k, metrics) = keeper(&env, store, rpc, gauge);

    // Three epochs fall due.
    env.advance(3 * verity_abi::escrow::WEEK + 60).await;
    let due = EpochFinalizer::new(gauge)
        .observe(&env.provider)
        .await
        .unwrap();
    assert!(due.is_due());

    proxy.set(Fault::Error500);
    passes_under(&mut k, &metrics, 3).await;
    proxy.set(Fault::Hang);
    passes_under(&mut k, &metrics, 2).await;
    proxy.down().await;
    passes_under(&mut k, &metrics, 3).await;
    proxy.up().await;
    assert_eq!(
        crate_finalize_txs(&env, 0..3).await,
        [0, 0, 0],
        "nothing reached the chain through a failing node"
    );

    // The node takes each transaction but the answer is lost: the keeper must find out from receipts, not
    // send again.
    proxy.set(Fault::LoseSendResponse);
    for _ in 0..6 {
        let _ = tokio::time::timeout(Duration::from_secs(20), k.run_once()).await;
    }
    let lost = proxy.proxy.lost.load(std::sync::atomic::Ordering::SeqCst);
    assert!(lost > 0, "the keeper sent through the lossy node");
    assert!(
        crate_finalize_txs(&env, 0..3).await.iter().sum::<usize>() > 0,
        "and those transactions reached the chain"
    );
    proxy.set(Fault::Pass);
    tokio::time::timeout(Duration::from_secs(60), k.run(std::future::pending()))
        .await
        .expect("keeper goes idle")
        .expect("keeper runs");
    let after = EpochFinalizer::new(gauge)
        .observe(&env.provider)
        .await
        .unwrap();
    assert!(!after.is_due(), "every due epoch finalized");
    let sent = crate_finalize_txs(&env, 0..after.next).await;
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|n| *n == 1),
        "each finalizeEpoch exactly once: {sent:?}"
    );
    assert!(metrics.is_ready(), "ready again once the node answers");
}

/// How many `finalizeEpoch(e)` transactions the keeper's account has on chain, for `e` in `epochs`.
async fn crate_finalize_txs(env: &Env, epochs: std::ops::Range<u64>) -> Vec<usize> {
    let sent = env.sent_by_calldata().await;
    epochs
        .map(|e| sent.get(&EpochFinalizer::calldata(e)).copied().unwrap_or(0))
        .collect()
}

/// Issue 15 #6 (RPC failover): the keeper reads through two endpoints (`--rpc-url` twice: one down, one a node
/// that lags on receipts but is ahead on nonces). A transaction that was mined answers "nonce too low" on
/// rebroadcast and shows no receipt; the keeper must not take that for a lost nonce (re-queue and execute the call
/// a second time): it finds its own attempt in the block that used the nonce and waits for the receipt.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_lagging_on_receipts_never_makes_a_mined_intent_look_lost() {
    use alloy::primitives::{Bytes, U256};
    use verity_keeper::failpoint::Failpoint;
    use verity_keeper::outbox::OutboxError;
    use verity_keeper::store::{IntentStatus, OutboxStore};
    let env = crate::support::env().await;
    let calldata = Bytes::from_static(b"lagging-receipts");
    // Signed and broadcast (mined at once by devnode), then the process stops before recording the send.
    let first = env
        .manager(Failpoints::of([Failpoint::AfterBroadcast]))
        .await;
    first
        .submit("lag", crate::support::TARGET, calldata.clone(), U256::ZERO)
        .await
        .unwrap();
    assert!(matches!(
        first.run_once().await,
        Err(OutboxError::Failpoint(Failpoint::AfterBroadcast))
    ));
    assert_eq!(env.chain_nonce().await, 1, "mined");

    let proxy = ProxyServer::start(env.node.url()).await;
    proxy.set(Fault::StaleReceipts);
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let rpc =
        verity_keeper::chain::failover_provider(&[down, proxy.url()], Duration::from_millis(2_000))
            .unwrap();
    let manager = TxManager::new(
        env.store().await,
        rpc,
        env.signer.clone(),
        env.tx_config(),
        Failpoints::none(),
    );
    for _ in 0..4 {
        manager.run_once().await.unwrap();
    }
    let intent = manager.store().intent_by_key("lag").await.unwrap().unwrap();
    assert_eq!(intent.nonce, Some(0), "not re-queued: {intent:?}");
    assert!(!intent.status.is_final(), "{intent:?}");
    assert_eq!(
        env.sent_by_calldata().await.get(&calldata),
        Some(&1),
        "the call is on chain once, not re-sent at a new nonce"
    );
    // The node catches up on receipts: the intent is confirmed by its one transaction.
    proxy.set(Fault::Pass);
    assert!(manager.drain(10, Duration::from_millis(10)).await.unwrap());
    let intent = manager.store().intent_by_key("lag").await.unwrap().unwrap();
    assert_eq!(intent.status, IntentStatus::Confirmed);
    assert_eq!(env.sent_by_calldata().await.get(&calldata), Some(&1));
    assert_eq!(env.chain_nonce().await, 1);
}

/// Issue 16 (outbox pipeline): open intents are confirmed by reading each new block's receipts once
/// (`eth_getBlockReceipts`), not one `eth_getTransactionReceipt` per attempt per pass; a node without
/// `eth_getBlockReceipts` is asked once, then every receipt is looked up per transaction — nothing lost, nothing
/// sent twice either way.
#[tokio::test(flavor = "multi_thread")]
async fn intents_confirm_by_block_receipts_and_fall_back_to_lookups_without_them() {
    use alloy::primitives::{Bytes, U256};
    use alloy::providers::{Provider, ProviderBuilder};
    use verity_keeper::store::{IntentStatus, OutboxStore};
    let env = crate::support::env().await;
    let proxy = ProxyServer::start(env.node.url()).await;
    let rpc = ProviderBuilder::new()
        .connect_http(proxy.url().parse().unwrap())
        .erased();
    let manager = |store: SqliteStore| {
        TxManager::new(
            store,
            rpc.clone(),
            env.signer.clone(),
            env.tx_config(),
            Failpoints::none(),
        )
    };
    let data = |i: usize| Bytes::from(format!("by-block-{i}").into_bytes());
    let submit_all = |m: &TxManager<SqliteStore, DynProvider>, range: std::ops::Range<usize>| {
        let m = m.clone();
        async move {
            for i in range {
                m.submit(
                    &format!("b{i}"),
                    crate::support::TARGET,
                    data(i),
                    U256::ZERO,
                )
                .await
                .unwrap();
            }
        }
    };
    let by_block = manager(env.store().await);
    submit_all(&by_block, 0..8).await;
    assert!(by_block.drain(20, Duration::from_millis(10)).await.unwrap());
    assert!(proxy.calls("eth_getBlockReceipts") >= 1);
    assert_eq!(
        proxy.calls("eth_getTransactionReceipt"),
        0,
        "no per-transaction lookup while blocks are read"
    );

    proxy.set(Fault::NoBlockReceipts);
    let fallback = manager(env.store().await);
    submit_all(&fallback, 8..12).await;
    assert!(fallback.drain(20, Duration::from_millis(10)).await.unwrap());
    let asked = proxy.calls("eth_getBlockReceipts");
    let lookups = proxy.calls("eth_getTransactionReceipt");
    // 8 for the fresh process's re-check of the confirmed intents, then at least one per new intent.
    assert!(
        lookups >= 12,
        "receipts looked up per transaction: {lookups}"
    );
    submit_all(&fallback, 12..16).await;
    assert!(fallback.drain(20, Duration::from_millis(10)).await.unwrap());
    assert_eq!(
        proxy.calls("eth_getBlockReceipts"),
        asked,
        "a node without eth_getBlockReceipts is not asked again"
    );
    let store = env.store().await;
    for i in 0..16 {
        let intent = store
            .intent_by_key(&format!("b{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(intent.status, IntentStatus::Confirmed, "{intent:?}");
    }
    let sent = env.sent_by_calldata().await;
    for i in 0..16 {
        assert_eq!(sent.get(&data(i)), Some(&1), "intent {i} exactly once");
    }
    assert_eq!(
        rpc.get_transaction_count(env.signer.address())
            .await
            .unwrap(),
        16
    );
}
