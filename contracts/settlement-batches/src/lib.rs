//! # ReceiptBatches — Merkle-anchored receipts, voided by a single fraud proof
//!
//! One of InferenceSettlement's three contracts (split for Stylus's 24 KiB limit). A keeper anchors the Merkle
//! root of N signed receipts (OpenZeppelin `StandardMerkleTree`, leaf = [`verity_abi::settlement::leaf_hash`])
//! with a native-ETH bond, the count and the URI where the leaves are published (in the `BatchAnchored` event;
//! `keccak256` of it stored): `Anchored`. During the challenge
//! window anyone may void it (`Voided`, bond to the challenger) by proving
//! - one leaf invalid: [`ReceiptBatches::challenge_leaf`], judged by SettlementNodes' `receiptFault` at the
//!   anchoring time (bad signature, key not approved at `signedAt`, too old or in the future, model not usable);
//! - one request id included twice: [`ReceiptBatches::challenge_duplicate`] (a *valid* receipt with different
//!   content in an earlier batch that is not voided, or in the same batch under a different leaf; the later batch
//!   is voided).
//!
//! After the window anyone finalizes it (`Final`, bond credited back). Finalizing twice reverts with the typed
//! `SettlementAlreadyFinal` / `SettlementAlreadyVoided` (the idempotency rule). Payouts are pull-based
//! ([`ReceiptBatches::withdraw`]). Pausing stops anchoring only; challenges, finalization and withdrawals go on.
//!
//! # Decisions
//! - **The earlier leaf of a duplicate must itself be a valid receipt, judged at its batch's anchoring time, and
//!   differ from the later leaf** (issue 14, finding 1). Otherwise a rogue allowed keeper anchors forged leaves
//!   carrying public request ids (from `Requested`), withholds that batch's data so nobody can `challengeLeaf` it,
//!   and voids every honest batch holding those ids, taking their bonds. The same receipt in two batches is no
//!   fraud (whichever batch finalizes proves it, once). Costs one `receiptFault` call per duplicate challenge.
//! - **A batch keeps the challenge window it was anchored with** (finding 3): `closesAt` is stored with the batch
//!   (in the slot `count` already uses, so anchoring writes no extra slot); a later `setParams` changes only
//!   batches anchored after it, so governance can neither cut a running window short nor reopen a closed one.
//!   The receipt age that judges a leaf is SettlementNodes' history at the anchoring time (see its Decisions).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]
#![cfg_attr(not(any(test, feature = "export-abi")), no_std)]
// `#[entrypoint]` emits an undocumented `user_entrypoint` export on wasm; native builds still check docs.
#![cfg_attr(target_arch = "wasm32", allow(missing_docs))]

#[macro_use]
extern crate alloc;

// The wasm32 panic handler (traps; no std, no formatting code) and panic-free word helpers.
use verity_contract_support::{u64_of, u8_of};

use alloc::{string::String, vec::Vec};
use alloy_primitives::{keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::SolEvent;
use stylus_sdk::prelude::*;
use stylus_sdk::storage::{
    StorageAddress, StorageB256, StorageBool, StorageMap, StorageU256, StorageU64, StorageU8,
};
use verity_abi::settlement::{
    batch_status,
    batches::{
        BatchAnchored, BatchFinalized, BatchVoided, Credited, GovernanceChanged, KeeperChanged,
        ParamsSet, PausedSet, Withdrawn,
    },
    encoded_leaf_hash, verify_proof, void_reason, SettlementAlreadyFinal, SettlementAlreadyVoided,
    SettlementBadProof, SettlementEmptyBatch, SettlementInsufficientValue, SettlementInvalidParam,
    SettlementInvalidReceipt, SettlementLeafValid, SettlementNotDuplicate,
    SettlementNothingToWithdraw, SettlementPaused, SettlementTransferFailed,
    SettlementUnauthorized, SettlementUnauthorizedKeeper, SettlementUnknownBatch,
    SettlementWindowClosed, SettlementWindowOpen, SettlementZeroAddress, SIGNED_RECEIPT_LEN,
};

mod external;

/// Default challenge window of a batch: 6 hours.
pub const DEFAULT_CHALLENGE_WINDOW: u64 = 6 * 3600;
/// Default minimum batch bond: 0.01 ETH.
pub const DEFAULT_MIN_BOND: U256 = U256::from_limbs([10_000_000_000_000_000, 0, 0, 0]);
/// Upper bound of the challenge window (one year), so time arithmetic cannot overflow.
pub const MAX_DURATION: u64 = 365 * 24 * 3600;

/// Every way a ReceiptBatches call can fail; each variant is the Solidity error of the same name in
/// [`verity_abi::settlement`].
#[derive(SolidityError, Debug)]
pub enum Error {
    /// The caller is not governance.
    Unauthorized(SettlementUnauthorized),
    /// The caller is not an allowed keeper.
    UnauthorizedKeeper(SettlementUnauthorizedKeeper),
    /// The contract is paused.
    Paused(SettlementPaused),
    /// A zero address where one is not allowed.
    ZeroAddress(SettlementZeroAddress),
    /// A parameter out of range.
    InvalidParam(SettlementInvalidParam),
    /// Too little ETH sent.
    InsufficientValue(SettlementInsufficientValue),
    /// Zero root or zero count.
    EmptyBatch(SettlementEmptyBatch),
    /// The batch id is unknown.
    UnknownBatch(SettlementUnknownBatch),
    /// The batch is already final.
    AlreadyFinal(SettlementAlreadyFinal),
    /// The batch is already voided.
    AlreadyVoided(SettlementAlreadyVoided),
    /// The batch's window is still open.
    WindowOpen(SettlementWindowOpen),
    /// The batch's window is closed.
    WindowClosed(SettlementWindowClosed),
    /// The Merkle proof does not lead to the root.
    BadProof(SettlementBadProof),
    /// The challenged leaf is valid.
    LeafValid(SettlementLeafValid),
    /// Not a duplicate request id.
    NotDuplicate(SettlementNotDuplicate),
    /// The earlier leaf of a duplicate challenge is not a valid receipt.
    InvalidReceipt(SettlementInvalidReceipt),
    /// Nothing credited.
    NothingToWithdraw(SettlementNothingToWithdraw),
    /// A native transfer failed.
    TransferFailed(SettlementTransferFailed),
}

/// An anchored Merkle batch of signed receipts.
#[storage]
pub struct Batch {
    submitter: StorageAddress,
    anchored_at: StorageU64,
    status: StorageU8,
    count: StorageU64,
    /// End of the challenge window, fixed at anchoring (`anchoredAt + challengeWindow` then).
    closes_at: StorageU64,
    root: StorageB256,
    bond: StorageU256,
    /// `keccak256(dataUri)`; the URI is in the `BatchAnchored` event.
    data_hash: StorageB256,
}

/// ReceiptBatches' storage.
#[storage]
#[entrypoint]
pub struct ReceiptBatches {
    governance: StorageAddress,
    paused: StorageBool,
    nodes: StorageAddress,
    challenge_window: StorageU64,
    min_bond: StorageU256,
    keepers: StorageMap<Address, StorageBool>,
    batches: StorageMap<U256, Batch>,
    batch_count: StorageU256,
    credits: StorageMap<Address, StorageU256>,
    escrowed: StorageU256,
}

#[public]
impl ReceiptBatches {
    /// Sets governance, SettlementNodes (the judge of a leaf), one allowed keeper (zero = none yet) and the
    /// default parameters. Runs once.
    ///
    /// # Errors
    /// [`Error::ZeroAddress`] for a zero governance or nodes contract.
    ///
    /// # Events
    /// [`GovernanceChanged`], [`KeeperChanged`] (when a keeper is given), [`ParamsSet`].
    #[constructor]
    pub fn constructor(
        &mut self,
        governance: Address,
        nodes: Address,
        keeper: Address,
    ) -> Result<(), Error> {
        if nodes.is_zero() {
            return Err(Error::ZeroAddress(SettlementZeroAddress {}));
        }
        self._set_governance(governance)?;
        self.nodes.set(nodes);
        if !keeper.is_zero() {
            self._set_keeper(keeper, true);
        }
        self._set_params(DEFAULT_CHALLENGE_WINDOW, DEFAULT_MIN_BOND)
    }

    /// `(governance, nodes, paused, challengeWindow, minBond, batchCount)`; batch ids are `1..=batchCount`.
    pub fn config(&self) -> (Address, Address, bool, u64, U256, U256) {
        (
            self.governance.get(),
            self.nodes.get(),
            self.paused.get(),
            u64_of(self.challenge_window.get()),
            self.min_bond.get(),
            self.batch_count.get(),
        )
    }

    /// Whether `account` may anchor batches.
    pub fn is_keeper(&self, account: Address) -> bool {
        self.keepers.get(account)
    }

    /// Batch `batch_id`: `(root, count, submitter, anchoredAt, bond, status)`; status
    /// [`batch_status::NONE`] for an unknown id.
    pub fn batch(&self, batch_id: U256) -> (B256, u64, Address, u64, U256, u8) {
        let b = self.batches.getter(batch_id);
        (
            b.root.get(),
            u64_of(b.count.get()),
            b.submitter.get(),
            u64_of(b.anchored_at.get()),
            b.bond.get(),
            u8_of(b.status.get()),
        )
    }

    /// `keccak256` of the URI where batch `batch_id`'s leaves are published (the URI itself is in its
    /// [`BatchAnchored`] event; storing only its hash keeps the contract under the size limit).
    pub fn batch_data_hash(&self, batch_id: U256) -> B256 {
        self.batches.getter(batch_id).data_hash.get()
    }

    /// When batch `batch_id`'s challenge window closes (fixed when it was anchored; 0 for an unknown id):
    /// challenges before, finalization from then on.
    pub fn batch_closes_at(&self, batch_id: U256) -> u64 {
        u64_of(self.batches.getter(batch_id).closes_at.get())
    }

    /// The status of `signed` in batch `batch_id` ([`batch_status`]): `ANCHORED` / `FINAL` / `VOIDED` when
    /// `proof` includes it, `NONE` when the batch is unknown or the proof does not lead to its root.
    /// (`Answered` is the off-chain state before anchoring.)
    pub fn receipt_status(&self, batch_id: U256, signed: Bytes, proof: Vec<B256>) -> u8 {
        let b = self.batches.getter(batch_id);
        let status = u8_of(b.status.get());
        if status == batch_status::NONE
            || !verify_proof(b.root.get(), encoded_leaf_hash(&signed), &proof)
        {
            return batch_status::NONE;
        }
        status
    }

    /// ETH credited to `account`, withdrawable with [`Self::withdraw`].
    pub fn credit(&self, account: Address) -> U256 {
        self.credits.get(account)
    }

    /// ETH the contract owes: bonds of anchored batches + credits (its balance equals it, more only if ETH is
    /// force-sent).
    pub fn escrowed(&self) -> U256 {
        self.escrowed.get()
    }

    /// Anchors the Merkle root of `count` signed receipts published at `data_uri`, with the ETH sent as bond (at
    /// least `minBond`); only a keeper. Returns the new batch id.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::UnauthorizedKeeper`], [`Error::EmptyBatch`], [`Error::InsufficientValue`].
    ///
    /// # Events
    /// [`BatchAnchored`].
    #[payable]
    pub fn anchor_batch(
        &mut self,
        root: B256,
        count: u64,
        data_uri: String,
    ) -> Result<U256, Error> {
        if self.paused.get() {
            return Err(Error::Paused(SettlementPaused {}));
        }
        let submitter = self.vm().msg_sender();
        if !self.keepers.get(submitter) {
            return Err(Error::UnauthorizedKeeper(SettlementUnauthorizedKeeper {
                account: submitter,
            }));
        }
        self._anchor(submitter, root, count, data_uri)
    }

    /// Voids an anchored batch inside its window by proving that one of its leaves is an invalid receipt; the
    /// bond is credited to the caller. Anyone.
    ///
    /// # Errors
    /// [`Error::UnknownBatch`], [`Error::AlreadyFinal`], [`Error::AlreadyVoided`], [`Error::WindowClosed`],
    /// [`Error::BadProof`], [`Error::LeafValid`].
    ///
    /// # Events
    /// [`BatchVoided`], [`Credited`].
    pub fn challenge_leaf(
        &mut self,
        batch_id: U256,
        signed: Bytes,
        proof: Vec<B256>,
    ) -> Result<(), Error> {
        let anchored_at = self._challengeable(batch_id)?;
        self._check_inclusion(batch_id, &signed, &proof)?;
        let reason = self._receipt_fault(&signed, anchored_at);
        if reason == 0 {
            return Err(Error::LeafValid(SettlementLeafValid {}));
        }
        self._void(batch_id, reason, request_id_of(&signed));
        Ok(())
    }

    /// Voids anchored batch `later_batch` inside its window by proving that it includes a request id already
    /// included in `earlier_batch` (not voided, with a lower id — or the same batch) under a different leaf that
    /// is itself a valid receipt (SettlementNodes' `receiptFault` at `earlier_batch`'s anchoring time). The bond
    /// is credited to the caller. Anyone.
    ///
    /// # Errors
    /// [`Error::UnknownBatch`], [`Error::AlreadyFinal`], [`Error::AlreadyVoided`], [`Error::WindowClosed`],
    /// [`Error::NotDuplicate`], [`Error::BadProof`], [`Error::InvalidReceipt`] (the earlier leaf; challenge it
    /// with [`Self::challenge_leaf`] instead).
    ///
    /// # Events
    /// [`BatchVoided`], [`Credited`].
    pub fn challenge_duplicate(
        &mut self,
        earlier_batch: U256,
        earlier: Bytes,
        earlier_proof: Vec<B256>,
        later_batch: U256,
        later: Bytes,
        later_proof: Vec<B256>,
    ) -> Result<(), Error> {
        self._challengeable(later_batch)?;
        let earlier_status = self._batch_status(earlier_batch)?;
        let request_id = request_id_of(&later);
        if earlier.len() != SIGNED_RECEIPT_LEN
            || later.len() != SIGNED_RECEIPT_LEN
            || request_id_of(&earlier) != request_id
            || earlier_status == batch_status::VOIDED
            || earlier_batch > later_batch
            || earlier[..] == later[..]
        {
            return Err(Error::NotDuplicate(SettlementNotDuplicate {}));
        }
        self._check_inclusion(earlier_batch, &earlier, &earlier_proof)?;
        self._check_inclusion(later_batch, &later, &later_proof)?;
        let earlier_at = u64_of(self.batches.getter(earlier_batch).anchored_at.get());
        let reason = self._receipt_fault(&earlier, earlier_at);
        if reason != 0 {
            return Err(Error::InvalidReceipt(SettlementInvalidReceipt { reason }));
        }
        self._void(later_batch, void_reason::DUPLICATE_REQUEST, request_id);
        Ok(())
    }

    /// Finalizes an anchored batch whose window has passed, crediting the bond back to its submitter. Anyone.
    ///
    /// # Errors
    /// [`Error::UnknownBatch`], [`Error::AlreadyFinal`], [`Error::AlreadyVoided`] (typed, per the idempotency
    /// rule), [`Error::WindowOpen`].
    ///
    /// # Events
    /// [`BatchFinalized`], [`Credited`].
    pub fn finalize_batch(&mut self, batch_id: U256) -> Result<(), Error> {
        self._expect_anchored(batch_id)?;
        let until = self.batch_closes_at(batch_id);
        if self._now() < until {
            return Err(Error::WindowOpen(SettlementWindowOpen { until }));
        }
        let mut b = self.batches.setter(batch_id);
        b.status.set(U8::from(batch_status::FINAL));
        let (submitter, bond) = (b.submitter.get(), b.bond.get());
        self._emit(
            BatchFinalized::SIGNATURE_HASH,
            &[wu(batch_id), wa(submitter)],
            &[wu(bond)],
            &[],
        );
        self._credit(submitter, bond);
        Ok(())
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
        self._emit(
            Withdrawn::SIGNATURE_HASH,
            &[wa(account)],
            &[wu(amount)],
            &[],
        );
        self._send(account, amount)?;
        Ok(amount)
    }

    /// Allows or disallows `keeper` to anchor batches; only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`].
    ///
    /// # Events
    /// [`KeeperChanged`].
    pub fn set_keeper(&mut self, keeper: Address, allowed: bool) -> Result<(), Error> {
        self._only_governance()?;
        self._set_keeper(keeper, allowed);
        Ok(())
    }

    /// Sets the challenge window (seconds, `1..=MAX_DURATION`; applies to batches anchored from now on, each
    /// batch keeps the window it was anchored with) and the minimum bond (> 0); only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::InvalidParam`] (0 challengeWindow, 1 minBond).
    ///
    /// # Events
    /// [`ParamsSet`].
    pub fn set_params(&mut self, challenge_window: u64, min_bond: U256) -> Result<(), Error> {
        self._only_governance()?;
        self._set_params(challenge_window, min_bond)
    }

    /// Pauses or resumes anchoring; only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`].
    ///
    /// # Events
    /// [`PausedSet`].
    pub fn set_paused(&mut self, paused: bool) -> Result<(), Error> {
        self._only_governance()?;
        self.paused.set(paused);
        self._emit(
            PausedSet::SIGNATURE_HASH,
            &[],
            &[w64(u64::from(paused))],
            &[],
        );
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

/// The request id of a signed receipt in its flat encoding (its first word; zero if shorter).
fn request_id_of(signed: &[u8]) -> B256 {
    signed.get(..32).map_or(B256::ZERO, B256::from_slice)
}

/// Storage-width alias of a `u8` status.
type U8 = alloy_primitives::Uint<8, 1>;
/// Storage-width alias of a `u64` time or count.
type U64 = alloy_primitives::Uint<64, 1>;

impl ReceiptBatches {
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

    fn _set_governance(&mut self, new_governance: Address) -> Result<(), Error> {
        if new_governance.is_zero() {
            return Err(Error::ZeroAddress(SettlementZeroAddress {}));
        }
        let previous = self.governance.get();
        self.governance.set(new_governance);
        self._emit(
            GovernanceChanged::SIGNATURE_HASH,
            &[wa(previous), wa(new_governance)],
            &[],
            &[],
        );
        Ok(())
    }

    fn _set_keeper(&mut self, keeper: Address, allowed: bool) {
        self.keepers.insert(keeper, allowed);
        self._emit(
            KeeperChanged::SIGNATURE_HASH,
            &[wa(keeper)],
            &[w64(u64::from(allowed))],
            &[],
        );
    }

    fn _set_params(&mut self, challenge_window: u64, min_bond: U256) -> Result<(), Error> {
        if challenge_window == 0 || challenge_window > MAX_DURATION {
            return Err(Error::InvalidParam(SettlementInvalidParam { which: 0 }));
        }
        if min_bond.is_zero() {
            return Err(Error::InvalidParam(SettlementInvalidParam { which: 1 }));
        }
        self.challenge_window.set(U64::from(challenge_window));
        self.min_bond.set(min_bond);
        self._emit(
            ParamsSet::SIGNATURE_HASH,
            &[],
            &[w64(challenge_window), wu(min_bond)],
            &[],
        );
        Ok(())
    }

    fn _anchor(
        &mut self,
        submitter: Address,
        root: B256,
        count: u64,
        data_uri: String,
    ) -> Result<U256, Error> {
        if root.is_zero() || count == 0 {
            return Err(Error::EmptyBatch(SettlementEmptyBatch {}));
        }
        let bond = self.vm().msg_value();
        let min = self.min_bond.get();
        if bond < min {
            return Err(Error::InsufficientValue(SettlementInsufficientValue {
                sent: bond,
                required: min,
            }));
        }
        // Overflow not possible: one batch per transaction.
        let batch_id = self.batch_count.get() + U256::from(1);
        self.batch_count.set(batch_id);
        let now = self._now();
        let mut b = self.batches.setter(batch_id);
        b.root.set(root);
        b.count.set(U64::from(count));
        b.submitter.set(submitter);
        b.anchored_at.set(U64::from(now));
        b.closes_at.set(U64::from(
            now.saturating_add(u64_of(self.challenge_window.get())),
        ));
        b.bond.set(bond);
        b.status.set(U8::from(batch_status::ANCHORED));
        b.data_hash.set(keccak256(data_uri.as_bytes()));
        // Overflow not possible: bounded by the ETH supply.
        self.escrowed.set(self.escrowed.get() + bond);
        // Data: root, count, bond, then the string's offset (4 head words), length and bytes.
        self._emit(
            BatchAnchored::SIGNATURE_HASH,
            &[wu(batch_id), wa(submitter)],
            &[
                root,
                w64(count),
                wu(bond),
                w64(128),
                w64(data_uri.len() as u64),
            ],
            data_uri.as_bytes(),
        );
        Ok(batch_id)
    }

    fn _batch_status(&self, batch_id: U256) -> Result<u8, Error> {
        let status = u8_of(self.batches.getter(batch_id).status.get());
        if status == batch_status::NONE {
            return Err(Error::UnknownBatch(SettlementUnknownBatch {
                batchId: batch_id,
            }));
        }
        Ok(status)
    }

    /// The batch's anchoring time if it is still `Anchored`; typed `Already…` errors otherwise.
    fn _expect_anchored(&self, batch_id: U256) -> Result<u64, Error> {
        match self._batch_status(batch_id)? {
            batch_status::FINAL => Err(Error::AlreadyFinal(SettlementAlreadyFinal {
                batchId: batch_id,
            })),
            batch_status::VOIDED => Err(Error::AlreadyVoided(SettlementAlreadyVoided {
                batchId: batch_id,
            })),
            _ => Ok(u64_of(self.batches.getter(batch_id).anchored_at.get())),
        }
    }

    /// The batch's anchoring time if it can still be challenged.
    fn _challengeable(&self, batch_id: U256) -> Result<u64, Error> {
        let anchored_at = self._expect_anchored(batch_id)?;
        let closed_at = self.batch_closes_at(batch_id);
        if self._now() >= closed_at {
            return Err(Error::WindowClosed(SettlementWindowClosed {
                closedAt: closed_at,
            }));
        }
        Ok(anchored_at)
    }

    fn _check_inclusion(&self, batch_id: U256, signed: &[u8], proof: &[B256]) -> Result<(), Error> {
        let root = self.batches.getter(batch_id).root.get();
        if !verify_proof(root, encoded_leaf_hash(signed), proof) {
            return Err(Error::BadProof(SettlementBadProof { batchId: batch_id }));
        }
        Ok(())
    }

    fn _void(&mut self, batch_id: U256, reason: u8, request_id: B256) {
        let challenger = self.vm().msg_sender();
        let mut b = self.batches.setter(batch_id);
        b.status.set(U8::from(batch_status::VOIDED));
        let bond = b.bond.get();
        self._emit(
            BatchVoided::SIGNATURE_HASH,
            &[wu(batch_id), wa(challenger)],
            &[w64(u64::from(reason)), request_id, wu(bond)],
            &[],
        );
        self._credit(challenger, bond);
    }

    /// Credits `amount` (already escrowed) to `account` for a later [`ReceiptBatches::withdraw`].
    fn _credit(&mut self, account: Address, amount: U256) {
        // Overflow not possible: credits are bounded by `escrowed`.
        let credit = self.credits.get(account) + amount;
        self.credits.insert(account, credit);
        self._emit(Credited::SIGNATURE_HASH, &[wa(account)], &[wu(amount)], &[]);
    }

    /// Emits the event with signature hash `topic0`, indexed fields `indexed`, data words `data` and then `tail`
    /// zero-padded to whole words (the bytes of the one dynamic field, whose offset and length are in `data`). One
    /// small function instead of one `SolEvent` encoder per event type (size).
    fn _emit(&self, topic0: B256, indexed: &[B256], data: &[B256], tail: &[u8]) {
        let mut bytes = Vec::with_capacity(32 * (2 + indexed.len() + data.len()) + tail.len());
        bytes.extend_from_slice(topic0.as_slice());
        for word in indexed.iter().chain(data) {
            bytes.extend_from_slice(word.as_slice());
        }
        bytes.extend_from_slice(tail);
        // Pad the tail to a whole word.
        bytes.resize(bytes.len().next_multiple_of(32), 0);
        self.vm().emit_log(&bytes, 1 + indexed.len());
    }
}

/// The ABI word of an address.
fn wa(a: Address) -> B256 {
    a.into_word()
}

/// The ABI word of a `uint256`.
fn wu(v: U256) -> B256 {
    B256::from(v)
}

/// The ABI word of a `uint64` (also `uint8` and `bool`, widened).
fn w64(v: u64) -> B256 {
    B256::from(U256::from(v))
}

#[cfg(test)]
mod tests;
