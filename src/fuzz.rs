//! `verity fuzz`: calldata fuzzing of every deployed contract on an in-process devnode, and (on request)
//! devnode's JSON-RPC and activation robustness runs; prints the seed and a figures table, fails on any finding.

use std::path::Path;

use anyhow::{bail, Result};
use devnode::rpc::{server::lock, start, NodeConfig};
use verity_fuzz::calldata::{self, Config, Target};

/// Arguments of `verity fuzz`.
#[derive(clap::Args, Debug, Clone)]
pub struct FuzzArgs {
    /// Seed of the run (printed; the same seed replays the same inputs). Default: the clock.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Inputs per contract.
    #[arg(long, default_value_t = 10_000)]
    pub inputs: u64,
    /// Only this contract (deployment name: token, escrow, gauge, registry, settlement-nodes, …).
    #[arg(long)]
    pub contract: Option<String>,
    /// Fuzz the freshly deployed contracts only, without first building the deep state (locks and votes,
    /// registered models and a fork, staked nodes, requests in each live status, an anchored batch).
    #[arg(long)]
    pub shallow: bool,
    /// Also send this many malformed JSON-RPC requests to a fresh devnode.
    #[arg(long, default_value_t = 0)]
    pub rpc: u64,
    /// Also activate this many mutants of the token's code and WASM.
    #[arg(long, default_value_t = 0)]
    pub activation: u64,
}

/// Runs `verity fuzz`.
///
/// # Errors
/// Build or deployment failures, and any finding (listed first, with its replayable input as JSON).
pub async fn run(args: &FuzzArgs, root: &Path) -> Result<()> {
    let seed = args.seed.unwrap_or_else(verity_fuzz::clock_seed);
    println!("seed {seed}");
    let artifacts = verity_script::build::build_planned(
        &verity_script::build::BuildOptions::new(root),
        &verity_script::deploy::verity::plan(&Default::default()),
    )?;
    let node = start(NodeConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let contracts = verity_fuzz::deploy(&node, &artifacts, dir.path()).await?;
    let chain = node.chain();
    let config = Config {
        seed,
        inputs: args.inputs,
        contract: args.contract.clone(),
        sequence: 64,
        deep: !args.shallow,
    };
    let report = tokio::task::spawn_blocking(move || {
        let mut chain = lock(&chain);
        let mut target = Target::new(&chain, contracts);
        calldata::run(&mut chain, &mut target, &config)
    })
    .await?;
    print!("{}", report.table());
    let mut findings: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}  input: {}",
                f.what,
                serde_json::to_string(&f.input).unwrap_or_default()
            )
        })
        .collect();
    node.stop().await;

    if args.rpc > 0 {
        let node = start(NodeConfig::default()).await?;
        let chain = node.chain();
        let real = verity_fuzz::rpc::real_tx(&mut lock(&chain));
        let r = verity_fuzz::rpc::run(node.url(), &chain, &real, seed, args.rpc).await;
        println!(
            "json-rpc: {} requests in {:.1} s ({:.0}/s): {} errors, {} results, {} too large, {} findings",
            r.requests,
            r.seconds,
            r.requests as f64 / r.seconds.max(1e-9),
            r.errors,
            r.results,
            r.too_large,
            r.findings.len()
        );
        findings.extend(r.findings.into_iter().map(|f| format!("json-rpc: {f}")));
        node.stop().await;
    }
    if args.activation > 0 {
        let token = artifacts.get("token")?;
        let r = verity_fuzz::activation::run(&token.code, &token.wasm, seed, args.activation);
        println!(
            "activation: {} mutants: {} accepted, {} rejected (typed), {} panics",
            r.mutants,
            r.accepted,
            r.rejected,
            r.panics.len()
        );
        findings.extend(r.panics.into_iter().map(|f| format!("activation: {f}")));
    }
    if !findings.is_empty() {
        for f in &findings {
            println!("FINDING {f}");
        }
        bail!("{} findings (seed {seed})", findings.len());
    }
    println!("no findings (seed {seed})");
    Ok(())
}
