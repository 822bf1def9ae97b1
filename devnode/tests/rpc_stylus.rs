//! Stylus over JSON-RPC, as real tools do it: BR (the pipeline's `testdata/br_token.code`) deployed with
//! cargo-stylus's initcode by an alloy wallet, activation first simulated the cargo-stylus way (`eth_call` to
//! ArbWasm with a code override), then sent with its data fee; the token is then used by the wallet: constructor,
//! transfer, receipts and logs, typed revert data, estimateGas then send.
//!
//! The ABI is the committed interface file `contracts/abi/interfaces/IBrToken.sol` (no hand-written ABI).

#[path = "rpc_support/mod.rs"]
mod support;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{keccak256, Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::state::AccountOverride;
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use devnode::precompiles::{IArbWasm, ARB_WASM};
use devnode::rpc::{start, NodeConfig};
use support::*;

alloy::sol!(
    #[sol(rpc)]
    "../contracts/abi/interfaces/IBrToken.sol"
);

const BR_TOKEN: &[u8] = include_bytes!("../testdata/br_token.code");

/// cargo-stylus's 43-byte deployment prelude followed by `code`.
fn stylus_initcode(code: &[u8]) -> Vec<u8> {
    let mut init = vec![0x7f];
    init.extend_from_slice(&U256::from(code.len()).to_be_bytes::<32>());
    init.extend_from_slice(&[0x80, 0x60, 0x2b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3, 0x00]);
    init.extend_from_slice(code);
    init
}

fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18u64))
}

#[tokio::test]
async fn br_token_deploys_activates_and_transfers_over_rpc() {
    let node = start(NodeConfig::default()).await.unwrap();
    let owner = signer(KEY0).address();
    let bob = signer(KEY1).address();
    let p = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer(KEY0)))
        .connect_http(node.url().parse().unwrap());

    // Deploy: an ordinary CREATE.
    let deploy = TransactionRequest::default().with_deploy_code(stylus_initcode(BR_TOKEN));
    let receipt = p
        .send_transaction(deploy)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let token = receipt.contract_address.unwrap();
    assert_eq!(p.get_code_at(token).await.unwrap().as_ref(), BR_TOKEN);

    // An un-activated program reverts.
    let br = IBrToken::new(token, &p);
    assert!(br.totalSupply().call().await.is_err());

    // cargo-stylus check: simulate activation with the code placed at a scratch address by a state override.
    let scratch = Address::repeat_byte(0xcc);
    let overrides: alloy::rpc::types::state::StateOverride = [(
        scratch,
        AccountOverride {
            code: Some(BR_TOKEN.to_vec().into()),
            ..Default::default()
        },
    )]
    .into_iter()
    .collect();
    let simulate = TransactionRequest::default()
        .with_from(owner)
        .with_to(ARB_WASM)
        .with_value(ether(1))
        .with_input(IArbWasm::activateProgramCall { program: scratch }.abi_encode());
    let out = p.call(simulate).overrides(overrides).await.unwrap();
    let simulated = IArbWasm::activateProgramCall::abi_decode_returns(&out).unwrap();
    assert!(simulated.dataFee > U256::ZERO);

    // Activate for real, paying the data fee.
    let activate = TransactionRequest::default()
        .with_to(ARB_WASM)
        .with_value(simulated.dataFee)
        .with_input(IArbWasm::activateProgramCall { program: token }.abi_encode());
    let receipt = p
        .send_transaction(activate)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status(), "activation: {receipt:?}");

    // Constructor (stylus-sdk: keccak("stylus_constructor()")[..4] ‖ args).
    let mut ctor = keccak256(b"stylus_constructor()")[..4].to_vec();
    ctor.extend((owner, owner, owner, ether(1_000)).abi_encode_params());
    let tx = TransactionRequest::default()
        .with_to(token)
        .with_input(ctor);
    assert!(p
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .status());
    assert_eq!(br.balanceOf(owner).call().await.unwrap(), ether(1_000));

    // A wallet transfer, with estimateGas done by the provider's filler.
    let receipt = br
        .transfer(bob, ether(3))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(br.balanceOf(bob).call().await.unwrap(), ether(3));
    let logs = p
        .get_logs(
            &Filter::new()
                .address(token)
                .event_signature(IBrToken::Transfer::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(logs.len(), 2, "genesis mint + transfer");
    let last = IBrToken::Transfer::decode_log_data(logs[1].data()).unwrap();
    assert_eq!((last.from, last.to, last.value), (owner, bob, ether(3)));
    assert!(receipt.gas_used > 21_000);

    // A typed revert: Bob cannot send more than he has.
    let err = br
        .transfer(owner, ether(4))
        .from(bob)
        .call()
        .await
        .unwrap_err();
    let alloy::contract::Error::TransportError(transport) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(transport.as_error_resp().expect("JSON-RPC error").code, 3);
    let decoded = err
        .as_decoded_error::<IBrToken::ERC20InsufficientBalance>()
        .expect("typed error");
    assert_eq!(
        (decoded._0, decoded._1, decoded._2),
        (bob, ether(3), ether(4))
    );
}

/// The StylusDeployer predeploy: create + activate + constructor in one transaction (what `cargo stylus deploy`
/// does for a contract with a constructor, and what makes front-running the constructor impossible), the excess
/// value returned, and a failing constructor reverting the whole deployment.
#[tokio::test]
async fn stylus_deployer_creates_activates_and_constructs_in_one_transaction() {
    use devnode::chain::predeploys::{IStylusDeployer, STYLUS_DEPLOYER};
    let node = start(NodeConfig::default()).await.unwrap();
    let owner = signer(KEY0).address();
    let p = ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer(KEY0)))
        .connect_http(node.url().parse().unwrap());
    let deployer = IStylusDeployer::new(STYLUS_DEPLOYER, &p);
    let mut ctor = keccak256(b"stylus_constructor()")[..4].to_vec();
    ctor.extend((owner, owner, owner, ether(1_000)).abi_encode_params());

    // A constructor that reverts (minting above the cap) reverts everything: no program is left behind.
    let mut bad = keccak256(b"stylus_constructor()")[..4].to_vec();
    bad.extend((owner, owner, owner, U256::MAX).abi_encode_params());
    let err = deployer
        .call_builder(&IStylusDeployer::deployCall {
            bytecode: stylus_initcode(BR_TOKEN).into(),
            initData: bad.into(),
            initValue: U256::ZERO,
            salt: alloy::primitives::B256::ZERO,
        })
        .value(ether(1))
        .call()
        .await
        .unwrap_err();
    assert!(
        err.as_decoded_error::<IStylusDeployer::ContractInitializationError>()
            .is_some(),
        "{err:?}"
    );

    let before = p.get_balance(owner).await.unwrap();
    let receipt = deployer
        .call_builder(&IStylusDeployer::deployCall {
            bytecode: stylus_initcode(BR_TOKEN).into(),
            initData: ctor.clone().into(),
            initValue: U256::ZERO,
            salt: alloy::primitives::B256::repeat_byte(7),
        })
        .value(ether(1))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let deployed = receipt
        .decoded_log::<IStylusDeployer::ContractDeployed>()
        .expect("ContractDeployed")
        .deployedContract;
    // Activated and constructed in that one transaction.
    let br = IBrToken::new(deployed, &p);
    assert_eq!(br.balanceOf(owner).call().await.unwrap(), ether(1_000));
    // Only the data fee and gas were spent: the rest of the 1 ETH came back.
    let gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    let spent = before - p.get_balance(owner).await.unwrap() - gas;
    assert!(spent > U256::ZERO && spent < ether(1), "data fee {spent}");
    // The constructor cannot run again, by anyone.
    let again = TransactionRequest::default()
        .with_to(deployed)
        .with_input(ctor.clone());
    assert!(p.call(again).await.is_err());
    // CREATE2 binds the address to the constructor data: the same salt and code again is taken.
    let err = deployer
        .call_builder(&IStylusDeployer::deployCall {
            bytecode: stylus_initcode(BR_TOKEN).into(),
            initData: ctor.into(),
            initValue: U256::ZERO,
            salt: alloy::primitives::B256::repeat_byte(7),
        })
        .value(ether(1))
        .call()
        .await
        .unwrap_err();
    assert!(
        err.as_decoded_error::<IStylusDeployer::ContractDeploymentError>()
            .is_some(),
        "{err:?}"
    );
    // Nitro's dev account is funded, as on nitro-devnode.
    assert!(
        p.get_balance(devnode::chain::predeploys::NITRO_DEV_ADDRESS)
            .await
            .unwrap()
            > U256::ZERO
    );
}

/// The committed runtime bytecode of each Solidity predeploy is what its source compiles to (solcjs from
/// `.tools/`; locally skipped without it, a failure with `CI=true`).
#[test]
fn predeploys_match_their_sources() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let solc = root.join("../.tools/node_modules/solc");
    if !solc.is_dir() {
        skip(
            "predeploys_match_their_sources",
            &format!(
                "solc (npm) missing at {}: script/test installs it",
                solc.display()
            ),
        );
        return;
    }
    for (source, committed) in [
        (
            "StylusDeployer",
            devnode::chain::predeploys::STYLUS_DEPLOYER_CODE,
        ),
        (
            "CacheManager",
            devnode::chain::predeploys::CACHE_MANAGER_CODE,
        ),
    ] {
        let out = std::process::Command::new("node")
            .arg(root.join("predeploys/compile.cjs"))
            .arg(&solc)
            .arg(root.join(format!("predeploys/{source}.sol")))
            .output()
            .expect("node runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            committed.trim(),
            "regenerate devnode/predeploys/{source}.hex with compile.cjs"
        );
    }
}
