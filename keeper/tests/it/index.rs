//! The indexer on devnode with the real ModelRegistry: it follows the chain, and a reorg under the block it
//! last applied makes it start over, so the index shows the new branch — here a branch with a version the old
//! one never had, in the very block height the follower had already read.

use alloy::primitives::{keccak256, Bytes, B256, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use devnode::chain::ReorgTx;
use devnode::rpc::server::lock;
use verity_abi::registry::{Format, Relation};
use verity_abi::rpc::IModelRegistry;
use verity_keeper::index::{label_word, Follower, FollowerConfig};

use crate::support::{verity_env, wallet};

/// Dev accounts that submit versions.
const ALICE: usize = 3;
const BOB: usize = 4;
/// The registry's minimum fee on the dev chain.
const MIN_FEE: u64 = 1_000_000_000_000_000;

fn submit_call(name: &str) -> IModelRegistry::submitCall {
    IModelRegistry::submitCall {
        name: label_word(name).unwrap(),
        version: 1,
        parents: vec![],
        relation: Relation::Original.code(),
        content_hash: keccak256(name),
        size: 1_024,
        storage_uri: Bytes::from_static(b"ipfs://weights"),
        format: Format::Safetensors.code(),
        runtime: B256::repeat_byte(0x11),
        io_schema_hash: B256::repeat_byte(0x22),
        license_id: B256::repeat_byte(0x33),
        metadata_hash: B256::repeat_byte(0x44),
        metadata_uri: Bytes::from_static(b"ipfs://card"),
        tags: vec![label_word("chat").unwrap()],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reorg_under_the_index_rebuilds_it_from_the_new_branch() {
    let (env, deployment) = verity_env().await;
    let registry = deployment.contracts["registry"].address;
    let mut follower = Follower::connect(
        env.provider.clone(),
        FollowerConfig::new(Some(registry), None, None, 0),
    )
    .await
    .unwrap();
    let alice = IModelRegistry::new(registry, wallet(&env.node, ALICE));
    let receipt = alice
        .submit(
            label_word("alice-model").unwrap(),
            1,
            vec![],
            Relation::Original.code(),
            keccak256("alice-model"),
            1_024,
            Bytes::from_static(b"ipfs://weights"),
            Format::Safetensors.code(),
            B256::repeat_byte(0x11),
            B256::repeat_byte(0x22),
            B256::repeat_byte(0x33),
            B256::repeat_byte(0x44),
            Bytes::from_static(b"ipfs://card"),
            vec![],
        )
        .value(U256::from(MIN_FEE))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    follower.poll().await.unwrap();
    let index = follower.index();
    assert_eq!(index.read().await.summary().counts.submitted, 1);
    assert_eq!(follower.rebuilds(), 0);

    // The head block is replaced: Alice's submission is re-included and Bob's lands in the same new block.
    let bob = lock(&env.node.chain()).dev_accounts()[BOB].signer.address();
    let request = TransactionRequest::default()
        .from(bob)
        .to(registry)
        .input(submit_call("bob-model").abi_encode().into())
        .value(U256::from(MIN_FEE));
    lock(&env.node.chain())
        .reorg(1, vec![(ReorgTx::Request(Box::new(request)), 0)])
        .unwrap();
    follower.poll().await.unwrap();
    assert_eq!(follower.rebuilds(), 1, "the replaced head was noticed");
    let index = index.read().await;
    let summary = index.summary();
    assert_eq!(
        summary.counts.submitted, 2,
        "both versions of the new branch, once each"
    );
    let names: Vec<String> = (1..=2u64)
        .map(|id| index.version(U256::from(id)).unwrap().version.name)
        .collect();
    assert!(names.contains(&"alice-model".to_owned()), "{names:?}");
    assert!(names.contains(&"bob-model".to_owned()), "{names:?}");
    drop(index);
    // Nothing new: polling again changes nothing and rebuilds nothing.
    assert!(!follower.poll().await.unwrap());
    assert_eq!(follower.rebuilds(), 1);
}
