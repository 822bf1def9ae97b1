//! The node's Prometheus metrics (`GET /metrics`).

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// Counters of what the node did.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Model runs (one per request id, ever).
    pub inferences: IntCounter,
    /// `/infer` answers by kind (`new`, `replayed`).
    pub answers: IntCounterVec,
    /// Refusals by code.
    pub refusals: IntCounterVec,
    /// Receipts signed.
    pub signed: IntCounter,
    /// Receipts acknowledged by the keeper's intake.
    pub receipts_posted: IntCounter,
    /// Failed deliveries (intake, `answer`, proof) by step, retried later.
    pub delivery_failures: IntCounterVec,
    /// `answer` transactions confirmed.
    pub chain_answers: IntCounter,
    /// Mode-ZK proofs accepted on chain.
    pub zk_proofs: IntCounter,
    /// Weights fetched from storage URIs, by outcome (`ok`, `mismatch`, `unreachable`, `invalid`).
    pub weight_fetches: IntCounterVec,
    /// Models held in memory.
    pub cached_models: IntGauge,
    /// Injected faults by kind (`error`, `drop_ack`).
    pub faults: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh counters in their own registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        // The names are constants and registered once each: creation and registration cannot fail.
        let counter = |name: &str, help: &str| {
            let c = IntCounter::new(name, help).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let vec = |name: &str, help: &str, label: &str| {
            let c = IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("unique metric");
            c
        };
        let cached_models =
            IntGauge::new("verity_node_cached_models", "Models held in memory").expect("valid");
        registry
            .register(Box::new(cached_models.clone()))
            .expect("unique metric");
        Self {
            inferences: counter("verity_node_inferences_total", "Model runs"),
            answers: vec("verity_node_answers_total", "Answers by kind", "kind"),
            refusals: vec("verity_node_refusals_total", "Refusals by code", "code"),
            signed: counter("verity_node_receipts_signed_total", "Receipts signed"),
            receipts_posted: counter(
                "verity_node_receipts_posted_total",
                "Receipts acknowledged by the keeper",
            ),
            delivery_failures: vec(
                "verity_node_delivery_failures_total",
                "Failed deliveries by step",
                "step",
            ),
            chain_answers: counter("verity_node_chain_answers_total", "answer transactions"),
            zk_proofs: counter("verity_node_zk_proofs_total", "Mode-ZK proofs accepted"),
            weight_fetches: vec(
                "verity_node_weight_fetches_total",
                "Weights fetches by outcome",
                "outcome",
            ),
            faults: vec(
                "verity_node_faults_total",
                "Injected faults by kind",
                "kind",
            ),
            cached_models,
            registry,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}
