//! `ArbWasmCache` (0x72): which activated programs ArbOS keeps cached, changed by cache managers (devnode's
//! `CacheManager` predeploy, through which `cargo stylus cache bid` caches) and chain owners.
//!
//! # Decisions
//! - **The cache is a flag per code hash** (journaled storage of the `ArbWasm` account): devnode already charges
//!   every call the cached init cost, so caching changes no gas here; it only answers `codehashIsCached` and emits
//!   `UpdateProgramCache` as Nitro does.
//! - **One cache manager, fixed at genesis** ([`crate::chain::predeploys::CACHE_MANAGER`]); no owner setter adds
//!   others.

use super::{arb_owner, state, IArbWasm, IArbWasmCache, Meter, ARB_WASM_CACHE};
use crate::{chain::predeploys::CACHE_MANAGER, evm::EvmContext, stylus::STYLUS_VERSION};
use alloy::{
    primitives::{Log, B256},
    sol_types::{SolCall, SolError, SolEvent, SolInterface},
};
use revm::{
    context::{Block, ContextTr, JournalTr},
    interpreter::{CallInputs, InterpreterResult},
};

/// Runs one `ArbWasmCache` call.
pub(crate) fn run(ctx: &mut EvmContext<'_>, inputs: &CallInputs) -> InterpreterResult {
    let input = inputs.input.bytes(ctx);
    let Some(mut meter) = Meter::new(inputs.gas_limit, input.len()) else {
        return Meter::out_of_gas(inputs.gas_limit);
    };
    let Ok(call) = IArbWasmCache::IArbWasmCacheCalls::abi_decode(&input) else {
        return meter.revert(Vec::new());
    };
    if !meter.charge(Meter::READ) {
        return Meter::out_of_gas(inputs.gas_limit);
    }
    use IArbWasmCache::IArbWasmCacheCalls as C;
    let output = match call {
        C::isCacheManager(c) => {
            IArbWasmCache::isCacheManagerCall::abi_encode_returns(&(c.manager == CACHE_MANAGER))
        }
        C::allCacheManagers(_) => {
            IArbWasmCache::allCacheManagersCall::abi_encode_returns(&vec![CACHE_MANAGER])
        }
        C::codehashIsCached(c) => IArbWasmCache::codehashIsCachedCall::abi_encode_returns(
            &state::is_cached(ctx, c.codehash),
        ),
        C::cacheProgram(c) => {
            let Ok(hash) = ctx.journal_mut().code_hash(c.addr);
            return set_cached(ctx, inputs, meter, hash.data, true);
        }
        C::evictCodehash(c) => return set_cached(ctx, inputs, meter, c.codehash, false),
    };
    meter.ok(output)
}

fn set_cached(
    ctx: &mut EvmContext<'_>,
    inputs: &CallInputs,
    mut meter: Meter,
    codehash: B256,
    cached: bool,
) -> InterpreterResult {
    let manager = inputs.caller;
    if inputs.is_static {
        return meter.revert(IArbWasm::ProgramWriteProtection {}.abi_encode());
    }
    if manager != CACHE_MANAGER && !arb_owner::owners(ctx).contains(&manager) {
        return meter.revert(IArbWasmCache::NotCacheManager { caller: manager }.abi_encode());
    }
    let now = ctx.block().timestamp().saturating_to::<u64>();
    if cached {
        let active = state::load_program(ctx, codehash)
            .is_some_and(|r| r.version == STYLUS_VERSION && !r.expired(now));
        if !active {
            return meter.revert(IArbWasm::ProgramNotActivated {}.abi_encode());
        }
    }
    if state::is_cached(ctx, codehash) == cached {
        return meter.ok(Vec::new());
    }
    if !meter.charge(Meter::WRITE) {
        return Meter::out_of_gas(inputs.gas_limit);
    }
    state::set_cached(ctx, codehash, cached);
    ctx.journal_mut().log(Log {
        address: ARB_WASM_CACHE,
        data: IArbWasmCache::UpdateProgramCache {
            manager,
            codehash,
            cached,
        }
        .encode_log_data(),
    });
    meter.ok(Vec::new())
}
