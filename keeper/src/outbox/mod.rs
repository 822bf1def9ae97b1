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
//!
//! **Pipeline** (issue 16): a pass reads the chain head (number, hash, base fee) once; signs every pending
//! intent it can in one batch (`sign`); broadcasts and confirms every open intent (`send`, `confirm`); and
//! records the broadcasts, then the final statuses, each in one database transaction.
//!
//! **Decisions**
//! - One batch, one database transaction: gas is estimated for all pending intents concurrently, the base fee and
//!   the chain's nonce floor are read once, and [`OutboxStore::sign_batch`] assigns consecutive nonces, stores
//!   every raw transaction and checks the fence in one commit — still before anything is broadcast. Cost: one
//!   intent that changed status underneath rolls back the whole batch (transient; the next pass re-reads).
//! - Confirmation by block: `eth_getBlockReceipts` for each block since the last one read (when that is no more
//!   calls than one `eth_getTransactionReceipt` per open attempt), keeping our sender's receipts in memory. That
//!   position is never persisted: a fresh process (or a suspected reorg) looks receipts up per transaction once,
//!   as before, and a node without `eth_getBlockReceipts` keeps doing so. Only receipts in blocks at or below the
//!   pass's head are used, and the head's hash is checked each pass: if the block at the last head changed, every
//!   recently confirmed intent is re-checked ([`TxManager::run_once`] re-checked them every pass before).
//! - Broadcasts and final statuses are recorded after the pass's sends, in one transaction each: a kill in
//!   between leaves `Signed` intents that the restart rebroadcasts byte for byte (refused as known or as
//!   nonce-too-low, then reconciled by their receipt), exactly as a kill after a single broadcast did.
//! - Wake-ups: [`TxManager::submit`] notifies ([`TxManager::wake_handle`]); the loop runs again at once after a
//!   pass that made progress, otherwise waits for a notification or its idle interval.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use alloy::consensus::{TxEip1559, TxEnvelope};
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, TxKind, B256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::{RpcError, TransportErrorKind};
use tokio::sync::Notify;
use tracing::warn;

pub mod classify;
mod confirm;
mod send;
mod sign;

use crate::failpoint::Failpoints;
use crate::store::{Intent, IntentStatus, NewIntent, OutboxStore, StoreError};
use classify::classify_rpc;
use confirm::Seen;

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
    Failpoint(crate::failpoint::Failpoint),
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
    /// Intents handled per status per pass: the largest signing batch, and `Signed` plus `Sent` intents
    /// advanced together up to twice this.
    pub batch: i64,
    /// Attempts at one nonce after which the next replacement is a cancel (0-value self-send); 0 never cancels.
    pub cancel_after_attempts: usize,
    /// Confirmed intents included within this many blocks of the head are re-checked when the chain under the
    /// last head changed: one whose transaction a reorg removed is reopened and sent again (0 disables).
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
    /// Of those, first sends (the intent moved `Signed` → `Sent`).
    pub first_sends: usize,
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

impl PassReport {
    /// Whether an intent changed status (signed, sent for the first time, finished, re-queued, reopened): the
    /// next pass may have work at once, so the loop does not wait before it. Rebroadcasts and deferrals are not
    /// progress.
    pub const fn made_progress(&self) -> bool {
        self.signed + self.first_sends + self.finished + self.requeued + self.reorged > 0
    }
}

/// The chain head a pass works against, read once per pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    number: u64,
    hash: B256,
    base_fee: Option<u128>,
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
    /// Notified by [`TxManager::submit`] (shared by clones).
    wake: Arc<Notify>,
    /// What this process has read of the chain (shared by clones; never persisted).
    seen: Arc<Mutex<Seen>>,
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
            wake: Arc::new(Notify::new()),
            seen: Arc::default(),
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

    /// Notified whenever [`TxManager::submit`] persisted an intent (a waiting loop wakes at once; a notification
    /// while nobody waits is kept for the next wait).
    pub fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Persists an intent to call `target` with `calldata` under idempotency `key` (a repeat is a no-op) and,
    /// when it is new, wakes the loop.
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
        let enqueued = self.store.enqueue(&intent, now_ms()).await?;
        if matches!(enqueued, crate::store::Enqueued::Created(_)) {
            self.wake.notify_one();
        }
        Ok(enqueued)
    }

    /// One pass: read the head, re-check recent confirmations if the chain changed under the last head, sign the
    /// pending intents in one batch, then confirm, replace or broadcast every open one.
    ///
    /// # Errors
    /// A failpoint fired, or the store failed. RPC failures of single intents are deferred to the next pass.
    pub async fn run_once(&self) -> Result<PassReport> {
        let mut report = PassReport::default();
        let head = match self.head().await {
            Ok(head) => head,
            Err(e) => {
                self.step(Err(e), &mut report)?;
                return Ok(report);
            }
        };
        let checked = self.check_chain(&head, &mut report).await;
        if checked.is_err() {
            // Whether the chain changed is unknown: nothing read so far is trusted this pass.
            lock(&self.seen).reset();
        }
        self.step(checked, &mut report)?;
        let signed = match self.sign_pending(&head, &mut report).await {
            Ok(ids) => ids,
            Err(e) => {
                self.step(Err(e), &mut report)?;
                Vec::new()
            }
        };
        let advanced = self.advance_open(&head, &signed, &mut report).await;
        self.step(advanced, &mut report)?;
        Ok(report)
    }

    /// The latest block's number, hash and base fee (one call per pass).
    async fn head(&self) -> Result<Head> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or(OutboxError::NoBaseFee)?;
        Ok(Head {
            number: block.header.number,
            hash: block.header.hash,
            base_fee: block.header.base_fee_per_gas.map(u128::from),
        })
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

    /// Runs passes until no intent is open, at most `max_passes` (tests and `--exit-when-idle`): at once after a
    /// pass that made progress, otherwise after `pause` or a [`TxManager::submit`], whichever comes first.
    ///
    /// # Errors
    /// As [`TxManager::run_once`].
    pub async fn drain(&self, max_passes: usize, pause: Duration) -> Result<bool> {
        for _ in 0..max_passes {
            let report = self.run_once().await?;
            if self
                .store
                .intents_in(&IntentStatus::OPEN, 1)
                .await?
                .is_empty()
            {
                return Ok(true);
            }
            if !report.made_progress() {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = self.wake.notified() => {}
                }
            }
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

/// Locks `seen` (a poisoned lock only means a pass panicked mid-update: the data is a cache, still usable).
fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(PoisonError::into_inner)
}
