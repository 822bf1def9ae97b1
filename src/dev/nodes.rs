//! `verity dev`'s inference nodes: three real `verity-node` processes, each staked from its own dev account with
//! its own signing key (governance approves the keys, standing in for an enclave measurement check):
//!
//! | node | region | behaviour |
//! |---|---|---|
//! | `near-flaky` | next to the client | `--fault latency=200ms,error-rate=0.5`: half its calls fail before any work |
//! | `near` | ≈ 880 km away | stable |
//! | `far` | ≈ 9,500 km away | stable |
//!
//! The client ([`crate::infer`]) starts out preferring the nearest node and learns from what it delivers.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{ensure, Context, Result};
use verity_abi::rpc::ISettlementNodes;
use verity_node::api::Region;

use super::process::Service;
use super::World;
use crate::client::send_with_headroom;

/// Where the dev client stands (Berlin).
pub(super) const CLIENT_REGION: Region = Region {
    lat: 52.52,
    lon: 13.405,
};
/// Governance: approves the nodes' signing keys.
const GOVERNANCE: usize = 0;
/// How long a node may take to register and serve.
const STARTUP: Duration = Duration::from_secs(60);

/// One node of the fleet: name, dev account, region (`lat,lon`) and `--fault`.
const FLEET: [(&str, usize, &str, &str); 3] = [
    (
        "near-flaky",
        6,
        "52.52,13.405",
        "latency=200ms,error-rate=0.5,seed=7",
    ),
    ("near", 4, "48.137,11.575", ""),
    ("far", 5, "40.713,-74.006", ""),
];

/// A running node process; stopped (SIGTERM, then kill) on drop.
pub(super) struct NodeProcess {
    /// Its name in the dev output.
    pub name: &'static str,
    /// Its SettlementNodes address (the dev account).
    pub node: Address,
    /// Its base URL.
    pub url: String,
    /// The process and its log.
    pub service: Service,
}

/// The three node processes.
pub(super) struct Fleet {
    /// In [`FLEET`] order.
    pub nodes: Vec<NodeProcess>,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")
        .context("finding a free local port")?
        .local_addr()?
        .port())
}

impl Fleet {
    /// Starts every node (each registers itself: stake and key-possession proof), approves their keys as
    /// governance and waits until each serves `/health` and is active on chain.
    pub(super) async fn start(
        world: &World,
        bin: &Path,
        keeper_url: &str,
        dir: &Path,
    ) -> Result<Self> {
        let settlement = world.address("settlement")?;
        let nodes_at = world.address("settlement-nodes")?;
        let start_block = world
            .deployment
            .contracts
            .values()
            .map(|c| c.deploy_block)
            .min()
            .unwrap_or(0);
        let mut nodes = Vec::new();
        let mut keys = Vec::new();
        for (name, account, region, fault) in FLEET {
            let node_dir = dir.join(name);
            let _ = std::fs::remove_dir_all(&node_dir);
            std::fs::create_dir_all(&node_dir)
                .with_context(|| format!("creating {}", node_dir.display()))?;
            let signing_key = PrivateKeySigner::random();
            let port = free_port()?;
            let log = node_dir.join("node.log");
            let out = std::fs::File::create(&log)
                .with_context(|| format!("creating {}", log.display()))?;
            let child = Command::new(bin)
                .arg(format!("--rpc-url={}", world.url))
                .arg(format!("--settlement={settlement}"))
                .arg(format!("--keeper-url={keeper_url}"))
                .arg(format!("--listen=127.0.0.1:{port}"))
                .arg(format!("--region={region}"))
                .arg(format!(
                    "--database-url=sqlite://{}?mode=rwc",
                    node_dir.join("node.db").display()
                ))
                .arg(format!(
                    "--cache-dir={}",
                    node_dir.join("weights").display()
                ))
                .arg(format!("--start-block={start_block}"))
                .arg(format!("--fault={fault}"))
                // The dev models are local files (the node's fetch policy refuses them by default).
                .args(["--allow-file-uris", "--retry-ms=200"])
                .env(
                    "VERITY_NODE_KEY",
                    world.accounts[account].to_bytes().to_string(),
                )
                .env(
                    "VERITY_NODE_SIGNING_KEY",
                    signing_key.to_bytes().to_string(),
                )
                .env("RUST_LOG", "warn,node=info")
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            nodes.push(NodeProcess {
                name,
                node: world.accounts[account].address(),
                url: format!("http://127.0.0.1:{port}"),
                service: Service::new(format!("node {name}"), child, log),
            });
            keys.push(signing_key.address());
        }
        let mut fleet = Self { nodes };
        let http = alloy::transports::http::reqwest::Client::new();
        let gov = ISettlementNodes::new(nodes_at, world.wallets[GOVERNANCE].clone());
        for (i, key) in keys.into_iter().enumerate() {
            let deadline = Instant::now() + STARTUP;
            loop {
                fleet.nodes[i].service.check_alive()?;
                let up = http
                    .get(format!("{}/health", fleet.nodes[i].url))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if up {
                    break;
                }
                ensure!(
                    Instant::now() < deadline,
                    "node {} did not serve within {}s; its log: {}",
                    fleet.nodes[i].name,
                    STARTUP.as_secs(),
                    fleet.nodes[i].service.log.display()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let node = fleet.nodes[i].node;
            ensure!(
                gov.node(node).call().await?._0 == key,
                "node {} registered another signing key",
                fleet.nodes[i].name
            );
            send_with_headroom(
                gov.approveKey(key, keccak256(b"verity dev enclave")),
                "approveKey",
            )
            .await?;
            ensure!(
                gov.nodeActive(node).call().await?,
                "node {} is not active after its key was approved",
                fleet.nodes[i].name
            );
        }
        Ok(fleet)
    }

    /// Fails when a node process has exited.
    pub(super) fn check_alive(&mut self) -> Result<()> {
        self.nodes
            .iter_mut()
            .try_for_each(|n| n.service.check_alive())
    }
}
