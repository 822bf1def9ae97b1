//! # A Stylus contract larger than one contract may be
//!
//! Test fixture for devnode's ArbOS 60 fragments: it embeds [`NOISE_LEN`] bytes of incompressible data, so its
//! brotli-compressed code is over the 24,576-byte limit and cargo-stylus 0.10.10 deploys it as fragments and a
//! root. It has a constructor (so a fragmented deployment also goes through the StylusDeployer) and two reads a
//! test checks with cast: the constructor's `marker` and 32 bytes of the embedded data.
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]
#![cfg_attr(not(any(test, feature = "export-abi")), no_std)]
// `#[entrypoint]` emits an undocumented `user_entrypoint` export on wasm; native builds still check docs.
#![cfg_attr(target_arch = "wasm32", allow(missing_docs))]

#[macro_use]
extern crate alloc;

// The wasm32 panic handler (traps; no std, no formatting code).
use verity_contract_support as _;

use alloc::vec::Vec;
use alloy_primitives::{FixedBytes, U256};
use stylus_sdk::prelude::*;
use stylus_sdk::storage::StorageU256;

/// Bytes of embedded data: enough that the compressed program needs two fragments, few enough that the
/// uncompressed wasm stays under Nitro's 128 KiB.
pub const NOISE_LEN: usize = 34_000;

/// The embedded data: xorshift32 from seed `0x9E3779B9`, one low byte per step.
pub static NOISE: [u8; NOISE_LEN] = noise();

const fn noise() -> [u8; NOISE_LEN] {
    let mut out = [0u8; NOISE_LEN];
    let mut x: u32 = 0x9E37_79B9;
    let mut i = 0;
    while i < NOISE_LEN {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = x as u8;
        i += 1;
    }
    out
}

/// The fixture's storage: one word set by the constructor.
#[storage]
#[entrypoint]
pub struct BigContract {
    marker: StorageU256,
}

#[public]
impl BigContract {
    /// Stores `marker`.
    #[constructor]
    pub fn constructor(&mut self, marker: U256) {
        self.marker.set(marker);
    }

    /// The value the constructor stored.
    pub fn marker(&self) -> U256 {
        self.marker.get()
    }

    /// The 32 embedded bytes starting at `offset` (wrapping around the end).
    pub fn noise(&self, offset: U256) -> FixedBytes<32> {
        let start = (offset % U256::from(NOISE_LEN)).as_limbs()[0] as usize;
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = NOISE[(start + i) % NOISE_LEN];
        }
        FixedBytes(out)
    }
}
