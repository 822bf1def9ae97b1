//! Reads contract logs with `eth_getLogs` from a persisted `(block, hash)` cursor.
//!
//! Each [`LogReader::poll`] first checks that the cursor's block still has the stored hash; if not (a reorg
//! replaced it), it rewinds `lookback` blocks and reads them again. Consumers apply events idempotently and call
//! [`LogReader::commit`] after applying, so a crash re-reads rather than skips.

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use tracing::warn;

use super::ChainError;
use crate::store::{Cursor, CursorStore};

/// Where and how one event stream is read.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Name of the cursor row.
    pub stream: String,
    /// Contracts whose logs are read.
    pub addresses: Vec<Address>,
    /// The first block to read when no cursor exists (the deployment block).
    pub start_block: u64,
    /// Blocks re-read after a reorg is detected under the cursor.
    pub lookback: u64,
    /// Most blocks per `eth_getLogs` call.
    pub max_range: u64,
    /// Blocks behind the head that are not read yet (0 on Arbitrum's sequencer).
    pub confirmations: u64,
}

/// Logs of one block range, to be applied and then committed.
#[derive(Debug, Clone)]
pub struct LogBatch {
    /// First block read.
    pub from: u64,
    /// The cursor to store once the logs are applied (the last block read and its hash).
    pub to: Cursor,
    /// The logs, in chain order.
    pub logs: Vec<Log>,
    /// Whether this read rewound over a reorg.
    pub rewound: bool,
}

/// Reads one stream's logs from its cursor.
#[derive(Debug, Clone)]
pub struct LogReader<S, P> {
    store: S,
    provider: P,
    config: StreamConfig,
}

impl<S: CursorStore, P: Provider> LogReader<S, P> {
    /// A reader of `config.addresses`.
    pub fn new(store: S, provider: P, config: StreamConfig) -> Self {
        Self {
            store,
            provider,
            config,
        }
    }

    async fn block_hash(&self, number: u64) -> Result<B256, ChainError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await?
            .ok_or(ChainError::MissingBlock(number))?;
        Ok(block.header.hash)
    }

    /// The next range of logs after the cursor, `None` when the cursor is at the (confirmed) head.
    ///
    /// # Errors
    /// RPC or store failures; [`ChainError::Inconsistent`] when a reorg happened during the read.
    pub async fn poll(&self) -> Result<Option<LogBatch>, ChainError> {
        let head = self
            .provider
            .get_block_number()
            .await?
            .saturating_sub(self.config.confirmations);
        let (from, rewound) = match self.store.cursor(&self.config.stream).await? {
            None => (self.config.start_block, false),
            Some(c) => {
                let current = self.block_hash_opt(c.block).await?;
                if current == Some(c.hash) {
                    (c.block + 1, false)
                } else {
                    let from = c
                        .block
                        .saturating_sub(self.config.lookback)
                        .max(self.config.start_block);
                    warn!(target: "keeper::chain", stream = %self.config.stream, cursor = c.block, from, "reorg under the cursor; rewinding");
                    (from, true)
                }
            }
        };
        if from > head {
            return Ok(None);
        }
        let to = head.min(from.saturating_add(self.config.max_range.max(1) - 1));
        let filter = Filter::new()
            .address(self.config.addresses.clone())
            .from_block(from)
            .to_block(to);
        let logs = self.provider.get_logs(&filter).await?;
        let to_hash = self.block_hash(to).await?;
        if logs
            .iter()
            .any(|l| l.block_number == Some(to) && l.block_hash != Some(to_hash))
        {
            return Err(ChainError::Inconsistent(to));
        }
        Ok(Some(LogBatch {
            from,
            to: Cursor {
                block: to,
                hash: to_hash,
            },
            logs,
            rewound,
        }))
    }

    async fn block_hash_opt(&self, number: u64) -> Result<Option<B256>, ChainError> {
        Ok(self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await?
            .map(|b| b.header.hash))
    }

    /// Stores the batch's cursor: its logs were applied.
    ///
    /// # Errors
    /// The store failed.
    pub async fn commit(&self, batch: &LogBatch) -> Result<(), ChainError> {
        self.store.set_cursor(&self.config.stream, batch.to).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::U64;
    use alloy::providers::ProviderBuilder;
    use alloy::rpc::types::Block;
    use alloy::transports::mock::Asserter;

    fn block(number: u64, hash: B256) -> Block {
        let mut b: Block = Block::default();
        b.header.hash = hash;
        b.header.inner.number = number;
        b
    }

    fn config() -> StreamConfig {
        StreamConfig {
            stream: "s".into(),
            addresses: vec![Address::repeat_byte(1)],
            start_block: 2,
            lookback: 3,
            max_range: 10,
            confirmations: 0,
        }
    }

    #[tokio::test]
    async fn starts_at_the_deploy_block_then_rewinds_on_a_changed_hash() {
        let (store, _dir) = crate::store::testing::sqlite().await;
        let asserter = Asserter::new();
        let provider = ProviderBuilder::new().connect_mocked_client(asserter.clone());
        let reader = LogReader::new(store, provider, config());

        asserter.push_success(&U64::from(5));
        asserter.push_success(&Vec::<Log>::new());
        asserter.push_success(&block(5, B256::repeat_byte(5)));
        let first = reader.poll().await.unwrap().unwrap();
        assert_eq!((first.from, first.to.block, first.rewound), (2, 5, false));
        reader.commit(&first).await.unwrap();

        // Same hash at the cursor: continue after it.
        asserter.push_success(&U64::from(7));
        asserter.push_success(&block(5, B256::repeat_byte(5)));
        asserter.push_success(&Vec::<Log>::new());
        asserter.push_success(&block(7, B256::repeat_byte(7)));
        let next = reader.poll().await.unwrap().unwrap();
        assert_eq!((next.from, next.to.block, next.rewound), (6, 7, false));
        reader.commit(&next).await.unwrap();

        // The block under the cursor changed: rewind `lookback` blocks.
        asserter.push_success(&U64::from(8));
        asserter.push_success(&block(7, B256::repeat_byte(0x77)));
        asserter.push_success(&Vec::<Log>::new());
        asserter.push_success(&block(8, B256::repeat_byte(8)));
        let rewound = reader.poll().await.unwrap().unwrap();
        assert_eq!(
            (rewound.from, rewound.to.block, rewound.rewound),
            (4, 8, true)
        );
    }

    #[tokio::test]
    async fn bounded_ranges_and_nothing_past_the_head() {
        let (store, _dir) = crate::store::testing::sqlite().await;
        let asserter = Asserter::new();
        let provider = ProviderBuilder::new().connect_mocked_client(asserter.clone());
        let reader = LogReader::new(store, provider, config());
        asserter.push_success(&U64::from(100));
        asserter.push_success(&Vec::<Log>::new());
        asserter.push_success(&block(11, B256::repeat_byte(11)));
        let b = reader.poll().await.unwrap().unwrap();
        assert_eq!((b.from, b.to.block), (2, 11));
        // Head below the start block: nothing to read.
        let (store, _dir2) = crate::store::testing::sqlite().await;
        let asserter = Asserter::new();
        let reader = LogReader::new(
            store,
            ProviderBuilder::new().connect_mocked_client(asserter.clone()),
            config(),
        );
        asserter.push_success(&U64::from(1));
        assert!(reader.poll().await.unwrap().is_none());
        // An RPC failure is an error, classified transient or not.
        asserter.push_failure_msg("boom");
        let err = reader.poll().await.unwrap_err();
        assert!(!err.is_transient());
    }
}
