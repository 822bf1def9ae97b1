//! Audit issue 14, the registry's, verifier's and deployer's findings, each attacked on the compiled WASM on devnode
//! as a wallet would (alloy over JSON-RPC):
//! - finding 4, name squatting: a name whose versions were all rejected or expired is released to the next
//!   submitter;
//! - finding 6, degenerate Groth16 keys: a key with an IC point at infinity is refused (with one, a proof verified
//!   for any output);
//! - finding 9, forks: deriving from another owner's version needs a license that allows derivatives or the
//!   owner's `approveFork`, else registration rejects with `ForkNotApproved`;
//! - constructor front-running: `verity deploy` aborts, naming the contract and field, when someone else ran a
//!   constructor between activation and the planned call.

use alloy::{
    network::TransactionBuilder,
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use devnode::rpc::{server::lock, start, NodeConfig};
use verity::bench::register_model;
use verity_abi::{
    groth16::{key_fault, vk_offset, Groth16InvalidKey, BN254_ADD, BN254_MUL, G1_LEN},
    registry::{
        license_id, ForkApproved, NameTransferred, Reason, RegistryNotNameOwner,
        RegistryUnknownVersion, Relation, Status,
    },
    rpc::IGroth16Verifier,
    settlement::{mode, zk_public_inputs, Receipt},
};
use verity_script::{
    deploy::{
        deploy_all,
        verity::{plan, VerityParams},
        AddressBook, DeployOptions, DeployPlan,
    },
    Error,
};
use verity_zk::{
    evm::{proof_bytes, vk_bytes},
    field::word_of,
    model::Model,
    rand::{rngs::StdRng, SeedableRng},
    snark,
};

use crate::registry::{name, world, Sub, ALICE, ATTESTER, BOB, KEEPER, OUTSIDER, SIZE};
use crate::support::{artifacts, events, expect_error, sent, tx, wallet_for, Harness, ScratchDir};

/// A license id without the derivatives flag, and one with it.
fn closed() -> B256 {
    B256::from(license_id("Apache-2.0", false))
}

fn open() -> B256 {
    B256::from(license_id("Apache-2.0", true))
}

/// Finding 4: Alice's only version of "x" fails its storage check (rejected, refunded). Before the fix Bob could
/// never submit "x" (`RegistryNotNameOwner` for ever); now the name is released and Bob claims it.
#[tokio::test(flavor = "multi_thread")]
async fn rejected_squatter_releases_the_name() {
    let w = world().await;
    let x = name("x");
    let (squat, _) = w.submit(ALICE, &Sub::original(x, 1)).await;
    // While Alice's version is pending the name is hers.
    let e = expect_error::<_, RegistryNotNameOwner>(
        w.submit_call(BOB, &Sub::original(x, 2)).call().await,
    );
    assert_eq!(e.account, w.h.account(BOB));
    let expiry = crate::support::now(&w.h).await + 86_400;
    tx!(w.r[ATTESTER].confirmStorage(squat, B256::repeat_byte(0xbb), SIZE, expiry));
    assert_eq!(w.status(squat).await, Status::Rejected);
    assert_eq!(
        w.refundable(w.h.account(ALICE)).await,
        crate::registry::min_fee(),
        "the squatter's fee is refunded"
    );

    // Bob can now submit "x" (a version above every one submitted for it) and owns it.
    let bobs = Sub::original(x, 2);
    let claim = w.submit_call(BOB, &bobs).call().await;
    assert!(
        claim.is_ok(),
        "a name whose only version was rejected must be claimable by another account: {:?}",
        claim.err().and_then(|e| e
            .as_decoded_error::<RegistryNotNameOwner>()
            .map(|e| format!("RegistryNotNameOwner({}, {})", e.name, e.account)))
    );
    let (id, receipt) = w.submit(BOB, &bobs).await;
    let moved = &events::<NameTransferred>(&receipt)[0];
    assert_eq!(
        (moved.name, moved.previousOwner, moved.newOwner),
        (x, w.h.account(ALICE), w.h.account(BOB))
    );
    w.confirm(id).await;
    let report = w.finalize(KEEPER, &[id]).await;
    assert_eq!(report[0].status, Status::Registered.code());
    // Registered: the name is Bob's for good; Alice (or anyone) cannot take it back.
    expect_error::<_, RegistryNotNameOwner>(
        w.submit_call(ALICE, &Sub::original(x, 3)).call().await,
    );
    w.assert_conservation(U256::ZERO).await;
}

/// Finding 4, the expiry path: a version never stored expires after the TTL; its name is released too.
#[tokio::test(flavor = "multi_thread")]
async fn expired_squatter_releases_the_name() {
    let w = world().await;
    let y = name("y");
    let (squat, _) = w.submit(ALICE, &Sub::original(y, 1)).await;
    w.h.advance(verity_script::deploy::verity::RegistryParams::default().ttl + 1)
        .await;
    tx!(w.r[OUTSIDER].expire(squat));
    let claim = w.submit_call(BOB, &Sub::original(y, 2)).call().await;
    assert!(
        claim.is_ok(),
        "a name whose only version expired must be claimable"
    );
}

/// Finding 9: Bob derives from Alice's version without a permissive license and without her approval →
/// `Rejected(ForkNotApproved)`, refunded. Alice's approval (only hers) lets Bob's next fork register; a parent
/// whose license allows derivatives needs none; Alice deriving from her own version is unaffected.
#[tokio::test(flavor = "multi_thread")]
async fn forks_need_a_permissive_license_or_the_owners_approval() {
    let w = world().await;
    let registered = |s: Sub| {
        let w = &w;
        async move {
            let (id, _) = w.submit(ALICE, &s).await;
            w.confirm(id).await;
            assert_eq!(
                w.finalize(KEEPER, &[id]).await[0].status,
                Status::Registered.code()
            );
            id
        }
    };
    let base = registered(Sub {
        license: closed(),
        ..Sub::original(name("base"), 1)
    })
    .await;
    let permissive = registered(Sub {
        license: open(),
        ..Sub::original(name("permissive"), 1)
    })
    .await;
    let fork = |n: &str, parent: U256| Sub::derived(name(n), 1, Relation::Finetune, &[parent]);

    // Unapproved fork: rejected at registration with its reason, and refunded.
    let (unapproved, _) = w.submit(BOB, &fork("bob-1", base)).await;
    w.confirm(unapproved).await;
    let report = w.finalize(KEEPER, &[unapproved]).await;
    assert_eq!(
        (report[0].status, report[0].reason),
        (Status::Rejected.code(), Reason::ForkNotApproved.code()),
        "a fork of another owner's version without a permissive license or approval must be rejected \
         (got status {}, reason {})",
        report[0].status,
        report[0].reason
    );
    assert!(!w.r[BOB].isUsable(unapproved).call().await.unwrap());

    // A permissive license: registered without approval. Same-owner derivation: unaffected.
    let (of_permissive, _) = w.submit(BOB, &fork("bob-2", permissive)).await;
    let (own, _) = w.submit(ALICE, &fork("alice-2", base)).await;
    w.confirm(of_permissive).await;
    w.confirm(own).await;
    let report = w.finalize(KEEPER, &[of_permissive, own]).await;
    assert!(report
        .iter()
        .all(|e| e.status == Status::Registered.code() && e.changed));

    // Only the parent's owner approves (an outsider, the forker himself, an unknown parent are refused).
    for who in [OUTSIDER, BOB] {
        let e = expect_error::<_, RegistryNotNameOwner>(
            w.r[who].approveFork(base, w.h.account(BOB)).call().await,
        );
        assert_eq!((e.name, e.account), (name("base"), w.h.account(who)));
    }
    expect_error::<_, RegistryUnknownVersion>(
        w.r[ALICE]
            .approveFork(U256::from(999), w.h.account(BOB))
            .call()
            .await,
    );
    let receipt = tx!(w.r[ALICE].approveFork(base, w.h.account(BOB)));
    let approved = &events::<ForkApproved>(&receipt)[0];
    assert_eq!(
        (approved.parent, approved.forker, approved.owner),
        (base, w.h.account(BOB), w.h.account(ALICE))
    );

    // Approved: Bob's fork registers; the approval is Bob's alone.
    let (approved_fork, _) = w.submit(BOB, &fork("bob-3", base)).await;
    let (stranger, _) = w.submit(OUTSIDER, &fork("outsider-1", base)).await;
    w.confirm(approved_fork).await;
    w.confirm(stranger).await;
    let report = w.finalize(KEEPER, &[approved_fork, stranger]).await;
    let got: Vec<_> = report.iter().map(|e| (e.status, e.reason)).collect();
    assert_eq!(
        got,
        vec![
            (Status::Registered.code(), Reason::None.code()),
            (Status::Rejected.code(), Reason::ForkNotApproved.code()),
        ]
    );
    w.assert_conservation(U256::ZERO).await;
}

/// `eth_call` to a BN254 precompile: its 64-byte G1 answer.
async fn precompile(provider: &impl Provider, at: Address, input: Vec<u8>) -> Vec<u8> {
    let out = provider
        .call(TransactionRequest::default().with_to(at).with_input(input))
        .await
        .expect("precompile answers");
    assert_eq!(out.len(), G1_LEN);
    out.to_vec()
}

/// Finding 6: a model owner registers a key whose IC₃ (the output's coefficient) is the point at infinity and
/// whose IC₀ absorbs `o·IC₃` for the output `o` of one honest proof. Before the fix the key was accepted and that
/// one proof verified for every output; now every key with an IC point at infinity is refused.
#[tokio::test(flavor = "multi_thread")]
async fn groth16_key_with_an_ic_point_at_infinity_is_refused() {
    const OWNER: usize = 3;
    let h = Harness::start().await;
    let model = Model::example(4, 8, 3, 1);
    let keys = snark::setup(model.shape(), &mut StdRng::seed_from_u64(7)).unwrap();
    let version = register_model(
        &h.wallet(OWNER),
        &h.wallet(0),
        h.address("registry"),
        keccak256("zk-degenerate"),
        &model,
    )
    .await
    .unwrap();
    let groth16 = IGroth16Verifier::new(h.address("groth16"), h.wallet(OWNER));
    let commitment = word_of(model.commitment());
    let vk = vk_bytes(&keys.verifying).unwrap().to_vec();
    let proven = snark::prove(
        &keys.proving,
        &model,
        &[1, -2, 3, -4],
        &mut StdRng::seed_from_u64(1),
    )
    .unwrap();
    let ic = |i: usize| vk_offset::IC + i * G1_LEN..vk_offset::IC + (i + 1) * G1_LEN;

    // IC₀' = IC₀ + o·IC₃ (through the chain's own precompiles), IC₃' = ∞.
    let provider = h.wallet(OWNER);
    let mut mul = vk[ic(3)].to_vec();
    mul.extend_from_slice(proven.statement.output_word().as_slice());
    let o_ic3 = precompile(&provider, BN254_MUL, mul).await;
    let mut add = vk[ic(0)].to_vec();
    add.extend_from_slice(&o_ic3);
    let ic0 = precompile(&provider, BN254_ADD, add).await;
    let mut degenerate = vk.clone();
    degenerate[ic(0)].copy_from_slice(&ic0);
    degenerate[ic(3)].fill(0);

    let attempt = groth16
        .registerKey(version, commitment, degenerate.clone().into())
        .call()
        .await;
    if attempt.is_ok() {
        // Today's behaviour: show what the key does, then fail.
        tx!(groth16.registerKey(version, commitment, degenerate.into()));
        let forged_output = B256::from(U256::from(424_242u64));
        let receipt = Receipt {
            requestId: B256::repeat_byte(9),
            modelVersion: version,
            inputHash: proven.statement.input_word(),
            outputHash: forged_output,
            payer: h.account(2),
            node: h.account(1),
            fee: U256::from(1),
            mode: mode::ZK,
            signedAt: 1,
        };
        let forged = groth16
            .verify(
                zk_public_inputs(&receipt).into(),
                proof_bytes(&proven.proof).to_vec().into(),
            )
            .call()
            .await
            .unwrap();
        panic!(
            "a key with IC3 at infinity was registered; verify(proof, wrong output) = {forged} \
             (one proof verifies for any output)"
        );
    }
    let e: Groth16InvalidKey = expect_error(attempt);
    assert_eq!(
        (e.modelVersion, e.reason),
        (version, key_fault::IC_INFINITY)
    );
    // Every IC point, each alone.
    for i in 0..4 {
        let mut key = vk.clone();
        key[ic(i)].fill(0);
        let e: Groth16InvalidKey = expect_error(
            groth16
                .registerKey(version, commitment, key.into())
                .call()
                .await,
        );
        assert_eq!(e.reason, key_fault::IC_INFINITY, "IC{i}");
    }
    // The honest key still registers.
    tx!(groth16.registerKey(version, commitment, vk.into()));
}

/// Constructor front-running on a chain without the StylusDeployer (deploy's three-step fallback: create,
/// activate, constructor in separate transactions): the deployer creates and activates `target` (the plan up to
/// it, its constructor left out), an attacker runs its constructor with his own arguments (himself as admin / role
/// holder / wired contract), then the deployer runs the full plan. Before the fix the deploy went on with a warning
/// ("already run"); now it aborts with `StateMismatch` naming the contract and a field.
async fn front_run(target: &str) -> Error {
    const ATTACKER: usize = 7;
    let node = start(NodeConfig::default()).await.expect("devnode starts");
    let accounts = lock(&node.chain()).dev_accounts().to_vec();
    let dir = ScratchDir::new("front-run");
    let deployer = wallet_for(node.url(), accounts[0].signer.clone());
    // A chain without the deployer predeploy (as before ArbOS's StylusDeployer): the three-step path.
    let _: () = deployer
        .raw_request(
            "anvil_setCode".into(),
            (verity_script::deploy::atomic::STYLUS_DEPLOYER, Bytes::new()),
        )
        .await
        .expect("anvil_setCode");
    let options = DeployOptions::new("devnode", &dir.0);
    let full = plan(&VerityParams::default());
    let at = full
        .contracts
        .iter()
        .position(|d| d.contract == target)
        .expect("target in the plan");
    let mut partial = DeployPlan::new();
    partial.contracts = full.contracts[..=at].to_vec();
    partial.contracts[at].init = None;
    partial.contracts[at].checks.clear();
    let before = deploy_all(&deployer, artifacts(), &partial, &options)
        .await
        .expect("created and activated");

    // The attacker's constructor call: the plan's own encoder with the attacker as deployer and every contract.
    let attacker = accounts[ATTACKER].address;
    let mut book = AddressBook::new(attacker);
    for name in before.contracts.keys() {
        book.insert(name.clone(), attacker);
    }
    let call = full.contracts[at].init.as_ref().expect("a constructor");
    let wallet = wallet_for(node.url(), accounts[ATTACKER].signer.clone());
    sent(
        wallet
            .send_transaction(
                TransactionRequest::default()
                    .with_to(before.contracts[target].address)
                    .with_input(call.calldata(&book).expect("calldata"))
                    .with_gas_limit(5_000_000),
            )
            .await
            .map_err(alloy::contract::Error::from),
    )
    .await;

    match deploy_all(&deployer, artifacts(), &full, &options).await {
        Ok(_) => panic!(
            "deploy finished although an attacker ran {target}'s constructor first (it must abort)"
        ),
        Err(err) => err,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_aborts_when_a_constructor_was_front_run() {
    for (target, field) in [
        ("registry", "role(admin)"),
        ("token", "admin"),
        ("groth16", "registry"),
    ] {
        let err = front_run(target).await;
        let message = err.to_string();
        eprintln!("{message}");
        match err {
            Error::StateMismatch {
                contract,
                field: got,
                ..
            } => {
                assert_eq!((contract.as_str(), got.as_str()), (target, field));
                assert!(message.contains(target) && message.contains(field));
            }
            other => panic!("expected StateMismatch for {target}, got {other}"),
        }
    }
}
