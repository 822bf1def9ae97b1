//! # Groth16Verifier — zero-knowledge proofs of inference behind the mode-ZK verifier interface
//!
//! InferenceSettlement calls the verifier registered for a receipt's model version as
//! `verify(publicInputs, proof) → bool` ([`verity_abi::settlement::IInferenceVerifier`]) with
//! `publicInputs = abi.encode(receipt)`. This contract answers with a **Groth16 proof over BN254**, checked
//! through the EVM precompiles 0x06 (G1 add), 0x07 (G1 scalar multiplication) and 0x08 (pairing), called from
//! the Stylus program with static calls.
//!
//! Per model version it stores a verifying key and the **weights commitment** (Poseidon over the weights file's
//! values, see `verity-zk`). A proof for model version `m` is checked against `m`'s key with the public inputs
//! `[commitment(m), receipt.inputHash, receipt.outputHash]` ([`verity_abi::groth16`] has the encodings). So:
//! - a wrong output (or input) hash fails the pairing check;
//! - a proof made for another model version carries another commitment (and possibly another key) and fails;
//! - a tampered or malformed proof fails: wrong length, a coordinate `≥ q`, a point off the curve (the
//!   precompile refuses it) or a failed pairing — all answer `false`. `verify` never reverts.
//!
//! A receipt hash `≥ r` (the scalar modulus) is not a scalar: `false`, never reduced (no two words alias).
//!
//! # Who registers a key
//! Only the model version's **submitter in the ModelRegistry** (read cross-contract with `version(id)`): the
//! account that vouched for the weights file's content hash also vouches for the commitment and the key. The
//! registration is permanent (a new key is a new model version), records the registry's content hash in
//! [`KeyRegistered`], and is checked: exact length, commitment `< r`, coordinates `< q`, no point at infinity (α, β,
//! γ, δ, and every ICᵢ: a zero ICᵢ₊₁ would let one proof verify for any value of public input `i`, e.g. any output
//! — audit issue 14, finding 6), and every point accepted by the pairing precompile (on its curve, G2 in the
//! subgroup). Whoever ran the key generation could forge
//! proofs for that circuit: production keys come from a multi-party ceremony (see the README).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]
#![cfg_attr(not(any(test, feature = "export-abi")), no_std)]
// `#[entrypoint]` emits an undocumented `user_entrypoint` export on wasm; native builds still check docs.
#![cfg_attr(target_arch = "wasm32", allow(missing_docs))]

#[macro_use]
extern crate alloc;

// The wasm32 panic handler (traps; no std, no formatting code).
use verity_contract_support as _;

use alloc::vec::Vec;
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::SolEvent;
use stylus_sdk::prelude::*;
use stylus_sdk::storage::{StorageAddress, StorageArray, StorageB256, StorageMap};
use verity_abi::groth16::{
    key_fault, vk_offset, Groth16AlreadyRegistered, Groth16InvalidKey, Groth16NotModelOwner,
    Groth16UnknownModel, Groth16ZeroAddress, KeyRegistered, BN254_ADD, BN254_MUL, BN254_PAIRING,
    FIELD_MODULUS, G1_LEN, G2_LEN, PROOF_LEN, PUBLIC_INPUTS, SCALAR_MODULUS, VERIFYING_KEY_LEN,
};

mod external;

/// Every way a Groth16Verifier call can fail; each variant is the Solidity error of the same name in
/// [`verity_abi::groth16`].
#[derive(SolidityError, Debug)]
pub enum Error {
    /// The caller did not submit the model version.
    NotModelOwner(Groth16NotModelOwner),
    /// The registry does not know the model version.
    UnknownModel(Groth16UnknownModel),
    /// The model version already has a key.
    AlreadyRegistered(Groth16AlreadyRegistered),
    /// The key or commitment is malformed (`reason` a [`key_fault`] code).
    InvalidKey(Groth16InvalidKey),
    /// The registry address is zero.
    ZeroAddress(Groth16ZeroAddress),
}

/// Groth16Verifier's storage.
#[storage]
#[entrypoint]
pub struct Groth16Verifier {
    registry: StorageAddress,
    /// Model version → the verifying key's words, then the weights commitment ([`KEY_WORDS`] words). α is never
    /// the point at infinity in a registered key, so a zero α means "no key".
    keys: StorageMap<U256, StorageArray<StorageB256, KEY_WORDS>>,
}

/// Words stored per model version: the encoded verifying key, then the weights commitment.
const KEY_WORDS: usize = VERIFYING_KEY_LEN / 32 + 1;

/// Bytes of `abi.encode(receipt)`: nine words.
const RECEIPT_LEN: usize = 9 * 32;
/// Bytes of one pairing-check pair: a G1 and a G2 point.
const PAIR_LEN: usize = G1_LEN + G2_LEN;

#[public]
impl Groth16Verifier {
    /// Sets the ModelRegistry whose version submitters may register keys. Runs once.
    ///
    /// # Errors
    /// [`Error::ZeroAddress`].
    #[constructor]
    pub fn constructor(&mut self, registry: Address) -> Result<(), Error> {
        if registry.is_zero() {
            return Err(Error::ZeroAddress(Groth16ZeroAddress {}));
        }
        self.registry.set(registry);
        Ok(())
    }

    /// The ModelRegistry.
    pub fn registry(&self) -> Address {
        self.registry.get()
    }

    /// `(weightsCommitment, verifyingKey)` of `model_version`; zero and empty when none is registered.
    pub fn key(&self, model_version: U256) -> (B256, Bytes) {
        match self._stored(model_version) {
            Some((vk, commitment)) => (commitment, vk.into()),
            None => (B256::ZERO, Bytes::new()),
        }
    }

    /// Registers the verifying key (EVM encoding, [`VERIFYING_KEY_LEN`] bytes) and weights commitment of
    /// `model_version`; only the version's submitter in the registry, once.
    ///
    /// # Errors
    /// [`Error::UnknownModel`], [`Error::NotModelOwner`], [`Error::AlreadyRegistered`], [`Error::InvalidKey`].
    ///
    /// # Events
    /// [`KeyRegistered`].
    pub fn register_key(
        &mut self,
        model_version: U256,
        weights_commitment: B256,
        verifying_key: Bytes,
    ) -> Result<(), Error> {
        let Some((submitter, content_hash)) = self._registry_version(model_version) else {
            return Err(Error::UnknownModel(Groth16UnknownModel {
                modelVersion: model_version,
            }));
        };
        let caller = self.vm().msg_sender();
        if caller != submitter {
            return Err(Error::NotModelOwner(Groth16NotModelOwner {
                modelVersion: model_version,
                account: caller,
            }));
        }
        if self._stored(model_version).is_some() {
            return Err(Error::AlreadyRegistered(Groth16AlreadyRegistered {
                modelVersion: model_version,
            }));
        }
        let fault = self._key_fault(weights_commitment, &verifying_key);
        if fault != 0 {
            return Err(Error::InvalidKey(Groth16InvalidKey {
                modelVersion: model_version,
                reason: fault,
            }));
        }
        let mut stored = self.keys.setter(model_version);
        let words = verifying_key
            .chunks_exact(32)
            .map(B256::from_slice)
            .chain([weights_commitment]);
        for (i, word) in words.enumerate() {
            if let Some(mut slot) = stored.setter(i) {
                slot.set(word);
            }
        }
        // KeyRegistered(uint256 indexed modelVersion, address indexed owner, bytes32 contentHash,
        // bytes32 weightsCommitment, bytes32 keyHash), encoded by hand (every field static; size).
        let mut log = Vec::with_capacity(6 * 32);
        for word in [
            KeyRegistered::SIGNATURE_HASH,
            B256::from(model_version),
            caller.into_word(),
            content_hash,
            weights_commitment,
            keccak256(&verifying_key),
        ] {
            log.extend_from_slice(word.as_slice());
        }
        self.vm().emit_log(&log, 3);
        Ok(())
    }

    /// Whether `proof` (EVM encoding, [`PROOF_LEN`] bytes) proves the receipt `public_inputs`
    /// (`abi.encode(receipt)`) for its model version's registered key and commitment. Never reverts: anything
    /// malformed, or a model version without a key, is `false`.
    pub fn verify(&self, public_inputs: Bytes, proof: Bytes) -> bool {
        if public_inputs.len() != RECEIPT_LEN || proof.len() != PROOF_LEN {
            return false;
        }
        let word = |i: usize| U256::from_be_slice(&public_inputs[32 * i..32 * (i + 1)]);
        let Some((vk, commitment)) = self._stored(word(1)) else {
            return false;
        };
        let commitment = U256::from_be_bytes(commitment.0);
        self._check(&vk, [commitment, word(2), word(3)], &proof)
    }
}

impl Groth16Verifier {
    /// The registered `(verifying key, weights commitment)` of `model_version`, `None` when there is none.
    fn _stored(&self, model_version: U256) -> Option<(Vec<u8>, B256)> {
        let stored = self.keys.getter(model_version);
        let mut vk = Vec::with_capacity(VERIFYING_KEY_LEN);
        for i in 0..KEY_WORDS - 1 {
            vk.extend_from_slice(stored.get(i)?.as_slice());
        }
        if vk[..G1_LEN].iter().all(|b| *b == 0) {
            return None;
        }
        Some((vk, stored.get(KEY_WORDS - 1)?))
    }

    /// The Groth16 check: `e(−A, B) · e(α, β) · e(vk_x, γ) · e(C, δ) = 1` with
    /// `vk_x = IC₀ + Σ sᵢ · ICᵢ₊₁`. `false` for a scalar `≥ r`, a coordinate `≥ q` or any precompile failure.
    fn _check(&self, vk: &[u8], scalars: [U256; PUBLIC_INPUTS], proof: &[u8]) -> bool {
        if scalars.iter().any(|s| *s >= SCALAR_MODULUS) || !coordinates_ok(proof) {
            return false;
        }
        let mut acc = [0u8; G1_LEN];
        acc.copy_from_slice(&vk[vk_offset::IC..vk_offset::IC + G1_LEN]);
        for (i, s) in scalars.iter().enumerate() {
            let at = vk_offset::IC + (i + 1) * G1_LEN;
            let mut mul = [0u8; G1_LEN + 32];
            mul[..G1_LEN].copy_from_slice(&vk[at..at + G1_LEN]);
            mul[G1_LEN..].copy_from_slice(&s.to_be_bytes::<32>());
            let Some(term) = self._g1(BN254_MUL, &mul) else {
                return false;
            };
            let mut add = [0u8; 2 * G1_LEN];
            add[..G1_LEN].copy_from_slice(&acc);
            add[G1_LEN..].copy_from_slice(&term);
            let Some(sum) = self._g1(BN254_ADD, &add) else {
                return false;
            };
            acc = sum;
        }
        // −A = (x, q − y); the point at infinity (0, 0) is its own negation.
        let mut neg_a = [0u8; G1_LEN];
        neg_a.copy_from_slice(&proof[..G1_LEN]);
        let y = U256::from_be_slice(&proof[32..G1_LEN]);
        if !y.is_zero() {
            // Underflow not possible: y < q (coordinates_ok).
            neg_a[32..].copy_from_slice(&(FIELD_MODULUS - y).to_be_bytes::<32>());
        }
        let b = &proof[G1_LEN..G1_LEN + G2_LEN];
        let c = &proof[G1_LEN + G2_LEN..];
        let g2 = |offset: usize| &vk[offset..offset + G2_LEN];
        let pairs: [(&[u8], &[u8]); 4] = [
            (&neg_a, b),
            (&vk[vk_offset::ALPHA..vk_offset::BETA], g2(vk_offset::BETA)),
            (&acc, g2(vk_offset::GAMMA)),
            (c, g2(vk_offset::DELTA)),
        ];
        self._pairing(&pairs) == Some(true)
    }

    /// The fault of a key registration (0 = none): length, commitment `< r`, coordinates `< q`, and the pairing
    /// precompile accepting every point (α, IC₀…IC₃ on G1; β, γ, δ on G2, in the subgroup).
    fn _key_fault(&self, commitment: B256, vk: &[u8]) -> u8 {
        if vk.len() != VERIFYING_KEY_LEN {
            return key_fault::LENGTH;
        }
        if U256::from_be_bytes(commitment.0) >= SCALAR_MODULUS {
            return key_fault::COMMITMENT;
        }
        if !coordinates_ok(vk) {
            return key_fault::COORDINATE;
        }
        // α, β, γ and δ are never the point at infinity in a real key (and a zero α would read as "no key").
        let infinity = |from: usize, to: usize| vk[from..to].iter().all(|b| *b == 0);
        if infinity(vk_offset::ALPHA, vk_offset::BETA)
            || infinity(vk_offset::BETA, vk_offset::GAMMA)
            || infinity(vk_offset::GAMMA, vk_offset::DELTA)
            || infinity(vk_offset::DELTA, vk_offset::IC)
        {
            return key_fault::POINTS;
        }
        let g1 = |i: usize| &vk[vk_offset::IC + i * G1_LEN..vk_offset::IC + (i + 1) * G1_LEN];
        // A zero ICᵢ₊₁ removes public input i from vk_x: one proof would verify for every value of it.
        if (0..=PUBLIC_INPUTS).any(|i| g1(i).iter().all(|b| *b == 0)) {
            return key_fault::IC_INFINITY;
        }
        let g2 = |offset: usize| &vk[offset..offset + G2_LEN];
        let (beta, gamma, delta) = (
            g2(vk_offset::BETA),
            g2(vk_offset::GAMMA),
            g2(vk_offset::DELTA),
        );
        // Any answer (true or false) means the precompile parsed and accepted every point.
        let pairs: [(&[u8], &[u8]); 5] = [
            (&vk[vk_offset::ALPHA..vk_offset::BETA], beta),
            (g1(0), gamma),
            (g1(1), delta),
            (g1(2), beta),
            (g1(3), gamma),
        ];
        if self._pairing(&pairs).is_none() {
            return key_fault::POINTS;
        }
        0
    }

    /// A G1 point from the add or mul precompile, `None` when it refused the input.
    fn _g1(&self, precompile: Address, input: &[u8]) -> Option<[u8; G1_LEN]> {
        let out = self._precompile(precompile, input)?;
        (out.len() == G1_LEN).then(|| {
            let mut point = [0u8; G1_LEN];
            point.copy_from_slice(&out);
            point
        })
    }

    /// The pairing precompile's verdict on `pairs`, `None` when it refused the input.
    fn _pairing(&self, pairs: &[(&[u8], &[u8])]) -> Option<bool> {
        let mut input = Vec::with_capacity(pairs.len() * PAIR_LEN);
        for (g1, g2) in pairs {
            input.extend_from_slice(g1);
            input.extend_from_slice(g2);
        }
        let out = self._precompile(BN254_PAIRING, &input)?;
        match verity_contract_support::word_u8(&out)? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
}

/// Whether every 32-byte coordinate in `points` is below the base field modulus.
fn coordinates_ok(points: &[u8]) -> bool {
    points
        .chunks_exact(32)
        .all(|c| U256::from_be_slice(c) < FIELD_MODULUS)
}

#[cfg(test)]
mod tests;
