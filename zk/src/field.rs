//! BN254 scalars ↔ the 32-byte words receipts and the EVM use, and signed integers ↔ scalars.
//!
//! A word maps to a scalar only when it is below the scalar modulus `r` ([`fr_from_word`] answers `None`
//! otherwise): no reduction, so distinct words never collide on one public input. Signed integers are embedded
//! as `v mod r` (negative values as `r − |v|`), exactly as the circuit computes with them.

use alloy_primitives::{B256, U256};
use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

/// The 32-byte big-endian word of `f` (always below `r`).
pub fn word_of(f: Fr) -> B256 {
    let bytes = f.into_bigint().to_bytes_be();
    B256::from_slice(&bytes)
}

/// The scalar a 32-byte big-endian word names, `None` when the word is not below `r`.
pub fn fr_from_word(word: B256) -> Option<Fr> {
    let value = U256::from_be_bytes(word.0);
    (value < verity_abi::groth16::SCALAR_MODULUS)
        .then(|| Fr::from_be_bytes_mod_order(word.as_slice()))
}

/// `v` as a scalar: `v mod r`.
pub fn fr_from_i64(v: i64) -> Fr {
    let magnitude = Fr::from(v.unsigned_abs());
    if v < 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// `f` as a `uint256`.
pub fn u256_of(f: Fr) -> U256 {
    U256::from_be_bytes(word_of(f).0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn modulus_is_arkworks_r() {
        let r = U256::from_be_slice(&Fr::MODULUS.to_bytes_be());
        assert_eq!(r, verity_abi::groth16::SCALAR_MODULUS);
        let q = U256::from_be_slice(&<ark_bn254::Fq as PrimeField>::MODULUS.to_bytes_be());
        assert_eq!(q, verity_abi::groth16::FIELD_MODULUS);
    }

    #[test]
    fn words_at_or_above_r_are_not_scalars() {
        let r = verity_abi::groth16::SCALAR_MODULUS;
        assert_eq!(fr_from_word(B256::from(r)), None);
        assert_eq!(fr_from_word(B256::from(r + U256::from(1))), None);
        assert_eq!(fr_from_word(B256::from(U256::MAX)), None);
        let top = fr_from_word(B256::from(r - U256::from(1))).unwrap();
        assert_eq!(top, -Fr::from(1u64));
        assert_eq!(fr_from_word(B256::ZERO), Some(Fr::from(0u64)));
    }

    #[test]
    fn signed_values_embed_mod_r() {
        assert_eq!(fr_from_i64(-1) + Fr::from(1u64), Fr::from(0u64));
        assert_eq!(
            fr_from_i64(i64::MIN) + Fr::from(i64::MAX as u64) + Fr::from(1u64),
            Fr::from(0u64)
        );
        assert_eq!(fr_from_i64(127), Fr::from(127u64));
    }

    proptest! {
        #[test]
        fn word_round_trip(bytes in any::<[u8; 32]>()) {
            let word = B256::from(bytes);
            match fr_from_word(word) {
                Some(f) => prop_assert_eq!(word_of(f), word),
                None => prop_assert!(U256::from_be_bytes(bytes) >= verity_abi::groth16::SCALAR_MODULUS),
            }
        }

        #[test]
        fn signed_sums_match_integer_sums(a in any::<i32>(), b in any::<i32>()) {
            prop_assert_eq!(fr_from_i64(a as i64) + fr_from_i64(b as i64), fr_from_i64(a as i64 + b as i64));
            prop_assert_eq!(fr_from_i64(a as i64) * fr_from_i64(b as i64), fr_from_i64(a as i64 * b as i64));
        }
    }
}
