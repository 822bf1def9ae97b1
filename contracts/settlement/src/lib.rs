//! # InferenceSettlement — fast answers, proven later
//!
//! The paid-request half of Verity's settlement, split over three Stylus contracts for the 24 KiB limit (README,
//! architecture): **SettlementNodes** (`verity-settlement-nodes`: staked nodes, enclave-approved TEE keys, the
//! receipt judge `receiptFault`), **ReceiptBatches** (`verity-settlement-batches`: Merkle-anchored receipt batches,
//! bonds, fraud challenges) and this contract, the EIP-712 verifying contract of every [`Receipt`].
//!
//! **Paid requests** escrow the fee in native ETH: `Requested` → `Answered` (result commitment posted; usable at
//! once) → `Proven` → `Settled` (node paid after the challenge window) | `Refunded` (no proof by the deadline) |
//! `Disputed` (bonded; resolved by governance, or settled for the node by anyone after the dispute timeout). A proof is a signed receipt SettlementNodes finds valid now (plus, in mode ZK, the verifier
//! registered for the model version accepting `verify(abi.encode(receipt), proof)`), or — mode TEE — the
//! receipt's inclusion in a `Final` ReceiptBatches batch anchored before the deadline (re-judged at the anchoring
//! time, so even an unchallenged batch pays nothing for an invalid receipt). A node is slashed (at
//! SettlementNodes, to the payer) only when it answered and then failed to prove: an unanswered request is
//! refunded without a slash, so nobody can get a node slashed with requests it never took. A payer may dispute a
//! `Proven` request inside the window by posting the dispute bond; governance resolves it.
//!
//! **Payouts are pull-based**: the fee to the node, the refund to the payer — everything is credited, and
//! [`InferenceSettlement::withdraw`] is the only place ETH leaves, so a failing or hostile recipient can never block
//! a settlement or a refund. Pausing stops new business (request, answer, prove) and refunds, never the other exits
//! (settle, dispute, withdraw).
//!
//! # Decisions
//! - **An answered request is refundable (and its node slashable) only after `deadline + batchWindow`**, the
//!   ReceiptBatches challenge window read from `ReceiptBatches.config()` at refund time (audit finding 2): a receipt
//!   anchored up to the deadline is `Final` — and can prove the request — only a batch window later, so an earlier
//!   refund would slash a node holding a valid proof it may not submit yet. Read, not copied: a copy could drift
//!   from the window ReceiptBatches actually applies at `finalizeBatch`, reopening the hole; the cost is one static
//!   call (~3k gas) on the rare refund path and a few hundred bytes. If the call fails the wait is `MAX_DURATION`
//!   (the payer waits a year rather than the node being slashed by a broken read). An unanswered request stays
//!   refundable at its deadline, without a slash (the node took no responsibility on-chain; it only loses the fee).
//! - **No refund while paused, and an answered request not before `resumedAt + batchWindow`** (finding 2): proving
//!   is paused, so the node cannot answer a refund with its proof. Deadlines do not stretch by the paused time
//!   (that needs a pause history for `proveByBatch`'s anchoring check); instead the resume time opens a fresh batch
//!   window, so no refund can front-run the node's `proveByBatch` in the unpause block. A pause that covers a
//!   request's deadline leaves the node only the batch path (`proveWithReceipt` stays bounded by the deadline).
//! - **Disputes are bonded and time out** (finding 7): `dispute` takes at least `disputeBond` (all ETH sent is the
//!   bond, so none is stranded); the bond goes to the node when the dispute is resolved for it or times out, back
//!   to the payer when resolved for the payer. After `disputeTimeout` anyone calls `settle` and the request settles
//!   for the node — `settle` is reused rather than a new entry point (size). While `Disputed`, the request's
//!   `deadline` field holds the time the dispute times out (it is dead after `Proven`; one slot fewer per dispute).
//! - The dispute parameters ride on `setParams` / `config()` / `ParamsSet` (no new entry points); the bond must
//!   be ≥ 1 wei so governance cannot turn free disputes back on.
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]
#![cfg_attr(not(any(test, feature = "export-abi")), no_std)]
// `#[entrypoint]` emits an undocumented `user_entrypoint` export on wasm; native builds still check docs.
#![cfg_attr(target_arch = "wasm32", allow(missing_docs))]

#[macro_use]
extern crate alloc;

// The wasm32 panic handler (traps; no std, no formatting code) and panic-free word helpers.
use verity_contract_support::{u64_of, u8_of};

use alloc::vec::Vec;
use alloy_primitives::{Address, Bytes, B256, U256};
use alloy_sol_types::SolEvent;
use stylus_sdk::prelude::*;
use stylus_sdk::storage::{
    StorageAddress, StorageB256, StorageBool, StorageMap, StorageU256, StorageU64, StorageU8,
};
use verity_abi::settlement::{
    batch_status, decode_signed_receipt, encoded_leaf_hash, mode, request_status, verify_proof,
    Answered, Credited, DisputeResolved, Disputed, GovernanceChanged, ParamsSet, PausedSet, Proven,
    Receipt, Refunded, Requested, Settled, SettlementAlreadySettled, SettlementBadProof,
    SettlementBadRequestStatus, SettlementBatchNotFinal, SettlementInsufficientValue,
    SettlementInvalidParam, SettlementInvalidReceipt, SettlementModelNotUsable,
    SettlementNodeInactive, SettlementNothingToWithdraw, SettlementPaused, SettlementProofRejected,
    SettlementReceiptMismatch, SettlementRequestExists, SettlementTooEarly, SettlementTooLate,
    SettlementTransferFailed, SettlementUnauthorized, SettlementUnauthorizedNode,
    SettlementUnauthorizedPayer, SettlementUnknownBatch, SettlementUnknownRequest,
    SettlementZeroAddress, SignedReceipt, VerifierSet, Withdrawn,
};

mod external;

/// Default challenge window of a proven request: 6 hours.
pub const DEFAULT_CHALLENGE_WINDOW: u64 = 6 * 3600;
/// Default time a node has from the request to the proof: 1 day.
pub const DEFAULT_ANSWER_DEADLINE: u64 = 24 * 3600;
/// Default slash for an answered request left unproven: 0.01 ETH (capped by the node's stake).
pub const DEFAULT_SLASH_AMOUNT: U256 = U256::from_limbs([10_000_000_000_000_000, 0, 0, 0]);
/// Default bond a payer posts to dispute a proven request: 0.01 ETH (the default slash: both sides risk the same).
pub const DEFAULT_DISPUTE_BOND: U256 = U256::from_limbs([10_000_000_000_000_000, 0, 0, 0]);
/// Default time governance has to resolve a dispute before anyone may settle it for the node: 7 days.
pub const DEFAULT_DISPUTE_TIMEOUT: u64 = 7 * 24 * 3600;
/// Upper bound of every duration parameter (one year), so time arithmetic cannot overflow.
pub const MAX_DURATION: u64 = 365 * 24 * 3600;

/// Every way an InferenceSettlement call can fail; each variant is the Solidity error of the same name in
/// [`verity_abi::settlement`].
#[derive(SolidityError, Debug)]
pub enum Error {
    /// The caller is not governance.
    Unauthorized(SettlementUnauthorized),
    /// The caller is not the request's node.
    UnauthorizedNode(SettlementUnauthorizedNode),
    /// The caller is not the request's payer.
    UnauthorizedPayer(SettlementUnauthorizedPayer),
    /// The contract is paused.
    Paused(SettlementPaused),
    /// A zero address where one is not allowed.
    ZeroAddress(SettlementZeroAddress),
    /// A parameter out of range.
    InvalidParam(SettlementInvalidParam),
    /// Too little ETH sent.
    InsufficientValue(SettlementInsufficientValue),
    /// The node cannot take requests.
    NodeInactive(SettlementNodeInactive),
    /// The request id is taken.
    RequestExists(SettlementRequestExists),
    /// The request id is unknown.
    UnknownRequest(SettlementUnknownRequest),
    /// The request's status does not allow this.
    BadRequestStatus(SettlementBadRequestStatus),
    /// The request is already settled or refunded.
    AlreadySettled(SettlementAlreadySettled),
    /// Too early (deadline or window still running).
    TooEarly(SettlementTooEarly),
    /// Too late (deadline or window passed).
    TooLate(SettlementTooLate),
    /// The model version is not usable now.
    ModelNotUsable(SettlementModelNotUsable),
    /// The receipt does not match the request.
    ReceiptMismatch(SettlementReceiptMismatch),
    /// The receipt is invalid.
    InvalidReceipt(SettlementInvalidReceipt),
    /// The ZK proof was rejected.
    ProofRejected(SettlementProofRejected),
    /// The batch id is unknown.
    UnknownBatch(SettlementUnknownBatch),
    /// The batch is not final.
    BatchNotFinal(SettlementBatchNotFinal),
    /// The Merkle proof does not lead to the root.
    BadProof(SettlementBadProof),
    /// Nothing credited.
    NothingToWithdraw(SettlementNothingToWithdraw),
    /// A native transfer failed.
    TransferFailed(SettlementTransferFailed),
}

/// A paid request.
#[storage]
pub struct Request {
    payer: StorageAddress,
    status: StorageU8,
    mode: StorageU8,
    /// The proof deadline; while `Disputed`, the time the dispute times out.
    deadline: StorageU64,
    node: StorageAddress,
    proven_at: StorageU64,
    model_version: StorageU256,
    fee: StorageU256,
    input_hash: StorageB256,
    output_hash: StorageB256,
    /// The dispute bond posted (zero unless disputed).
    bond: StorageU256,
}

/// InferenceSettlement's storage.
#[storage]
#[entrypoint]
pub struct InferenceSettlement {
    governance: StorageAddress,
    paused: StorageBool,
    /// When the contract was last unpaused (0 = never).
    resumed_at: StorageU64,
    registry: StorageAddress,
    nodes: StorageAddress,
    batches: StorageAddress,
    challenge_window: StorageU64,
    answer_deadline: StorageU64,
    dispute_timeout: StorageU64,
    slash_amount: StorageU256,
    dispute_bond: StorageU256,
    verifiers: StorageMap<U256, StorageAddress>,
    requests: StorageMap<B256, Request>,
    open: StorageMap<Address, StorageU64>,
    credits: StorageMap<Address, StorageU256>,
    escrowed: StorageU256,
}

#[public]
impl InferenceSettlement {
    /// Sets governance, the ModelRegistry (model usable at request time), SettlementNodes, ReceiptBatches and the
    /// default parameters. Runs once (the SDK guards the constructor slot).
    ///
    /// # Errors
    /// [`Error::ZeroAddress`] for any zero address.
    ///
    /// # Events
    /// [`GovernanceChanged`], [`ParamsSet`].
    #[constructor]
    pub fn constructor(
        &mut self,
        governance: Address,
        registry: Address,
        nodes: Address,
        batches: Address,
    ) -> Result<(), Error> {
        if registry.is_zero() || nodes.is_zero() || batches.is_zero() {
            return Err(Error::ZeroAddress(SettlementZeroAddress {}));
        }
        self._set_governance(governance)?;
        self.registry.set(registry);
        self.nodes.set(nodes);
        self.batches.set(batches);
        self._set_params(
            DEFAULT_CHALLENGE_WINDOW,
            DEFAULT_ANSWER_DEADLINE,
            DEFAULT_SLASH_AMOUNT,
            DEFAULT_DISPUTE_BOND,
            DEFAULT_DISPUTE_TIMEOUT,
        )
    }

    /// `(governance, registry, nodes, batches, paused, challengeWindow, answerDeadline, slashAmount, disputeBond,
    /// disputeTimeout, escrowed)`. `escrowed` is the ETH the contract owes: escrowed fees of open requests + dispute
    /// bonds of disputed ones + credits; the contract's balance equals it (more only if someone force-sends ETH).
    #[allow(clippy::type_complexity)]
    pub fn config(
        &self,
    ) -> (
        Address,
        Address,
        Address,
        Address,
        bool,
        u64,
        u64,
        U256,
        U256,
        u64,
        U256,
    ) {
        (
            self.governance.get(),
            self.registry.get(),
            self.nodes.get(),
            self.batches.get(),
            self.paused.get(),
            u64_of(self.challenge_window.get()),
            u64_of(self.answer_deadline.get()),
            self.slash_amount.get(),
            self.dispute_bond.get(),
            u64_of(self.dispute_timeout.get()),
            self.escrowed.get(),
        )
    }

    /// Requests of `node` still open (requested, answered, proven or disputed); SettlementNodes keeps its stake
    /// locked while any is.
    pub fn open_requests(&self, node: Address) -> u64 {
        u64_of(self.open.get(node))
    }

    /// The verifier registered for `model_version` (zero = none).
    pub fn verifier(&self, model_version: U256) -> Address {
        self.verifiers.get(model_version)
    }

    /// Request `request_id`: `(payer, node, modelVersion, fee, inputHash, outputHash, status, mode, deadline,
    /// provenAt, bond)`; status [`request_status::NONE`] for an unknown id. While disputed, `deadline` is when the
    /// dispute times out and `bond` the payer's dispute bond.
    #[allow(clippy::type_complexity)]
    pub fn get_request(
        &self,
        request_id: B256,
    ) -> (
        Address,
        Address,
        U256,
        U256,
        B256,
        B256,
        u8,
        u8,
        u64,
        u64,
        U256,
    ) {
        let r = self.requests.getter(request_id);
        (
            r.payer.get(),
            r.node.get(),
            r.model_version.get(),
            r.fee.get(),
            r.input_hash.get(),
            r.output_hash.get(),
            u8_of(r.status.get()),
            u8_of(r.mode.get()),
            u64_of(r.deadline.get()),
            u64_of(r.proven_at.get()),
            r.bond.get(),
        )
    }

    /// ETH credited to `account`, withdrawable with [`Self::withdraw`].
    pub fn credit(&self, account: Address) -> U256 {
        self.credits.get(account)
    }

    // ----- governance -----

    /// Registers `verifier` (`verify(bytes,bytes) returns (bool)`) for mode-ZK receipts of `model_version`
    /// (zero = none); only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`].
    ///
    /// # Events
    /// [`VerifierSet`].
    pub fn set_verifier(&mut self, model_version: U256, verifier: Address) -> Result<(), Error> {
        self._only_governance()?;
        self.verifiers.setter(model_version).set(verifier);
        self._emit(
            VerifierSet::SIGNATURE_HASH,
            &[wu(model_version)],
            &[wa(verifier)],
        );
        Ok(())
    }

    /// Sets the parameters; only governance. Durations in seconds within `1..=MAX_DURATION` (a changed window
    /// applies to requests not yet settled; a changed timeout or bond to disputes opened later); the dispute bond
    /// at least 1 wei.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::InvalidParam`] (0 challengeWindow, 1 answerDeadline, 2 disputeTimeout,
    /// 3 disputeBond).
    ///
    /// # Events
    /// [`ParamsSet`].
    pub fn set_params(
        &mut self,
        challenge_window: u64,
        answer_deadline: u64,
        slash_amount: U256,
        dispute_bond: U256,
        dispute_timeout: u64,
    ) -> Result<(), Error> {
        self._only_governance()?;
        self._set_params(
            challenge_window,
            answer_deadline,
            slash_amount,
            dispute_bond,
            dispute_timeout,
        )
    }

    /// Pauses or resumes new business and refunds; only governance. Resuming restarts the batch window an
    /// answered request's refund waits for.
    ///
    /// # Errors
    /// [`Error::Unauthorized`].
    ///
    /// # Events
    /// [`PausedSet`].
    pub fn set_paused(&mut self, paused: bool) -> Result<(), Error> {
        self._only_governance()?;
        if !paused {
            self.resumed_at.set(U64::from(self._now()));
        }
        self.paused.set(paused);
        self._emit(PausedSet::SIGNATURE_HASH, &[], &[w64(u64::from(paused))]);
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

    /// Resolves a disputed request: `node_wins` settles it (fee and dispute bond credited to the node), otherwise
    /// it is refunded (fee, bond and slash credited to the payer); only governance.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::UnknownRequest`], [`Error::AlreadySettled`],
    /// [`Error::BadRequestStatus`] (not disputed).
    ///
    /// # Events
    /// [`DisputeResolved`], then [`Settled`] or [`Refunded`], and [`Credited`].
    pub fn resolve_dispute(&mut self, request_id: B256, node_wins: bool) -> Result<(), Error> {
        self._only_governance()?;
        self._expect_status(request_id, &[request_status::DISPUTED])?;
        self._resolve(request_id, node_wins);
        Ok(())
    }

    // ----- paid requests -----

    /// Opens paid request `request_id` to `node` for `model_version` on input `input_hash` in `receipt_mode`
    /// ([`mode`]), escrowing the ETH sent as the fee. The node must be active and the model usable now; the proof
    /// is due within `answerDeadline`.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::InsufficientValue`] (zero fee), [`Error::InvalidParam`] (unknown mode),
    /// [`Error::RequestExists`], [`Error::UnknownNode`], [`Error::NodeInactive`], [`Error::ModelNotUsable`].
    ///
    /// # Events
    /// [`Requested`].
    #[payable]
    pub fn request(
        &mut self,
        request_id: B256,
        node: Address,
        model_version: U256,
        input_hash: B256,
        receipt_mode: u8,
    ) -> Result<(), Error> {
        self._when_not_paused()?;
        let payer = self.vm().msg_sender();
        let fee = self.vm().msg_value();
        if fee.is_zero() {
            return Err(Error::InsufficientValue(SettlementInsufficientValue {
                sent: fee,
                required: U256::from(1),
            }));
        }
        if receipt_mode > mode::ZK {
            return Err(Error::InvalidParam(SettlementInvalidParam { which: 7 }));
        }
        if u8_of(self.requests.getter(request_id).status.get()) != request_status::NONE {
            return Err(Error::RequestExists(SettlementRequestExists {
                requestId: request_id,
            }));
        }
        if !self._node_active(node) {
            return Err(Error::NodeInactive(SettlementNodeInactive { node }));
        }
        let now = self._now();
        if !self._usable_at(model_version, now) {
            return Err(Error::ModelNotUsable(SettlementModelNotUsable {
                modelVersion: model_version,
            }));
        }
        let deadline = now.saturating_add(u64_of(self.answer_deadline.get()));
        let mut r = self.requests.setter(request_id);
        r.payer.set(payer);
        r.node.set(node);
        r.model_version.set(model_version);
        r.fee.set(fee);
        r.input_hash.set(input_hash);
        r.mode.set(U8::from(receipt_mode));
        r.deadline.set(U64::from(deadline));
        r.status.set(U8::from(request_status::REQUESTED));
        // Overflow not possible: one open request per escrowed, unique request id.
        let open = u64_of(self.open.get(node)) + 1;
        self.open.insert(node, U64::from(open));
        self._escrow_in(fee);
        self._emit(
            Requested::SIGNATURE_HASH,
            &[request_id, wa(payer), wa(node)],
            &[wu(model_version), wu(fee), input_hash, w64(deadline)],
        );
        Ok(())
    }

    /// Posts the result commitment `output_hash` of a requested job (usable at once, proven later); only the
    /// request's node, before the deadline.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::UnknownRequest`], [`Error::AlreadySettled`], [`Error::BadRequestStatus`],
    /// [`Error::UnauthorizedNode`], [`Error::TooLate`].
    ///
    /// # Events
    /// [`Answered`].
    pub fn answer(&mut self, request_id: B256, output_hash: B256) -> Result<(), Error> {
        self._when_not_paused()?;
        self._expect_status(request_id, &[request_status::REQUESTED])?;
        let caller = self.vm().msg_sender();
        let now = self._now();
        let mut r = self.requests.setter(request_id);
        if r.node.get() != caller {
            return Err(Error::UnauthorizedNode(SettlementUnauthorizedNode {
                account: caller,
            }));
        }
        let deadline = u64_of(r.deadline.get());
        if now > deadline {
            return Err(Error::TooLate(SettlementTooLate { deadline }));
        }
        r.output_hash.set(output_hash);
        r.status.set(U8::from(request_status::ANSWERED));
        self._emit(
            Answered::SIGNATURE_HASH,
            &[request_id, wa(caller)],
            &[output_hash],
        );
        Ok(())
    }

    /// Proves a requested or answered job with its signed receipt (and, in mode ZK, `zk_proof` accepted by the
    /// verifier registered for the model version) before the deadline. Anyone may submit it: the receipt
    /// authenticates itself.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::UnknownRequest`], [`Error::AlreadySettled`], [`Error::BadRequestStatus`],
    /// [`Error::TooLate`], [`Error::ReceiptMismatch`], [`Error::InvalidReceipt`], [`Error::ProofRejected`].
    ///
    /// # Events
    /// [`Proven`] (batch id 0).
    pub fn prove_with_receipt(&mut self, signed: Bytes, zk_proof: Bytes) -> Result<(), Error> {
        self._when_not_paused()?;
        let encoded = signed;
        let signed = decode(&encoded)?;
        let id = signed.receipt.requestId;
        self._expect_status(id, &[request_status::REQUESTED, request_status::ANSWERED])?;
        let now = self._now();
        let deadline = u64_of(self.requests.getter(id).deadline.get());
        if now > deadline {
            return Err(Error::TooLate(SettlementTooLate { deadline }));
        }
        self._check_match(&signed.receipt)?;
        let reason = self._receipt_fault(&encoded, now);
        if reason != 0 {
            return Err(Error::InvalidReceipt(SettlementInvalidReceipt { reason }));
        }
        if signed.receipt.mode == mode::ZK {
            let model = signed.receipt.modelVersion;
            let verifier = self.verifiers.get(model);
            if verifier.is_zero() || !self._zk_verify(verifier, &signed.receipt, &zk_proof) {
                return Err(Error::ProofRejected(SettlementProofRejected {
                    modelVersion: model,
                }));
            }
        }
        self._mark_proven(&signed.receipt, U256::ZERO, now);
        Ok(())
    }

    /// Proves a requested or answered mode-TEE job by its receipt's inclusion in a `Final` batch anchored no later
    /// than the request's deadline. The receipt is re-checked against the anchoring time, so a batch nobody
    /// challenged still pays nothing for an invalid receipt. Anyone may submit it.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::UnknownBatch`], [`Error::BatchNotFinal`], [`Error::BadProof`],
    /// [`Error::UnknownRequest`], [`Error::AlreadySettled`], [`Error::BadRequestStatus`], [`Error::TooLate`],
    /// [`Error::ReceiptMismatch`], [`Error::ProofRejected`] (mode ZK needs its verifier),
    /// [`Error::InvalidReceipt`].
    ///
    /// # Events
    /// [`Proven`].
    pub fn prove_by_batch(
        &mut self,
        batch_id: U256,
        signed: Bytes,
        proof: Vec<B256>,
    ) -> Result<(), Error> {
        self._when_not_paused()?;
        let encoded = signed;
        let Some((root, anchored_at, status)) = self._batch(batch_id) else {
            return Err(Error::UnknownBatch(SettlementUnknownBatch {
                batchId: batch_id,
            }));
        };
        if status != batch_status::FINAL {
            return Err(Error::BatchNotFinal(SettlementBatchNotFinal {
                batchId: batch_id,
            }));
        }
        if !verify_proof(root, encoded_leaf_hash(&encoded), &proof) {
            return Err(Error::BadProof(SettlementBadProof { batchId: batch_id }));
        }
        let signed = decode(&encoded)?;
        let id = signed.receipt.requestId;
        self._expect_status(id, &[request_status::REQUESTED, request_status::ANSWERED])?;
        let deadline = u64_of(self.requests.getter(id).deadline.get());
        if anchored_at > deadline {
            return Err(Error::TooLate(SettlementTooLate { deadline }));
        }
        self._check_match(&signed.receipt)?;
        if signed.receipt.mode != mode::TEE {
            let model = signed.receipt.modelVersion;
            return Err(Error::ProofRejected(SettlementProofRejected {
                modelVersion: model,
            }));
        }
        let reason = self._receipt_fault(&encoded, anchored_at);
        if reason != 0 {
            return Err(Error::InvalidReceipt(SettlementInvalidReceipt { reason }));
        }
        // The batch's own window already covered the receipt: it settles without waiting again.
        self._mark_proven(&signed.receipt, batch_id, anchored_at);
        Ok(())
    }

    /// Pays a proven request to its node once the challenge window after the proof has passed, or a disputed one
    /// (fee and dispute bond) once the dispute has timed out unresolved. Anyone.
    ///
    /// # Errors
    /// [`Error::UnknownRequest`], [`Error::AlreadySettled`], [`Error::BadRequestStatus`], [`Error::TooEarly`].
    ///
    /// # Events
    /// [`Settled`], [`Credited`]; for a timed-out dispute [`DisputeResolved`] first.
    pub fn settle(&mut self, request_id: B256) -> Result<(), Error> {
        let status = self._expect_status(
            request_id,
            &[request_status::PROVEN, request_status::DISPUTED],
        )?;
        let r = self.requests.getter(request_id);
        let disputed = status == request_status::DISPUTED;
        let until = if disputed {
            u64_of(r.deadline.get())
        } else {
            u64_of(r.proven_at.get()).saturating_add(u64_of(self.challenge_window.get()))
        };
        if self._now() < until {
            return Err(Error::TooEarly(SettlementTooEarly { until }));
        }
        if disputed {
            self._resolve(request_id, true);
        } else {
            self._settle(request_id, U256::ZERO);
        }
        Ok(())
    }

    /// Refunds a request left unproven: an unanswered one after its deadline, an answered one — whose node is
    /// then slashed (to the payer) — only after `deadline + batchWindow` (and `resumedAt + batchWindow`), when no
    /// batch anchored by the deadline can still become `Final` and prove it. Anyone; not while paused.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::UnknownRequest`], [`Error::AlreadySettled`], [`Error::BadRequestStatus`],
    /// [`Error::TooEarly`] (`until`: the last second it is too early).
    ///
    /// # Events
    /// [`Refunded`], [`Credited`].
    pub fn refund(&mut self, request_id: B256) -> Result<(), Error> {
        self._when_not_paused()?;
        let status = self._expect_status(
            request_id,
            &[request_status::REQUESTED, request_status::ANSWERED],
        )?;
        let mut until = u64_of(self.requests.getter(request_id).deadline.get());
        let answered = status == request_status::ANSWERED;
        if answered {
            until = until
                .max(u64_of(self.resumed_at.get()))
                .saturating_add(self._batch_window());
        }
        if self._now() <= until {
            return Err(Error::TooEarly(SettlementTooEarly { until }));
        }
        self._refund(request_id, answered, U256::ZERO);
        Ok(())
    }

    /// Disputes a proven request inside its challenge window, escrowing the ETH sent (at least `disputeBond`) as
    /// the bond; only the payer. Governance resolves it; unresolved after `disputeTimeout`, anyone settles it for
    /// the node with [`Self::settle`] (the bond goes to the node).
    ///
    /// # Errors
    /// [`Error::UnknownRequest`], [`Error::AlreadySettled`], [`Error::BadRequestStatus`],
    /// [`Error::UnauthorizedPayer`], [`Error::TooLate`], [`Error::InsufficientValue`].
    ///
    /// # Events
    /// [`Disputed`].
    #[payable]
    pub fn dispute(&mut self, request_id: B256) -> Result<(), Error> {
        self._expect_status(request_id, &[request_status::PROVEN])?;
        let caller = self.vm().msg_sender();
        let bond = self.vm().msg_value();
        let required = self.dispute_bond.get();
        let window = u64_of(self.challenge_window.get());
        let now = self._now();
        let expires = now.saturating_add(u64_of(self.dispute_timeout.get()));
        let mut r = self.requests.setter(request_id);
        if r.payer.get() != caller {
            return Err(Error::UnauthorizedPayer(SettlementUnauthorizedPayer {
                account: caller,
            }));
        }
        let until = u64_of(r.proven_at.get()).saturating_add(window);
        if now >= until {
            return Err(Error::TooLate(SettlementTooLate { deadline: until }));
        }
        if bond < required {
            return Err(Error::InsufficientValue(SettlementInsufficientValue {
                sent: bond,
                required,
            }));
        }
        r.status.set(U8::from(request_status::DISPUTED));
        r.deadline.set(U64::from(expires));
        r.bond.set(bond);
        self._escrow_in(bond);
        self._emit(
            Disputed::SIGNATURE_HASH,
            &[request_id, wa(caller)],
            &[wu(bond), w64(expires)],
        );
        Ok(())
    }

    // ----- payouts -----

    /// Sends the caller everything credited to it (the only place ETH leaves the contract).
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
        self._emit(Withdrawn::SIGNATURE_HASH, &[wa(account)], &[wu(amount)]);
        self._send(account, amount)?;
        Ok(amount)
    }
}

/// Decodes a signed receipt given in its flat encoding; bytes that are not one are an invalid receipt.
fn decode(encoded: &[u8]) -> Result<SignedReceipt, Error> {
    decode_signed_receipt(encoded).ok_or(Error::InvalidReceipt(SettlementInvalidReceipt {
        reason: verity_abi::settlement::void_reason::BAD_FIELDS,
    }))
}

/// Storage-width alias of a `u8` status or mode.
type U8 = alloy_primitives::Uint<8, 1>;

/// Storage-width alias of a `u64` time, duration or count.
type U64 = alloy_primitives::Uint<64, 1>;

impl InferenceSettlement {
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
        );
        Ok(())
    }

    fn _set_params(
        &mut self,
        challenge_window: u64,
        answer_deadline: u64,
        slash_amount: U256,
        dispute_bond: U256,
        dispute_timeout: u64,
    ) -> Result<(), Error> {
        for (which, d) in [challenge_window, answer_deadline, dispute_timeout]
            .into_iter()
            .enumerate()
        {
            if d == 0 || d > MAX_DURATION {
                // Truncation not possible: which < 3.
                return Err(Error::InvalidParam(SettlementInvalidParam {
                    which: which as u8,
                }));
            }
        }
        if dispute_bond.is_zero() {
            return Err(Error::InvalidParam(SettlementInvalidParam { which: 3 }));
        }
        self.challenge_window.set(U64::from(challenge_window));
        self.answer_deadline.set(U64::from(answer_deadline));
        self.slash_amount.set(slash_amount);
        self.dispute_bond.set(dispute_bond);
        self.dispute_timeout.set(U64::from(dispute_timeout));
        self._emit(
            ParamsSet::SIGNATURE_HASH,
            &[],
            &[
                w64(challenge_window),
                w64(answer_deadline),
                wu(slash_amount),
                wu(dispute_bond),
                w64(dispute_timeout),
            ],
        );
        Ok(())
    }

    /// The request's status if it is one of `allowed`; typed errors otherwise.
    fn _expect_status(&self, request_id: B256, allowed: &[u8]) -> Result<u8, Error> {
        let status = u8_of(self.requests.getter(request_id).status.get());
        if allowed.contains(&status) {
            return Ok(status);
        }
        Err(match status {
            request_status::NONE => Error::UnknownRequest(SettlementUnknownRequest {
                requestId: request_id,
            }),
            request_status::SETTLED | request_status::REFUNDED => {
                Error::AlreadySettled(SettlementAlreadySettled {
                    requestId: request_id,
                })
            }
            _ => Error::BadRequestStatus(SettlementBadRequestStatus {
                requestId: request_id,
                status,
            }),
        })
    }

    /// The receipt says what the request says (and, once answered, the same output).
    fn _check_match(&self, receipt: &Receipt) -> Result<(), Error> {
        let r = self.requests.getter(receipt.requestId);
        let answered = u8_of(r.status.get()) == request_status::ANSWERED;
        let mismatch = if receipt.modelVersion != r.model_version.get() {
            Some(1)
        } else if receipt.inputHash != r.input_hash.get() {
            Some(2)
        } else if answered && receipt.outputHash != r.output_hash.get() {
            Some(3)
        } else if receipt.payer != r.payer.get() {
            Some(4)
        } else if receipt.node != r.node.get() {
            Some(5)
        } else if receipt.fee != r.fee.get() {
            Some(6)
        } else if receipt.mode != u8_of(r.mode.get()) {
            Some(7)
        } else {
            None
        };
        match mismatch {
            Some(field) => Err(Error::ReceiptMismatch(SettlementReceiptMismatch { field })),
            None => Ok(()),
        }
    }

    fn _mark_proven(&mut self, receipt: &Receipt, batch_id: U256, proven_at: u64) {
        let mut r = self.requests.setter(receipt.requestId);
        r.output_hash.set(receipt.outputHash);
        r.proven_at.set(U64::from(proven_at));
        r.status.set(U8::from(request_status::PROVEN));
        self._emit(
            Proven::SIGNATURE_HASH,
            &[receipt.requestId, wa(receipt.node)],
            &[w64(u64::from(receipt.mode)), wu(batch_id), w64(proven_at)],
        );
    }

    /// Closes an open request, freeing the node's obligation; returns `(payer, node, fee)`.
    fn _close(&mut self, request_id: B256, status: u8) -> (Address, Address, U256) {
        let mut r = self.requests.setter(request_id);
        r.status.set(U8::from(status));
        let (payer, node, fee) = (r.payer.get(), r.node.get(), r.fee.get());
        // Underflow not possible: every open request counted one when it was opened.
        let open = u64_of(self.open.get(node)) - 1;
        self.open.insert(node, U64::from(open));
        (payer, node, fee)
    }

    /// Closes a disputed request for the node (`node_wins`: fee and bond to the node) or the payer (fee, bond and
    /// the slash to the payer).
    fn _resolve(&mut self, request_id: B256, node_wins: bool) {
        let bond = self.requests.getter(request_id).bond.get();
        self._emit(
            DisputeResolved::SIGNATURE_HASH,
            &[request_id],
            &[w64(u64::from(node_wins))],
        );
        if node_wins {
            self._settle(request_id, bond);
        } else {
            self._refund(request_id, true, bond);
        }
    }

    /// Settles for the node: the fee and `bond` (a dispute bond the node won, else zero) credited to it.
    fn _settle(&mut self, request_id: B256, bond: U256) {
        let (_, node, fee) = self._close(request_id, request_status::SETTLED);
        self._emit(Settled::SIGNATURE_HASH, &[request_id, wa(node)], &[wu(fee)]);
        // Overflow not possible: both are escrowed.
        self._credit(node, fee + bond);
    }

    /// Refunds the payer: the fee and `bond` (its dispute bond back, else zero), and the slash when `slash`.
    fn _refund(&mut self, request_id: B256, slash: bool, bond: U256) {
        let (payer, node, fee) = self._close(request_id, request_status::REFUNDED);
        // The slash is taken from the node's stake at SettlementNodes and credited to the payer there.
        let slashed = if slash {
            self._slash(node, self.slash_amount.get(), payer)
        } else {
            U256::ZERO
        };
        self._emit(
            Refunded::SIGNATURE_HASH,
            &[request_id, wa(payer)],
            &[wu(fee), wu(slashed)],
        );
        // Overflow not possible: both are escrowed.
        self._credit(payer, fee + bond);
    }

    fn _escrow_in(&mut self, amount: U256) {
        // Overflow not possible: bounded by the ETH supply.
        self.escrowed.set(self.escrowed.get() + amount);
    }

    /// Credits `amount` (already escrowed) to `account` for a later [`InferenceSettlement::withdraw`].
    fn _credit(&mut self, account: Address, amount: U256) {
        if amount.is_zero() {
            return;
        }
        // Overflow not possible: credits are bounded by `escrowed`.
        let credit = self.credits.get(account) + amount;
        self.credits.insert(account, credit);
        self._emit(Credited::SIGNATURE_HASH, &[wa(account)], &[wu(amount)]);
    }

    /// Emits the event with signature hash `topic0`, indexed fields `indexed` and data words `data` (every field
    /// of these events is a static type, so `abi.encode` of the data is the words in order). One small function
    /// instead of one `SolEvent` encoder per event type (size).
    fn _emit(&self, topic0: B256, indexed: &[B256], data: &[B256]) {
        let mut bytes = Vec::with_capacity(32 * (1 + indexed.len() + data.len()));
        bytes.extend_from_slice(topic0.as_slice());
        for word in indexed.iter().chain(data) {
            bytes.extend_from_slice(word.as_slice());
        }
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
