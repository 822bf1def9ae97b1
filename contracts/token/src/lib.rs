//! BR token.
