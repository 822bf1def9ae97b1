//! devnode over HTTP JSON-RPC: an alloy wallet provider (both tx types, receipts, logs, reverts, estimates,
//! time travel, snapshots, drop and reorg), geth's error texts, and bad input over raw HTTP.

#[path = "rpc_support/mod.rs"]
mod support;

use alloy::eips::BlockNumberOrTag;
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::Revert;
use devnode::rpc::{start, NodeConfig, NodeHandle};
use serde_json::json;
use support::*;

async fn node() -> NodeHandle {
    start(NodeConfig::default()).await.expect("node starts")
}

fn wallet(node: &NodeHandle, key: &str) -> impl Provider + Clone {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer(key)))
        .connect_http(node.url().parse().expect("url"))
}

async fn deploy_logger(provider: &impl Provider) -> Address {
    let tx = TransactionRequest::default().with_deploy_code(initcode(&logger_runtime()));
    let receipt = provider
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    receipt.contract_address.expect("contract address")
}

#[tokio::test]
async fn wallet_sends_both_types_and_reads_receipts_and_blocks() {
    let node = node().await;
    let p = wallet(&node, KEY0);
    assert_eq!(p.get_chain_id().await.unwrap(), 412_346);
    let to = Address::repeat_byte(0x42);
    let legacy = TransactionRequest::default()
        .with_to(to)
        .with_value(U256::from(5))
        .with_gas_price(1_000_000_000);
    let r1 = p
        .send_transaction(legacy)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let eip1559 = TransactionRequest::default()
        .with_to(to)
        .with_value(U256::from(7));
    let r2 = p
        .send_transaction(eip1559)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(r1.status() && r2.status());
    assert_eq!(r1.inner.tx_type() as u8, 0);
    assert_eq!(r2.inner.tx_type() as u8, 2);
    assert_eq!((r1.gas_used, r2.gas_used), (21_000, 21_000));
    assert_eq!(r1.effective_gas_price, 1_000_000_000);
    assert_eq!(p.get_balance(to).await.unwrap(), U256::from(12));
    assert_eq!(p.get_balance(to).number(1).await.unwrap(), U256::from(5));
    assert_eq!(p.get_block_number().await.unwrap(), 2);
    let block = p
        .get_block_by_number(BlockNumberOrTag::Number(2))
        .full()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.transactions.len(), 1);
    let by_hash = p
        .get_block_by_hash(block.header.hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash.header.number, 2);
    let tx = p
        .get_transaction_by_hash(r2.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tx.block_number, Some(2));
    assert!(p
        .get_transaction_receipt(B256::repeat_byte(1))
        .await
        .unwrap()
        .is_none());
    let history = p
        .get_fee_history(2, BlockNumberOrTag::Latest, &[50.0])
        .await
        .unwrap();
    assert_eq!(history.base_fee_per_gas.len(), 3);
    assert!(p.get_gas_price().await.unwrap() >= 100_000_000);

    // eth_sendTransaction from an unlocked dev account (as `cast send --unlocked`).
    let plain = ProviderBuilder::new().connect_http(node.url().parse().unwrap());
    let accounts = plain.get_accounts().await.unwrap();
    assert_eq!(accounts.len(), 10);
    let req = TransactionRequest::default()
        .from(accounts[1])
        .to(to)
        .value(U256::from(1));
    let hash: B256 = plain
        .raw_request("eth_sendTransaction".into(), (req,))
        .await
        .unwrap();
    assert!(plain
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .unwrap()
        .status());
}

#[tokio::test]
async fn logs_filter_by_address_topics_and_ranges() {
    let node = node().await;
    let p = wallet(&node, KEY0);
    let a = deploy_logger(&p).await;
    let b = deploy_logger(&p).await;
    let t = |n: u64| B256::from(U256::from(n));
    for (contract, t0, t1) in [(a, 1, 10), (a, 2, 20), (b, 1, 30), (b, 3, 10)] {
        let tx = TransactionRequest::default()
            .with_to(contract)
            .with_input(log_call(U256::from(t0), U256::from(t1), U256::from(99)));
        assert!(p
            .send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status());
    }
    // Blocks 3..=6 hold one log each.
    let count = |f: Filter| {
        let p = p.clone();
        async move { p.get_logs(&f).await.unwrap().len() }
    };
    assert_eq!(count(Filter::new().from_block(0)).await, 4);
    assert_eq!(count(Filter::new().address(a).from_block(0)).await, 2);
    assert_eq!(
        count(Filter::new().address(vec![a, b]).from_block(0)).await,
        4
    );
    assert_eq!(
        count(Filter::new().event_signature(t(1)).from_block(0)).await,
        2
    );
    assert_eq!(
        count(
            Filter::new()
                .event_signature(vec![t(1), t(3)])
                .from_block(0)
        )
        .await,
        3
    );
    assert_eq!(
        count(Filter::new().topic1(t(10)).from_block(0)).await,
        2,
        "null topic0 = wildcard"
    );
    assert_eq!(
        count(Filter::new().address(b).topic1(t(10)).from_block(0)).await,
        1
    );
    assert_eq!(count(Filter::new().from_block(4).to_block(5)).await, 2);
    assert_eq!(count(Filter::new().from_block(7)).await, 0);
    let logs = p
        .get_logs(&Filter::new().from_block(6).to_block(6))
        .await
        .unwrap();
    let block6 = p.get_block_by_number(6.into()).await.unwrap().unwrap();
    assert_eq!(logs[0].block_hash, Some(block6.header.hash));
    assert_eq!(
        count(Filter::new().at_block_hash(block6.header.hash)).await,
        1
    );
    assert_eq!(
        (logs[0].log_index, logs[0].transaction_index),
        (Some(0), Some(0))
    );
    // Raw: an explicit null in the topics list.
    let resp = rpc(
        node.url(),
        "eth_getLogs",
        json!([{"fromBlock": "0x0", "topics": [null, t(20)]}]),
    )
    .await;
    assert_eq!(resp["result"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn reverts_decode_and_estimate_then_send() {
    let node = node().await;
    let p = wallet(&node, KEY0);
    let logger = deploy_logger(&p).await;
    let err = p
        .call(TransactionRequest::default().with_to(logger))
        .await
        .unwrap_err();
    let payload = err.as_error_resp().expect("error response");
    assert_eq!(payload.code, 3);
    assert_eq!(payload.message, "execution reverted: boom");
    assert_eq!(
        payload.as_decoded_error::<Revert>().map(|r| r.reason),
        Some("boom".into())
    );
    // A custom error: the raw data comes back intact.
    let custom = alloy::primitives::Bytes::from(vec![0xde, 0xad, 0xbe, 0xef, 1, 2]);
    let err = p
        .call(
            TransactionRequest::default()
                .with_to(logger)
                .with_input(custom.clone()),
        )
        .await
        .unwrap_err();
    let payload = err.as_error_resp().unwrap();
    assert_eq!(
        (payload.code, payload.message.as_ref()),
        (3, "execution reverted")
    );
    assert_eq!(payload.as_revert_data(), Some(custom));
    // estimateGas also reports the revert.
    let err = p
        .estimate_gas(TransactionRequest::default().with_to(logger))
        .await
        .unwrap_err();
    assert_eq!(err.as_error_resp().unwrap().code, 3);

    let input = log_call(U256::from(1), U256::from(2), U256::from(3));
    let req = TransactionRequest::default()
        .with_from(signer(KEY0).address())
        .with_to(logger)
        .with_input(input);
    let gas = p.estimate_gas(req.clone()).await.unwrap();
    let receipt = p
        .send_transaction(req.with_gas_limit(gas))
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert!(receipt.gas_used <= gas);

    // State overrides: balance on an empty account, code on another.
    let probe = Address::repeat_byte(0x99);
    let resp = rpc(
        node.url(),
        "eth_call",
        json!([{"to": probe}, "latest", {probe.to_string(): {"code": format!("0x{}", alloy::hex::encode(logger_runtime()))}}]),
    )
    .await;
    assert_eq!(resp["error"]["code"], 3, "{resp}");
    let resp = rpc(node.url(), "eth_getBalance", json!([probe, "latest"])).await;
    assert_eq!(resp["result"], "0x0");
}

#[tokio::test]
async fn time_travel_snapshot_drop_and_reorg() {
    let node = node().await;
    let p = wallet(&node, KEY0);
    let url = node.url().to_string();
    let before = p
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    assert_eq!(
        rpc(&url, "evm_increaseTime", json!([3600])).await["result"],
        3600
    );
    rpc(&url, "evm_mine", json!([])).await;
    let after = p
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp;
    assert!(after >= before + 3600);
    let target = after + 1000;
    assert!(rpc(&url, "evm_setNextBlockTimestamp", json!([target])).await["error"].is_null());
    rpc(&url, "evm_mine", json!([])).await;
    let b = p
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.header.timestamp, target);

    // Snapshot / revert.
    let id = rpc(&url, "evm_snapshot", json!([])).await["result"].clone();
    let to = Address::repeat_byte(0x55);
    p.send_transaction(
        TransactionRequest::default()
            .with_to(to)
            .with_value(U256::from(1)),
    )
    .await
    .unwrap()
    .get_receipt()
    .await
    .unwrap();
    assert_eq!(p.get_balance(to).await.unwrap(), U256::from(1));
    assert_eq!(rpc(&url, "evm_revert", json!([id])).await["result"], true);
    assert_eq!(p.get_balance(to).await.unwrap(), U256::ZERO);
    assert_eq!(p.get_block_number().await.unwrap(), 2);

    // Drop a pending transaction.
    rpc(&url, "evm_setAutomine", json!([false])).await;
    let pending = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(to)
                .with_value(U256::from(1)),
        )
        .await
        .unwrap();
    let hash = *pending.tx_hash();
    assert!(p
        .get_transaction_by_hash(hash)
        .await
        .unwrap()
        .unwrap()
        .block_number
        .is_none());
    assert_eq!(
        rpc(&url, "anvil_dropTransaction", json!([hash])).await["result"],
        json!(hash)
    );
    assert!(p.get_transaction_by_hash(hash).await.unwrap().is_none());
    rpc(&url, "evm_setAutomine", json!([true])).await;

    // Reorg: the last block is replaced; its transaction is re-included under a new block hash.
    let r = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(to)
                .with_value(U256::from(3))
                .with_nonce(0),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let old_hash = r.block_hash.unwrap();
    let resp = rpc(&url, "anvil_reorg", json!([1, []])).await;
    assert!(resp["error"].is_null(), "{resp}");
    let again = p
        .get_transaction_receipt(r.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.block_number, r.block_number);
    assert_ne!(again.block_hash.unwrap(), old_hash);
    assert!(p.get_block_by_hash(old_hash).await.unwrap().is_none());
    // Rollback: gone from the chain, back in the pool.
    rpc(&url, "anvil_rollback", json!([1])).await;
    assert!(p
        .get_transaction_receipt(r.transaction_hash)
        .await
        .unwrap()
        .is_none());
    assert_eq!(p.get_balance(to).await.unwrap(), U256::ZERO);
}

/// Every admission error, with geth's text and code -32000.
#[tokio::test]
async fn admission_errors_use_geth_texts() {
    let node = node().await;
    let url = node.url().to_string();
    let s = signer(KEY2);
    let id = 412_346;
    let to = Address::repeat_byte(1);
    let send = |tx: alloy::primitives::Bytes| {
        let url = url.clone();
        async move { rpc(&url, "eth_sendRawTransaction", json!([tx])).await }
    };
    let ok = raw(&sign_1559(&s, &TxParams::transfer(id, 0, to)));
    assert!(send(ok.clone()).await["error"].is_null());
    let expect = |resp: serde_json::Value, text: &str| {
        assert_eq!(resp["error"]["code"], -32000, "{resp}");
        assert_eq!(error_message(&resp), text);
    };
    expect(send(ok).await, "nonce too low");
    expect(
        send(raw(&sign_1559(&s, &TxParams::transfer(1, 1, to)))).await,
        "invalid chain id for signer",
    );
    let mut p = TxParams::transfer(id, 1, to);
    p.value = U256::MAX / U256::from(2);
    expect(
        send(raw(&sign_1559(&s, &p))).await,
        "insufficient funds for gas * price + value",
    );
    let mut p = TxParams::transfer(id, 1, to);
    p.max_fee = 1;
    p.tip = 1;
    expect(
        send(raw(&sign_1559(&s, &p))).await,
        "max fee per gas less than block base fee",
    );
    let mut p = TxParams::transfer(id, 1, to);
    p.gas_limit = 20_999;
    expect(send(raw(&sign_1559(&s, &p))).await, "intrinsic gas too low");
    let mut p = TxParams::transfer(id, 1, to);
    p.tip = p.max_fee + 1;
    expect(
        send(raw(&sign_1559(&s, &p))).await,
        "max priority fee per gas higher than max fee per gas",
    );
    let mut p = TxParams::transfer(id, 1, to);
    p.gas_limit = 31_000_000;
    expect(
        send(raw(&sign_1559(&s, &p))).await,
        "exceeds block gas limit",
    );
    // Blob transactions are not supported.
    expect(
        send(alloy::primitives::Bytes::from(vec![0x03, 0xc0])).await,
        "transaction type not supported",
    );
    // A signature that recovers to nobody.
    let good = sign_1559(&s, &TxParams::transfer(id, 1, to));
    let alloy::consensus::TxEnvelope::Eip1559(signed) = good else {
        unreachable!()
    };
    let bad_sig = alloy::primitives::Signature::new(U256::ZERO, U256::from(1), false);
    let bad = alloy::consensus::TxEnvelope::Eip1559(alloy::consensus::Signed::new_unhashed(
        signed.tx().clone(),
        bad_sig,
    ));
    expect(send(raw(&bad)).await, "invalid sender");

    // Pool: already known, replacement underpriced, and a valid replacement.
    rpc(&url, "evm_setAutomine", json!([false])).await;
    let first = raw(&sign_1559(&s, &TxParams::transfer(id, 1, to)));
    assert!(send(first.clone()).await["error"].is_null());
    expect(send(first).await, "already known");
    let mut p = TxParams::transfer(id, 1, to);
    p.value = U256::from(2);
    expect(
        send(raw(&sign_1559(&s, &p))).await,
        "replacement transaction underpriced",
    );
    p.max_fee = 3_000_000_000;
    p.tip = 2_000_000_000;
    assert!(send(raw(&sign_1559(&s, &p))).await["error"].is_null());
    // A nonce gap is queued, like geth and anvil.
    assert!(send(raw(&sign_1559(&s, &TxParams::transfer(id, 5, to)))).await["error"].is_null());
}

#[tokio::test]
async fn bad_input_gets_json_rpc_errors_and_the_server_stays_up() {
    let node = node().await;
    let url = node.url();
    assert_eq!(
        post(url, "{\"jsonrpc\":\"2.0\",").await["error"]["code"],
        -32700
    );
    assert_eq!(post(url, "not json at all").await["error"]["code"], -32700);
    assert_eq!(
        rpc(url, "eth_noSuchMethod", json!([])).await["error"]["code"],
        -32601
    );
    assert_eq!(
        rpc(url, "eth_getBalance", json!(["0xzz"])).await["error"]["code"],
        -32602
    );
    assert_eq!(
        rpc(url, "eth_getBalance", json!([1, 2, 3, 4])).await["error"]["code"],
        -32602
    );
    assert_eq!(
        rpc(url, "eth_sendRawTransaction", json!(["0xf8ff00"])).await["error"]["code"],
        -32602
    );
    let unknown_type = rpc(url, "eth_sendRawTransaction", json!(["0x1234"])).await;
    assert_eq!(
        error_message(&unknown_type),
        "transaction type not supported"
    );
    assert_eq!(
        rpc(url, "eth_sendRawTransaction", json!(["0x"])).await["error"]["code"],
        -32602
    );
    assert_eq!(
        rpc(url, "evm_increaseTime", json!(["0xnothex"])).await["error"]["code"],
        -32602
    );
    assert_eq!(
        rpc(url, "eth_getBalance", json!([Address::ZERO, "0x99999"])).await["error"]["message"],
        "header not found"
    );
    let resp = rpc(url, "eth_call", json!([{"to": Address::ZERO}, "latest", {Address::ZERO.to_string(): {"state": {}, "stateDiff": {}}}])).await;
    assert_eq!(resp["error"]["code"], -32602);
    // Batches work and the node still answers.
    let batch = post(url, r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},{"jsonrpc":"2.0","id":2,"method":"net_version","params":[]}]"#).await;
    assert_eq!(batch.as_array().unwrap().len(), 2);
    assert_eq!(
        rpc(url, "eth_chainId", json!([])).await["result"],
        "0x64aba"
    );
    assert_eq!(rpc(url, "net_version", json!([])).await["result"], "412346");
    assert_eq!(rpc(url, "eth_syncing", json!([])).await["result"], false);
    assert!(rpc(url, "web3_clientVersion", json!([])).await["result"]
        .as_str()
        .unwrap()
        .starts_with("devnode/"));
}

#[tokio::test]
async fn interval_mining_and_unlocked_accounts() {
    let node = node().await;
    let url = node.url().to_string();
    assert!(rpc(&url, "evm_setIntervalMining", json!([1])).await["error"].is_null());
    assert_eq!(
        rpc(&url, "anvil_getAutomine", json!([])).await["result"],
        false
    );
    let p = wallet(&node, KEY0);
    let pending = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(Address::repeat_byte(7))
                .with_value(U256::from(1)),
        )
        .await
        .unwrap();
    let hash = *pending.tx_hash();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let receipt = p
        .get_transaction_receipt(hash)
        .await
        .unwrap()
        .expect("mined by the interval miner");
    assert!(receipt.status());
    assert!(p.get_block_number().await.unwrap() >= 2);
    assert!(rpc(&url, "evm_setIntervalMining", json!([0])).await["error"].is_null());
    let n = p.get_block_number().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        p.get_block_number().await.unwrap(),
        n,
        "interval mining stopped"
    );

    // eth_sendTransaction from an address the node has no key for.
    let stranger = Address::repeat_byte(0xee);
    let resp = rpc(
        &url,
        "eth_sendTransaction",
        json!([{"from": stranger, "to": stranger}]),
    )
    .await;
    assert_eq!(error_message(&resp), "unknown account");
}

#[tokio::test]
async fn poll_filters_report_new_blocks_and_logs() {
    let node = node().await;
    let url = node.url().to_string();
    let p = wallet(&node, KEY0);
    let logger = deploy_logger(&p).await;
    let blocks = rpc(&url, "eth_newBlockFilter", json!([])).await["result"].clone();
    let logs = rpc(
        &url,
        "eth_newFilter",
        json!([{"address": logger, "fromBlock": "0x0"}]),
    )
    .await["result"]
        .clone();
    for i in 0..2u64 {
        let tx = TransactionRequest::default()
            .with_to(logger)
            .with_input(log_call(U256::from(i), U256::from(1), U256::from(2)));
        p.send_transaction(tx)
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
    }
    let changes = rpc(&url, "eth_getFilterChanges", json!([blocks])).await;
    assert_eq!(changes["result"].as_array().unwrap().len(), 2, "{changes}");
    let changes = rpc(&url, "eth_getFilterChanges", json!([logs])).await;
    assert_eq!(changes["result"].as_array().unwrap().len(), 2, "{changes}");
    // Polled: nothing new.
    let again = rpc(&url, "eth_getFilterChanges", json!([logs])).await;
    assert_eq!(again["result"].as_array().unwrap().len(), 0);
    let all = rpc(&url, "eth_getFilterLogs", json!([logs])).await;
    assert_eq!(all["result"].as_array().unwrap().len(), 2);
    assert_eq!(
        rpc(&url, "eth_uninstallFilter", json!([logs])).await["result"],
        true
    );
    assert_eq!(
        error_message(&rpc(&url, "eth_getFilterChanges", json!([logs])).await),
        "filter not found"
    );
    // Index-based reads.
    let count = rpc(
        &url,
        "eth_getBlockTransactionCountByNumber",
        json!(["latest"]),
    )
    .await;
    assert_eq!(count["result"], "0x1");
    let tx = rpc(
        &url,
        "eth_getTransactionByBlockNumberAndIndex",
        json!(["latest", "0x0"]),
    )
    .await;
    assert_eq!(tx["result"]["to"], json!(logger));
}

#[tokio::test]
async fn websocket_subscriptions_drive_alloy_receipts() {
    use alloy::providers::WsConnect;
    let node = node().await;
    let ws = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer(KEY0)))
        .connect_ws(WsConnect::new(node.ws_url()))
        .await
        .unwrap();
    let mut heads = ws.subscribe_blocks().await.unwrap();
    let logger = deploy_logger(&ws).await;
    let head = heads.recv().await.unwrap();
    assert_eq!(head.number, 1);
    let filter = Filter::new().address(logger);
    let mut logs = ws.subscribe_logs(&filter).await.unwrap();
    // With interval mining, a receipt arrives through the newHeads-driven heartbeat.
    rpc(node.url(), "evm_setIntervalMining", json!([1])).await;
    let tx = TransactionRequest::default()
        .with_to(logger)
        .with_input(log_call(U256::from(4), U256::from(5), U256::from(6)));
    let receipt = ws
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let log = logs.recv().await.unwrap();
    assert_eq!(log.transaction_hash, Some(receipt.transaction_hash));
    let resp = rpc(
        node.url(),
        "eth_subscribe",
        json!(["newPendingTransactions"]),
    )
    .await;
    assert!(resp["error"].is_object(), "{resp}");
}

/// The controls through alloy's `AnvilApi` extension, as the keeper's and the CLI's tests call them.
#[tokio::test]
async fn alloy_anvil_api_extension_works() {
    use alloy::providers::ext::AnvilApi;
    use alloy::rpc::types::anvil::ReorgOptions;
    let node = node().await;
    let p = wallet(&node, KEY0);
    let who = Address::repeat_byte(0x31);
    p.anvil_set_balance(who, U256::from(77)).await.unwrap();
    assert_eq!(p.get_balance(who).await.unwrap(), U256::from(77));
    p.anvil_set_nonce(who, 5).await.unwrap();
    assert_eq!(p.get_transaction_count(who).await.unwrap(), 5);
    p.anvil_set_code(who, vec![0x00].into()).await.unwrap();
    p.anvil_set_storage_at(who, U256::from(1), B256::repeat_byte(2))
        .await
        .unwrap();
    assert_eq!(
        p.get_storage_at(who, U256::from(1)).await.unwrap(),
        U256::from_be_bytes([2; 32])
    );
    let id = p.anvil_snapshot().await.unwrap();
    p.anvil_mine(Some(3), None).await.unwrap();
    assert_eq!(p.get_block_number().await.unwrap(), 3);
    assert!(p.anvil_revert(id).await.unwrap());
    assert_eq!(p.get_block_number().await.unwrap(), 0);
    assert_eq!(p.anvil_increase_time(60).await.unwrap(), 60);
    let ts = p
        .get_block_by_number(0.into())
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
        + 10_000;
    p.anvil_set_next_block_timestamp(ts).await.unwrap();
    p.evm_mine(None).await.unwrap();
    assert_eq!(
        p.get_block_by_number(1.into())
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp,
        ts
    );
    p.anvil_set_auto_mine(false).await.unwrap();
    assert!(!p.anvil_get_auto_mine().await.unwrap());
    let pending = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(who)
                .with_value(U256::from(1)),
        )
        .await
        .unwrap();
    p.anvil_drop_all_transactions().await.unwrap();
    assert!(p
        .get_transaction_by_hash(*pending.tx_hash())
        .await
        .unwrap()
        .is_none());
    p.anvil_set_auto_mine(true).await.unwrap();
    let r = p
        .send_transaction(
            TransactionRequest::default()
                .with_to(who)
                .with_value(U256::from(1))
                .with_nonce(0),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    p.anvil_reorg(ReorgOptions {
        depth: 1,
        tx_block_pairs: vec![],
    })
    .await
    .unwrap();
    let again = p
        .get_transaction_receipt(r.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(again.block_hash, r.block_hash);
    p.anvil_rollback(Some(1)).await.unwrap();
    assert!(p
        .get_transaction_receipt(r.transaction_hash)
        .await
        .unwrap()
        .is_none());
    // The next transaction fills the block after the re-pooled one: automine mines both.
    let next = TransactionRequest::default()
        .with_to(who)
        .with_value(U256::from(1))
        .with_nonce(1);
    p.send_transaction(next)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(p
        .get_transaction_receipt(r.transaction_hash)
        .await
        .unwrap()
        .is_some());
}

/// `eth_getBlockReceipts` (the keeper's outbox confirms by block): every receipt of the block, in block order, equal
/// to what `eth_getTransactionReceipt` answers; `[]` for a block without transactions and `null` past the head.
#[tokio::test]
async fn block_receipts_are_the_blocks_transaction_receipts_in_order() {
    let node = node().await;
    let url = node.url().to_string();
    let (a, b) = (wallet(&node, KEY0), wallet(&node, KEY1));
    let to = Address::with_last_byte(0x42);
    rpc(&url, "evm_setAutomine", json!([false])).await;
    let mut hashes = Vec::new();
    for p in [&a, &b] {
        let pending = p
            .send_transaction(
                TransactionRequest::default()
                    .with_to(to)
                    .with_value(U256::from(1)),
            )
            .await
            .unwrap();
        hashes.push(*pending.tx_hash());
    }
    rpc(&url, "evm_mine", json!([])).await;
    rpc(&url, "evm_setAutomine", json!([true])).await;
    let head = a.get_block_number().await.unwrap();
    let receipts = a
        .get_block_receipts(BlockNumberOrTag::Number(head).into())
        .await
        .unwrap()
        .expect("the head's receipts");
    assert_eq!(receipts.len(), 2);
    for (i, r) in receipts.iter().enumerate() {
        assert_eq!(r.transaction_index, Some(i as u64));
        assert_eq!(r.block_number, Some(head));
        let single = a
            .get_transaction_receipt(r.transaction_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(single.transaction_hash, r.transaction_hash);
        assert_eq!(single.block_hash, r.block_hash);
        assert_eq!(single.gas_used, r.gas_used);
        assert_eq!(single.from, r.from);
    }
    let mut got: Vec<B256> = receipts.iter().map(|r| r.transaction_hash).collect();
    got.sort();
    hashes.sort();
    assert_eq!(got, hashes);
    rpc(&url, "evm_mine", json!([])).await;
    let empty = a
        .get_block_receipts(BlockNumberOrTag::Latest.into())
        .await
        .unwrap();
    assert_eq!(empty.map(|r| r.len()), Some(0));
    assert!(a
        .get_block_receipts(BlockNumberOrTag::Number(head + 100).into())
        .await
        .unwrap()
        .is_none());
}
