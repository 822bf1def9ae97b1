//! Nitro validity: the wat round trip that re-encodes rustc's output, custom-section stripping, and the checks
//! Nitro's activation applies (`crates/prover/src/binary.rs`: `parse_with_version` and `parse_user`).
//!
//! rustc 1.95 links `call_indirect` with a 5-byte LEB table index (`80 80 80 80 00`, the relocation padding of the
//! `call-indirect-overlong` feature that reference types imply). Nitro's parser has reference types off and wants the
//! single byte `00` ("zero byte expected"). Printing the module as text and assembling it again writes the minimal
//! encoding; it also drops a `DataCount` section unless `memory.init`/`data.drop` need it (Nitro rejects the section).

use std::fmt;

use wasmparser::{
    BinaryReaderError, ExternalKind, Operator, Parser, Payload, TypeRef, ValType, Validator,
    WasmFeatures,
};

use crate::{Error, Result};

/// The import module every Stylus host function lives in.
pub const HOST_MODULE: &str = "vm_hooks";
/// The entrypoint Nitro calls: `user_entrypoint(len: i32) -> i32`.
pub const ENTRYPOINT: &str = "user_entrypoint";
/// Nitro's limit on data segments.
pub const MAX_DATA_SEGMENTS: usize = 128;
/// Nitro's limit on element segments.
pub const MAX_ELEMENT_SEGMENTS: usize = 128;
/// Nitro's limit on defined functions.
pub const MAX_FUNCTIONS: usize = 4096;
/// Nitro's limit on locals per function.
pub const MAX_LOCALS: u32 = 348;
/// Nitro's limit on exports.
pub const MAX_EXPORTS: usize = 1024;

/// The WASM features Nitro's parser enables for activation on current ArbOS (multi-value is off since
/// `ARBOS_VERSION_STYLUS_NO_MULTI_VALUE`): MVP plus mutable globals, sign extension, saturating float-to-int and
/// bulk memory. No reference types (hence no overlong `call_indirect`), SIMD, threads, tail calls, multi-value,
/// multi-memory, exceptions, memory64, extended-const, GC or function references.
pub fn nitro_features() -> WasmFeatures {
    let mut features = WasmFeatures::empty();
    features.set(WasmFeatures::MUTABLE_GLOBAL, true);
    features.set(WasmFeatures::SATURATING_FLOAT_TO_INT, true);
    features.set(WasmFeatures::SIGN_EXTENSION, true);
    features.set(WasmFeatures::BULK_MEMORY, true);
    features.set(WasmFeatures::FLOATS, true);
    // Internal to wasmparser: lets the type section be read at all (Nitro sets it too).
    features.set(WasmFeatures::GC_TYPES, true);
    features
}

/// The first rule of Nitro's activation a module breaks.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum NitroViolation {
    /// wasmparser's validator with [`nitro_features`] rejects it (e.g. "zero byte expected" for rustc's raw
    /// `call_indirect` encoding, or a disabled feature).
    Invalid(BinaryReaderError),
    /// A section kind Nitro's parser does not accept (e.g. `DataCount`).
    UnsupportedSection(&'static str),
    /// The module has a start function.
    StartFunction,
    /// An import from a module other than `vm_hooks`, or not a function.
    ForeignImport {
        /// The import's module.
        module: String,
        /// The import's name.
        name: String,
    },
    /// A required export is missing or has the wrong kind or type.
    BadExport {
        /// `user_entrypoint` or `memory`.
        name: &'static str,
    },
    /// An instruction Nitro cannot meter or prove (`memory.init`, `data.drop`, table instructions, …).
    UnsupportedOperator {
        /// The instruction.
        operator: &'static str,
        /// The index of the (defined) function containing it.
        function: u32,
    },
    /// More of something than Nitro allows.
    TooMany {
        /// What (data segments, functions, …).
        what: &'static str,
        /// How many there are.
        count: u64,
        /// Nitro's limit.
        limit: u64,
    },
}

impl fmt::Display for NitroViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(err) => write!(f, "invalid under Nitro's features: {err}"),
            Self::UnsupportedSection(section) => write!(f, "unsupported section {section}"),
            Self::StartFunction => f.write_str("start functions are not allowed"),
            Self::ForeignImport { module, name } => {
                write!(
                    f,
                    "import {module}::{name} is not a `{HOST_MODULE}` function"
                )
            }
            Self::BadExport { name } => write!(f, "missing or mistyped export `{name}`"),
            Self::UnsupportedOperator { operator, function } => {
                write!(
                    f,
                    "unsupported instruction {operator} in function {function}"
                )
            }
            Self::TooMany { what, count, limit } => write!(f, "too many {what}: {count} > {limit}"),
        }
    }
}

impl From<BinaryReaderError> for NitroViolation {
    fn from(err: BinaryReaderError) -> Self {
        Self::Invalid(err)
    }
}

/// Checks `wasm` as Nitro's activation does before instrumenting it: feature validation, accepted sections, no
/// start function, imports only from `vm_hooks`, `user_entrypoint: [i32] -> [i32]` and `memory` exported, the
/// anti-DoS counts, and no instruction Nitro cannot meter.
pub fn validate(wasm: &[u8]) -> Result<(), NitroViolation> {
    Validator::new_with_features(nitro_features()).validate_all(wasm)?;

    let mut types = Vec::new();
    let mut imported_funcs = 0u32;
    let mut func_types = Vec::new();
    let mut exports = Vec::new();
    let mut function = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import?;
                    match import.ty {
                        TypeRef::Func(ty) if import.module == HOST_MODULE => {
                            imported_funcs += 1;
                            func_types.push(ty);
                        }
                        _ => {
                            return Err(NitroViolation::ForeignImport {
                                module: import.module.to_owned(),
                                name: import.name.to_owned(),
                            });
                        }
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty?);
                }
                too_many(
                    "functions",
                    func_types.len() as u64 - u64::from(imported_funcs),
                    MAX_FUNCTIONS,
                )?;
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export?;
                    exports.push((export.name.to_owned(), export.kind, export.index));
                }
                too_many("exports", exports.len() as u64, MAX_EXPORTS)?;
            }
            Payload::StartSection { .. } => return Err(NitroViolation::StartFunction),
            Payload::DataSection(reader) => {
                too_many("data segments", reader.count().into(), MAX_DATA_SEGMENTS)?
            }
            Payload::ElementSection(reader) => too_many(
                "element segments",
                reader.count().into(),
                MAX_ELEMENT_SEGMENTS,
            )?,
            Payload::DataCountSection { .. } => {
                return Err(NitroViolation::UnsupportedSection("datacount"))
            }
            Payload::TagSection(_) => return Err(NitroViolation::UnsupportedSection("tag")),
            Payload::UnknownSection { .. } => {
                return Err(NitroViolation::UnsupportedSection("unknown"))
            }
            Payload::CodeSectionEntry(body) => {
                let mut locals = 0u32;
                let mut reader = body.get_locals_reader()?;
                for _ in 0..reader.get_count() {
                    let (count, _) = reader.read()?;
                    locals = locals.saturating_add(count);
                }
                // Nitro counts declared locals, parameters excluded.
                too_many("locals in one function", locals.into(), MAX_LOCALS as usize)?;
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    if let Some(operator) = unsupported_operator(&ops.read()?) {
                        return Err(NitroViolation::UnsupportedOperator { operator, function });
                    }
                }
                function += 1;
            }
            _ => {}
        }
    }

    let export = |name: &'static str, kind: ExternalKind| {
        exports
            .iter()
            .find(|(n, k, _)| n == name && *k == kind)
            .map(|(_, _, index)| *index)
            .ok_or(NitroViolation::BadExport { name })
    };
    export("memory", ExternalKind::Memory)?;
    let entry = export(ENTRYPOINT, ExternalKind::Func)?;
    match func_types
        .get(entry as usize)
        .and_then(|ty| types.get(*ty as usize))
    {
        Some(f) if f.params() == [ValType::I32] && f.results() == [ValType::I32] => Ok(()),
        _ => Err(NitroViolation::BadExport { name: ENTRYPOINT }),
    }
}

fn too_many(what: &'static str, count: u64, limit: usize) -> Result<(), NitroViolation> {
    let limit = limit as u64;
    if count > limit {
        return Err(NitroViolation::TooMany { what, count, limit });
    }
    Ok(())
}

/// The name of an instruction valid under [`nitro_features`] that Nitro's meter prices at `u64::MAX`
/// (bulk-memory's segment and table instructions); `None` for every supported one.
fn unsupported_operator(op: &Operator<'_>) -> Option<&'static str> {
    Some(match op {
        Operator::MemoryInit { .. } => "memory.init",
        Operator::DataDrop { .. } => "data.drop",
        Operator::TableInit { .. } => "table.init",
        Operator::ElemDrop { .. } => "elem.drop",
        Operator::TableCopy { .. } => "table.copy",
        Operator::TableFill { .. } => "table.fill",
        Operator::TableGet { .. } => "table.get",
        Operator::TableSet { .. } => "table.set",
        Operator::TableGrow { .. } => "table.grow",
        Operator::TableSize { .. } => "table.size",
        _ => return None,
    })
}

/// Prints `wasm` as text and assembles it again: the canonical, minimal encoding (see the module docs).
pub fn wat_round_trip(contract: &str, wasm: &[u8]) -> Result<Vec<u8>> {
    let text = wasmprinter::print_bytes(wasm).map_err(|source| Error::WasmToText {
        contract: contract.to_owned(),
        source,
    })?;
    wat::parse_str(text).map_err(|source| Error::TextToWasm {
        contract: contract.to_owned(),
        source,
    })
}

/// Removes every custom section (names, producers, target features, …): Nitro ignores them but they cost bytes.
pub fn strip_custom_sections(contract: &str, wasm: &[u8]) -> Result<Vec<u8>> {
    let invalid = |err: BinaryReaderError| Error::NitroRejected {
        contract: contract.to_owned(),
        violation: NitroViolation::Invalid(err),
    };
    let mut out = Vec::with_capacity(wasm.len());
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        let (id, range) = match payload {
            Payload::Version { range, .. } => (None, range),
            Payload::CustomSection(_) => continue,
            other => match other.as_section() {
                Some((id, range)) => (Some(id), range),
                None => continue,
            },
        };
        // The parser produced these ranges from `wasm`, so they are in bounds and fit usize.
        let bytes = &wasm[range.start as usize..range.end as usize];
        if let Some(id) = id {
            out.push(id);
            write_leb_u32(&mut out, bytes.len() as u32);
        }
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

fn write_leb_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = r#"(func (export "user_entrypoint") (param i32) (result i32) local.get 0)"#;

    fn module(body: &str) -> Vec<u8> {
        wat::parse_str(format!(r#"(module {body} (memory (export "memory") 1))"#)).unwrap()
    }

    #[test]
    fn accepts_minimal_program() {
        let wasm = module(&format!(
            r#"(import "vm_hooks" "msg_value" (func (param i32))) {ENTRY}
               (func (memory.copy (i32.const 0) (i32.const 1) (i32.const 2)))"#
        ));
        validate(&wasm).unwrap();
    }

    /// Replaces the code section of `wasm` with `bodies` (each a complete function body: locals, code, `end`).
    fn with_code(wasm: &[u8], bodies: &[&[u8]]) -> Vec<u8> {
        let mut out = wasm[..8].to_vec();
        for payload in Parser::new(0).parse_all(wasm) {
            let payload = payload.unwrap();
            let Some((id, range)) = payload.as_section() else {
                continue;
            };
            let range = range.start as usize..range.end as usize;
            out.push(id);
            let content = if id == 10 {
                let mut code = Vec::new();
                write_leb_u32(&mut code, bodies.len() as u32);
                for body in bodies {
                    write_leb_u32(&mut code, body.len() as u32);
                    code.extend_from_slice(body);
                }
                code
            } else {
                wasm[range].to_vec()
            };
            write_leb_u32(&mut out, content.len() as u32);
            out.extend_from_slice(&content);
        }
        out
    }

    #[test]
    fn rejects_overlong_call_indirect_until_round_trip() {
        let wasm = module(
            r#"(type $t (func)) (type $e (func (param i32) (result i32))) (table 1 funcref)
               (func (export "user_entrypoint") (type $e) local.get 0)
               (func (type $t) (call_indirect (type $t) (i32.const 0)))"#,
        );
        validate(&wasm).unwrap();
        // rustc 1.95 / wasm-ld: the table index of call_indirect as a 5-byte padded LEB.
        let entry: &[u8] = &[0x00, 0x20, 0x00, 0x0b];
        let overlong: &[u8] = &[
            0x00, 0x41, 0x00, 0x11, 0x00, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b,
        ];
        let raw = with_code(&wasm, &[entry, overlong]);
        match validate(&raw) {
            Err(NitroViolation::Invalid(err)) => {
                assert!(err.message().contains("zero byte expected"), "{err}")
            }
            other => panic!("expected zero-byte error, got {other:?}"),
        }
        // Every other engine (all features on) reads it fine; the round trip writes the single byte.
        assert!(Validator::new().validate_all(&raw).is_ok());
        let repaired = wat_round_trip("t", &raw).unwrap();
        validate(&repaired).unwrap();
        assert_eq!(repaired, wasm);
    }

    #[test]
    fn rejects_foreign_import() {
        let wasm = module(&format!(r#"(import "env" "f" (func)) {ENTRY}"#));
        assert!(
            matches!(validate(&wasm), Err(NitroViolation::ForeignImport { module, .. }) if module == "env")
        );
    }

    #[test]
    fn rejects_start_function() {
        let wasm = module(&format!(r#"{ENTRY} (func $s) (start $s)"#));
        assert!(matches!(
            validate(&wasm),
            Err(NitroViolation::StartFunction)
        ));
    }

    #[test]
    fn rejects_missing_or_mistyped_entrypoint() {
        let wasm =
            module(r#"(func (export "user_entrypoint") (param i64) (result i32) i32.const 0)"#);
        assert!(matches!(
            validate(&wasm),
            Err(NitroViolation::BadExport { name: ENTRYPOINT })
        ));
        let wasm = wat::parse_str(format!("(module {ENTRY})")).unwrap();
        assert!(matches!(
            validate(&wasm),
            Err(NitroViolation::BadExport { name: "memory" })
        ));
    }

    #[test]
    fn rejects_forbidden_features() {
        let simd = module(&format!(r#"{ENTRY} (func (drop (v128.const i64x2 0 0)))"#));
        assert!(matches!(validate(&simd), Err(NitroViolation::Invalid(_))));
        let multi_value = module(&format!(
            r#"{ENTRY} (func (result i32 i32) i32.const 0 i32.const 1)"#
        ));
        assert!(matches!(
            validate(&multi_value),
            Err(NitroViolation::Invalid(_))
        ));
        let tail_call = module(&format!(r#"{ENTRY} (func $f return_call $f)"#));
        assert!(matches!(
            validate(&tail_call),
            Err(NitroViolation::Invalid(_))
        ));
    }

    #[test]
    fn rejects_segment_instructions() {
        let wasm = module(&format!(
            r#"{ENTRY} (data $d "hi") (func (memory.init $d (i32.const 0) (i32.const 0) (i32.const 2)))"#
        ));
        // The data count section memory.init needs is itself unsupported; either way it is rejected.
        assert!(matches!(
            validate(&wasm),
            Err(NitroViolation::UnsupportedSection("datacount")
                | NitroViolation::UnsupportedOperator { .. })
        ));
    }

    #[test]
    fn strips_custom_sections_only() {
        let wasm = module(&format!(r#"(@custom "producers" "x") {ENTRY}"#));
        let stripped = strip_custom_sections("t", &wasm).unwrap();
        assert!(stripped.len() < wasm.len());
        validate(&stripped).unwrap();
        assert!(Parser::new(0)
            .parse_all(&stripped)
            .all(|p| !matches!(p, Ok(Payload::CustomSection(_)))));
    }

    #[test]
    fn leb_encoding() {
        let mut out = Vec::new();
        write_leb_u32(&mut out, 624_485);
        assert_eq!(out, [0xe5, 0x8e, 0x26]);
    }
}
