//! # CommitteeVerifier — k-of-n attestation signatures behind the mode-ZK verifier interface
//!
//! InferenceSettlement calls the verifier registered for a receipt's model version as
//! `verify(publicInputs, proof) → bool` ([`verity_abi::settlement::IInferenceVerifier`]). This contract answers it
//! with a **committee**, not a zero-knowledge proof: `proof` is at least `threshold` secp256k1 signatures of
//! members over [`verity_abi::settlement::committee::attestation_hash`] (bound to this chain and this contract),
//! concatenated as 65-byte `r ‖ s ‖ v`, signers in strictly ascending address order (so none counts twice). A real
//! Groth16 verifier is its own issue and plugs into the same interface.
//!
//! Governance adds and removes members and sets the threshold, always keeping `1 ≤ threshold ≤ members`.
//! `verify` never reverts: anything malformed is `false`.
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]
#![cfg_attr(not(any(test, feature = "export-abi")), no_std)]
// `#[entrypoint]` emits an undocumented `user_entrypoint` export on wasm; native builds still check docs.
#![cfg_attr(target_arch = "wasm32", allow(missing_docs))]

#[macro_use]
extern crate alloc;

// The wasm32 panic handler (traps; no std, no formatting code) and panic-free word helpers.
use verity_contract_support::u64_of;

use alloc::vec::Vec;
use alloy_primitives::{Address, Bytes, B256, U256};
use stylus_sdk::prelude::*;
use stylus_sdk::storage::{StorageAddress, StorageBool, StorageMap, StorageU64};
use verity_abi::settlement::{
    committee::{attestation_hash, GovernanceChanged, MemberSet, ThresholdSet, SIGNATURE_LEN},
    SettlementInvalidParam, SettlementUnauthorized, SettlementZeroAddress, SECP256K1_HALF_N,
};

mod external;

/// Every way a CommitteeVerifier call can fail; each variant is the Solidity error of the same name in
/// [`verity_abi::settlement`].
#[derive(SolidityError, Debug)]
pub enum Error {
    /// The caller is not governance.
    Unauthorized(SettlementUnauthorized),
    /// A zero address where one is not allowed.
    ZeroAddress(SettlementZeroAddress),
    /// The threshold would leave `1 ≤ threshold ≤ members` (`which` 0), or the member change is a no-op
    /// (`which` 1).
    InvalidParam(SettlementInvalidParam),
}

/// CommitteeVerifier's storage.
#[storage]
#[entrypoint]
pub struct CommitteeVerifier {
    governance: StorageAddress,
    threshold: StorageU64,
    member_count: StorageU64,
    members: StorageMap<Address, StorageBool>,
}

/// Storage-width alias of a `u64` count.
type U64 = alloy_primitives::Uint<64, 1>;

#[public]
impl CommitteeVerifier {
    /// Sets governance, the first members and the threshold (`1 ≤ threshold ≤ members`). Runs once.
    ///
    /// # Errors
    /// [`Error::ZeroAddress`] (governance or a member), [`Error::InvalidParam`] (threshold, or a member twice).
    ///
    /// # Events
    /// [`GovernanceChanged`], [`MemberSet`] per member, [`ThresholdSet`].
    #[constructor]
    pub fn constructor(
        &mut self,
        governance: Address,
        members: Vec<Address>,
        threshold: u64,
    ) -> Result<(), Error> {
        self._set_governance(governance)?;
        for member in members {
            self._set_member(member, true)?;
        }
        self._set_threshold(threshold)
    }

    /// `(governance, threshold, members)`.
    pub fn config(&self) -> (Address, u64, u64) {
        (
            self.governance.get(),
            u64_of(self.threshold.get()),
            u64_of(self.member_count.get()),
        )
    }

    /// Whether `account` is a committee member.
    pub fn is_member(&self, account: Address) -> bool {
        self.members.get(account)
    }

    /// The digest members sign for `public_inputs` on this chain and contract.
    pub fn attestation_hash(&self, public_inputs: Bytes) -> B256 {
        attestation_hash(
            self.vm().chain_id(),
            self.vm().contract_address(),
            &public_inputs,
        )
    }

    /// Whether `proof` carries at least `threshold` valid member signatures over `public_inputs`' attestation
    /// hash, signers strictly ascending. Never reverts.
    pub fn verify(&self, public_inputs: Bytes, proof: Bytes) -> bool {
        let threshold = u64_of(self.threshold.get());
        if threshold == 0 || proof.is_empty() || !proof.len().is_multiple_of(SIGNATURE_LEN) {
            return false;
        }
        let digest = self.attestation_hash(public_inputs);
        let mut previous = Address::ZERO;
        let mut count = 0u64;
        for sig in proof.chunks_exact(SIGNATURE_LEN) {
            let (r, s, v) = (
                B256::from_slice(&sig[..32]),
                B256::from_slice(&sig[32..64]),
                sig[64],
            );
            if (v != 27 && v != 28)
                || r.is_zero()
                || s.is_zero()
                || U256::from_be_bytes(s.0) > SECP256K1_HALF_N
            {
                return false;
            }
            let Some(signer) = self._ecrecover(digest, v, r, s) else {
                return false;
            };
            if signer <= previous || !self.members.get(signer) {
                return false;
            }
            previous = signer;
            count += 1;
        }
        count >= threshold
    }

    /// Adds (`is_member`) or removes `member`; only governance. A removal may not leave fewer members than the
    /// threshold.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::ZeroAddress`], [`Error::InvalidParam`] (no change: 1; too few left: 0).
    ///
    /// # Events
    /// [`MemberSet`].
    pub fn set_member(&mut self, member: Address, is_member: bool) -> Result<(), Error> {
        self._only_governance()?;
        if !is_member
            && self.members.get(member)
            && u64_of(self.member_count.get()) <= u64_of(self.threshold.get())
        {
            return Err(Error::InvalidParam(SettlementInvalidParam { which: 0 }));
        }
        self._set_member(member, is_member)
    }

    /// Sets the threshold (`1 ≤ threshold ≤ members`); only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::InvalidParam`] (0).
    ///
    /// # Events
    /// [`ThresholdSet`].
    pub fn set_threshold(&mut self, threshold: u64) -> Result<(), Error> {
        self._only_governance()?;
        self._set_threshold(threshold)
    }

    /// Hands governance to `new_governance`; only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::ZeroAddress`].
    ///
    /// # Events
    /// [`GovernanceChanged`].
    pub fn transfer_governance(&mut self, new_governance: Address) -> Result<(), Error> {
        self._only_governance()?;
        self._set_governance(new_governance)
    }
}

impl CommitteeVerifier {
    fn _only_governance(&self) -> Result<(), Error> {
        let caller = self.vm().msg_sender();
        if caller != self.governance.get() {
            return Err(Error::Unauthorized(SettlementUnauthorized {
                account: caller,
            }));
        }
        Ok(())
    }

    fn _set_governance(&mut self, new_governance: Address) -> Result<(), Error> {
        if new_governance.is_zero() {
            return Err(Error::ZeroAddress(SettlementZeroAddress {}));
        }
        let previous = self.governance.get();
        self.governance.set(new_governance);
        self.vm().log(GovernanceChanged {
            previousGovernance: previous,
            newGovernance: new_governance,
        });
        Ok(())
    }

    fn _set_member(&mut self, member: Address, is_member: bool) -> Result<(), Error> {
        if member.is_zero() {
            return Err(Error::ZeroAddress(SettlementZeroAddress {}));
        }
        if self.members.get(member) == is_member {
            return Err(Error::InvalidParam(SettlementInvalidParam { which: 1 }));
        }
        self.members.insert(member, is_member);
        let count = u64_of(self.member_count.get());
        // Overflow/underflow not possible: the count moves with actual membership changes.
        let count = if is_member { count + 1 } else { count - 1 };
        self.member_count.set(U64::from(count));
        self.vm().log(MemberSet {
            member,
            isMember: is_member,
            members: count,
        });
        Ok(())
    }

    fn _set_threshold(&mut self, threshold: u64) -> Result<(), Error> {
        if threshold == 0 || threshold > u64_of(self.member_count.get()) {
            return Err(Error::InvalidParam(SettlementInvalidParam { which: 0 }));
        }
        self.threshold.set(U64::from(threshold));
        self.vm().log(ThresholdSet { threshold });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
