//! The in-process chain API: create, fund, apply signed transactions, call, logs and receipts, time, history.

#[path = "rpc_support/mod.rs"]
mod support;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, U256};
use alloy::rpc::types::{state::AccountOverride, Filter, TransactionRequest};
use devnode::chain::{Chain, ChainConfig};
use devnode::error::Error;
use support::*;

fn chain() -> Chain {
    Chain::new(ChainConfig {
        genesis_timestamp: Some(1_700_000_000),
        ..Default::default()
    })
    .unwrap()
}

fn deploy(chain: &mut Chain, runtime: &[u8], nonce: u64) -> Address {
    let s = signer(KEY0);
    let mut p = TxParams::transfer(chain.chain_id(), nonce, Address::ZERO);
    p.to = None;
    p.value = U256::ZERO;
    p.gas_limit = 500_000;
    p.input = initcode(runtime);
    let hash = chain
        .send_raw_transaction(&raw(&sign_1559(&s, &p)))
        .unwrap();
    let receipt = chain.receipt(hash).unwrap();
    assert!(receipt.status());
    let address = receipt.contract_address.unwrap();
    assert_eq!(chain.code(address, None).unwrap().as_ref(), runtime);
    address
}

#[test]
fn transfers_mine_one_block_each_with_receipts() {
    let mut chain = chain();
    let s = signer(KEY0);
    let to = Address::repeat_byte(0x42);
    let legacy = sign_legacy(&s, &TxParams::transfer(chain.chain_id(), 0, to));
    let h1 = chain.send_raw_transaction(&raw(&legacy)).unwrap();
    let eip1559 = sign_1559(&s, &TxParams::transfer(chain.chain_id(), 1, to));
    let h2 = chain.send_raw_transaction(&raw(&eip1559)).unwrap();
    assert_eq!(chain.block_number(), 2);
    let r1 = chain.receipt(h1).unwrap();
    let r2 = chain.receipt(h2).unwrap();
    assert!(r1.status() && r2.status());
    assert_eq!((r1.gas_used, r2.gas_used), (21_000, 21_000));
    assert_eq!((r1.block_number, r2.block_number), (Some(1), Some(2)));
    assert_eq!(r1.inner.tx_type() as u8, 0);
    assert_eq!(r2.inner.tx_type() as u8, 2);
    // Base fee is at the 0.1 gwei floor; the 1559 tx pays base + tip.
    assert_eq!(r2.effective_gas_price, 100_000_000 + 1_000_000_000);
    assert_eq!(chain.balance(to, None).unwrap(), U256::from(2));
    assert_eq!(
        chain.balance(to, Some(BlockId::number(1))).unwrap(),
        U256::from(1)
    );
    assert_eq!(
        chain.balance(to, Some(BlockId::number(0))).unwrap(),
        U256::ZERO
    );
    assert_eq!(chain.nonce(s.address(), None).unwrap(), 2);
    assert_eq!(
        chain.nonce(s.address(), Some(BlockId::number(1))).unwrap(),
        1
    );
    let block = chain
        .block_by_number(BlockNumberOrTag::Number(2), true)
        .unwrap();
    assert_eq!(
        block.header.parent_hash,
        chain
            .block_by_number(BlockNumberOrTag::Number(1), false)
            .unwrap()
            .header
            .hash
    );
    assert_eq!(chain.transaction_by_hash(h2).unwrap().block_number, Some(2));
}

#[test]
fn logs_call_revert_and_storage_history() {
    let mut chain = chain();
    let logger = deploy(&mut chain, &logger_runtime(), 0);
    let store = deploy(&mut chain, &store_runtime(), 1);
    let s = signer(KEY0);
    let mut p = TxParams::transfer(chain.chain_id(), 2, logger);
    p.value = U256::ZERO;
    p.gas_limit = 100_000;
    p.input = log_call(U256::from(7), U256::from(8), U256::from(9));
    let h = chain
        .send_raw_transaction(&raw(&sign_1559(&s, &p)))
        .unwrap();
    let receipt = chain.receipt(h).unwrap();
    assert_eq!(receipt.inner.logs().len(), 1);
    let logs = chain
        .logs(&Filter::new().address(logger).from_block(0))
        .unwrap();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0].topics()[0],
        alloy::primitives::B256::from(U256::from(7))
    );
    assert_eq!(logs[0].transaction_hash, Some(h));

    // Storage history.
    p.nonce = 3;
    p.to = Some(store);
    p.input = U256::from(5).to_be_bytes::<32>().to_vec().into();
    chain
        .send_raw_transaction(&raw(&sign_1559(&s, &p)))
        .unwrap();
    let at = chain.block_number();
    p.nonce = 4;
    p.input = U256::from(6).to_be_bytes::<32>().to_vec().into();
    chain
        .send_raw_transaction(&raw(&sign_1559(&s, &p)))
        .unwrap();
    assert_eq!(
        chain
            .storage(store, U256::ZERO, Some(BlockId::number(at)))
            .unwrap(),
        alloy::primitives::B256::from(U256::from(5))
    );
    assert_eq!(
        chain.storage(store, U256::ZERO, None).unwrap(),
        alloy::primitives::B256::from(U256::from(6))
    );

    // Reverts carry the data; overrides change the state of a call only.
    let call = TransactionRequest::default().to(logger);
    match chain.call(&call, None, None) {
        Err(Error::Revert(data)) => assert_eq!(
            devnode::error::revert_reason(&data).as_deref(),
            Some("boom")
        ),
        other => panic!("expected revert, got {other:?}"),
    }
    let probe = Address::repeat_byte(0x77);
    let overrides = [(
        probe,
        AccountOverride {
            code: Some(store_runtime().into()),
            ..Default::default()
        },
    )]
    .into_iter()
    .collect();
    let req = TransactionRequest::default()
        .to(probe)
        .input(U256::from(1).to_be_bytes::<32>().to_vec().into());
    chain.call(&req, None, Some(&overrides)).unwrap();
    assert!(chain.code(probe, None).unwrap().is_empty());
}

#[test]
fn time_travel_and_snapshots() {
    let mut chain = chain();
    chain.set_next_block_timestamp(1_800_000_000).unwrap();
    chain.mine(1, None).unwrap();
    let b = chain
        .block_by_number(BlockNumberOrTag::Latest, false)
        .unwrap();
    assert_eq!(b.header.timestamp, 1_800_000_000);
    assert!(matches!(
        chain.set_next_block_timestamp(1),
        Err(Error::TimestampTooLow { .. })
    ));
    chain.increase_time(3600);
    chain.mine(1, None).unwrap();
    let b2 = chain
        .block_by_number(BlockNumberOrTag::Latest, false)
        .unwrap();
    assert!(b2.header.timestamp >= 1_800_003_600);

    let id = chain.snapshot();
    let who = Address::repeat_byte(9);
    chain.set_balance(who, U256::from(123));
    chain.mine(3, None).unwrap();
    assert_eq!(chain.block_number(), 5);
    assert!(chain.revert(id));
    assert_eq!(chain.block_number(), 2);
    assert_eq!(chain.balance(who, None).unwrap(), U256::ZERO);
    assert!(!chain.revert(id), "a snapshot is used once");
}

#[test]
fn pool_queue_drop_and_rollback() {
    let mut chain = chain();
    let s = signer(KEY1);
    let to = Address::repeat_byte(0x11);
    // A future nonce waits in the pool; filling the gap mines both.
    let h1 = chain
        .send_raw_transaction(&raw(&sign_1559(
            &s,
            &TxParams::transfer(chain.chain_id(), 1, to),
        )))
        .unwrap();
    assert_eq!(chain.block_number(), 0);
    assert!(chain.receipt(h1).is_none());
    assert_eq!(
        chain.nonce(s.address(), Some(BlockId::pending())).unwrap(),
        0
    );
    chain
        .send_raw_transaction(&raw(&sign_1559(
            &s,
            &TxParams::transfer(chain.chain_id(), 0, to),
        )))
        .unwrap();
    assert!(chain.receipt(h1).is_some());

    chain.set_automine(false).unwrap();
    let h3 = chain
        .send_raw_transaction(&raw(&sign_1559(
            &s,
            &TxParams::transfer(chain.chain_id(), 2, to),
        )))
        .unwrap();
    assert_eq!(
        chain.nonce(s.address(), Some(BlockId::pending())).unwrap(),
        3
    );
    assert_eq!(chain.drop_transaction(h3), Some(h3));
    assert_eq!(chain.drop_transaction(h3), None);
    chain.mine(1, None).unwrap();
    assert!(chain.receipt(h3).is_none());

    // Rolling back puts mined transactions back into the pool.
    let height = chain.block_number();
    chain.rollback(height).unwrap();
    assert_eq!(chain.block_number(), 0);
    assert!(chain.receipt(h1).is_none());
    assert!(chain.transaction_by_hash(h1).is_some(), "back in the pool");
    assert_eq!(chain.balance(to, None).unwrap(), U256::ZERO);
    chain.mine(1, None).unwrap();
    assert_eq!(chain.balance(to, None).unwrap(), U256::from(2));
    assert!(matches!(
        chain.rollback(100),
        Err(Error::ReorgTooDeep { .. })
    ));
}

#[test]
fn estimate_gas_matches_what_the_transaction_needs() {
    let mut chain = chain();
    let logger = deploy(&mut chain, &logger_runtime(), 0);
    let from = chain.dev_accounts()[0].address;
    let req = TransactionRequest::default()
        .from(from)
        .to(logger)
        .input(log_call(U256::from(1), U256::from(2), U256::from(3)).into());
    let gas = chain.estimate_gas(&req, None, None).unwrap();
    let mut p = TxParams::transfer(chain.chain_id(), 1, logger);
    p.value = U256::ZERO;
    p.input = log_call(U256::from(1), U256::from(2), U256::from(3));
    p.gas_limit = gas;
    let h = chain
        .send_raw_transaction(&raw(&sign_1559(&signer(KEY0), &p)))
        .unwrap();
    assert!(chain.receipt(h).unwrap().status());
    p.nonce = 2;
    p.gas_limit = gas - 1;
    let h = chain
        .send_raw_transaction(&raw(&sign_1559(&signer(KEY0), &p)))
        .unwrap();
    assert!(!chain.receipt(h).unwrap().status(), "one gas less fails");
    let transfer = TransactionRequest::default()
        .from(from)
        .to(Address::repeat_byte(3))
        .value(U256::from(1));
    assert_eq!(chain.estimate_gas(&transfer, None, None).unwrap(), 21_000);
    let revert = TransactionRequest::default().from(from).to(logger);
    assert!(matches!(
        chain.estimate_gas(&revert, None, None),
        Err(Error::Revert(_))
    ));
}

/// Stores `block.timestamp` in slot 0 unless it is already there: a time-dependent cost (an SSTORE only in a
/// block with a new timestamp), the shape of veBR's checkpoints.
fn timestamp_recorder_runtime() -> Vec<u8> {
    // TIMESTAMP PUSH0 SLOAD EQ PUSH1 0x0b JUMPI TIMESTAMP PUSH0 SSTORE STOP JUMPDEST STOP
    vec![
        0x42, 0x5f, 0x54, 0x14, 0x60, 0x0b, 0x57, 0x42, 0x5f, 0x55, 0x00, 0x5b, 0x00,
    ]
}

#[test]
fn estimate_gas_runs_in_the_block_the_transaction_will_be_mined_in() {
    let mut chain = chain();
    let recorder = deploy(&mut chain, &timestamp_recorder_runtime(), 0);
    let from = chain.dev_accounts()[0].address;
    let call = TransactionRequest::default().from(from).to(recorder);
    // Record the head's timestamp, then pin the next block 100 s later: at the head's timestamp the call is
    // cheap (nothing to store), in the next block it stores.
    chain
        .set_next_block_timestamp(chain.pending_timestamp())
        .unwrap();
    let mut p = TxParams::transfer(chain.chain_id(), 1, recorder);
    p.value = U256::ZERO;
    p.gas_limit = 100_000;
    let h = chain
        .send_raw_transaction(&raw(&sign_1559(&signer(KEY0), &p)))
        .unwrap();
    assert!(chain.receipt(h).unwrap().status());
    let head_time = chain.pending_timestamp();
    chain.set_next_block_timestamp(head_time + 100).unwrap();
    let at_latest = chain
        .estimate_gas(&call, Some(BlockId::latest()), None)
        .unwrap();
    let estimate = chain.estimate_gas(&call, None, None).unwrap();
    assert_eq!(
        chain
            .estimate_gas(&call, Some(BlockId::pending()), None)
            .unwrap(),
        estimate
    );
    assert!(
        estimate > at_latest + 2_000,
        "the next block stores: {estimate} vs {at_latest} at the latest block's timestamp"
    );
    p.nonce = 2;
    p.gas_limit = estimate;
    let h = chain
        .send_raw_transaction(&raw(&sign_1559(&signer(KEY0), &p)))
        .unwrap();
    let receipt = chain.receipt(h).unwrap();
    assert!(
        receipt.status(),
        "the estimate covers the mined transaction"
    );
}

/// Arbitrum's sequencer orders transactions first come, first served and ignores the priority fee; devnode mines
/// the same way, so tipped traffic cannot push a zero-tip sender (the keeper signs with tip 0) out of block after
/// block. Here the zero-tip transfer arrives first and is first in the block although the second one tips.
#[test]
fn a_block_orders_transactions_by_arrival_not_by_tip() {
    let mut chain = chain();
    chain.set_automine(false).unwrap();
    let to = Address::repeat_byte(0x42);
    let mut zero_tip = TxParams::transfer(chain.chain_id(), 0, to);
    zero_tip.tip = 0;
    let first = chain
        .send_raw_transaction(&raw(&sign_1559(&signer(KEY0), &zero_tip)))
        .unwrap();
    let tipped = TxParams::transfer(chain.chain_id(), 0, to);
    assert!(tipped.tip > 0);
    let second = chain
        .send_raw_transaction(&raw(&sign_1559(&signer(KEY1), &tipped)))
        .unwrap();
    chain.mine(1, None).unwrap();
    let (r1, r2) = (
        chain.receipt(first).unwrap(),
        chain.receipt(second).unwrap(),
    );
    assert_eq!(r1.block_number, Some(1));
    assert_eq!(r2.block_number, Some(1));
    assert_eq!(
        (r1.transaction_index, r2.transaction_index),
        (Some(0), Some(1)),
        "arrival order, not tip order"
    );
}
