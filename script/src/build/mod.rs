//! The build pipeline: rustc's wasm → Nitro-valid wasm → brotli → deployed code → CREATE initcode.
//!
//! 0. [`toolchain::ensure`]: `rust-src` and the wasm32 target, added through rustup when missing.
//! 1. [`cargo::compile`]: `cargo build -p <pkg> --lib --target wasm32-unknown-unknown --profile contract
//!    --target-dir <workspace>/target/wasm -Zbuild-std=std,panic_abort` with [`cargo::CONTRACT_RUSTFLAGS`].
//! 2. [`process`]: the wat round trip ([`nitro::wat_round_trip`]), optional `wasm-opt -Oz` ([`wasm_opt`]) followed
//!    by another round trip, custom sections stripped, then [`nitro::validate`] with Nitro's feature set and rules.
//! 3. [`code::compress`] (brotli 11, window 22), [`code::deployed_code`] and [`code::initcode`].
//! 4. [`Artifacts::write`] to `target/verity/`, [`Artifacts::size_table`] for `verity build`, and
//!    [`Artifacts::ensure_within_limits`] for the 24,576-byte / 128 KiB limits.

pub mod artifacts;
pub mod cargo;
pub mod code;
pub mod nitro;
pub mod toolchain;
pub mod wasm_opt;

use std::{ffi::OsString, path::PathBuf};

pub use artifacts::{Artifacts, ContractArtifact, SizeTable};
pub use cargo::CargoOptions;
pub use nitro::NitroViolation;
pub use wasm_opt::{WasmOpt, WasmOptTool};

use crate::{ContractSpec, Error, Result};

/// Everything [`build_all`] needs to know.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// How to run cargo (workspace, target dir, …).
    pub cargo: CargoOptions,
    /// Where the artifacts go (default `<workspace>/target/verity`).
    pub out_dir: PathBuf,
    /// Whether to run `wasm-opt`.
    pub wasm_opt: WasmOpt,
    /// The `wasm-opt` program (default: [`wasm_opt::default_program`], npm's binaryen in `.tools/` or `PATH`'s).
    pub wasm_opt_program: OsString,
}

impl BuildOptions {
    /// Defaults for the workspace at `workspace`: `target/wasm`, `target/verity`, wasm-opt when available.
    pub fn new(workspace: impl Into<PathBuf>) -> Self {
        let cargo = CargoOptions::new(workspace);
        Self {
            out_dir: Artifacts::default_dir(&cargo.workspace),
            wasm_opt_program: wasm_opt::default_program(&cargo.workspace),
            cargo,
            wasm_opt: WasmOpt::Auto,
        }
    }
}

/// Builds every contract `plan` deploys, in plan order, and fails naming any contract over a size limit — what
/// the CLI, the end-to-end tests and the keeper's tests deploy.
///
/// # Errors
/// [`Error::UnknownContract`] for a planned contract missing from [`crate::CONTRACTS`], a build failure, or
/// [`Error::TooLarge`].
pub fn build_planned(
    options: &BuildOptions,
    plan: &crate::deploy::DeployPlan,
) -> Result<Artifacts> {
    let specs = plan
        .contracts
        .iter()
        .map(|d| {
            crate::contracts::find(&d.contract)
                .copied()
                .ok_or_else(|| Error::UnknownContract(d.contract.clone()))
        })
        .collect::<Result<Vec<_>>>()?;
    let artifacts = build_all(options, &specs)?;
    artifacts.ensure_within_limits()?;
    Ok(artifacts)
}

/// Builds `contracts`, processes each into chain bytes, writes the artifacts and returns them.
///
/// Size limits are not enforced here, so the caller can print the whole table first: call
/// [`Artifacts::ensure_within_limits`] next ([`Artifacts::load`] users get the same check from deploy).
///
/// ```no_run
/// use verity_script::{build, CONTRACTS};
///
/// let artifacts = build::build_all(&build::BuildOptions::new("."), CONTRACTS)?;
/// print!("{}", artifacts.size_table());
/// artifacts.ensure_within_limits()?;
/// # Ok::<(), verity_script::Error>(())
/// ```
pub fn build_all(options: &BuildOptions, contracts: &[ContractSpec]) -> Result<Artifacts> {
    let tool = WasmOptTool::resolve(&options.wasm_opt, options.wasm_opt_program.clone())?;
    let raws = cargo::compile(&options.cargo, contracts)?;
    let scratch = options.out_dir.join("wasm-opt");
    let contracts = contracts
        .iter()
        .zip(raws)
        .map(|(spec, raw)| process(spec, &raw, tool.as_ref(), &scratch))
        .collect::<Result<_>>()?;
    let artifacts = Artifacts {
        dir: options.out_dir.clone(),
        contracts,
    };
    artifacts.write()?;
    Ok(artifacts)
}

/// Turns rustc's `raw` wasm for `spec` into a [`ContractArtifact`] (step 2 and 3 of the module docs).
///
/// `scratch` is a directory for wasm-opt's input and output files.
pub fn process(
    spec: &ContractSpec,
    raw: &[u8],
    wasm_opt: Option<&WasmOptTool>,
    scratch: &std::path::Path,
) -> Result<ContractArtifact> {
    let name = spec.name;
    let mut wasm = nitro::wat_round_trip(name, raw)?;
    if let Some(tool) = wasm_opt {
        let optimized = tool.optimize(name, &wasm, scratch)?;
        wasm = nitro::wat_round_trip(name, &optimized)?;
    }
    let wasm = nitro::strip_custom_sections(name, &wasm)?;
    nitro::validate(&wasm).map_err(|violation| Error::NitroRejected {
        contract: name.to_owned(),
        violation,
    })?;
    let code = code::deployed_code(&code::compress(name, &wasm)?);
    tracing::info!(
        target: "verity::build",
        contract = name,
        raw = raw.len(),
        wasm = wasm.len(),
        code = code.len(),
        wasm_opt = wasm_opt.is_some(),
        "processed"
    );
    Ok(ContractArtifact {
        name: name.to_owned(),
        package: spec.package.to_owned(),
        raw_wasm_size: raw.len(),
        initcode: code::initcode(&code),
        code,
        wasm,
        wasm_opt: wasm_opt.map(|tool| tool.version.clone()),
    })
}
