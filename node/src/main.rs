//! `verity-node`: reads `.env`, parses the configuration once, registers and serves until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use tokio::signal::unix::{signal, SignalKind};
use verity_node::config::Config;

async fn shutdown_signal() {
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let config = Config::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let running = match verity_node::run::start(&config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("verity-node: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "verity-node {} serving on {}",
        running.node.chain().node,
        running.url()
    );
    shutdown_signal().await;
    running.stop().await;
    ExitCode::SUCCESS
}
