//! The node's view of the chain and its transactions: ModelRegistry reads (version, `usableAt`, the storage URI
//! from `VersionSubmitted`), InferenceSettlement's paid requests and `answer` / `proveWithReceipt`, and its own
//! registration in SettlementNodes (stake + the signing key's possession proof).

use std::collections::HashMap;
use std::sync::Mutex;

use alloy::contract::SolCallBuilder;
use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent};
use verity_abi::registry::VersionSubmitted;
use verity_abi::rpc::IModelRegistry::VersionInfo;
use verity_abi::rpc::{IInferenceSettlement, IModelRegistry, ISettlementNodes};
use verity_abi::settlement::request_status;

/// Why a chain read or transaction failed (all transient from the client's point of view, except the
/// registration errors, which stop the node at start).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A call, estimate or send failed.
    #[error("{what}: {source}")]
    Call {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: alloy::contract::Error,
    },
    /// The RPC transport failed.
    #[error("{what}: {detail}")]
    Rpc {
        /// What was being done.
        what: &'static str,
        /// The cause.
        detail: String,
    },
    /// A transaction was mined but reverted.
    #[error("{what} reverted (tx {tx})")]
    Reverted {
        /// The transaction.
        what: &'static str,
        /// Its hash.
        tx: B256,
    },
    /// This account is registered with another signing key.
    #[error("node {node} is registered with signing key {registered}, not {ours}")]
    KeyMismatch {
        /// The node.
        node: Address,
        /// The key on chain.
        registered: Address,
        /// The key configured.
        ours: Address,
    },
}

/// A paid request as InferenceSettlement stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidRequest {
    /// Who paid.
    pub payer: Address,
    /// The node asked.
    pub node: Address,
    /// The model version.
    pub model_version: U256,
    /// The fee escrowed.
    pub fee: U256,
    /// The input hash the payer committed to.
    pub input_hash: B256,
    /// Request status (`request_status`).
    pub status: u8,
    /// Receipt mode.
    pub mode: u8,
    /// Answer/proof deadline.
    pub deadline: u64,
}

/// What registering did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// `registerNode` was sent now.
    Registered,
    /// The node was registered with this key before.
    AlreadyRegistered,
}

/// The chain as the node sees it.
#[derive(Debug)]
pub struct Chain {
    provider: DynProvider,
    /// Chain id.
    pub chain_id: u64,
    /// The node's account.
    pub node: Address,
    /// InferenceSettlement.
    pub settlement: Address,
    /// ModelRegistry (read from settlement's configuration).
    pub registry: Address,
    /// SettlementNodes (read from settlement's configuration).
    pub nodes: Address,
    start_block: u64,
    /// One transaction at a time: the wallet's nonce is asked per send.
    sending: tokio::sync::Mutex<()>,
    uris: Mutex<HashMap<U256, Vec<u8>>>,
}

fn rpc(what: &'static str) -> impl FnOnce(alloy::transports::TransportError) -> ChainError {
    move |e| ChainError::Rpc {
        what,
        detail: e.to_string(),
    }
}

fn call(what: &'static str) -> impl FnOnce(alloy::contract::Error) -> ChainError {
    move |source| ChainError::Call { what, source }
}

impl Chain {
    /// Connects to `rpc_url` as `account`, finding the registry and SettlementNodes through `settlement`;
    /// storage URIs are searched from `start_block`.
    ///
    /// # Errors
    /// The URL is invalid or the chain unreachable.
    pub async fn connect(
        rpc_url: &str,
        account: PrivateKeySigner,
        settlement: Address,
        start_block: u64,
    ) -> Result<Self, ChainError> {
        let node = account.address();
        let url = rpc_url.parse().map_err(|e| ChainError::Rpc {
            what: "--rpc-url",
            detail: format!("{rpc_url}: {e}"),
        })?;
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(account))
            .connect_http(url)
            .erased();
        let chain_id = provider.get_chain_id().await.map_err(rpc("eth_chainId"))?;
        let config = IInferenceSettlement::new(settlement, provider.clone())
            .config()
            .call()
            .await
            .map_err(call("InferenceSettlement.config"))?;
        Ok(Self {
            provider,
            chain_id,
            node,
            settlement,
            registry: config._1,
            nodes: config._2,
            start_block,
            sending: tokio::sync::Mutex::new(()),
            uris: Mutex::default(),
        })
    }

    /// The provider (signing as the node).
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// The latest block's timestamp.
    ///
    /// # Errors
    /// The RPC failed.
    pub async fn now(&self) -> Result<u64, ChainError> {
        Ok(self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(rpc("eth_getBlockByNumber"))?
            .ok_or(ChainError::Rpc {
                what: "eth_getBlockByNumber",
                detail: "no latest block".into(),
            })?
            .header
            .timestamp)
    }

    /// The registry's record of version `id` (`None`: no such version).
    ///
    /// # Errors
    /// The call failed.
    pub async fn version(&self, id: U256) -> Result<Option<VersionInfo>, ChainError> {
        match IModelRegistry::new(self.registry, self.provider.clone())
            .version(id)
            .call()
            .await
        {
            Ok(info) => Ok(Some(info)),
            Err(e)
                if e.as_decoded_error::<IModelRegistry::RegistryUnknownVersion>()
                    .is_some() =>
            {
                Ok(None)
            }
            Err(source) => Err(ChainError::Call {
                what: "ModelRegistry.version",
                source,
            }),
        }
    }

    /// Whether version `id` is usable at time `t`.
    ///
    /// # Errors
    /// The call failed.
    pub async fn usable_at(&self, id: U256, t: u64) -> Result<bool, ChainError> {
        IModelRegistry::new(self.registry, self.provider.clone())
            .usableAt(id, t)
            .call()
            .await
            .map_err(call("ModelRegistry.usableAt"))
    }

    /// Version `id`'s storage URI (from its `VersionSubmitted` event; cached).
    ///
    /// # Errors
    /// The RPC failed.
    pub async fn storage_uri(&self, id: U256) -> Result<Option<Vec<u8>>, ChainError> {
        if let Some(uri) = self.lock_uris().get(&id) {
            return Ok(Some(uri.clone()));
        }
        let filter = Filter::new()
            .address(self.registry)
            .event_signature(VersionSubmitted::SIGNATURE_HASH)
            .topic1(B256::from(id))
            .from_block(self.start_block);
        let logs = self
            .provider
            .get_logs(&filter)
            .await
            .map_err(rpc("eth_getLogs"))?;
        let uri = logs
            .iter()
            .find_map(|l| VersionSubmitted::decode_log_data(l.data()).ok())
            .map(|e| e.storageUri.to_vec());
        if let Some(u) = &uri {
            self.lock_uris().insert(id, u.clone());
        }
        Ok(uri)
    }

    fn lock_uris(&self) -> std::sync::MutexGuard<'_, HashMap<U256, Vec<u8>>> {
        self.uris
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The paid request `id`, if one exists.
    ///
    /// # Errors
    /// The call failed.
    pub async fn request(&self, id: B256) -> Result<Option<PaidRequest>, ChainError> {
        let r = IInferenceSettlement::new(self.settlement, self.provider.clone())
            .getRequest(id)
            .call()
            .await
            .map_err(call("InferenceSettlement.getRequest"))?;
        Ok((r._6 != request_status::NONE).then_some(PaidRequest {
            payer: r._0,
            node: r._1,
            model_version: r._2,
            fee: r._3,
            input_hash: r._4,
            status: r._6,
            mode: r._7,
            deadline: r._8,
        }))
    }

    /// Whether this node can take requests now (registered, staked, key approved).
    ///
    /// # Errors
    /// The call failed.
    pub async fn node_active(&self) -> Result<bool, ChainError> {
        ISettlementNodes::new(self.nodes, self.provider.clone())
            .nodeActive(self.node)
            .call()
            .await
            .map_err(call("SettlementNodes.nodeActive"))
    }

    /// Registers this node with `signing_key` and `stake` (default: the minimum stake), proving possession of
    /// the key; nothing to do when registered with that key already.
    ///
    /// # Errors
    /// [`ChainError::KeyMismatch`] when registered with another key; the transaction failed.
    pub async fn register(
        &self,
        signing_key: &PrivateKeySigner,
        stake: Option<U256>,
    ) -> Result<Registration, ChainError> {
        let nodes = ISettlementNodes::new(self.nodes, self.provider.clone());
        let registered = nodes
            .node(self.node)
            .call()
            .await
            .map_err(call("SettlementNodes.node"))?
            ._0;
        if registered == signing_key.address() {
            return Ok(Registration::AlreadyRegistered);
        }
        if !registered.is_zero() {
            return Err(ChainError::KeyMismatch {
                node: self.node,
                registered,
                ours: signing_key.address(),
            });
        }
        let stake = match stake {
            Some(s) => s,
            None => {
                nodes
                    .config()
                    .call()
                    .await
                    .map_err(call("SettlementNodes.config"))?
                    ._5
            }
        };
        let proof = verity_abi::rpc::key_registration_proof(
            signing_key,
            self.chain_id,
            self.nodes,
            self.node,
        )
        .map_err(|e| ChainError::Rpc {
            what: "signing the key registration proof",
            detail: e.to_string(),
        })?;
        self.send(
            nodes
                .registerNode(signing_key.address(), proof)
                .value(stake),
            "registerNode",
        )
        .await?;
        Ok(Registration::Registered)
    }

    /// Posts `output_hash` for paid request `id`; done already when the request is past `Requested`.
    ///
    /// # Errors
    /// The transaction failed.
    pub async fn answer(&self, id: B256, output_hash: B256) -> Result<(), ChainError> {
        if self
            .request(id)
            .await?
            .is_some_and(|r| r.status != request_status::REQUESTED)
        {
            return Ok(());
        }
        let settlement = IInferenceSettlement::new(self.settlement, self.provider.clone());
        self.send(settlement.answer(id, output_hash), "answer")
            .await
    }

    /// Proves paid request `id` with its signed receipt and a mode-ZK proof; done already when it is past
    /// `Answered`.
    ///
    /// # Errors
    /// The transaction failed.
    pub async fn prove_with_receipt(
        &self,
        id: B256,
        signed: Bytes,
        proof: Bytes,
    ) -> Result<(), ChainError> {
        if self.request(id).await?.is_some_and(|r| {
            r.status != request_status::REQUESTED && r.status != request_status::ANSWERED
        }) {
            return Ok(());
        }
        let settlement = IInferenceSettlement::new(self.settlement, self.provider.clone());
        self.send(
            settlement.proveWithReceipt(signed, proof),
            "proveWithReceipt",
        )
        .await
    }

    /// Sends `call` with headroom over its estimate and waits for success.
    async fn send<P: Provider, C: SolCall>(
        &self,
        call_builder: SolCallBuilder<P, C>,
        what: &'static str,
    ) -> Result<(), ChainError> {
        let _one = self.sending.lock().await;
        let estimate = call_builder.estimate_gas().await.map_err(call(what))?;
        let receipt = call_builder
            .gas(estimate * 3 / 2 + 20_000)
            .send()
            .await
            .map_err(call(what))?
            .get_receipt()
            .await
            .map_err(|e| ChainError::Rpc {
                what,
                detail: e.to_string(),
            })?;
        if !receipt.status() {
            return Err(ChainError::Reverted {
                what,
                tx: receipt.transaction_hash,
            });
        }
        Ok(())
    }
}
