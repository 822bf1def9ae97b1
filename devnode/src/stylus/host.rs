//! The `vm_hooks` host functions (and the debug-build `console` module) a Stylus program imports.
//!
//! Host calls that need only the program's own data (arguments, result, environment, the storage
//! cache on a hit, keccak, math) run here. Host calls that touch EVM state store a [`Request`] in
//! [`HostState::pending`] and trap with [`Yield`]; the executor performs the request against revm
//! and resumes the program with the result. Semantics and prices follow Nitro's
//! `user-host-trait`.

use super::ink::{self, gas_to_ink, INK_PER_FUEL};
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use std::collections::HashMap;
use wasmi::{Caller, Error, Linker, Memory, Store, StoreLimits};

/// A WASM value type in a host function signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    I32,
    I64,
    F32,
    F64,
}

use Ty::{F32, F64, I32, I64};

type Signature = (&'static [Ty], &'static [Ty]);

/// Every `vm_hooks` import with its signature.
const VM_HOOKS: &[(&str, Signature)] = &[
    ("read_args", (&[I32], &[])),
    ("write_result", (&[I32, I32], &[])),
    ("exit_early", (&[I32], &[])),
    ("storage_load_bytes32", (&[I32, I32], &[])),
    ("storage_cache_bytes32", (&[I32, I32], &[])),
    ("storage_flush_cache", (&[I32], &[])),
    ("transient_load_bytes32", (&[I32, I32], &[])),
    ("transient_store_bytes32", (&[I32, I32], &[])),
    ("call_contract", (&[I32, I32, I32, I32, I64, I32], &[I32])),
    (
        "delegate_call_contract",
        (&[I32, I32, I32, I64, I32], &[I32]),
    ),
    ("static_call_contract", (&[I32, I32, I32, I64, I32], &[I32])),
    ("create1", (&[I32, I32, I32, I32, I32], &[])),
    ("create2", (&[I32, I32, I32, I32, I32, I32], &[])),
    ("read_return_data", (&[I32, I32, I32], &[I32])),
    ("return_data_size", (&[], &[I32])),
    ("emit_log", (&[I32, I32, I32], &[])),
    ("account_balance", (&[I32, I32], &[])),
    ("account_code", (&[I32, I32, I32, I32], &[I32])),
    ("account_code_size", (&[I32], &[I32])),
    ("account_codehash", (&[I32, I32], &[])),
    ("block_basefee", (&[I32], &[])),
    ("block_coinbase", (&[I32], &[])),
    ("block_gas_limit", (&[], &[I64])),
    ("block_number", (&[], &[I64])),
    ("block_timestamp", (&[], &[I64])),
    ("chainid", (&[], &[I64])),
    ("contract_address", (&[I32], &[])),
    ("evm_gas_left", (&[], &[I64])),
    ("evm_ink_left", (&[], &[I64])),
    ("math_div", (&[I32, I32], &[])),
    ("math_mod", (&[I32, I32], &[])),
    ("math_pow", (&[I32, I32], &[])),
    ("math_add_mod", (&[I32, I32, I32], &[])),
    ("math_mul_mod", (&[I32, I32, I32], &[])),
    ("msg_reentrant", (&[], &[I32])),
    ("msg_sender", (&[I32], &[])),
    ("msg_value", (&[I32], &[])),
    ("native_keccak256", (&[I32, I32, I32], &[])),
    ("tx_gas_price", (&[I32], &[])),
    ("tx_ink_price", (&[], &[I32])),
    ("tx_origin", (&[I32], &[])),
    ("pay_for_memory_grow", (&[I32], &[])),
];

/// The `console` imports of stylus-sdk debug builds (logged through `tracing`).
const CONSOLE: &[(&str, Signature)] = &[
    ("log_txt", (&[I32, I32], &[])),
    ("log_i32", (&[I32], &[])),
    ("log_i64", (&[I64], &[])),
    ("log_f32", (&[F32], &[])),
    ("log_f64", (&[F64], &[])),
    ("tee_i32", (&[I32], &[I32])),
    ("tee_i64", (&[I64], &[I64])),
    ("tee_f32", (&[F32], &[F32])),
    ("tee_f64", (&[F64], &[F64])),
];

/// The signature of host function `module::name`, if the engine provides it.
pub(crate) fn signature(module: &str, name: &str) -> Option<Signature> {
    let table = match module {
        "vm_hooks" => VM_HOOKS,
        "console" => CONSOLE,
        _ => return None,
    };
    table.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The names of every `vm_hooks` import the engine implements.
pub fn vm_hooks() -> impl Iterator<Item = &'static str> {
    VM_HOOKS.iter().map(|(name, _)| *name)
}

/// Whether a parsed WASM function type equals `signature`.
pub(crate) fn matches(signature: Signature, ty: &wasmparser::FuncType) -> bool {
    fn same(a: &[Ty], b: &[wasmparser::ValType]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                matches!(
                    (x, y),
                    (I32, wasmparser::ValType::I32)
                        | (I64, wasmparser::ValType::I64)
                        | (F32, wasmparser::ValType::F32)
                        | (F64, wasmparser::ValType::F64)
                )
            })
    }
    same(signature.0, ty.params()) && same(signature.1, ty.results())
}

/// The environment a program sees (Nitro's `EvmData`).
#[derive(Debug, Clone)]
pub(crate) struct ProgramEnv {
    pub contract: Address,
    pub sender: Address,
    pub value: U256,
    pub origin: Address,
    pub gas_price: U256,
    pub basefee: U256,
    pub coinbase: Address,
    pub block_gas_limit: u64,
    pub block_number: u64,
    pub timestamp: u64,
    pub chain_id: u64,
    pub reentrant: bool,
}

/// One slot of the storage cache: the current value and the value known to be in the EVM.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Word {
    pub value: B256,
    pub known: Option<B256>,
}

/// Nitro's per-program storage write cache with its access pricing.
#[derive(Debug, Default)]
pub(crate) struct StorageCache {
    pub slots: HashMap<B256, Word>,
    reads: usize,
    writes: usize,
}

impl StorageCache {
    fn read_gas(&mut self) -> u64 {
        self.reads += 1;
        match self.reads {
            0..=32 => 0,
            33..=128 => 2,
            _ => 10,
        }
    }

    fn write_gas(&mut self) -> u64 {
        self.writes += 1;
        match self.writes {
            0..=8 => 0,
            9..=64 => 7,
            _ => 10,
        }
    }
}

/// The kind of call a program makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Call,
    Delegate,
    Static,
}

/// A host call the executor must perform against the EVM.
#[derive(Debug)]
pub(crate) enum Request {
    StorageLoad {
        key: B256,
        dest: u32,
        extra_gas: u64,
    },
    FlushStorage {
        slots: Vec<(B256, B256)>,
    },
    TransientLoad {
        key: B256,
        dest: u32,
    },
    TransientStore {
        key: B256,
        value: B256,
    },
    Call {
        kind: CallKind,
        to: Address,
        input: Bytes,
        value: U256,
        gas_left: u64,
        gas_req: u64,
        ret_len: u32,
    },
    Create {
        code: Bytes,
        endowment: U256,
        salt: Option<B256>,
        gas_left: u64,
        contract: u32,
        ret_len: u32,
    },
    EmitLog {
        topics: Vec<B256>,
        data: Bytes,
    },
    AccountBalance {
        address: Address,
        dest: u32,
    },
    AccountCode {
        address: Address,
        gas_left: u64,
        /// `Some((offset, size, dest))` for `account_code`, `None` for `account_code_size`.
        copy: Option<(u32, u32, u32)>,
    },
    AccountCodehash {
        address: Address,
        dest: u32,
    },
}

/// How a program stops other than by returning from `user_entrypoint`.
#[derive(Debug)]
pub(crate) enum Escape {
    /// `exit_early(status)`.
    Exit(u32),
    /// Ink ran out.
    OutOfInk,
    /// A host call failed (bad pointer, bad input, write in a static context, …).
    Failure(String),
}

/// What a trapping host function left for the executor.
#[derive(Debug)]
pub(crate) enum Pending {
    Request(Request),
    Escape(Escape),
}

/// The marker error a host function traps with; the payload is in [`HostState::pending`].
#[derive(Debug)]
pub(crate) struct Yield;

impl std::fmt::Display for Yield {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stylus host call")
    }
}

impl wasmi::errors::HostError for Yield {}

/// The wasmi store data of one program invocation.
#[derive(Debug)]
pub(crate) struct HostState {
    pub env: ProgramEnv,
    pub args: Bytes,
    pub outs: Vec<u8>,
    pub return_data: Bytes,
    pub cache: StorageCache,
    pub memory: Option<Memory>,
    pub pending: Option<Pending>,
    pub limits: StoreLimits,
    /// WASM pages open in this transaction and the most ever open at once.
    pub pages_open: u16,
    pub pages_ever: u16,
    /// Memory size (pages) already paid for.
    pub pages_paid: u64,
    /// The last code read by `account_code*` (Nitro caches it).
    pub last_code: Option<(Address, Bytes)>,
}

/// Fuel access shared by host functions ([`Caller`]) and the executor ([`Store`]).
pub(crate) trait Meter {
    fn data_mut(&mut self) -> &mut HostState;
    fn fuel(&self) -> u64;
    fn set_fuel(&mut self, fuel: u64);
    fn memory_pages(&self) -> u64;

    fn ink_left(&self) -> u64 {
        self.fuel().saturating_mul(INK_PER_FUEL)
    }

    fn gas_left(&self) -> u64 {
        ink::ink_to_gas(self.ink_left())
    }

    /// Charges `ink`, or empties the tank and reports an out-of-ink escape.
    fn buy_ink(&mut self, ink: u64) -> Result<(), Error> {
        let need = ink.div_ceil(INK_PER_FUEL);
        let fuel = self.fuel();
        if need > fuel {
            self.set_fuel(0);
            return Err(self.escape(Escape::OutOfInk));
        }
        self.set_fuel(fuel - need);
        Ok(())
    }

    fn buy_gas(&mut self, gas: u64) -> Result<(), Error> {
        self.buy_ink(gas_to_ink(gas))
    }

    fn require_gas(&mut self, gas: u64) -> Result<(), Error> {
        if self.ink_left() < gas_to_ink(gas) {
            self.set_fuel(0);
            return Err(self.escape(Escape::OutOfInk));
        }
        Ok(())
    }

    fn escape(&mut self, escape: Escape) -> Error {
        self.data_mut().pending = Some(Pending::Escape(escape));
        Error::host(Yield)
    }

    fn request(&mut self, request: Request) -> Error {
        self.data_mut().pending = Some(Pending::Request(request));
        Error::host(Yield)
    }

    /// Charges Nitro's memory model for pages grown since the last host call.
    fn settle_pages(&mut self) -> Result<(), Error> {
        let pages = self.memory_pages();
        let state = self.data_mut();
        if pages <= state.pages_paid {
            return Ok(());
        }
        let new = u16::try_from(pages - state.pages_paid).unwrap_or(u16::MAX);
        state.pages_paid = pages;
        self.add_pages(new)
    }

    /// Opens `new` pages for the transaction and pays for them.
    fn add_pages(&mut self, new: u16) -> Result<(), Error> {
        let state = self.data_mut();
        let cost = ink::memory_gas(new, state.pages_open, state.pages_ever);
        state.pages_open = state.pages_open.saturating_add(new);
        state.pages_ever = state.pages_ever.max(state.pages_open);
        self.buy_gas(cost)
    }

    fn pay_for_read(&mut self, bytes: u32) -> Result<(), Error> {
        self.buy_ink(ink::read_price(bytes))
    }

    fn pay_for_write(&mut self, bytes: u32) -> Result<(), Error> {
        self.buy_ink(ink::write_price(bytes))
    }

    fn read_slice(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, Error>;
    fn write_slice(&mut self, ptr: u32, data: &[u8]) -> Result<(), Error>;

    fn read_fixed<const N: usize>(&mut self, ptr: u32) -> Result<[u8; N], Error> {
        let v = self.read_slice(ptr, N as u32)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&v);
        Ok(out)
    }

    fn read_b256(&mut self, ptr: u32) -> Result<B256, Error> {
        self.read_fixed::<32>(ptr).map(B256::from)
    }

    fn read_address(&mut self, ptr: u32) -> Result<Address, Error> {
        self.read_fixed::<20>(ptr).map(Address::from)
    }
}

macro_rules! impl_meter {
    ($ty:ty) => {
        impl Meter for $ty {
            fn data_mut(&mut self) -> &mut HostState {
                <$ty>::data_mut(self)
            }
            fn fuel(&self) -> u64 {
                // Fuel metering is always enabled on the engine's config.
                self.get_fuel().unwrap_or(0)
            }
            fn set_fuel(&mut self, fuel: u64) {
                // Fuel metering is always enabled on the engine's config.
                let _ = <$ty>::set_fuel(self, fuel);
            }
            fn memory_pages(&self) -> u64 {
                self.data().memory.map_or(0, |m| m.size(self))
            }
            fn read_slice(&mut self, ptr: u32, len: u32) -> Result<Vec<u8>, Error> {
                let Some(memory) = self.data().memory else {
                    return Err(self.escape(Escape::Failure("no memory".into())));
                };
                let mut buf = vec![0u8; len as usize];
                match memory.read(&*self, ptr as usize, &mut buf) {
                    Ok(()) => Ok(buf),
                    Err(_) => Err(self.escape(Escape::Failure("memory read out of bounds".into()))),
                }
            }
            fn write_slice(&mut self, ptr: u32, data: &[u8]) -> Result<(), Error> {
                let Some(memory) = self.data().memory else {
                    return Err(self.escape(Escape::Failure("no memory".into())));
                };
                match memory.write(&mut *self, ptr as usize, data) {
                    Ok(()) => Ok(()),
                    Err(_) => {
                        Err(self.escape(Escape::Failure("memory write out of bounds".into())))
                    }
                }
            }
        }
    };
}

impl_meter!(Caller<'_, HostState>);
impl_meter!(Store<HostState>);

type C<'a> = Caller<'a, HostState>;

/// Starts every host call: settles memory growth, then charges the base ink.
fn enter(caller: &mut C<'_>, ink: u64) -> Result<(), Error> {
    caller.settle_pages()?;
    caller.buy_ink(ink)
}

fn env<'a>(caller: &'a C<'_>) -> &'a ProgramEnv {
    &caller.data().env
}

const HOSTIO: u64 = ink::HOSTIO_INK;
const PTR: u64 = ink::PTR_INK;
const EVM_API: u64 = ink::EVM_API_INK;

/// Builds the linker with every host function.
///
/// # Errors
/// Only if wasmi rejects a definition (a programming error caught by the crate's tests).
pub(crate) fn linker(engine: &wasmi::Engine) -> Result<Linker<HostState>, Error> {
    let mut l = Linker::<HostState>::new(engine);
    let m = "vm_hooks";

    l.func_wrap(m, "read_args", |mut c: C<'_>, ptr: u32| {
        enter(&mut c, HOSTIO)?;
        let args = c.data().args.clone();
        c.pay_for_write(args.len() as u32)?;
        c.write_slice(ptr, &args)
    })?;
    l.func_wrap(m, "write_result", |mut c: C<'_>, ptr: u32, len: u32| {
        enter(&mut c, HOSTIO)?;
        c.pay_for_read(len)?;
        c.pay_for_read(len)?;
        let outs = c.read_slice(ptr, len)?;
        c.data_mut().outs = outs;
        Ok(())
    })?;
    l.func_wrap(
        m,
        "exit_early",
        |mut c: C<'_>, status: u32| -> Result<(), Error> {
            c.settle_pages()?;
            Err(c.escape(Escape::Exit(status)))
        },
    )?;
    l.func_wrap(
        m,
        "storage_load_bytes32",
        |mut c: C<'_>, key: u32, dest: u32| {
            enter(&mut c, HOSTIO + 2 * PTR)?;
            let evm_api_gas = ink::ink_to_gas(EVM_API);
            c.require_gas(
                ink::COLD_SLOAD_GAS + ink::STORAGE_CACHE_REQUIRED_ACCESS_GAS + evm_api_gas,
            )?;
            let key = c.read_b256(key)?;
            let cache = &mut c.data_mut().cache;
            let cost = cache.read_gas();
            match cache.slots.get(&key) {
                Some(word) => {
                    let value = word.value;
                    c.buy_gas(cost)?;
                    c.write_slice(dest, value.as_slice())
                }
                None => Err(c.request(Request::StorageLoad {
                    key,
                    dest,
                    extra_gas: cost + evm_api_gas,
                })),
            }
        },
    )?;
    l.func_wrap(
        m,
        "storage_cache_bytes32",
        |mut c: C<'_>, key: u32, value: u32| {
            enter(&mut c, HOSTIO + 2 * PTR)?;
            c.require_gas(ink::SSTORE_SENTRY_GAS + ink::STORAGE_CACHE_REQUIRED_ACCESS_GAS)?;
            let key = c.read_b256(key)?;
            let value = c.read_b256(value)?;
            let cache = &mut c.data_mut().cache;
            let cost = cache.write_gas();
            cache
                .slots
                .entry(key)
                .and_modify(|w| w.value = value)
                .or_insert(Word { value, known: None });
            c.buy_gas(cost)
        },
    )?;
    l.func_wrap(m, "storage_flush_cache", |mut c: C<'_>, clear: u32| {
        enter(&mut c, HOSTIO + EVM_API)?;
        c.require_gas(ink::SSTORE_SENTRY_GAS)?;
        let cache = &mut c.data_mut().cache;
        let mut slots = Vec::new();
        for (key, word) in cache.slots.iter_mut() {
            if word.known != Some(word.value) {
                slots.push((*key, word.value));
                word.known = Some(word.value);
            }
        }
        if clear != 0 {
            cache.slots.clear();
        }
        if slots.is_empty() {
            return Ok(());
        }
        // Deterministic order: flush by key.
        slots.sort_unstable();
        Err(c.request(Request::FlushStorage { slots }))
    })?;
    l.func_wrap(
        m,
        "transient_load_bytes32",
        |mut c: C<'_>, key: u32, dest: u32| {
            enter(&mut c, HOSTIO + 2 * PTR + EVM_API)?;
            c.buy_gas(ink::TRANSIENT_GAS)?;
            let key = c.read_b256(key)?;
            Err::<(), _>(c.request(Request::TransientLoad { key, dest }))
        },
    )?;
    l.func_wrap(
        m,
        "transient_store_bytes32",
        |mut c: C<'_>, key: u32, value: u32| {
            enter(&mut c, HOSTIO + 2 * PTR + EVM_API)?;
            c.buy_gas(ink::TRANSIENT_GAS)?;
            let key = c.read_b256(key)?;
            let value = c.read_b256(value)?;
            Err::<(), _>(c.request(Request::TransientStore { key, value }))
        },
    )?;
    l.func_wrap(
        m,
        "call_contract",
        |mut c: C<'_>, to: u32, data: u32, len: u32, value: u32, gas: u64, ret_len: u32| {
            call(
                &mut c,
                CallKind::Call,
                to,
                data,
                len,
                Some(value),
                gas,
                ret_len,
            )
        },
    )?;
    l.func_wrap(
        m,
        "delegate_call_contract",
        |mut c: C<'_>, to: u32, data: u32, len: u32, gas: u64, ret_len: u32| {
            call(
                &mut c,
                CallKind::Delegate,
                to,
                data,
                len,
                None,
                gas,
                ret_len,
            )
        },
    )?;
    l.func_wrap(
        m,
        "static_call_contract",
        |mut c: C<'_>, to: u32, data: u32, len: u32, gas: u64, ret_len: u32| {
            call(&mut c, CallKind::Static, to, data, len, None, gas, ret_len)
        },
    )?;
    l.func_wrap(
        m,
        "create1",
        |mut c: C<'_>, code: u32, len: u32, endowment: u32, contract: u32, ret_len: u32| {
            create(&mut c, code, len, endowment, None, contract, ret_len)
        },
    )?;
    l.func_wrap(
        m,
        "create2",
        |mut c: C<'_>,
         code: u32,
         len: u32,
         endowment: u32,
         salt: u32,
         contract: u32,
         ret_len: u32| {
            create(&mut c, code, len, endowment, Some(salt), contract, ret_len)
        },
    )?;
    l.func_wrap(
        m,
        "read_return_data",
        |mut c: C<'_>, dest: u32, offset: u32, size: u32| -> Result<u32, Error> {
            enter(&mut c, HOSTIO + EVM_API)?;
            let data = c.data().return_data.clone();
            let max = (data.len() as u32).saturating_sub(offset);
            c.pay_for_write(size.min(max))?;
            if max == 0 {
                return Ok(0);
            }
            let start = offset as usize;
            let end = (offset.saturating_add(size) as usize).min(data.len());
            let out = &data[start..end];
            if !out.is_empty() {
                c.write_slice(dest, out)?;
            }
            Ok(out.len() as u32)
        },
    )?;
    l.func_wrap(
        m,
        "return_data_size",
        |mut c: C<'_>| -> Result<u32, Error> {
            enter(&mut c, HOSTIO)?;
            Ok(c.data().return_data.len() as u32)
        },
    )?;
    l.func_wrap(
        m,
        "emit_log",
        |mut c: C<'_>, data: u32, len: u32, topics: u32| {
            enter(&mut c, HOSTIO + EVM_API)?;
            if topics > 4 || len < topics * 32 {
                return Err(c.escape(Escape::Failure("bad topic data".into())));
            }
            c.pay_for_read(len)?;
            let data_len = u64::from(len - topics * 32);
            c.buy_gas(375 * (1 + u64::from(topics)) + 8 * data_len)?;
            let bytes = c.read_slice(data, len)?;
            let (head, body) = bytes.split_at(topics as usize * 32);
            let topics = head.chunks_exact(32).map(B256::from_slice).collect();
            Err::<(), _>(c.request(Request::EmitLog {
                topics,
                data: Bytes::copy_from_slice(body),
            }))
        },
    )?;
    l.func_wrap(
        m,
        "account_balance",
        |mut c: C<'_>, address: u32, dest: u32| {
            enter(&mut c, HOSTIO + 2 * PTR + EVM_API)?;
            c.require_gas(ink::COLD_ACCOUNT_GAS)?;
            let address = c.read_address(address)?;
            Err::<(), _>(c.request(Request::AccountBalance { address, dest }))
        },
    )?;
    l.func_wrap(
        m,
        "account_code",
        |mut c: C<'_>, address: u32, offset: u32, size: u32, dest: u32| -> Result<u32, Error> {
            enter(&mut c, HOSTIO + EVM_API)?;
            c.require_gas(ink::COLD_ACCOUNT_GAS)?;
            let address = c.read_address(address)?;
            let gas_left = c.gas_left();
            Err(c.request(Request::AccountCode {
                address,
                gas_left,
                copy: Some((offset, size, dest)),
            }))
        },
    )?;
    l.func_wrap(
        m,
        "account_code_size",
        |mut c: C<'_>, address: u32| -> Result<u32, Error> {
            enter(&mut c, HOSTIO + EVM_API)?;
            c.require_gas(ink::COLD_ACCOUNT_GAS)?;
            let address = c.read_address(address)?;
            let gas_left = c.gas_left();
            Err(c.request(Request::AccountCode {
                address,
                gas_left,
                copy: None,
            }))
        },
    )?;
    l.func_wrap(
        m,
        "account_codehash",
        |mut c: C<'_>, address: u32, dest: u32| {
            enter(&mut c, HOSTIO + 2 * PTR + EVM_API)?;
            c.require_gas(ink::COLD_ACCOUNT_GAS)?;
            let address = c.read_address(address)?;
            Err::<(), _>(c.request(Request::AccountCodehash { address, dest }))
        },
    )?;
    l.func_wrap(m, "block_basefee", |mut c: C<'_>, dest: u32| {
        enter(&mut c, HOSTIO + PTR)?;
        let v = env(&c).basefee.to_be_bytes::<32>();
        c.write_slice(dest, &v)
    })?;
    l.func_wrap(m, "block_coinbase", |mut c: C<'_>, dest: u32| {
        enter(&mut c, HOSTIO + PTR)?;
        let v = env(&c).coinbase;
        c.write_slice(dest, v.as_slice())
    })?;
    l.func_wrap(m, "block_gas_limit", |mut c: C<'_>| -> Result<u64, Error> {
        enter(&mut c, HOSTIO)?;
        Ok(env(&c).block_gas_limit)
    })?;
    l.func_wrap(m, "block_number", |mut c: C<'_>| -> Result<u64, Error> {
        enter(&mut c, HOSTIO)?;
        Ok(env(&c).block_number)
    })?;
    l.func_wrap(m, "block_timestamp", |mut c: C<'_>| -> Result<u64, Error> {
        enter(&mut c, HOSTIO)?;
        Ok(env(&c).timestamp)
    })?;
    l.func_wrap(m, "chainid", |mut c: C<'_>| -> Result<u64, Error> {
        enter(&mut c, HOSTIO)?;
        Ok(env(&c).chain_id)
    })?;
    l.func_wrap(m, "contract_address", |mut c: C<'_>, dest: u32| {
        enter(&mut c, HOSTIO + PTR)?;
        let v = env(&c).contract;
        c.write_slice(dest, v.as_slice())
    })?;
    l.func_wrap(m, "evm_gas_left", |mut c: C<'_>| -> Result<u64, Error> {
        enter(&mut c, HOSTIO)?;
        Ok(c.gas_left())
    })?;
    l.func_wrap(m, "evm_ink_left", |mut c: C<'_>| -> Result<u64, Error> {
        enter(&mut c, HOSTIO)?;
        Ok(c.ink_left())
    })?;
    l.func_wrap(m, "math_div", |mut c: C<'_>, value: u32, divisor: u32| {
        enter(&mut c, HOSTIO + 3 * PTR + ink::DIV_INK)?;
        let (a, b) = (c.read_fixed::<32>(value)?, c.read_fixed::<32>(divisor)?);
        let r = U256::from_be_bytes(a)
            .checked_div(U256::from_be_bytes(b))
            .unwrap_or_default();
        c.write_slice(value, &r.to_be_bytes::<32>())
    })?;
    l.func_wrap(m, "math_mod", |mut c: C<'_>, value: u32, modulus: u32| {
        enter(&mut c, HOSTIO + 3 * PTR + ink::DIV_INK)?;
        let (a, b) = (c.read_fixed::<32>(value)?, c.read_fixed::<32>(modulus)?);
        let r = U256::from_be_bytes(a)
            .checked_rem(U256::from_be_bytes(b))
            .unwrap_or_default();
        c.write_slice(value, &r.to_be_bytes::<32>())
    })?;
    l.func_wrap(m, "math_pow", |mut c: C<'_>, value: u32, exponent: u32| {
        enter(&mut c, HOSTIO + 3 * PTR)?;
        let (a, b) = (c.read_fixed::<32>(value)?, c.read_fixed::<32>(exponent)?);
        c.buy_ink(ink::pow_price(&b))?;
        let r = U256::from_be_bytes(a).wrapping_pow(U256::from_be_bytes(b));
        c.write_slice(value, &r.to_be_bytes::<32>())
    })?;
    l.func_wrap(
        m,
        "math_add_mod",
        |mut c: C<'_>, value: u32, addend: u32, modulus: u32| {
            enter(&mut c, HOSTIO + 4 * PTR + ink::ADD_MOD_INK)?;
            let a = U256::from_be_bytes(c.read_fixed::<32>(value)?);
            let b = U256::from_be_bytes(c.read_fixed::<32>(addend)?);
            let m = U256::from_be_bytes(c.read_fixed::<32>(modulus)?);
            c.write_slice(value, &a.add_mod(b, m).to_be_bytes::<32>())
        },
    )?;
    l.func_wrap(
        m,
        "math_mul_mod",
        |mut c: C<'_>, value: u32, multiplier: u32, modulus: u32| {
            enter(&mut c, HOSTIO + 4 * PTR + ink::MUL_MOD_INK)?;
            let a = U256::from_be_bytes(c.read_fixed::<32>(value)?);
            let b = U256::from_be_bytes(c.read_fixed::<32>(multiplier)?);
            let m = U256::from_be_bytes(c.read_fixed::<32>(modulus)?);
            c.write_slice(value, &a.mul_mod(b, m).to_be_bytes::<32>())
        },
    )?;
    l.func_wrap(m, "msg_reentrant", |mut c: C<'_>| -> Result<u32, Error> {
        enter(&mut c, HOSTIO)?;
        Ok(u32::from(env(&c).reentrant))
    })?;
    l.func_wrap(m, "msg_sender", |mut c: C<'_>, dest: u32| {
        enter(&mut c, HOSTIO + PTR)?;
        let v = env(&c).sender;
        c.write_slice(dest, v.as_slice())
    })?;
    l.func_wrap(m, "msg_value", |mut c: C<'_>, dest: u32| {
        enter(&mut c, HOSTIO + PTR)?;
        let v = env(&c).value.to_be_bytes::<32>();
        c.write_slice(dest, &v)
    })?;
    l.func_wrap(
        m,
        "native_keccak256",
        |mut c: C<'_>, input: u32, len: u32, output: u32| {
            enter(&mut c, ink::keccak_price(len))?;
            let preimage = c.read_slice(input, len)?;
            c.write_slice(output, keccak256(&preimage).as_slice())
        },
    )?;
    l.func_wrap(m, "tx_gas_price", |mut c: C<'_>, dest: u32| {
        enter(&mut c, HOSTIO + PTR)?;
        let v = env(&c).gas_price.to_be_bytes::<32>();
        c.write_slice(dest, &v)
    })?;
    l.func_wrap(m, "tx_ink_price", |mut c: C<'_>| -> Result<u32, Error> {
        enter(&mut c, HOSTIO)?;
        Ok(ink::INK_PER_GAS as u32)
    })?;
    l.func_wrap(m, "tx_origin", |mut c: C<'_>, dest: u32| {
        enter(&mut c, HOSTIO + PTR)?;
        let v = env(&c).origin;
        c.write_slice(dest, v.as_slice())
    })?;
    l.func_wrap(m, "pay_for_memory_grow", |mut c: C<'_>, pages: u32| {
        c.settle_pages()?;
        let pages = pages as u16;
        if pages == 0 {
            return c.buy_ink(HOSTIO);
        }
        c.add_pages(pages)
    })?;

    let m = "console";
    const CONSOLE_TARGET: &str = "devnode::stylus::console";
    l.func_wrap(m, "log_txt", |mut c: C<'_>, ptr: u32, len: u32| {
        let text = c.read_slice(ptr, len)?;
        tracing::info!(target: CONSOLE_TARGET, "{}", String::from_utf8_lossy(&text));
        Ok(())
    })?;
    l.func_wrap(m, "log_i32", |_: C<'_>, v: i32| {
        tracing::info!(target: CONSOLE_TARGET, "{v}");
    })?;
    l.func_wrap(m, "log_i64", |_: C<'_>, v: i64| {
        tracing::info!(target: CONSOLE_TARGET, "{v}");
    })?;
    l.func_wrap(m, "log_f32", |_: C<'_>, v: f32| {
        tracing::info!(target: CONSOLE_TARGET, "{v}");
    })?;
    l.func_wrap(m, "log_f64", |_: C<'_>, v: f64| {
        tracing::info!(target: CONSOLE_TARGET, "{v}");
    })?;
    l.func_wrap(m, "tee_i32", |_: C<'_>, v: i32| {
        tracing::info!(target: CONSOLE_TARGET, "{v}");
        v
    })?;
    l.func_wrap(m, "tee_i64", |_: C<'_>, v: i64| {
        tracing::info!(target: CONSOLE_TARGET, "{v}");
        v
    })?;
    l.func_wrap(m, "tee_f32", |_: C<'_>, v: f32| {
        tracing::info!(target: CONSOLE_TARGET, "{v}");
        v
    })?;
    l.func_wrap(m, "tee_f64", |_: C<'_>, v: f64| {
        tracing::info!(target: CONSOLE_TARGET, "{v}");
        v
    })?;
    Ok(l)
}

#[allow(clippy::too_many_arguments)]
fn call(
    c: &mut C<'_>,
    kind: CallKind,
    to: u32,
    data: u32,
    len: u32,
    value: Option<u32>,
    gas: u64,
    ret_len: u32,
) -> Result<u32, Error> {
    enter(c, HOSTIO + 3 * PTR + EVM_API)?;
    c.pay_for_read(len)?;
    c.pay_for_read(len)?;
    let gas_left = c.gas_left();
    let gas_req = gas.min(gas_left);
    let to = c.read_address(to)?;
    let input = Bytes::from(c.read_slice(data, len)?);
    let value = match value {
        Some(ptr) => U256::from_be_bytes(c.read_fixed::<32>(ptr)?),
        None => U256::ZERO,
    };
    Err(c.request(Request::Call {
        kind,
        to,
        input,
        value,
        gas_left,
        gas_req,
        ret_len,
    }))
}

fn create(
    c: &mut C<'_>,
    code: u32,
    len: u32,
    endowment: u32,
    salt: Option<u32>,
    contract: u32,
    ret_len: u32,
) -> Result<(), Error> {
    let ptrs = if salt.is_some() { 4 } else { 3 };
    enter(c, HOSTIO + ptrs * PTR + EVM_API)?;
    c.pay_for_read(len)?;
    c.pay_for_read(len)?;
    let code = Bytes::from(c.read_slice(code, len)?);
    let endowment = U256::from_be_bytes(c.read_fixed::<32>(endowment)?);
    let salt = match salt {
        Some(ptr) => Some(c.read_b256(ptr)?),
        None => None,
    };
    let gas_left = c.gas_left();
    Err(c.request(Request::Create {
        code,
        endowment,
        salt,
        gas_left,
        contract,
        ret_len,
    }))
}
