//! From Nitro-valid wasm to chain bytes: brotli, the deployed code and cargo-stylus's CREATE initcode — and, for
//! chains at ArbOS 60 or later, the same brotli stream as fragments plus a root ([`fragment_codes`],
//! [`root_code`]), cut as cargo-stylus 0.10.10 cuts it.

use std::io::Cursor;

use brotli::enc::BrotliEncoderParams;

use crate::{Error, Result};

/// Brotli quality used by cargo-stylus and Nitro's `arbcompress` (the maximum).
pub const BROTLI_QUALITY: i32 = 11;
/// Brotli window (log2) used by Nitro's `arbcompress`.
pub const BROTLI_WINDOW: i32 = 22;
/// The EOF-style prefix marking Stylus code; the next byte names the brotli dictionary.
pub const STYLUS_PREFIX: [u8; 3] = [0xEF, 0xF0, 0x00];
/// Dictionary byte: no dictionary.
pub const DICTIONARY_NONE: u8 = 0x00;
/// The largest deployed code the chain accepts (Arbitrum's default `MaxCodeSize`, as EIP-170).
pub const MAX_CODE_SIZE: usize = 24_576;
/// The largest wasm Nitro decompresses (128 KiB).
pub const MAX_WASM_SIZE: usize = 128 * 1024;
/// The prefix of a fragment's code (ArbOS 60): `EF F0 01` ‖ a chunk of the brotli stream.
pub const FRAGMENT_PREFIX: [u8; 3] = [0xEF, 0xF0, 0x01];
/// The prefix of a root's code (ArbOS 60): `EF F0 02` ‖ dictionary ‖ wasm size (u32 BE) ‖ fragment addresses.
pub const ROOT_PREFIX: [u8; 3] = [0xEF, 0xF0, 0x02];
/// Brotli bytes per fragment: the code limit less the fragment prefix.
pub const FRAGMENT_CHUNK: usize = MAX_CODE_SIZE - FRAGMENT_PREFIX.len();
/// Nitro's default maximum number of fragments per program at ArbOS 60 (chain owners may change it).
pub const DEFAULT_MAX_FRAGMENTS: u8 = 2;
/// Length of cargo-stylus's EVM prelude: 42 bytes of EVM code and one version byte.
pub const PRELUDE_LENGTH: usize = 43;

/// Brotli-compresses `wasm` as Nitro expects.
pub fn compress(contract: &str, wasm: &[u8]) -> Result<Vec<u8>> {
    let params = BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_WINDOW,
        ..Default::default()
    };
    let mut out = Vec::with_capacity(wasm.len() / 2);
    brotli::BrotliCompress(&mut Cursor::new(wasm), &mut out, &params).map_err(|source| {
        Error::Compress {
            contract: contract.to_owned(),
            source,
        }
    })?;
    Ok(out)
}

/// The code a deployed Stylus program holds: `EF F0 00` ‖ dictionary byte `00` ‖ `compressed`.
pub fn deployed_code(compressed: &[u8]) -> Vec<u8> {
    let mut code = Vec::with_capacity(4 + compressed.len());
    code.extend_from_slice(&STYLUS_PREFIX);
    code.push(DICTIONARY_NONE);
    code.extend_from_slice(compressed);
    code
}

/// The fragments carrying the brotli stream of deployed `code` (`EF F0 00 00` ‖ brotli): chunks of
/// [`FRAGMENT_CHUNK`] bytes, each prefixed with [`FRAGMENT_PREFIX`] (one fragment when the stream fits in one).
pub fn fragment_codes(code: &[u8]) -> Vec<Vec<u8>> {
    let stream = code.get(4..).unwrap_or_default();
    stream
        .chunks(FRAGMENT_CHUNK)
        .map(|chunk| {
            let mut fragment = Vec::with_capacity(FRAGMENT_PREFIX.len() + chunk.len());
            fragment.extend_from_slice(&FRAGMENT_PREFIX);
            fragment.extend_from_slice(chunk);
            fragment
        })
        .collect()
}

/// A root's code: [`ROOT_PREFIX`] ‖ dictionary `00` ‖ `wasm_len` (u32 big-endian) ‖ the fragments' addresses.
pub fn root_code(wasm_len: u32, fragments: &[alloy::primitives::Address]) -> Vec<u8> {
    let mut code = Vec::with_capacity(8 + 20 * fragments.len());
    code.extend_from_slice(&ROOT_PREFIX);
    code.push(DICTIONARY_NONE);
    code.extend_from_slice(&wasm_len.to_be_bytes());
    for fragment in fragments {
        code.extend_from_slice(fragment.as_slice());
    }
    code
}

/// The fragment addresses a root's code names, or `None` when `code` is not a well-formed root.
pub fn root_fragments(code: &[u8]) -> Option<Vec<alloy::primitives::Address>> {
    let addresses = code.strip_prefix(&ROOT_PREFIX)?.get(5..)?;
    addresses.len().is_multiple_of(20).then(|| {
        addresses
            .chunks_exact(20)
            .map(alloy::primitives::Address::from_slice)
            .collect()
    })
}

/// cargo-stylus's CREATE initcode: an EVM prelude that returns the `code` appended to it.
///
/// `PUSH32 len; DUP1; PUSH1 43; PUSH1 0; CODECOPY; PUSH1 0; RETURN` then the version byte `00`
/// (stylus-tools `core/deployment/prelude.rs`).
pub fn initcode(code: &[u8]) -> Vec<u8> {
    let mut len = [0u8; 32];
    len[24..].copy_from_slice(&(code.len() as u64).to_be_bytes());
    let mut init = Vec::with_capacity(PRELUDE_LENGTH + code.len());
    init.push(0x7f); // PUSH32
    init.extend_from_slice(&len);
    init.extend_from_slice(&[
        0x80, // DUP1
        0x60,
        PRELUDE_LENGTH as u8, // PUSH1 43: the code starts after the prelude
        0x60,
        0x00, // PUSH1 0
        0x39, // CODECOPY
        0x60,
        0x00, // PUSH1 0
        0xf3, // RETURN
        0x00, // version
    ]);
    init.extend_from_slice(code);
    init
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initcode_matches_cargo_stylus_prelude() {
        let code = deployed_code(&[1, 2, 3]);
        let init = initcode(&code);
        assert_eq!(init.len(), PRELUDE_LENGTH + code.len());
        let expected_prefix = {
            let mut p = vec![0x7f];
            p.extend([0u8; 31]);
            p.push(7); // code length
            p.extend([0x80, 0x60, 0x2b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3, 0x00]);
            p
        };
        assert_eq!(&init[..PRELUDE_LENGTH], expected_prefix.as_slice());
        assert_eq!(&init[PRELUDE_LENGTH..], [0xef, 0xf0, 0x00, 0x00, 1, 2, 3]);
    }

    #[test]
    fn fragments_cut_the_stream_as_cargo_stylus_does() {
        let code = deployed_code(&vec![9u8; FRAGMENT_CHUNK + 10]);
        let fragments = fragment_codes(&code);
        assert_eq!(fragments.len(), 2);
        assert_eq!(fragments[0].len(), MAX_CODE_SIZE);
        assert_eq!(&fragments[1][..3], &FRAGMENT_PREFIX);
        assert_eq!(fragments[1].len(), 13);
        assert_eq!(
            fragment_codes(&deployed_code(&[1, 2])),
            vec![vec![0xEF, 0xF0, 0x01, 1, 2]]
        );
        let addresses = [
            alloy::primitives::Address::repeat_byte(1),
            alloy::primitives::Address::repeat_byte(2),
        ];
        let root = root_code(0x0102_0304, &addresses);
        assert_eq!(&root[..8], &[0xEF, 0xF0, 0x02, 0x00, 1, 2, 3, 4]);
        assert_eq!(root_fragments(&root), Some(addresses.to_vec()));
        assert_eq!(root_fragments(&root[..root.len() - 1]), None);
        assert_eq!(root_fragments(&code), None);
    }

    #[test]
    fn compression_round_trips() {
        let wasm: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let compressed = compress("t", &wasm).unwrap();
        assert!(compressed.len() < wasm.len());
        let mut out = Vec::new();
        brotli::BrotliDecompress(&mut Cursor::new(&compressed), &mut out).unwrap();
        assert_eq!(out, wasm);
    }
}
