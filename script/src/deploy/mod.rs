//! Deployment as on Arbitrum, through any alloy provider with a wallet:
//!
//! 0. **atomically, when the chain has a StylusDeployer** ([`atomic`]): one transaction per contract that creates,
//!    activates and runs the Stylus constructor — nobody can call a constructor in between. Otherwise:
//! 1. **create**: a CREATE transaction carrying the contract's initcode; the code at the new address is checked
//!    against the artifact.
//! 2. **activate**: the data fee is learned by simulating `ArbWasm.activateProgram(address)` with `eth_call` (the
//!    sender's balance overridden, as cargo-stylus does), then the real call is sent with the fee plus
//!    [`DeployOptions::data_fee_bump_percent`] (ArbWasm refunds the excess).
//! 3. **initialize**: the contract's initializer from the [`DeployPlan`], simulated first so a revert comes back
//!    with its data; then the contract's [`StateCheck`]s: Stylus runs a constructor in its own call after
//!    activation, so anyone can run it first with their own arguments (admin, roles, wiring). Until deployment is
//!    atomic (create + activate + constructor in one transaction), a state that differs from the plan aborts the
//!    deployment with [`Error::StateMismatch`] naming the contract and field — whether the constructor was found
//!    already run, ran now, or failed because another call beat it.
//! 4. **wire**: the plan's wiring calls, the same way.
//!
//! `deployments/<network>.json` ([`Deployment`]) is rewritten after every step. A re-run skips what is done: a
//! contract whose recorded code hash equals the artifact's and whose on-chain code still hashes to it is reused; an
//! active program is not re-activated; a call whose target and calldata are unchanged is not repeated. A crash between
//! sending a transaction and recording it can repeat that one transaction (a CREATE then leaves an unused copy; an
//! initializer that reverts with its "already done" error can be accepted with [`PlannedCall::done_if_reverts_with`]).

pub mod atomic;
pub mod fragments;
pub mod plan;
pub mod record;
pub mod verity;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use alloy::{
    network::{Ethereum, TransactionBuilder},
    primitives::{keccak256, utils::parse_ether, Address, Bytes, TxHash, U256},
    providers::{Provider, WalletProvider},
    rpc::types::{state::StateOverridesBuilder, TransactionReceipt, TransactionRequest},
    sol_types::{SolCall, SolInterface},
    transports::TransportError,
};
use plan::DoneCheck;
pub use plan::{
    constructor_executed_slot, mapping_slot, AddressBook, DeployPlan, Deployable, Expected,
    MissingAddress, PlannedCall, Probe, StateCheck,
};
pub use record::{ActivationRecord, CallRecord, ContractRecord, Deployment};

use crate::{
    arbwasm::{ArbWasm, ARB_WASM_ADDRESS},
    build::{Artifacts, ContractArtifact},
    DeployStep, Error, FailureReason, Result,
};

/// How [`deploy_all`] runs.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// The network's name: the record is `<out_dir>/<network>.json`.
    pub network: String,
    /// The directory of deployment records (normally `<workspace>/deployments`).
    pub out_dir: PathBuf,
    /// Percent added to the simulated data fee (cargo-stylus uses 20); ArbWasm refunds what is not needed.
    pub data_fee_bump_percent: u64,
    /// How often to poll for a receipt.
    pub receipt_poll_interval: Duration,
    /// How long to wait for a receipt before failing.
    pub receipt_timeout: Duration,
    /// Deploy every contract as ArbOS 60 fragments and a root ([`fragments`]); off by default (one contract each).
    pub fragments: bool,
}

impl DeployOptions {
    /// Options for `network`, writing into `out_dir`: 20% fee bump, receipts polled every 100 ms for up to 2 min.
    pub fn new(network: impl Into<String>, out_dir: impl Into<PathBuf>) -> Self {
        Self {
            network: network.into(),
            out_dir: out_dir.into(),
            data_fee_bump_percent: 20,
            receipt_poll_interval: Duration::from_millis(100),
            receipt_timeout: Duration::from_secs(120),
            fragments: false,
        }
    }
}

/// Deploys every contract of `plan` from `artifacts` through `provider`, runs the initializers and the wiring, and
/// returns (and writes) the deployment record. Safe to re-run: finished steps are skipped (see the module docs).
///
/// ```no_run
/// # async fn example() -> verity_script::Result<()> {
/// use alloy::{providers::ProviderBuilder, signers::local::PrivateKeySigner};
/// use verity_script::{build::Artifacts, deploy::{self, DeployOptions, DeployPlan, Deployable}};
///
/// let signer: PrivateKeySigner = "0x…".parse().expect("key");
/// let provider = ProviderBuilder::new().wallet(signer).connect_http("http://127.0.0.1:8547".parse().expect("url"));
/// let artifacts = Artifacts::load("target/verity")?;
/// let plan = DeployPlan::new().contract(Deployable::new("token"));
/// let deployment = deploy::deploy_all(&provider, &artifacts, &plan, &DeployOptions::new("devnode", "deployments")).await?;
/// println!("token at {}", deployment.contracts["token"].address);
/// # Ok(()) }
/// ```
pub async fn deploy_all<P>(
    provider: &P,
    artifacts: &Artifacts,
    plan: &DeployPlan,
    options: &DeployOptions,
) -> Result<Deployment>
where
    P: Provider<Ethereum> + WalletProvider<Ethereum>,
{
    let mut deployer = Deployer::start(provider, options).await?;
    let atomic = deployer.has_stylus_deployer().await?;
    for deployable in &plan.contracts {
        let artifact = artifacts.get(&deployable.contract)?;
        let fragmented;
        let artifact = if options.fragments {
            fragmented = deployer.fragmented(artifact).await?;
            &fragmented
        } else {
            artifact.ensure_within_limits()?;
            artifact
        };
        if let Some(call) = deployable
            .init
            .as_ref()
            .filter(|c| atomic && c.is_constructor())
        {
            let before = deployer.record.calls.get(&call.label).cloned();
            let address = deployer.ensure_deployed_atomically(artifact, call).await?;
            deployer.book.insert(&artifact.name, address);
            // Deployed now (not reused): its state must be the plan's too (it cannot have been front-run, so a
            // mismatch is a plan or contract bug; a reused deployment may carry governance's later changes).
            if deployer.record.calls.get(&call.label) != before.as_ref() {
                deployer.check_state(deployable, address).await?;
            }
            continue;
        }
        let address = deployer.ensure_created(artifact).await?;
        deployer.book.insert(&artifact.name, address);
        deployer.ensure_activated(artifact, address).await?;
        if let Some(call) = &deployable.init {
            match deployer.ensure_called(DeployStep::Initialize, call).await {
                // Checked when it was made (a later run may see governance's changes since).
                Ok(Called::Recorded) => {}
                Ok(Called::Now) => deployer.check_state(deployable, address).await?,
                Err(err @ Error::CallFailed { .. }) => {
                    // Another constructor call may have beaten ours: name the field it changed.
                    deployer.check_state(deployable, address).await?;
                    return Err(err);
                }
                Err(err) => return Err(err),
            }
        }
    }
    for call in &plan.wiring {
        deployer.ensure_called(DeployStep::Wire, call).await?;
    }
    Ok(deployer.record)
}

/// How [`Deployer::ensure_called`] found a planned call.
enum Called {
    /// Done in an earlier run (the record says so).
    Recorded,
    /// Made now, or found made (by anyone) without a record.
    Now,
}

/// The state of one [`deploy_all`] run.
struct Deployer<'a, P> {
    provider: &'a P,
    options: &'a DeployOptions,
    from: Address,
    book: AddressBook,
    record: Deployment,
}

impl<'a, P> Deployer<'a, P>
where
    P: Provider<Ethereum> + WalletProvider<Ethereum>,
{
    async fn start(provider: &'a P, options: &'a DeployOptions) -> Result<Self> {
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(rpc(DeployStep::Inspect, "chain"))?;
        let from = provider.default_signer_address();
        let record = match Deployment::load(&options.out_dir, &options.network)? {
            Some(record) if record.chain_id != chain_id => {
                return Err(Error::NetworkMismatch {
                    path: Deployment::path(&options.out_dir, &options.network),
                    recorded: record.chain_id,
                    actual: chain_id,
                });
            }
            Some(record) => Deployment {
                deployer: from,
                ..record
            },
            None => Deployment::new(&options.network, chain_id, from),
        };
        Ok(Self {
            provider,
            options,
            from,
            book: AddressBook::new(from),
            record,
        })
    }

    fn save(&self) -> Result<()> {
        self.record.save(&self.options.out_dir).map(drop)
    }

    async fn code_hash_at(
        &self,
        address: Address,
        step: DeployStep,
        contract: &str,
    ) -> Result<alloy::primitives::B256> {
        let code = self
            .provider
            .get_code_at(address)
            .await
            .map_err(rpc(step, contract))?;
        Ok(keccak256(&code))
    }

    /// Step 1: reuse the recorded contract if its code is on chain and current, otherwise CREATE it.
    async fn ensure_created(&mut self, artifact: &ContractArtifact) -> Result<Address> {
        let name = artifact.name.as_str();
        let code_hash = artifact.code_hash();
        if let Some(existing) = self.record.contracts.get(name) {
            if existing.code_hash == code_hash
                && self
                    .code_hash_at(existing.address, DeployStep::Inspect, name)
                    .await?
                    == code_hash
            {
                tracing::info!(target: "verity::deploy", contract = name, address = %existing.address, "already deployed");
                return Ok(existing.address);
            }
        }
        let tx = TransactionRequest::default()
            .with_from(self.from)
            .with_deploy_code(artifact.initcode.clone());
        let receipt = self.send(tx, DeployStep::Create, name).await?;
        let tx_hash = receipt.transaction_hash;
        if !receipt.status() {
            return Err(Error::CreateFailed {
                contract: name.to_owned(),
                tx: tx_hash,
                mined_ok: false,
            });
        }
        let address = receipt
            .contract_address
            .ok_or_else(|| Error::CreateFailed {
                contract: name.to_owned(),
                tx: tx_hash,
                mined_ok: true,
            })?;
        if self.code_hash_at(address, DeployStep::Create, name).await? != code_hash {
            return Err(Error::CodeMismatch {
                contract: name.to_owned(),
                address,
            });
        }
        tracing::info!(target: "verity::deploy", contract = name, %address, tx = %tx_hash, "created");
        self.record.contracts.insert(
            name.to_owned(),
            ContractRecord {
                address,
                deploy_block: receipt.block_number.unwrap_or_default(),
                deploy_tx: tx_hash,
                code_hash,
                wasm_hash: artifact.wasm_hash(),
                activation: None,
            },
        );
        self.save()?;
        Ok(address)
    }

    /// Step 2: activate unless ArbWasm says the program is up to date.
    async fn ensure_activated(
        &mut self,
        artifact: &ContractArtifact,
        address: Address,
    ) -> Result<()> {
        let name = artifact.name.as_str();
        let estimate = match estimate_activation(self.provider, self.from, address).await {
            Ok(Some(estimate)) => estimate,
            Ok(None) => {
                let version = program_version(self.provider, address, name).await?;
                tracing::info!(target: "verity::deploy", contract = name, version, "already active");
                if let Some(contract) = self.record.contracts.get_mut(name) {
                    if contract.activation.as_ref().map(|a| a.stylus_version) != Some(version) {
                        contract.activation = Some(ActivationRecord {
                            tx: None,
                            stylus_version: version,
                            data_fee: None,
                        });
                        self.save()?;
                    }
                }
                return Ok(());
            }
            Err(err) => return Err(err.in_contract(name)),
        };
        let value = bump(estimate.dataFee, self.options.data_fee_bump_percent);
        let tx = TransactionRequest::default()
            .with_from(self.from)
            .with_to(ARB_WASM_ADDRESS)
            .with_input(ArbWasm::activateProgramCall { program: address }.abi_encode())
            .with_value(value);
        let receipt = self.send(tx, DeployStep::Activate, name).await?;
        if !receipt.status() {
            return Err(Error::ActivationFailed {
                contract: name.to_owned(),
                reason: FailureReason::TxFailed(receipt.transaction_hash),
            });
        }
        let activated = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| log.log_decode::<ArbWasm::ProgramActivated>().ok())
            .map(|log| log.inner.data);
        let (stylus_version, data_fee) = match activated {
            Some(event) => (event.version, event.dataFee),
            None => (estimate.version, estimate.dataFee),
        };
        tracing::info!(target: "verity::deploy", contract = name, stylus_version, %data_fee, tx = %receipt.transaction_hash, "activated");
        if let Some(contract) = self.record.contracts.get_mut(name) {
            contract.activation = Some(ActivationRecord {
                tx: Some(receipt.transaction_hash),
                stylus_version,
                data_fee: Some(data_fee),
            });
        }
        self.save()
    }

    /// Step 3's checks: every [`StateCheck`] of `deployable` (at `address`) against the chain.
    async fn check_state(&self, deployable: &Deployable, address: Address) -> Result<()> {
        let name = deployable.contract.as_str();
        for check in &deployable.checks {
            let expected = check
                .expected(&self.book)
                .map_err(|MissingAddress(needed)| Error::MissingAddress {
                    call: format!("{name}.{}", check.field),
                    needed,
                })?;
            let actual = match &expected.probe {
                Probe::Slot(slot) => self
                    .provider
                    .get_storage_at(address, *slot)
                    .await
                    .map_err(rpc(DeployStep::Inspect, name))?,
                Probe::Call { input, word } => {
                    let tx = TransactionRequest::default()
                        .with_to(address)
                        .with_input(input.clone());
                    let output = self
                        .provider
                        .call(tx)
                        .await
                        .map_err(rpc(DeployStep::Inspect, name))?;
                    output
                        .get(32 * word..32 * (word + 1))
                        .map_or(U256::MAX, U256::from_be_slice)
                }
            } & expected.mask;
            if actual != expected.value {
                return Err(Error::StateMismatch {
                    contract: name.to_owned(),
                    field: check.field.clone(),
                    expected: expected.value.into(),
                    actual: actual.into(),
                });
            }
        }
        if !deployable.checks.is_empty() {
            tracing::info!(target: "verity::deploy", contract = name, checks = deployable.checks.len(), "state matches the plan");
        }
        Ok(())
    }

    /// Steps 3 and 4: a planned call, unless the record shows it done with the same target and calldata.
    async fn ensure_called(&mut self, step: DeployStep, call: &PlannedCall) -> Result<Called> {
        let missing = |MissingAddress(needed)| Error::MissingAddress {
            call: call.label.clone(),
            needed,
        };
        let to = self.book.address(&call.contract).map_err(missing)?;
        let input = call.calldata(&self.book).map_err(missing)?;
        let input_hash = keccak256(&input);
        if let Some(done) = self.record.calls.get(&call.label) {
            if done.to == to && done.input_hash == input_hash {
                tracing::info!(target: "verity::deploy", call = %call.label, "already done");
                return Ok(Called::Recorded);
            }
        }
        let tx = TransactionRequest::default()
            .with_from(self.from)
            .with_to(to)
            .with_input(input.clone())
            .with_value(call.value);
        let failed = |reason| Error::CallFailed {
            step,
            contract: call.contract.clone(),
            call: call.label.clone(),
            reason,
        };
        if let Some(DoneCheck::SlotSet(slot)) = call.done_check {
            let value = self
                .provider
                .get_storage_at(to, slot)
                .await
                .map_err(rpc(step, &call.contract))?;
            if !value.is_zero() {
                tracing::warn!(target: "verity::deploy", call = %call.label, "already run (flag slot set), by us or someone else: checking its state");
                self.record.calls.insert(
                    call.label.clone(),
                    CallRecord {
                        contract: call.contract.clone(),
                        to,
                        input_hash,
                        tx: None,
                        block: None,
                    },
                );
                return self.save().map(|()| Called::Now);
            }
        }
        // Simulate first: a revert comes back with its data instead of as a failed gas estimate.
        let (tx_hash, block) = match self.provider.call(tx.clone()).await {
            Err(err) => match classify::<NoErrors>(err) {
                Ok(Answer::Reverted(data)) if call.is_done_revert(&data) => {
                    tracing::info!(target: "verity::deploy", call = %call.label, "reverted as already done");
                    (None, None)
                }
                Ok(answer) => return Err(failed(answer.into())),
                Err(source) => {
                    return Err(Error::Rpc {
                        step,
                        contract: call.contract.clone(),
                        source,
                    })
                }
            },
            Ok(_) => {
                let receipt = self.send(tx, step, &call.contract).await?;
                if !receipt.status() {
                    return Err(failed(FailureReason::TxFailed(receipt.transaction_hash)));
                }
                (Some(receipt.transaction_hash), receipt.block_number)
            }
        };
        tracing::info!(target: "verity::deploy", call = %call.label, tx = ?tx_hash, "called");
        self.record.calls.insert(
            call.label.clone(),
            CallRecord {
                contract: call.contract.clone(),
                to,
                input_hash,
                tx: tx_hash,
                block,
            },
        );
        self.save().map(|()| Called::Now)
    }

    /// Sends `tx` and polls for its receipt (no block subscription, so any transport works).
    async fn send(
        &self,
        tx: TransactionRequest,
        step: DeployStep,
        contract: &str,
    ) -> Result<TransactionReceipt> {
        let pending = self
            .provider
            .send_transaction(tx)
            .await
            .map_err(rpc(step, contract))?;
        let hash = *pending.tx_hash();
        wait_for_receipt(self.provider, hash, step, contract, self.options).await
    }
}

/// Polls `eth_getTransactionReceipt` for `hash` until it is mined or the timeout passes.
async fn wait_for_receipt<P: Provider<Ethereum>>(
    provider: &P,
    hash: TxHash,
    step: DeployStep,
    contract: &str,
    options: &DeployOptions,
) -> Result<TransactionReceipt> {
    let start = Instant::now();
    loop {
        if let Some(receipt) = provider
            .get_transaction_receipt(hash)
            .await
            .map_err(rpc(step, contract))?
        {
            return Ok(receipt);
        }
        if start.elapsed() >= options.receipt_timeout {
            return Err(Error::ReceiptTimeout {
                step,
                contract: contract.to_owned(),
                tx: hash,
            });
        }
        tokio::time::sleep(options.receipt_poll_interval).await;
    }
}

/// Simulates `ArbWasm.activateProgram(program)` from `from` (balance overridden, 1 ETH sent) to learn the Stylus
/// version and the data fee, as cargo-stylus does. `Ok(None)` when ArbWasm answers `ProgramUpToDate` (already
/// active); any other revert is [`Error::ActivationFailed`] with ArbWasm's error decoded. The contract name in errors
/// is empty, for the caller to fill in.
pub async fn estimate_activation<P: Provider<Ethereum>>(
    provider: &P,
    from: Address,
    program: Address,
) -> Result<Option<ArbWasm::activateProgramReturn>> {
    simulate_activation(provider, from, program, StateOverridesBuilder::default()).await
}

/// [`estimate_activation`] for deployed `code` that is not on chain yet: simulated at a scratch address whose code
/// is overridden (cargo-stylus's `check`). `Ok(None)` when the same code is already active.
pub async fn estimate_activation_of_code<P: Provider<Ethereum>>(
    provider: &P,
    from: Address,
    code: Bytes,
) -> Result<Option<ArbWasm::activateProgramReturn>> {
    const SCRATCH: Address =
        alloy::primitives::address!("00000000000000000000000000000000005c7a7c");
    let overrides = StateOverridesBuilder::default().append(
        SCRATCH,
        alloy::rpc::types::state::AccountOverride {
            code: Some(code),
            ..Default::default()
        },
    );
    simulate_activation(provider, from, SCRATCH, overrides).await
}

/// Simulates `ArbWasm.activateProgram(program)` from `from` with its balance overridden on top of `overrides`.
async fn simulate_activation<P: Provider<Ethereum>>(
    provider: &P,
    from: Address,
    program: Address,
    overrides: StateOverridesBuilder,
) -> Result<Option<ArbWasm::activateProgramReturn>> {
    let tx = TransactionRequest::default()
        .with_from(from)
        .with_to(ARB_WASM_ADDRESS)
        .with_input(ArbWasm::activateProgramCall { program }.abi_encode())
        .with_value(parse_ether("1").unwrap_or(U256::from(10).pow(U256::from(18))));
    let overrides = overrides.with_balance(from, U256::MAX).build();
    let output = match provider.call(tx).overrides(overrides).await {
        Ok(output) => output,
        Err(err) => {
            return match classify::<ArbWasm::ArbWasmErrors>(err) {
                Ok(Answer::Decoded(ArbWasm::ArbWasmErrors::ProgramUpToDate(_))) => Ok(None),
                Ok(answer) => Err(Error::ActivationFailed {
                    contract: String::new(),
                    reason: answer.into(),
                }),
                Err(source) => Err(Error::Rpc {
                    step: DeployStep::Activate,
                    contract: String::new(),
                    source,
                }),
            };
        }
    };
    ArbWasm::activateProgramCall::abi_decode_returns(&output)
        .map(Some)
        .map_err(|source| Error::Decode {
            step: DeployStep::Activate,
            contract: String::new(),
            source,
        })
}

/// `ArbWasm.programVersion(program)`: the Stylus version the program was last activated against.
pub async fn program_version<P: Provider<Ethereum>>(
    provider: &P,
    program: Address,
    contract: &str,
) -> Result<u16> {
    let tx = TransactionRequest::default()
        .with_to(ARB_WASM_ADDRESS)
        .with_input(ArbWasm::programVersionCall { program }.abi_encode());
    let output =
        provider
            .call(tx)
            .await
            .map_err(|err| match classify::<ArbWasm::ArbWasmErrors>(err) {
                Ok(answer) => Error::ActivationFailed {
                    contract: contract.to_owned(),
                    reason: answer.into(),
                },
                Err(source) => Error::Rpc {
                    step: DeployStep::Inspect,
                    contract: contract.to_owned(),
                    source,
                },
            })?;
    ArbWasm::programVersionCall::abi_decode_returns(&output).map_err(|source| Error::Decode {
        step: DeployStep::Inspect,
        contract: contract.to_owned(),
        source,
    })
}

/// `fee × (100 + percent) / 100`, saturating at `U256::MAX`.
pub fn bump(fee: U256, percent: u64) -> U256 {
    fee.checked_mul(U256::from(100u64.saturating_add(percent)))
        .map_or(U256::MAX, |scaled| scaled / U256::from(100))
}

/// A node's answer to a failed `eth_call`.
enum Answer<E> {
    /// A revert whose data decodes as `E`.
    Decoded(E),
    /// A revert with other data.
    Reverted(Bytes),
    /// An error without revert data (the node's message).
    Message(String),
}

impl<E: std::fmt::Debug> From<Answer<E>> for FailureReason {
    fn from(answer: Answer<E>) -> Self {
        match answer {
            // The sol!-generated Debug names the error and its fields, e.g. `ProgramNotWasm(ProgramNotWasm)`.
            Answer::Decoded(error) => Self::Rejected(format!("{error:?}")),
            Answer::Reverted(data) => Self::Reverted(data),
            Answer::Message(message) => Self::Failed(message),
        }
    }
}

/// No typed errors: every revert stays raw data (a contract's errors are decoded by its `verity-abi` bindings).
type NoErrors = alloy::sol_types::GenericContractError;

/// Splits an RPC error into a node's answer (`Ok`) and a transport failure (`Err`).
fn classify<E: SolInterface>(err: TransportError) -> Result<Answer<E>, TransportError> {
    let Some(payload) = err.as_error_resp() else {
        return Err(err);
    };
    if let Some(decoded) = payload.as_decoded_interface_error::<E>() {
        return Ok(Answer::Decoded(decoded));
    }
    Ok(match payload.as_revert_data() {
        Some(data) => Answer::Reverted(data),
        None => Answer::Message(payload.message.to_string()),
    })
}

fn rpc(step: DeployStep, contract: &str) -> impl FnOnce(TransportError) -> Error + '_ {
    move |source| Error::Rpc {
        step,
        contract: contract.to_owned(),
        source,
    }
}

impl Error {
    /// Fills in the contract name of errors made by the free functions here.
    fn in_contract(self, name: &str) -> Self {
        match self {
            Self::ActivationFailed { reason, .. } => Self::ActivationFailed {
                contract: name.to_owned(),
                reason,
            },
            Self::Rpc { step, source, .. } => Self::Rpc {
                step,
                contract: name.to_owned(),
                source,
            },
            Self::Decode { step, source, .. } => Self::Decode {
                step,
                contract: name.to_owned(),
                source,
            },
            other => other,
        }
    }
}

impl PlannedCall {
    fn is_done_revert(&self, data: &Bytes) -> bool {
        matches!(self.done_check, Some(DoneCheck::RevertsWith(selector)) if data.starts_with(&selector))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{
        providers::ProviderBuilder,
        rpc::json_rpc::ErrorPayload,
        sol_types::{SolError, SolValue},
        transports::mock::Asserter,
    };
    use serde_json::value::RawValue;

    fn revert(data: Vec<u8>) -> ErrorPayload {
        let data = serde_json::to_string(&Bytes::from(data)).expect("hex");
        ErrorPayload {
            code: 3,
            message: "execution reverted".into(),
            data: Some(RawValue::from_string(data).expect("json")),
        }
    }

    #[tokio::test]
    async fn estimate_reads_version_and_fee() {
        let asserter = Asserter::new();
        let provider = ProviderBuilder::new().connect_mocked_client(asserter.clone());
        asserter.push_success(&Bytes::from((2u16, U256::from(12_345)).abi_encode_params()));
        let estimate = estimate_activation(&provider, Address::ZERO, Address::repeat_byte(7))
            .await
            .unwrap()
            .expect("not yet active");
        assert_eq!(
            (estimate.version, estimate.dataFee),
            (2, U256::from(12_345))
        );
    }

    #[tokio::test]
    async fn estimate_maps_arbwasm_reverts() {
        let asserter = Asserter::new();
        let provider = ProviderBuilder::new().connect_mocked_client(asserter.clone());
        let program = Address::repeat_byte(7);

        asserter.push_failure(revert(ArbWasm::ProgramUpToDate {}.abi_encode()));
        assert!(estimate_activation(&provider, Address::ZERO, program)
            .await
            .unwrap()
            .is_none());

        asserter.push_failure(revert(ArbWasm::ProgramNotWasm {}.abi_encode()));
        let err = estimate_activation(&provider, Address::ZERO, program)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::ActivationFailed { reason: FailureReason::Rejected(e), .. } if e.contains("ProgramNotWasm")),
            "{err}"
        );

        asserter.push_failure(ErrorPayload::internal_error_message(
            "activation failed: bad import".into(),
        ));
        let err = estimate_activation(&provider, Address::ZERO, program)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::ActivationFailed { reason: FailureReason::Failed(m), .. } if m.contains("bad import")),
            "{err}"
        );

        asserter.push_failure_msg("boom");
        let err = estimate_activation(&provider, Address::ZERO, program)
            .await
            .unwrap_err();
        assert!(matches!(
            err,
            Error::ActivationFailed { .. } | Error::Rpc { .. }
        ));
    }

    #[test]
    fn bump_adds_percent() {
        assert_eq!(bump(U256::from(1000), 20), U256::from(1200));
        assert_eq!(bump(U256::from(1234), 20), U256::from(1480));
        assert_eq!(bump(U256::MAX, 20), U256::MAX);
    }
}
