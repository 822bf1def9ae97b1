//! The node's JSON API types, shared with the client (`verity infer`): one definition on both sides.

use alloy::primitives::{Address, Bytes, B256, U256};
use serde::{Deserialize, Serialize};

/// `POST /infer`'s body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferRequest {
    /// The registry's model version id.
    pub model_version: U256,
    /// The input values (int8 each; anything else is refused as malformed).
    pub input: Vec<i64>,
    /// The request id: a paid request's id, or the client's own (a retry must send the same one). A random id
    /// is chosen when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<B256>,
}

/// `POST /infer`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferResponse {
    /// The request id the receipt names.
    pub request_id: B256,
    /// The model version run.
    pub model_version: U256,
    /// The output logits.
    pub output: Vec<i64>,
    /// Poseidon hash of the input (the circuit's, as a big-endian word).
    pub input_hash: B256,
    /// Poseidon hash of the output.
    pub output_hash: B256,
    /// The node (its account, as registered in SettlementNodes).
    pub node: Address,
    /// Payer of a paid request (zero when unpaid).
    pub payer: Address,
    /// Fee of a paid request (zero when unpaid).
    pub fee: U256,
    /// Receipt mode (0 TEE, 1 ZK).
    pub mode: u8,
    /// Chain time the receipt was signed at.
    pub signed_at: u64,
    /// The signed receipt in its 384-byte on-chain encoding.
    pub signed: Bytes,
    /// Whether a paid request on chain backs it.
    pub paid: bool,
    /// Whether this is the stored answer of an earlier call with the same id.
    pub replayed: bool,
}

/// An error answer: a stable code and one line for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Stable code (`unregistered`, `yanked`, `not_yet_usable`, `hash_mismatch`, `unsupported_runtime`,
    /// `bad_weights`, `malformed_input`, `request_mismatch`, `conflict`, `unavailable`, `fault`).
    pub error: String,
    /// What happened.
    pub detail: String,
}

/// A region as coordinates (degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// `GET /info`: who the node is, where, and how to reach it — signed by the node's account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// The node's account (SettlementNodes' key).
    pub node: Address,
    /// Its TEE signing key.
    pub signing_key: Address,
    /// Chain id.
    pub chain_id: u64,
    /// The SettlementNodes contract it is registered in.
    pub nodes: Address,
    /// The endpoint it declares.
    pub endpoint: String,
    /// The region it declares.
    pub region: Region,
    /// EIP-191 signature of [`crate::declaration::message`] by `node`.
    pub signature: Bytes,
    /// Runtimes it runs (`VZK1`).
    pub runtimes: Vec<String>,
    /// Whether it proves mode-ZK requests.
    pub zk_prover: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_take_hex_or_decimal_versions_and_an_optional_id() {
        let r: InferRequest =
            serde_json::from_str(r#"{"modelVersion":"0x2","input":[1,-2]}"#).unwrap();
        assert_eq!(r.model_version, U256::from(2));
        assert_eq!(r.request_id, None);
        let r: InferRequest = serde_json::from_str(
            r#"{"modelVersion":"7","input":[],"requestId":"0x0000000000000000000000000000000000000000000000000000000000000001"}"#,
        )
        .unwrap();
        assert_eq!(r.model_version, U256::from(7));
        assert_eq!(r.request_id, Some(B256::with_last_byte(1)));
    }
}
