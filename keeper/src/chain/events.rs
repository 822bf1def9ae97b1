//! Domain events: the contract logs the keeper's jobs act on, decoded with `verity-abi`'s event types (never a
//! hand-written ABI). Logs of other events decode to `None`; a log with a known signature that fails to decode
//! is an error (the ABI drifted), not a silent skip. Batch events (anchored/final/voided) join with the receipt
//! jobs: their ABI is moving to `settlement::batches` while this is written.

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use verity_abi::{gauge, registry, settlement};

/// Where a log sits in the chain (for idempotent application and ordering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPosition {
    /// Block number.
    pub block: u64,
    /// Block timestamp when the node provided it.
    pub timestamp: Option<u64>,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Index of the log in the block.
    pub log_index: u64,
}

/// An event a keeper job acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeeperEvent {
    /// ModelRegistry: a version was submitted (pending storage attestation).
    VersionSubmitted(Box<registry::VersionSubmitted>),
    /// ModelRegistry: storage was confirmed (pending registration).
    StorageConfirmed(registry::StorageConfirmed),
    /// ModelRegistry: a version changed status, or a batch item was reported unchanged.
    VersionFinalized(registry::VersionFinalized),
    /// ModelRegistry: a version was yanked or unyanked.
    YankChanged(registry::YankChanged),
    /// ModelRegistry: a name changed owner.
    NameTransferred(registry::NameTransferred),
    /// GaugeController: an epoch was finalized.
    EpochFinalized(gauge::EpochFinalized),
    /// InferenceSettlement: a paid request was opened.
    Requested(settlement::Requested),
    /// InferenceSettlement: a paid request was answered.
    Answered(settlement::Answered),
    /// InferenceSettlement: a request was settled.
    Settled(settlement::Settled),
    /// InferenceSettlement: a request was refunded.
    Refunded(settlement::Refunded),
}

/// A log that carries a known event signature but does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log {log_index} of tx {tx_hash} from {address}: {event} does not decode: {reason}")]
pub struct DecodeError {
    /// Emitting contract.
    pub address: Address,
    /// Transaction hash.
    pub tx_hash: B256,
    /// Log index.
    pub log_index: u64,
    /// The event's name.
    pub event: &'static str,
    /// The decoder's message.
    pub reason: String,
}

/// Decodes `log` as event `E` (whose signature the caller matched).
///
/// # Errors
/// [`DecodeError`] naming the log when the data does not fit the event.
pub fn decode<E: SolEvent>(log: &Log) -> Result<E, DecodeError> {
    E::decode_log_data(log.data()).map_err(|e| DecodeError {
        address: log.address(),
        tx_hash: log.transaction_hash.unwrap_or_default(),
        log_index: log.log_index.unwrap_or_default(),
        event: E::SIGNATURE,
        reason: e.to_string(),
    })
}

/// Decodes a log into a [`KeeperEvent`]; `Ok(None)` for events no job uses.
///
/// # Errors
/// [`DecodeError`] when the signature is known but the data does not fit it.
pub fn decode_log(log: &Log) -> Result<Option<KeeperEvent>, DecodeError> {
    let Some(topic0) = log.topic0() else {
        return Ok(None);
    };
    let event = match *topic0 {
        registry::VersionSubmitted::SIGNATURE_HASH => {
            KeeperEvent::VersionSubmitted(Box::new(decode(log)?))
        }
        registry::StorageConfirmed::SIGNATURE_HASH => KeeperEvent::StorageConfirmed(decode(log)?),
        registry::VersionFinalized::SIGNATURE_HASH => KeeperEvent::VersionFinalized(decode(log)?),
        registry::YankChanged::SIGNATURE_HASH => KeeperEvent::YankChanged(decode(log)?),
        registry::NameTransferred::SIGNATURE_HASH => KeeperEvent::NameTransferred(decode(log)?),
        gauge::EpochFinalized::SIGNATURE_HASH => KeeperEvent::EpochFinalized(decode(log)?),
        settlement::Requested::SIGNATURE_HASH => KeeperEvent::Requested(decode(log)?),
        settlement::Answered::SIGNATURE_HASH => KeeperEvent::Answered(decode(log)?),
        settlement::Settled::SIGNATURE_HASH => KeeperEvent::Settled(decode(log)?),
        settlement::Refunded::SIGNATURE_HASH => KeeperEvent::Refunded(decode(log)?),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

/// The position of a log (`None` for a pending log without block data).
pub fn position(log: &Log) -> Option<LogPosition> {
    Some(LogPosition {
        block: log.block_number?,
        timestamp: log.block_timestamp,
        tx_hash: log.transaction_hash?,
        log_index: log.log_index?,
    })
}

/// The registry version id of a registry event, if it names one.
pub fn version_id(event: &KeeperEvent) -> Option<U256> {
    match event {
        KeeperEvent::VersionSubmitted(e) => Some(e.id),
        KeeperEvent::StorageConfirmed(e) => Some(e.id),
        KeeperEvent::VersionFinalized(e) => Some(e.id),
        KeeperEvent::YankChanged(e) => Some(e.id),
        KeeperEvent::NameTransferred(_)
        | KeeperEvent::EpochFinalized(_)
        | KeeperEvent::Requested(_)
        | KeeperEvent::Answered(_)
        | KeeperEvent::Settled(_)
        | KeeperEvent::Refunded(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Log as PrimLog, LogData};

    fn rpc_log(data: LogData) -> Log {
        Log {
            inner: PrimLog {
                address: Address::repeat_byte(9),
                data,
            },
            block_number: Some(5),
            transaction_hash: Some(B256::repeat_byte(1)),
            log_index: Some(2),
            ..Default::default()
        }
    }

    #[test]
    fn decodes_abi_events_and_ignores_others() {
        let ev = gauge::EpochFinalized {
            epoch: 7,
            emission: U256::from(100),
            totalWeight: U256::from(5),
            distributed: U256::from(90),
            carried: U256::from(10),
        };
        let log = rpc_log(ev.encode_log_data());
        assert_eq!(
            decode_log(&log).unwrap(),
            Some(KeeperEvent::EpochFinalized(ev))
        );
        let fin = registry::VersionFinalized {
            id: U256::from(3),
            status: 3,
            reason: 0,
            changed: true,
        };
        let got = decode_log(&rpc_log(fin.encode_log_data()))
            .unwrap()
            .unwrap();
        assert_eq!(version_id(&got), Some(U256::from(3)));
        let other = gauge::Claimed {
            gauge: Address::ZERO,
            amount: U256::ZERO,
        };
        assert_eq!(decode_log(&rpc_log(other.encode_log_data())).unwrap(), None);
        assert_eq!(position(&log).unwrap().log_index, 2);
    }

    #[test]
    fn known_signature_with_bad_data_is_an_error() {
        let mut data = gauge::EpochFinalized {
            epoch: 7,
            emission: U256::ZERO,
            totalWeight: U256::ZERO,
            distributed: U256::ZERO,
            carried: U256::ZERO,
        }
        .encode_log_data();
        data = LogData::new_unchecked(data.topics().to_vec(), vec![1, 2, 3].into());
        let err = decode_log(&rpc_log(data)).unwrap_err();
        assert!(err.event.starts_with("EpochFinalized"));
    }
}
