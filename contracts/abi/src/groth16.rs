//! Groth16Verifier (`verity-groth16`): a BN254 Groth16 verifier behind [`crate::settlement::IInferenceVerifier`]
//! for mode-ZK receipts, one verifying key (and weights commitment) per model version. The encodings here are the
//! single source for the contract and for `verity-zk`, which produces keys and proofs in them.
//!
//! # The statement
//! A proof for model version `m` shows `output = model(input)` for the model whose weights hash to the
//! commitment registered for `m`. The circuit has exactly [`PUBLIC_INPUTS`] public inputs, in this order:
//! 1. the weights commitment (a BN254 scalar, registered with the key),
//! 2. the receipt's `inputHash`, read as a big-endian `uint256`,
//! 3. the receipt's `outputHash`, likewise.
//!
//! The receipt's hashes are BN254 scalars (Poseidon hashes, see `verity-zk`) written as 32-byte big-endian words.
//! A word `≥` [`SCALAR_MODULUS`] is not a scalar: `verify` answers `false` for it — it is never reduced, so two
//! different words can never stand for the same public input.
//!
//! # Encodings (EIP-196/197, what the precompiles take)
//! - a field element: 32 bytes big-endian, `<` [`FIELD_MODULUS`];
//! - a G1 point: `x ‖ y` ([`G1_LEN`] bytes), the point at infinity `(0, 0)`;
//! - a G2 point: `x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0` ([`G2_LEN`] bytes; the imaginary part first);
//! - a verifying key ([`VERIFYING_KEY_LEN`] bytes): `α (G1) ‖ β (G2) ‖ γ (G2) ‖ δ (G2) ‖ IC₀ ‖ IC₁ ‖ IC₂ ‖ IC₃
//!   (G1)`;
//! - a proof ([`PROOF_LEN`] bytes): `A (G1) ‖ B (G2) ‖ C (G1)`.
//!
//! Verification: `vk_x = IC₀ + c·IC₁ + i·IC₂ + o·IC₃` (precompiles 0x07 and 0x06), then the pairing check (0x08)
//! `e(−A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) = 1`.

use alloy_primitives::{uint, Address, U256};

/// The BN254 G1 addition precompile (EIP-196).
pub const BN254_ADD: Address = Address::with_last_byte(6);
/// The BN254 G1 scalar multiplication precompile (EIP-196).
pub const BN254_MUL: Address = Address::with_last_byte(7);
/// The BN254 pairing check precompile (EIP-197).
pub const BN254_PAIRING: Address = Address::with_last_byte(8);

/// The BN254 base field modulus `q`: every coordinate is below it.
pub const FIELD_MODULUS: U256 =
    uint!(0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47_U256);
/// The BN254 scalar field modulus `r`: every public input is below it.
pub const SCALAR_MODULUS: U256 =
    uint!(0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001_U256);

/// Public inputs of the inference circuit: weights commitment, input hash, output hash.
pub const PUBLIC_INPUTS: usize = 3;
/// Bytes of an encoded G1 point.
pub const G1_LEN: usize = 64;
/// Bytes of an encoded G2 point.
pub const G2_LEN: usize = 128;
/// Bytes of an encoded verifying key: α, β, γ, δ and one IC point per public input plus one.
pub const VERIFYING_KEY_LEN: usize = G1_LEN + 3 * G2_LEN + (PUBLIC_INPUTS + 1) * G1_LEN;
/// Bytes of an encoded proof: A, B, C.
pub const PROOF_LEN: usize = 2 * G1_LEN + G2_LEN;

/// Offsets of the parts of an encoded verifying key.
pub mod vk_offset {
    use super::{G1_LEN, G2_LEN};
    /// α (G1).
    pub const ALPHA: usize = 0;
    /// β (G2).
    pub const BETA: usize = G1_LEN;
    /// γ (G2).
    pub const GAMMA: usize = BETA + G2_LEN;
    /// δ (G2).
    pub const DELTA: usize = GAMMA + G2_LEN;
    /// IC₀ (G1); ICᵢ follows at `IC + i · G1_LEN`.
    pub const IC: usize = DELTA + G2_LEN;
}

/// The model registry's `version(id)` answer as Groth16Verifier reads it: a static struct of
/// [`version_info::WORDS`] words, of which it needs the submitter (who may register the key) and the content
/// hash (recorded in [`KeyRegistered`]). The end-to-end tests check these positions against the registry.
pub mod version_info {
    /// Words in `VersionInfo`.
    pub const WORDS: usize = 18;
    /// The submitter's word.
    pub const SUBMITTER: usize = 2;
    /// The content hash's word (keccak256 of the weights file).
    pub const CONTENT_HASH: usize = 8;
}

/// Why a verifying key was refused ([`Groth16InvalidKey`]'s `reason`).
pub mod key_fault {
    /// Not [`super::VERIFYING_KEY_LEN`] bytes.
    pub const LENGTH: u8 = 1;
    /// The weights commitment is not below [`super::SCALAR_MODULUS`].
    pub const COMMITMENT: u8 = 2;
    /// A coordinate is not below [`super::FIELD_MODULUS`].
    pub const COORDINATE: u8 = 3;
    /// The pairing precompile refused the points (not on the curve, or a G2 point outside the subgroup), or α, β,
    /// γ or δ is the point at infinity.
    pub const POINTS: u8 = 4;
    /// An IC point (IC₀…IC₃) is the point at infinity: a zero ICᵢ₊₁ drops public input `i` from the statement
    /// (one proof then verifies for any value of it, e.g. any output).
    pub const IC_INFINITY: u8 = 5;
}

alloy_sol_types::sol! {
    #![sol(all_derives)]
    /// The registry's `version(id)` (selector only; the answer is read by word, see [`version_info`]).
    interface IRegistryVersion {
        function version(uint256 id) external view returns (bytes32 name, uint64 version, address submitter, uint8 status, uint8 reason, uint8 relation, uint8 parentCount, uint8 format, bytes32 contentHash, uint64 size, uint64 storageExpiry, bytes32 runtime, bytes32 ioSchemaHash, bytes32 licenseId, bytes32 metadataHash, uint256 fee, uint64 submittedAt, uint64 registeredAt);
    }

    /// `account` did not submit model version `modelVersion` to the registry (only its submitter registers a key).
    error Groth16NotModelOwner(uint256 modelVersion, address account);
    /// The registry knows no model version `modelVersion`.
    error Groth16UnknownModel(uint256 modelVersion);
    /// Model version `modelVersion` already has a key (keys never change: proofs accepted earlier stay meaningful).
    error Groth16AlreadyRegistered(uint256 modelVersion);
    /// The verifying key or commitment is malformed (`reason` a [`key_fault`] code).
    error Groth16InvalidKey(uint256 modelVersion, uint8 reason);
    /// The zero address is not a registry.
    error Groth16ZeroAddress();
}

sol_with_source! {
    /// Solidity source of Groth16Verifier's events, appended to the committed interface file.
    EVENTS_SOL => {
        event KeyRegistered(uint256 indexed modelVersion, address indexed owner, bytes32 contentHash, bytes32 weightsCommitment, bytes32 keyHash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolCall;

    #[test]
    fn layout_adds_up() {
        assert_eq!(VERIFYING_KEY_LEN, 704);
        assert_eq!(PROOF_LEN, 256);
        assert_eq!(
            vk_offset::IC + (PUBLIC_INPUTS + 1) * G1_LEN,
            VERIFYING_KEY_LEN
        );
        assert!(SCALAR_MODULUS < FIELD_MODULUS);
        assert_eq!(IRegistryVersion::versionCall::SIGNATURE, "version(uint256)");
    }

    #[test]
    fn events_source_declares_key_registered() {
        assert_eq!(
            crate::solidity_events(EVENTS_SOL),
            [alloc::string::String::from(
                "event KeyRegistered(uint256 indexed modelVersion, address indexed owner, bytes32 contentHash, bytes32 weightsCommitment, bytes32 keyHash);"
            )]
        );
    }
}
