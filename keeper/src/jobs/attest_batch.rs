//! The attester's batches (issue 16): many storage attestations per `confirmStorageBatch(bytes32[] items)`
//! transaction, each item two words ([`verity_abi::registry::storage_item`]).
//!
//! A batch's idempotency key is `attest:<first>-<last>-<count>-<hash>` (ids in batch order; `hash` = the first 4
//! bytes of keccak256 of the calldata), so the same batch is the same intent. Which versions an open batch holds
//! is read back from its calldata ([`attested_ids`]), so after a crash or a change of leader the attester never
//! puts a version that an open intent already carries into another batch. The contract judges each item on its own
//! and never reverts the batch for one item; [`item_outcomes`] reads each item's outcome from the receipt's events.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Bytes, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolCall;
use verity_abi::registry::{self, Reason, Status, STORAGE_ITEM_WORDS};
use verity_abi::rpc::IModelRegistry;

use super::attester::KEY_PREFIX;
use crate::chain::events::{decode_log, KeeperEvent};
use crate::fetch::Found;

/// One fetched version ready to be attested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// The version id.
    pub id: U256,
    /// What the attester found at its storage URI.
    pub found: Found,
    /// The storage expiry attested (chain seconds).
    pub storage_expiry: u64,
}

/// The calldata of `confirmStorageBatch(items)`.
pub fn calldata(items: &[Item]) -> Bytes {
    let words = items
        .iter()
        .flat_map(|i| {
            registry::storage_item(
                i.id.saturating_to::<u64>(),
                i.found.content_hash.0,
                i.found.size,
                i.storage_expiry,
            )
        })
        .collect();
    IModelRegistry::confirmStorageBatchCall { items: words }
        .abi_encode()
        .into()
}

/// The idempotency key of the batch `ids` with calldata `calldata` (ids in batch order).
pub fn key(ids: &[U256], calldata: &[u8]) -> String {
    let first = ids.first().copied().unwrap_or_default();
    let last = ids.last().copied().unwrap_or_default();
    let hash = keccak256(calldata);
    format!(
        "{KEY_PREFIX}:{first}-{last}-{}-{}",
        ids.len(),
        alloy::primitives::hex::encode(&hash[..4])
    )
}

/// The version ids an attestation's calldata carries: every item of a `confirmStorageBatch`, or the one id of a
/// `confirmStorage` (intents of an older keeper); `None` for other calldata.
pub fn attested_ids(calldata: &[u8]) -> Option<Vec<U256>> {
    if let Ok(c) = IModelRegistry::confirmStorageBatchCall::abi_decode(calldata) {
        return Some(
            c.items
                .chunks_exact(STORAGE_ITEM_WORDS)
                .map(|item| U256::from(U256::from_be_bytes(item[0].0).as_limbs()[0]))
                .collect(),
        );
    }
    IModelRegistry::confirmStorageCall::abi_decode(calldata)
        .ok()
        .map(|c| vec![c.id])
}

/// What the registry did with one item of a batch, as its events in the receipt say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemOutcome {
    /// `StorageConfirmed`: the version is Stored.
    Stored,
    /// Finalized by the attestation (`changed`): Rejected (hash or size mismatch) or Expired (past its TTL).
    Finalized(Status, Reason),
    /// Reported unchanged (`changed` false): unknown, already stored or already final.
    Unchanged(Reason),
    /// No event names the item (not expected from the registry).
    Missing,
}

impl ItemOutcome {
    /// The `keeper_attest_items_total` label.
    pub fn label(self) -> &'static str {
        match self {
            ItemOutcome::Stored => "stored",
            ItemOutcome::Finalized(Status::Rejected, _) => "rejected",
            ItemOutcome::Finalized(Status::Expired, _) => "expired",
            ItemOutcome::Finalized(..) => "other",
            ItemOutcome::Unchanged(_) => "unchanged",
            ItemOutcome::Missing => "missing",
        }
    }
}

/// Each of `ids`' outcome in a batch's receipt `logs` (an id named twice in a batch takes its first event).
///
/// # Errors
/// A registry log with a known signature that does not decode.
pub fn item_outcomes(
    ids: &[U256],
    logs: &[Log],
) -> Result<Vec<(U256, ItemOutcome)>, crate::chain::events::DecodeError> {
    let mut found: BTreeMap<U256, ItemOutcome> = BTreeMap::new();
    for log in logs {
        let outcome = match decode_log(log)? {
            Some(KeeperEvent::StorageConfirmed(e)) => (e.id, ItemOutcome::Stored),
            Some(KeeperEvent::VersionFinalized(e)) => {
                let status = Status::try_from(e.status).unwrap_or(Status::None);
                let reason = Reason::try_from(e.reason).unwrap_or(Reason::None);
                let o = if e.changed {
                    ItemOutcome::Finalized(status, reason)
                } else {
                    ItemOutcome::Unchanged(reason)
                };
                (e.id, o)
            }
            _ => continue,
        };
        found.entry(outcome.0).or_insert(outcome.1);
    }
    Ok(ids
        .iter()
        .map(|id| (*id, found.get(id).copied().unwrap_or(ItemOutcome::Missing)))
        .collect())
}

/// Splits the fetched items waiting (in the order given, each with the time it was fetched) into batches: full
/// batches of `max` items, then the rest as one batch once its oldest item has waited `wait` at `now` (else it
/// keeps waiting for more).
pub fn split(
    waiting: &[(Item, Instant)],
    max: usize,
    wait: Duration,
    now: Instant,
) -> Vec<Vec<Item>> {
    let max = max.max(1);
    let mut out = Vec::new();
    for chunk in waiting.chunks(max) {
        let oldest = chunk.iter().map(|(_, at)| *at).min();
        let old_enough = oldest.is_some_and(|at| now.saturating_duration_since(at) >= wait);
        if chunk.len() == max || old_enough {
            out.push(chunk.iter().map(|(i, _)| *i).collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, Log as PrimLog, B256};
    use alloy::sol_types::SolEvent;

    fn item(id: u64) -> Item {
        Item {
            id: U256::from(id),
            found: Found {
                content_hash: B256::repeat_byte(id as u8),
                size: 1_000 + id,
            },
            storage_expiry: 9_999,
        }
    }

    #[test]
    fn calldata_round_trips_ids_and_keys_are_deterministic() {
        let items = [item(7), item(3), item(12)];
        let data = calldata(&items);
        let ids: Vec<U256> = items.iter().map(|i| i.id).collect();
        assert_eq!(attested_ids(&data), Some(ids.clone()));
        let k = key(&ids, &data);
        assert!(k.starts_with("attest:7-12-3-"), "{k}");
        assert_eq!(k, key(&ids, &data));
        assert_ne!(k, key(&ids[..2], &calldata(&items[..2])));
        assert_eq!(
            crate::jobs::job_of_key(&k),
            super::super::attester::JOB_NAME
        );
        // An older keeper's single attestation is read too; other calldata is not an attestation.
        let single = IModelRegistry::confirmStorageCall {
            id: U256::from(5),
            content_hash: B256::ZERO,
            size: 1,
            storage_expiry: 2,
        }
        .abi_encode();
        assert_eq!(attested_ids(&single), Some(vec![U256::from(5)]));
        let other = IModelRegistry::expireCall { id: U256::from(5) }.abi_encode();
        assert_eq!(attested_ids(&other), None);
        // The packed word is what the registry decodes: id | size << 64 | expiry << 128, then the hash.
        let decoded = IModelRegistry::confirmStorageBatchCall::abi_decode(&data).unwrap();
        assert_eq!(decoded.items.len(), 6);
        assert_eq!(decoded.items[1], items[0].found.content_hash);
        let limbs = U256::from_be_bytes(decoded.items[0].0).into_limbs();
        assert_eq!(limbs, [7, 1_007, 9_999, 0]);
    }

    #[test]
    fn full_batches_go_at_once_and_the_rest_after_the_wait() {
        let t0 = Instant::now();
        let waiting: Vec<(Item, Instant)> = (1..=5).map(|i| (item(i), t0)).collect();
        let ids = |b: &[Vec<Item>]| -> Vec<Vec<u64>> {
            b.iter()
                .map(|b| b.iter().map(|i| i.id.to::<u64>()).collect())
                .collect()
        };
        let wait = Duration::from_millis(500);
        assert_eq!(
            ids(&split(&waiting, 2, wait, t0)),
            vec![vec![1, 2], vec![3, 4]]
        );
        assert_eq!(
            ids(&split(&waiting, 2, wait, t0 + wait)),
            vec![vec![1, 2], vec![3, 4], vec![5]]
        );
        assert_eq!(ids(&split(&waiting, 10, wait, t0)), Vec::<Vec<u64>>::new());
        assert_eq!(
            ids(&split(&waiting, 10, wait, t0 + wait)),
            vec![vec![1, 2, 3, 4, 5]]
        );
    }

    fn log<E: SolEvent>(e: &E) -> Log {
        Log {
            inner: PrimLog {
                address: Address::repeat_byte(1),
                data: e.encode_log_data(),
            },
            ..Default::default()
        }
    }

    #[test]
    fn outcomes_come_from_the_receipts_events() {
        let ids = [U256::from(1), U256::from(2), U256::from(3), U256::from(4)];
        let logs = [
            log(&registry::StorageConfirmed {
                id: ids[0],
                storageExpiry: 9,
            }),
            log(&registry::VersionFinalized {
                id: ids[1],
                status: Status::Rejected.code(),
                reason: Reason::ContentHashMismatch.code(),
                changed: true,
            }),
            log(&registry::RefundCredited {
                account: Address::ZERO,
                id: ids[1],
                amount: U256::from(1),
            }),
            log(&registry::VersionFinalized {
                id: ids[2],
                status: Status::Stored.code(),
                reason: Reason::AlreadyStored.code(),
                changed: false,
            }),
        ];
        let got = item_outcomes(&ids, &logs).unwrap();
        assert_eq!(
            got.iter().map(|(_, o)| o.label()).collect::<Vec<_>>(),
            ["stored", "rejected", "unchanged", "missing"]
        );
        assert_eq!(got[2].1, ItemOutcome::Unchanged(Reason::AlreadyStored));
    }
}
