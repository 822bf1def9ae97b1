//! Reads of mined data: blocks, transactions, receipts, logs and fee history.

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::B256;
use alloy::rpc::types::{
    Block, FeeHistory, Filter, FilterBlockOption, Log, Transaction, TransactionReceipt,
};

use super::mining::pending_rpc_tx;
use super::Chain;
use crate::error::{Error, Result};

/// Most blocks one `eth_feeHistory` call returns (geth's limit).
const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;

impl Chain {
    /// A block by number or tag (`pending` = latest); `None` if it does not exist.
    pub fn block_by_number(&self, tag: BlockNumberOrTag, full: bool) -> Option<Block> {
        let n = self.resolve_tag(tag).ok()?;
        self.blocks.get(n as usize).map(|b| b.to_rpc(full))
    }

    /// A block by hash; `None` if unknown.
    pub fn block_by_hash(&self, hash: B256, full: bool) -> Option<Block> {
        let n = *self.block_by_hash.get(&hash)?;
        self.blocks.get(n as usize).map(|b| b.to_rpc(full))
    }

    /// A mined or pending transaction by hash.
    pub fn transaction_by_hash(&self, hash: B256) -> Option<Transaction> {
        if let Some((n, i)) = self.tx_index.get(&hash) {
            return self.blocks.get(*n as usize).map(|b| b.rpc_tx(*i));
        }
        self.pool.get(&hash).map(pending_rpc_tx)
    }

    /// The receipt of a mined transaction; `None` while pending or unknown.
    pub fn receipt(&self, hash: B256) -> Option<TransactionReceipt> {
        let (n, i) = self.tx_index.get(&hash)?;
        self.blocks.get(*n as usize).map(|b| b.rpc_receipt(*i))
    }

    /// The receipts of a block.
    pub fn block_receipts(&self, tag: BlockNumberOrTag) -> Option<Vec<TransactionReceipt>> {
        let n = self.resolve_tag(tag).ok()?;
        let block = self.blocks.get(n as usize)?;
        Some((0..block.txs.len()).map(|i| block.rpc_receipt(i)).collect())
    }

    /// `eth_getLogs`: logs matching `filter` (addresses, topics with OR-lists and wildcards, a block range
    /// or one block hash), in chain order.
    pub fn logs(&self, filter: &Filter) -> Result<Vec<Log>> {
        let (from, to) = match filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let n = *self.block_by_hash.get(&hash).ok_or(Error::HeaderNotFound)?;
                (n, n)
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                let head = self.block_number();
                let resolve = |tag: Option<BlockNumberOrTag>| match tag {
                    None => head,
                    Some(BlockNumberOrTag::Number(n)) => n.min(head),
                    Some(BlockNumberOrTag::Earliest) => 0,
                    Some(_) => head,
                };
                let from = resolve(from_block);
                let to = resolve(to_block);
                if let Some(BlockNumberOrTag::Number(n)) = from_block {
                    if n > head {
                        return Ok(vec![]);
                    }
                }
                if from > to {
                    return Err(Error::InvalidParams("invalid block range params".into()));
                }
                (from, to)
            }
        };
        let mut out = Vec::new();
        for block in &self.blocks[from as usize..=to as usize] {
            if block.txs.is_empty() || !filter.matches_bloom(block.bloom()) {
                continue;
            }
            for i in 0..block.txs.len() {
                for log in block.rpc_logs(i) {
                    if filter.matches_address(log.address()) && filter.matches_topics(log.topics())
                    {
                        out.push(log);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The logs of block `number` that match `filter`'s addresses and topics (its block range is ignored).
    pub fn block_logs(&self, number: u64, filter: &Filter) -> Vec<Log> {
        let Some(block) = self.blocks.get(number as usize) else {
            return vec![];
        };
        if !filter.matches_bloom(block.bloom()) {
            return vec![];
        }
        (0..block.txs.len())
            .flat_map(|i| block.rpc_logs(i))
            .filter(|log| {
                filter.matches_address(log.address()) && filter.matches_topics(log.topics())
            })
            .collect()
    }

    /// The RPC header of block `number`.
    pub fn header(&self, number: u64) -> Option<alloy::rpc::types::Header> {
        self.blocks
            .get(number as usize)
            .map(|b| b.to_rpc(false).header)
    }

    /// `eth_feeHistory`: base fees (plus the next block's), gas used ratios and tip percentiles.
    pub fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        percentiles: Option<&[f64]>,
    ) -> Result<FeeHistory> {
        if let Some(p) = percentiles {
            let sorted = p.windows(2).all(|w| w[0] <= w[1]);
            if !sorted || p.iter().any(|x| !(0.0..=100.0).contains(x)) {
                return Err(Error::InvalidParams("invalid reward percentiles".into()));
            }
        }
        let newest = self.resolve_tag(newest)?;
        let count = block_count.min(MAX_FEE_HISTORY_BLOCKS).min(newest + 1);
        if count == 0 {
            return Ok(FeeHistory::default());
        }
        let oldest = newest + 1 - count;
        let mut history = FeeHistory {
            oldest_block: oldest,
            ..Default::default()
        };
        let mut rewards = Vec::new();
        for block in &self.blocks[oldest as usize..=newest as usize] {
            history.base_fee_per_gas.push(u128::from(block.base_fee()));
            history.base_fee_per_blob_gas.push(0);
            history.blob_gas_used_ratio.push(0.0);
            let ratio = block.header.gas_used as f64 / block.header.gas_limit.max(1) as f64;
            history.gas_used_ratio.push(ratio);
            if let Some(p) = percentiles {
                rewards.push(block_rewards(block, p));
            }
        }
        let next_base_fee = if newest == self.block_number() {
            u128::from(self.next_base_fee())
        } else {
            u128::from(self.blocks[newest as usize + 1].base_fee())
        };
        history.base_fee_per_gas.push(next_base_fee);
        history.base_fee_per_blob_gas.push(0);
        history.reward = percentiles.map(|_| rewards);
        Ok(history)
    }
}

/// Tip percentiles of one block, weighted by gas used (as geth).
fn block_rewards(block: &super::block::StoredBlock, percentiles: &[f64]) -> Vec<u128> {
    let base_fee = block.base_fee();
    let mut tips: Vec<(u128, u64)> = block
        .txs
        .iter()
        .map(|t| {
            let tip = alloy::consensus::Transaction::effective_tip_per_gas(t.tx.inner(), base_fee)
                .unwrap_or(0);
            (tip, t.receipt.gas_used)
        })
        .collect();
    if tips.is_empty() {
        return vec![0; percentiles.len()];
    }
    tips.sort_by_key(|(tip, _)| *tip);
    let total: u64 = tips.iter().map(|(_, g)| *g).sum();
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut sum = 0u64;
            for (tip, gas) in &tips {
                sum += gas;
                if sum >= threshold {
                    return *tip;
                }
            }
            tips.last().map(|(t, _)| *t).unwrap_or(0)
        })
        .collect()
}
