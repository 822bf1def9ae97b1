//! Engine tests: Stylus programs (hand-written WAT, brotli-compressed and deployed like on
//! Arbitrum) executed through `devnode::evm::Engine`. One binary, several modules.

mod activation;
mod cache;
mod calls;
mod deploy;
mod fragments;
mod hostio;
mod support;
mod token;
