//! `verity deploy`: build (or load) the contract artifacts and deploy Verity to any chain through an alloy
//! wallet provider, recording `deployments/<network>.json`. Re-running skips what is already done.

use std::path::PathBuf;

use alloy::{
    network::EthereumWallet, providers::ProviderBuilder, signers::local::PrivateKeySigner,
};
use anyhow::{Context, Result};
use verity_script::{
    build::Artifacts,
    deploy::{
        deploy_all,
        verity::{plan, VerityParams},
        DeployOptions, Deployment,
    },
};

/// Where and how to deploy.
#[derive(Debug, Clone)]
pub struct DeployArgs {
    /// JSON-RPC endpoint of the chain.
    pub rpc_url: String,
    /// The deployer's private key (0x-hex); it becomes every contract's admin unless `params` says otherwise.
    pub private_key: String,
    /// Network name: the record is `<out_dir>/<network>.json`.
    pub network: String,
    /// Directory of deployment records.
    pub out_dir: PathBuf,
    /// Directory of the artifacts written by `verity build`.
    pub artifacts_dir: PathBuf,
    /// Roles and genesis supply.
    pub params: VerityParams,
    /// Deploy as ArbOS 60 fragments and roots ([`DeployOptions::fragments`]).
    pub fragments: bool,
}

/// Deploys Verity as described by `args` and returns the record (also written to disk).
pub async fn deploy(args: &DeployArgs) -> Result<Deployment> {
    let signer: PrivateKeySigner = args
        .private_key
        .trim()
        .parse()
        .context("the private key is not 32 bytes of hex")?;
    let url = args
        .rpc_url
        .parse()
        .with_context(|| format!("invalid RPC URL {:?}", args.rpc_url))?;
    let provider = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(url);
    let artifacts = Artifacts::load(&args.artifacts_dir).with_context(|| {
        format!(
            "loading artifacts from {} (run `verity build` first)",
            args.artifacts_dir.display()
        )
    })?;
    let mut options = DeployOptions::new(&args.network, &args.out_dir);
    options.fragments = args.fragments;
    let deployment = deploy_all(&provider, &artifacts, &plan(&args.params), &options)
        .await
        .with_context(|| format!("deploying to {} ({})", args.network, args.rpc_url))?;
    Ok(deployment)
}
