//! `Signed`/`Sent` for a whole pass: every open intent is finished by a confirmed receipt of any of its attempts
//! (`confirm`), or its latest attempt is (re)broadcast — replaced first at the same nonce when the base
//! fee outran it. The pass's broadcasts and final statuses are then recorded, one database transaction each.

use std::collections::{HashMap, HashSet};

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::{TxKind, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use tracing::{info, warn};

use super::classify::{classify_rpc, SendErrorKind};
use super::{
    bump, decode_eip1559, fees_of, is_cancel, lock, now_ms, Head, OutboxError, PassReport, Result,
    TxManager,
};
use crate::failpoint::Failpoint;
use crate::store::{Attempt, Finish, Intent, IntentStatus, OutboxStore, SignedTx, StoreError};

/// What a pass decided for its open intents, recorded at its end.
#[derive(Debug, Default)]
pub(super) struct Outcomes {
    /// Final statuses to record (one transaction).
    pub(super) finishes: Vec<Finish>,
    /// Attempts broadcast (one transaction), and whether it was their intent's first send.
    pub(super) sent: Vec<(i64, bool)>,
    /// Hashes of the receipts the finishes were decided by (dropped from the cache once recorded).
    pub(super) used: Vec<B256>,
    /// The highest block above the pass's head holding a receipt used to finish an intent, with its hash.
    pub(super) above_head: Option<(u64, Option<B256>)>,
    /// The next block's base fee, read once per pass when a broadcast needs it.
    gas_price: Option<u128>,
}

impl<S: OutboxStore + Clone, P: Provider + Clone + 'static> TxManager<S, P> {
    /// Confirms, replaces or broadcasts every open intent (oldest nonce first), then records the outcomes.
    /// `signed_now`: attempts signed in this pass (never broadcast: no receipt to look for).
    pub(super) async fn advance_open(
        &self,
        head: &Head,
        signed_now: &[i64],
        report: &mut PassReport,
    ) -> Result<()> {
        // `batch` per status: the intents signed this pass and as many sent ones waiting for their receipts.
        let limit = self.config.batch.saturating_mul(2);
        let mut open = self
            .store
            .intents_in(&[IntentStatus::Signed, IntentStatus::Sent], limit)
            .await?;
        if open.is_empty() {
            self.nothing_in_flight(head);
            return Ok(());
        }
        let complete = i64::try_from(open.len()).unwrap_or(i64::MAX) < limit;
        let ids: Vec<i64> = open.iter().map(|i| i.id).collect();
        let mut current: HashMap<i64, Vec<Attempt>> = HashMap::new();
        for a in self.store.attempts_of(&ids).await? {
            current.entry(a.intent_id).or_default().push(a);
        }
        // Attempts at a nonce the intent gave up after a requeue can never land: that nonce is used.
        for intent in &open {
            if let Some(list) = current.get_mut(&intent.id) {
                list.retain(|a| Some(a.nonce) == intent.nonce);
            }
        }
        let fresh: HashSet<i64> = signed_now.iter().copied().collect();
        let lookups: Vec<&Attempt> = current
            .values()
            .flatten()
            .filter(|a| !fresh.contains(&a.id))
            .collect();
        let receipts = self.receipts_for(head, &lookups, complete).await;
        let mut found: HashMap<i64, (Attempt, TransactionReceipt)> = HashMap::new();
        for intent in &open {
            let hit = current.get(&intent.id).and_then(|list| {
                list.iter().find_map(|a| {
                    receipts
                        .found
                        .get(&a.tx_hash)
                        .map(|r| (a.clone(), r.clone()))
                })
            });
            if let Some(hit) = hit {
                found.insert(intent.id, hit);
            }
        }
        let mut confirmable: Vec<i64> = found
            .iter()
            .filter(|(_, (_, r))| {
                r.block_number.is_some_and(|b| {
                    head.number.saturating_add(1).saturating_sub(b) >= self.config.confirmations
                })
            })
            .map(|(id, _)| *id)
            .collect();
        if !confirmable.is_empty() {
            confirmable.sort_unstable();
            let what = confirmable
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("+");
            self.failpoints
                .check_at(Failpoint::AfterBlockReceipts, &format!("intents:{what}"))
                .map_err(OutboxError::Failpoint)?;
        }
        open.sort_by_key(|i| (i.nonce, i.id));
        let mut out = Outcomes::default();
        for intent in &open {
            let attempts = current.remove(&intent.id).unwrap_or_default();
            if attempts
                .iter()
                .any(|a| receipts.failed.contains(&a.tx_hash))
            {
                // Its receipt could not be looked up: neither confirm nor rebroadcast blindly.
                report.deferred += 1;
                continue;
            }
            let hit = found.remove(&intent.id);
            let result = self
                .advance_one(intent, &attempts, hit, head, &mut out, report)
                .await;
            self.step(result, report)?;
        }
        self.record(out, report).await
    }

    /// Records the pass's final statuses, then its broadcasts (one database transaction each).
    async fn record(&self, out: Outcomes, report: &mut PassReport) -> Result<()> {
        if !out.finishes.is_empty() {
            match self.store.finish_batch(&out.finishes, now_ms()).await {
                Ok(()) => {
                    report.finished += out.finishes.len();
                    let mut seen = lock(&self.seen);
                    seen.forget(&out.used);
                    if let Some((block, hash)) = out.above_head {
                        seen.vouch_for(block, hash);
                    }
                }
                Err(e) => self.step(Err(e.into()), report)?,
            }
        }
        if !out.sent.is_empty() {
            let ids: Vec<i64> = out.sent.iter().map(|(id, _)| *id).collect();
            match self.store.mark_sent_batch(&ids, now_ms()).await {
                Ok(()) => {
                    report.broadcast += ids.len();
                    report.first_sends += out.sent.iter().filter(|(_, first)| *first).count();
                }
                Err(e) => self.step(Err(e.into()), report)?,
            }
        }
        Ok(())
    }

    /// One open intent: finish on a receipt of any current attempt; otherwise broadcast the latest attempt's bytes
    /// (first send, or a rebroadcast once `rebroadcast_after` passed), replaced first when the base fee outran it.
    async fn advance_one(
        &self,
        intent: &Intent,
        attempts: &[Attempt],
        found: Option<(Attempt, TransactionReceipt)>,
        head: &Head,
        out: &mut Outcomes,
        report: &mut PassReport,
    ) -> Result<()> {
        if let Some((attempt, receipt)) = found {
            return self
                .on_found(intent, &attempt, &receipt, head, out, report)
                .await;
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
        if intent.status == IntentStatus::Signed && latest.broadcasts == 0 {
            // Signed (alone or in a batch) and committed, never broadcast.
            self.failpoints
                .check_at(Failpoint::AfterSign, &intent.key)
                .map_err(OutboxError::Failpoint)?;
        }
        // A base-fee spike since signing: the attempt can no longer be included, replace it first.
        let next_base_fee = match out.gas_price {
            Some(p) => p,
            None => {
                let p = self.provider.get_gas_price().await?;
                out.gas_price = Some(p);
                p
            }
        };
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
                SendErrorKind::NonceTooLow => {
                    return self.reconcile(intent, head, out, report).await
                }
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
        out.sent
            .push((latest.id, intent.status == IntentStatus::Signed));
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
}
