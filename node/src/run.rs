//! Wiring: from a [`Config`] to a registered node serving HTTP with its delivery loop (used by `main` and the
//! end-to-end tests).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alloy::signers::local::PrivateKeySigner;
use anyhow::{ensure, Context, Result};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;
use verity_fetch::Fetcher;
use verity_zk::snark::ShapedProvingKey;

use crate::api::NodeInfo;
use crate::chain::{Chain, Registration};
use crate::config::Config;
use crate::delivery::Delivery;
use crate::fault::Dice;
use crate::metrics::Metrics;
use crate::service::{Node, Parts};
use crate::store::Store;
use crate::weights::Weights;

/// A running node; [`Running::stop`] (or dropping it) ends the server and the delivery loop.
#[derive(Debug)]
pub struct Running {
    /// The node.
    pub node: Arc<Node>,
    /// The bound address.
    pub addr: SocketAddr,
    /// What registering did.
    pub registration: Option<Registration>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// The node's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and delivering, waiting for both.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn key(hex: &str, what: &str) -> Result<PrivateKeySigner> {
    hex.trim()
        .parse()
        .with_context(|| format!("{what} is not a hex private key"))
}

/// Connects, registers (unless `--no-register`), binds and starts serving.
///
/// # Errors
/// A bad setting, an unreachable chain, a failed registration, an unbindable address.
pub async fn start(config: &Config) -> Result<Running> {
    let account = key(&config.node_key, "--node-key / VERITY_NODE_KEY")?;
    let signing_key = key(
        &config.signing_key,
        "--signing-key / VERITY_NODE_SIGNING_KEY",
    )?;
    let node_key = account.clone();
    let chain = Chain::connect(
        &config.rpc_url,
        account,
        config.settlement,
        config.start_block,
    )
    .await
    .context("connecting to the chain")?;
    let registration = if config.no_register {
        None
    } else {
        let r = chain
            .register(&signing_key, config.stake_wei)
            .await
            .context("registering in SettlementNodes")?;
        info!(target: "node", node = %chain.node, key = %signing_key.address(), ?r, "registration");
        Some(r)
    };
    let mut zk_keys = HashMap::new();
    for path in &config.zk_proving_keys {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let key = ShapedProvingKey::from_bytes(&bytes)
            .with_context(|| format!("{} is not a verity-zk proving key", path.display()))?;
        zk_keys.insert(key.shape, Arc::new(key));
    }
    let store = Store::open(&config.database_url)
        .await
        .with_context(|| format!("opening {}", config.database_url))?;
    let metrics = Metrics::new();
    let fetcher = Fetcher::new(config.fetch_policy()).context("building the HTTP client")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let endpoint = config.endpoint(addr);
    let region = config.region.0;
    let signature =
        crate::declaration::sign(&node_key, chain.chain_id, chain.nodes, &endpoint, region)?;
    ensure!(
        config.keeper_url.as_deref() != Some(""),
        "--keeper-url is empty"
    );
    let info = NodeInfo {
        node: chain.node,
        signing_key: signing_key.address(),
        chain_id: chain.chain_id,
        nodes: chain.nodes,
        endpoint,
        region,
        signature,
        runtimes: vec!["VZK1".into()],
        zk_prover: !zk_keys.is_empty(),
    };
    let node = Arc::new(Node::new(Parts {
        chain,
        signing_key,
        store,
        weights: Weights::new(config.cache_dir.clone(), fetcher, metrics.clone()),
        metrics,
        dice: Dice::new(config.fault.clone()),
        zk_keys,
        has_keeper: config.keeper_url.is_some(),
        info,
    }));
    let (stop, stopped) = watch::channel(false);
    let until = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = {
        let app = crate::http::router(node.clone());
        let shutdown = until(stopped.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(target: "node::http", %e, "server failed");
            }
        })
    };
    let delivery = Delivery::new(
        node.clone(),
        config.keeper_url.clone(),
        Duration::from_millis(config.retry_ms),
    );
    let delivering = tokio::spawn(delivery.run(until(stopped)));
    info!(target: "node", %addr, "serving");
    Ok(Running {
        node,
        addr,
        registration,
        stop,
        tasks: vec![server, delivering],
    })
}
