//! World state: the live revm database the next block executes on, plus a version list per account and per
//! storage slot for reads at past blocks.
//!
//! Choice (see the README): instead of a snapshot per block, every account and slot keeps a list of
//! `(block number, value)` versions, appended when a block changes it. A read at block `n` is a binary search,
//! so a chain of many thousands of blocks costs memory proportional to the changes only. Executing at a past
//! block (`eth_call` with a number) materialises a [`StateDb`] from the versions — O(live keys), fine for a
//! development chain. Rolling back (reorg, snapshot revert) truncates the lists and rebuilds the live database.
//!
//! Limitation: storage wiped by a same-transaction SELFDESTRUCT (the only kind after Cancun) of an account that
//! had storage from an earlier block is not recorded as wiped in the versions; such accounts cannot exist after
//! Cancun because the storage of an account created in the same transaction starts empty.

use std::collections::HashMap;

use alloy::primitives::{Address, Bytes, B256, U256};
use revm::{
    bytecode::Bytecode,
    database::{CacheDB, EmptyDB},
    primitives::KECCAK_EMPTY,
    state::{AccountInfo, EvmState},
    DatabaseCommit,
};

use crate::evm::StateDb;

/// Versions of one value: `(block number, value)`, ascending by block, at most one entry per block.
type Versions<T> = Vec<(u64, T)>;

/// Live database plus history.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    /// The database transactions execute on: the state after the head block (and cheats applied since).
    pub(crate) live: StateDb,
    accounts: HashMap<Address, Versions<AccountInfo>>,
    storage: HashMap<(Address, U256), Versions<U256>>,
    codes: HashMap<B256, Bytecode>,
}

fn push_version<T>(versions: &mut Versions<T>, block: u64, value: T) {
    match versions.last_mut() {
        Some((b, v)) if *b == block => *v = value,
        _ => versions.push((block, value)),
    }
}

fn version_at<T>(versions: &Versions<T>, block: u64) -> Option<&T> {
    let idx = versions.partition_point(|(b, _)| *b <= block);
    idx.checked_sub(1).map(|i| &versions[i].1)
}

impl State {
    /// An empty state.
    pub(crate) fn new() -> Self {
        Self {
            live: CacheDB::new(EmptyDB::default()),
            ..Default::default()
        }
    }

    /// Applies `changes` (one transaction's result) to the live database and records them at `block`.
    pub(crate) fn commit(&mut self, block: u64, changes: EvmState) {
        for (address, account) in &changes {
            if !account.is_touched() {
                continue;
            }
            let mut info = if account.is_selfdestructed() {
                AccountInfo::default()
            } else {
                account.info.clone()
            };
            if let Some(code) = info.code.take() {
                if info.code_hash != KECCAK_EMPTY {
                    self.codes.entry(info.code_hash).or_insert(code);
                }
            }
            push_version(self.accounts.entry(*address).or_default(), block, info);
            for (slot, value) in &account.storage {
                if value.is_changed() {
                    push_version(
                        self.storage.entry((*address, *slot)).or_default(),
                        block,
                        value.present_value,
                    );
                }
            }
        }
        self.live.commit(changes);
    }

    /// Sets an account's fields directly (genesis funding, `anvil_setBalance`), recorded at `block`.
    pub(crate) fn set_account(&mut self, block: u64, address: Address, mut info: AccountInfo) {
        if let Some(code) = info.code.clone() {
            if info.code_hash != KECCAK_EMPTY {
                self.codes.entry(info.code_hash).or_insert(code);
            }
        }
        self.live.insert_account_info(address, info.clone());
        info.code = None;
        push_version(self.accounts.entry(address).or_default(), block, info);
    }

    /// Sets one storage slot directly, recorded at `block`.
    pub(crate) fn set_storage(&mut self, block: u64, address: Address, slot: U256, value: U256) {
        // Infallible: the inner database is EmptyDB.
        let _ = self.live.insert_account_storage(address, slot, value);
        push_version(
            self.storage.entry((address, slot)).or_default(),
            block,
            value,
        );
    }

    /// The account at the end of `block` (without code), if it exists.
    pub(crate) fn account_at(&self, address: Address, block: u64) -> Option<AccountInfo> {
        self.accounts
            .get(&address)
            .and_then(|v| version_at(v, block))
            .cloned()
    }

    /// The live account (latest state including cheats).
    pub(crate) fn account_latest(&self, address: Address) -> Option<AccountInfo> {
        self.accounts
            .get(&address)
            .and_then(|v| v.last())
            .map(|(_, info)| info.clone())
    }

    /// Balance at the end of `block`.
    pub(crate) fn balance_at(&self, address: Address, block: u64) -> U256 {
        self.account_at(address, block)
            .map(|a| a.balance)
            .unwrap_or_default()
    }

    /// Nonce at the end of `block`.
    pub(crate) fn nonce_at(&self, address: Address, block: u64) -> u64 {
        self.account_at(address, block)
            .map(|a| a.nonce)
            .unwrap_or_default()
    }

    /// Latest nonce.
    pub(crate) fn nonce_latest(&self, address: Address) -> u64 {
        self.account_latest(address)
            .map(|a| a.nonce)
            .unwrap_or_default()
    }

    /// Latest balance.
    pub(crate) fn balance_latest(&self, address: Address) -> U256 {
        self.account_latest(address)
            .map(|a| a.balance)
            .unwrap_or_default()
    }

    /// Whether the account has code in the latest state.
    pub(crate) fn has_code_latest(&self, address: Address) -> bool {
        self.account_latest(address)
            .is_some_and(|a| a.code_hash != KECCAK_EMPTY && a.code_hash != B256::ZERO)
    }

    /// Code at the end of `block`.
    pub(crate) fn code_at(&self, address: Address, block: u64) -> Bytes {
        self.account_at(address, block)
            .and_then(|a| self.codes.get(&a.code_hash))
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    /// A storage slot at the end of `block`.
    pub(crate) fn storage_at(&self, address: Address, slot: U256, block: u64) -> U256 {
        self.storage
            .get(&(address, slot))
            .and_then(|v| version_at(v, block))
            .copied()
            .unwrap_or_default()
    }

    /// A fresh database holding the state at the end of `block`.
    pub(crate) fn db_at(&self, block: u64) -> StateDb {
        let mut db = CacheDB::new(EmptyDB::default());
        for (address, versions) in &self.accounts {
            if let Some(info) = version_at(versions, block) {
                let mut info = info.clone();
                info.code = self.codes.get(&info.code_hash).cloned();
                db.insert_account_info(*address, info);
            }
        }
        for ((address, slot), versions) in &self.storage {
            if let Some(value) = version_at(versions, block) {
                // Infallible: the inner database is EmptyDB.
                let _ = db.insert_account_storage(*address, *slot, *value);
            }
        }
        db
    }

    /// Forgets every change after `block` and rebuilds the live database at `block`.
    pub(crate) fn truncate(&mut self, block: u64) {
        self.accounts.retain(|_, v| {
            v.truncate(v.partition_point(|(b, _)| *b <= block));
            !v.is_empty()
        });
        self.storage.retain(|_, v| {
            v.truncate(v.partition_point(|(b, _)| *b <= block));
            !v.is_empty()
        });
        self.live = self.db_at(block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_answer_reads_at_past_blocks_and_truncate() {
        let mut s = State::new();
        let a = Address::repeat_byte(1);
        for (block, bal) in [(0u64, 10u64), (3, 20), (7, 30)] {
            s.set_account(
                block,
                a,
                AccountInfo {
                    balance: U256::from(bal),
                    ..Default::default()
                },
            );
        }
        s.set_storage(3, a, U256::from(1), U256::from(5));
        assert_eq!(s.balance_at(a, 0), U256::from(10));
        assert_eq!(s.balance_at(a, 2), U256::from(10));
        assert_eq!(s.balance_at(a, 5), U256::from(20));
        assert_eq!(s.balance_at(a, 100), U256::from(30));
        assert_eq!(s.storage_at(a, U256::from(1), 2), U256::ZERO);
        assert_eq!(s.storage_at(a, U256::from(1), 3), U256::from(5));
        s.truncate(4);
        assert_eq!(s.balance_latest(a), U256::from(20));
        assert_eq!(s.live.cache.accounts[&a].info.balance, U256::from(20));
        s.truncate(2);
        assert_eq!(s.storage_at(a, U256::from(1), 9), U256::ZERO);
    }
}
