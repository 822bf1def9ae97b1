//! Build outputs on disk, `target/verity/`: `<name>.wasm` (Nitro-valid wasm), `<name>.code` (deployed code),
//! `<name>.initcode` (CREATE initcode), all binary, and `manifest.json` with sizes and hashes. Tests and deploy load
//! them instead of rebuilding.

use std::{
    fmt, fs,
    path::{Path, PathBuf},
};

use alloy::primitives::{keccak256, B256};
use serde::{Deserialize, Serialize};

use super::code::{FRAGMENT_CHUNK, MAX_CODE_SIZE, MAX_WASM_SIZE};
use crate::{error::SizeLimit, Error, Result};

/// The manifest's file name inside the artifacts directory.
pub const MANIFEST: &str = "manifest.json";

/// One built contract: its chain bytes and how they were made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractArtifact {
    /// Short name ([`crate::ContractSpec::name`]).
    pub name: String,
    /// The Cargo package it was built from.
    pub package: String,
    /// Size of rustc's output before any processing.
    pub raw_wasm_size: usize,
    /// The Nitro-valid wasm (after the round trip, optional wasm-opt and stripping).
    pub wasm: Vec<u8>,
    /// The deployed code: `EF F0 00 00` ‖ brotli(wasm).
    pub code: Vec<u8>,
    /// The CREATE initcode: cargo-stylus's prelude ‖ code.
    pub initcode: Vec<u8>,
    /// `wasm-opt --version` when wasm-opt ran, `None` otherwise.
    pub wasm_opt: Option<String>,
}

impl ContractArtifact {
    /// Size of the brotli stream (the code minus its 4-byte prefix).
    pub fn brotli_size(&self) -> usize {
        self.code.len().saturating_sub(4)
    }

    /// keccak256 of the deployed code: what `eth_getCode` returns at the contract's address hashes to this.
    pub fn code_hash(&self) -> B256 {
        keccak256(&self.code)
    }

    /// keccak256 of the Nitro-valid wasm.
    pub fn wasm_hash(&self) -> B256 {
        keccak256(&self.wasm)
    }

    /// The deployed code's share of the 24,576-byte limit, in percent.
    pub fn percent_of_limit(&self) -> f64 {
        self.code.len() as f64 * 100.0 / MAX_CODE_SIZE as f64
    }

    /// Fails with [`Error::TooLarge`] when the code or the wasm exceeds its limit.
    pub fn ensure_within_limits(&self) -> Result<()> {
        let check = |limit, size: usize, max| {
            if size > max {
                return Err(Error::TooLarge {
                    contract: self.name.clone(),
                    limit,
                    size,
                    max,
                });
            }
            Ok(())
        };
        check(SizeLimit::Compressed, self.code.len(), MAX_CODE_SIZE)?;
        check(SizeLimit::Uncompressed, self.wasm.len(), MAX_WASM_SIZE)
    }

    /// How many fragments a fragmented deployment of this contract takes ([`super::code::fragment_codes`]).
    pub fn fragment_count(&self) -> usize {
        self.brotli_size().div_ceil(FRAGMENT_CHUNK).max(1)
    }

    /// Like [`Self::ensure_within_limits`] for a fragmented deployment (ArbOS 60): the brotli stream must fit in
    /// `max_fragments` fragments instead of one contract.
    pub fn ensure_within_fragment_limits(&self, max_fragments: u8) -> Result<()> {
        let max = usize::from(max_fragments) * FRAGMENT_CHUNK;
        if self.brotli_size() > max {
            return Err(Error::TooLarge {
                contract: self.name.clone(),
                limit: SizeLimit::Fragmented,
                size: self.brotli_size(),
                max,
            });
        }
        if self.wasm.len() > MAX_WASM_SIZE {
            return Err(Error::TooLarge {
                contract: self.name.clone(),
                limit: SizeLimit::Uncompressed,
                size: self.wasm.len(),
                max: MAX_WASM_SIZE,
            });
        }
        Ok(())
    }
}

/// Every built contract, in build order, and the directory they live in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifacts {
    /// The artifacts directory (normally `<workspace>/target/verity`).
    pub dir: PathBuf,
    /// The contracts.
    pub contracts: Vec<ContractArtifact>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    contracts: Vec<ManifestEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestEntry {
    name: String,
    package: String,
    raw_wasm_size: usize,
    wasm_size: usize,
    brotli_size: usize,
    code_size: usize,
    wasm_opt: Option<String>,
    wasm_hash: B256,
    code_hash: B256,
    initcode_hash: B256,
}

impl Artifacts {
    /// The contract named `name`.
    pub fn get(&self, name: &str) -> Result<&ContractArtifact> {
        self.contracts
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::UnknownContract(name.to_owned()))
    }

    /// Fails with [`Error::TooLarge`] naming the first contract over a size limit.
    pub fn ensure_within_limits(&self) -> Result<()> {
        self.contracts
            .iter()
            .try_for_each(ContractArtifact::ensure_within_limits)
    }

    /// Fails with [`Error::TooLarge`] naming the first contract a fragmented deployment with at most
    /// `max_fragments` fragments cannot hold.
    pub fn ensure_within_fragment_limits(&self, max_fragments: u8) -> Result<()> {
        self.contracts
            .iter()
            .try_for_each(|c| c.ensure_within_fragment_limits(max_fragments))
    }

    /// The size table `verity build` prints (see [`SizeTable`]).
    pub fn size_table(&self) -> SizeTable<'_> {
        SizeTable(self)
    }

    /// Writes every contract's files and the manifest into [`Artifacts::dir`].
    pub fn write(&self) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(Error::io(&self.dir))?;
        let mut entries = Vec::with_capacity(self.contracts.len());
        for c in &self.contracts {
            for (ext, bytes) in [
                ("wasm", &c.wasm),
                ("code", &c.code),
                ("initcode", &c.initcode),
            ] {
                let path = self.dir.join(format!("{}.{ext}", c.name));
                fs::write(&path, bytes).map_err(Error::io(&path))?;
            }
            entries.push(ManifestEntry {
                name: c.name.clone(),
                package: c.package.clone(),
                raw_wasm_size: c.raw_wasm_size,
                wasm_size: c.wasm.len(),
                brotli_size: c.brotli_size(),
                code_size: c.code.len(),
                wasm_opt: c.wasm_opt.clone(),
                wasm_hash: c.wasm_hash(),
                code_hash: c.code_hash(),
                initcode_hash: keccak256(&c.initcode),
            });
        }
        let path = self.dir.join(MANIFEST);
        let json = serde_json::to_vec_pretty(&Manifest { contracts: entries })
            .map_err(Error::json(&path))?;
        fs::write(&path, json).map_err(Error::io(&path))
    }

    /// Loads the artifacts `verity build` wrote into `dir`, checking every file against the manifest's hashes.
    pub fn load(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let path = dir.join(MANIFEST);
        let json = fs::read(&path).map_err(Error::io(&path))?;
        let manifest: Manifest = serde_json::from_slice(&json).map_err(Error::json(&path))?;
        let contracts = manifest
            .contracts
            .into_iter()
            .map(|entry| {
                let read = |ext: &str, hash: B256| -> Result<Vec<u8>> {
                    let path = dir.join(format!("{}.{ext}", entry.name));
                    let bytes = fs::read(&path).map_err(Error::io(&path))?;
                    if keccak256(&bytes) != hash {
                        return Err(Error::ArtifactMismatch {
                            contract: entry.name.clone(),
                            path,
                        });
                    }
                    Ok(bytes)
                };
                Ok(ContractArtifact {
                    wasm: read("wasm", entry.wasm_hash)?,
                    code: read("code", entry.code_hash)?,
                    initcode: read("initcode", entry.initcode_hash)?,
                    name: entry.name,
                    package: entry.package,
                    raw_wasm_size: entry.raw_wasm_size,
                    wasm_opt: entry.wasm_opt,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self { dir, contracts })
    }

    /// The default artifacts directory of the workspace at `workspace`: `<workspace>/target/verity`.
    pub fn default_dir(workspace: &Path) -> PathBuf {
        workspace.join("target").join("verity")
    }
}

/// The size table: contract | rustc wasm | final wasm | brotli | % of 24,576 | wasm-opt.
///
/// The percentage is of the deployed code (brotli + the 4-byte `EF F0 00 00` prefix), which is what the chain's code
/// size limit applies to. Rows over a limit end in `OVER LIMIT`.
#[derive(Debug, Clone, Copy)]
pub struct SizeTable<'a>(&'a Artifacts);

impl fmt::Display for SizeTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .0
            .contracts
            .iter()
            .map(|c| c.name.len())
            .max()
            .unwrap_or(0)
            .max("contract".len());
        writeln!(
            f,
            "{:<width$} | {:>10} | {:>10} | {:>12} | {:>11} | wasm-opt",
            "contract", "rustc wasm", "final wasm", "brotli bytes", "% of 24,576"
        )?;
        writeln!(
            f,
            "{:-<width$}-|-{:-<10}-|-{:-<10}-|-{:-<12}-|-{:-<11}-|---------",
            "", "", "", "", ""
        )?;
        for c in &self.0.contracts {
            let over = if c.ensure_within_limits().is_err() {
                "  OVER LIMIT"
            } else {
                ""
            };
            writeln!(
                f,
                "{:<width$} | {:>10} | {:>10} | {:>12} | {:>10.1}% | {}{over}",
                c.name,
                c.raw_wasm_size,
                c.wasm.len(),
                c.brotli_size(),
                c.percent_of_limit(),
                if c.wasm_opt.is_some() { "yes" } else { "no" },
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::code::{deployed_code, initcode};

    fn artifact(name: &str, brotli: usize, wasm: usize) -> ContractArtifact {
        let code = deployed_code(&vec![7; brotli]);
        ContractArtifact {
            name: name.into(),
            package: format!("verity-{name}"),
            raw_wasm_size: wasm * 2,
            wasm: vec![1; wasm],
            initcode: initcode(&code),
            code,
            wasm_opt: None,
        }
    }

    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("verity-script-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn limits_name_the_contract() {
        assert!(artifact("ok", MAX_CODE_SIZE - 4, 1000)
            .ensure_within_limits()
            .is_ok());
        let err = artifact("big", MAX_CODE_SIZE - 3, 1000)
            .ensure_within_limits()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::TooLarge { ref contract, limit: SizeLimit::Compressed, size, max: MAX_CODE_SIZE }
                if contract == "big" && size == MAX_CODE_SIZE + 1
        ));
        let err = artifact("wide", 100, MAX_WASM_SIZE + 1)
            .ensure_within_limits()
            .unwrap_err();
        assert!(matches!(
            err,
            Error::TooLarge {
                limit: SizeLimit::Uncompressed,
                ..
            }
        ));
    }

    #[test]
    fn fragment_limits_replace_the_code_limit() {
        let big = artifact("big", MAX_CODE_SIZE, 100_000);
        assert!(big.ensure_within_limits().is_err());
        assert_eq!(big.fragment_count(), 2);
        assert!(big.ensure_within_fragment_limits(2).is_ok());
        assert!(matches!(
            big.ensure_within_fragment_limits(1),
            Err(Error::TooLarge { limit: SizeLimit::Fragmented, max, .. }) if max == FRAGMENT_CHUNK
        ));
        assert!(matches!(
            artifact("wide", 100, MAX_WASM_SIZE + 1).ensure_within_fragment_limits(2),
            Err(Error::TooLarge {
                limit: SizeLimit::Uncompressed,
                ..
            })
        ));
        assert_eq!(artifact("small", 10, 100).fragment_count(), 1);
    }

    #[test]
    fn write_then_load_round_trips_and_detects_tampering() {
        let dir = scratch("artifacts");
        let artifacts = Artifacts {
            dir: dir.clone(),
            contracts: vec![artifact("token", 100, 300)],
        };
        artifacts.write().unwrap();
        assert_eq!(Artifacts::load(&dir).unwrap(), artifacts);
        fs::write(dir.join("token.code"), b"tampered").unwrap();
        assert!(
            matches!(Artifacts::load(&dir), Err(Error::ArtifactMismatch { contract, .. }) if contract == "token")
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn table_lists_each_contract() {
        let artifacts = Artifacts {
            dir: PathBuf::new(),
            contracts: vec![
                artifact("token", 12_284, 30_000),
                artifact("registry", 30_000, 60_000),
            ],
        };
        let table = artifacts.size_table().to_string();
        let lines: Vec<_> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[2].starts_with(
                "token    |      60000 |      30000 |        12284 |       50.0% | no"
            ),
            "{table}"
        );
        assert!(lines[3].ends_with("OVER LIMIT"), "{table}");
    }
}
