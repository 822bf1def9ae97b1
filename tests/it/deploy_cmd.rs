//! `verity deploy` against devnode over HTTP: the record is written, a re-run sends nothing, bad input is one
//! clear error.

use alloy::providers::Provider;
use devnode::rpc::{server::lock, start, NodeConfig};
use verity::deploy::{deploy, DeployArgs};

use crate::support::{artifacts, wallet_for, ScratchDir};

fn args(url: &str, key: String, out: &ScratchDir) -> DeployArgs {
    DeployArgs {
        rpc_url: url.to_owned(),
        private_key: key,
        network: "devnode".into(),
        out_dir: out.0.clone(),
        artifacts_dir: artifacts().dir.clone(),
        params: Default::default(),
        fragments: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_writes_the_record_and_reruns_send_nothing() {
    let node = start(NodeConfig::default()).await.unwrap();
    let account = lock(&node.chain()).dev_accounts()[0].clone();
    let out = ScratchDir::new("deploy-cmd");
    let args = args(node.url(), account.private_key_hex(), &out);

    let first = deploy(&args).await.expect("deploys");
    let json = std::fs::read_to_string(out.0.join("devnode.json")).expect("record written");
    let token = &first.contracts["token"];
    assert!(
        json.contains(&token.address.to_string().to_lowercase())
            || json.contains(&token.address.to_string())
    );
    assert_eq!(first.deployer, account.address);
    let provider = wallet_for(node.url(), account.signer.clone());
    let code = provider.get_code_at(token.address).await.unwrap();
    assert_eq!(alloy::primitives::keccak256(&code), token.code_hash);

    let height = provider.get_block_number().await.unwrap();
    let second = deploy(&args).await.expect("re-run succeeds");
    assert_eq!(
        provider.get_block_number().await.unwrap(),
        height,
        "a re-run must not send transactions"
    );
    assert_eq!(second.contracts["token"].address, token.address);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_key_and_unreachable_node_are_clear_errors() {
    let out = ScratchDir::new("deploy-bad");
    let err = deploy(&args("http://127.0.0.1:9", "0x1234".into(), &out))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("private key"), "{err:#}");
    let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".to_owned();
    let err = deploy(&args("http://127.0.0.1:9", key, &out))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("127.0.0.1:9"), "{err:#}");
}

/// `verity deploy --fragments` (ArbOS 60): every contract is a root over fragments, created, activated and
/// constructed through the StylusDeployer, its state checked against the plan; the token answers; a re-run
/// recognises the roots and sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn deploy_with_fragments_makes_roots_that_answer() {
    use verity_abi::rpc::IBrToken;
    let node = start(NodeConfig::default()).await.unwrap();
    let account = lock(&node.chain()).dev_accounts()[0].clone();
    let out = ScratchDir::new("deploy-fragments");
    let args = DeployArgs {
        fragments: true,
        ..args(node.url(), account.private_key_hex(), &out)
    };
    let first = deploy(&args).await.expect("deploys fragmented");
    let provider = wallet_for(node.url(), account.signer.clone());
    for (name, record) in &first.contracts {
        let code = provider.get_code_at(record.address).await.unwrap();
        assert_eq!(&code[..4], &[0xEF, 0xF0, 0x02, 0x00], "{name} is a root");
        assert_eq!(alloy::primitives::keccak256(&code), record.code_hash);
        let fragments =
            verity_script::build::code::root_fragments(&code).expect("well-formed root");
        let mut stream = Vec::new();
        for fragment in fragments {
            let code = provider.get_code_at(fragment).await.unwrap();
            assert_eq!(&code[..3], &[0xEF, 0xF0, 0x01], "{name}'s fragment");
            stream.extend_from_slice(&code[3..]);
        }
        assert_eq!(
            stream,
            artifacts().get(name).unwrap().code[4..],
            "{name}'s fragments carry its brotli stream"
        );
    }
    let token = IBrToken::new(first.contracts["token"].address, &provider);
    let supply = token.totalSupply().call().await.expect("the root answers");
    assert!(supply > alloy::primitives::U256::ZERO);
    assert_eq!(
        token.balanceOf(account.address).call().await.unwrap(),
        supply,
        "the constructor ran with the plan's arguments"
    );

    let height = provider.get_block_number().await.unwrap();
    let second = deploy(&args).await.expect("re-run succeeds");
    assert_eq!(provider.get_block_number().await.unwrap(), height);
    assert_eq!(
        second.contracts["token"].address,
        first.contracts["token"].address
    );
}
