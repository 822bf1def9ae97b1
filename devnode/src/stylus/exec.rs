//! Runs a Stylus program in a revm call frame: activation check, call cost, the wasmi invocation
//! and the host requests that need the EVM (storage, calls, creates, logs, account reads).

use super::{
    activation::ENTRYPOINT,
    cache::CompiledProgram,
    host::{CallKind, Escape, HostState, Meter, Pending, ProgramEnv, Request, StorageCache, Word},
    ink::{self, gas_to_ink, INK_PER_FUEL},
    STYLUS_VERSION,
};
use crate::{
    evm::{FrameError, StylusEvm},
    precompiles::{
        arb_wasm::{activation_error, not_activated},
        state, IArbWasm,
    },
};
use alloy::{
    primitives::{keccak256, Address, Bytes, Log, LogData, B256, U256},
    sol_types::SolError,
};
use revm::{
    context::{Block, Cfg, ContextTr, JournalTr, Transaction},
    context_interface::Host,
    handler::FrameResult,
    interpreter::{
        instructions::contract::load_account_delegated, CallInput, CallInputs, CallScheme,
        CallValue, CreateInputs, FrameInput, Gas, InstructionResult, InterpreterResult,
    },
    primitives::hardfork::SpecId,
};
use wasmi::{Store, StoreLimitsBuilder, TrapCode, TypedResumableCall, Val};

/// How a program invocation ended.
enum Outcome {
    Success(Vec<u8>),
    Revert(Vec<u8>),
    Failure(String),
    OutOfInk,
}

impl From<Escape> for Outcome {
    fn from(escape: Escape) -> Self {
        match escape {
            Escape::OutOfInk => Self::OutOfInk,
            Escape::Failure(reason) => Self::Failure(reason),
            // The status decides; the data is whatever `write_result` set (filled in later).
            Escape::Exit(0) => Self::Success(Vec::new()),
            Escape::Exit(_) => Self::Revert(Vec::new()),
        }
    }
}

/// The frame's call, captured before the program runs.
struct Frame {
    target: Address,
    caller: Address,
    value: U256,
    is_static: bool,
}

fn result(result: InstructionResult, output: Vec<u8>, gas: Gas) -> InterpreterResult {
    InterpreterResult {
        result,
        output: output.into(),
        gas,
    }
}

/// A revert that consumes all gas (Nitro's behaviour for calls it refuses to run).
fn fail_all(limit: u64, output: Vec<u8>) -> InterpreterResult {
    let mut gas = Gas::new(limit);
    gas.spend_all();
    result(InstructionResult::Revert, output, gas)
}

/// Runs the Stylus program of the frame on top of `evm`'s frame stack.
pub(crate) fn run_program(evm: &mut StylusEvm<'_>) -> Result<InterpreterResult, FrameError> {
    let frame = evm.inner.frame_stack.get();
    let FrameInput::Call(inputs) = &frame.input else {
        return Ok(fail_all(frame.interpreter.gas.limit(), Vec::new()));
    };
    let call = Frame {
        target: inputs.target_address,
        caller: inputs.caller,
        value: inputs.value.get(),
        is_static: inputs.is_static,
    };
    let gas_limit = frame.interpreter.gas.limit();
    let code = frame.interpreter.bytecode.original_bytes();
    let code_hash = frame
        .interpreter
        .bytecode
        .hash()
        .unwrap_or_else(|| keccak256(&code));
    let calldata = inputs.input.bytes(&evm.inner.ctx);
    let ctx = &mut evm.inner.ctx;
    let now = ctx.block().timestamp().saturating_to::<u64>();

    let record = match state::load_program(ctx, code_hash) {
        None => return Ok(fail_all(gas_limit, not_activated())),
        Some(r) if r.version != STYLUS_VERSION => {
            return Ok(fail_all(
                gas_limit,
                IArbWasm::ProgramNeedsUpgrade {
                    version: r.version,
                    stylusVersion: STYLUS_VERSION,
                }
                .abi_encode(),
            ))
        }
        Some(r) if r.expired(now) => {
            return Ok(fail_all(
                gas_limit,
                IArbWasm::ProgramExpired {
                    ageInSeconds: r.age(now),
                }
                .abi_encode(),
            ))
        }
        Some(r) => r,
    };
    // Activated programs were validated; recompiling only happens for state built elsewhere.
    let program = match evm.programs.get(&code_hash).map_or_else(
        || {
            super::fragments::program_wasm(&mut evm.inner.ctx, &code, None)
                .and_then(|wasm| evm.programs.compile_wasm(code_hash, &wasm))
        },
        Ok,
    ) {
        Ok(program) => program,
        Err(err) => return Ok(fail_all(gas_limit, activation_error(&err))),
    };

    let mut gas = Gas::new(gas_limit);
    let call_cost = ink::memory_gas(record.footprint, evm.pages_open, evm.pages_ever)
        .saturating_add(ink::CACHED_INIT_GAS);
    if !gas.record_regular_cost(call_cost) {
        let mut gas = Gas::new(gas_limit);
        gas.spend_all();
        return Ok(result(InstructionResult::OutOfGas, Vec::new(), gas));
    }

    let ctx = &evm.inner.ctx;
    let basefee = ctx.block().basefee();
    let env = ProgramEnv {
        contract: call.target,
        sender: call.caller,
        value: call.value,
        origin: ctx.tx().caller(),
        gas_price: U256::from(ctx.tx().effective_gas_price(u128::from(basefee))),
        basefee: U256::from(basefee),
        coinbase: ctx.block().beneficiary(),
        block_gas_limit: ctx.block().gas_limit(),
        block_number: ctx.block().number().saturating_to(),
        timestamp: now,
        chain_id: ctx.cfg().chain_id(),
        reentrant: evm.active.get(&call.target).is_some_and(|n| *n > 0),
    };
    let pages_before = evm.pages_open;
    evm.pages_open = evm.pages_open.saturating_add(record.footprint);
    evm.pages_ever = evm.pages_ever.max(evm.pages_open);
    *evm.active.entry(call.target).or_default() += 1;

    let state = HostState {
        env,
        args: calldata,
        outs: Vec::new(),
        return_data: Bytes::new(),
        cache: StorageCache::default(),
        memory: None,
        pending: None,
        limits: StoreLimitsBuilder::new()
            .memory_size(usize::from(ink::PAGE_LIMIT) * 65_536)
            .instances(1)
            .memories(1)
            .tables(1)
            .build(),
        pages_open: evm.pages_open,
        pages_ever: evm.pages_ever,
        pages_paid: 0,
        last_code: None,
    };
    let invoked = invoke(evm, &call, &program, state, gas.remaining());

    if let Some(n) = evm.active.get_mut(&call.target) {
        *n -= 1;
    }
    evm.pages_open = pages_before;
    let (outcome, ink_left, refund) = invoked?;

    let mut gas_left = ink::ink_to_gas(ink_left);
    let mut gas = Gas::new(gas_limit);
    let (status, output) = match outcome {
        Outcome::Success(outs) => (InstructionResult::Return, outs),
        Outcome::Revert(outs) => (InstructionResult::Revert, outs),
        Outcome::Failure(reason) => {
            tracing::debug!(target: "devnode::stylus", program = %call.target, %reason, "program failed");
            super::record_trap(format!("{}: {reason}", call.target));
            (InstructionResult::Revert, Vec::new())
        }
        Outcome::OutOfInk => {
            gas.spend_all();
            return Ok(result(InstructionResult::OutOfGas, Vec::new(), gas));
        }
    };
    // Returning data costs what EVM memory of that size would (Nitro's ArbOS 32 fix).
    if !output.is_empty() {
        let words = (output.len() as u64).div_ceil(32);
        let evm_cost = 3 * words + words * words / 512;
        if gas_limit < evm_cost {
            gas.spend_all();
            return Ok(result(InstructionResult::OutOfGas, Vec::new(), gas));
        }
        gas_left = gas_left.min(gas_limit - evm_cost);
    }
    gas.set_spent(gas_limit - gas_left.min(gas_limit));
    if status.is_ok() {
        gas.record_refund(refund);
    }
    Ok(result(status, output, gas))
}

/// Instantiates the program and drives it to completion, serving its host requests.
/// Returns the outcome, the ink left and the gas refund (SSTORE clears, nested calls).
fn invoke(
    evm: &mut StylusEvm<'_>,
    call: &Frame,
    program: &CompiledProgram,
    state: HostState,
    gas: u64,
) -> Result<(Outcome, u64, i64), FrameError> {
    let args_len = state.args.len() as u32;
    let mut store = Store::new(evm.programs.engine(), state);
    store.limiter(|s| &mut s.limits);
    // Fuel is always enabled on the engine; instantiation cannot fail for a validated module
    // except on resource limits, which is a program failure.
    let _ = store.set_fuel(gas_to_ink(gas) / INK_PER_FUEL);
    let instance = match evm
        .programs
        .linker()
        .instantiate_and_start(&mut store, &program.module)
    {
        Ok(instance) => instance,
        Err(err) => return Ok((Outcome::Failure(err.to_string()), 0, 0)),
    };
    let memory = instance.get_memory(&store, "memory");
    store.data_mut().memory = memory;
    store.data_mut().pages_paid = memory.map_or(0, |m| m.size(&store));
    let Ok(entry) = instance.get_typed_func::<u32, u32>(&store, ENTRYPOINT) else {
        return Ok((Outcome::Failure("no entry point".into()), 0, 0));
    };

    let mut refund = 0i64;
    let mut next = entry.call_resumable(&mut store, args_len);
    let mut outcome = loop {
        match next {
            Ok(TypedResumableCall::Finished(0)) => break Outcome::Success(Vec::new()),
            Ok(TypedResumableCall::Finished(_)) => break Outcome::Revert(Vec::new()),
            Ok(TypedResumableCall::OutOfFuel(_)) => break Outcome::OutOfInk,
            Ok(TypedResumableCall::HostTrap(trap)) => match store.data_mut().pending.take() {
                Some(Pending::Request(request)) => {
                    match serve(evm, call, &mut store, request, &mut refund)? {
                        Ok(values) => next = trap.resume(&mut store, &values),
                        Err(escape) => break escape.into(),
                    }
                }
                Some(Pending::Escape(escape)) => break escape.into(),
                None => break Outcome::Failure(trap.host_error().to_string()),
            },
            Err(err) => {
                break match err.as_trap_code() {
                    Some(TrapCode::OutOfFuel) => Outcome::OutOfInk,
                    // Nitro charges a stack overflow as out of ink; it is still a program bug, so it is
                    // recorded for the fuzzer (see `take_traps`).
                    Some(TrapCode::StackOverflow) => {
                        super::record_trap(format!("{}: stack overflow", call.target));
                        Outcome::OutOfInk
                    }
                    _ => Outcome::Failure(err.to_string()),
                };
            }
        }
    };
    // Memory grown since the last host call is paid for on the way out.
    if matches!(outcome, Outcome::Success(_) | Outcome::Revert(_)) && store.settle_pages().is_err()
    {
        outcome = Outcome::OutOfInk;
    }
    let outs = std::mem::take(&mut store.data_mut().outs);
    let outcome = match outcome {
        Outcome::Success(_) => Outcome::Success(outs),
        Outcome::Revert(_) => Outcome::Revert(outs),
        other => other,
    };
    let ink_left = match outcome {
        Outcome::OutOfInk => 0,
        _ => store.ink_left(),
    };
    Ok((outcome, ink_left, refund))
}

/// Takes the escape a failed [`Meter`] operation left behind.
fn escaped(store: &mut Store<HostState>) -> Escape {
    match store.data_mut().pending.take() {
        Some(Pending::Escape(escape)) => escape,
        _ => Escape::Failure("host call failed".into()),
    }
}

macro_rules! meter {
    ($store:expr, $op:expr) => {
        if $op.is_err() {
            return Ok(Err(escaped($store)));
        }
    };
}

type Served = Result<Result<Vec<Val>, Escape>, FrameError>;

/// Performs one host request against the EVM and returns the host function's results.
fn serve(
    evm: &mut StylusEvm<'_>,
    call: &Frame,
    store: &mut Store<HostState>,
    request: Request,
    refund: &mut i64,
) -> Served {
    let target = call.target;
    match request {
        Request::StorageLoad {
            key,
            dest,
            extra_gas,
        } => {
            let journal = evm.inner.ctx.journal_mut();
            let Ok(_) = journal.load_account(target);
            let Ok(load) = journal.sload(target, key.into());
            let cost = extra_gas
                + if load.is_cold {
                    ink::COLD_SLOAD_GAS
                } else {
                    100
                };
            meter!(store, store.buy_gas(cost));
            let value = B256::from(load.data);
            store.data_mut().cache.slots.insert(
                key,
                Word {
                    value,
                    known: Some(value),
                },
            );
            meter!(store, store.write_slice(dest, value.as_slice()));
            Ok(Ok(vec![]))
        }
        Request::FlushStorage { slots } => {
            if call.is_static {
                return Ok(Err(Escape::Failure("write protection".into())));
            }
            let params = evm.inner.ctx.gas_params().clone();
            for (key, value) in slots {
                let journal = evm.inner.ctx.journal_mut();
                let Ok(_) = journal.load_account(target);
                let Ok(load) = journal.sstore(target, key.into(), value.into());
                let cost = params.sstore_static_gas()
                    + params.sstore_dynamic_gas(true, &load.data, load.is_cold);
                if store.gas_left() < cost {
                    return Ok(Err(Escape::OutOfInk));
                }
                meter!(store, store.buy_gas(cost));
                *refund += params.sstore_refund(true, &load.data);
            }
            Ok(Ok(vec![]))
        }
        Request::TransientLoad { key, dest } => {
            let value = evm.inner.ctx.journal_mut().tload(target, key.into());
            meter!(store, store.write_slice(dest, &value.to_be_bytes::<32>()));
            Ok(Ok(vec![]))
        }
        Request::TransientStore { key, value } => {
            if call.is_static {
                return Ok(Err(Escape::Failure("write protection".into())));
            }
            evm.inner
                .ctx
                .journal_mut()
                .tstore(target, key.into(), value.into());
            Ok(Ok(vec![]))
        }
        Request::EmitLog { topics, data } => {
            if call.is_static {
                return Ok(Err(Escape::Failure("write protection".into())));
            }
            evm.inner.ctx.journal_mut().log(Log {
                address: target,
                data: LogData::new_unchecked(topics, data),
            });
            Ok(Ok(vec![]))
        }
        Request::AccountBalance { address, dest } => {
            let Ok(account) = evm.inner.ctx.journal_mut().load_account(address);
            let (balance, cold) = (account.info.balance, account.is_cold);
            meter!(store, store.buy_gas(access_gas(cold)));
            meter!(store, store.write_slice(dest, &balance.to_be_bytes::<32>()));
            Ok(Ok(vec![]))
        }
        Request::AccountCodehash { address, dest } => {
            let Ok(hash) = evm.inner.ctx.journal_mut().code_hash(address);
            meter!(store, store.buy_gas(access_gas(hash.is_cold)));
            meter!(store, store.write_slice(dest, hash.data.as_slice()));
            Ok(Ok(vec![]))
        }
        Request::AccountCode {
            address,
            gas_left,
            copy,
        } => {
            let cached = match &store.data().last_code {
                Some((a, code)) if *a == address => Some(code.clone()),
                _ => None,
            };
            let code = match cached {
                Some(code) => code,
                None => {
                    let Ok(load) = evm.inner.ctx.journal_mut().code(address);
                    let cost = access_gas(load.is_cold) + 700;
                    let code = if gas_left < cost {
                        Bytes::new()
                    } else {
                        load.data
                    };
                    meter!(store, store.buy_gas(cost));
                    if !code.is_empty() {
                        store.data_mut().last_code = Some((address, code.clone()));
                    }
                    code
                }
            };
            let Some((offset, size, dest)) = copy else {
                return Ok(Ok(vec![Val::I32(code.len() as i32)]));
            };
            meter!(store, store.pay_for_write(code.len() as u32));
            let start = (offset as usize).min(code.len());
            let end = (offset.saturating_add(size) as usize).min(code.len());
            let out = &code[start..end];
            meter!(store, store.write_slice(dest, out));
            Ok(Ok(vec![Val::I32(out.len() as i32)]))
        }
        Request::Call {
            kind,
            to,
            input,
            value,
            gas_left,
            gas_req,
            ret_len,
        } => {
            evm.pages_open = store.data().pages_open;
            evm.pages_ever = store.data().pages_ever;
            let (status, cost, data) =
                contract_call(evm, call, kind, to, input, value, gas_left, gas_req, refund)?;
            store.data_mut().pages_ever = evm.pages_ever;
            meter!(store, store.buy_gas(cost));
            let len = data.len() as u32;
            store.data_mut().return_data = data;
            meter!(store, store.write_slice(ret_len, &len.to_le_bytes()));
            Ok(Ok(vec![Val::I32(i32::from(status))]))
        }
        Request::Create {
            code,
            endowment,
            salt,
            gas_left,
            contract,
            ret_len,
        } => {
            if call.is_static {
                return Ok(Err(Escape::Failure("write protection".into())));
            }
            let mut base = 32_000u64;
            if salt.is_some() {
                base += 6 * (code.len() as u64).div_ceil(32);
            }
            if gas_left < base {
                return Ok(Err(Escape::Failure("out of gas".into())));
            }
            let gas = gas_left - base;
            let one_64th = gas / 64;
            let gas = gas - one_64th;
            let scheme = match salt {
                Some(salt) => revm::context_interface::CreateScheme::Create2 { salt: salt.into() },
                None => revm::context_interface::CreateScheme::Create,
            };
            evm.pages_open = store.data().pages_open;
            evm.pages_ever = store.data().pages_ever;
            let inputs = CreateInputs::new(target, scheme, endowment, code, gas, 0);
            let outcome = evm.run_nested(FrameInput::Create(Box::new(inputs)))?;
            store.data_mut().pages_ever = evm.pages_ever;
            let FrameResult::Create(outcome) = outcome else {
                return Ok(Err(Escape::Failure("unexpected frame result".into())));
            };
            let status = outcome.result.result;
            let returned = if status.is_ok_or_revert() {
                outcome.result.gas.remaining()
            } else {
                0
            };
            if status.is_ok() {
                *refund += outcome.result.gas.refunded();
            }
            let address = if status.is_ok() {
                outcome.address.unwrap_or_default()
            } else {
                Address::ZERO
            };
            let data = if status == InstructionResult::Revert {
                outcome.result.output
            } else {
                Bytes::new()
            };
            let cost = gas_left.saturating_sub(returned + one_64th);
            meter!(store, store.buy_gas(cost));
            let len = data.len() as u32;
            store.data_mut().return_data = data;
            meter!(store, store.write_slice(ret_len, &len.to_le_bytes()));
            meter!(store, store.write_slice(contract, address.as_slice()));
            Ok(Ok(vec![]))
        }
    }
}

/// EIP-2929 account access gas.
fn access_gas(cold: bool) -> u64 {
    if cold {
        ink::COLD_ACCOUNT_GAS
    } else {
        100
    }
}

/// Nitro's `doCall`: EVM call semantics (access and value costs, 63/64 rule, stipend) for a call
/// made by a program. Returns `(status, gas cost, return data)`.
#[allow(clippy::too_many_arguments)]
fn contract_call(
    evm: &mut StylusEvm<'_>,
    call: &Frame,
    kind: CallKind,
    to: Address,
    input: Bytes,
    value: U256,
    gas_left: u64,
    gas_req: u64,
    refund: &mut i64,
) -> Result<(u8, u64, Bytes), FrameError> {
    const FAILURE: u8 = 2;
    if call.is_static && !value.is_zero() {
        return Ok((FAILURE, 0, Bytes::new()));
    }
    let ctx = &mut evm.inner.ctx;
    let spec: SpecId = ctx.cfg.spec;
    let transfers = !value.is_zero();
    let Ok((access, _state_gas, bytecode, code_hash)) =
        load_account_delegated(ctx, spec, gas_left, to, transfers, kind == CallKind::Call)
    else {
        return Ok((FAILURE, gas_left, Bytes::new()));
    };
    let params = ctx.gas_params();
    let mut base = params.warm_storage_read_cost() + access;
    if transfers {
        base += params.transfer_value_cost();
    }
    if base > gas_left {
        return Ok((FAILURE, gas_left, Bytes::new()));
    }
    let start_gas = (gas_left - base) * 63 / 64;
    let mut gas = start_gas.min(gas_req);
    if transfers {
        gas = gas.saturating_add(params.call_stipend());
    }
    let (target_address, caller, call_value, scheme) = match kind {
        CallKind::Call => (
            to,
            call.target,
            CallValue::Transfer(value),
            CallScheme::Call,
        ),
        CallKind::Delegate => (
            call.target,
            call.caller,
            CallValue::Apparent(call.value),
            CallScheme::DelegateCall,
        ),
        CallKind::Static => (
            to,
            call.target,
            CallValue::Transfer(U256::ZERO),
            CallScheme::StaticCall,
        ),
    };
    let inputs = CallInputs {
        input: CallInput::Bytes(input),
        return_memory_offset: 0..0,
        gas_limit: gas,
        reservoir: 0,
        bytecode_address: to,
        known_bytecode: (code_hash, bytecode),
        target_address,
        caller,
        value: call_value,
        scheme,
        is_static: call.is_static || kind == CallKind::Static,
        charged_new_account_state_gas: false,
    };
    let FrameResult::Call(outcome) = evm.run_nested(FrameInput::Call(Box::new(inputs)))? else {
        return Ok((FAILURE, gas_left, Bytes::new()));
    };
    let status = outcome.result.result;
    let returned = if status.is_ok_or_revert() {
        outcome.result.gas.remaining()
    } else {
        0
    };
    if status.is_ok() {
        *refund += outcome.result.gas.refunded();
    }
    let cost = base.saturating_add(gas.saturating_sub(returned));
    let code = if status.is_ok() { 0 } else { 1 };
    Ok((code, cost, outcome.result.output))
}
