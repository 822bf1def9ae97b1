//! The node's configuration: flags, environment variables and `.env` (read by `main` before parsing), as the
//! keeper's. Parsed once and passed down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use alloy::primitives::{Address, U256};
use verity_fetch::FetchPolicy;

use crate::api::Region;
use crate::fault::Fault;

/// `--region lat,lon`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionArg(pub Region);

impl FromStr for RegionArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not \"<lat>,<lon>\" in degrees");
        let (lat, lon) = s.split_once(',').ok_or_else(bad)?;
        let lat: f64 = lat.trim().parse().map_err(|_| bad())?;
        let lon: f64 = lon.trim().parse().map_err(|_| bad())?;
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(bad());
        }
        Ok(Self(Region { lat, lon }))
    }
}

/// `verity-node`'s settings.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "verity-node",
    version,
    about = "Verity inference node: runs registered VZK1 models, signs receipts, answers paid requests"
)]
pub struct Config {
    /// JSON-RPC URL of the chain.
    #[arg(long, env = "VERITY_RPC_URL", default_value = "http://127.0.0.1:8547")]
    pub rpc_url: String,
    /// InferenceSettlement's address (the registry and SettlementNodes are read from its configuration).
    #[arg(long, env = "VERITY_SETTLEMENT")]
    pub settlement: Address,
    /// The node's account key (hex): it stakes, registers and sends `answer`.
    #[arg(long, env = "VERITY_NODE_KEY", hide_env_values = true)]
    pub node_key: String,
    /// The receipt signing key (hex). It stands in for a TEE enclave key: nothing here runs in an enclave.
    #[arg(long, env = "VERITY_NODE_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: String,
    /// Stake sent with `registerNode`, in wei (default: SettlementNodes' minimum).
    #[arg(long, env = "VERITY_NODE_STAKE_WEI")]
    pub stake_wei: Option<U256>,
    /// Do not register at start (the account must already be registered with the signing key).
    #[arg(long, env = "VERITY_NODE_NO_REGISTER")]
    pub no_register: bool,
    /// The keeper's base URL: receipts go to its intake (`POST /receipts`).
    #[arg(long, env = "VERITY_KEEPER_URL")]
    pub keeper_url: Option<String>,
    /// Address to serve `/infer`, `/info`, `/health` and `/metrics` on.
    #[arg(long, env = "VERITY_NODE_LISTEN", default_value = "127.0.0.1:9470")]
    pub listen: SocketAddr,
    /// The endpoint clients should use (default `http://<listen>`).
    #[arg(long, env = "VERITY_NODE_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The node's region as `<lat>,<lon>` in degrees.
    #[arg(long, env = "VERITY_NODE_REGION", default_value = "0,0")]
    pub region: RegionArg,
    /// The node's SQLite database (answers by request id).
    #[arg(
        long,
        env = "VERITY_NODE_DATABASE_URL",
        default_value = "sqlite://verity-node.db?mode=rwc"
    )]
    pub database_url: String,
    /// Directory of cached weights files (by content hash).
    #[arg(
        long,
        env = "VERITY_NODE_CACHE_DIR",
        default_value = "verity-node-weights"
    )]
    pub cache_dir: PathBuf,
    /// Block to search `VersionSubmitted` events (storage URIs) from.
    #[arg(long, env = "VERITY_START_BLOCK", default_value_t = 0)]
    pub start_block: u64,
    /// Allow `file://` storage URIs (development and tests only).
    #[arg(long, env = "VERITY_ALLOW_FILE_URIS")]
    pub allow_file_uris: bool,
    /// Allow storage URIs on loopback, private and other non-global addresses (development and tests only).
    #[arg(long, env = "VERITY_ALLOW_PRIVATE_FETCH")]
    pub allow_private_fetch: bool,
    /// Most bytes fetched from one storage URI (also capped by the registered size).
    #[arg(long, env = "VERITY_FETCH_MAX_BYTES", default_value_t = 64 << 20)]
    pub fetch_max_bytes: u64,
    /// Deadline of one weights fetch, in milliseconds.
    #[arg(long, env = "VERITY_FETCH_TIMEOUT_MS", default_value_t = 60_000)]
    pub fetch_timeout_ms: u64,
    /// Groth16 proving keys (`verity-zk setup` output), one per model shape: mode-ZK requests of a shape with a
    /// key are proven by the node.
    #[arg(
        long = "zk-proving-key",
        env = "VERITY_NODE_ZK_PROVING_KEYS",
        value_delimiter = ','
    )]
    pub zk_proving_keys: Vec<PathBuf>,
    /// Injected faults for tests and demos: `latency=<ms>ms,drop-ack=<0..1>,error-rate=<0..1>,seed=<n>`.
    #[arg(long, env = "VERITY_NODE_FAULT", default_value = "")]
    pub fault: Fault,
    /// Pause between delivery passes (receipts to the keeper, `answer`, proofs), in milliseconds.
    #[arg(long, env = "VERITY_NODE_RETRY_MS", default_value_t = 1_000)]
    pub retry_ms: u64,
}

impl Config {
    /// The fetch policy for weights.
    pub fn fetch_policy(&self) -> FetchPolicy {
        FetchPolicy {
            allow_file: self.allow_file_uris,
            allow_private: self.allow_private_fetch,
            max_bytes: self.fetch_max_bytes,
            deadline: Duration::from_millis(self.fetch_timeout_ms),
            ..FetchPolicy::default()
        }
    }

    /// The endpoint to declare.
    pub fn endpoint(&self, bound: SocketAddr) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn flags_parse_and_fetches_are_strict_by_default() {
        let c = Config::try_parse_from([
            "verity-node",
            "--settlement",
            "0x0000000000000000000000000000000000000001",
            "--node-key",
            "0x01",
            "--signing-key",
            "0x02",
            "--region",
            "48.85,2.35",
            "--fault",
            "latency=5ms,error-rate=0.5",
        ])
        .unwrap();
        assert_eq!(
            c.region.0,
            Region {
                lat: 48.85,
                lon: 2.35
            }
        );
        assert_eq!(c.fault.latency, Duration::from_millis(5));
        let p = c.fetch_policy();
        assert!(!p.allow_file && !p.allow_private);
        assert!("91,0".parse::<RegionArg>().is_err());
        assert!("north".parse::<RegionArg>().is_err());
    }
}
