//! Stylus programs on revm: decoding and validating deployed WASM ([`code`], [`activation`]), the ink
//! price table ([`ink`]), the compiled-module cache ([`ProgramCache`]), the `vm_hooks` host functions
//! and the frame executor that runs a program inside a revm call frame.
//!
//! A program is an account whose code is `EF F0 00 ‖ dictionary ‖ brotli(wasm)`. It runs only after
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
pub(crate) mod host;
pub mod ink;

pub use activation::{validate_wasm, ActivationError, WasmInfo};
pub use cache::{CompiledProgram, ProgramCache};
pub use code::{decompress_program, is_stylus_program, STYLUS_PREFIX};
pub use host::vm_hooks;

/// The Stylus version this engine implements (Nitro's `stylusVersion()` since ArbOS 32).
pub const STYLUS_VERSION: u16 = 2;
