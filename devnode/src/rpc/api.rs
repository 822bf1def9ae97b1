//! The JSON-RPC method traits (jsonrpsee): `eth_*`, `net_*`, `web3_*`, and the anvil-style dev controls
//! `evm_*` / `anvil_*`. The traits only name methods and types; [`super::server`] implements them.
#![allow(missing_docs)] // The proc macro generates undocumented items; each method is documented below.

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, Bytes, B256, U256, U64};
use alloy::rpc::types::anvil::{MineOptions, TransactionData};
use alloy::rpc::types::{
    state::StateOverride, Block, FeeHistory, Filter, FilterChanges, Log, Transaction,
    TransactionReceipt, TransactionRequest,
};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;

use super::Quantity;

/// `eth_*`: the Ethereum JSON-RPC methods devnode serves.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// The chain id.
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;
    /// The head block number.
    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;
    /// Balance at a block (default latest).
    #[method(name = "getBalance")]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// Nonce at a block; `pending` counts pool transactions.
    #[method(name = "getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// Code at a block.
    #[method(name = "getCode")]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// One storage slot at a block.
    #[method(name = "getStorageAt")]
    fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256>;
    /// The gas price (next base fee).
    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;
    /// The suggested tip (0, as on Arbitrum).
    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    /// Fee history over `block_count` blocks ending at `newest`.
    #[method(name = "feeHistory")]
    fn fee_history(
        &self,
        block_count: Quantity,
        newest: BlockNumberOrTag,
        percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
    /// Gas estimate (binary search).
    #[method(name = "estimateGas")]
    fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;
    /// Simulated call with optional state overrides.
    #[method(name = "call")]
    fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes>;
    /// Submits a signed transaction.
    #[method(name = "sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// Signs with a dev account and submits.
    #[method(name = "sendTransaction")]
    fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256>;
    /// A receipt (null while pending).
    #[method(name = "getTransactionReceipt")]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;
    /// A transaction, mined or pending.
    #[method(name = "getTransactionByHash")]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;
    /// A block by number or tag.
    #[method(name = "getBlockByNumber")]
    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>>;
    /// A block by hash.
    #[method(name = "getBlockByHash")]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;
    /// All receipts of a block.
    #[method(name = "getBlockReceipts")]
    fn block_receipts(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<Vec<TransactionReceipt>>>;
    /// Logs matching a filter.
    #[method(name = "getLogs")]
    fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
    /// The dev accounts.
    #[method(name = "accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// Always false.
    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<bool>;
    /// The block beneficiary.
    #[method(name = "coinbase")]
    fn coinbase(&self) -> RpcResult<Address>;
    /// Number of transactions in a block.
    #[method(name = "getBlockTransactionCountByNumber")]
    fn block_transaction_count_by_number(&self, number: BlockNumberOrTag)
        -> RpcResult<Option<U64>>;
    /// Number of transactions in a block.
    #[method(name = "getBlockTransactionCountByHash")]
    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;
    /// A transaction by block number and index.
    #[method(name = "getTransactionByBlockNumberAndIndex")]
    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: Quantity,
    ) -> RpcResult<Option<Transaction>>;
    /// A transaction by block hash and index.
    #[method(name = "getTransactionByBlockHashAndIndex")]
    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: Quantity,
    ) -> RpcResult<Option<Transaction>>;
    /// Installs a log filter polled with `eth_getFilterChanges` (logs of blocks mined after installation).
    #[method(name = "newFilter")]
    fn new_filter(&self, filter: Filter) -> RpcResult<U256>;
    /// Installs a new-block filter (block hashes).
    #[method(name = "newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U256>;
    /// What a filter saw since the last poll.
    #[method(name = "getFilterChanges")]
    fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges>;
    /// All logs matching a log filter.
    #[method(name = "getFilterLogs")]
    fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>>;
    /// Removes a filter.
    #[method(name = "uninstallFilter")]
    fn uninstall_filter(&self, id: U256) -> RpcResult<bool>;
}

/// `eth_subscribe` over WebSocket: `newHeads` and `logs` (with an optional filter).
#[rpc(server, namespace = "eth")]
pub trait EthPubSubApi {
    /// Subscribes to new block headers or to matching logs.
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = serde_json::Value)]
    async fn subscribe(&self, kind: String, filter: Option<Filter>) -> SubscriptionResult;
}

/// `net_*`.
#[rpc(server, namespace = "net")]
pub trait NetApi {
    /// The chain id as a decimal string.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;
    /// Always true.
    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;
}

/// `web3_*`.
#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    /// `devnode/v<version>`.
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;
}

/// `evm_*`: Ganache/Hardhat/anvil-style chain controls.
#[rpc(server, namespace = "evm")]
pub trait EvmApi {
    /// Moves time forward; returns the total offset in seconds.
    #[method(name = "increaseTime")]
    fn increase_time(&self, seconds: Quantity) -> RpcResult<i64>;
    /// Pins the next block's timestamp.
    #[method(name = "setNextBlockTimestamp")]
    fn set_next_block_timestamp(&self, timestamp: Quantity) -> RpcResult<()>;
    /// Mines one (or `blocks`) blocks.
    #[method(name = "mine")]
    fn mine(&self, options: Option<MineOptions>) -> RpcResult<String>;
    /// Saves the state; returns the id.
    #[method(name = "snapshot")]
    fn snapshot(&self) -> RpcResult<U256>;
    /// Restores a snapshot.
    #[method(name = "revert")]
    fn revert(&self, id: U256) -> RpcResult<bool>;
    /// Automine on/off.
    #[method(name = "setAutomine")]
    fn set_automine(&self, on: bool) -> RpcResult<()>;
    /// Interval mining every `seconds` (0 = off).
    #[method(name = "setIntervalMining")]
    fn set_interval_mining(&self, seconds: Quantity) -> RpcResult<()>;
}

/// `anvil_*`: anvil's extra controls that devnode supports.
#[rpc(server, namespace = "anvil")]
pub trait AnvilApi {
    /// Removes a pending transaction; returns its hash or null.
    #[method(name = "dropTransaction")]
    fn drop_transaction(&self, hash: B256) -> RpcResult<Option<B256>>;
    /// Empties the pool.
    #[method(name = "dropAllTransactions")]
    fn drop_all_transactions(&self) -> RpcResult<()>;
    /// Rolls back `depth` blocks and mines as many new ones (see [`crate::chain::Chain::reorg`]).
    /// Takes `[depth, [[tx, blockOffset], …]]` (anvil's positional form) or `{depth, tx_block_pairs}` (alloy's).
    #[method(name = "reorg")]
    fn reorg(
        &self,
        depth: Quantity,
        tx_block_pairs: Option<Vec<(TransactionData, u64)>>,
    ) -> RpcResult<()>;
    /// Drops the last `depth` blocks (default 1); their transactions return to the pool.
    #[method(name = "rollback")]
    fn rollback(&self, depth: Option<Quantity>) -> RpcResult<()>;
    /// Sets a balance.
    #[method(name = "setBalance")]
    fn set_balance(&self, address: Address, balance: U256) -> RpcResult<()>;
    /// Sets a nonce.
    #[method(name = "setNonce")]
    fn set_nonce(&self, address: Address, nonce: Quantity) -> RpcResult<()>;
    /// Sets code.
    #[method(name = "setCode")]
    fn set_code(&self, address: Address, code: Bytes) -> RpcResult<()>;
    /// Sets a storage slot.
    #[method(name = "setStorageAt")]
    fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> RpcResult<bool>;
    /// Mines `blocks` blocks (default 1).
    #[method(name = "mine")]
    fn mine(&self, blocks: Option<Quantity>, interval: Option<Quantity>) -> RpcResult<()>;
    /// Whether automine is on.
    #[method(name = "getAutomine")]
    fn get_automine(&self) -> RpcResult<bool>;
    /// Automine on/off (alias of `evm_setAutomine`).
    #[method(name = "setAutomine")]
    fn set_automine(&self, on: bool) -> RpcResult<()>;
    /// Interval mining (alias of `evm_setIntervalMining`).
    #[method(name = "setIntervalMining")]
    fn set_interval_mining(&self, seconds: Quantity) -> RpcResult<()>;
    /// Alias of `evm_increaseTime`.
    #[method(name = "increaseTime")]
    fn increase_time(&self, seconds: Quantity) -> RpcResult<i64>;
    /// Alias of `evm_setNextBlockTimestamp`.
    #[method(name = "setNextBlockTimestamp")]
    fn set_next_block_timestamp(&self, timestamp: Quantity) -> RpcResult<()>;
    /// The next block's base fee (later blocks follow EIP-1559 from it).
    #[method(name = "setNextBlockBaseFeePerGas")]
    fn set_next_block_base_fee_per_gas(&self, fee: Quantity) -> RpcResult<()>;
}
