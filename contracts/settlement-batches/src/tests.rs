//! Native unit tests on stylus-test's TestVM: every transition and error of ReceiptBatches and an outsider test
//! for every gated function. Trees are built with verity-abi's `StandardMerkleTree` (checked byte for byte against
//! `@openzeppelin/merkle-tree` in verity-abi); SettlementNodes' verdicts come from [`crate::external::mock`].

use super::external::mock;
use super::*;
use alloy_primitives::address;
use alloy_sol_types::SolEvent;
use stylus_sdk::testing::TestVM;
use verity_abi::settlement::{encode_signed_receipt, Receipt, SignedReceipt, StandardMerkleTree};

const GOV: Address = address!("00000000000000000000000000000000000000a1");
const NODES: Address = address!("00000000000000000000000000000000000000a2");
const KEEPER: Address = address!("00000000000000000000000000000000000000a3");
const CHALLENGER: Address = address!("00000000000000000000000000000000000000c1");
const OUTSIDER: Address = address!("00000000000000000000000000000000000000e5");
const T0: u64 = 1_767_225_600;

fn bond() -> U256 {
    DEFAULT_MIN_BOND
}

fn deployed() -> (TestVM, ReceiptBatches) {
    mock::reset();
    let vm = TestVM::default();
    vm.set_block_timestamp(T0);
    let mut batches = ReceiptBatches::from(&vm);
    batches
        .constructor(GOV, NODES, KEEPER)
        .expect("constructor");
    (vm, batches)
}

fn call<T>(vm: &TestVM, who: Address, value: U256, f: impl FnOnce() -> T) -> T {
    vm.set_sender(who);
    vm.set_value(value);
    let out = f();
    vm.set_value(U256::ZERO);
    out
}

/// A signed receipt (flat encoding) for request `id`, distinguished by `salt`; signatures are not checked here.
fn leaf(id: u8, salt: u8) -> Vec<u8> {
    encode_signed_receipt(&SignedReceipt {
        receipt: Receipt {
            requestId: B256::with_last_byte(id),
            modelVersion: U256::from(1),
            inputHash: B256::with_last_byte(salt),
            outputHash: B256::ZERO,
            payer: OUTSIDER,
            node: KEEPER,
            fee: U256::from(1),
            mode: 0,
            signedAt: T0,
        },
        v: 27,
        r: B256::with_last_byte(1),
        s: B256::with_last_byte(2),
    })
    .to_vec()
}

struct Tree {
    tree: StandardMerkleTree,
}

impl Tree {
    fn of(leaves: &[Vec<u8>]) -> Self {
        let hashes: Vec<B256> = leaves.iter().map(|l| encoded_leaf_hash(l)).collect();
        Self {
            tree: StandardMerkleTree::new(&hashes).unwrap(),
        }
    }
    fn root(&self) -> B256 {
        self.tree.root()
    }
    fn proof(&self, leaf: &[u8]) -> Vec<B256> {
        self.tree.proof(encoded_leaf_hash(leaf)).unwrap()
    }
}

fn anchor(vm: &TestVM, batches: &mut ReceiptBatches, tree: &Tree, count: u64) -> U256 {
    call(vm, KEEPER, bond(), || {
        batches.anchor_batch(tree.root(), count, "ipfs://batch".into())
    })
    .expect("anchor")
}

fn status(batches: &ReceiptBatches, id: U256) -> u8 {
    batches.batch(id).5
}

fn topics(vm: &TestVM) -> Vec<B256> {
    vm.get_emitted_logs()
        .into_iter()
        .map(|(topics, _)| topics[0])
        .collect()
}

#[test]
fn constructor_sets_config_and_keeper() {
    let (vm, batches) = deployed();
    assert_eq!(
        batches.config(),
        (
            GOV,
            NODES,
            false,
            DEFAULT_CHALLENGE_WINDOW,
            DEFAULT_MIN_BOND,
            U256::ZERO
        )
    );
    assert!(batches.is_keeper(KEEPER));
    assert!(!batches.is_keeper(OUTSIDER));
    assert_eq!(
        topics(&vm),
        vec![
            GovernanceChanged::SIGNATURE_HASH,
            KeeperChanged::SIGNATURE_HASH,
            ParamsSet::SIGNATURE_HASH
        ]
    );
    let vm = TestVM::default();
    let mut b = ReceiptBatches::from(&vm);
    b.constructor(GOV, NODES, Address::ZERO).unwrap();
    assert!(!b.is_keeper(Address::ZERO));
    for (gov, nodes) in [(Address::ZERO, NODES), (GOV, Address::ZERO)] {
        let vm = TestVM::default();
        let mut b = ReceiptBatches::from(&vm);
        assert!(matches!(
            b.constructor(gov, nodes, KEEPER),
            Err(Error::ZeroAddress(_))
        ));
    }
}

#[test]
fn anchor_batch_checks_keeper_pause_root_count_and_bond() {
    let (vm, mut batches) = deployed();
    let tree = Tree::of(&[leaf(1, 0), leaf(2, 0)]);
    assert!(matches!(
        call(&vm, OUTSIDER, bond(), || batches.anchor_batch(tree.root(), 2, String::new())),
        Err(Error::UnauthorizedKeeper(e)) if e.account == OUTSIDER
    ));
    assert!(matches!(
        call(&vm, KEEPER, bond(), || batches.anchor_batch(
            B256::ZERO,
            2,
            String::new()
        )),
        Err(Error::EmptyBatch(_))
    ));
    assert!(matches!(
        call(&vm, KEEPER, bond(), || batches.anchor_batch(
            tree.root(),
            0,
            String::new()
        )),
        Err(Error::EmptyBatch(_))
    ));
    let low = bond() - U256::from(1);
    assert!(matches!(
        call(&vm, KEEPER, low, || batches.anchor_batch(tree.root(), 2, String::new())),
        Err(Error::InsufficientValue(e)) if e.sent == low && e.required == bond()
    ));
    call(&vm, GOV, U256::ZERO, || batches.set_paused(true)).unwrap();
    assert!(matches!(
        call(&vm, KEEPER, bond(), || batches.anchor_batch(
            tree.root(),
            2,
            String::new()
        )),
        Err(Error::Paused(_))
    ));
    call(&vm, GOV, U256::ZERO, || batches.set_paused(false)).unwrap();
    vm.set_block_timestamp(T0 + 5);
    let id = anchor(&vm, &mut batches, &tree, 2);
    assert_eq!(id, U256::from(1));
    assert_eq!(
        batches.batch(id),
        (
            tree.root(),
            2,
            KEEPER,
            T0 + 5,
            bond(),
            batch_status::ANCHORED
        )
    );
    assert_eq!(
        batches.batch_data_hash(id),
        keccak256("ipfs://batch".as_bytes())
    );
    assert_eq!(batches.escrowed(), bond());
    assert_eq!(batches.config().5, U256::from(1));
    let (topics_, data) = vm.get_emitted_logs().pop().unwrap();
    assert_eq!(topics_[0], BatchAnchored::SIGNATURE_HASH);
    let event = BatchAnchored::decode_raw_log(topics_, &data).unwrap();
    assert_eq!(event.dataUri, "ipfs://batch");
    assert_eq!(event.count, 2);
    assert_eq!(anchor(&vm, &mut batches, &tree, 2), U256::from(2));
}

#[test]
fn receipt_status_follows_the_batch() {
    let (vm, mut batches) = deployed();
    let leaves = [leaf(1, 0), leaf(2, 0), leaf(3, 0)];
    let tree = Tree::of(&leaves);
    let status_of = |b: &ReceiptBatches, id: u64, l: &[u8], proof: Vec<B256>| {
        b.receipt_status(U256::from(id), l.to_vec().into(), proof)
    };
    assert_eq!(
        status_of(&batches, 1, &leaves[0], tree.proof(&leaves[0])),
        batch_status::NONE
    );
    anchor(&vm, &mut batches, &tree, 3);
    assert_eq!(
        status_of(&batches, 1, &leaves[0], tree.proof(&leaves[0])),
        batch_status::ANCHORED
    );
    assert_eq!(
        status_of(&batches, 1, &leaves[0], tree.proof(&leaves[1])),
        batch_status::NONE,
        "a proof of another leaf"
    );
    assert_eq!(
        status_of(&batches, 1, &leaf(4, 0), tree.proof(&leaves[0])),
        batch_status::NONE,
        "a receipt not in the batch"
    );
    vm.set_block_timestamp(T0 + DEFAULT_CHALLENGE_WINDOW);
    batches.finalize_batch(U256::from(1)).unwrap();
    assert_eq!(
        status_of(&batches, 1, &leaves[2], tree.proof(&leaves[2])),
        batch_status::FINAL
    );
}

#[test]
fn challenge_leaf_voids_and_pays_the_challenger() {
    let (vm, mut batches) = deployed();
    let leaves = [leaf(1, 0), leaf(2, 0), leaf(3, 0)];
    let tree = Tree::of(&leaves);
    let challenge = |vm: &TestVM, b: &mut ReceiptBatches, id: u64, l: &[u8], proof: Vec<B256>| {
        call(vm, CHALLENGER, U256::ZERO, || {
            b.challenge_leaf(U256::from(id), l.to_vec().into(), proof)
        })
    };
    assert!(matches!(
        challenge(&vm, &mut batches, 1, &leaves[0], vec![]),
        Err(Error::UnknownBatch(_))
    ));
    vm.set_block_timestamp(T0 + 7);
    let id = anchor(&vm, &mut batches, &tree, 3);
    assert!(matches!(
        challenge(&vm, &mut batches, 1, &leaves[1], tree.proof(&leaves[0])),
        Err(Error::BadProof(e)) if e.batchId == id
    ));
    assert!(matches!(
        challenge(&vm, &mut batches, 1, &leaves[1], tree.proof(&leaves[1])),
        Err(Error::LeafValid(_))
    ));
    mock::set_fault(&leaves[1], void_reason::KEY_NOT_APPROVED);
    vm.set_block_timestamp(T0 + 100);
    challenge(&vm, &mut batches, 1, &leaves[1], tree.proof(&leaves[1])).expect("void");
    assert_eq!(
        mock::queries().last(),
        Some(&(encoded_leaf_hash(&leaves[1]), T0 + 7)),
        "judged at the anchoring time"
    );
    assert_eq!(status(&batches, id), batch_status::VOIDED);
    assert_eq!(batches.credit(CHALLENGER), bond());
    assert_eq!(batches.escrowed(), bond());
    let (t, data) = vm
        .get_emitted_logs()
        .into_iter()
        .find(|(t, _)| t[0] == BatchVoided::SIGNATURE_HASH)
        .unwrap();
    let event = BatchVoided::decode_raw_log(t, &data).unwrap();
    assert_eq!(
        (event.challenger, event.reason, event.requestId, event.bond),
        (
            CHALLENGER,
            void_reason::KEY_NOT_APPROVED,
            B256::with_last_byte(2),
            bond()
        )
    );
    assert!(matches!(
        challenge(&vm, &mut batches, 1, &leaves[1], tree.proof(&leaves[1])),
        Err(Error::AlreadyVoided(_))
    ));
    // The bond is paid once.
    let paid = call(&vm, CHALLENGER, U256::ZERO, || batches.withdraw()).unwrap();
    assert_eq!(paid, bond());
    assert_eq!(mock::sent(), vec![(CHALLENGER, bond())]);
    assert_eq!(batches.escrowed(), U256::ZERO);
}

#[test]
fn challenges_stop_when_the_window_closes() {
    let (vm, mut batches) = deployed();
    let leaves = [leaf(1, 0), leaf(2, 0)];
    let tree = Tree::of(&leaves);
    let id = anchor(&vm, &mut batches, &tree, 2);
    mock::set_fault(&leaves[0], void_reason::BAD_SIGNATURE);
    vm.set_block_timestamp(T0 + DEFAULT_CHALLENGE_WINDOW);
    assert!(matches!(
        call(&vm, CHALLENGER, U256::ZERO, || batches.challenge_leaf(
            id,
            leaves[0].clone().into(),
            tree.proof(&leaves[0])
        )),
        Err(Error::WindowClosed(e)) if e.closedAt == T0 + DEFAULT_CHALLENGE_WINDOW
    ));
    batches.finalize_batch(id).unwrap();
    assert!(matches!(
        call(&vm, CHALLENGER, U256::ZERO, || batches.challenge_leaf(
            id,
            leaves[0].clone().into(),
            tree.proof(&leaves[0])
        )),
        Err(Error::AlreadyFinal(_))
    ));
}

#[test]
fn challenge_duplicate_voids_the_later_batch() {
    let (vm, mut batches) = deployed();
    let first = [leaf(1, 0), leaf(2, 0)];
    let second = [leaf(3, 0), leaf(1, 9)];
    let (t1, t2) = (Tree::of(&first), Tree::of(&second));
    let b1 = anchor(&vm, &mut batches, &t1, 2);
    let b2 = anchor(&vm, &mut batches, &t2, 2);
    let dup =
        |b: &mut ReceiptBatches, e: (U256, &Vec<u8>, Vec<B256>), l: (U256, &Vec<u8>, Vec<B256>)| {
            call(&vm, CHALLENGER, U256::ZERO, || {
                b.challenge_duplicate(e.0, e.1.clone().into(), e.2, l.0, l.1.clone().into(), l.2)
            })
        };
    // Different request ids.
    assert!(matches!(
        dup(
            &mut batches,
            (b1, &first[1], t1.proof(&first[1])),
            (b2, &second[1], t2.proof(&second[1]))
        ),
        Err(Error::NotDuplicate(_))
    ));
    // The earlier batch must be earlier.
    assert!(matches!(
        dup(
            &mut batches,
            (b2, &second[1], t2.proof(&second[1])),
            (b1, &first[0], t1.proof(&first[0]))
        ),
        Err(Error::NotDuplicate(_))
    ));
    // The same leaf twice in one batch is no duplicate.
    assert!(matches!(
        dup(
            &mut batches,
            (b1, &first[0], t1.proof(&first[0])),
            (b1, &first[0], t1.proof(&first[0]))
        ),
        Err(Error::NotDuplicate(_))
    ));
    // Unknown earlier batch.
    assert!(matches!(
        dup(
            &mut batches,
            (U256::from(9), &first[0], vec![]),
            (b2, &second[1], t2.proof(&second[1]))
        ),
        Err(Error::UnknownBatch(_))
    ));
    // Bad inclusion proofs, either side.
    assert!(matches!(
        dup(&mut batches, (b1, &first[0], t1.proof(&first[1])), (b2, &second[1], t2.proof(&second[1]))),
        Err(Error::BadProof(e)) if e.batchId == b1
    ));
    assert!(matches!(
        dup(&mut batches, (b1, &first[0], t1.proof(&first[0])), (b2, &second[1], t2.proof(&second[0]))),
        Err(Error::BadProof(e)) if e.batchId == b2
    ));
    // Too short to be a receipt.
    assert!(matches!(
        dup(
            &mut batches,
            (b1, &first[0][..32].to_vec(), vec![]),
            (b2, &second[1], t2.proof(&second[1]))
        ),
        Err(Error::NotDuplicate(_))
    ));
    // The earlier leaf must itself be a valid receipt, judged at its own batch's anchoring time (a rogue keeper's
    // forged leaf voids nothing).
    vm.set_block_timestamp(T0 + 5);
    mock::set_fault(&first[0], void_reason::BAD_SIGNATURE);
    assert!(matches!(
        dup(
            &mut batches,
            (b1, &first[0], t1.proof(&first[0])),
            (b2, &second[1], t2.proof(&second[1]))
        ),
        Err(Error::InvalidReceipt(e)) if e.reason == void_reason::BAD_SIGNATURE
    ));
    assert_eq!(
        mock::queries().last(),
        Some(&(encoded_leaf_hash(&first[0]), T0))
    );
    assert_eq!(status(&batches, b2), batch_status::ANCHORED);
    mock::set_fault(&first[0], 0);
    dup(
        &mut batches,
        (b1, &first[0], t1.proof(&first[0])),
        (b2, &second[1], t2.proof(&second[1])),
    )
    .expect("duplicate");
    assert_eq!(status(&batches, b2), batch_status::VOIDED);
    assert_eq!(status(&batches, b1), batch_status::ANCHORED);
    assert_eq!(batches.credit(CHALLENGER), bond());
    // A voided batch is no evidence against a later one.
    let third = [leaf(1, 5), leaf(6, 0)];
    let t3 = Tree::of(&third);
    let b3 = anchor(&vm, &mut batches, &t3, 2);
    assert!(matches!(
        dup(
            &mut batches,
            (b2, &second[1], t2.proof(&second[1])),
            (b3, &third[0], t3.proof(&third[0]))
        ),
        Err(Error::NotDuplicate(_))
    ));
    // The same receipt in two batches is no fraud (it proves its request once, whichever batch finalizes).
    let copy = [first[1].clone()];
    let t4 = Tree::of(&copy);
    let b4 = anchor(&vm, &mut batches, &t4, 1);
    assert!(matches!(
        dup(
            &mut batches,
            (b1, &first[1], t1.proof(&first[1])),
            (b4, &copy[0], t4.proof(&copy[0]))
        ),
        Err(Error::NotDuplicate(_))
    ));
}

#[test]
fn a_batch_keeps_the_challenge_window_it_was_anchored_with() {
    let (vm, mut batches) = deployed();
    let leaves = [leaf(1, 0)];
    let tree = Tree::of(&leaves);
    let old = anchor(&vm, &mut batches, &tree, 1);
    assert_eq!(batches.batch_closes_at(old), T0 + DEFAULT_CHALLENGE_WINDOW);
    call(&vm, GOV, U256::ZERO, || batches.set_params(60, bond())).unwrap();
    let new = anchor(&vm, &mut batches, &tree, 1);
    assert_eq!(batches.batch_closes_at(new), T0 + 60);
    assert_eq!(batches.batch_closes_at(U256::from(9)), 0);
    // Lowered: the old batch can neither be finalized early nor escape a challenge.
    vm.set_block_timestamp(T0 + 60);
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || batches.finalize_batch(old)),
        Err(Error::WindowOpen(e)) if e.until == T0 + DEFAULT_CHALLENGE_WINDOW
    ));
    call(&vm, OUTSIDER, U256::ZERO, || batches.finalize_batch(new)).expect("new window");
    mock::set_fault(&leaves[0], void_reason::BAD_TIME);
    call(&vm, CHALLENGER, U256::ZERO, || {
        batches.challenge_leaf(old, leaves[0].clone().into(), tree.proof(&leaves[0]))
    })
    .expect("still challengeable");
    // Raised: a closed window does not reopen.
    let (vm, mut batches) = deployed();
    let id = anchor(&vm, &mut batches, &tree, 1);
    call(&vm, GOV, U256::ZERO, || {
        batches.set_params(MAX_DURATION, bond())
    })
    .unwrap();
    vm.set_block_timestamp(T0 + DEFAULT_CHALLENGE_WINDOW);
    mock::set_fault(&leaves[0], void_reason::BAD_TIME);
    assert!(matches!(
        call(&vm, CHALLENGER, U256::ZERO, || batches.challenge_leaf(
            id,
            leaves[0].clone().into(),
            tree.proof(&leaves[0])
        )),
        Err(Error::WindowClosed(_))
    ));
    call(&vm, OUTSIDER, U256::ZERO, || batches.finalize_batch(id)).expect("finalize");
}

#[test]
fn challenge_duplicate_inside_one_batch() {
    let (vm, mut batches) = deployed();
    let leaves = [leaf(1, 0), leaf(1, 1), leaf(2, 0)];
    let tree = Tree::of(&leaves);
    let id = anchor(&vm, &mut batches, &tree, 3);
    call(&vm, CHALLENGER, U256::ZERO, || {
        batches.challenge_duplicate(
            id,
            leaves[0].clone().into(),
            tree.proof(&leaves[0]),
            id,
            leaves[1].clone().into(),
            tree.proof(&leaves[1]),
        )
    })
    .expect("duplicate in one batch");
    assert_eq!(status(&batches, id), batch_status::VOIDED);
}

#[test]
fn finalize_batch_after_the_window_credits_the_bond_once() {
    let (vm, mut batches) = deployed();
    assert!(matches!(
        batches.finalize_batch(U256::from(1)),
        Err(Error::UnknownBatch(_))
    ));
    let tree = Tree::of(&[leaf(1, 0)]);
    let id = anchor(&vm, &mut batches, &tree, 1);
    vm.set_block_timestamp(T0 + DEFAULT_CHALLENGE_WINDOW - 1);
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || batches.finalize_batch(id)),
        Err(Error::WindowOpen(e)) if e.until == T0 + DEFAULT_CHALLENGE_WINDOW
    ));
    vm.set_block_timestamp(T0 + DEFAULT_CHALLENGE_WINDOW);
    call(&vm, OUTSIDER, U256::ZERO, || batches.finalize_batch(id)).expect("finalize");
    assert_eq!(status(&batches, id), batch_status::FINAL);
    assert_eq!(batches.credit(KEEPER), bond());
    assert_eq!(*topics(&vm).last().unwrap(), Credited::SIGNATURE_HASH);
    assert!(matches!(
        batches.finalize_batch(id),
        Err(Error::AlreadyFinal(e)) if e.batchId == id
    ));
    assert_eq!(batches.credit(KEEPER), bond(), "paid once");
    // A voided batch cannot be finalized.
    let leaves = [leaf(2, 0)];
    let tree = Tree::of(&leaves);
    let id = anchor(&vm, &mut batches, &tree, 1);
    mock::set_fault(&leaves[0], void_reason::BAD_TIME);
    call(&vm, CHALLENGER, U256::ZERO, || {
        batches.challenge_leaf(id, leaves[0].clone().into(), tree.proof(&leaves[0]))
    })
    .unwrap();
    vm.set_block_timestamp(T0 + 10 * DEFAULT_CHALLENGE_WINDOW);
    assert!(matches!(
        batches.finalize_batch(id),
        Err(Error::AlreadyVoided(_))
    ));
}

#[test]
fn withdraw_errors() {
    let (vm, mut batches) = deployed();
    assert!(matches!(
        call(&vm, OUTSIDER, U256::ZERO, || batches.withdraw()),
        Err(Error::NothingToWithdraw(_))
    ));
    let tree = Tree::of(&[leaf(1, 0)]);
    let id = anchor(&vm, &mut batches, &tree, 1);
    vm.set_block_timestamp(T0 + DEFAULT_CHALLENGE_WINDOW);
    batches.finalize_batch(id).unwrap();
    mock::fail_transfers_to(KEEPER);
    assert!(matches!(
        call(&vm, KEEPER, U256::ZERO, || batches.withdraw()),
        Err(Error::TransferFailed(_))
    ));
}

#[test]
fn governance_functions_reject_outsiders() {
    let (vm, mut batches) = deployed();
    for who in [OUTSIDER, KEEPER] {
        assert!(matches!(
            call(&vm, who, U256::ZERO, || batches.set_keeper(who, true)),
            Err(Error::Unauthorized(e)) if e.account == who
        ));
        assert!(matches!(
            call(&vm, who, U256::ZERO, || batches
                .set_params(1, U256::from(1))),
            Err(Error::Unauthorized(_))
        ));
        assert!(matches!(
            call(&vm, who, U256::ZERO, || batches.set_paused(true)),
            Err(Error::Unauthorized(_))
        ));
        assert!(matches!(
            call(&vm, who, U256::ZERO, || batches.transfer_governance(who)),
            Err(Error::Unauthorized(_))
        ));
    }
}

#[test]
fn governance_functions_work() {
    let (vm, mut batches) = deployed();
    call(&vm, GOV, U256::ZERO, || batches.set_keeper(KEEPER, false)).unwrap();
    assert!(!batches.is_keeper(KEEPER));
    call(&vm, GOV, U256::ZERO, || batches.set_keeper(OUTSIDER, true)).unwrap();
    assert!(batches.is_keeper(OUTSIDER));
    for (window, min_bond, which) in [
        (0, U256::from(1), 0),
        (MAX_DURATION + 1, U256::from(1), 0),
        (1, U256::ZERO, 1),
    ] {
        assert!(matches!(
            call(&vm, GOV, U256::ZERO, || batches.set_params(window, min_bond)),
            Err(Error::InvalidParam(e)) if e.which == which
        ));
    }
    call(&vm, GOV, U256::ZERO, || {
        batches.set_params(60, U256::from(5))
    })
    .unwrap();
    assert_eq!(
        (batches.config().3, batches.config().4),
        (60, U256::from(5))
    );
    call(&vm, GOV, U256::ZERO, || batches.set_paused(true)).unwrap();
    assert!(batches.config().2);
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || batches
            .transfer_governance(Address::ZERO)),
        Err(Error::ZeroAddress(_))
    ));
    call(&vm, GOV, U256::ZERO, || {
        batches.transfer_governance(OUTSIDER)
    })
    .unwrap();
    assert_eq!(batches.config().0, OUTSIDER);
    assert!(matches!(
        call(&vm, GOV, U256::ZERO, || batches.set_paused(false)),
        Err(Error::Unauthorized(_))
    ));
}

#[test]
fn pause_stops_anchoring_only() {
    let (vm, mut batches) = deployed();
    let leaves = [leaf(1, 0), leaf(2, 0)];
    let tree = Tree::of(&leaves);
    let id = anchor(&vm, &mut batches, &tree, 2);
    call(&vm, GOV, U256::ZERO, || batches.set_paused(true)).unwrap();
    mock::set_fault(&leaves[0], void_reason::BAD_SIGNATURE);
    call(&vm, CHALLENGER, U256::ZERO, || {
        batches.challenge_leaf(id, leaves[0].clone().into(), tree.proof(&leaves[0]))
    })
    .expect("challenges go on while paused");
    call(&vm, CHALLENGER, U256::ZERO, || batches.withdraw()).expect("withdrawals too");
}

/// Every log decodes as the event its topic names and re-encodes to the same topics and data (the contract
/// encodes events by hand, see `_emit`).
fn assert_logs_canonical(vm: &TestVM) -> usize {
    fn check<E: SolEvent>(topics: &[B256], data: &[u8]) -> bool {
        if topics[0] != E::SIGNATURE_HASH {
            return false;
        }
        let event = E::decode_raw_log(topics.iter().copied(), data).expect("decodes");
        assert_eq!(event.encode_data(), data, "{}", E::SIGNATURE);
        assert_eq!(event.encode_log_data().topics(), topics, "{}", E::SIGNATURE);
        true
    }
    let logs = vm.get_emitted_logs();
    for (t, d) in &logs {
        let known = check::<BatchAnchored>(t, d)
            || check::<BatchFinalized>(t, d)
            || check::<BatchVoided>(t, d)
            || check::<KeeperChanged>(t, d)
            || check::<Credited>(t, d)
            || check::<Withdrawn>(t, d)
            || check::<ParamsSet>(t, d)
            || check::<GovernanceChanged>(t, d)
            || check::<PausedSet>(t, d);
        assert!(known, "unknown event {:?}", t[0]);
    }
    logs.len()
}

#[test]
fn hand_encoded_events_match_alloy() {
    let (vm, mut batches) = deployed();
    let leaves = [leaf(1, 0), leaf(2, 0)];
    let tree = Tree::of(&leaves);
    for len in [0usize, 1, 31, 32, 33, 64, 100] {
        let uri = "u".repeat(len);
        call(&vm, KEEPER, bond(), || {
            batches.anchor_batch(tree.root(), 2, uri.clone())
        })
        .unwrap();
        let (t, d) = vm.get_emitted_logs().pop().unwrap();
        let e = BatchAnchored::decode_raw_log(t, &d).unwrap();
        assert_eq!(
            (e.dataUri, e.root, e.count, e.bond, e.submitter),
            (uri, tree.root(), 2, bond(), KEEPER)
        );
    }
    mock::set_fault(&leaves[0], void_reason::BAD_FIELDS);
    call(&vm, CHALLENGER, U256::ZERO, || {
        batches.challenge_leaf(
            U256::from(1),
            leaves[0].clone().into(),
            tree.proof(&leaves[0]),
        )
    })
    .unwrap();
    vm.set_block_timestamp(T0 + DEFAULT_CHALLENGE_WINDOW);
    batches.finalize_batch(U256::from(2)).unwrap();
    call(&vm, CHALLENGER, U256::ZERO, || batches.withdraw()).unwrap();
    call(&vm, GOV, U256::ZERO, || batches.set_keeper(OUTSIDER, true)).unwrap();
    call(&vm, GOV, U256::ZERO, || batches.set_paused(true)).unwrap();
    call(&vm, GOV, U256::ZERO, || {
        batches.set_params(60, U256::from(9))
    })
    .unwrap();
    call(&vm, GOV, U256::ZERO, || {
        batches.transfer_governance(OUTSIDER)
    })
    .unwrap();
    assert!(assert_logs_canonical(&vm) >= 18);
    let (t, d) = vm
        .get_emitted_logs()
        .into_iter()
        .find(|(t, _)| t[0] == BatchVoided::SIGNATURE_HASH)
        .unwrap();
    let e = BatchVoided::decode_raw_log(t, &d).unwrap();
    assert_eq!(
        (e.batchId, e.challenger, e.reason, e.requestId, e.bond),
        (
            U256::from(1),
            CHALLENGER,
            void_reason::BAD_FIELDS,
            B256::with_last_byte(1),
            bond()
        )
    );
}
