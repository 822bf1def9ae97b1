//! The nodes under test: devnode in this process or as its own binary, and anvil as a child process. Each comes
//! up on a free local port with enough funded dev accounts (anvil's mnemonic on both) and goes away on drop.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use anyhow::{bail, Context, Result};
use devnode::{
    chain::{derive_accounts, ChainConfig, DEFAULT_MNEMONIC},
    rpc::{start, NodeConfig, NodeHandle},
};

use super::load::client;

/// How long a spawned node may take to answer its first request.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Which devnode to measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevnodeKind {
    /// `devnode::rpc::start` inside this process (compiled with this binary's profile).
    InProcess,
    /// The `devnode` binary at this path, spawned on a free port.
    Binary(PathBuf),
}

/// A running node: its URL and whatever keeps it alive.
#[derive(Debug)]
pub struct RunningNode {
    /// The node's name in the report, e.g. `devnode (in-process)`.
    pub label: String,
    /// Its HTTP JSON-RPC URL.
    pub url: String,
    /// Funded dev accounts from anvil's mnemonic; account 0 deploys and funds the senders.
    pub accounts: Vec<PrivateKeySigner>,
    _keep: Keep,
}

/// Held only for its `Drop`: stopping the server or killing the process.
#[derive(Debug)]
#[allow(dead_code)]
enum Keep {
    InProcess(NodeHandle),
    Child(ChildGuard),
}

/// Kills and reaps the child (and removes its stderr log) on drop.
#[derive(Debug)]
struct ChildGuard {
    child: Child,
    log_path: PathBuf,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
    }
}

fn dev_signers(count: u32) -> Result<Vec<PrivateKeySigner>> {
    Ok(derive_accounts(DEFAULT_MNEMONIC, count)
        .context("deriving dev accounts")?
        .into_iter()
        .map(|a| a.signer)
        .collect())
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free local port")?;
    Ok(listener.local_addr().context("local address")?.port())
}

/// Starts devnode with `accounts` funded dev accounts.
pub async fn start_devnode(kind: &DevnodeKind, accounts: u32) -> Result<RunningNode> {
    match kind {
        DevnodeKind::InProcess => {
            let config = NodeConfig {
                chain: ChainConfig {
                    accounts,
                    ..ChainConfig::default()
                },
                ..NodeConfig::default()
            };
            let node = start(config).await.context("starting devnode in-process")?;
            Ok(RunningNode {
                label: "devnode (in-process)".into(),
                url: node.url().to_owned(),
                accounts: dev_signers(accounts)?,
                _keep: Keep::InProcess(node),
            })
        }
        DevnodeKind::Binary(path) => {
            let accounts_signers = dev_signers(accounts)?;
            let port = free_port()?;
            let child = spawn(
                Command::new(path).args([
                    "--port",
                    &port.to_string(),
                    "--accounts",
                    &accounts.to_string(),
                ]),
                path,
            )?;
            let url = format!("http://127.0.0.1:{port}");
            let guard = wait_ready(&url, child).await?;
            Ok(RunningNode {
                label: "devnode (binary)".into(),
                url,
                accounts: accounts_signers,
                _keep: Keep::Child(guard),
            })
        }
    }
}

/// Starts anvil (`path`) with `accounts` funded dev accounts, Prague rules (devnode's) and logging off.
pub async fn start_anvil(path: &Path, accounts: u32) -> Result<RunningNode> {
    let port = free_port()?;
    let version = Command::new(path)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(|l| l.replace("anvil Version: ", "")))
        .unwrap_or_default();
    let child = spawn(
        Command::new(path).args([
            "--port",
            &port.to_string(),
            "--accounts",
            &accounts.to_string(),
            "--hardfork",
            "prague",
            "--silent",
        ]),
        path,
    )?;
    let url = format!("http://127.0.0.1:{port}");
    let guard = wait_ready(&url, child).await?;
    Ok(RunningNode {
        label: format!("anvil {version}").trim().to_owned(),
        url,
        accounts: dev_signers(accounts)?,
        _keep: Keep::Child(guard),
    })
}

fn spawn(command: &mut Command, path: &Path) -> Result<ChildGuard> {
    // stderr goes to a file (a pipe nobody drains could fill up and stall the node mid-run).
    let log_path = std::env::temp_dir().join(format!(
        "verity-bench-{}-{}.log",
        std::process::id(),
        free_port()?
    ));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("spawning {}", path.display()))?;
    Ok(ChildGuard { child, log_path })
}

/// Polls `eth_chainId` until the node answers; fails with its stderr when it exits first.
async fn wait_ready(url: &str, mut guard: ChildGuard) -> Result<ChildGuard> {
    let provider = client(url)?;
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if provider.get_chain_id().await.is_ok() {
            return Ok(guard);
        }
        if let Some(status) = guard
            .child
            .try_wait()
            .context("checking the node process")?
        {
            let stderr = std::fs::read_to_string(&guard.log_path).unwrap_or_default();
            bail!("node exited ({status}) before serving {url}: {stderr}");
        }
        if Instant::now() > deadline {
            bail!("node did not answer on {url} within {STARTUP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
