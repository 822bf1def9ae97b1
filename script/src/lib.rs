//! # verity-script — build pipeline and deployment for Verity's Stylus contracts
//!
//! - [`build`]: compile every contract in [`CONTRACTS`] to wasm32, make the bytes Nitro-valid, brotli-compress them,
//!   produce the deployed code and CREATE initcode, and write them to `target/verity/` with a size table.
//! - [`deploy`]: through any alloy provider, CREATE each contract, activate it with `ArbWasm.activateProgram`, run
//!   its initializer and the roles wiring, and record everything in `deployments/<network>.json`.
//! - [`arbwasm`]: the binding of Arbitrum's `ArbWasm` precompile (Arbitrum's interface, not Verity's ABI).

pub mod arbwasm;
pub mod build;
pub mod contracts;
pub mod deploy;
mod error;

pub use contracts::{ContractSpec, CONTRACTS};
pub use error::{DeployStep, Error, FailureReason, Result, SizeLimit};
