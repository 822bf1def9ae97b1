//! The in-memory chain: genesis with funded dev accounts and Nitro's predeploys ([`predeploys`]), a transaction pool with geth's admission rules,
//! blocks mined on revm (through [`crate::evm::execute`]), receipts and logs, reads at past blocks, `eth_call`
//! with state overrides, gas estimation, time travel, snapshots and reorgs.
//!
//! [`Chain`] is synchronous and single-owner; the RPC server wraps it in a mutex. It is also the in-process API
//! for tests: create a chain, fund accounts, apply signed transactions, call, read logs and receipts, set time.
//!
//! ```no_run
//! use devnode::chain::{Chain, ChainConfig};
//! let mut chain = Chain::new(ChainConfig::default()).unwrap();
//! let alice = chain.dev_accounts()[0].address;
//! let balance = chain.balance(alice, None).unwrap();
//! # let _ = balance;
//! ```
//!
//! Fee model (Arbitrum-like, documented in the README): EIP-1559 base fee with Ethereum's adjustment
//! (target = half the gas limit, 1/8 max change) and a floor of 0.1 gwei, the minimum base fee of Arbitrum
//! chains; `eth_gasPrice` is the next block's base fee and `eth_maxPriorityFeePerGas` is 0, as on Arbitrum
//! where tips are not paid to anyone.

mod block;
mod call;
mod mining;
mod pool;
pub mod predeploys;
mod query;
mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use alloy::consensus::{Header, EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH};
use alloy::eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::signers::local::{coins_bip39::English, MnemonicBuilder, PrivateKeySigner};
use revm::context::{BlockEnv, CfgEnv};
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;

use crate::error::{Error, Result};
use crate::evm::Engine;
use block::StoredBlock;
use pool::Pool;
use state::State;

pub use mining::ReorgTx;

/// Anvil's and Hardhat's default development mnemonic.
pub const DEFAULT_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// nitro-devnode's chain id.
pub const DEFAULT_CHAIN_ID: u64 = 412_346;
/// Minimum (and initial) base fee: 0.1 gwei, as on Arbitrum chains.
pub const MIN_BASE_FEE: u64 = 100_000_000;
/// Block gas limit (anvil's default, so gas estimation caps agree).
pub const DEFAULT_BLOCK_GAS_LIMIT: u64 = 30_000_000;

/// Most blocks one `evm_mine`/`anvil_mine` call mines: a fuzzed `anvil_mine 0xffffffffffffffff` held the chain's
/// lock forever (found by `verity-fuzz`'s JSON-RPC run).
pub const MAX_MINE_BLOCKS: u64 = 10_000;

/// How to build a [`Chain`].
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// The chain id (EIP-155).
    pub chain_id: u64,
    /// How many dev accounts to derive from the mnemonic and fund.
    pub accounts: u32,
    /// Genesis balance of each dev account, in wei.
    pub balance: U256,
    /// BIP-39 mnemonic the dev accounts derive from (path m/44'/60'/0'/0/i).
    pub mnemonic: String,
    /// Gas limit of every block.
    pub block_gas_limit: u64,
    /// Floor of the base fee, in wei.
    pub min_base_fee: u64,
    /// Genesis timestamp; the wall clock when `None`.
    pub genesis_timestamp: Option<u64>,
    /// Mine a block as soon as a transaction is ready (one block per transaction).
    pub automine: bool,
    /// EVM hardfork rules.
    pub spec: SpecId,
    /// The block beneficiary.
    pub coinbase: Address,
}

impl Default for ChainConfig {
    fn default() -> Self {
        Self {
            chain_id: DEFAULT_CHAIN_ID,
            accounts: 10,
            balance: U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64)),
            mnemonic: DEFAULT_MNEMONIC.to_string(),
            block_gas_limit: DEFAULT_BLOCK_GAS_LIMIT,
            min_base_fee: MIN_BASE_FEE,
            genesis_timestamp: None,
            automine: true,
            spec: SpecId::PRAGUE,
            coinbase: Address::ZERO,
        }
    }
}

/// A funded development account whose key the node holds (`eth_sendTransaction` signs with it).
#[derive(Clone, Debug)]
pub struct DevAccount {
    /// The account's address.
    pub address: Address,
    /// The account's signer.
    pub signer: PrivateKeySigner,
}

impl DevAccount {
    /// The private key as 0x-prefixed hex, as anvil prints it.
    pub fn private_key_hex(&self) -> String {
        format!("0x{}", alloy::hex::encode(self.signer.to_bytes()))
    }
}

/// State saved by `evm_snapshot`.
#[derive(Clone, Debug)]
struct Snapshot {
    id: u64,
    state: State,
    blocks: Vec<Arc<StoredBlock>>,
    pool: Pool,
    time_offset: i64,
    next_timestamp: Option<u64>,
}

/// The in-memory chain.
#[derive(Debug)]
pub struct Chain {
    config: ChainConfig,
    engine: Engine,
    accounts: Vec<DevAccount>,
    state: State,
    blocks: Vec<Arc<StoredBlock>>,
    block_by_hash: HashMap<B256, u64>,
    /// Mined transaction hash → (block number, index in block).
    tx_index: HashMap<B256, (u64, usize)>,
    pool: Pool,
    automine: bool,
    time_offset: i64,
    next_timestamp: Option<u64>,
    /// `anvil_setNextBlockBaseFeePerGas`: the next block's base fee (later blocks follow EIP-1559 from it).
    next_base_fee: Option<u64>,
    snapshots: Vec<Snapshot>,
    next_snapshot_id: u64,
    reorg_generation: u64,
    new_blocks: tokio::sync::broadcast::Sender<u64>,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Derives `count` accounts from `mnemonic` (m/44'/60'/0'/0/i).
pub fn derive_accounts(mnemonic: &str, count: u32) -> Result<Vec<DevAccount>> {
    (0..count)
        .map(|i| {
            let signer = MnemonicBuilder::<English>::default()
                .phrase(mnemonic)
                .index(i)
                .and_then(|b| b.build())
                .map_err(|e| Error::InvalidParams(format!("mnemonic: {e}")))?;
            Ok(DevAccount {
                address: signer.address(),
                signer,
            })
        })
        .collect()
}

impl Chain {
    /// Creates a chain with a genesis block funding the dev accounts.
    pub fn new(config: ChainConfig) -> Result<Self> {
        let accounts = derive_accounts(&config.mnemonic, config.accounts)?;
        let mut state = State::new();
        for account in &accounts {
            state.set_account(
                0,
                account.address,
                AccountInfo {
                    balance: config.balance,
                    ..Default::default()
                },
            );
        }
        for (address, code) in predeploys::contracts() {
            let bytecode = call::bytecode(code);
            state.set_account(
                0,
                address,
                AccountInfo {
                    nonce: 1,
                    code_hash: bytecode.hash_slow(),
                    code: Some(bytecode),
                    ..Default::default()
                },
            );
        }
        state.set_account(
            0,
            predeploys::NITRO_DEV_ADDRESS,
            AccountInfo {
                balance: config.balance,
                ..Default::default()
            },
        );
        let timestamp = config.genesis_timestamp.unwrap_or_else(now_secs);
        let header = Header {
            parent_hash: B256::ZERO,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: config.coinbase,
            state_root: B256::ZERO,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            number: 0,
            gas_limit: config.block_gas_limit,
            timestamp,
            base_fee_per_gas: Some(config.min_base_fee),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(B256::ZERO),
            requests_hash: Some(EMPTY_REQUESTS_HASH),
            mix_hash: keccak256(0u64.to_be_bytes()),
            ..Default::default()
        };
        let hash = header.hash_slow();
        let genesis = StoredBlock {
            size: alloy::rlp::Encodable::length(&header) as u64,
            header,
            hash,
            txs: vec![],
        };
        let mut chain = Self {
            engine: Engine::new(),
            automine: config.automine,
            config,
            accounts,
            state,
            blocks: vec![Arc::new(genesis)],
            block_by_hash: HashMap::from([(hash, 0)]),
            tx_index: HashMap::new(),
            pool: Pool::default(),
            time_offset: 0,
            next_timestamp: None,
            next_base_fee: None,
            snapshots: vec![],
            next_snapshot_id: 0,
            reorg_generation: 0,
            new_blocks: tokio::sync::broadcast::channel(1024).0,
        };
        chain.state.live.cache.block_hashes.insert(U256::ZERO, hash);
        Ok(chain)
    }

    /// The execution engine (revm + Stylus) and its compiled-program cache.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Notifies the number of every block appended from now on (mined, or re-mined by a reorg); slow receivers
    /// lag (`RecvError::Lagged`) rather than block the chain.
    pub fn subscribe_blocks(&self) -> tokio::sync::broadcast::Receiver<u64> {
        self.new_blocks.subscribe()
    }

    /// The configuration the chain was built with.
    pub fn config(&self) -> &ChainConfig {
        &self.config
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.config.chain_id
    }

    /// The funded dev accounts, in derivation order.
    pub fn dev_accounts(&self) -> &[DevAccount] {
        &self.accounts
    }

    /// The head block number.
    pub fn block_number(&self) -> u64 {
        self.head().number()
    }

    fn head(&self) -> &StoredBlock {
        // Invariant: the genesis block is never removed, so `blocks` is never empty.
        self.blocks
            .last()
            .map(|b| b.as_ref())
            .unwrap_or_else(|| unreachable!("genesis is never removed"))
    }

    /// Whether automine is on.
    pub fn automine(&self) -> bool {
        self.automine
    }

    /// Turns automine on or off; turning it on mines the ready pool transactions at once.
    pub fn set_automine(&mut self, on: bool) -> Result<()> {
        self.automine = on;
        if on && self.has_ready() {
            self.mine_one()?;
        }
        Ok(())
    }

    /// The EVM configuration for mined transactions.
    fn cfg_env(&self) -> CfgEnv {
        let mut cfg = CfgEnv::new_with_spec(self.config.spec);
        cfg.chain_id = self.config.chain_id;
        cfg
    }

    /// The block environment of block `number`.
    fn block_env(&self, number: u64, timestamp: u64, basefee: u64, mix: B256) -> BlockEnv {
        BlockEnv {
            number: U256::from(number),
            beneficiary: self.config.coinbase,
            timestamp: U256::from(timestamp),
            gas_limit: self.config.block_gas_limit,
            basefee,
            prevrandao: Some(mix),
            ..Default::default()
        }
    }

    /// The environment of an existing block (for calls at that block).
    fn block_env_of(&self, block: &StoredBlock) -> BlockEnv {
        self.block_env(
            block.number(),
            block.timestamp(),
            block.base_fee(),
            block.header.mix_hash,
        )
    }

    /// The base fee of the next block.
    pub fn next_base_fee(&self) -> u64 {
        if let Some(fee) = self.next_base_fee {
            return fee;
        }
        let head = &self.head().header;
        let next = alloy::eips::eip1559::calc_next_block_base_fee(
            head.gas_used,
            head.gas_limit,
            head.base_fee_per_gas.unwrap_or(self.config.min_base_fee),
            alloy::eips::eip1559::BaseFeeParams::ethereum(),
        );
        next.max(self.config.min_base_fee)
    }

    /// `anvil_setNextBlockBaseFeePerGas`: the next block's base fee is `fee` (tests of fee spikes); later blocks
    /// follow EIP-1559 from it.
    pub fn set_next_block_base_fee(&mut self, fee: u64) {
        self.next_base_fee = Some(fee);
    }

    /// `eth_gasPrice`: the next block's base fee (tips are 0 on Arbitrum).
    pub fn gas_price(&self) -> u128 {
        u128::from(self.next_base_fee())
    }

    /// `eth_maxPriorityFeePerGas`: 0, as on Arbitrum.
    pub fn max_priority_fee_per_gas(&self) -> u128 {
        0
    }

    /// Resolves a block id to a number of an existing block; `None`, latest, pending, safe and finalized are
    /// the head (pending state = latest state: pool transactions are not pre-executed).
    pub fn resolve_block(&self, id: Option<BlockId>) -> Result<u64> {
        match id {
            None => Ok(self.block_number()),
            Some(BlockId::Number(tag)) => self.resolve_tag(tag),
            Some(BlockId::Hash(h)) => self
                .block_by_hash
                .get(&h.block_hash)
                .copied()
                .ok_or(Error::HeaderNotFound),
        }
    }

    fn resolve_tag(&self, tag: BlockNumberOrTag) -> Result<u64> {
        match tag {
            BlockNumberOrTag::Latest
            | BlockNumberOrTag::Pending
            | BlockNumberOrTag::Safe
            | BlockNumberOrTag::Finalized => Ok(self.block_number()),
            BlockNumberOrTag::Earliest => Ok(0),
            BlockNumberOrTag::Number(n) if n <= self.block_number() => Ok(n),
            BlockNumberOrTag::Number(_) => Err(Error::HeaderNotFound),
        }
    }

    fn is_pending(id: Option<BlockId>) -> bool {
        matches!(id, Some(BlockId::Number(BlockNumberOrTag::Pending)))
    }

    /// Balance of `address` at a block.
    pub fn balance(&self, address: Address, block: Option<BlockId>) -> Result<U256> {
        let n = self.resolve_block(block)?;
        Ok(self.state.balance_at(address, n))
    }

    /// Nonce of `address` at a block; at `pending`, counts the sender's contiguous pool transactions too.
    pub fn nonce(&self, address: Address, block: Option<BlockId>) -> Result<u64> {
        let n = self.resolve_block(block)?;
        let nonce = self.state.nonce_at(address, n);
        if Self::is_pending(block) {
            return Ok(self.pool.pending_nonce(address, nonce));
        }
        Ok(nonce)
    }

    /// Code of `address` at a block.
    pub fn code(&self, address: Address, block: Option<BlockId>) -> Result<Bytes> {
        let n = self.resolve_block(block)?;
        Ok(self.state.code_at(address, n))
    }

    /// A storage slot of `address` at a block.
    pub fn storage(&self, address: Address, slot: U256, block: Option<BlockId>) -> Result<B256> {
        let n = self.resolve_block(block)?;
        Ok(B256::from(self.state.storage_at(address, slot, n)))
    }

    /// Sets the balance of `address` in the latest state (`anvil_setBalance`).
    pub fn set_balance(&mut self, address: Address, balance: U256) {
        let mut info = self.live_account(address);
        info.balance = balance;
        self.state.set_account(self.block_number(), address, info);
    }

    /// Sets the nonce of `address` in the latest state (`anvil_setNonce`).
    pub fn set_nonce(&mut self, address: Address, nonce: u64) {
        let mut info = self.live_account(address);
        info.nonce = nonce;
        self.state.set_account(self.block_number(), address, info);
    }

    /// Sets the code of `address` in the latest state (`anvil_setCode`).
    pub fn set_code(&mut self, address: Address, code: Bytes) {
        let mut info = self.live_account(address);
        let bytecode = call::bytecode(code);
        info.code_hash = bytecode.hash_slow();
        info.code = Some(bytecode);
        self.state.set_account(self.block_number(), address, info);
    }

    /// Sets one storage slot of `address` in the latest state (`anvil_setStorageAt`).
    pub fn set_storage_at(&mut self, address: Address, slot: U256, value: U256) {
        let n = self.block_number();
        if self.state.account_latest(address).is_none() {
            self.state.set_account(n, address, AccountInfo::default());
        }
        self.state.set_storage(n, address, slot, value);
    }

    fn live_account(&self, address: Address) -> AccountInfo {
        self.state
            .live
            .cache
            .accounts
            .get(&address)
            .and_then(|a| a.info())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_funds_anvil_accounts() {
        let chain = Chain::new(ChainConfig::default()).unwrap();
        let first = chain.dev_accounts()[0].address;
        assert_eq!(
            first,
            alloy::primitives::address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
        );
        assert_eq!(
            chain.dev_accounts()[0].private_key_hex(),
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
        );
        assert_eq!(
            chain.balance(first, None).unwrap(),
            ChainConfig::default().balance
        );
        assert_eq!(chain.block_number(), 0);
    }

    #[test]
    fn bad_mnemonic_is_an_error_not_a_panic() {
        let config = ChainConfig {
            mnemonic: "not a mnemonic".into(),
            ..Default::default()
        };
        assert!(Chain::new(config).is_err());
    }
}
