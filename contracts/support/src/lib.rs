//! The runtime piece every Verity contract shares on `wasm32`.
//!
//! With the patched `stylus-core` (see `vendor/stylus-core/PATCH.md`) no contract links `std`, so none links std's
//! panic machinery either — the payload boxing, the hook and `core::fmt`'s formatter, several kilobytes of a
//! contract's 24 KiB budget. A contract names this crate (`use verity_contract_support as _;`) and gets this panic
//! handler instead: it traps at once, which Stylus reports as a revert with empty data. Contracts return typed
//! Solidity errors for every failure they expect; a panic is a bug and is treated as one.
#![no_std]

/// Traps immediately; the message is never formatted, so no formatting code is linked.
#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
