//! The inference circuit: the committed weights map the input with the public hash to the output with the public
//! hash.
//!
//! Public inputs, in allocation order (the order the verifier's `IC` points follow):
//! `[weights commitment, input hash, output hash]` ([`verity_abi::groth16::PUBLIC_INPUTS`]).
//!
//! Constraints:
//! - the weights and biases are witnesses; Poseidon over them (with the shape as constants) equals the
//!   commitment — so they are exactly the committed file's values;
//! - each input value is `Σ 2ᵗ·bₜ − 128` over 8 boolean witnesses (so it is an int8); Poseidon over the inputs
//!   equals the input hash;
//! - each hidden pre-activation `a = b1 + Σ W1·x` (one constraint per product) is decomposed as
//!   `a + 2³¹ = Σ_{t<32} 2ᵗ·bₜ`: bit 31 is `a ≥ 0`, bits `shift … shift+6` are `a >> shift` below 128, and any set
//!   bit from `shift+7` to 30 means saturation at 127 — which gives `h = ReLU/shift/clamp(a)` exactly as
//!   [`Model::activation`] computes it;
//! - each output `y = b2 + Σ W2·h`; Poseidon over the outputs equals the output hash.

use ark_bn254::Fr;
use ark_r1cs_std::{alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};

use crate::{
    field::fr_from_i64,
    hash::{hash_var, Domain},
    model::{input_hash, output_hash, Model, MAX_ACTIVATION},
};

/// Bits of a decomposed pre-activation: `a + 2³¹ ∈ [0, 2³²)`.
const PRE_ACTIVATION_BITS: usize = 32;
/// Bits of an int8 input (offset by 128).
const INPUT_BITS: usize = 8;

/// One inference to prove: the model (its weights are witnesses) and the input.
#[derive(Debug, Clone)]
pub struct InferenceCircuit {
    model: Model,
    input: Vec<i8>,
    /// Public inputs to claim instead of the true ones (tests of unsatisfiability only).
    #[cfg(test)]
    claim: Option<[Fr; 3]>,
    /// A hidden unit whose sign bit the witness flips (a cheating prover; tests only).
    #[cfg(test)]
    flip_sign: Option<usize>,
}

impl InferenceCircuit {
    /// The circuit for `model` on `input`; the input must have the model's input width.
    pub fn new(model: Model, input: Vec<i8>) -> crate::Result<Self> {
        model.infer(&input)?;
        Ok(Self {
            model,
            input,
            #[cfg(test)]
            claim: None,
            #[cfg(test)]
            flip_sign: None,
        })
    }

    /// A circuit of `shape` with zero weights and input, for key generation (keys depend on the shape only).
    pub fn blank(shape: crate::model::Shape) -> Self {
        Self {
            model: Model::zeros(shape),
            input: vec![0; usize::from(shape.inputs)],
            #[cfg(test)]
            claim: None,
            #[cfg(test)]
            flip_sign: None,
        }
    }

    /// The public inputs this circuit proves: `[commitment, input hash, output hash]`, with the output.
    pub fn public_inputs(&self) -> crate::Result<([Fr; 3], Vec<i64>)> {
        let output = self.model.infer(&self.input)?;
        Ok((
            [
                self.model.commitment(),
                input_hash(&self.input),
                output_hash(&output),
            ],
            output,
        ))
    }
}

/// The number of R1CS constraints of the circuit for models of `shape`.
pub fn constraint_count(shape: crate::model::Shape) -> crate::Result<usize> {
    let cs = ark_relations::gr1cs::ConstraintSystem::<Fr>::new_ref();
    InferenceCircuit::blank(shape).generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs.num_constraints())
}

/// A witness for a native value.
fn witness(cs: &ConstraintSystemRef<Fr>, value: i64) -> Result<FpVar<Fr>, SynthesisError> {
    FpVar::new_witness(cs.clone(), || Ok(fr_from_i64(value)))
}

/// Boolean witnesses of the low `bits` bits of `value` (little-endian).
fn bit_witnesses(
    cs: &ConstraintSystemRef<Fr>,
    value: u64,
    bits: usize,
) -> Result<Vec<Boolean<Fr>>, SynthesisError> {
    (0..bits)
        .map(|t| Boolean::new_witness(cs.clone(), || Ok((value >> t) & 1 == 1)))
        .collect()
}

/// `b + Σ wᵢ·xᵢ`.
fn affine(bias: &FpVar<Fr>, weights: &[FpVar<Fr>], xs: &[FpVar<Fr>]) -> FpVar<Fr> {
    weights
        .iter()
        .zip(xs)
        .fold(bias.clone(), |acc, (w, x)| acc + w * x)
}

impl ConstraintSynthesizer<Fr> for InferenceCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let model = &self.model;
        let shape = model.shape();
        let (n, h, _) = shape.dims();
        let shift = usize::from(shape.shift);
        let (public, _) = self
            .public_inputs()
            .map_err(|_| SynthesisError::AssignmentMissing)?;
        #[cfg(test)]
        let public = self.claim.unwrap_or(public);
        let [commitment, in_hash, out_hash] = public;

        // Public inputs first, in the verifier's order.
        let commitment = FpVar::new_input(cs.clone(), || Ok(commitment))?;
        let in_hash = FpVar::new_input(cs.clone(), || Ok(in_hash))?;
        let out_hash = FpVar::new_input(cs.clone(), || Ok(out_hash))?;

        // Weights: witnesses bound by the commitment.
        let alloc = |values: Vec<i64>| -> Result<Vec<FpVar<Fr>>, SynthesisError> {
            values.into_iter().map(|v| witness(&cs, v)).collect()
        };
        let w1 = alloc(model.w1().iter().map(|v| i64::from(*v)).collect())?;
        let b1 = alloc(model.b1().iter().map(|v| i64::from(*v)).collect())?;
        let w2 = alloc(model.w2().iter().map(|v| i64::from(*v)).collect())?;
        let b2 = alloc(model.b2().iter().map(|v| i64::from(*v)).collect())?;
        let mut committed: Vec<FpVar<Fr>> = shape
            .to_bytes()
            .iter()
            .map(|b| FpVar::Constant(Fr::from(u64::from(*b))))
            .collect();
        committed.extend(w1.iter().chain(&b1).chain(&w2).chain(&b2).cloned());
        hash_var(cs.clone(), Domain::Weights, &committed)?.enforce_equal(&commitment)?;

        // Input: int8 values bound by the input hash.
        let offset = FpVar::Constant(Fr::from(128u64));
        let xs = self
            .input
            .iter()
            .map(|x| {
                // In range by construction: x + 128 ∈ [0, 256).
                let bits = bit_witnesses(&cs, (i64::from(*x) + 128) as u64, INPUT_BITS)?;
                Ok(Boolean::le_bits_to_fp(&bits)? - &offset)
            })
            .collect::<Result<Vec<_>, SynthesisError>>()?;
        hash_var(cs.clone(), Domain::Input, &xs)?.enforce_equal(&in_hash)?;

        // Hidden layer: affine, then ReLU / shift / saturation through a 32-bit decomposition.
        let two_31 = FpVar::Constant(Fr::from(1u64 << 31));
        let zero = FpVar::Constant(Fr::from(0u64));
        let max = FpVar::Constant(Fr::from(MAX_ACTIVATION as u64));
        let pre = model.pre_activations(&self.input);
        let mut hidden = Vec::with_capacity(h);
        for j in 0..h {
            let a = affine(&b1[j], &w1[j * n..(j + 1) * n], &xs);
            // |a| < 2^25 (model bounds), so a + 2^31 is a 32-bit value.
            let value = (pre[j] + (1i64 << 31)) as u64;
            #[cfg(test)]
            let value = if self.flip_sign == Some(j) {
                value ^ (1 << 31)
            } else {
                value
            };
            let bits = bit_witnesses(&cs, value, PRE_ACTIVATION_BITS)?;
            Boolean::le_bits_to_fp(&bits)?.enforce_equal(&(a + &two_31))?;
            let non_negative = &bits[PRE_ACTIVATION_BITS - 1];
            let low = Boolean::le_bits_to_fp(&bits[shift..shift + 7])?;
            let high = &bits[shift + 7..PRE_ACTIVATION_BITS - 1];
            let saturated = if high.is_empty() {
                Boolean::FALSE
            } else {
                Boolean::kary_or(high)?
            };
            let clamped = saturated.select(&max, &low)?;
            hidden.push(non_negative.select(&clamped, &zero)?);
        }

        // Output layer, bound by the output hash.
        let ys: Vec<FpVar<Fr>> = b2
            .iter()
            .enumerate()
            .map(|(k, b)| affine(b, &w2[k * h..(k + 1) * h], &hidden))
            .collect();
        hash_var(cs, Domain::Output, &ys)?.enforce_equal(&out_hash)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Shape;
    use ark_relations::gr1cs::ConstraintSystem;

    /// Whether the circuit's honest witnesses satisfy it when it claims public input `which` (0-based) is `value`.
    fn satisfied_claiming(circuit: &InferenceCircuit, which: usize, value: Fr) -> bool {
        let (mut public, _) = circuit.public_inputs().unwrap();
        public[which] = value;
        let mut claimed = circuit.clone();
        claimed.claim = Some(public);
        satisfied(claimed).0
    }

    fn satisfied(circuit: InferenceCircuit) -> (bool, usize) {
        let cs = ConstraintSystem::<Fr>::new_ref();
        circuit.generate_constraints(cs.clone()).unwrap();
        cs.finalize();
        (cs.is_satisfied().unwrap(), cs.num_constraints())
    }

    #[test]
    fn honest_inference_satisfies() {
        let model = Model::example(4, 8, 3, 11);
        for input in [
            [0i8, 0, 0, 0],
            [127, -128, 5, -6],
            [-128, -128, -128, -128],
            [127; 4],
        ] {
            let (ok, constraints) =
                satisfied(InferenceCircuit::new(model.clone(), input.to_vec()).unwrap());
            assert!(ok, "{input:?}");
            assert!(constraints < 20_000, "{constraints} constraints");
            assert_eq!(constraint_count(model.shape()).unwrap(), constraints);
        }
    }

    #[test]
    fn saturation_shift_and_negative_paths_satisfy() {
        // Shift 0 and 17: the decomposition's high part is 24 bits, then none.
        for shift in [0u8, 17, 24] {
            let shape = Shape {
                inputs: 2,
                hidden: 3,
                outputs: 1,
                shift,
            };
            let model = Model::new(
                shape,
                vec![127, 127, -128, -128, 1, 0],
                vec![1 << 24, -(1 << 24), 3],
                vec![1, 1, 1],
                vec![0],
            )
            .unwrap();
            let circuit = InferenceCircuit::new(model.clone(), vec![127, 127]).unwrap();
            assert!(satisfied(circuit).0, "shift {shift}");
        }
    }

    #[test]
    fn wrong_output_commitment_or_input_is_unsatisfiable() {
        let model = Model::example(4, 8, 3, 12);
        let input = vec![9i8, -3, 77, 0];
        let circuit = InferenceCircuit::new(model.clone(), input.clone()).unwrap();
        let (public, output) = circuit.public_inputs().unwrap();
        assert!(satisfied_claiming(&circuit, 2, public[2]));
        let mut other_output = output.clone();
        other_output[0] += 1;
        let other_model = Model::example(4, 8, 3, 13);
        let cases = [
            (0, other_model.commitment()),
            (1, input_hash(&[9, -3, 77, 1])),
            (2, output_hash(&other_output)),
        ];
        for (which, value) in cases {
            assert!(
                !satisfied_claiming(&circuit, which, value),
                "public input {which}"
            );
        }
        // A prover that flips one unit's sign bit (to turn ReLU on or off) breaks the decomposition.
        for j in 0..8 {
            let mut cheat = circuit.clone();
            cheat.flip_sign = Some(j);
            assert!(!satisfied(cheat).0, "unit {j}");
        }
    }
}
