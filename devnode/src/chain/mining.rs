//! Transaction admission (geth's checks and texts), block building, time travel, snapshots and reorgs.
//!
//! Reorgs: [`Chain::rollback`] drops the last N blocks and returns their transactions to the pool (they stay
//! pending until something mines: automine on the next transaction, `evm_mine`, interval mining).
//! [`Chain::reorg`] (`anvil_reorg`) rolls back N blocks and mines N new blocks at once: the returned
//! transactions go into the first new block, the given ones into the block at their offset. The new blocks
//! differ from the dropped ones (their mix hash carries a reorg counter), so block hashes change even when
//! the transactions are the same.

use std::collections::VecDeque;
use std::sync::Arc;

use alloy::consensus::{
    proofs::{calculate_receipt_root, calculate_transaction_root},
    transaction::Recovered,
    Header, Transaction as _, TxEnvelope, TxType, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH,
};
use alloy::eips::{eip2718::Decodable2718, eip7685::EMPTY_REQUESTS_HASH, Encodable2718, Typed2718};
use alloy::network::TxSignerSync;
use alloy::primitives::{keccak256, Address, Bloom, TxKind, B256, U256};
use alloy::rpc::types::TransactionRequest;
use revm::context::TxEnv;
use revm::context_interface::either::Either;
use revm::context_interface::result::{EVMError, InvalidTransaction};
use tracing::{debug, warn};

use super::block::{StoredBlock, StoredReceipt, StoredTx};
use super::pool::PoolTx;
use super::{now_secs, Chain, Snapshot};
use crate::error::{Error, Result};
use crate::evm::ExecError;

/// A transaction given to [`Chain::reorg`]: raw signed bytes or a request signed by a dev account.
#[derive(Clone, Debug)]
pub enum ReorgTx {
    /// A signed EIP-2718 envelope.
    Raw(alloy::primitives::Bytes),
    /// A request from a dev account; nonce and fees are filled in.
    Request(Box<TransactionRequest>),
}

/// Half the secp256k1 group order: signatures with a larger `s` are invalid (EIP-2).
const SECP256K1N_HALF: U256 = alloy::primitives::uint!(
    0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0_U256
);

/// Recovers the sender with libsecp256k1 (through revm's ecrecover), which stays fast in debug builds where
/// k256's generic code would be compiled unoptimised into this crate; high-`s` signatures are refused.
pub(crate) fn recover_sender(tx: &TxEnvelope) -> Result<Address> {
    let sig = tx.signature();
    if sig.s() > SECP256K1N_HALF || sig.r().is_zero() || sig.s().is_zero() {
        return Err(Error::InvalidSender);
    }
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
    compact[32..].copy_from_slice(&sig.s().to_be_bytes::<32>());
    let hash = tx.signature_hash();
    revm::precompile::secp256k1::ecrecover(&compact.into(), u8::from(sig.v()), &hash)
        .map(|word| Address::from_slice(&word[12..]))
        .map_err(|_| Error::InvalidSender)
}

/// The revm transaction environment of a signed transaction.
pub(crate) fn tx_env(tx: &Recovered<TxEnvelope>) -> TxEnv {
    let inner = tx.inner();
    let mut env = TxEnv {
        tx_type: inner.ty(),
        caller: tx.signer(),
        gas_limit: inner.gas_limit(),
        gas_price: inner.max_fee_per_gas(),
        kind: inner.kind(),
        value: inner.value(),
        data: inner.input().clone(),
        nonce: inner.nonce(),
        chain_id: inner.chain_id(),
        access_list: inner.access_list().cloned().unwrap_or_default(),
        gas_priority_fee: inner.max_priority_fee_per_gas(),
        ..Default::default()
    };
    if let Some(list) = inner.authorization_list() {
        env.authorization_list = list.iter().cloned().map(Either::Left).collect();
    }
    env
}

/// Maps revm's validation errors to geth's texts.
pub(crate) fn map_exec_error(err: ExecError, caller: Address) -> Error {
    match err {
        EVMError::Transaction(inv) => map_invalid(inv, caller),
        other => Error::Internal(other.to_string()),
    }
}

fn map_invalid(inv: InvalidTransaction, caller: Address) -> Error {
    match inv {
        InvalidTransaction::NonceTooLow { tx, state } => Error::NonceTooLow {
            expected: state,
            got: tx,
        },
        InvalidTransaction::NonceTooHigh { tx, state } => Error::NonceTooHigh {
            expected: state,
            got: tx,
        },
        InvalidTransaction::LackOfFundForMaxFee { .. }
        | InvalidTransaction::OverflowPaymentInTransaction => {
            Error::InsufficientFunds { address: caller }
        }
        InvalidTransaction::GasPriceLessThanBasefee => Error::FeeCapTooLow,
        InvalidTransaction::PriorityFeeGreaterThanMaxFee => Error::TipAboveFeeCap,
        InvalidTransaction::CallGasCostMoreThanGasLimit { .. }
        | InvalidTransaction::GasFloorMoreThanGasLimit { .. } => Error::IntrinsicGasTooLow,
        InvalidTransaction::CallerGasLimitMoreThanBlock
        | InvalidTransaction::TxGasLimitGreaterThanCap { .. } => Error::GasLimitTooHigh,
        InvalidTransaction::InvalidChainId | InvalidTransaction::MissingChainId => {
            Error::InvalidChainId
        }
        InvalidTransaction::RejectCallerWithCode => Error::Invalid("sender not an eoa".into()),
        other => Error::Invalid(other.to_string()),
    }
}

impl Chain {
    /// `eth_sendRawTransaction`: decodes, admits and (with automine) mines a signed EIP-2718 transaction.
    pub fn send_raw_transaction(&mut self, raw: &[u8]) -> Result<B256> {
        if let Some(&first) = raw.first() {
            // Typed envelopes start with their type byte (< 0x7f); blob and unknown types are refused.
            if first < 0x7f && !matches!(first, 0x01 | 0x02 | 0x04) {
                return Err(Error::TxTypeNotSupported);
            }
        }
        let mut buf = raw;
        let tx = TxEnvelope::decode_2718(&mut buf).map_err(|e| Error::Decode(e.to_string()))?;
        if !buf.is_empty() {
            return Err(Error::Decode("trailing bytes".into()));
        }
        self.add_transaction(tx)
    }

    /// Admits a signed transaction with geth's checks, in geth's order; mines it when automine is on.
    pub fn add_transaction(&mut self, tx: TxEnvelope) -> Result<B256> {
        if matches!(tx.tx_type(), TxType::Eip4844) {
            return Err(Error::TxTypeNotSupported);
        }
        let hash = *tx.tx_hash();
        if self.pool.contains(&hash) {
            return Err(Error::AlreadyKnown);
        }
        if tx.gas_limit() > self.config.block_gas_limit {
            return Err(Error::GasLimitTooHigh);
        }
        if let Some(tip) = tx.max_priority_fee_per_gas() {
            if tip > tx.max_fee_per_gas() {
                return Err(Error::TipAboveFeeCap);
            }
        }
        if let Some(id) = tx.chain_id() {
            if id != self.config.chain_id {
                return Err(Error::InvalidChainId);
            }
        }
        let sender = recover_sender(&tx)?;
        let tx = Recovered::new_unchecked(tx, sender);
        let env = tx_env(&tx);
        let gas = revm::context_interface::cfg::gas::calculate_initial_tx_gas_for_tx(
            &env,
            self.config.spec,
            None,
        );
        if gas.initial_total_gas() > env.gas_limit || gas.floor_gas() > env.gas_limit {
            return Err(Error::IntrinsicGasTooLow);
        }
        if tx.inner().max_fee_per_gas() < u128::from(self.next_base_fee()) {
            return Err(Error::FeeCapTooLow);
        }
        let state_nonce = self.state.nonce_latest(sender);
        if env.nonce < state_nonce {
            return Err(Error::NonceTooLow {
                expected: state_nonce,
                got: env.nonce,
            });
        }
        let cost = U256::from(env.gas_limit)
            .saturating_mul(U256::from(env.gas_price))
            .saturating_add(env.value);
        if self.state.balance_latest(sender) < cost {
            return Err(Error::InsufficientFunds { address: sender });
        }
        if let Some(old) = self.pool.by_sender_nonce(sender, env.nonce) {
            let old = old.tx.inner();
            let bumped = |old: u128, new: u128| new.saturating_mul(100) >= old.saturating_mul(110);
            let old_tip = old
                .max_priority_fee_per_gas()
                .unwrap_or(old.max_fee_per_gas());
            let new_tip = tx
                .inner()
                .max_priority_fee_per_gas()
                .unwrap_or(tx.inner().max_fee_per_gas());
            if !bumped(old.max_fee_per_gas(), tx.inner().max_fee_per_gas())
                || !bumped(old_tip, new_tip)
            {
                return Err(Error::ReplacementUnderpriced);
            }
        }
        let nonce = env.nonce;
        self.pool.insert(tx, hash);
        debug!(target: "devnode::chain", %hash, %sender, "transaction admitted");
        // Ready = no nonce gap between the account and this transaction.
        let ready = self.pool.pending_nonce(sender, state_nonce) > nonce;
        if self.automine && ready {
            let dropped = self.mine_block(None)?;
            if let Some((_, err)) = dropped.into_iter().find(|(h, _)| *h == hash) {
                return Err(err);
            }
        }
        Ok(hash)
    }

    /// `eth_sendTransaction`: fills in nonce, gas and fees, signs with the dev account `from` and admits it.
    pub fn send_transaction(&mut self, request: TransactionRequest) -> Result<B256> {
        let tx = self.sign_request(request)?;
        self.add_transaction(tx)
    }

    /// Fills a request from a dev account and signs it.
    pub fn sign_request(&mut self, mut request: TransactionRequest) -> Result<TxEnvelope> {
        let from = request
            .from
            .unwrap_or_else(|| self.accounts.first().map(|a| a.address).unwrap_or_default());
        let signer = self
            .accounts
            .iter()
            .find(|a| a.address == from)
            .map(|a| a.signer.clone())
            .ok_or(Error::UnknownAccount(from))?;
        request.from = Some(from);
        request.chain_id = Some(self.config.chain_id);
        if request.nonce.is_none() {
            let state = self.state.nonce_latest(from);
            request.nonce = Some(self.pool.pending_nonce(from, state));
        }
        if request.gas_price.is_none() && request.max_fee_per_gas.is_none() {
            let tip = request.max_priority_fee_per_gas.unwrap_or(0);
            request.max_priority_fee_per_gas = Some(tip);
            request.max_fee_per_gas = Some(u128::from(self.next_base_fee()) * 2 + tip);
        } else if request.max_fee_per_gas.is_some() && request.max_priority_fee_per_gas.is_none() {
            request.max_priority_fee_per_gas = Some(0);
        }
        if request.gas.is_none() {
            let gas = self.estimate_gas(&request, None, None)?;
            request.gas = Some(gas);
        }
        if request.to.is_none() {
            request.to = Some(TxKind::Create);
        }
        let mut typed = request
            .build_typed_tx()
            .map_err(|_| Error::InvalidParams("incomplete transaction request".into()))?;
        let sig = signer
            .sign_transaction_sync(&mut typed)
            .map_err(|e| Error::Internal(format!("signing failed: {e}")))?;
        Ok(typed.into_envelope(sig))
    }

    pub(crate) fn has_ready(&self) -> bool {
        !self.pool.ready(|a| self.state.nonce_latest(a)).is_empty()
    }

    /// Mines one block with the ready pool transactions; returns its hash.
    pub fn mine_one(&mut self) -> Result<B256> {
        self.mine_block(None)?;
        Ok(self.head().hash)
    }

    /// `evm_mine`: mines `blocks` blocks (at least one); the first at `timestamp` when given.
    pub fn mine(&mut self, blocks: u64, timestamp: Option<u64>) -> Result<()> {
        if blocks > super::MAX_MINE_BLOCKS {
            return Err(Error::InvalidParams(format!(
                "at most {} blocks per call",
                super::MAX_MINE_BLOCKS
            )));
        }
        if let Some(ts) = timestamp {
            self.set_next_block_timestamp(ts)?;
        }
        for _ in 0..blocks.max(1) {
            self.mine_block(None)?;
        }
        Ok(())
    }

    /// The pending transactions, in arrival order.
    pub fn pending_transactions(&self) -> Vec<alloy::rpc::types::Transaction> {
        self.pool.all().into_iter().map(pending_rpc_tx).collect()
    }

    fn next_block_timestamp(&mut self) -> u64 {
        let parent = self.head().timestamp();
        if let Some(ts) = self.next_timestamp.take() {
            return ts.max(parent);
        }
        let now = (now_secs() as i64).saturating_add(self.time_offset).max(0) as u64;
        now.max(parent)
    }

    /// `evm_setNextBlockTimestamp`: the next block gets exactly `timestamp`; later blocks continue from it.
    /// Equal to the parent's timestamp is allowed (Arbitrum blocks may share a timestamp).
    pub fn set_next_block_timestamp(&mut self, timestamp: u64) -> Result<()> {
        let parent = self.head().timestamp();
        if timestamp > i64::MAX as u64 {
            return Err(Error::InvalidParams(format!(
                "timestamp {timestamp} out of range"
            )));
        }
        if timestamp < parent {
            return Err(Error::TimestampTooLow {
                requested: timestamp,
                parent,
            });
        }
        self.next_timestamp = Some(timestamp);
        self.time_offset = timestamp as i64 - now_secs() as i64;
        Ok(())
    }

    /// `evm_increaseTime`: moves the clock forward by `seconds`; returns the total offset in seconds.
    pub fn increase_time(&mut self, seconds: u64) -> i64 {
        self.time_offset = self
            .time_offset
            .saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX));
        if let Some(ts) = self.next_timestamp.as_mut() {
            *ts = ts.saturating_add(seconds);
        }
        self.time_offset
    }

    /// The timestamp the next block would get now (without consuming a pinned timestamp).
    pub fn pending_timestamp(&self) -> u64 {
        let parent = self.head().timestamp();
        match self.next_timestamp {
            Some(ts) => ts.max(parent),
            None => {
                ((now_secs() as i64).saturating_add(self.time_offset).max(0) as u64).max(parent)
            }
        }
    }

    /// Builds and appends one block; returns the pool transactions dropped because they failed validation
    /// at execution time, with the reason.
    pub(crate) fn mine_block(&mut self, only: Option<&[B256]>) -> Result<Vec<(B256, Error)>> {
        let timestamp = self.next_block_timestamp();
        let parent_hash = self.head().hash;
        let number = self.head().number() + 1;
        let base_fee = self.next_base_fee();
        self.next_base_fee = None;
        let mix = keccak256([number.to_be_bytes(), self.reorg_generation.to_be_bytes()].concat());
        let block_env = self.block_env(number, timestamp, base_fee, mix);
        let cfg = self.cfg_env();
        let gas_limit = self.config.block_gas_limit;

        let mut queues: Vec<VecDeque<PoolTx>> = self
            .pool
            .ready(|a| self.state.nonce_latest(a))
            .into_iter()
            .map(|run| {
                run.into_iter()
                    .filter(|p| only.is_none_or(|o| o.contains(&p.hash)))
                    .collect::<VecDeque<_>>()
            })
            .filter(|q| !q.is_empty())
            .collect();
        let mut txs: Vec<StoredTx> = Vec::new();
        let mut dropped = Vec::new();
        let mut cumulative = 0u64;
        let mut log_index = 0u64;
        loop {
            // First come, first served, as Arbitrum's sequencer orders: the priority fee buys no place (a
            // zero-tip keeper is never pushed out block after block by tipped traffic). A transaction whose max
            // fee is below the base fee is not includable and waits.
            let best = queues
                .iter()
                .enumerate()
                .filter_map(|(i, q)| {
                    let p = q.front()?;
                    p.tx.inner().effective_tip_per_gas(base_fee)?;
                    Some((i, p.seq))
                })
                .min_by_key(|&(_, seq)| seq);
            let Some((i, _)) = best else { break };
            let Some(p) = queues[i].pop_front() else {
                break;
            };
            let limit = p.tx.inner().gas_limit();
            if cumulative.saturating_add(limit) > gas_limit {
                queues[i].clear();
                continue;
            }
            let env = tx_env(&p.tx);
            let outcome =
                self.engine
                    .execute(&mut self.state.live, block_env.clone(), cfg.clone(), env);
            match outcome {
                Ok(out) => {
                    let result = out.result;
                    let gas_used = result.tx_gas_used();
                    cumulative += gas_used;
                    let logs = result.logs().to_vec();
                    let contract_address = match p.tx.inner().kind() {
                        TxKind::Create => Some(p.sender().create(p.nonce())),
                        TxKind::Call(_) => None,
                    };
                    self.state.commit(number, out.state);
                    self.pool.remove(&p.hash);
                    let receipt = StoredReceipt {
                        success: result.is_success(),
                        gas_used,
                        cumulative_gas_used: cumulative,
                        first_log_index: log_index,
                        contract_address,
                        effective_gas_price: p.tx.inner().effective_gas_price(Some(base_fee)),
                        logs,
                    };
                    log_index += receipt.logs.len() as u64;
                    txs.push(StoredTx {
                        hash: p.hash,
                        tx: p.tx,
                        receipt,
                    });
                }
                Err(err) => {
                    let err = map_exec_error(err, p.sender());
                    warn!(target: "devnode::chain", hash = %p.hash, %err, "dropping transaction that failed validation");
                    self.pool.remove(&p.hash);
                    queues[i].clear();
                    dropped.push((p.hash, err));
                }
            }
        }

        let envelopes: Vec<&TxEnvelope> = txs.iter().map(|t| t.tx.inner()).collect();
        let receipts: Vec<_> = txs
            .iter()
            .map(|t| t.receipt.envelope(t.tx.inner()))
            .collect();
        let mut bloom = Bloom::default();
        for r in &receipts {
            bloom.accrue_bloom(r.logs_bloom());
        }
        let header = Header {
            parent_hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: self.config.coinbase,
            state_root: B256::ZERO,
            transactions_root: calculate_transaction_root(&envelopes),
            receipts_root: calculate_receipt_root(&receipts),
            logs_bloom: bloom,
            number,
            gas_limit,
            gas_used: cumulative,
            timestamp,
            mix_hash: mix,
            base_fee_per_gas: Some(base_fee),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            ..Default::default()
        };
        let hash = header.hash_slow();
        let size = alloy::rlp::Encodable::length(&header) as u64
            + envelopes
                .iter()
                .map(|t| t.encode_2718_len() as u64)
                .sum::<u64>();
        for (i, t) in txs.iter().enumerate() {
            self.tx_index.insert(t.hash, (number, i));
        }
        self.block_by_hash.insert(hash, number);
        self.blocks.push(Arc::new(StoredBlock {
            header,
            hash,
            txs,
            size,
        }));
        self.state
            .live
            .cache
            .block_hashes
            .insert(U256::from(number), hash);
        let state = &self.state;
        self.pool.prune(|a| state.nonce_latest(a));
        debug!(target: "devnode::chain", number, %hash, "mined block");
        // No receiver is fine.
        let _ = self.new_blocks.send(number);
        Ok(dropped)
    }

    /// `evm_snapshot`: saves the whole chain state; returns the snapshot id.
    pub fn snapshot(&mut self) -> U256 {
        let id = self.next_snapshot_id;
        self.next_snapshot_id += 1;
        self.snapshots.push(Snapshot {
            id,
            state: self.state.clone(),
            blocks: self.blocks.clone(),
            pool: self.pool.clone(),
            time_offset: self.time_offset,
            next_timestamp: self.next_timestamp,
        });
        U256::from(id)
    }

    /// `evm_revert`: restores snapshot `id` (dropping it and every later one); false if unknown.
    pub fn revert(&mut self, id: U256) -> bool {
        let Some(pos) = self.snapshots.iter().position(|s| U256::from(s.id) == id) else {
            return false;
        };
        let mut later = self.snapshots.split_off(pos);
        let snap = later.swap_remove(0);
        self.state = snap.state;
        self.blocks = snap.blocks;
        self.pool = snap.pool;
        self.time_offset = snap.time_offset;
        self.next_timestamp = snap.next_timestamp;
        self.rebuild_indexes();
        true
    }

    fn rebuild_indexes(&mut self) {
        self.block_by_hash.clear();
        self.tx_index.clear();
        for block in &self.blocks {
            self.block_by_hash.insert(block.hash, block.number());
            for (i, t) in block.txs.iter().enumerate() {
                self.tx_index.insert(t.hash, (block.number(), i));
            }
        }
        self.refresh_block_hashes();
    }

    fn refresh_block_hashes(&mut self) {
        let hashes = &mut self.state.live.cache.block_hashes;
        hashes.clear();
        let start = self.blocks.len().saturating_sub(257);
        for block in &self.blocks[start..] {
            hashes.insert(U256::from(block.number()), block.hash);
        }
    }

    /// `anvil_dropTransaction`: removes a pending transaction; its hash if it was in the pool.
    pub fn drop_transaction(&mut self, hash: B256) -> Option<B256> {
        self.pool.remove(&hash).map(|p| p.hash)
    }

    /// `anvil_dropAllTransactions`: empties the pool.
    pub fn drop_all_transactions(&mut self) {
        self.pool = Default::default();
    }

    /// `anvil_rollback`: drops the last `depth` blocks; their transactions return to the pool.
    pub fn rollback(&mut self, depth: u64) -> Result<()> {
        let height = self.block_number();
        if depth > height {
            return Err(Error::ReorgTooDeep { depth, height });
        }
        if depth == 0 {
            return Ok(());
        }
        let keep = height - depth;
        let removed = self.blocks.split_off(keep as usize + 1);
        self.state.truncate(keep);
        self.reorg_generation += 1;
        self.rebuild_indexes();
        for block in removed {
            for t in &block.txs {
                self.pool.insert(t.tx.clone(), t.hash);
            }
        }
        Ok(())
    }

    /// `anvil_reorg`: rolls back `depth` blocks and mines `depth` new ones; the rolled-back transactions go
    /// into the first new block, each given transaction into the block at its offset (0-based, < depth).
    pub fn reorg(&mut self, depth: u64, txs: Vec<(ReorgTx, u64)>) -> Result<()> {
        if let Some((_, offset)) = txs.iter().find(|(_, o)| *o >= depth) {
            return Err(Error::InvalidParams(format!(
                "block offset {offset} >= reorg depth {depth}"
            )));
        }
        let automine = self.automine;
        self.automine = false;
        let result = self.reorg_inner(depth, txs);
        self.automine = automine;
        result
    }

    fn reorg_inner(&mut self, depth: u64, txs: Vec<(ReorgTx, u64)>) -> Result<()> {
        self.rollback(depth)?;
        let mut per_block: Vec<Vec<TxEnvelope>> = vec![Vec::new(); depth as usize];
        for (tx, offset) in txs {
            let envelope = match tx {
                ReorgTx::Raw(raw) => {
                    let mut buf = &raw[..];
                    TxEnvelope::decode_2718(&mut buf).map_err(|e| Error::Decode(e.to_string()))?
                }
                ReorgTx::Request(req) => self.sign_request(*req)?,
            };
            per_block[offset as usize].push(envelope);
        }
        for group in per_block {
            for tx in group {
                self.add_transaction(tx)?;
            }
            self.mine_block(None)?;
        }
        Ok(())
    }
}

/// A pool transaction as an RPC transaction (no block fields).
pub(crate) fn pending_rpc_tx(p: &PoolTx) -> alloy::rpc::types::Transaction {
    alloy::rpc::types::Transaction {
        inner: p.tx.clone(),
        block_hash: None,
        block_number: None,
        transaction_index: None,
        effective_gas_price: None,
        block_timestamp: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::consensus::{SignableTransaction, Signed, TxEip1559};
    use alloy::primitives::Signature;
    use alloy::signers::local::PrivateKeySigner;

    fn signed() -> (PrivateKeySigner, Signed<TxEip1559>) {
        let signer = PrivateKeySigner::random();
        let mut tx = TxEip1559 {
            chain_id: 1,
            gas_limit: 21_000,
            ..Default::default()
        };
        let sig = signer.sign_transaction_sync(&mut tx).unwrap();
        (signer, tx.into_signed(sig))
    }

    #[test]
    fn recovers_the_signer() {
        let (signer, tx) = signed();
        assert_eq!(
            recover_sender(&TxEnvelope::Eip1559(tx)).unwrap(),
            signer.address()
        );
    }

    #[test]
    fn refuses_high_s_and_zero_signatures() {
        let (_, tx) = signed();
        let n = SECP256K1N_HALF * U256::from(2) + U256::from(1);
        let sig = tx.signature();
        let high = Signature::new(sig.r(), n - sig.s(), !sig.v());
        let high = TxEnvelope::Eip1559(Signed::new_unhashed(tx.tx().clone(), high));
        assert_eq!(recover_sender(&high), Err(Error::InvalidSender));
        let zero = Signature::new(U256::ZERO, U256::ZERO, false);
        let zero = TxEnvelope::Eip1559(Signed::new_unhashed(tx.tx().clone(), zero));
        assert_eq!(recover_sender(&zero), Err(Error::InvalidSender));
    }
}
