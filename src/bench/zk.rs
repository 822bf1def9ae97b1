//! Zero-knowledge verification figures for the benchmark table: the on-chain costs — registering the verifying key,
//! one `verify`, and a mode-ZK `proveWithReceipt` carrying the proof — on devnode with the deployed WASM
//! (Groth16Verifier calling the BN254 precompiles 0x06/0x07/0x08), deterministic and asserted by a test; and the
//! Groth16 prover's time for one inference of the example model ([`prover_timing`]: measured on this machine, one
//! thread, never asserted by a test).
//!
//! The whole flow is the real one: the model's VZK1 weights file is submitted to the registry under its keccak256
//! content hash, its submitter registers the key and Poseidon commitment, governance points settlement at the
//! verifier, a payer requests with the input's Poseidon hash, the node answers and proves. Keys and proofs come
//! from a fixed seed, so calldata — and with it every gas figure — is the same on every run.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use anyhow::{ensure, Context, Result};
use verity_abi::{
    registry::{Format, Relation, VersionSubmitted},
    rpc::{
        key_registration_proof, IGroth16Verifier, IInferenceSettlement, IModelRegistry,
        ISettlementNodes,
    },
    settlement::{mode, request_status, Receipt},
};
use verity_zk::{
    circuit::constraint_count,
    evm::{proof_bytes, vk_bytes},
    field::word_of,
    model::Model,
    rand::{rngs::StdRng, SeedableRng},
    snark,
};

use super::gas::{GasGoal, GasReport, GasRow};
use crate::client::{chain_time, mined, send_with_headroom, sign_receipt as sign, wallet};

/// Goal: gasUsed of one Groth16 `verify` (3 public inputs): the precompiles alone cost 45,000 + 4 × 34,000
/// (pairing) + 3 × 6,000 (scalar multiplications) + 3 × 150 (additions) = 199,450.
pub const VERIFY_GAS_GOAL: u64 = 300_000;
/// Goal: seconds to prove one inference of the example model.
pub(crate) const PROVE_SECONDS_GOAL: f64 = 10.0;
/// The example model's shape: 4 inputs, 8 hidden units, 3 outputs.
pub(crate) const EXAMPLE_SHAPE: (u8, u8, u8) = (4, 8, 3);
/// The input proven.
pub(crate) const EXAMPLE_INPUT: [i8; 4] = [17, -42, 99, -128];

/// Where the ZK benchmark runs: a devnode with Verity deployed by its plan.
#[derive(Debug, Clone)]
pub struct ZkGasSetup {
    /// The node's JSON-RPC URL.
    pub url: String,
    /// The deployer: governance, registry attester and keeper.
    pub governance: PrivateKeySigner,
    /// Submits the model to the registry and registers its key.
    pub owner: PrivateKeySigner,
    /// Runs the inference node (stakes, answers, proves).
    pub node: PrivateKeySigner,
    /// Pays for the request.
    pub payer: PrivateKeySigner,
    /// The ModelRegistry.
    pub registry: Address,
    /// SettlementNodes.
    pub nodes: Address,
    /// InferenceSettlement.
    pub settlement: Address,
    /// Groth16Verifier.
    pub groth16: Address,
}

/// What the ZK gas benchmark measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkFigures {
    /// gasUsed of `Groth16Verifier.registerKey`.
    pub register_gas: u64,
    /// gasUsed of one `Groth16Verifier.verify` sent as a transaction.
    pub verify_gas: u64,
    /// gasUsed of a mode-ZK `InferenceSettlement.proveWithReceipt` with the Groth16 proof.
    pub prove_with_receipt_gas: u64,
}

impl ZkFigures {
    /// The rows and the (deterministic) goal of the gas table.
    pub fn report(&self) -> GasReport {
        GasReport {
            rows: vec![
                GasRow {
                    operation: "Groth16Verifier.registerKey (704-byte key)".into(),
                    gas_used: self.register_gas,
                },
                GasRow {
                    operation: "Groth16Verifier.verify (3 public inputs)".into(),
                    gas_used: self.verify_gas,
                },
                GasRow {
                    operation: "InferenceSettlement.proveWithReceipt, mode ZK (Groth16)".into(),
                    gas_used: self.prove_with_receipt_gas,
                },
            ],
            goals: vec![GasGoal {
                goal: format!("Groth16 verify gasUsed <= {VERIFY_GAS_GOAL}"),
                figure: self.verify_gas.to_string(),
                met: self.verify_gas <= VERIFY_GAS_GOAL,
            }],
        }
    }
}

/// Times proving one inference of the example model (the fastest of three, after key generation) as a goal of the
/// benchmark table. A timing: `verity bench` reports it, no test asserts it.
pub fn prover_timing() -> Result<GasReport> {
    let (n, h, m) = EXAMPLE_SHAPE;
    let model = Model::example(n, h, m, 1);
    let mut rng = StdRng::seed_from_u64(2026);
    let keys = snark::setup(model.shape(), &mut rng).context("Groth16 key generation")?;
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        snark::prove(&keys.proving, &model, &EXAMPLE_INPUT, &mut rng).context("proving")?;
        best = best.min(started.elapsed());
    }
    let seconds = best.as_secs_f64();
    let constraints = constraint_count(model.shape())?;
    Ok(GasReport {
        rows: Vec::new(),
        goals: vec![GasGoal {
            goal: format!(
                "Groth16 prove 1 inference ({n}x{h}x{m} MLP, {constraints} constraints) <= {PROVE_SECONDS_GOAL} s"
            ),
            figure: format!("{seconds:.2} s"),
            met: seconds <= PROVE_SECONDS_GOAL,
        }],
    })
}

/// Submits `model`'s weights file to the registry as `owner` (name `name`, version 1) and has governance confirm
/// storage and register it; returns the version id.
pub async fn register_model<P: Provider + Clone>(
    owner: &P,
    governance: &P,
    registry: Address,
    name: B256,
    model: &Model,
) -> Result<U256> {
    let file = model.to_bytes();
    let size = file.len() as u64;
    let fee = verity_script::deploy::verity::RegistryParams::default().min_fee;
    let as_owner = IModelRegistry::new(registry, owner.clone());
    let receipt = send_with_headroom(
        as_owner
            .submit(
                name,
                1,
                vec![],
                Relation::Original.code(),
                model.content_hash(),
                size,
                Bytes::from_static(b"file://model.vzk"),
                Format::VerityZk.code(),
                B256::repeat_byte(0x11),
                B256::repeat_byte(0x22),
                B256::repeat_byte(0x33),
                B256::repeat_byte(0x44),
                Bytes::from_static(b"ipfs://card"),
                vec![],
            )
            .value(fee),
        "submit",
    )
    .await?;
    let id = receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| VersionSubmitted::decode_log_data(l.data()).ok())
        .context("no VersionSubmitted")?
        .id;
    let as_gov = IModelRegistry::new(registry, governance.clone());
    let expiry = chain_time(governance).await? + 365 * 86_400;
    send_with_headroom(
        as_gov.confirmStorage(id, model.content_hash(), size, expiry),
        "confirmStorage",
    )
    .await?;
    send_with_headroom(
        as_gov.finalizeRegistrations(vec![id]),
        "finalizeRegistrations",
    )
    .await?;
    ensure!(
        as_gov.isUsable(id).call().await?,
        "model {id} is not usable"
    );
    Ok(id)
}

/// Runs the flow once and measures it (see the module docs).
pub async fn zk_gas(setup: &ZkGasSetup) -> Result<ZkFigures> {
    let (n, h, m) = EXAMPLE_SHAPE;
    let model = Model::example(n, h, m, 1);
    let mut rng = StdRng::seed_from_u64(2026);
    let keys = snark::setup(model.shape(), &mut rng).context("Groth16 key generation")?;
    let proven =
        snark::prove(&keys.proving, &model, &EXAMPLE_INPUT, &mut rng).context("proving")?;

    let gov = wallet(&setup.url, &setup.governance)?;
    let owner = wallet(&setup.url, &setup.owner)?;
    let chain_id = gov.get_chain_id().await?;
    let name = keccak256("verity-bench-zk-model");
    let version = register_model(&owner, &gov, setup.registry, name, &model).await?;

    let groth16 = IGroth16Verifier::new(setup.groth16, owner.clone());
    let register_gas = send_with_headroom(
        groth16.registerKey(
            version,
            word_of(model.commitment()),
            vk_bytes(&keys.verifying)?.to_vec().into(),
        ),
        "registerKey",
    )
    .await?
    .gas_used;
    let settlement_gov = IInferenceSettlement::new(setup.settlement, gov.clone());
    send_with_headroom(
        settlement_gov.setVerifier(version, setup.groth16),
        "setVerifier",
    )
    .await?;

    // A node with a TEE key approved by governance.
    let node = wallet(&setup.url, &setup.node)?;
    let nodes = ISettlementNodes::new(setup.nodes, node.clone());
    let stake = nodes.config().call().await?._5;
    let tee = PrivateKeySigner::random();
    let key_proof = key_registration_proof(
        &tee,
        nodes.provider().get_chain_id().await?,
        setup.nodes,
        setup.node.address(),
    )?;
    send_with_headroom(
        nodes.registerNode(tee.address(), key_proof).value(stake),
        "registerNode",
    )
    .await?;
    send_with_headroom(
        ISettlementNodes::new(setup.nodes, gov.clone())
            .approveKey(tee.address(), keccak256("enclave measurement")),
        "approveKey",
    )
    .await?;

    // Request with the input's Poseidon hash, answer with the output's, prove with the Groth16 proof.
    let statement = proven.statement;
    let fee = U256::from(5_000_000_000_000_000u64);
    let request_id = keccak256("zk-request");
    let payer = wallet(&setup.url, &setup.payer)?;
    send_with_headroom(
        IInferenceSettlement::new(setup.settlement, payer)
            .request(
                request_id,
                setup.node.address(),
                version,
                statement.input_word(),
                mode::ZK,
            )
            .value(fee),
        "request",
    )
    .await?;
    let as_node = IInferenceSettlement::new(setup.settlement, node.clone());
    send_with_headroom(
        as_node.answer(request_id, statement.output_word()),
        "answer",
    )
    .await?;
    let receipt = Receipt {
        requestId: request_id,
        modelVersion: version,
        inputHash: statement.input_word(),
        outputHash: statement.output_word(),
        payer: setup.payer.address(),
        node: setup.node.address(),
        fee,
        mode: mode::ZK,
        signedAt: chain_time(&gov).await?,
    };
    let proof: Bytes = proof_bytes(&proven.proof).to_vec().into();
    let inputs: Bytes = verity_abi::settlement::zk_public_inputs(&receipt).into();
    ensure!(
        groth16.verify(inputs.clone(), proof.clone()).call().await?,
        "the deployed verifier rejected a valid proof"
    );
    // `verify` is a view; sent as a transaction its gasUsed is what a caller pays (21,000 and calldata included).
    let verify_gas = mined(
        groth16
            .verify(inputs, proof.clone())
            .gas(1_000_000)
            .send()
            .await,
        "verify",
    )
    .await?
    .gas_used;
    let signed = sign(&tee, chain_id, setup.settlement, &receipt)?;
    let prove_with_receipt_gas = send_with_headroom(
        as_node.proveWithReceipt(signed, proof),
        "proveWithReceipt (mode ZK)",
    )
    .await?
    .gas_used;
    let status = settlement_gov.getRequest(request_id).call().await?._6;
    ensure!(
        status == request_status::PROVEN,
        "request not proven (status {status})"
    );
    Ok(ZkFigures {
        register_gas,
        verify_gas,
        prove_with_receipt_gas,
    })
}
