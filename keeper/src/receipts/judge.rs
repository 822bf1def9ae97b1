//! The keeper's copy of SettlementNodes' `receiptFault`: the same checks in the same order (signature with low
//! `s` recovering to a registered key, the key's node and the mode, the key approved and not revoked at
//! `signedAt`, the time against the reference, the model usable at `signedAt`), computed locally so intake and
//! the challenge watcher need no `eth_call` per receipt.
//!
//! Chain reads are cached. A key's `(node, approvedAt, revokedAt)` read when the chain's clock showed `T` answers
//! exactly for every `signedAt < T`: approval and revocation are stamped with the block time of the call that made
//! them, so nothing done after the read can change validity at an earlier time. The same holds for
//! `usableAt(model, t)` (yank toggles are appended at non-decreasing block times). Entries for a `signedAt` at or
//! past their read time are re-read at most once per [`JudgeConfig::refresh`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use verity_abi::rpc::{IModelRegistry, ISettlementNodes};
use verity_abi::settlement::{mode, signing_hash, void_reason, SignedReceipt, SECP256K1_HALF_N};

use crate::jobs::JobError;

/// Addresses and cache settings of a [`Judge`].
#[derive(Debug, Clone)]
pub struct JudgeConfig {
    /// SettlementNodes.
    pub nodes: Address,
    /// Re-read a key, a model's usability or the chain's clock at most this often.
    pub refresh: Duration,
}

#[derive(Debug, Clone, Copy)]
struct KeyEntry {
    node: Address,
    approved_at: u64,
    revoked_at: u64,
    as_of: u64,
    fetched: Instant,
}

#[derive(Debug, Clone, Copy)]
struct UsableEntry {
    usable: bool,
    as_of: u64,
    fetched: Instant,
}

/// What the contracts say (the domain and registry are fixed at deployment and read once; the maximum receipt age
/// is governance's parameter and re-read, see [`Judge::max_receipt_age`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodesParams {
    /// The EIP-712 domain separator receipts are signed under.
    pub domain: B256,
    /// The ModelRegistry SettlementNodes asks `usableAt`.
    pub registry: Address,
    /// The maximum age of a receipt when anchored or proven, as read at start (use
    /// [`Judge::max_receipt_age`] for the current value).
    pub max_receipt_age: u64,
}

/// The local receipt judge with its caches.
pub struct Judge<P> {
    provider: P,
    config: JudgeConfig,
    params: NodesParams,
    keys: Mutex<HashMap<Address, KeyEntry>>,
    usable: Mutex<HashMap<(U256, u64), UsableEntry>>,
    clock: Mutex<Option<(u64, Instant)>>,
    /// SettlementNodes' `maxReceiptAge` and when it was read (governance may change it at any time).
    max_age: Mutex<(u64, Instant)>,
}

impl<P> std::fmt::Debug for Judge<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge")
            .field("config", &self.config)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The signer of a receipt's EIP-712 digest as the contract's `_recover` finds it: `v` 27/28, non-zero `r` and
/// `s`, low `s`, a non-zero recovered address; `None` otherwise.
pub fn recover(domain: B256, signed: &SignedReceipt) -> Option<Address> {
    let s = U256::from_be_bytes(signed.s.0);
    if (signed.v != 27 && signed.v != 28)
        || signed.r.is_zero()
        || s.is_zero()
        || s > SECP256K1_HALF_N
    {
        return None;
    }
    let digest = signing_hash(domain, &signed.receipt);
    let mut compact = [0u8; 64];
    compact[..32].copy_from_slice(signed.r.as_slice());
    compact[32..].copy_from_slice(signed.s.as_slice());
    let id = secp256k1::ecdsa::RecoveryId::try_from(i32::from(signed.v - 27)).ok()?;
    // r or s not below the group order, or no point for r: what the precompile answers with empty output.
    let sig = secp256k1::ecdsa::RecoverableSignature::from_compact(&compact, id).ok()?;
    let key = secp256k1::SECP256K1
        .recover_ecdsa(secp256k1::Message::from_digest(digest.0), &sig)
        .ok()?;
    let signer = Address::from_raw_public_key(&key.serialize_uncompressed()[1..]);
    (!signer.is_zero()).then_some(signer)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<P: Provider + Clone + 'static> Judge<P> {
    /// Reads SettlementNodes' domain separator, registry and maximum receipt age.
    ///
    /// # Errors
    /// The node or a contract call failed.
    pub async fn connect(provider: P, config: JudgeConfig) -> Result<Self, JobError> {
        let nodes = ISettlementNodes::new(config.nodes, &provider);
        let domain = nodes.domainSeparator().call().await?;
        let c = nodes.config().call().await?;
        let params = NodesParams {
            domain,
            registry: c._1,
            max_receipt_age: c._3,
        };
        Ok(Self {
            provider,
            config,
            params,
            keys: Mutex::new(HashMap::new()),
            usable: Mutex::new(HashMap::new()),
            clock: Mutex::new(None),
            max_age: Mutex::new((params.max_receipt_age, Instant::now())),
        })
    }

    /// The contract parameters read at start.
    pub fn params(&self) -> NodesParams {
        self.params
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// SettlementNodes' current `maxReceiptAge`, re-read at most once per refresh: governance's `setParams` takes
    /// effect in intake, batching and the watcher without a restart.
    ///
    /// # Errors
    /// The node failed.
    pub async fn max_receipt_age(&self) -> Result<u64, JobError> {
        let (age, at) = *lock(&self.max_age);
        if at.elapsed() < self.config.refresh {
            return Ok(age);
        }
        let age = ISettlementNodes::new(self.config.nodes, &self.provider)
            .config()
            .call()
            .await?
            ._3;
        *lock(&self.max_age) = (age, Instant::now());
        Ok(age)
    }

    /// The chain's clock: the latest block's timestamp, re-read at most once per refresh.
    ///
    /// # Errors
    /// The node failed.
    pub async fn chain_now(&self) -> Result<u64, JobError> {
        if let Some((t, at)) = *lock(&self.clock) {
            if at.elapsed() < self.config.refresh {
                return Ok(t);
            }
        }
        let t = crate::jobs::latest_timestamp(&self.provider).await?;
        *lock(&self.clock) = Some((t, Instant::now()));
        Ok(t)
    }

    async fn key(&self, key: Address, signed_at: u64) -> Result<KeyEntry, JobError> {
        if let Some(e) = lock(&self.keys).get(&key).copied() {
            if signed_at < e.as_of || e.fetched.elapsed() < self.config.refresh {
                return Ok(e);
            }
        }
        let as_of = self.chain_now().await?;
        let k = ISettlementNodes::new(self.config.nodes, &self.provider)
            .key(key)
            .call()
            .await?;
        let e = KeyEntry {
            node: k._0,
            approved_at: k._2,
            revoked_at: k._3,
            as_of,
            fetched: Instant::now(),
        };
        lock(&self.keys).insert(key, e);
        Ok(e)
    }

    async fn usable_at(&self, model: U256, t: u64) -> Result<bool, JobError> {
        if let Some(e) = lock(&self.usable).get(&(model, t)).copied() {
            if t < e.as_of || e.fetched.elapsed() < self.config.refresh {
                return Ok(e.usable);
            }
        }
        let as_of = self.chain_now().await?;
        let usable = IModelRegistry::new(self.params.registry, &self.provider)
            .usableAt(model, t)
            .call()
            .await?;
        let mut cache = lock(&self.usable);
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(
            (model, t),
            UsableEntry {
                usable,
                as_of,
                fetched: Instant::now(),
            },
        );
        Ok(usable)
    }

    /// Why `signed` is not a valid receipt judged at reference time `at` (a `void_reason`), or 0 — what
    /// `SettlementNodes.receiptFault(encode(signed), at)` answers.
    ///
    /// # Errors
    /// A chain read failed (the receipt is not judged).
    pub async fn fault(&self, signed: &SignedReceipt, at: u64) -> Result<u8, JobError> {
        let receipt = &signed.receipt;
        let Some(signer) = recover(self.params.domain, signed) else {
            return Ok(void_reason::BAD_SIGNATURE);
        };
        // Validity depends on the judging time too (a revoked key's receipt counts only when judged before the
        // revocation): the cached entry must be as of a time after `at`.
        let key = self.key(signer, at.max(receipt.signedAt)).await?;
        if key.node.is_zero() {
            return Ok(void_reason::BAD_SIGNATURE);
        }
        if key.node != receipt.node || receipt.mode > mode::ZK {
            return Ok(void_reason::BAD_FIELDS);
        }
        let t = receipt.signedAt;
        // As SettlementNodes (issue 14, finding 5): approved by `signedAt`, and not revoked by the judging time
        // (`t <= at`, so also not by `signedAt`) — a leaked, revoked key cannot backdate receipts.
        let approved = key.approved_at != 0
            && key.approved_at <= t
            && (key.revoked_at == 0 || (t < key.revoked_at && at < key.revoked_at));
        if !approved {
            return Ok(void_reason::KEY_NOT_APPROVED);
        }
        if t > at || at - t > self.max_receipt_age().await? {
            return Ok(void_reason::BAD_TIME);
        }
        if !self.usable_at(receipt.modelVersion, t).await? {
            return Ok(void_reason::MODEL_NOT_USABLE);
        }
        Ok(0)
    }
}

/// The name of a `void_reason` code (HTTP answers, logs).
pub fn reason_name(code: u8) -> &'static str {
    match code {
        0 => "Valid",
        void_reason::BAD_SIGNATURE => "BadSignature",
        void_reason::KEY_NOT_APPROVED => "KeyNotApproved",
        void_reason::BAD_TIME => "BadTime",
        void_reason::MODEL_NOT_USABLE => "ModelNotUsable",
        void_reason::DUPLICATE_REQUEST => "DuplicateRequest",
        void_reason::BAD_FIELDS => "BadFields",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::{local::PrivateKeySigner, SignerSync};
    use verity_abi::settlement::{domain_separator, Receipt};

    fn signed(key: &PrivateKeySigner, domain: B256) -> SignedReceipt {
        let receipt = Receipt {
            requestId: B256::repeat_byte(1),
            modelVersion: U256::from(1),
            inputHash: B256::repeat_byte(2),
            outputHash: B256::repeat_byte(3),
            payer: Address::repeat_byte(4),
            node: Address::repeat_byte(5),
            fee: U256::from(6),
            mode: mode::TEE,
            signedAt: 1_700_000_000,
        };
        let sig = key.sign_hash_sync(&signing_hash(domain, &receipt)).unwrap();
        SignedReceipt {
            receipt,
            v: 27 + u8::from(sig.v()),
            r: B256::from(sig.r()),
            s: B256::from(sig.s()),
        }
    }

    #[test]
    fn recovers_the_signer_and_refuses_what_the_contract_refuses() {
        let key = PrivateKeySigner::random();
        let domain = domain_separator(412_346, Address::repeat_byte(9));
        let good = signed(&key, domain);
        assert_eq!(recover(domain, &good), Some(key.address()));
        // Another domain recovers someone else.
        assert_ne!(recover(B256::ZERO, &good), Some(key.address()));
        let mut v = good.clone();
        v.v = 1;
        assert_eq!(recover(domain, &v), None);
        let mut high = good.clone();
        let n_minus_s =
            (SECP256K1_HALF_N * U256::from(2) + U256::from(1)) - U256::from_be_bytes(good.s.0);
        high.s = B256::from(n_minus_s);
        high.v = if good.v == 27 { 28 } else { 27 };
        assert_eq!(recover(domain, &high), None, "high s is refused (EIP-2)");
        let mut zero = good;
        zero.r = B256::ZERO;
        assert_eq!(recover(domain, &zero), None);
        assert_eq!(reason_name(void_reason::BAD_TIME), "BadTime");
    }
}
