//! The status page and its JSON API, served by the keeper next to `/metrics`.
//!
//! - `GET /` — the page (plain HTML + JS, no CDN, no build step), `GET /app.js` its script.
//! - `GET /api/summary` — counts, registry backlog, recent registrations.
//! - `GET /api/models?owner=0x…&parent=<id>&tag=<text>` — registered versions (listings by owner, children, tags).
//! - `GET /api/versions/<id>` — one version with its lineage (any status).
//! - `GET /api/requests` (latest 50) and `GET /api/requests/<0x requestId>` — paid requests.
//! - `GET /api/batches` — receipt batches, newest first.
//! - `GET /api/nodes` — the node scoreboard.
//! - `GET /api/epochs` — finalized epochs: gauge weights, turnout, voters, concentration.
//! - `GET /api/wallet` — chain id, contract addresses, calendar and ABI selectors for the wallet panel
//!   ([`wallet`]); `GET /wallet.js` the panel's script.
//! - `GET /api/voters/<0x address>` — one voter's current allocation and the weight it gave each epoch.
//! - `GET`/`POST /api/routing` — inference clients' routing reports ([`routing`]; accepted only with
//!   `--accept-routing-reports`).
//!
//! Bad input answers `400` with a one-line JSON error; an unknown id `404`.

use std::sync::Arc;

use alloy::primitives::{Address, B256, U256};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::index::{label_word, Index};

pub mod routing;
pub mod wallet;
pub use wallet::WalletInfo;

/// The page.
const PAGE: &str = include_str!("page.html");
/// The page's script.
const SCRIPT: &str = include_str!("app.js");
/// The wallet panel's script (connect, lock, vote, withdraw through EIP-1193).
const WALLET_SCRIPT: &str = include_str!("wallet.js");
/// Requests and batches listed when no id is given.
const LIST: usize = 50;

type Shared = Arc<RwLock<Index>>;

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

/// Filters of `/api/models`.
#[derive(Debug, Deserialize)]
struct ModelQuery {
    owner: Option<String>,
    parent: Option<String>,
    tag: Option<String>,
}

async fn models(State(index): State<Shared>, Query(q): Query<ModelQuery>) -> Response {
    let owner = match q.owner.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<Address>() {
            Ok(a) => Some(a),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("owner: not an address: {s}"),
                )
            }
        },
    };
    let parent = match q.parent.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match s.parse::<u64>() {
            Ok(p) => Some(U256::from(p)),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("parent: not a version id: {s}"),
                )
            }
        },
    };
    let tag = match q.tag.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match label_word(s) {
            Some(t) => Some(t),
            None => return error(StatusCode::BAD_REQUEST, "tag: longer than 32 bytes".into()),
        },
    };
    Json(index.read().await.models(owner, parent, tag)).into_response()
}

async fn version(State(index): State<Shared>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, format!("not a version id: {id}"));
    };
    match index.read().await.version(U256::from(id)) {
        Some(v) => Json(v).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no version {id}")),
    }
}

async fn request(State(index): State<Shared>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<B256>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("not a request id (0x + 64 hex digits): {id}"),
        );
    };
    match index.read().await.request(&id) {
        Some(r) => Json(r).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no paid request {id}")),
    }
}

async fn voter(State(index): State<Shared>, Path(addr): Path<String>) -> Response {
    let Ok(addr) = addr.parse::<Address>() else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("not an address (0x + 40 hex digits): {addr}"),
        );
    };
    Json(index.read().await.voter(addr)).into_response()
}

/// The page and the API over `index`; `wallet` answers `/api/wallet`.
pub fn router(index: Arc<RwLock<Index>>, wallet: WalletInfo) -> Router {
    let wallet = Arc::new(wallet);
    Router::new()
        .route(
            "/",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
        )
        .route(
            "/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    SCRIPT,
                )
            }),
        )
        .route(
            "/wallet.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    WALLET_SCRIPT,
                )
            }),
        )
        .route(
            "/api/wallet",
            get(move || {
                let wallet = wallet.clone();
                async move { Json(wallet.as_ref().clone()) }
            }),
        )
        .route("/api/voters/{addr}", get(voter))
        .route(
            "/api/summary",
            get(|State(i): State<Shared>| async move { Json(i.read().await.summary()) }),
        )
        .route("/api/models", get(models))
        .route("/api/versions/{id}", get(version))
        .route(
            "/api/requests",
            get(
                |State(i): State<Shared>| async move { Json(i.read().await.recent_requests(LIST)) },
            ),
        )
        .route("/api/requests/{id}", get(request))
        .route(
            "/api/batches",
            get(|State(i): State<Shared>| async move { Json(i.read().await.batches(LIST)) }),
        )
        .route(
            "/api/nodes",
            get(|State(i): State<Shared>| async move { Json(i.read().await.scoreboard()) }),
        )
        .route(
            "/api/epochs",
            get(|State(i): State<Shared>| async move { Json(i.read().await.epochs()) }),
        )
        .with_state(index)
}
