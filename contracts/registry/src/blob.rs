//! [`Blob`]: a Solidity `bytes` argument held as a plain `Vec<u8>`.
//!
//! stylus-sdk maps `bytes` to `alloy_primitives::Bytes`, which decodes through the `bytes` crate (reference-counted
//! buffers with vtables, and a `Layout` error path that links `core::fmt`): about 3 KB of a contract's budget for
//! two URIs that are only copied into an event. `Blob` has the same ABI (`bytes`, same selector, same encoding; the
//! tests check it against alloy's `Bytes`), and decodes by copying the slice into a `Vec<u8>`.

use alloc::vec::Vec;
use alloy_primitives::{keccak256, B256};
use alloy_sol_types::{abi::token::PackedSeqToken, private::SolTypeValue, SolType};
use stylus_sdk::abi::{AbiType, ConstString};

/// The bytes of a Solidity `bytes` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl core::ops::Deref for Blob {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Blob {
    fn from(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }
}

/// The Solidity type `bytes`, decoded into a [`Blob`].
#[derive(Debug, Clone, Copy)]
pub struct BlobSol;

impl SolTypeValue<BlobSol> for Blob {
    fn stv_abi_encoded_size(&self) -> usize {
        // Length word plus the data padded to whole words.
        64 + self.0.len().div_ceil(32) * 32
    }

    fn stv_to_tokens(&self) -> PackedSeqToken<'_> {
        PackedSeqToken(&self.0)
    }

    fn stv_abi_packed_encoded_size(&self) -> usize {
        self.0.len()
    }

    fn stv_abi_encode_packed_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }

    fn stv_eip712_data_word(&self) -> B256 {
        keccak256(&self.0)
    }
}

impl SolType for BlobSol {
    type RustType = Blob;
    type Token<'a> = PackedSeqToken<'a>;

    const SOL_NAME: &'static str = "bytes";
    const ENCODED_SIZE: Option<usize> = None;
    const PACKED_ENCODED_SIZE: Option<usize> = None;

    fn valid_token(_token: &Self::Token<'_>) -> bool {
        true
    }

    fn detokenize(token: Self::Token<'_>) -> Blob {
        Blob(token.0.to_vec())
    }
}

impl AbiType for Blob {
    type SolType = BlobSol;

    const ABI: ConstString = ConstString::new("bytes");
    const EXPORT_ABI_ARG: ConstString = ConstString::new("bytes calldata");
    const EXPORT_ABI_RET: ConstString = ConstString::new("bytes memory");
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Bytes, U256};
    use proptest::prelude::*;

    proptest! {
        /// `Blob` encodes and decodes exactly as alloy's `Bytes` (`bytes`), alone and inside a parameter list.
        #[test]
        fn blob_matches_alloy_bytes(data in proptest::collection::vec(any::<u8>(), 0..100), word in any::<u64>()) {
            let blob = Blob(data.clone());
            let bytes = Bytes::from(data.clone());
            type Theirs = (alloy_sol_types::sol_data::Uint<256>, alloy_sol_types::sol_data::Bytes);
            type Ours = (alloy_sol_types::sol_data::Uint<256>, BlobSol);
            let encoded = Theirs::abi_encode_params(&(U256::from(word), bytes.clone()));
            prop_assert_eq!(&Ours::abi_encode_params(&(U256::from(word), blob.clone())), &encoded);
            let (w, decoded) = Ours::abi_decode_params_validate(&encoded).unwrap();
            prop_assert_eq!(w, U256::from(word));
            prop_assert_eq!(decoded, blob);
            prop_assert_eq!(<Blob as AbiType>::ABI.as_str(), <Bytes as AbiType>::ABI.as_str());
        }
    }
}
