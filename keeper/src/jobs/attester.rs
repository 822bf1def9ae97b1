//! The storage attester: for each version in `Submitted` state it fetches the bytes at the version's storage URI,
//! computes their keccak256 and length, and submits `confirmStorage(id, hash, size, now + storage_ttl)` under the
//! key `attest:<id>` with what it *found* — the contract compares with the submission and decides (`Stored`, or
//! `Rejected` with the refund on a hash or size mismatch).
//!
//! Which versions: the `VersionSubmitted` logs (the only place the storage URI is) read through a persisted
//! cursor that never moves past the oldest version still `Submitted` ([`super::versions`]): a crash or restart
//! reads every unattested submission again, and the chain's `version(id).status` decides what is still to do.
//!
//! Fetching: `file://<path>` from the local file system (tokio, read in chunks); `http://` and `https://` with
//! `reqwest` — already in the tree as alloy's HTTP transport (re-exported as `alloy::transports::http::reqwest`),
//! so no new dependency. Bytes are hashed as they stream in. Fetches of one pass run concurrently.
//!
//! An unreachable URI (I/O error, missing file, connection failure, timeout, a non-2xx HTTP status, a scheme the
//! attester cannot read) is **never** reported as a mismatch: the version is retried with exponential backoff
//! (from [`AttesterConfig::retry_base`], doubling, capped at [`AttesterConfig::retry_max`]: by default 2 s up to
//! 5 min) for as long as it stays `Submitted` — that is, until the registry's TTL (7 days on the dev chain) expires
//! it with a refund. Each failure is logged with its attempt count and counted in
//! `keeper_attest_fetches_total{outcome="unreachable"}`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes, Keccak256, B256, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use alloy::transports::http::reqwest;
use tokio::io::AsyncReadExt;
use tokio::sync::Mutex;
use tracing::{info, warn};
use verity_abi::registry::Status;
use verity_abi::rpc::IModelRegistry;

use super::versions::{Observed, VersionWatch, WatchConfig};
use super::{IntentSpec, Job, Plan, PlanFuture};
use crate::http::Metrics;
use crate::store::CursorStore;

/// The job's name.
pub const JOB_NAME: &str = "storage-attester";

/// The prefix of the job's idempotency keys.
pub const KEY_PREFIX: &str = "attest";

/// The idempotency key of version `id`'s attestation.
pub fn key(id: U256) -> String {
    format!("{KEY_PREFIX}:{id}")
}

/// Settings of the attester.
#[derive(Debug, Clone)]
pub struct AttesterConfig {
    /// The registry and its log stream.
    pub watch: WatchConfig,
    /// Storage expiry attested: chain time now plus this many seconds.
    pub storage_ttl_secs: u64,
    /// First retry delay after an unreachable URI.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Timeout of one HTTP fetch (whole body).
    pub http_timeout: Duration,
    /// Most fetches started per pass.
    pub max_fetches_per_pass: usize,
}

impl AttesterConfig {
    /// Defaults for `registry` (deployed at `start_block`): storage attested for 365 days, retries from 2 s to
    /// 5 min, 10 min per HTTP fetch, 64 fetches per pass.
    pub fn new(registry: Address, start_block: u64) -> Self {
        Self {
            watch: WatchConfig::new("registry-attester", registry, start_block),
            storage_ttl_secs: 365 * 86_400,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            http_timeout: Duration::from_secs(600),
            max_fetches_per_pass: 64,
        }
    }
}

/// What the attester found at a URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// keccak256 of the bytes.
    pub content_hash: B256,
    /// Their length.
    pub size: u64,
}

/// Why a URI could not be read (retried later, never reported as a mismatch).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not a `file://`, `http://` or `https://` URI (or not UTF-8).
    #[error("unsupported storage URI {0:?}")]
    Unsupported(String),
    /// Local I/O failed (missing file, permissions…).
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP request failed or answered with a non-success status.
    #[error("http: {0}")]
    Http(String),
}

/// Fetches `uri` and hashes what is there.
///
/// # Errors
/// [`FetchError`] when nothing could be read.
pub async fn fetch(client: &reqwest::Client, uri: &[u8]) -> Result<Found, FetchError> {
    let text = std::str::from_utf8(uri)
        .map_err(|_| FetchError::Unsupported(String::from_utf8_lossy(uri).into_owned()))?;
    let mut hasher = Keccak256::new();
    let mut size = 0u64;
    if let Some(path) = text.strip_prefix("file://") {
        let io = |source| FetchError::Io {
            path: path.to_string(),
            source,
        };
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
    } else if text.starts_with("http://") || text.starts_with("https://") {
        let http = |e: reqwest::Error| FetchError::Http(e.to_string());
        let mut response = client
            .get(text)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(http)?;
        while let Some(chunk) = response.chunk().await.map_err(http)? {
            hasher.update(&chunk);
            size += chunk.len() as u64;
        }
    } else {
        return Err(FetchError::Unsupported(text.to_string()));
    }
    Ok(Found {
        content_hash: hasher.finalize(),
        size,
    })
}

#[derive(Debug, Default)]
struct Retry {
    attempts: u32,
    next_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Memory {
    /// Intents decided (re-planned unchanged while the version stays `Submitted`: no second fetch).
    decided: BTreeMap<U256, IntentSpec>,
    /// Backoff of unreachable URIs.
    retries: BTreeMap<U256, Retry>,
}

/// The storage attester for one ModelRegistry.
pub struct StorageAttester<S> {
    config: AttesterConfig,
    watch: VersionWatch<S>,
    client: reqwest::Client,
    metrics: Metrics,
    memory: Mutex<Memory>,
}

impl<S: CursorStore + Clone> StorageAttester<S> {
    /// The attester, persisting its cursor in `store` and counting fetch outcomes in `metrics`.
    ///
    /// # Panics
    /// When the HTTP client cannot be built (no TLS backend: a build problem).
    pub fn new(store: S, config: AttesterConfig, metrics: Metrics) -> Self {
        let client = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .build()
            .expect("reqwest client builds");
        Self {
            watch: VersionWatch::new(store, config.watch.clone()),
            config,
            client,
            metrics,
            memory: Mutex::new(Memory::default()),
        }
    }

    /// The calldata of `confirmStorage(id, found.content_hash, found.size, storage_expiry)`.
    pub fn calldata(id: U256, found: Found, storage_expiry: u64) -> Bytes {
        IModelRegistry::confirmStorageCall {
            id,
            content_hash: found.content_hash,
            size: found.size,
            storage_expiry,
        }
        .abi_encode()
        .into()
    }

    async fn plan_with<P: Provider + Clone + 'static>(&self, provider: &P) -> super::Result<Plan> {
        let (versions, chain_now, _) = self
            .watch
            .observe(provider, |s| s != Status::Submitted)
            .await?;
        let mut memory = self.memory.lock().await;
        let live: std::collections::BTreeSet<U256> =
            versions.iter().map(|v| v.submitted.id).collect();
        memory.decided.retain(|id, _| live.contains(id));
        memory.retries.retain(|id, _| live.contains(id));

        let now = Instant::now();
        let to_fetch: Vec<&Observed> = versions
            .iter()
            .filter(|v| !memory.decided.contains_key(&v.submitted.id))
            .filter(|v| {
                memory
                    .retries
                    .get(&v.submitted.id)
                    .and_then(|r| r.next_at)
                    .is_none_or(|at| at <= now)
            })
            .take(self.config.max_fetches_per_pass)
            .collect();
        let mut set = tokio::task::JoinSet::new();
        for v in &to_fetch {
            let client = self.client.clone();
            let id = v.submitted.id;
            let uri = v.submitted.storage_uri.clone();
            set.spawn(async move { (id, fetch(&client, &uri).await) });
        }
        let mut results = BTreeMap::new();
        while let Some(joined) = set.join_next().await {
            if let Ok((id, r)) = joined {
                results.insert(id, r);
            }
        }
        let storage_expiry = chain_now.saturating_add(self.config.storage_ttl_secs);
        for v in &to_fetch {
            let id = v.submitted.id;
            match results.remove(&id) {
                Some(Ok(found)) => {
                    let declared = Found {
                        content_hash: v.content_hash,
                        size: v.size,
                    };
                    let outcome = if declared == found {
                        "match"
                    } else {
                        "mismatch"
                    };
                    self.metrics
                        .attest_fetches
                        .with_label_values(&[outcome])
                        .inc();
                    info!(target: "keeper::jobs::attester", %id, hash = %found.content_hash, size = found.size, outcome, "storage fetched");
                    memory.retries.remove(&id);
                    memory.decided.insert(
                        id,
                        IntentSpec {
                            key: key(id),
                            target: self.watch.registry(),
                            calldata: Self::calldata(id, found, storage_expiry),
                            value: U256::ZERO,
                        },
                    );
                }
                Some(Err(e)) => {
                    let retry = memory.retries.entry(id).or_default();
                    retry.attempts = retry.attempts.saturating_add(1);
                    let delay = self
                        .config
                        .retry_base
                        .saturating_mul(1u32 << retry.attempts.saturating_sub(1).min(20))
                        .min(self.config.retry_max);
                    retry.next_at = Some(now + delay);
                    self.metrics
                        .attest_fetches
                        .with_label_values(&["unreachable"])
                        .inc();
                    warn!(target: "keeper::jobs::attester", %id, attempts = retry.attempts, retry_in = ?delay, %e, "storage unreachable; retried later (not reported as a mismatch)");
                }
                None => {
                    // The fetch task panicked: retried next pass.
                    warn!(target: "keeper::jobs::attester", %id, "fetch task failed; retried next pass");
                }
            }
        }
        let intents = versions
            .iter()
            .filter_map(|v| memory.decided.get(&v.submitted.id).cloned())
            .collect();
        Ok(Plan {
            intents,
            due: versions.len() as u64,
            lag_secs: versions
                .iter()
                .map(|v| chain_now.saturating_sub(v.submitted_at))
                .max()
                .unwrap_or(0),
        })
    }
}

impl<S> std::fmt::Debug for StorageAttester<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageAttester")
            .field("config", &self.config)
            .field("watch", &self.watch)
            .finish_non_exhaustive()
    }
}

impl<P, S> Job<P> for StorageAttester<S>
where
    P: Provider + Clone + 'static,
    S: CursorStore + Clone,
{
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn plan<'a>(&'a self, provider: &'a P) -> PlanFuture<'a> {
        Box::pin(self.plan_with(provider))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;

    #[tokio::test]
    async fn fetches_files_and_refuses_unknown_schemes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bin");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let client = reqwest::Client::new();
        let uri = format!("file://{}", path.display());
        let found = fetch(&client, uri.as_bytes()).await.unwrap();
        assert_eq!(found.content_hash, keccak256(&bytes));
        assert_eq!(found.size, 200_000);
        let missing = format!("file://{}", dir.path().join("nope").display());
        assert!(matches!(
            fetch(&client, missing.as_bytes()).await,
            Err(FetchError::Io { .. })
        ));
        assert!(matches!(
            fetch(&client, b"ipfs://x").await,
            Err(FetchError::Unsupported(_))
        ));
    }

    #[tokio::test]
    async fn fetches_over_http_and_treats_errors_as_unreachable() {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut req = vec![0u8; 4096];
                let n = s.read(&mut req).await.unwrap();
                let req = String::from_utf8_lossy(&req[..n]).to_string();
                let reply = if req.starts_with("GET /w ") {
                    "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"
                        .to_string()
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_string()
                };
                s.write_all(reply.as_bytes()).await.unwrap();
                s.shutdown().await.unwrap();
            }
        });
        let client = reqwest::Client::new();
        let found = fetch(&client, format!("http://{addr}/w").as_bytes())
            .await
            .unwrap();
        assert_eq!((found.content_hash, found.size), (keccak256(b"hello"), 5));
        assert!(matches!(
            fetch(&client, format!("http://{addr}/gone").as_bytes()).await,
            Err(FetchError::Http(_))
        ));
    }
}
