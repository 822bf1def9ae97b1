//! Confirmation: which open attempts have receipts, read by block (`eth_getBlockReceipts` for each block since the
//! last one read) or per transaction (a fresh process, a suspected reorg, a node without `eth_getBlockReceipts`,
//! or when that is fewer calls); what a receipt means (a call's finishes its intent, a cancel's re-queues it); the
//! "nonce too low" reconciliation; and the reorg re-check of recently confirmed intents.
//!
//! The scan position and the receipts it found ([`Seen`]) live in memory only: a restart starts with per-transaction
//! lookups, exactly as every pass did before, so nothing here has to survive a crash.

use std::collections::{HashMap, HashSet};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use std::future::IntoFuture;
use tracing::{debug, info, warn};

use super::classify::{describe_revert, is_already_done, is_unsupported_method, revert_data};
use super::send::Outcomes;
use super::{is_cancel, lock, now_ms, Head, OutboxError, PassReport, Result, TxManager};
use crate::failpoint::Failpoint;
use crate::store::{Attempt, Finish, Intent, IntentStatus, OutboxStore, StoreError};

/// Receipt reads in flight at once.
const READS_IN_FLIGHT: usize = 8;

/// What this process has read of the chain (never persisted).
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// The block the chain was last checked at, with its hash: while the block at that height keeps its hash,
    /// nothing at or below it was reorganised.
    checkpoint: Option<(u64, B256)>,
    /// Every block up to this one has been read: each of our receipts in them is in `receipts`.
    scanned: Option<u64>,
    /// Our sender's receipts found by block or by lookup, by transaction hash (until their intent finishes).
    receipts: HashMap<B256, TransactionReceipt>,
    /// The node answered `eth_getBlockReceipts` with "method not found": per-transaction lookups from now on.
    no_block_receipts: bool,
}

impl Seen {
    /// Forgets the scan and its receipts: the next pass looks receipts up per transaction.
    pub(super) fn reset(&mut self) {
        self.scanned = None;
        self.receipts.clear();
    }

    /// Drops receipts whose intents are finished.
    pub(super) fn forget(&mut self, hashes: &[B256]) {
        for h in hashes {
            self.receipts.remove(h);
        }
    }

    /// An intent was finished by a receipt in `block` above the pass's head: the next check starts there (an
    /// unknown hash forces the full re-check).
    pub(super) fn vouch_for(&mut self, block: u64, hash: Option<B256>) {
        self.checkpoint = match (self.checkpoint, hash) {
            (Some((n, _)), _) if n >= block => self.checkpoint,
            (_, Some(h)) => Some((block, h)),
            (_, None) => None,
        };
    }
}

/// Receipts of a pass's attempts.
#[derive(Debug, Default)]
pub(super) struct Receipts {
    /// By attempt hash: the receipts found, all in blocks at or below the pass's head.
    pub(super) found: HashMap<B256, TransactionReceipt>,
    /// Attempts whose lookup failed (their intents wait for the next pass).
    pub(super) failed: HashSet<B256>,
}

impl<S: OutboxStore + Clone, P: Provider + Clone + 'static> TxManager<S, P> {
    /// Whether the chain changed under the last checkpoint; if so (and on a fresh process) the receipts read so
    /// far are dropped and every confirmed intent near the head is re-checked.
    pub(super) async fn check_chain(&self, head: &Head, report: &mut PassReport) -> Result<()> {
        let checkpoint = lock(&self.seen).checkpoint;
        let unchanged = match checkpoint {
            None => false,
            Some((n, h)) if n == head.number => h == head.hash,
            Some((n, _)) if n > head.number => false,
            Some((n, h)) => self
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(n))
                .await?
                .is_some_and(|b| b.header.hash == h),
        };
        if !unchanged {
            if checkpoint.is_some() {
                warn!(target: "keeper::outbox", ?checkpoint, head = head.number, "the chain changed under the last head; receipts read again");
            }
            lock(&self.seen).reset();
            self.recheck_confirmed(head, report).await?;
        }
        lock(&self.seen).checkpoint = Some((head.number, head.hash));
        Ok(())
    }

    /// Confirmed intents near the head whose transaction has no receipt any more (a reorg dropped it): reopened,
    /// so this pass rebroadcasts the same bytes (the nonce is still ours) or re-queues the intent if another
    /// transaction now holds the nonce. A node merely lagging on receipts reopens it too — harmless: the
    /// rebroadcast is refused as known or nonce-too-low and reconcile finds our own transaction in its block.
    async fn recheck_confirmed(&self, head: &Head, report: &mut PassReport) -> Result<()> {
        if self.config.reorg_window_blocks == 0 {
            return Ok(());
        }
        let since = head.number.saturating_sub(self.config.reorg_window_blocks);
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

    /// No intent of ours is in flight: nothing can be included up to the head.
    pub(super) fn nothing_in_flight(&self, head: &Head) {
        lock(&self.seen).scanned = Some(head.number);
    }

    /// The receipts of `attempts` in blocks up to the head: from the blocks since the last one read when that is
    /// no more calls than looking each attempt up, else (and on a fresh process) by per-transaction lookups.
    /// `complete`: `attempts` are all of our open attempts (then a full lookup also moves the scan to the head).
    pub(super) async fn receipts_for(
        &self,
        head: &Head,
        attempts: &[&Attempt],
        complete: bool,
    ) -> Receipts {
        let (scanned, unsupported) = {
            let seen = lock(&self.seen);
            (seen.scanned, seen.no_block_receipts)
        };
        let window = self.config.reorg_window_blocks.max(64).saturating_mul(4);
        let by_block = scanned.filter(|s| {
            !unsupported
                && *s <= head.number
                && head.number - s <= u64::try_from(attempts.len()).unwrap_or(u64::MAX)
        });
        let receipts = match by_block {
            Some(from) if self.scan_blocks(from, head).await => {
                let seen = lock(&self.seen);
                Receipts {
                    found: attempts
                        .iter()
                        .filter_map(|a| {
                            seen.receipts
                                .get(&a.tx_hash)
                                .map(|r| (a.tx_hash, r.clone()))
                        })
                        .collect(),
                    failed: HashSet::new(),
                }
            }
            _ => self.look_up(head, attempts, complete).await,
        };
        lock(&self.seen).receipts.retain(|_, r| {
            r.block_number
                .is_some_and(|b| b.saturating_add(window) >= head.number)
        });
        receipts
    }

    /// Reads the receipts of blocks `from + 1 ..= head` and keeps ours; the scan moves to the last block read
    /// (a block the node has no receipts for yet, or a failed read, ends it: the next pass goes on from there).
    /// `false` when the node does not serve `eth_getBlockReceipts` (then per-transaction lookups for good).
    async fn scan_blocks(&self, from: u64, head: &Head) -> bool {
        let sender = self.sender();
        let blocks: Vec<u64> = (from.saturating_add(1)..=head.number).collect();
        let mut reads = Vec::with_capacity(blocks.len());
        for chunk in blocks.chunks(READS_IN_FLIGHT) {
            let calls: Vec<_> = chunk
                .iter()
                .map(|b| {
                    self.provider
                        .get_block_receipts(BlockNumberOrTag::Number(*b).into())
                        .into_future()
                })
                .collect();
            let answers = futures::future::join_all(calls).await;
            let failed = answers.iter().any(|a| !matches!(a, Ok(Some(_))));
            reads.extend(chunk.iter().copied().zip(answers));
            if failed {
                break;
            }
        }
        let mut reached = from;
        let mut mine = Vec::new();
        for (block, read) in reads {
            match read {
                Ok(Some(receipts)) => {
                    mine.extend(receipts.into_iter().filter(|r| r.from == sender));
                    reached = block;
                }
                Ok(None) => {
                    debug!(target: "keeper::outbox", block, "no receipts for the block yet");
                    break;
                }
                Err(e) if is_unsupported_method(&e) => {
                    warn!(target: "keeper::outbox", ?e, "the node does not serve eth_getBlockReceipts; receipts are looked up per transaction");
                    lock(&self.seen).no_block_receipts = true;
                    return false;
                }
                Err(e) => {
                    warn!(target: "keeper::outbox", block, ?e, "reading a block's receipts failed; resumed next pass");
                    break;
                }
            }
        }
        let mut seen = lock(&self.seen);
        for r in mine {
            seen.receipts.insert(r.transaction_hash, r);
        }
        seen.scanned = Some(reached);
        true
    }

    /// One `eth_getTransactionReceipt` per attempt (concurrently); receipts above the head are left for a later
    /// pass. When every open attempt was looked up without error, every block up to the head is accounted for.
    async fn look_up(&self, head: &Head, attempts: &[&Attempt], complete: bool) -> Receipts {
        let mut reads = Vec::with_capacity(attempts.len());
        for chunk in attempts.chunks(READS_IN_FLIGHT) {
            let calls: Vec<_> = chunk
                .iter()
                .map(|a| {
                    self.provider
                        .get_transaction_receipt(a.tx_hash)
                        .into_future()
                })
                .collect();
            let answers = futures::future::join_all(calls).await;
            reads.extend(chunk.iter().map(|a| a.tx_hash).zip(answers));
        }
        let mut out = Receipts::default();
        for (hash, read) in reads {
            match read {
                Ok(Some(r)) if r.block_number.is_some_and(|b| b <= head.number) => {
                    out.found.insert(hash, r);
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(target: "keeper::outbox", %hash, ?e, "receipt lookup failed");
                    out.failed.insert(hash);
                }
            }
        }
        let mut seen = lock(&self.seen);
        for (hash, r) in &out.found {
            seen.receipts.insert(*hash, r.clone());
        }
        if complete && out.failed.is_empty() {
            seen.scanned = Some(head.number);
        }
        out
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
    pub(super) async fn on_found(
        &self,
        intent: &Intent,
        attempt: &Attempt,
        receipt: &TransactionReceipt,
        head: &Head,
        out: &mut Outcomes,
        report: &mut PassReport,
    ) -> Result<()> {
        if !is_cancel(&attempt.raw, intent.sender) {
            return self.on_receipt(intent, receipt, head, out).await;
        }
        let Some(block) = receipt.block_number else {
            return Ok(());
        };
        if head.number.saturating_add(1).saturating_sub(block) < self.config.confirmations {
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
        lock(&self.seen).forget(&[receipt.transaction_hash]);
        report.requeued += 1;
        Ok(())
    }

    /// A receipt of one of the intent's attempts: final once it has `confirmations` blocks on the pass's head
    /// (recorded with the pass's other final statuses).
    async fn on_receipt(
        &self,
        intent: &Intent,
        receipt: &TransactionReceipt,
        head: &Head,
        out: &mut Outcomes,
    ) -> Result<()> {
        let Some(block) = receipt.block_number else {
            return Ok(());
        };
        if head.number.saturating_add(1).saturating_sub(block) < self.config.confirmations {
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
        out.finishes.push(Finish {
            id: intent.id,
            from: intent.status,
            to,
            included: Some((receipt.transaction_hash, block)),
            error,
        });
        out.used.push(receipt.transaction_hash);
        if block > head.number && out.above_head.is_none_or(|(b, _)| b < block) {
            out.above_head = Some((block, receipt.block_hash));
        }
        Ok(())
    }

    /// "nonce too low": check the receipts of every attempt that used this nonce; if none of ours shows a receipt,
    /// find the transaction that used the nonce in its block: one of ours → wait for its receipt (a node lagging
    /// on receipts but ahead on nonces never makes a mined intent look lost); another → the intent goes back to
    /// `Pending` for a new nonce.
    pub(super) async fn reconcile(
        &self,
        intent: &Intent,
        head: &Head,
        out: &mut Outcomes,
        report: &mut PassReport,
    ) -> Result<()> {
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
            return self
                .on_found(intent, &attempt, &receipt, head, out, report)
                .await;
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
}
