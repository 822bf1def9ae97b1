//! The transaction pool: admitted, not yet mined transactions, by hash and by (sender, nonce).
//!
//! Like geth and anvil, a transaction whose nonce is above the sender's next nonce is accepted and waits
//! (queued) until the gap is filled; it is mined once every lower nonce is.

use std::collections::{BTreeMap, HashMap};

use alloy::consensus::{transaction::Recovered, Transaction as _, TxEnvelope};
use alloy::primitives::{Address, B256};

/// One pool entry.
#[derive(Clone, Debug)]
pub(crate) struct PoolTx {
    pub(crate) tx: Recovered<TxEnvelope>,
    pub(crate) hash: B256,
    /// Arrival order: blocks take transactions first come, first served (Arbitrum's sequencer order).
    pub(crate) seq: u64,
}

impl PoolTx {
    pub(crate) fn sender(&self) -> Address {
        self.tx.signer()
    }

    pub(crate) fn nonce(&self) -> u64 {
        self.tx.inner().nonce()
    }
}

/// Pending and queued transactions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pool {
    by_hash: HashMap<B256, PoolTx>,
    by_sender: HashMap<Address, BTreeMap<u64, B256>>,
    next_seq: u64,
}

impl Pool {
    pub(crate) fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    pub(crate) fn get(&self, hash: &B256) -> Option<&PoolTx> {
        self.by_hash.get(hash)
    }

    /// The entry with this sender and nonce, if any.
    pub(crate) fn by_sender_nonce(&self, sender: Address, nonce: u64) -> Option<&PoolTx> {
        self.by_sender
            .get(&sender)?
            .get(&nonce)
            .and_then(|h| self.by_hash.get(h))
    }

    /// Inserts, replacing a same-(sender, nonce) entry; returns the replaced one.
    pub(crate) fn insert(&mut self, tx: Recovered<TxEnvelope>, hash: B256) -> Option<PoolTx> {
        let sender = tx.signer();
        let nonce = tx.inner().nonce();
        let replaced = self.by_sender_nonce(sender, nonce).map(|p| p.hash);
        let replaced = replaced.and_then(|h| self.remove(&h));
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(nonce, hash);
        self.by_hash.insert(hash, PoolTx { tx, hash, seq });
        replaced
    }

    /// Removes one entry.
    pub(crate) fn remove(&mut self, hash: &B256) -> Option<PoolTx> {
        let entry = self.by_hash.remove(hash)?;
        if let Some(nonces) = self.by_sender.get_mut(&entry.sender()) {
            nonces.remove(&entry.nonce());
            if nonces.is_empty() {
                self.by_sender.remove(&entry.sender());
            }
        }
        Some(entry)
    }

    /// The next nonce of `sender` counting contiguous pool transactions from `state_nonce` (the "pending" nonce).
    pub(crate) fn pending_nonce(&self, sender: Address, state_nonce: u64) -> u64 {
        let mut next = state_nonce;
        if let Some(nonces) = self.by_sender.get(&sender) {
            while nonces.contains_key(&next) {
                next += 1;
            }
        }
        next
    }

    /// For every sender, its pool transactions with contiguous nonces starting at `nonce_of(sender)`, in order.
    pub(crate) fn ready(&self, nonce_of: impl Fn(Address) -> u64) -> Vec<Vec<PoolTx>> {
        let mut out = Vec::new();
        for (sender, nonces) in &self.by_sender {
            let start = nonce_of(*sender);
            let run: Vec<PoolTx> = nonces
                .range(start..)
                .zip(start..)
                .take_while(|((nonce, _), expected)| *nonce == expected)
                .filter_map(|((_, hash), _)| self.by_hash.get(hash).cloned())
                .collect();
            if !run.is_empty() {
                out.push(run);
            }
        }
        out.sort_by_key(|run| run[0].seq);
        out
    }

    /// Drops every entry whose nonce is below its sender's current nonce (mined or replaced on chain).
    pub(crate) fn prune(&mut self, nonce_of: impl Fn(Address) -> u64) {
        let stale: Vec<B256> = self
            .by_hash
            .values()
            .filter(|p| p.nonce() < nonce_of(p.sender()))
            .map(|p| p.hash)
            .collect();
        for hash in stale {
            self.remove(&hash);
        }
    }

    /// All entries, in arrival order.
    pub(crate) fn all(&self) -> Vec<&PoolTx> {
        let mut v: Vec<&PoolTx> = self.by_hash.values().collect();
        v.sort_by_key(|p| p.seq);
        v
    }
}
