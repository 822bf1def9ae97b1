//! Shared set-up: an in-process devnode, a keeper key, a SQLite store, counting the sender's transactions.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::consensus::Transaction as _;
use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionResponse;
use alloy::primitives::{Address, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use devnode::rpc::{server::lock, start, NodeConfig};
use verity_keeper::failpoint::Failpoints;
use verity_keeper::outbox::{TxConfig, TxManager};
use verity_keeper::store::SqliteStore;

pub(crate) struct Env {
    pub(crate) node: devnode::rpc::server::NodeHandle,
    pub(crate) provider: DynProvider,
    pub(crate) key: String,
    pub(crate) signer: PrivateKeySigner,
    pub(crate) chain_id: u64,
    pub(crate) db_url: String,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) async fn env() -> Env {
    let node = start(NodeConfig::default()).await.expect("devnode");
    let (key, chain_id) = {
        let shared = node.chain();
        let chain = lock(&shared);
        (chain.dev_accounts()[0].private_key_hex(), chain.chain_id())
    };
    let signer: PrivateKeySigner = key.parse().unwrap();
    let provider = ProviderBuilder::new()
        .connect_http(node.url().parse().unwrap())
        .erased();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
    Env {
        node,
        provider,
        key,
        signer,
        chain_id,
        db_url,
        _dir: dir,
    }
}

impl Env {
    pub(crate) async fn store(&self) -> SqliteStore {
        SqliteStore::connect(&self.db_url).await.unwrap()
    }

    pub(crate) fn tx_config(&self) -> TxConfig {
        TxConfig {
            chain_id: self.chain_id,
            confirmations: 1,
            rebroadcast_after: Duration::from_millis(0),
            ..TxConfig::default()
        }
    }

    pub(crate) async fn manager(
        &self,
        failpoints: Failpoints,
    ) -> TxManager<SqliteStore, DynProvider> {
        TxManager::new(
            self.store().await,
            self.provider.clone(),
            self.signer.clone(),
            self.tx_config(),
            failpoints,
        )
    }

    /// Every transaction the keeper's account has on chain, counted by calldata.
    pub(crate) async fn sent_by_calldata(&self) -> BTreeMap<Bytes, usize> {
        let head = self.provider.get_block_number().await.unwrap();
        let mut out = BTreeMap::new();
        for n in 0..=head {
            let block = self
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(n))
                .full()
                .await
                .unwrap()
                .unwrap();
            for tx in block.transactions.into_transactions() {
                if tx.from() == self.signer.address() {
                    *out.entry(tx.input().clone()).or_insert(0) += 1;
                }
            }
        }
        out
    }

    pub(crate) async fn chain_nonce(&self) -> u64 {
        self.provider
            .get_transaction_count(self.signer.address())
            .await
            .unwrap()
    }
}

/// An EOA-like target: calls to it succeed with any calldata.
pub(crate) const TARGET: Address = Address::with_last_byte(0x77);
