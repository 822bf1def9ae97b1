//! Everything ReceiptBatches asks of other accounts: SettlementNodes' `receiptFault` and native transfers.
//!
//! On wasm these are real calls. Native unit tests use [`mock`] (stylus-test's TestVM cannot tell calls apart by
//! their return data); the real call paths run as WASM on devnode in the end-to-end tests.

use super::*;

impl ReceiptBatches {
    /// SettlementNodes' verdict on `signed` at reference time `at` (0 = valid). A failing call is no proof of
    /// fraud, so it counts as valid.
    #[cfg(not(test))]
    pub(crate) fn _receipt_fault(&self, signed: &[u8], at: u64) -> u8 {
        use alloy_sol_types::SolCall;
        let call = verity_abi::settlement::ISettlementNodesCalls::receiptFaultCall {
            signed: Bytes::copy_from_slice(signed),
            at,
        };
        let out = stylus_sdk::call::static_call(
            self.vm(),
            stylus_sdk::stylus_core::calls::Call::new(),
            self.nodes.get(),
            &call.abi_encode(),
        );
        out.ok()
            .and_then(|out| verity_contract_support::word_u8(&out))
            .unwrap_or(0)
    }

    #[cfg(test)]
    pub(crate) fn _receipt_fault(&self, signed: &[u8], at: u64) -> u8 {
        mock::receipt_fault(signed, at)
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

/// Per-thread stand-ins for SettlementNodes and native transfers in native unit tests.
#[cfg(test)]
pub(crate) mod mock {
    use super::*;
    use std::{cell::RefCell, collections::HashMap, vec::Vec};

    #[derive(Default)]
    struct State {
        /// Leaf hash → fault reported by SettlementNodes (absent = valid).
        faults: HashMap<B256, u8>,
        /// Every `receiptFault` query: (leaf, reference time).
        queries: Vec<(B256, u64)>,
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

    /// SettlementNodes judges `signed` (flat encoding) invalid with `reason`.
    pub(crate) fn set_fault(signed: &[u8], reason: u8) {
        STATE.with(|s| {
            s.borrow_mut()
                .faults
                .insert(encoded_leaf_hash(signed), reason)
        });
    }

    /// Every `receiptFault` query so far: (leaf hash, reference time).
    pub(crate) fn queries() -> Vec<(B256, u64)> {
        STATE.with(|s| s.borrow().queries.clone())
    }

    /// Transfers to `to` fail.
    pub(crate) fn fail_transfers_to(to: Address) {
        STATE.with(|s| s.borrow_mut().failing.push(to));
    }

    /// Every transfer made so far.
    pub(crate) fn sent() -> Vec<(Address, U256)> {
        STATE.with(|s| s.borrow().sent.clone())
    }

    pub(super) fn receipt_fault(signed: &[u8], at: u64) -> u8 {
        let leaf = encoded_leaf_hash(signed);
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.queries.push((leaf, at));
            s.faults.get(&leaf).copied().unwrap_or(0)
        })
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
