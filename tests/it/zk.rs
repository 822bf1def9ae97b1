//! Zero-knowledge verification as real WASM on devnode: Groth16Verifier (deployed by Verity's plan) checks real
//! Groth16 proofs made in the test by `verity-zk` — a quantized MLP whose VZK1 weights file is what the registry's
//! content hash names — through the BN254 precompiles 0x06/0x07/0x08 called from the Stylus program. A paid
//! mode-ZK request is proven with a Groth16 proof and settled; a wrong output, a proof for another model version,
//! a tampered and a malformed proof are each rejected with `SettlementProofRejected`; the contract's `verify`
//! agrees with arkworks' native verifier on valid and tampered proofs.

use alloy::{
    network::Ethereum,
    primitives::{keccak256, Bytes, B256, U256},
    providers::Provider,
    signers::{local::PrivateKeySigner, SignerSync},
    sol_types::{eip712_domain, SolCall, SolStruct},
};
use verity::bench::{prover_timing, register_model, zk_gas, ZkGasSetup, VERIFY_GAS_GOAL};
use verity_abi::{
    groth16::{
        key_fault, Groth16AlreadyRegistered, Groth16InvalidKey, Groth16NotModelOwner,
        Groth16UnknownModel, IRegistryVersion, KeyRegistered, FIELD_MODULUS, SCALAR_MODULUS,
    },
    rpc::{IGroth16Verifier, IInferenceSettlement, IModelRegistry, ISettlementNodes},
    settlement::{
        encode_signed_receipt, mode, request_status, zk_public_inputs, Proven, Receipt,
        SettlementProofRejected, SettlementReceiptMismatch, SignedReceipt,
    },
};
use verity_zk::{
    evm::{proof_bytes, proof_from, vk_bytes},
    field::{fr_from_word, word_of},
    model::{output_hash, Model},
    rand::{rngs::StdRng, SeedableRng},
    snark::{self, Keys, Proven as ZkProven, Statement},
};

use crate::support::{events, expect_error, now, tx, Harness};

const GOV: usize = 0; // deployer: governance, registry attester and keeper
const NODE: usize = 1;
const PAYER: usize = 2;
const OWNER: usize = 3; // submits the models and registers their keys
const OUTSIDER: usize = 4;

const WINDOW: u64 = 6 * 3_600; // default challenge window

/// The example model's input width.
const INPUTS: u8 = 4;

fn fee() -> U256 {
    U256::from(5_000_000_000_000_000u64)
}

/// Verity on devnode, two registered models of one shape (A and B), their Groth16 keys, and NODE with an approved
/// TEE key.
struct Zk<P> {
    h: Harness,
    groth16: Vec<IGroth16Verifier::IGroth16VerifierInstance<P, Ethereum>>,
    settlement: Vec<IInferenceSettlement::IInferenceSettlementInstance<P, Ethereum>>,
    chain_id: u64,
    tee: PrivateKeySigner,
    keys: Keys,
    a: Model,
    b: Model,
    version_a: U256,
    version_b: U256,
}

async fn zk_world() -> Zk<impl Provider + Clone> {
    let h = Harness::start().await;
    let chain_id = h.wallet(GOV).get_chain_id().await.unwrap();
    let a = Model::example(INPUTS, 8, 3, 1);
    let b = Model::example(INPUTS, 8, 3, 2);
    let keys = snark::setup(a.shape(), &mut StdRng::seed_from_u64(7)).unwrap();
    let registry = h.address("registry");
    let (owner, gov) = (h.wallet(OWNER), h.wallet(GOV));
    let version_a = register_model(&owner, &gov, registry, keccak256("zk-model-a"), &a)
        .await
        .unwrap();
    let version_b = register_model(&owner, &gov, registry, keccak256("zk-model-b"), &b)
        .await
        .unwrap();
    let nodes = ISettlementNodes::new(h.address("settlement-nodes"), h.wallet(NODE));
    let stake = nodes.config().call().await.unwrap()._5;
    let tee = PrivateKeySigner::random();
    let key_proof = verity_abi::rpc::key_registration_proof(
        &tee,
        chain_id,
        h.address("settlement-nodes"),
        h.account(NODE),
    )
    .unwrap();
    tx!(nodes.registerNode(tee.address(), key_proof).value(stake));
    let nodes_gov = ISettlementNodes::new(h.address("settlement-nodes"), h.wallet(GOV));
    tx!(nodes_gov.approveKey(tee.address(), keccak256("enclave measurement")));
    Zk {
        groth16: (0..5)
            .map(|i| IGroth16Verifier::new(h.address("groth16"), h.wallet(i)))
            .collect(),
        settlement: (0..5)
            .map(|i| IInferenceSettlement::new(h.address("settlement"), h.wallet(i)))
            .collect(),
        h,
        chain_id,
        tee,
        keys,
        a,
        b,
        version_a,
        version_b,
    }
}

impl<P: Provider + Clone> Zk<P> {
    fn vk(&self) -> Bytes {
        vk_bytes(&self.keys.verifying).unwrap().to_vec().into()
    }

    /// OWNER registers `model`'s key for `version`; governance points settlement at the verifier for it.
    async fn register(&self, version: U256, model: &Model) {
        tx!(self.groth16[OWNER].registerKey(version, word_of(model.commitment()), self.vk()));
        tx!(self.settlement[GOV].setVerifier(version, self.h.address("groth16")));
    }

    fn prove(&self, model: &Model, input: &[i8], seed: u64) -> ZkProven {
        snark::prove(
            &self.keys.proving,
            model,
            input,
            &mut StdRng::seed_from_u64(seed),
        )
        .unwrap()
    }

    /// PAYER opens a mode-ZK request for `version` on input hash `input_hash`.
    async fn request(&self, id: B256, version: U256, input_hash: B256) {
        tx!(self.settlement[PAYER]
            .request(id, self.h.account(NODE), version, input_hash, mode::ZK)
            .value(fee()));
    }

    fn receipt(
        &self,
        id: B256,
        version: U256,
        input: B256,
        output: B256,
        signed_at: u64,
    ) -> Receipt {
        Receipt {
            requestId: id,
            modelVersion: version,
            inputHash: input,
            outputHash: output,
            payer: self.h.account(PAYER),
            node: self.h.account(NODE),
            fee: fee(),
            mode: mode::ZK,
            signedAt: signed_at,
        }
    }

    /// The receipt signed by the TEE key (EIP-712, settlement's domain), in its on-chain encoding.
    fn sign(&self, r: &Receipt) -> Bytes {
        let domain = eip712_domain! {
            name: "Verity",
            version: "1",
            chain_id: self.chain_id,
            verifying_contract: self.h.address("settlement"),
        };
        let sig = self
            .tee
            .sign_hash_sync(&r.eip712_signing_hash(&domain))
            .unwrap();
        encode_signed_receipt(&SignedReceipt {
            receipt: r.clone(),
            v: 27 + u8::from(sig.v()),
            r: B256::from(sig.r()),
            s: B256::from(sig.s()),
        })
        .to_vec()
        .into()
    }

    async fn status(&self, id: B256) -> u8 {
        self.settlement[GOV].getRequest(id).call().await.unwrap()._6
    }

    /// `proveWithReceipt` must fail with `ProofRejected(version)`.
    async fn rejected(&self, signed: &Bytes, proof: Vec<u8>, version: U256, what: &str) {
        let err: SettlementProofRejected = expect_error(
            self.settlement[NODE]
                .proveWithReceipt(signed.clone(), proof.into())
                .call()
                .await,
        );
        assert_eq!(err.modelVersion, version, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn groth16_keys_are_registered_by_the_model_submitter_once() {
    let w = zk_world().await;
    let (version, commitment) = (w.version_a, word_of(w.a.commitment()));
    // The verifier reads the registry's `version(id)` with the registry's own selector.
    assert_eq!(
        IRegistryVersion::versionCall::SELECTOR,
        IModelRegistry::versionCall::SELECTOR
    );
    let e: Groth16NotModelOwner = expect_error(
        w.groth16[OUTSIDER]
            .registerKey(version, commitment, w.vk())
            .call()
            .await,
    );
    assert_eq!(
        (e.modelVersion, e.account),
        (version, w.h.account(OUTSIDER))
    );
    let _: Groth16NotModelOwner = expect_error(
        w.groth16[GOV]
            .registerKey(version, commitment, w.vk())
            .call()
            .await,
    );
    let e: Groth16UnknownModel = expect_error(
        w.groth16[OWNER]
            .registerKey(U256::from(999), commitment, w.vk())
            .call()
            .await,
    );
    assert_eq!(e.modelVersion, U256::from(999));
    let e: Groth16InvalidKey = expect_error(
        w.groth16[OWNER]
            .registerKey(version, commitment, w.vk()[..700].to_vec().into())
            .call()
            .await,
    );
    assert_eq!(e.reason, key_fault::LENGTH);
    // A point off its curve is refused by the pairing precompile, called from the program.
    let mut off_curve = w.vk().to_vec();
    off_curve[703] ^= 1;
    let e: Groth16InvalidKey = expect_error(
        w.groth16[OWNER]
            .registerKey(version, commitment, off_curve.into())
            .call()
            .await,
    );
    assert_eq!(e.reason, key_fault::POINTS);

    let receipt = tx!(w.groth16[OWNER].registerKey(version, commitment, w.vk()));
    let registered = &events::<KeyRegistered>(&receipt)[0];
    let info = IModelRegistry::new(w.h.address("registry"), w.h.wallet(GOV))
        .version(version)
        .call()
        .await
        .unwrap();
    assert_eq!(
        info.contentHash,
        w.a.content_hash(),
        "the weights file's keccak256"
    );
    assert_eq!(
        (
            registered.modelVersion,
            registered.owner,
            registered.contentHash
        ),
        (version, info.submitter, info.contentHash),
        "the verifier read the registry's submitter and content hash"
    );
    assert_eq!(registered.weightsCommitment, commitment);
    assert_eq!(registered.keyHash, keccak256(w.vk()));
    let key = w.groth16[GOV].key(version).call().await.unwrap();
    assert_eq!((key._0, key._1), (commitment, w.vk()));
    let e: Groth16AlreadyRegistered = expect_error(
        w.groth16[OWNER]
            .registerKey(version, commitment, w.vk())
            .call()
            .await,
    );
    assert_eq!(e.modelVersion, version);
}

#[tokio::test(flavor = "multi_thread")]
async fn paid_zk_request_proven_by_a_groth16_proof_and_bad_proofs_rejected() {
    let w = zk_world().await;
    w.register(w.version_a, &w.a).await;
    w.register(w.version_b, &w.b).await;
    let (va, vb) = (w.version_a, w.version_b);
    let input = [3i8, -7, 100, -128];
    let honest = w.prove(&w.a, &input, 1);
    let other_model = w.prove(&w.b, &input, 2);
    let s = honest.statement;
    assert_ne!(s.output_hash, other_model.statement.output_hash);

    // Request 1: answered honestly.
    let id = keccak256("zk-request-1");
    w.request(id, va, s.input_word()).await;
    tx!(w.settlement[NODE].answer(id, s.output_word()));
    let t = now(&w.h).await;
    let signed = w.sign(&w.receipt(id, va, s.input_word(), s.output_word(), t));
    let proof = proof_bytes(&honest.proof).to_vec();

    // A proof for another model version (B's, same input) under model A's receipt.
    w.rejected(
        &signed,
        proof_bytes(&other_model.proof).to_vec(),
        va,
        "model B's proof",
    )
    .await;
    // Tampered: one bit of C's x coordinate, of A's y coordinate, of B's first coordinate.
    for at in [192 + 31, 63, 64 + 31] {
        let mut tampered = proof.clone();
        tampered[at] ^= 1;
        w.rejected(&signed, tampered, va, "tampered").await;
    }
    // Malformed: short, long, empty, all zero, a coordinate ≥ q.
    let mut big = proof.clone();
    big[..32].copy_from_slice(&FIELD_MODULUS.to_be_bytes::<32>());
    for bad in [
        proof[..255].to_vec(),
        [proof.as_slice(), &[0]].concat(),
        Vec::new(),
        vec![0; 256],
        big,
    ] {
        w.rejected(&signed, bad, va, "malformed").await;
    }
    assert_eq!(w.status(id).await, request_status::ANSWERED);

    // The real proof: Proven in mode ZK, then settled after the window.
    let receipt = tx!(w.settlement[OUTSIDER].proveWithReceipt(signed, proof.clone().into()));
    let proven = &events::<Proven>(&receipt)[0];
    assert_eq!((proven.requestId, proven.mode), (id, mode::ZK));
    assert_eq!(w.status(id).await, request_status::PROVEN);
    w.h.advance(WINDOW + 1).await;
    tx!(w.settlement[OUTSIDER].settle(id));
    assert_eq!(w.status(id).await, request_status::SETTLED);
    assert_eq!(
        w.settlement[GOV]
            .credit(w.h.account(NODE))
            .call()
            .await
            .unwrap(),
        fee()
    );

    // Request 2: the node answers a wrong output; its (validly signed) receipt has no proof.
    let id2 = keccak256("zk-request-2");
    w.request(id2, va, s.input_word()).await;
    let mut lie = honest.output.clone();
    lie[0] += 1;
    let lie_hash = word_of(output_hash(&lie));
    tx!(w.settlement[NODE].answer(id2, lie_hash));
    let t = now(&w.h).await;
    let lying = w.sign(&w.receipt(id2, va, s.input_word(), lie_hash, t));
    w.rejected(&lying, proof.clone(), va, "wrong output").await;
    // The true output does not match what the node answered.
    let truthful = w.sign(&w.receipt(id2, va, s.input_word(), s.output_word(), t));
    let e: SettlementReceiptMismatch = expect_error(
        w.settlement[NODE]
            .proveWithReceipt(truthful, proof.clone().into())
            .call()
            .await,
    );
    assert_eq!(e.field, 3);

    // Request 3 on model B, whose key is registered: A's proof of the same input is refused, B's accepted.
    let sb = other_model.statement;
    let id3 = keccak256("zk-request-3");
    w.request(id3, vb, sb.input_word()).await;
    let t = now(&w.h).await;
    let on_b = w.sign(&w.receipt(id3, vb, sb.input_word(), s.output_word(), t));
    w.rejected(&on_b, proof.clone(), vb, "model A's proof on model B")
        .await;
    let on_b = w.sign(&w.receipt(id3, vb, sb.input_word(), sb.output_word(), t));
    tx!(w.settlement[NODE].proveWithReceipt(on_b, proof_bytes(&other_model.proof).to_vec().into()));
    assert_eq!(w.status(id3).await, request_status::PROVEN);

    // Request 4: the input hash plus r (the same scalar if reduced) is not a scalar: refused, never aliased.
    let aliased = U256::from_be_bytes(s.input_word().0) + SCALAR_MODULUS;
    let id4 = keccak256("zk-request-4");
    w.request(id4, va, B256::from(aliased)).await;
    let t = now(&w.h).await;
    let alias = w.sign(&w.receipt(id4, va, B256::from(aliased), s.output_word(), t));
    w.rejected(&alias, proof, va, "input hash + r").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deployed_verify_agrees_with_arkworks_on_valid_and_tampered_proofs() {
    let w = zk_world().await;
    w.register(w.version_a, &w.a).await;
    let verifier = &w.groth16[OUTSIDER];
    let inputs: [[i8; 4]; 3] = [[0, 0, 0, 0], [127, -128, 1, -1], [-50, 60, -70, 80]];
    let proven: Vec<ZkProven> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| w.prove(&w.a, x, 10 + i as u64))
        .collect();
    let public = |st: &Statement| -> Bytes {
        zk_public_inputs(&w.receipt(
            B256::repeat_byte(9),
            w.version_a,
            st.input_word(),
            st.output_word(),
            1,
        ))
        .into()
    };
    let native = |st: &Statement, proof: &[u8]| -> bool {
        let (Some(input_hash), Some(output_hash), Ok(proof)) = (
            fr_from_word(st.input_word()),
            fr_from_word(st.output_word()),
            proof_from(proof),
        ) else {
            return false;
        };
        let statement = Statement {
            weights_commitment: w.a.commitment(),
            input_hash,
            output_hash,
        };
        snark::verify(&w.keys.verifying, &statement, &proof).unwrap()
    };
    let (mut accepted, mut refused) = (0, 0);
    for (i, p) in proven.iter().enumerate() {
        let valid = proof_bytes(&p.proof).to_vec();
        let mut cases: Vec<(Statement, Vec<u8>)> = vec![(p.statement, valid.clone())];
        for at in [31, 63, 64 + 31, 128 + 31, 192 + 31, 255] {
            let mut t = valid.clone();
            t[at] ^= 1 << (i % 8);
            cases.push((p.statement, t));
        }
        // Under the other inputs' statements.
        for q in proven.iter().filter(|q| q.statement != p.statement) {
            cases.push((q.statement, valid.clone()));
        }
        for (statement, proof) in cases {
            let on_chain = verifier
                .verify(public(&statement), proof.clone().into())
                .call()
                .await
                .unwrap();
            assert_eq!(on_chain, native(&statement, &proof), "case {i}");
            if on_chain {
                accepted += 1;
            } else {
                refused += 1;
            }
        }
    }
    assert_eq!(accepted, proven.len(), "every valid proof and only those");
    assert!(refused >= 3 * 8, "{refused} refused");
    // No key for this version: false, not a revert.
    let unknown = zk_public_inputs(&w.receipt(
        B256::ZERO,
        U256::from(12_345),
        proven[0].statement.input_word(),
        proven[0].statement.output_word(),
        1,
    ));
    assert!(!verifier
        .verify(
            unknown.into(),
            proof_bytes(&proven[0].proof).to_vec().into()
        )
        .call()
        .await
        .unwrap());
    assert!(!verifier
        .verify(Bytes::new(), Bytes::new())
        .call()
        .await
        .unwrap());
}

/// The benchmark's ZK flow on devnode (`verity bench`'s rows): a paid request proven with a Groth16 proof through
/// the deployed contracts, and one `verify` within [`VERIFY_GAS_GOAL`]. Gas is deterministic (fixed-seed keys and
/// proof); the prover's time is `verity bench`'s alone (`verity::bench::prover_timing`), never asserted.
#[tokio::test(flavor = "multi_thread")]
async fn zk_bench_flow_proves_and_verify_gas_is_within_the_goal() {
    let h = Harness::start().await;
    let signer = |i: usize| h.accounts[i].signer.clone();
    let figures = zk_gas(&ZkGasSetup {
        url: h.node.url().to_string(),
        governance: signer(GOV),
        owner: signer(OWNER),
        node: signer(NODE),
        payer: signer(PAYER),
        registry: h.address("registry"),
        nodes: h.address("settlement-nodes"),
        settlement: h.address("settlement"),
        groth16: h.address("groth16"),
    })
    .await
    .expect("the ZK flow runs on devnode");
    println!("zk figures: {figures:?}");
    // The precompiles alone: pairing 45,000 + 4 × 34,000, three scalar multiplications and additions.
    assert!(figures.verify_gas > 199_450, "{}", figures.verify_gas);
    assert!(
        figures.verify_gas <= VERIFY_GAS_GOAL,
        "{}",
        figures.verify_gas
    );
    assert!(figures.prove_with_receipt_gas > figures.verify_gas);
    // The prover's timing row runs (its figure is `verity bench`'s to judge, not this test's).
    let timing = prover_timing().expect("the example model proves");
    assert_eq!(timing.goals.len(), 1);
    assert!(
        timing.goals[0].goal.contains("9612 constraints"),
        "{:?}",
        timing.goals
    );
}
