//! Prints the fixture's Solidity interface (cargo-stylus reads its constructor this way).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

#[cfg(not(any(test, feature = "export-abi")))]
#[no_mangle]
/// Unused on wasm: the library's `user_entrypoint` is the program's entry.
pub extern "C" fn main() {}

#[cfg(feature = "export-abi")]
fn main() {
    devnode_big_contract::print_from_args();
}
