//! The real thing, in-process: build BR, serve a devnode over JSON-RPC, `deploy_all` through an alloy HTTP provider
//! (one transaction through devnode's StylusDeployer: CREATE, ArbWasm activation with the simulated data fee and the
//! Stylus constructor together), then read the token through the
//! `verity-abi` bindings and re-run to check nothing is sent twice.

use std::path::{Path, PathBuf};

use alloy::{
    primitives::{utils::parse_ether, U256},
    providers::{Provider, ProviderBuilder, WalletProvider},
};
use verity_abi::rpc::IBrToken;
use verity_script::{
    build::{self, BuildOptions},
    deploy::{deploy_all, DeployOptions, DeployPlan, Deployable},
    CONTRACTS,
};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("script/ has a parent")
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_br_on_devnode_and_reruns_idempotently() {
    // Own artifacts dir: the sizes test may be writing target/verity at the same time.
    let mut options = BuildOptions::new(workspace());
    options.out_dir = workspace().join("target/verity/test-devnode");
    let artifacts = tokio::task::spawn_blocking(move || build::build_all(&options, CONTRACTS))
        .await
        .expect("build task")
        .expect("build");

    let node = devnode::rpc::start(devnode::rpc::NodeConfig::default())
        .await
        .expect("devnode");
    let signer = devnode::rpc::server::lock(&node.chain()).dev_accounts()[0]
        .signer
        .clone();
    let provider = ProviderBuilder::new()
        .wallet(signer)
        .connect_http(node.url().parse().expect("url"));
    let deployer = provider.default_signer_address();

    let genesis = parse_ether("1000").expect("amount");
    let plan =
        DeployPlan::new().contract(Deployable::new("token").constructor(move |book| {
            Ok((book.deployer(), book.deployer(), book.deployer(), genesis))
        }));
    let out = std::env::temp_dir().join(format!("verity-devnode-deploy-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let deploy_options = DeployOptions::new("devnode", &out);
    let deployment = deploy_all(&provider, &artifacts, &plan, &deploy_options)
        .await
        .expect("deploy");

    let token = deployment.contracts["token"].clone();
    let activation = token.activation.clone().expect("activated");
    assert!(
        activation.tx.is_some() && activation.stylus_version > 0,
        "{activation:?}"
    );
    // One transaction through the StylusDeployer predeploy: created, activated and constructed together, so no
    // one could call the constructor in between.
    assert_eq!(
        deployment.calls["token.constructor"].tx,
        Some(token.deploy_tx),
        "constructor ran in the deploying transaction"
    );
    assert_eq!(activation.tx, Some(token.deploy_tx));
    let sent = provider
        .get_transaction_receipt(token.deploy_tx)
        .await
        .expect("receipt")
        .expect("mined");
    assert_eq!(
        sent.to,
        Some(verity_script::deploy::atomic::STYLUS_DEPLOYER)
    );
    let br = IBrToken::new(token.address, &provider);
    assert_eq!(
        br.balanceOf(deployer).call().await.expect("balanceOf"),
        genesis
    );
    assert_eq!(br.admin().call().await.expect("admin"), deployer);
    assert_eq!(br.decimals().call().await.expect("decimals"), 18);

    let nonce = provider
        .get_transaction_count(deployer)
        .await
        .expect("nonce");
    let again = deploy_all(&provider, &artifacts, &plan, &deploy_options)
        .await
        .expect("re-run");
    assert_eq!(again, deployment);
    assert_eq!(
        provider
            .get_transaction_count(deployer)
            .await
            .expect("nonce"),
        nonce,
        "nothing re-sent"
    );
    assert!(provider.get_balance(token.address).await.expect("balance") == U256::ZERO);
    let _ = std::fs::remove_dir_all(&out);
}
