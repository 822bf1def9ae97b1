//! Activation-time validation of a program's WASM, as Nitro's prover does it: the WASM feature set
//! Nitro's parser accepts, the operators Nitro prices, the imports it links and the exports it
//! calls.
//!
//! Nitro parses with an older `wasmparser` that lacks reference types, so the `call_indirect`
//! encoding newer LLVM emits (an LEB table index, "overlong" when it is zero) fails there with "zero
//! byte expected". We emulate that by validating with a feature set without `REFERENCE_TYPES` and
//! `CALL_INDIRECT_OVERLONG`. Nitro does accept `bulk-memory`'s `memory.copy` and `memory.fill`
//! (rustc emits them by default) but not `memory.init` / `data.drop` / table operators, and no
//! floating point: those are rejected by an operator scan.

use super::{code::MAX_WASM_SIZE, host, ink::PAGE_LIMIT};
use alloy::primitives::Address;
use wasmparser::{
    ExternalKind, FuncType, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures,
};

/// The entry point every program exports: `user_entrypoint(args_len: i32) -> i32`.
pub const ENTRYPOINT: &str = "user_entrypoint";

/// Why a program cannot be activated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActivationError {
    /// The account's code does not start with `EF F0 00`.
    #[error("program is not a Stylus program")]
    NotWasm,
    /// The deployed (compressed) code exceeds the code size limit.
    #[error("compressed program is {size} bytes, over the {limit}-byte limit")]
    CodeTooLarge {
        /// Deployed code size.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// The decompressed WASM exceeds Nitro's `maxWasmSize`.
    #[error("uncompressed WASM is over {limit} bytes ({size} read)")]
    WasmTooLarge {
        /// Bytes read before giving up.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// The brotli stream is invalid or uses an unknown dictionary.
    #[error("bad compression: {0}")]
    BadCompression(String),
    /// The WASM is malformed or fails validation.
    #[error("invalid WASM: {0}")]
    InvalidWasm(String),
    /// The WASM is valid but uses a feature or operator Nitro rejects.
    #[error("forbidden WASM feature: {0}")]
    ForbiddenFeature(String),
    /// An import that is not a known host function of `vm_hooks` (or `console`).
    #[error("unknown import {module}::{name}")]
    UnknownImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A required export (`user_entrypoint` of type `i32 -> i32`, or `memory`) is missing.
    #[error("missing export {0}")]
    MissingExport(String),
    /// The initial memory exceeds the page limit.
    #[error("initial memory of {pages} pages exceeds the {limit}-page limit")]
    MemoryTooLarge {
        /// Initial pages.
        pages: u64,
        /// Limit.
        limit: u16,
    },
    /// The code is a fragment (`EF F0 01`): only its root can be activated.
    #[error("fragmented stylus programs cannot be activated directly; activate the root program instead")]
    FragmentNotActivatable,
    /// A root shorter than its 8-byte header (prefix, dictionary, uncompressed size).
    #[error("stylus program root too short: need at least 8 bytes, got {size}")]
    RootTooShort {
        /// Root code size.
        size: usize,
    },
    /// A root whose address section is not a whole number of 20-byte addresses.
    #[error(
        "stylus program root address data has invalid length: {length} (must be multiple of 20)"
    )]
    RootBadAddresses {
        /// Length of the address section.
        length: usize,
    },
    /// A root naming no fragment.
    #[error("fragment count cannot be zero")]
    NoFragments,
    /// A root naming more fragments than the chain allows.
    #[error("fragment count {count} exceeds limit of {limit}")]
    TooManyFragments {
        /// Fragments named.
        count: usize,
        /// The chain's maximum (`ArbOwner.setMaxStylusContractFragments`).
        limit: u8,
    },
    /// A root's fragment address holds no fragment code (no code, or other code).
    #[error("fragment {index} at {address} is not a Stylus program fragment")]
    NotAFragment {
        /// Position in the root.
        index: usize,
        /// The address named.
        address: Address,
    },
    /// The joined fragments do not decompress to the size the root declares.
    #[error("decompressed length {actual} does not match expected length {declared}")]
    SizeMismatch {
        /// Size the root declares.
        declared: usize,
        /// Bytes decompressed (at most `declared + 1`).
        actual: usize,
    },
    /// Reading fragments ran out of gas.
    #[error("out of gas reading fragments")]
    OutOfGas,
}

/// Facts about a validated program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmInfo {
    /// Initial memory in 64 KiB pages (Nitro's "footprint").
    pub footprint: u16,
    /// Decompressed size in bytes.
    pub wasm_len: usize,
}

/// The WASM features Nitro's parser enables.
pub fn nitro_features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::FLOATS
        | WasmFeatures::GC_TYPES
}

/// Validates `wasm` the way Nitro's activation does.
///
/// # Errors
/// The first [`ActivationError`] found.
pub fn validate_wasm(wasm: &[u8]) -> Result<WasmInfo, ActivationError> {
    if wasm.len() > MAX_WASM_SIZE {
        return Err(ActivationError::WasmTooLarge {
            size: wasm.len(),
            limit: MAX_WASM_SIZE,
        });
    }
    if let Err(restricted) = Validator::new_with_features(nitro_features()).validate_all(wasm) {
        // Valid under every feature: the module uses something Nitro does not enable.
        return Err(
            match Validator::new_with_features(WasmFeatures::all()).validate_all(wasm) {
                Ok(_) => ActivationError::ForbiddenFeature(restricted.to_string()),
                Err(_) => ActivationError::InvalidWasm(restricted.to_string()),
            },
        );
    }
    let invalid = |e: wasmparser::BinaryReaderError| ActivationError::InvalidWasm(e.to_string());

    let mut types: Vec<FuncType> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut memories = Vec::new();
    let mut entry_ok = false;
    let mut memory_exported = false;
    let mut op_name = String::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(invalid)?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    let unknown = || ActivationError::UnknownImport {
                        module: import.module.to_string(),
                        name: import.name.to_string(),
                    };
                    let TypeRef::Func(index) = import.ty else {
                        return Err(unknown());
                    };
                    let Some(signature) = host::signature(import.module, import.name) else {
                        return Err(unknown());
                    };
                    let ty = types
                        .get(index as usize)
                        .ok_or_else(|| ActivationError::InvalidWasm("bad type index".into()))?;
                    if !host::matches(signature, ty) {
                        return Err(ActivationError::InvalidWasm(format!(
                            "import {}::{} has the wrong type",
                            import.module, import.name
                        )));
                    }
                    func_types.push(index);
                }
            }
            Payload::FunctionSection(reader) => {
                for index in reader {
                    func_types.push(index.map_err(invalid)?);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    memories.push(memory.map_err(invalid)?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    match (export.name, export.kind) {
                        (ENTRYPOINT, ExternalKind::Func) => {
                            let ty = func_types
                                .get(export.index as usize)
                                .and_then(|t| types.get(*t as usize));
                            entry_ok = ty.is_some_and(|t| {
                                t.params() == [ValType::I32] && t.results() == [ValType::I32]
                            });
                        }
                        ("memory", ExternalKind::Memory) => memory_exported = true,
                        _ => {}
                    }
                }
            }
            Payload::StartSection { .. } => {
                return Err(ActivationError::ForbiddenFeature(
                    "start functions are not allowed".into(),
                ))
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader().map_err(invalid)?;
                while !ops.eof() {
                    let op = ops.read().map_err(invalid)?;
                    op_name.clear();
                    use std::fmt::Write;
                    // Writing to a String cannot fail.
                    let _ = write!(op_name, "{op:?}");
                    if is_unsupported_operator(&op_name) {
                        let name = op_name.split([' ', '{']).next().unwrap_or_default();
                        return Err(ActivationError::ForbiddenFeature(format!(
                            "unsupported operator {name}"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    if !entry_ok {
        return Err(ActivationError::MissingExport(ENTRYPOINT.into()));
    }
    if !memory_exported || memories.len() != 1 {
        return Err(ActivationError::MissingExport("memory".into()));
    }
    let pages = memories[0].initial;
    if pages > u64::from(PAGE_LIMIT) {
        return Err(ActivationError::MemoryTooLarge {
            pages,
            limit: PAGE_LIMIT,
        });
    }
    Ok(WasmInfo {
        // Bounded by PAGE_LIMIT above.
        footprint: pages as u16,
        wasm_len: wasm.len(),
    })
}

/// Operators Nitro prices at `u64::MAX` (i.e. refuses): floating point, `memory.init`,
/// `data.drop` and table operators.
fn is_unsupported_operator(debug_name: &str) -> bool {
    const REJECTED: [&str; 10] = [
        "MemoryInit",
        "DataDrop",
        "TableInit",
        "ElemDrop",
        "TableCopy",
        "TableFill",
        "TableGet",
        "TableSet",
        "TableGrow",
        "TableSize",
    ];
    let name = debug_name.split([' ', '{']).next().unwrap_or_default();
    name.contains("F32") || name.contains("F64") || REJECTED.contains(&name)
}
