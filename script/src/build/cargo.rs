//! Step 1: `cargo build` every contract for `wasm32-unknown-unknown` with the size-tuned `contract` profile.
//!
//! # Decisions
//! - **`std` built from source with `-C panic=immediate-abort`, through `RUSTC_BOOTSTRAP=1`.** Both flags are
//!   unstable, but the toolchain is pinned (`rust-toolchain.toml` names 1.95.0), so their behaviour cannot change
//!   under us, and only the contract build uses them — never a host crate. A contract's panic already trapped
//!   (`verity-contract-support`'s handler), so behaviour is unchanged; what goes is the formatting code every
//!   panic site referenced (≈3.4 KB brotli, InferenceSettlement 91.8% → 77.9% of the limit). Costs: a toolchain
//!   bump must re-check both flags, the `rust-src` component is required ([`super::toolchain`] adds it), and the
//!   first contract build compiles `std` (≈1 CPU-minute, cached in `target/wasm`). cargo-stylus offers the same
//!   through its `--nightly` builds.

use std::{
    ffi::OsString,
    fs,
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::{ContractSpec, Error, Result};

/// The wasm target.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The Cargo profile contracts build with (root `Cargo.toml`: opt-level z, lto, panic abort, one codegen unit).
pub const CONTRACT_PROFILE: &str = "contract";

/// rustc flags for contracts, as cargo-stylus's templates set them (`.cargo/config.toml` of stylus-sdk-rs):
/// a 32 KiB shadow stack instead of rustc's 1 MiB (fewer initial pages, so cheaper calls) and no reference types.
/// Multi-value is off too: current ArbOS rejects it.
///
/// rustc 1.95's default wasm features otherwise stay on: bulk memory, sign extension, non-trapping float-to-int and
/// mutable globals are all accepted by Nitro. [`super::nitro::wat_round_trip`] still normalizes the encoding.
///
/// The last two flags make every panic an immediate trap (`-C panic=immediate-abort`, what cargo-stylus's
/// `--nightly` builds get from `panic_immediate_abort`): no panic site builds a `fmt::Arguments`, so `core::fmt`
/// leaves every contract (≈3.4 KB brotli, 14 points of the limit, measured on InferenceSettlement). It only works
/// with `std` built from source ([`BUILD_STD`]); see the module's decisions.
///
/// The next two drop what is left of panics and `Debug`: `-Zfmt-debug=none` (every `Debug` impl prints nothing;
/// no contract formats) and `-Zlocation-detail=none` (no file/line/column in panic locations; a panic traps
/// anyway). Measured through `verity build` with binaryen 132: gauge −85, settlement −222 bytes brotli.
pub const CONTRACT_RUSTFLAGS: &[&str] = &[
    "-C",
    "link-arg=-zstack-size=32768",
    "-C",
    "target-feature=-reference-types,-multivalue",
    "-Zunstable-options",
    "-Cpanic=immediate-abort",
    "-Zfmt-debug=none",
    "-Zlocation-detail=none",
];

/// Cargo's flag that builds `std` (and with it `core` and `alloc`) from the toolchain's `rust-src` for the
/// contracts, so the panic strategy above applies to the standard library too.
pub const BUILD_STD: &str = "-Zbuild-std=std,panic_abort";

/// How to run cargo for the contracts.
#[derive(Debug, Clone)]
pub struct CargoOptions {
    /// The `cargo` program (default `cargo`: rustup's proxy honours `rust-toolchain.toml`).
    pub program: OsString,
    /// Directory holding the workspace's `Cargo.toml`.
    pub workspace: PathBuf,
    /// Target directory for the wasm build, separate from the host's so neither invalidates the other.
    pub target_dir: PathBuf,
    /// Pass `--locked`.
    pub locked: bool,
}

impl CargoOptions {
    /// Options for the workspace at `workspace`: `cargo`, target dir `<workspace>/target/wasm`, not locked.
    pub fn new(workspace: impl Into<PathBuf>) -> Self {
        let workspace = workspace.into();
        Self {
            program: "cargo".into(),
            target_dir: workspace.join("target").join("wasm"),
            workspace,
            locked: false,
        }
    }

    /// The `.wasm` file cargo writes for `contract`.
    pub fn wasm_path(&self, contract: &ContractSpec) -> PathBuf {
        self.target_dir
            .join(WASM_TARGET)
            .join(CONTRACT_PROFILE)
            .join(format!("{}.wasm", contract.lib_name()))
    }

    /// The `cargo build` command for `contracts` (exposed so callers can print it).
    pub fn command(&self, contracts: &[ContractSpec]) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.arg("build")
            .arg("--manifest-path")
            .arg(self.workspace.join("Cargo.toml"))
            .args([
                "--lib",
                "--target",
                WASM_TARGET,
                "--profile",
                CONTRACT_PROFILE,
                BUILD_STD,
            ])
            .arg("--target-dir")
            .arg(&self.target_dir);
        if self.locked {
            cmd.arg("--locked");
        }
        for contract in contracts {
            cmd.args(["-p", contract.package]);
        }
        // CARGO_ENCODED_RUSTFLAGS wins over every other rustflags source, so the caller's RUSTFLAGS (or a
        // `cargo test` environment) cannot change the contract bytes.
        cmd.env("CARGO_ENCODED_RUSTFLAGS", CONTRACT_RUSTFLAGS.join("\x1f"))
            // Unstable flags on the pinned stable toolchain: see the module's decisions.
            .env("RUSTC_BOOTSTRAP", "1")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            // `script/test` lints by running clippy as the compiler wrapper of the host build; contract bytes
            // must not depend on it (and wasm builds would pay for the lints twice).
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CLIPPY_ARGS")
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        cmd
    }
}

/// Builds `contracts` in one cargo invocation and returns each one's raw rustc wasm, in order.
pub fn compile(options: &CargoOptions, contracts: &[ContractSpec]) -> Result<Vec<Vec<u8>>> {
    if contracts.is_empty() {
        return Ok(Vec::new());
    }
    super::toolchain::ensure(&options.workspace)?;
    tracing::info!(target: "verity::build", packages = ?contracts.iter().map(|c| c.package).collect::<Vec<_>>(), "cargo build for wasm32");
    let status = options
        .command(contracts)
        .status()
        .map_err(Error::CargoSpawn)?;
    if !status.success() {
        return Err(Error::CargoFailed {
            packages: contracts.iter().map(|c| c.package.to_owned()).collect(),
            status,
        });
    }
    contracts
        .iter()
        .map(|contract| {
            let path = options.wasm_path(contract);
            fs::read(&path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => Error::WasmMissing {
                    contract: contract.name.to_owned(),
                    path,
                },
                _ => Error::Io { path, source },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_builds_every_package_into_the_wasm_target_dir() {
        let options = CargoOptions::new("/ws");
        let specs = [
            ContractSpec::new("a", "pkg-a"),
            ContractSpec::new("b", "pkg-b"),
        ];
        let cmd = options.command(&specs);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.starts_with(
            "build --manifest-path /ws/Cargo.toml --lib --target wasm32-unknown-unknown"
        ));
        assert!(joined.contains(
            "--profile contract -Zbuild-std=std,panic_abort --target-dir /ws/target/wasm"
        ));
        assert!(joined.ends_with("-p pkg-a -p pkg-b"));
        let flags = cmd
            .get_envs()
            .find(|(k, _)| *k == "CARGO_ENCODED_RUSTFLAGS")
            .and_then(|(_, v)| v)
            .map(|v| v.to_string_lossy().into_owned());
        assert_eq!(flags.as_deref(), Some("-C\x1flink-arg=-zstack-size=32768\x1f-C\x1ftarget-feature=-reference-types,-multivalue\x1f-Zunstable-options\x1f-Cpanic=immediate-abort\x1f-Zfmt-debug=none\x1f-Zlocation-detail=none"));
        assert_eq!(
            options.wasm_path(&specs[0]),
            PathBuf::from("/ws/target/wasm/wasm32-unknown-unknown/contract/pkg_a.wasm")
        );
    }
}
