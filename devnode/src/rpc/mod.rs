//! JSON-RPC in front of the [`crate::chain::Chain`]: method traits ([`api`]), their implementation and the
//! HTTP/WebSocket server ([`server`]), started in-process with [`start`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), devnode::rpc::ServerError> {
//! let node = devnode::rpc::start(devnode::rpc::NodeConfig::default()).await?;
//! println!("serving {}", node.url());
//! node.stop().await;
//! # Ok(()) }
//! ```
//!
//! Bad input never takes the server down: jsonrpsee answers malformed JSON with -32700, unknown methods with
//! -32601 and unparsable parameters with -32602; chain errors map through
//! `From<crate::error::Error> for ErrorObjectOwned`.

pub mod api;
pub mod server;

pub use server::{start, DevnodeRpc, NodeConfig, NodeHandle, ServerError, SharedChain};

use serde::{Deserialize, Deserializer};

/// A non-negative integer given either as a JSON number or as a hex (or decimal) string; dev tools send both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Quantity(pub u64);

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Str(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Num(n) => Ok(Self(n)),
            Raw::Str(s) => {
                let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => s.parse::<u64>(),
                };
                parsed
                    .map(Self)
                    .map_err(|e| serde::de::Error::custom(format!("invalid quantity {s:?}: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Quantity;

    #[test]
    fn quantity_accepts_numbers_hex_and_decimal_strings() {
        for (json, want) in [("5", 5), ("\"0x10\"", 16), ("\"42\"", 42)] {
            assert_eq!(
                serde_json::from_str::<Quantity>(json).unwrap(),
                Quantity(want)
            );
        }
        assert!(serde_json::from_str::<Quantity>("\"0xzz\"").is_err());
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
    }
}
