//! End-to-end tests: one binary, modules per area.

mod abi_drift;
mod bench;
mod deploy_cmd;
mod dev;
mod fuzz;
mod gauge;
mod registry;
mod settlement;
mod support;
mod token;
mod zk;
