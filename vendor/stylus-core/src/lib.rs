// Copyright 2024-2025, Offchain Labs, Inc.
// For licensing, see https://github.com/OffchainLabs/stylus-sdk-rs/blob/main/licenses/COPYRIGHT.md
#![no_std]

//! Defines host environment methods Stylus SDK contracts have access to.

extern crate alloc;

pub mod calls;
pub mod host;
// Verity patch: `sol` (regex + lazy_static, which link std) is only used by host-side code
// (proc macros, export-abi); leaving it out on wasm32 keeps std out of contracts.
#[cfg(not(target_arch = "wasm32"))]
pub mod sol;
pub mod storage;

pub use calls::*;
pub use host::*;
#[cfg(not(target_arch = "wasm32"))]
pub use sol::*;
pub use storage::TopLevelStorage;
