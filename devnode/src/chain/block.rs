//! Mined blocks as the chain stores them, and their conversion to alloy's RPC types.

use alloy::consensus::transaction::Recovered;
use alloy::consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope,
};
use alloy::primitives::{logs_bloom, Address, Bloom, B256, U256};
use alloy::rpc::types::{
    Block, BlockTransactions, Header as RpcHeader, Log, Transaction, TransactionReceipt,
};

/// One mined transaction with its outcome.
#[derive(Clone, Debug)]
pub(crate) struct StoredTx {
    /// The signed transaction and its sender.
    pub(crate) tx: Recovered<TxEnvelope>,
    /// The transaction hash.
    pub(crate) hash: B256,
    /// The receipt fields.
    pub(crate) receipt: StoredReceipt,
}

/// What a receipt needs beyond the block and the transaction.
#[derive(Clone, Debug)]
pub(crate) struct StoredReceipt {
    pub(crate) success: bool,
    pub(crate) gas_used: u64,
    pub(crate) cumulative_gas_used: u64,
    pub(crate) logs: Vec<alloy::primitives::Log>,
    pub(crate) contract_address: Option<Address>,
    pub(crate) effective_gas_price: u128,
    /// Index in the block of this transaction's first log.
    pub(crate) first_log_index: u64,
}

impl StoredReceipt {
    /// The consensus receipt envelope (for the receipts root).
    pub(crate) fn envelope(&self, tx: &TxEnvelope) -> ReceiptEnvelope {
        let receipt = Receipt {
            status: Eip658Value::Eip658(self.success),
            cumulative_gas_used: self.cumulative_gas_used,
            logs: self.logs.clone(),
        };
        let bloom = logs_bloom(self.logs.iter());
        ReceiptEnvelope::from_typed(
            tx.tx_type(),
            ReceiptWithBloom {
                receipt,
                logs_bloom: bloom,
            },
        )
    }
}

/// A mined block.
#[derive(Clone, Debug)]
pub(crate) struct StoredBlock {
    pub(crate) header: Header,
    pub(crate) hash: B256,
    pub(crate) txs: Vec<StoredTx>,
    pub(crate) size: u64,
}

impl StoredBlock {
    pub(crate) fn number(&self) -> u64 {
        self.header.number
    }

    pub(crate) fn timestamp(&self) -> u64 {
        self.header.timestamp
    }

    pub(crate) fn base_fee(&self) -> u64 {
        self.header.base_fee_per_gas.unwrap_or_default()
    }

    pub(crate) fn bloom(&self) -> Bloom {
        self.header.logs_bloom
    }

    /// The RPC block, with full transactions or hashes.
    pub(crate) fn to_rpc(&self, full: bool) -> Block {
        let transactions = if full {
            BlockTransactions::Full((0..self.txs.len()).map(|i| self.rpc_tx(i)).collect())
        } else {
            BlockTransactions::Hashes(self.txs.iter().map(|t| t.hash).collect())
        };
        Block {
            header: RpcHeader {
                hash: self.hash,
                inner: self.header.clone(),
                total_difficulty: Some(U256::ZERO),
                size: Some(U256::from(self.size)),
            },
            uncles: vec![],
            transactions,
            withdrawals: Some(Default::default()),
        }
    }

    /// The RPC transaction at `index`.
    pub(crate) fn rpc_tx(&self, index: usize) -> Transaction {
        let stored = &self.txs[index];
        Transaction {
            inner: stored.tx.clone(),
            block_hash: Some(self.hash),
            block_number: Some(self.number()),
            transaction_index: Some(index as u64),
            effective_gas_price: Some(stored.receipt.effective_gas_price),
            block_timestamp: Some(self.timestamp()),
        }
    }

    /// The RPC logs of the transaction at `index`.
    pub(crate) fn rpc_logs(&self, index: usize) -> Vec<Log> {
        let stored = &self.txs[index];
        stored
            .receipt
            .logs
            .iter()
            .enumerate()
            .map(|(i, inner)| Log {
                inner: inner.clone(),
                block_hash: Some(self.hash),
                block_number: Some(self.number()),
                block_timestamp: Some(self.timestamp()),
                transaction_hash: Some(stored.hash),
                transaction_index: Some(index as u64),
                log_index: Some(stored.receipt.first_log_index + i as u64),
                removed: false,
            })
            .collect()
    }

    /// The RPC receipt of the transaction at `index`.
    pub(crate) fn rpc_receipt(&self, index: usize) -> TransactionReceipt {
        let stored = &self.txs[index];
        let r = &stored.receipt;
        let logs = self.rpc_logs(index);
        let receipt = Receipt {
            status: Eip658Value::Eip658(r.success),
            cumulative_gas_used: r.cumulative_gas_used,
            logs,
        };
        let bloom = logs_bloom(r.logs.iter());
        let inner = ReceiptEnvelope::from_typed(
            stored.tx.inner().tx_type(),
            ReceiptWithBloom {
                receipt,
                logs_bloom: bloom,
            },
        );
        TransactionReceipt {
            inner,
            transaction_hash: stored.hash,
            transaction_index: Some(index as u64),
            block_hash: Some(self.hash),
            block_number: Some(self.number()),
            gas_used: r.gas_used,
            effective_gas_price: r.effective_gas_price,
            blob_gas_used: None,
            blob_gas_price: None,
            from: stored.tx.signer(),
            to: stored.tx.inner().to(),
            contract_address: r.contract_address,
        }
    }
}
