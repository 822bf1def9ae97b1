//! The compiled-module cache: one wasmi [`Engine`](wasmi::Engine) with Nitro's operator prices,
//! one [`Linker`] with the host functions, and each program compiled once per code hash.

use super::{
    activation::{validate_wasm, ActivationError, WasmInfo},
    code::decompress_program,
    host::{self, HostState},
    ink,
};
use alloy::primitives::B256;
use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};
use wasmi::{CompilationMode, Config, Linker, Module};

/// A validated, compiled program.
#[derive(Debug)]
pub struct CompiledProgram {
    /// The compiled module.
    pub module: Module,
    /// What validation learned about it.
    pub info: WasmInfo,
}

/// Shared compiled-module cache, keyed by code hash. Cheap to share behind an [`Arc`].
pub struct ProgramCache {
    engine: wasmi::Engine,
    linker: Linker<HostState>,
    modules: RwLock<HashMap<B256, Arc<CompiledProgram>>>,
}

impl std::fmt::Debug for ProgramCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgramCache")
            .field("programs", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for ProgramCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgramCache {
    /// Creates an empty cache with a fuel-metered wasmi engine.
    pub fn new() -> Self {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            .operator_cost(ink::operator_costs())
            // Eager: compilation never charges fuel at run time.
            .compilation_mode(CompilationMode::Eager)
            .wasm_multi_value(false)
            .wasm_reference_types(false)
            .wasm_tail_call(false)
            .wasm_extended_const(false)
            .wasm_memory64(false)
            .wasm_multi_memory(false)
            .wasm_wide_arithmetic(false)
            .wasm_custom_page_sizes(false);
        let engine = wasmi::Engine::new(&config);
        // The host function table is static; failure here is a bug caught by every test.
        let linker = host::linker(&engine).expect("host functions link");
        Self {
            engine,
            linker,
            modules: RwLock::new(HashMap::new()),
        }
    }

    /// The wasmi engine.
    pub(crate) fn engine(&self) -> &wasmi::Engine {
        &self.engine
    }

    /// The host-function linker.
    pub(crate) fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }

    /// Number of compiled programs held.
    pub fn len(&self) -> usize {
        self.modules.read().map_or(0, |m| m.len())
    }

    /// Whether the cache holds no program.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The compiled program for `code_hash`, if cached.
    pub fn get(&self, code_hash: &B256) -> Option<Arc<CompiledProgram>> {
        self.modules.read().ok()?.get(code_hash).cloned()
    }

    /// Decodes, validates and compiles deployed `code` (or returns the cached module).
    ///
    /// # Errors
    /// The [`ActivationError`] that makes the code unacceptable.
    pub fn compile(
        &self,
        code_hash: B256,
        code: &[u8],
    ) -> Result<Arc<CompiledProgram>, ActivationError> {
        if let Some(program) = self.get(&code_hash) {
            return Ok(program);
        }
        self.compile_wasm(code_hash, &decompress_program(code)?)
    }

    /// Validates and compiles `wasm` (already decompressed or assembled from fragments) under `code_hash`, or
    /// returns the cached module.
    ///
    /// # Errors
    /// The [`ActivationError`] that makes the wasm unacceptable.
    pub fn compile_wasm(
        &self,
        code_hash: B256,
        wasm: &[u8],
    ) -> Result<Arc<CompiledProgram>, ActivationError> {
        if let Some(program) = self.get(&code_hash) {
            return Ok(program);
        }
        let info = validate_wasm(wasm)?;
        let module = Module::new(&self.engine, wasm)
            .map_err(|e| ActivationError::InvalidWasm(e.to_string()))?;
        let program = Arc::new(CompiledProgram { module, info });
        if let Ok(mut modules) = self.modules.write() {
            modules.insert(code_hash, program.clone());
        }
        Ok(program)
    }
}
