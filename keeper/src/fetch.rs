//! The fetch policy, shared with the inference node: see [`verity_fetch`].

pub use verity_fetch::*;
