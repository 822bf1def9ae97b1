//! BR as real WASM on devnode, deployed by the pipeline and driven through alloy as a wallet would.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    sol_types::{SolError, SolEvent},
};
use verity_abi::{
    rpc::IBrToken,
    token::{
        AdminChanged, Approval, BRInvalidAdmin, BRUnauthorizedAdmin, BRUnauthorizedMinter,
        ERC20ExceededCap, ERC20InsufficientAllowance, ERC20InsufficientBalance,
        ERC20InvalidReceiver, ERC20InvalidSpender, MinterChanged, Transfer, CAP, UNIT,
    },
};

use crate::support::Harness;

fn br(n: u64) -> U256 {
    U256::from(n) * UNIT
}

/// Asserts that `result` failed with the Solidity error `E` and returns it decoded.
fn expect_error<T, E: SolError>(result: Result<T, alloy::contract::Error>) -> E {
    let Err(err) = result else {
        panic!("call must revert")
    };
    err.as_decoded_error::<E>()
        .unwrap_or_else(|| panic!("expected {}, got {err:?}", E::SIGNATURE))
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_with_genesis_supply_and_metadata() {
    let h = Harness::start().await;
    let token = IBrToken::new(h.address("token"), h.wallet(1));
    assert_eq!(token.name().call().await.unwrap(), "Verity BR");
    assert_eq!(token.symbol().call().await.unwrap(), "BR");
    assert_eq!(token.decimals().call().await.unwrap(), 18);
    assert_eq!(token.cap().call().await.unwrap(), CAP);
    let genesis = CAP * U256::from(21u64) / U256::from(100u64);
    assert_eq!(token.totalSupply().call().await.unwrap(), genesis);
    assert_eq!(token.balanceOf(h.account(0)).call().await.unwrap(), genesis);
    assert_eq!(token.admin().call().await.unwrap(), h.account(0));
    // The constructor ran exactly once: calling it again reverts.
    let mut again = verity_abi::STYLUS_CONSTRUCTOR_SELECTOR.to_vec();
    again.extend_from_slice(&[0u8; 128]);
    let tx = alloy::rpc::types::TransactionRequest::default()
        .to(h.address("token"))
        .input(again.into());
    assert!(
        h.wallet(0).call(tx).await.is_err(),
        "constructor must not run twice"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn transfer_approve_transfer_from_with_events() {
    let h = Harness::start().await;
    let (alice, bob, carol) = (h.account(0), h.account(1), h.account(2));
    let as_alice = IBrToken::new(h.address("token"), h.wallet(0));
    let as_bob = IBrToken::new(h.address("token"), h.wallet(1));

    let receipt = as_alice
        .transfer(bob, br(100))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    let transfer = receipt.decoded_log::<Transfer>().expect("Transfer event");
    assert_eq!(
        (transfer.from, transfer.to, transfer.value),
        (alice, bob, br(100))
    );
    assert_eq!(as_alice.balanceOf(bob).call().await.unwrap(), br(100));

    let receipt = as_bob
        .approve(carol, br(40))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let approval = receipt.decoded_log::<Approval>().expect("Approval event");
    assert_eq!(
        (approval.owner, approval.spender, approval.value),
        (bob, carol, br(40))
    );

    let as_carol = IBrToken::new(h.address("token"), h.wallet(2));
    as_carol
        .transferFrom(bob, carol, br(25))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(as_carol.allowance(bob, carol).call().await.unwrap(), br(15));
    assert_eq!(as_carol.balanceOf(carol).call().await.unwrap(), br(25));
    assert_eq!(as_carol.balanceOf(bob).call().await.unwrap(), br(75));

    // Logs are found by topic filters too, and decode through verity-abi.
    let filter = alloy::rpc::types::Filter::new()
        .address(h.address("token"))
        .event_signature(Transfer::SIGNATURE_HASH)
        .from_block(0);
    let logs = h.wallet(0).get_logs(&filter).await.unwrap();
    let decoded: Vec<Transfer> = logs
        .iter()
        .map(|l| l.log_decode::<Transfer>().unwrap().inner.data)
        .collect();
    assert_eq!(
        decoded.last().map(|t| (t.from, t.to, t.value)),
        Some((bob, carol, br(25)))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_error_path_reverts_with_its_typed_error() {
    let h = Harness::start().await;
    let (admin, bob, outsider) = (h.account(0), h.account(1), h.account(3));
    let as_admin = IBrToken::new(h.address("token"), h.wallet(0));
    let as_bob = IBrToken::new(h.address("token"), h.wallet(1));
    let as_outsider = IBrToken::new(h.address("token"), h.wallet(3));

    let e: ERC20InsufficientBalance = expect_error(as_bob.transfer(admin, br(1)).call().await);
    assert_eq!((e.sender, e.balance, e.needed), (bob, U256::ZERO, br(1)));
    let e: ERC20InvalidReceiver =
        expect_error(as_admin.transfer(Address::ZERO, br(1)).call().await);
    assert_eq!(e.receiver, Address::ZERO);
    let e: ERC20InsufficientAllowance =
        expect_error(as_bob.transferFrom(admin, bob, br(1)).call().await);
    assert_eq!((e.spender, e.allowance, e.needed), (bob, U256::ZERO, br(1)));
    let _: ERC20InvalidSpender = expect_error(as_admin.approve(Address::ZERO, br(1)).call().await);

    // Access control: outsiders are rejected by every gated function — also when sent as a transaction.
    let e: BRUnauthorizedMinter = expect_error(as_outsider.mint(outsider, br(1)).call().await);
    assert_eq!(e.account, outsider);
    let e: BRUnauthorizedAdmin = expect_error(as_outsider.setMinter(outsider).call().await);
    assert_eq!(e.account, outsider);
    let _: BRUnauthorizedAdmin = expect_error(as_outsider.transferAdmin(outsider).call().await);
    let sent = as_outsider
        .mint(outsider, br(1))
        .gas(200_000)
        .send()
        .await
        .unwrap();
    assert!(
        !sent.get_receipt().await.unwrap().status(),
        "a reverted mint is mined as failed"
    );
    assert_eq!(
        as_admin.balanceOf(outsider).call().await.unwrap(),
        U256::ZERO
    );

    let _: BRInvalidAdmin = expect_error(as_admin.transferAdmin(Address::ZERO).call().await);

    // The cap holds: the admin makes itself minter and tries to mint past it.
    let receipt = as_admin
        .setMinter(admin)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let changed = receipt.decoded_log::<MinterChanged>().unwrap();
    // The deploy plan made the GaugeController BR's minter.
    assert_eq!(
        (changed.previousMinter, changed.newMinter),
        (h.address("gauge"), admin)
    );
    let supply = as_admin.totalSupply().call().await.unwrap();
    let e: ERC20ExceededCap = expect_error(
        as_admin
            .mint(bob, CAP - supply + U256::from(1))
            .call()
            .await,
    );
    assert_eq!((e.increasedSupply, e.cap), (CAP + U256::from(1), CAP));
    as_admin
        .mint(bob, CAP - supply)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert_eq!(as_admin.totalSupply().call().await.unwrap(), CAP);

    let receipt = as_admin
        .transferAdmin(bob)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let changed = receipt.decoded_log::<AdminChanged>().unwrap();
    assert_eq!((changed.previousAdmin, changed.newAdmin), (admin, bob));
    let _: BRUnauthorizedAdmin = expect_error(as_admin.setMinter(admin).call().await);
}
