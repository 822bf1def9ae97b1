//! End-to-end tests: one binary, modules per area.

mod abi_drift;
mod support;
mod token;
