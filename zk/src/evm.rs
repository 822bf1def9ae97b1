//! Verifying keys and proofs in the EVM encoding ([`verity_abi::groth16`]): what Groth16Verifier stores and
//! takes, and what the BN254 precompiles read. Decoding checks every coordinate is below `q`, every point is on
//! its curve and in the prime-order subgroup — as the precompiles do.

use ark_bn254::{Bn254, Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ff::{BigInteger, PrimeField, Zero};
use ark_groth16::{Proof, VerifyingKey};
use verity_abi::groth16::{
    vk_offset, FIELD_MODULUS, G1_LEN, G2_LEN, PROOF_LEN, PUBLIC_INPUTS, VERIFYING_KEY_LEN,
};

use alloy_primitives::U256;

/// Why bytes are not a valid key or proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodingError {
    /// Wrong length.
    #[error("{got} bytes, expected {expected}")]
    Length {
        /// The required length.
        expected: usize,
        /// The given length.
        got: usize,
    },
    /// A coordinate is not below the base field modulus.
    #[error("a coordinate is not below the BN254 base field modulus")]
    Coordinate,
    /// A point is not on its curve.
    #[error("a point is not on the curve")]
    NotOnCurve,
    /// A point is outside the prime-order subgroup.
    #[error("a point is outside the prime-order subgroup")]
    NotInSubgroup,
    /// The key does not have one IC point per public input plus one.
    #[error("the key has {0} public inputs, the verifier takes {PUBLIC_INPUTS}")]
    PublicInputs(usize),
}

fn fq_bytes(f: &Fq) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&f.into_bigint().to_bytes_be());
    out
}

fn fq_from(bytes: &[u8]) -> Result<Fq, EncodingError> {
    if U256::from_be_slice(bytes) >= FIELD_MODULUS {
        return Err(EncodingError::Coordinate);
    }
    Ok(Fq::from_be_bytes_mod_order(bytes))
}

/// `x ‖ y`, the point at infinity as zeros.
pub fn g1_bytes(p: &G1Affine) -> [u8; G1_LEN] {
    let mut out = [0u8; G1_LEN];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_bytes(&x));
        out[32..].copy_from_slice(&fq_bytes(&y));
    }
    out
}

/// `x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0` (EIP-197), the point at infinity as zeros.
pub fn g2_bytes(p: &G2Affine) -> [u8; G2_LEN] {
    let mut out = [0u8; G2_LEN];
    if let Some((x, y)) = p.xy() {
        out[..32].copy_from_slice(&fq_bytes(&x.c1));
        out[32..64].copy_from_slice(&fq_bytes(&x.c0));
        out[64..96].copy_from_slice(&fq_bytes(&y.c1));
        out[96..].copy_from_slice(&fq_bytes(&y.c0));
    }
    out
}

/// Decodes and validates a G1 point.
pub fn g1_from(bytes: &[u8]) -> Result<G1Affine, EncodingError> {
    check_len(bytes, G1_LEN)?;
    let (x, y) = (fq_from(&bytes[..32])?, fq_from(&bytes[32..])?);
    if x.is_zero() && y.is_zero() {
        return Ok(G1Affine::zero());
    }
    let p = G1Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(EncodingError::NotOnCurve);
    }
    // BN254's G1 has cofactor 1: on the curve is in the group.
    Ok(p)
}

/// Decodes and validates a G2 point.
pub fn g2_from(bytes: &[u8]) -> Result<G2Affine, EncodingError> {
    check_len(bytes, G2_LEN)?;
    let x = Fq2::new(fq_from(&bytes[32..64])?, fq_from(&bytes[..32])?);
    let y = Fq2::new(fq_from(&bytes[96..])?, fq_from(&bytes[64..96])?);
    if x.is_zero() && y.is_zero() {
        return Ok(G2Affine::zero());
    }
    let p = G2Affine::new_unchecked(x, y);
    if !p.is_on_curve() {
        return Err(EncodingError::NotOnCurve);
    }
    if !p.is_in_correct_subgroup_assuming_on_curve() {
        return Err(EncodingError::NotInSubgroup);
    }
    Ok(p)
}

fn check_len(bytes: &[u8], expected: usize) -> Result<(), EncodingError> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(EncodingError::Length {
            expected,
            got: bytes.len(),
        })
    }
}

/// The contract's encoding of `vk`: `α ‖ β ‖ γ ‖ δ ‖ IC₀…IC₃`.
pub fn vk_bytes(vk: &VerifyingKey<Bn254>) -> Result<[u8; VERIFYING_KEY_LEN], EncodingError> {
    if vk.gamma_abc_g1.len() != PUBLIC_INPUTS + 1 {
        return Err(EncodingError::PublicInputs(
            vk.gamma_abc_g1.len().saturating_sub(1),
        ));
    }
    let mut out = [0u8; VERIFYING_KEY_LEN];
    out[vk_offset::ALPHA..vk_offset::BETA].copy_from_slice(&g1_bytes(&vk.alpha_g1));
    out[vk_offset::BETA..vk_offset::GAMMA].copy_from_slice(&g2_bytes(&vk.beta_g2));
    out[vk_offset::GAMMA..vk_offset::DELTA].copy_from_slice(&g2_bytes(&vk.gamma_g2));
    out[vk_offset::DELTA..vk_offset::IC].copy_from_slice(&g2_bytes(&vk.delta_g2));
    for (i, p) in vk.gamma_abc_g1.iter().enumerate() {
        let at = vk_offset::IC + i * G1_LEN;
        out[at..at + G1_LEN].copy_from_slice(&g1_bytes(p));
    }
    Ok(out)
}

/// Decodes [`vk_bytes`]' encoding.
pub fn vk_from(bytes: &[u8]) -> Result<VerifyingKey<Bn254>, EncodingError> {
    check_len(bytes, VERIFYING_KEY_LEN)?;
    let gamma_abc_g1 = (0..=PUBLIC_INPUTS)
        .map(|i| {
            let at = vk_offset::IC + i * G1_LEN;
            g1_from(&bytes[at..at + G1_LEN])
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(VerifyingKey {
        alpha_g1: g1_from(&bytes[vk_offset::ALPHA..vk_offset::BETA])?,
        beta_g2: g2_from(&bytes[vk_offset::BETA..vk_offset::GAMMA])?,
        gamma_g2: g2_from(&bytes[vk_offset::GAMMA..vk_offset::DELTA])?,
        delta_g2: g2_from(&bytes[vk_offset::DELTA..vk_offset::IC])?,
        gamma_abc_g1,
    })
}

/// The contract's encoding of a proof: `A ‖ B ‖ C`.
pub fn proof_bytes(proof: &Proof<Bn254>) -> [u8; PROOF_LEN] {
    let mut out = [0u8; PROOF_LEN];
    out[..G1_LEN].copy_from_slice(&g1_bytes(&proof.a));
    out[G1_LEN..G1_LEN + G2_LEN].copy_from_slice(&g2_bytes(&proof.b));
    out[G1_LEN + G2_LEN..].copy_from_slice(&g1_bytes(&proof.c));
    out
}

/// Decodes [`proof_bytes`]' encoding.
pub fn proof_from(bytes: &[u8]) -> Result<Proof<Bn254>, EncodingError> {
    check_len(bytes, PROOF_LEN)?;
    Ok(Proof {
        a: g1_from(&bytes[..G1_LEN])?,
        b: g2_from(&bytes[G1_LEN..G1_LEN + G2_LEN])?,
        c: g1_from(&bytes[G1_LEN + G2_LEN..])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{G1Projective, G2Projective};
    use ark_ec::CurveGroup;
    use ark_std::{
        rand::{rngs::StdRng, SeedableRng},
        UniformRand,
    };

    #[test]
    fn generators_encode_as_the_eip_197_test_points() {
        // EIP-197's G1 generator (1, 2) and its G2 generator, imaginary parts first.
        let g1 = g1_bytes(&G1Affine::generator());
        assert_eq!(U256::from_be_slice(&g1[..32]), U256::from(1));
        assert_eq!(U256::from_be_slice(&g1[32..]), U256::from(2));
        let g2 = g2_bytes(&G2Affine::generator());
        assert_eq!(
            hex::encode(&g2[..32]),
            "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2"
        );
        assert_eq!(
            hex::encode(&g2[32..64]),
            "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed"
        );
        assert_eq!(g1_from(&g1).unwrap(), G1Affine::generator());
        assert_eq!(g2_from(&g2).unwrap(), G2Affine::generator());
        assert_eq!(g1_from(&[0; 64]).unwrap(), G1Affine::zero());
        assert_eq!(g2_from(&[0; 128]).unwrap(), G2Affine::zero());
    }

    #[test]
    fn random_points_round_trip_and_bad_ones_are_refused() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..20 {
            let p = G1Projective::rand(&mut rng).into_affine();
            let q = G2Projective::rand(&mut rng).into_affine();
            assert_eq!(g1_from(&g1_bytes(&p)).unwrap(), p);
            assert_eq!(g2_from(&g2_bytes(&q)).unwrap(), q);
            let mut off = g1_bytes(&p);
            off[63] ^= 1;
            assert_eq!(g1_from(&off), Err(EncodingError::NotOnCurve));
        }
        let mut big = [0u8; 64];
        big[..32].copy_from_slice(&FIELD_MODULUS.to_be_bytes::<32>());
        assert_eq!(g1_from(&big), Err(EncodingError::Coordinate));
        assert!(matches!(
            g1_from(&[0; 63]),
            Err(EncodingError::Length { .. })
        ));
        // A point on the twist outside the r-torsion subgroup: x = 1 + i has a y on E'(Fq2) with probability ~1/2;
        // search small x until one is on the curve, and it is (overwhelmingly) not in the subgroup.
        let twist_point = (1u64..100)
            .find_map(|k| {
                let x = Fq2::new(Fq::from(k), Fq::from(1u64));
                G2Affine::get_point_from_x_unchecked(x, false)
            })
            .unwrap();
        assert!(twist_point.is_on_curve());
        assert_eq!(
            g2_from(&g2_bytes(&twist_point)),
            Err(EncodingError::NotInSubgroup)
        );
    }

    #[test]
    fn keys_and_proofs_round_trip() {
        let mut rng = StdRng::seed_from_u64(4);
        let model = crate::model::Model::example(2, 3, 2, 5);
        let keys = crate::snark::setup(model.shape(), &mut rng).unwrap();
        let vk = vk_bytes(&keys.verifying).unwrap();
        assert_eq!(vk_from(&vk).unwrap(), keys.verifying);
        let proven = crate::snark::prove(&keys.proving, &model, &[1, -1], &mut rng).unwrap();
        let proof = proof_bytes(&proven.proof);
        assert_eq!(proof_from(&proof).unwrap(), proven.proof);
        assert!(matches!(
            vk_from(&vk[..700]),
            Err(EncodingError::Length { .. })
        ));
        let mut short = keys.verifying.clone();
        short.gamma_abc_g1.pop();
        assert_eq!(vk_bytes(&short), Err(EncodingError::PublicInputs(2)));
    }
}
