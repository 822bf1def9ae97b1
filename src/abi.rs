//! Exports each contract's Solidity interface (`export-abi`) and appends its events from `verity-abi`, giving
//! the text committed under `contracts/abi/interfaces/`. `verity abi --write` writes it; the drift test compares.
//! The JSON ABIs under `contracts/abi/json/` are the same interfaces as `sol!` compiles them
//! ([`verity_abi::rpc::json_abis`]), so they follow the committed `.sol` files.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{bail, Context, Result};
use verity_abi::ContractAbi;

/// The workspace root (this crate's manifest directory).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Path of `contract`'s committed interface file.
pub fn interface_path(root: &Path, contract: &ContractAbi) -> PathBuf {
    root.join("contracts/abi/interfaces")
        .join(format!("{}.sol", contract.interface))
}

/// Path of `contract`'s committed JSON ABI (`contracts/abi/json/<interface>.json`).
pub fn json_path(root: &Path, contract: &ContractAbi) -> PathBuf {
    root.join("contracts/abi/json")
        .join(format!("{}.json", contract.interface))
}

/// The JSON ABI of `contract`'s committed interface as this build compiled it (pretty-printed, one trailing
/// newline): the text committed at [`json_path`].
pub fn json_abi(contract: &ContractAbi) -> Result<String> {
    let abi = verity_abi::rpc::json_abis()
        .into_iter()
        .find(|(name, _)| *name == contract.interface)
        .map(|(_, abi)| abi)
        .with_context(|| format!("no JSON ABI for {}", contract.interface))?;
    Ok(serde_json::to_string_pretty(&abi)? + "\n")
}

/// Runs the contract's `export-abi` binary and returns its Solidity interface with the events appended.
pub fn export_interface(root: &Path, contract: &ContractAbi) -> Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        // Exporting is not linting: skip `script/test`'s clippy wrapper (see script/test).
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .args([
            "run",
            "-q",
            "-p",
            contract.package,
            "--features",
            "export-abi",
            "--bin",
        ])
        .arg(contract.package)
        .output()
        .with_context(|| format!("running export-abi for {}", contract.package))?;
    if !output.status.success() {
        bail!(
            "export-abi for {} failed: {}",
            contract.package,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let exported = String::from_utf8(output.stdout).context("export-abi printed non-UTF-8")?;
    with_events(&exported, contract)
}

/// Inserts `contract.events_sol` (one `event …;` per line) at the end of the contract's own interface block.
pub fn with_events(exported: &str, contract: &ContractAbi) -> Result<String> {
    let header = format!("interface {} ", contract.interface);
    let header_plain = format!("interface {} {{", contract.interface);
    let start = exported
        .find(&header_plain)
        .or_else(|| exported.find(&header))
        .with_context(|| format!("{} not found in export-abi output", contract.interface))?;
    let close = exported[start..]
        .find("\n}")
        .map(|i| start + i)
        .with_context(|| format!("{} has no closing brace", contract.interface))?;
    let mut events = String::new();
    for event in verity_abi::solidity_events(contract.events_sol) {
        events.push_str("\n\n    ");
        events.push_str(&event);
    }
    Ok(format!(
        "{}{}{}",
        &exported[..close],
        events,
        &exported[close..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_go_inside_the_contract_interface() {
        let exported =
            "pragma solidity ^0.8.23;\n\ninterface IBrToken {\n    function a() external;\n}\n";
        let out = with_events(exported, &verity_abi::CONTRACTS[0]).unwrap();
        assert!(out.contains(
            "function a() external;\n\n    event Transfer(address indexed from, address indexed to, uint256 value);"
        ));
        assert_eq!(out.matches("event ").count(), 4);
    }
}
