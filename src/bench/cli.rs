//! `verity bench`'s arguments and entry point (parsed once in `main`, passed down as [`BenchOptions`]).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use super::{run, BenchOptions, DevnodeKind};

/// Arguments of `verity bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Transfers measured per node.
    #[arg(long, default_value_t = 2_000)]
    pub txs: usize,
    /// Concurrent senders: funded accounts, each a task sending its own nonce sequence.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Spawn this `devnode` binary (e.g. target/release/devnode) instead of serving devnode in-process.
    #[arg(long)]
    pub devnode_bin: Option<PathBuf>,
    /// Load BR from this artifacts directory (`verity build`'s target/verity) instead of building it.
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    /// The anvil binary (default: .tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil).
    #[arg(long, env = "ANVIL_BIN")]
    pub anvil: Option<PathBuf>,
    /// solcjs' solc.js (default: .tools/node_modules/solc/solc.js).
    #[arg(long, env = "SOLCJS")]
    pub solcjs: Option<PathBuf>,
    /// Skip the Solidity token on devnode (the EVM row that separates engine cost from node cost).
    #[arg(long)]
    pub no_devnode_solidity: bool,
    /// Print the report as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Voters in the many-voter epoch of the gas benchmark (`finalizeEpoch` 10 vs this many); 0 skips it.
    #[arg(long, default_value_t = 1_000)]
    pub voters: usize,
    /// Registrations submitted over one minute in the keeper registration benchmark; 0 skips it.
    #[arg(long, default_value_t = 1_000)]
    pub registrations: usize,
    /// Run only the inference benchmark ([`super::inference`]): routing share with a flaky node, time to
    /// Answered vs Proven, inferences/s through one node.
    #[arg(long)]
    pub inference_only: bool,
    /// Run only the outbox benchmark ([`super::outbox`]): intents through the keeper's outbox on devnode, time
    /// until all are confirmed, and an idle keeper's pick-up time for single intents.
    #[arg(long)]
    pub outbox_only: bool,
    /// Intents in the outbox benchmark's burst.
    #[arg(long, default_value_t = 1_000)]
    pub outbox_intents: usize,
    /// The keeper loop's poll interval in the outbox benchmark (the keeper's default: 1,000 ms).
    #[arg(long, default_value_t = 1_000)]
    pub outbox_poll_ms: u64,
    /// Single intents timed while the keeper idles (0 skips it).
    #[arg(long, default_value_t = 5)]
    pub outbox_singles: usize,
    /// `verity dev` rounds of the inference benchmark.
    #[arg(long, default_value_t = 8)]
    pub inference_rounds: u64,
    /// Unpaid inferences of its throughput run.
    #[arg(long, default_value_t = 500)]
    pub inference_load: usize,
    /// Concurrent clients of its throughput run.
    #[arg(long, default_value_t = 8)]
    pub inference_concurrency: usize,
}

impl BenchArgs {
    /// The options for the workspace at `workspace`.
    pub fn options(&self, workspace: PathBuf) -> BenchOptions {
        BenchOptions {
            workspace,
            txs: self.txs,
            concurrency: self.concurrency,
            devnode: self
                .devnode_bin
                .clone()
                .map_or(DevnodeKind::InProcess, DevnodeKind::Binary),
            artifacts: self.artifacts.clone(),
            anvil: self.anvil.clone(),
            solcjs: self.solcjs.clone(),
            solidity_on_devnode: !self.no_devnode_solidity,
            voters: self.voters,
            registrations: self.registrations,
        }
    }
}

/// Runs `verity bench` and prints the table; fails when a run's checks (receipts, balances) fail.
pub fn main(args: &BenchArgs, workspace: PathBuf) -> Result<()> {
    if args.txs == 0 || args.concurrency == 0 {
        bail!("--txs and --concurrency must be at least 1");
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "note: a debug build; run `cargo run --release -p verity -- bench` for real figures"
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    if args.outbox_only {
        let report = runtime.block_on(super::outbox::run(&super::outbox::OutboxOptions {
            intents: args.outbox_intents,
            poll_ms: args.outbox_poll_ms,
            singles: args.outbox_singles,
            devnode: args
                .devnode_bin
                .clone()
                .map_or(DevnodeKind::InProcess, DevnodeKind::Binary),
        }))?;
        print!("{report}");
        return Ok(());
    }
    if args.inference_only {
        let report =
            runtime.block_on(super::inference::run(&super::inference::InferenceOptions {
                workspace,
                rounds: args.inference_rounds,
                load: args.inference_load,
                concurrency: args.inference_concurrency,
            }))?;
        print!("{report}");
        let t = &report.throughput;
        if t.node_counted != t.answered as u64 {
            bail!(
                "the node counted {} inferences for {} answered requests",
                t.node_counted,
                t.answered
            );
        }
        return Ok(());
    }
    let options = args.options(workspace);
    let report = runtime.block_on(run(&options))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{report}");
    }
    let invalid: Vec<String> = std::iter::once(&report.devnode_br)
        .chain(&report.devnode_solidity)
        .chain(&report.anvil_solidity)
        .filter(|row| !row.load.is_valid())
        .map(|row| format!("{} on {}", row.contract, row.node))
        .collect();
    if !invalid.is_empty() {
        bail!("checks failed for {}", invalid.join(", "));
    }
    Ok(())
}
