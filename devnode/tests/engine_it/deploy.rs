//! Deployment as on Arbitrum: CREATE with an EVM initcode returning the Stylus code, then
//! activation; EIP-3541 still applies to every other 0xEF code.

use crate::support::*;
use alloy::primitives::{TxKind, U256};
use devnode::precompiles::IArbWasm;
use revm::context_interface::result::{ExecutionResult, HaltReason};

#[test]
fn standard_initcode_deploys_and_runs_after_activation() {
    let mut chain = Chain::new();
    let code = stylus_code(&wat::parse_str(PROBE).unwrap());
    let program = chain.deploy(&code);
    assert_eq!(chain.code(program).as_ref(), code.as_slice());
    // Before activation every call reverts with ProgramNotActivated and burns the gas.
    let result = chain.call(program, op(0x0F, &[b"x"]));
    expect_error::<IArbWasm::ProgramNotActivated>(&result);
    assert_eq!(gas_used(&result), GAS);
    assert!(matches!(
        chain.activate(program),
        ExecutionResult::Success { .. }
    ));
    let out = chain.call_ok(program, op(0x0F, &[b"x"]));
    assert_eq!(out.as_ref(), alloy::primitives::keccak256(b"x").as_slice());
}

#[test]
fn alternative_initcode_returning_same_code_deploys_an_equal_program() {
    let mut chain = Chain::new();
    let code = stylus_code(&wat::parse_str(PROBE).unwrap());
    let a = chain.deploy_initcode(standard_initcode(&code));
    let b = chain.deploy_initcode(alternative_initcode(&code));
    assert_ne!(a, b);
    assert_eq!(chain.code(a), chain.code(b));
    // Activation is per code hash: activating one activates the other.
    assert!(matches!(chain.activate(b), ExecutionResult::Success { .. }));
    expect_error::<IArbWasm::ProgramUpToDate>(&chain.activate(a));
    assert_eq!(
        chain.call_ok(a, op(0x0F, &[b"y"])),
        chain.call_ok(b, op(0x0F, &[b"y"]))
    );
}

#[test]
fn eip3541_still_rejects_other_ef_code() {
    let mut chain = Chain::new();
    // ArbOS 60 allows `EF F0 00` programs, `EF F0 01` fragments and `EF F0 02` roots, each with a payload.
    for code in [
        &[0xEF][..],
        &[0xEF, 0x00, 0x01],
        &[0xEF, 0xF0, 0x03, 0x00],
        &[0xEF, 0xF0, 0x01],
        &[0xEF, 0xF0, 0x02],
    ] {
        let result = chain.send(ALICE, TxKind::Create, U256::ZERO, standard_initcode(code));
        assert!(
            matches!(
                result,
                ExecutionResult::Halt {
                    reason: HaltReason::CreateContractStartingWithEF,
                    ..
                }
            ),
            "{code:?}: {result:?}"
        );
    }
    // Plain EVM code is unaffected.
    chain.deploy(EVM_ECHO);
}
