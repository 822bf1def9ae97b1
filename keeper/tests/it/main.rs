//! End-to-end tests of the keeper against an in-process devnode: one binary, modules per area.

mod cursor;
mod faults;
mod finalizer;
mod index;
mod lease;
mod outbox;
mod receipts;
mod receipts_kill;
mod registry_attest;
mod registry_batcher;
mod registry_jobs;
mod support;
