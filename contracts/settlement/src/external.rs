//! Everything InferenceSettlement asks of other accounts: SettlementNodes (`nodeActive`, `receiptFault`,
//! `slash`), ReceiptBatches (`batch`, `config` for its challenge window), the ModelRegistry (`usableAt`), a model version's ZK verifier, and native
//! transfers.
//!
//! On wasm these are real calls. Native unit tests use [`mock`] instead (stylus-test's TestVM answers every call
//! with the *last* mocked return data, so several different calls in one transaction cannot be mocked there); the
//! real call paths run as WASM on devnode in the end-to-end tests.

use super::*;

#[cfg(not(test))]
use alloy_sol_types::SolCall;
#[cfg(not(test))]
use verity_abi::settlement::{
    IInferenceVerifier, IModelUsable, IReceiptBatchesCalls, ISettlementNodesCalls,
};

impl InferenceSettlement {
    /// Whether SettlementNodes says `node` can take a request now (false when the call fails).
    #[cfg(not(test))]
    pub(crate) fn _node_active(&self, node: Address) -> bool {
        let call = ISettlementNodesCalls::nodeActiveCall { node };
        static_call(self, self.nodes.get(), &call.abi_encode()).is_some_and(|out| is_true(&out))
    }

    /// SettlementNodes' verdict on `signed` at reference time `at`: 0 = valid, else a `void_reason`. A failing
    /// call counts as invalid (no payment without a proof).
    #[cfg(not(test))]
    pub(crate) fn _receipt_fault(&self, signed: &[u8], at: u64) -> u8 {
        let call = ISettlementNodesCalls::receiptFaultCall {
            signed: Bytes::copy_from_slice(signed),
            at,
        };
        static_call(self, self.nodes.get(), &call.abi_encode())
            .and_then(|out| verity_contract_support::word_u8(&out))
            .unwrap_or(verity_abi::settlement::void_reason::BAD_SIGNATURE)
    }

    /// Slashes up to `amount` of `node`'s stake to `to` at SettlementNodes; returns what was taken (zero when the
    /// call fails: a refund is never blocked by the slash).
    #[cfg(not(test))]
    pub(crate) fn _slash(&mut self, node: Address, amount: U256, to: Address) -> U256 {
        let call = ISettlementNodesCalls::slashCall { node, amount, to };
        let nodes = self.nodes.get();
        match host_call(self.vm(), nodes, &call.abi_encode(), Some(U256::ZERO)) {
            Ok(out) if out.len() == 32 => U256::from_be_slice(&out),
            _ => U256::ZERO,
        }
    }

    /// ReceiptBatches' batch `batch_id` as `(root, anchoredAt, status)`; `None` when unknown or the call fails.
    #[cfg(not(test))]
    pub(crate) fn _batch(&self, batch_id: U256) -> Option<(B256, u64, u8)> {
        let call = IReceiptBatchesCalls::batchCall { batchId: batch_id };
        let out = static_call(self, self.batches.get(), &call.abi_encode())?;
        // Six static words: root, count, submitter, anchoredAt, bond, status.
        if out.len() != 6 * 32 {
            return None;
        }
        let root = B256::from_slice(&out[..32]);
        let anchored_at = verity_contract_support::word(&out[96..128])?;
        let status = verity_contract_support::word_u8(&out[160..])?;
        match anchored_at.as_limbs() {
            [t, 0, 0, 0] if status != batch_status::NONE => Some((root, *t, status)),
            _ => None,
        }
    }

    /// ReceiptBatches' challenge window (`config()` word 3), the time a batch anchored by a deadline may still
    /// take to become `Final`; [`MAX_DURATION`] when the call fails (a refund waits rather than slashing wrongly).
    #[cfg(not(test))]
    pub(crate) fn _batch_window(&self) -> u64 {
        let call = IReceiptBatchesCalls::configCall {};
        static_call(self, self.batches.get(), &call.abi_encode())
            .filter(|out| out.len() >= 4 * 32)
            .and_then(|out| verity_contract_support::word(&out[96..128]))
            .and_then(|w| match w.as_limbs() {
                [t, 0, 0, 0] if *t <= MAX_DURATION => Some(*t),
                _ => None,
            })
            .unwrap_or(MAX_DURATION)
    }

    /// Whether the registry says `model_version` is usable at `t` (false when the call fails).
    #[cfg(not(test))]
    pub(crate) fn _usable_at(&self, model_version: U256, t: u64) -> bool {
        let call = IModelUsable::usableAtCall {
            id: model_version,
            t,
        };
        static_call(self, self.registry.get(), &call.abi_encode()).is_some_and(|out| is_true(&out))
    }

    /// Whether `verifier` accepts `proof` for `receipt` (false when the call fails).
    #[cfg(not(test))]
    pub(crate) fn _zk_verify(&self, verifier: Address, receipt: &Receipt, proof: &[u8]) -> bool {
        let call = IInferenceVerifier::verifyCall {
            publicInputs: verity_abi::settlement::zk_public_inputs(receipt).into(),
            proof: Bytes::copy_from_slice(proof),
        };
        static_call(self, verifier, &call.abi_encode()).is_some_and(|out| is_true(&out))
    }

    /// Sends `amount` wei to `to`.
    #[cfg(not(test))]
    pub(crate) fn _send(&mut self, to: Address, amount: U256) -> Result<(), Error> {
        if !transfer(self.vm(), to, amount) {
            return Err(Error::TransferFailed(SettlementTransferFailed { to }));
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn _node_active(&self, node: Address) -> bool {
        mock::with(|m| m.active.contains(&node))
    }

    #[cfg(test)]
    pub(crate) fn _receipt_fault(&self, signed: &[u8], at: u64) -> u8 {
        let leaf = encoded_leaf_hash(signed);
        mock::with(|m| {
            m.fault_queries.push((leaf, at));
            m.faults.get(&leaf).copied().unwrap_or(0)
        })
    }

    #[cfg(test)]
    pub(crate) fn _slash(&mut self, node: Address, amount: U256, to: Address) -> U256 {
        mock::with(|m| {
            let stake = m.stakes.entry(node).or_default();
            let taken = amount.min(*stake);
            *stake -= taken;
            m.slashes.push((node, taken, to));
            taken
        })
    }

    #[cfg(test)]
    pub(crate) fn _batch(&self, batch_id: U256) -> Option<(B256, u64, u8)> {
        mock::with(|m| m.batches.get(&batch_id).copied())
    }

    #[cfg(test)]
    pub(crate) fn _batch_window(&self) -> u64 {
        mock::with(|m| m.batch_window.unwrap_or(MAX_DURATION))
    }

    #[cfg(test)]
    pub(crate) fn _usable_at(&self, model_version: U256, t: u64) -> bool {
        mock::with(
            |m| matches!(m.models.get(&model_version), Some((from, until)) if *from <= t && t < *until),
        )
    }

    #[cfg(test)]
    pub(crate) fn _zk_verify(&self, verifier: Address, receipt: &Receipt, proof: &[u8]) -> bool {
        let inputs = verity_abi::settlement::zk_public_inputs(receipt);
        mock::with(|m| {
            m.verifiers
                .get(&verifier)
                .is_some_and(|accepted| accepted.as_slice() == proof)
                && inputs.len() == 288
        })
    }

    #[cfg(test)]
    pub(crate) fn _send(&mut self, to: Address, amount: U256) -> Result<(), Error> {
        mock::with(|m| {
            if m.failing.contains(&to) {
                return Err(Error::TransferFailed(SettlementTransferFailed { to }));
            }
            m.sent.push((to, amount));
            Ok(())
        })
    }
}

/// A static call's return data, `None` if it reverted.
#[cfg(not(test))]
fn static_call(this: &InferenceSettlement, to: Address, data: &[u8]) -> Option<Vec<u8>> {
    host_call(this.vm(), to, data, None).ok()
}

#[cfg(not(test))]
use verity_contract_support::{host_call, is_true, transfer};

/// Per-thread stand-ins for SettlementNodes, ReceiptBatches, the registry, verifiers and native transfers in
/// native unit tests. Tests set the public fields through [`mock::with`].
#[cfg(test)]
pub(crate) mod mock {
    use super::*;
    use std::{
        cell::RefCell,
        collections::{HashMap, HashSet},
    };

    /// The mocked world.
    #[derive(Default)]
    pub(crate) struct World {
        /// Nodes SettlementNodes reports active.
        pub(crate) active: HashSet<Address>,
        /// Leaf hash → fault SettlementNodes reports (absent = valid).
        pub(crate) faults: HashMap<B256, u8>,
        /// Every `receiptFault` query: (leaf hash, reference time).
        pub(crate) fault_queries: Vec<(B256, u64)>,
        /// Stakes at SettlementNodes (what `slash` can take).
        pub(crate) stakes: HashMap<Address, U256>,
        /// Every slash: (node, taken, to).
        pub(crate) slashes: Vec<(Address, U256, Address)>,
        /// ReceiptBatches: id → (root, anchoredAt, status).
        pub(crate) batches: HashMap<U256, (B256, u64, u8)>,
        /// ReceiptBatches' challenge window (`None`: the `config()` call fails).
        pub(crate) batch_window: Option<u64>,
        /// Model version → `[from, until)` usable.
        pub(crate) models: HashMap<U256, (u64, u64)>,
        /// Verifier → the proof it accepts.
        pub(crate) verifiers: HashMap<Address, Vec<u8>>,
        /// Recipients whose transfers fail.
        pub(crate) failing: Vec<Address>,
        /// Every transfer made.
        pub(crate) sent: Vec<(Address, U256)>,
    }

    std::thread_local! {
        static WORLD: RefCell<World> = RefCell::new(World::default());
    }

    /// Forgets every mock (call at the start of each test case).
    pub(crate) fn reset() {
        WORLD.with(|w| *w.borrow_mut() = World::default());
    }

    /// Runs `f` on the mocked world.
    pub(crate) fn with<T>(f: impl FnOnce(&mut World) -> T) -> T {
        WORLD.with(|w| f(&mut w.borrow_mut()))
    }
}
