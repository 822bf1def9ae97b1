//! # verity-keeper — the Verity keeper service
//!
//! Layers, one direction only (STYLE.md): the chain adapter ([`chain`]: alloy provider, log cursor, domain events)
//! → jobs ([`jobs`]: state + event → intents) → the outbox / transaction manager ([`outbox`]: persist intent,
//! nonce, sign, send, confirm) → the store ([`store`]: sqlx repositories, `migrations/`). [`keeper::Keeper`] runs
//! them under the leader [`lease`]; `main.rs` wires the concrete types.
//! [`fetch`] is the policy under which any URI someone else named is read (attester, challenge watcher).
//! Beside them, read-only: the [`index`] (listings, scoreboard, epoch figures from events) and the status page
//! with its JSON API ([`web`]).

pub mod chain;
pub mod config;
pub mod failpoint;
pub mod fetch;
pub mod http;
pub mod index;
pub mod jobs;
pub mod keeper;
pub mod lease;
pub mod outbox;
pub mod receipts;
pub mod status;
pub mod store;
pub mod web;
