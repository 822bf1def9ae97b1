//! The ecrecover precompile: a real static call on wasm; in native unit tests, secp256k1 recovery (k256) — the
//! precompile path runs as WASM on devnode in the end-to-end tests.

use super::*;

impl CommitteeVerifier {
    /// The signer of `digest`, `None` when recovery fails or yields zero.
    #[cfg(not(test))]
    pub(crate) fn _ecrecover(&self, digest: B256, v: u8, r: B256, s: B256) -> Option<Address> {
        let mut input = [0u8; 128];
        input[..32].copy_from_slice(digest.as_slice());
        input[63] = v;
        input[64..96].copy_from_slice(r.as_slice());
        input[96..].copy_from_slice(s.as_slice());
        let out = stylus_sdk::call::static_call(
            self.vm(),
            stylus_sdk::stylus_core::calls::Call::new(),
            verity_abi::settlement::ECRECOVER,
            &input,
        )
        .ok()?;
        let signer = (out.len() == 32).then(|| Address::from_slice(&out[12..]))?;
        (!signer.is_zero()).then_some(signer)
    }

    #[cfg(test)]
    pub(crate) fn _ecrecover(&self, digest: B256, v: u8, r: B256, s: B256) -> Option<Address> {
        let signature = alloy_primitives::Signature::new(
            U256::from_be_bytes(r.0),
            U256::from_be_bytes(s.0),
            v == 28,
        );
        signature.recover_address_from_prehash(&digest).ok()
    }
}
