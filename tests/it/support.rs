//! The end-to-end harness: a fresh in-process devnode per test, every contract built once per test binary by the
//! real pipeline (`verity_script::build`) and deployed by the real deployer (`verity_script::deploy` with
//! [`verity_script::deploy::verity::plan`]), and alloy wallet providers for the dev accounts — exactly what a wallet
//! or the keeper does over JSON-RPC.

use std::{
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        OnceLock,
    },
};

use alloy::{
    network::EthereumWallet,
    primitives::Address,
    providers::{Provider, ProviderBuilder, WalletProvider},
    signers::local::PrivateKeySigner,
};
use devnode::{
    chain::DevAccount,
    rpc::{server::lock, start, NodeConfig, NodeHandle},
};
use verity_script::{
    build::{build_planned, Artifacts, BuildOptions},
    deploy::{
        deploy_all,
        verity::{plan, VerityParams},
        DeployOptions, Deployment,
    },
};

/// Builds the contracts Verity's deploy plan deploys, once per test binary (cargo's own caching makes a
/// no-change build quick). The size gate of every contract is `verity build`'s and script's `sizes` test.
pub(crate) fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut options = BuildOptions::new(&root);
        options.out_dir = root.join("target/verity-it");
        build_planned(&options, &plan(&VerityParams::default()))
            .expect("the planned contracts build within Stylus's size limits")
    })
}

/// A scratch directory removed on drop.
pub(crate) struct ScratchDir(pub(crate) PathBuf);

impl ScratchDir {
    /// A new empty directory under the system temp dir.
    pub(crate) fn new(tag: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("verity-it-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A devnode with Verity deployed on it.
pub(crate) struct Harness {
    /// The running node (dropping it stops the server).
    pub(crate) node: NodeHandle,
    /// What the deployer recorded (`deployments/<network>.json` in a scratch dir).
    pub(crate) deployment: Deployment,
    /// The funded dev accounts; account 0 deployed everything and is every contract's admin.
    pub(crate) accounts: Vec<DevAccount>,
    _dir: ScratchDir,
}

impl Harness {
    /// Starts a fresh devnode and deploys Verity with the default parameters.
    pub(crate) async fn start() -> Self {
        Self::start_with(VerityParams::default()).await
    }

    /// Starts a fresh devnode and deploys Verity with `params`.
    pub(crate) async fn start_with(params: VerityParams) -> Self {
        let node = start(NodeConfig::default()).await.expect("devnode starts");
        let accounts = lock(&node.chain()).dev_accounts().to_vec();
        let dir = ScratchDir::new("deploy");
        let deployer = wallet_for(node.url(), accounts[0].signer.clone());
        let deployment = deploy_all(
            &deployer,
            artifacts(),
            &plan(&params),
            &DeployOptions::new("devnode", &dir.0),
        )
        .await
        .expect("Verity deploys on devnode");
        Self {
            node,
            deployment,
            accounts,
            _dir: dir,
        }
    }

    /// The address of deployed contract `name` (`token`, `registry`, …).
    pub(crate) fn address(&self, name: &str) -> Address {
        self.deployment.contracts[name].address
    }

    /// A provider that signs as dev account `i`.
    pub(crate) fn wallet(&self, i: usize) -> impl Provider + WalletProvider + Clone + use<> {
        wallet_for(self.node.url(), self.accounts[i].signer.clone())
    }

    /// Dev account `i`'s address.
    pub(crate) fn account(&self, i: usize) -> Address {
        self.accounts[i].address
    }

    /// Moves the chain's clock forward by `seconds` and mines a block.
    #[allow(dead_code)] // used by the time-dependent suites (gauge, settlement)
    pub(crate) async fn advance(&self, seconds: u64) {
        let provider = self.wallet(0);
        let _: i64 = provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        let _: String = provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }
}

/// A provider for `url` that signs with `signer` and fills nonce, gas and fees.
pub(crate) fn wallet_for(
    url: &str,
    signer: PrivateKeySigner,
) -> impl Provider + WalletProvider + Clone + use<> {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url.parse().expect("devnode URL"))
}

/// The receipt of a sent transaction, which must have succeeded.
pub(crate) async fn sent(
    pending: Result<
        alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
        alloy::contract::Error,
    >,
) -> alloy::rpc::types::TransactionReceipt {
    let receipt = pending.expect("sent").get_receipt().await.expect("receipt");
    assert!(receipt.status(), "transaction reverted: {receipt:?}");
    receipt
}

/// Sends `$call` with gas headroom over devnode's estimate (time-dependent paths) and returns its receipt,
/// which must show success.
macro_rules! tx {
    ($call:expr) => {{
        let call = $call;
        let estimate = call.estimate_gas().await.expect("estimate");
        $crate::support::sent(call.gas(estimate * 3 / 2 + 50_000).send().await).await
    }};
}
pub(crate) use tx;

/// Asserts that `result` failed with the Solidity error `E` and returns it decoded.
pub(crate) fn expect_error<T, E: alloy::sol_types::SolError>(
    result: Result<T, alloy::contract::Error>,
) -> E {
    let Err(err) = result else {
        panic!("call must revert")
    };
    err.as_decoded_error::<E>()
        .unwrap_or_else(|| panic!("expected {}, got {err:?}", E::SIGNATURE))
}

/// Every log of `receipt` that decodes as `E`.
pub(crate) fn events<E: alloy::sol_types::SolEvent>(
    receipt: &alloy::rpc::types::TransactionReceipt,
) -> Vec<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| E::decode_log_data(log.data()).ok())
        .collect()
}

/// The latest block's timestamp.
pub(crate) async fn now(h: &Harness) -> u64 {
    h.wallet(0)
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap()
        .header
        .timestamp
}

/// Skips a check whose tool or service is missing: locally it prints `SKIPPED <what>: <why>` and the caller
/// returns; with `CI=true` a missing tool is a failure with that one line instead (no silent skips in CI).
pub(crate) fn skip(what: &str, why: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what}: {why} (CI=true: a missing tool is a failure, not a skip)");
    }
    println!("SKIPPED {what}: {why}");
}
