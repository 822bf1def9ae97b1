//! The receipts' HTTP routes (merged into [`crate::http`]'s router):
//!
//! - `POST /receipts` — body: `{"signed": "0x…"}` (JSON), the hex text of the 384-byte flat encoding, or the 384
//!   raw bytes. `201` persisted now, `200` the same receipt was already persisted, `400` malformed, `409` another
//!   receipt holds the request id, `422` invalid (`reason`: `BadSignature`, `KeyNotApproved`, `BadTime`,
//!   `ModelNotUsable`, `BadFields`, `Future`, `TooOld`), `503` nothing persisted (retry).
//! - `GET /receipts/<requestId>` — the off-chain status (`Answered` / `Anchored` / `Final` / `Voided` /
//!   `Expired`), the batch (on-chain id, root, anchoring time, data URI) and the Merkle proof: with the signed
//!   bytes, exactly the arguments of `InferenceSettlement.proveByBatch(batchId, signed, proof)` and
//!   `ReceiptBatches.receiptStatus(batchId, signed, proof)`.
//! - `GET /batches/<root>` — a batch's leaves as published for anyone to check (the anchor's data URI points here):
//!   the 384-byte flat encodings concatenated, in the tree's leaf order, `application/octet-stream`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy::hex;
use alloy::primitives::B256;
use alloy::providers::Provider;
use axum::body::Bytes as Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use verity_abi::settlement::{StandardMerkleTree, SIGNED_RECEIPT_LEN};

use super::intake::{Intake, Rejected};
use super::judge::reason_name;
use super::store::{BatchRow, BatchStatus, ReceiptState, ReceiptStore};
use crate::store::StoreError;

/// Trees kept in memory for proofs (a tree of 150,000 leaves is ≈ 9.6 MB).
const TREE_CACHE: usize = 8;

/// Merkle trees of batches by local id (a batch's leaves never change), a few at a time.
#[derive(Debug, Default)]
pub struct TreeCache(Mutex<HashMap<i64, Arc<StandardMerkleTree>>>);

impl TreeCache {
    /// The tree of local batch `id`, built from the store on a miss.
    ///
    /// # Errors
    /// The store failed; [`StoreError::Corrupt`] for a batch without leaves.
    pub async fn tree<S: ReceiptStore>(
        &self,
        store: &S,
        id: i64,
    ) -> Result<Arc<StandardMerkleTree>, StoreError> {
        if let Some(t) = self.lock().get(&id) {
            return Ok(t.clone());
        }
        let leaves: Vec<B256> = store.leaves(id).await?.iter().map(|l| l.leaf).collect();
        let tree = Arc::new(StandardMerkleTree::new(&leaves).ok_or(StoreError::Corrupt {
            what: "batch_leaves (empty batch)",
        })?);
        let mut cache = self.lock();
        if cache.len() >= TREE_CACHE {
            cache.clear();
        }
        cache.insert(id, tree.clone());
        Ok(tree)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<StandardMerkleTree>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the routes share.
pub struct Api<S, P> {
    store: S,
    intake: Arc<Intake<P>>,
    trees: TreeCache,
}

impl<S, P> std::fmt::Debug for Api<S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("intake", &self.intake)
            .finish_non_exhaustive()
    }
}

impl<S, P> Api<S, P> {
    /// The routes' state.
    pub fn new(store: S, intake: Arc<Intake<P>>) -> Self {
        Self {
            store,
            intake,
            trees: TreeCache::default(),
        }
    }
}

/// The receipts' routes, ready to merge.
pub fn router<S, P>(api: Arc<Api<S, P>>) -> Router
where
    S: ReceiptStore + Clone,
    P: Provider + Clone + 'static,
{
    Router::new()
        .route("/receipts", post(post_receipt::<S, P>))
        .route("/receipts/{id}", get(get_receipt::<S, P>))
        .route("/batches/{root}", get(get_batch::<S, P>))
        .with_state(api)
}

fn error(status: StatusCode, error: &str, detail: String) -> Response {
    (status, Json(json!({ "error": error, "detail": detail }))).into_response()
}

/// The signed bytes of a request body (JSON `{"signed": "0x…"}`, hex text, or raw bytes).
fn body_bytes(body: &[u8]) -> Result<Vec<u8>, &'static str> {
    if body.len() == SIGNED_RECEIPT_LEN {
        return Ok(body.to_vec());
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| "body is neither 384 bytes, hex nor JSON")?
        .trim();
    let hex_text = if text.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|_| "body is not valid JSON")?;
        match v.get("signed").and_then(|s| s.as_str()) {
            Some(s) => s.to_string(),
            None => return Err("JSON body needs a \"signed\" hex string"),
        }
    } else {
        text.to_string()
    };
    hex::decode(hex_text.trim()).map_err(|_| "signed receipt is not hex")
}

async fn post_receipt<S, P>(State(api): State<Arc<Api<S, P>>>, body: Body) -> Response
where
    S: ReceiptStore + Clone,
    P: Provider + Clone + 'static,
{
    let bytes = match body_bytes(&body) {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, "malformed", e.to_string()),
    };
    match api.intake.submit(&bytes).await {
        Ok(a) => {
            let status = if a.new {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (
                status,
                Json(json!({ "requestId": a.request_id, "leaf": a.leaf, "status": "Answered" })),
            )
                .into_response()
        }
        Err(e) => {
            let detail = e.to_string();
            match e {
                Rejected::Malformed(_) => error(StatusCode::BAD_REQUEST, "malformed", detail),
                Rejected::Invalid(code) => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({ "error": "invalid", "reason": reason_name(code), "detail": detail })),
                )
                    .into_response(),
                Rejected::Future { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({ "error": "invalid", "reason": "Future", "detail": detail })),
                )
                    .into_response(),
                Rejected::TooOld { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({ "error": "invalid", "reason": "TooOld", "detail": detail })),
                )
                    .into_response(),
                Rejected::Conflict(_) => error(StatusCode::CONFLICT, "conflict", detail),
                Rejected::Unavailable(_) => error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail),
            }
        }
    }
}

fn parse_b256(text: &str) -> Option<B256> {
    text.parse::<B256>().ok()
}

fn batch_json(b: &BatchRow) -> serde_json::Value {
    json!({
        "id": b.chain_batch,
        "root": b.root,
        "status": b.status.name(),
        "anchoredAt": b.anchored_at,
        "dataUri": b.data_uri,
        "submitter": b.submitter,
        "count": b.count,
    })
}

async fn get_receipt<S, P>(State(api): State<Arc<Api<S, P>>>, Path(id): Path<String>) -> Response
where
    S: ReceiptStore + Clone,
    P: Provider + Clone + 'static,
{
    let Some(request_id) = parse_b256(&id) else {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed",
            "request id is not 32 hex bytes".into(),
        );
    };
    let unavailable = |e: StoreError| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        )
    };
    let receipt = match api.store.receipt(request_id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return error(
                StatusCode::NOT_FOUND,
                "unknown",
                format!("no receipt for {request_id}"),
            )
        }
        Err(e) => return unavailable(e),
    };
    // The batch that includes this receipt: its own, or (excluded as a duplicate) another batch with the same leaf.
    let batch = match (receipt.state, receipt.batch_id) {
        (ReceiptState::Batched, Some(id)) => api.store.batch(id).await,
        (ReceiptState::Excluded, _) => api.store.inclusion_of(receipt.leaf).await,
        _ => Ok(None),
    };
    let batch = match batch {
        Ok(b) => b,
        Err(e) => return unavailable(e),
    };
    let status = match (receipt.state, batch.as_ref().map(|b| b.status)) {
        (ReceiptState::Expired, _) => "Expired",
        (_, Some(BatchStatus::Anchored)) => "Anchored",
        (_, Some(BatchStatus::Final)) => "Final",
        (ReceiptState::Excluded, _) | (_, Some(BatchStatus::Voided)) => "Voided",
        _ => "Answered",
    };
    let proof = match &batch {
        Some(b) if matches!(b.status, BatchStatus::Anchored | BatchStatus::Final) => {
            match api.trees.tree(&api.store, b.id).await {
                Ok(tree) => tree.proof(receipt.leaf),
                Err(e) => return unavailable(e),
            }
        }
        _ => None,
    };
    let shown = batch
        .as_ref()
        .filter(|b| matches!(b.status, BatchStatus::Anchored | BatchStatus::Final));
    Json(json!({
        "requestId": receipt.request_id,
        "status": status,
        "leaf": receipt.leaf,
        "signed": receipt.signed,
        "signedAt": receipt.signed_at,
        "batch": shown.map(batch_json),
        "proof": proof,
        "excluded": (receipt.state == ReceiptState::Excluded).then(|| reason_name(receipt.note.unwrap_or(0))),
    }))
    .into_response()
}

async fn get_batch<S, P>(State(api): State<Arc<Api<S, P>>>, Path(root): Path<String>) -> Response
where
    S: ReceiptStore + Clone,
    P: Provider + Clone + 'static,
{
    let Some(root) = parse_b256(&root) else {
        return error(
            StatusCode::BAD_REQUEST,
            "malformed",
            "root is not 32 hex bytes".into(),
        );
    };
    let batches = match api.store.batches_by_root(root).await {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            )
        }
    };
    // Ours first; a batch whose leaves we hold.
    let mut chosen = None;
    for b in batches
        .iter()
        .filter(|b| b.ours)
        .chain(batches.iter().filter(|b| !b.ours))
    {
        match api.store.leaves(b.id).await {
            Ok(l) if !l.is_empty() => {
                chosen = Some(l);
                break;
            }
            Ok(_) => continue,
            Err(e) => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    e.to_string(),
                )
            }
        }
    }
    let Some(mut leaves) = chosen else {
        return error(
            StatusCode::NOT_FOUND,
            "unknown",
            format!("no leaves for root {root}"),
        );
    };
    leaves.sort_by_key(|l| l.leaf);
    let mut out = Vec::with_capacity(leaves.len() * SIGNED_RECEIPT_LEN);
    for l in &leaves {
        out.extend_from_slice(&l.signed);
    }
    ([(header::CONTENT_TYPE, "application/octet-stream")], out).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_in_three_shapes() {
        let raw = vec![7u8; SIGNED_RECEIPT_LEN];
        let hex_text = hex::encode_prefixed(&raw);
        assert_eq!(body_bytes(&raw).unwrap(), raw);
        assert_eq!(body_bytes(hex_text.as_bytes()).unwrap(), raw);
        let json = format!("{{\"signed\": \"{hex_text}\"}}");
        assert_eq!(body_bytes(json.as_bytes()).unwrap(), raw);
        assert!(body_bytes(b"{\"other\": 1}").is_err());
        assert!(body_bytes(b"zz").is_err());
    }
}
