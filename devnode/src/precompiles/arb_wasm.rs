//! `ArbWasm` (0x71): program activation with Nitro's validation and data fee, and the read methods
//! tools (cargo-stylus, the SDK) call.

use super::{
    state::{self, ProgramRecord, EXPIRY_SECONDS, KEEPALIVE_SECONDS},
    IArbWasm::{self, IArbWasmCalls},
    Meter, ARB_WASM,
};
use crate::{
    evm::EvmContext,
    stylus::{fragments, ink, is_stylus_component, ActivationError, ProgramCache, STYLUS_VERSION},
};
use alloy::{
    primitives::{keccak256, Address, Log, B256, U256},
    sol_types::{SolCall, SolError, SolEvent, SolInterface},
};
use revm::{
    context::{Block, ContextTr, JournalTr},
    interpreter::{CallInputs, InterpreterResult},
};

/// Fixed gas Nitro burns at the start of every activation.
pub const ACTIVATION_FIXED_GAS: u64 = 1_659_168;

/// Ratio of Nitro's native-assembly estimate to WASM size used for the data fee.
pub const ASM_ESTIMATE_FACTOR: usize = 2;

/// Converts an activation failure into `ArbWasm`'s typed error, ABI-encoded.
pub fn activation_error(err: &ActivationError) -> Vec<u8> {
    use IArbWasm as W;
    match err.clone() {
        ActivationError::NotWasm => W::ProgramNotWasm {}.abi_encode(),
        ActivationError::CodeTooLarge { size, limit } => W::ProgramCodeTooLarge {
            size: U256::from(size),
            limit: U256::from(limit),
        }
        .abi_encode(),
        ActivationError::WasmTooLarge { size, limit } => W::ProgramWasmTooLarge {
            size: U256::from(size),
            limit: U256::from(limit),
        }
        .abi_encode(),
        ActivationError::BadCompression(reason) => W::ProgramBadCompression { reason }.abi_encode(),
        ActivationError::InvalidWasm(reason) => W::ProgramInvalidWasm { reason }.abi_encode(),
        ActivationError::ForbiddenFeature(reason) => {
            W::ProgramForbiddenFeature { reason }.abi_encode()
        }
        ActivationError::UnknownImport { module, name } => {
            W::ProgramUnknownImport { module, name }.abi_encode()
        }
        ActivationError::MissingExport(name) => W::ProgramMissingExport { name }.abi_encode(),
        ActivationError::MemoryTooLarge { pages, limit } => {
            W::ProgramMemoryTooLarge { pages, limit }.abi_encode()
        }
        ActivationError::FragmentNotActivatable => W::ProgramFragmentNotActivatable {}.abi_encode(),
        ActivationError::RootTooShort { size } => W::ProgramRootTooShort {
            size: U256::from(size),
        }
        .abi_encode(),
        ActivationError::RootBadAddresses { length } => W::ProgramRootBadAddresses {
            length: U256::from(length),
        }
        .abi_encode(),
        ActivationError::NoFragments => W::ProgramNoFragments {}.abi_encode(),
        ActivationError::TooManyFragments { count, limit } => W::ProgramTooManyFragments {
            count: U256::from(count),
            limit,
        }
        .abi_encode(),
        ActivationError::NotAFragment { index, address } => W::ProgramNotAFragment {
            index: U256::from(index),
            fragment: address,
        }
        .abi_encode(),
        ActivationError::SizeMismatch { declared, actual } => W::ProgramSizeMismatch {
            declared: U256::from(declared),
            actual: U256::from(actual),
        }
        .abi_encode(),
        // Never encoded: activation turns it into an out-of-gas halt.
        ActivationError::OutOfGas => Vec::new(),
    }
}

fn code_hash(ctx: &mut EvmContext<'_>, program: Address) -> B256 {
    let Ok(hash) = ctx.journal_mut().code_hash(program);
    hash.data
}

/// Runs one `ArbWasm` call.
pub(crate) fn run(
    ctx: &mut EvmContext<'_>,
    inputs: &CallInputs,
    programs: &ProgramCache,
) -> InterpreterResult {
    let input = inputs.input.bytes(ctx);
    let Some(mut meter) = Meter::new(inputs.gas_limit, input.len()) else {
        return Meter::out_of_gas(inputs.gas_limit);
    };
    let Ok(call) = IArbWasmCalls::abi_decode(&input) else {
        return meter.revert(Vec::new());
    };
    let now = ctx.block().timestamp().saturating_to::<u64>();
    macro_rules! charge {
        ($gas:expr) => {
            if !meter.charge($gas) {
                return Meter::out_of_gas(inputs.gas_limit);
            }
        };
    }
    macro_rules! revert {
        ($err:expr) => {
            return meter.revert(SolError::abi_encode(&$err))
        };
    }
    // Reads an active program's record by code hash, reverting like Nitro when it is missing.
    macro_rules! active {
        ($hash:expr) => {{
            charge!(Meter::READ);
            let hash: B256 = $hash;
            match state::load_program(ctx, hash) {
                None => revert!(IArbWasm::ProgramNotActivated {}),
                Some(r) if r.version != STYLUS_VERSION => revert!(IArbWasm::ProgramNeedsUpgrade {
                    version: r.version,
                    stylusVersion: STYLUS_VERSION,
                }),
                Some(r) if r.expired(now) => revert!(IArbWasm::ProgramExpired {
                    ageInSeconds: r.age(now),
                }),
                Some(r) => r,
            }
        }};
    }
    use IArbWasmCalls as C;
    let output = match call {
        C::activateProgram(c) => return activate(ctx, inputs, programs, meter, c.program, now),
        C::codehashKeepalive(c) => {
            if inputs.is_static {
                revert!(IArbWasm::ProgramWriteProtection {});
            }
            let mut record = active!(c.codehash);
            if record.age(now) < KEEPALIVE_SECONDS {
                revert!(IArbWasm::ProgramKeepaliveTooSoon {
                    ageInSeconds: record.age(now),
                });
            }
            charge!(Meter::WRITE);
            record.activated_at = now;
            state::store_program(ctx, c.codehash, record);
            let refund = inputs.value.get();
            if !refund.is_zero() {
                let Ok(_) = ctx.journal_mut().transfer(ARB_WASM, inputs.caller, refund);
            }
            ctx.journal_mut().log(Log {
                address: ARB_WASM,
                data: IArbWasm::ProgramLifetimeExtended {
                    codehash: c.codehash,
                    dataFee: U256::ZERO,
                }
                .encode_log_data(),
            });
            Vec::new()
        }
        C::stylusVersion(_) => IArbWasm::stylusVersionCall::abi_encode_returns(&STYLUS_VERSION),
        C::codehashVersion(c) => {
            let r = active!(c.codehash);
            IArbWasm::codehashVersionCall::abi_encode_returns(&r.version)
        }
        C::codehashAsmSize(c) => {
            let r = active!(c.codehash);
            IArbWasm::codehashAsmSizeCall::abi_encode_returns(&r.asm_kb.saturating_mul(1024))
        }
        C::programVersion(c) => {
            let r = active!(code_hash(ctx, c.program));
            IArbWasm::programVersionCall::abi_encode_returns(&r.version)
        }
        C::programInitGas(c) => {
            active!(code_hash(ctx, c.program));
            IArbWasm::programInitGasCall::abi_encode_returns(&IArbWasm::programInitGasReturn {
                gas: ink::MIN_INIT_GAS,
                gasWhenCached: ink::CACHED_INIT_GAS,
            })
        }
        C::programMemoryFootprint(c) => {
            let r = active!(code_hash(ctx, c.program));
            IArbWasm::programMemoryFootprintCall::abi_encode_returns(&r.footprint)
        }
        C::programTimeLeft(c) => {
            let r = active!(code_hash(ctx, c.program));
            let left = EXPIRY_SECONDS.saturating_sub(r.age(now));
            IArbWasm::programTimeLeftCall::abi_encode_returns(&left)
        }
        C::inkPrice(_) => IArbWasm::inkPriceCall::abi_encode_returns(&(ink::INK_PER_GAS as u32)),
        C::maxStackDepth(_) => {
            IArbWasm::maxStackDepthCall::abi_encode_returns(&ink::MAX_STACK_DEPTH)
        }
        C::freePages(_) => IArbWasm::freePagesCall::abi_encode_returns(&ink::FREE_PAGES),
        C::pageGas(_) => IArbWasm::pageGasCall::abi_encode_returns(&ink::PAGE_GAS),
        C::pageRamp(_) => IArbWasm::pageRampCall::abi_encode_returns(&ink::PAGE_RAMP),
        C::pageLimit(_) => IArbWasm::pageLimitCall::abi_encode_returns(&ink::PAGE_LIMIT),
        C::minInitGas(_) => {
            IArbWasm::minInitGasCall::abi_encode_returns(&IArbWasm::minInitGasReturn {
                gas: ink::MIN_INIT_GAS,
                cached: ink::CACHED_INIT_GAS,
            })
        }
        C::initCostScalar(_) => IArbWasm::initCostScalarCall::abi_encode_returns(&100u64),
        C::expiryDays(_) => IArbWasm::expiryDaysCall::abi_encode_returns(&365u16),
        C::keepaliveDays(_) => IArbWasm::keepaliveDaysCall::abi_encode_returns(&31u16),
        C::blockCacheSize(_) => IArbWasm::blockCacheSizeCall::abi_encode_returns(&32u16),
    };
    meter.ok(output)
}

fn activate(
    ctx: &mut EvmContext<'_>,
    inputs: &CallInputs,
    programs: &ProgramCache,
    mut meter: Meter,
    program: Address,
    now: u64,
) -> InterpreterResult {
    fn revert(meter: Meter, err: impl SolError) -> InterpreterResult {
        meter.revert(err.abi_encode())
    }
    if inputs.is_static {
        return revert(meter, IArbWasm::ProgramWriteProtection {});
    }
    if !meter.charge(ACTIVATION_FIXED_GAS + Meter::READ) {
        return Meter::out_of_gas(inputs.gas_limit);
    }
    let Ok(code) = ctx.journal_mut().code(program);
    let code = code.data;
    if !is_stylus_component(&code) {
        return revert(meter, IArbWasm::ProgramNotWasm {});
    }
    let hash = code_hash(ctx, program);
    if let Some(r) = state::load_program(ctx, hash) {
        if r.version == STYLUS_VERSION && !r.expired(now) {
            return revert(meter, IArbWasm::ProgramUpToDate {});
        }
    }
    let max_fragments = state::load_max_fragments(ctx);
    // Reading the wasm (decompression, a root's fragments) fails keeping the unspent gas; validating it fails
    // taking all gas — Nitro's `ActivateProgram` returns `takeAllGas` false for `getWasm` errors, true after.
    let wasm = match fragments::program_wasm(ctx, &code, Some((&mut meter, max_fragments))) {
        Ok(wasm) => wasm,
        Err(ActivationError::OutOfGas) => return Meter::out_of_gas(inputs.gas_limit),
        Err(err) => {
            tracing::debug!(target: "devnode::arbwasm", %program, %err, "activation failed reading the wasm");
            return meter.revert(activation_error(&err));
        }
    };
    let compiled = match programs.compile_wasm(hash, &wasm) {
        Ok(compiled) => compiled,
        Err(err) => {
            tracing::debug!(target: "devnode::arbwasm", %program, %err, "activation failed");
            meter.gas.spend_all();
            return meter.revert(activation_error(&err));
        }
    };
    let asm_bytes = compiled.info.wasm_len * ASM_ESTIMATE_FACTOR;
    let asm_kb = asm_bytes.div_ceil(1024) as u32;
    let data_fee = state::charge_data_fee(ctx, asm_bytes as u32, now);
    let value = inputs.value.get();
    if value < data_fee {
        return revert(
            meter,
            IArbWasm::ProgramInsufficientValue {
                have: value,
                want: data_fee,
            },
        );
    }
    if !meter.charge(2 * Meter::WRITE) {
        return Meter::out_of_gas(inputs.gas_limit);
    }
    state::store_program(
        ctx,
        hash,
        ProgramRecord {
            version: STYLUS_VERSION,
            footprint: compiled.info.footprint,
            asm_kb,
            activated_at: now,
        },
    );
    // The fee goes to the block's beneficiary (Nitro: the network fee account), the rest back.
    let beneficiary = ctx.block().beneficiary();
    let journal = ctx.journal_mut();
    if !data_fee.is_zero() {
        let Ok(_) = journal.transfer(ARB_WASM, beneficiary, data_fee);
    }
    let repay = value - data_fee;
    if !repay.is_zero() {
        let Ok(_) = journal.transfer(ARB_WASM, inputs.caller, repay);
    }
    journal.log(Log {
        address: ARB_WASM,
        data: IArbWasm::ProgramActivated {
            codehash: hash,
            moduleHash: keccak256(hash),
            program,
            dataFee: data_fee,
            version: STYLUS_VERSION,
        }
        .encode_log_data(),
    });
    tracing::debug!(target: "devnode::arbwasm", %program, %hash, %data_fee, "program activated");
    meter.ok(IArbWasm::activateProgramCall::abi_encode_returns(
        &IArbWasm::activateProgramReturn {
            version: STYLUS_VERSION,
            dataFee: data_fee,
        },
    ))
}

/// Encodes `ProgramNotActivated()`: the revert data of a call to an un-activated program.
pub fn not_activated() -> Vec<u8> {
    IArbWasm::ProgramNotActivated {}.abi_encode()
}
