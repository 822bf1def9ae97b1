//! The endpoint declaration: SettlementNodes records a node's stake and key but no endpoint or region, so the
//! node signs them with its account key (EIP-191 over [`message`]) and serves them at `GET /info`; a client
//! keeps an endpoint only when the signature recovers to a registered, active node ([`verify`]).

use alloy::primitives::{Address, Signature};
use alloy::signers::{local::PrivateKeySigner, SignerSync};

use crate::api::{NodeInfo, Region};

/// The text the node's account signs: chain, contract, node, endpoint and region, one per line.
pub fn message(
    chain_id: u64,
    nodes: Address,
    node: Address,
    endpoint: &str,
    region: Region,
) -> String {
    format!(
        "verity-node endpoint declaration\nchain: {chain_id}\nnodes: {nodes}\nnode: {node}\nendpoint: {endpoint}\nregion: {:.6},{:.6}",
        region.lat, region.lon
    )
}

/// Why a declaration is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeclarationError {
    /// The signature does not parse.
    #[error("the declaration's signature is malformed")]
    Malformed,
    /// The signature is by someone else.
    #[error("the declaration is signed by {signer}, not by node {node}")]
    WrongSigner {
        /// The declared node.
        node: Address,
        /// Who signed.
        signer: Address,
    },
}

/// Signs the declaration of `node_key`'s node.
///
/// # Errors
/// The signer failed.
pub fn sign(
    node_key: &PrivateKeySigner,
    chain_id: u64,
    nodes: Address,
    endpoint: &str,
    region: Region,
) -> alloy::signers::Result<alloy::primitives::Bytes> {
    let text = message(chain_id, nodes, node_key.address(), endpoint, region);
    Ok(node_key
        .sign_message_sync(text.as_bytes())?
        .as_bytes()
        .to_vec()
        .into())
}

/// Checks that `info`'s declaration is signed by `info.node`.
///
/// # Errors
/// [`DeclarationError`].
pub fn verify(info: &NodeInfo) -> Result<(), DeclarationError> {
    let sig =
        Signature::try_from(info.signature.as_ref()).map_err(|_| DeclarationError::Malformed)?;
    let text = message(
        info.chain_id,
        info.nodes,
        info.node,
        &info.endpoint,
        info.region,
    );
    let signer = sig
        .recover_address_from_msg(text.as_bytes())
        .map_err(|_| DeclarationError::Malformed)?;
    if signer != info.node {
        return Err(DeclarationError::WrongSigner {
            node: info.node,
            signer,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_verifies_only_unchanged_and_by_its_node() {
        let key = PrivateKeySigner::random();
        let region = Region {
            lat: 52.52,
            lon: 13.405,
        };
        let nodes = Address::repeat_byte(7);
        let mut info = NodeInfo {
            node: key.address(),
            signing_key: Address::repeat_byte(1),
            chain_id: 412_346,
            nodes,
            endpoint: "http://10.0.0.1:9470".into(),
            region,
            signature: sign(&key, 412_346, nodes, "http://10.0.0.1:9470", region).unwrap(),
            runtimes: vec!["VZK1".into()],
            zk_prover: false,
        };
        verify(&info).unwrap();
        info.endpoint = "http://evil:1".into();
        assert!(matches!(
            verify(&info),
            Err(DeclarationError::WrongSigner { .. })
        ));
        info.endpoint = "http://10.0.0.1:9470".into();
        info.node = Address::repeat_byte(9);
        assert!(matches!(
            verify(&info),
            Err(DeclarationError::WrongSigner { .. })
        ));
        info.signature = vec![1, 2, 3].into();
        assert_eq!(verify(&info), Err(DeclarationError::Malformed));
    }
}
