//! A real stylus-sdk 0.10 program: Verity's BR token as built by the pipeline
//! (`testdata/br_token.code`, a snapshot of `target/verity/token.code`), deployed, activated,
//! constructed and used; also the engine-time benchmark for an ERC-20 transfer.

use crate::support::*;
use alloy::{
    primitives::{keccak256, Address, U256},
    sol,
    sol_types::{SolCall, SolError, SolValue},
};
use revm::context_interface::result::ExecutionResult;
use std::time::Instant;

sol! {
    function balanceOf(address account) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
    function mint(address to, uint256 value) external;
    error ERC20InsufficientBalance(address, uint256, uint256);
}

const BR_TOKEN: &[u8] = include_bytes!("../../testdata/br_token.code");

fn deploy_token(chain: &mut Chain) -> Address {
    let token = chain.deploy(BR_TOKEN);
    assert!(matches!(
        chain.activate(token),
        ExecutionResult::Success { .. }
    ));
    // stylus-sdk constructors are called with `keccak("stylus_constructor()")[..4] ‖ args`.
    let mut data = keccak256(b"stylus_constructor()")[..4].to_vec();
    data.extend((ALICE, ALICE, ALICE, ether(1_000)).abi_encode_params());
    chain.call_ok(token, data);
    token
}

fn balance(chain: &mut Chain, token: Address, who: Address) -> U256 {
    let out = chain.call_ok(token, balanceOfCall { account: who }.abi_encode());
    balanceOfCall::abi_decode_returns(&out).unwrap()
}

#[test]
fn br_token_runs_as_wasm() {
    let mut chain = Chain::new();
    let token = deploy_token(&mut chain);
    assert_eq!(balance(&mut chain, token, ALICE), ether(1_000));
    let result = chain.call(
        token,
        transferCall {
            to: BOB,
            value: ether(3),
        }
        .abi_encode(),
    );
    let ExecutionResult::Success { output, logs, .. } = &result else {
        panic!("{result:?}")
    };
    assert!(transferCall::abi_decode_returns(output.data()).unwrap());
    assert_eq!(logs.len(), 1, "Transfer event");
    assert_eq!(
        logs[0].topics()[0],
        keccak256("Transfer(address,address,uint256)")
    );
    assert_eq!(balance(&mut chain, token, BOB), ether(3));
    assert_eq!(balance(&mut chain, token, ALICE), ether(997));
    // Error path: typed ERC-20 error from the WASM.
    let r = chain.send(
        BOB,
        alloy::primitives::TxKind::Call(token),
        U256::ZERO,
        transferCall {
            to: ALICE,
            value: ether(4),
        }
        .abi_encode(),
    );
    let e = expect_error::<ERC20InsufficientBalance>(&r);
    assert_eq!((e._0, e._1, e._2), (BOB, ether(3), ether(4)));
    let _ = ERC20InsufficientBalance::SELECTOR;
}

#[test]
fn transfer_engine_time() {
    let mut chain = Chain::new();
    let token = deploy_token(&mut chain);
    let data = transferCall {
        to: BOB,
        value: U256::from(1),
    }
    .abi_encode();
    chain.call_ok(token, data.clone());
    let n = 300u32;
    let start = Instant::now();
    for _ in 0..n {
        chain.call_ok(token, data.clone());
    }
    let per_tx = start.elapsed() / n;
    println!("ERC-20 transfer on a Stylus program: {per_tx:?} per transaction (engine + commit)");
    assert_eq!(balance(&mut chain, token, BOB), U256::from(n + 1));
    // Generous bound so an unoptimized test build on a busy machine still passes.
    assert!(per_tx.as_millis() < 20, "{per_tx:?}");
}
