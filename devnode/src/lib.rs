//! devnode: a local Arbitrum-like chain (engine: revm + wasmi).
