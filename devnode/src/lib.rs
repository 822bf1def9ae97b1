//! devnode: a local Arbitrum-like chain — revm runs EVM bytecode, gas and precompiles; wasmi runs Stylus programs.
pub mod chain;
pub mod error;
pub mod evm;
pub mod precompiles;
pub mod rpc;
pub mod stylus;
