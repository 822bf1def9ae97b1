//! Verity ABI.
