//! The registry versions a job still cares about, read from `VersionSubmitted` logs (the storage URI and the
//! priority fee exist only there) through the persisted `(block, hash)` cursor, with the chain's `version(id)` as
//! the truth about where each one stands.
//!
//! Crash safety: the log cursor is read in memory ahead of the persisted row, and the row is only moved up to the
//! block just before the oldest version the job still cares about (the *low-water mark*). So after a crash or a
//! restart the reader starts from the persisted row and reads again every `VersionSubmitted` of every version
//! that was not done with — nothing is lost, and repeats are harmless (a version is a map entry by id, and the job
//! re-derives its intents from the chain; the outbox's idempotency keys make a repeated intent a no-op). A
//! reorg under the in-memory position rewinds it `lookback` blocks ([`LogReader`]); a version whose submission a
//! reorg removed no longer answers `version(id)` and is dropped.
//!
//! **Event-driven** (issue 16): a version's record is read with `version(id)` once, when its submission is first
//! seen; after that the `StorageConfirmed` and `VersionFinalized` events the same log stream carries move its
//! status forward (never backward: an event older than the record read is a no-op, and `changed == false`
//! reports change nothing). Every tracked record is read again after a reorg rewound the stream, and at least
//! every [`FULL_READ_EVERY`] as a safety net, so the chain's `version(id)` stays the truth.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex as StdMutex};

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolError;
use alloy::transports::{RpcError, TransportErrorKind};
use tokio::sync::Mutex;
use tracing::debug;
use verity_abi::registry::{self, Status};
use verity_abi::rpc::IModelRegistry;

use super::{JobError, Result};
use crate::chain::cursor::{LogReader, StreamConfig};
use crate::chain::events::{decode_log, KeeperEvent};
use crate::store::{Cursor, CursorStore, StoreError};

/// Most `eth_getLogs` ranges read per pass (the rest is read next pass).
const MAX_RANGES_PER_PASS: usize = 64;
/// `version(id)` reads in flight at once.
const CONCURRENT_READS: usize = 32;
/// Longest time between two reads of every tracked record.
pub const FULL_READ_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// A submitted version as its `VersionSubmitted` log describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The version id.
    pub id: U256,
    /// The block of the submission.
    pub block: u64,
    /// Where the weights are (`file://…`, `http(s)://…`).
    pub storage_uri: Bytes,
    /// The fee paid above the minimum (orders registrations).
    pub priority_fee: U256,
    /// Parent version ids.
    pub parents: Vec<U256>,
}

/// A tracked version with its on-chain record, read at one block.
#[derive(Debug, Clone)]
pub struct Observed {
    /// From the submission log.
    pub submitted: Submitted,
    /// The status now.
    pub status: Status,
    /// `submittedAt` (chain seconds).
    pub submitted_at: u64,
    /// The content hash the submission declared.
    pub content_hash: alloy::primitives::B256,
    /// The size the submission declared.
    pub size: u64,
}

/// Settings of a [`VersionWatch`].
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Cursor row name (one per job).
    pub stream: String,
    /// The ModelRegistry.
    pub registry: Address,
    /// The registry's deployment block (read from when no cursor is stored).
    pub start_block: u64,
    /// Blocks re-read after a reorg under the cursor.
    pub lookback: u64,
    /// Most blocks per `eth_getLogs` call.
    pub max_range: u64,
}

impl WatchConfig {
    /// Defaults for `registry`: stream `stream`, from block `start_block`, lookback 64, ranges of 5,000 blocks.
    pub fn new(stream: &str, registry: Address, start_block: u64) -> Self {
        Self {
            stream: stream.to_string(),
            registry,
            start_block,
            lookback: 64,
            max_range: 5_000,
        }
    }
}

/// An in-memory cursor row: the read position ahead of the persisted low-water mark.
#[derive(Debug, Clone, Default)]
struct MemCursor(Arc<StdMutex<Option<Cursor>>>);

impl MemCursor {
    fn get(&self) -> Option<Cursor> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn set(&self, c: Option<Cursor>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = c;
    }
}

impl CursorStore for MemCursor {
    async fn cursor(&self, _stream: &str) -> std::result::Result<Option<Cursor>, StoreError> {
        Ok(self.get())
    }
    async fn set_cursor(
        &self,
        _stream: &str,
        cursor: Cursor,
    ) -> std::result::Result<(), StoreError> {
        self.set(Some(cursor));
        Ok(())
    }
}

/// A version's record as last read or moved by its events.
#[derive(Debug, Clone, Copy)]
struct Record {
    status: Status,
    submitted_at: u64,
    content_hash: alloy::primitives::B256,
    size: u64,
}

impl Record {
    /// Applies a status event: forward only (Submitted → Stored → final).
    fn apply(&mut self, to: Status) {
        let rank = |s: Status| match s {
            Status::Submitted => 1,
            Status::Stored => 2,
            Status::None => 0,
            _ => 3,
        };
        if rank(to) > rank(self.status) {
            self.status = to;
        }
    }
}

#[derive(Debug, Default)]
struct State {
    loaded: bool,
    versions: BTreeMap<U256, Submitted>,
    records: BTreeMap<U256, Record>,
    full_read_at: Option<std::time::Instant>,
    /// A reorg rewound the stream since the last full read.
    stale: bool,
    persisted: Option<Cursor>,
}

/// The versions one job still cares about (see the module doc for the cursor discipline).
pub struct VersionWatch<S> {
    store: S,
    config: WatchConfig,
    read: MemCursor,
    state: Mutex<State>,
}

impl<S> std::fmt::Debug for VersionWatch<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VersionWatch")
            .field("config", &self.config)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl<S: CursorStore + Clone> VersionWatch<S> {
    /// A watch persisting its low-water mark in `store`.
    pub fn new(store: S, config: WatchConfig) -> Self {
        Self {
            store,
            config,
            read: MemCursor::default(),
            state: Mutex::new(State::default()),
        }
    }

    /// The registry's address.
    pub fn registry(&self) -> Address {
        self.config.registry
    }

    /// Reads new submissions, then the chain record of every tracked version at the latest block; versions for
    /// which `done(status)` holds are dropped and the persisted cursor moves up to the low-water mark. Returns the
    /// remaining versions in id order, the block read at and its timestamp, and the non-submission events read
    /// this pass (for outcome accounting).
    ///
    /// # Errors
    /// RPC, contract or store failures (the in-memory state stays as it was before the failing step).
    pub async fn observe<P: Provider + Clone + 'static>(
        &self,
        provider: &P,
        done: impl Fn(Status) -> bool,
    ) -> Result<(Vec<Observed>, u64, Vec<KeeperEvent>)> {
        let mut state = self.state.lock().await;
        if !state.loaded {
            let persisted = self.store.cursor(&self.config.stream).await?;
            self.read.set(persisted);
            state.persisted = persisted;
            state.loaded = true;
        }
        let reader = LogReader::new(
            self.read.clone(),
            provider.clone(),
            StreamConfig {
                stream: self.config.stream.clone(),
                addresses: vec![self.config.registry],
                start_block: self.config.start_block,
                lookback: self.config.lookback,
                max_range: self.config.max_range,
                confirmations: 0,
            },
        );
        let mut others = Vec::new();
        let mut rewound = false;
        for _ in 0..MAX_RANGES_PER_PASS {
            let Some(batch) = reader.poll().await? else {
                break;
            };
            rewound |= batch.rewound;
            for log in &batch.logs {
                // A known event that does not decode stops the stream here (the cursor does not move past it):
                // skipping it could lose a submission for ever.
                let Some(event) = decode_log(log)? else {
                    continue;
                };
                match event {
                    KeeperEvent::VersionSubmitted(v) => {
                        let block = log.block_number.unwrap_or(batch.to.block);
                        state.versions.insert(
                            v.id,
                            Submitted {
                                id: v.id,
                                block,
                                storage_uri: v.storageUri.clone(),
                                priority_fee: v.priorityFee,
                                parents: v.parents.clone(),
                            },
                        );
                    }
                    other => {
                        let moved = match &other {
                            KeeperEvent::StorageConfirmed(e) => Some((e.id, Status::Stored)),
                            KeeperEvent::VersionFinalized(e) if e.changed => {
                                Status::try_from(e.status).ok().map(|s| (e.id, s))
                            }
                            _ => None,
                        };
                        if let Some((id, to)) = moved {
                            if let Some(r) = state.records.get_mut(&id) {
                                r.apply(to);
                            }
                        }
                        others.push(other);
                    }
                }
            }
            reader.commit(&batch).await?;
        }

        let latest = provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or(JobError::NoLatestBlock)?;
        let at = BlockId::number(latest.header.number);
        // Records to read: new versions only, or every tracked one after a rewind or when the last full read is
        // old; read concurrently (a backlog of hundreds must not cost hundreds of round trips one after another),
        // then folded in id order.
        state.stale |= rewound;
        let full = state.stale
            || state
                .full_read_at
                .is_none_or(|at| at.elapsed() >= FULL_READ_EVERY);
        let started = std::time::Instant::now();
        let mut records = BTreeMap::new();
        let ids: Vec<U256> = state
            .versions
            .keys()
            .filter(|id| full || !state.records.contains_key(id))
            .copied()
            .collect();
        for chunk in ids.chunks(CONCURRENT_READS) {
            let mut set = tokio::task::JoinSet::new();
            for id in chunk {
                let registry = IModelRegistry::new(self.config.registry, provider.clone());
                let id = *id;
                set.spawn(async move { (id, registry.version(id).block(at).call().await) });
            }
            while let Some(joined) = set.join_next().await {
                // A read task only ends by returning or by panicking (nothing aborts it): a panic stays one.
                let (id, record) =
                    joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                records.insert(id, record);
            }
        }
        let mut gone = Vec::new();
        for (id, record) in records {
            let info = match record {
                Ok(info) => info,
                Err(alloy::contract::Error::TransportError(e)) if is_unknown_version(&e) => {
                    // `RegistryUnknownVersion`: a reorg removed the submission.
                    debug!(target: "keeper::jobs::registry", %id, "version unknown; dropped");
                    gone.push(id);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let status =
                registry::Status::try_from(info.status).map_err(|_| JobError::BadContract {
                    contract: "ModelRegistry",
                    address: self.config.registry,
                    what: "version() returns an unknown status code",
                })?;
            state.records.insert(
                id,
                Record {
                    status,
                    submitted_at: info.submittedAt,
                    content_hash: info.contentHash,
                    size: info.size,
                },
            );
        }
        if full {
            state.stale = false;
            state.full_read_at = Some(started);
        }
        let mut observed = Vec::with_capacity(state.versions.len());
        for v in state.versions.values() {
            let Some(r) = state.records.get(&v.id) else {
                continue;
            };
            if done(r.status) {
                gone.push(v.id);
            } else {
                observed.push(Observed {
                    submitted: v.clone(),
                    status: r.status,
                    submitted_at: r.submitted_at,
                    content_hash: r.content_hash,
                    size: r.size,
                });
            }
        }
        for id in gone {
            state.versions.remove(&id);
            state.records.remove(&id);
        }

        // The low-water mark: just below the oldest version still cared about, else where the reader is.
        let mark = match state.versions.values().map(|v| v.block).min() {
            None => self.read.get(),
            Some(oldest) if oldest > self.config.start_block => {
                let below = oldest - 1;
                let block = provider
                    .get_block_by_number(BlockNumberOrTag::Number(below))
                    .await?
                    .ok_or(JobError::NoLatestBlock)?;
                Some(Cursor {
                    block: below,
                    hash: block.header.hash,
                })
            }
            Some(_) => None,
        };
        if let Some(mark) = mark {
            if state.persisted != Some(mark) {
                self.store.set_cursor(&self.config.stream, mark).await?;
                state.persisted = Some(mark);
            }
        }
        Ok((observed, latest.header.timestamp, others))
    }
}

fn is_unknown_version(e: &RpcError<TransportErrorKind>) -> bool {
    e.as_error_resp()
        .and_then(|r| r.as_revert_data())
        .is_some_and(|d| d.starts_with(&registry::RegistryUnknownVersion::SELECTOR))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Log as PrimLog, LogData, B256, U64};
    use alloy::providers::ProviderBuilder;
    use alloy::rpc::types::{Block, Log};
    use alloy::sol_types::SolEvent;
    use alloy::transports::mock::Asserter;

    /// Events move a record forward only: an event older than the record read (read at a later block than the
    /// logs) never takes its status back.
    #[test]
    fn events_move_a_record_forward_only() {
        let mut r = Record {
            status: Status::Submitted,
            submitted_at: 0,
            content_hash: B256::ZERO,
            size: 0,
        };
        r.apply(Status::Stored);
        assert_eq!(r.status, Status::Stored);
        r.apply(Status::Registered);
        assert_eq!(r.status, Status::Registered);
        for older in [Status::Stored, Status::Submitted, Status::Rejected] {
            r.apply(older);
            assert_eq!(r.status, Status::Registered);
        }
    }

    /// A `VersionSubmitted` log that does not decode stops the watch with [`JobError::Decode`] and the persisted
    /// cursor does not move past it (skipping it would lose the submission for ever).
    #[tokio::test]
    async fn an_undecodable_submission_stops_the_watch() {
        let (store, _dir) = crate::store::testing::sqlite().await;
        let registry = Address::repeat_byte(0x12);
        let watch = VersionWatch::new(store.clone(), WatchConfig::new("w", registry, 2));
        let asserter = Asserter::new();
        let provider = ProviderBuilder::new().connect_mocked_client(asserter.clone());
        let bad = Log {
            inner: PrimLog {
                address: registry,
                data: LogData::new_unchecked(
                    vec![
                        registry::VersionSubmitted::SIGNATURE_HASH,
                        B256::with_last_byte(1),
                        B256::repeat_byte(2),
                        B256::repeat_byte(3),
                    ],
                    vec![0xde, 0xad].into(),
                ),
            },
            block_number: Some(4),
            transaction_hash: Some(B256::repeat_byte(9)),
            log_index: Some(0),
            ..Default::default()
        };
        let mut head: Block = Block::default();
        head.header.hash = B256::repeat_byte(5);
        head.header.inner.number = 5;
        asserter.push_success(&U64::from(5));
        asserter.push_success(&vec![bad]);
        asserter.push_success(&head);
        let got = watch.observe(&provider, |_| false).await;
        assert!(matches!(got, Err(JobError::Decode(_))), "{got:?}");
        assert_eq!(store.cursor("w").await.unwrap(), None);
    }
}
