//! The indexer: a read model of Verity built from contract events only — model listings by owner, parent and tag
//! (the registry keeps no on-chain lists, DESIGN.md), requests and batches, the per-node scoreboard, and per-epoch
//! gauge figures with the concentration numbers the controller does not compute on chain.
//!
//! [`Index`] is a pure projection: [`Index::apply`] folds one decoded event, in chain order, into the state, and
//! the query methods answer the HTTP API ([`crate::web`]). [`follow::Follower`] feeds it from `eth_getLogs`.
//! It holds no durable state: the chain is the source of truth, so a restart (or a reorg under the last applied
//! block) rebuilds it from the deployment block.

use std::collections::{BTreeMap, HashMap};

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use serde::Serialize;
use verity_abi::registry::{Reason, Relation, Status};
use verity_abi::settlement::{batches, void_reason};
use verity_abi::{gauge, registry, settlement};

pub mod follow;
pub mod stats;
pub mod voter;

pub use follow::{Follower, FollowerConfig};

/// Registrations listed as "recent" by [`Index::summary`].
const RECENT: usize = 10;
/// Lineage depth followed by [`Index::version`].
const LINEAGE_DEPTH: usize = 8;

/// A log with a known signature that does not decode (the ABI drifted: an error, not a skip).
#[derive(Debug, thiserror::Error)]
#[error("block {block} log {log_index}: {event} does not decode: {reason}")]
pub struct IndexError {
    /// Block number of the log.
    pub block: u64,
    /// Index of the log in its block.
    pub log_index: u64,
    /// The event's name.
    pub event: &'static str,
    /// The decoder's message.
    pub reason: String,
}

/// The gauge controller's calendar, read once from its `config()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Calendar {
    /// Start of epoch 0 (unix seconds).
    pub genesis: u64,
    /// Epoch length in seconds.
    pub epoch_len: u64,
    /// Epochs per season.
    pub season_len: u64,
}

impl Calendar {
    /// Start of epoch `e`.
    pub fn epoch_start(&self, e: u64) -> u64 {
        self.genesis
            .saturating_add(e.saturating_mul(self.epoch_len))
    }

    /// Season of epoch `e`.
    pub fn season(&self, e: u64) -> u64 {
        e.checked_div(self.season_len).unwrap_or(0)
    }
}

/// One model version as the events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionView {
    /// Version id.
    pub id: u64,
    /// Model name (text when printable, else hex).
    pub name: String,
    /// The name's current owner.
    pub owner: Address,
    /// Who submitted it.
    pub submitter: Address,
    /// Version number within the name.
    pub version: u64,
    /// Relation to its parents.
    pub relation: String,
    /// Parent version ids.
    pub parents: Vec<u64>,
    /// Content hash of the weights file.
    pub content_hash: B256,
    /// Size in bytes.
    pub size: u64,
    /// Storage URI.
    pub storage_uri: String,
    /// Tags (text when printable, else hex).
    pub tags: Vec<String>,
    /// Status: Submitted, Stored, Registered, Rejected, Expired, Yanked.
    pub status: String,
    /// Reason of a rejection or expiry (None otherwise).
    pub reason: String,
    /// Fee paid, in wei (decimal).
    pub fee: String,
    /// Priority fee, in wei (decimal).
    pub priority_fee: String,
    /// Block time of the submission.
    pub submitted_at: u64,
    /// Block time of the registration, rejection or expiry.
    pub finalized_at: Option<u64>,
}

/// A version with its lineage and neighbours ([`Index::version`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionDetail {
    /// The version itself.
    pub version: VersionView,
    /// Ancestors, nearest first, breadth-first up to a depth of 8 (each id once).
    pub ancestors: Vec<u64>,
    /// Versions naming it as a parent.
    pub children: Vec<u64>,
    /// Every version id of the same name, in submission order.
    pub name_versions: Vec<u64>,
}

/// One paid request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestView {
    /// Request id.
    pub request_id: B256,
    /// Payer.
    pub payer: Address,
    /// Node asked to answer.
    pub node: Address,
    /// Model version.
    pub model_version: u64,
    /// Fee in wei (decimal).
    pub fee: String,
    /// Answer deadline (unix seconds).
    pub deadline: u64,
    /// Requested, Answered, Proven, Settled, Refunded.
    pub status: &'static str,
    /// Block time of the request.
    pub requested_at: u64,
    /// Block time of the answer.
    pub answered_at: Option<u64>,
    /// Output hash committed by the answer.
    pub output_hash: Option<B256>,
    /// Time of the proof (`provenAt`).
    pub proven_at: Option<u64>,
    /// Batch that proved it (0 = its own receipt).
    pub proven_by_batch: Option<u64>,
    /// Block time of the settlement or refund.
    pub closed_at: Option<u64>,
    /// Stake slashed at the refund, in wei (decimal).
    pub slashed: Option<String>,
}

/// One anchored receipt batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchView {
    /// Batch id.
    pub batch_id: u64,
    /// Who anchored it.
    pub submitter: Address,
    /// Merkle root.
    pub root: B256,
    /// Receipts in it.
    pub count: u64,
    /// Bond in wei (decimal).
    pub bond: String,
    /// Where its receipts are published.
    pub data_uri: String,
    /// Anchored, Final, Voided.
    pub status: &'static str,
    /// Block time of the anchoring.
    pub anchored_at: u64,
    /// Why it was voided (a `void_reason` name).
    pub void_reason: Option<&'static str>,
    /// The request id the challenge named.
    pub void_request: Option<B256>,
    /// Who voided it.
    pub challenger: Option<Address>,
}

/// One node's delivered consistency ([`Index::scoreboard`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeScore {
    /// The node.
    pub node: Address,
    /// Paid requests addressed to it.
    pub requests: u64,
    /// Requests it answered.
    pub answered: u64,
    /// Requests proven.
    pub proven: u64,
    /// Requests settled (paid).
    pub settled: u64,
    /// Requests refunded: no proof by the deadline (it was slashed).
    pub missed_deadlines: u64,
    /// Answer → proof latency, median, seconds.
    pub latency_p50: Option<u64>,
    /// Answer → proof latency, 99th percentile, seconds.
    pub latency_p99: Option<u64>,
    /// Batches voided over one of its receipts (other than duplicates).
    pub voided_batches: u64,
    /// Batches voided because its request id was anchored twice.
    pub duplicates: u64,
}

/// One finalized epoch of the gauge controller, with what voting looked like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochView {
    /// Epoch number.
    pub epoch: u64,
    /// Season it belongs to.
    pub season: u64,
    /// Epoch start (unix seconds).
    pub start: u64,
    /// BR emitted for it (decimal wei).
    pub emission: String,
    /// BR distributed to gauges (decimal wei).
    pub distributed: String,
    /// BR carried to the next epoch (decimal wei).
    pub carried: String,
    /// Total gauge weight (decimal).
    pub total_weight: String,
    /// Per-gauge weight and reward.
    pub gauges: Vec<GaugeShare>,
    /// Voters whose (cast or carried) vote had weight in it.
    pub voters: u64,
    /// Voters who cast or refreshed a vote in it.
    pub cast: u64,
    /// Σ voter weight / veBR total supply at the epoch start (0..1); None until the supply is read.
    pub turnout: Option<f64>,
    /// Largest single voter's share of the weight (0..1).
    pub top1_share: f64,
    /// The five largest voters' share of the weight (0..1).
    pub top5_share: f64,
    /// Fewest voters holding more than half the weight (0 when nobody voted).
    pub nakamoto: u64,
    /// Σ of the voters' weights computed from the vote events (decimal; equals `total_weight` when the
    /// controller applied no cap or rounding).
    pub voter_weight: String,
}

/// One gauge's part of an epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GaugeShare {
    /// The gauge.
    pub gauge: Address,
    /// Its weight (decimal).
    pub weight: String,
    /// BR it received (decimal wei).
    pub amount: String,
}

/// Counts by status, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Versions submitted.
    pub submitted: u64,
    /// Waiting for storage attestation.
    pub awaiting_storage: u64,
    /// Stored, waiting for registration.
    pub awaiting_registration: u64,
    /// Registered (including yanked).
    pub registered: u64,
    /// Rejected.
    pub rejected: u64,
    /// Expired.
    pub expired: u64,
    /// Yanked now.
    pub yanked: u64,
    /// Paid requests.
    pub requests: u64,
    /// Requests answered (not yet proven).
    pub answered: u64,
    /// Requests proven (not yet settled).
    pub proven: u64,
    /// Requests settled.
    pub settled: u64,
    /// Requests refunded.
    pub refunded: u64,
    /// Batches anchored (any status).
    pub batches: u64,
    /// Batches final.
    pub batches_final: u64,
    /// Batches voided.
    pub batches_voided: u64,
    /// Epochs finalized.
    pub epochs_finalized: u64,
}

/// The status page's headline ([`Index::summary`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Last block applied.
    pub block: u64,
    /// Its timestamp.
    pub block_time: u64,
    /// Counts.
    pub counts: Counts,
    /// Submission time of the oldest version still pending (None when none is).
    pub oldest_pending_since: Option<u64>,
    /// The latest registrations, newest first.
    pub recent_registrations: Vec<VersionView>,
}

#[derive(Debug, Clone)]
struct Version {
    name: B256,
    submitter: Address,
    version: u64,
    relation: u8,
    parents: Vec<U256>,
    content_hash: B256,
    size: u64,
    storage_uri: String,
    tags: Vec<B256>,
    fee: U256,
    priority_fee: U256,
    status: u8,
    reason: u8,
    submitted_at: u64,
    finalized_at: Option<u64>,
}

#[derive(Debug, Clone)]
struct Request {
    payer: Address,
    node: Address,
    model_version: U256,
    fee: U256,
    deadline: u64,
    requested_at: u64,
    answered_at: Option<u64>,
    output_hash: Option<B256>,
    proven_at: Option<u64>,
    batch: Option<U256>,
    settled_at: Option<u64>,
    refunded_at: Option<u64>,
    slashed: Option<U256>,
}

#[derive(Debug, Clone)]
struct Batch {
    submitter: Address,
    root: B256,
    count: u64,
    bond: U256,
    data_uri: String,
    anchored_at: u64,
    status: u8,
    void: Option<(u8, B256, Address)>,
}

/// A voter's allocation as cast in `epoch`: per-gauge slopes until `end`.
#[derive(Debug, Clone)]
struct Vote {
    epoch: u64,
    end: u64,
    slopes: Vec<Allocation>,
}

/// One gauge of a vote: its basis points and the slope they gave it.
#[derive(Debug, Clone, Copy)]
struct Allocation {
    gauge: Address,
    bps: U256,
    slope: U256,
}

#[derive(Debug, Clone, Default)]
struct Epoch {
    emission: U256,
    distributed: U256,
    carried: U256,
    total_weight: U256,
    gauges: Vec<(Address, U256, U256)>,
    supply: Option<U256>,
    finalized: bool,
}

/// The projection. See the module docs.
#[derive(Debug, Clone, Default)]
pub struct Index {
    block: u64,
    block_time: u64,
    calendar: Option<Calendar>,
    versions: BTreeMap<U256, Version>,
    owners: HashMap<B256, Address>,
    name_versions: HashMap<B256, Vec<U256>>,
    children: HashMap<U256, Vec<U256>>,
    registrations: Vec<U256>,
    requests: HashMap<B256, Request>,
    request_order: Vec<B256>,
    batches: BTreeMap<U256, Batch>,
    votes: HashMap<Address, Vec<Vote>>,
    /// `GaugeVote`s of a vote whose `VoteCast` has not been applied yet.
    allocations: HashMap<Address, Vec<(u64, Allocation)>>,
    epochs: BTreeMap<u64, Epoch>,
}

fn decode<E: SolEvent>(log: &Log) -> Result<E, IndexError> {
    E::decode_log(&log.inner)
        .map(|l| l.data)
        .map_err(|e| IndexError {
            block: log.block_number.unwrap_or(0),
            log_index: log.log_index.unwrap_or(0),
            event: E::SIGNATURE,
            reason: e.to_string(),
        })
}

/// Text of a `bytes32` label: printable ASCII up to the first zero, else hex.
pub fn label(word: &B256) -> String {
    let end = word.iter().position(|b| *b == 0).unwrap_or(32);
    let text = &word[..end];
    if !text.is_empty()
        && word[end..].iter().all(|b| *b == 0)
        && text.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
    {
        String::from_utf8_lossy(text).into_owned()
    } else {
        word.to_string()
    }
}

/// The `bytes32` of a text label (left-aligned, zero-padded; `None` when longer than 32 bytes).
pub fn label_word(text: &str) -> Option<B256> {
    let bytes = text.as_bytes();
    (bytes.len() <= 32).then(|| {
        let mut w = [0u8; 32];
        w[..bytes.len()].copy_from_slice(bytes);
        B256::from(w)
    })
}

fn small(v: &U256) -> u64 {
    u64::try_from(*v).unwrap_or(u64::MAX)
}

fn status_name(code: u8) -> String {
    Status::try_from(code)
        .map(|s| format!("{s:?}"))
        .unwrap_or_else(|c| c.to_string())
}

fn reason_name(code: u8) -> String {
    Reason::try_from(code)
        .map(|r| format!("{r:?}"))
        .unwrap_or_else(|c| c.to_string())
}

fn void_reason_name(code: u8) -> &'static str {
    match code {
        void_reason::BAD_SIGNATURE => "BadSignature",
        void_reason::KEY_NOT_APPROVED => "KeyNotApproved",
        void_reason::BAD_TIME => "BadTime",
        void_reason::MODEL_NOT_USABLE => "ModelNotUsable",
        void_reason::DUPLICATE_REQUEST => "DuplicateRequest",
        void_reason::BAD_FIELDS => "BadFields",
        _ => "Unknown",
    }
}

impl Index {
    /// An empty index; `calendar` is the gauge controller's (needed for epoch figures).
    pub fn new(calendar: Option<Calendar>) -> Self {
        Self {
            calendar,
            ..Self::default()
        }
    }

    /// The last block applied and its timestamp.
    pub fn head(&self) -> (u64, u64) {
        (self.block, self.block_time)
    }

    /// Records that every log up to `block` (timestamp `time`) has been applied.
    pub fn advance(&mut self, block: u64, time: u64) {
        if block >= self.block {
            self.block = block;
            self.block_time = time;
        }
    }

    /// Folds one log (in chain order) emitted at `time` into the index. Logs of other events are ignored.
    ///
    /// # Errors
    /// [`IndexError`] when a log with a known signature does not decode.
    pub fn apply(&mut self, log: &Log, time: u64) -> Result<(), IndexError> {
        let Some(topic) = log.topic0() else {
            return Ok(());
        };
        match *topic {
            registry::VersionSubmitted::SIGNATURE_HASH => {
                let e = decode::<registry::VersionSubmitted>(log)?;
                for parent in &e.parents {
                    self.children.entry(*parent).or_default().push(e.id);
                }
                self.owners.entry(e.name).or_insert(e.submitter);
                self.name_versions.entry(e.name).or_default().push(e.id);
                self.versions.insert(
                    e.id,
                    Version {
                        name: e.name,
                        submitter: e.submitter,
                        version: e.version,
                        relation: e.relation,
                        parents: e.parents.clone(),
                        content_hash: e.contentHash,
                        size: e.size,
                        storage_uri: String::from_utf8_lossy(&e.storageUri).into_owned(),
                        tags: e.tags.clone(),
                        fee: e.fee,
                        priority_fee: e.priorityFee,
                        status: Status::Submitted.code(),
                        reason: 0,
                        submitted_at: time,
                        finalized_at: None,
                    },
                );
            }
            registry::StorageConfirmed::SIGNATURE_HASH => {
                let e = decode::<registry::StorageConfirmed>(log)?;
                if let Some(v) = self.versions.get_mut(&e.id) {
                    v.status = Status::Stored.code();
                }
            }
            registry::VersionFinalized::SIGNATURE_HASH => {
                let e = decode::<registry::VersionFinalized>(log)?;
                if let (true, Some(v)) = (e.changed, self.versions.get_mut(&e.id)) {
                    v.status = e.status;
                    v.reason = e.reason;
                    v.finalized_at = Some(time);
                    if e.status == Status::Registered.code() {
                        self.registrations.push(e.id);
                    }
                }
            }
            registry::YankChanged::SIGNATURE_HASH => {
                let e = decode::<registry::YankChanged>(log)?;
                if let Some(v) = self.versions.get_mut(&e.id) {
                    v.status = if e.yanked {
                        Status::Yanked.code()
                    } else {
                        Status::Registered.code()
                    };
                }
            }
            registry::NameTransferred::SIGNATURE_HASH => {
                let e = decode::<registry::NameTransferred>(log)?;
                self.owners.insert(e.name, e.newOwner);
            }
            settlement::Requested::SIGNATURE_HASH => {
                let e = decode::<settlement::Requested>(log)?;
                if !self.requests.contains_key(&e.requestId) {
                    self.request_order.push(e.requestId);
                }
                self.requests.insert(
                    e.requestId,
                    Request {
                        payer: e.payer,
                        node: e.node,
                        model_version: e.modelVersion,
                        fee: e.fee,
                        deadline: e.deadline,
                        requested_at: time,
                        answered_at: None,
                        output_hash: None,
                        proven_at: None,
                        batch: None,
                        settled_at: None,
                        refunded_at: None,
                        slashed: None,
                    },
                );
            }
            settlement::Answered::SIGNATURE_HASH => {
                let e = decode::<settlement::Answered>(log)?;
                if let Some(r) = self.requests.get_mut(&e.requestId) {
                    r.answered_at = Some(time);
                    r.output_hash = Some(e.outputHash);
                }
            }
            settlement::Proven::SIGNATURE_HASH => {
                let e = decode::<settlement::Proven>(log)?;
                if let Some(r) = self.requests.get_mut(&e.requestId) {
                    r.proven_at = Some(e.provenAt);
                    r.batch = Some(e.batchId);
                }
            }
            settlement::Settled::SIGNATURE_HASH => {
                let e = decode::<settlement::Settled>(log)?;
                if let Some(r) = self.requests.get_mut(&e.requestId) {
                    r.settled_at = Some(time);
                }
            }
            settlement::Refunded::SIGNATURE_HASH => {
                let e = decode::<settlement::Refunded>(log)?;
                if let Some(r) = self.requests.get_mut(&e.requestId) {
                    r.refunded_at = Some(time);
                    r.slashed = Some(e.slashed);
                }
            }
            batches::BatchAnchored::SIGNATURE_HASH => {
                let e = decode::<batches::BatchAnchored>(log)?;
                self.batches.insert(
                    e.batchId,
                    Batch {
                        submitter: e.submitter,
                        root: e.root,
                        count: e.count,
                        bond: e.bond,
                        data_uri: e.dataUri.clone(),
                        anchored_at: time,
                        status: settlement::batch_status::ANCHORED,
                        void: None,
                    },
                );
            }
            batches::BatchFinalized::SIGNATURE_HASH => {
                let e = decode::<batches::BatchFinalized>(log)?;
                if let Some(b) = self.batches.get_mut(&e.batchId) {
                    b.status = settlement::batch_status::FINAL;
                }
            }
            batches::BatchVoided::SIGNATURE_HASH => {
                let e = decode::<batches::BatchVoided>(log)?;
                if let Some(b) = self.batches.get_mut(&e.batchId) {
                    b.status = settlement::batch_status::VOIDED;
                    b.void = Some((e.reason, e.requestId, e.challenger));
                }
            }
            // The controller emits one `GaugeVote` per allocation, then the vote's `VoteCast`.
            gauge::GaugeVote::SIGNATURE_HASH => {
                let e = decode::<gauge::GaugeVote>(log)?;
                self.allocations.entry(e.voter).or_default().push((
                    e.epoch,
                    Allocation {
                        gauge: e.gauge,
                        bps: e.bps,
                        slope: e.slope,
                    },
                ));
            }
            gauge::VoteCast::SIGNATURE_HASH => {
                let e = decode::<gauge::VoteCast>(log)?;
                let slopes = self
                    .allocations
                    .remove(&e.voter)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(epoch, _)| *epoch == e.epoch)
                    .map(|(_, a)| a)
                    .collect();
                let votes = self.votes.entry(e.voter).or_default();
                // A re-vote in the same epoch replaces the earlier one.
                if votes.last().is_some_and(|v| v.epoch == e.epoch) {
                    votes.pop();
                }
                votes.push(Vote {
                    epoch: e.epoch,
                    end: e.end,
                    slopes,
                });
            }
            gauge::GaugeRewarded::SIGNATURE_HASH => {
                let e = decode::<gauge::GaugeRewarded>(log)?;
                self.epochs
                    .entry(e.epoch)
                    .or_default()
                    .gauges
                    .push((e.gauge, e.weight, e.amount));
            }
            gauge::EpochFinalized::SIGNATURE_HASH => {
                let e = decode::<gauge::EpochFinalized>(log)?;
                let epoch = self.epochs.entry(e.epoch).or_default();
                epoch.emission = e.emission;
                epoch.distributed = e.distributed;
                epoch.carried = e.carried;
                epoch.total_weight = e.totalWeight;
                epoch.finalized = true;
            }
            _ => {}
        }
        Ok(())
    }

    /// Finalized epochs whose veBR total supply is not known yet, with their start times.
    pub fn epochs_missing_supply(&self) -> Vec<(u64, u64)> {
        let Some(cal) = self.calendar else {
            return Vec::new();
        };
        self.epochs
            .iter()
            .filter(|(_, e)| e.finalized && e.supply.is_none())
            .map(|(n, _)| (*n, cal.epoch_start(*n)))
            .collect()
    }

    /// Records the veBR total supply at epoch `e`'s start (for its turnout).
    pub fn set_supply(&mut self, e: u64, supply: U256) {
        if let Some(epoch) = self.epochs.get_mut(&e) {
            epoch.supply = Some(supply);
        }
    }

    fn owner_of(&self, name: &B256) -> Address {
        self.owners.get(name).copied().unwrap_or_default()
    }

    fn view(&self, id: &U256, v: &Version) -> VersionView {
        VersionView {
            id: small(id),
            name: label(&v.name),
            owner: self.owner_of(&v.name),
            submitter: v.submitter,
            version: v.version,
            relation: Relation::try_from(v.relation)
                .map(|r| format!("{r:?}"))
                .unwrap_or_else(|c| c.to_string()),
            parents: v.parents.iter().map(small).collect(),
            content_hash: v.content_hash,
            size: v.size,
            storage_uri: v.storage_uri.clone(),
            tags: v.tags.iter().map(label).collect(),
            status: status_name(v.status),
            reason: reason_name(v.reason),
            fee: v.fee.to_string(),
            priority_fee: v.priority_fee.to_string(),
            submitted_at: v.submitted_at,
            finalized_at: v.finalized_at,
        }
    }

    /// The headline figures and the latest registrations.
    pub fn summary(&self) -> Summary {
        let mut counts = Counts::default();
        let mut oldest_pending_since: Option<u64> = None;
        for v in self.versions.values() {
            counts.submitted += 1;
            match Status::try_from(v.status) {
                Ok(Status::Submitted) => counts.awaiting_storage += 1,
                Ok(Status::Stored) => counts.awaiting_registration += 1,
                Ok(Status::Registered) => counts.registered += 1,
                Ok(Status::Yanked) => {
                    counts.registered += 1;
                    counts.yanked += 1;
                }
                Ok(Status::Rejected) => counts.rejected += 1,
                Ok(Status::Expired) => counts.expired += 1,
                _ => {}
            }
            if matches!(
                Status::try_from(v.status),
                Ok(Status::Submitted | Status::Stored)
            ) {
                oldest_pending_since =
                    Some(oldest_pending_since.map_or(v.submitted_at, |t| t.min(v.submitted_at)));
            }
        }
        for r in self.requests.values() {
            counts.requests += 1;
            match request_status(r) {
                "Answered" => counts.answered += 1,
                "Proven" => counts.proven += 1,
                "Settled" => counts.settled += 1,
                "Refunded" => counts.refunded += 1,
                _ => {}
            }
        }
        for b in self.batches.values() {
            counts.batches += 1;
            match b.status {
                settlement::batch_status::FINAL => counts.batches_final += 1,
                settlement::batch_status::VOIDED => counts.batches_voided += 1,
                _ => {}
            }
        }
        counts.epochs_finalized = self.epochs.values().filter(|e| e.finalized).count() as u64;
        let recent_registrations = self
            .registrations
            .iter()
            .rev()
            .take(RECENT)
            .filter_map(|id| self.versions.get(id).map(|v| self.view(id, v)))
            .collect();
        Summary {
            block: self.block,
            block_time: self.block_time,
            counts,
            oldest_pending_since,
            recent_registrations,
        }
    }

    /// Registered (or yanked) versions, filtered by the name's owner, a parent and a tag (all optional).
    pub fn models(
        &self,
        owner: Option<Address>,
        parent: Option<U256>,
        tag: Option<B256>,
    ) -> Vec<VersionView> {
        let registered = |v: &Version| {
            matches!(
                Status::try_from(v.status),
                Ok(Status::Registered | Status::Yanked)
            )
        };
        self.versions
            .iter()
            .filter(|(_, v)| registered(v))
            .filter(|(_, v)| owner.is_none_or(|o| self.owner_of(&v.name) == o))
            .filter(|(_, v)| parent.is_none_or(|p| v.parents.contains(&p)))
            .filter(|(_, v)| tag.is_none_or(|t| v.tags.contains(&t)))
            .map(|(id, v)| self.view(id, v))
            .collect()
    }

    /// A version (any status) with its ancestors, children and the name's other versions.
    pub fn version(&self, id: U256) -> Option<VersionDetail> {
        let v = self.versions.get(&id)?;
        let mut ancestors: Vec<U256> = Vec::new();
        let mut frontier = v.parents.clone();
        for _ in 0..LINEAGE_DEPTH {
            let mut next = Vec::new();
            for p in frontier {
                if p != id && !ancestors.contains(&p) {
                    ancestors.push(p);
                    if let Some(pv) = self.versions.get(&p) {
                        next.extend(pv.parents.iter().copied());
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        Some(VersionDetail {
            version: self.view(&id, v),
            ancestors: ancestors.iter().map(small).collect(),
            children: self
                .children
                .get(&id)
                .map(|c| c.iter().map(small).collect())
                .unwrap_or_default(),
            name_versions: self
                .name_versions
                .get(&v.name)
                .map(|c| c.iter().map(small).collect())
                .unwrap_or_default(),
        })
    }

    /// A paid request by id.
    pub fn request(&self, id: &B256) -> Option<RequestView> {
        self.requests.get(id).map(|r| request_view(id, r))
    }

    /// The latest paid requests, newest first (at most `limit`).
    pub fn recent_requests(&self, limit: usize) -> Vec<RequestView> {
        self.request_order
            .iter()
            .rev()
            .take(limit)
            .filter_map(|id| self.request(id))
            .collect()
    }

    /// Every batch, newest first (at most `limit`).
    pub fn batches(&self, limit: usize) -> Vec<BatchView> {
        self.batches
            .iter()
            .rev()
            .take(limit)
            .map(|(id, b)| BatchView {
                batch_id: small(id),
                submitter: b.submitter,
                root: b.root,
                count: b.count,
                bond: b.bond.to_string(),
                data_uri: b.data_uri.clone(),
                status: match b.status {
                    settlement::batch_status::FINAL => "Final",
                    settlement::batch_status::VOIDED => "Voided",
                    _ => "Anchored",
                },
                anchored_at: b.anchored_at,
                void_reason: b.void.map(|(r, _, _)| void_reason_name(r)),
                void_request: b.void.map(|(_, id, _)| id),
                challenger: b.void.map(|(_, _, c)| c),
            })
            .collect()
    }

    /// Per-node figures, nodes in address order.
    pub fn scoreboard(&self) -> Vec<NodeScore> {
        let mut nodes: BTreeMap<Address, (NodeScore, Vec<u64>)> = BTreeMap::new();
        let entry = |nodes: &mut BTreeMap<Address, (NodeScore, Vec<u64>)>, node: Address| {
            nodes
                .entry(node)
                .or_insert_with(|| {
                    (
                        NodeScore {
                            node,
                            requests: 0,
                            answered: 0,
                            proven: 0,
                            settled: 0,
                            missed_deadlines: 0,
                            latency_p50: None,
                            latency_p99: None,
                            voided_batches: 0,
                            duplicates: 0,
                        },
                        Vec::new(),
                    )
                })
                .clone()
        };
        for r in self.requests.values() {
            let (mut score, mut latencies) = entry(&mut nodes, r.node);
            score.requests += 1;
            score.answered += u64::from(r.answered_at.is_some());
            score.proven += u64::from(r.proven_at.is_some());
            score.settled += u64::from(r.settled_at.is_some());
            score.missed_deadlines += u64::from(r.refunded_at.is_some());
            if let (Some(a), Some(p)) = (r.answered_at, r.proven_at) {
                latencies.push(p.saturating_sub(a));
            }
            nodes.insert(r.node, (score, latencies));
        }
        for b in self.batches.values() {
            let Some((reason, request, _)) = b.void else {
                continue;
            };
            let Some(r) = self.requests.get(&request) else {
                continue;
            };
            let (mut score, latencies) = entry(&mut nodes, r.node);
            if reason == void_reason::DUPLICATE_REQUEST {
                score.duplicates += 1;
            } else {
                score.voided_batches += 1;
            }
            nodes.insert(r.node, (score, latencies));
        }
        nodes
            .into_values()
            .map(|(mut score, mut latencies)| {
                latencies.sort_unstable();
                score.latency_p50 = stats::percentile(&latencies, 50);
                score.latency_p99 = stats::percentile(&latencies, 99);
                score
            })
            .collect()
    }

    /// Each voter's weight at epoch `e`'s start: the latest vote cast in `e`'s season at or before `e`, each
    /// gauge's slope × (end − start) while the lock runs. Also returns how many voters cast in `e`.
    fn voter_weights(&self, e: u64, cal: &Calendar) -> (Vec<U256>, u64) {
        let start = cal.epoch_start(e);
        let mut weights = Vec::new();
        let mut cast = 0;
        for votes in self.votes.values() {
            let Some(vote) = voter::live_vote(votes, e, cal) else {
                continue;
            };
            cast += u64::from(vote.epoch == e);
            if vote.end <= start {
                continue;
            }
            let remaining = U256::from(vote.end - start);
            let w = vote.slopes.iter().fold(U256::ZERO, |acc, a| {
                acc.saturating_add(a.slope.saturating_mul(remaining))
            });
            if w > U256::ZERO {
                weights.push(w);
            }
        }
        (weights, cast)
    }

    /// Finalized epochs, oldest first, with gauge weights, turnout and concentration.
    pub fn epochs(&self) -> Vec<EpochView> {
        let Some(cal) = self.calendar else {
            return Vec::new();
        };
        self.epochs
            .iter()
            .filter(|(_, e)| e.finalized)
            .map(|(n, e)| {
                let (weights, cast) = self.voter_weights(*n, &cal);
                let c = stats::Concentration::of(&weights);
                let turnout = e
                    .supply
                    .filter(|s| *s > U256::ZERO)
                    .map(|s| stats::ratio(c.total, s));
                EpochView {
                    epoch: *n,
                    season: cal.season(*n),
                    start: cal.epoch_start(*n),
                    emission: e.emission.to_string(),
                    distributed: e.distributed.to_string(),
                    carried: e.carried.to_string(),
                    total_weight: e.total_weight.to_string(),
                    gauges: e
                        .gauges
                        .iter()
                        .map(|(g, w, a)| GaugeShare {
                            gauge: *g,
                            weight: w.to_string(),
                            amount: a.to_string(),
                        })
                        .collect(),
                    voters: weights.len() as u64,
                    cast,
                    turnout,
                    top1_share: c.top1_share,
                    top5_share: c.top5_share,
                    nakamoto: c.nakamoto,
                    voter_weight: c.total.to_string(),
                }
            })
            .collect()
    }
}

fn request_status(r: &Request) -> &'static str {
    if r.refunded_at.is_some() {
        "Refunded"
    } else if r.settled_at.is_some() {
        "Settled"
    } else if r.proven_at.is_some() {
        "Proven"
    } else if r.answered_at.is_some() {
        "Answered"
    } else {
        "Requested"
    }
}

fn request_view(id: &B256, r: &Request) -> RequestView {
    RequestView {
        request_id: *id,
        payer: r.payer,
        node: r.node,
        model_version: small(&r.model_version),
        fee: r.fee.to_string(),
        deadline: r.deadline,
        status: request_status(r),
        requested_at: r.requested_at,
        answered_at: r.answered_at,
        output_hash: r.output_hash,
        proven_at: r.proven_at,
        proven_by_batch: r.batch.as_ref().map(small),
        closed_at: r.settled_at.or(r.refunded_at),
        slashed: r.slashed.map(|s| s.to_string()),
    }
}

#[cfg(test)]
mod tests;
