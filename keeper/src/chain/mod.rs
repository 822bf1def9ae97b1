//! The chain adapter: the alloy provider, the persisted `(block, hash)` log cursor with reorg rewind
//! ([`cursor::LogReader`]), and decoding of raw logs into the keeper's domain events ([`events`]) through
//! `verity-abi`'s event types.

use alloy::transports::{RpcError, TransportErrorKind};

use crate::store::StoreError;

pub mod cursor;
pub mod events;

/// A provider over HTTP whose every request gives up after `timeout`: a node that accepts the connection and
/// never answers must not stall the keeper (alloy's default client waits forever). The pass fails, the instance
/// reports not ready, and the next pass retries.
///
/// # Errors
/// `url` is not a URL or the HTTP client cannot be built.
pub fn http_provider(
    url: &str,
    timeout: std::time::Duration,
) -> Result<alloy::providers::DynProvider, String> {
    use alloy::providers::{Provider, ProviderBuilder};
    let parsed = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let client = alloy::transports::http::reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(ProviderBuilder::new()
        .connect_reqwest(client, parsed)
        .erased())
}

/// A provider over several HTTP endpoints (`--rpc-url` given more than once): every request goes to all of them
/// at once and the first answer wins (alloy's `FallbackService`); an endpoint that fails or hangs is ranked down.
/// Consecutive requests may therefore be answered by different nodes — exactly what a load balancer does — so
/// nothing in the keeper may infer a fact from one node's *absence* of data (see the outbox's reconcile). A
/// broadcast reaches every endpoint (the same signed bytes: idempotent). With one URL this is [`http_provider`].
///
/// # Errors
/// No URL, a URL that does not parse, or the HTTP client cannot be built.
pub fn failover_provider(
    urls: &[String],
    timeout: std::time::Duration,
) -> Result<alloy::providers::DynProvider, String> {
    use alloy::providers::{Provider, ProviderBuilder};
    use alloy::transports::http::Http;
    use alloy::transports::layers::FallbackService;
    match urls {
        [] => return Err("no RPC URL".into()),
        [one] => return http_provider(one, timeout),
        _ => {}
    }
    let client = alloy::transports::http::reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let transports = urls
        .iter()
        .map(|u| {
            u.parse()
                .map(|url| Http::with_client(client.clone(), url))
                .map_err(|e| format!("{u}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let n = transports.len();
    let service = FallbackService::new(transports, n);
    let rpc = alloy::rpc::client::RpcClient::new(service, false);
    Ok(ProviderBuilder::new().connect_client(rpc).erased())
}

/// Errors of the chain adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// An RPC call failed.
    #[error("rpc: {0}")]
    Rpc(#[from] RpcError<TransportErrorKind>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node does not know a block it just reported (it is syncing or reorging): retry.
    #[error("block {0} missing from the node")]
    MissingBlock(u64),
    /// The logs returned for a range do not belong to the blocks read right after (reorg during the read).
    #[error("logs of block {0} changed during the read")]
    Inconsistent(u64),
}

impl ChainError {
    /// Whether repeating the read may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ChainError::Rpc(e) => match e {
                RpcError::ErrorResp(_) => false,
                RpcError::Transport(_)
                | RpcError::NullResp
                | RpcError::DeserError { .. }
                | RpcError::SerError(_)
                | RpcError::UnsupportedFeature(_)
                | RpcError::LocalUsageError(_) => true,
            },
            ChainError::Store(e) => e.is_transient(),
            ChainError::MissingBlock(_) | ChainError::Inconsistent(_) => true,
        }
    }
}
