//! The EVM baseline: `script/bench/BenchToken.sol` (BR's functions, events and errors in plain Solidity),
//! compiled at bench time by npm's `solc` (solcjs, run with `node`) and cached by source hash.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use alloy::{
    hex,
    primitives::{keccak256, Address, Bytes, U256},
    sol_types::SolValue,
};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The Solidity source, compiled into this binary so the bench runs from any directory.
pub(crate) const SOURCE: &str = include_str!("../../script/bench/BenchToken.sol");

/// The contract's name in [`SOURCE`].
pub(crate) const CONTRACT: &str = "BenchToken";

/// The optimizer settings: solc's defaults with the optimizer on (what a typical deployment uses).
const OPTIMIZER_RUNS: u32 = 200;

/// `solc.js` under the workspace's npm tools (`script/test` installs it).
pub(crate) fn default_solcjs(workspace: &Path) -> PathBuf {
    workspace.join(".tools/node_modules/solc/solc.js")
}

fn standard_json_input() -> Value {
    json!({
        "language": "Solidity",
        "sources": { "BenchToken.sol": { "content": SOURCE } },
        "settings": {
            "optimizer": { "enabled": true, "runs": OPTIMIZER_RUNS },
            "evmVersion": "prague",
            "outputSelection": { "*": { CONTRACT: ["evm.bytecode.object"] } }
        }
    })
}

/// Compiles [`SOURCE`] with solcjs (`node <solcjs> --standard-json`) and returns the creation bytecode, or
/// `None` when solcjs is not installed. The result is cached in `cache_dir` under the input's hash, so only the
/// first run pays solcjs' start-up.
pub fn compile(solcjs: &Path, cache_dir: &Path) -> Result<Option<Bytes>> {
    let input = standard_json_input().to_string();
    let cache = cache_dir.join(format!(
        "{CONTRACT}-{}.bin",
        hex::encode(&keccak256(input.as_bytes())[..8])
    ));
    if let Ok(cached) = std::fs::read_to_string(&cache) {
        if let Ok(bytes) = hex::decode(cached.trim()) {
            return Ok(Some(bytes.into()));
        }
    }
    if !solcjs.is_file() {
        return Ok(None);
    }
    let mut child = Command::new("node")
        .arg(solcjs)
        .arg("--standard-json")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running node (solcjs needs Node.js)")?;
    child
        .stdin
        .take()
        .context("solcjs stdin")?
        .write_all(input.as_bytes())
        .context("writing solcjs input")?;
    let output = child.wait_with_output().context("waiting for solcjs")?;
    if !output.status.success() {
        bail!(
            "solcjs failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let bytecode = parse_output(&String::from_utf8_lossy(&output.stdout))?;
    std::fs::create_dir_all(cache_dir)
        .with_context(|| format!("creating {}", cache_dir.display()))?;
    std::fs::write(&cache, hex::encode(&bytecode))
        .with_context(|| format!("writing {}", cache.display()))?;
    Ok(Some(bytecode))
}

/// Extracts the creation bytecode from solc's standard-JSON output, failing on any compile error.
fn parse_output(stdout: &str) -> Result<Bytes> {
    // solcjs may print notes (e.g. about SMT solvers) before the JSON document.
    let start = stdout.find('{').context("solcjs printed no JSON")?;
    let output: Value =
        serde_json::from_str(&stdout[start..]).context("parsing solcjs' JSON output")?;
    let errors: Vec<&str> = output["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["severity"] == "error")
        .filter_map(|e| e["formattedMessage"].as_str())
        .collect();
    if !errors.is_empty() {
        bail!("{CONTRACT}.sol does not compile:\n{}", errors.join("\n"));
    }
    let object = output["contracts"]["BenchToken.sol"][CONTRACT]["evm"]["bytecode"]["object"]
        .as_str()
        .context("solcjs output has no BenchToken bytecode")?;
    let bytes = hex::decode(object).context("BenchToken bytecode is not hex")?;
    if bytes.is_empty() {
        bail!("solcjs returned empty bytecode for {CONTRACT}");
    }
    Ok(bytes.into())
}

/// Creation code + BR's constructor arguments: admin = minter = genesis recipient = `owner`, 21% of the cap
/// minted to it (what Verity's deploy plan gives BR, with the minter set so `mint` can be exercised).
pub fn initcode(bytecode: &Bytes, owner: Address) -> Bytes {
    let genesis = verity_abi::token::CAP * U256::from(21u64) / U256::from(100u64);
    let mut code = bytecode.to_vec();
    code.extend((owner, owner, owner, genesis).abi_encode_params());
    code.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_output_after_notes_and_rejects_errors() {
        let ok = r#">>> note
{"contracts":{"BenchToken.sol":{"BenchToken":{"evm":{"bytecode":{"object":"6080"}}}}}}"#;
        assert_eq!(parse_output(ok).unwrap(), Bytes::from(vec![0x60, 0x80]));
        let err = r#"{"errors":[{"severity":"error","formattedMessage":"boom"}]}"#;
        assert!(parse_output(err).unwrap_err().to_string().contains("boom"));
        assert!(parse_output("no json").is_err());
    }

    #[test]
    fn source_declares_brs_interface() {
        // Every function, event and error of BR's committed interface appears in the Solidity twin.
        let interface = include_str!("../../contracts/abi/interfaces/IBrToken.sol");
        for line in interface.lines().map(str::trim) {
            let Some(name) = ["function ", "event ", "error "]
                .iter()
                .find_map(|kw| line.strip_prefix(kw))
                .and_then(|rest| rest.split('(').next())
            else {
                continue;
            };
            // A function, event or error, or a public state variable / constant (its getter).
            let declared = SOURCE.contains(&format!(" {name}("))
                || SOURCE.contains(&format!(" public {name};"))
                || SOURCE.contains(&format!(" public constant {name} "));
            assert!(declared, "BenchToken.sol lacks {name}");
        }
    }
}
