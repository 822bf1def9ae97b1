//! One transaction per contract through the chain's StylusDeployer: CREATE + `ArbWasm.activateProgram` + the
//! Stylus constructor, so nobody can call a constructor between activation and initialisation (the
//! front-running window of the three-transaction path, where `VotingEscrow.constructor(attackerToken)` could land
//! first).
//!
//! # Decisions
//! - **Used whenever the chain has the deployer** (code at [`STYLUS_DEPLOYER`]: Arbitrum One, Nova, Sepolia and
//!   devnode do) and the contract's initializer is its constructor; otherwise [`super::deploy_all`] falls back to
//!   create → activate → constructor and relies on the post-deployment check of the resulting state.
//! - **CREATE, not CREATE2** (salt zero): the address comes from the deployer's `ContractDeployed` event, and a
//!   re-run relies on the deployment record (as the three-step path does), so no salt has to be managed.
//! - **The data fee is simulated on a scratch address** holding the deployed code (a state override, as
//!   cargo-stylus's `check` does), then bumped by [`super::DeployOptions::data_fee_bump_percent`]; the deployer
//!   returns what ArbWasm does not take.

use alloy::{
    network::{Ethereum, TransactionBuilder},
    primitives::{keccak256, Address, B256, U256},
    providers::{Provider, WalletProvider},
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};

use super::{
    bump, classify, estimate_activation_of_code, plan::DoneCheck, rpc, ActivationRecord,
    CallRecord, ContractRecord, Deployer, MissingAddress, PlannedCall,
};
use crate::{arbwasm::ArbWasm, build::ContractArtifact, DeployStep, Error, Result};

mod abi {
    #![allow(missing_docs)]
    alloy::sol!(
        #[sol(all_derives)]
        "../devnode/predeploys/IStylusDeployer.sol"
    );
}
pub use abi::IStylusDeployer;

/// Arbitrum's StylusDeployer (devnode predeploys the same contract at the same address).
pub const STYLUS_DEPLOYER: Address =
    alloy::primitives::address!("cEcba2F1DC234f70Dd89F2041029807F8D03A990");

impl<P> Deployer<'_, P>
where
    P: Provider<Ethereum> + WalletProvider<Ethereum>,
{
    /// Whether the chain has a StylusDeployer (code at [`STYLUS_DEPLOYER`]).
    pub(super) async fn has_stylus_deployer(&self) -> Result<bool> {
        let code = self
            .provider
            .get_code_at(STYLUS_DEPLOYER)
            .await
            .map_err(rpc(DeployStep::Inspect, "StylusDeployer"))?;
        Ok(!code.is_empty())
    }

    /// Deploys `artifact` with its constructor `call` in one transaction, unless the record shows it deployed with
    /// the same code and constructor data (and the constructor flag is set on chain). Returns the address.
    pub(super) async fn ensure_deployed_atomically(
        &mut self,
        artifact: &ContractArtifact,
        call: &PlannedCall,
    ) -> Result<Address> {
        let name = artifact.name.as_str();
        let missing = |MissingAddress(needed)| Error::MissingAddress {
            call: call.label.clone(),
            needed,
        };
        let init_data = call.calldata(&self.book).map_err(missing)?;
        let input_hash = keccak256(&init_data);
        let code_hash = artifact.code_hash();
        if let (Some(existing), Some(done)) = (
            self.record.contracts.get(name),
            self.record.calls.get(&call.label),
        ) {
            let address = existing.address;
            if existing.code_hash == code_hash
                && done.to == address
                && done.input_hash == input_hash
                && self
                    .code_hash_at(address, DeployStep::Inspect, name)
                    .await?
                    == code_hash
                && self.constructor_ran(address, call, name).await?
            {
                tracing::info!(target: "verity::deploy", contract = name, %address, "already deployed");
                return Ok(address);
            }
        }
        let fee = self.simulated_data_fee(artifact).await?;
        let value = call.value + bump(fee, self.options.data_fee_bump_percent);
        let deploy = IStylusDeployer::deployCall {
            bytecode: artifact.initcode.clone().into(),
            initData: init_data.clone(),
            initValue: call.value,
            salt: B256::ZERO,
        };
        let tx = TransactionRequest::default()
            .with_from(self.from)
            .with_to(STYLUS_DEPLOYER)
            .with_input(deploy.abi_encode())
            .with_value(value);
        // Simulate first: a constructor revert comes back decoded instead of as a failed gas estimate.
        if let Err(err) = self.provider.call(tx.clone()).await {
            return Err(
                match classify::<IStylusDeployer::IStylusDeployerErrors>(err) {
                    Ok(answer) => Error::CallFailed {
                        step: DeployStep::Create,
                        contract: name.to_owned(),
                        call: call.label.clone(),
                        reason: answer.into(),
                    },
                    Err(source) => Error::Rpc {
                        step: DeployStep::Create,
                        contract: name.to_owned(),
                        source,
                    },
                },
            );
        }
        let receipt = self.send(tx, DeployStep::Create, name).await?;
        let tx_hash = receipt.transaction_hash;
        let logs = receipt.inner.logs();
        let deployed = logs
            .iter()
            .filter(|log| log.address() == STYLUS_DEPLOYER)
            .find_map(|log| log.log_decode::<IStylusDeployer::ContractDeployed>().ok())
            .map(|log| log.inner.data.deployedContract);
        let Some(address) = deployed.filter(|_| receipt.status()) else {
            return Err(Error::CreateFailed {
                contract: name.to_owned(),
                tx: tx_hash,
                mined_ok: receipt.status(),
            });
        };
        if self.code_hash_at(address, DeployStep::Create, name).await? != code_hash {
            return Err(Error::CodeMismatch {
                contract: name.to_owned(),
                address,
            });
        }
        let activation = logs
            .iter()
            .find_map(|log| log.log_decode::<ArbWasm::ProgramActivated>().ok())
            .map(|log| ActivationRecord {
                tx: Some(tx_hash),
                stylus_version: log.inner.data.version,
                data_fee: Some(log.inner.data.dataFee),
            });
        tracing::info!(target: "verity::deploy", contract = name, %address, tx = %tx_hash, "created, activated and constructed in one transaction");
        let block = receipt.block_number;
        self.record.contracts.insert(
            name.to_owned(),
            ContractRecord {
                address,
                deploy_block: block.unwrap_or_default(),
                deploy_tx: tx_hash,
                code_hash,
                wasm_hash: artifact.wasm_hash(),
                activation,
            },
        );
        self.record.calls.insert(
            call.label.clone(),
            CallRecord {
                contract: call.contract.clone(),
                to: address,
                input_hash,
                tx: Some(tx_hash),
                block,
            },
        );
        self.save()?;
        Ok(address)
    }

    /// Whether the constructor of the contract at `address` has run (the SDK's flag slot, when the call has one).
    async fn constructor_ran(
        &self,
        address: Address,
        call: &PlannedCall,
        name: &str,
    ) -> Result<bool> {
        let Some(DoneCheck::SlotSet(slot)) = call.done_check else {
            return Ok(true);
        };
        let value = self
            .provider
            .get_storage_at(address, slot)
            .await
            .map_err(rpc(DeployStep::Inspect, name))?;
        Ok(!value.is_zero())
    }

    /// The data fee ArbWasm would charge to activate `artifact`'s code (zero when the same code is already
    /// active: the deployer then skips activation).
    async fn simulated_data_fee(&self, artifact: &ContractArtifact) -> Result<U256> {
        let estimate =
            estimate_activation_of_code(self.provider, self.from, artifact.code.clone().into())
                .await
                .map_err(|err| err.in_contract(&artifact.name))?;
        Ok(estimate.map_or(U256::ZERO, |e| e.dataFee))
    }
}
