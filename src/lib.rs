//! The `verity` CLI's library: what the subcommands do, kept out of `main` so tests can call it.

pub mod abi;
pub mod bench;
pub mod client;
pub mod deploy;
pub mod dev;
pub mod fuzz;
pub mod infer;
pub mod wallet;
