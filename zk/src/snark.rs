//! Groth16 over BN254 for the inference circuit: key generation, proving, native verification, and the key
//! files the CLI writes.
//!
//! Keys depend on the model's [`Shape`] only (the weights are witnesses bound by the public commitment), so one
//! key pair serves every model of a shape. Whoever generates them knows the setup's secret randomness and could
//! forge proofs for that shape: in production keys come from a multi-party ceremony; the keys this crate makes
//! with [`setup`] are for development and tests.

use ark_bn254::{Bn254, Fr};
use ark_crypto_primitives::snark::{CircuitSpecificSetupSNARK, SNARK};
use ark_groth16::{Groth16, Proof, ProvingKey, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use ark_std::rand::{CryptoRng, RngCore};

use alloy_primitives::B256;

use crate::{
    circuit::InferenceCircuit,
    field::word_of,
    model::{Model, Shape},
    Error, Result,
};

/// A proving key with the shape it was generated for.
#[derive(Clone)]
pub struct ShapedProvingKey {
    /// The model shape the key proves.
    pub shape: Shape,
    /// arkworks' proving key.
    pub key: ProvingKey<Bn254>,
}

impl std::fmt::Debug for ShapedProvingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShapedProvingKey")
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

impl ShapedProvingKey {
    /// The key file: the four shape bytes, then arkworks' compressed serialization.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = self.shape.to_bytes().to_vec();
        self.key.serialize_compressed(&mut out)?;
        Ok(out)
    }

    /// Reads [`ShapedProvingKey::to_bytes`]'s output (points are checked).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() < 4 {
            return Err(Error::Serialization(
                ark_serialize::SerializationError::InvalidData,
            ));
        }
        let shape = Shape::from_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])?;
        let key = ProvingKey::deserialize_compressed(&bytes[4..])?;
        Ok(Self { shape, key })
    }
}

/// A cryptographically secure RNG, as a trait object (`&mut OsRng`, a seeded `StdRng` in tests).
pub trait SecureRng: RngCore + CryptoRng {}

impl<R: RngCore + CryptoRng> SecureRng for R {}

/// A generated key pair.
#[derive(Debug, Clone)]
pub struct Keys {
    /// For the prover.
    pub proving: ShapedProvingKey,
    /// For the verifier (on-chain in [`crate::evm`]'s encoding).
    pub verifying: VerifyingKey<Bn254>,
}

/// What a proof states: the model with this weights commitment maps the input with this hash to the output
/// with this hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    /// Poseidon commitment to the weights file's values ([`Model::commitment`]).
    pub weights_commitment: Fr,
    /// The receipt's `inputHash` ([`crate::model::input_hash`]).
    pub input_hash: Fr,
    /// The receipt's `outputHash` ([`crate::model::output_hash`]).
    pub output_hash: Fr,
}

impl Statement {
    /// The circuit's public inputs, in order.
    pub fn public_inputs(&self) -> [Fr; 3] {
        [self.weights_commitment, self.input_hash, self.output_hash]
    }

    /// The weights commitment as a 32-byte word (what the verifier contract stores).
    pub fn commitment_word(&self) -> B256 {
        word_of(self.weights_commitment)
    }

    /// The input hash as the receipt's `inputHash`.
    pub fn input_word(&self) -> B256 {
        word_of(self.input_hash)
    }

    /// The output hash as the receipt's `outputHash`.
    pub fn output_word(&self) -> B256 {
        word_of(self.output_hash)
    }
}

/// A proof with what it proves.
#[derive(Debug, Clone)]
pub struct Proven {
    /// The statement.
    pub statement: Statement,
    /// The model's output (its hash is `statement.output_hash`).
    pub output: Vec<i64>,
    /// The Groth16 proof.
    pub proof: Proof<Bn254>,
}

/// Generates a key pair for models of `shape` with randomness from `rng` (see the module docs on trust).
///
/// The RNG is a trait object so arkworks' generic code is instantiated (and optimized) in this crate, not in
/// each caller.
pub fn setup(shape: Shape, mut rng: &mut dyn SecureRng) -> Result<Keys> {
    let (pk, vk) = Groth16::<Bn254>::setup(InferenceCircuit::blank(shape), &mut rng)?;
    Ok(Keys {
        proving: ShapedProvingKey { shape, key: pk },
        verifying: vk,
    })
}

/// Proves one inference of `model` on `input`.
///
/// # Errors
/// [`Error::ShapeMismatch`] when the key was made for another shape, [`Error::InputLength`], or a proving
/// failure.
pub fn prove(
    key: &ShapedProvingKey,
    model: &Model,
    input: &[i8],
    mut rng: &mut dyn SecureRng,
) -> Result<Proven> {
    if key.shape != model.shape() {
        return Err(Error::ShapeMismatch {
            key: key.shape,
            model: model.shape(),
        });
    }
    let circuit = InferenceCircuit::new(model.clone(), input.to_vec())?;
    let ([weights_commitment, input_hash, output_hash], output) = circuit.public_inputs()?;
    let proof = Groth16::<Bn254>::prove(&key.key, circuit, &mut rng)?;
    Ok(Proven {
        statement: Statement {
            weights_commitment,
            input_hash,
            output_hash,
        },
        output,
        proof,
    })
}

/// arkworks' native Groth16 verification of `proof` for `statement`.
pub fn verify(
    vk: &VerifyingKey<Bn254>,
    statement: &Statement,
    proof: &Proof<Bn254>,
) -> Result<bool> {
    Ok(Groth16::<Bn254>::verify(
        vk,
        &statement.public_inputs(),
        proof,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{input_hash, output_hash};
    use ark_std::rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn proves_and_verifies_and_rejects_other_statements() {
        let mut rng = StdRng::seed_from_u64(1);
        let model = Model::example(4, 8, 3, 21);
        let keys = setup(model.shape(), &mut rng).unwrap();
        let input = [12i8, -100, 0, 127];
        let proven = prove(&keys.proving, &model, &input, &mut rng).unwrap();
        assert_eq!(proven.output, model.infer(&input).unwrap());
        assert_eq!(proven.statement.output_hash, output_hash(&proven.output));
        assert_eq!(proven.statement.input_hash, input_hash(&input));
        assert_eq!(proven.statement.weights_commitment, model.commitment());
        assert!(verify(&keys.verifying, &proven.statement, &proven.proof).unwrap());

        let mut wrong = proven.output.clone();
        wrong[1] -= 1;
        let cases = [
            Statement {
                output_hash: output_hash(&wrong),
                ..proven.statement
            },
            Statement {
                input_hash: input_hash(&[12, -100, 0, 126]),
                ..proven.statement
            },
            Statement {
                weights_commitment: Model::example(4, 8, 3, 22).commitment(),
                ..proven.statement
            },
        ];
        for statement in cases {
            assert!(!verify(&keys.verifying, &statement, &proven.proof).unwrap());
        }

        // Same shape, other weights: the same keys prove the other model, under its own commitment.
        let other = Model::example(4, 8, 3, 22);
        let theirs = prove(&keys.proving, &other, &input, &mut rng).unwrap();
        assert!(verify(&keys.verifying, &theirs.statement, &theirs.proof).unwrap());
        assert!(!verify(&keys.verifying, &proven.statement, &theirs.proof).unwrap());

        // A key of another shape refuses to prove.
        let wide = Model::example(5, 8, 3, 21);
        assert!(matches!(
            prove(&keys.proving, &wide, &[0; 5], &mut rng),
            Err(Error::ShapeMismatch { .. })
        ));
    }

    #[test]
    fn proving_key_file_round_trips() {
        let mut rng = StdRng::seed_from_u64(2);
        let shape = Model::example(2, 2, 1, 0).shape();
        let keys = setup(shape, &mut rng).unwrap();
        let bytes = keys.proving.to_bytes().unwrap();
        let back = ShapedProvingKey::from_bytes(&bytes).unwrap();
        assert_eq!(back.shape, shape);
        assert_eq!(back.key, keys.proving.key);
        assert!(ShapedProvingKey::from_bytes(&bytes[..10]).is_err());
    }
}
