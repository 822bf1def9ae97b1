//! devnode: a local Arbitrum-like chain — revm runs EVM bytecode, gas and precompiles; wasmi runs Stylus programs.
pub mod evm;
pub mod chain;
pub mod error;
pub mod rpc;
pub mod precompiles;
pub mod stylus;
