//! The keeper's configuration, parsed once from flags, the environment and `.env` (dotenvy) into [`Config`] and
//! passed down; nothing below `main` reads the environment.

use std::net::SocketAddr;
use std::time::Duration;

use alloy::primitives::Address;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::failpoint::Failpoints;

/// `verity-keeper`: the Verity keeper service.
#[derive(Debug, Parser)]
#[command(name = "verity-keeper", version, about)]
pub struct Cli {
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every command.
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: leader election, jobs, the transaction manager and the HTTP server.
    Run,
    /// Put one intent into the outbox (operators and tests); a repeated key is a no-op.
    Enqueue(EnqueueArgs),
    /// Print the outbox per status, the backlog by job, the last intents, the epoch state and the lease.
    Status(StatusArgs),
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many of the last intents to list.
    #[arg(long, default_value_t = 10)]
    pub last: i64,
}

/// Arguments of `enqueue`.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// Idempotency key.
    #[arg(long)]
    pub key: String,
    /// Target contract.
    #[arg(long)]
    pub to: Address,
    /// Calldata (hex).
    #[arg(long, default_value = "0x")]
    pub data: alloy::primitives::Bytes,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A secret setting: its `Debug` never shows the value (configs are logged and printed in panics).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The value (only where it is used).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

/// Every setting, parsed once.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// JSON-RPC URL(s) of the chain: repeat the flag (or separate with commas) for failover — every request goes
    /// to all of them and the first answer wins; the outbox never infers a lost transaction from one node's
    /// missing receipt.
    #[arg(
        long = "rpc-url",
        env = "VERITY_RPC_URL",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:8547"
    )]
    pub rpc_urls: Vec<String>,
    /// Database: `sqlite://…` (default) or `postgres://…` (replicas).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://verity-keeper.db?mode=rwc"
    )]
    pub database_url: String,
    /// The keeper's private key (hex); `run` and `enqueue` need it or `--keystore`.
    #[arg(
        long,
        env = "VERITY_KEEPER_KEY",
        hide_env_values = true,
        conflicts_with = "keystore"
    )]
    pub private_key: Option<Secret>,
    /// An encrypted JSON keystore (Web3 Secret Storage, as geth and cast write) holding the keeper's key,
    /// instead of `--private-key`; its password comes from `VERITY_KEEPER_KEYSTORE_PASSWORD`.
    #[arg(long, env = "VERITY_KEEPER_KEYSTORE")]
    pub keystore: Option<std::path::PathBuf>,
    /// The keystore's password (environment only, never a flag, so it stays out of `ps`).
    #[arg(skip = std::env::var("VERITY_KEEPER_KEYSTORE_PASSWORD").ok().map(Secret))]
    pub keystore_password: Option<Secret>,
    /// Chain id to sign for (default: asked from the node).
    #[arg(long, env = "VERITY_CHAIN_ID")]
    pub chain_id: Option<u64>,
    /// GaugeController address: enables the epoch finalizer (and the epoch state in `status`).
    #[arg(long, env = "VERITY_GAUGE")]
    pub gauge: Option<Address>,
    /// ModelRegistry address: enables the storage attester and the registration batcher (the key needs the
    /// attester and keeper roles).
    #[arg(long, env = "VERITY_REGISTRY")]
    pub registry: Option<Address>,
    /// Storage expiry the attester confirms: chain time plus this many seconds.
    #[arg(long, env = "VERITY_STORAGE_TTL_SECS", default_value_t = 365 * 86_400)]
    pub storage_ttl_secs: u64,
    /// Most versions per storage attestation (`confirmStorageBatch`).
    #[arg(long, env = "VERITY_ATTEST_BATCH_MAX", default_value_t = 100)]
    pub attest_batch_max: usize,
    /// A storage attestation batch that is not full is sent once its oldest fetched version has waited this many
    /// milliseconds.
    #[arg(long, env = "VERITY_ATTEST_BATCH_WAIT_MS", default_value_t = 500)]
    pub attest_batch_wait_ms: u64,
    /// Most versions per registration batch.
    #[arg(long, env = "VERITY_BATCH_MAX", default_value_t = 100)]
    pub batch_max: usize,
    /// Gas budget of one registration batch (estimated at 40,000 + 12,000 per item).
    #[arg(long, env = "VERITY_BATCH_GAS", default_value_t = 3_000_000)]
    pub batch_gas: u64,
    /// A registration batch that is not full is sent once its oldest version has waited this many seconds, by the
    /// chain's clock or the keeper's (whichever says more: a quiet chain's clock stands still).
    #[arg(long, env = "VERITY_BATCH_MAX_WAIT_SECS", default_value_t = 60)]
    pub batch_max_wait_secs: u64,
    /// Registration order: effective priority = priority fee (wei) + seconds waited × this rate (0 = fee order).
    #[arg(long, env = "VERITY_BATCH_AGING_WEI_PER_SEC", default_value_t = crate::jobs::batcher::DEFAULT_AGING_WEI_PER_SEC)]
    pub batch_aging_wei_per_sec: u64,
    /// InferenceSettlement address: enables the receipts (HTTP intake, Merkle batches anchored with the bond and
    /// finalized, paid-request proofs and refunds, the challenge watcher); SettlementNodes, ReceiptBatches and the
    /// registry are read from its `config()`. The key must be an allowed batch keeper to anchor.
    #[arg(long, env = "VERITY_SETTLEMENT")]
    pub settlement: Option<Address>,
    /// Base URL others reach this keeper's HTTP server at: batch data URIs are `<url>/batches/<root>` (default:
    /// `http://` + `--listen`).
    #[arg(long, env = "VERITY_KEEPER_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Most receipts per Merkle batch.
    #[arg(long, env = "VERITY_RECEIPT_BATCH_MAX", default_value_t = 200_000)]
    pub receipt_batch_max: usize,
    /// A receipt batch that is not full is anchored once its oldest receipt waited this many milliseconds.
    #[arg(long, env = "VERITY_RECEIPT_BATCH_AGE_MS", default_value_t = 60_000)]
    pub receipt_batch_age_ms: u64,
    /// First block to read events from when no cursor is stored (the deployment block).
    #[arg(long, env = "VERITY_START_BLOCK", default_value_t = 0)]
    pub start_block: u64,
    /// Address of the HTTP server (`/metrics`, `/health`, `/ready`).
    #[arg(long, env = "VERITY_KEEPER_LISTEN", default_value = "127.0.0.1:9464")]
    pub listen: SocketAddr,
    /// Give up on one JSON-RPC request (HTTP) after this many milliseconds; the pass is retried.
    #[arg(long, env = "VERITY_RPC_TIMEOUT_MS", default_value_t = 30_000)]
    pub rpc_timeout_ms: u64,
    /// The longest pause between passes, in milliseconds (a submitted intent wakes the loop earlier; after a pass
    /// that moved an intent on there is no pause).
    #[arg(long, env = "VERITY_POLL_MS", default_value_t = 1_000)]
    pub poll_ms: u64,
    /// Fee cap: the highest `maxFeePerGas` signed, in wei.
    #[arg(long, env = "VERITY_MAX_FEE_WEI", default_value_t = 100_000_000_000)]
    pub max_fee_wei: u128,
    /// Confirmations before an intent is final.
    #[arg(long, env = "VERITY_CONFIRMATIONS", default_value_t = 1)]
    pub confirmations: u64,
    /// Rebroadcast the same bytes after this many milliseconds without a receipt.
    #[arg(long, env = "VERITY_REBROADCAST_MS", default_value_t = 30_000)]
    pub rebroadcast_ms: u64,
    /// Blocks re-read when a reorg is found under the event cursor.
    #[arg(long, env = "VERITY_LOOKBACK", default_value_t = 64)]
    pub lookback: u64,
    /// Leader lease time to live, in milliseconds.
    #[arg(long, env = "VERITY_LEASE_TTL_MS", default_value_t = 15_000)]
    pub lease_ttl_ms: u64,
    /// Name of the lease row (one per keeper deployment sharing a database).
    #[arg(long, env = "VERITY_LEASE_NAME", default_value = "verity-keeper")]
    pub lease_name: String,
    /// This instance's id in the lease (default: host name and process id).
    #[arg(long, env = "VERITY_INSTANCE_ID")]
    pub instance_id: Option<String>,
    /// Armed failpoints (tests): names of [`crate::failpoint::Failpoint::ALL`], comma-separated, plus `wait`.
    #[arg(long, env = "VERITY_FAILPOINT", default_value = "")]
    pub failpoint: Failpoints,
    /// Exit once the outbox is empty (tests, one-shot runs).
    #[arg(long, env = "VERITY_EXIT_WHEN_IDLE")]
    pub exit_when_idle: bool,
    /// Jobs decide and log their intents; nothing is persisted, signed or sent, and the lease is not taken.
    #[arg(long, env = "VERITY_DRY_RUN")]
    pub dry_run: bool,
    /// Log format.
    #[arg(long, env = "VERITY_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    /// Let the attester and the challenge watcher read `file://` URIs (local development only: a submitter could
    /// otherwise make the keeper publish the hash and size of any local file, or read `/dev/zero`).
    #[arg(long, env = "VERITY_ALLOW_FILE_URIS")]
    pub allow_file_uris: bool,
    /// Let fetches reach loopback, private, link-local and other non-global addresses (local development and
    /// tests; off in production so a URI cannot reach cloud metadata or internal services).
    #[arg(long, env = "VERITY_ALLOW_PRIVATE_FETCH")]
    pub allow_private_fetch: bool,
    /// Accept inference clients' routing reports at `POST /api/routing` and show them on the status page
    /// (labelled client-reported: the keeper cannot check them). Off by default.
    #[arg(long, env = "VERITY_ACCEPT_ROUTING_REPORTS")]
    pub accept_routing_reports: bool,
    /// Most bytes read from one storage URI (default 4 GiB).
    #[arg(long, env = "VERITY_FETCH_MAX_BYTES", default_value_t = 4 << 30)]
    pub fetch_max_bytes: u64,
    /// Deadline of one fetch, in milliseconds (default 15 minutes).
    #[arg(long, env = "VERITY_FETCH_TIMEOUT_MS", default_value_t = 900_000)]
    pub fetch_timeout_ms: u64,
    /// Deadline of reading one batch's data in the challenge watcher, in milliseconds.
    #[arg(long, env = "VERITY_BATCH_FETCH_TIMEOUT_MS", default_value_t = 120_000)]
    pub batch_fetch_timeout_ms: u64,
    /// Most bytes of one batch's data the challenge watcher reads (besides `count × 384`): batch data is held in
    /// memory to build the tree, so this bounds what a batch claiming a huge count can make the keeper allocate.
    #[arg(long, env = "VERITY_BATCH_FETCH_MAX_BYTES", default_value_t = 128 << 20)]
    pub batch_fetch_max_bytes: u64,
    /// `/health` fails when no pass completed for this many milliseconds.
    #[arg(long, env = "VERITY_HEALTH_MAX_PASS_AGE_MS", default_value_t = 300_000)]
    pub health_max_pass_age_ms: u64,
    /// Below this signer balance (wei) the keeper warns every pass and sets `keeper_signer_balance_low` (0: off).
    #[arg(
        long,
        env = "VERITY_LOW_BALANCE_WEI",
        default_value_t = 100_000_000_000_000_000
    )]
    pub low_balance_wei: u128,
    /// On SIGTERM/SIGINT, a running pass may take this many milliseconds more before it is dropped.
    #[arg(long, env = "VERITY_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
}

/// Why no signing key could be loaded; each message names the setting to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Neither a key nor a keystore is configured.
    #[error(
        "--private-key / VERITY_KEEPER_KEY or --keystore / VERITY_KEEPER_KEYSTORE is required"
    )]
    Missing,
    /// The hex key does not parse.
    #[error("--private-key / VERITY_KEEPER_KEY is not a valid hex private key")]
    BadKey,
    /// A keystore without its password.
    #[error("--keystore {0} needs VERITY_KEEPER_KEYSTORE_PASSWORD")]
    NoPassword(std::path::PathBuf),
    /// The keystore cannot be read or decrypted.
    #[error("--keystore {path}: {reason}")]
    Keystore {
        /// The keystore file.
        path: std::path::PathBuf,
        /// What failed (a wrong password reads as a MAC mismatch).
        reason: String,
    },
}

impl Config {
    /// The RPC URLs joined for messages.
    pub fn rpc_url(&self) -> String {
        self.rpc_urls.join(",")
    }

    /// The keeper's signing key, from `--private-key` or the encrypted `--keystore`.
    ///
    /// # Errors
    /// [`KeyError`], naming the setting.
    pub fn signer(&self) -> Result<alloy::signers::local::PrivateKeySigner, KeyError> {
        if let Some(key) = &self.private_key {
            return key.expose().trim().parse().map_err(|_| KeyError::BadKey);
        }
        let path = self.keystore.as_ref().ok_or(KeyError::Missing)?;
        let password = self
            .keystore_password
            .as_ref()
            .ok_or_else(|| KeyError::NoPassword(path.clone()))?;
        alloy::signers::local::PrivateKeySigner::decrypt_keystore(path, password.expose()).map_err(
            |e| KeyError::Keystore {
                path: path.clone(),
                reason: e.to_string(),
            },
        )
    }

    /// The base URL of batch data URIs: `--public-url`, else `http://<listen>`.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The longest pause between passes.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    /// The lease TTL.
    pub fn lease_ttl(&self) -> Duration {
        Duration::from_millis(self.lease_ttl_ms)
    }

    /// The fetch policy of the attester (storage URIs).
    pub fn fetch_policy(&self) -> crate::fetch::FetchPolicy {
        crate::fetch::FetchPolicy {
            allow_file: self.allow_file_uris,
            allow_private: self.allow_private_fetch,
            max_bytes: self.fetch_max_bytes,
            deadline: Duration::from_millis(self.fetch_timeout_ms),
            ..crate::fetch::FetchPolicy::default()
        }
    }

    /// The fetch policy of the challenge watcher (batch data; the size is capped per batch by its count).
    pub fn batch_fetch_policy(&self) -> crate::fetch::FetchPolicy {
        crate::fetch::FetchPolicy {
            deadline: Duration::from_millis(self.batch_fetch_timeout_ms),
            max_bytes: self.batch_fetch_max_bytes,
            ..self.fetch_policy()
        }
    }

    /// The instance id (given, or `keeper-<pid>`).
    pub fn instance(&self) -> String {
        self.instance_id
            .clone()
            .unwrap_or_else(|| format!("keeper-{}", std::process::id()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failpoint::Failpoint;

    /// Issue 15 #6: `--rpc-url` repeated or comma-separated gives every endpoint, in order.
    #[test]
    fn rpc_url_takes_several_endpoints() {
        let cli = Cli::try_parse_from([
            "verity-keeper",
            "--rpc-url",
            "http://a:8547",
            "--rpc-url",
            "http://b:8547,http://c:8547",
        ])
        .unwrap();
        assert_eq!(
            cli.config.rpc_urls,
            ["http://a:8547", "http://b:8547", "http://c:8547"]
        );
        assert_eq!(
            cli.config.rpc_url(),
            "http://a:8547,http://b:8547,http://c:8547"
        );
    }

    #[test]
    fn parses_flags_with_defaults() {
        let cli = Cli::try_parse_from([
            "verity-keeper",
            "--failpoint",
            "after_broadcast",
            "--poll-ms",
            "50",
            "status",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Status(StatusArgs { last: 10 }))
        ));
        assert_eq!(cli.config.poll_interval(), Duration::from_millis(50));
        assert_eq!(
            cli.config.failpoint.check(Failpoint::AfterBroadcast),
            Err(Failpoint::AfterBroadcast)
        );
        assert!(cli.config.database_url.starts_with("sqlite://"));
        assert_eq!(
            (
                cli.config.batch_max,
                cli.config.batch_gas,
                cli.config.batch_max_wait_secs,
                cli.config.batch_aging_wei_per_sec
            ),
            (100, 3_000_000, 60, 1_000_000_000_000)
        );
        assert_eq!(
            (cli.config.attest_batch_max, cli.config.attest_batch_wait_ms),
            (100, 500)
        );
        assert_eq!(
            (
                cli.config.receipt_batch_max,
                cli.config.receipt_batch_age_ms,
                cli.config.public_url.as_deref()
            ),
            (200_000, 60_000, None)
        );
    }

    #[test]
    fn debug_never_prints_the_key_or_the_keystore_password() {
        let key = "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d";
        let mut cli = Cli::try_parse_from(["verity-keeper", "--private-key", key]).unwrap();
        cli.config.keystore_password = "hunter2-password".parse().ok();
        let printed = format!("{cli:?} {:?} {:#?}", cli.config, cli.config);
        assert!(!printed.contains(key), "{printed}");
        assert!(!printed.contains(&key[..16]), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(cli.config.signer().is_ok());
    }

    #[test]
    fn fetches_are_strict_by_default() {
        let cli = Cli::try_parse_from(["verity-keeper"]).unwrap();
        let p = cli.config.fetch_policy();
        assert!(!p.allow_file && !p.allow_private);
        assert_eq!(p.max_bytes, 4 << 30);
        let cli = Cli::try_parse_from([
            "verity-keeper",
            "--allow-file-uris",
            "--allow-private-fetch",
        ])
        .unwrap();
        let p = cli.config.fetch_policy();
        assert!(p.allow_file && p.allow_private);
    }

    #[test]
    fn bad_setting_names_the_flag() {
        let err = Cli::try_parse_from(["verity-keeper", "--failpoint", "after_lunch"]).unwrap_err();
        assert!(err.to_string().contains("--failpoint"), "{err}");
        let err = Cli::try_parse_from(["verity-keeper", "--gauge", "0x12"]).unwrap_err();
        assert!(err.to_string().contains("--gauge"), "{err}");
        let err = Cli::try_parse_from(["verity-keeper", "--registry", "0x12"]).unwrap_err();
        assert!(err.to_string().contains("--registry"), "{err}");
        let err = Cli::try_parse_from(["verity-keeper", "--batch-max", "many"]).unwrap_err();
        assert!(err.to_string().contains("--batch-max"), "{err}");
        let err = Cli::try_parse_from(["verity-keeper", "--settlement", "0x12"]).unwrap_err();
        assert!(err.to_string().contains("--settlement"), "{err}");
        let err =
            Cli::try_parse_from(["verity-keeper", "--receipt-batch-max", "lots"]).unwrap_err();
        assert!(err.to_string().contains("--receipt-batch-max"), "{err}");
    }

    /// The PBKDF2 test vector of the Web3 Secret Storage definition (password "testpassword").
    const KEYSTORE: &str = r#"{"crypto":{"cipher":"aes-128-ctr","cipherparams":{"iv":"6087dab2f9fdbbfaddc31a909735c1e6"},
        "ciphertext":"5318b4d5bcd28de64ee5559e671353e16f075ecae9f99c7a79a38af5f869aa46","kdf":"pbkdf2",
        "kdfparams":{"c":262144,"dklen":32,"prf":"hmac-sha256",
        "salt":"ae3cd4e7013836a3df6bd7241b12db061dbe2c6785853cce422d148a624ce0bd"},
        "mac":"517ead924a9d0dc3124507e3393d175ce3ff7c1e96529c6c555ce9e51205e9b2"},
        "id":"3198bc9c-6672-5ab3-d995-4942343ae5b6","version":3}"#;

    #[test]
    fn the_key_comes_from_a_hex_key_or_an_encrypted_keystore_with_errors_naming_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keeper.json");
        std::fs::write(&path, KEYSTORE).unwrap();
        let expected: alloy::signers::local::PrivateKeySigner =
            "7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d"
                .parse()
                .unwrap();
        let mut cli =
            Cli::try_parse_from(["verity-keeper", "--keystore", path.to_str().unwrap()]).unwrap();
        cli.config.keystore_password = Some(Secret("testpassword".into()));
        assert_eq!(cli.config.signer().unwrap().address(), expected.address());

        cli.config.keystore_password = Some(Secret("wrong".into()));
        let err = cli.config.signer().unwrap_err().to_string();
        assert!(err.starts_with("--keystore "), "{err}");
        cli.config.keystore_password = None;
        let err = cli.config.signer().unwrap_err().to_string();
        assert!(err.contains("VERITY_KEEPER_KEYSTORE_PASSWORD"), "{err}");

        let cli = Cli::try_parse_from(["verity-keeper"]).unwrap();
        assert!(matches!(cli.config.signer(), Err(KeyError::Missing)));
        let cli = Cli::try_parse_from(["verity-keeper", "--private-key", "0xzz"]).unwrap();
        assert!(matches!(cli.config.signer(), Err(KeyError::BadKey)));
        // One source of the key, not two.
        let err = Cli::try_parse_from([
            "verity-keeper",
            "--private-key",
            "0x01",
            "--keystore",
            "k.json",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("--keystore"), "{err}");
    }
}
