//! `/infer`'s decision: refuse (nothing signed), replay the stored answer of a request id, or run the model once,
//! sign the receipt, store it and hand its delivery to [`crate::delivery`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use verity_abi::registry::{Format, Status};
use verity_abi::settlement::{
    decode_signed_receipt, encode_signed_receipt, mode, request_status, Receipt,
};
use verity_zk::field::word_of;
use verity_zk::model::{input_hash, output_hash, Model, Shape};
use verity_zk::snark::ShapedProvingKey;

use crate::api::{InferRequest, InferResponse, NodeInfo};
use crate::chain::{Chain, ChainError};
use crate::error::{NodeError, Refusal};
use crate::fault::Dice;
use crate::metrics::Metrics;
use crate::store::{Answer, Store};
use crate::weights::{Source, Weights};

impl From<ChainError> for NodeError {
    fn from(e: ChainError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

/// Everything a node is made of (wired by [`crate::run`] or a test).
#[derive(Debug)]
pub struct Parts {
    /// The chain, as the node's account.
    pub chain: Chain,
    /// The TEE signing key (a stand-in: see the crate docs).
    pub signing_key: PrivateKeySigner,
    /// The answers' store.
    pub store: Store,
    /// The weights cache.
    pub weights: Weights,
    /// Metrics.
    pub metrics: Metrics,
    /// Injected faults.
    pub dice: Dice,
    /// Groth16 proving keys by model shape (mode ZK).
    pub zk_keys: HashMap<Shape, Arc<ShapedProvingKey>>,
    /// Whether receipts go to a keeper (otherwise they are stored as delivered).
    pub has_keeper: bool,
    /// The signed endpoint declaration.
    pub info: NodeInfo,
}

/// The node.
#[derive(Debug)]
pub struct Node {
    parts: Parts,
    locks: Mutex<HashMap<B256, Weak<tokio::sync::Mutex<()>>>>,
    /// Wakes the delivery loop.
    pub wake: tokio::sync::Notify,
}

/// A random request id (32 bytes from the OS's generator, through the signer's key generation).
pub fn random_id() -> B256 {
    PrivateKeySigner::random().to_bytes()
}

fn to_i8(values: &[i64]) -> Result<Vec<i8>, Refusal> {
    values
        .iter()
        .enumerate()
        .map(|(index, &value)| {
            i8::try_from(value).map_err(|_| Refusal::InputRange { index, value })
        })
        .collect()
}

impl Node {
    /// A node from its parts.
    pub fn new(parts: Parts) -> Self {
        Self {
            parts,
            locks: Mutex::default(),
            wake: tokio::sync::Notify::new(),
        }
    }

    /// The chain.
    pub fn chain(&self) -> &Chain {
        &self.parts.chain
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.parts.store
    }

    /// Metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.parts.metrics
    }

    /// The signed endpoint declaration.
    pub fn info(&self) -> &NodeInfo {
        &self.parts.info
    }

    /// Whether receipts are posted to a keeper.
    pub fn has_keeper(&self) -> bool {
        self.parts.has_keeper
    }

    /// The proving key for `shape`, if the node holds one.
    pub fn zk_key(&self, shape: Shape) -> Option<Arc<ShapedProvingKey>> {
        self.parts.zk_keys.get(&shape).cloned()
    }

    /// The lock of one request id (dropped with its last holder).
    fn lock(&self, id: B256) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.retain(|_, l| l.strong_count() > 0);
        if let Some(l) = locks.get(&id).and_then(Weak::upgrade) {
            return l;
        }
        let l = Arc::new(tokio::sync::Mutex::new(()));
        locks.insert(id, Arc::downgrade(&l));
        l
    }

    /// Answers `request` (see the module docs).
    ///
    /// # Errors
    /// [`NodeError::Refused`] (nothing signed), [`NodeError::Unavailable`], [`NodeError::Fault`].
    pub async fn infer(&self, request: InferRequest) -> Result<InferResponse, NodeError> {
        let metrics = &self.parts.metrics;
        if self.parts.dice.error() {
            metrics.faults.with_label_values(&["error"]).inc();
            return Err(NodeError::Fault("error before any work"));
        }
        let latency = self.parts.dice.fault().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let result = self.infer_once(request).await;
        if let Err(NodeError::Refused(r)) = &result {
            metrics.refusals.with_label_values(&[r.code()]).inc();
        }
        let response = result?;
        if !response.replayed && self.parts.dice.drop_ack() {
            metrics.faults.with_label_values(&["drop_ack"]).inc();
            return Err(NodeError::Fault(
                "acknowledgement dropped after the answer was stored",
            ));
        }
        Ok(response)
    }

    async fn infer_once(&self, request: InferRequest) -> Result<InferResponse, NodeError> {
        let input = to_i8(&request.input)?;
        let id = request.request_id.unwrap_or_else(random_id);
        let lock = self.lock(id);
        let _one = lock.lock().await;
        if let Some(stored) = self.parts.store.get(id).await? {
            if stored.model_version != request.model_version || stored.input != input {
                return Err(Refusal::Conflict(id).into());
            }
            self.parts
                .metrics
                .answers
                .with_label_values(&["replayed"])
                .inc();
            return response(&stored, true);
        }
        let answer = self.run(id, request.model_version, input).await?;
        self.parts.store.insert(&answer).await?;
        self.wake.notify_one();
        self.parts.metrics.answers.with_label_values(&["new"]).inc();
        response(&answer, false)
    }

    /// The model of registered, usable version `version` (checked at chain time `now`).
    ///
    /// # Errors
    /// The refusals of an unusable or foreign version, a bad file; transient failures.
    pub async fn usable_model(&self, version: U256, now: u64) -> Result<Arc<Model>, NodeError> {
        let chain = &self.parts.chain;
        let Some(info) = chain.version(version).await? else {
            return Err(Refusal::Unregistered {
                version,
                status: "unknown version",
            }
            .into());
        };
        let status = Status::try_from(info.status).ok();
        let name = status.map_or("unknown", status_name);
        match status {
            Some(Status::Registered) => {}
            Some(Status::Yanked) => return Err(Refusal::Yanked(version).into()),
            Some(Status::Submitted | Status::Stored) => {
                return Err(Refusal::NotYetUsable {
                    version,
                    status: name,
                }
                .into())
            }
            _ => {
                return Err(Refusal::Unregistered {
                    version,
                    status: name,
                }
                .into())
            }
        }
        if info.format != Format::VerityZk.code() {
            return Err(Refusal::UnsupportedRuntime {
                version,
                format: info.format,
            }
            .into());
        }
        if !chain.usable_at(version, now).await? {
            return Err(Refusal::NotYetUsable {
                version,
                status: name,
            }
            .into());
        }
        let uri = chain.storage_uri(version).await?.ok_or_else(|| {
            NodeError::Unavailable(format!(
                "no VersionSubmitted event for version {version} (--start-block?)"
            ))
        })?;
        self.parts
            .weights
            .load(&Source {
                version,
                content_hash: info.contentHash,
                size: info.size,
                uri,
            })
            .await
    }

    /// Checks everything, runs the model once and signs the receipt.
    async fn run(&self, id: B256, version: U256, input: Vec<i8>) -> Result<Answer, NodeError> {
        let chain = &self.parts.chain;
        let now = chain.now().await?;
        let model = self.usable_model(version, now).await?;
        let (expected, _, _) = model.shape().dims();
        if input.len() != expected {
            return Err(Refusal::InputLength {
                expected,
                got: input.len(),
            }
            .into());
        }
        let in_hash = word_of(input_hash(&input));
        let paid = chain.request(id).await?;
        if let Some(p) = &paid {
            let mismatch = |what| Refusal::RequestMismatch {
                request_id: id,
                what,
            };
            if p.node != chain.node {
                return Err(mismatch("addressed to another node").into());
            }
            if p.model_version != version {
                return Err(mismatch("paid for another model version").into());
            }
            if p.input_hash != in_hash {
                return Err(mismatch("the payer committed to another input").into());
            }
            if p.status != request_status::REQUESTED {
                return Err(mismatch("no longer open").into());
            }
            if now > p.deadline {
                return Err(mismatch("past its deadline").into());
            }
        }
        let output = model.infer(&input).map_err(|_| Refusal::InputLength {
            expected,
            got: input.len(),
        })?;
        self.parts.metrics.inferences.inc();
        let receipt = Receipt {
            requestId: id,
            modelVersion: version,
            inputHash: in_hash,
            outputHash: word_of(output_hash(&output)),
            payer: paid.as_ref().map_or(Address::ZERO, |p| p.payer),
            node: chain.node,
            fee: paid.as_ref().map_or(U256::ZERO, |p| p.fee),
            mode: paid.as_ref().map_or(mode::TEE, |p| p.mode),
            signedAt: now,
        };
        let signed = self.sign(&receipt)?;
        self.parts.metrics.signed.inc();
        let zk = receipt.mode == mode::ZK && self.zk_key(model.shape()).is_some();
        Ok(Answer {
            request_id: id,
            model_version: version,
            input,
            output,
            signed: signed.to_vec(),
            paid: paid.is_some(),
            mode: receipt.mode,
            posted: !self.parts.has_keeper,
            answered: paid.is_none(),
            proven: !(paid.is_some() && zk),
        })
    }

    fn sign(&self, receipt: &Receipt) -> Result<Bytes, NodeError> {
        let chain = &self.parts.chain;
        let signed = verity_abi::rpc::signed_receipt(
            &self.parts.signing_key,
            chain.chain_id,
            chain.settlement,
            receipt.clone(),
        )
        .map_err(|e| NodeError::Unavailable(format!("signing: {e}")))?;
        Ok(encode_signed_receipt(&signed).to_vec().into())
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::None => "none",
        Status::Submitted => "submitted",
        Status::Stored => "stored",
        Status::Registered => "registered",
        Status::Rejected => "rejected",
        Status::Expired => "expired",
        Status::Yanked => "yanked",
        _ => "unknown",
    }
}

/// The wire answer of a stored row.
fn response(a: &Answer, replayed: bool) -> Result<InferResponse, NodeError> {
    let signed = decode_signed_receipt(&a.signed)
        .ok_or_else(|| NodeError::Unavailable("store: a stored receipt does not decode".into()))?;
    let r = signed.receipt;
    Ok(InferResponse {
        request_id: r.requestId,
        model_version: r.modelVersion,
        output: a.output.clone(),
        input_hash: r.inputHash,
        output_hash: r.outputHash,
        node: r.node,
        payer: r.payer,
        fee: r.fee,
        mode: r.mode,
        signed_at: r.signedAt,
        signed: a.signed.clone().into(),
        paid: a.paid,
        replayed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_outside_int8_are_refused_with_their_index() {
        assert_eq!(to_i8(&[1, -128, 127]).unwrap(), vec![1, -128, 127]);
        assert_eq!(
            to_i8(&[0, 128]),
            Err(Refusal::InputRange {
                index: 1,
                value: 128
            })
        );
        assert_eq!(
            to_i8(&[-129]),
            Err(Refusal::InputRange {
                index: 0,
                value: -129
            })
        );
    }
}
