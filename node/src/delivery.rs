//! Delivery of stored answers, until each step is acknowledged (persist first, then deliver; a restart resumes):
//! the signed receipt to the keeper's intake (`POST /receipts`), `answer(requestId, outputHash)` for a paid
//! request, and for a mode-ZK request the Groth16 proof of the very inference (`proveWithReceipt`).
//!
//! The keeper's `201`/`200` acknowledge a receipt; any other `4xx` is final (logged, counted under
//! `intake_refused`, not retried: the keeper judged the receipt and will judge it the same way again); `5xx` and
//! connection errors are retried on the next pass.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Bytes;
use alloy::transports::http::reqwest;
use tracing::{info, warn};
use verity_abi::settlement::decode_signed_receipt;
use verity_zk::evm::proof_bytes;

use crate::service::Node;
use crate::store::{Answer, Flag};

/// Rows looked at per pass.
const BATCH: i64 = 256;

/// The delivery loop.
#[derive(Debug, Clone)]
pub struct Delivery {
    node: Arc<Node>,
    keeper_url: Option<String>,
    client: reqwest::Client,
    retry: Duration,
}

impl Delivery {
    /// Delivers `node`'s answers, posting receipts to `keeper_url`, retrying every `retry`.
    pub fn new(node: Arc<Node>, keeper_url: Option<String>, retry: Duration) -> Self {
        Self {
            node,
            keeper_url: keeper_url.map(|u| u.trim_end_matches('/').to_string()),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
            retry,
        }
    }

    /// Runs passes until `shutdown` resolves: at once when an answer is stored, else every `retry`.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            self.pass().await;
            tokio::select! {
                () = &mut shutdown => return,
                () = self.node.wake.notified() => {}
                () = tokio::time::sleep(self.retry) => {}
            }
        }
    }

    /// One pass over the pending answers; returns how many still have work left.
    pub async fn pass(&self) -> usize {
        let pending = match self.node.store().pending(BATCH).await {
            Ok(p) => p,
            Err(e) => {
                warn!(target: "node::delivery", %e, "reading pending answers");
                return 0;
            }
        };
        let mut left = 0;
        for a in pending {
            if !self.deliver(&a).await {
                left += 1;
            }
        }
        left
    }

    fn failed(&self, step: &str) {
        self.node
            .metrics()
            .delivery_failures
            .with_label_values(&[step])
            .inc();
    }

    async fn mark(&self, a: &Answer, flag: Flag) -> bool {
        match self.node.store().mark(a.request_id, flag).await {
            Ok(()) => true,
            Err(e) => {
                warn!(target: "node::delivery", request = %a.request_id, %e, "marking delivered");
                false
            }
        }
    }

    /// Every step of `a` still to do; whether all are done.
    async fn deliver(&self, a: &Answer) -> bool {
        let mut done = true;
        if !a.posted {
            done &= match self.post(a).await {
                Ok(()) => {
                    self.node.metrics().receipts_posted.inc();
                    self.mark(a, Flag::Posted).await
                }
                Err(Final(why)) => {
                    warn!(target: "node::delivery", request = %a.request_id, %why, "the keeper refused a receipt");
                    self.failed("intake_refused");
                    self.mark(a, Flag::Posted).await
                }
                Err(Retry(why)) => {
                    warn!(target: "node::delivery", request = %a.request_id, %why, "posting a receipt");
                    self.failed("intake");
                    false
                }
            };
        }
        let Some(signed) = decode_signed_receipt(&a.signed) else {
            warn!(target: "node::delivery", request = %a.request_id, "stored receipt does not decode");
            return done;
        };
        if !a.answered {
            match self
                .node
                .chain()
                .answer(a.request_id, signed.receipt.outputHash)
                .await
            {
                Ok(()) => {
                    info!(target: "node::delivery", request = %a.request_id, "answered on chain");
                    self.node.metrics().chain_answers.inc();
                    done &= self.mark(a, Flag::Answered).await;
                }
                Err(e) => {
                    warn!(target: "node::delivery", request = %a.request_id, %e, "answer");
                    self.failed("answer");
                    return false;
                }
            }
        }
        if !a.proven {
            match self.prove(a).await {
                Ok(()) => {
                    info!(target: "node::delivery", request = %a.request_id, "mode-ZK proof accepted");
                    self.node.metrics().zk_proofs.inc();
                    done &= self.mark(a, Flag::Proven).await;
                }
                Err(why) => {
                    warn!(target: "node::delivery", request = %a.request_id, %why, "proving");
                    self.failed("prove");
                    done = false;
                }
            }
        }
        done
    }

    async fn post(&self, a: &Answer) -> Result<(), PostError> {
        let Some(url) = &self.keeper_url else {
            return Ok(());
        };
        let res = self
            .client
            .post(format!("{url}/receipts"))
            .json(&serde_json::json!({ "signed": Bytes::from(a.signed.clone()).to_string() }))
            .send()
            .await
            .map_err(|e| Retry(e.to_string()))?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        let body = res.text().await.unwrap_or_default();
        if status.is_client_error() {
            Err(Final(format!("{status}: {body}")))
        } else {
            Err(Retry(format!("{status}: {body}")))
        }
    }

    /// Proves `a`'s inference with the node's key for the model's shape and submits the proof.
    async fn prove(&self, a: &Answer) -> Result<(), String> {
        let node = &self.node;
        let now = node.chain().now().await.map_err(|e| e.to_string())?;
        let model = node
            .usable_model(a.model_version, now)
            .await
            .map_err(|e| e.to_string())?;
        let key = node
            .zk_key(model.shape())
            .ok_or("no proving key for the model's shape")?;
        let input = a.input.clone();
        let proven = tokio::task::spawn_blocking(move || {
            let mut rng = verity_zk::rand::rngs::OsRng;
            verity_zk::snark::prove(&key, &model, &input, &mut rng)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if proven.output != a.output {
            return Err("the circuit's output differs from the stored answer".into());
        }
        node.chain()
            .prove_with_receipt(
                a.request_id,
                a.signed.clone().into(),
                proof_bytes(&proven.proof).to_vec().into(),
            )
            .await
            .map_err(|e| e.to_string())
    }
}

/// Why a post failed.
enum PostError {
    /// Try again later.
    Retry(String),
    /// The keeper refused it for good.
    Final(String),
}
use PostError::{Final, Retry};
