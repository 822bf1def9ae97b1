//! Everything Groth16Verifier asks of other accounts: the BN254 precompiles and the registry's `version(id)`.
//!
//! On wasm these are real static calls. Native unit tests run the precompiles through revm's own BN254
//! implementation (the code devnode runs) and answer the registry from [`mock`]; the real call paths run as
//! WASM on devnode in the end-to-end tests.

use super::*;

#[cfg(not(test))]
use alloy_sol_types::SolCall;
#[cfg(not(test))]
use verity_abi::groth16::{version_info, IRegistryVersion};

impl Groth16Verifier {
    /// The precompile's output, `None` when the call failed (the precompile refused the input).
    #[cfg(not(test))]
    pub(crate) fn _precompile(&self, precompile: Address, input: &[u8]) -> Option<Vec<u8>> {
        stylus_sdk::call::static_call(
            self.vm(),
            stylus_sdk::stylus_core::calls::Call::new(),
            precompile,
            input,
        )
        .ok()
    }

    /// `(submitter, contentHash)` of `model_version` in the registry, `None` when the registry does not know it.
    #[cfg(not(test))]
    pub(crate) fn _registry_version(&self, model_version: U256) -> Option<(Address, B256)> {
        let call = IRegistryVersion::versionCall { id: model_version };
        let out = stylus_sdk::call::static_call(
            self.vm(),
            stylus_sdk::stylus_core::calls::Call::new(),
            self.registry.get(),
            &call.abi_encode(),
        )
        .ok()?;
        if out.len() != version_info::WORDS * 32 {
            return None;
        }
        let word = |i: usize| &out[32 * i..32 * (i + 1)];
        let submitter = Address::from_slice(&word(version_info::SUBMITTER)[12..]);
        Some((
            submitter,
            B256::from_slice(word(version_info::CONTENT_HASH)),
        ))
    }

    #[cfg(test)]
    pub(crate) fn _precompile(&self, precompile: Address, input: &[u8]) -> Option<Vec<u8>> {
        use revm::precompile::bn254;
        const GAS: u64 = 10_000_000;
        let result = match precompile {
            BN254_ADD => bn254::run_add(input, bn254::add::ISTANBUL_ADD_GAS_COST, GAS),
            BN254_MUL => bn254::run_mul(input, bn254::mul::ISTANBUL_MUL_GAS_COST, GAS),
            BN254_PAIRING => bn254::run_pair(
                input,
                bn254::pair::ISTANBUL_PAIR_PER_POINT,
                bn254::pair::ISTANBUL_PAIR_BASE,
                GAS,
            ),
            _ => return None,
        };
        mock::with(|m| m.precompile_calls += 1);
        result.ok().map(|out| out.bytes.to_vec())
    }

    #[cfg(test)]
    pub(crate) fn _registry_version(&self, model_version: U256) -> Option<(Address, B256)> {
        mock::with(|m| m.versions.get(&model_version).copied())
    }
}

/// The registry as native unit tests see it. Tests set the public fields through [`mock::with`].
#[cfg(test)]
pub(crate) mod mock {
    use super::*;
    use std::{cell::RefCell, collections::HashMap};

    /// The mocked world.
    #[derive(Default)]
    pub(crate) struct World {
        /// Model version → (submitter, content hash).
        pub(crate) versions: HashMap<U256, (Address, B256)>,
        /// Precompile calls made so far.
        pub(crate) precompile_calls: usize,
    }

    std::thread_local! {
        static WORLD: RefCell<World> = RefCell::new(World::default());
    }

    /// Runs `f` on the mocked world.
    pub(crate) fn with<T>(f: impl FnOnce(&mut World) -> T) -> T {
        WORLD.with(|w| f(&mut w.borrow_mut()))
    }
}
