//! The `verity` command line: `verity dev`, `verity build`, `verity deploy`, `verity bench`, `verity abi`.

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};
use verity::abi::{export_interface, interface_path, workspace_root};

/// Verity: Stylus contracts for AI models, their local chain and their tooling.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run Verity locally: devnode in-process, build + deploy everything, the keeper on SQLite, live traffic.
    Dev(DevArgs),
    /// Build every contract to Nitro-valid, brotli-compressed WASM and print the size table.
    Build {
        /// Skip `wasm-opt` even when it is installed.
        #[arg(long)]
        no_wasm_opt: bool,
        /// Check sizes for a fragmented deployment (ArbOS 60 or later): the compressed code may span up to
        /// `--max-fragments` fragments of 24,573 bytes instead of one 24,576-byte contract.
        #[arg(long)]
        fragments: bool,
        /// The chain's maximum fragments per program, for `--fragments` (Nitro's default at ArbOS 60 is 2).
        #[arg(long, default_value_t = verity_script::build::code::DEFAULT_MAX_FRAGMENTS, requires = "fragments")]
        max_fragments: u8,
    },
    /// Deploy Verity (CREATE, activate, constructors, wiring) and write `deployments/<network>.json`.
    Deploy {
        /// JSON-RPC endpoint.
        #[arg(long, env = "VERITY_RPC_URL", default_value = "http://127.0.0.1:8547")]
        rpc_url: String,
        /// Deployer key (0x-hex). The default is devnode's (and anvil's) first dev account.
        #[arg(
            long,
            env = "VERITY_PRIVATE_KEY",
            default_value = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
            hide_default_value = true
        )]
        private_key: String,
        /// Network name for the deployment record.
        #[arg(long, default_value = "devnode")]
        network: String,
        /// Deploy each contract as ArbOS 60 fragments and a root (chains at ArbOS 60 or later); the default is one
        /// contract each.
        #[arg(long)]
        fragments: bool,
    },
    /// Benchmark ERC-20 transfers over JSON-RPC: BR on devnode vs the same token in Solidity on anvil.
    Bench(verity::bench::BenchArgs),
    /// Fuzz every deployed contract's calldata on an in-process devnode (and optionally devnode's JSON-RPC and
    /// activation); prints the seed and inputs per second, fails on any finding.
    Fuzz(verity::fuzz::FuzzArgs),
    /// Run a model on the best inference node: discover, rank by delivered consistency, route with retries under
    /// one request id, then follow it answered → proven → settled.
    Infer(Box<verity::infer::InferArgs>),
    /// Export every contract's Solidity interface (plus events) and compare it with the committed file.
    Abi {
        /// Overwrite the committed files instead of failing on a difference.
        #[arg(long)]
        write: bool,
    },
    /// Wallet commands: `model`, `ve`, `vote`, `gauges`, `request`, `refund`, `withdraw`.
    #[command(flatten)]
    Wallet(verity::wallet::WalletCommand),
}

/// Arguments of `verity dev`.
#[derive(clap::Args)]
struct DevArgs {
    /// How long to drive traffic, in seconds (Ctrl-C stops earlier, with the summary).
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Traffic rounds per second (each round: two model versions, a registration batch, four votes and, on
    /// devnode, one week of chain time).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Drive this chain instead of an in-process devnode (its time is real: nothing travels).
    #[arg(long, env = "VERITY_RPC_URL")]
    rpc_url: Option<String>,
    /// Mnemonic of ten funded accounts on `--rpc-url` (default: anvil's, as devnode's).
    #[arg(long, env = "VERITY_MNEMONIC", hide_env_values = true)]
    mnemonic: Option<String>,
    /// Port of the in-process devnode (0 = any free port).
    #[arg(long, default_value_t = 8547)]
    port: u16,
    /// The verity-keeper binary (default: next to this one, built with cargo when missing).
    #[arg(long)]
    keeper_bin: Option<std::path::PathBuf>,
    /// The verity-node binary (default: next to this one, built with cargo when missing).
    #[arg(long)]
    node_bin: Option<std::path::PathBuf>,
    /// Port of the keeper's status page and JSON API (0 = any free port).
    #[arg(long, default_value_t = 9464)]
    keeper_port: u16,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => {
            let mut options = verity::dev::DevOptions::new(workspace_root());
            options.duration = std::time::Duration::from_secs(args.duration);
            options.rate = args.rate;
            options.rpc_url = args.rpc_url;
            if let Some(m) = args.mnemonic {
                options.mnemonic = m;
            }
            options.port = args.port;
            options.keeper_bin = args.keeper_bin;
            options.node_bin = args.node_bin;
            options.keeper_port = args.keeper_port;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(verity::dev::run(&options))?;
            Ok(())
        }
        Command::Build {
            no_wasm_opt,
            fragments,
            max_fragments,
        } => build(no_wasm_opt, fragments.then_some(max_fragments)),
        Command::Abi { write } => abi(write),
        Command::Wallet(command) => std::process::exit(verity::wallet::main(command)),
        Command::Bench(args) => verity::bench::main(&args, workspace_root()),
        Command::Fuzz(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(verity::fuzz::run(&args, &workspace_root()))
        }
        Command::Infer(args) => {
            tokio::runtime::Runtime::new()?.block_on(verity::infer::main(&args))
        }
        Command::Deploy {
            rpc_url,
            private_key,
            network,
            fragments,
        } => {
            let root = workspace_root();
            let args = verity::deploy::DeployArgs {
                rpc_url,
                private_key,
                network,
                out_dir: root.join("deployments"),
                artifacts_dir: verity_script::build::Artifacts::default_dir(&root),
                params: Default::default(),
                fragments,
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let deployment = runtime.block_on(verity::deploy::deploy(&args))?;
            for (name, record) in &deployment.contracts {
                println!(
                    "{name:<12} {}  (block {})",
                    record.address, record.deploy_block
                );
            }
            println!("recorded in deployments/{}.json", deployment.network);
            Ok(())
        }
    }
}

fn build(no_wasm_opt: bool, max_fragments: Option<u8>) -> Result<()> {
    use verity_script::build::{build_all, BuildOptions, WasmOpt};
    let mut options = BuildOptions::new(workspace_root());
    if no_wasm_opt {
        options.wasm_opt = WasmOpt::Never;
    }
    let artifacts = build_all(&options, verity_script::CONTRACTS)?;
    print!("{}", artifacts.size_table());
    match max_fragments {
        Some(max) => {
            artifacts.ensure_within_fragment_limits(max)?;
            for c in &artifacts.contracts {
                println!("{:<20} {} fragment(s)", c.name, c.fragment_count());
            }
        }
        None => artifacts.ensure_within_limits()?,
    }
    Ok(())
}

fn abi(write: bool) -> Result<()> {
    let root = workspace_root();
    let mut stale = Vec::new();
    let mut sol_written = false;
    for contract in verity_abi::CONTRACTS {
        let exported = export_interface(&root, contract)?;
        let path = interface_path(&root, contract);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == exported {
            println!("{:<24} up to date  {}", contract.package, path.display());
        } else if write {
            std::fs::write(&path, exported)?;
            sol_written = true;
            println!("{:<24} written     {}", contract.package, path.display());
        } else {
            println!("{:<24} DRIFTED     {}", contract.package, path.display());
            stale.push(contract.package);
        }
    }
    if sol_written {
        // The JSON ABIs come from the bindings compiled from the `.sol` files: rebuild against the new ones.
        println!("interfaces changed: rebuilding to refresh the JSON ABIs");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(&root)
            .args(["run", "-q", "-p", "verity", "--", "abi", "--write"])
            .status()?;
        if !status.success() {
            bail!("`verity abi --write` after the rebuild failed");
        }
        return Ok(());
    }
    for contract in verity_abi::CONTRACTS {
        let json = verity::abi::json_abi(contract)?;
        let path = verity::abi::json_path(&root, contract);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == json {
            println!("{:<24} up to date  {}", contract.package, path.display());
        } else if write {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, json)?;
            println!("{:<24} written     {}", contract.package, path.display());
        } else {
            println!("{:<24} DRIFTED     {}", contract.package, path.display());
            stale.push(contract.package);
        }
    }
    if !stale.is_empty() {
        bail!("interfaces drifted: {stale:?} (run `verity abi --write`)");
    }
    Ok(())
}
