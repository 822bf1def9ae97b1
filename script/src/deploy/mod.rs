//! Deployment (in progress).
