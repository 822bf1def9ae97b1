//! End-to-end tests: one binary, modules per area.

mod abi_drift;
mod access;
mod bench;
mod cargo_stylus;
mod deploy_cmd;
mod dev;
mod fuzz;
mod gauge;
mod node;
mod promises;
mod registry;
mod security_batches;
mod security_registry;
mod security_settlement;
mod settlement;
mod support;
mod token;
mod wallet;
mod wallet_page;
mod zk;
