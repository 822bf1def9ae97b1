//! Native unit tests on stylus-test's TestVM with real keys and proofs from `verity-zk`, the precompiles run by
//! revm's BN254 code: registration rules (owner, once, malformed keys) and `verify` against arkworks' native
//! verifier on valid, wrong-statement, other-model, tampered and malformed inputs.

use super::*;
use crate::external::mock;
use alloy_primitives::address;
use alloy_sol_types::SolEvent;
use stylus_sdk::testing::TestVM;
use verity_abi::settlement::{mode, zk_public_inputs, Receipt};
use verity_zk::{
    evm::{proof_bytes, vk_bytes},
    field::{fr_from_word, word_of},
    model::{output_hash, Model},
    snark::{self, Keys, Proven, Statement},
};

const REGISTRY: Address = address!("00000000000000000000000000000000000000b1");
const OWNER: Address = address!("00000000000000000000000000000000000000a1");
const OUTSIDER: Address = address!("00000000000000000000000000000000000000e5");
const MODEL_A: u64 = 7;
const MODEL_B: u64 = 8;

fn rng() -> ark_std_rng::StdRng {
    use ark_std_rng::SeedableRng;
    ark_std_rng::StdRng::seed_from_u64(99)
}

/// arkworks' RNG, through verity-zk's re-export of the ark-std it uses.
mod ark_std_rng {
    pub(super) use verity_zk::rand::{rngs::StdRng, SeedableRng};
}

fn deployed() -> (TestVM, Groth16Verifier) {
    let vm = TestVM::default();
    let mut c = Groth16Verifier::from(&vm);
    c.constructor(REGISTRY).expect("constructor");
    mock::with(|m| {
        m.versions
            .insert(U256::from(MODEL_A), (OWNER, B256::repeat_byte(0xa0)));
        m.versions
            .insert(U256::from(MODEL_B), (OWNER, B256::repeat_byte(0xb0)));
    });
    (vm, c)
}

fn receipt(model: u64, s: &Statement) -> Bytes {
    zk_public_inputs(&Receipt {
        requestId: B256::repeat_byte(1),
        modelVersion: U256::from(model),
        inputHash: s.input_word(),
        outputHash: s.output_word(),
        payer: OUTSIDER,
        node: OWNER,
        fee: U256::from(5),
        mode: mode::ZK,
        signedAt: 1_000,
    })
    .into()
}

struct Fixture {
    keys: Keys,
    a: Model,
    b: Model,
    proven_a: Proven,
    proven_b: Proven,
}

fn fixture() -> Fixture {
    let mut rng = rng();
    let a = Model::example(4, 8, 3, 1);
    let b = Model::example(4, 8, 3, 2);
    let keys = snark::setup(a.shape(), &mut rng).unwrap();
    let input = [5i8, -6, 7, -8];
    let proven_a = snark::prove(&keys.proving, &a, &input, &mut rng).unwrap();
    let proven_b = snark::prove(&keys.proving, &b, &input, &mut rng).unwrap();
    Fixture {
        keys,
        a,
        b,
        proven_a,
        proven_b,
    }
}

fn register(vm: &TestVM, c: &mut Groth16Verifier, model: u64, m: &Model, keys: &Keys) {
    vm.set_sender(OWNER);
    c.register_key(
        U256::from(model),
        word_of(m.commitment()),
        vk_bytes(&keys.verifying).unwrap().to_vec().into(),
    )
    .expect("registered");
}

/// The contract's verdict, asserted equal to arkworks' native verifier on the same statement and proof bytes.
fn verdict(
    c: &Groth16Verifier,
    keys: &Keys,
    commitment: B256,
    inputs: &Bytes,
    proof: &[u8],
) -> bool {
    let ours = c.verify(inputs.clone(), proof.to_vec().into());
    let word = |i: usize| B256::from_slice(&inputs[32 * i..32 * (i + 1)]);
    let native = match (
        fr_from_word(commitment),
        fr_from_word(word(2)),
        fr_from_word(word(3)),
        verity_zk::evm::proof_from(proof),
    ) {
        (Some(weights_commitment), Some(input_hash), Some(output_hash), Ok(proof)) => {
            snark::verify(
                &keys.verifying,
                &Statement {
                    weights_commitment,
                    input_hash,
                    output_hash,
                },
                &proof,
            )
            .unwrap()
        }
        _ => false,
    };
    assert_eq!(ours, native, "contract and arkworks disagree");
    ours
}

#[test]
fn registration_is_for_the_submitter_once_and_checked() {
    let f = fixture();
    let (vm, mut c) = deployed();
    let vk: Bytes = vk_bytes(&f.keys.verifying).unwrap().to_vec().into();
    let commitment = word_of(f.a.commitment());
    let model = U256::from(MODEL_A);
    assert_eq!(c.registry(), REGISTRY);
    vm.set_sender(OWNER);
    assert!(matches!(
        c.register_key(U256::from(99), commitment, vk.clone()),
        Err(Error::UnknownModel(e)) if e.modelVersion == U256::from(99)
    ));
    vm.set_sender(OUTSIDER);
    assert!(matches!(
        c.register_key(model, commitment, vk.clone()),
        Err(Error::NotModelOwner(e)) if e.account == OUTSIDER && e.modelVersion == model
    ));
    vm.set_sender(OWNER);
    // Malformed keys: each with its reason; nothing is stored.
    let fault = |c: &mut Groth16Verifier, commitment: B256, key: Vec<u8>| match c.register_key(
        model,
        commitment,
        key.into(),
    ) {
        Err(Error::InvalidKey(e)) => e.reason,
        other => panic!("expected InvalidKey, got {other:?}"),
    };
    assert_eq!(
        fault(&mut c, commitment, vk[..700].to_vec()),
        key_fault::LENGTH
    );
    assert_eq!(
        fault(&mut c, B256::from(SCALAR_MODULUS), vk.to_vec()),
        key_fault::COMMITMENT
    );
    let mut big = vk.to_vec();
    big[vk_offset::IC + 64..vk_offset::IC + 96].copy_from_slice(&FIELD_MODULUS.to_be_bytes::<32>());
    assert_eq!(fault(&mut c, commitment, big), key_fault::COORDINATE);
    let mut off_curve = vk.to_vec();
    off_curve[vk_offset::IC + 3 * G1_LEN + 63] ^= 1;
    assert_eq!(fault(&mut c, commitment, off_curve), key_fault::POINTS);
    let mut off_twist = vk.to_vec();
    off_twist[vk_offset::DELTA + 127] ^= 1;
    assert_eq!(fault(&mut c, commitment, off_twist), key_fault::POINTS);
    let mut no_alpha = vk.to_vec();
    no_alpha[..G1_LEN].fill(0);
    assert_eq!(fault(&mut c, commitment, no_alpha), key_fault::POINTS);
    let mut no_delta = vk.to_vec();
    no_delta[vk_offset::DELTA..vk_offset::IC].fill(0);
    assert_eq!(fault(&mut c, commitment, no_delta), key_fault::POINTS);
    // Any IC point at infinity (a zero ICᵢ₊₁ drops public input i from the statement).
    for i in 0..4 {
        let mut no_ic = vk.to_vec();
        no_ic[vk_offset::IC + i * G1_LEN..vk_offset::IC + (i + 1) * G1_LEN].fill(0);
        assert_eq!(
            fault(&mut c, commitment, no_ic),
            key_fault::IC_INFINITY,
            "IC{i}"
        );
    }
    assert_eq!(c.key(model), (B256::ZERO, Bytes::new()));

    c.register_key(model, commitment, vk.clone()).unwrap();
    let logs = vm.get_emitted_logs();
    let (topics, data) = logs.last().unwrap();
    assert_eq!(topics[0], KeyRegistered::SIGNATURE_HASH);
    let event = KeyRegistered::decode_raw_log(topics.iter().copied(), data).unwrap();
    assert_eq!(
        (
            event.modelVersion,
            event.owner,
            event.contentHash,
            event.weightsCommitment,
            event.keyHash
        ),
        (
            model,
            OWNER,
            B256::repeat_byte(0xa0),
            commitment,
            keccak256(&vk)
        )
    );
    assert_eq!(c.key(model), (commitment, vk.clone()));
    assert!(matches!(
        c.register_key(model, commitment, vk),
        Err(Error::AlreadyRegistered(e)) if e.modelVersion == model
    ));
    let vm2 = TestVM::default();
    assert!(matches!(
        Groth16Verifier::from(&vm2).constructor(Address::ZERO),
        Err(Error::ZeroAddress(_))
    ));
}

#[test]
fn verify_matches_arkworks_on_valid_wrong_foreign_tampered_and_malformed_proofs() {
    let f = fixture();
    let (vm, mut c) = deployed();
    register(&vm, &mut c, MODEL_A, &f.a, &f.keys);
    register(&vm, &mut c, MODEL_B, &f.b, &f.keys);
    let (ca, cb) = (word_of(f.a.commitment()), word_of(f.b.commitment()));
    let proof_a = proof_bytes(&f.proven_a.proof);
    let proof_b = proof_bytes(&f.proven_b.proof);
    let inputs_a = receipt(MODEL_A, &f.proven_a.statement);

    assert!(verdict(&c, &f.keys, ca, &inputs_a, &proof_a), "valid proof");
    assert!(verdict(
        &c,
        &f.keys,
        cb,
        &receipt(MODEL_B, &f.proven_b.statement),
        &proof_b
    ));

    // Wrong output: the receipt claims another output hash.
    let mut wrong = f.proven_a.output.clone();
    wrong[0] += 1;
    let lie = Statement {
        output_hash: output_hash(&wrong),
        ..f.proven_a.statement
    };
    assert!(!verdict(&c, &f.keys, ca, &receipt(MODEL_A, &lie), &proof_a));
    // A proof for model B presented for model A (same input and B's output), and B's receipt under A.
    let b_as_a = receipt(MODEL_A, &f.proven_b.statement);
    assert!(!verdict(&c, &f.keys, ca, &b_as_a, &proof_b));
    assert!(!verdict(
        &c,
        &f.keys,
        cb,
        &receipt(MODEL_B, &f.proven_a.statement),
        &proof_a
    ));
    // An unregistered model version.
    assert!(!c.verify(
        receipt(MODEL_A + 100, &f.proven_a.statement),
        proof_a.to_vec().into()
    ));

    // Tampered proofs: one bit in each coordinate of A, B and C.
    for at in (0..PROOF_LEN).step_by(32).map(|i| i + 31) {
        let mut p = proof_a.to_vec();
        p[at] ^= 1;
        assert!(
            !verdict(&c, &f.keys, ca, &inputs_a, &p),
            "bit flipped at {at}"
        );
    }
    // A valid proof's points in another order, and A negated.
    let mut swapped = proof_a.to_vec();
    swapped[..64].copy_from_slice(&proof_a[192..]);
    swapped[192..].copy_from_slice(&proof_a[..64]);
    assert!(!verdict(&c, &f.keys, ca, &inputs_a, &swapped));
    let mut negated = proof_a.to_vec();
    let y = U256::from_be_slice(&proof_a[32..64]);
    negated[32..64].copy_from_slice(&(FIELD_MODULUS - y).to_be_bytes::<32>());
    assert!(!verdict(&c, &f.keys, ca, &inputs_a, &negated));

    // Malformed: lengths, a coordinate ≥ q, zero proof, hashes ≥ r.
    assert!(!c.verify(inputs_a.clone(), proof_a[..255].to_vec().into()));
    assert!(!c.verify(inputs_a.clone(), [proof_a.as_slice(), &[0]].concat().into()));
    assert!(!c.verify(inputs_a[..287].to_vec().into(), proof_a.to_vec().into()));
    assert!(!c.verify(Bytes::new(), Bytes::new()));
    let mut big = proof_a.to_vec();
    big[..32].copy_from_slice(&FIELD_MODULUS.to_be_bytes::<32>());
    assert!(!verdict(&c, &f.keys, ca, &inputs_a, &big));
    assert!(!verdict(&c, &f.keys, ca, &inputs_a, &[0u8; PROOF_LEN]));
    for word in [2usize, 3] {
        let mut alias = inputs_a.to_vec();
        // The same scalar plus r: must not verify (no reduction mod r).
        let v = U256::from_be_slice(&alias[32 * word..32 * (word + 1)]);
        if let Some(aliased) = v.checked_add(SCALAR_MODULUS) {
            alias[32 * word..32 * (word + 1)].copy_from_slice(&aliased.to_be_bytes::<32>());
            assert!(
                !verdict(&c, &f.keys, ca, &alias.into(), &proof_a),
                "word {word} + r"
            );
        }
    }
}

#[test]
fn proof_with_zero_scalars_and_many_inputs_agrees_with_arkworks() {
    // Several inputs (including all-zero) through one key: every valid proof verifies, every proof under another
    // input's receipt fails, and the contract agrees with arkworks each time.
    let f = fixture();
    let (vm, mut c) = deployed();
    register(&vm, &mut c, MODEL_A, &f.a, &f.keys);
    let ca = word_of(f.a.commitment());
    let mut rng = rng();
    let inputs = [[0i8; 4], [127, 127, 127, 127], [-128, 0, 1, -1]];
    let proven: Vec<Proven> = inputs
        .iter()
        .map(|x| snark::prove(&f.keys.proving, &f.a, x, &mut rng).unwrap())
        .collect();
    for (i, p) in proven.iter().enumerate() {
        for (j, q) in proven.iter().enumerate() {
            let ok = verdict(
                &c,
                &f.keys,
                ca,
                &receipt(MODEL_A, &q.statement),
                &proof_bytes(&p.proof),
            );
            assert_eq!(ok, i == j, "proof {i} under receipt {j}");
        }
    }
    assert!(mock::with(|m| m.precompile_calls) > 0);
}
