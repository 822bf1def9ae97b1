//! Optional `wasm-opt -Oz --converge` restricted to the features Nitro accepts.
//!
//! # Decisions
//! - **Binaryen 132 from npm, not Debian's 108.** `script/test` installs `binaryen@132.0.0` into `.tools/`
//!   ([`default_program`] prefers it). Measured on this wave's contracts (brotli bytes): gauge 19,324 → 18,693,
//!   settlement 19,437 → 18,686 with `--converge` (`verity build`), every other contract smaller too; Debian's 108 left two contracts over 75 %
//!   of the limit. npm's build runs binaryen compiled to JS/wasm under node (≈4 s a contract), so outputs are
//!   cached by content ([`WasmOptTool::optimize`]).
//! - **`--converge`**: repeats the passes while they still shrink the module (≈90–200 bytes brotli here); other
//!   pass sets tried (`--gufa-optimizing`, `--flatten --rereloop`, `--monomorphize`, extra inlining) were larger.

use std::{
    ffi::OsString,
    fs,
    io::ErrorKind,
    path::Path,
    process::{Command, Stdio},
};

use crate::{Error, Result};

/// Whether to run `wasm-opt`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WasmOpt {
    /// Use `wasm-opt` when it is on `PATH`, skip it otherwise (sizes differ, validity does not).
    #[default]
    Auto,
    /// Never run it.
    Never,
    /// Fail with [`Error::WasmOptMissing`] when it is not on `PATH`.
    Required,
}

/// The flags passed to `wasm-opt`: size optimization with exactly the post-MVP features Nitro accepts enabled, so
/// binaryen neither rejects rustc's bulk-memory and sign-extension instructions nor introduces anything else.
///
/// Binaryen may still emit a `DataCount` section when bulk memory is on; the wat round trip after it removes the
/// section again unless `memory.init`/`data.drop` appear, which the Nitro validation then rejects.
pub const WASM_OPT_FLAGS: &[&str] = &[
    "-Oz",
    "--converge",
    "--mvp-features",
    "--enable-mutable-globals",
    "--enable-sign-ext",
    "--enable-nontrapping-float-to-int",
    "--enable-bulk-memory",
    "--strip-debug",
    "--strip-producers",
];

/// Where npm installs binaryen's `wasm-opt` under the workspace's `.tools/` (`script/test` puts it there).
pub const NPM_WASM_OPT: &str = ".tools/node_modules/binaryen/bin/wasm-opt";

/// The `wasm-opt` to use for the workspace at `workspace`: npm's binaryen in `.tools/` when installed, else
/// `wasm-opt` on `PATH`.
pub fn default_program(workspace: &Path) -> OsString {
    let npm = workspace.join(NPM_WASM_OPT);
    if npm.is_file() {
        npm.into_os_string()
    } else {
        "wasm-opt".into()
    }
}

/// A `wasm-opt` binary found on `PATH` (or at a given path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmOptTool {
    program: OsString,
    /// What `wasm-opt --version` printed, e.g. `wasm-opt version 108`.
    pub version: String,
}

impl WasmOptTool {
    /// Finds `program` (normally `"wasm-opt"`) by running `<program> --version`; `Ok(None)` when it does not exist.
    pub fn detect(program: impl Into<OsString>) -> Result<Option<Self>> {
        let program = program.into();
        let output = match Command::new(&program)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
        {
            Ok(output) if output.status.success() => output,
            Ok(_) => return Ok(None),
            Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    path: program.into(),
                    source,
                })
            }
        };
        let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok(Some(Self { program, version }))
    }

    /// Resolves a [`WasmOpt`] choice to a tool, or none.
    pub fn resolve(choice: &WasmOpt, program: impl Into<OsString>) -> Result<Option<Self>> {
        match choice {
            WasmOpt::Never => Ok(None),
            WasmOpt::Auto => Self::detect(program),
            WasmOpt::Required => Self::detect(program)?
                .map(Some)
                .ok_or(Error::WasmOptMissing),
        }
    }

    /// Runs `wasm-opt` with [`WASM_OPT_FLAGS`] on `wasm`, using files `<scratch>/<contract>.{in,out}.wasm`.
    ///
    /// The output is cached as `<scratch>/<contract>.<key>.wasm`, `key` = keccak256 of the tool's version, the
    /// flags and the input, so an unchanged contract is not optimized again (wasm-opt is deterministic).
    pub fn optimize(&self, contract: &str, wasm: &[u8], scratch: &Path) -> Result<Vec<u8>> {
        fs::create_dir_all(scratch).map_err(Error::io(scratch))?;
        let key = alloy::primitives::keccak256(
            [
                self.version.as_bytes(),
                WASM_OPT_FLAGS.join(" ").as_bytes(),
                wasm,
            ]
            .join(&0u8),
        );
        let cached = scratch.join(format!("{contract}.{}.wasm", &key.to_string()[2..18]));
        if let Ok(bytes) = fs::read(&cached) {
            return Ok(bytes);
        }
        let input = scratch.join(format!("{contract}.in.wasm"));
        let output = scratch.join(format!("{contract}.out.wasm"));
        fs::write(&input, wasm).map_err(Error::io(&input))?;
        let result = Command::new(&self.program)
            .args(WASM_OPT_FLAGS)
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .stdin(Stdio::null())
            .output()
            .map_err(Error::io(Path::new(&self.program)))?;
        if !result.status.success() {
            return Err(Error::WasmOptFailed {
                contract: contract.to_owned(),
                status: result.status,
                stderr: String::from_utf8_lossy(&result.stderr).trim().to_owned(),
            });
        }
        let optimized = fs::read(&output).map_err(Error::io(&output))?;
        // Best effort: the scratch files are only for wasm-opt's benefit.
        let _ = fs::remove_file(&input);
        let _ = fs::rename(&output, &cached);
        Ok(optimized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_is_none_unless_required() {
        let missing = "verity-no-such-wasm-opt";
        assert_eq!(WasmOptTool::detect(missing).unwrap(), None);
        assert_eq!(WasmOptTool::resolve(&WasmOpt::Auto, missing).unwrap(), None);
        assert_eq!(
            WasmOptTool::resolve(&WasmOpt::Never, "wasm-opt").unwrap(),
            None
        );
        assert!(matches!(
            WasmOptTool::resolve(&WasmOpt::Required, missing),
            Err(Error::WasmOptMissing)
        ));
    }
}
