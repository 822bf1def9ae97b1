//! Every access-controlled function of every contract rejects an outsider **as a mined transaction** on the
//! compiled WASM (issue 17 item 3): each call is sent with a fixed gas limit (no estimate that would stop it
//! before the chain), its receipt must show a revert, and the revert data (read by `eth_call` at the same state)
//! must decode to the contract's typed error naming the outsider. Each call is otherwise valid, so the caller is
//! the only reason it fails. The per-contract suites check the admitted callers' happy paths.

use alloy::{
    primitives::{keccak256, Bytes, B256, U256},
    providers::Provider,
};
use verity_abi::{
    gauge::GaugeUnauthorized,
    groth16::Groth16NotModelOwner,
    registry::{RegistryNotNameOwner, RegistryUnauthorized, Role},
    rpc::{IBrToken, ICommitteeVerifier, IGaugeController, IGroth16Verifier, IModelRegistry},
    settlement::{
        mode, SettlementUnauthorized, SettlementUnauthorizedCaller, SettlementUnauthorizedKeeper,
        SettlementUnauthorizedNode, SettlementUnauthorizedPayer,
    },
    token::{BRUnauthorizedAdmin, BRUnauthorizedMinter},
};

use crate::{
    settlement::{world, GOV, NODE, OUTSIDER, PAYER},
    support::{expect_error, now, tx},
};

/// Gas for the outsider's transactions: enough for any of these calls to reach its access check.
const GAS: u64 = 3_000_000;

/// Sends `$call` (a contract call from the outsider's wallet) as a mined transaction and returns the typed error
/// `$err` it reverted with. Panics when the call does not revert with `$err` or the mined transaction succeeds.
macro_rules! rejected {
    ($call:expr, $err:ty) => {{
        let call = $call;
        let decoded: $err = expect_error(call.call().await);
        let receipt = call
            .gas(GAS)
            .send()
            .await
            .expect("the node accepts the transaction")
            .get_receipt()
            .await
            .expect("mined");
        assert!(
            !receipt.status(),
            "{} succeeded for an outsider",
            stringify!($call)
        );
        decoded
    }};
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outsider_is_rejected_by_every_gated_function_as_a_mined_transaction() {
    let w = world().await;
    let h = &w.h;
    let outsider = h.account(OUTSIDER);
    let gov = h.account(GOV);
    let wallet = h.wallet(OUTSIDER);
    let nonce_before = wallet.get_transaction_count(outsider).await.unwrap();
    let mut sent = 0u64;

    // BR token: minting is the GaugeController's, the rest the admin's.
    let token = IBrToken::new(h.address("token"), wallet.clone());
    let e = rejected!(token.mint(outsider, U256::from(1)), BRUnauthorizedMinter);
    assert_eq!(e.account, outsider);
    let e = rejected!(token.setMinter(outsider), BRUnauthorizedAdmin);
    assert_eq!(e.account, outsider);
    let e = rejected!(token.transferAdmin(outsider), BRUnauthorizedAdmin);
    assert_eq!(e.account, outsider);
    sent += 3;

    // GaugeController: the admin adds, kills and revives gauges and hands over the admin role.
    let gauge_at = h.address("gauge");
    let admin_gauges = IGaugeController::new(gauge_at, h.wallet(GOV));
    let live = h.account(6);
    tx!(admin_gauges.addGauge(live));
    let killed = h.account(7);
    tx!(admin_gauges.addGauge(killed));
    tx!(admin_gauges.killGauge(killed));
    let gauges = IGaugeController::new(gauge_at, wallet.clone());
    for e in [
        rejected!(gauges.addGauge(h.account(8)), GaugeUnauthorized),
        rejected!(gauges.killGauge(live), GaugeUnauthorized),
        rejected!(gauges.reviveGauge(killed), GaugeUnauthorized),
        rejected!(gauges.transferAdmin(outsider), GaugeUnauthorized),
    ] {
        assert_eq!(e.account, outsider);
    }
    sent += 4;

    // ModelRegistry: roles and config are the admin's, storage the attester's, a name its owner's.
    let registry = IModelRegistry::new(h.address("registry"), wallet.clone());
    for (e, role) in [
        (
            rejected!(
                registry.setRole(outsider, Role::Attester.code(), true),
                RegistryUnauthorized
            ),
            Role::Admin,
        ),
        (
            rejected!(
                registry.setConfig(U256::from(1), 3_600, 86_400, true),
                RegistryUnauthorized
            ),
            Role::Admin,
        ),
        (
            rejected!(registry.withdrawFees(outsider), RegistryUnauthorized),
            Role::Admin,
        ),
        (
            rejected!(
                registry.confirmStorage(w.model, B256::repeat_byte(0xc1), 4_096, u64::MAX / 2),
                RegistryUnauthorized
            ),
            Role::Attester,
        ),
    ] {
        assert_eq!((e.account, e.role), (outsider, role.code()));
    }
    let info = registry.version(w.model).call().await.unwrap();
    for e in [
        rejected!(registry.setYanked(w.model, true), RegistryNotNameOwner),
        rejected!(
            registry.transferName(info.name, outsider),
            RegistryNotNameOwner
        ),
        rejected!(
            registry.approveFork(w.model, outsider),
            RegistryNotNameOwner
        ),
    ] {
        assert_eq!((e.name, e.account), (info.name, outsider));
    }
    sent += 7;

    // Groth16Verifier: only the version's submitter registers its verifying key.
    let groth16 = IGroth16Verifier::new(h.address("groth16"), wallet.clone());
    let e = rejected!(
        groth16.registerKey(w.model, B256::repeat_byte(7), Bytes::from(vec![0u8; 512])),
        Groth16NotModelOwner
    );
    assert_eq!((e.modelVersion, e.account), (w.model, outsider));
    sent += 1;

    // CommitteeVerifier: governance sets members and the threshold.
    let committee = ICommitteeVerifier::new(h.address("settlement-committee"), wallet.clone());
    for e in [
        rejected!(committee.setMember(outsider, true), SettlementUnauthorized),
        rejected!(committee.setThreshold(1), SettlementUnauthorized),
        rejected!(
            committee.transferGovernance(outsider),
            SettlementUnauthorized
        ),
    ] {
        assert_eq!(e.account, outsider);
    }
    sent += 3;

    // SettlementNodes: governance approves/revokes keys and sets params; only InferenceSettlement slashes.
    let nodes = &w.nodes[OUTSIDER];
    let config = nodes.config().call().await.unwrap();
    let key = w.tee.address();
    for e in [
        rejected!(
            nodes.approveKey(key, keccak256("measurement")),
            SettlementUnauthorized
        ),
        rejected!(nodes.revokeKey(key), SettlementUnauthorized),
        rejected!(
            nodes.setParams(config._3, config._4, config._5),
            SettlementUnauthorized
        ),
        rejected!(nodes.setPaused(true), SettlementUnauthorized),
        rejected!(nodes.setSettlement(outsider), SettlementUnauthorized),
        rejected!(nodes.transferGovernance(outsider), SettlementUnauthorized),
    ] {
        assert_eq!(e.account, outsider);
    }
    let e = rejected!(
        nodes.slash(h.account(NODE), U256::from(1), outsider),
        SettlementUnauthorizedCaller
    );
    assert_eq!(e.account, outsider);
    sent += 7;

    // ReceiptBatches: allowed keepers anchor; governance sets keepers and params.
    let batches = &w.batches[OUTSIDER];
    let bond = w.batches[GOV].config().call().await.unwrap()._4;
    let e = rejected!(
        batches
            .anchorBatch(B256::repeat_byte(1), 1, "https://batches.example/1".into())
            .value(bond),
        SettlementUnauthorizedKeeper
    );
    assert_eq!(e.account, outsider);
    for e in [
        rejected!(batches.setKeeper(outsider, true), SettlementUnauthorized),
        rejected!(batches.setParams(3_600, bond), SettlementUnauthorized),
        rejected!(batches.setPaused(true), SettlementUnauthorized),
        rejected!(batches.transferGovernance(outsider), SettlementUnauthorized),
    ] {
        assert_eq!(e.account, outsider);
    }
    sent += 5;

    // InferenceSettlement: governance's functions (resolving a real dispute); the node answers; the payer disputes.
    let s = &w.settlement[OUTSIDER];
    let c = w.settlement[GOV].config().call().await.unwrap();
    let id = keccak256("access-request");
    w.request(id, mode::TEE).await;
    for e in [
        rejected!(s.setVerifier(w.model, outsider), SettlementUnauthorized),
        rejected!(
            s.setParams(c._5, c._6, c._7, c._8, c._9),
            SettlementUnauthorized
        ),
        rejected!(s.setPaused(true), SettlementUnauthorized),
        rejected!(s.transferGovernance(outsider), SettlementUnauthorized),
    ] {
        assert_eq!(e.account, outsider);
    }
    let e = rejected!(
        s.answer(id, keccak256("answer")),
        SettlementUnauthorizedNode
    );
    assert_eq!(e.account, outsider);
    tx!(w.settlement[NODE].answer(id, keccak256("answer")));
    let signed = w.sign(&w.receipt(id, "answer", mode::TEE, now(h).await));
    tx!(w.settlement[NODE].proveWithReceipt(signed, Default::default()));
    let e = rejected!(s.dispute(id).value(c._8), SettlementUnauthorizedPayer);
    assert_eq!(e.account, outsider);
    tx!(w.settlement[PAYER].dispute(id).value(c._8));
    let e = rejected!(s.resolveDispute(id, false), SettlementUnauthorized);
    assert_eq!(e.account, outsider);
    sent += 7;

    // Every rejection above was a mined transaction of the outsider's, and nothing changed hands.
    assert_eq!(
        wallet.get_transaction_count(outsider).await.unwrap(),
        nonce_before + sent
    );
    assert_eq!(
        IBrToken::new(h.address("token"), wallet.clone())
            .admin()
            .call()
            .await
            .unwrap(),
        gov
    );
    assert_eq!(
        w.status(id).await,
        verity_abi::settlement::request_status::DISPUTED
    );
}
