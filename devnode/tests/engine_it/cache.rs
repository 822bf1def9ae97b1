//! `ArbWasmCache` (0x72): only a cache manager or a chain owner changes the cache; only activated programs are
//! cached; the flag is what `codehashIsCached` answers.

use crate::support::*;
use alloy::{
    primitives::{keccak256, Address, TxKind, U256},
    sol_types::SolCall,
};
use devnode::{
    chain::predeploys::{CACHE_MANAGER, NITRO_DEV_ADDRESS},
    precompiles::{IArbWasm, IArbWasmCache, ARB_WASM_CACHE},
};
use revm::{context_interface::result::ExecutionResult, state::AccountInfo};

fn is_cached(chain: &mut Chain, program: Address) -> bool {
    let codehash = keccak256(chain.code(program));
    let out = chain.call_ok(
        ARB_WASM_CACHE,
        IArbWasmCache::codehashIsCachedCall { codehash }.abi_encode(),
    );
    IArbWasmCache::codehashIsCachedCall::abi_decode_returns(&out).unwrap()
}

fn cache(chain: &mut Chain, from: Address, program: Address) -> ExecutionResult {
    let data = IArbWasmCache::cacheProgramCall { addr: program }.abi_encode();
    chain.send(from, TxKind::Call(ARB_WASM_CACHE), U256::ZERO, data)
}

#[test]
fn only_managers_and_owners_cache_activated_programs() {
    let mut chain = Chain::new();
    chain.db.insert_account_info(
        NITRO_DEV_ADDRESS,
        AccountInfo {
            balance: ether(1),
            ..Default::default()
        },
    );
    let out = chain.call_ok(
        ARB_WASM_CACHE,
        IArbWasmCache::allCacheManagersCall {}.abi_encode(),
    );
    assert_eq!(
        IArbWasmCache::allCacheManagersCall::abi_decode_returns(&out).unwrap(),
        vec![CACHE_MANAGER]
    );
    let program = chain.deploy(&stylus_code(&wat::parse_str(PROBE).unwrap()));
    let err = expect_error::<IArbWasmCache::NotCacheManager>(&cache(&mut chain, ALICE, program));
    assert_eq!(err.caller, ALICE);
    expect_error::<IArbWasm::ProgramNotActivated>(&cache(&mut chain, NITRO_DEV_ADDRESS, program));
    assert!(matches!(
        chain.activate(program),
        ExecutionResult::Success { .. }
    ));
    assert!(!is_cached(&mut chain, program));
    let result = cache(&mut chain, NITRO_DEV_ADDRESS, program);
    let ExecutionResult::Success { logs, .. } = &result else {
        panic!("{result:?}")
    };
    assert_eq!(logs.len(), 1, "UpdateProgramCache");
    assert!(is_cached(&mut chain, program));
    let codehash = keccak256(chain.code(program));
    let evict = IArbWasmCache::evictCodehashCall { codehash }.abi_encode();
    chain.send(
        NITRO_DEV_ADDRESS,
        TxKind::Call(ARB_WASM_CACHE),
        U256::ZERO,
        evict,
    );
    assert!(!is_cached(&mut chain, program));
}
