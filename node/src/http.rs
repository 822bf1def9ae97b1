//! The node's HTTP API: `POST /infer`, `GET /info` (the signed endpoint declaration), `GET /health`,
//! `GET /metrics`.
//!
//! `/infer` answers `200` with [`InferResponse`]; a refusal is `422` (`409` for `conflict`) with [`ErrorBody`];
//! `503` (`unavailable`, `fault`) means retry with the same request id.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::api::{ErrorBody, InferRequest, InferResponse};
use crate::error::{NodeError, Refusal};
use crate::service::Node;

fn error(status: StatusCode, error: &str, detail: String) -> Response {
    (
        status,
        Json(ErrorBody {
            error: error.into(),
            detail,
        }),
    )
        .into_response()
}

/// The HTTP status of an error.
pub fn status_of(e: &NodeError) -> StatusCode {
    match e {
        NodeError::Refused(Refusal::Conflict(_)) => StatusCode::CONFLICT,
        NodeError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
        NodeError::Unavailable(_) | NodeError::Fault(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn infer(State(node): State<Arc<Node>>, body: Bytes) -> Response {
    let request: InferRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            node.metrics()
                .refusals
                .with_label_values(&["malformed_input"])
                .inc();
            return error(
                StatusCode::BAD_REQUEST,
                "malformed_input",
                format!("body is not {{modelVersion, input, requestId?}}: {e}"),
            );
        }
    };
    match node.infer(request).await {
        Ok(answer) => Json::<InferResponse>(answer).into_response(),
        Err(e) => error(status_of(&e), e.code(), e.to_string()),
    }
}

async fn health(State(node): State<Arc<Node>>) -> Response {
    match node.chain().node_active().await {
        Ok(active) => Json(json!({
            "status": "ok",
            "node": node.chain().node,
            "active": active,
        }))
        .into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
    }
}

/// The routes over `node`.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/infer", post(infer))
        .route(
            "/info",
            get(|State(n): State<Arc<Node>>| async move { Json(n.info().clone()) }),
        )
        .route("/health", get(health))
        .route(
            "/metrics",
            get(|State(n): State<Arc<Node>>| async move { n.metrics().render() }),
        )
        .with_state(node)
}
