//! ArbWasm activation: Nitro's validation with typed errors, the data fee and its refund, the
//! read methods, ArbSys, and the raw rustc 1.95 output Nitro rejects.

use crate::support::*;
use alloy::{
    primitives::{keccak256, Address, TxKind, U256},
    sol_types::SolCall,
};
use devnode::precompiles::{IArbSys, IArbWasm, ARB_SYS, ARB_WASM};
use revm::{context_interface::result::ExecutionResult, state::AccountInfo, state::Bytecode};

const MINIMAL: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#;

fn deploy_wat(chain: &mut Chain, wat: &str) -> Address {
    chain.deploy(&stylus_code(&wat::parse_str(wat).unwrap()))
}

#[test]
fn activation_returns_version_and_fee_and_refunds_the_rest() {
    let mut chain = Chain::new();
    let p = deploy_wat(&mut chain, PROBE);
    // cargo-stylus learns the fee with an eth_call first; with zero value it reverts with the fee.
    let err =
        expect_error::<IArbWasm::ProgramInsufficientValue>(&chain.activate_with(p, U256::ZERO));
    assert_eq!(err.have, U256::ZERO);
    let fee = err.want;
    assert!(fee > U256::ZERO);
    let alice = chain.balance(ALICE);
    let coinbase = chain.balance(COINBASE);
    let result = chain.activate_with(p, ether(1));
    let ExecutionResult::Success { output, logs, .. } = &result else {
        panic!("{result:?}")
    };
    let ret = IArbWasm::activateProgramCall::abi_decode_returns(output.data()).unwrap();
    assert_eq!(ret.version, 2);
    assert!(
        ret.dataFee >= fee,
        "demand only grows within the same second"
    );
    assert_eq!(
        chain.balance(ALICE),
        alice - ret.dataFee,
        "excess refunded (gas price 0)"
    );
    assert_eq!(chain.balance(COINBASE), coinbase + ret.dataFee);
    assert_eq!(chain.balance(ARB_WASM), U256::ZERO);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].topics()[1], keccak256(chain.code(p)));
    // Once active: up to date.
    expect_error::<IArbWasm::ProgramUpToDate>(&chain.activate(p));
}

#[test]
fn failed_activation_leaves_the_program_inactive() {
    let mut chain = Chain::new();
    let p = deploy_wat(&mut chain, MINIMAL);
    expect_error::<IArbWasm::ProgramInsufficientValue>(&chain.activate_with(p, U256::ONE));
    expect_error::<IArbWasm::ProgramNotActivated>(&chain.call(p, Vec::new()));
}

#[test]
fn read_methods() {
    let mut chain = Chain::new();
    let p = deploy_wat(&mut chain, MINIMAL);
    let hash = keccak256(chain.code(p));
    let call = |chain: &mut Chain, data: Vec<u8>| chain.call(ARB_WASM, data);
    let r = call(
        &mut chain,
        IArbWasm::programVersionCall { program: p }.abi_encode(),
    );
    expect_error::<IArbWasm::ProgramNotActivated>(&r);
    chain.activate(p);
    let out = chain.call_ok(
        ARB_WASM,
        IArbWasm::programVersionCall { program: p }.abi_encode(),
    );
    assert_eq!(
        IArbWasm::programVersionCall::abi_decode_returns(&out).unwrap(),
        2
    );
    let out = chain.call_ok(
        ARB_WASM,
        IArbWasm::codehashVersionCall { codehash: hash }.abi_encode(),
    );
    assert_eq!(
        IArbWasm::codehashVersionCall::abi_decode_returns(&out).unwrap(),
        2
    );
    let out = chain.call_ok(ARB_WASM, IArbWasm::stylusVersionCall {}.abi_encode());
    assert_eq!(
        IArbWasm::stylusVersionCall::abi_decode_returns(&out).unwrap(),
        2
    );
    let out = chain.call_ok(ARB_WASM, IArbWasm::inkPriceCall {}.abi_encode());
    assert_eq!(
        IArbWasm::inkPriceCall::abi_decode_returns(&out).unwrap(),
        10_000
    );
    let out = chain.call_ok(ARB_WASM, IArbWasm::freePagesCall {}.abi_encode());
    assert_eq!(
        IArbWasm::freePagesCall::abi_decode_returns(&out).unwrap(),
        2
    );
    let out = chain.call_ok(ARB_WASM, IArbWasm::pageLimitCall {}.abi_encode());
    assert_eq!(
        IArbWasm::pageLimitCall::abi_decode_returns(&out).unwrap(),
        128
    );
    let out = chain.call_ok(
        ARB_WASM,
        IArbWasm::programMemoryFootprintCall { program: p }.abi_encode(),
    );
    assert_eq!(
        IArbWasm::programMemoryFootprintCall::abi_decode_returns(&out).unwrap(),
        1
    );
    let out = chain.call_ok(
        ARB_WASM,
        IArbWasm::programTimeLeftCall { program: p }.abi_encode(),
    );
    assert_eq!(
        IArbWasm::programTimeLeftCall::abi_decode_returns(&out).unwrap(),
        365 * 86_400
    );
    let out = chain.call_ok(
        ARB_WASM,
        IArbWasm::programInitGasCall { program: p }.abi_encode(),
    );
    let init = IArbWasm::programInitGasCall::abi_decode_returns(&out).unwrap();
    assert!(init.gas > init.gasWhenCached);
    // Keepalive is too soon right after activation.
    let r = chain.call(
        ARB_WASM,
        IArbWasm::codehashKeepaliveCall { codehash: hash }.abi_encode(),
    );
    expect_error::<IArbWasm::ProgramKeepaliveTooSoon>(&r);
}

#[test]
fn arbsys_reports_block_chain_and_version() {
    let mut chain = Chain::new();
    let out = chain.call_ok(ARB_SYS, IArbSys::arbBlockNumberCall {}.abi_encode());
    assert_eq!(
        IArbSys::arbBlockNumberCall::abi_decode_returns(&out).unwrap(),
        U256::from(7)
    );
    let out = chain.call_ok(ARB_SYS, IArbSys::arbChainIDCall {}.abi_encode());
    assert_eq!(
        IArbSys::arbChainIDCall::abi_decode_returns(&out).unwrap(),
        U256::from(CHAIN_ID)
    );
    let out = chain.call_ok(ARB_SYS, IArbSys::arbOSVersionCall {}.abi_encode());
    assert!(IArbSys::arbOSVersionCall::abi_decode_returns(&out).unwrap() > U256::from(55));
}

#[test]
fn activation_persists_in_state_and_rolls_back_with_its_transaction() {
    let mut chain = Chain::new();
    let p = deploy_wat(&mut chain, MINIMAL);
    // A fresh engine (empty module cache) over the same state still runs the program.
    chain.activate(p);
    chain.engine = devnode::evm::Engine::new();
    chain.call_ok(p, Vec::new());
    // An activation inside a reverted call is undone: EVM code that calls activateProgram, then
    // reverts. Calldata: activateProgram(q) is forwarded by `evm_forwarder`, which reverts only
    // if the call fails, so wrap it in a program call that reverts afterwards.
    let q = deploy_wat(
        &mut chain,
        r#"(module (memory (export "memory") 2)
        (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#,
    );
    let probe = chain.probe();
    let activate = IArbWasm::activateProgramCall { program: q }.abi_encode();
    chain.send(ALICE, TxKind::Call(probe), ether(2), Vec::new());
    let r = chain.call(
        probe,
        op(
            0x17,
            &[&call_args(0, ARB_WASM, ether(1), u64::MAX, &activate)],
        ),
    );
    assert_eq!(
        call_result(&revert_data(&r).unwrap()).0,
        0,
        "activation itself succeeded"
    );
    expect_error::<IArbWasm::ProgramNotActivated>(&chain.call(q, Vec::new()));
}

fn activation_error(chain: &mut Chain, code: Vec<u8>) -> ExecutionResult {
    let address = Address::repeat_byte(0x55);
    chain.db.insert_account_info(
        address,
        AccountInfo {
            code_hash: keccak256(&code),
            code: Some(Bytecode::new_legacy(code.into())),
            nonce: 1,
            ..Default::default()
        },
    );
    chain.activate(address)
}

#[test]
fn rejects_evm_code_as_not_wasm() {
    let mut chain = Chain::new();
    let echo = chain.deploy(EVM_ECHO);
    expect_error::<IArbWasm::ProgramNotWasm>(&chain.activate(echo));
}

#[test]
fn rejects_bad_brotli() {
    let mut chain = Chain::new();
    let r = activation_error(
        &mut chain,
        vec![0xEF, 0xF0, 0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0x01],
    );
    expect_error::<IArbWasm::ProgramBadCompression>(&r);
    // Nitro's ActivateProgram takes all gas only once the wasm is read (getWasm errors return takeAllGas =
    // false); an invalid wasm takes all of it (rejects_invalid_wasm).
    assert!(
        gas_used(&r) < GAS,
        "unreadable code does not take all gas, like Nitro"
    );
}

#[test]
fn rejects_invalid_wasm() {
    let mut chain = Chain::new();
    let r = activation_error(&mut chain, stylus_code(b"\0asm\x01\0\0\0garbage"));
    let e = expect_error::<IArbWasm::ProgramInvalidWasm>(&r);
    assert!(!e.reason.is_empty());
    assert_eq!(
        gas_used(&r),
        GAS,
        "failed validation takes all gas, like Nitro"
    );
}

#[test]
fn rejects_unknown_import_naming_it() {
    let mut chain = Chain::new();
    let wasm = wat::parse_str(
        r#"(module (import "vm_hooks" "teleport" (func (param i32)))
           (memory (export "memory") 1)
           (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let e = expect_error::<IArbWasm::ProgramUnknownImport>(&activation_error(
        &mut chain,
        stylus_code(&wasm),
    ));
    assert_eq!(
        (e.module.as_str(), e.name.as_str()),
        ("vm_hooks", "teleport")
    );
    let wasm = wat::parse_str(
        r#"(module (import "env" "abort" (func))
           (memory (export "memory") 1)
           (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let e = expect_error::<IArbWasm::ProgramUnknownImport>(&activation_error(
        &mut chain,
        stylus_code(&wasm),
    ));
    assert_eq!((e.module.as_str(), e.name.as_str()), ("env", "abort"));
}

#[test]
fn rejects_missing_exports() {
    let mut chain = Chain::new();
    let no_entry = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
    let e = expect_error::<IArbWasm::ProgramMissingExport>(&activation_error(
        &mut chain,
        stylus_code(&no_entry),
    ));
    assert_eq!(e.name, "user_entrypoint");
    let no_memory = wat::parse_str(
        r#"(module (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let e = expect_error::<IArbWasm::ProgramMissingExport>(&activation_error(
        &mut chain,
        stylus_code(&no_memory),
    ));
    assert_eq!(e.name, "memory");
}

#[test]
fn rejects_forbidden_features() {
    let mut chain = Chain::new();
    let cases = [
        // SIMD
        r#"(module (memory (export "memory") 1)
           (func (export "user_entrypoint") (param i32) (result i32)
             (drop (v128.const i32x4 0 0 0 0)) (i32.const 0)))"#,
        // reference types
        r#"(module (memory (export "memory") 1) (table 1 externref)
           (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#,
        // multi-value
        r#"(module (memory (export "memory") 1)
           (func $two (result i32 i32) (i32.const 1) (i32.const 2))
           (func (export "user_entrypoint") (param i32) (result i32) (call $two) (drop)))"#,
        // tail calls
        r#"(module (memory (export "memory") 1)
           (func $f (result i32) (i32.const 0))
           (func (export "user_entrypoint") (param i32) (result i32) (return_call $f)))"#,
        // floating point
        r#"(module (memory (export "memory") 1)
           (func (export "user_entrypoint") (param i32) (result i32)
             (i32.trunc_f32_s (f32.const 1))))"#,
        // threads (shared memory)
        r#"(module (memory (export "memory") 1 1 shared)
           (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#,
        // start function
        r#"(module (memory (export "memory") 1) (func $s) (start $s)
           (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#,
    ];
    for wat in cases {
        let r = activation_error(&mut chain, stylus_code(&wat::parse_str(wat).unwrap()));
        expect_error::<IArbWasm::ProgramForbiddenFeature>(&r);
    }
}

#[test]
fn rejects_programs_over_either_size_limit() {
    let mut chain = Chain::new();
    // Decompressed WASM over 128 KiB (compresses to almost nothing).
    let zeros = "\\00".repeat(140_000);
    let wat = format!(
        r#"(module (memory (export "memory") 3) (data (i32.const 0) "{zeros}")
           (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#
    );
    let big = stylus_code(&wat::parse_str(&wat).unwrap());
    assert!(big.len() < 24_576);
    let e = expect_error::<IArbWasm::ProgramWasmTooLarge>(&activation_error(&mut chain, big));
    assert_eq!(e.limit, U256::from(128 * 1024));
    // Compressed code over 24,576 bytes: incompressible data (CREATE itself would refuse it, so
    // the code is placed in state directly, as an eth_call state override would).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: String = (0..30_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("\\{:02x}", x as u8)
        })
        .collect();
    let wat = format!(
        r#"(module (memory (export "memory") 1) (data (i32.const 0) "{noise}")
           (func (export "user_entrypoint") (param i32) (result i32) (i32.const 0)))"#
    );
    let code = stylus_code(&wat::parse_str(&wat).unwrap());
    assert!(code.len() > 24_576);
    let e = expect_error::<IArbWasm::ProgramCodeTooLarge>(&activation_error(&mut chain, code));
    assert_eq!(e.limit, U256::from(24_576));
}

#[test]
fn rejects_raw_rustc_output_and_accepts_it_after_a_wat_round_trip() {
    let raw = include_bytes!("../../testdata/rustc_raw/raw.wasm");
    let mut chain = Chain::new();
    let e = expect_error::<IArbWasm::ProgramForbiddenFeature>(&activation_error(
        &mut chain,
        stylus_code(raw),
    ));
    assert!(e.reason.contains("zero byte expected"), "{}", e.reason);
    // The fix cargo-stylus applies: print to text and parse again.
    let text = wasmprinter::print_bytes(raw).unwrap();
    let fixed = wat::parse_str(&text).unwrap();
    let mut chain = Chain::new();
    let p = chain.deploy(&stylus_code(&fixed));
    assert!(matches!(chain.activate(p), ExecutionResult::Success { .. }));
    // OPS[1] = square: 9² = 81; OPS[0] = double.
    assert_eq!(chain.call_ok(p, vec![1, 9]).as_ref(), &[81, 2]);
    assert_eq!(chain.call_ok(p, vec![0, 9]).as_ref(), &[18, 2]);
}
