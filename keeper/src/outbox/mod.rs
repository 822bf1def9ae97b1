//! The transaction manager over the SQL outbox: persist the intent, allocate the nonce in the database and sign in
//! the same transaction, store the raw bytes before broadcasting, rebroadcast the same bytes, and confirm by the
//! receipts of every attempt; a fee cap, and typed `Already…` reverts counted as success.
//!
//! **Replacement** (issue 15 #5): a signed attempt whose `maxFeePerGas` fell below the next block's base fee (a
//! base-fee spike after signing), or that the node refuses for its fee, is replaced at the same nonce: both fees
//! raised by at least the node's replacement rule (+10%, here +12.5% + 1 wei) and the max fee to at least twice the
//! current base fee, never above the fee cap (at the cap the intent waits and the log says so). Every attempt is
//! persisted before it is broadcast and kept; a receipt of any attempt finishes the intent, so whichever lands
//! first counts and none can land twice (one nonce).
//!
//! **Cancel** (op-service txmgr, OpenZeppelin Relayer): once an intent has [`TxConfig::cancel_after_attempts`]
//! attempts at its nonce and still needs another replacement, the next attempt is a cancel — a 0-value self-send
//! at the same nonce (fees bumped like any replacement) — so one stuck call cannot hold up every later nonce. The
//! cancel is an attempt like the others: if an earlier attempt lands instead, the intent is confirmed by it; if the
//! cancel lands (with `confirmations`), the call did not happen and the intent goes back to `Pending` for a fresh
//! nonce and fresh fees (so it still lands exactly once).
//!
//! **Fee cap**: a replacement the cap leaves no room for is not signed; the intent waits, the pass logs "fee cap
//! reached", counts it ([`PassReport::capped`], `keeper_outbox_fee_cap_reached_total`) and the keeper reports not
//! ready until the fees fit again.
//!
//! Each [`TxManager::run_once`] pass is safe to repeat and to kill at any point: every step starts from what the
//! store says.

use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::eips::BlockNumberOrTag;
use alloy::network::TxSignerSync;
use alloy::primitives::{Address, TxKind};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::{RpcError, TransportErrorKind};
use tracing::{debug, info, warn};

pub mod classify;

use crate::failpoint::{Failpoint, Failpoints};
use crate::store::{Attempt, Intent, IntentStatus, NewIntent, OutboxStore, SignedTx, StoreError};
use classify::{
    classify_rpc, describe_revert, is_already_done, is_retry_later, revert_data, SendErrorKind,
};

/// Errors of the transaction manager.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboxError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An RPC call failed.
    #[error("rpc: {0}")]
    Rpc(#[from] RpcError<TransportErrorKind>),
    /// A failpoint fired (tests): stop as if killed.
    #[error("failpoint {0} reached")]
    Failpoint(Failpoint),
    /// The latest block has no base fee (not an EIP-1559 chain).
    #[error("the latest block has no base fee")]
    NoBaseFee,
}

impl OutboxError {
    /// Whether the pass may succeed when repeated.
    pub fn is_transient(&self) -> bool {
        match self {
            OutboxError::Store(e) => e.is_transient(),
            OutboxError::Rpc(e) => classify_rpc(e).is_transient(),
            OutboxError::Failpoint(_) | OutboxError::NoBaseFee => false,
        }
    }
}

/// Result with [`OutboxError`].
pub type Result<T, E = OutboxError> = std::result::Result<T, E>;

/// Settings of the transaction manager.
#[derive(Debug, Clone)]
pub struct TxConfig {
    /// Chain id signed into every transaction.
    pub chain_id: u64,
    /// The fee cap: `maxFeePerGas` never exceeds it; while the base fee is above it nothing new is signed.
    pub max_fee_per_gas: u128,
    /// Priority fee (Arbitrum ignores it; 0 is right there).
    pub priority_fee_per_gas: u128,
    /// Gas limit = estimate × this / 100.
    pub gas_margin_percent: u64,
    /// Blocks on top of the inclusion block (inclusive) before an intent is final.
    pub confirmations: u64,
    /// Rebroadcast the same bytes when no receipt appeared for this long.
    pub rebroadcast_after: Duration,
    /// Intents handled per status per pass.
    pub batch: i64,
    /// Attempts at one nonce after which the next replacement is a cancel (0-value self-send); 0 never cancels.
    pub cancel_after_attempts: usize,
    /// Confirmed intents included within this many blocks of the head are re-checked every pass: one whose
    /// transaction a reorg removed is reopened and sent again (0 disables).
    pub reorg_window_blocks: u64,
}

impl Default for TxConfig {
    fn default() -> Self {
        Self {
            chain_id: 412_346,
            max_fee_per_gas: 100_000_000_000,
            priority_fee_per_gas: 0,
            gas_margin_percent: 130,
            confirmations: 1,
            rebroadcast_after: Duration::from_secs(30),
            batch: 64,
            cancel_after_attempts: 5,
            reorg_window_blocks: 256,
        }
    }
}

/// What one [`TxManager::run_once`] pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Intents signed (nonce assigned, raw stored).
    pub signed: usize,
    /// Broadcasts (first sends and rebroadcasts).
    pub broadcast: usize,
    /// Intents that reached a final status.
    pub finished: usize,
    /// Intents sent back to `Pending` (nonce taken by another transaction).
    pub requeued: usize,
    /// Steps skipped for a transient reason (retried next pass).
    pub deferred: usize,
    /// Attempts replaced at the same nonce with higher fees.
    pub replaced: usize,
    /// Replacements the fee cap prevented (the intent waits for the base fee to fall).
    pub capped: usize,
    /// Cancels signed (0-value self-sends replacing a call stuck after `cancel_after_attempts` attempts).
    pub cancels: usize,
    /// Confirmed intents whose transaction a reorg removed, reopened to be sent again.
    pub reorged: usize,
}

/// The transaction manager: one sender key, one store, one provider.
#[derive(Debug, Clone)]
pub struct TxManager<S, P> {
    store: S,
    provider: P,
    signer: PrivateKeySigner,
    config: TxConfig,
    failpoints: Failpoints,
    /// The lease this instance leads under: checked in the nonce transaction (`None`: unfenced).
    fence: Option<crate::store::Lease>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl<S: OutboxStore + Clone, P: Provider + Clone + 'static> TxManager<S, P> {
    /// A manager sending from `signer`'s address.
    pub fn new(
        store: S,
        provider: P,
        signer: PrivateKeySigner,
        config: TxConfig,
        failpoints: Failpoints,
    ) -> Self {
        Self {
            store,
            provider,
            signer,
            config,
            failpoints,
            fence: None,
        }
    }

    /// Fences nonce allocation by `lease` (the keeper sets it after each lease tick; `None` unfences).
    pub fn set_fence(&mut self, lease: Option<crate::store::Lease>) {
        self.fence = lease;
    }

    /// The sending address.
    pub fn sender(&self) -> Address {
        self.signer.address()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The provider (jobs read chain state through the same node the manager sends to).
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// Persists an intent to call `target` with `calldata` under idempotency `key` (a repeat is a no-op).
    ///
    /// # Errors
    /// The store failed.
    pub async fn submit(
        &self,
        key: &str,
        target: Address,
        calldata: alloy::primitives::Bytes,
        value: alloy::primitives::U256,
    ) -> Result<crate::store::Enqueued> {
        let intent = NewIntent {
            key: key.to_string(),
            sender: self.sender(),
            target,
            calldata,
            value,
        };
        Ok(self.store.enqueue(&intent, now_ms()).await?)
    }

    /// One pass: sign pending intents, broadcast signed ones, confirm or rebroadcast sent ones.
    ///
    /// # Errors
    /// A failpoint fired, or the store failed. RPC failures of single intents are deferred to the next pass.
    pub async fn run_once(&self) -> Result<PassReport> {
        let mut report = PassReport::default();
        let recheck = self.recheck_confirmed(&mut report).await;
        self.step(recheck, &mut report)?;
        for intent in self
            .store
            .intents_in(&[IntentStatus::Pending], self.config.batch)
            .await?
        {
            self.step(self.sign(&intent, &mut report).await, &mut report)?;
        }
        for intent in self
            .store
            .intents_in(
                &[IntentStatus::Signed, IntentStatus::Sent],
                self.config.batch,
            )
            .await?
        {
            self.step(self.advance(&intent, &mut report).await, &mut report)?;
        }
        Ok(report)
    }

    /// Confirmed intents near the head whose transaction has no receipt any more (a reorg dropped it): reopened,
    /// so this pass rebroadcasts the same bytes (the nonce is still ours) or re-queues the intent if another
    /// transaction now holds the nonce. A node merely lagging on receipts reopens it too — harmless: the
    /// rebroadcast is refused as known or nonce-too-low and reconcile finds our own transaction in its block.
    async fn recheck_confirmed(&self, report: &mut PassReport) -> Result<()> {
        if self.config.reorg_window_blocks == 0 {
            return Ok(());
        }
        let head = self.provider.get_block_number().await?;
        let since = head.saturating_sub(self.config.reorg_window_blocks);
        for intent in self.store.confirmed_since(since, self.config.batch).await? {
            let Some(hash) = intent.tx_hash else {
                continue;
            };
            if self.provider.get_transaction_receipt(hash).await?.is_some() {
                continue;
            }
            warn!(target: "keeper::outbox", id = intent.id, key = %intent.key, %hash, block = ?intent.block_number, "confirmed transaction no longer on chain (reorg); reopened to be sent again");
            self.store
                .reopen(intent.id, "reorged out; sent again", now_ms())
                .await?;
            report.reorged += 1;
        }
        Ok(())
    }

    /// Sorts a step's error: failpoints and permanent store errors stop the pass, the rest is deferred.
    fn step(&self, result: Result<()>, report: &mut PassReport) -> Result<()> {
        match result {
            Ok(()) => Ok(()),
            Err(OutboxError::Failpoint(p)) => Err(OutboxError::Failpoint(p)),
            Err(OutboxError::Store(e)) if !e.is_transient() => Err(OutboxError::Store(e)),
            Err(e) => {
                warn!(target: "keeper::outbox", ?e, "step deferred");
                report.deferred += 1;
                Ok(())
            }
        }
    }

    fn request(&self, intent: &Intent) -> TransactionRequest {
        TransactionRequest::default()
            .from(intent.sender)
            .to(intent.target)
            .input(intent.calldata.clone().into())
            .value(intent.value)
    }

    /// `Pending` → `Signed`: simulate (a typed `Already…` revert finishes it as done, another revert fails it),
    /// price within the cap, then nonce + signature + raw bytes in one database transaction.
    async fn sign(&self, intent: &Intent, report: &mut PassReport) -> Result<()> {
        if intent.sender != self.sender() {
            warn!(target: "keeper::outbox", id = intent.id, sender = %intent.sender, "intent of another sender skipped");
            return Ok(());
        }
        let gas = match self.provider.estimate_gas(self.request(intent)).await {
            Ok(gas) => gas,
            Err(err) => {
                if let Some(data) = revert_data(&err).filter(|d| is_retry_later(d)) {
                    debug!(target: "keeper::outbox", id = intent.id, key = %intent.key, revert = %describe_revert(&data), "not possible yet; simulated again next pass");
                    report.deferred += 1;
                    return Ok(());
                }
                if let Some(data) = revert_data(&err) {
                    let (to, msg) = if is_already_done(&data) {
                        (
                            IntentStatus::AlreadyDone,
                            format!("already done: {}", describe_revert(&data)),
                        )
                    } else {
                        (
                            IntentStatus::Failed,
                            format!("reverts in simulation: {}", describe_revert(&data)),
                        )
                    };
                    info!(target: "keeper::outbox", id = intent.id, key = %intent.key, ?to, "finished before signing");
                    self.store
                        .finish(
                            intent.id,
                            IntentStatus::Pending,
                            to,
                            None,
                            Some(&msg),
                            now_ms(),
                        )
                        .await?;
                    report.finished += 1;
                    return Ok(());
                }
                return Err(err.into());
            }
        };
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or(OutboxError::NoBaseFee)?;
        let base_fee = u128::from(
            block
                .header
                .base_fee_per_gas
                .ok_or(OutboxError::NoBaseFee)?,
        );
        if base_fee > self.config.max_fee_per_gas {
            warn!(target: "keeper::outbox", id = intent.id, key = %intent.key, base_fee, cap = self.config.max_fee_per_gas, "fee cap reached: base fee above the cap; waiting");
            report.deferred += 1;
            report.capped += 1;
            return Ok(());
        }
        let max_fee = base_fee
            .saturating_mul(2)
            .saturating_add(self.config.priority_fee_per_gas)
            .min(self.config.max_fee_per_gas);
        let floor = self
            .provider
            .get_transaction_count(self.sender())
            .pending()
            .await?;
        let gas_limit = gas.saturating_mul(self.config.gas_margin_percent) / 100;
        let signer = self.signer.clone();
        let chain_id = self.config.chain_id;
        let priority = self.config.priority_fee_per_gas.min(max_fee);
        let (target, input, value) = (intent.target, intent.calldata.clone(), intent.value);
        let sign = move |nonce: u64| -> std::result::Result<SignedTx, String> {
            let mut tx = TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: priority,
                to: TxKind::Call(target),
                value,
                access_list: Default::default(),
                input: input.clone(),
            };
            let sig = signer
                .sign_transaction_sync(&mut tx)
                .map_err(|e| e.to_string())?;
            let envelope = TxEnvelope::from(tx.into_signed(sig));
            Ok(SignedTx {
                tx_hash: *envelope.tx_hash(),
                raw: envelope.encoded_2718().into(),
            })
        };
        let attempt = self
            .store
            .sign_next_fenced(intent.id, floor, &sign, now_ms(), self.fence.as_ref())
            .await?;
        debug!(target: "keeper::outbox", id = intent.id, nonce = attempt.nonce, tx_hash = %attempt.tx_hash, "signed");
        report.signed += 1;
        self.failpoints
            .check_at(Failpoint::AfterSign, &intent.key)
            .map_err(OutboxError::Failpoint)?;
        Ok(())
    }

    /// `Signed`/`Sent`: finish on a confirmed receipt of any attempt; otherwise broadcast the latest attempt's
    /// bytes (first send, or a rebroadcast once `rebroadcast_after` passed).
    async fn advance(&self, intent: &Intent, report: &mut PassReport) -> Result<()> {
        let attempts = self.current_attempts(intent).await?;
        if let Some((attempt, receipt)) = self.find_receipt(&attempts).await? {
            return self.on_found(intent, &attempt, &receipt, report).await;
        }
        let Some(latest) = attempts.last() else {
            return Err(StoreError::Corrupt {
                what: "attempts (signed intent without attempt)",
            }
            .into());
        };
        let due = match (intent.status, latest.last_broadcast_at) {
            (IntentStatus::Signed, _) | (_, None) => true,
            (_, Some(at)) => {
                now_ms().saturating_sub(at)
                    >= i64::try_from(self.config.rebroadcast_after.as_millis()).unwrap_or(i64::MAX)
            }
        };
        if !due {
            return Ok(());
        }
        // A base-fee spike since signing: the attempt can no longer be included, replace it first.
        let next_base_fee = self.provider.get_gas_price().await?;
        let mut latest = latest.clone();
        if fees_of(&latest.raw).is_some_and(|(max_fee, _)| max_fee < next_base_fee) {
            match self.replace(intent, &latest, next_base_fee, report).await? {
                Some(a) => latest = a,
                None => return Ok(()),
            }
        }
        match self.provider.send_raw_transaction(&latest.raw).await {
            Ok(_) => {}
            Err(err) => match classify_rpc(&err) {
                SendErrorKind::AlreadyKnown => {}
                SendErrorKind::NonceTooLow => return self.reconcile(intent, report).await,
                kind @ (SendErrorKind::ReplacementUnderpriced | SendErrorKind::FeeTooLow) => {
                    // The node wants more for this nonce: the next pass signs a replacement.
                    warn!(target: "keeper::outbox", id = intent.id, tx_hash = %latest.tx_hash, ?kind, ?err, "broadcast refused for its fee; replaced");
                    self.replace(intent, &latest, next_base_fee, report).await?;
                    report.deferred += 1;
                    return Ok(());
                }
                kind @ (SendErrorKind::InsufficientFunds
                | SendErrorKind::Rejected
                | SendErrorKind::Transient) => {
                    warn!(target: "keeper::outbox", id = intent.id, tx_hash = %latest.tx_hash, ?kind, ?err, "broadcast failed");
                    report.deferred += 1;
                    return Ok(());
                }
            },
        }
        self.failpoints
            .check_at(Failpoint::AfterBroadcast, &intent.key)
            .map_err(OutboxError::Failpoint)?;
        self.store.mark_sent(latest.id, now_ms()).await?;
        report.broadcast += 1;
        Ok(())
    }

    /// Signs and persists a replacement of `latest` at its nonce with both fees bumped by more than the node's
    /// replacement rule (+10%) and the max fee at least twice `next_base_fee`, within the fee cap. `None` (logged)
    /// when the cap leaves no room for a valid replacement or `latest` does not decode.
    async fn replace(
        &self,
        intent: &Intent,
        latest: &Attempt,
        next_base_fee: u128,
        report: &mut PassReport,
    ) -> Result<Option<Attempt>> {
        let Some(old) = decode_eip1559(&latest.raw) else {
            warn!(target: "keeper::outbox", id = intent.id, tx_hash = %latest.tx_hash, "attempt does not decode as EIP-1559; not replaced");
            return Ok(None);
        };
        let cap = self.config.max_fee_per_gas;
        let wanted = bump(old.max_fee_per_gas).max(
            next_base_fee
                .saturating_mul(2)
                .saturating_add(self.config.priority_fee_per_gas),
        );
        let max_fee = wanted.min(cap);
        let priority = bump(old.max_priority_fee_per_gas)
            .max(self.config.priority_fee_per_gas)
            .min(max_fee);
        // The replacement rule: both fees at least +10% over the attempt it replaces.
        let min_max_fee = old.max_fee_per_gas.saturating_add(old.max_fee_per_gas / 10);
        let min_priority = old
            .max_priority_fee_per_gas
            .saturating_add(old.max_priority_fee_per_gas / 10);
        if max_fee < min_max_fee || priority < min_priority || max_fee < next_base_fee {
            warn!(target: "keeper::outbox", id = intent.id, nonce = old.nonce, cap, next_base_fee, max_fee = old.max_fee_per_gas, "fee cap reached: the attempt cannot be replaced; waiting for the base fee to fall");
            report.deferred += 1;
            report.capped += 1;
            return Ok(None);
        }
        let mut tx = TxEip1559 {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: priority,
            ..old
        };
        let cancel =
            !is_cancel(&latest.raw, intent.sender) && self.config.cancel_after_attempts > 0 && {
                let at_nonce = self
                    .store
                    .attempts_for_nonce(intent.sender, old.nonce)
                    .await?
                    .into_iter()
                    .filter(|a| a.intent_id == intent.id)
                    .count();
                at_nonce >= self.config.cancel_after_attempts
            };
        if cancel {
            let self_send = TransactionRequest::default()
                .from(intent.sender)
                .to(intent.sender)
                .value(alloy::primitives::U256::ZERO);
            let gas = self.provider.estimate_gas(self_send).await?;
            tx = TxEip1559 {
                to: TxKind::Call(intent.sender),
                value: alloy::primitives::U256::ZERO,
                input: alloy::primitives::Bytes::new(),
                gas_limit: gas.saturating_mul(self.config.gas_margin_percent) / 100,
                ..tx
            };
        }
        let sig = self
            .signer
            .sign_transaction_sync(&mut tx)
            .map_err(|_| StoreError::Corrupt {
                what: "attempts (replacement could not be signed)",
            })?;
        let envelope = TxEnvelope::from(tx.into_signed(sig));
        let signed = SignedTx {
            tx_hash: *envelope.tx_hash(),
            raw: envelope.encoded_2718().into(),
        };
        let attempt = self.store.add_attempt(intent.id, &signed, now_ms()).await?;
        if cancel {
            warn!(target: "keeper::outbox", id = intent.id, key = %intent.key, nonce = attempt.nonce, tx_hash = %attempt.tx_hash, max_fee, attempts = self.config.cancel_after_attempts, "still not included after repeated replacements: cancel (0-value self-send) signed at the same nonce");
            report.cancels += 1;
        } else {
            info!(target: "keeper::outbox", id = intent.id, nonce = attempt.nonce, tx_hash = %attempt.tx_hash, max_fee, priority, "replacement signed at the same nonce");
        }
        report.replaced += 1;
        Ok(Some(attempt))
    }

    /// The intent's attempts at its current nonce, oldest first (attempts at a nonce it gave up after a requeue
    /// can never land: that nonce is used).
    async fn current_attempts(&self, intent: &Intent) -> Result<Vec<Attempt>> {
        let attempts = self.store.attempts(intent.id).await?;
        Ok(attempts
            .into_iter()
            .filter(|a| Some(a.nonce) == intent.nonce)
            .collect())
    }

    async fn find_receipt(
        &self,
        attempts: &[Attempt],
    ) -> Result<Option<(Attempt, TransactionReceipt)>> {
        for a in attempts {
            if let Some(r) = self.provider.get_transaction_receipt(a.tx_hash).await? {
                return Ok(Some((a.clone(), r)));
            }
        }
        Ok(None)
    }

    /// A receipt of one of the intent's attempts: a call's receipt finishes the intent; a cancel's (once it has
    /// `confirmations` blocks) means the call did not happen at this nonce, so the intent is re-queued for a new
    /// one.
    async fn on_found(
        &self,
        intent: &Intent,
        attempt: &Attempt,
        receipt: &TransactionReceipt,
        report: &mut PassReport,
    ) -> Result<()> {
        if !is_cancel(&attempt.raw, intent.sender) {
            return self.on_receipt(intent, receipt, report).await;
        }
        let Some(block) = receipt.block_number else {
            return Ok(());
        };
        let head = self.provider.get_block_number().await?;
        if head.saturating_add(1).saturating_sub(block) < self.config.confirmations {
            return Ok(());
        }
        warn!(target: "keeper::outbox", id = intent.id, key = %intent.key, nonce = attempt.nonce, tx_hash = %attempt.tx_hash, "cancel landed: the call did not happen at this nonce; re-queued for a new nonce");
        self.store
            .requeue(
                intent.id,
                intent.status,
                attempt.nonce.saturating_add(1),
                "cancelled after repeated replacements; re-queued",
                now_ms(),
            )
            .await?;
        report.requeued += 1;
        Ok(())
    }

    /// A receipt of one of the intent's attempts: final once it has `confirmations` blocks.
    async fn on_receipt(
        &self,
        intent: &Intent,
        receipt: &TransactionReceipt,
        report: &mut PassReport,
    ) -> Result<()> {
        let Some(block) = receipt.block_number else {
            return Ok(());
        };
        let head = self.provider.get_block_number().await?;
        if head.saturating_add(1).saturating_sub(block) < self.config.confirmations {
            return Ok(());
        }
        self.failpoints
            .check_at(Failpoint::AfterReceipt, &intent.key)
            .map_err(OutboxError::Failpoint)?;
        let (to, error) = if receipt.status() {
            (IntentStatus::Confirmed, None)
        } else {
            // The receipt carries no revert data: replay the call on the latest state to learn why.
            match self.provider.call(self.request(intent)).await {
                Err(err) => match revert_data(&err) {
                    Some(data) if is_already_done(&data) => (
                        IntentStatus::AlreadyDone,
                        Some(format!("already done: {}", describe_revert(&data))),
                    ),
                    Some(data) => (
                        IntentStatus::Reverted,
                        Some(format!("reverted: {}", describe_revert(&data))),
                    ),
                    None => (
                        IntentStatus::Reverted,
                        Some(format!("reverted; replay failed: {err}")),
                    ),
                },
                Ok(_) => (
                    IntentStatus::Reverted,
                    Some("reverted (replay succeeds now)".to_string()),
                ),
            }
        };
        info!(target: "keeper::outbox", id = intent.id, key = %intent.key, tx_hash = %receipt.transaction_hash, block, ?to, "finished");
        self.store
            .finish(
                intent.id,
                intent.status,
                to,
                Some((receipt.transaction_hash, block)),
                error.as_deref(),
                now_ms(),
            )
            .await?;
        report.finished += 1;
        Ok(())
    }

    /// "nonce too low": check the receipts of every attempt that used this nonce; if none of ours shows a receipt,
    /// find the transaction that used the nonce in its block: one of ours → wait for its receipt (a node lagging
    /// on receipts but ahead on nonces never makes a mined intent look lost); another → the intent goes back to
    /// `Pending` for a new nonce.
    async fn reconcile(&self, intent: &Intent, report: &mut PassReport) -> Result<()> {
        let Some(nonce) = intent.nonce else {
            return Err(StoreError::Corrupt {
                what: "intents.nonce (signed intent without nonce)",
            }
            .into());
        };
        let same_nonce = self.store.attempts_for_nonce(intent.sender, nonce).await?;
        let ours: Vec<Attempt> = same_nonce
            .iter()
            .filter(|a| a.intent_id == intent.id)
            .cloned()
            .collect();
        if let Some((attempt, receipt)) = self.find_receipt(&ours).await? {
            return self.on_found(intent, &attempt, &receipt, report).await;
        }
        let chain_nonce = self
            .provider
            .get_transaction_count(intent.sender)
            .latest()
            .await?;
        if chain_nonce <= nonce {
            // Not mined yet after all (a lagging node): try again next pass.
            report.deferred += 1;
            return Ok(());
        }
        // No receipt of ours, yet the nonce is used. Behind a load balancer (or several `--rpc-url`s) the node
        // that answered "no receipt" may lag the one that answered the nonce: a missing receipt proves nothing.
        // Re-queue only on positive evidence — the block that used the nonce holds another transaction.
        match self
            .nonce_consumer(intent.sender, nonce, chain_nonce)
            .await?
        {
            Some(hash) if ours.iter().any(|a| a.tx_hash == hash) => {
                info!(target: "keeper::outbox", id = intent.id, nonce, %hash, "our attempt used the nonce; waiting for its receipt");
                report.deferred += 1;
                return Ok(());
            }
            Some(_) => {}
            None => {
                warn!(target: "keeper::outbox", id = intent.id, nonce, "the nonce is used but the node shows no block holding it; waiting");
                report.deferred += 1;
                return Ok(());
            }
        }
        warn!(target: "keeper::outbox", id = intent.id, nonce, chain_nonce, "nonce taken by another transaction; re-queued");
        self.store
            .requeue(
                intent.id,
                intent.status,
                chain_nonce,
                "nonce taken by another transaction",
                now_ms(),
            )
            .await?;
        report.requeued += 1;
        Ok(())
    }

    /// The hash of the transaction that used `sender`'s `nonce`, read from the block that holds it: the first
    /// block whose post-state nonce exceeds `nonce` (binary search on `eth_getTransactionCount` at past blocks),
    /// then that block's transactions. `None` when the node's answers do not agree (a lagging or inconsistent
    /// endpoint): the caller waits rather than guess.
    async fn nonce_consumer(
        &self,
        sender: Address,
        nonce: u64,
        chain_nonce: u64,
    ) -> Result<Option<alloy::primitives::B256>> {
        use alloy::consensus::Transaction as _;
        use alloy::network::TransactionResponse as _;
        let head = self.provider.get_block_number().await?;
        let nonce_at = |b: u64| async move {
            self.provider
                .get_transaction_count(sender)
                .block_id(b.into())
                .await
        };
        if chain_nonce <= nonce || nonce_at(head).await? <= nonce {
            return Ok(None);
        }
        let (mut lo, mut hi) = (0u64, head);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if nonce_at(mid).await? > nonce {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let Some(block) = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(hi))
            .full()
            .await?
        else {
            return Ok(None);
        };
        Ok(block
            .transactions
            .into_transactions()
            .find(|t| t.from() == sender && t.nonce() == nonce)
            .map(|t| t.tx_hash()))
    }

    /// Runs passes until no intent is open, at most `max_passes` (tests and `--exit-when-idle`).
    ///
    /// # Errors
    /// As [`TxManager::run_once`].
    pub async fn drain(&self, max_passes: usize, pause: Duration) -> Result<bool> {
        for _ in 0..max_passes {
            self.run_once().await?;
            if self
                .store
                .intents_in(&IntentStatus::OPEN, 1)
                .await?
                .is_empty()
            {
                return Ok(true);
            }
            tokio::time::sleep(pause).await;
        }
        Ok(false)
    }
}

/// An EIP-1559 attempt's transaction, decoded from its raw bytes.
fn decode_eip1559(raw: &[u8]) -> Option<TxEip1559> {
    use alloy::eips::eip2718::Decodable2718;
    let envelope = TxEnvelope::decode_2718(&mut &raw[..]).ok()?;
    envelope.as_eip1559().map(|s| s.tx().clone())
}

/// Whether an attempt is a cancel: a 0-value self-send without calldata from `sender`.
fn is_cancel(raw: &[u8], sender: Address) -> bool {
    decode_eip1559(raw)
        .is_some_and(|t| t.to == TxKind::Call(sender) && t.value.is_zero() && t.input.is_empty())
}

/// `(maxFeePerGas, maxPriorityFeePerGas)` of an attempt.
fn fees_of(raw: &[u8]) -> Option<(u128, u128)> {
    decode_eip1559(raw).map(|t| (t.max_fee_per_gas, t.max_priority_fee_per_gas))
}

/// A fee raised by 12.5% + 1 wei (above the +10% replacement rule, also from 0).
fn bump(fee: u128) -> u128 {
    fee.saturating_add(fee / 8).saturating_add(1)
}
