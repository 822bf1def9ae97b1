//! Native unit tests on stylus-test's TestVM: members, threshold, governance (with outsiders) and `verify` with
//! attestations signed by real secp256k1 keys (k256).

use super::*;
use alloy_primitives::address;
use alloy_sol_types::SolEvent;
use k256::ecdsa::SigningKey;
use stylus_sdk::testing::TestVM;

const GOV: Address = address!("00000000000000000000000000000000000000a1");
const OUTSIDER: Address = address!("00000000000000000000000000000000000000e5");
const SELF: Address = address!("00000000000000000000000000000000000000cc");
const CHAIN: u64 = 412_346;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32].into()).unwrap()
}

fn addr(k: &SigningKey) -> Address {
    Address::from_public_key(k.verifying_key())
}

/// Keys 1..=n sorted by address.
fn committee(n: u8) -> Vec<SigningKey> {
    let mut keys: Vec<SigningKey> = (1..=n).map(key).collect();
    keys.sort_by_key(addr);
    keys
}

fn sig(k: &SigningKey, inputs: &[u8]) -> Vec<u8> {
    let digest = attestation_hash(CHAIN, SELF, inputs);
    let (s, recid) = k.sign_prehash_recoverable(digest.as_slice()).unwrap();
    let mut out = s.to_bytes().to_vec();
    out.push(27 + recid.to_byte());
    out
}

fn proof(keys: &[&SigningKey], inputs: &[u8]) -> Bytes {
    keys.iter()
        .flat_map(|k| sig(k, inputs))
        .collect::<Vec<u8>>()
        .into()
}

fn deployed(keys: &[SigningKey], threshold: u64) -> (TestVM, CommitteeVerifier) {
    let vm = TestVM::default();
    vm.set_chain_id(CHAIN);
    vm.set_contract_address(SELF);
    let mut c = CommitteeVerifier::from(&vm);
    c.constructor(GOV, keys.iter().map(addr).collect(), threshold)
        .expect("constructor");
    (vm, c)
}

#[test]
fn constructor_sets_members_and_threshold() {
    let keys = committee(3);
    let (vm, c) = deployed(&keys, 2);
    assert_eq!(c.config(), (GOV, 2, 3));
    assert!(keys.iter().all(|k| c.is_member(addr(k))));
    assert!(!c.is_member(OUTSIDER));
    let topics: Vec<B256> = vm.get_emitted_logs().iter().map(|l| l.0[0]).collect();
    assert_eq!(topics[0], GovernanceChanged::SIGNATURE_HASH);
    assert_eq!(topics[1..4], [MemberSet::SIGNATURE_HASH; 3]);
    assert_eq!(topics[4], ThresholdSet::SIGNATURE_HASH);
    let inputs = b"receipt";
    assert_eq!(
        c.attestation_hash(inputs.to_vec().into()),
        attestation_hash(CHAIN, SELF, inputs)
    );
    let new = |gov, members: Vec<Address>, t| {
        let vm = TestVM::default();
        CommitteeVerifier::from(&vm).constructor(gov, members, t)
    };
    assert!(matches!(
        new(Address::ZERO, vec![OUTSIDER], 1),
        Err(Error::ZeroAddress(_))
    ));
    assert!(matches!(
        new(GOV, vec![Address::ZERO], 1),
        Err(Error::ZeroAddress(_))
    ));
    assert!(
        matches!(new(GOV, vec![OUTSIDER, OUTSIDER], 1), Err(Error::InvalidParam(e)) if e.which == 1)
    );
    assert!(matches!(new(GOV, vec![OUTSIDER], 0), Err(Error::InvalidParam(e)) if e.which == 0));
    assert!(matches!(new(GOV, vec![OUTSIDER], 2), Err(Error::InvalidParam(e)) if e.which == 0));
}

#[test]
fn verify_needs_threshold_distinct_ascending_member_signatures() {
    let keys = committee(3);
    let (_vm, c) = deployed(&keys, 2);
    let inputs = b"abi.encode(receipt)";
    let v = |p: Bytes| c.verify(inputs.to_vec().into(), p);
    assert!(v(proof(&[&keys[0], &keys[1]], inputs)));
    assert!(v(proof(&[&keys[0], &keys[2]], inputs)));
    assert!(v(proof(&[&keys[0], &keys[1], &keys[2]], inputs)));
    assert!(!v(proof(&[&keys[1]], inputs)), "below the threshold");
    assert!(!v(proof(&[&keys[1], &keys[0]], inputs)), "not ascending");
    assert!(!v(proof(&[&keys[1], &keys[1]], inputs)), "one member twice");
    let stranger = key(42);
    let mut with_stranger = [&keys[0], &keys[1], &stranger];
    with_stranger.sort_by_key(|k| addr(k));
    assert!(!v(proof(&with_stranger, inputs)), "a non-member signature");
    assert!(
        !v(proof(&[&keys[0], &keys[1]], b"other inputs")),
        "signed for other inputs"
    );
    assert!(!v(Bytes::new()));
    let mut p = proof(&[&keys[0], &keys[1]], inputs).to_vec();
    p.pop();
    assert!(!v(p.into()), "not a multiple of 65 bytes");
    let mut p = proof(&[&keys[0], &keys[1]], inputs).to_vec();
    p[64] = 29;
    assert!(!v(p.into()), "bad v");
    // The high-s twin of a valid signature is refused.
    let mut p = proof(&[&keys[0], &keys[1]], inputs).to_vec();
    let n = SECP256K1_HALF_N * U256::from(2) + U256::from(1);
    let s = U256::from_be_slice(&p[32..64]);
    p[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    p[64] ^= 27 ^ 28;
    assert!(!v(p.into()));
    // Bound to the chain and the contract.
    let vm2 = TestVM::default();
    vm2.set_chain_id(CHAIN + 1);
    vm2.set_contract_address(SELF);
    let mut other = CommitteeVerifier::from(&vm2);
    other
        .constructor(GOV, keys.iter().map(addr).collect(), 2)
        .unwrap();
    assert!(!other.verify(inputs.to_vec().into(), proof(&[&keys[0], &keys[1]], inputs)));
}

#[test]
fn governance_manages_members_and_threshold() {
    let keys = committee(3);
    let (vm, mut c) = deployed(&keys, 2);
    let as_ = |who| vm.set_sender(who);
    as_(OUTSIDER);
    assert!(
        matches!(c.set_member(OUTSIDER, true), Err(Error::Unauthorized(e)) if e.account == OUTSIDER)
    );
    assert!(matches!(c.set_threshold(1), Err(Error::Unauthorized(_))));
    assert!(matches!(
        c.transfer_governance(OUTSIDER),
        Err(Error::Unauthorized(_))
    ));
    as_(GOV);
    assert!(
        matches!(c.set_member(addr(&keys[0]), true), Err(Error::InvalidParam(e)) if e.which == 1)
    );
    assert!(matches!(c.set_member(OUTSIDER, false), Err(Error::InvalidParam(e)) if e.which == 1));
    assert!(matches!(
        c.set_member(Address::ZERO, true),
        Err(Error::ZeroAddress(_))
    ));
    assert!(matches!(c.set_threshold(4), Err(Error::InvalidParam(_))));
    assert!(matches!(c.set_threshold(0), Err(Error::InvalidParam(_))));
    c.set_threshold(3).unwrap();
    assert_eq!(c.config(), (GOV, 3, 3));
    let inputs = b"x";
    assert!(!c.verify(inputs.to_vec().into(), proof(&[&keys[0], &keys[1]], inputs)));
    assert!(
        matches!(c.set_member(addr(&keys[2]), false), Err(Error::InvalidParam(e)) if e.which == 0),
        "would leave fewer members than the threshold"
    );
    c.set_threshold(2).unwrap();
    c.set_member(addr(&keys[2]), false).unwrap();
    assert_eq!(c.config(), (GOV, 2, 2));
    assert!(
        !c.verify(inputs.to_vec().into(), proof(&[&keys[0], &keys[2]], inputs)),
        "removed member"
    );
    assert!(c.verify(inputs.to_vec().into(), proof(&[&keys[0], &keys[1]], inputs)));
    c.set_member(OUTSIDER, true).unwrap();
    assert!(c.is_member(OUTSIDER));
    assert_eq!(c.config().2, 3);
    assert!(matches!(
        c.transfer_governance(Address::ZERO),
        Err(Error::ZeroAddress(_))
    ));
    c.transfer_governance(OUTSIDER).unwrap();
    assert!(matches!(c.set_threshold(1), Err(Error::Unauthorized(_))));
}
