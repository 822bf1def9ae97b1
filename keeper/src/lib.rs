//! Verity keeper: not implemented yet (issue 7).
