//! # verity-zk — zero-knowledge proofs that `output = model(input)`
//!
//! Verity's mode-ZK receipts are backed by a Groth16 proof over BN254 (arkworks 0.6), verified on-chain by
//! Groth16Verifier (`verity-groth16`) through the EVM's BN254 precompiles. This crate is everything off-chain:
//!
//! - [`model`]: the model — a small **quantized MLP** (int8 weights and activations, int32 biases, one hidden
//!   layer with ReLU, a right shift and saturation to 127, int32 logits) — and its **weights file** (`VZK1`),
//!   whose keccak256 is the content hash the ModelRegistry records.
//! - [`hash`]: Poseidon over BN254's scalar field, with a domain tag per use: the **weights commitment**, the
//!   **input hash** and the **output hash** (each a field element, written into receipts as a 32-byte
//!   big-endian word).
//! - [`circuit`]: the R1CS circuit proving that the committed weights map the input with the given hash to the
//!   output with the given hash; public inputs `[weights commitment, input hash, output hash]`.
//! - [`snark`]: key generation, proving and arkworks' native verification.
//! - [`evm`]: verifying keys and proofs in the encoding the contract and the precompiles take
//!   ([`verity_abi::groth16`]), both ways.
//! - [`cli`]: the `verity-zk` command (`example`, `commit`, `setup`, `prove`, `verify`).
//!
//! ## The weights file, the content hash and the commitment
//! The registry names a model version's weights by `keccak256(file)`; keccak is far too costly inside a circuit,
//! so the circuit binds the weights through a Poseidon commitment instead. Both are functions of the same bytes:
//! the file format is canonical (fixed layout, exact length, every value range-checked on parse), so anyone who
//! fetches the file by its content hash computes the commitment with `verity-zk commit` and compares it with the
//! one the model's submitter registered next to the verifying key. On-chain the verifier records the content
//! hash read from the registry in its `KeyRegistered` event, tying the pair together publicly.
//!
//! ```no_run
//! use verity_zk::{model::Model, snark};
//! let model = Model::example(4, 8, 3, 7);
//! let mut rng = ark_std::rand::rngs::OsRng;
//! let keys = snark::setup(model.shape(), &mut rng)?;
//! let input = [3i8, -7, 100, -128];
//! let proven = snark::prove(&keys.proving, &model, &input, &mut rng)?;
//! assert!(snark::verify(&keys.verifying, &proven.statement, &proven.proof)?);
//! # Ok::<(), verity_zk::Error>(())
//! ```

pub mod circuit;
pub mod cli;
pub mod evm;
pub mod field;
pub mod hash;
pub mod model;
pub mod snark;

/// The `rand` 0.8 that arkworks takes (for callers that seed their own RNGs).
pub use ark_std::rand;

/// Every way this crate's operations fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The weights file is malformed.
    #[error("weights file: {0}")]
    Weights(#[from] model::FormatError),
    /// The input does not fit the model.
    #[error("input has {got} values, the model takes {expected}")]
    InputLength {
        /// What the model takes.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// The proving key was generated for another model shape.
    #[error("the proving key is for shape {key:?}, the model has {model:?}")]
    ShapeMismatch {
        /// The key's shape.
        key: model::Shape,
        /// The model's shape.
        model: model::Shape,
    },
    /// Constraint synthesis, setup or proving failed.
    #[error("proof system: {0}")]
    Synthesis(#[from] ark_relations::gr1cs::SynthesisError),
    /// A key or proof could not be (de)serialized.
    #[error("serialization: {0}")]
    Serialization(#[from] ark_serialize::SerializationError),
    /// An EVM-encoded key or proof is malformed.
    #[error("EVM encoding: {0}")]
    Encoding(#[from] evm::EncodingError),
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
