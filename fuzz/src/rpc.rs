//! Malformed JSON-RPC requests against a devnode started in-process, over HTTP (the surface wallets use):
//! broken JSON, wrong types and arities, huge numbers, hostile hex, invalid RLP and signatures in
//! `eth_sendRawTransaction`, deep nesting, oversized bodies and batches.
//!
//! Asserted for every request: an HTTP answer within [`TIMEOUT`] whose body is a JSON-RPC response object
//! (or an array of them, or — for a body over the limit — HTTP 413); never a dropped connection, a 5xx, a hang.
//! After the run: the chain's mutex is not poisoned and `eth_blockNumber` still answers.

use std::time::{Duration, Instant};

use alloy::transports::http::reqwest;
use devnode::rpc::{server::MAX_BATCH_LEN, SharedChain};
use serde_json::{json, Value};

use crate::Rng;

/// Longest any one answer may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Every method devnode serves (and a few it does not).
pub const METHODS: &[&str] = &[
    "eth_chainId",
    "eth_blockNumber",
    "eth_getBalance",
    "eth_getTransactionCount",
    "eth_getCode",
    "eth_getStorageAt",
    "eth_gasPrice",
    "eth_maxPriorityFeePerGas",
    "eth_feeHistory",
    "eth_estimateGas",
    "eth_call",
    "eth_sendRawTransaction",
    "eth_sendTransaction",
    "eth_getTransactionReceipt",
    "eth_getTransactionByHash",
    "eth_getBlockByNumber",
    "eth_getBlockByHash",
    "eth_getBlockReceipts",
    "eth_getLogs",
    "eth_accounts",
    "eth_syncing",
    "eth_coinbase",
    "eth_getBlockTransactionCountByNumber",
    "eth_getBlockTransactionCountByHash",
    "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByBlockHashAndIndex",
    "eth_newFilter",
    "eth_newBlockFilter",
    "eth_getFilterChanges",
    "eth_getFilterLogs",
    "eth_uninstallFilter",
    "net_version",
    "net_listening",
    "web3_clientVersion",
    "evm_increaseTime",
    "evm_setNextBlockTimestamp",
    "evm_mine",
    "evm_snapshot",
    "evm_revert",
    "evm_setAutomine",
    "evm_setIntervalMining",
    "anvil_dropTransaction",
    "anvil_dropAllTransactions",
    "anvil_reorg",
    "anvil_rollback",
    "anvil_setBalance",
    "anvil_setNonce",
    "anvil_setCode",
    "anvil_setStorageAt",
    "anvil_mine",
    "anvil_getAutomine",
    "anvil_setAutomine",
    "anvil_setIntervalMining",
    "anvil_increaseTime",
    "anvil_setNextBlockTimestamp",
    "eth_subscribe",
    "debug_traceTransaction",
    "",
];

/// Counts of one run.
#[derive(Debug, Clone, Default)]
pub struct RpcReport {
    /// Requests sent.
    pub requests: u64,
    /// Answered with a JSON-RPC error (or errors only, for a batch).
    pub errors: u64,
    /// Answered with a result (the input happened to be valid).
    pub results: u64,
    /// HTTP 413 (body over the limit).
    pub too_large: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Everything that must not happen: `(request excerpt, what)`.
    pub findings: Vec<String>,
}

fn hostile_string(rng: &mut Rng) -> String {
    let hex = |rng: &mut Rng, n: usize| alloy::hex::encode(rng.bytes(n));
    match rng.below(14) {
        0 => "0x".into(),
        1 => "0xzz".into(),
        2 => format!("0x{}", "f".repeat(1 + rng.below(200) as usize)),
        3 => "latest".into(),
        4 => "pending".into(),
        5 => format!("0x{}", hex(rng, 20)),
        6 => format!("0x{}", hex(rng, 32)),
        7 => "0x123".into(),
        8 => {
            let n = rng.below(300) as usize;
            format!("0x{}", hex(rng, n))
        }
        9 => "-1".into(),
        10 => "18446744073709551616".into(),
        11 => "0x8000000000000000".into(),
        12 => "\u{0}\u{ffff}é".into(),
        _ => format!("0x{}", "0".repeat(rng.below(80) as usize)),
    }
}

fn hostile_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth > 3 { 7 } else { 10 }) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => json!(*rng.pick(&[0i64, -1, 1, i64::MAX, i64::MIN])),
        3 => json!(rng.next_u64()),
        4 => json!(1.5e300),
        5 | 6 => Value::String(hostile_string(rng)),
        7 => Value::Array(
            (0..rng.below(4))
                .map(|_| hostile_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "from",
                "to",
                "data",
                "input",
                "value",
                "gas",
                "gasPrice",
                "nonce",
                "blocks",
                "timestamp",
                "fromBlock",
                "toBlock",
                "address",
                "topics",
                "blockHash",
                "maxFeePerGas",
                "chainId",
                "type",
                "accessList",
            ];
            let mut object = serde_json::Map::new();
            for _ in 0..rng.below(5) {
                let key = rng.pick(&keys).to_string();
                object.insert(key, hostile_value(rng, depth + 1));
            }
            Value::Object(object)
        }
    }
}

/// A signed-looking raw transaction: random bytes, a type byte + random RLP, or a bit-flipped real one.
fn hostile_raw(rng: &mut Rng, real: &[u8]) -> String {
    let bytes = match rng.below(4) {
        0 => {
            let n = rng.below(200) as usize;
            rng.bytes(n)
        }
        1 => {
            let mut b = vec![*rng.pick(&[0x01u8, 0x02, 0x03, 0x04, 0x05, 0x7f, 0xc0, 0xf8, 0xff])];
            b.extend({
                let n = rng.below(150) as usize;
                rng.bytes(n)
            });
            b
        }
        2 => {
            // An RLP list header claiming a huge length.
            let mut b = vec![0x02, 0xfb, 0xff, 0xff, 0xff, 0xff];
            b.extend({
                let n = rng.below(40) as usize;
                rng.bytes(n)
            });
            b
        }
        _ => {
            let mut b = real.to_vec();
            if !b.is_empty() {
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(b.len() as u64) as usize;
                    b[at] ^= 1 << rng.below(8);
                }
                if rng.chance(30) {
                    b.truncate(rng.below(b.len() as u64) as usize);
                }
            }
            b
        }
    };
    format!("0x{}", alloy::hex::encode(bytes))
}

fn call(rng: &mut Rng, id: u64, real_tx: &[u8]) -> Value {
    let method = if rng.chance(95) {
        rng.pick(METHODS).to_string()
    } else {
        hostile_string(rng)
    };
    let params = if method == "eth_sendRawTransaction" && rng.chance(80) {
        json!([hostile_raw(rng, real_tx)])
    } else if rng.chance(85) {
        Value::Array((0..rng.below(5)).map(|_| hostile_value(rng, 0)).collect())
    } else {
        hostile_value(rng, 0)
    };
    match rng.below(20) {
        0 => json!({"jsonrpc": "1.0", "id": id, "method": method, "params": params}),
        1 => json!({"id": id, "method": method, "params": params}),
        2 => json!({"jsonrpc": "2.0", "id": {"x": id}, "method": method, "params": params}),
        3 => json!({"jsonrpc": "2.0", "id": id, "method": 7, "params": params}),
        _ => json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
    }
}

/// One request body (bytes: broken JSON is not a `Value`).
pub fn body(rng: &mut Rng, id: u64, real_tx: &[u8]) -> Vec<u8> {
    match rng.below(100) {
        0..8 => {
            let n = rng.below(120) as usize;
            rng.bytes(n)
        }
        8..18 => {
            let full = call(rng, id, real_tx).to_string().into_bytes();
            let cut = rng.below(full.len() as u64) as usize;
            full[..cut].to_vec()
        }
        18..88 => call(rng, id, real_tx).to_string().into_bytes(),
        88..97 => {
            let len = *rng.pick(&[0u64, 1, 2, 5, 20]);
            Value::Array((0..len).map(|i| call(rng, id + i, real_tx)).collect())
                .to_string()
                .into_bytes()
        }
        _ => {
            let depth = 1 + rng.below(2_000) as usize;
            let mut s =
                String::from("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":");
            s += &"[".repeat(depth);
            s += &"]".repeat(depth);
            s += "}";
            s.into_bytes()
        }
    }
}

fn is_response(v: &Value) -> Option<bool> {
    let o = v.as_object()?;
    if o.get("jsonrpc")? != "2.0" {
        return None;
    }
    match (o.get("result"), o.get("error")) {
        (Some(_), None) => Some(true),
        (None, Some(e)) if e.get("code").is_some_and(Value::is_i64) => Some(false),
        _ => None,
    }
}

/// Sends one body and classifies the answer; `Err` is a finding.
async fn send(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Result<Option<bool>, String> {
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = sent.status();
    let text = sent.text().await.map_err(|e| format!("body: {e}"))?;
    if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
        return Ok(None);
    }
    if status.is_server_error() {
        return Err(format!("HTTP {status}: {text}"));
    }
    if text == "null" {
        // jsonrpsee 0.26 answers a request whose `id` is neither a string, a number nor null (e.g. an object)
        // with the bare body `null` instead of an Invalid Request error: a protocol deviation of the library,
        // not a crash; counted as an error answer and noted in fuzz/README.md.
        return Ok(Some(false));
    }
    if text.is_empty() {
        // A notification (no usable id) gets no answer, as JSON-RPC 2.0 says.
        return Ok(Some(false));
    }
    let value: Value =
        serde_json::from_str(&text).map_err(|_| format!("HTTP {status}, not JSON: {text:.200}"))?;
    let answer = match &value {
        Value::Array(items) => items
            .iter()
            .map(is_response)
            .try_fold(false, |any, r| r.map(|ok| any || ok)),
        v => is_response(v),
    };
    answer
        .map(Some)
        .ok_or_else(|| format!("HTTP {status}, not a JSON-RPC response: {text:.200}"))
}

/// Sends `requests` malformed requests to `url` (the node whose chain is `chain`), plus one body over the size
/// limit and one batch over the length limit.
pub async fn run(
    url: &str,
    chain: &SharedChain,
    real_tx: &[u8],
    seed: u64,
    requests: u64,
) -> RpcReport {
    let client = reqwest::Client::new();
    let mut rng = Rng::new(seed);
    let mut report = RpcReport::default();
    let started = Instant::now();
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    // Over the batch limit: one error, no call runs.
    let batch: Vec<Value> = (0..=u64::from(MAX_BATCH_LEN))
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId"}))
        .collect();
    bodies.push(Value::Array(batch).to_string().into_bytes());
    if requests >= 10_000 {
        // Over the body limit (64 MiB): HTTP 413.
        let mut big =
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":[\"".to_vec();
        big.extend(std::iter::repeat_n(b'a', 65 * 1024 * 1024));
        big.extend(b"\"]}");
        bodies.push(big);
    }
    for i in 0..requests {
        let body = if let Some(b) = bodies.pop() {
            b
        } else {
            body(&mut rng, i, real_tx)
        };
        let excerpt = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        report.requests += 1;
        match send(&client, url, body).await {
            Ok(Some(true)) => report.results += 1,
            Ok(Some(false)) => report.errors += 1,
            Ok(None) => report.too_large += 1,
            Err(what) => {
                let wedged = what.starts_with("no answer");
                if report.findings.len() < 50 {
                    report.findings.push(format!("{excerpt} → {what}"));
                }
                if wedged {
                    // A hung or dead node answers nothing more; the first such input is the finding.
                    break;
                }
            }
        }
    }
    if chain.is_poisoned() {
        report
            .findings
            .push("the chain's mutex is poisoned (a handler panicked)".into());
    }
    let alive = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []});
    if !matches!(
        send(&client, url, alive.to_string().into_bytes()).await,
        Ok(Some(true))
    ) {
        report
            .findings
            .push("eth_blockNumber does not answer after the run".into());
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// A valid signed transaction (a 1-wei transfer from dev account 1) to mutate.
pub fn real_tx(chain: &mut devnode::chain::Chain) -> Vec<u8> {
    use alloy::eips::Encodable2718;
    let accounts = chain.dev_accounts().to_vec();
    let request = alloy::rpc::types::TransactionRequest::default()
        .from(accounts[1].address)
        .to(accounts[2].address)
        .value(alloy::primitives::U256::from(1u8))
        .gas_limit(21_000);
    chain
        .sign_request(request)
        .map(|tx| tx.encoded_2718())
        .unwrap_or_default()
}
