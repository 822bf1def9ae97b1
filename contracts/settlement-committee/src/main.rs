//! Prints CommitteeVerifier' Solidity interface (`cargo run -p verity-settlement-committee --features export-abi`).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

#[cfg(not(any(test, feature = "export-abi")))]
#[no_mangle]
/// Unused on wasm: the library's `user_entrypoint` is the program's entry.
pub extern "C" fn main() {}

#[cfg(feature = "export-abi")]
fn main() {
    verity_settlement_committee::print_from_args();
}
