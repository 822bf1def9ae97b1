//! Receipt intake: a signed receipt is decoded (its 384-byte flat encoding, exactly), judged as SettlementNodes
//! would judge it at anchoring ([`super::judge`]), checked for time (not in the future, young enough to be
//! anchored before the maximum receipt age), and **persisted before it is acknowledged**.
//!
//! Group commit: every request hands its receipt to one writer task and waits; the writer takes whatever has
//! queued (up to [`IntakeConfig::max_group`]) and persists it in one database transaction — one fsync for many
//! receipts — then answers each waiter. Deduplication is by request id in the same transaction: the very same
//! receipt again is an idempotent success, another receipt for a known request id is refused.

use std::sync::Arc;

use alloy::primitives::{Bytes, B256};
use alloy::providers::Provider;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};
use verity_abi::settlement::{decode_signed_receipt, encoded_leaf_hash};

use super::judge::{reason_name, Judge};
use super::store::{Inserted, NewReceipt, ReceiptStore};
use super::ReceiptMetrics;

/// Intake settings.
#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// A receipt signed up to this many seconds after the chain's clock is accepted (clock skew).
    pub future_skew_secs: u64,
    /// A receipt must be at least this many seconds younger than the maximum receipt age (time to batch and
    /// anchor it).
    pub anchor_margin_secs: u64,
    /// Most receipts per group commit.
    pub max_group: usize,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            future_skew_secs: 300,
            anchor_margin_secs: 3_600,
            max_group: 4_096,
        }
    }
}

/// Why a receipt was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejected {
    /// Not a canonical 384-byte signed receipt.
    #[error("not a signed receipt: {0}")]
    Malformed(&'static str),
    /// SettlementNodes would judge it invalid (a `void_reason` code).
    #[error("invalid receipt: {}", reason_name(*.0))]
    Invalid(u8),
    /// `signedAt` is ahead of the chain's clock by more than the allowed skew.
    #[error("signedAt {signed_at} is ahead of the chain's clock {chain_now}")]
    Future {
        /// The receipt's time.
        signed_at: u64,
        /// The chain's.
        chain_now: u64,
    },
    /// Too old to be anchored before the maximum receipt age.
    #[error("signedAt {signed_at} is too old to anchor (chain time {chain_now})")]
    TooOld {
        /// The receipt's time.
        signed_at: u64,
        /// The chain's.
        chain_now: u64,
    },
    /// Another receipt with this request id is already persisted.
    #[error("another receipt for request {0} is already persisted")]
    Conflict(B256),
    /// The chain or the database could not be reached: retry (nothing was persisted).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// A receipt taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The request id.
    pub request_id: B256,
    /// The Merkle leaf.
    pub leaf: B256,
    /// Whether it was persisted by this call (`false`: the same receipt was already persisted).
    pub new: bool,
}

type Reply = oneshot::Sender<Result<Inserted, String>>;

/// The intake: the judge and the group-commit writer.
pub struct Intake<P> {
    judge: Arc<Judge<P>>,
    writer: mpsc::Sender<(NewReceipt, Reply)>,
    config: IntakeConfig,
    metrics: ReceiptMetrics,
}

impl<P> std::fmt::Debug for Intake<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("judge", &self.judge)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<P: Provider + Clone + 'static> Intake<P> {
    /// Starts the writer task on `store` (it ends when the intake is dropped).
    pub fn start<S: ReceiptStore + Clone>(
        store: S,
        judge: Arc<Judge<P>>,
        config: IntakeConfig,
        metrics: ReceiptMetrics,
    ) -> Self {
        let (tx, rx) = mpsc::channel(config.max_group.max(1) * 4);
        tokio::spawn(write_groups(
            store,
            rx,
            config.max_group.max(1),
            metrics.clone(),
        ));
        Self {
            judge,
            writer: tx,
            config,
            metrics,
        }
    }

    /// The judge.
    pub fn judge(&self) -> &Arc<Judge<P>> {
        &self.judge
    }

    /// Judges `signed` (the flat encoding) and persists it; returns once it is committed.
    ///
    /// # Errors
    /// [`Rejected`] with the reason; nothing is persisted then.
    pub async fn submit(&self, signed: &[u8]) -> Result<Accepted, Rejected> {
        let result = self.submit_inner(signed).await;
        let label = match &result {
            Ok(a) if a.new => "accepted",
            Ok(_) => "duplicate",
            Err(Rejected::Malformed(_)) => "malformed",
            Err(Rejected::Invalid(_)) => "invalid",
            Err(Rejected::Future { .. }) => "future",
            Err(Rejected::TooOld { .. }) => "too_old",
            Err(Rejected::Conflict(_)) => "conflict",
            Err(Rejected::Unavailable(_)) => "unavailable",
        };
        self.metrics.intake.with_label_values(&[label]).inc();
        result
    }

    async fn submit_inner(&self, bytes: &[u8]) -> Result<Accepted, Rejected> {
        let decoded = decode_signed_receipt(bytes).ok_or(Rejected::Malformed(
            "expected the 384-byte canonical flat encoding",
        ))?;
        let unavailable = |e: crate::jobs::JobError| Rejected::Unavailable(e.to_string());
        let chain_now = self.judge.chain_now().await.map_err(unavailable)?;
        let signed_at = decoded.receipt.signedAt;
        if signed_at > chain_now.saturating_add(self.config.future_skew_secs) {
            return Err(Rejected::Future {
                signed_at,
                chain_now,
            });
        }
        let at = chain_now.max(signed_at);
        let fault = self.judge.fault(&decoded, at).await.map_err(unavailable)?;
        if fault != 0 {
            return Err(Rejected::Invalid(fault));
        }
        let budget = self
            .judge
            .max_receipt_age()
            .await
            .map_err(unavailable)?
            .saturating_sub(self.config.anchor_margin_secs);
        if at - signed_at > budget {
            return Err(Rejected::TooOld {
                signed_at,
                chain_now,
            });
        }
        let leaf = encoded_leaf_hash(bytes);
        let receipt = NewReceipt {
            request_id: decoded.receipt.requestId,
            signed: Bytes::copy_from_slice(bytes),
            leaf,
            node: decoded.receipt.node,
            model: decoded.receipt.modelVersion,
            signed_at,
            received_at: crate::lease::now_ms(),
        };
        let (reply, answer) = oneshot::channel();
        self.writer
            .send((receipt, reply))
            .await
            .map_err(|_| Rejected::Unavailable("the writer stopped".into()))?;
        let inserted = answer
            .await
            .map_err(|_| Rejected::Unavailable("the writer stopped".into()))?
            .map_err(Rejected::Unavailable)?;
        let request_id = decoded.receipt.requestId;
        match inserted {
            Inserted::New => Ok(Accepted {
                request_id,
                leaf,
                new: true,
            }),
            Inserted::Duplicate => Ok(Accepted {
                request_id,
                leaf,
                new: false,
            }),
            Inserted::Conflict => Err(Rejected::Conflict(request_id)),
        }
    }
}

/// The writer: one transaction per group of queued receipts.
async fn write_groups<S: ReceiptStore>(
    store: S,
    mut rx: mpsc::Receiver<(NewReceipt, Reply)>,
    max_group: usize,
    metrics: ReceiptMetrics,
) {
    let mut group = Vec::with_capacity(max_group);
    while rx.recv_many(&mut group, max_group).await > 0 {
        let receipts: Vec<NewReceipt> = group.iter().map(|(r, _)| r.clone()).collect();
        let result = store.insert_receipts(&receipts).await;
        metrics.group_commits.inc();
        match result {
            Ok(outcomes) => {
                debug!(target: "keeper::receipts::intake", n = receipts.len(), "group committed");
                for ((_, reply), outcome) in group.drain(..).zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                warn!(target: "keeper::receipts::intake", ?e, n = receipts.len(), "group commit failed; nothing acknowledged");
                let msg = e.to_string();
                for (_, reply) in group.drain(..) {
                    let _ = reply.send(Err(msg.clone()));
                }
            }
        }
    }
}
