//! Stylus programs on revm: decoding and validating deployed WASM ([`code`], [`activation`]), the ink
//! price table ([`ink`]), the compiled-module cache ([`ProgramCache`]), the `vm_hooks` host functions
//! and the frame executor that runs a program inside a revm call frame.
//!
//! A program is an account whose code is `EF F0 00 ‖ dictionary ‖ brotli(wasm)`, or the root of a fragmented
//! program ([`fragments`], ArbOS 60). It runs only after
//! `ArbWasm.activateProgram` has validated it (see [`crate::precompiles`]).
//!
//! # Calls out of a program
//! A program's host calls that touch EVM state (storage misses, calls, creates, logs, account
//! reads) leave wasmi through a *resumable call*: the host function stores a [`host`] request in the
//! store and traps; the executor, which owns both the wasmi store and the revm EVM, performs the
//! request — for calls and creates it runs revm's exec loop recursively on a fresh frame stack — and
//! resumes the program with the results. No pointers into the EVM are kept inside wasmi and no
//! `unsafe` is needed.

pub mod activation;
pub mod cache;
pub mod code;
pub(crate) mod exec;
pub mod fragments;
pub(crate) mod host;
pub mod ink;

pub use activation::{validate_wasm, ActivationError, WasmInfo};
pub use cache::{CompiledProgram, ProgramCache};
pub use code::{
    decompress_program, is_fragment, is_root_program, is_stylus_component, is_stylus_program,
    FRAGMENT_PREFIX, ROOT_PREFIX, STYLUS_PREFIX,
};
pub use fragments::RootProgram;
pub use host::vm_hooks;

thread_local! {
    /// Program failures (traps) on this thread since the last [`take_traps`], at most [`MAX_RECORDED_TRAPS`].
    static TRAPS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many trap reasons [`take_traps`] keeps between two takes (the rest are dropped, not counted).
pub const MAX_RECORDED_TRAPS: usize = 16;

/// Records a program failure: a wasm trap (`unreachable`, out-of-bounds memory, a failed host call) or a
/// stack overflow. On chain these all look like an empty revert (or an out-of-ink halt), the same as
/// stylus-sdk's own refusal of an unknown selector, so the fuzzer (`verity-fuzz`) reads them here.
pub(crate) fn record_trap(reason: String) {
    TRAPS.with(|traps| {
        let mut traps = traps.borrow_mut();
        if traps.len() < MAX_RECORDED_TRAPS {
            traps.push(reason);
        }
    });
}

/// The program failures (`<program address>: <reason>`) recorded on the calling thread since the last call;
/// execution is synchronous on the thread that drives the [`crate::chain::Chain`], so an in-process caller
/// sees exactly the traps of what it executed.
pub fn take_traps() -> Vec<String> {
    TRAPS.with(|traps| std::mem::take(&mut *traps.borrow_mut()))
}

/// The Stylus version this engine implements (Nitro's `stylusVersion()` since ArbOS 32).
pub const STYLUS_VERSION: u16 = 2;
