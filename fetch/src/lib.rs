//! The fetch policy: how the keeper and the inference node read a URI that someone else named (a model version's
//! storage URI, another keeper's batch data). Such a URI is attacker-chosen, so every read goes through a
//! [`Fetcher`] that enforces:
//!
//! - **schemes**: `http://` and `https://` only; `file://` only with [`FetchPolicy::allow_file`] (`verity dev`
//!   and tests set it — a production keeper must never publish the hash and size of a local file such as its
//!   keystore);
//! - **addresses**: a host that is, or resolves to, a loopback, private, link-local, CGNAT, multicast,
//!   documentation or otherwise non-global address is refused unless [`FetchPolicy::allow_private`] (cloud
//!   metadata endpoints, the keeper's own `/metrics`, the database). Every resolved address is checked, the
//!   connection goes to exactly the checked addresses (the check is the DNS resolver of the HTTP client, so a
//!   second lookup cannot rebind), redirects are followed at most 5 times and each hop is checked again, and
//!   system proxies are ignored (a proxy would resolve for us);
//! - **size**: at most [`FetchPolicy::max_bytes`] (or a smaller per-call limit), hashed or collected while
//!   streaming, never buffered whole beyond the limit; a `Content-Length` above it is refused before the body;
//! - **time**: one deadline per fetch ([`FetchPolicy::deadline`]) covering the wait for a pool slot, connect,
//!   headers and the whole body: a slow endless body ends as [`FetchError::Deadline`];
//! - **concurrency**: at most [`FetchPolicy::max_concurrent`] fetches of one [`Fetcher`] run at once.
//!
//! **Decisions**
//! - Refusal is an error like any other unreachable URI ([`FetchError`]): callers retry with backoff and never
//!   treat it as evidence about the content (the attester never reports a mismatch for it).
//! - Default cap 4 GiB: large enough for the model weights the registry attests today (a 7B model in 4-bit is
//!   about 4 GB; set `--fetch-max-bytes` higher for bigger ones), small enough that one URI cannot make the keeper
//!   hash for hours. Default deadline 15 min: 4 GiB at ~5 MB/s.
//! - The crate knows no job: the keeper's attester and challenge watcher and the inference node (`verity-node`)
//!   use it; the keeper re-exports it as `verity_keeper::fetch`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Keccak256, B256};
use alloy::transports::http::reqwest;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;

/// What a [`Fetcher`] may read, and how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Allow `file://` URIs (local development and tests only).
    pub allow_file: bool,
    /// Allow hosts on loopback, private, link-local and other non-global addresses.
    pub allow_private: bool,
    /// Most bytes read from one URI.
    pub max_bytes: u64,
    /// Deadline of one fetch, from the call to the last byte.
    pub deadline: Duration,
    /// Most fetches running at once.
    pub max_concurrent: usize,
}

impl Default for FetchPolicy {
    /// `http(s)` to global addresses only, 4 GiB, 15 minutes, 8 at once.
    fn default() -> Self {
        Self {
            allow_file: false,
            allow_private: false,
            max_bytes: 4 << 30,
            deadline: Duration::from_secs(15 * 60),
            max_concurrent: 8,
        }
    }
}

/// Why a URI was not read (the caller retries later; it is never evidence about the content).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The policy refuses the URI (scheme, address, not UTF-8, unparsable).
    #[error("refused by the fetch policy: {0}")]
    Refused(String),
    /// The content is larger than the limit.
    #[error("larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The fetch did not finish within its deadline.
    #[error("not finished within {0:?}")]
    Deadline(Duration),
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

/// keccak256 and length of fetched content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// keccak256 of the bytes.
    pub content_hash: B256,
    /// Their length.
    pub size: u64,
}

/// Whether `ip` is a global unicast address (not loopback, private, link-local, CGNAT, multicast, documentation,
/// benchmarking, reserved or unspecified; IPv4-mapped, -compatible and NAT64 IPv6 addresses judged by their IPv4).
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 198 && (18..20).contains(&b))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_global_v4(v4);
    }
    // IPv4-compatible (deprecated, ::a.b.c.d) and NAT64 (64:ff9b::/96) embed an IPv4 address.
    if s[..6] == [0, 0, 0, 0, 0, 0] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        if ip.is_unspecified() || ip.is_loopback() {
            return false;
        }
        let o = ip.octets();
        return is_global_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    !((s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard-only
}

/// The HTTP client's resolver: refuses a name when any of its addresses is not global (unless allowed), and
/// hands the client exactly the addresses it checked.
#[derive(Debug, Clone, Copy)]
struct PolicyResolver {
    allow_private: bool,
}

/// The resolver's refusal (found again in the error chain to report [`FetchError::Refused`]).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Refusal(String);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            type BoxError = Box<dyn std::error::Error + Send + Sync>;
            let addrs: Vec<SocketAddr> = match tokio::net::lookup_host((host.as_str(), 0)).await {
                Ok(addrs) => addrs.collect(),
                Err(e) => return Err(Box::new(e) as BoxError),
            };
            if !allow_private {
                if let Some(bad) = addrs.iter().find(|a| !is_global(a.ip())) {
                    return Err(Box::new(Refusal(format!(
                        "{host} resolves to the non-global address {}",
                        bad.ip()
                    ))) as BoxError);
                }
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Checks an `http(s)` URL's scheme and, for an IP-literal host, its address (names are checked by the resolver).
fn check_url(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {:?} not allowed", url.scheme()));
    }
    let host = url.host_str().ok_or("no host")?;
    let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    else {
        return Ok(());
    };
    if !allow_private && !is_global(ip) {
        return Err(format!("non-global address {ip}"));
    }
    Ok(())
}

/// Reads URIs under a [`FetchPolicy`] (cheap to clone; clones share the concurrency limit).
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: Arc<FetchPolicy>,
    client: reqwest::Client,
    permits: Arc<Semaphore>,
}

impl Fetcher {
    /// A fetcher enforcing `policy`.
    ///
    /// # Errors
    /// [`FetchError::Http`] when the HTTP client cannot be built (no TLS backend: a build problem).
    pub fn new(policy: FetchPolicy) -> Result<Self, FetchError> {
        let allow_private = policy.allow_private;
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error(Refusal("more than 5 redirects".into()));
            }
            match check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(Refusal(format!("redirect refused: {why}"))),
            }
        });
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(redirect)
            .dns_resolver(PolicyResolver { allow_private })
            .connect_timeout(policy.deadline.min(Duration::from_secs(30)))
            .build()
            .map_err(|e| FetchError::Http(e.to_string()))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(policy.max_concurrent.max(1))),
            policy: Arc::new(policy),
            client,
        })
    }

    /// The policy.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Streams the content at `uri` into `sink`, at most `limit` bytes (and never more than the policy's
    /// maximum); returns the length.
    ///
    /// # Errors
    /// [`FetchError`]: refused, too large, past the deadline, or unreadable.
    pub async fn stream(
        &self,
        uri: &[u8],
        limit: u64,
        sink: impl FnMut(&[u8]) + Send,
    ) -> Result<u64, FetchError> {
        let limit = limit.min(self.policy.max_bytes);
        let deadline = self.policy.deadline;
        tokio::time::timeout(deadline, async {
            let _permit = self
                .permits
                .acquire()
                .await
                .map_err(|_| FetchError::Refused("fetcher closed".into()))?;
            self.stream_now(uri, limit, sink).await
        })
        .await
        .map_err(|_| FetchError::Deadline(deadline))?
    }

    async fn stream_now(
        &self,
        uri: &[u8],
        limit: u64,
        mut sink: impl FnMut(&[u8]) + Send,
    ) -> Result<u64, FetchError> {
        let text =
            std::str::from_utf8(uri).map_err(|_| FetchError::Refused("URI is not UTF-8".into()))?;
        let mut size = 0u64;
        let mut take = |chunk: &[u8]| -> Result<(), FetchError> {
            size = size.saturating_add(chunk.len() as u64);
            if size > limit {
                return Err(FetchError::TooLarge { limit });
            }
            sink(chunk);
            Ok(())
        };
        if let Some(path) = text.strip_prefix("file://") {
            if !self.policy.allow_file {
                return Err(FetchError::Refused(
                    "file:// URIs are not allowed (--allow-file-uris)".into(),
                ));
            }
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
                take(&buf[..n])?;
            }
        } else {
            let url = reqwest::Url::parse(text)
                .map_err(|e| FetchError::Refused(format!("{text:?}: {e}")))?;
            check_url(&url, self.policy.allow_private).map_err(FetchError::Refused)?;
            let mut response = self
                .client
                .get(url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(http_error)?;
            if response.content_length().is_some_and(|n| n > limit) {
                return Err(FetchError::TooLarge { limit });
            }
            while let Some(chunk) = response.chunk().await.map_err(http_error)? {
                take(&chunk)?;
            }
        }
        Ok(size)
    }

    /// keccak256 and length of the content at `uri` (at most the policy's maximum).
    ///
    /// # Errors
    /// As [`Fetcher::stream`].
    pub async fn hash(&self, uri: &[u8]) -> Result<Found, FetchError> {
        let mut hasher = Keccak256::new();
        let size = self
            .stream(uri, u64::MAX, |chunk| hasher.update(chunk))
            .await?;
        Ok(Found {
            content_hash: hasher.finalize(),
            size,
        })
    }

    /// The content at `uri`, at most `limit` bytes.
    ///
    /// # Errors
    /// As [`Fetcher::stream`].
    pub async fn bytes(&self, uri: &[u8], limit: u64) -> Result<Vec<u8>, FetchError> {
        let mut out = Vec::new();
        self.stream(uri, limit, |chunk| out.extend_from_slice(chunk))
            .await?;
        Ok(out)
    }
}

/// A reqwest error as a [`FetchError`]: a policy refusal found in its causes stays a refusal.
fn http_error(e: reqwest::Error) -> FetchError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<Refusal>() {
            return FetchError::Refused(r.0.clone());
        }
        cause = c.source();
    }
    FetchError::Http(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::keccak256;
    use tokio::io::AsyncWriteExt;

    fn open() -> FetchPolicy {
        FetchPolicy {
            allow_file: true,
            allow_private: true,
            ..FetchPolicy::default()
        }
    }

    #[test]
    fn only_global_addresses_are_global() {
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(!is_global(bad.parse().unwrap()), "{bad}");
        }
        for good in ["1.1.1.1", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_global(good.parse().unwrap()), "{good}");
        }
    }

    #[tokio::test]
    async fn file_uris_need_the_flag_and_respect_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bin");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let uri = format!("file://{}", path.display());
        let strict = Fetcher::new(FetchPolicy::default()).unwrap();
        assert!(matches!(
            strict.hash(uri.as_bytes()).await,
            Err(FetchError::Refused(_))
        ));
        let dev = Fetcher::new(open()).unwrap();
        let found = dev.hash(uri.as_bytes()).await.unwrap();
        assert_eq!(
            (found.content_hash, found.size),
            (keccak256(&bytes), 200_000)
        );
        assert!(matches!(
            dev.bytes(uri.as_bytes(), 1_000).await,
            Err(FetchError::TooLarge { limit: 1_000 })
        ));
        // An endless file ends at the cap.
        let capped = Fetcher::new(FetchPolicy {
            max_bytes: 1 << 20,
            ..open()
        })
        .unwrap();
        assert!(matches!(
            capped.hash(b"file:///dev/zero").await,
            Err(FetchError::TooLarge { .. })
        ));
        assert!(matches!(
            dev.hash(b"ipfs://x").await,
            Err(FetchError::Refused(_))
        ));
    }

    /// Serves `body` once per connection on loopback; `endless` dribbles a byte every 50 ms for ever.
    async fn serve(endless: bool) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut req = vec![0u8; 4096];
                    let _ = s.read(&mut req).await;
                    if endless {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n")
                            .await;
                        loop {
                            if s.write_all(b"x").await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
                        .await;
                    let _ = s.shutdown().await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn loopback_needs_the_flag_and_slow_bodies_hit_the_deadline() {
        let addr = serve(false).await;
        let uri = format!("http://{addr}/w");
        let strict = Fetcher::new(FetchPolicy::default()).unwrap();
        assert!(matches!(
            strict.hash(uri.as_bytes()).await,
            Err(FetchError::Refused(_))
        ));
        let by_name = format!("http://localhost:{}/w", addr.port());
        assert!(matches!(
            strict.hash(by_name.as_bytes()).await,
            Err(FetchError::Refused(_))
        ));
        let dev = Fetcher::new(open()).unwrap();
        let found = dev.hash(uri.as_bytes()).await.unwrap();
        assert_eq!((found.content_hash, found.size), (keccak256(b"hello"), 5));
        assert_eq!(dev.hash(by_name.as_bytes()).await.unwrap().size, 5);

        let slow = serve(true).await;
        let quick = Fetcher::new(FetchPolicy {
            deadline: Duration::from_millis(500),
            ..open()
        })
        .unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(
            quick.hash(format!("http://{slow}/").as_bytes()).await,
            Err(FetchError::Deadline(_))
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
