//! Native unit tests on stylus-test's TestVM: every transition and error of SettlementNodes, an outsider test for
//! every gated function, and the receipt judge with receipts signed by real secp256k1 keys (k256) and recovered as
//! the contract recovers them (the registry and InferenceSettlement are mocked in [`crate::external::mock`]).

use super::external::mock;
use super::*;
use alloy_primitives::{address, keccak256};
use alloy_sol_types::SolEvent;
use k256::ecdsa::SigningKey;
use stylus_sdk::testing::TestVM;
use verity_abi::settlement::{encode_signed_receipt, Receipt, SECP256K1_HALF_N};

const GOV: Address = address!("00000000000000000000000000000000000000a1");
const REGISTRY: Address = address!("00000000000000000000000000000000000000a2");
const SETTLEMENT: Address = address!("00000000000000000000000000000000000000a3");
const NODE: Address = address!("00000000000000000000000000000000000000b1");
const NODE2: Address = address!("00000000000000000000000000000000000000b2");
const PAYER: Address = address!("00000000000000000000000000000000000000c1");
const OUTSIDER: Address = address!("00000000000000000000000000000000000000e5");
/// SettlementNodes' own address (the key registration proof's verifying contract).
const THIS: Address = address!("00000000000000000000000000000000000000f0");
const CHAIN: u64 = 412_346;
const T0: u64 = 1_767_225_600;
const MODEL: u64 = 7;

fn eth(milli: u64) -> U256 {
    U256::from(milli) * U256::from(1_000_000_000_000_000u64)
}

fn tee_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32].into()).expect("key")
}

fn key_address(key: &SigningKey) -> Address {
    Address::from_public_key(key.verifying_key())
}

/// A fresh VM at `T0` with SettlementNodes deployed, wired to SETTLEMENT, the model usable from `T0 - 1000`.
fn deployed() -> (TestVM, SettlementNodes) {
    mock::reset();
    let vm = TestVM::default();
    vm.set_chain_id(CHAIN);
    vm.set_block_timestamp(T0);
    vm.set_contract_address(THIS);
    let mut nodes = SettlementNodes::from(&vm);
    nodes.constructor(GOV, REGISTRY).expect("constructor");
    vm.set_sender(GOV);
    nodes.set_settlement(SETTLEMENT).expect("wire");
    mock::set_usable(U256::from(MODEL), T0 - 1000, u64::MAX);
    (vm, nodes)
}

fn call<T>(vm: &TestVM, who: Address, value: U256, f: impl FnOnce() -> T) -> T {
    vm.set_sender(who);
    vm.set_value(value);
    let out = f();
    vm.set_value(U256::ZERO);
    out
}

/// NODE registered with `key` and the minimum stake, the key approved by governance at the current time.
fn approved_node(vm: &TestVM, nodes: &mut SettlementNodes, node: Address, key: &SigningKey) {
    call(vm, node, DEFAULT_MIN_STAKE, || {
        nodes.register_node(key_address(key), key_proof(key, node))
    })
    .expect("register");
    call(vm, GOV, U256::ZERO, || {
        nodes.approve_key(key_address(key), keccak256("enclave"))
    })
    .expect("approve");
}

/// `key`'s registration proof for `node` (`r ‖ s ‖ v` of the EIP-712 digest over node, chain and this contract).
fn key_proof(key: &SigningKey, node: Address) -> Bytes {
    let digest = verity_abi::settlement::key_registration_hash(CHAIN, THIS, node);
    let (sig, recid) = key
        .sign_prehash_recoverable(digest.as_slice())
        .expect("sign");
    let mut proof = sig.to_bytes().to_vec();
    proof.push(27 + recid.to_byte());
    proof.into()
}

fn receipt(node: Address, signed_at: u64) -> Receipt {
    Receipt {
        requestId: keccak256("request-1"),
        modelVersion: U256::from(MODEL),
        inputHash: keccak256("input"),
        outputHash: keccak256("output"),
        payer: PAYER,
        node,
        fee: eth(1),
        mode: verity_abi::settlement::mode::TEE,
        signedAt: signed_at,
    }
}

/// `receipt` signed by `key` under the domain of SETTLEMENT on CHAIN, in its flat encoding.
fn sign(key: &SigningKey, receipt: &Receipt) -> SignedReceipt {
    let domain = verity_abi::settlement::domain_separator(CHAIN, SETTLEMENT);
    let digest = signing_hash(domain, receipt);
    let (sig, recid) = key
        .sign_prehash_recoverable(digest.as_slice())
        .expect("sign");
    let bytes = sig.to_bytes();
    SignedReceipt {
        receipt: receipt.clone(),
        v: 27 + recid.to_byte(),
        r: B256::from_slice(&bytes[..32]),
        s: B256::from_slice(&bytes[32..]),
    }
}

fn fault(nodes: &SettlementNodes, signed: &SignedReceipt, at: u64) -> u8 {
    nodes.receipt_fault(encode_signed_receipt(signed).to_vec().into(), at)
}

fn topics(vm: &TestVM) -> Vec<B256> {
    vm.get_emitted_logs()
        .into_iter()
        .map(|(topics, _)| topics[0])
        .collect()
}

#[test]
fn constructor_sets_config_and_rejects_zero_addresses() {
    let (vm, nodes) = deployed();
    assert_eq!(
        nodes.config(),
        (
            GOV,
            REGISTRY,
            SETTLEMENT,
            DEFAULT_MAX_RECEIPT_AGE,
            DEFAULT_UNBOND_DELAY,
            DEFAULT_MIN_STAKE
        )
    );
    assert_eq!(
        topics(&vm),
        vec![
            GovernanceChanged::SIGNATURE_HASH,
            ParamsSet::SIGNATURE_HASH,
            SettlementSet::SIGNATURE_HASH
        ]
    );
    assert_eq!(
        nodes.domain_separator(),
        verity_abi::settlement::domain_separator(CHAIN, SETTLEMENT)
    );
    for (gov, registry) in [(GOV, Address::ZERO), (Address::ZERO, REGISTRY)] {
        let vm = TestVM::default();
        let mut fresh = SettlementNodes::from(&vm);
        assert!(matches!(
            fresh.constructor(gov, registry),
            Err(Error::ZeroAddress(_))
        ));
    }
}

#[test]
fn register_node_escrows_stake_and_checks_everything() {
    let (vm, mut nodes) = deployed();
    let tee = tee_key(1);
    let key = key_address(&tee);
    let proof = key_proof(&tee, NODE);
    let low = DEFAULT_MIN_STAKE - U256::from(1);
    match call(&vm, NODE, low, || nodes.register_node(key, proof.clone())) {
        Err(Error::InsufficientValue(e)) => {
            assert_eq!((e.sent, e.required), (low, DEFAULT_MIN_STAKE))
        }
        other => panic!("expected InsufficientValue, got {other:?}"),
    }
    assert!(matches!(
        call(&vm, NODE, DEFAULT_MIN_STAKE, || nodes
            .register_node(Address::ZERO, proof.clone())),
        Err(Error::ZeroAddress(_))
    ));
    // Another node's key: NODE2 replays NODE's proof, signs with its own key, or sends garbage.
    for (who, bytes) in [
        (NODE2, proof.clone()),
        (NODE2, key_proof(&tee_key(2), NODE2)),
        (NODE, Bytes::from(proof[..64].to_vec())),
        (NODE, Bytes::new()),
    ] {
        assert!(matches!(
            call(&vm, who, DEFAULT_MIN_STAKE, || nodes.register_node(key, bytes.clone())),
            Err(Error::BadKeyProof(e)) if e.signingKey == key
        ));
    }
    // A high-s twin of the valid proof (same signer under plain ecrecover) is refused (EIP-2).
    let mut high = proof.to_vec();
    let n = SECP256K1_HALF_N * U256::from(2) + U256::from(1);
    let s_high = n - U256::from_be_slice(&high[32..64]);
    high[32..64].copy_from_slice(&s_high.to_be_bytes::<32>());
    high[64] ^= 1;
    assert!(matches!(
        call(&vm, NODE, DEFAULT_MIN_STAKE, || nodes
            .register_node(key, high.clone().into())),
        Err(Error::BadKeyProof(_))
    ));
    call(&vm, NODE, DEFAULT_MIN_STAKE, || {
        nodes.register_node(key, proof.clone())
    })
    .expect("register");
    assert_eq!(nodes.node(NODE), (key, DEFAULT_MIN_STAKE, 0));
    assert_eq!(nodes.key(key), (NODE, B256::ZERO, 0, 0));
    assert_eq!(nodes.escrowed(), DEFAULT_MIN_STAKE);
    assert_eq!(*topics(&vm).last().unwrap(), NodeRegistered::SIGNATURE_HASH);
    assert!(matches!(
        call(&vm, NODE, DEFAULT_MIN_STAKE, || nodes.register_node(
            key_address(&tee_key(2)),
            key_proof(&tee_key(2), NODE)
        )),
        Err(Error::AlreadyRegistered(_))
    ));
    assert!(matches!(
        call(&vm, NODE2, DEFAULT_MIN_STAKE, || nodes.register_node(key, key_proof(&tee, NODE2))),
        Err(Error::KeyTaken(e)) if e.signingKey == key
    ));
}

#[test]
fn add_stake_and_unbond_only_for_registered_nodes() {
    let (vm, mut nodes) = deployed();
    assert!(matches!(
        call(&vm, OUTSIDER, eth(1), || nodes.add_stake()),
        Err(Error::UnknownNode(e)) if e.node == OUTSIDER
    ));
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes.request_unbond()),
        Err(Error::UnknownNode(_))
    ));
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes.withdraw_stake()),
        Err(Error::UnknownNode(_))
    ));
    approved_node(&vm, &mut nodes, NODE, &tee_key(1));
    call(&vm, NODE, eth(5), || nodes.add_stake()).expect("add");
    assert_eq!(nodes.node(NODE).1, DEFAULT_MIN_STAKE + eth(5));
    assert_eq!(nodes.escrowed(), DEFAULT_MIN_STAKE + eth(5));
    assert!(nodes.node_active(NODE));
    call(&vm, NODE, U256::ZERO, || nodes.request_unbond()).expect("unbond");
    assert_eq!(nodes.node(NODE).2, T0 + DEFAULT_UNBOND_DELAY);
    assert!(!nodes.node_active(NODE), "unbonding nodes take no requests");
}

#[test]
fn withdraw_stake_waits_for_unbonding_and_open_requests() {
    let (vm, mut nodes) = deployed();
    approved_node(&vm, &mut nodes, NODE, &tee_key(1));
    let locked = |r: Result<(), Error>| match r {
        Err(Error::StakeLocked(e)) => (e.open, e.availableAt),
        other => panic!("expected StakeLocked, got {other:?}"),
    };
    assert_eq!(
        locked(call(&vm, NODE, U256::ZERO, || nodes.withdraw_stake())),
        (0, 0)
    );
    call(&vm, NODE, U256::ZERO, || nodes.request_unbond()).unwrap();
    let available = T0 + DEFAULT_UNBOND_DELAY;
    vm.set_block_timestamp(available - 1);
    assert_eq!(
        locked(call(&vm, NODE, U256::ZERO, || nodes.withdraw_stake())),
        (0, available)
    );
    vm.set_block_timestamp(available);
    mock::set_open_requests(NODE, Some(2));
    assert_eq!(
        locked(call(&vm, NODE, U256::ZERO, || nodes.withdraw_stake())),
        (2, available)
    );
    mock::set_open_requests(NODE, None);
    assert_eq!(
        locked(call(&vm, NODE, U256::ZERO, || nodes.withdraw_stake())),
        (u64::MAX, available),
        "a failing openRequests call locks the stake"
    );
    mock::set_open_requests(NODE, Some(0));
    call(&vm, NODE, U256::ZERO, || nodes.withdraw_stake()).expect("withdraw stake");
    assert_eq!(nodes.node(NODE).1, U256::ZERO);
    assert_eq!(nodes.credit(NODE), DEFAULT_MIN_STAKE);
    assert_eq!(nodes.escrowed(), DEFAULT_MIN_STAKE);
    let amount = call(&vm, NODE, U256::ZERO, || nodes.withdraw()).expect("withdraw");
    assert_eq!(amount, DEFAULT_MIN_STAKE);
    assert_eq!(mock::sent(), vec![(NODE, DEFAULT_MIN_STAKE)]);
    assert_eq!(nodes.escrowed(), U256::ZERO);
    assert_eq!(nodes.credit(NODE), U256::ZERO);
}

#[test]
fn withdraw_errors_nothing_and_failed_transfer() {
    let (vm, mut nodes) = deployed();
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes.withdraw()),
        Err(Error::NothingToWithdraw(e)) if e.account == OUTSIDER
    ));
    approved_node(&vm, &mut nodes, NODE, &tee_key(1));
    call(&vm, SETTLEMENT, U256::ZERO, || {
        nodes.slash(NODE, eth(10), PAYER)
    })
    .unwrap();
    mock::fail_transfers_to(PAYER);
    assert!(matches!(
        call(&vm, PAYER, U256::ZERO, || nodes.withdraw()),
        Err(Error::TransferFailed(e)) if e.to == PAYER
    ));
}

#[test]
fn slash_only_from_settlement_and_capped_by_stake() {
    let (vm, mut nodes) = deployed();
    approved_node(&vm, &mut nodes, NODE, &tee_key(1));
    for who in [OUTSIDER, GOV, NODE] {
        assert!(matches!(
            call(&vm, who, U256::ZERO, || nodes.slash(NODE, eth(1), who)),
            Err(Error::UnauthorizedCaller(e)) if e.account == who
        ));
    }
    let taken = call(&vm, SETTLEMENT, U256::ZERO, || {
        nodes.slash(NODE, eth(30), PAYER)
    })
    .unwrap();
    assert_eq!(taken, eth(30));
    assert_eq!(nodes.node(NODE).1, DEFAULT_MIN_STAKE - eth(30));
    assert_eq!(nodes.credit(PAYER), eth(30));
    let taken = call(&vm, SETTLEMENT, U256::ZERO, || {
        nodes.slash(NODE, eth(1000), PAYER)
    })
    .unwrap();
    assert_eq!(taken, DEFAULT_MIN_STAKE - eth(30), "capped by the stake");
    assert_eq!(nodes.node(NODE).1, U256::ZERO);
    assert!(!nodes.node_active(NODE), "below the minimum stake");
    let before = vm.get_emitted_logs().len();
    let taken = call(&vm, SETTLEMENT, U256::ZERO, || {
        nodes.slash(OUTSIDER, eth(1), PAYER)
    })
    .unwrap();
    assert_eq!(taken, U256::ZERO);
    assert_eq!(
        vm.get_emitted_logs().len(),
        before,
        "nothing taken, no event"
    );
    // Slashes move escrow to credits: escrow stays the stake total.
    assert_eq!(nodes.escrowed(), DEFAULT_MIN_STAKE);
}

#[test]
fn slash_before_wiring_is_refused_even_from_zero() {
    mock::reset();
    let vm = TestVM::default();
    let mut nodes = SettlementNodes::from(&vm);
    nodes.constructor(GOV, REGISTRY).unwrap();
    assert!(matches!(
        call(&vm, Address::ZERO, U256::ZERO, || nodes.slash(
            NODE,
            eth(1),
            PAYER
        )),
        Err(Error::UnauthorizedCaller(_))
    ));
}

#[test]
fn keys_are_approved_once_and_revoked_once_by_governance() {
    let (vm, mut nodes) = deployed();
    let key = key_address(&tee_key(1));
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes.approve_key(key, B256::ZERO)),
        Err(Error::UnknownKey(_))
    ));
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes.revoke_key(key)),
        Err(Error::UnknownKey(_))
    ));
    call(&vm, NODE, DEFAULT_MIN_STAKE, || {
        nodes.register_node(key, key_proof(&tee_key(1), NODE))
    })
    .unwrap();
    assert!(!nodes.node_active(NODE), "not approved yet");
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes.approve_key(key, B256::ZERO)),
        Err(Error::Unauthorized(e)) if e.account == OUTSIDER
    ));
    call(&vm, GOV, U256::ZERO, || {
        nodes.approve_key(key, keccak256("m"))
    })
    .unwrap();
    assert_eq!(nodes.key(key), (NODE, keccak256("m"), T0, 0));
    assert_eq!(*topics(&vm).last().unwrap(), KeyApproved::SIGNATURE_HASH);
    assert!(nodes.node_active(NODE));
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes.approve_key(key, B256::ZERO)),
        Err(Error::AlreadyApproved(_))
    ));
    vm.set_block_timestamp(T0 + 50);
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes.revoke_key(key)),
        Err(Error::Unauthorized(_))
    ));
    call(&vm, GOV, U256::ZERO, || nodes.revoke_key(key)).unwrap();
    assert_eq!(nodes.key(key), (NODE, keccak256("m"), T0, T0 + 50));
    assert_eq!(*topics(&vm).last().unwrap(), KeyRevoked::SIGNATURE_HASH);
    assert!(!nodes.node_active(NODE));
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes.revoke_key(key)),
        Err(Error::AlreadyRevoked(_))
    ));
    assert!(
        matches!(
            call(&vm, GOV, U256::ZERO, || nodes.approve_key(key, B256::ZERO)),
            Err(Error::AlreadyApproved(_))
        ),
        "a revoked key is never re-approved"
    );
}

#[test]
fn revoked_unapproved_key_cannot_be_approved() {
    let (vm, mut nodes) = deployed();
    let key = key_address(&tee_key(1));
    call(&vm, NODE, DEFAULT_MIN_STAKE, || {
        nodes.register_node(key, key_proof(&tee_key(1), NODE))
    })
    .unwrap();
    call(&vm, GOV, U256::ZERO, || nodes.revoke_key(key)).unwrap();
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes.approve_key(key, B256::ZERO)),
        Err(Error::AlreadyApproved(_))
    ));
}

#[test]
fn set_params_gated_and_bounded() {
    let (vm, mut nodes) = deployed();
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes.set_params(
            1,
            1,
            U256::ZERO
        )),
        Err(Error::Unauthorized(_))
    ));
    for (args, which) in [
        ((0, 1), 0),
        ((MAX_DURATION + 1, 1), 0),
        ((1, 0), 1),
        ((1, MAX_DURATION + 1), 1),
    ] {
        assert!(matches!(
            call(&vm, GOV, U256::ZERO, || nodes.set_params(args.0, args.1, U256::ZERO)),
            Err(Error::InvalidParam(e)) if e.which == which
        ));
    }
    call(&vm, GOV, U256::ZERO, || {
        nodes.set_params(60, MAX_DURATION, eth(2))
    })
    .unwrap();
    let c = nodes.config();
    assert_eq!((c.3, c.4, c.5), (60, MAX_DURATION, eth(2)));
}

#[test]
fn set_settlement_once_by_governance() {
    mock::reset();
    let vm = TestVM::default();
    let mut nodes = SettlementNodes::from(&vm);
    nodes.constructor(GOV, REGISTRY).unwrap();
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes
            .set_settlement(SETTLEMENT)),
        Err(Error::Unauthorized(_))
    ));
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes.set_settlement(Address::ZERO)),
        Err(Error::ZeroAddress(_))
    ));
    call(&vm, GOV, U256::ZERO, || nodes.set_settlement(SETTLEMENT)).unwrap();
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes.set_settlement(OUTSIDER)),
        Err(Error::AlreadyWired(e)) if e.current == SETTLEMENT
    ));
    assert_eq!(nodes.config().2, SETTLEMENT);
}

#[test]
fn transfer_governance_gated() {
    let (vm, mut nodes) = deployed();
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes
            .transfer_governance(OUTSIDER)),
        Err(Error::Unauthorized(_))
    ));
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes
            .transfer_governance(Address::ZERO)),
        Err(Error::ZeroAddress(_))
    ));
    call(&vm, GOV, U256::ZERO, || nodes.transfer_governance(NODE2)).unwrap();
    assert_eq!(nodes.config().0, NODE2);
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes.set_params(1, 1, U256::ZERO)),
        Err(Error::Unauthorized(_))
    ));
}

#[test]
fn receipt_fault_accepts_a_valid_receipt_and_names_each_fault() {
    let (vm, mut nodes) = deployed();
    let key = tee_key(1);
    approved_node(&vm, &mut nodes, NODE, &key);
    vm.set_block_timestamp(T0 + 100);
    let good = sign(&key, &receipt(NODE, T0 + 10));
    assert_eq!(fault(&nodes, &good, T0 + 100), 0);

    // Signature faults.
    let mut bad = good.clone();
    bad.receipt.outputHash = keccak256("other output");
    assert_eq!(
        fault(&nodes, &bad, T0 + 100),
        void_reason::BAD_SIGNATURE,
        "a changed field recovers another (unknown) signer"
    );
    let mut bad = good.clone();
    bad.v = 29;
    assert_eq!(fault(&nodes, &bad, T0 + 100), void_reason::BAD_SIGNATURE);
    let mut bad = good.clone();
    // The high-s twin of a valid signature is refused (EIP-2).
    let n = SECP256K1_HALF_N * U256::from(2) + U256::from(1);
    bad.s = B256::from(n - U256::from_be_bytes(good.s.0));
    bad.v = if good.v == 27 { 28 } else { 27 };
    assert_eq!(fault(&nodes, &bad, T0 + 100), void_reason::BAD_SIGNATURE);
    let mut bad = good.clone();
    bad.r = B256::ZERO;
    assert_eq!(fault(&nodes, &bad, T0 + 100), void_reason::BAD_SIGNATURE);
    let stranger = sign(&tee_key(9), &receipt(NODE, T0 + 10));
    assert_eq!(
        fault(&nodes, &stranger, T0 + 100),
        void_reason::BAD_SIGNATURE
    );

    // Field faults: another node named, unknown mode, bytes that are not a receipt.
    let other_node = sign(&key, &receipt(NODE2, T0 + 10));
    assert_eq!(
        fault(&nodes, &other_node, T0 + 100),
        void_reason::BAD_FIELDS
    );
    let mut r = receipt(NODE, T0 + 10);
    r.mode = 2;
    assert_eq!(
        fault(&nodes, &sign(&key, &r), T0 + 100),
        void_reason::BAD_FIELDS
    );
    assert_eq!(
        nodes.receipt_fault(vec![0u8; 100].into(), T0 + 100),
        void_reason::BAD_FIELDS
    );

    // Time faults: in the future of the reference time, or older than the maximum age then.
    assert_eq!(fault(&nodes, &good, T0 + 9), void_reason::BAD_TIME);
    assert_eq!(
        fault(&nodes, &good, T0 + 10 + DEFAULT_MAX_RECEIPT_AGE),
        0,
        "exactly the maximum age is still valid"
    );
    assert_eq!(
        fault(&nodes, &good, T0 + 11 + DEFAULT_MAX_RECEIPT_AGE),
        void_reason::BAD_TIME
    );

    // Model not usable at signedAt.
    mock::set_usable(U256::from(MODEL), T0 + 11, u64::MAX);
    assert_eq!(
        fault(&nodes, &good, T0 + 100),
        void_reason::MODEL_NOT_USABLE
    );
}

#[test]
fn receipt_fault_follows_key_approval_and_revocation_times() {
    let (vm, mut nodes) = deployed();
    let key = tee_key(1);
    call(&vm, NODE, DEFAULT_MIN_STAKE, || {
        nodes.register_node(key_address(&key), key_proof(&key, NODE))
    })
    .unwrap();
    let before_approval = sign(&key, &receipt(NODE, T0));
    assert_eq!(
        fault(&nodes, &before_approval, T0),
        void_reason::KEY_NOT_APPROVED
    );
    vm.set_block_timestamp(T0 + 10);
    call(&vm, GOV, U256::ZERO, || {
        nodes.approve_key(key_address(&key), B256::ZERO)
    })
    .unwrap();
    assert_eq!(
        fault(&nodes, &before_approval, T0 + 10),
        void_reason::KEY_NOT_APPROVED,
        "signed before the approval"
    );
    let during = sign(&key, &receipt(NODE, T0 + 10));
    assert_eq!(fault(&nodes, &during, T0 + 20), 0);
    vm.set_block_timestamp(T0 + 30);
    call(&vm, GOV, U256::ZERO, || nodes.revoke_key(key_address(&key))).unwrap();
    assert_eq!(
        fault(&nodes, &during, T0 + 29),
        0,
        "receipts judged (anchored) before the revocation stay valid"
    );
    assert_eq!(
        fault(&nodes, &during, T0 + 40),
        void_reason::KEY_NOT_APPROVED,
        "judged after the revocation, a receipt dated before it is refused (a leaked key backdates)"
    );
    let after = sign(&key, &receipt(NODE, T0 + 30));
    assert_eq!(
        fault(&nodes, &after, T0 + 40),
        void_reason::KEY_NOT_APPROVED
    );
}

#[test]
fn node_active_needs_key_stake_and_no_unbonding() {
    let (vm, mut nodes) = deployed();
    assert!(!nodes.node_active(OUTSIDER));
    approved_node(&vm, &mut nodes, NODE, &tee_key(1));
    assert!(nodes.node_active(NODE));
    call(&vm, GOV, U256::ZERO, || {
        nodes.set_params(DEFAULT_MAX_RECEIPT_AGE, DEFAULT_UNBOND_DELAY, eth(500))
    })
    .unwrap();
    assert!(!nodes.node_active(NODE), "stake below a raised minimum");
    call(&vm, NODE, eth(400), || nodes.add_stake()).unwrap();
    assert!(nodes.node_active(NODE));
}

#[test]
fn max_receipt_age_is_judged_as_it_stood_at_the_reference_time() {
    let (vm, mut nodes) = deployed();
    let key = tee_key(1);
    approved_node(&vm, &mut nodes, NODE, &key);
    let signed = sign(&key, &receipt(NODE, T0));
    let anchored_at = T0 + 7_200;
    assert_eq!(fault(&nodes, &signed, anchored_at), 0);
    // Governance lowers the age to one hour later on: the earlier reference time keeps the one-day age.
    vm.set_block_timestamp(T0 + 10_000);
    call(&vm, GOV, U256::ZERO, || {
        nodes.set_params(3_600, DEFAULT_UNBOND_DELAY, DEFAULT_MIN_STAKE)
    })
    .unwrap();
    assert_eq!(nodes.config().3, 3_600);
    assert_eq!(fault(&nodes, &signed, anchored_at), 0, "not retroactive");
    assert_eq!(
        fault(&nodes, &signed, T0 + 10_000),
        0,
        "not even within the changing block's second"
    );
    assert_eq!(
        fault(&nodes, &signed, T0 + 10_001),
        void_reason::BAD_TIME,
        "the new age from the next second on"
    );
    // Raised again: each reference time finds its own entry.
    vm.set_block_timestamp(T0 + 20_000);
    call(&vm, GOV, U256::ZERO, || {
        nodes.set_params(30_000, DEFAULT_UNBOND_DELAY, DEFAULT_MIN_STAKE)
    })
    .unwrap();
    assert_eq!(fault(&nodes, &signed, T0 + 15_000), void_reason::BAD_TIME);
    assert_eq!(fault(&nodes, &signed, T0 + 20_001), 0);
    assert_eq!(fault(&nodes, &signed, anchored_at), 0);
    assert_eq!(
        fault(&nodes, &signed, T0),
        0,
        "before deployment: the first entry"
    );
}

#[test]
fn pause_blocks_registration_staking_and_approval_not_exits() {
    let (vm, mut nodes) = deployed();
    approved_node(&vm, &mut nodes, NODE, &tee_key(1));
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || nodes.set_paused(true)),
        Err(Error::Unauthorized(e)) if e.account == OUTSIDER
    ));
    call(&vm, GOV, U256::ZERO, || nodes.set_paused(true)).unwrap();
    assert!(nodes.paused());
    assert_eq!(*topics(&vm).last().unwrap(), PausedSet::SIGNATURE_HASH);
    let tee2 = tee_key(2);
    assert!(matches!(
        call(&vm, NODE2, DEFAULT_MIN_STAKE, || nodes
            .register_node(key_address(&tee2), key_proof(&tee2, NODE2))),
        Err(Error::Paused(_))
    ));
    assert!(matches!(
        call(&vm, NODE, eth(1), || nodes.add_stake()),
        Err(Error::Paused(_))
    ));
    // Exits, revocation and the judge go on.
    call(&vm, NODE, U256::ZERO, || nodes.request_unbond()).unwrap();
    vm.set_block_timestamp(T0 + DEFAULT_UNBOND_DELAY);
    call(&vm, NODE, U256::ZERO, || nodes.withdraw_stake()).unwrap();
    call(&vm, NODE, U256::ZERO, || nodes.withdraw()).unwrap();
    assert_eq!(nodes.escrowed(), U256::ZERO);
    call(&vm, GOV, U256::ZERO, || {
        nodes.revoke_key(key_address(&tee_key(1)))
    })
    .unwrap();
    call(&vm, GOV, U256::ZERO, || nodes.set_paused(false)).unwrap();
    assert!(!nodes.paused());
    call(&vm, NODE2, DEFAULT_MIN_STAKE, || {
        nodes.register_node(key_address(&tee2), key_proof(&tee2, NODE2))
    })
    .unwrap();
    call(&vm, GOV, U256::ZERO, || nodes.set_paused(true)).unwrap();
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || nodes
            .approve_key(key_address(&tee2), B256::ZERO)),
        Err(Error::Paused(_))
    ));
}
