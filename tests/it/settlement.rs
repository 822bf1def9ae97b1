//! InferenceSettlement as real WASM on devnode (SettlementNodes, ReceiptBatches, InferenceSettlement and the
//! CommitteeVerifier, deployed and wired by Verity's plan next to the ModelRegistry), driven over JSON-RPC as
//! wallets do. Receipts are signed with alloy's EIP-712 signer (`SolStruct::eip712_signing_hash` under
//! `eip712_domain!`) by a real secp256k1 TEE key and recovered on-chain through the ecrecover precompile. Every
//! revert is decoded into its typed error; escrow is checked against open obligations read from chain.

use alloy::{
    network::Ethereum,
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    signers::{local::PrivateKeySigner, SignerSync},
    sol_types::{eip712_domain, SolStruct},
};
use verity_abi::{
    registry::{Format, Relation},
    rpc::{
        ICommitteeVerifier, IInferenceSettlement, IModelRegistry, IReceiptBatches, ISettlementNodes,
    },
    settlement::{
        batch_status, batches::BatchVoided, committee, encode_signed_receipt, encoded_leaf_hash,
        mode, request_status, void_reason, zk_public_inputs, Receipt, SettlementAlreadyFinal,
        SettlementAlreadySettled, SettlementInvalidReceipt, SettlementUnauthorized,
        SettlementUnauthorizedCaller, SettlementUnauthorizedKeeper, SettlementUnauthorizedNode,
        SignedReceipt, StandardMerkleTree,
    },
};

use crate::support::{events, expect_error, now, tx, Harness};

pub(crate) const GOV: usize = 0; // deployer: governance, registry attester/keeper, batch keeper, committee member
pub(crate) const NODE: usize = 1;
pub(crate) const PAYER: usize = 2;
pub(crate) const CHALLENGER: usize = 3;
pub(crate) const OUTSIDER: usize = 4;

pub(crate) const HOUR: u64 = 3_600;
pub(crate) const WINDOW: u64 = 6 * HOUR; // default challenge window of requests and batches
pub(crate) const DEADLINE: u64 = 24 * HOUR; // default answer deadline

pub(crate) fn eth_milli(n: u64) -> U256 {
    U256::from(n) * U256::from(1_000_000_000_000_000u64)
}

/// Registers model version `version` of "settle-model" through the registry's two stages (the deployer is
/// attester and keeper on a dev deployment); returns its id.
async fn registered_model(h: &Harness) -> U256 {
    let registry = IModelRegistry::new(h.address("registry"), h.wallet(GOV));
    let mut name = [0u8; 32];
    name[..12].copy_from_slice(b"settle-model");
    let content = B256::repeat_byte(0xc1);
    let min_fee = verity_script::deploy::verity::RegistryParams::default().min_fee;
    let receipt = tx!(registry
        .submit(
            B256::from(name),
            1,
            vec![],
            Relation::Original.code(),
            content,
            4_096,
            Bytes::from_static(b"ipfs://weights"),
            Format::Safetensors.code(),
            B256::repeat_byte(0x11),
            B256::repeat_byte(0x22),
            B256::repeat_byte(0x33),
            B256::repeat_byte(0x44),
            Bytes::from_static(b"ipfs://card"),
            vec![],
        )
        .value(min_fee));
    let id = events::<verity_abi::registry::VersionSubmitted>(&receipt)[0].id;
    let expiry = now(h).await + 365 * 86_400;
    tx!(registry.confirmStorage(id, content, 4_096, expiry));
    tx!(registry.finalizeRegistrations(vec![id]));
    assert!(registry.isUsable(id).call().await.unwrap());
    id
}

/// Signs `receipt` with the TEE key as a wallet would: alloy's EIP-712 hashing under the "Verity"/"1" domain of
/// the InferenceSettlement contract on this chain.
pub(crate) fn sign(
    key: &PrivateKeySigner,
    chain_id: u64,
    settlement: Address,
    receipt: &Receipt,
) -> Bytes {
    let domain = eip712_domain! {
        name: "Verity",
        version: "1",
        chain_id: chain_id,
        verifying_contract: settlement,
    };
    let hash = receipt.eip712_signing_hash(&domain);
    let sig = key.sign_hash_sync(&hash).expect("sign");
    let signed = SignedReceipt {
        receipt: receipt.clone(),
        v: 27 + u8::from(sig.v()),
        r: B256::from(sig.r()),
        s: B256::from(sig.s()),
    };
    encode_signed_receipt(&signed).to_vec().into()
}

pub(crate) struct World<P> {
    pub(crate) h: Harness,
    pub(crate) chain_id: u64,
    pub(crate) tee: PrivateKeySigner,
    pub(crate) model: U256,
    pub(crate) nodes: Vec<ISettlementNodes::ISettlementNodesInstance<P, Ethereum>>,
    pub(crate) batches: Vec<IReceiptBatches::IReceiptBatchesInstance<P, Ethereum>>,
    pub(crate) settlement: Vec<IInferenceSettlement::IInferenceSettlementInstance<P, Ethereum>>,
}

/// Verity deployed by its plan, a model registered, NODE registered with a fresh TEE key approved by governance.
pub(crate) async fn world() -> World<impl Provider + Clone> {
    let h = Harness::start().await;
    let chain_id = h.wallet(0).get_chain_id().await.unwrap();
    let model = registered_model(&h).await;
    let nodes: Vec<_> = (0..5)
        .map(|i| ISettlementNodes::new(h.address("settlement-nodes"), h.wallet(i)))
        .collect();
    let batches: Vec<_> = (0..5)
        .map(|i| IReceiptBatches::new(h.address("settlement-batches"), h.wallet(i)))
        .collect();
    let settlement: Vec<_> = (0..5)
        .map(|i| IInferenceSettlement::new(h.address("settlement"), h.wallet(i)))
        .collect();
    let config = nodes[GOV].config().call().await.unwrap();
    assert_eq!(
        config._2,
        h.address("settlement"),
        "the plan wired nodes.setSettlement"
    );
    assert_eq!(
        nodes[GOV].domainSeparator().call().await.unwrap(),
        eip712_domain! {
            name: "Verity",
            version: "1",
            chain_id: chain_id,
            verifying_contract: h.address("settlement"),
        }
        .separator()
    );
    let tee = PrivateKeySigner::random();
    let key_proof = verity_abi::rpc::key_registration_proof(
        &tee,
        chain_id,
        h.address("settlement-nodes"),
        h.account(NODE),
    )
    .unwrap();
    tx!(nodes[NODE]
        .registerNode(tee.address(), key_proof)
        .value(config._5));
    tx!(nodes[GOV].approveKey(tee.address(), keccak256("enclave measurement")));
    assert!(nodes[GOV].nodeActive(h.account(NODE)).call().await.unwrap());
    World {
        h,
        chain_id,
        tee,
        model,
        nodes,
        batches,
        settlement,
    }
}

impl<P: Provider + Clone> World<P> {
    pub(crate) fn receipt(
        &self,
        request_id: B256,
        output: &str,
        receipt_mode: u8,
        signed_at: u64,
    ) -> Receipt {
        Receipt {
            requestId: request_id,
            modelVersion: self.model,
            inputHash: keccak256("prompt"),
            outputHash: keccak256(output),
            payer: self.h.account(PAYER),
            node: self.h.account(NODE),
            fee: eth_milli(5),
            mode: receipt_mode,
            signedAt: signed_at,
        }
    }

    pub(crate) fn sign(&self, r: &Receipt) -> Bytes {
        sign(&self.tee, self.chain_id, self.h.address("settlement"), r)
    }

    pub(crate) async fn request(&self, request_id: B256, receipt_mode: u8) {
        tx!(self.settlement[PAYER]
            .request(
                request_id,
                self.h.account(NODE),
                self.model,
                keccak256("prompt"),
                receipt_mode
            )
            .value(eth_milli(5)));
    }

    pub(crate) async fn status(&self, request_id: B256) -> u8 {
        self.settlement[GOV]
            .getRequest(request_id)
            .call()
            .await
            .unwrap()
            ._6
    }

    pub(crate) async fn balance(&self, a: Address) -> U256 {
        self.h.wallet(0).get_balance(a).await.unwrap()
    }

    /// Escrow == open obligations, from chain state, for each of the three ETH-holding contracts: settlement
    /// holds the fees of open requests, the bonds of disputed ones and credits; nodes the stakes plus credits; batches the bonds of anchored
    /// batches plus credits. Each balance equals its `escrowed()`.
    pub(crate) async fn assert_escrow(&self, request_ids: &[B256]) {
        let s = &self.settlement[GOV];
        let mut open = U256::ZERO;
        for id in request_ids {
            let r = s.getRequest(*id).call().await.unwrap();
            if matches!(
                r._6,
                request_status::REQUESTED
                    | request_status::ANSWERED
                    | request_status::PROVEN
                    | request_status::DISPUTED
            ) {
                open += r._3;
            }
            if r._6 == request_status::DISPUTED {
                open += r._10;
            }
        }
        let (mut s_credits, mut n_credits, mut b_credits, mut stakes) =
            (U256::ZERO, U256::ZERO, U256::ZERO, U256::ZERO);
        for i in 0..5 {
            let a = self.h.account(i);
            s_credits += s.credit(a).call().await.unwrap();
            n_credits += self.nodes[GOV].credit(a).call().await.unwrap();
            b_credits += self.batches[GOV].credit(a).call().await.unwrap();
            stakes += self.nodes[GOV].node(a).call().await.unwrap()._1;
        }
        let escrowed = s.config().call().await.unwrap()._10;
        assert_eq!(
            escrowed,
            open + s_credits,
            "settlement escrow == open fees + dispute bonds + credits"
        );
        assert_eq!(self.balance(self.h.address("settlement")).await, escrowed);
        let n_escrowed = self.nodes[GOV].escrowed().call().await.unwrap();
        assert_eq!(
            n_escrowed,
            stakes + n_credits,
            "nodes escrow == stakes + credits"
        );
        assert_eq!(
            self.balance(self.h.address("settlement-nodes")).await,
            n_escrowed
        );
        let b = &self.batches[GOV];
        let count = b.config().call().await.unwrap()._5;
        let mut bonds = U256::ZERO;
        let mut id = U256::from(1);
        while id <= count {
            let batch = b.batch(id).call().await.unwrap();
            if batch._5 == batch_status::ANCHORED {
                bonds += batch._4;
            }
            id += U256::from(1);
        }
        let b_escrowed = b.escrowed().call().await.unwrap();
        assert_eq!(
            b_escrowed,
            bonds + b_credits,
            "batches escrow == anchored bonds + credits"
        );
        assert_eq!(
            self.balance(self.h.address("settlement-batches")).await,
            b_escrowed
        );
    }
}

pub(crate) fn tree(leaves: &[&Bytes]) -> StandardMerkleTree {
    let hashes: Vec<B256> = leaves.iter().map(|l| encoded_leaf_hash(l)).collect();
    StandardMerkleTree::new(&hashes).unwrap()
}

pub(crate) fn proof(t: &StandardMerkleTree, leaf: &Bytes) -> Vec<B256> {
    t.proof(encoded_leaf_hash(leaf)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn paid_request_answered_proven_with_receipt_and_settled() {
    let w = world().await;
    let id = keccak256("request-1");
    w.request(id, mode::TEE).await;
    tx!(w.settlement[NODE].answer(id, keccak256("answer")));
    assert_eq!(w.status(id).await, request_status::ANSWERED);
    w.assert_escrow(&[id]).await;

    // A receipt whose signed time was changed recovers another signer: typed InvalidReceipt(BAD_SIGNATURE).
    let t = now(&w.h).await;
    let good = w.receipt(id, "answer", mode::TEE, t);
    let signed = w.sign(&good);
    let mut tampered = signed.to_vec();
    tampered[8 * 32 + 31] ^= 1; // signedAt
    let err: SettlementInvalidReceipt = expect_error(
        w.settlement[OUTSIDER]
            .proveWithReceipt(tampered.into(), Bytes::new())
            .call()
            .await,
    );
    assert_eq!(err.reason, void_reason::BAD_SIGNATURE);

    // Anyone submits the real receipt: recovered through ecrecover, key approved, model usable at signedAt.
    tx!(w.settlement[OUTSIDER].proveWithReceipt(signed, Bytes::new()));
    assert_eq!(w.status(id).await, request_status::PROVEN);
    w.h.advance(WINDOW + 1).await;
    tx!(w.settlement[OUTSIDER].settle(id));
    assert_eq!(w.status(id).await, request_status::SETTLED);
    let _: SettlementAlreadySettled = expect_error(w.settlement[OUTSIDER].settle(id).call().await);
    w.assert_escrow(&[id]).await;
    let before = w.balance(w.h.account(NODE)).await;
    let receipt = tx!(w.settlement[NODE].withdraw());
    let gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        w.balance(w.h.account(NODE)).await,
        before + eth_milli(5) - gas
    );
    w.assert_escrow(&[id]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_bad_leaf_and_duplicate_voided_final_batch_proves_and_timeout_refunds() {
    let w = world().await;
    let b = &w.batches;
    let bond = b[GOV].config().call().await.unwrap()._4;
    let (q, other) = (keccak256("request-q"), keccak256("request-r"));
    w.request(q, mode::TEE).await;
    let t = now(&w.h).await;
    let good = w.sign(&w.receipt(q, "answer-q", mode::TEE, t));
    let good2 = w.sign(&w.receipt(other, "answer-r", mode::TEE, t));
    // A leaf signed by a key nobody registered.
    let stranger = PrivateKeySigner::random();
    let bad = sign(
        &stranger,
        w.chain_id,
        w.h.address("settlement"),
        &w.receipt(keccak256("forged"), "x", mode::TEE, t),
    );

    // Batch 1 (honest) and batch 2 (a bad leaf) and batch 3 (request q again, another output).
    let t1 = tree(&[&good, &good2]);
    tx!(b[GOV]
        .anchorBatch(t1.root(), 2, "ipfs://batch-1".into())
        .value(bond));
    let t2 = tree(&[&good2, &bad]);
    tx!(b[GOV]
        .anchorBatch(t2.root(), 2, "ipfs://batch-2".into())
        .value(bond));
    let dup = w.sign(&w.receipt(q, "another answer", mode::TEE, t));
    let t3 = tree(&[&dup]);
    tx!(b[GOV]
        .anchorBatch(t3.root(), 1, "ipfs://batch-3".into())
        .value(bond));
    let (one, two, three) = (U256::from(1), U256::from(2), U256::from(3));
    assert_eq!(
        b[GOV]
            .receiptStatus(one, good.clone(), proof(&t1, &good))
            .call()
            .await
            .unwrap(),
        batch_status::ANCHORED
    );
    w.assert_escrow(&[q]).await;

    // An outsider cannot anchor; the good leaf cannot be challenged.
    let _: SettlementUnauthorizedKeeper = expect_error(
        b[OUTSIDER]
            .anchorBatch(t1.root(), 2, "x".into())
            .value(bond)
            .call()
            .await,
    );
    let _ = expect_error::<_, verity_abi::settlement::SettlementLeafValid>(
        b[CHALLENGER]
            .challengeLeaf(one, good.clone(), proof(&t1, &good))
            .call()
            .await,
    );

    // The bad leaf voids batch 2: the on-chain judge (nodes.receiptFault) finds no registered key.
    let receipt = tx!(b[CHALLENGER].challengeLeaf(two, bad.clone(), proof(&t2, &bad)));
    let voided = &events::<BatchVoided>(&receipt)[0];
    assert_eq!(
        (
            voided.batchId,
            voided.challenger,
            voided.reason,
            voided.bond
        ),
        (
            two,
            w.h.account(CHALLENGER),
            void_reason::BAD_SIGNATURE,
            bond
        )
    );
    // The duplicate request id voids the later batch 3.
    let receipt = tx!(b[CHALLENGER].challengeDuplicate(
        one,
        good.clone(),
        proof(&t1, &good),
        three,
        dup.clone(),
        proof(&t3, &dup)
    ));
    let voided = &events::<BatchVoided>(&receipt)[0];
    assert_eq!(
        (voided.batchId, voided.reason, voided.requestId),
        (three, void_reason::DUPLICATE_REQUEST, q)
    );
    assert_eq!(
        b[GOV].batch(three).call().await.unwrap()._5,
        batch_status::VOIDED
    );
    assert_eq!(
        b[GOV].credit(w.h.account(CHALLENGER)).call().await.unwrap(),
        bond * U256::from(2)
    );
    w.assert_escrow(&[q]).await;
    let before = w.balance(w.h.account(CHALLENGER)).await;
    let receipt = tx!(b[CHALLENGER].withdraw());
    let gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(
        w.balance(w.h.account(CHALLENGER)).await,
        before + bond * U256::from(2) - gas,
        "both bonds to the challenger"
    );

    // After the window batch 1 is final (twice: typed AlreadyFinal) and proves the paid request q.
    w.h.advance(WINDOW + 1).await;
    tx!(b[OUTSIDER].finalizeBatch(one));
    let _: SettlementAlreadyFinal = expect_error(b[OUTSIDER].finalizeBatch(one).call().await);
    // A voided batch pays nothing.
    let _ = expect_error::<_, verity_abi::settlement::SettlementBatchNotFinal>(
        w.settlement[OUTSIDER]
            .proveByBatch(three, dup.clone(), proof(&t3, &dup))
            .call()
            .await,
    );
    tx!(w.settlement[OUTSIDER].proveByBatch(one, good.clone(), proof(&t1, &good)));
    assert_eq!(w.status(q).await, request_status::PROVEN);
    tx!(w.settlement[OUTSIDER].settle(q));
    assert_eq!(w.status(q).await, request_status::SETTLED);
    w.assert_escrow(&[q]).await;

    // Timeout: an answered request left unproven is refunded and the node slashed (credited to the payer) once the
    // batches' window after its deadline has passed.
    let late = keccak256("request-late");
    w.request(late, mode::TEE).await;
    let _: SettlementUnauthorizedNode =
        expect_error(w.settlement[OUTSIDER].answer(late, B256::ZERO).call().await);
    tx!(w.settlement[NODE].answer(late, keccak256("never proven")));
    let stake_before = w.nodes[GOV]
        .node(w.h.account(NODE))
        .call()
        .await
        .unwrap()
        ._1;
    // Not before the batches' window after the deadline: a batch anchored by the deadline may still prove it.
    w.h.advance(DEADLINE + 1).await;
    let _: verity_abi::settlement::SettlementTooEarly =
        expect_error(w.settlement[OUTSIDER].refund(late).call().await);
    w.h.advance(WINDOW).await;
    tx!(w.settlement[OUTSIDER].refund(late));
    assert_eq!(w.status(late).await, request_status::REFUNDED);
    let slash = w.settlement[GOV].config().call().await.unwrap()._7;
    assert_eq!(
        w.nodes[GOV]
            .node(w.h.account(NODE))
            .call()
            .await
            .unwrap()
            ._1,
        stake_before - slash
    );
    assert_eq!(
        w.settlement[GOV]
            .credit(w.h.account(PAYER))
            .call()
            .await
            .unwrap(),
        eth_milli(5)
    );
    assert_eq!(
        w.nodes[GOV]
            .credit(w.h.account(PAYER))
            .call()
            .await
            .unwrap(),
        slash
    );
    w.assert_escrow(&[q, late]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn committee_verifier_proves_zk_mode_and_outsiders_are_rejected() {
    let w = world().await;
    let committee_at = w.h.address("settlement-committee");
    let c = ICommitteeVerifier::new(committee_at, w.h.wallet(GOV));
    assert_eq!(c.config().call().await.unwrap()._1, 1);
    let id = keccak256("request-zk");
    w.request(id, mode::ZK).await;
    let t = now(&w.h).await;
    let r = w.receipt(id, "zk answer", mode::ZK, t);
    let signed = w.sign(&r);
    // No verifier registered yet.
    let _ = expect_error::<_, verity_abi::settlement::SettlementProofRejected>(
        w.settlement[OUTSIDER]
            .proveWithReceipt(signed.clone(), Bytes::new())
            .call()
            .await,
    );
    let _: SettlementUnauthorized = expect_error(
        w.settlement[OUTSIDER]
            .setVerifier(w.model, committee_at)
            .call()
            .await,
    );
    tx!(w.settlement[GOV].setVerifier(w.model, committee_at));
    // The committee (the deployer alone, k = 1) attests to abi.encode(receipt) on this chain and contract.
    let inputs = zk_public_inputs(&r);
    let digest = committee::attestation_hash(w.chain_id, committee_at, &inputs);
    assert_eq!(
        c.attestationHash(inputs.clone().into())
            .call()
            .await
            .unwrap(),
        digest
    );
    let sig = w.h.accounts[GOV].signer.sign_hash_sync(&digest).unwrap();
    let mut attestation = sig.r().to_be_bytes::<32>().to_vec();
    attestation.extend_from_slice(&sig.s().to_be_bytes::<32>());
    attestation.push(27 + u8::from(sig.v()));
    assert!(c
        .verify(inputs.clone().into(), attestation.clone().into())
        .call()
        .await
        .unwrap());
    let forged = PrivateKeySigner::random().sign_hash_sync(&digest).unwrap();
    let mut bad = forged.r().to_be_bytes::<32>().to_vec();
    bad.extend_from_slice(&forged.s().to_be_bytes::<32>());
    bad.push(27 + u8::from(forged.v()));
    assert!(!c
        .verify(inputs.into(), bad.clone().into())
        .call()
        .await
        .unwrap());
    let _ = expect_error::<_, verity_abi::settlement::SettlementProofRejected>(
        w.settlement[OUTSIDER]
            .proveWithReceipt(signed.clone(), bad.into())
            .call()
            .await,
    );
    tx!(w.settlement[OUTSIDER].proveWithReceipt(signed, attestation.into()));
    assert_eq!(w.status(id).await, request_status::PROVEN);

    // Outsiders on every contract's gated functions.
    let outsider = w.h.account(OUTSIDER);
    let e: SettlementUnauthorized = expect_error(
        w.nodes[OUTSIDER]
            .approveKey(w.tee.address(), B256::ZERO)
            .call()
            .await,
    );
    assert_eq!(e.account, outsider);
    let _: SettlementUnauthorized =
        expect_error(w.nodes[OUTSIDER].revokeKey(w.tee.address()).call().await);
    let _: SettlementUnauthorizedCaller = expect_error(
        w.nodes[OUTSIDER]
            .slash(w.h.account(NODE), U256::from(1), outsider)
            .call()
            .await,
    );
    let _: SettlementUnauthorized =
        expect_error(w.nodes[OUTSIDER].setSettlement(outsider).call().await);
    let _: SettlementUnauthorized =
        expect_error(w.batches[OUTSIDER].setKeeper(outsider, true).call().await);
    let _: SettlementUnauthorized = expect_error(w.batches[OUTSIDER].setPaused(true).call().await);
    let _: SettlementUnauthorized = expect_error(
        w.settlement[OUTSIDER]
            .setParams(1, 1, U256::ZERO, U256::from(1), 1)
            .call()
            .await,
    );
    let _: SettlementUnauthorized =
        expect_error(w.settlement[OUTSIDER].resolveDispute(id, true).call().await);
    let committee_outsider = ICommitteeVerifier::new(committee_at, w.h.wallet(OUTSIDER));
    let _: SettlementUnauthorized = expect_error(committee_outsider.setThreshold(1).call().await);
    w.assert_escrow(&[id]).await;
}

/// The tree `@openzeppelin/merkle-tree` builds of `leaves` (run through `contracts/abi/testdata/merkle-vectors.js`
/// with the copy `script/test` installs into `.tools/`): `(root, proof of each leaf)`, or why it cannot run.
fn openzeppelin_tree(leaves: &[SignedReceipt]) -> Result<(B256, Vec<Vec<B256>>), String> {
    use std::str::FromStr;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if !root
        .join(".tools/node_modules/@openzeppelin/merkle-tree")
        .exists()
    {
        return Err("@openzeppelin/merkle-tree is not installed in .tools/ (script/test installs it with npm)".into());
    }
    let values: Vec<Vec<String>> = leaves
        .iter()
        .map(|s| {
            let r = &s.receipt;
            vec![
                r.requestId.to_string(),
                r.modelVersion.to_string(),
                r.inputHash.to_string(),
                r.outputHash.to_string(),
                r.payer.to_string(),
                r.node.to_string(),
                r.fee.to_string(),
                r.mode.to_string(),
                r.signedAt.to_string(),
                s.v.to_string(),
                s.r.to_string(),
                s.s.to_string(),
            ]
        })
        .collect();
    let dir = crate::support::ScratchDir::new("oz-merkle");
    let input = dir.0.join("in.json");
    std::fs::write(&input, serde_json::json!({ "values": values }).to_string()).unwrap();
    let out = std::process::Command::new("node")
        .arg(root.join("contracts/abi/testdata/merkle-vectors.js"))
        .arg(&input)
        .output()
        .map_err(|e| format!("node cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "merkle-vectors.js failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tree: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON tree");
    let b = |v: &serde_json::Value| B256::from_str(v.as_str().unwrap()).unwrap();
    let proofs = tree["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["proof"].as_array().unwrap().iter().map(b).collect())
        .collect();
    Ok((b(&tree["root"]), proofs))
}

#[tokio::test(flavor = "multi_thread")]
async fn openzeppelin_merkle_tree_proofs_verify_on_chain() {
    let w = world().await;
    let t = now(&w.h).await;
    let ids: Vec<B256> = (0..5u8).map(|i| keccak256([b'o', i])).collect();
    w.request(ids[2], mode::TEE).await;
    let signed: Vec<SignedReceipt> = ids
        .iter()
        .map(|id| {
            let bytes = w.sign(&w.receipt(*id, "oz", mode::TEE, t));
            verity_abi::settlement::decode_signed_receipt(&bytes).unwrap()
        })
        .collect();
    let (oz_root, oz_proofs) = match openzeppelin_tree(&signed) {
        Ok(tree) => tree,
        Err(reason) => {
            crate::support::skip("openzeppelin_merkle_tree_proofs_verify_on_chain", &reason);
            return;
        }
    };
    let encoded: Vec<Bytes> = signed
        .iter()
        .map(|s| encode_signed_receipt(s).to_vec().into())
        .collect();
    let ours = tree(&encoded.iter().collect::<Vec<_>>());
    assert_eq!(
        ours.root(),
        oz_root,
        "our root equals @openzeppelin/merkle-tree's"
    );
    let b = &w.batches;
    let bond = b[GOV].config().call().await.unwrap()._4;
    tx!(b[GOV]
        .anchorBatch(oz_root, 5, "ipfs://oz".into())
        .value(bond));
    let batch = U256::from(1);
    for (leaf, proof) in encoded.iter().zip(&oz_proofs) {
        assert_eq!(proof, &ours.proof(encoded_leaf_hash(leaf)).unwrap());
        assert_eq!(
            b[GOV]
                .receiptStatus(batch, leaf.clone(), proof.clone())
                .call()
                .await
                .unwrap(),
            batch_status::ANCHORED,
            "an OpenZeppelin proof verifies on-chain"
        );
    }
    w.h.advance(WINDOW + 1).await;
    tx!(b[OUTSIDER].finalizeBatch(batch));
    tx!(w.settlement[OUTSIDER].proveByBatch(batch, encoded[2].clone(), oz_proofs[2].clone()));
    assert_eq!(w.status(ids[2]).await, request_status::PROVEN);
}

/// Gas figures for the benchmark table (printed, not asserted): one batch of N = 150,000 receipts (a month of
/// private inferences at OpenGradient's reported volume) costs one `anchorBatch` and one `finalizeBatch`; the
/// alternative is one `proveWithReceipt` per receipt. One leaf challenge at N = 150,000 carries an 18-sibling
/// proof. The test asserts the challenge works at that depth and prints the gas of each transaction.
#[tokio::test(flavor = "multi_thread")]
async fn batch_of_150k_receipts_anchor_and_challenge_gas() {
    const N: usize = 150_000;
    let w = world().await;
    let t = now(&w.h).await;
    // One paid request proven directly, for the per-receipt comparison.
    let id = keccak256("per-receipt");
    w.request(id, mode::TEE).await;
    let direct = w.sign(&w.receipt(id, "answer", mode::TEE, t));
    let prove_gas =
        tx!(w.settlement[OUTSIDER].proveWithReceipt(direct.clone(), Bytes::new())).gas_used;

    // N leaves: one forged receipt, the rest distinct placeholders (only the challenged leaf is judged).
    let stranger = PrivateKeySigner::random();
    let bad = sign(
        &stranger,
        w.chain_id,
        w.h.address("settlement"),
        &w.receipt(keccak256("forged"), "x", mode::TEE, t),
    );
    let mut hashes: Vec<B256> = (0..N as u64 - 1)
        .map(|i| keccak256(keccak256(i.to_be_bytes())))
        .collect();
    hashes.push(encoded_leaf_hash(&bad));
    let big = StandardMerkleTree::new(&hashes).unwrap();
    let bad_proof = big.proof(encoded_leaf_hash(&bad)).unwrap();
    assert!(
        (17..=18).contains(&bad_proof.len()),
        "depth {}",
        bad_proof.len()
    );
    let b = &w.batches;
    let bond = b[GOV].config().call().await.unwrap()._4;
    let uri: String = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".into();
    let anchor_gas = tx!(b[GOV]
        .anchorBatch(big.root(), N as u64, uri.clone())
        .value(bond))
    .gas_used;
    let challenge_gas =
        tx!(b[CHALLENGER].challengeLeaf(U256::from(1), bad.clone(), bad_proof.clone())).gas_used;
    assert_eq!(
        b[GOV].batch(U256::from(1)).call().await.unwrap()._5,
        batch_status::VOIDED
    );
    // An honest batch of the same size: anchor + finalize.
    let honest = StandardMerkleTree::new(&hashes[..N - 1]).unwrap();
    let anchor2_gas = tx!(b[GOV]
        .anchorBatch(honest.root(), N as u64 - 1, uri)
        .value(bond))
    .gas_used;
    w.h.advance(WINDOW + 1).await;
    let finalize_gas = tx!(b[OUTSIDER].finalizeBatch(U256::from(2))).gas_used;
    let batched = anchor2_gas + finalize_gas;
    let per_receipt = prove_gas as u128 * N as u128;
    println!(
        "settlement gas: proveWithReceipt {prove_gas}; anchorBatch(N={N}) {anchor_gas} / {anchor2_gas}; \
         finalizeBatch {finalize_gas}; batch total 2 txs {batched} gas vs {N} proveWithReceipt txs {per_receipt} gas \
         = {:.5}%; challengeLeaf at N={N} (proof depth {}) {challenge_gas}",
        100.0 * batched as f64 / per_receipt as f64,
        bad_proof.len()
    );
}
