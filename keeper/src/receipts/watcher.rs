//! The challenge watcher: every batch anchored by someone else is fetched from its data URI (`http(s)://` with
//! alloy's reqwest, or `file://`) while its window is open — the 384-byte flat encodings concatenated — and
//! checked as the contract would check it:
//!
//! 1. the leaves must build the anchored root with the anchored count (else nothing is provable: `Mismatch`);
//! 2. each leaf is judged at the anchoring time by the local judge ([`super::judge`]); a fault is confirmed with
//!    `SettlementNodes.receiptFault(leaf, anchoredAt)` on chain before it is challenged with
//!    `challengeLeaf(batchId, leaf, proof)`;
//! 3. otherwise a request id that is already a leaf of an earlier live batch (ours or anyone's), or twice in this
//!    batch, is challenged with `challengeDuplicate(earlier…, later…)`.
//!
//! The verdict (and the challenge calldata) is stored with the batch, so the work is done once; the intent
//! `challenge:<batchId>` is planned while the batch is still Anchored and its window open.
//! `SettlementAlreadyVoided` (someone challenged first) counts as done.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use alloy::transports::http::reqwest;
use tracing::{info, warn};
use verity_abi::rpc::{IReceiptBatches, ISettlementNodes};
use verity_abi::settlement::{
    decode_signed_receipt, encoded_leaf_hash, void_reason, StandardMerkleTree, SIGNED_RECEIPT_LEN,
};

use super::api::TreeCache;
use super::judge::{reason_name, Judge};
use super::store::{BatchRow, BatchStatus, Checked, LeafRow, ReceiptStore};
use crate::jobs::{IntentSpec, Job, Plan, PlanFuture, Result};

/// The job's name.
pub const JOB_NAME: &str = "challenge-watcher";

/// The prefix of the job's idempotency keys.
pub const KEY_PREFIX: &str = "challenge";

/// The idempotency key of challenging on-chain batch `id`.
pub fn key(id: u64) -> String {
    format!("{KEY_PREFIX}:{id}")
}

/// Why a batch's data could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Not a `file://`, `http://` or `https://` URI.
    #[error("unsupported data URI {0:?}")]
    Unsupported(String),
    /// Reading failed.
    #[error("{0}")]
    Read(String),
}

/// Fetches a batch's published leaves.
///
/// # Errors
/// [`DataError`] when nothing could be read.
pub async fn fetch(client: &reqwest::Client, uri: &str) -> std::result::Result<Vec<u8>, DataError> {
    if let Some(path) = uri.strip_prefix("file://") {
        return tokio::fs::read(path)
            .await
            .map_err(|e| DataError::Read(format!("{path}: {e}")));
    }
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return Err(DataError::Unsupported(uri.to_string()));
    }
    let resp = client
        .get(uri)
        .send()
        .await
        .map_err(|e| DataError::Read(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(DataError::Read(format!("{uri}: HTTP {}", resp.status())));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| DataError::Read(e.to_string()))?;
    Ok(body.to_vec())
}

/// The challenge watcher.
pub struct ChallengeWatcher<S, P> {
    store: S,
    judge: Arc<Judge<P>>,
    batches: Address,
    nodes: Address,
    client: reqwest::Client,
    trees: TreeCache,
}

impl<S, P> std::fmt::Debug for ChallengeWatcher<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChallengeWatcher")
            .field("batches", &self.batches)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

impl<S: ReceiptStore + Clone, P: Provider + Clone + 'static> ChallengeWatcher<S, P> {
    /// The watcher of ReceiptBatches at `batches` (leaves confirmed with SettlementNodes at `nodes`).
    pub fn new(store: S, judge: Arc<Judge<P>>, batches: Address, nodes: Address) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap_or_default();
        Self {
            store,
            judge,
            batches,
            nodes,
            client,
            trees: TreeCache::default(),
        }
    }

    /// Checks one batch; returns the verdict and the challenge calldata.
    async fn check(&self, provider: &P, b: &BatchRow) -> Result<(Checked, Option<Bytes>)> {
        let (Some(chain_batch), Some(anchored_at)) = (b.chain_batch, b.anchored_at) else {
            return Ok((Checked::Unavailable, None));
        };
        let uri = b.data_uri.clone().unwrap_or_default();
        let data = match fetch(&self.client, &uri).await {
            Ok(d) => d,
            Err(e) => {
                warn!(target: "keeper::receipts::watcher", batch = chain_batch, %uri, %e, "batch data unavailable; retried while the window is open");
                return Ok((Checked::Unavailable, None));
            }
        };
        let leaves: Vec<LeafRow> = data
            .chunks(SIGNED_RECEIPT_LEN)
            .map(|c| LeafRow {
                leaf: encoded_leaf_hash(c),
                request_id: c.get(..32).map_or(B256::ZERO, B256::from_slice),
                signed: Bytes::copy_from_slice(c),
            })
            .collect();
        let hashes: Vec<B256> = leaves.iter().map(|l| l.leaf).collect();
        let tree = StandardMerkleTree::new(&hashes);
        let builds = data.len() % SIGNED_RECEIPT_LEN == 0
            && leaves.len() as u64 == b.count
            && tree.as_ref().is_some_and(|t| t.root() == b.root);
        let Some(tree) = tree.filter(|_| builds) else {
            warn!(target: "keeper::receipts::watcher", batch = chain_batch, %uri, "published data does not build the anchored root; nothing provable");
            return Ok((Checked::Mismatch, None));
        };
        self.store.store_leaves(b.id, &leaves).await?;

        // 1. An invalid leaf, confirmed on chain.
        let nodes = ISettlementNodes::new(self.nodes, provider);
        for l in &leaves {
            let local = match decode_signed_receipt(&l.signed) {
                Some(s) => self.judge.fault(&s, anchored_at).await?,
                None => void_reason::BAD_FIELDS,
            };
            if local == 0 {
                continue;
            }
            let on_chain = nodes
                .receiptFault(l.signed.clone(), anchored_at)
                .call()
                .await?;
            if on_chain == 0 {
                warn!(target: "keeper::receipts::watcher", batch = chain_batch, leaf = %l.leaf, local = reason_name(local), "local judge disagrees with the chain; not challenged");
                continue;
            }
            let Some(proof) = tree.proof(l.leaf) else {
                continue;
            };
            info!(target: "keeper::receipts::watcher", batch = chain_batch, request = %l.request_id, reason = reason_name(on_chain), "invalid leaf found");
            let call = IReceiptBatches::challengeLeafCall {
                batch_id: U256::from(chain_batch),
                signed: l.signed.clone(),
                proof,
            };
            return Ok((Checked::Faulty, Some(call.abi_encode().into())));
        }

        // 2. A duplicate request id.
        if let Some(later) = self.store.first_duplicate(b.id, chain_batch).await? {
            if let Some((earlier_batch, earlier)) = self
                .store
                .earlier_inclusion(later.request_id, chain_batch, b.id, later.leaf)
                .await?
            {
                let earlier_tree = self.trees.tree(&self.store, earlier_batch.id).await?;
                if let (Some(earlier_id), Some(earlier_proof), Some(later_proof)) = (
                    earlier_batch.chain_batch,
                    earlier_tree.proof(earlier.leaf),
                    tree.proof(later.leaf),
                ) {
                    info!(target: "keeper::receipts::watcher", batch = chain_batch, earlier = earlier_id, request = %later.request_id, "duplicate request id found");
                    let call = IReceiptBatches::challengeDuplicateCall {
                        earlier_batch: U256::from(earlier_id),
                        earlier: earlier.signed,
                        earlier_proof,
                        later_batch: U256::from(chain_batch),
                        later: later.signed,
                        later_proof,
                    };
                    return Ok((Checked::Faulty, Some(call.abi_encode().into())));
                }
            }
        }
        Ok((Checked::Clean, None))
    }

    async fn plan_with(&self, provider: &P) -> Result<Plan> {
        let anchored = self.store.batches_in(BatchStatus::Anchored, false).await?;
        if anchored.is_empty() {
            return Ok(Plan::default());
        }
        let window = IReceiptBatches::new(self.batches, provider)
            .config()
            .call()
            .await?
            ._3;
        let chain_now = crate::jobs::latest_timestamp(provider).await?;
        let mut plan = Plan::default();
        for b in anchored {
            let (Some(id), Some(at)) = (b.chain_batch, b.anchored_at) else {
                continue;
            };
            if chain_now >= at.saturating_add(window) {
                continue;
            }
            let (checked, challenge) = match b.checked {
                Checked::Unchecked | Checked::Unavailable => {
                    let (checked, challenge) = self.check(provider, &b).await?;
                    self.store
                        .set_checked(b.id, checked, challenge.as_ref())
                        .await?;
                    (checked, challenge)
                }
                other => (other, b.challenge.clone()),
            };
            if checked == Checked::Unavailable {
                plan.due += 1;
            }
            if let (Checked::Faulty, Some(calldata)) = (checked, challenge) {
                plan.due += 1;
                plan.intents.push(IntentSpec {
                    key: key(id),
                    target: self.batches,
                    calldata,
                    value: U256::ZERO,
                });
            }
        }
        Ok(plan)
    }
}

impl<S, P> Job<P> for ChallengeWatcher<S, P>
where
    P: Provider + Clone + 'static,
    S: ReceiptStore + Clone,
{
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn plan<'a>(&'a self, provider: &'a P) -> PlanFuture<'a> {
        Box::pin(self.plan_with(provider))
    }
}
