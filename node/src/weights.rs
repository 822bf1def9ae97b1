//! Model weights: fetched from the registry's storage URI under the fetch policy ([`verity_fetch`]: scheme
//! allowlist, address checks, size cap, deadline), checked against the registered content hash
//! (`keccak256(file) == contentHash`), parsed as `VZK1`, and cached by content hash — in memory and on disk
//! (`<dir>/<contentHash>.vzk1`, re-checked on load: a file changed on disk is fetched again).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use alloy::primitives::{keccak256, B256, U256};
use verity_fetch::{FetchError, Fetcher};
use verity_zk::model::Model;

use crate::error::{NodeError, Refusal};
use crate::metrics::Metrics;

/// Where a version's weights are and what they must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The version (for error messages).
    pub version: U256,
    /// The registered content hash.
    pub content_hash: B256,
    /// The registered size in bytes (the fetch's cap).
    pub size: u64,
    /// The storage URI.
    pub uri: Vec<u8>,
}

/// The weights cache.
#[derive(Debug)]
pub struct Weights {
    dir: PathBuf,
    fetcher: Fetcher,
    memory: Mutex<HashMap<B256, Arc<Model>>>,
    /// One fetch at a time per node: concurrent misses of one hash wait for the first instead of fetching twice.
    loading: tokio::sync::Mutex<()>,
    metrics: Metrics,
}

impl Weights {
    /// A cache in `dir` fetching through `fetcher`.
    pub fn new(dir: PathBuf, fetcher: Fetcher, metrics: Metrics) -> Self {
        Self {
            dir,
            fetcher,
            memory: Mutex::default(),
            loading: tokio::sync::Mutex::new(()),
            metrics,
        }
    }

    fn cached(&self, hash: B256) -> Option<Arc<Model>> {
        self.memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&hash)
            .cloned()
    }

    fn remember(&self, hash: B256, model: Model) -> Arc<Model> {
        let model = Arc::new(model);
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        memory.insert(hash, model.clone());
        self.metrics.cached_models.set(memory.len() as i64);
        model
    }

    fn path(&self, hash: B256) -> PathBuf {
        self.dir.join(format!("{hash}.vzk1"))
    }

    /// The model of `source`, from memory, disk or its URI.
    ///
    /// # Errors
    /// [`Refusal::HashMismatch`] (the URI serves other bytes), [`Refusal::BadWeights`] (not `VZK1`),
    /// [`NodeError::Unavailable`] (the URI cannot be read now).
    pub async fn load(&self, source: &Source) -> Result<Arc<Model>, NodeError> {
        let hash = source.content_hash;
        if let Some(m) = self.cached(hash) {
            return Ok(m);
        }
        let _one = self.loading.lock().await;
        if let Some(m) = self.cached(hash) {
            return Ok(m);
        }
        let bad = |reason| Refusal::BadWeights {
            version: source.version,
            reason,
        };
        if let Ok(bytes) = tokio::fs::read(self.path(hash)).await {
            if keccak256(&bytes) == hash {
                if let Ok(model) = Model::from_bytes(&bytes) {
                    return Ok(self.remember(hash, model));
                }
            }
        }
        let bytes = match self.fetcher.bytes(&source.uri, source.size).await {
            Ok(b) => b,
            Err(e) => {
                self.metrics
                    .weight_fetches
                    .with_label_values(&["unreachable"])
                    .inc();
                return Err(match e {
                    // More bytes than registered: not the registered file.
                    FetchError::TooLarge { .. } => Refusal::HashMismatch {
                        version: source.version,
                        expected: hash,
                        got: B256::ZERO,
                    }
                    .into(),
                    other => NodeError::Unavailable(format!(
                        "weights of model version {}: {other}",
                        source.version
                    )),
                });
            }
        };
        let got = keccak256(&bytes);
        if got != hash {
            self.metrics
                .weight_fetches
                .with_label_values(&["mismatch"])
                .inc();
            return Err(Refusal::HashMismatch {
                version: source.version,
                expected: hash,
                got,
            }
            .into());
        }
        let model = Model::from_bytes(&bytes).map_err(|e| {
            self.metrics
                .weight_fetches
                .with_label_values(&["invalid"])
                .inc();
            bad(e)
        })?;
        self.metrics.weight_fetches.with_label_values(&["ok"]).inc();
        // The disk copy is a cache: failing to write it costs a refetch after a restart, nothing more.
        if tokio::fs::create_dir_all(&self.dir).await.is_ok() {
            let tmp = self.dir.join(format!("{hash}.tmp"));
            if tokio::fs::write(&tmp, &bytes).await.is_ok() {
                let _ = tokio::fs::rename(&tmp, self.path(hash)).await;
            }
        }
        Ok(self.remember(hash, model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use verity_fetch::FetchPolicy;

    fn weights(dir: &std::path::Path) -> Weights {
        let fetcher = Fetcher::new(FetchPolicy {
            allow_file: true,
            allow_private: true,
            ..FetchPolicy::default()
        })
        .unwrap();
        Weights::new(dir.join("cache"), fetcher, Metrics::new())
    }

    #[tokio::test]
    async fn fetches_checks_and_caches_by_content_hash() {
        let dir = tempfile::tempdir().unwrap();
        let model = Model::example(4, 8, 3, 1);
        let file = dir.path().join("m.vzk");
        std::fs::write(&file, model.to_bytes()).unwrap();
        let source = Source {
            version: U256::from(1),
            content_hash: model.content_hash(),
            size: model.to_bytes().len() as u64,
            uri: format!("file://{}", file.display()).into_bytes(),
        };
        let w = weights(dir.path());
        assert_eq!(*w.load(&source).await.unwrap(), model);
        // Cached: the URI may disappear.
        std::fs::remove_file(&file).unwrap();
        assert_eq!(*w.load(&source).await.unwrap(), model);
        // A fresh cache reads the disk copy.
        let again = weights(dir.path());
        assert_eq!(*again.load(&source).await.unwrap(), model);
        assert_eq!(
            again
                .metrics
                .weight_fetches
                .with_label_values(&["ok"])
                .get(),
            0
        );
    }

    #[tokio::test]
    async fn other_bytes_are_a_hash_mismatch_and_unparsable_weights_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let model = Model::example(4, 8, 3, 1);
        let other = Model::example(4, 8, 3, 2);
        let file = dir.path().join("m.vzk");
        std::fs::write(&file, other.to_bytes()).unwrap();
        let source = Source {
            version: U256::from(1),
            content_hash: model.content_hash(),
            size: 10_000,
            uri: format!("file://{}", file.display()).into_bytes(),
        };
        let w = weights(dir.path());
        assert!(matches!(
            w.load(&source).await,
            Err(NodeError::Refused(Refusal::HashMismatch { got, .. })) if got == other.content_hash()
        ));
        std::fs::write(&file, b"not a model").unwrap();
        let source = Source {
            content_hash: keccak256(b"not a model"),
            ..source
        };
        assert!(matches!(
            w.load(&source).await,
            Err(NodeError::Refused(Refusal::BadWeights { .. }))
        ));
        let missing = Source {
            uri: b"file:///nonexistent/verity".to_vec(),
            ..source
        };
        assert!(matches!(
            w.load(&missing).await,
            Err(NodeError::Unavailable(_))
        ));
    }
}
