//! `devnode`: serves a local Arbitrum-like chain over JSON-RPC (default 127.0.0.1:8547, chain id 412346).

use std::net::IpAddr;
use std::time::Duration;

use alloy::primitives::U256;
use anyhow::Context as _;
use clap::Parser;
use devnode::chain::{ChainConfig, DEFAULT_CHAIN_ID, DEFAULT_MNEMONIC};
use devnode::rpc::{start, NodeConfig};

/// Local Arbitrum-like development chain (EVM + Stylus) behind eth_* JSON-RPC.
#[derive(Debug, Parser)]
#[command(name = "devnode", version)]
struct Args {
    /// Interface to listen on.
    #[arg(long, env = "DEVNODE_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on (0 = any free port).
    #[arg(long, short, env = "DEVNODE_PORT", default_value_t = 8547)]
    port: u16,
    /// Chain id.
    #[arg(long, env = "DEVNODE_CHAIN_ID", default_value_t = DEFAULT_CHAIN_ID)]
    chain_id: u64,
    /// Interval mining every N seconds (turns automine off).
    #[arg(long, short = 'b')]
    block_time: Option<u64>,
    /// Number of funded dev accounts.
    #[arg(long, short = 'a', default_value_t = 10)]
    accounts: u32,
    /// Balance of every dev account, in ETH.
    #[arg(long, default_value_t = 10_000)]
    balance: u64,
    /// Mnemonic the dev accounts derive from.
    #[arg(long, short = 'm', default_value = DEFAULT_MNEMONIC)]
    mnemonic: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let chain = ChainConfig {
        chain_id: args.chain_id,
        accounts: args.accounts,
        balance: U256::from(args.balance) * U256::from(10u64).pow(U256::from(18u64)),
        mnemonic: args.mnemonic,
        ..ChainConfig::default()
    };
    let config = NodeConfig {
        chain,
        host: args.host,
        port: args.port,
        block_time: args.block_time.filter(|s| *s > 0).map(Duration::from_secs),
    };
    let node = start(config).await.context("starting devnode")?;
    {
        let shared = node.chain();
        let chain = devnode::rpc::server::lock(&shared);
        println!(
            "devnode {} — chain id {}\n",
            env!("CARGO_PKG_VERSION"),
            chain.chain_id()
        );
        println!("Available Accounts\n==================\n");
        for (i, a) in chain.dev_accounts().iter().enumerate() {
            println!("({i}) {} ({} ETH)", a.address, args.balance);
        }
        println!("\nPrivate Keys\n==================\n");
        for (i, a) in chain.dev_accounts().iter().enumerate() {
            println!("({i}) {}", a.private_key_hex());
        }
        let nitro = devnode::chain::predeploys::nitro_dev_account();
        println!(
            "\nNitro dev account (as nitro-devnode)\n==================\n\n{} ({} ETH)\n{}",
            nitro.address,
            args.balance,
            nitro.private_key_hex()
        );
        println!(
            "\nPredeploys: StylusDeployer {}, CREATE2 factory {}, CacheManager {}\nChain owner: the Nitro dev account (ArbDebug.becomeChainOwner() adds the caller); ArbOS 60\n",
            devnode::chain::predeploys::STYLUS_DEPLOYER,
            devnode::chain::predeploys::CREATE2_FACTORY,
            devnode::chain::predeploys::CACHE_MANAGER
        );
    }
    println!("Listening on {}", node.addr());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("\nShutting down"),
        _ = node.stopped() => {}
    }
    node.stop().await;
    Ok(())
}
