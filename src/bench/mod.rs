//! `verity bench`: ERC-20 transfer throughput over JSON-RPC — BR (Stylus WASM) on devnode against the same-shaped
//! Solidity token (`script/bench/BenchToken.sol`, compiled by npm's solc) on anvil, measured in one run.
//!
//! Every node gets the same load ([`load::run_transfers`]): many funded senders, each with its own nonce
//! sequence, send pre-signed transfers concurrently (one tokio task per sender); the clock runs from the first
//! send to the last receipt. Afterwards every receipt and balance is checked, so a fast but wrong run shows up.
//! The Solidity token also runs on devnode, which separates the Stylus engine's cost from the node's own.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use verity::bench::{run, BenchOptions};
//! let report = run(&BenchOptions::new(verity::abi::workspace_root())).await?;
//! print!("{report}");
//! # Ok(()) }
//! ```

mod cli;
mod gas;
pub mod inference;
mod keeper;
mod load;
mod nodes;
pub mod outbox;
mod registrations;
mod registry_gas;
mod settlement_gas;
mod solidity;
mod zk;

use std::{fmt, path::PathBuf};

use alloy::{
    network::EthereumWallet,
    primitives::{Address, Bytes},
    providers::ProviderBuilder,
};
use anyhow::{Context, Result};
use verity_script::{
    build::{Artifacts, BuildOptions},
    deploy::{
        deploy_all,
        verity::{plan, VerityParams},
        DeployOptions,
    },
};

pub use cli::{main, BenchArgs};
pub use gas::{
    finalize_label, gauge_gas, vote_label, GasGoal, GasReport, GasRow, GaugeGasSetup,
    FINALIZE_VOTER_RATIO_GOAL, VOTE_GAUGE_COUNTS,
};
pub use keeper::{
    bench_keeper, keeper_bench, KeeperBench, KeeperBenchSetup, INTAKE_CLIENTS, INTAKE_GOAL_PER_SEC,
    INTAKE_RECEIPTS,
};
pub use load::{recipient, run_transfers, LoadConfig, LoadReport};
pub use nodes::{start_anvil, start_devnode, DevnodeKind, RunningNode};
pub use registrations::{
    bench_registrations, RegistrationBench, REGISTRATIONS_GOAL_PER_MIN,
    REGISTRATION_BATCH_INTERVAL_SECS,
};
pub use registry_gas::{
    finalize_registrations_label, registry_gas, RegistryGas, RegistryGasSetup, BATCH_GAS_LIMIT,
    REGISTRY_BATCH_SIZES, REGISTRY_PER_ITEM_RATIO_GOAL,
};
pub use settlement_gas::{
    settlement_gas, SettlementGasSetup, ANCHOR_GAS_GOAL_PERCENT, ANCHOR_TX_GOAL, MONTH_OF_RECEIPTS,
};
pub use solidity::{compile as compile_solidity, initcode as solidity_initcode};
pub use zk::{prover_timing, register_model, zk_gas, ZkFigures, ZkGasSetup, VERIFY_GAS_GOAL};

/// Goal: devnode's BR throughput at least this fraction of anvil's Solidity throughput.
pub const GOAL_RATIO: f64 = 0.5;
/// Goal: devnode's BR throughput in transactions per second.
pub const GOAL_TPS: f64 = 1_000.0;

/// The contract label of BR in the report.
pub const BR_LABEL: &str = "BR (Stylus WASM)";
/// The contract label of the Solidity twin in the report.
pub const SOLIDITY_LABEL: &str = "BenchToken (Solidity)";

/// What `verity bench` runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The workspace root (contracts are built from it; `.tools/` is looked up in it).
    pub workspace: PathBuf,
    /// Transfers per node.
    pub txs: usize,
    /// Concurrent senders (accounts, each a task with its own nonce sequence).
    pub concurrency: usize,
    /// Which devnode to measure.
    pub devnode: DevnodeKind,
    /// Load BR's artifacts from this directory (`verity build`'s output) instead of building them.
    pub artifacts: Option<PathBuf>,
    /// The anvil binary; default `<workspace>/.tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil`.
    pub anvil: Option<PathBuf>,
    /// solcjs' `solc.js`; default `<workspace>/.tools/node_modules/solc/solc.js`.
    pub solcjs: Option<PathBuf>,
    /// Also run the Solidity token on devnode (its EVM path), to tell the engine's cost from the node's.
    pub solidity_on_devnode: bool,
    /// Voters in the many-voter epoch of the gas benchmark (0 skips the gas benchmark).
    pub voters: usize,
    /// Registrations submitted over one minute in the keeper registration benchmark (0 skips it).
    pub registrations: usize,
}

impl BenchOptions {
    /// 2,000 transfers from 64 senders on an in-process devnode, BR built from `workspace`, tools from `.tools/`.
    pub fn new(workspace: impl Into<PathBuf>) -> Self {
        Self {
            workspace: workspace.into(),
            txs: 2_000,
            concurrency: 64,
            devnode: DevnodeKind::InProcess,
            artifacts: None,
            anvil: None,
            solcjs: None,
            solidity_on_devnode: true,
            voters: 1_000,
            registrations: 1_000,
        }
    }

    fn anvil_path(&self) -> PathBuf {
        self.anvil.clone().unwrap_or_else(|| {
            self.workspace
                .join(".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
        })
    }

    fn solcjs_path(&self) -> PathBuf {
        self.solcjs
            .clone()
            .unwrap_or_else(|| solidity::default_solcjs(&self.workspace))
    }

    fn load(&self) -> LoadConfig {
        LoadConfig::new(self.txs, self.concurrency)
    }
}

/// Goal (issue 14, room to grow): every contract's deployed code at most this share of Stylus's 24,576-byte limit.
pub const SIZE_GOAL_PERCENT: f64 = 75.0;

/// One contract's deployed size.
#[derive(Debug, Clone, PartialEq)]
pub struct SizeRow {
    /// The contract's short name.
    pub contract: String,
    /// Deployed code bytes (`EF F0 00 00` ‖ brotli).
    pub code_bytes: usize,
    /// Share of the 24,576-byte limit, in percent.
    pub percent: f64,
}

impl SizeRow {
    /// Whether the size meets [`SIZE_GOAL_PERCENT`].
    pub fn meets_goal(&self) -> bool {
        self.percent <= SIZE_GOAL_PERCENT
    }
}

/// One measured node × contract.
#[derive(Debug, Clone)]
pub struct BenchRow {
    /// The node, e.g. `devnode (in-process)` or `anvil 1.7.1 (…)`.
    pub node: String,
    /// The contract, [`BR_LABEL`] or [`SOLIDITY_LABEL`].
    pub contract: String,
    /// The measurement and its checks.
    pub load: LoadReport,
}

/// A row that could not be measured, and why (a missing tool, not a failure of the node).
#[derive(Debug, Clone)]
pub struct Skipped {
    /// What was skipped, e.g. `anvil`.
    pub what: String,
    /// Why, e.g. `not installed`.
    pub reason: String,
}

/// Everything one `verity bench` run measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// BR on devnode (always measured).
    pub devnode_br: BenchRow,
    /// The Solidity token on devnode, when asked for and solc is present.
    pub devnode_solidity: Option<BenchRow>,
    /// The Solidity token on anvil, when anvil and solc are present.
    pub anvil_solidity: Option<BenchRow>,
    /// What was skipped.
    pub skipped: Vec<Skipped>,
    /// Gas of contract operations and the gas goals (`None` when `voters` is 0).
    pub gas: Option<GasReport>,
    /// Every built contract's deployed size against the limit and [`SIZE_GOAL_PERCENT`].
    pub sizes: Vec<SizeRow>,
}

impl BenchReport {
    /// devnode's BR tx/s over anvil's Solidity tx/s (`None` when anvil was skipped).
    pub fn ratio(&self) -> Option<f64> {
        let anvil = self.anvil_solidity.as_ref()?.load.tx_per_sec();
        (anvil > 0.0).then(|| self.devnode_br.load.tx_per_sec() / anvil)
    }

    fn rows(&self) -> impl Iterator<Item = &BenchRow> {
        std::iter::once(&self.devnode_br)
            .chain(&self.devnode_solidity)
            .chain(&self.anvil_solidity)
    }
}

/// Runs the whole benchmark: BR on devnode, then (when solc and anvil are installed) the Solidity token on
/// devnode and on anvil. Missing tools are reported in [`BenchReport::skipped`], never faked.
pub async fn run(options: &BenchOptions) -> Result<BenchReport> {
    let artifacts = match &options.artifacts {
        Some(dir) => Artifacts::load(dir.clone())
            .with_context(|| format!("loading contract artifacts from {}", dir.display()))?,
        None => build_planned(options)?,
    };
    let devnode_br = bench_br_on_devnode(&options.devnode, &artifacts, &options.load()).await?;

    let mut skipped = Vec::new();
    let solcjs = options.solcjs_path();
    let bytecode = solidity::compile(&solcjs, &options.workspace.join("target/verity-bench"))
        .context("compiling BenchToken.sol")?;
    if bytecode.is_none() {
        skipped.push(Skipped {
            what: "solc".into(),
            reason: format!("not installed: {} missing", solcjs.display()),
        });
    }
    let anvil = options.anvil_path();
    if !anvil.is_file() {
        skipped.push(Skipped {
            what: "anvil".into(),
            reason: "not installed".into(),
        });
    } else if bytecode.is_none() {
        skipped.push(Skipped {
            what: "anvil".into(),
            reason: "no Solidity baseline without solc".into(),
        });
    }
    let mut devnode_solidity = None;
    let mut anvil_solidity = None;
    if let Some(bytecode) = &bytecode {
        if options.solidity_on_devnode {
            let node = start_devnode(&options.devnode, accounts_for(options)?).await?;
            devnode_solidity = Some(bench_solidity(&node, bytecode, &options.load()).await?);
        }
        if anvil.is_file() {
            let node = start_anvil(&anvil, accounts_for(options)?).await?;
            anvil_solidity = Some(bench_solidity(&node, bytecode, &options.load()).await?);
        }
    }
    let gas = match options.voters {
        0 => None,
        voters => {
            let mut gas = bench_gas(&options.devnode, &artifacts, voters).await?;
            gas.extend(bench_keeper(&options.devnode, &artifacts).await?.report());
            gas.extend(prover_timing()?);
            Some(gas)
        }
    };
    let gas = match options.registrations {
        0 => gas,
        n => {
            let rows = bench_registrations(
                &options.devnode,
                &artifacts,
                n,
                std::time::Duration::from_secs(60),
                REGISTRATION_BATCH_INTERVAL_SECS,
            )
            .await?
            .report();
            let mut gas = gas.unwrap_or_default();
            gas.extend(rows);
            Some(gas)
        }
    };
    let sizes = artifacts
        .contracts
        .iter()
        .map(|c| SizeRow {
            contract: c.name.clone(),
            code_bytes: c.code.len(),
            percent: c.percent_of_limit(),
        })
        .collect();
    Ok(BenchReport {
        devnode_br,
        devnode_solidity,
        anvil_solidity,
        skipped,
        gas,
        sizes,
    })
}

/// Voters in the few-voter epoch of the gas benchmark.
pub const FEW_VOTERS: usize = 10;

/// Starts a devnode with `voters` + 1 funded accounts, deploys all of Verity with its plan and measures the gas
/// figures ([`gauge_gas`]: `vote` over 1/5/20 gauges, `finalizeEpoch` with [`FEW_VOTERS`] vs `voters` voters).
pub async fn bench_gas(
    kind: &DevnodeKind,
    artifacts: &Artifacts,
    voters: usize,
) -> Result<GasReport> {
    anyhow::ensure!(voters > FEW_VOTERS, "--voters must exceed {FEW_VOTERS}");
    let accounts = u32::try_from(voters + 1).context("too many voters")?;
    let node = start_devnode(kind, accounts).await?;
    let deployment = deploy_verity(&node, artifacts).await?;
    let address = |name: &str| {
        deployment
            .contracts
            .get(name)
            .map(|c| c.address)
            .with_context(|| format!("the deployment has no {name}"))
    };
    let mut report = gauge_gas(&GaugeGasSetup {
        url: node.url.clone(),
        admin: node.accounts[0].clone(),
        voters: node.accounts[1..].to_vec(),
        token: address("token")?,
        escrow: address("escrow")?,
        gauge: address("gauge")?,
        few_voters: FEW_VOTERS,
        many_voters: voters,
    })
    .await
    .context("gauge gas benchmark")?;
    report.extend(registry_gas_report(&node, address("registry")?).await?);
    report.extend(
        settlement_gas(&SettlementGasSetup {
            url: node.url.clone(),
            governance: node.accounts[0].clone(),
            node: node.accounts[1].clone(),
            payer: node.accounts[2].clone(),
            challenger: node.accounts[3].clone(),
            registry: address("registry")?,
            nodes: address("settlement-nodes")?,
            batches: address("settlement-batches")?,
            settlement: address("settlement")?,
            receipts: MONTH_OF_RECEIPTS,
        })
        .await
        .context("settlement gas benchmark")?,
    );
    let zk = zk_gas(&ZkGasSetup {
        url: node.url.clone(),
        governance: node.accounts[0].clone(),
        owner: node.accounts[4].clone(),
        node: node.accounts[5].clone(),
        payer: node.accounts[6].clone(),
        registry: address("registry")?,
        nodes: address("settlement-nodes")?,
        settlement: address("settlement")?,
        groth16: address("groth16")?,
    })
    .await
    .context("zk benchmark")?;
    report.extend(zk.report());
    Ok(report)
}

/// The ModelRegistry's `finalizeRegistrations` rows and goals ([`registry_gas`]) on `node`, where Verity's plan
/// deployed the registry with dev account 0 as attester and keeper.
pub async fn registry_gas_report(node: &RunningNode, registry: Address) -> Result<GasReport> {
    let deployer = node.accounts[0].clone();
    let gas = registry_gas(&RegistryGasSetup {
        url: node.url.clone(),
        submitter: deployer.clone(),
        attester: deployer.clone(),
        keeper: deployer,
        registry,
        fee: verity_script::deploy::verity::RegistryParams::default().min_fee,
    })
    .await
    .context("registry gas benchmark")?;
    let mut report = GasReport::default();
    for (operation, gas_used) in gas.rows() {
        report.rows.push(GasRow {
            operation,
            gas_used,
        });
    }
    if let Some(ratio) = gas.per_item_ratio() {
        let (small, large) = (REGISTRY_BATCH_SIZES[0], REGISTRY_BATCH_SIZES[2]);
        report.goals.push(GasGoal {
            goal: format!(
                "finalizeRegistrations per item {large} / {small} <= {REGISTRY_PER_ITEM_RATIO_GOAL:.2}"
            ),
            figure: format!("{ratio:.3}"),
            met: ratio <= REGISTRY_PER_ITEM_RATIO_GOAL,
        });
    }
    if let Some(largest) = gas.largest_batch_under_limit() {
        let measured = gas.batches.last().map_or(0, |(_, g)| *g);
        report.goals.push(GasGoal {
            goal: format!("finalizeRegistrations largest batch < {BATCH_GAS_LIMIT} gas"),
            figure: format!("{largest} items"),
            met: measured < BATCH_GAS_LIMIT,
        });
    }
    Ok(report)
}

/// Deploys every contract of Verity's plan (and its wiring) on `node` from dev account 0.
pub async fn deploy_verity(
    node: &RunningNode,
    artifacts: &Artifacts,
) -> Result<verity_script::deploy::Deployment> {
    let scratch = std::env::temp_dir().join(format!("verity-bench-verity-{}", std::process::id()));
    let wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(node.accounts[0].clone()))
        .connect_http(node.url.parse().context("node URL")?);
    let deployment = deploy_all(
        &wallet,
        artifacts,
        &plan(&VerityParams::default()),
        &DeployOptions::new("bench", &scratch),
    )
    .await
    .with_context(|| format!("deploying Verity on {}", node.label));
    let _ = std::fs::remove_dir_all(&scratch);
    deployment
}

fn accounts_for(options: &BenchOptions) -> Result<u32> {
    u32::try_from(options.concurrency + 1).context("--concurrency is too large")
}

/// Builds every contract of Verity's deploy plan into `target/verity-bench` (never touching `verity build`'s
/// `target/verity`).
fn build_planned(options: &BenchOptions) -> Result<Artifacts> {
    let mut build = BuildOptions::new(&options.workspace);
    build.out_dir = options.workspace.join("target/verity-bench");
    verity_script::build::build_planned(&build, &plan(&VerityParams::default()))
        .context("building the contracts")
}

/// Starts a fresh devnode, deploys BR with Verity's deploy plan (genesis supply to account 0) and runs the load.
pub async fn bench_br_on_devnode(
    kind: &DevnodeKind,
    artifacts: &Artifacts,
    config: &LoadConfig,
) -> Result<BenchRow> {
    let accounts = u32::try_from(config.senders + 1).context("too many senders")?;
    let node = start_devnode(kind, accounts).await?;
    let token = deploy_br(&node, artifacts).await?;
    let load = run_transfers(
        &node.url,
        token,
        &node.accounts[0],
        &node.accounts[1..],
        config,
    )
    .await
    .with_context(|| format!("BR transfers on {}", node.label))?;
    Ok(BenchRow {
        node: node.label.clone(),
        contract: BR_LABEL.into(),
        load,
    })
}

/// Deploys BR on `node` through the real pipeline and Verity's plan (create, activate, construct) from dev
/// account 0, which receives the genesis supply.
pub async fn deploy_br(node: &RunningNode, artifacts: &Artifacts) -> Result<Address> {
    let scratch = std::env::temp_dir().join(format!("verity-bench-deploy-{}", std::process::id()));
    let wallet = ProviderBuilder::new()
        .wallet(EthereumWallet::from(node.accounts[0].clone()))
        .connect_http(node.url.parse().context("node URL")?);
    // Verity's plan, BR only: its constructor exactly as deployed; the other contracts and the wiring are
    // not needed for transfers.
    let mut br_only = plan(&VerityParams::default());
    br_only.contracts.retain(|c| c.contract == "token");
    br_only.wiring.clear();
    let deployment = deploy_all(
        &wallet,
        artifacts,
        &br_only,
        &DeployOptions::new("bench", &scratch),
    )
    .await
    .with_context(|| format!("deploying BR on {}", node.label));
    let _ = std::fs::remove_dir_all(&scratch);
    let deployment = deployment?;
    deployment
        .contracts
        .get("token")
        .map(|c| c.address)
        .context("the deployment has no token")
}

/// Deploys the Solidity token (`bytecode` = solc's creation code) on `node` and runs the load.
pub async fn bench_solidity(
    node: &RunningNode,
    bytecode: &Bytes,
    config: &LoadConfig,
) -> Result<BenchRow> {
    let owner = &node.accounts[0];
    let token = load::deploy(
        &node.url,
        owner,
        solidity::initcode(bytecode, owner.address()),
    )
    .await
    .with_context(|| format!("deploying BenchToken on {}", node.label))?;
    let load = run_transfers(&node.url, token, owner, &node.accounts[1..], config)
        .await
        .with_context(|| format!("BenchToken transfers on {}", node.label))?;
    Ok(BenchRow {
        node: node.label.clone(),
        contract: SOLIDITY_LABEL.into(),
        load,
    })
}

fn gas_cell(load: &LoadReport) -> String {
    match load.gas_range() {
        Some((min, max)) if min == max => min.to_string(),
        Some((min, max)) => format!("{min}-{max}"),
        None => "-".into(),
    }
}

fn checks_cell(load: &LoadReport) -> String {
    if load.is_valid() {
        return match load.mine_nudges {
            0 => "ok".into(),
            n => format!("ok ({n} evm_mine nudges for stuck txs)"),
        };
    }
    format!(
        "FAILED: {}/{} ok receipts, {}/{} credited, {}/{} debited, supply {}",
        load.succeeded,
        load.txs,
        load.recipients_credited,
        load.txs,
        load.senders_debited,
        load.senders,
        if load.supply_unchanged {
            "unchanged"
        } else {
            "CHANGED"
        }
    )
}

fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "MISS"
    }
}

impl BenchReport {
    /// The whole report as JSON (`verity bench --json`), every goal with its figure and verdict.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let throughput: Vec<_> = self
            .rows()
            .map(|row| {
                json!({
                    "node": row.node,
                    "contract": row.contract,
                    "txs": row.load.txs,
                    "senders": row.load.senders,
                    "seconds": row.load.elapsed.as_secs_f64(),
                    "txPerSec": row.load.tx_per_sec(),
                    "gasRange": row.load.gas_range(),
                    "valid": row.load.is_valid(),
                })
            })
            .collect();
        let gas = self.gas.as_ref().map(|g| {
            json!({
                "rows": g.rows.iter().map(|r| json!({"operation": r.operation, "gasUsed": r.gas_used})).collect::<Vec<_>>(),
                "goals": g.goals.iter().map(|x| json!({"goal": x.goal, "figure": x.figure, "met": x.met})).collect::<Vec<_>>(),
            })
        });
        json!({
            "sizes": self.sizes.iter().map(|r| json!({
                "contract": r.contract,
                "codeBytes": r.code_bytes,
                "percentOfLimit": r.percent,
                "goalPercent": SIZE_GOAL_PERCENT,
                "met": r.meets_goal(),
            })).collect::<Vec<_>>(),
            "throughput": throughput,
            "ratioDevnodeBrToAnvilSolidity": self.ratio(),
            "goals": {
                "ratio": {"goal": GOAL_RATIO, "met": self.ratio().map(|r| self.devnode_br.load.is_valid() && r >= GOAL_RATIO)},
                "txPerSec": {"goal": GOAL_TPS, "figure": self.devnode_br.load.tx_per_sec(), "met": self.devnode_br.load.is_valid() && self.devnode_br.load.tx_per_sec() >= GOAL_TPS},
            },
            "skipped": self.skipped.iter().map(|x| json!({"what": x.what, "reason": x.reason})).collect::<Vec<_>>(),
            "gas": gas,
        })
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.sizes.is_empty() {
            writeln!(
                f,
                "{:<24} {:>10} {:>10}  goal <= {SIZE_GOAL_PERCENT:.0}%",
                "contract", "code bytes", "% of limit"
            )?;
            for row in &self.sizes {
                writeln!(
                    f,
                    "{:<24} {:>10} {:>9.1}%  {}",
                    row.contract,
                    row.code_bytes,
                    row.percent,
                    verdict(row.meets_goal())
                )?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "{:<24} {:<22} {:>6} {:>8} {:>9} {:>9} {:>17}  checks",
            "node", "contract", "txs", "senders", "seconds", "tx/s", "gasUsed/transfer"
        )?;
        for row in self.rows() {
            let load = &row.load;
            writeln!(
                f,
                "{:<24} {:<22} {:>6} {:>8} {:>9.3} {:>9.1} {:>17}  {}",
                row.node,
                row.contract,
                load.txs,
                load.senders,
                load.elapsed.as_secs_f64(),
                load.tx_per_sec(),
                gas_cell(load),
                checks_cell(load)
            )?;
        }
        for skipped in &self.skipped {
            writeln!(f, "{}: SKIPPED ({})", skipped.what, skipped.reason)?;
        }
        writeln!(f)?;
        let br = &self.devnode_br.load;
        let valid = br.is_valid();
        match self.ratio() {
            Some(ratio) => {
                writeln!(
                    f,
                    "ratio devnode BR / anvil Solidity: {ratio:.2}x ({:.1} / {:.1} tx/s)",
                    br.tx_per_sec(),
                    self.anvil_solidity
                        .as_ref()
                        .map_or(0.0, |r| r.load.tx_per_sec())
                )?;
                writeln!(
                    f,
                    "goal >= {GOAL_RATIO}x anvil:  {}",
                    verdict(valid && ratio >= GOAL_RATIO)
                )?;
            }
            None => writeln!(
                f,
                "goal >= {GOAL_RATIO}x anvil:  SKIPPED (no anvil baseline)"
            )?,
        }
        writeln!(
            f,
            "goal >= {GOAL_TPS:.0} tx/s:   {} ({:.1} tx/s)",
            verdict(valid && br.tx_per_sec() >= GOAL_TPS),
            br.tx_per_sec()
        )?;
        if let Some(gas) = &self.gas {
            writeln!(f)?;
            write!(f, "{gas}")?;
        }
        Ok(())
    }
}
