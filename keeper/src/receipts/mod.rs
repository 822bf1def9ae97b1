//! Receipts (issue 7): the keeper's half of InferenceSettlement's fast layer.
//!
//! - **Intake** ([`intake`], HTTP in [`api`]): a signed receipt is judged as SettlementNodes' `receiptFault` would
//!   judge it ([`judge`]), deduplicated by request id and persisted (group commit) before the `2xx`.
//! - **Batches** ([`batcher`]): waiting receipts → a Merkle batch (size or age) → persisted with its leaves →
//!   `anchor:<root>` with the bond; [`finalizer`] finalizes our batches after the window
//!   (`finalize-batch:<id>`); a voided batch's honest receipts wait again and are re-anchored.
//! - **Events** ([`events`]): ReceiptBatches' and InferenceSettlement's logs through the persisted cursor.
//! - **Paid requests** ([`paid`]): `proveByBatch` for requests whose receipt sits in a Final batch, `refund` past
//!   the deadline, `settle` after the window.
//! - **Challenge watcher** ([`watcher`]): others' batches are fetched from their data URI and checked leaf by leaf;
//!   an invalid leaf or a duplicate request id is challenged.
//!
//! Everything is in the store ([`store`]); jobs re-derive their intents from it and the chain every pass.

use std::sync::Arc;

use alloy::primitives::Address;
use alloy::providers::Provider;
use axum::Router;
use prometheus::{IntCounter, IntCounterVec, Opts};
use verity_abi::rpc::IInferenceSettlement;

pub mod api;
pub mod batcher;
pub mod events;
pub mod finalizer;
pub mod intake;
pub mod judge;
pub mod paid;
pub mod store;
pub mod watcher;

use crate::http::{HttpError, Metrics};
use crate::jobs::JobError;
use crate::store::{CursorStore, OutboxStore};

/// The receipts' metrics (registered in the keeper's registry).
#[derive(Debug, Clone)]
pub struct ReceiptMetrics {
    /// Receipts offered to intake, by outcome (`accepted`, `duplicate`, `invalid`, `malformed`, `future`,
    /// `too_old`, `conflict`, `unavailable`).
    pub intake: IntCounterVec,
    /// Group commits of the intake writer.
    pub group_commits: IntCounter,
}

impl ReceiptMetrics {
    /// Registers the receipts' metrics with `metrics`' registry.
    ///
    /// # Errors
    /// A duplicate metric name (registered twice in one registry).
    pub fn register(metrics: &Metrics) -> Result<Self, HttpError> {
        let intake = IntCounterVec::new(
            Opts::new(
                "keeper_receipts_intake_total",
                "Receipts offered to intake by outcome",
            ),
            &["outcome"],
        )?;
        let group_commits = IntCounter::new(
            "keeper_receipts_group_commits_total",
            "Database transactions of the receipt intake writer",
        )?;
        metrics.register(Box::new(intake.clone()))?;
        metrics.register(Box::new(group_commits.clone()))?;
        Ok(Self {
            intake,
            group_commits,
        })
    }
}

/// Settings of the receipts part.
#[derive(Debug, Clone)]
pub struct ReceiptsConfig {
    /// InferenceSettlement (SettlementNodes, ReceiptBatches and the registry are read from its `config()`).
    pub settlement: Address,
    /// The keeper's own address (its batches are ours).
    pub us: Address,
    /// Base URL of this keeper's HTTP server as others reach it (data URIs).
    pub public_url: String,
    /// First block read when no cursor is stored.
    pub start_block: u64,
    /// Blocks re-read after a reorg under the cursor.
    pub lookback: u64,
    /// Most receipts per batch.
    pub batch_max: usize,
    /// Wall-clock age that sends a batch that is not full.
    pub batch_max_age: std::time::Duration,
    /// How often the judge re-reads keys, model usability and the chain's clock.
    pub refresh: std::time::Duration,
    /// Intake settings.
    pub intake: intake::IntakeConfig,
    /// What the challenge watcher may fetch (others' batch data: each read is also capped at `count × 384`
    /// bytes) and its per-batch deadline.
    pub fetch: crate::fetch::FetchPolicy,
    /// Armed failpoints (tests; none by default): the jobs' steps of [`crate::failpoint::Failpoint::RECEIPTS`].
    pub failpoints: crate::failpoint::Failpoints,
}

impl ReceiptsConfig {
    /// Defaults for the settlement contract at `settlement`, sending as `us`.
    pub fn new(settlement: Address, us: Address, public_url: impl Into<String>) -> Self {
        Self {
            settlement,
            us,
            public_url: public_url.into(),
            start_block: 0,
            lookback: 64,
            batch_max: 200_000,
            batch_max_age: std::time::Duration::from_secs(60),
            refresh: std::time::Duration::from_secs(1),
            intake: intake::IntakeConfig::default(),
            fetch: crate::fetch::FetchPolicy {
                deadline: std::time::Duration::from_secs(120),
                max_bytes: 128 << 20,
                ..crate::fetch::FetchPolicy::default()
            },
            failpoints: crate::failpoint::Failpoints::none(),
        }
    }
}

/// The contracts around InferenceSettlement, as its `config()` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contracts {
    /// InferenceSettlement.
    pub settlement: Address,
    /// ModelRegistry.
    pub registry: Address,
    /// SettlementNodes.
    pub nodes: Address,
    /// ReceiptBatches.
    pub batches: Address,
}

impl Contracts {
    /// Reads `settlement.config()`.
    ///
    /// # Errors
    /// The call failed (no contract there, or not InferenceSettlement).
    pub async fn read<P: Provider>(provider: &P, settlement: Address) -> Result<Self, JobError> {
        let c = IInferenceSettlement::new(settlement, provider)
            .config()
            .call()
            .await?;
        Ok(Self {
            settlement,
            registry: c._1,
            nodes: c._2,
            batches: c._3,
        })
    }
}

/// The receipts part wired on one store and provider: the HTTP routes and the jobs.
pub struct Receipts<S, P> {
    store: S,
    config: ReceiptsConfig,
    contracts: Contracts,
    judge: Arc<judge::Judge<P>>,
    intake: Arc<intake::Intake<P>>,
}

impl<S, P> std::fmt::Debug for Receipts<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipts")
            .field("config", &self.config)
            .field("contracts", &self.contracts)
            .finish_non_exhaustive()
    }
}

impl<S, P> Receipts<S, P>
where
    S: store::ReceiptStore + OutboxStore + CursorStore + Clone,
    P: Provider + Clone + 'static,
{
    /// Reads the contracts, starts the intake writer and registers the metrics.
    ///
    /// # Errors
    /// A contract read failed, or the metrics were registered twice.
    pub async fn connect(
        store: S,
        provider: P,
        config: ReceiptsConfig,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let contracts = Contracts::read(&provider, config.settlement).await?;
        let judge = Arc::new(
            judge::Judge::connect(
                provider,
                judge::JudgeConfig {
                    nodes: contracts.nodes,
                    refresh: config.refresh,
                },
            )
            .await?,
        );
        let receipt_metrics = ReceiptMetrics::register(metrics)?;
        let intake = Arc::new(intake::Intake::start(
            store.clone(),
            judge.clone(),
            config.intake.clone(),
            receipt_metrics,
        ));
        Ok(Self {
            store,
            config,
            contracts,
            judge,
            intake,
        })
    }

    /// The contracts.
    pub fn contracts(&self) -> Contracts {
        self.contracts
    }

    /// The intake (tests and benchmarks submit through it directly).
    pub fn intake(&self) -> &Arc<intake::Intake<P>> {
        &self.intake
    }

    /// The HTTP routes (`/receipts`, `/receipts/<id>`, `/batches/<root>`).
    pub fn router(&self) -> Router {
        api::router(Arc::new(api::Api::new(
            self.store.clone(),
            self.intake.clone(),
        )))
    }

    /// The events job (run it first).
    pub fn events(&self) -> events::ReceiptEvents<S> {
        events::ReceiptEvents::new(
            self.store.clone(),
            events::EventsConfig {
                stream: "receipts".into(),
                batches: self.contracts.batches,
                settlement: self.contracts.settlement,
                us: self.config.us,
                start_block: self.config.start_block,
                lookback: self.config.lookback,
                max_range: 5_000,
                failpoints: self.config.failpoints.clone(),
            },
        )
    }

    /// The batcher.
    pub fn batcher(&self) -> batcher::ReceiptBatcher<S> {
        let mut c = batcher::ReceiptBatcherConfig::new(
            self.contracts.batches,
            self.config.public_url.clone(),
            self.judge.params().max_receipt_age,
        );
        c.max_size = self.config.batch_max;
        c.max_age = self.config.batch_max_age;
        c.nodes = Some(self.contracts.nodes);
        c.failpoints = self.config.failpoints.clone();
        batcher::ReceiptBatcher::new(self.store.clone(), c)
    }

    /// The finalizer of our batches.
    pub fn finalizer(&self) -> finalizer::BatchFinalizer<S> {
        finalizer::BatchFinalizer::new(self.store.clone(), self.contracts.batches)
    }

    /// The paid-request prover / refunder / settler.
    pub fn paid(&self) -> paid::PaidRequests<S> {
        paid::PaidRequests::new(self.store.clone(), self.contracts.settlement)
    }

    /// The challenge watcher.
    pub fn watcher(&self) -> watcher::ChallengeWatcher<S, P> {
        watcher::ChallengeWatcher::new(
            self.store.clone(),
            self.judge.clone(),
            self.contracts.batches,
            self.contracts.nodes,
            self.config.fetch.clone(),
        )
        .with_failpoints(self.config.failpoints.clone())
    }

    /// Adds every receipts job to `keeper`, the events job first.
    pub fn add_jobs(&self, keeper: crate::keeper::Keeper<S, P>) -> crate::keeper::Keeper<S, P>
    where
        S: crate::store::LeaseStore,
    {
        keeper
            .with_job(self.events())
            .with_job(self.watcher())
            .with_job(self.batcher())
            .with_job(self.finalizer())
            .with_job(self.paid())
    }
}
