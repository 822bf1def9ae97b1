//! The receipts' event stream: ReceiptBatches' `BatchAnchored` / `BatchFinalized` / `BatchVoided` and
//! InferenceSettlement's paid-request events, read with `eth_getLogs` through the persisted `(block, hash)` cursor
//! ([`LogReader`], re-reading `lookback` blocks after a reorg under it) and applied to the store, each idempotently
//! (a batch by its on-chain id, a request by its id), before the cursor moves — a crash re-reads, never skips.
//!
//! It runs as the first receipts job of every pass ([`ReceiptEvents`]: it plans no intent), so the batcher,
//! finalizer, watcher and prover decide on what the chain said up to the head. A void of one of our batches
//! releases its honest receipts for re-anchoring in the same database transaction
//! ([`ReceiptStore::apply_voided`]).

use std::collections::HashMap;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use tracing::{info, warn};
use verity_abi::settlement::{
    self,
    batches::{BatchAnchored, BatchFinalized, BatchVoided},
    request_status,
};

use super::store::{Anchored, ReceiptStore, RequestView};
use crate::chain::cursor::{LogReader, StreamConfig};
use crate::chain::events::decode;
use crate::failpoint::{Failpoint, Failpoints};
use crate::jobs::{Job, JobError, Plan, PlanFuture, Result};
use crate::store::CursorStore;

/// The job's name.
pub const JOB_NAME: &str = "receipt-events";

/// Most `eth_getLogs` ranges read per pass.
const MAX_RANGES_PER_PASS: usize = 64;

/// Where the receipts' events come from.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Cursor row name.
    pub stream: String,
    /// ReceiptBatches.
    pub batches: Address,
    /// InferenceSettlement.
    pub settlement: Address,
    /// The keeper's own address (its batches are "ours").
    pub us: Address,
    /// First block read when no cursor is stored.
    pub start_block: u64,
    /// Blocks re-read after a reorg under the cursor.
    pub lookback: u64,
    /// Most blocks per `eth_getLogs` call.
    pub max_range: u64,
    /// Armed failpoints (tests): [`Failpoint::AfterEventsApplied`] stops after a range is applied, before the
    /// cursor moves.
    pub failpoints: Failpoints,
}

/// The events job.
pub struct ReceiptEvents<S> {
    store: S,
    config: EventsConfig,
}

impl<S> std::fmt::Debug for ReceiptEvents<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptEvents")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: ReceiptStore + CursorStore + Clone> ReceiptEvents<S> {
    /// The stream on `store`.
    pub fn new(store: S, config: EventsConfig) -> Self {
        Self { store, config }
    }

    /// Reads and applies everything up to the head (at most [`MAX_RANGES_PER_PASS`] ranges); returns how many
    /// events were applied.
    ///
    /// # Errors
    /// RPC, store or decoding failures (the cursor stays where it was).
    pub async fn sync<P: Provider + Clone + 'static>(&self, provider: &P) -> Result<usize> {
        let reader = LogReader::new(
            self.store.clone(),
            provider.clone(),
            StreamConfig {
                stream: self.config.stream.clone(),
                addresses: vec![self.config.batches, self.config.settlement],
                start_block: self.config.start_block,
                lookback: self.config.lookback,
                max_range: self.config.max_range,
                confirmations: 0,
            },
        );
        let mut applied = 0;
        let mut times: HashMap<u64, u64> = HashMap::new();
        for _ in 0..MAX_RANGES_PER_PASS {
            let Some(batch) = reader.poll().await? else {
                break;
            };
            if batch.rewound {
                self.rewind(provider, batch.from).await?;
            }
            let mut in_range = 0;
            for log in &batch.logs {
                if self.apply(provider, log, &mut times).await? {
                    in_range += 1;
                }
            }
            applied += in_range;
            if in_range > 0 {
                self.config
                    .failpoints
                    .check_at(
                        Failpoint::AfterEventsApplied,
                        &format!("blocks:{}-{}", batch.from, batch.to.block),
                    )
                    .map_err(JobError::Failpoint)?;
            }
            reader.commit(&batch).await?;
        }
        Ok(applied)
    }

    /// A reorg under the cursor: undo what the orphaned blocks (from `from` on) applied, and re-derive the paid
    /// requests they touched from the chain's view; the winning branch's events are applied next.
    async fn rewind<P: Provider>(&self, provider: &P, from: u64) -> Result<()> {
        let requests = self.store.rewind(from).await?;
        let settlement =
            verity_abi::rpc::IInferenceSettlement::new(self.config.settlement, provider);
        for id in &requests {
            let r = settlement.getRequest(*id).call().await?;
            let view = (r._6 != request_status::NONE).then_some(RequestView {
                status: r._6,
                deadline: r._8,
                proven_at: r._9,
            });
            self.store.reset_request(*id, view).await?;
        }
        warn!(target: "keeper::receipts::events", from, requests = requests.len(), "reorg: state applied from orphaned blocks rolled back; re-reading the winning branch");
        Ok(())
    }

    async fn block_time<P: Provider>(
        &self,
        provider: &P,
        log: &Log,
        times: &mut HashMap<u64, u64>,
    ) -> Result<u64> {
        if let Some(t) = log.block_timestamp {
            return Ok(t);
        }
        let n = log.block_number.ok_or(JobError::NoLatestBlock)?;
        if let Some(t) = times.get(&n) {
            return Ok(*t);
        }
        let block = provider
            .get_block_by_number(BlockNumberOrTag::Number(n))
            .await?
            .ok_or(JobError::NoLatestBlock)?;
        times.insert(n, block.header.timestamp);
        Ok(block.header.timestamp)
    }

    async fn apply<P: Provider>(
        &self,
        provider: &P,
        log: &Log,
        times: &mut HashMap<u64, u64>,
    ) -> Result<bool> {
        let Some(topic0) = log.topic0().copied() else {
            return Ok(false);
        };
        let block = log.block_number.ok_or(JobError::NoLatestBlock)?;
        let from_batches = log.address() == self.config.batches;
        // A known event that does not decode is an error (crate::chain::events): the cursor stays before it and
        // the job reports itself broken every pass, rather than skipping a batch or a paid request for ever.
        if from_batches {
            match topic0 {
                BatchAnchored::SIGNATURE_HASH => {
                    let e: BatchAnchored = decode(log)?;
                    let anchored_at = self.block_time(provider, log, times).await?;
                    let anchored = Anchored {
                        chain_batch: e.batchId.saturating_to(),
                        submitter: e.submitter,
                        root: e.root,
                        count: e.count,
                        anchored_at,
                        data_uri: e.dataUri.clone(),
                        block,
                    };
                    let id = self
                        .store
                        .apply_anchored(&anchored, self.config.us, crate::lease::now_ms())
                        .await?;
                    info!(target: "keeper::receipts::events", batch = %e.batchId, local = id, submitter = %e.submitter, count = e.count, ours = e.submitter == self.config.us, "batch anchored");
                }
                BatchFinalized::SIGNATURE_HASH => {
                    let e: BatchFinalized = decode(log)?;
                    self.store
                        .apply_finalized(e.batchId.saturating_to(), block)
                        .await?;
                    info!(target: "keeper::receipts::events", batch = %e.batchId, "batch final");
                }
                BatchVoided::SIGNATURE_HASH => {
                    let e: BatchVoided = decode(log)?;
                    self.store
                        .apply_voided(e.batchId.saturating_to(), e.reason, e.requestId, block)
                        .await?;
                    warn!(target: "keeper::receipts::events", batch = %e.batchId, reason = e.reason, request = %e.requestId, challenger = %e.challenger, "batch voided");
                }
                _ => return Ok(false),
            }
            return Ok(true);
        }
        let (id, status, proven_at) = match topic0 {
            settlement::Requested::SIGNATURE_HASH => {
                let e: settlement::Requested = decode(log)?;
                self.store
                    .upsert_request(e.requestId, e.deadline, block)
                    .await?;
                return Ok(true);
            }
            settlement::Answered::SIGNATURE_HASH => {
                let e: settlement::Answered = decode(log)?;
                (e.requestId, request_status::ANSWERED, None)
            }
            settlement::Proven::SIGNATURE_HASH => {
                let e: settlement::Proven = decode(log)?;
                (e.requestId, request_status::PROVEN, Some(e.provenAt))
            }
            settlement::Settled::SIGNATURE_HASH => {
                let e: settlement::Settled = decode(log)?;
                (e.requestId, request_status::SETTLED, None)
            }
            settlement::Refunded::SIGNATURE_HASH => {
                let e: settlement::Refunded = decode(log)?;
                (e.requestId, request_status::REFUNDED, None)
            }
            settlement::Disputed::SIGNATURE_HASH => {
                let e: settlement::Disputed = decode(log)?;
                // Unresolved by governance, the dispute can be settled for the node from its expiry on.
                self.store
                    .set_request_deadline(e.requestId, e.expiresAt)
                    .await?;
                (e.requestId, request_status::DISPUTED, None)
            }
            _ => return Ok(false),
        };
        self.store
            .set_request_status(id, status, proven_at, block)
            .await?;
        Ok(true)
    }
}

impl<P, S> Job<P> for ReceiptEvents<S>
where
    P: Provider + Clone + 'static,
    S: ReceiptStore + CursorStore + Clone,
{
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn plan<'a>(&'a self, provider: &'a P) -> PlanFuture<'a> {
        Box::pin(async move {
            self.sync(provider).await?;
            Ok(Plan::default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Log as PrimLog, LogData, B256};
    use alloy::providers::ProviderBuilder;
    use alloy::transports::mock::Asserter;

    /// A `Requested` log whose data does not decode stops the stream with an error; it is never counted as
    /// applied (nor skipped with a warning).
    #[tokio::test]
    async fn an_undecodable_known_event_stops_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
        let store = crate::store::SqliteStore::connect(&url).await.unwrap();
        let settlement_at = Address::repeat_byte(0x5e);
        let events = ReceiptEvents::new(
            store.clone(),
            EventsConfig {
                stream: "receipts".into(),
                batches: Address::repeat_byte(0xba),
                settlement: settlement_at,
                us: Address::ZERO,
                start_block: 0,
                lookback: 8,
                max_range: 100,
                failpoints: Failpoints::none(),
            },
        );
        // The mock transport answers nothing: decoding must fail before any RPC call.
        let provider = ProviderBuilder::new().connect_mocked_client(Asserter::new());
        for topic in [
            settlement::Requested::SIGNATURE_HASH,
            settlement::Answered::SIGNATURE_HASH,
            BatchAnchored::SIGNATURE_HASH,
        ] {
            let address = if topic == BatchAnchored::SIGNATURE_HASH {
                events.config.batches
            } else {
                settlement_at
            };
            let log = Log {
                inner: PrimLog {
                    address,
                    data: LogData::new_unchecked(
                        vec![topic, B256::repeat_byte(1)],
                        vec![1, 2, 3].into(),
                    ),
                },
                block_number: Some(3),
                transaction_hash: Some(B256::repeat_byte(2)),
                log_index: Some(0),
                ..Default::default()
            };
            let got = events.apply(&provider, &log, &mut HashMap::new()).await;
            assert!(matches!(got, Err(JobError::Decode(_))), "{topic}: {got:?}");
        }
        assert!(store
            .requests_in(&[request_status::REQUESTED])
            .await
            .unwrap()
            .is_empty());
    }
}
