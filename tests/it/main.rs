//! End-to-end tests: one binary, modules per area.

mod abi_drift;
mod bench;
mod deploy_cmd;
mod dev;
mod gauge;
mod registry;
mod security_batches;
mod settlement;
mod support;
mod token;
mod zk;
