//! `deploy_all` against a fake chain: a JSON-RPC transport that understands exactly what deployment sends (signed
//! transactions, CREATE with cargo-stylus's prelude, `ArbWasm` at 0x71), so the whole flow, re-runs and failures are
//! tested without a node. The full run against devnode lives in the root crate's end-to-end tests.

use std::{
    collections::HashMap,
    future::Future,
    path::PathBuf,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use alloy::{
    consensus::{transaction::SignerRecoverable, Transaction, TxEnvelope},
    eips::eip2718::Decodable2718,
    primitives::{keccak256, Address, Bytes, TxHash, B256, U256},
    providers::ProviderBuilder,
    rpc::{
        client::RpcClient,
        json_rpc::{
            ErrorPayload, RequestPacket, Response, ResponsePacket, ResponsePayload,
            SerializedRequest,
        },
        types::TransactionRequest,
    },
    signers::local::PrivateKeySigner,
    sol,
    sol_types::{SolCall, SolError, SolEvent, SolInterface, SolValue},
    transports::{TransportError, TransportErrorKind},
};
use serde_json::{json, value::RawValue, Value};
use verity_script::{
    arbwasm::{ArbWasm, ARB_WASM_ADDRESS},
    build::{
        code::{deployed_code, initcode, PRELUDE_LENGTH},
        Artifacts, ContractArtifact,
    },
    deploy::{deploy_all, DeployOptions, DeployPlan, Deployable, Deployment, PlannedCall},
    Error, FailureReason,
};

sol! {
    function initialize(address owner, address minter);
    function grantMinter(address minter);
    error AlreadyInitialized();
}

const CHAIN_ID: u64 = 412_346;
const DATA_FEE: u64 = 1_000;

#[derive(Default)]
struct ChainState {
    block: u64,
    nonces: HashMap<Address, u64>,
    code: HashMap<Address, Bytes>,
    active: HashMap<Address, bool>,
    receipts: HashMap<TxHash, Value>,
    /// Every transaction applied: (to, input, value); `to = None` for CREATE.
    txs: Vec<(Option<Address>, Bytes, U256)>,
    /// ArbWasm rejects activation with this error instead of activating.
    reject_activation: Option<ArbWasm::ArbWasmErrors>,
    /// Calls to contracts revert with this data.
    revert_calls: Option<Bytes>,
}

/// A fake chain behind a JSON-RPC transport.
#[derive(Clone, Default)]
struct FakeChain(Arc<Mutex<ChainState>>);

impl FakeChain {
    fn state(&self) -> std::sync::MutexGuard<'_, ChainState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn handle(&self, req: &SerializedRequest) -> ResponsePayload {
        let params: Value = req
            .params()
            .map(|p| serde_json::from_str(p.get()).unwrap())
            .unwrap_or(Value::Null);
        let result = match req.method() {
            "eth_chainId" => Ok(json!(format!("{CHAIN_ID:#x}"))),
            "eth_blockNumber" => Ok(json!(format!("{:#x}", self.state().block))),
            "eth_getTransactionCount" => {
                let from: Address = serde_json::from_value(params[0].clone()).unwrap();
                Ok(json!(format!(
                    "{:#x}",
                    self.state().nonces.get(&from).copied().unwrap_or(0)
                )))
            }
            "eth_gasPrice" | "eth_maxPriorityFeePerGas" => Ok(json!("0x1")),
            "eth_estimateGas" => Ok(json!("0x1000000")),
            "eth_feeHistory" => Ok(json!({
                "oldestBlock": "0x1", "baseFeePerGas": ["0x1", "0x1"], "gasUsedRatio": [0.5], "reward": [["0x1"]]
            })),
            "eth_getCode" => {
                let address: Address = serde_json::from_value(params[0].clone()).unwrap();
                Ok(json!(self
                    .state()
                    .code
                    .get(&address)
                    .cloned()
                    .unwrap_or_default()))
            }
            "eth_getTransactionReceipt" => {
                let hash: TxHash = serde_json::from_value(params[0].clone()).unwrap();
                Ok(self
                    .state()
                    .receipts
                    .get(&hash)
                    .cloned()
                    .unwrap_or(Value::Null))
            }
            "eth_call" => {
                let tx: TransactionRequest = serde_json::from_value(params[0].clone()).unwrap();
                self.call(&tx)
            }
            "eth_sendRawTransaction" => {
                let raw: Bytes = serde_json::from_value(params[0].clone()).unwrap();
                Ok(json!(self.apply(&raw)))
            }
            other => Err(ErrorPayload::internal_error_message(
                format!("fake chain: no {other}").into(),
            )),
        };
        match result {
            Ok(value) => {
                ResponsePayload::Success(RawValue::from_string(value.to_string()).unwrap())
            }
            Err(err) => ResponsePayload::Failure(err),
        }
    }

    fn revert(data: Vec<u8>) -> ErrorPayload {
        ErrorPayload {
            code: 3,
            message: "execution reverted".into(),
            data: Some(RawValue::from_string(json!(Bytes::from(data)).to_string()).unwrap()),
        }
    }

    /// eth_call: ArbWasm's activation and version queries; every other call succeeds unless told to revert.
    fn call(&self, tx: &TransactionRequest) -> Result<Value, ErrorPayload> {
        let state = self.state();
        let to = tx.to.and_then(|k| k.to().copied()).unwrap();
        let input = tx.input.input().cloned().unwrap_or_default();
        if to != ARB_WASM_ADDRESS {
            return match &state.revert_calls {
                Some(data) => Err(Self::revert(data.to_vec())),
                None => Ok(json!("0x")),
            };
        }
        match ArbWasm::ArbWasmCalls::abi_decode(&input).unwrap() {
            ArbWasm::ArbWasmCalls::activateProgram(call) => {
                if let Some(err) = &state.reject_activation {
                    return Err(Self::revert(err.abi_encode()));
                }
                if state.active.get(&call.program).copied().unwrap_or(false) {
                    return Err(Self::revert(ArbWasm::ProgramUpToDate {}.abi_encode()));
                }
                Ok(json!(Bytes::from(
                    (1u16, U256::from(DATA_FEE)).abi_encode_params()
                )))
            }
            ArbWasm::ArbWasmCalls::programVersion(call) => match state.active.get(&call.program) {
                Some(true) => Ok(json!(Bytes::from(1u16.abi_encode()))),
                _ => Err(Self::revert(ArbWasm::ProgramNotActivated {}.abi_encode())),
            },
            other => panic!("unexpected ArbWasm call {other:?}"),
        }
    }

    /// eth_sendRawTransaction: CREATE runs cargo-stylus's prelude, ArbWasm activates, anything else just succeeds.
    fn apply(&self, raw: &[u8]) -> TxHash {
        let envelope = TxEnvelope::decode_2718(&mut &raw[..]).unwrap();
        assert_eq!(envelope.chain_id(), Some(CHAIN_ID));
        let from = envelope.recover_signer().unwrap();
        let hash = *envelope.tx_hash();
        let mut state = self.state();
        let nonce = state.nonces.entry(from).or_default();
        assert_eq!(envelope.nonce(), *nonce, "nonce");
        *nonce += 1;
        state.block += 1;
        let input = envelope.input().clone();
        let to = envelope.to();
        state.txs.push((to, input.clone(), envelope.value()));
        let mut logs = Vec::new();
        let mut contract_address = Value::Null;
        let mut status = true;
        match to {
            None => {
                assert_eq!(
                    &input[..33],
                    &initcode(&input[PRELUDE_LENGTH..])[..33],
                    "cargo-stylus prelude"
                );
                let address = from.create(envelope.nonce());
                state.code.insert(address, input.slice(PRELUDE_LENGTH..));
                contract_address = json!(address);
            }
            Some(ARB_WASM_ADDRESS) => {
                let call = ArbWasm::activateProgramCall::abi_decode(&input).unwrap();
                let code = state.code.get(&call.program).cloned().unwrap_or_default();
                status = code.starts_with(&[0xEF, 0xF0, 0x00])
                    && envelope.value() >= U256::from(DATA_FEE);
                if status {
                    state.active.insert(call.program, true);
                    let event = ArbWasm::ProgramActivated {
                        codehash: keccak256(&code),
                        moduleHash: B256::ZERO,
                        program: call.program,
                        dataFee: U256::from(DATA_FEE),
                        version: 1,
                    };
                    let data = event.encode_log_data();
                    logs.push(json!({
                        "address": ARB_WASM_ADDRESS, "topics": data.topics(), "data": data.data,
                        "blockNumber": format!("{:#x}", state.block), "transactionHash": hash,
                        "transactionIndex": "0x0", "blockHash": B256::with_last_byte(state.block as u8),
                        "logIndex": "0x0", "removed": false
                    }));
                }
            }
            Some(_) => status = state.revert_calls.is_none(),
        }
        let receipt = json!({
            "type": "0x2", "status": if status { "0x1" } else { "0x0" }, "cumulativeGasUsed": "0x5208",
            "logs": logs, "logsBloom": Bytes::from(vec![0u8; 256]), "transactionHash": hash,
            "transactionIndex": "0x0", "blockHash": B256::with_last_byte(state.block as u8),
            "blockNumber": format!("{:#x}", state.block), "gasUsed": "0x5208", "effectiveGasPrice": "0x1",
            "from": from, "to": to, "contractAddress": contract_address
        });
        state.receipts.insert(hash, receipt);
        hash
    }
}

impl tower::Service<RequestPacket> for FakeChain {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<ResponsePacket, TransportError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: RequestPacket) -> Self::Future {
        let respond = |r: &SerializedRequest| Response {
            id: r.id().clone(),
            payload: self.handle(r),
        };
        let response = match &req {
            RequestPacket::Single(r) => Ok(ResponsePacket::Single(respond(r))),
            RequestPacket::Batch(_) => {
                Err(TransportErrorKind::custom_str("fake chain: no batches"))
            }
        };
        Box::pin(async move { response })
    }
}

fn artifact(name: &str, wasm: &[u8]) -> ContractArtifact {
    let code = deployed_code(&keccak256(wasm).0);
    ContractArtifact {
        name: name.into(),
        package: format!("verity-{name}"),
        raw_wasm_size: wasm.len(),
        wasm: wasm.to_vec(),
        initcode: initcode(&code),
        code,
        wasm_opt: None,
    }
}

fn artifacts(token_wasm: &[u8]) -> Artifacts {
    Artifacts {
        dir: PathBuf::new(),
        contracts: vec![artifact("token", token_wasm), artifact("gauge", b"gauge")],
    }
}

fn plan() -> DeployPlan {
    DeployPlan::new()
        .contract(Deployable::new("token").init(|book| {
            Ok(initializeCall {
                owner: book.deployer(),
                minter: book.deployer(),
            })
        }))
        .contract(Deployable::new("gauge"))
        .wire(PlannedCall::new(
            "token.grantMinter(gauge)",
            "token",
            |book| {
                Ok(grantMinterCall {
                    minter: book.address("gauge")?,
                })
            },
        ))
}

fn options(test: &str) -> DeployOptions {
    let dir = std::env::temp_dir().join(format!("verity-deploy-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut options = DeployOptions::new("fake", dir);
    options.receipt_poll_interval = Duration::from_millis(1);
    options.receipt_timeout = Duration::from_secs(5);
    options
}

fn provider(
    chain: &FakeChain,
) -> impl alloy::providers::Provider + alloy::providers::WalletProvider {
    ProviderBuilder::new()
        .wallet(PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap())
        .connect_client(RpcClient::new(chain.clone(), true))
}

#[tokio::test]
async fn deploys_activates_initializes_wires_and_records() {
    let chain = FakeChain::default();
    let options = options("full");
    let provider = provider(&chain);
    let artifacts = artifacts(b"token v1");
    let deployment = deploy_all(&provider, &artifacts, &plan(), &options)
        .await
        .unwrap();

    let deployer = alloy::providers::WalletProvider::default_signer_address(&provider);
    let token = deployment.contracts["token"].clone();
    let gauge = deployment.contracts["gauge"].clone();
    assert_eq!(token.address, deployer.create(0));
    assert_eq!(token.code_hash, artifacts.get("token").unwrap().code_hash());
    assert_eq!(
        chain.state().code[&token.address],
        Bytes::from(artifacts.get("token").unwrap().code.clone())
    );
    let activation = token.activation.unwrap();
    assert_eq!(
        (activation.stylus_version, activation.data_fee),
        (1, Some(U256::from(DATA_FEE)))
    );
    assert!(gauge.activation.is_some());

    let txs = chain.state().txs.clone();
    // create token, activate, init, create gauge, activate, wire
    assert_eq!(txs.len(), 6);
    assert_eq!(txs[1].0, Some(ARB_WASM_ADDRESS));
    assert_eq!(txs[1].2, U256::from(DATA_FEE * 120 / 100), "data fee + 20%");
    assert_eq!(
        txs[2].1,
        Bytes::from(
            initializeCall {
                owner: deployer,
                minter: deployer
            }
            .abi_encode()
        )
    );
    assert_eq!(
        txs[5].1,
        Bytes::from(
            grantMinterCall {
                minter: gauge.address
            }
            .abi_encode()
        )
    );
    assert_eq!(deployment.calls.len(), 2);

    let on_disk = Deployment::load(&options.out_dir, "fake").unwrap().unwrap();
    assert_eq!(on_disk, deployment);
    assert_eq!((on_disk.chain_id, on_disk.deployer), (CHAIN_ID, deployer));
}

#[tokio::test]
async fn rerun_skips_finished_steps_and_redeploys_changed_code() {
    let chain = FakeChain::default();
    let options = options("rerun");
    let provider = provider(&chain);
    let first = deploy_all(&provider, &artifacts(b"token v1"), &plan(), &options)
        .await
        .unwrap();
    let sent = chain.state().txs.len();

    let again = deploy_all(&provider, &artifacts(b"token v1"), &plan(), &options)
        .await
        .unwrap();
    assert_eq!(chain.state().txs.len(), sent, "nothing re-sent");
    assert_eq!(again, first);

    // New token code: a new CREATE, activation and init; the wiring call targets the new token.
    let third = deploy_all(&provider, &artifacts(b"token v2"), &plan(), &options)
        .await
        .unwrap();
    let txs = chain.state().txs.clone();
    assert_eq!(txs.len(), sent + 4, "create, activate, init, wire");
    assert_ne!(
        third.contracts["token"].address,
        first.contracts["token"].address
    );
    assert_eq!(third.contracts["gauge"], first.contracts["gauge"]);
    assert_eq!(
        third.calls["token.grantMinter(gauge)"].to,
        third.contracts["token"].address
    );
}

#[tokio::test]
async fn activation_rejection_names_contract_and_error() {
    let chain = FakeChain::default();
    chain.state().reject_activation = Some(ArbWasm::ArbWasmErrors::ProgramNotWasm(
        ArbWasm::ProgramNotWasm {},
    ));
    let err = deploy_all(
        &provider(&chain),
        &artifacts(b"t"),
        &plan(),
        &options("reject"),
    )
    .await
    .unwrap_err();
    match err {
        Error::ActivationFailed {
            contract,
            reason: FailureReason::Rejected(e),
        } => {
            assert_eq!(contract, "token");
            assert!(e.contains("ProgramNotWasm"), "{e}");
        }
        other => panic!("expected ActivationFailed, got {other}"),
    }
}

#[tokio::test]
async fn init_revert_fails_with_data_unless_it_means_done() {
    let chain = FakeChain::default();
    chain.state().revert_calls = Some(AlreadyInitialized {}.abi_encode().into());
    let err = deploy_all(
        &provider(&chain),
        &artifacts(b"t"),
        &plan(),
        &options("revert"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::CallFailed { call, reason: FailureReason::Reverted(data), .. }
            if call == "token.init" && data.starts_with(&AlreadyInitialized::SELECTOR)),
        "{err}"
    );

    let tolerant = DeployPlan::new().contract(
        Deployable::new("token").init_call(
            PlannedCall::new("token.init", "token", |book| {
                Ok(initializeCall {
                    owner: book.deployer(),
                    minter: book.deployer(),
                })
            })
            .done_if_reverts_with::<AlreadyInitialized>(),
        ),
    );
    let options = options("tolerant");
    let deployment = deploy_all(&provider(&chain), &artifacts(b"t"), &tolerant, &options)
        .await
        .unwrap();
    assert_eq!(deployment.calls["token.init"].tx, None);
}

#[tokio::test]
async fn refuses_a_record_from_another_chain() {
    let options = options("mismatch");
    Deployment::new("fake", 1, Address::ZERO)
        .save(&options.out_dir)
        .unwrap();
    let err = deploy_all(
        &provider(&FakeChain::default()),
        &artifacts(b"t"),
        &plan(),
        &options,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NetworkMismatch {
                recorded: 1,
                actual: CHAIN_ID,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn missing_address_names_the_call() {
    let plan = DeployPlan::new().contract(Deployable::new("token").init(|book| {
        Ok(grantMinterCall {
            minter: book.address("registry")?,
        })
    }));
    let err = deploy_all(
        &provider(&FakeChain::default()),
        &artifacts(b"t"),
        &plan,
        &options("missing"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::MissingAddress { ref call, ref needed } if call == "token.init" && needed == "registry")
    );
}
