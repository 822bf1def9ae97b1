//! Feeds the [`Index`] from the chain: `eth_getLogs` over the configured contracts in bounded ranges, block
//! timestamps from headers, the veBR supply at each finalized epoch's start (for turnout), and the per-node
//! metrics. A reorg under the last applied block rebuilds the index from the start block (it is a cache of the
//! chain, never a source of truth). A range is applied whole or not at all: logs of a block that changed while
//! the range was read are refused before anything is applied, and an event that fails half-way through a range
//! resets the index (a retry of the range never applies an event twice).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::transports::{RpcError, TransportErrorKind};
use prometheus::{IntGauge, IntGaugeVec, Opts};
use tokio::sync::RwLock;
use tracing::{debug, warn};
use verity_abi::rpc::{IGaugeController, IInferenceSettlement, IVotingEscrow};

use super::{Calendar, Index, IndexError};
use crate::http::{HttpError, Metrics};

/// Errors of the follower.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    /// An RPC call failed.
    #[error("rpc: {0}")]
    Rpc(#[from] RpcError<TransportErrorKind>),
    /// A contract view failed.
    #[error("contract call: {0}")]
    Contract(#[from] alloy::contract::Error),
    /// A log did not decode.
    #[error(transparent)]
    Decode(#[from] IndexError),
    /// The node does not know a block it just reported.
    #[error("block {0} missing from the node")]
    MissingBlock(u64),
    /// The metrics could not be registered.
    #[error(transparent)]
    Metrics(#[from] HttpError),
}

/// What to index.
#[derive(Debug, Clone)]
pub struct FollowerConfig {
    /// ModelRegistry (listings, lineage, backlog).
    pub registry: Option<Address>,
    /// InferenceSettlement (requests; its `config()` names ReceiptBatches for the batches).
    pub settlement: Option<Address>,
    /// GaugeController (epochs; its `config()` names the escrow for turnout).
    pub gauge: Option<Address>,
    /// First block to read (the deployment block).
    pub start_block: u64,
    /// Most blocks per `eth_getLogs`.
    pub max_range: u64,
    /// Pause between polls.
    pub poll: Duration,
}

impl FollowerConfig {
    /// Index whichever of the three contracts are given, from `start_block`, 2,000 blocks per read, every second.
    pub fn new(
        registry: Option<Address>,
        settlement: Option<Address>,
        gauge: Option<Address>,
        start_block: u64,
    ) -> Self {
        Self {
            registry,
            settlement,
            gauge,
            start_block,
            max_range: 2_000,
            poll: Duration::from_secs(1),
        }
    }
}

/// Per-node and index metrics (Prometheus).
#[derive(Debug, Clone)]
struct IndexMetrics {
    block: IntGauge,
    latency: IntGaugeVec,
    missed: IntGaugeVec,
    voided: IntGaugeVec,
    duplicates: IntGaugeVec,
}

impl IndexMetrics {
    fn register(metrics: &Metrics) -> Result<Self, HttpError> {
        let block = IntGauge::new("keeper_index_block", "Last block applied by the indexer")?;
        let latency = IntGaugeVec::new(
            Opts::new(
                "keeper_node_proof_latency_seconds",
                "Answer-to-proof latency per node (p50, p99)",
            ),
            &["node", "quantile"],
        )?;
        let missed = IntGaugeVec::new(
            Opts::new(
                "keeper_node_missed_deadlines",
                "Requests refunded for want of a proof, per node",
            ),
            &["node"],
        )?;
        let voided = IntGaugeVec::new(
            Opts::new(
                "keeper_node_voided_batches",
                "Batches voided over one of the node's receipts, per node",
            ),
            &["node"],
        )?;
        let duplicates = IntGaugeVec::new(
            Opts::new(
                "keeper_node_duplicates",
                "Batches voided for a duplicate request id of the node, per node",
            ),
            &["node"],
        )?;
        metrics.register(Box::new(block.clone()))?;
        metrics.register(Box::new(latency.clone()))?;
        metrics.register(Box::new(missed.clone()))?;
        metrics.register(Box::new(voided.clone()))?;
        metrics.register(Box::new(duplicates.clone()))?;
        Ok(Self {
            block,
            latency,
            missed,
            voided,
            duplicates,
        })
    }

    fn publish(&self, index: &Index) {
        self.block
            .set(i64::try_from(index.head().0).unwrap_or(i64::MAX));
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        for s in index.scoreboard() {
            let node = s.node.to_string();
            for (q, v) in [("0.5", s.latency_p50), ("0.99", s.latency_p99)] {
                if let Some(v) = v {
                    self.latency.with_label_values(&[&node, q]).set(gauge(v));
                }
            }
            self.missed
                .with_label_values(&[&node])
                .set(gauge(s.missed_deadlines));
            self.voided
                .with_label_values(&[&node])
                .set(gauge(s.voided_batches));
            self.duplicates
                .with_label_values(&[&node])
                .set(gauge(s.duplicates));
        }
    }
}

/// Reads logs into a shared [`Index`].
#[derive(Debug)]
pub struct Follower<P> {
    provider: P,
    config: FollowerConfig,
    addresses: Vec<Address>,
    escrow: Option<Address>,
    token: Option<Address>,
    calendar: Option<Calendar>,
    last: Option<(u64, B256)>,
    index: Arc<RwLock<Index>>,
    metrics: Option<IndexMetrics>,
    rebuilds: u64,
}

impl<P: Provider + Clone> Follower<P> {
    /// Reads the contracts' configuration (batches address, calendar, escrow and its token) and returns a
    /// follower with an empty index.
    ///
    /// # Errors
    /// A configuration view failed (wrong address, node down).
    pub async fn connect(provider: P, config: FollowerConfig) -> Result<Self, FollowError> {
        let mut addresses: Vec<Address> = config.registry.into_iter().collect();
        if let Some(settlement) = config.settlement {
            let c = IInferenceSettlement::new(settlement, provider.clone())
                .config()
                .call()
                .await?;
            addresses.push(settlement);
            addresses.push(c._3);
        }
        let (mut calendar, mut escrow, mut token) = (None, None, None);
        if let Some(gauge) = config.gauge {
            let c = IGaugeController::new(gauge, provider.clone())
                .config()
                .call()
                .await?;
            escrow = Some(c._1);
            token = Some(
                IVotingEscrow::new(c._1, provider.clone())
                    .token()
                    .call()
                    .await?,
            );
            calendar = Some(Calendar {
                genesis: c._2,
                epoch_len: c._3,
                season_len: c._4,
            });
            addresses.push(gauge);
        }
        Ok(Self {
            provider,
            config,
            addresses,
            escrow,
            token,
            calendar,
            last: None,
            index: Arc::new(RwLock::new(Index::new(calendar))),
            metrics: None,
            rebuilds: 0,
        })
    }

    /// Also publishes per-node figures as Prometheus metrics on `metrics`.
    ///
    /// # Errors
    /// A metric name is already registered.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Result<Self, FollowError> {
        self.metrics = Some(IndexMetrics::register(metrics)?);
        Ok(self)
    }

    /// How often a reorg under the last applied block made the index start over.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }

    /// The contracts a wallet talks to, by deployment name (`token`, `escrow`, `gauge`, `registry`,
    /// `settlement`), as configured or read from their `config()` views.
    pub fn contracts(&self) -> Vec<(&'static str, Address)> {
        let named = [
            ("token", self.token),
            ("escrow", self.escrow),
            ("gauge", self.config.gauge),
            ("registry", self.config.registry),
            ("settlement", self.config.settlement),
        ];
        named
            .into_iter()
            .filter_map(|(n, a)| a.map(|a| (n, a)))
            .collect()
    }

    /// The gauge controller's calendar (`None` without a gauge).
    pub fn calendar(&self) -> Option<Calendar> {
        self.calendar
    }

    /// The shared index (what the HTTP API reads).
    pub fn index(&self) -> Arc<RwLock<Index>> {
        self.index.clone()
    }

    async fn header(&self, number: u64) -> Result<(B256, u64), FollowError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await?
            .ok_or(FollowError::MissingBlock(number))?;
        Ok((block.header.hash, block.header.timestamp))
    }

    /// Applies every log up to the current head. Returns whether the index changed.
    ///
    /// # Errors
    /// RPC failures (transient: call again) and undecodable logs.
    pub async fn poll(&mut self) -> Result<bool, FollowError> {
        if self.addresses.is_empty() {
            return Ok(false);
        }
        if let Some((number, hash)) = self.last {
            let now = self
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(number))
                .await?
                .map(|b| b.header.hash);
            if now != Some(hash) {
                warn!(target: "keeper::index", block = number, "reorg under the index; rebuilding from the start block");
                *self.index.write().await = Index::new(self.calendar);
                self.last = None;
                self.rebuilds += 1;
            }
        }
        let head = self.provider.get_block_number().await?;
        let mut from = self.last.map_or(self.config.start_block, |(n, _)| n + 1);
        let mut changed = false;
        while from <= head {
            let to = head.min(from.saturating_add(self.config.max_range.max(1) - 1));
            let filter = Filter::new()
                .address(self.addresses.clone())
                .from_block(from)
                .to_block(to);
            let logs = self.provider.get_logs(&filter).await?;
            let mut times: BTreeMap<u64, u64> = BTreeMap::new();
            for log in &logs {
                if let (Some(n), Some(t)) = (log.block_number, log.block_timestamp) {
                    times.insert(n, t);
                }
            }
            let untimed: Vec<u64> = logs
                .iter()
                .filter_map(|l| l.block_number)
                .filter(|n| !times.contains_key(n))
                .collect();
            for n in untimed {
                if let std::collections::btree_map::Entry::Vacant(slot) = times.entry(n) {
                    slot.insert(self.header(n).await?.1);
                }
            }
            let (to_hash, to_time) = self.header(to).await?;
            if logs
                .iter()
                .any(|l| l.block_number == Some(to) && l.block_hash != Some(to_hash))
            {
                // A reorg while the range was read: nothing of it is applied; the next poll reads it again.
                return Err(FollowError::MissingBlock(to));
            }
            {
                let mut index = self.index.write().await;
                for log in &logs {
                    let time = log
                        .block_number
                        .and_then(|n| times.get(&n).copied())
                        .unwrap_or(to_time);
                    if let Err(e) = index.apply(log, time) {
                        // Part of the range is applied: a retry of the range would apply it twice. Start over
                        // from the start block instead (the index is a cache of the chain).
                        *index = Index::new(self.calendar);
                        self.last = None;
                        self.rebuilds += 1;
                        return Err(e.into());
                    }
                }
                index.advance(to, to_time);
            }
            changed |= !logs.is_empty();
            debug!(target: "keeper::index", from, to, logs = logs.len(), "indexed");
            self.last = Some((to, to_hash));
            from = to + 1;
        }
        self.read_supplies().await?;
        if let Some(m) = &self.metrics {
            m.publish(&*self.index.read().await);
        }
        Ok(changed)
    }

    async fn read_supplies(&self) -> Result<(), FollowError> {
        let Some(escrow) = self.escrow else {
            return Ok(());
        };
        let missing = self.index.read().await.epochs_missing_supply();
        if missing.is_empty() {
            return Ok(());
        }
        let escrow = IVotingEscrow::new(escrow, self.provider.clone());
        let mut supplies: Vec<(u64, U256)> = Vec::with_capacity(missing.len());
        for (epoch, start) in missing {
            supplies.push((epoch, escrow.totalSupplyAt(start).call().await?));
        }
        let mut index = self.index.write().await;
        for (epoch, supply) in supplies {
            index.set_supply(epoch, supply);
        }
        Ok(())
    }

    /// Polls until `shutdown` resolves; failures are logged and retried on the next poll.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.poll().await {
                warn!(target: "keeper::index", error = %e, "index poll failed; retrying");
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.config.poll) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Bytes, LogData, U64};
    use alloy::providers::ProviderBuilder;
    use alloy::rpc::types::{Block, Log};
    use alloy::sol_types::SolEvent;
    use alloy::transports::mock::Asserter;
    use verity_abi::registry::{self, Reason, Relation, Status};

    fn log(data: LogData, block: u64, index: u64) -> Log {
        Log {
            inner: alloy::primitives::Log {
                address: Address::repeat_byte(0x5e),
                data,
            },
            block_number: Some(block),
            block_timestamp: Some(1_000 + block),
            log_index: Some(index),
            ..Default::default()
        }
    }

    fn block(number: u64) -> Block {
        let mut b: Block = Block::default();
        b.header.hash = B256::repeat_byte(number as u8);
        b.header.inner.number = number;
        b.header.inner.timestamp = 1_000 + number;
        b
    }

    /// A registered version: submitted, then finalized (each appends to a listing, so a double apply shows).
    fn good() -> Vec<Log> {
        let submitted = registry::VersionSubmitted {
            id: U256::from(1),
            name: super::super::label_word("m").unwrap(),
            submitter: Address::repeat_byte(0xa1),
            version: 1,
            relation: Relation::Original.code(),
            parents: vec![],
            contentHash: B256::repeat_byte(1),
            size: 100,
            storageUri: Bytes::from_static(b"https://x/m"),
            format: 1,
            runtime: B256::repeat_byte(1),
            ioSchemaHash: B256::repeat_byte(2),
            licenseId: B256::repeat_byte(3),
            metadataHash: B256::repeat_byte(4),
            metadataUri: Bytes::from_static(b"ipfs://meta"),
            tags: vec![],
            fee: U256::from(1_000),
            priorityFee: U256::from(10),
        };
        let finalized = registry::VersionFinalized {
            id: U256::from(1),
            status: Status::Registered.code(),
            reason: Reason::None.code(),
            changed: true,
        };
        vec![
            log(submitted.encode_log_data(), 3, 0),
            log(finalized.encode_log_data(), 3, 1),
        ]
    }

    /// Issue 15 #8 (indexer): an event that fails half-way through a range leaves nothing of the range applied
    /// (the index starts over), so retrying the range never applies an event twice.
    #[tokio::test]
    async fn a_range_that_fails_half_way_is_never_applied_twice() {
        let asserter = Asserter::new();
        let provider = ProviderBuilder::new().connect_mocked_client(asserter.clone());
        let mut follower = Follower::connect(
            provider,
            FollowerConfig::new(Some(Address::repeat_byte(0x5e)), None, None, 0),
        )
        .await
        .unwrap();
        // A known event that does not decode, after the good ones in the same range.
        let bad = log(
            LogData::new_unchecked(
                vec![registry::VersionSubmitted::SIGNATURE_HASH],
                vec![1, 2, 3].into(),
            ),
            4,
            0,
        );
        let mut first = good();
        first.push(bad);
        asserter.push_success(&U64::from(5));
        asserter.push_success(&first);
        asserter.push_success(&block(5));
        assert!(follower.poll().await.is_err());
        assert_eq!(
            follower.index().read().await.summary().counts.submitted,
            0,
            "nothing of the failed range stays applied"
        );
        // The retry (the bad log fixed upstream) applies the range once.
        asserter.push_success(&U64::from(5));
        asserter.push_success(&good());
        asserter.push_success(&block(5));
        assert!(follower.poll().await.unwrap());
        let summary = follower.index().read().await.summary();
        assert_eq!(summary.counts.registered, 1);
        assert_eq!(
            summary.recent_registrations.len(),
            1,
            "registered once, not once per read"
        );
    }
}
