//! Client routing reports: what inference clients saw when they routed requests to nodes — per node, requests it
//! answered for the client, attempts, retries and failures. The keeper cannot check a client's report, so it
//! accepts them only when started with `--accept-routing-reports` (`verity dev` does) and the status page labels
//! the table as client-reported.
//!
//! - `POST /api/routing` — a client's latest totals (replaces that client's previous report); `403` when
//!   reports are not accepted, `400` with a one-line error for a malformed or oversized report.
//! - `GET /api/routing` — the totals over every client's latest report, per node, with each node's share of the
//!   requests answered.
//!
//! Held in memory (a status page aid, not keeper state): at most [`MAX_CLIENTS`] clients of at most
//! [`MAX_NODES`] nodes each; a new client beyond the limit is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::primitives::Address;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

/// Clients whose reports are kept.
pub const MAX_CLIENTS: usize = 64;
/// Nodes per report.
pub const MAX_NODES: usize = 256;
/// Longest client label, in bytes.
pub const MAX_LABEL: usize = 64;

/// What one client saw of one node (running totals).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRouting {
    /// The node (its SettlementNodes address).
    pub node: Address,
    /// Requests the node answered for the client.
    pub answered: u64,
    /// Attempts sent to it (first tries and retries).
    pub attempts: u64,
    /// Of which retries under the same request id.
    pub retries: u64,
    /// Attempts that failed (timeouts, `5xx`).
    pub failures: u64,
}

/// One client's report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingReport {
    /// The client's label (unique per client; its next report replaces this one).
    pub client: String,
    /// Per node.
    pub nodes: Vec<NodeRouting>,
}

/// One node's row of `GET /api/routing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingRow {
    /// The totals over every client's latest report.
    #[serde(flatten)]
    pub totals: NodeRouting,
    /// Its share of all answered requests (0..=1).
    pub share: f64,
}

/// `GET /api/routing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingView {
    /// Whether this keeper accepts reports.
    pub accepting: bool,
    /// Clients that reported.
    pub clients: usize,
    /// Per node, most answered first.
    pub nodes: Vec<RoutingRow>,
}

/// Why a report is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The keeper was not started with `--accept-routing-reports`.
    #[error(
        "this keeper does not accept routing reports (start it with --accept-routing-reports)"
    )]
    NotAccepting,
    /// Empty or over-long label.
    #[error("client label must be 1..={MAX_LABEL} bytes")]
    Label,
    /// Too many nodes in one report.
    #[error("a report names at most {MAX_NODES} nodes")]
    TooManyNodes,
    /// A node listed twice.
    #[error("node {0} is listed twice")]
    Duplicate(Address),
    /// Counts that cannot be: retries or failures above attempts.
    #[error("node {0}: retries and failures cannot exceed attempts")]
    Inconsistent(Address),
    /// [`MAX_CLIENTS`] other clients already reported.
    #[error("{MAX_CLIENTS} clients already report; no room for another")]
    TooManyClients,
}

/// The latest report of each client.
#[derive(Debug, Default)]
pub struct Routing {
    accepting: bool,
    reports: BTreeMap<String, Vec<NodeRouting>>,
}

impl Routing {
    /// An empty board; `accepting` = `--accept-routing-reports`.
    pub fn new(accepting: bool) -> Self {
        Self {
            accepting,
            reports: BTreeMap::new(),
        }
    }

    /// Checks `report` and keeps it as its client's latest.
    ///
    /// # Errors
    /// [`ReportError`] — nothing is kept.
    pub fn accept(&mut self, report: RoutingReport) -> Result<(), ReportError> {
        if !self.accepting {
            return Err(ReportError::NotAccepting);
        }
        if report.client.is_empty() || report.client.len() > MAX_LABEL {
            return Err(ReportError::Label);
        }
        if report.nodes.len() > MAX_NODES {
            return Err(ReportError::TooManyNodes);
        }
        let mut seen = std::collections::BTreeSet::new();
        for n in &report.nodes {
            if !seen.insert(n.node) {
                return Err(ReportError::Duplicate(n.node));
            }
            if n.retries > n.attempts || n.failures > n.attempts {
                return Err(ReportError::Inconsistent(n.node));
            }
        }
        if !self.reports.contains_key(&report.client) && self.reports.len() >= MAX_CLIENTS {
            return Err(ReportError::TooManyClients);
        }
        self.reports.insert(report.client, report.nodes);
        Ok(())
    }

    /// Totals per node over every client's latest report, most answered first (ties by address).
    pub fn view(&self) -> RoutingView {
        let mut totals: BTreeMap<Address, NodeRouting> = BTreeMap::new();
        for n in self.reports.values().flatten() {
            let t = totals.entry(n.node).or_insert_with(|| NodeRouting {
                node: n.node,
                ..NodeRouting::default()
            });
            t.answered = t.answered.saturating_add(n.answered);
            t.attempts = t.attempts.saturating_add(n.attempts);
            t.retries = t.retries.saturating_add(n.retries);
            t.failures = t.failures.saturating_add(n.failures);
        }
        let answered: u64 = totals.values().map(|t| t.answered).sum();
        let mut nodes: Vec<RoutingRow> = totals
            .into_values()
            .map(|totals| RoutingRow {
                share: if answered == 0 {
                    0.0
                } else {
                    totals.answered as f64 / answered as f64
                },
                totals,
            })
            .collect();
        nodes.sort_by(|a, b| {
            b.totals
                .answered
                .cmp(&a.totals.answered)
                .then(a.totals.node.cmp(&b.totals.node))
        });
        RoutingView {
            accepting: self.accepting,
            clients: self.reports.len(),
            nodes,
        }
    }
}

type Shared = Arc<RwLock<Routing>>;

async fn post(State(routing): State<Shared>, body: axum::body::Bytes) -> Response {
    let report: RoutingReport = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({ "error": format!("not a routing report: {e}") })),
            )
                .into_response()
        }
    };
    match routing.write().await.accept(report) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let status = match e {
                ReportError::NotAccepting => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, Json(serde_json::json!({ "error": e.to_string() }))).into_response()
        }
    }
}

/// `GET`/`POST /api/routing` over a board that accepts reports when `accepting`.
pub fn router(accepting: bool) -> Router {
    let routing: Shared = Arc::new(RwLock::new(Routing::new(accepting)));
    Router::new()
        .route(
            "/api/routing",
            get(|State(r): State<Shared>| async move { Json(r.read().await.view()) }).post(post),
        )
        .with_state(routing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(node: u8, answered: u64, attempts: u64, retries: u64, failures: u64) -> NodeRouting {
        NodeRouting {
            node: Address::repeat_byte(node),
            answered,
            attempts,
            retries,
            failures,
        }
    }

    #[test]
    fn latest_report_per_client_is_summed_into_shares() {
        let mut board = Routing::new(true);
        let report = |client: &str, nodes| RoutingReport {
            client: client.into(),
            nodes,
        };
        board.accept(report("a", vec![row(1, 1, 1, 0, 0)])).unwrap();
        // The client's next report replaces its first.
        board
            .accept(report("a", vec![row(1, 6, 8, 1, 2), row(2, 1, 3, 2, 2)]))
            .unwrap();
        board.accept(report("b", vec![row(2, 1, 1, 0, 0)])).unwrap();
        let view = board.view();
        assert_eq!(view.clients, 2);
        assert_eq!(view.nodes.len(), 2);
        assert_eq!(view.nodes[0].totals, row(1, 6, 8, 1, 2));
        assert_eq!(view.nodes[1].totals, row(2, 2, 4, 2, 2));
        assert!((view.nodes[0].share - 0.75).abs() < 1e-9);
        assert!((view.nodes[1].share - 0.25).abs() < 1e-9);
    }

    #[test]
    fn bad_reports_are_refused_and_nothing_is_kept() {
        let mut closed = Routing::new(false);
        let ok = RoutingReport {
            client: "c".into(),
            nodes: vec![row(1, 1, 1, 0, 0)],
        };
        assert_eq!(closed.accept(ok.clone()), Err(ReportError::NotAccepting));
        let mut board = Routing::new(true);
        let bad = |client: &str, nodes| RoutingReport {
            client: client.into(),
            nodes,
        };
        assert_eq!(board.accept(bad("", vec![])), Err(ReportError::Label));
        assert_eq!(
            board.accept(bad("c", vec![row(1, 1, 1, 0, 0), row(1, 1, 1, 0, 0)])),
            Err(ReportError::Duplicate(Address::repeat_byte(1)))
        );
        assert_eq!(
            board.accept(bad("c", vec![row(1, 1, 1, 2, 0)])),
            Err(ReportError::Inconsistent(Address::repeat_byte(1)))
        );
        for i in 0..MAX_CLIENTS {
            board.accept(bad(&format!("c{i}"), vec![])).unwrap();
        }
        assert_eq!(
            board.accept(bad("one more", vec![])),
            Err(ReportError::TooManyClients)
        );
        assert_eq!(board.view().clients, MAX_CLIENTS);
        assert!(board.view().nodes.is_empty());
    }
}
