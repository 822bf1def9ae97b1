//! Verity settlement contract: not implemented yet (see the open issues).
