//! export-abi entry
fn main() {}
