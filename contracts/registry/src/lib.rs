//! Verity registry contract: not implemented yet (see the open issues).
