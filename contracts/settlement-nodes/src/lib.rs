//! # SettlementNodes — staked TEE nodes and the receipts they sign
//!
//! One of InferenceSettlement's three contracts (split for Stylus's 24 KiB limit; see the README's architecture
//! section). A node registers a TEE signing key (secp256k1 address) with a native-ETH stake; governance approves
//! the key with its enclave measurement, and may revoke it (`approvedAt` / `revokedAt` kept forever, a key is
//! never re-approved). Unbonding: after `requestUnbond` and `unbondDelay`, with no open request at
//! InferenceSettlement, the whole stake is credited back.
//!
//! [`SettlementNodes::receipt_fault`] is the one judge of a signed receipt, used by InferenceSettlement (direct
//! proofs and final batches) and by ReceiptBatches (leaf challenges): the EIP-712 signature
//! ([`verity_abi::settlement`], domain = InferenceSettlement on this chain) must recover — through the ecrecover
//! precompile, low `s` only — to a key of the receipt's node that was approved at `signedAt` and not revoked by
//! `signedAt` nor by the reference time; `signedAt` must not be after the reference time nor older than the
//! `maxReceiptAge` in force at the reference time; the model version must have been usable at `signedAt`
//! (`ModelRegistry.usableAt`).
//!
//! InferenceSettlement alone may [`SettlementNodes::slash`] a stake (an answered request left unproven); the
//! slash is credited to the payer here. Payouts are pull-based: [`SettlementNodes::withdraw`] is the only place ETH
//! leaves. Pausing (governance) stops registration, staking and key approval; unbonding, withdrawals, revocation,
//! slashing and the judge go on.
//!
//! # Decisions
//! - **`maxReceiptAge` is judged as it stood at the reference time** (issue 14, finding 3): a batch anchored
//!   under one age must not turn invalid when governance lowers it later (an outsider would void live batches
//!   and Final batches would stop proving). Each `setParams` appends `(since, age)` to a history (`since` = the
//!   next second, so a change never reaches back even into its own block); the judge scans it from the newest
//!   entry — one storage read while no change came after the reference time. Chosen over a per-batch snapshot in
//!   ReceiptBatches: `receiptFault`'s interface and InferenceSettlement (which re-judges Final batches at their
//!   anchoring time) stay as they are, and the code is smaller. The history grows only by governance calls.
//! - **A revoked key signs nothing new, whatever date it writes** (finding 5): besides being approved and not
//!   revoked at the signer-chosen `signedAt`, the key must not be revoked at the reference time (the anchoring
//!   time of a batch, the proving time of a direct proof). Receipts anchored before the revocation stay valid.
//! - **A node proves it holds the key it registers** (finding 8): `registerNode` takes the key's EIP-712
//!   signature over (node, chain id, this contract) ([`verity_abi::settlement::key_registration_hash`]), recovered
//!   through the same ecrecover path as receipts; without it anyone could claim a node's published key.
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
use stylus_sdk::storage::{
    StorageAddress, StorageB256, StorageBool, StorageMap, StorageU128, StorageU256, StorageU64,
    StorageVec,
};
use verity_abi::settlement::{
    decode_signed_receipt, key_registration_hash, mode,
    nodes::{
        Credited, GovernanceChanged, KeyApproved, KeyRevoked, NodeRegistered, ParamsSet, PausedSet,
        SettlementSet, Slashed, StakeAdded, StakeWithdrawn, UnbondRequested, Withdrawn,
    },
    signing_hash, void_reason, SettlementAlreadyApproved, SettlementAlreadyRegistered,
    SettlementAlreadyRevoked, SettlementAlreadyWired, SettlementBadKeyProof,
    SettlementInsufficientValue, SettlementInvalidParam, SettlementKeyTaken,
    SettlementNothingToWithdraw, SettlementPaused, SettlementStakeLocked, SettlementTransferFailed,
    SettlementUnauthorized, SettlementUnauthorizedCaller, SettlementUnknownKey,
    SettlementUnknownNode, SettlementZeroAddress, SignedReceipt,
};
use verity_contract_support::Native;

mod external;

/// Default maximum age of a receipt when it is anchored or proven: 1 day.
pub const DEFAULT_MAX_RECEIPT_AGE: u64 = 24 * 3600;
/// Default unbonding delay before stake can be withdrawn: 7 days.
pub const DEFAULT_UNBOND_DELAY: u64 = 7 * 24 * 3600;
/// Default minimum node stake: 0.1 ETH.
pub const DEFAULT_MIN_STAKE: U256 = U256::from_limbs([100_000_000_000_000_000, 0, 0, 0]);
/// Upper bound of every duration parameter (one year), so time arithmetic cannot overflow.
pub const MAX_DURATION: u64 = 365 * 24 * 3600;

/// Every way a SettlementNodes call can fail; each variant is the Solidity error of the same name in
/// [`verity_abi::settlement`].
#[derive(SolidityError, Debug)]
pub enum Error {
    /// The caller is not governance.
    Unauthorized(SettlementUnauthorized),
    /// The caller is not InferenceSettlement.
    UnauthorizedCaller(SettlementUnauthorizedCaller),
    /// A zero address where one is not allowed.
    ZeroAddress(SettlementZeroAddress),
    /// A parameter out of range.
    InvalidParam(SettlementInvalidParam),
    /// The settlement address was already wired.
    AlreadyWired(SettlementAlreadyWired),
    /// Too little ETH sent.
    InsufficientValue(SettlementInsufficientValue),
    /// The node is already registered.
    AlreadyRegistered(SettlementAlreadyRegistered),
    /// The node is not registered.
    UnknownNode(SettlementUnknownNode),
    /// The signing key is taken.
    KeyTaken(SettlementKeyTaken),
    /// The signing key is unknown.
    UnknownKey(SettlementUnknownKey),
    /// The key registration proof is not the signing key's signature for the caller.
    BadKeyProof(SettlementBadKeyProof),
    /// The contract is paused.
    Paused(SettlementPaused),
    /// The key was already approved.
    AlreadyApproved(SettlementAlreadyApproved),
    /// The key was already revoked.
    AlreadyRevoked(SettlementAlreadyRevoked),
    /// Open requests or unbonding lock the stake.
    StakeLocked(SettlementStakeLocked),
    /// Nothing credited.
    NothingToWithdraw(SettlementNothingToWithdraw),
    /// A native transfer failed.
    TransferFailed(SettlementTransferFailed),
}

/// A staking node.
#[storage]
pub struct Node {
    signing_key: StorageAddress,
    unbond_at: StorageU64,
    stake: StorageU256,
}

/// A TEE signing key.
#[storage]
pub struct Key {
    node: StorageAddress,
    approved_at: StorageU64,
    revoked_at: StorageU64,
    measurement: StorageB256,
}

/// SettlementNodes' storage.
#[storage]
#[entrypoint]
pub struct SettlementNodes {
    governance: StorageAddress,
    registry: StorageAddress,
    settlement: StorageAddress,
    paused: StorageBool,
    /// `maxReceiptAge` over time, oldest first: `since << 64 | age` (the first entry applies to all earlier times).
    age_history: StorageVec<StorageU128>,
    unbond_delay: StorageU64,
    min_stake: StorageU256,
    nodes: StorageMap<Address, Node>,
    keys: StorageMap<Address, Key>,
    credits: StorageMap<Address, StorageU256>,
    escrowed: StorageU256,
}

#[public]
impl SettlementNodes {
    /// Sets governance, the ModelRegistry read for `usableAt` and the default parameters. InferenceSettlement is
    /// wired later with [`Self::set_settlement`] (it is deployed after this contract). Runs once.
    ///
    /// # Errors
    /// [`Error::ZeroAddress`] for a zero governance or registry.
    ///
    /// # Events
    /// [`GovernanceChanged`], [`ParamsSet`].
    #[constructor]
    pub fn constructor(&mut self, governance: Address, registry: Address) -> Result<(), Error> {
        if registry.is_zero() {
            return Err(Error::ZeroAddress(SettlementZeroAddress {}));
        }
        self._set_governance(governance)?;
        self.registry.set(registry);
        self._set_params(
            DEFAULT_MAX_RECEIPT_AGE,
            DEFAULT_UNBOND_DELAY,
            DEFAULT_MIN_STAKE,
        )
    }

    /// `(governance, registry, settlement, maxReceiptAge, unbondDelay, minStake)`.
    pub fn config(&self) -> (Address, Address, Address, u64, u64, U256) {
        (
            self.governance.get(),
            self.registry.get(),
            self.settlement.get(),
            self._max_age_at(u64::MAX),
            u64_of(self.unbond_delay.get()),
            self.min_stake.get(),
        )
    }

    /// `node`'s `(signingKey, stake, unbondAt)`; all zero for an unknown node.
    pub fn node(&self, node: Address) -> (Address, U256, u64) {
        let n = self.nodes.getter(node);
        (
            n.signing_key.get(),
            n.stake.get(),
            u64_of(n.unbond_at.get()),
        )
    }

    /// `key`'s `(node, measurement, approvedAt, revokedAt)`; all zero for an unknown key.
    pub fn key(&self, key: Address) -> (Address, B256, u64, u64) {
        let k = self.keys.getter(key);
        (
            k.node.get(),
            k.measurement.get(),
            u64_of(k.approved_at.get()),
            u64_of(k.revoked_at.get()),
        )
    }

    /// Whether `node` can take a request now: registered, staked at least `minStake`, not unbonding, its key
    /// approved and not revoked.
    pub fn node_active(&self, node: Address) -> bool {
        let n = self.nodes.getter(node);
        let key = n.signing_key.get();
        !key.is_zero()
            && n.stake.get() >= self.min_stake.get()
            && n.unbond_at.get().is_zero()
            && self._key_valid_at(key, self._now(), self._now())
    }

    /// The EIP-712 domain separator receipts are signed under: name "Verity", version "1", this chain, the wired
    /// InferenceSettlement as verifying contract.
    pub fn domain_separator(&self) -> B256 {
        self._domain_separator()
    }

    /// Why `signed` — a signed receipt in its flat encoding
    /// ([`verity_abi::settlement::encode_signed_receipt`], the Merkle leaf preimage) — is not a valid receipt judged
    /// at reference time `at` (a [`verity_abi::settlement::void_reason`]; `BAD_FIELDS` for bytes that are not a
    /// canonical encoding), or 0 when it is valid.
    pub fn receipt_fault(&self, signed: Bytes, at: u64) -> u8 {
        match decode_signed_receipt(&signed) {
            Some(signed) => self._receipt_fault(&signed, at),
            None => void_reason::BAD_FIELDS,
        }
    }

    /// ETH credited to `account`, withdrawable with [`Self::withdraw`].
    pub fn credit(&self, account: Address) -> U256 {
        self.credits.get(account)
    }

    /// ETH the contract owes: stakes + credits (its balance equals it, more only if ETH is force-sent).
    pub fn escrowed(&self) -> U256 {
        self.escrowed.get()
    }

    /// Whether registration, staking and key approval are paused.
    pub fn paused(&self) -> bool {
        self.paused.get()
    }

    /// Registers the caller as a node with TEE signing key `signing_key` and the ETH sent as stake (at least
    /// `minStake`). `key_proof` is the key's 65-byte signature `r ‖ s ‖ v` of
    /// [`verity_abi::settlement::key_registration_hash`] for the caller on this chain and contract (the rpc side's
    /// `verity_abi::rpc::key_registration_proof`). The key still needs governance's approval.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::AlreadyRegistered`], [`Error::InsufficientValue`], [`Error::ZeroAddress`],
    /// [`Error::KeyTaken`], [`Error::BadKeyProof`].
    ///
    /// # Events
    /// [`NodeRegistered`].
    #[payable]
    pub fn register_node(&mut self, signing_key: Address, key_proof: Bytes) -> Result<(), Error> {
        self._when_not_paused()?;
        let node = self.vm().msg_sender();
        let stake = self.vm().msg_value();
        if !self.nodes.getter(node).signing_key.get().is_zero() {
            return Err(Error::AlreadyRegistered(SettlementAlreadyRegistered {
                node,
            }));
        }
        let min = self.min_stake.get();
        if stake < min {
            return Err(Error::InsufficientValue(SettlementInsufficientValue {
                sent: stake,
                required: min,
            }));
        }
        if signing_key.is_zero() {
            return Err(Error::ZeroAddress(SettlementZeroAddress {}));
        }
        if !self.keys.getter(signing_key).node.get().is_zero() {
            return Err(Error::KeyTaken(SettlementKeyTaken {
                signingKey: signing_key,
            }));
        }
        self._check_key_proof(node, signing_key, &key_proof)?;
        self.keys.setter(signing_key).node.set(node);
        let mut n = self.nodes.setter(node);
        n.signing_key.set(signing_key);
        n.stake.set(stake);
        self._escrow_in(stake);
        self.vm().log(NodeRegistered {
            node,
            signingKey: signing_key,
            stake,
        });
        Ok(())
    }

    /// Adds the ETH sent to the caller's stake; only a registered node.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::UnknownNode`].
    ///
    /// # Events
    /// [`StakeAdded`].
    #[payable]
    pub fn add_stake(&mut self) -> Result<(), Error> {
        self._when_not_paused()?;
        let node = self._only_node()?;
        let amount = self.vm().msg_value();
        let mut n = self.nodes.setter(node);
        // Overflow not possible: stakes are bounded by the ETH supply.
        let stake = n.stake.get() + amount;
        n.stake.set(stake);
        self._escrow_in(amount);
        self.vm().log(StakeAdded {
            node,
            amount,
            stake,
        });
        Ok(())
    }

    /// Starts the caller's unbonding: no new requests; the stake is withdrawable after `unbondDelay` once no
    /// request is open. Only a registered node.
    ///
    /// # Errors
    /// [`Error::UnknownNode`].
    ///
    /// # Events
    /// [`UnbondRequested`].
    pub fn request_unbond(&mut self) -> Result<(), Error> {
        let node = self._only_node()?;
        let available_at = self._now().saturating_add(u64_of(self.unbond_delay.get()));
        self.nodes
            .setter(node)
            .unbond_at
            .set(U64::from(available_at));
        self.vm().log(UnbondRequested {
            node,
            availableAt: available_at,
        });
        Ok(())
    }

    /// Credits the caller's whole stake back after unbonding, with no request open at InferenceSettlement; only
    /// a registered node.
    ///
    /// # Errors
    /// [`Error::UnknownNode`], [`Error::StakeLocked`].
    ///
    /// # Events
    /// [`StakeWithdrawn`], [`Credited`].
    pub fn withdraw_stake(&mut self) -> Result<(), Error> {
        let node = self._only_node()?;
        let unbond_at = u64_of(self.nodes.getter(node).unbond_at.get());
        let open = self._open_requests(node);
        if open != Some(0) || unbond_at == 0 || self._now() < unbond_at {
            return Err(Error::StakeLocked(SettlementStakeLocked {
                open: open.unwrap_or(u64::MAX),
                availableAt: unbond_at,
            }));
        }
        let mut n = self.nodes.setter(node);
        let amount = n.stake.get();
        n.stake.set(U256::ZERO);
        n.unbond_at.set(U64::ZERO);
        self.vm().log(StakeWithdrawn { node, amount });
        self._credit(node, amount);
        Ok(())
    }

    /// Takes up to `amount` of `node`'s stake and credits it to `to`; only InferenceSettlement. Returns the amount
    /// taken (the stake may be smaller; zero for an unknown node).
    ///
    /// # Errors
    /// [`Error::UnauthorizedCaller`].
    ///
    /// # Events
    /// [`Slashed`], [`Credited`].
    pub fn slash(&mut self, node: Address, amount: U256, to: Address) -> Result<U256, Error> {
        let caller = self.vm().msg_sender();
        if caller.is_zero() || caller != self.settlement.get() {
            return Err(Error::UnauthorizedCaller(SettlementUnauthorizedCaller {
                account: caller,
            }));
        }
        let mut n = self.nodes.setter(node);
        let stake = n.stake.get();
        let taken = amount.min(stake);
        // Underflow not possible: taken <= stake.
        n.stake.set(stake - taken);
        if !taken.is_zero() {
            self.vm().log(Slashed {
                node,
                amount: taken,
                to,
            });
            self._credit(to, taken);
        }
        Ok(taken)
    }

    /// Sends the caller everything credited to it (the only place ETH leaves this contract).
    ///
    /// # Errors
    /// [`Error::NothingToWithdraw`], [`Error::TransferFailed`].
    ///
    /// # Events
    /// [`Withdrawn`].
    pub fn withdraw(&mut self) -> Result<U256, Error> {
        let account = self.vm().msg_sender();
        let amount = self.credits.get(account);
        if amount.is_zero() {
            return Err(Error::NothingToWithdraw(SettlementNothingToWithdraw {
                account,
            }));
        }
        self.credits.insert(account, U256::ZERO);
        // Underflow not possible: credits are part of `escrowed`.
        self.escrowed.set(self.escrowed.get() - amount);
        self.vm().log(Withdrawn { account, amount });
        self._send(account, amount)?;
        Ok(amount)
    }

    /// Approves `key` (registered by a node) with its enclave `measurement`, from now on; only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::Paused`], [`Error::UnknownKey`], [`Error::AlreadyApproved`] (also for a
    /// key approved once and revoked since: keys are never re-approved).
    ///
    /// # Events
    /// [`KeyApproved`].
    pub fn approve_key(&mut self, key: Address, measurement: B256) -> Result<(), Error> {
        self._only_governance()?;
        self._when_not_paused()?;
        self._approve_key(key, measurement)
    }

    /// Revokes `key` from now on: receipts it signed are valid only when judged before now (anchored in a batch
    /// before, or proven directly before), whatever `signedAt` they carry; only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::UnknownKey`], [`Error::AlreadyRevoked`].
    ///
    /// # Events
    /// [`KeyRevoked`].
    pub fn revoke_key(&mut self, key: Address) -> Result<(), Error> {
        self._only_governance()?;
        self._revoke_key(key)
    }

    /// Sets the parameters; only governance. Durations in seconds within `1..=MAX_DURATION`. The new
    /// `maxReceiptAge` judges reference times from the next second on (earlier anchorings keep theirs).
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::InvalidParam`] (0 maxReceiptAge, 1 unbondDelay).
    ///
    /// # Events
    /// [`ParamsSet`].
    pub fn set_params(
        &mut self,
        max_receipt_age: u64,
        unbond_delay: u64,
        min_stake: U256,
    ) -> Result<(), Error> {
        self._only_governance()?;
        self._set_params(max_receipt_age, unbond_delay, min_stake)
    }

    /// Pauses or resumes registration, staking and key approval; only governance. Unbonding, withdrawals,
    /// revocation, slashing and the receipt judge are never paused (funds can always leave).
    ///
    /// # Errors
    /// [`Error::Unauthorized`].
    ///
    /// # Events
    /// [`PausedSet`].
    pub fn set_paused(&mut self, paused: bool) -> Result<(), Error> {
        self._only_governance()?;
        self.paused.set(paused);
        self.vm().log(PausedSet { paused });
        Ok(())
    }

    /// Wires InferenceSettlement (the EIP-712 verifying contract and the only caller of `slash`), once; only
    /// governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::ZeroAddress`], [`Error::AlreadyWired`].
    ///
    /// # Events
    /// [`SettlementSet`].
    pub fn set_settlement(&mut self, settlement: Address) -> Result<(), Error> {
        self._only_governance()?;
        let current = self.settlement.get();
        if !current.is_zero() {
            return Err(Error::AlreadyWired(SettlementAlreadyWired { current }));
        }
        if settlement.is_zero() {
            return Err(Error::ZeroAddress(SettlementZeroAddress {}));
        }
        self.settlement.set(settlement);
        self.vm().log(SettlementSet { settlement });
        Ok(())
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

/// Storage-width alias of a `u64` time or duration.
type U64 = alloy_primitives::Uint<64, 1>;
/// Storage-width alias of a `maxReceiptAge` history entry (`since << 64 | age`).
type U128 = alloy_primitives::Uint<128, 2>;

impl SettlementNodes {
    fn _now(&self) -> u64 {
        self.vm().block_timestamp()
    }

    fn _only_governance(&self) -> Result<(), Error> {
        let caller = self.vm().msg_sender();
        if caller != self.governance.get() {
            return Err(Error::Unauthorized(SettlementUnauthorized {
                account: caller,
            }));
        }
        Ok(())
    }

    fn _when_not_paused(&self) -> Result<(), Error> {
        if self.paused.get() {
            return Err(Error::Paused(SettlementPaused {}));
        }
        Ok(())
    }

    /// `key_proof` must be `signing_key`'s signature `r ‖ s ‖ v` of the key registration digest for `node`.
    fn _check_key_proof(
        &self,
        node: Address,
        signing_key: Address,
        key_proof: &[u8],
    ) -> Result<(), Error> {
        let digest =
            key_registration_hash(self.vm().chain_id(), self.vm().contract_address(), node);
        let signer = match key_proof {
            [r @ .., v] if r.len() == 64 => self._recover(
                digest,
                *v,
                B256::from_slice(&r[..32]),
                B256::from_slice(&r[32..]),
            ),
            _ => None,
        };
        if signer != Some(signing_key) {
            return Err(Error::BadKeyProof(SettlementBadKeyProof {
                signingKey: signing_key,
            }));
        }
        Ok(())
    }

    /// The `maxReceiptAge` in force at time `t` (the newest entry whose `since` is not after `t`; the oldest
    /// entry for earlier times).
    fn _max_age_at(&self, t: u64) -> u64 {
        let mut i = self.age_history.len();
        while i > 0 {
            i -= 1;
            let entry = self.age_history.get(i).map_or(0, Native::native);
            // Truncation intended: the high half is `since`, the low half the age.
            if i == 0 || (entry >> 64) as u64 <= t {
                return entry as u64;
            }
        }
        0
    }

    /// The caller, if it is a registered node.
    fn _only_node(&self) -> Result<Address, Error> {
        let node = self.vm().msg_sender();
        if self.nodes.getter(node).signing_key.get().is_zero() {
            return Err(Error::UnknownNode(SettlementUnknownNode { node }));
        }
        Ok(node)
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

    fn _set_params(
        &mut self,
        max_receipt_age: u64,
        unbond_delay: u64,
        min_stake: U256,
    ) -> Result<(), Error> {
        for (which, d) in [max_receipt_age, unbond_delay].into_iter().enumerate() {
            if d == 0 || d > MAX_DURATION {
                // Truncation not possible: which < 2.
                return Err(Error::InvalidParam(SettlementInvalidParam {
                    which: which as u8,
                }));
            }
        }
        // The first entry (constructor) covers all times; later ones apply from the next second on, so a change
        // never reaches back to anything already anchored or proven.
        let since = if self.age_history.is_empty() {
            0
        } else {
            self._now().saturating_add(1)
        };
        self.age_history.push(U128::from(
            (u128::from(since) << 64) | u128::from(max_receipt_age),
        ));
        self.unbond_delay.set(U64::from(unbond_delay));
        self.min_stake.set(min_stake);
        self.vm().log(ParamsSet {
            maxReceiptAge: max_receipt_age,
            unbondDelay: unbond_delay,
            minStake: min_stake,
        });
        Ok(())
    }

    fn _approve_key(&mut self, key: Address, measurement: B256) -> Result<(), Error> {
        let now = self._now();
        let mut k = self.keys.setter(key);
        let node = k.node.get();
        if node.is_zero() {
            return Err(Error::UnknownKey(SettlementUnknownKey { signingKey: key }));
        }
        if !k.approved_at.get().is_zero() || !k.revoked_at.get().is_zero() {
            return Err(Error::AlreadyApproved(SettlementAlreadyApproved {
                signingKey: key,
            }));
        }
        k.approved_at.set(U64::from(now));
        k.measurement.set(measurement);
        self.vm().log(KeyApproved {
            signingKey: key,
            node,
            measurement,
            approvedAt: now,
        });
        Ok(())
    }

    fn _revoke_key(&mut self, key: Address) -> Result<(), Error> {
        let now = self._now();
        let mut k = self.keys.setter(key);
        let node = k.node.get();
        if node.is_zero() {
            return Err(Error::UnknownKey(SettlementUnknownKey { signingKey: key }));
        }
        if !k.revoked_at.get().is_zero() {
            return Err(Error::AlreadyRevoked(SettlementAlreadyRevoked {
                signingKey: key,
            }));
        }
        k.revoked_at.set(U64::from(now));
        self.vm().log(KeyRevoked {
            signingKey: key,
            node,
            revokedAt: now,
        });
        Ok(())
    }

    fn _domain_separator(&self) -> B256 {
        verity_abi::settlement::domain_separator(self.vm().chain_id(), self.settlement.get())
    }

    /// Whether `key` was approved at time `t` and not revoked by `t` nor by `judged_at` (a revoked key's receipts
    /// count only when judged before the revocation, whatever `t` they claim).
    fn _key_valid_at(&self, key: Address, t: u64, judged_at: u64) -> bool {
        let k = self.keys.getter(key);
        let approved_at = u64_of(k.approved_at.get());
        let revoked_at = u64_of(k.revoked_at.get());
        approved_at != 0 && approved_at <= t && (revoked_at == 0 || t.max(judged_at) < revoked_at)
    }

    /// Why `signed` is not a valid receipt judged at reference time `at` (a [`void_reason`]), or 0.
    fn _receipt_fault(&self, signed: &SignedReceipt, at: u64) -> u8 {
        let receipt = &signed.receipt;
        let digest = signing_hash(self._domain_separator(), receipt);
        let Some(signer) = self._recover(digest, signed.v, signed.r, signed.s) else {
            return void_reason::BAD_SIGNATURE;
        };
        let key_node = self.keys.getter(signer).node.get();
        if key_node.is_zero() {
            return void_reason::BAD_SIGNATURE;
        }
        if key_node != receipt.node || receipt.mode > mode::ZK {
            return void_reason::BAD_FIELDS;
        }
        if !self._key_valid_at(signer, receipt.signedAt, at) {
            return void_reason::KEY_NOT_APPROVED;
        }
        let max_age = self._max_age_at(at);
        if receipt.signedAt > at || at - receipt.signedAt > max_age {
            return void_reason::BAD_TIME;
        }
        if !self._usable_at(receipt.modelVersion, receipt.signedAt) {
            return void_reason::MODEL_NOT_USABLE;
        }
        0
    }

    fn _escrow_in(&mut self, amount: U256) {
        // Overflow not possible: bounded by the ETH supply.
        self.escrowed.set(self.escrowed.get() + amount);
    }

    /// Credits `amount` (already escrowed) to `account` for a later [`SettlementNodes::withdraw`].
    fn _credit(&mut self, account: Address, amount: U256) {
        // Overflow not possible: credits are bounded by `escrowed`.
        let credit = self.credits.get(account) + amount;
        self.credits.insert(account, credit);
        self.vm().log(Credited { account, amount });
    }
}

#[cfg(test)]
mod tests;
