//! # verity-node — an inference node operators run
//!
//! The node takes `POST /infer {modelVersion, input, requestId?}`, runs the registered model and answers at once
//! (the fast layer) with the output and an EIP-712 receipt signed by its TEE key; the secure layer proves the
//! receipt later (the keeper's Merkle batches for mode TEE, a Groth16 proof for mode ZK).
//!
//! Modules, one direction: [`config`] (flags, env, `.env`) → [`service`] (the decision: refuse, replay or run)
//! over [`chain`] (registry, settlement and SettlementNodes reads, the node's transactions), [`weights`]
//! (fetch under [`verity_fetch`]'s policy, keccak check, cache by content hash), [`store`] (SQLite: one row per
//! request id) and [`delivery`] (receipts to the keeper's intake, `answer` on chain, mode-ZK proofs) → [`http`].
//! [`api`] holds the JSON types the client (`verity infer`) shares; [`declaration`] the signed endpoint
//! declaration; [`fault`] the injected faults of `--fault`.
//!
//! **Decisions**
//! - **Runtime**: only `VZK1` (registry format `VerityZk`): the quantized MLP of [`verity_zk::model`], integer
//!   arithmetic bit-exact with the circuit, so the receipt's `inputHash` / `outputHash` are the circuit's
//!   Poseidon hashes ([`verity_zk::model::input_hash`], [`verity_zk::model::output_hash`]) and any receipt can be
//!   ZK-proven later. Other formats are refused as an unsupported runtime, never run.
//! - **TEE mode is simulated**: the node's signing key stands in for an enclave key. Nothing here runs in an
//!   enclave; governance's `approveKey(key, measurement)` is what a real deployment would tie to an attestation.
//! - **Idempotency by request id**: one row per id in SQLite, written before anything leaves the node; a retry
//!   (same id, same model and input) returns the stored output and signed receipt, inference never runs twice,
//!   the chain `answer` is sent once (a per-id lock serializes concurrent retries). The same id with another
//!   model or input is refused (`conflict`).
//! - **Persist, then deliver**: posting the receipt to the keeper, `answer` for a paid request and a mode-ZK proof
//!   are flags on the row, done by a background loop until acknowledged (a restart resumes them).
//! - **Mode ZK: the node proves.** Only the node and the payer know the input (the keeper sees hashes), so the
//!   node makes the Groth16 proof itself when it holds a proving key for the model's shape (`--zk-proving-key`)
//!   and submits `proveWithReceipt(signed, proof)`. Without a key it answers and the request is refunded at its
//!   deadline (the node is slashed): do not take mode-ZK requests without a key.
//! - **Region and endpoint** are declared off-chain: SettlementNodes has no field for them, so `GET /info`
//!   serves a declaration signed by the node's account (EIP-191) that clients check against the on-chain
//!   registration ([`declaration`]).
//! - **Refusals sign nothing**: every check (registration, yank, usability, runtime, input, content hash, the
//!   paid request's fields) runs before the signature.

pub mod api;
pub mod chain;
pub mod config;
pub mod declaration;
pub mod delivery;
pub mod error;
pub mod fault;
pub mod http;
pub mod metrics;
pub mod run;
pub mod service;
pub mod store;
pub mod weights;

pub use error::{NodeError, Refusal};
