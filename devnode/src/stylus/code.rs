//! The deployed-code format of a Stylus program: `EF F0 00 ‖ dictionary byte ‖ brotli(wasm)`.

use super::activation::ActivationError;
use std::io::Read;

/// The three bytes every Stylus program's code starts with.
pub const STYLUS_PREFIX: [u8; 3] = [0xEF, 0xF0, 0x00];

/// The largest deployed (compressed) program, in bytes: EIP-170's contract size limit.
pub const MAX_CODE_SIZE: usize = 24_576;

/// The largest decompressed WASM Nitro activates, in bytes (`initialMaxWasmSize`).
pub const MAX_WASM_SIZE: usize = 128 * 1024;

/// Returns true if `code` is a Stylus program (starts with [`STYLUS_PREFIX`]).
pub fn is_stylus_program(code: &[u8]) -> bool {
    code.starts_with(&STYLUS_PREFIX)
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
    if dictionary != 0 {
        // Dictionary 1 (Nitro's built-in "stylus program" dictionary) is not bundled here.
        return Err(ActivationError::BadCompression(format!(
            "unsupported dictionary {dictionary}"
        )));
    }
    let mut wasm = Vec::new();
    let limit = MAX_WASM_SIZE as u64 + 1;
    brotli::Decompressor::new(compressed, 4096)
        .take(limit)
        .read_to_end(&mut wasm)
        .map_err(|e| ActivationError::BadCompression(e.to_string()))?;
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
