//! Parity with anvil (Foundry 1.7.1, installed from the npm registry by `script/test`): the same signed
//! transactions and RPC scenarios on both nodes give the same receipt status, gasUsed, error texts and log
//! filtering results. Foundry's `cast` is driven against devnode too.
//!
//! anvil is found through `ANVIL_BIN`, else `<repo>/.tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil`
//! (cast likewise through `CAST_BIN`); when absent the test prints "SKIPPED: anvil not installed" and returns.
//!
//! Known, documented divergences: anvil answers a duplicate with "transaction already imported" (geth and
//! devnode: "already known"), capitalises "Insufficient funds …", and uses code -32003 for pool errors
//! (geth and devnode: -32000). Texts are compared case-insensitively.

#[path = "rpc_support/mod.rs"]
mod support;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, U256};
use devnode::rpc::{start, NodeConfig};
use serde_json::{json, Value};
use support::*;

const CHAIN_ID: u64 = 412_346;

fn tool(env: &str, package: &str, name: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(env) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    [
        root.join(format!(
            ".tools/node_modules/@foundry-rs/{package}/bin/{name}"
        )),
        root.join(format!(".tools/bin/{name}")),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

struct Anvil {
    child: Child,
    url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn spawn_anvil(bin: &PathBuf) -> Anvil {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args([
            "--port",
            &port.to_string(),
            "--chain-id",
            &CHAIN_ID.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("anvil runs");
    let anvil = Anvil {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let client = alloy::transports::http::reqwest::Client::new();
        let body = json!({"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}).to_string();
        let ok = client
            .post(&anvil.url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .is_ok();
        if ok {
            return anvil;
        }
        assert!(Instant::now() < deadline, "anvil did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One scenario step's observable outcome on one node.
#[derive(Debug, PartialEq)]
enum Outcome {
    Receipt {
        status: bool,
        gas_used: u64,
        logs: usize,
    },
    Error(String),
}

async fn send(url: &str, tx: Bytes) -> Outcome {
    let resp = rpc(url, "eth_sendRawTransaction", json!([tx])).await;
    if !resp["error"].is_null() {
        return Outcome::Error(error_message(&resp).to_lowercase());
    }
    let hash = resp["result"].clone();
    for _ in 0..100 {
        let r = rpc(url, "eth_getTransactionReceipt", json!([hash])).await;
        if !r["result"].is_null() {
            let r = &r["result"];
            let gas =
                u64::from_str_radix(r["gasUsed"].as_str().unwrap().trim_start_matches("0x"), 16)
                    .unwrap();
            return Outcome::Receipt {
                status: r["status"] == "0x1",
                gas_used: gas,
                logs: r["logs"].as_array().map_or(0, |l| l.len()),
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no receipt for {hash} on {url}");
}

fn normalise_logs(v: &Value) -> Vec<(Value, Value, Value, Value, Value)> {
    v["result"]
        .as_array()
        .unwrap_or_else(|| panic!("getLogs failed: {v}"))
        .iter()
        .map(|l| {
            (
                l["address"].clone(),
                l["topics"].clone(),
                l["data"].clone(),
                l["blockNumber"].clone(),
                l["logIndex"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn same_scenarios_same_results_as_anvil() {
    let Some(bin) = tool("ANVIL_BIN", "anvil-linux-amd64", "anvil") else {
        skip("anvil", "not installed");
        return;
    };
    let anvil = spawn_anvil(&bin).await;
    let node = start(NodeConfig::default()).await.unwrap();
    let urls = [node.url().to_string(), anvil.url.clone()];

    let s = signer(KEY0);
    let to = Address::repeat_byte(0x42);
    let logger = s.address().create(3);
    let mut steps: Vec<(&str, Bytes)> = Vec::new();
    steps.push((
        "legacy transfer",
        raw(&sign_legacy(&s, &TxParams::transfer(CHAIN_ID, 0, to))),
    ));
    steps.push((
        "1559 transfer",
        raw(&sign_1559(&s, &TxParams::transfer(CHAIN_ID, 1, to))),
    ));
    let mut p = TxParams::transfer(CHAIN_ID, 2, to);
    p.gas_limit = 100_000;
    p.input = Bytes::from([vec![0u8; 40], vec![0xab; 60]].concat());
    steps.push(("calldata transfer", raw(&sign_1559(&s, &p))));
    let mut p = TxParams::transfer(CHAIN_ID, 3, to);
    p.to = None;
    p.value = U256::ZERO;
    p.gas_limit = 300_000;
    p.input = initcode(&logger_runtime());
    steps.push(("deploy logger", raw(&sign_1559(&s, &p))));
    for (i, (t0, t1)) in [(1u64, 10u64), (2, 20), (1, 30)].into_iter().enumerate() {
        let mut p = TxParams::transfer(CHAIN_ID, 4 + i as u64, logger);
        p.value = U256::ZERO;
        p.gas_limit = 100_000;
        p.input = log_call(U256::from(t0), U256::from(t1), U256::from(i));
        steps.push(("emit log", raw(&sign_legacy(&s, &p))));
    }
    let mut p = TxParams::transfer(CHAIN_ID, 7, logger);
    p.value = U256::ZERO;
    p.gas_limit = 100_000;
    steps.push(("reverting call", raw(&sign_1559(&s, &p))));
    // Errors.
    steps.push((
        "nonce too low",
        raw(&sign_1559(&s, &TxParams::transfer(CHAIN_ID, 0, to))),
    ));
    steps.push((
        "wrong chain id",
        raw(&sign_1559(&s, &TxParams::transfer(1, 8, to))),
    ));
    let mut p = TxParams::transfer(CHAIN_ID, 8, to);
    p.value = U256::from(10).pow(U256::from(30));
    steps.push(("insufficient funds", raw(&sign_1559(&s, &p))));
    let mut p = TxParams::transfer(CHAIN_ID, 8, to);
    p.max_fee = 1;
    p.tip = 1;
    steps.push(("fee cap below base fee", raw(&sign_1559(&s, &p))));
    let mut p = TxParams::transfer(CHAIN_ID, 8, to);
    p.gas_limit = 20_000;
    steps.push(("intrinsic gas too low", raw(&sign_1559(&s, &p))));

    println!("{:<24} | {:<44} | {:<44}", "step", "devnode", "anvil");
    for (name, tx) in &steps {
        let ours = send(&urls[0], tx.clone()).await;
        let theirs = send(&urls[1], tx.clone()).await;
        println!(
            "{name:<24} | {:<44} | {:<44}",
            format!("{ours:?}"),
            format!("{theirs:?}")
        );
        assert_eq!(ours, theirs, "step {name}");
    }

    // Pool errors with automine off.
    let s1 = signer(KEY1);
    let mut pool_steps: Vec<(String, String)> = Vec::new();
    for url in &urls {
        rpc(url, "evm_setAutomine", json!([false])).await;
        let tx = raw(&sign_1559(&s1, &TxParams::transfer(CHAIN_ID, 0, to)));
        assert!(rpc(url, "eth_sendRawTransaction", json!([tx])).await["error"].is_null());
        let dup =
            error_message(&rpc(url, "eth_sendRawTransaction", json!([tx])).await).to_lowercase();
        let mut p = TxParams::transfer(CHAIN_ID, 0, to);
        p.value = U256::from(2);
        let under = rpc(
            url,
            "eth_sendRawTransaction",
            json!([raw(&sign_1559(&s1, &p))]),
        )
        .await;
        pool_steps.push((dup, error_message(&under).to_lowercase()));
        rpc(url, "evm_setAutomine", json!([true])).await;
    }
    assert_eq!(pool_steps[0].0, "already known");
    assert_eq!(
        pool_steps[1].0, "transaction already imported",
        "anvil's text for a duplicate"
    );
    assert_eq!(pool_steps[0].1, pool_steps[1].1);
    assert_eq!(pool_steps[0].1, "replacement transaction underpriced");

    // Log filtering.
    let t = |n: u64| format!("0x{:064x}", n);
    let filters = [
        json!({"fromBlock": "0x0"}),
        json!({"fromBlock": "0x0", "address": logger}),
        json!({"fromBlock": "0x0", "address": [logger, to]}),
        json!({"fromBlock": "0x0", "topics": [t(1)]}),
        json!({"fromBlock": "0x0", "topics": [[t(1), t(2)]]}),
        json!({"fromBlock": "0x0", "topics": [null, t(20)]}),
        json!({"fromBlock": "0x6", "toBlock": "0x7"}),
        json!({"fromBlock": "0x0", "address": to}),
    ];
    for f in filters {
        let ours = normalise_logs(&rpc(&urls[0], "eth_getLogs", json!([f])).await);
        let theirs = normalise_logs(&rpc(&urls[1], "eth_getLogs", json!([f])).await);
        assert_eq!(ours, theirs, "filter {f}");
    }
    let all = normalise_logs(&rpc(&urls[0], "eth_getLogs", json!([{"fromBlock": "0x0"}])).await);
    assert_eq!(all.len(), 3);

    // eth_call revert: same code and data.
    let mut reverts = Vec::new();
    for url in &urls {
        let resp = rpc(url, "eth_call", json!([{"to": logger}, "latest"])).await;
        reverts.push((resp["error"]["code"].clone(), resp["error"]["data"].clone()));
    }
    assert_eq!(reverts[0], reverts[1]);
    assert_eq!(reverts[0].0, 3);

    // A filter by block hash: each node's own hash of block 5 (hashes differ between the nodes).
    let mut by_hash = Vec::new();
    for url in &urls {
        let block = rpc(url, "eth_getBlockByNumber", json!(["0x5", false])).await;
        let f = json!({"blockHash": block["result"]["hash"]});
        by_hash.push(normalise_logs(&rpc(url, "eth_getLogs", json!([f])).await));
    }
    assert_eq!(by_hash[0], by_hash[1]);
    assert_eq!(by_hash[0].len(), 1);

    // eth_call with a code override: the same revert on both.
    let mut overridden = Vec::new();
    let probe = Address::repeat_byte(0x77);
    let code = format!("0x{}", alloy::hex::encode(logger_runtime()));
    for url in &urls {
        let resp = rpc(
            url,
            "eth_call",
            json!([{"to": probe}, "latest", {probe.to_string(): {"code": code}}]),
        )
        .await;
        overridden.push((resp["error"]["code"].clone(), resp["error"]["data"].clone()));
    }
    assert_eq!(overridden[0], overridden[1]);
    assert_eq!(overridden[0].0, 3);

    // estimateGas: same value for a logging call and for a plain transfer.
    let mut estimates = Vec::new();
    for url in &urls {
        let log = json!({"from": s.address(), "to": logger, "data": log_call(U256::from(5), U256::from(6), U256::from(7))});
        let transfer = json!({"from": s.address(), "to": to, "value": "0x1"});
        let a = rpc(url, "eth_estimateGas", json!([log])).await["result"].clone();
        let b = rpc(url, "eth_estimateGas", json!([transfer])).await["result"].clone();
        println!("estimateGas on {url}: log call {a}, transfer {b}");
        estimates.push((a, b));
    }
    assert_eq!(estimates[0], estimates[1]);
}

#[tokio::test]
async fn cast_works_against_devnode() {
    let Some(cast) = tool("CAST_BIN", "cast-linux-amd64", "cast") else {
        skip("cast", "not installed");
        return;
    };
    let node = start(NodeConfig::default()).await.unwrap();
    let url = node.url().to_string();
    let run = move |args: Vec<String>| {
        let cast = cast.clone();
        let url = url.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let out = Command::new(&cast)
                    .args(&args)
                    .args(["--rpc-url", &url])
                    .output()
                    .expect("cast runs");
                assert!(
                    out.status.success(),
                    "cast {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(run(vec!["chain-id".into()]).await, "412346");
    let to = Address::repeat_byte(0x24).to_string();
    run(vec![
        "send".into(),
        "--private-key".into(),
        KEY0.into(),
        to.clone(),
        "--value".into(),
        "7".into(),
    ])
    .await;
    let from1 = signer(KEY1).address().to_string();
    run(vec![
        "send".into(),
        "--unlocked".into(),
        "--from".into(),
        from1,
        to.clone(),
        "--value".into(),
        "3".into(),
    ])
    .await;
    assert_eq!(run(vec!["balance".into(), to]).await, "10");
    assert_eq!(run(vec!["block-number".into()]).await, "2");
    let legacy_to = Address::repeat_byte(0x25).to_string();
    run(vec![
        "send".into(),
        "--legacy".into(),
        "--private-key".into(),
        KEY2.into(),
        legacy_to.clone(),
        "--value".into(),
        "1".into(),
    ])
    .await;
    assert_eq!(run(vec!["balance".into(), legacy_to]).await, "1");
}
