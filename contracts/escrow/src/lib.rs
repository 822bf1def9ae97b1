//! Verity escrow contract: not implemented yet (see the open issues).
