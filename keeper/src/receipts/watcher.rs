//! The challenge watcher: every batch anchored by someone else is fetched from its data URI while its window is
//! open — the 384-byte flat encodings concatenated — and checked as the contract would check it:
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
//!
//! Fetching: the data URI is the submitter's choice, so it is read through [`crate::fetch::Fetcher`] (the
//! keeper's fetch policy: schemes, addresses, a per-batch deadline) and streamed with a cap of `count × 384`
//! bytes — more than that cannot build the anchored root anyway. Each fetch runs in its own background task; a
//! pass collects the finished ones and never waits, so a batch whose URI never answers cannot keep the watcher
//! from challenging the next batch within its window. An unreadable batch stays `Unavailable` and is fetched
//! again next pass while its window is open.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tracing::{info, warn};
use verity_abi::rpc::{IReceiptBatches, ISettlementNodes};
use verity_abi::settlement::{
    decode_signed_receipt, encoded_leaf_hash, void_reason, StandardMerkleTree, SIGNED_RECEIPT_LEN,
};

use super::api::TreeCache;
use super::judge::{reason_name, Judge};
use super::store::{BatchRow, BatchStatus, Checked, LeafRow, ReceiptStore};
use crate::failpoint::{Failpoint, Failpoints};
use crate::fetch::{FetchError, FetchPolicy, Fetcher};
use crate::jobs::{IntentSpec, Job, JobError, Plan, PlanFuture, Result};

/// The job's name.
pub const JOB_NAME: &str = "challenge-watcher";

/// The prefix of the job's idempotency keys.
pub const KEY_PREFIX: &str = "challenge";

/// The idempotency key of challenging on-chain batch `id`.
pub fn key(id: u64) -> String {
    format!("{KEY_PREFIX}:{id}")
}

/// Most bytes a batch of `count` leaves can publish.
pub fn data_cap(count: u64) -> u64 {
    count.saturating_mul(SIGNED_RECEIPT_LEN as u64)
}

/// Fetches in flight and their results (by local batch id).
#[derive(Debug, Default)]
struct Fetches {
    in_flight: BTreeSet<i64>,
    /// Of those, the batches never fetched before (what an idle-exiting loop waits for; re-fetches of an
    /// unavailable batch are not waited for).
    first: BTreeSet<i64>,
    tasks: JoinSet<(i64, std::result::Result<Vec<u8>, FetchError>)>,
    done: BTreeMap<i64, std::result::Result<Vec<u8>, FetchError>>,
}

/// The challenge watcher.
pub struct ChallengeWatcher<S, P> {
    store: S,
    judge: Arc<Judge<P>>,
    batches: Address,
    nodes: Address,
    fetcher: Fetcher,
    fetches: Mutex<Fetches>,
    trees: TreeCache,
    failpoints: Failpoints,
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
    /// The watcher of ReceiptBatches at `batches` (leaves confirmed with SettlementNodes at `nodes`), fetching
    /// batch data under `fetch`.
    ///
    /// # Panics
    /// When the HTTP client cannot be built (no TLS backend: a build problem).
    pub fn new(
        store: S,
        judge: Arc<Judge<P>>,
        batches: Address,
        nodes: Address,
        fetch: FetchPolicy,
    ) -> Self {
        Self {
            store,
            judge,
            batches,
            nodes,
            fetcher: Fetcher::new(fetch).expect("the HTTP client builds"),
            fetches: Mutex::new(Fetches::default()),
            trees: TreeCache::default(),
            failpoints: Failpoints::none(),
        }
    }

    /// Arms `failpoints` (tests): [`Failpoint::AfterBatchChecked`] stops right after a verdict is stored.
    #[must_use]
    pub fn with_failpoints(mut self, failpoints: Failpoints) -> Self {
        self.failpoints = failpoints;
        self
    }

    /// The batch's data if its fetch finished (`None`: started or still running).
    async fn data(&self, b: &BatchRow) -> Option<std::result::Result<Vec<u8>, FetchError>> {
        let mut f = self.fetches.lock().await;
        let f = &mut *f;
        while let Some(joined) = f.tasks.try_join_next() {
            match joined {
                Ok((id, r)) => {
                    f.in_flight.remove(&id);
                    f.first.remove(&id);
                    f.done.insert(id, r);
                }
                Err(e) => {
                    warn!(target: "keeper::receipts::watcher", %e, "fetch task failed; retried")
                }
            }
        }
        if f.tasks.is_empty() {
            f.in_flight.clear();
            f.first.clear();
        }
        if let Some(r) = f.done.remove(&b.id) {
            return Some(r);
        }
        if f.in_flight.insert(b.id) {
            if b.checked == Checked::Unchecked {
                f.first.insert(b.id);
            }
            let fetcher = self.fetcher.clone();
            let uri = b.data_uri.clone().unwrap_or_default();
            let (id, cap) = (b.id, data_cap(b.count));
            f.tasks
                .spawn(async move { (id, fetcher.bytes(uri.as_bytes(), cap).await) });
        }
        None
    }

    /// First fetches in flight.
    async fn in_flight(&self) -> u64 {
        self.fetches.lock().await.first.len() as u64
    }

    /// Checks one batch whose data arrived; returns the verdict and the challenge calldata.
    async fn check(
        &self,
        provider: &P,
        b: &BatchRow,
        data: std::result::Result<Vec<u8>, FetchError>,
    ) -> Result<(Checked, Option<Bytes>)> {
        let (Some(chain_batch), Some(anchored_at)) = (b.chain_batch, b.anchored_at) else {
            return Ok((Checked::Unavailable, None));
        };
        let uri = b.data_uri.clone().unwrap_or_default();
        let data = match data {
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
                Checked::Unchecked | Checked::Unavailable => match self.data(&b).await {
                    Some(data) => {
                        let (checked, challenge) = self.check(provider, &b, data).await?;
                        self.store
                            .set_checked(b.id, checked, challenge.as_ref())
                            .await?;
                        self.failpoints
                            .check_at(Failpoint::AfterBatchChecked, &key(id))
                            .map_err(JobError::Failpoint)?;
                        (checked, challenge)
                    }
                    None => (b.checked, None),
                },
                other => (other, b.challenge.clone()),
            };
            if matches!(checked, Checked::Unavailable | Checked::Unchecked) {
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
        plan.in_flight = self.in_flight().await;
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
