//! Verity gauge contract: not implemented yet (see the open issues).
