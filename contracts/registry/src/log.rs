//! Log encoding without alloy's per-event generic code: one small ABI encoder for every event the registry emits.
//! The events themselves are declared once in [`verity_abi::registry`]; topic 0 is the declared event's
//! `SIGNATURE_HASH`, and the native tests decode every emitted log with the declared event type, so an encoding that
//! drifts from the declaration fails them.

use alloc::vec::Vec;
use alloy_primitives::{Address, B256, U256};

/// One non-indexed field of an event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field<'a> {
    /// A static value, already a 32-byte word.
    Word(B256),
    /// `bytes` or `string`.
    Bytes(&'a [u8]),
    /// A dynamic array of 32-byte words (`uint256[]`, `bytes32[]`).
    Words(&'a [B256]),
}

/// An unsigned integer as a word.
pub(crate) fn uint(value: u64) -> B256 {
    U256::from(value).into()
}

/// A `uint256` as a word.
pub(crate) fn u256(value: U256) -> B256 {
    value.into()
}

/// An address as a word.
pub(crate) fn address(value: Address) -> B256 {
    value.into_word()
}

/// A bool as a word.
pub(crate) fn boolean(value: bool) -> B256 {
    uint(u64::from(value))
}

/// Topics followed by the ABI encoding of `fields` (the layout `emit_log` takes).
pub(crate) fn encode(topics: &[B256], fields: &[Field<'_>]) -> Vec<u8> {
    let mut head = Vec::with_capacity(32 * (topics.len() + fields.len()));
    for topic in topics {
        head.extend_from_slice(topic.as_slice());
    }
    let mut tail: Vec<u8> = Vec::new();
    let head_size = 32 * fields.len();
    for field in fields {
        let word = match field {
            Field::Word(word) => *word,
            Field::Bytes(bytes) => {
                let offset = head_size + tail.len();
                tail.extend_from_slice(uint(bytes.len() as u64).as_slice());
                tail.extend_from_slice(bytes);
                // Pad to a whole number of words.
                tail.resize(tail.len() + (32 - bytes.len() % 32) % 32, 0);
                uint(offset as u64)
            }
            Field::Words(words) => {
                let offset = head_size + tail.len();
                tail.extend_from_slice(uint(words.len() as u64).as_slice());
                for word in words.iter() {
                    tail.extend_from_slice(word.as_slice());
                }
                uint(offset as u64)
            }
        };
        head.extend_from_slice(word.as_slice());
    }
    head.extend_from_slice(&tail);
    head
}
