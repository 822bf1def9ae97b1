//! The one client layer under every wallet command: finds the deployment record (`--network` /
//! `--deployment`), connects to `--rpc-url` and checks it serves the record's chain, holds the signer, and sends
//! calls the way a careful wallet does — simulate first (a revert is decoded before anything is signed), estimate,
//! send with headroom, wait for the receipt and require success — or, with `--dry-run`, stops after the estimate.
//!
//! Contract calls are built with `verity_abi::rpc`'s bindings; this layer only knows contracts by their
//! deployment-record names (`token`, `escrow`, `gauge`, `registry`, `settlement`, `settlement-nodes`,
//! `settlement-batches`).

use std::path::{Path, PathBuf};

use alloy::{
    contract::SolCallBuilder,
    eips::BlockNumberOrTag,
    network::EthereumWallet,
    primitives::{Address, TxHash, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{Filter, Log, TransactionReceipt},
    signers::local::PrivateKeySigner,
    sol_types::{SolCall, SolEvent},
};
use serde_json::{json, Value};
use verity_script::deploy::Deployment;

use super::{errors::WalletError, signer::SignerArgs};

/// Flags every wallet command takes: where, who, and how to answer.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Network: reads `deployments/<network>.json` (from the current directory, else the workspace). Default:
    /// `devnet` (`verity dev`) if recorded, else `devnode` (`verity deploy`).
    #[arg(long, env = "VERITY_NETWORK", global = true)]
    pub network: Option<String>,
    /// A deployment record to use instead of `deployments/<network>.json`.
    #[arg(long, env = "VERITY_DEPLOYMENT", global = true)]
    pub deployment: Option<PathBuf>,
    /// JSON-RPC endpoint of the network.
    #[arg(
        long,
        env = "VERITY_RPC_URL",
        default_value = "http://127.0.0.1:8547",
        global = true
    )]
    pub rpc_url: String,
    /// The signer (and the account to read for).
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Print one JSON document on stdout (errors too) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Simulate and print the gas each transaction would use; send nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
}

/// The deployment record to use: `--deployment`, or `deployments/<network>.json` under the current directory, then
/// under the workspace root.
///
/// # Errors
/// [`WalletError::Input`] when no record is found or it does not parse.
pub fn find_record(common: &Common) -> Result<(PathBuf, Deployment), WalletError> {
    let read = |path: &Path| -> Result<Deployment, WalletError> {
        let text = std::fs::read(path)
            .map_err(|e| WalletError::input(format!("reading {}: {e}", path.display())))?;
        serde_json::from_slice(&text).map_err(|e| {
            WalletError::input(format!(
                "{} is not a deployment record: {e}",
                path.display()
            ))
        })
    };
    if let Some(path) = &common.deployment {
        return Ok((path.clone(), read(path)?));
    }
    let dirs = [
        PathBuf::from("deployments"),
        crate::abi::workspace_root().join("deployments"),
    ];
    let networks: Vec<&str> = match &common.network {
        Some(n) => vec![n.as_str()],
        None => vec!["devnet", "devnode"],
    };
    for network in &networks {
        for dir in &dirs {
            let path = Deployment::path(dir, network);
            if path.is_file() {
                return Ok((path.clone(), read(&path)?));
            }
        }
    }
    Err(WalletError::input(format!(
        "no deployment record deployments/{}.json: run `verity dev` or `verity deploy`, or pass --network / --deployment",
        networks.join(".json or deployments/")
    )))
}

/// A transaction sent (or, with `--dry-run`, simulated).
#[derive(Debug, Clone)]
pub struct Sent {
    /// What it did (`createLock`).
    pub what: String,
    /// The contract called.
    pub to: Address,
    /// ETH sent with it.
    pub value: U256,
    /// The gas estimate.
    pub gas_estimate: u64,
    /// The receipt; `None` for a dry run.
    pub receipt: Option<TransactionReceipt>,
}

impl Sent {
    /// Every log of the receipt that decodes as `E`.
    pub fn events<E: SolEvent>(&self) -> Vec<E> {
        self.receipt
            .iter()
            .flat_map(|r| r.inner.logs())
            .filter_map(|log| E::decode_log_data(log.data()).ok())
            .collect()
    }

    /// The transaction hash, once sent.
    pub fn hash(&self) -> Option<TxHash> {
        self.receipt.as_ref().map(|r| r.transaction_hash)
    }

    /// `{ what, to, value, gasEstimate, tx?, block?, gasUsed?, dryRun }`.
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "what": self.what,
            "to": self.to,
            "value": self.value.to_string(),
            "gasEstimate": self.gas_estimate,
            "dryRun": self.receipt.is_none(),
        });
        if let Some(r) = &self.receipt {
            out["tx"] = json!(r.transaction_hash);
            out["block"] = json!(r.block_number);
            out["gasUsed"] = json!(r.gas_used);
        }
        out
    }

    /// One line: `createLock: tx 0x… (block 12, gas 81,234)` or `createLock: dry run, gas estimate 81,234`.
    pub fn line(&self) -> String {
        match &self.receipt {
            Some(r) => format!(
                "{}: tx {} (block {}, gas used {})",
                self.what,
                r.transaction_hash,
                r.block_number.unwrap_or_default(),
                r.gas_used
            ),
            None => format!(
                "{}: dry run, would use about {} gas (estimate)",
                self.what, self.gas_estimate
            ),
        }
    }
}

/// A connection to one Verity deployment as one account.
#[derive(Debug, Clone)]
pub struct Client {
    /// The provider (signing when a signer was given).
    pub provider: DynProvider,
    /// The deployment record.
    pub deployment: Deployment,
    /// Where the record was read from.
    pub record_path: PathBuf,
    /// The account commands act or read for.
    pub account: Option<Address>,
    /// Whether a signer is present.
    pub can_sign: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// The RPC URL.
    pub rpc_url: String,
}

impl Client {
    /// Reads the record, builds the signer, connects, and checks the node's chain id against the record's.
    ///
    /// # Errors
    /// [`WalletError::Input`] for a missing record, bad signer or URL; [`WalletError::Rpc`] when the node is
    /// unreachable; [`WalletError::Check`] when the node serves another chain.
    pub async fn connect(common: &Common) -> Result<Self, WalletError> {
        let (record_path, deployment) = find_record(common)?;
        let signer: Option<PrivateKeySigner> = common.signer.signer()?;
        let url = common.rpc_url.parse().map_err(|_| {
            WalletError::input(format!("--rpc-url {:?} is not a URL", common.rpc_url))
        })?;
        let provider = match &signer {
            Some(s) => ProviderBuilder::new()
                .wallet(EthereumWallet::from(s.clone()))
                .connect_http(url)
                .erased(),
            None => ProviderBuilder::new().connect_http(url).erased(),
        };
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| WalletError::rpc(&format!("connecting to {}", common.rpc_url), e))?;
        if chain_id != deployment.chain_id {
            return Err(WalletError::check(
                format!(
                    "{} records chain {}, but {} is chain {chain_id}",
                    record_path.display(),
                    deployment.chain_id,
                    common.rpc_url
                ),
                "pass the --rpc-url of that network, or the --network / --deployment of this one",
            ));
        }
        let account = common
            .signer
            .address
            .or(signer.as_ref().map(|s| s.address()));
        let client = Self {
            provider,
            deployment,
            record_path,
            account,
            can_sign: signer.is_some(),
            dry_run: common.dry_run,
            rpc_url: common.rpc_url.clone(),
        };
        if let Some(s) = &signer {
            if client.account != Some(s.address()) {
                return Err(WalletError::input(format!(
                    "--address {} is not the signer's account {}",
                    client.account.unwrap_or_default(),
                    s.address()
                )));
            }
        }
        Ok(client)
    }

    /// The address of the record's contract `name`.
    ///
    /// # Errors
    /// [`WalletError::Input`] when the record has no such contract.
    pub fn address(&self, name: &str) -> Result<Address, WalletError> {
        self.deployment.address(name).ok_or_else(|| {
            WalletError::input(format!(
                "{} records no `{name}` contract",
                self.record_path.display()
            ))
        })
    }

    /// The block contract `name` was deployed in (where event scans start).
    pub fn deploy_block(&self, name: &str) -> u64 {
        self.deployment
            .contracts
            .get(name)
            .map(|c| c.deploy_block)
            .unwrap_or_default()
    }

    /// The account to act or read for.
    ///
    /// # Errors
    /// [`WalletError::Input`] when neither a signer nor `--address` was given.
    pub fn me(&self) -> Result<Address, WalletError> {
        self.account.ok_or_else(|| {
            WalletError::input(
                "which account? pass a signer (--private-key, --keystore, --mnemonic) or --address",
            )
        })
    }

    /// The latest block's timestamp.
    ///
    /// # Errors
    /// [`WalletError::Rpc`].
    pub async fn now(&self) -> Result<u64, WalletError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| WalletError::rpc("reading the latest block", e))?
            .ok_or_else(|| WalletError::rpc("reading the latest block", "no block"))?;
        Ok(block.header.timestamp)
    }

    /// Runs a view call; a revert is decoded.
    ///
    /// # Errors
    /// [`WalletError::Revert`], [`WalletError::Rpc`].
    pub async fn view<C: SolCall>(
        &self,
        call: SolCallBuilder<&DynProvider, C>,
        what: &str,
    ) -> Result<C::Return, WalletError> {
        call.call()
            .await
            .map_err(|e| WalletError::from_contract(what, e))
    }

    /// Simulates `call` from this account; a revert is decoded.
    ///
    /// # Errors
    /// [`WalletError::Revert`], [`WalletError::Rpc`], [`WalletError::Input`] without an account.
    pub async fn simulate<C: SolCall>(
        &self,
        call: &SolCallBuilder<&DynProvider, C>,
        what: &str,
    ) -> Result<(), WalletError> {
        let from = self.me()?;
        call.clone()
            .from(from)
            .call_raw()
            .await
            .map(|_| ())
            .map_err(|e| WalletError::from_contract(what, e))
    }

    /// Simulates `call`, estimates its gas and — unless `--dry-run` — sends it with headroom (1.5 × the estimate
    /// + 20,000: a contract's cost can depend on the block it lands in) and waits for a successful receipt.
    ///
    /// # Errors
    /// [`WalletError::Revert`] from the simulation, [`WalletError::RevertedOnChain`], [`WalletError::Rpc`],
    /// [`WalletError::Input`] when there is no signer (and no `--dry-run`).
    pub async fn send<C: SolCall>(
        &self,
        call: SolCallBuilder<&DynProvider, C>,
        what: &str,
    ) -> Result<Sent, WalletError> {
        let from = self.me()?;
        if !self.can_sign && !self.dry_run {
            return Err(WalletError::input(format!(
                "{what} needs a signer: --private-key, --keystore or --mnemonic (or --dry-run with --address)"
            )));
        }
        let call = call.from(from);
        self.simulate(&call, what).await?;
        let gas_estimate = call
            .estimate_gas()
            .await
            .map_err(|e| WalletError::from_contract(&format!("estimating {what}"), e))?;
        let request = call.as_ref().clone();
        let to = request.to.and_then(|t| t.to().copied()).unwrap_or_default();
        let value = request.value.unwrap_or_default();
        let mut sent = Sent {
            what: what.to_owned(),
            to,
            value,
            gas_estimate,
            receipt: None,
        };
        if self.dry_run {
            return Ok(sent);
        }
        let pending = call
            .clone()
            .gas(gas_estimate * 3 / 2 + 20_000)
            .send()
            .await
            .map_err(|e| WalletError::from_contract(&format!("sending {what}"), e))?;
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| WalletError::rpc(&format!("waiting for {what}"), e))?;
        if !receipt.status() {
            // Replay at the block before to recover the reason (later transactions of that block aside).
            let before = receipt.block_number.unwrap_or(1).saturating_sub(1);
            let decoded = match call.block(before.into()).call_raw().await {
                Err(e) => e
                    .as_revert_data()
                    .map(|d| Box::new(super::errors::decode(&d))),
                Ok(_) => None,
            };
            return Err(WalletError::RevertedOnChain {
                tx: receipt.transaction_hash.to_string(),
                gas_used: receipt.gas_used,
                decoded,
            });
        }
        sent.receipt = Some(receipt);
        Ok(sent)
    }

    /// Every log matching `filter` from the deployment of contract `from_contract` to the latest block, read in
    /// ranges of 50,000 blocks (public endpoints cap a range).
    ///
    /// # Errors
    /// [`WalletError::Rpc`].
    pub async fn logs(&self, filter: Filter, from_contract: &str) -> Result<Vec<Log>, WalletError> {
        const RANGE: u64 = 50_000;
        let latest = self
            .provider
            .get_block_number()
            .await
            .map_err(|e| WalletError::rpc("reading the block number", e))?;
        let mut from = self.deploy_block(from_contract);
        let mut logs = Vec::new();
        while from <= latest {
            let to = (from + RANGE - 1).min(latest);
            let chunk = self
                .provider
                .get_logs(&filter.clone().from_block(from).to_block(to))
                .await
                .map_err(|e| WalletError::rpc("reading events (eth_getLogs)", e))?;
            logs.extend(chunk);
            from = to + 1;
        }
        Ok(logs)
    }
}
