//! Verity build pipeline and deployment.
