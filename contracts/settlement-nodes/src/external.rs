//! Everything SettlementNodes asks of other accounts: the ecrecover precompile, the ModelRegistry's `usableAt`,
//! InferenceSettlement's `openRequests`, and native transfers.
//!
//! On wasm these are real calls. Native unit tests use [`mock`] instead (stylus-test's TestVM answers every call
//! with the *last* mocked return data, so several different calls in one transaction cannot be mocked there): real
//! secp256k1 recovery (k256) and per-thread tables. The real call paths run as WASM on devnode in the end-to-end
//! tests.

use super::*;
use verity_abi::settlement::SECP256K1_HALF_N;

impl SettlementNodes {
    /// The signer of `digest`, or `None` for a malformed or high-`s` signature (EIP-2) or a failed recovery.
    pub(crate) fn _recover(&self, digest: B256, v: u8, r: B256, s: B256) -> Option<Address> {
        if (v != 27 && v != 28)
            || r.is_zero()
            || s.is_zero()
            || U256::from_be_bytes(s.0) > SECP256K1_HALF_N
        {
            return None;
        }
        let signer = self._ecrecover(digest, v, r, s)?;
        (!signer.is_zero()).then_some(signer)
    }

    #[cfg(not(test))]
    fn _ecrecover(&self, digest: B256, v: u8, r: B256, s: B256) -> Option<Address> {
        let mut input = [0u8; 128];
        input[..32].copy_from_slice(digest.as_slice());
        input[63] = v;
        input[64..96].copy_from_slice(r.as_slice());
        input[96..].copy_from_slice(s.as_slice());
        let out = static_call(self, verity_abi::settlement::ECRECOVER, &input)?;
        (out.len() == 32).then(|| Address::from_slice(&out[12..]))
    }

    #[cfg(test)]
    fn _ecrecover(&self, digest: B256, v: u8, r: B256, s: B256) -> Option<Address> {
        let signature = alloy_primitives::Signature::new(
            U256::from_be_bytes(r.0),
            U256::from_be_bytes(s.0),
            v == 28,
        );
        signature.recover_address_from_prehash(&digest).ok()
    }

    /// Whether the registry says `model_version` was usable at `t` (false when the call fails).
    #[cfg(not(test))]
    pub(crate) fn _usable_at(&self, model_version: U256, t: u64) -> bool {
        use alloy_sol_types::SolCall;
        let call = verity_abi::settlement::IModelUsable::usableAtCall {
            id: model_version,
            t,
        };
        static_call(self, self.registry.get(), &call.abi_encode())
            .is_some_and(|out| verity_contract_support::is_true(&out))
    }

    #[cfg(test)]
    pub(crate) fn _usable_at(&self, model_version: U256, t: u64) -> bool {
        mock::usable_at(model_version, t)
    }

    /// `node`'s open requests at InferenceSettlement: `Some(0)` before it is wired, `None` when the call fails.
    #[cfg(not(test))]
    pub(crate) fn _open_requests(&self, node: Address) -> Option<u64> {
        use alloy_sol_types::SolCall;
        let settlement = self.settlement.get();
        if settlement.is_zero() {
            return Some(0);
        }
        let call = verity_abi::settlement::IInferenceSettlementCalls::openRequestsCall { node };
        let out = static_call(self, settlement, &call.abi_encode())?;
        verity_contract_support::word(&out).and_then(|w| match w.as_limbs() {
            [low, 0, 0, 0] => Some(*low),
            _ => None,
        })
    }

    #[cfg(test)]
    pub(crate) fn _open_requests(&self, node: Address) -> Option<u64> {
        mock::open_requests(node)
    }

    /// Sends `amount` wei to `to`.
    #[cfg(not(test))]
    pub(crate) fn _send(&mut self, to: Address, amount: U256) -> Result<(), Error> {
        stylus_sdk::call::transfer::transfer_eth(self.vm(), to, amount)
            .map_err(|_| Error::TransferFailed(SettlementTransferFailed { to }))
    }

    #[cfg(test)]
    pub(crate) fn _send(&mut self, to: Address, amount: U256) -> Result<(), Error> {
        mock::send(to, amount)
    }
}

/// A static call's return data, `None` if it reverted.
#[cfg(not(test))]
fn static_call(this: &SettlementNodes, to: Address, data: &[u8]) -> Option<alloc::vec::Vec<u8>> {
    stylus_sdk::call::static_call(
        this.vm(),
        stylus_sdk::stylus_core::calls::Call::new(),
        to,
        data,
    )
    .ok()
}

/// Per-thread stand-ins for the registry, InferenceSettlement and native transfers in native unit tests.
#[cfg(test)]
pub(crate) mod mock {
    use super::*;
    use std::{cell::RefCell, collections::HashMap, vec::Vec};

    #[derive(Default)]
    struct State {
        /// Model version → `[from, until)` usable.
        models: HashMap<U256, (u64, u64)>,
        /// Node → open requests (`None` = the call fails).
        open: HashMap<Address, Option<u64>>,
        /// Recipients whose transfers fail.
        failing: Vec<Address>,
        /// Every transfer made.
        sent: Vec<(Address, U256)>,
    }

    std::thread_local! {
        static STATE: RefCell<State> = RefCell::new(State::default());
    }

    /// Forgets every mock (call at the start of each test case).
    pub(crate) fn reset() {
        STATE.with(|s| *s.borrow_mut() = State::default());
    }

    /// `model_version` is usable in `[from, until)`.
    pub(crate) fn set_usable(model_version: U256, from: u64, until: u64) {
        STATE.with(|s| s.borrow_mut().models.insert(model_version, (from, until)));
    }

    /// InferenceSettlement reports `open` requests for `node` (`None` = the call fails).
    pub(crate) fn set_open_requests(node: Address, open: Option<u64>) {
        STATE.with(|s| s.borrow_mut().open.insert(node, open));
    }

    /// Transfers to `to` fail.
    pub(crate) fn fail_transfers_to(to: Address) {
        STATE.with(|s| s.borrow_mut().failing.push(to));
    }

    /// Every transfer made so far.
    pub(crate) fn sent() -> Vec<(Address, U256)> {
        STATE.with(|s| s.borrow().sent.clone())
    }

    pub(super) fn usable_at(model_version: U256, t: u64) -> bool {
        STATE.with(|s| {
            matches!(s.borrow().models.get(&model_version), Some((from, until)) if *from <= t && t < *until)
        })
    }

    pub(super) fn open_requests(node: Address) -> Option<u64> {
        STATE.with(|s| s.borrow().open.get(&node).copied().unwrap_or(Some(0)))
    }

    pub(super) fn send(to: Address, amount: U256) -> Result<(), Error> {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            if s.failing.contains(&to) {
                return Err(Error::TransferFailed(SettlementTransferFailed { to }));
            }
            s.sent.push((to, amount));
            Ok(())
        })
    }
}
