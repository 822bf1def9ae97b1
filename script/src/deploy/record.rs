//! `deployments/<network>.json`: what was deployed where, written after every step so a re-run resumes.

use std::{
    collections::BTreeMap,
    fmt, fs,
    path::{Path, PathBuf},
};

use alloy::primitives::{Address, TxHash, B256, U256};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The deployment record of one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// The network's name (the file's stem).
    pub network: String,
    /// The chain id the contracts live on.
    pub chain_id: u64,
    /// The account that deployed (last run).
    pub deployer: Address,
    /// Each contract by name.
    pub contracts: BTreeMap<String, ContractRecord>,
    /// Each initializer and wiring call by label.
    pub calls: BTreeMap<String, CallRecord>,
}

/// One deployed contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractRecord {
    /// Its address.
    pub address: Address,
    /// The block of the CREATE transaction.
    pub deploy_block: u64,
    /// The CREATE transaction.
    pub deploy_tx: TxHash,
    /// keccak256 of the deployed code (`EF F0 00 00` ‖ brotli(wasm)).
    pub code_hash: B256,
    /// keccak256 of the wasm.
    pub wasm_hash: B256,
    /// The activation, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<ActivationRecord>,
}

/// A contract's activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivationRecord {
    /// The `activateProgram` transaction (`None` when the program was found already active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<TxHash>,
    /// The Stylus version it was activated against.
    pub stylus_version: u16,
    /// The data fee ArbWasm charged, in wei (`None` when found already active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_fee: Option<U256>,
}

/// One initializer or wiring call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// The contract called.
    pub contract: String,
    /// Its address at the time.
    pub to: Address,
    /// keccak256 of the calldata: a re-run repeats the call only if its calldata changed (e.g. a new address).
    pub input_hash: B256,
    /// The transaction (`None` when the simulation reverted with the call's "already done" error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx: Option<TxHash>,
    /// Its block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
}

impl Deployment {
    /// An empty record.
    pub fn new(network: impl Into<String>, chain_id: u64, deployer: Address) -> Self {
        Self {
            network: network.into(),
            chain_id,
            deployer,
            contracts: BTreeMap::new(),
            calls: BTreeMap::new(),
        }
    }

    /// The record's path: `<dir>/<network>.json`.
    pub fn path(dir: &Path, network: &str) -> PathBuf {
        dir.join(format!("{network}.json"))
    }

    /// Reads `<dir>/<network>.json`; `Ok(None)` if it does not exist.
    pub fn load(dir: &Path, network: &str) -> Result<Option<Self>> {
        let path = Self::path(dir, network);
        match fs::read(&path) {
            Ok(json) => serde_json::from_slice(&json)
                .map(Some)
                .map_err(Error::json(path)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Writes the record to `<dir>/<network>.json` (via a temporary file and a rename, so it is never half written).
    pub fn save(&self, dir: &Path) -> Result<PathBuf> {
        fs::create_dir_all(dir).map_err(Error::io(dir))?;
        let path = Self::path(dir, &self.network);
        let tmp = path.with_extension("json.tmp");
        let mut json = serde_json::to_vec_pretty(self).map_err(Error::json(&path))?;
        json.push(b'\n');
        fs::write(&tmp, json).map_err(Error::io(&tmp))?;
        fs::rename(&tmp, &path).map_err(Error::io(&path))?;
        Ok(path)
    }

    /// The address of contract `name`, if recorded.
    pub fn address(&self, name: &str) -> Option<Address> {
        self.contracts.get(name).map(|c| c.address)
    }
}

/// A summary for `verity deploy`: network and chain, then one line per contract (address, deploy block, Stylus
/// version and data fee), then the calls made.
impl fmt::Display for Deployment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "network {} (chain {}), deployer {}",
            self.network, self.chain_id, self.deployer
        )?;
        for (name, c) in &self.contracts {
            let activation = match &c.activation {
                Some(ActivationRecord {
                    stylus_version,
                    data_fee: Some(fee),
                    ..
                }) => {
                    format!("stylus v{stylus_version}, data fee {fee} wei")
                }
                Some(ActivationRecord { stylus_version, .. }) => {
                    format!("stylus v{stylus_version}")
                }
                None => "NOT ACTIVATED".to_owned(),
            };
            writeln!(
                f,
                "  {name:<12} {}  block {:<6} {activation}",
                c.address, c.deploy_block
            )?;
        }
        for (label, call) in &self.calls {
            match call.tx {
                Some(tx) => writeln!(f, "  {label}: {tx}")?,
                None => writeln!(f, "  {label}: already done")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{address, b256};

    #[test]
    fn saves_and_loads_camel_case_json() {
        let dir = std::env::temp_dir().join(format!("verity-record-{}", std::process::id()));
        assert_eq!(Deployment::load(&dir, "devnode").unwrap(), None);
        let mut d = Deployment::new(
            "devnode",
            412_346,
            address!("0x00000000000000000000000000000000000000d0"),
        );
        d.contracts.insert(
            "token".into(),
            ContractRecord {
                address: address!("0x00000000000000000000000000000000000000c0"),
                deploy_block: 3,
                deploy_tx: TxHash::repeat_byte(1),
                code_hash: b256!(
                    "0x1111111111111111111111111111111111111111111111111111111111111111"
                ),
                wasm_hash: B256::repeat_byte(2),
                activation: Some(ActivationRecord {
                    tx: Some(TxHash::repeat_byte(3)),
                    stylus_version: 2,
                    data_fee: Some(U256::from(1000)),
                }),
            },
        );
        let summary = d.to_string();
        assert!(
            summary.contains("token") && summary.contains("data fee 1000 wei"),
            "{summary}"
        );
        let path = d.save(&dir).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"chainId\": 412346") && text.contains("\"deployBlock\": 3"),
            "{text}"
        );
        assert_eq!(Deployment::load(&dir, "devnode").unwrap(), Some(d));
        let _ = fs::remove_dir_all(&dir);
    }
}
