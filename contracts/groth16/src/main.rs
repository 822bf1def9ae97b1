//! Prints Groth16Verifier's Solidity interface (`cargo run -p verity-groth16 --features export-abi`).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]

#[cfg(not(any(test, feature = "export-abi")))]
#[no_mangle]
/// Unused on wasm: the library's `user_entrypoint` is the program's entry.
pub extern "C" fn main() {}

#[cfg(feature = "export-abi")]
fn main() {
    verity_groth16::print_from_args();
}
