//! The deployed-code formats of Stylus programs: a classic program `EF F0 00 ‖ dictionary byte ‖ brotli(wasm)`,
//! and ArbOS 60's fragmented form (a root `EF F0 02 ‖ dictionary ‖ wasm size ‖ fragment addresses` pointing at
//! fragments `EF F0 01 ‖ chunk of the brotli stream`; see [`super::fragments`]).

use super::activation::ActivationError;
use std::io::Read;

/// The three bytes every Stylus program's code starts with.
pub const STYLUS_PREFIX: [u8; 3] = [0xEF, 0xF0, 0x00];

/// The three bytes a fragment of a fragmented program starts with (ArbOS 60).
pub const FRAGMENT_PREFIX: [u8; 3] = [0xEF, 0xF0, 0x01];

/// The three bytes the root of a fragmented program starts with (ArbOS 60).
pub const ROOT_PREFIX: [u8; 3] = [0xEF, 0xF0, 0x02];

/// The largest deployed (compressed) program, in bytes: EIP-170's contract size limit.
pub const MAX_CODE_SIZE: usize = 24_576;

/// The largest decompressed WASM Nitro activates, in bytes (`initialMaxWasmSize`).
pub const MAX_WASM_SIZE: usize = 128 * 1024;

/// Returns true if `code` is a Stylus program a call runs: a classic program ([`STYLUS_PREFIX`]) or the root of
/// a fragmented one ([`ROOT_PREFIX`]), with at least one byte after the prefix (as Nitro requires).
pub fn is_stylus_program(code: &[u8]) -> bool {
    code.len() > 3 && (code.starts_with(&STYLUS_PREFIX) || code.starts_with(&ROOT_PREFIX))
}

/// Returns true if `code` is a root of a fragmented program ([`ROOT_PREFIX`]).
pub fn is_root_program(code: &[u8]) -> bool {
    code.len() > 3 && code.starts_with(&ROOT_PREFIX)
}

/// Returns true if `code` is a fragment ([`FRAGMENT_PREFIX`]).
pub fn is_fragment(code: &[u8]) -> bool {
    code.len() > 3 && code.starts_with(&FRAGMENT_PREFIX)
}

/// Returns true if a creation may deploy `code` although it starts with `0xEF` (EIP-3541): every Stylus
/// component — a program, a root or a fragment — may, as on Nitro at ArbOS 60.
pub fn is_stylus_component(code: &[u8]) -> bool {
    is_stylus_program(code) || is_fragment(code)
}

/// Decodes deployed code into the WASM it carries, enforcing both size limits.
///
/// # Errors
/// [`ActivationError::NotWasm`] if the prefix is missing, [`ActivationError::CodeTooLarge`] over
/// [`MAX_CODE_SIZE`], [`ActivationError::BadCompression`] for an unknown dictionary or invalid
/// brotli data, [`ActivationError::WasmTooLarge`] when the WASM exceeds [`MAX_WASM_SIZE`].
pub fn decompress_program(code: &[u8]) -> Result<Vec<u8>, ActivationError> {
    let Some(rest) = code.strip_prefix(&STYLUS_PREFIX) else {
        return Err(ActivationError::NotWasm);
    };
    if code.len() > MAX_CODE_SIZE {
        return Err(ActivationError::CodeTooLarge {
            size: code.len(),
            limit: MAX_CODE_SIZE,
        });
    }
    let Some((&dictionary, compressed)) = rest.split_first() else {
        return Err(ActivationError::NotWasm);
    };
    let wasm = decompress(dictionary, compressed, MAX_WASM_SIZE)?;
    if wasm.len() > MAX_WASM_SIZE {
        return Err(ActivationError::WasmTooLarge {
            size: wasm.len(),
            limit: MAX_WASM_SIZE,
        });
    }
    if wasm.is_empty() {
        return Err(ActivationError::BadCompression("empty output".into()));
    }
    Ok(wasm)
}

/// Decompresses a brotli stream compressed with `dictionary`, reading at most `limit + 1` bytes (so a caller
/// can tell "exactly `limit`" from "more").
///
/// # Errors
/// [`ActivationError::BadCompression`] for an unknown dictionary or invalid brotli data.
pub(crate) fn decompress(
    dictionary: u8,
    compressed: &[u8],
    limit: usize,
) -> Result<Vec<u8>, ActivationError> {
    if dictionary != 0 {
        // Dictionary 1 (Nitro's built-in "stylus program" dictionary) is not bundled here.
        return Err(ActivationError::BadCompression(format!(
            "unsupported dictionary {dictionary}"
        )));
    }
    let mut wasm = Vec::new();
    brotli::Decompressor::new(compressed, 4096)
        .take(limit as u64 + 1)
        .read_to_end(&mut wasm)
        .map_err(|e| ActivationError::BadCompression(e.to_string()))?;
    Ok(wasm)
}
