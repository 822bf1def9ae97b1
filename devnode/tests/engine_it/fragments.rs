//! ArbOS 60 fragmented programs through real activation: a program over the 24,576-byte code limit deployed as
//! fragments and a root, activated (fragment limit set through `ArbOwner`) and called; every malformed root and
//! fragment is a typed `ArbWasm` error; the owner-only setter refuses strangers and `ArbDebug` lets them in.

use crate::support::*;
use alloy::{
    primitives::{keccak256, Address, TxKind, U256},
    sol_types::{SolCall, SolEvent},
};
use devnode::{
    chain::predeploys::NITRO_DEV_ADDRESS,
    precompiles::{
        IArbDebug, IArbOwner, IArbOwnerPublic, IArbSys, IArbWasm, ARB_DEBUG, ARB_OWNER,
        ARB_OWNER_PUBLIC, ARB_SYS,
    },
    stylus::{RootProgram, FRAGMENT_PREFIX},
};
use revm::{
    context_interface::result::{ExecutionResult, HaltReason},
    state::AccountInfo,
};

/// Bytes of fragment payload per fragment (the code limit less the 3-byte prefix), as cargo-stylus splits.
const CHUNK: usize = 24_576 - 3;

/// A program returning "fragmented!" that carries `noise` incompressible bytes in a data segment.
fn big_program(noise: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_u32;
    let mut data = String::with_capacity(noise * 3);
    for _ in 0..noise {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push_str(&format!("\\{:02x}", x as u8));
    }
    let wat = format!(
        r#"(module
  (import "vm_hooks" "write_result" (func $write_result (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "fragmented!")
  (data (i32.const 64) "{data}")
  (func (export "user_entrypoint") (param i32) (result i32)
    (call $write_result (i32.const 0) (i32.const 11))
    (i32.const 0)))"#
    );
    wat::parse_str(wat).expect("valid wat")
}

/// The brotli stream of `wasm` (the deployed code without its 4-byte prefix).
fn stream(wasm: &[u8]) -> Vec<u8> {
    stylus_code(wasm)[4..].to_vec()
}

fn fragment_code(chunk: &[u8]) -> Vec<u8> {
    let mut code = FRAGMENT_PREFIX.to_vec();
    code.extend_from_slice(chunk);
    code
}

/// Deploys `wasm`'s brotli stream as fragments of at most `chunk` bytes; returns their addresses.
fn deploy_fragments(chain: &mut Chain, wasm: &[u8], chunk: usize) -> Vec<Address> {
    stream(wasm)
        .chunks(chunk)
        .map(|c| chain.deploy(&fragment_code(c)))
        .collect()
}

fn set_max_fragments(chain: &mut Chain, from: Address, max: u8) -> ExecutionResult {
    let data = IArbOwner::setMaxStylusContractFragmentsCall { maxFragments: max }.abi_encode();
    chain.send(from, TxKind::Call(ARB_OWNER), U256::ZERO, data)
}

fn nitro_dev_chain() -> Chain {
    let mut chain = Chain::new();
    chain.db.insert_account_info(
        NITRO_DEV_ADDRESS,
        AccountInfo {
            balance: ether(10),
            ..Default::default()
        },
    );
    chain
}

#[test]
fn a_program_over_the_code_limit_deploys_as_fragments_activates_and_answers() {
    let mut chain = Chain::new();
    let wasm = big_program(30_000);
    assert!(stream(&wasm).len() > 24_576, "one contract cannot hold it");
    let fragments = deploy_fragments(&mut chain, &wasm, CHUNK);
    assert_eq!(fragments.len(), 2);
    let root_code = RootProgram::encode(wasm.len() as u32, &fragments);
    let root = chain.deploy(&root_code);

    expect_error::<IArbWasm::ProgramNotActivated>(&chain.call(root, Vec::new()));
    let result = chain.activate(root);
    let ExecutionResult::Success { logs, .. } = &result else {
        panic!("activation failed: {result:?}")
    };
    let event = IArbWasm::ProgramActivated::decode_log_data(&logs[0].data).expect("event");
    assert_eq!(event.codehash, keccak256(&root_code));
    assert_eq!(event.program, root);
    assert!(event.dataFee > U256::ZERO, "priced from the assembled wasm");

    assert_eq!(chain.call_ok(root, Vec::new()).as_ref(), b"fragmented!");
    // Fragments are not programs: run as EVM code their 0xEF is an invalid opcode.
    let direct = chain.call(fragments[0], Vec::new());
    assert!(matches!(direct, ExecutionResult::Halt { .. }), "{direct:?}");
    // The chain says ArbOS 60, where fragments exist.
    let out = chain.call_ok(ARB_SYS, IArbSys::arbOSVersionCall {}.abi_encode());
    assert_eq!(
        IArbSys::arbOSVersionCall::abi_decode_returns(&out).unwrap(),
        U256::from(55 + 60)
    );
}

#[test]
fn activation_charges_fragment_reads() {
    // The same program as one fragment or split in four: each extra fragment costs a cold read.
    let mut chain = nitro_dev_chain();
    let _ = set_max_fragments(&mut chain, NITRO_DEV_ADDRESS, 8);
    let wasm = big_program(4_000);
    let one = deploy_fragments(&mut chain, &wasm, CHUNK);
    let four = deploy_fragments(&mut chain, &wasm, stream(&wasm).len().div_ceil(4));
    assert_eq!((one.len(), four.len()), (1, 4));
    let one = chain.deploy(&RootProgram::encode(wasm.len() as u32, &one));
    // The two roots differ, so both activate.
    let four = chain.deploy(&RootProgram::encode(wasm.len() as u32, &four));
    // The transactions' calldata differ only in the address: take its intrinsic cost out.
    let calldata_gas = |program: Address| -> u64 {
        IArbWasm::activateProgramCall { program }
            .abi_encode()
            .iter()
            .map(|&b| if b == 0 { 4 } else { 16 })
            .sum()
    };
    let gas_one = gas_used(&chain.activate(one)) - calldata_gas(one);
    let gas_four = gas_used(&chain.activate(four)) - calldata_gas(four);
    // 3 more cold reads (2,600 each) and 3 more 3-byte prefixes; the chunk words differ by rounding only
    // (at most one word per fragment, 3 gas each).
    let diff = gas_four - gas_one;
    assert!(
        (3 * 2_600..=3 * 2_600 + 5 * 3).contains(&diff),
        "{gas_one} vs {gas_four}"
    );
    assert_eq!(chain.call_ok(four, Vec::new()).as_ref(), b"fragmented!");
}

#[test]
fn more_fragments_than_the_chain_allows_is_rejected_until_the_owner_raises_it() {
    let mut chain = nitro_dev_chain();
    let wasm = big_program(30_000);
    let fragments = deploy_fragments(&mut chain, &wasm, 12_000);
    assert_eq!(fragments.len(), 3);
    let root = chain.deploy(&RootProgram::encode(wasm.len() as u32, &fragments));
    let out = chain.call_ok(
        ARB_OWNER_PUBLIC,
        IArbOwnerPublic::getMaxStylusContractFragmentsCall {}.abi_encode(),
    );
    assert_eq!(out[31], 2, "Nitro's default at ArbOS 60");
    let err = expect_error::<IArbWasm::ProgramTooManyFragments>(&chain.activate(root));
    assert_eq!((err.count, err.limit), (U256::from(3), 2));

    // A stranger cannot raise it; the Nitro dev account (the chain owner) can.
    let err = expect_error::<IArbOwner::NotChainOwner>(&set_max_fragments(&mut chain, ALICE, 3));
    assert_eq!(err.caller, ALICE);
    assert!(matches!(
        set_max_fragments(&mut chain, NITRO_DEV_ADDRESS, 3),
        ExecutionResult::Success { .. }
    ));
    assert!(matches!(
        chain.activate(root),
        ExecutionResult::Success { .. }
    ));
    assert_eq!(chain.call_ok(root, Vec::new()).as_ref(), b"fragmented!");
}

#[test]
fn arb_debug_makes_the_caller_a_chain_owner() {
    let mut chain = Chain::new();
    let is_owner = |chain: &mut Chain, who: Address| {
        let out = chain.call_ok(
            ARB_OWNER_PUBLIC,
            IArbOwnerPublic::isChainOwnerCall { addr: who }.abi_encode(),
        );
        IArbOwnerPublic::isChainOwnerCall::abi_decode_returns(&out).unwrap()
    };
    assert!(is_owner(&mut chain, NITRO_DEV_ADDRESS));
    assert!(!is_owner(&mut chain, ALICE));
    chain.call_ok(ARB_DEBUG, IArbDebug::becomeChainOwnerCall {}.abi_encode());
    assert!(is_owner(&mut chain, ALICE));
    assert!(matches!(
        set_max_fragments(&mut chain, ALICE, 0),
        ExecutionResult::Success { .. }
    ));
    let out = chain.call_ok(
        ARB_OWNER_PUBLIC,
        IArbOwnerPublic::getAllChainOwnersCall {}.abi_encode(),
    );
    assert_eq!(
        IArbOwnerPublic::getAllChainOwnersCall::abi_decode_returns(&out).unwrap(),
        vec![NITRO_DEV_ADDRESS, ALICE]
    );
    // Zero fragments allowed: no root activates.
    let wasm = big_program(100);
    let fragments = deploy_fragments(&mut chain, &wasm, CHUNK);
    let root = chain.deploy(&RootProgram::encode(wasm.len() as u32, &fragments));
    expect_error::<IArbWasm::ProgramTooManyFragments>(&chain.activate(root));
}

#[test]
fn a_fragment_cannot_be_activated() {
    let mut chain = Chain::new();
    let fragments = deploy_fragments(&mut chain, &big_program(100), CHUNK);
    expect_error::<IArbWasm::ProgramFragmentNotActivatable>(&chain.activate(fragments[0]));
}

#[test]
fn an_unknown_stylus_prefix_cannot_be_deployed() {
    let mut chain = Chain::new();
    let mut code = RootProgram::encode(10, &[Address::ZERO]);
    code[2] = 0x03;
    let result = chain.send(ALICE, TxKind::Create, U256::ZERO, standard_initcode(&code));
    assert!(
        matches!(
            result,
            ExecutionResult::Halt {
                reason: HaltReason::CreateContractStartingWithEF,
                ..
            }
        ),
        "{result:?}"
    );
}

#[test]
fn a_root_with_a_truncated_size_is_rejected() {
    let mut chain = Chain::new();
    let root = chain.deploy(&RootProgram::encode(10, &[])[..6]);
    let err = expect_error::<IArbWasm::ProgramRootTooShort>(&chain.activate(root));
    assert_eq!(err.size, U256::from(6));
}

#[test]
fn a_root_whose_addresses_are_not_a_multiple_of_20_is_rejected() {
    let mut chain = Chain::new();
    let fragments = deploy_fragments(&mut chain, &big_program(100), CHUNK);
    let mut code = RootProgram::encode(10, &fragments);
    code.extend_from_slice(&[0xAA; 7]);
    let root = chain.deploy(&code);
    let err = expect_error::<IArbWasm::ProgramRootBadAddresses>(&chain.activate(root));
    assert_eq!(err.length, U256::from(27));
}

#[test]
fn a_root_without_fragments_is_rejected() {
    let mut chain = Chain::new();
    let root = chain.deploy(&RootProgram::encode(10, &[]));
    expect_error::<IArbWasm::ProgramNoFragments>(&chain.activate(root));
}

#[test]
fn a_missing_or_non_fragment_address_is_rejected() {
    let mut chain = Chain::new();
    let wasm = big_program(100);
    let fragments = deploy_fragments(&mut chain, &wasm, CHUNK);
    let nobody = Address::repeat_byte(0x42);
    let classic = chain.deploy(&stylus_code(&wasm));
    for (stranger, index) in [(nobody, 1u64), (classic, 1)] {
        let root = chain.deploy(&RootProgram::encode(
            wasm.len() as u32,
            &[fragments[0], stranger],
        ));
        let result = chain.activate(root);
        let err = expect_error::<IArbWasm::ProgramNotAFragment>(&result);
        assert_eq!((err.index, err.fragment), (U256::from(index), stranger));
        // A root that cannot be read keeps the unspent gas (Nitro: getWasm errors do not take all gas).
        assert!(gas_used(&result) < GAS, "{}", gas_used(&result));
    }
}

#[test]
fn a_size_mismatch_after_decompression_is_rejected() {
    let mut chain = Chain::new();
    let wasm = big_program(100);
    let fragments = deploy_fragments(&mut chain, &wasm, CHUNK);
    for declared in [wasm.len() as u32 - 1, wasm.len() as u32 + 1] {
        let root = chain.deploy(&RootProgram::encode(declared, &fragments));
        let err = expect_error::<IArbWasm::ProgramSizeMismatch>(&chain.activate(root));
        assert_eq!(err.declared, U256::from(declared));
    }
}

#[test]
fn a_declared_size_over_the_wasm_limit_is_rejected() {
    let mut chain = Chain::new();
    let fragments = deploy_fragments(&mut chain, &big_program(100), CHUNK);
    let root = chain.deploy(&RootProgram::encode(128 * 1024 + 1, &fragments));
    expect_error::<IArbWasm::ProgramWasmTooLarge>(&chain.activate(root));
}
