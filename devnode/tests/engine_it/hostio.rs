//! One test (at least) per vm_hooks import, through the probe program.

use crate::support::*;
use alloy::primitives::{keccak256, Address, Bytes, TxKind, B256, U256};
use revm::context_interface::result::{ExecutionResult, HaltReason};

#[test]
fn read_args_and_write_result_echo() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let data = op(0xFF, &[b"hello stylus"]);
    assert_eq!(chain.call_ok(p, data.clone()).as_ref(), data.as_slice());
}

#[test]
fn storage_cache_flush_and_load() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let key = word(1);
    let value = word(0xBEEF);
    chain.call_ok(p, op(0x02, &[&key, &value]));
    assert_eq!(chain.storage(p, key.into()), B256::from(value));
    assert_eq!(chain.call_ok(p, op(0x01, &[&key])).as_ref(), &value);
    // Unset slots read as zero.
    assert_eq!(chain.call_ok(p, op(0x01, &[&word(2)])).as_ref(), &[0u8; 32]);
}

#[test]
fn storage_read_after_write_sees_the_cache_and_unflushed_writes_are_dropped() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let key = word(5);
    assert_eq!(
        chain.call_ok(p, op(0x04, &[&key, &word(9)])).as_ref(),
        &word(9)
    );
    assert_eq!(chain.storage(p, key.into()), B256::from(word(9)));
    // Cached but never flushed: Nitro does not flush on exit.
    chain.call_ok(p, op(0x03, &[&key, &word(10)]));
    assert_eq!(chain.storage(p, key.into()), B256::from(word(9)));
}

#[test]
fn sstore_is_charged_like_the_evm_with_refunds() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let key = word(3);
    let set = chain.call(p, op(0x02, &[&key, &word(1)]));
    let reset = chain.call(p, op(0x02, &[&key, &word(2)]));
    let clear = chain.call(p, op(0x02, &[&key, &word(0)]));
    // 0 → 1 costs a fresh slot (22,100 cold); 1 → 2 costs 5,000; clearing earns a refund.
    assert!(
        gas_used(&set) > gas_used(&reset) + 15_000,
        "{set:?} {reset:?}"
    );
    assert!(gas_used(&clear) < gas_used(&reset), "{clear:?} {reset:?}");
}

#[test]
fn transient_storage_lives_for_the_transaction_only() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let key = word(7);
    assert_eq!(
        chain.call_ok(p, op(0x05, &[&key, &word(77)])).as_ref(),
        &word(77)
    );
    assert_eq!(chain.call_ok(p, op(0x06, &[&key])).as_ref(), &[0u8; 32]);
    assert_eq!(chain.storage(p, key.into()), B256::ZERO);
}

#[test]
fn emit_log_with_zero_to_four_topics() {
    let mut chain = Chain::new();
    let p = chain.probe();
    for n in 0u8..=4 {
        let topics: Vec<u8> = (0..n).flat_map(|i| word(100 + u64::from(i))).collect();
        let data = b"payload";
        let result = chain.call(p, op(0x07, &[&[n], &topics, data]));
        let ExecutionResult::Success { logs, .. } = result else {
            panic!("{result:?}")
        };
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].address, p);
        assert_eq!(logs[0].topics().len(), usize::from(n));
        for (i, t) in logs[0].topics().iter().enumerate() {
            assert_eq!(*t, B256::from(word(100 + i as u64)));
        }
        assert_eq!(logs[0].data.data.as_ref(), data);
    }
    // Five topics is bad topic data: the program fails.
    let topics: Vec<u8> = (0..5).flat_map(|_| word(1)).collect();
    assert!(revert_data(&chain.call(p, op(0x07, &[&[5], &topics]))).is_some());
}

#[test]
fn msg_and_tx_values_and_balances() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let before = chain.balance(p);
    let result = chain.send(BOB, TxKind::Call(p), U256::from(1234), op(0x08, &[]));
    let ExecutionResult::Success { output, .. } = result else {
        panic!("{result:?}")
    };
    let out = output.into_data();
    assert_eq!(Address::from_slice(&out[0..20]), BOB);
    assert_eq!(U256::from_be_slice(&out[20..52]), U256::from(1234));
    assert_eq!(Address::from_slice(&out[52..72]), BOB);
    assert_eq!(Address::from_slice(&out[72..92]), p);
    assert_eq!(out[92], 0, "not reentrant");
    assert_eq!(chain.balance(p), before + U256::from(1234));
}

#[test]
fn block_and_chain_values() {
    let mut chain = Chain::new();
    let p = chain.probe();
    chain.block.basefee = 7;
    let tx_gas_price = 9u128;
    let tx = revm::context::TxEnv {
        caller: ALICE,
        gas_limit: GAS,
        gas_price: tx_gas_price,
        kind: TxKind::Call(p),
        data: Bytes::from(op(0x09, &[])),
        nonce: chain.nonce(ALICE),
        chain_id: Some(CHAIN_ID),
        ..Default::default()
    };
    let out = chain
        .engine
        .execute(&mut chain.db, chain.block.clone(), chain.cfg.clone(), tx)
        .unwrap();
    let ExecutionResult::Success { output, .. } = out.result else {
        panic!("{:?}", out.result)
    };
    let out = output.into_data();
    let le = |r: std::ops::Range<usize>| u64::from_le_bytes(out[r].try_into().unwrap());
    assert_eq!(U256::from_be_slice(&out[0..32]), U256::from(7));
    assert_eq!(Address::from_slice(&out[32..52]), COINBASE);
    assert_eq!(le(52..60), GAS);
    assert_eq!(le(60..68), 7);
    assert_eq!(le(68..76), 1_800_000_000);
    assert_eq!(le(76..84), CHAIN_ID);
    assert_eq!(U256::from_be_slice(&out[84..116]), U256::from(tx_gas_price));
    assert_eq!(
        u32::from_le_bytes(out[116..120].try_into().unwrap()),
        10_000
    );
}

#[test]
fn account_balance_codehash_and_code() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let echo = chain.deploy(EVM_ECHO);
    let out = chain.call_ok(p, op(0x0A, &[echo.as_slice()]));
    assert_eq!(U256::from_be_slice(&out[0..32]), U256::ZERO);
    assert_eq!(B256::from_slice(&out[32..64]), keccak256(EVM_ECHO));
    assert_eq!(u32::from_le_bytes(out[64..68].try_into().unwrap()), 7);
    assert_eq!(u32::from_le_bytes(out[68..72].try_into().unwrap()), 7);
    assert_eq!(&out[72..79], EVM_ECHO);
    // An EOA: its balance, the empty code hash of an existing account, no code.
    let out = chain.call_ok(p, op(0x0A, &[BOB.as_slice()]));
    assert_eq!(U256::from_be_slice(&out[0..32]), chain.balance(BOB));
    assert_eq!(B256::from_slice(&out[32..64]), keccak256([]));
    assert_eq!(u32::from_le_bytes(out[64..68].try_into().unwrap()), 0);
    // A program's own code hash.
    let out = chain.call_ok(p, op(0x0A, &[p.as_slice()]));
    assert_eq!(B256::from_slice(&out[32..64]), keccak256(chain.code(p)));
    assert_eq!(&out[72..75], &[0xEF, 0xF0, 0x00]);
}

#[test]
fn gas_and_ink_left_decrease() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let out = chain.call_ok(p, op(0x0B, &[]));
    let le = |i: usize| u64::from_le_bytes(out[i..i + 8].try_into().unwrap());
    let (gas0, ink0, gas1, ink1) = (le(0), le(8), le(16), le(24));
    assert!(gas0 > gas1 && ink0 > ink1, "{gas0} {ink0} {gas1} {ink1}");
    assert!(gas0 < GAS && gas0 > GAS - 100_000);
    // ink = gas × 10,000 (to within one gas of rounding).
    assert!(ink0 / 10_000 == gas0 || ink0 / 10_000 == gas0 + 1);
    // 1000 iterations of ~5 operators cost a few gas, not thousands.
    assert!(gas0 - gas1 < 1_000, "loop cost {}", gas0 - gas1);
}

#[test]
fn native_keccak256() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let data = vec![0xAB; 100];
    assert_eq!(
        chain.call_ok(p, op(0x0F, &[&data])).as_ref(),
        keccak256(&data).as_slice()
    );
}

#[test]
fn revert_and_exit_early() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let r = chain.call(p, op(0x10, &[b"nope"]));
    assert_eq!(revert_data(&r).unwrap().as_ref(), b"nope");
    assert!(gas_used(&r) < GAS / 2, "a revert keeps its gas");
    assert_eq!(
        chain.call_ok(p, op(0x11, &[&[0], b"early"])).as_ref(),
        b"early"
    );
    let r = chain.call(p, op(0x11, &[&[3], b"bad"]));
    assert_eq!(revert_data(&r).unwrap().as_ref(), b"bad");
}

#[test]
fn out_of_ink_consumes_all_gas() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let r = chain.send_gas(ALICE, TxKind::Call(p), U256::ZERO, op(0x12, &[]), 1_000_000);
    assert!(
        matches!(
            r,
            ExecutionResult::Halt {
                reason: HaltReason::OutOfGas(_),
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(gas_used(&r), 1_000_000);
}

#[test]
fn traps_revert_without_data() {
    let mut chain = Chain::new();
    let p = chain.probe();
    for code in [0x15, 0x19] {
        let r = chain.call(p, op(code, &[]));
        assert_eq!(revert_data(&r).unwrap().len(), 0, "{r:?}");
    }
}

#[test]
fn memory_growth_is_charged() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let out = chain.call_ok(p, op(0x13, &[&[4]]));
    let before = u64::from_le_bytes(out[0..8].try_into().unwrap());
    let after = u64::from_le_bytes(out[8..16].try_into().unwrap());
    assert_eq!(u32::from_le_bytes(out[16..20].try_into().unwrap()), 5);
    // One page is open: growing by 4 opens pages 2..5, three beyond the two free ones.
    let charged = before - after;
    assert!((3_000..3_200).contains(&charged), "charged {charged}");
    // Beyond the 128-page limit memory.grow fails (returns -1) instead of growing.
    let out = chain.call_ok(p, op(0x13, &[&[200]]));
    assert_eq!(u32::from_le_bytes(out[16..20].try_into().unwrap()), 1);
}

#[test]
fn math_hostios() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let out = chain.call_ok(p, op(0x14, &[&word(10), &word(3), &word(7)]));
    let w = |i: usize| U256::from_be_slice(&out[i * 32..(i + 1) * 32]);
    assert_eq!(w(0), U256::from(3));
    assert_eq!(w(1), U256::from(1));
    assert_eq!(w(2), U256::from(1000));
    assert_eq!(w(3), U256::from(6));
    assert_eq!(w(4), U256::from(2));
}

#[test]
fn console_imports_are_accepted_and_logged() {
    let mut chain = Chain::new();
    let p = chain.program(
        r#"(module
            (import "console" "log_txt" (func $log (param i32 i32)))
            (import "console" "log_i32" (func $log_i32 (param i32)))
            (import "console" "tee_i64" (func $tee (param i64) (result i64)))
            (import "vm_hooks" "write_result" (func $write_result (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 0) "hi")
            (func (export "user_entrypoint") (param i32) (result i32)
              (call $log (i32.const 0) (i32.const 2))
              (call $log_i32 (i32.const 42))
              (i64.store (i32.const 8) (call $tee (i64.const 5)))
              (call $write_result (i32.const 8) (i32.const 8))
              (i32.const 0)))"#,
    );
    assert_eq!(chain.call_ok(p, Vec::new()).as_ref(), &5u64.to_le_bytes());
}

#[test]
fn every_vm_hook_is_declared_by_the_probe() {
    // The probe imports every vm_hooks function the engine implements, so the tests above
    // exercise each of them at least once.
    for name in devnode::stylus::vm_hooks() {
        assert!(
            PROBE.contains(&format!("\"vm_hooks\" \"{name}\"")),
            "probe does not import {name}"
        );
    }
}
