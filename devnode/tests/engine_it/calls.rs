//! Calls out of programs: to programs and EVM code, value, static and delegate calls, nested
//! rollback, reentrancy, create1/create2, and EVM code calling programs.

use crate::support::*;
use alloy::primitives::{keccak256, Address, TxKind, B256, U256};
use revm::context_interface::result::ExecutionResult;

#[test]
fn program_calls_evm_code_and_gets_return_data() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let echo = chain.deploy(EVM_ECHO);
    let out = chain.call_ok(
        p,
        op(0x0C, &[&call_args(0, echo, U256::ZERO, u64::MAX, b"ping")]),
    );
    assert_eq!(call_result(&out), (0, b"ping".to_vec()));
    // read_return_data with an offset and a size: bytes 2..5.
    let out = chain.call_ok(
        p,
        op(
            0x18,
            &[&call_args(0, echo, U256::ZERO, u64::MAX, b"abcdefg")],
        ),
    );
    assert_eq!(out.as_ref(), b"cde");
}

#[test]
fn program_calls_program_with_value() {
    let mut chain = Chain::new();
    let a = chain.probe();
    // Same code hash as A: already active.
    let b = chain.deploy(&chain_code());
    let result = chain.send(
        ALICE,
        TxKind::Call(a),
        U256::from(1_000),
        op(
            0x0C,
            &[&call_args(0, b, U256::from(400), u64::MAX, &op(0x08, &[]))],
        ),
    );
    let ExecutionResult::Success { output, .. } = result else {
        panic!("{result:?}")
    };
    let (status, inner) = call_result(&output.into_data());
    assert_eq!(status, 0);
    assert_eq!(
        Address::from_slice(&inner[0..20]),
        a,
        "msg.sender is the calling program"
    );
    assert_eq!(U256::from_be_slice(&inner[20..52]), U256::from(400));
    assert_eq!(Address::from_slice(&inner[52..72]), ALICE, "tx.origin");
    assert_eq!(chain.balance(a), U256::from(600));
    assert_eq!(chain.balance(b), U256::from(400));
}

/// The probe's code (a second copy of the same program, activated once per code hash).
fn chain_code() -> Vec<u8> {
    stylus_code(&wat::parse_str(PROBE).unwrap())
}

#[test]
fn evm_code_calls_a_program() {
    let mut chain = Chain::new();
    let p = chain.probe();
    let fwd = chain.deploy(&evm_forwarder(p));
    let out = chain.call_ok(fwd, op(0x0F, &[b"via evm"]));
    assert_eq!(out.as_ref(), keccak256(b"via evm").as_slice());
    // msg.sender seen by the program is the EVM contract.
    let out = chain.call_ok(fwd, op(0x08, &[]));
    assert_eq!(Address::from_slice(&out[0..20]), fwd);
    // The program's revert data comes back through the EVM.
    let r = chain.call(fwd, op(0x10, &[b"deep"]));
    assert_eq!(revert_data(&r).unwrap().as_ref(), b"deep");
}

#[test]
fn callee_revert_rolls_back_only_the_callee() {
    let mut chain = Chain::new();
    let a = chain.probe();
    let b = chain.deploy(&chain_code());
    let store42 = chain.deploy(EVM_STORE_42);
    // A stores slot 1, then calls B; B calls EVM code that stores 42, then B reverts.
    let b_data = op(0x17, &[&call_args(0, store42, U256::ZERO, u64::MAX, &[])]);
    let out = chain.call_ok(
        a,
        op(
            0x16,
            &[
                &word(1),
                &word(11),
                &call_args(0, b, U256::ZERO, u64::MAX, &b_data),
            ],
        ),
    );
    let (status, _) = call_result(&out);
    assert_eq!(status, 1, "B reverted");
    assert_eq!(chain.storage(a, word(1).into()), B256::from(word(11)));
    assert_eq!(chain.storage(store42, B256::ZERO), B256::ZERO);
}

#[test]
fn caller_revert_rolls_back_nested_calls() {
    let mut chain = Chain::new();
    let a = chain.probe();
    let store42 = chain.deploy(EVM_STORE_42);
    let b = chain.deploy(&chain_code());
    // A calls B, B stores (flushes) slot 1 and calls EVM code storing 42; then A reverts.
    let b_data = op(
        0x16,
        &[
            &word(1),
            &word(5),
            &call_args(0, store42, U256::ZERO, u64::MAX, &[]),
        ],
    );
    let r = chain.call(
        a,
        op(0x17, &[&call_args(0, b, U256::ZERO, u64::MAX, &b_data)]),
    );
    let data = revert_data(&r).expect("A reverted");
    assert_eq!(call_result(&data).0, 0, "B itself succeeded");
    assert_eq!(chain.storage(b, word(1).into()), B256::ZERO);
    assert_eq!(chain.storage(store42, B256::ZERO), B256::ZERO);
    // Without the revert both writes persist.
    chain.call_ok(
        a,
        op(0x0C, &[&call_args(0, b, U256::ZERO, u64::MAX, &b_data)]),
    );
    assert_eq!(chain.storage(b, word(1).into()), B256::from(word(5)));
    assert_eq!(chain.storage(store42, B256::ZERO), B256::from(word(42)));
}

#[test]
fn reentrancy_a_b_a_sees_msg_reentrant() {
    let mut chain = Chain::new();
    let a = chain.probe();
    let b = chain.deploy(&chain_code());
    // A → B → A(op 0x08): the inner A reports reentrant = 1, B (first entry) would report 0.
    let inner = op(0x08, &[]);
    let b_data = op(0x0C, &[&call_args(0, a, U256::ZERO, u64::MAX, &inner)]);
    let out = chain.call_ok(
        a,
        op(0x0C, &[&call_args(0, b, U256::ZERO, u64::MAX, &b_data)]),
    );
    let (status, b_out) = call_result(&out);
    assert_eq!(status, 0);
    let (status, a_out) = call_result(&b_out);
    assert_eq!(status, 0);
    assert_eq!(Address::from_slice(&a_out[0..20]), b);
    assert_eq!(a_out[92], 1, "inner A is reentrant");
    let direct = chain.call_ok(
        b,
        op(0x0C, &[&call_args(0, a, U256::ZERO, u64::MAX, &inner)]),
    );
    assert_eq!(
        call_result(&direct).1[92],
        0,
        "A entered once is not reentrant"
    );
    // State written by the reentrant frame is visible to the outer one afterwards.
    let write = op(0x02, &[&word(9), &word(99)]);
    let b_data = op(0x0C, &[&call_args(0, a, U256::ZERO, u64::MAX, &write)]);
    chain.call_ok(
        a,
        op(0x0C, &[&call_args(0, b, U256::ZERO, u64::MAX, &b_data)]),
    );
    assert_eq!(chain.storage(a, word(9).into()), B256::from(word(99)));
}

#[test]
fn static_call_forbids_writes_and_delegate_call_uses_caller_storage() {
    let mut chain = Chain::new();
    let a = chain.probe();
    let b = chain.deploy(&chain_code());
    let write = op(0x02, &[&word(1), &word(1)]);
    let out = chain.call_ok(
        a,
        op(0x0C, &[&call_args(2, b, U256::ZERO, u64::MAX, &write)]),
    );
    assert_ne!(call_result(&out).0, 0, "write in a static call fails");
    let out = chain.call_ok(
        a,
        op(
            0x0C,
            &[&call_args(
                2,
                b,
                U256::ZERO,
                u64::MAX,
                &op(0x01, &[&word(1)]),
            )],
        ),
    );
    assert_eq!(call_result(&out).0, 0, "reads in a static call work");
    // Delegate call: B's code writes A's storage.
    let out = chain.call_ok(
        a,
        op(
            0x0C,
            &[&call_args(
                1,
                b,
                U256::ZERO,
                u64::MAX,
                &op(0x02, &[&word(4), &word(44)]),
            )],
        ),
    );
    assert_eq!(call_result(&out).0, 0);
    assert_eq!(chain.storage(a, word(4).into()), B256::from(word(44)));
    assert_eq!(chain.storage(b, word(4).into()), B256::ZERO);
}

#[test]
fn create1_and_create2_from_a_program() {
    let mut chain = Chain::new();
    let p = chain.probe();
    chain.send(ALICE, TxKind::Call(p), U256::from(50), Vec::new());
    let init = standard_initcode(EVM_ECHO);
    let out = chain.call_ok(p, op(0x0D, &[&word(10), &init]));
    let created = Address::from_slice(&out[0..20]);
    assert_eq!(
        created,
        p.create(1),
        "CREATE address from the program's nonce"
    );
    assert_eq!(chain.code(created).as_ref(), EVM_ECHO);
    assert_eq!(chain.balance(created), U256::from(10));
    let salt = word(77);
    let out = chain.call_ok(p, op(0x0E, &[&word(0), &salt, &init]));
    let created = Address::from_slice(&out[0..20]);
    assert_eq!(created, p.create2(salt, keccak256(&init)));
    assert_eq!(chain.code(created).as_ref(), EVM_ECHO);
    // A reverting initcode yields the zero address and its revert data length.
    let reverting = [0x60, 0x01, 0x5f, 0xfd]; // PUSH1 1 PUSH0 REVERT: one byte of revert data
    let out = chain.call_ok(p, op(0x0D, &[&word(0), &reverting]));
    assert_eq!(Address::from_slice(&out[0..20]), Address::ZERO);
    assert_eq!(u32::from_le_bytes(out[20..24].try_into().unwrap()), 1);
    // A program can deploy a Stylus program too.
    let out = chain.call_ok(p, op(0x0D, &[&word(0), &standard_initcode(&chain_code())]));
    let created = Address::from_slice(&out[0..20]);
    assert_eq!(chain.code(created).as_ref(), chain_code().as_slice());
}

#[test]
fn deeply_nested_program_calls_do_not_overflow_the_stack() {
    // 60 nested program frames on a 1 MiB thread: without the engine growing its stack this
    // overflows (each nested frame takes tens of KiB of native stack in a debug build).
    // Deeper nesting is limited by Nitro's exponential memory price (each frame opens a page).
    let run = || {
        let mut chain = Chain::new();
        let p = chain.probe();
        let depth = 60;
        let mut data = op(0x08, &[]);
        for _ in 0..depth {
            data = op(0x0C, &[&call_args(0, p, U256::ZERO, u64::MAX, &data)]);
        }
        let mut out = chain.call_ok(p, data).to_vec();
        for _ in 0..depth {
            let (status, inner) = call_result(&out);
            assert_eq!(status, 0);
            out = inner;
        }
        assert_eq!(Address::from_slice(&out[0..20]), p);
        assert_eq!(out[92], 1, "reentrant");
    };
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}
