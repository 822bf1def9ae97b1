//! Shared set-up: an in-process devnode, a keeper key, a SQLite store, counting the sender's transactions; and
//! [`verity_env`]: the same with Verity built by the real pipeline and deployed by the real deploy plan (as the root
//! crate's `tests/it/support.rs` does), for the jobs' end-to-end tests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use alloy::consensus::Transaction as _;
use alloy::eips::BlockNumberOrTag;
use alloy::network::{EthereumWallet, TransactionResponse};
use alloy::primitives::{Address, Bytes};
use alloy::providers::{DynProvider, Provider, ProviderBuilder, WalletProvider};
use alloy::signers::local::PrivateKeySigner;
use devnode::rpc::{server::lock, start, NodeConfig};
use verity_keeper::failpoint::Failpoints;
use verity_keeper::outbox::{TxConfig, TxManager};
use verity_keeper::store::SqliteStore;
use verity_script::build::{build_planned, Artifacts, BuildOptions};
use verity_script::deploy::verity::{plan, VerityParams};
use verity_script::deploy::{deploy_all, DeployOptions, Deployment};

pub(crate) struct Env {
    pub(crate) node: devnode::rpc::server::NodeHandle,
    pub(crate) provider: DynProvider,
    pub(crate) key: String,
    pub(crate) signer: PrivateKeySigner,
    pub(crate) chain_id: u64,
    pub(crate) db_url: String,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) async fn env() -> Env {
    env_on(start(NodeConfig::default()).await.expect("devnode"), 0)
}

/// An [`Env`] on `node` whose keeper key is dev account `account`.
fn env_on(node: devnode::rpc::server::NodeHandle, account: usize) -> Env {
    let (key, chain_id) = {
        let shared = node.chain();
        let chain = lock(&shared);
        (
            chain.dev_accounts()[account].private_key_hex(),
            chain.chain_id(),
        )
    };
    let signer: PrivateKeySigner = key.parse().unwrap();
    let provider = ProviderBuilder::new()
        .connect_http(node.url().parse().unwrap())
        .erased();
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("k.db").display());
    Env {
        node,
        provider,
        key,
        signer,
        chain_id,
        db_url,
        _dir: dir,
    }
}

impl Env {
    pub(crate) async fn store(&self) -> SqliteStore {
        SqliteStore::connect(&self.db_url).await.unwrap()
    }

    pub(crate) fn tx_config(&self) -> TxConfig {
        TxConfig {
            chain_id: self.chain_id,
            confirmations: 1,
            rebroadcast_after: Duration::from_millis(0),
            ..TxConfig::default()
        }
    }

    pub(crate) async fn manager(
        &self,
        failpoints: Failpoints,
    ) -> TxManager<SqliteStore, DynProvider> {
        TxManager::new(
            self.store().await,
            self.provider.clone(),
            self.signer.clone(),
            self.tx_config(),
            failpoints,
        )
    }

    /// Every transaction the keeper's account has on chain, counted by calldata.
    pub(crate) async fn sent_by_calldata(&self) -> BTreeMap<Bytes, usize> {
        let head = self.provider.get_block_number().await.unwrap();
        let mut out = BTreeMap::new();
        for n in 0..=head {
            let block = self
                .provider
                .get_block_by_number(BlockNumberOrTag::Number(n))
                .full()
                .await
                .unwrap()
                .unwrap();
            for tx in block.transactions.into_transactions() {
                if tx.from() == self.signer.address() {
                    *out.entry(tx.input().clone()).or_insert(0) += 1;
                }
            }
        }
        out
    }

    pub(crate) async fn chain_nonce(&self) -> u64 {
        self.provider
            .get_transaction_count(self.signer.address())
            .await
            .unwrap()
    }
}

/// An EOA-like target: calls to it succeed with any calldata.
pub(crate) const TARGET: Address = Address::with_last_byte(0x77);

/// The contracts Verity's deploy plan deploys, built once per test binary by the real pipeline (into
/// `target/verity-keeper-it`, apart from the root tests' artifacts).
pub(crate) fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("keeper/ sits in the workspace")
            .to_path_buf();
        let mut options = BuildOptions::new(&root);
        options.out_dir = root.join("target/verity-keeper-it");
        build_planned(&options, &plan(&VerityParams::default()))
            .expect("the planned contracts build within Stylus's size limits")
    })
}

/// Dev account that deploys Verity (every contract's admin).
pub(crate) const DEPLOYER: usize = 0;
/// Dev account whose key the keeper signs with in [`verity_env`].
pub(crate) const KEEPER: usize = 2;

/// A fresh devnode with Verity deployed by dev account [`DEPLOYER`]; the keeper key is dev account [`KEEPER`].
pub(crate) async fn verity_env() -> (Env, Deployment) {
    let node = start(NodeConfig::default()).await.expect("devnode");
    let deployer = wallet(&node, DEPLOYER);
    let dir = tempfile::tempdir().unwrap();
    let artifacts = tokio::task::spawn_blocking(artifacts).await.unwrap();
    let deployment = deploy_all(
        &deployer,
        artifacts,
        &plan(&VerityParams::default()),
        &DeployOptions::new("devnode", dir.path()),
    )
    .await
    .expect("Verity deploys on devnode");
    (env_on(node, KEEPER), deployment)
}

/// A provider signing as dev account `i` of `node`.
pub(crate) fn wallet(
    node: &devnode::rpc::server::NodeHandle,
    i: usize,
) -> impl Provider + WalletProvider + Clone + use<> {
    let signer = lock(&node.chain()).dev_accounts()[i].signer.clone();
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer))
        .connect_http(node.url().parse().unwrap())
}

impl Env {
    /// The latest block's timestamp.
    pub(crate) async fn chain_now(&self) -> u64 {
        self.provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .unwrap()
            .unwrap()
            .header
            .timestamp
    }

    /// Mines one block at exactly `t` (forward only).
    pub(crate) async fn mine_at(&self, t: u64) {
        assert!(t > self.chain_now().await, "time only moves forward");
        self.provider
            .raw_request::<_, ()>("evm_setNextBlockTimestamp".into(), (t,))
            .await
            .unwrap();
        self.provider
            .raw_request::<_, String>("evm_mine".into(), ())
            .await
            .unwrap();
        assert_eq!(self.chain_now().await, t);
    }

    /// Moves the clock forward by `seconds` with `evm_increaseTime` and mines a block.
    pub(crate) async fn advance(&self, seconds: u64) {
        let _: i64 = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .unwrap();
        let _: String = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .unwrap();
    }
}

/// A fresh PostgreSQL schema on the machine's server (`VERITY_TEST_DATABASE_URL`, or `DATABASE_URL` when it is a
/// `postgres` URL, default `postgres://postgres@127.0.0.1:5432/test`): connect options whose `search_path` is the
/// schema, and the schema's name. `None`, with `SKIPPED: postgres unavailable` printed, when no server answers —
/// except under `CI=true`, where a missing server fails the test (a skipped suite must not pass CI); a server that
/// answers and refuses is a broken set-up and panics.
pub(crate) async fn pg_schema() -> Option<(sqlx::postgres::PgConnectOptions, String)> {
    use sqlx::Connection;
    use std::str::FromStr;
    let url = std::env::var("VERITY_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string());
    let base = sqlx::postgres::PgConnectOptions::from_str(&url).expect("postgres url");
    let mut conn = match tokio::time::timeout(
        Duration::from_secs(5),
        sqlx::PgConnection::connect_with(&base),
    )
    .await
    {
        Ok(Ok(c)) => c,
        Ok(Err(sqlx::Error::Io(e))) => return skip_or_fail(&format!("{e}")),
        Err(_) => return skip_or_fail("connect timed out"),
        Ok(Err(e)) => panic!("postgres reachable but refused: {e}"),
    };
    let schema = format!(
        "keeper_it_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .await
        .expect("create schema");
    let _ = conn.close().await;
    let options = base.options([("search_path", schema.as_str())]);
    Some((options, schema))
}

/// No PostgreSQL server answered: under `CI=true` the test fails with one line, locally it is skipped with a
/// printed reason.
fn skip_or_fail<T>(reason: &str) -> Option<T> {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("postgres unavailable under CI=true: {reason}");
    }
    println!("SKIPPED: postgres unavailable ({reason})");
    None
}

/// Runs the keeper binary `cmd` with a failpoint armed in `wait` mode, sends it a real `SIGKILL` (from this test,
/// not the process's own exit) as soon as it reports the failpoint reached, and returns the failpoint's name.
/// Panics when the process ends without reaching it.
pub(crate) fn sigkill_at_failpoint(cmd: std::process::Command) -> String {
    match run_or_sigkill_at_failpoint(cmd) {
        Ok(reached) => reached.point,
        Err((status, stderr)) => {
            panic!("ended ({status}) without reaching its failpoint:\n{stderr}")
        }
    }
}

/// Where a waiting failpoint stopped the binary: its name and what it was working on (an intent's key, a batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reached {
    pub(crate) point: String,
    pub(crate) what: String,
}

/// As [`sigkill_at_failpoint`], but a process that ends by itself without reaching its failpoint is an answer too:
/// `Err` with its exit status and stderr (nothing was due at that step).
pub(crate) fn run_or_sigkill_at_failpoint(
    mut cmd: std::process::Command,
) -> Result<Reached, (std::process::ExitStatus, String)> {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the keeper binary starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut seen = Vec::new();
    let mut reached = None;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Some(rest) = line.split(verity_keeper::failpoint::WAITING_MARKER).nth(1) {
            let (point, what) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
            reached = Some(Reached {
                point: point.to_string(),
                what: what.trim().to_string(),
            });
            break;
        }
        seen.push(line);
    }
    let Some(reached) = reached else {
        let status = child.wait().expect("wait");
        return Err((status, seen.join("\n")));
    };
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert_eq!(status.signal(), Some(9), "ended by the test's SIGKILL");
    Ok(reached)
}
