//! Native unit tests on stylus-test's TestVM: every transition and error of InferenceSettlement and an outsider
//! test for every gated function. SettlementNodes, ReceiptBatches, the registry, verifiers and transfers are the
//! per-thread mocks of [`crate::external::mock`]; receipts are built in their flat encoding (the signature itself
//! is SettlementNodes' business and is tested there and end to end).

use super::external::mock;
use super::*;
use alloy_primitives::{address, keccak256};
use alloy_sol_types::SolEvent;
use stylus_sdk::testing::TestVM;
use verity_abi::settlement::{encode_signed_receipt, void_reason, StandardMerkleTree};

const GOV: Address = address!("00000000000000000000000000000000000000a1");
const REGISTRY: Address = address!("00000000000000000000000000000000000000a2");
const NODES: Address = address!("00000000000000000000000000000000000000a3");
const BATCHES: Address = address!("00000000000000000000000000000000000000a4");
const VERIFIER: Address = address!("00000000000000000000000000000000000000a5");
const NODE: Address = address!("00000000000000000000000000000000000000b1");
const PAYER: Address = address!("00000000000000000000000000000000000000c1");
const OUTSIDER: Address = address!("00000000000000000000000000000000000000e5");
const T0: u64 = 1_767_225_600;
const MODEL: u64 = 7;

fn fee() -> U256 {
    U256::from(1_000_000_000_000_000u64)
}

fn id(n: u8) -> B256 {
    keccak256([n])
}

fn deployed() -> (TestVM, InferenceSettlement) {
    mock::reset();
    let vm = TestVM::default();
    vm.set_block_timestamp(T0);
    let mut s = InferenceSettlement::from(&vm);
    s.constructor(GOV, REGISTRY, NODES, BATCHES)
        .expect("constructor");
    mock::with(|m| {
        m.active.insert(NODE);
        m.models.insert(U256::from(MODEL), (T0 - 10, u64::MAX));
        m.stakes.insert(NODE, U256::from(10) * fee());
        m.batch_window = Some(DEFAULT_CHALLENGE_WINDOW);
    });
    (vm, s)
}

fn call<T>(vm: &TestVM, who: Address, value: U256, f: impl FnOnce() -> T) -> T {
    vm.set_sender(who);
    vm.set_value(value);
    let out = f();
    vm.set_value(U256::ZERO);
    out
}

fn open(vm: &TestVM, s: &mut InferenceSettlement, n: u8, receipt_mode: u8) -> Result<(), Error> {
    call(vm, PAYER, fee(), || {
        s.request(
            id(n),
            NODE,
            U256::from(MODEL),
            keccak256("input"),
            receipt_mode,
        )
    })
}

fn receipt(n: u8, receipt_mode: u8) -> Receipt {
    Receipt {
        requestId: id(n),
        modelVersion: U256::from(MODEL),
        inputHash: keccak256("input"),
        outputHash: keccak256("output"),
        payer: PAYER,
        node: NODE,
        fee: fee(),
        mode: receipt_mode,
        signedAt: T0,
    }
}

fn flat(r: &Receipt) -> Bytes {
    encode_signed_receipt(&SignedReceipt {
        receipt: r.clone(),
        v: 27,
        r: B256::with_last_byte(1),
        s: B256::with_last_byte(2),
    })
    .to_vec()
    .into()
}

fn prove(vm: &TestVM, s: &mut InferenceSettlement, r: &Receipt, zk: &[u8]) -> Result<(), Error> {
    call(vm, OUTSIDER, U256::ZERO, || {
        s.prove_with_receipt(flat(r), zk.to_vec().into())
    })
}

fn status(s: &InferenceSettlement, n: u8) -> u8 {
    s.get_request(id(n)).6
}

fn last_topic(vm: &TestVM) -> B256 {
    vm.get_emitted_logs().last().unwrap().0[0]
}

/// Escrow equals the fees of open requests plus dispute bonds of disputed ones plus unpaid credits.
fn assert_escrow(s: &InferenceSettlement, ids: &[u8], accounts: &[Address]) {
    let open: U256 = ids
        .iter()
        .map(|n| s.get_request(id(*n)))
        .filter(|r| {
            matches!(
                r.6,
                request_status::REQUESTED
                    | request_status::ANSWERED
                    | request_status::PROVEN
                    | request_status::DISPUTED
            )
        })
        .map(|r| {
            if r.6 == request_status::DISPUTED {
                r.3 + r.10
            } else {
                r.3
            }
        })
        .sum();
    let credits: U256 = accounts.iter().map(|a| s.credit(*a)).sum();
    assert_eq!(s.config().10, open + credits);
}

#[test]
fn constructor_sets_config_and_rejects_zero_addresses() {
    let (vm, s) = deployed();
    assert_eq!(
        s.config(),
        (
            GOV,
            REGISTRY,
            NODES,
            BATCHES,
            false,
            DEFAULT_CHALLENGE_WINDOW,
            DEFAULT_ANSWER_DEADLINE,
            DEFAULT_SLASH_AMOUNT,
            DEFAULT_DISPUTE_BOND,
            DEFAULT_DISPUTE_TIMEOUT,
            U256::ZERO
        )
    );
    assert_eq!(last_topic(&vm), ParamsSet::SIGNATURE_HASH);
    for args in [
        (Address::ZERO, REGISTRY, NODES, BATCHES),
        (GOV, Address::ZERO, NODES, BATCHES),
        (GOV, REGISTRY, Address::ZERO, BATCHES),
        (GOV, REGISTRY, NODES, Address::ZERO),
    ] {
        let vm = TestVM::default();
        let mut s = InferenceSettlement::from(&vm);
        assert!(matches!(
            s.constructor(args.0, args.1, args.2, args.3),
            Err(Error::ZeroAddress(_))
        ));
    }
}

#[test]
fn request_escrows_the_fee_and_checks_everything() {
    let (vm, mut s) = deployed();
    assert!(matches!(
        call(&vm, PAYER, U256::ZERO, || s.request(
            id(1),
            NODE,
            U256::from(MODEL),
            B256::ZERO,
            0
        )),
        Err(Error::InsufficientValue(_))
    ));
    assert!(matches!(open(&vm, &mut s, 1, 2), Err(Error::InvalidParam(e)) if e.which == 7));
    assert!(matches!(
        call(&vm, PAYER, fee(), || s.request(id(1), OUTSIDER, U256::from(MODEL), B256::ZERO, 0)),
        Err(Error::NodeInactive(e)) if e.node == OUTSIDER
    ));
    assert!(matches!(
        call(&vm, PAYER, fee(), || s.request(id(1), NODE, U256::from(8), B256::ZERO, 0)),
        Err(Error::ModelNotUsable(e)) if e.modelVersion == U256::from(8)
    ));
    open(&vm, &mut s, 1, mode::TEE).expect("request");
    assert_eq!(
        s.get_request(id(1)),
        (
            PAYER,
            NODE,
            U256::from(MODEL),
            fee(),
            keccak256("input"),
            B256::ZERO,
            request_status::REQUESTED,
            mode::TEE,
            T0 + DEFAULT_ANSWER_DEADLINE,
            0,
            U256::ZERO
        )
    );
    assert_eq!(s.open_requests(NODE), 1);
    assert_eq!(s.config().10, fee());
    assert_eq!(last_topic(&vm), Requested::SIGNATURE_HASH);
    assert!(matches!(
        open(&vm, &mut s, 1, mode::TEE),
        Err(Error::RequestExists(e)) if e.requestId == id(1)
    ));
    call(&vm, GOV, U256::ZERO, || s.set_paused(true)).unwrap();
    assert!(matches!(open(&vm, &mut s, 2, 0), Err(Error::Paused(_))));
}

#[test]
fn answer_only_by_the_node_before_the_deadline() {
    let (vm, mut s) = deployed();
    assert!(matches!(
        call(&vm, NODE, U256::ZERO, || s.answer(id(1), B256::ZERO)),
        Err(Error::UnknownRequest(_))
    ));
    open(&vm, &mut s, 1, 0).unwrap();
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || s.answer(id(1), B256::ZERO)),
        Err(Error::UnauthorizedNode(e)) if e.account == OUTSIDER
    ));
    vm.set_block_timestamp(T0 + DEFAULT_ANSWER_DEADLINE + 1);
    assert!(matches!(
        call(&vm, NODE, U256::ZERO, || s.answer(id(1), B256::ZERO)),
        Err(Error::TooLate(_))
    ));
    vm.set_block_timestamp(T0 + DEFAULT_ANSWER_DEADLINE);
    call(&vm, NODE, U256::ZERO, || {
        s.answer(id(1), keccak256("output"))
    })
    .expect("answer");
    assert_eq!(status(&s, 1), request_status::ANSWERED);
    assert_eq!(s.get_request(id(1)).5, keccak256("output"));
    assert_eq!(last_topic(&vm), Answered::SIGNATURE_HASH);
    assert!(matches!(
        call(&vm, NODE, U256::ZERO, || s.answer(id(1), B256::ZERO)),
        Err(Error::BadRequestStatus(e)) if e.status == request_status::ANSWERED
    ));
    call(&vm, GOV, U256::ZERO, || s.set_paused(true)).unwrap();
    assert!(matches!(
        call(&vm, NODE, U256::ZERO, || s.answer(id(1), B256::ZERO)),
        Err(Error::Paused(_))
    ));
}

#[test]
fn prove_with_receipt_then_settle_after_the_window() {
    let (vm, mut s) = deployed();
    open(&vm, &mut s, 1, mode::TEE).unwrap();
    call(&vm, NODE, U256::ZERO, || {
        s.answer(id(1), keccak256("output"))
    })
    .unwrap();
    vm.set_block_timestamp(T0 + 100);
    prove(&vm, &mut s, &receipt(1, mode::TEE), &[]).expect("prove");
    assert_eq!(
        mock::with(|m| m.fault_queries.last().copied()),
        Some((encoded_leaf_hash(&flat(&receipt(1, 0))), T0 + 100)),
        "judged now"
    );
    assert_eq!(status(&s, 1), request_status::PROVEN);
    assert_eq!(s.get_request(id(1)).9, T0 + 100);
    assert_eq!(last_topic(&vm), Proven::SIGNATURE_HASH);
    assert!(matches!(
        prove(&vm, &mut s, &receipt(1, mode::TEE), &[]),
        Err(Error::BadRequestStatus(e)) if e.status == request_status::PROVEN
    ));
    vm.set_block_timestamp(T0 + 100 + DEFAULT_CHALLENGE_WINDOW - 1);
    assert!(matches!(
        s.settle(id(1)),
        Err(Error::TooEarly(e)) if e.until == T0 + 100 + DEFAULT_CHALLENGE_WINDOW
    ));
    vm.set_block_timestamp(T0 + 100 + DEFAULT_CHALLENGE_WINDOW);
    call(&vm, OUTSIDER, U256::ZERO, || s.settle(id(1))).expect("settle");
    assert_eq!(status(&s, 1), request_status::SETTLED);
    assert_eq!(s.credit(NODE), fee());
    assert_eq!(s.open_requests(NODE), 0);
    assert_escrow(&s, &[1], &[NODE, PAYER]);
    assert!(matches!(s.settle(id(1)), Err(Error::AlreadySettled(_))));
    assert!(matches!(
        prove(&vm, &mut s, &receipt(1, mode::TEE), &[]),
        Err(Error::AlreadySettled(_))
    ));
    assert!(matches!(s.refund(id(1)), Err(Error::AlreadySettled(_))));
    assert_eq!(call(&vm, NODE, U256::ZERO, || s.withdraw()).unwrap(), fee());
    assert_eq!(mock::with(|m| m.sent.clone()), vec![(NODE, fee())]);
    assert_eq!(s.config().10, U256::ZERO);
}

#[test]
fn prove_with_receipt_rejects_mismatch_invalid_late_and_malformed() {
    let (vm, mut s) = deployed();
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || s.prove_with_receipt(vec![1u8; 10].into(), Bytes::new())),
        Err(Error::InvalidReceipt(e)) if e.reason == void_reason::BAD_FIELDS
    ));
    assert!(matches!(
        prove(&vm, &mut s, &receipt(1, 0), &[]),
        Err(Error::UnknownRequest(_))
    ));
    open(&vm, &mut s, 1, mode::TEE).unwrap();
    type Change = fn(&mut Receipt);
    let changes: [(u8, Change); 6] = [
        (1, |r| r.modelVersion = U256::from(8)),
        (2, |r| r.inputHash = B256::ZERO),
        (4, |r| r.payer = OUTSIDER),
        (5, |r| r.node = OUTSIDER),
        (6, |r| r.fee = U256::from(1)),
        (7, |r| r.mode = mode::ZK),
    ];
    for (field, change) in changes {
        let mut r = receipt(1, 0);
        change(&mut r);
        assert!(
            matches!(prove(&vm, &mut s, &r, &[]), Err(Error::ReceiptMismatch(e)) if e.field == field),
            "field {field}"
        );
    }
    call(&vm, NODE, U256::ZERO, || {
        s.answer(id(1), keccak256("posted"))
    })
    .unwrap();
    assert!(
        matches!(prove(&vm, &mut s, &receipt(1, 0), &[]), Err(Error::ReceiptMismatch(e)) if e.field == 3),
        "once answered, the receipt must carry the posted output"
    );
    let mut r = receipt(1, 0);
    r.outputHash = keccak256("posted");
    mock::with(|m| {
        m.faults
            .insert(encoded_leaf_hash(&flat(&r)), void_reason::KEY_NOT_APPROVED)
    });
    assert!(matches!(
        prove(&vm, &mut s, &r, &[]),
        Err(Error::InvalidReceipt(e)) if e.reason == void_reason::KEY_NOT_APPROVED
    ));
    mock::with(|m| m.faults.clear());
    vm.set_block_timestamp(T0 + DEFAULT_ANSWER_DEADLINE + 1);
    assert!(matches!(
        prove(&vm, &mut s, &r, &[]),
        Err(Error::TooLate(_))
    ));
    vm.set_block_timestamp(T0 + DEFAULT_ANSWER_DEADLINE);
    call(&vm, GOV, U256::ZERO, || s.set_paused(true)).unwrap();
    assert!(matches!(prove(&vm, &mut s, &r, &[]), Err(Error::Paused(_))));
    call(&vm, GOV, U256::ZERO, || s.set_paused(false)).unwrap();
    prove(&vm, &mut s, &r, &[]).expect("at the deadline");
}

#[test]
fn zk_receipts_need_the_registered_verifier() {
    let (vm, mut s) = deployed();
    open(&vm, &mut s, 1, mode::ZK).unwrap();
    assert!(matches!(
        prove(&vm, &mut s, &receipt(1, mode::ZK), b"proof"),
        Err(Error::ProofRejected(e)) if e.modelVersion == U256::from(MODEL)
    ));
    call(&vm, GOV, U256::ZERO, || {
        s.set_verifier(U256::from(MODEL), VERIFIER)
    })
    .unwrap();
    assert_eq!(s.verifier(U256::from(MODEL)), VERIFIER);
    assert_eq!(last_topic(&vm), VerifierSet::SIGNATURE_HASH);
    mock::with(|m| m.verifiers.insert(VERIFIER, b"proof".to_vec()));
    assert!(matches!(
        prove(&vm, &mut s, &receipt(1, mode::ZK), b"forged"),
        Err(Error::ProofRejected(_))
    ));
    prove(&vm, &mut s, &receipt(1, mode::ZK), b"proof").expect("verified");
    assert_eq!(status(&s, 1), request_status::PROVEN);
}

#[test]
fn prove_by_batch_needs_a_final_batch_before_the_deadline() {
    let (vm, mut s) = deployed();
    open(&vm, &mut s, 1, mode::TEE).unwrap();
    open(&vm, &mut s, 2, mode::ZK).unwrap();
    let (r1, r2) = (receipt(1, mode::TEE), receipt(2, mode::ZK));
    let leaves = [flat(&r1), flat(&r2), flat(&receipt(3, 0))];
    let hashes: Vec<B256> = leaves.iter().map(|l| encoded_leaf_hash(l)).collect();
    let tree = StandardMerkleTree::new(&hashes).unwrap();
    let proof = |i: usize| tree.proof(hashes[i]).unwrap();
    let by_batch = |s: &mut InferenceSettlement, b: u64, i: usize, p: Vec<B256>| {
        call(&vm, OUTSIDER, U256::ZERO, || {
            s.prove_by_batch(U256::from(b), leaves[i].clone(), p)
        })
    };
    assert!(matches!(
        by_batch(&mut s, 1, 0, proof(0)),
        Err(Error::UnknownBatch(_))
    ));
    let anchored_at = T0 + 50;
    mock::with(|m| {
        m.batches.insert(
            U256::from(1),
            (tree.root(), anchored_at, batch_status::ANCHORED),
        )
    });
    assert!(matches!(
        by_batch(&mut s, 1, 0, proof(0)),
        Err(Error::BatchNotFinal(_))
    ));
    mock::with(|m| {
        m.batches.insert(
            U256::from(1),
            (tree.root(), anchored_at, batch_status::VOIDED),
        )
    });
    assert!(
        matches!(
            by_batch(&mut s, 1, 0, proof(0)),
            Err(Error::BatchNotFinal(_))
        ),
        "a voided batch pays nothing"
    );
    mock::with(|m| {
        m.batches.insert(
            U256::from(1),
            (tree.root(), anchored_at, batch_status::FINAL),
        )
    });
    assert!(matches!(
        by_batch(&mut s, 1, 0, proof(1)),
        Err(Error::BadProof(_))
    ));
    assert!(matches!(
        by_batch(&mut s, 1, 2, proof(2)),
        Err(Error::UnknownRequest(_))
    ));
    assert!(
        matches!(
            by_batch(&mut s, 1, 1, proof(1)),
            Err(Error::ProofRejected(_))
        ),
        "mode ZK is not proven by a batch"
    );
    mock::with(|m| m.faults.insert(hashes[0], void_reason::BAD_TIME));
    assert!(matches!(
        by_batch(&mut s, 1, 0, proof(0)),
        Err(Error::InvalidReceipt(e)) if e.reason == void_reason::BAD_TIME
    ));
    mock::with(|m| m.faults.clear());
    vm.set_block_timestamp(T0 + 10 * DEFAULT_ANSWER_DEADLINE);
    by_batch(&mut s, 1, 0, proof(0)).expect("proven by a final batch, after the deadline");
    assert_eq!(
        mock::with(|m| m.fault_queries.last().copied()),
        Some((hashes[0], anchored_at)),
        "re-judged at the anchoring time"
    );
    assert_eq!(s.get_request(id(1)).9, anchored_at);
    // A batch anchored after the request's deadline proves nothing.
    open(&vm, &mut s, 4, mode::TEE).unwrap();
    let late = flat(&receipt(4, 0));
    let late_hash = encoded_leaf_hash(&late);
    let deadline = s.get_request(id(4)).8;
    mock::with(|m| {
        m.batches.insert(
            U256::from(2),
            (late_hash, deadline + 1, batch_status::FINAL),
        )
    });
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || s.prove_by_batch(U256::from(2), late.clone(), vec![])),
        Err(Error::TooLate(e)) if e.deadline == deadline
    ));
    call(&vm, GOV, U256::ZERO, || s.set_paused(true)).unwrap();
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || s.prove_by_batch(
            U256::from(2),
            late.clone(),
            vec![]
        )),
        Err(Error::Paused(_))
    ));
}

#[test]
fn refund_after_the_deadline_slashes_only_an_answering_node() {
    let (vm, mut s) = deployed();
    assert!(matches!(s.refund(id(1)), Err(Error::UnknownRequest(_))));
    open(&vm, &mut s, 1, 0).unwrap();
    open(&vm, &mut s, 2, 0).unwrap();
    call(&vm, NODE, U256::ZERO, || {
        s.answer(id(2), keccak256("output"))
    })
    .unwrap();
    let deadline = T0 + DEFAULT_ANSWER_DEADLINE;
    vm.set_block_timestamp(deadline);
    assert!(matches!(
        s.refund(id(1)),
        Err(Error::TooEarly(e)) if e.until == deadline
    ));
    vm.set_block_timestamp(deadline + 1);
    call(&vm, OUTSIDER, U256::ZERO, || s.refund(id(1))).expect("refund unanswered");
    assert_eq!(status(&s, 1), request_status::REFUNDED);
    assert_eq!(s.credit(PAYER), fee());
    assert!(
        mock::with(|m| m.slashes.is_empty()),
        "no slash without an answer"
    );
    // An answered request waits for the batch window: a batch anchored by the deadline may still prove it.
    let until = deadline + DEFAULT_CHALLENGE_WINDOW;
    vm.set_block_timestamp(until);
    assert!(matches!(
        s.refund(id(2)),
        Err(Error::TooEarly(e)) if e.until == until
    ));
    // A failing ReceiptBatches read waits the longest duration rather than slashing.
    mock::with(|m| m.batch_window = None);
    vm.set_block_timestamp(until + 1);
    assert!(matches!(
        s.refund(id(2)),
        Err(Error::TooEarly(e)) if e.until == deadline + MAX_DURATION
    ));
    mock::with(|m| m.batch_window = Some(DEFAULT_CHALLENGE_WINDOW));
    call(&vm, OUTSIDER, U256::ZERO, || s.refund(id(2))).expect("refund answered");
    assert_eq!(
        mock::with(|m| m.slashes.clone()),
        vec![(NODE, DEFAULT_SLASH_AMOUNT, PAYER)]
    );
    let (t, data) = vm
        .get_emitted_logs()
        .into_iter()
        .rev()
        .find(|(t, _)| t[0] == Refunded::SIGNATURE_HASH)
        .unwrap();
    let event = Refunded::decode_raw_log(t, &data).unwrap();
    assert_eq!((event.fee, event.slashed), (fee(), DEFAULT_SLASH_AMOUNT));
    assert_eq!(s.credit(PAYER), fee() * U256::from(2));
    assert_eq!(s.open_requests(NODE), 0);
    assert_escrow(&s, &[1, 2], &[PAYER, NODE]);
    assert!(matches!(s.refund(id(2)), Err(Error::AlreadySettled(_))));
    // A proven request is not refundable.
    open(&vm, &mut s, 3, 0).unwrap();
    prove(&vm, &mut s, &receipt(3, 0), &[]).unwrap();
    vm.set_block_timestamp(deadline + 2 * DEFAULT_ANSWER_DEADLINE);
    assert!(matches!(
        s.refund(id(3)),
        Err(Error::BadRequestStatus(e)) if e.status == request_status::PROVEN
    ));
}

#[test]
fn refund_waits_while_paused_and_a_batch_window_after_resuming() {
    let (vm, mut s) = deployed();
    open(&vm, &mut s, 1, 0).unwrap();
    open(&vm, &mut s, 2, 0).unwrap();
    call(&vm, NODE, U256::ZERO, || s.answer(id(2), keccak256("out"))).unwrap();
    call(&vm, GOV, U256::ZERO, || s.set_paused(true)).unwrap();
    let late = T0 + DEFAULT_ANSWER_DEADLINE + 10 * DEFAULT_CHALLENGE_WINDOW;
    vm.set_block_timestamp(late);
    for n in [1, 2] {
        assert!(matches!(s.refund(id(n)), Err(Error::Paused(_))));
    }
    call(&vm, GOV, U256::ZERO, || s.set_paused(false)).unwrap();
    s.refund(id(1))
        .expect("an unanswered request is refundable at once");
    assert!(matches!(
        s.refund(id(2)),
        Err(Error::TooEarly(e)) if e.until == late + DEFAULT_CHALLENGE_WINDOW
    ));
    vm.set_block_timestamp(late + DEFAULT_CHALLENGE_WINDOW + 1);
    s.refund(id(2))
        .expect("refund answered after the window from resuming");
    assert_eq!(
        mock::with(|m| m.slashes.clone()),
        vec![(NODE, DEFAULT_SLASH_AMOUNT, PAYER)]
    );
    assert_escrow(&s, &[1, 2], &[PAYER, NODE]);
}

#[test]
fn dispute_by_the_payer_and_resolution_by_governance() {
    let (vm, mut s) = deployed();
    for n in [1, 2, 3] {
        open(&vm, &mut s, n, 0).unwrap();
        call(&vm, NODE, U256::ZERO, || {
            s.answer(id(n), keccak256("output"))
        })
        .unwrap();
        prove(&vm, &mut s, &receipt(n, 0), &[]).unwrap();
    }
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || s.dispute(id(1))),
        Err(Error::UnauthorizedPayer(e)) if e.account == OUTSIDER
    ));
    assert!(matches!(
        call(&vm, PAYER, U256::ZERO, || s.dispute(id(7))),
        Err(Error::UnknownRequest(_))
    ));
    let bond = DEFAULT_DISPUTE_BOND;
    assert!(matches!(
        call(&vm, PAYER, bond - U256::from(1), || s.dispute(id(1))),
        Err(Error::InsufficientValue(e)) if e.sent == bond - U256::from(1) && e.required == bond
    ));
    call(&vm, PAYER, bond, || s.dispute(id(1))).expect("dispute");
    call(&vm, PAYER, bond * U256::from(2), || s.dispute(id(2))).expect("a larger bond is the bond");
    assert_eq!(status(&s, 1), request_status::DISPUTED);
    let r = s.get_request(id(1));
    assert_eq!((r.8, r.10), (T0 + DEFAULT_DISPUTE_TIMEOUT, bond));
    assert_eq!(last_topic(&vm), Disputed::SIGNATURE_HASH);
    assert_escrow(&s, &[1, 2, 3], &[PAYER, NODE]);
    assert!(matches!(
        call(&vm, PAYER, bond, || s.dispute(id(1))),
        Err(Error::BadRequestStatus(e)) if e.status == request_status::DISPUTED
    ));
    vm.set_block_timestamp(T0 + DEFAULT_CHALLENGE_WINDOW);
    assert!(matches!(
        call(&vm, PAYER, bond, || s.dispute(id(3))),
        Err(Error::TooLate(_))
    ));
    assert!(
        matches!(s.settle(id(1)), Err(Error::TooEarly(e)) if e.until == T0 + DEFAULT_DISPUTE_TIMEOUT),
        "a disputed request waits for governance until the timeout"
    );
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || s.resolve_dispute(id(1), true)),
        Err(Error::Unauthorized(_))
    ));
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || s.resolve_dispute(id(3), true)),
        Err(Error::BadRequestStatus(_))
    ));
    call(&vm, GOV, U256::ZERO, || s.resolve_dispute(id(1), true)).expect("node wins");
    assert_eq!(status(&s, 1), request_status::SETTLED);
    assert_eq!(s.credit(NODE), fee() + bond, "fee and bond to the node");
    call(&vm, GOV, U256::ZERO, || s.resolve_dispute(id(2), false)).expect("payer wins");
    assert_eq!(status(&s, 2), request_status::REFUNDED);
    assert_eq!(
        s.credit(PAYER),
        fee() + bond * U256::from(2),
        "fee and bond back"
    );
    assert_eq!(
        mock::with(|m| m.slashes.clone()),
        vec![(NODE, DEFAULT_SLASH_AMOUNT, PAYER)]
    );
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || s.resolve_dispute(id(2), true)),
        Err(Error::AlreadySettled(_))
    ));
    assert!(matches!(s.settle(id(2)), Err(Error::AlreadySettled(_))));
    assert_escrow(&s, &[1, 2, 3], &[PAYER, NODE]);
}

#[test]
fn unresolved_dispute_settles_for_the_node_after_the_timeout() {
    let (vm, mut s) = deployed();
    open(&vm, &mut s, 1, 0).unwrap();
    prove(&vm, &mut s, &receipt(1, 0), &[]).unwrap();
    let bond = DEFAULT_DISPUTE_BOND;
    call(&vm, PAYER, bond, || s.dispute(id(1))).unwrap();
    let expires = T0 + DEFAULT_DISPUTE_TIMEOUT;
    vm.set_block_timestamp(expires - 1);
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || s.settle(id(1))),
        Err(Error::TooEarly(e)) if e.until == expires
    ));
    vm.set_block_timestamp(expires);
    call(&vm, OUTSIDER, U256::ZERO, || s.settle(id(1))).expect("anyone settles for the node");
    assert_eq!(status(&s, 1), request_status::SETTLED);
    assert_eq!(
        (s.credit(NODE), s.credit(PAYER)),
        (fee() + bond, U256::ZERO)
    );
    assert!(mock::with(|m| m.slashes.is_empty()));
    assert!(vm
        .get_emitted_logs()
        .iter()
        .any(|(t, _)| t[0] == DisputeResolved::SIGNATURE_HASH));
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || s.resolve_dispute(id(1), false)),
        Err(Error::AlreadySettled(_))
    ));
    assert_eq!(s.open_requests(NODE), 0);
    assert_escrow(&s, &[1], &[PAYER, NODE]);
}

#[test]
fn withdraw_errors() {
    let (vm, mut s) = deployed();
    assert!(matches!(
        call(&vm, PAYER, U256::ZERO, || s.withdraw()),
        Err(Error::NothingToWithdraw(_))
    ));
    open(&vm, &mut s, 1, 0).unwrap();
    vm.set_block_timestamp(T0 + DEFAULT_ANSWER_DEADLINE + 1);
    s.refund(id(1)).unwrap();
    mock::with(|m| m.failing.push(PAYER));
    assert!(matches!(
        call(&vm, PAYER, U256::ZERO, || s.withdraw()),
        Err(Error::TransferFailed(e)) if e.to == PAYER
    ));
}

#[test]
fn governance_functions_reject_outsiders() {
    let (vm, mut s) = deployed();
    for who in [OUTSIDER, PAYER, NODE] {
        let unauthorized =
            |r: Result<(), Error>| matches!(r, Err(Error::Unauthorized(e)) if e.account == who);
        assert!(unauthorized(
            call(&vm, who, U256::ZERO, || s.set_verifier(U256::from(1), who))
        ));
        assert!(unauthorized(call(&vm, who, U256::ZERO, || s.set_params(
            1,
            1,
            U256::ZERO,
            U256::from(1),
            1
        ))));
        assert!(unauthorized(
            call(&vm, who, U256::ZERO, || s.set_paused(true))
        ));
        assert!(unauthorized(
            call(&vm, who, U256::ZERO, || s.transfer_governance(who))
        ));
        assert!(unauthorized(
            call(&vm, who, U256::ZERO, || s.resolve_dispute(id(1), true))
        ));
    }
}

#[test]
fn governance_functions_work() {
    let (vm, mut s) = deployed();
    for (args, which) in [
        ((0, 1, 1, 1), 0),
        ((MAX_DURATION + 1, 1, 1, 1), 0),
        ((1, 0, 1, 1), 1),
        ((1, MAX_DURATION + 1, 1, 1), 1),
        ((1, 1, 1, 0), 2),
        ((1, 1, 1, MAX_DURATION + 1), 2),
        ((1, 1, 0, 1), 3),
    ] {
        assert!(matches!(
            call(&vm, GOV, U256::ZERO, || s.set_params(
                args.0,
                args.1,
                U256::ZERO,
                U256::from(args.2),
                args.3
            )),
            Err(Error::InvalidParam(e)) if e.which == which
        ));
    }
    call(&vm, GOV, U256::ZERO, || {
        s.set_params(60, 120, U256::from(3), U256::from(4), 180)
    })
    .unwrap();
    let c = s.config();
    assert_eq!(
        (c.5, c.6, c.7, c.8, c.9),
        (60, 120, U256::from(3), U256::from(4), 180)
    );
    call(&vm, GOV, U256::ZERO, || s.set_paused(true)).unwrap();
    assert!(s.config().4);
    assert_eq!(last_topic(&vm), PausedSet::SIGNATURE_HASH);
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || s
            .transfer_governance(Address::ZERO)),
        Err(Error::ZeroAddress(_))
    ));
    call(&vm, GOV, U256::ZERO, || s.transfer_governance(OUTSIDER)).unwrap();
    assert_eq!(s.config().0, OUTSIDER);
    assert_eq!(last_topic(&vm), GovernanceChanged::SIGNATURE_HASH);
}

mod props;

/// Every log decodes as the event its topic names and re-encodes to the same topics and data (the contract
/// encodes events by hand, see `_emit`).
fn assert_logs_canonical(vm: &TestVM) -> usize {
    fn check<E: SolEvent + PartialEq + std::fmt::Debug>(topics: &[B256], data: &[u8]) -> bool {
        if topics[0] != E::SIGNATURE_HASH {
            return false;
        }
        let event = E::decode_raw_log(topics.iter().copied(), data).expect("decodes");
        assert_eq!(event.encode_data(), data, "{}", E::SIGNATURE);
        let log = event.encode_log_data();
        assert_eq!(log.topics(), topics, "{}", E::SIGNATURE);
        true
    }
    let logs = vm.get_emitted_logs();
    for (topics, data) in &logs {
        let known = check::<Requested>(topics, data)
            || check::<Answered>(topics, data)
            || check::<Proven>(topics, data)
            || check::<Settled>(topics, data)
            || check::<Refunded>(topics, data)
            || check::<Disputed>(topics, data)
            || check::<DisputeResolved>(topics, data)
            || check::<VerifierSet>(topics, data)
            || check::<Credited>(topics, data)
            || check::<Withdrawn>(topics, data)
            || check::<ParamsSet>(topics, data)
            || check::<GovernanceChanged>(topics, data)
            || check::<PausedSet>(topics, data);
        assert!(known, "unknown event {:?}", topics[0]);
    }
    logs.len()
}

#[test]
fn hand_encoded_events_match_alloy() {
    let (vm, mut s) = deployed();
    call(&vm, GOV, U256::ZERO, || {
        s.set_verifier(U256::from(MODEL), VERIFIER)
    })
    .unwrap();
    open(&vm, &mut s, 1, mode::TEE).unwrap();
    open(&vm, &mut s, 2, mode::TEE).unwrap();
    open(&vm, &mut s, 3, mode::TEE).unwrap();
    call(&vm, NODE, U256::ZERO, || {
        s.answer(id(1), keccak256("output"))
    })
    .unwrap();
    call(&vm, NODE, U256::ZERO, || {
        s.answer(id(3), keccak256("output"))
    })
    .unwrap();
    prove(&vm, &mut s, &receipt(1, 0), &[]).unwrap();
    prove(&vm, &mut s, &receipt(2, 0), &[]).unwrap();
    call(&vm, PAYER, DEFAULT_DISPUTE_BOND, || s.dispute(id(2))).unwrap();
    call(&vm, GOV, U256::ZERO, || s.resolve_dispute(id(2), false)).unwrap();
    vm.set_block_timestamp(T0 + 2 * DEFAULT_ANSWER_DEADLINE);
    s.settle(id(1)).unwrap();
    s.refund(id(3)).unwrap();
    call(&vm, NODE, U256::ZERO, || s.withdraw()).unwrap();
    call(&vm, GOV, U256::ZERO, || s.set_paused(true)).unwrap();
    call(&vm, GOV, U256::ZERO, || {
        s.set_params(60, 120, U256::from(3), U256::from(4), 180)
    })
    .unwrap();
    call(&vm, GOV, U256::ZERO, || s.transfer_governance(OUTSIDER)).unwrap();
    assert!(assert_logs_canonical(&vm) >= 20);
    let (topics, data) = vm
        .get_emitted_logs()
        .into_iter()
        .find(|(t, _)| t[0] == Requested::SIGNATURE_HASH)
        .unwrap();
    let e = Requested::decode_raw_log(topics, &data).unwrap();
    assert_eq!(
        (
            e.requestId,
            e.payer,
            e.node,
            e.modelVersion,
            e.fee,
            e.inputHash,
            e.deadline
        ),
        (
            id(1),
            PAYER,
            NODE,
            U256::from(MODEL),
            fee(),
            keccak256("input"),
            T0 + DEFAULT_ANSWER_DEADLINE
        )
    );
    let (topics, data) = vm
        .get_emitted_logs()
        .into_iter()
        .find(|(t, _)| t[0] == Proven::SIGNATURE_HASH)
        .unwrap();
    let e = Proven::decode_raw_log(topics, &data).unwrap();
    assert_eq!(
        (e.requestId, e.node, e.mode, e.batchId, e.provenAt),
        (id(1), NODE, mode::TEE, U256::ZERO, T0)
    );
}
