//! Fragmented deployment for chains at ArbOS 60 or later ([`super::DeployOptions::fragments`]): each contract's
//! brotli stream goes into fragment contracts (`EF F0 01 ‖ chunk`, one CREATE each) and the contract itself is a
//! root (`EF F0 02 00 ‖ wasm size ‖ fragment addresses`) created, activated and constructed like any program —
//! through the StylusDeployer when the chain has one.
//!
//! # Decisions
//! - **The root stands in for the artifact**: [`Deployer::fragmented`] creates the fragments and returns the
//!   artifact with its code and initcode replaced by the root's, so the rest of deployment (atomic or three-step,
//!   the record, the state checks) runs unchanged on it.
//! - **Fragments are not recorded**: the root names them. A re-run reuses the recorded contract when its on-chain
//!   root names fragments holding exactly this artifact's chunks; otherwise it creates new fragments (a crash
//!   between fragments and root leaves unused fragments, as an interrupted CREATE leaves an unused copy).
//! - **The chain's fragment limit is asked first** (`ArbOwnerPublic.getMaxStylusContractFragments`, as
//!   cargo-stylus does); a chain without it has no fragments ([`Error::FragmentsUnsupported`]).

use alloy::{
    network::{Ethereum, TransactionBuilder},
    primitives::{address, Address},
    providers::{Provider, WalletProvider},
    rpc::types::TransactionRequest,
};

use super::{rpc, Deployer};
use crate::{
    build::{
        code::{fragment_codes, initcode, root_code, root_fragments},
        ContractArtifact,
    },
    DeployStep, Error, Result,
};

mod abi {
    #![allow(missing_docs)]
    alloy::sol! {
        /// The getter of Nitro's `ArbOwnerPublic` (0x6b) that fragmented deployment reads.
        #[sol(rpc)]
        interface ArbOwnerPublic {
            function getMaxStylusContractFragments() external view returns (uint8);
        }
    }
}

/// Nitro's `ArbOwnerPublic` precompile.
pub const ARB_OWNER_PUBLIC: Address = address!("000000000000000000000000000000000000006b");

impl<P> Deployer<'_, P>
where
    P: Provider<Ethereum> + WalletProvider<Ethereum>,
{
    /// `artifact` as a root over its fragments: the fragments found (see the module docs) or created, and the
    /// returned artifact's code and initcode the root's.
    pub(super) async fn fragmented(&self, artifact: &ContractArtifact) -> Result<ContractArtifact> {
        let name = artifact.name.as_str();
        let max = abi::ArbOwnerPublic::new(ARB_OWNER_PUBLIC, self.provider)
            .getMaxStylusContractFragments()
            .call()
            .await
            .map_err(|err| match err {
                alloy::contract::Error::TransportError(source) => Error::FragmentsUnsupported {
                    contract: name.to_owned(),
                    source,
                },
                other => Error::FragmentsUnsupported {
                    contract: name.to_owned(),
                    source: alloy::transports::TransportErrorKind::custom_str(&other.to_string()),
                },
            })?;
        artifact.ensure_within_fragment_limits(max)?;
        let fragments = fragment_codes(&artifact.code);
        if let Some(root) = self.recorded_root(name, &fragments).await? {
            return Ok(with_code(artifact, root));
        }
        let mut addresses = Vec::with_capacity(fragments.len());
        for fragment in &fragments {
            let tx = TransactionRequest::default()
                .with_from(self.from)
                .with_deploy_code(initcode(fragment));
            let receipt = self.send(tx, DeployStep::Create, name).await?;
            let tx_hash = receipt.transaction_hash;
            let address = receipt
                .contract_address
                .filter(|_| receipt.status())
                .ok_or(Error::CreateFailed {
                    contract: name.to_owned(),
                    tx: tx_hash,
                    mined_ok: receipt.status(),
                })?;
            if self.code_at(address, name).await? != *fragment {
                return Err(Error::CodeMismatch {
                    contract: name.to_owned(),
                    address,
                });
            }
            addresses.push(address);
        }
        tracing::info!(target: "verity::deploy", contract = name, fragments = addresses.len(), "fragments created");
        // The wasm is at most 128 KiB (checked above), so its length fits in a u32.
        let root = root_code(artifact.wasm.len() as u32, &addresses);
        Ok(with_code(artifact, root))
    }

    /// The root code of the recorded deployment of `name` when it names exactly `fragments`.
    async fn recorded_root(&self, name: &str, fragments: &[Vec<u8>]) -> Result<Option<Vec<u8>>> {
        let Some(existing) = self.record.contracts.get(name) else {
            return Ok(None);
        };
        let root = self.code_at(existing.address, name).await?;
        let Some(addresses) = root_fragments(&root) else {
            return Ok(None);
        };
        if addresses.len() != fragments.len() {
            return Ok(None);
        }
        for (address, fragment) in addresses.into_iter().zip(fragments) {
            if self.code_at(address, name).await? != *fragment {
                return Ok(None);
            }
        }
        Ok(Some(root))
    }

    async fn code_at(&self, address: Address, name: &str) -> Result<Vec<u8>> {
        let code = self
            .provider
            .get_code_at(address)
            .await
            .map_err(rpc(DeployStep::Inspect, name))?;
        Ok(code.to_vec())
    }
}

fn with_code(artifact: &ContractArtifact, code: Vec<u8>) -> ContractArtifact {
    ContractArtifact {
        initcode: initcode(&code),
        code,
        ..artifact.clone()
    }
}
