//! The runtime piece every Verity contract shares on `wasm32`.
//!
//! With the patched `stylus-core` (see `vendor/stylus-core/PATCH.md`) no contract links `std`, so none links std's
//! panic machinery either — the payload boxing, the hook and `core::fmt`'s formatter, several kilobytes of a
//! contract's 24 KiB budget. A contract names this crate (`use verity_contract_support as _;`) and gets this panic
//! handler instead: it traps at once, which Stylus reports as a revert with empty data. Contracts return typed
//! Solidity errors for every failure they expect; a panic is a bug and is treated as one.
//!
//! It also holds the few panic-free word helpers several contracts repeated: narrowing a storage-width integer
//! without ruint's `to::<T>()` (whose failure path links `Debug` and `core::fmt`), and reading the single word a
//! call returned — and [`host_call`], the one way contracts call out.
#![no_std]

extern crate alloc;

use alloc::vec::Vec;
use alloy_primitives::{Address, Uint, B256, U256};
use stylus_sdk::stylus_core::Host;

/// Calls `to` with `data` through the host directly, with all gas (clamped by the 63/64 rule): a static call when
/// `value` is `None`, else a call sending `value` wei. Like `stylus_sdk::call::{static_call, call}` it first
/// flushes the storage cache, and clears it before a mutating call; unlike them it skips the SDK's call builder
/// and error type (measured: 210–310 bytes brotli per contract). Returns the callee's return data, or its revert
/// data as the error.
pub fn host_call<H: Host + ?Sized>(
    host: &H,
    to: Address,
    data: &[u8],
    value: Option<U256>,
) -> Result<Vec<u8>, Vec<u8>> {
    host.flush_cache(value.is_some());
    let mut return_len = 0;
    // SAFETY: every pointer is valid for the call's duration (`to` 20 bytes, `data` `data.len()` bytes, the
    // value 32 bytes); the cache was flushed (and cleared before a mutating call) above, and the entrypoint
    // refuses reentrant calls.
    let status = unsafe {
        match value {
            None => host.static_call_contract(
                to.as_ptr(),
                data.as_ptr(),
                data.len(),
                u64::MAX,
                &mut return_len,
            ),
            Some(value) => host.call_contract(
                to.as_ptr(),
                data.as_ptr(),
                data.len(),
                B256::from(value).as_ptr(),
                u64::MAX,
                &mut return_len,
            ),
        }
    };
    let out = host.read_return_data(0, None);
    if status == 0 {
        Ok(out)
    } else {
        Err(out)
    }
}

/// Sends `amount` wei to `to` with all gas, as `stylus_sdk::call::transfer::transfer_eth` does (cache flushed and
/// cleared first, return data never copied, so a recipient cannot make the sender pay for a large return), through
/// the host directly. Whether the transfer succeeded.
pub fn transfer<H: Host + ?Sized>(host: &H, to: Address, amount: U256) -> bool {
    host.flush_cache(true);
    let value = B256::from(amount);
    let mut return_len = 0;
    // SAFETY: every pointer is valid for the call's duration (`to` 20 bytes, no calldata, `value` 32 bytes); the
    // cache was flushed and cleared above, and the entrypoint refuses reentrant calls.
    let status = unsafe {
        host.call_contract(
            to.as_ptr(),
            [].as_ptr(),
            0,
            value.as_ptr(),
            u64::MAX,
            &mut return_len,
        )
    };
    status == 0
}

/// The `u64` a storage-width `Uint<64, 1>` holds (no conversion check, no panic path).
#[inline]
pub fn u64_of(value: Uint<64, 1>) -> u64 {
    value.as_limbs()[0]
}

/// Panic-free reads of the SDK's storage integers as primitives of the same width (ruint's `to()` links a
/// formatting panic into the program).
pub trait Native {
    /// The primitive type.
    type Out;
    /// The value as the primitive type (exact: same width).
    fn native(self) -> Self::Out;
}

impl Native for Uint<128, 2> {
    type Out = u128;
    #[inline]
    fn native(self) -> u128 {
        let limbs = self.as_limbs();
        (u128::from(limbs[1]) << 64) | u128::from(limbs[0])
    }
}

impl Native for Uint<64, 1> {
    type Out = u64;
    #[inline]
    fn native(self) -> u64 {
        u64_of(self)
    }
}

/// The `u8` a storage-width `Uint<8, 1>` holds (no conversion check, no panic path).
#[inline]
pub fn u8_of(value: Uint<8, 1>) -> u8 {
    // Truncation not possible: a Uint<8, 1> is below 256.
    value.as_limbs()[0] as u8
}

/// The single 32-byte word `out` holds, if that is exactly what a call returned.
#[inline]
pub fn word(out: &[u8]) -> Option<U256> {
    (out.len() == 32).then(|| U256::from_be_slice(out))
}

/// The `uint8` a call returned, if it returned exactly one word below 256.
#[inline]
pub fn word_u8(out: &[u8]) -> Option<u8> {
    (out.len() == 32 && out[..31].iter().all(|b| *b == 0)).then(|| out[31])
}

/// Whether a call returned exactly the ABI `bool` `true`.
#[inline]
pub fn is_true(out: &[u8]) -> bool {
    word_u8(out) == Some(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_and_words() {
        assert_eq!(u64_of(Uint::from(u64::MAX)), u64::MAX);
        assert_eq!(u8_of(Uint::from(255u8)), 255);
        assert_eq!(Uint::<128, 2>::from(u128::MAX - 1).native(), u128::MAX - 1);
        assert_eq!(Uint::<64, 1>::from(7u64).native(), 7);
        let mut one = [0u8; 32];
        one[31] = 1;
        assert!(is_true(&one));
        assert_eq!(word(&one), Some(U256::from(1)));
        assert_eq!(word_u8(&one), Some(1));
        assert!(!is_true(&one[1..]));
        assert_eq!(word(&one[1..]), None);
        one[31] = 2;
        assert!(!is_true(&one));
        one[0] = 1;
        assert_eq!(word_u8(&one), None);
        assert!(!is_true(&one));
    }
}

/// Traps immediately; the message is never formatted. (The build's `-C panic=immediate-abort` also keeps every
/// panic site from building a message, so no formatting code is linked: `verity_script::build::cargo`.)
#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
