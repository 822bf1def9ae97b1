//! The implementation of the RPC traits over a shared [`Chain`], the interval miner, and the server start.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, Bytes, B256, U256, U64};
use alloy::rpc::types::anvil::{MineOptions, TransactionData};
use alloy::rpc::types::{
    state::StateOverride, Block, BlockTransactions, FeeHistory, Filter, FilterChanges, Log,
    Transaction, TransactionReceipt, TransactionRequest,
};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::ErrorObject;
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::RpcModule;
use std::collections::HashMap;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tracing::{info, warn};

use super::api::{
    AnvilApiServer, EthApiServer, EthPubSubApiServer, EvmApiServer, NetApiServer, Web3ApiServer,
};
use super::Quantity;
use crate::chain::{Chain, ChainConfig, ReorgTx};
use crate::error::Error;

/// The chain shared between the RPC handlers and the interval miner.
pub type SharedChain = Arc<Mutex<Chain>>;

/// Locks the chain; a poisoned lock (a handler panicked) is recovered, so the server stays up.
pub fn lock(chain: &SharedChain) -> MutexGuard<'_, Chain> {
    chain.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Largest accepted request body (64 MiB: a deployment's initcode is at most ~150 KiB, so this only bounds
/// hostile input); a larger body gets HTTP 413 with a JSON-RPC error, the connection and the node stay up.
pub const MAX_REQUEST_BODY_BYTES: u32 = 64 * 1024 * 1024;
/// Largest response body (256 MiB, for `eth_getLogs` over a long dev session); a larger answer is a JSON-RPC error.
pub const MAX_RESPONSE_BODY_BYTES: u32 = 256 * 1024 * 1024;
/// Most calls in one JSON-RPC batch (jsonrpsee's default is unlimited); a longer batch is answered with one
/// JSON-RPC error and none of its calls runs.
pub const MAX_BATCH_LEN: u32 = 1_000;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The chain could not be created.
    #[error(transparent)]
    Chain(#[from] Error),
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Registering the RPC methods failed (a duplicate name: a bug).
    #[error("registering RPC methods: {0}")]
    Register(String),
}

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The chain to create.
    pub chain: ChainConfig,
    /// Interface to listen on.
    pub host: IpAddr,
    /// Port (0 = any free port).
    pub port: u16,
    /// Interval mining period; when set, automine is off.
    pub block_time: Option<Duration>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            chain: ChainConfig::default(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            block_time: None,
        }
    }
}

/// A running node: its URL, its chain and the handle that stops it. Dropping it stops the server.
#[derive(Debug)]
pub struct NodeHandle {
    addr: SocketAddr,
    url: String,
    chain: SharedChain,
    server: ServerHandle,
    miner: tokio::task::JoinHandle<()>,
}

impl NodeHandle {
    /// The HTTP URL, e.g. `http://127.0.0.1:8547`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The WebSocket URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The chain behind the server (for in-process inspection and control).
    pub fn chain(&self) -> SharedChain {
        self.chain.clone()
    }

    /// Stops the server and the miner and waits until the server has stopped.
    pub async fn stop(self) {
        let _ = self.server.stop();
        self.server.clone().stopped().await;
        self.miner.abort();
    }

    /// Waits until the server stops (it runs until [`NodeHandle::stop`] or process exit).
    pub async fn stopped(&self) {
        self.server.clone().stopped().await;
    }
}

impl Drop for NodeHandle {
    fn drop(&mut self) {
        let _ = self.server.stop();
        self.miner.abort();
    }
}

/// Creates a chain from `config.chain` and serves it over HTTP and WebSocket on `config.host:config.port`.
pub async fn start(config: NodeConfig) -> Result<NodeHandle, ServerError> {
    let chain = Arc::new(Mutex::new(Chain::new(config.chain.clone())?));
    start_with_chain(chain, &config).await
}

/// Serves an existing chain (host, port and block time taken from `config`; `config.chain` is ignored).
pub async fn start_with_chain(
    chain: SharedChain,
    config: &NodeConfig,
) -> Result<NodeHandle, ServerError> {
    let (interval_tx, interval_rx) = watch::channel(config.block_time);
    if config.block_time.is_some() {
        lock(&chain).set_automine(false)?;
    }
    let rpc = DevnodeRpc {
        chain: chain.clone(),
        interval: Arc::new(interval_tx),
        filters: Arc::new(Mutex::new(PollFilters::default())),
    };
    let mut module = RpcModule::new(());
    let reg = |e: jsonrpsee::core::RegisterMethodError| ServerError::Register(e.to_string());
    module
        .merge(EthApiServer::into_rpc(rpc.clone()))
        .map_err(reg)?;
    module
        .merge(EthPubSubApiServer::into_rpc(rpc.clone()))
        .map_err(reg)?;
    module
        .merge(NetApiServer::into_rpc(rpc.clone()))
        .map_err(reg)?;
    module
        .merge(Web3ApiServer::into_rpc(rpc.clone()))
        .map_err(reg)?;
    module
        .merge(EvmApiServer::into_rpc(rpc.clone()))
        .map_err(reg)?;
    module
        .merge(AnvilApiServer::into_rpc(rpc.clone()))
        .map_err(reg)?;

    let addr = SocketAddr::new(config.host, config.port);
    let server_config = ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BODY_BYTES)
        .max_response_body_size(MAX_RESPONSE_BODY_BYTES)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH_LEN))
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .build(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let addr = server
        .local_addr()
        .map_err(|source| ServerError::Bind { addr, source })?;
    let handle = server.start(module);
    let miner = tokio::spawn(interval_miner(chain.clone(), interval_rx));
    info!(target: "devnode::rpc", %addr, "listening");
    Ok(NodeHandle {
        addr,
        url: format!("http://{addr}"),
        chain,
        server: handle,
        miner,
    })
}

async fn interval_miner(chain: SharedChain, mut rx: watch::Receiver<Option<Duration>>) {
    loop {
        let interval = *rx.borrow_and_update();
        match interval {
            None => {
                if rx.changed().await.is_err() {
                    return;
                }
            }
            Some(period) => {
                tokio::select! {
                    _ = tokio::time::sleep(period) => {
                        if let Err(err) = lock(&chain).mine(1, None) {
                            warn!(target: "devnode::rpc", %err, "interval mining failed");
                        }
                    }
                    changed = rx.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// A filter polled with `eth_getFilterChanges`: what it watches and the first block not yet reported.
#[derive(Clone, Debug)]
enum PollFilter {
    Blocks { next: u64 },
    Logs { filter: Box<Filter>, next: u64 },
}

/// Installed poll filters, by id.
#[derive(Debug, Default)]
struct PollFilters {
    next_id: u64,
    filters: HashMap<U256, PollFilter>,
}

/// The RPC implementation: every trait of [`super::api`] over one shared chain.
#[derive(Clone, Debug)]
pub struct DevnodeRpc {
    chain: SharedChain,
    interval: Arc<watch::Sender<Option<Duration>>>,
    filters: Arc<Mutex<PollFilters>>,
}

impl DevnodeRpc {
    fn chain(&self) -> MutexGuard<'_, Chain> {
        lock(&self.chain)
    }

    fn filters(&self) -> MutexGuard<'_, PollFilters> {
        self.filters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn install(&self, filter: PollFilter) -> U256 {
        let mut filters = self.filters();
        filters.next_id += 1;
        let id = U256::from(filters.next_id);
        filters.filters.insert(id, filter);
        id
    }

    fn set_interval(&self, seconds: u64) -> RpcResult<()> {
        if seconds > 0 {
            self.chain().set_automine(false)?;
            self.interval
                .send_replace(Some(Duration::from_secs(seconds)));
        } else {
            self.interval.send_replace(None);
        }
        Ok(())
    }
}

impl EthApiServer for DevnodeRpc {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain().chain_id()))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain().block_number()))
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        Ok(self.chain().balance(address, block)?)
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        Ok(U64::from(self.chain().nonce(address, block)?))
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        Ok(self.chain().code(address, block)?)
    }

    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256> {
        Ok(self.chain().storage(address, slot, block)?)
    }

    fn gas_price(&self) -> RpcResult<U256> {
        Ok(U256::from(self.chain().gas_price()))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(self.chain().max_priority_fee_per_gas()))
    }

    fn fee_history(
        &self,
        block_count: Quantity,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        Ok(self
            .chain()
            .fee_history(block_count.0, newest, percentiles.as_deref())?)
    }

    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        Ok(U64::from(self.chain().estimate_gas(
            &request,
            block,
            overrides.as_ref(),
        )?))
    }

    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes> {
        Ok(self.chain().call(&request, block, overrides.as_ref())?)
    }

    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        Ok(self.chain().send_raw_transaction(&raw)?)
    }

    fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256> {
        Ok(self.chain().send_transaction(request)?)
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        Ok(self.chain().receipt(hash))
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        Ok(self.chain().transaction_by_hash(hash))
    }

    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>> {
        Ok(self.chain().block_by_number(number, full))
    }

    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        Ok(self.chain().block_by_hash(hash, full))
    }

    fn block_receipts(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        Ok(self.chain().block_receipts(number))
    }

    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        Ok(self.chain().logs(&filter)?)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(self
            .chain()
            .dev_accounts()
            .iter()
            .map(|a| a.address)
            .collect())
    }

    fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }

    fn coinbase(&self) -> RpcResult<Address> {
        Ok(self.chain().config().coinbase)
    }

    fn block_transaction_count_by_number(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>> {
        let block = self.chain().block_by_number(number, false);
        Ok(block.map(|b| U64::from(b.transactions.len())))
    }

    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        let block = self.chain().block_by_hash(hash, false);
        Ok(block.map(|b| U64::from(b.transactions.len())))
    }

    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Quantity,
    ) -> RpcResult<Option<Transaction>> {
        Ok(nth_tx(self.chain().block_by_number(number, true), index.0))
    }

    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Quantity,
    ) -> RpcResult<Option<Transaction>> {
        Ok(nth_tx(self.chain().block_by_hash(hash, true), index.0))
    }

    fn new_filter(&self, filter: Filter) -> RpcResult<U256> {
        let next = self.chain().block_number() + 1;
        Ok(self.install(PollFilter::Logs {
            filter: Box::new(filter),
            next,
        }))
    }

    fn new_block_filter(&self) -> RpcResult<U256> {
        let next = self.chain().block_number() + 1;
        Ok(self.install(PollFilter::Blocks { next }))
    }

    fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges> {
        let chain = self.chain();
        let head = chain.block_number();
        let mut filters = self.filters();
        let Some(filter) = filters.filters.get_mut(&id) else {
            return Err(filter_not_found());
        };
        match filter {
            PollFilter::Blocks { next } => {
                let start = (*next).min(head + 1);
                let hashes = (start..=head)
                    .filter_map(|n| chain.header(n))
                    .map(|h| h.hash)
                    .collect();
                *next = head + 1;
                Ok(FilterChanges::Hashes(hashes))
            }
            PollFilter::Logs { filter, next } => {
                let start = (*next).min(head + 1);
                let logs = (start..=head)
                    .flat_map(|n| chain.block_logs(n, filter))
                    .collect();
                *next = head + 1;
                Ok(FilterChanges::Logs(logs))
            }
        }
    }

    fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>> {
        let filter = match self.filters().filters.get(&id) {
            Some(PollFilter::Logs { filter, .. }) => filter.clone(),
            Some(PollFilter::Blocks { .. }) | None => return Err(filter_not_found()),
        };
        Ok(self.chain().logs(&filter)?)
    }

    fn uninstall_filter(&self, id: U256) -> RpcResult<bool> {
        Ok(self.filters().filters.remove(&id).is_some())
    }
}

fn nth_tx(block: Option<Block>, index: u64) -> Option<Transaction> {
    match block?.transactions {
        BlockTransactions::Full(txs) => txs.into_iter().nth(index as usize),
        BlockTransactions::Hashes(_) | BlockTransactions::Uncle => None,
    }
}

fn filter_not_found() -> jsonrpsee::types::ErrorObjectOwned {
    ErrorObject::owned(
        crate::error::SERVER_ERROR_CODE,
        "filter not found",
        None::<()>,
    )
}

#[jsonrpsee::core::async_trait]
impl EthPubSubApiServer for DevnodeRpc {
    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        filter: Option<Filter>,
    ) -> SubscriptionResult {
        let logs = match kind.as_str() {
            "newHeads" => None,
            "logs" => Some(filter.unwrap_or_default()),
            other => {
                let msg =
                    format!("unsupported subscription: {other} (newHeads and logs are supported)");
                pending
                    .reject(ErrorObject::owned(
                        crate::error::INVALID_PARAMS_CODE,
                        msg,
                        None::<()>,
                    ))
                    .await;
                return Ok(());
            }
        };
        let mut blocks = self.chain().subscribe_blocks();
        let sink = pending.accept().await?;
        loop {
            let number = tokio::select! {
                _ = sink.closed() => return Ok(()),
                received = blocks.recv() => match received {
                    Ok(number) => number,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return Ok(()),
                },
            };
            let items: Result<Vec<Box<serde_json::value::RawValue>>, serde_json::Error> = {
                let chain = self.chain();
                match &logs {
                    None => chain
                        .header(number)
                        .into_iter()
                        .map(|h| serde_json::value::to_raw_value(&h))
                        .collect(),
                    Some(filter) => chain
                        .block_logs(number, filter)
                        .iter()
                        .map(serde_json::value::to_raw_value)
                        .collect(),
                }
            };
            let items =
                items.map_err(|e| jsonrpsee::core::SubscriptionError::from(e.to_string()))?;
            for item in items {
                if sink.send(item).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

impl NetApiServer for DevnodeRpc {
    fn version(&self) -> RpcResult<String> {
        Ok(self.chain().chain_id().to_string())
    }

    fn listening(&self) -> RpcResult<bool> {
        Ok(true)
    }
}

impl Web3ApiServer for DevnodeRpc {
    fn client_version(&self) -> RpcResult<String> {
        Ok(format!("devnode/v{}", env!("CARGO_PKG_VERSION")))
    }
}

impl EvmApiServer for DevnodeRpc {
    fn increase_time(&self, seconds: Quantity) -> RpcResult<i64> {
        Ok(self.chain().increase_time(seconds.0))
    }

    fn set_next_block_timestamp(&self, timestamp: Quantity) -> RpcResult<()> {
        Ok(self.chain().set_next_block_timestamp(timestamp.0)?)
    }

    fn mine(&self, options: Option<MineOptions>) -> RpcResult<String> {
        let (blocks, timestamp) = match options {
            None => (1, None),
            Some(MineOptions::Options { timestamp, blocks }) => (blocks.unwrap_or(1), timestamp),
            Some(MineOptions::Timestamp(ts)) => (1, ts),
        };
        self.chain().mine(blocks, timestamp)?;
        Ok("0x0".into())
    }

    fn snapshot(&self) -> RpcResult<U256> {
        Ok(self.chain().snapshot())
    }

    fn revert(&self, id: U256) -> RpcResult<bool> {
        Ok(self.chain().revert(id))
    }

    fn set_automine(&self, on: bool) -> RpcResult<()> {
        Ok(self.chain().set_automine(on)?)
    }

    fn set_interval_mining(&self, seconds: Quantity) -> RpcResult<()> {
        self.set_interval(seconds.0)
    }
}

impl AnvilApiServer for DevnodeRpc {
    fn drop_transaction(&self, hash: B256) -> RpcResult<Option<B256>> {
        Ok(self.chain().drop_transaction(hash))
    }

    fn drop_all_transactions(&self) -> RpcResult<()> {
        self.chain().drop_all_transactions();
        Ok(())
    }

    fn reorg(
        &self,
        depth: Quantity,
        tx_block_pairs: Option<Vec<(TransactionData, u64)>>,
    ) -> RpcResult<()> {
        let txs = tx_block_pairs
            .unwrap_or_default()
            .into_iter()
            .map(|(data, offset)| {
                let tx = match data {
                    TransactionData::Raw(raw) => ReorgTx::Raw(raw),
                    TransactionData::JSON(req) => ReorgTx::Request(Box::new(req)),
                };
                (tx, offset)
            })
            .collect();
        Ok(self.chain().reorg(depth.0, txs)?)
    }

    fn rollback(&self, depth: Option<Quantity>) -> RpcResult<()> {
        Ok(self.chain().rollback(depth.map_or(1, |d| d.0))?)
    }

    fn set_balance(&self, address: Address, balance: U256) -> RpcResult<()> {
        self.chain().set_balance(address, balance);
        Ok(())
    }

    fn set_nonce(&self, address: Address, nonce: Quantity) -> RpcResult<()> {
        self.chain().set_nonce(address, nonce.0);
        Ok(())
    }

    fn set_code(&self, address: Address, code: Bytes) -> RpcResult<()> {
        self.chain().set_code(address, code);
        Ok(())
    }

    fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> RpcResult<bool> {
        self.chain()
            .set_storage_at(address, slot, U256::from_be_bytes(value.0));
        Ok(true)
    }

    fn mine(&self, blocks: Option<Quantity>, interval: Option<Quantity>) -> RpcResult<()> {
        let mut chain = self.chain();
        let count = blocks.map_or(1, |b| b.0).max(1);
        if count > crate::chain::MAX_MINE_BLOCKS {
            return Err(Error::InvalidParams(format!(
                "at most {} blocks per call",
                crate::chain::MAX_MINE_BLOCKS
            ))
            .into());
        }
        let step = interval.map_or(0, |i| i.0);
        for i in 0..count {
            if step > 0 && i > 0 {
                chain.increase_time(step);
            }
            chain.mine(1, None)?;
        }
        Ok(())
    }

    fn get_automine(&self) -> RpcResult<bool> {
        Ok(self.chain().automine())
    }

    fn set_automine(&self, on: bool) -> RpcResult<()> {
        Ok(self.chain().set_automine(on)?)
    }

    fn set_interval_mining(&self, seconds: Quantity) -> RpcResult<()> {
        self.set_interval(seconds.0)
    }

    fn increase_time(&self, seconds: Quantity) -> RpcResult<i64> {
        Ok(self.chain().increase_time(seconds.0))
    }

    fn set_next_block_timestamp(&self, timestamp: Quantity) -> RpcResult<()> {
        Ok(self.chain().set_next_block_timestamp(timestamp.0)?)
    }

    fn set_next_block_base_fee_per_gas(&self, fee: Quantity) -> RpcResult<()> {
        self.chain().set_next_block_base_fee(fee.0);
        Ok(())
    }
}
