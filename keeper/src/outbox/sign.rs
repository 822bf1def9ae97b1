//! `Pending` → `Signed` for a whole pass: every pending intent simulated concurrently (a typed `Already…` revert
//! finishes it as done, another revert fails it, a "not yet" revert leaves it pending), priced once within the
//! cap, then nonces, signatures and raw bytes for all of them in one database transaction
//! ([`OutboxStore::sign_batch`]) — before anything is broadcast.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::network::TxSignerSync;
use alloy::primitives::TxKind;
use alloy::providers::Provider;
use std::future::IntoFuture;
use tracing::{debug, info, warn};

use super::classify::{describe_revert, is_already_done, is_retry_later, revert_data};
use super::{now_ms, Head, OutboxError, PassReport, Result, TxManager};
use crate::failpoint::Failpoint;
use crate::store::{Intent, IntentStatus, OutboxStore, SignedTx};

/// Gas estimates in flight at once.
const ESTIMATES_IN_FLIGHT: usize = 16;

impl<S: OutboxStore + Clone, P: Provider + Clone + 'static> TxManager<S, P> {
    /// Signs every pending intent of this sender that simulates successfully, in one batch; returns the new
    /// attempts' ids (never broadcast yet: the confirmation step need not look them up).
    pub(super) async fn sign_pending(
        &self,
        head: &Head,
        report: &mut PassReport,
    ) -> Result<Vec<i64>> {
        let pending = self
            .store
            .intents_in(&[IntentStatus::Pending], self.config.batch)
            .await?;
        let ours: Vec<Intent> = pending
            .into_iter()
            .filter(|i| {
                let mine = i.sender == self.sender();
                if !mine {
                    warn!(target: "keeper::outbox", id = i.id, sender = %i.sender, "intent of another sender skipped");
                }
                mine
            })
            .collect();
        if ours.is_empty() {
            return Ok(Vec::new());
        }
        let mut estimates = Vec::with_capacity(ours.len());
        for chunk in ours.chunks(ESTIMATES_IN_FLIGHT) {
            let calls: Vec<_> = chunk
                .iter()
                .map(|intent| {
                    self.provider
                        .estimate_gas(self.request(intent))
                        .into_future()
                })
                .collect();
            let answers = futures::future::join_all(calls).await;
            estimates.extend(chunk.iter().zip(answers).map(|(intent, answer)| {
                answer.map(|gas| (intent, gas)).map_err(|err| (intent, err))
            }));
        }
        let mut ready = Vec::with_capacity(estimates.len());
        for estimate in estimates {
            match estimate {
                Ok(ok) => ready.push(ok),
                Err((intent, err)) => {
                    let outcome = self.unsignable(intent, err, report).await;
                    self.step(outcome, report)?;
                }
            }
        }
        if ready.is_empty() {
            return Ok(Vec::new());
        }
        let base_fee = head.base_fee.ok_or(OutboxError::NoBaseFee)?;
        if base_fee > self.config.max_fee_per_gas {
            warn!(target: "keeper::outbox", intents = ready.len(), base_fee, cap = self.config.max_fee_per_gas, "fee cap reached: base fee above the cap; waiting");
            report.deferred += ready.len();
            report.capped += ready.len();
            return Ok(Vec::new());
        }
        let max_fee = base_fee
            .saturating_mul(2)
            .saturating_add(self.config.priority_fee_per_gas)
            .min(self.config.max_fee_per_gas);
        let priority = self.config.priority_fee_per_gas.min(max_fee);
        let floor = self
            .provider
            .get_transaction_count(self.sender())
            .pending()
            .await?;
        let margin = self.config.gas_margin_percent;
        let chain_id = self.config.chain_id;
        let txs: Vec<TxEip1559> = ready
            .iter()
            .map(|(intent, gas)| TxEip1559 {
                chain_id,
                nonce: 0,
                gas_limit: gas.saturating_mul(margin) / 100,
                max_fee_per_gas: max_fee,
                max_priority_fee_per_gas: priority,
                to: TxKind::Call(intent.target),
                value: intent.value,
                access_list: Default::default(),
                input: intent.calldata.clone(),
            })
            .collect();
        let signer = self.signer.clone();
        let sign = move |i: usize, nonce: u64| -> std::result::Result<SignedTx, String> {
            let mut tx = txs
                .get(i)
                .cloned()
                .ok_or_else(|| format!("no transaction {i} in the batch"))?;
            tx.nonce = nonce;
            let sig = signer
                .sign_transaction_sync(&mut tx)
                .map_err(|e| e.to_string())?;
            let envelope = TxEnvelope::from(tx.into_signed(sig));
            Ok(SignedTx {
                tx_hash: *envelope.tx_hash(),
                raw: envelope.encoded_2718().into(),
            })
        };
        let ids: Vec<i64> = ready.iter().map(|(i, _)| i.id).collect();
        let attempts = self
            .store
            .sign_batch(&ids, floor, &sign, now_ms(), self.fence.as_ref())
            .await?;
        report.signed += attempts.len();
        let (first, last) = (
            attempts.first().map_or(0, |a| a.nonce),
            attempts.last().map_or(0, |a| a.nonce),
        );
        debug!(target: "keeper::outbox", intents = attempts.len(), first, last, max_fee, "batch signed");
        self.failpoints
            .check_at(Failpoint::AfterBatchSign, &format!("nonces:{first}-{last}"))
            .map_err(OutboxError::Failpoint)?;
        Ok(attempts.iter().map(|a| a.id).collect())
    }

    /// A pending intent whose simulation failed: "not yet" stays pending, a typed `Already…` revert is done,
    /// another revert fails it; any other error is returned (deferred to the next pass).
    async fn unsignable(
        &self,
        intent: &Intent,
        err: alloy::transports::RpcError<alloy::transports::TransportErrorKind>,
        report: &mut PassReport,
    ) -> Result<()> {
        if let Some(data) = revert_data(&err).filter(|d| is_retry_later(d)) {
            debug!(target: "keeper::outbox", id = intent.id, key = %intent.key, revert = %describe_revert(&data), "not possible yet; simulated again next pass");
            report.deferred += 1;
            return Ok(());
        }
        let Some(data) = revert_data(&err) else {
            return Err(err.into());
        };
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
        Ok(())
    }
}
