//! Shared helpers for devnode's chain and RPC tests: hand-assembled contracts, signing, raw JSON-RPC.
#![allow(dead_code, unreachable_pub, missing_docs)]

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy::eips::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Revert, SolError};

/// Anvil's first dev key.
pub const KEY0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Anvil's second dev key.
pub const KEY1: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
/// Anvil's third dev key.
pub const KEY2: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";

pub fn signer(key: &str) -> PrivateKeySigner {
    key.parse().expect("valid key")
}

/// Runtime of the test contract:
/// - empty calldata: reverts with `Error("boom")`;
/// - calldata shorter than 96 bytes: reverts with the calldata itself (a custom error);
/// - otherwise: `LOG2(data = cd[64..96], topic0 = cd[0..32], topic1 = cd[32..64])`.
pub fn logger_runtime() -> Vec<u8> {
    let mut code = vec![
        0x36, 0x15, 0x60, 0x29, 0x57, // CALLDATASIZE ISZERO PUSH1 boom JUMPI
        0x60, 0x60, 0x36, 0x10, 0x60, 0x1e,
        0x57, // PUSH1 96 CALLDATASIZE LT PUSH1 short JUMPI
        0x60, 0x40, 0x35, 0x60, 0x00, 0x52, // mem[0..32] = cd[64..96]
        0x60, 0x20, 0x35, 0x60, 0x00, 0x35, // topic1, topic0
        0x60, 0x20, 0x60, 0x00, 0xa2, 0x00, // LOG2(0, 32, t0, t1) STOP
        0x5b, 0x36, 0x60, 0x00, 0x60, 0x00, 0x37, // short: CALLDATACOPY(0, 0, size)
        0x36, 0x60, 0x00, 0xfd, // REVERT(0, size)
        0x5b, 0x60, 0x64, 0x60, 0x36, 0x60, 0x00, 0x39, // boom: CODECOPY(0, blob, 100)
        0x60, 0x64, 0x60, 0x00, 0xfd, // REVERT(0, 100)
    ];
    assert_eq!(code.len(), 0x36);
    code.extend(Revert::from("boom").abi_encode());
    code
}

/// Runtime that stores `calldata[0..32]` into slot 0.
pub fn store_runtime() -> Vec<u8> {
    vec![0x60, 0x00, 0x35, 0x60, 0x00, 0x55, 0x00]
}

/// CREATE initcode returning `runtime`.
pub fn initcode(runtime: &[u8]) -> Bytes {
    assert!(runtime.len() < 256);
    let mut code = vec![
        0x60,
        runtime.len() as u8,
        0x80,
        0x60,
        0x0b,
        0x60,
        0x00,
        0x39,
        0x60,
        0x00,
        0xf3,
    ];
    code.extend_from_slice(runtime);
    code.into()
}

/// Calldata making the logger emit one log.
pub fn log_call(topic0: U256, topic1: U256, data: U256) -> Bytes {
    let mut cd = Vec::with_capacity(96);
    cd.extend(topic0.to_be_bytes::<32>());
    cd.extend(topic1.to_be_bytes::<32>());
    cd.extend(data.to_be_bytes::<32>());
    cd.into()
}

/// Parameters of a hand-built transaction.
#[derive(Clone, Debug)]
pub struct TxParams {
    pub chain_id: u64,
    pub nonce: u64,
    pub to: Option<Address>,
    pub value: U256,
    pub gas_limit: u64,
    pub max_fee: u128,
    pub tip: u128,
    pub input: Bytes,
}

impl TxParams {
    pub fn transfer(chain_id: u64, nonce: u64, to: Address) -> Self {
        Self {
            chain_id,
            nonce,
            to: Some(to),
            value: U256::from(1),
            gas_limit: 21_000,
            max_fee: 2_000_000_000,
            tip: 1_000_000_000,
            input: Bytes::new(),
        }
    }
}

fn kind(to: Option<Address>) -> TxKind {
    to.map_or(TxKind::Create, TxKind::Call)
}

/// A signed EIP-1559 transaction.
pub fn sign_1559(signer: &PrivateKeySigner, p: &TxParams) -> TxEnvelope {
    let mut tx = TxEip1559 {
        chain_id: p.chain_id,
        nonce: p.nonce,
        gas_limit: p.gas_limit,
        max_fee_per_gas: p.max_fee,
        max_priority_fee_per_gas: p.tip,
        to: kind(p.to),
        value: p.value,
        input: p.input.clone(),
        access_list: Default::default(),
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("sign");
    tx.into_signed(sig).into()
}

/// A signed legacy (EIP-155) transaction; `max_fee` is the gas price.
pub fn sign_legacy(signer: &PrivateKeySigner, p: &TxParams) -> TxEnvelope {
    let mut tx = TxLegacy {
        chain_id: Some(p.chain_id),
        nonce: p.nonce,
        gas_price: p.max_fee,
        gas_limit: p.gas_limit,
        to: kind(p.to),
        value: p.value,
        input: p.input.clone(),
    };
    let sig = signer.sign_transaction_sync(&mut tx).expect("sign");
    tx.into_signed(sig).into()
}

pub fn raw(tx: &TxEnvelope) -> Bytes {
    tx.encoded_2718().into()
}

/// POSTs `body` to `url` and returns the JSON answer.
pub async fn post(url: &str, body: &str) -> serde_json::Value {
    let client = alloy::transports::http::reqwest::Client::new();
    let text = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("http")
        .text()
        .await
        .expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// One JSON-RPC call; returns the whole response object.
pub async fn rpc(url: &str, method: &str, params: serde_json::Value) -> serde_json::Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    post(url, &body.to_string()).await
}

/// The error message of a JSON-RPC response (panics on success).
pub fn error_message(resp: &serde_json::Value) -> String {
    resp["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {resp}"))
        .to_string()
}

/// Skips a check whose tool is missing: locally `SKIPPED <what>: <why>`; with `CI=true` a failure instead.
pub fn skip(what: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what}: {why} (CI=true: a missing tool is a failure, not a skip)");
    }
    println!("SKIPPED {what}: {why}");
}
