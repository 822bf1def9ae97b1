//! ArbOS 60 fragmented programs: a program too large for one contract is deployed as fragments — contracts whose
//! code is `EF F0 01 ‖ chunk`, the chunks concatenating to one brotli stream — and a root contract whose code is
//! `EF F0 02 ‖ dictionary ‖ uncompressed wasm size (u32 big-endian) ‖ fragment addresses (20 bytes each)`.
//! Activating the root reads its fragments, joins and decompresses them; calling the root runs the assembled
//! program. Fragments themselves are never activated or run as programs.
//!
//! # Decisions
//! - **Nitro's rules, our code** (from Nitro's `arbos/programs/programs.go` and geth's `core/state`): the root
//!   needs at least 8 bytes and an address section that is a multiple of 20; at activation the declared size must
//!   not exceed the maximum wasm size and the fragment count not the chain's maximum (`ArbOwner.
//!   setMaxStylusContractFragments`, 2 at ArbOS 60); zero fragments is an error; every address must hold
//!   fragment code; the decompressed wasm must be exactly the declared size. Each is its own typed error here
//!   where Nitro returns an untyped failure.
//! - **Reads are charged as Nitro charges them at activation**: per fragment 2,600 gas cold / 100 warm (the
//!   address then warm) plus 3 gas per 32-byte word of fragment code. Assembling for a call (a compiled module
//!   missing from the cache) charges nothing and checks no limits, as Nitro's non-activation path.
//! - **The data fee is the program's**: it is priced from the assembled wasm like any program's; fragments add
//!   nothing beyond the read gas.

use super::{
    activation::ActivationError,
    code::{decompress, decompress_program, is_fragment, is_root_program, MAX_WASM_SIZE},
};
use crate::{evm::EvmContext, precompiles::Meter};
use alloy::primitives::Address;
use revm::context::{ContextTr, JournalTr};

/// Bytes before the address section: prefix (3), dictionary (1), uncompressed size (4).
pub const ROOT_HEADER_LEN: usize = 8;

/// Bytes per fragment address in a root.
const ADDRESS_LEN: usize = 20;

/// Nitro's default maximum number of fragments per program (`initialMaxFragmentCount`, ArbOS 60).
pub const DEFAULT_MAX_FRAGMENTS: u8 = 2;

/// Gas to read a fragment whose account is not yet warm (EIP-2929 cold account access).
pub const FRAGMENT_COLD_GAS: u64 = 2_600;

/// Gas to read a fragment whose account is already warm.
pub const FRAGMENT_WARM_GAS: u64 = 100;

/// Gas per 32-byte word of fragment code read.
pub const FRAGMENT_WORD_GAS: u64 = 3;

/// A parsed root contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootProgram {
    /// Brotli dictionary of the joined stream (0 = none).
    pub dictionary: u8,
    /// Declared size of the decompressed wasm.
    pub wasm_len: u32,
    /// The fragments, in stream order.
    pub fragments: Vec<Address>,
}

impl RootProgram {
    /// Parses root code.
    ///
    /// # Errors
    /// [`ActivationError::NotWasm`] without the root prefix, [`ActivationError::RootTooShort`] without a complete
    /// header, [`ActivationError::RootBadAddresses`] when the address section is not a multiple of 20 bytes.
    pub fn parse(code: &[u8]) -> Result<Self, ActivationError> {
        if !is_root_program(code) {
            return Err(ActivationError::NotWasm);
        }
        if code.len() < ROOT_HEADER_LEN {
            return Err(ActivationError::RootTooShort { size: code.len() });
        }
        let addresses = &code[ROOT_HEADER_LEN..];
        if !addresses.len().is_multiple_of(ADDRESS_LEN) {
            return Err(ActivationError::RootBadAddresses {
                length: addresses.len(),
            });
        }
        Ok(Self {
            dictionary: code[3],
            wasm_len: u32::from_be_bytes([code[4], code[5], code[6], code[7]]),
            fragments: addresses
                .chunks_exact(ADDRESS_LEN)
                .map(Address::from_slice)
                .collect(),
        })
    }

    /// Root code for `fragments` holding a brotli stream (no dictionary) of a `wasm_len`-byte wasm.
    pub fn encode(wasm_len: u32, fragments: &[Address]) -> Vec<u8> {
        let mut code = Vec::with_capacity(ROOT_HEADER_LEN + 20 * fragments.len());
        code.extend_from_slice(&super::code::ROOT_PREFIX);
        code.push(0);
        code.extend_from_slice(&wasm_len.to_be_bytes());
        for fragment in fragments {
            code.extend_from_slice(fragment.as_slice());
        }
        code
    }

    /// Joins the fragments' chunks (`read` returns each fragment's code) and decompresses them, checking the
    /// activation limits when `max_fragments` is given.
    ///
    /// # Errors
    /// [`ActivationError::WasmTooLarge`], [`ActivationError::TooManyFragments`] (activation only),
    /// [`ActivationError::NoFragments`], [`ActivationError::NotAFragment`], [`ActivationError::BadCompression`],
    /// [`ActivationError::SizeMismatch`], or whatever `read` returns (e.g. [`ActivationError::OutOfGas`]).
    pub fn assemble(
        &self,
        max_fragments: Option<u8>,
        mut read: impl FnMut(Address) -> Result<Vec<u8>, ActivationError>,
    ) -> Result<Vec<u8>, ActivationError> {
        let declared = self.wasm_len as usize;
        if let Some(limit) = max_fragments {
            if declared > MAX_WASM_SIZE {
                return Err(ActivationError::WasmTooLarge {
                    size: declared,
                    limit: MAX_WASM_SIZE,
                });
            }
            if self.fragments.len() > usize::from(limit) {
                return Err(ActivationError::TooManyFragments {
                    count: self.fragments.len(),
                    limit,
                });
            }
        }
        if self.fragments.is_empty() {
            return Err(ActivationError::NoFragments);
        }
        let mut stream = Vec::new();
        for (index, &address) in self.fragments.iter().enumerate() {
            let code = read(address)?;
            if !is_fragment(&code) {
                return Err(ActivationError::NotAFragment { index, address });
            }
            stream.extend_from_slice(&code[3..]);
        }
        let wasm = decompress(self.dictionary, &stream, declared)?;
        if wasm.len() != declared {
            return Err(ActivationError::SizeMismatch {
                declared,
                actual: wasm.len(),
            });
        }
        Ok(wasm)
    }
}

/// The wasm of the program whose deployed code is `code`, reading fragments from the EVM state for a root.
///
/// At activation (`meter` given) a root's limits are checked against `max_fragments` and every fragment read is
/// charged; out of gas is [`ActivationError::OutOfGas`].
///
/// # Errors
/// The [`ActivationError`] that makes the code unusable.
pub(crate) fn program_wasm(
    ctx: &mut EvmContext<'_>,
    code: &[u8],
    mut meter: Option<(&mut Meter, u8)>,
) -> Result<Vec<u8>, ActivationError> {
    if is_fragment(code) {
        return Err(ActivationError::FragmentNotActivatable);
    }
    if !is_root_program(code) {
        return decompress_program(code);
    }
    let root = RootProgram::parse(code)?;
    let max_fragments = meter.as_ref().map(|(_, max)| *max);
    root.assemble(max_fragments, |address| {
        // The database is infallible (an in-memory CacheDB).
        let Ok(loaded) = ctx.journal_mut().code(address);
        if let Some((meter, _)) = meter.as_mut() {
            let access = if loaded.is_cold {
                FRAGMENT_COLD_GAS
            } else {
                FRAGMENT_WARM_GAS
            };
            let words = (loaded.data.len() as u64).div_ceil(32);
            if !meter.charge(access.saturating_add(FRAGMENT_WORD_GAS.saturating_mul(words))) {
                return Err(ActivationError::OutOfGas);
            }
        }
        Ok(loaded.data.to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stylus::code::{FRAGMENT_PREFIX, MAX_CODE_SIZE};
    use std::{collections::HashMap, io::Cursor};

    fn compress(wasm: &[u8]) -> Vec<u8> {
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            ..Default::default()
        };
        let mut out = Vec::new();
        brotli::BrotliCompress(&mut Cursor::new(wasm), &mut out, &params).unwrap();
        out
    }

    /// A fragmented deployment of `wasm` in `count` fragments, as a state map.
    fn deployment(wasm: &[u8], count: usize) -> (Vec<u8>, HashMap<Address, Vec<u8>>) {
        let stream = compress(wasm);
        let size = stream.len().div_ceil(count);
        let mut state = HashMap::new();
        let mut addresses = Vec::new();
        for (i, chunk) in stream.chunks(size).enumerate() {
            let address = Address::with_last_byte(i as u8 + 1);
            let mut code = FRAGMENT_PREFIX.to_vec();
            code.extend_from_slice(chunk);
            state.insert(address, code);
            addresses.push(address);
        }
        (RootProgram::encode(wasm.len() as u32, &addresses), state)
    }

    fn assemble(
        code: &[u8],
        state: &HashMap<Address, Vec<u8>>,
        max: u8,
    ) -> Result<Vec<u8>, ActivationError> {
        RootProgram::parse(code)?.assemble(Some(max), |a| {
            Ok(state.get(&a).cloned().unwrap_or_default())
        })
    }

    fn wasm() -> Vec<u8> {
        (0..40_000u32).map(|i| (i * 7 % 253) as u8).collect()
    }

    #[test]
    fn assembles_fragments_in_order() {
        let wasm = wasm();
        let (root, state) = deployment(&wasm, 3);
        assert_eq!(assemble(&root, &state, 3).unwrap(), wasm);
    }

    #[test]
    fn rejects_a_bad_root_prefix() {
        let mut code = RootProgram::encode(10, &[Address::ZERO]);
        code[2] = 0x03;
        assert_eq!(RootProgram::parse(&code), Err(ActivationError::NotWasm));
    }

    #[test]
    fn rejects_a_truncated_size() {
        for len in 4..ROOT_HEADER_LEN {
            let code = &RootProgram::encode(10, &[])[..len];
            assert_eq!(
                RootProgram::parse(code),
                Err(ActivationError::RootTooShort { size: len })
            );
        }
    }

    #[test]
    fn rejects_an_address_section_not_a_multiple_of_20() {
        let mut code = RootProgram::encode(10, &[Address::ZERO]);
        code.pop();
        assert_eq!(
            RootProgram::parse(&code),
            Err(ActivationError::RootBadAddresses { length: 19 })
        );
    }

    #[test]
    fn rejects_zero_fragments() {
        let code = RootProgram::encode(10, &[]);
        assert_eq!(
            assemble(&code, &HashMap::new(), 2),
            Err(ActivationError::NoFragments)
        );
    }

    #[test]
    fn rejects_more_fragments_than_the_limit() {
        let (root, state) = deployment(&wasm(), 3);
        assert_eq!(
            assemble(&root, &state, 2),
            Err(ActivationError::TooManyFragments { count: 3, limit: 2 })
        );
    }

    #[test]
    fn rejects_a_missing_or_non_fragment_address() {
        let (root, mut state) = deployment(&wasm(), 2);
        let second = Address::with_last_byte(2);
        let saved = state.remove(&second).unwrap();
        assert_eq!(
            assemble(&root, &state, 2),
            Err(ActivationError::NotAFragment {
                index: 1,
                address: second
            })
        );
        let mut program = vec![0xEF, 0xF0, 0x00, 0x00];
        program.extend_from_slice(&saved[3..]);
        state.insert(second, program);
        assert!(matches!(
            assemble(&root, &state, 2),
            Err(ActivationError::NotAFragment { index: 1, .. })
        ));
    }

    #[test]
    fn rejects_a_size_mismatch_after_decompression() {
        let wasm = wasm();
        let (mut root, state) = deployment(&wasm, 2);
        for declared in [wasm.len() as u32 - 1, wasm.len() as u32 + 1] {
            root[4..8].copy_from_slice(&declared.to_be_bytes());
            assert!(matches!(
                assemble(&root, &state, 2),
                Err(ActivationError::SizeMismatch { declared: d, .. }) if d == declared as usize
            ));
        }
    }

    #[test]
    fn rejects_a_declared_size_over_the_wasm_limit() {
        let (mut root, state) = deployment(&wasm(), 2);
        root[4..8].copy_from_slice(&(MAX_WASM_SIZE as u32 + 1).to_be_bytes());
        assert!(matches!(
            assemble(&root, &state, 2),
            Err(ActivationError::WasmTooLarge { .. })
        ));
    }

    #[test]
    fn a_program_larger_than_one_contract_fits_in_two_fragments() {
        // Incompressible: the brotli stream is larger than one contract may be.
        let mut x = 0x2545_f491_u32;
        let wasm: Vec<u8> = (0..30_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let (root, state) = deployment(&wasm, 2);
        assert!(state.values().map(Vec::len).sum::<usize>() > MAX_CODE_SIZE);
        assert!(state.values().all(|c| c.len() <= MAX_CODE_SIZE));
        assert_eq!(assemble(&root, &state, 2).unwrap(), wasm);
    }
}
