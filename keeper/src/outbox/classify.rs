//! What an RPC error means for the transaction manager: node error texts (geth's, which devnode and Nitro share)
//! classified into [`SendErrorKind`], and revert data matched against the typed `Already…` errors of
//! `verity-abi` (the idempotency rule: those count as success).

use alloy::sol_types::SolError;
use alloy::transports::{RpcError, TransportErrorKind};
use verity_abi::{gauge, registry, settlement};

/// What a failed `eth_sendRawTransaction` (or another call) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// The node has this exact transaction already: it was broadcast.
    AlreadyKnown,
    /// The nonce is used on chain: by this intent's earlier attempt, or by another transaction.
    NonceTooLow,
    /// The pool holds another transaction with this nonce and a higher fee.
    ReplacementUnderpriced,
    /// The account cannot pay gas × price + value (the operator must top up).
    InsufficientFunds,
    /// The fee is below the base fee or the pool's minimum.
    FeeTooLow,
    /// The transaction can never be accepted as signed (gas too low, too big, bad chain id …).
    Rejected,
    /// The node or the network failed: retry later.
    Transient,
}

impl SendErrorKind {
    /// Whether the same bytes may succeed later without any change.
    pub const fn is_transient(self) -> bool {
        match self {
            SendErrorKind::Transient
            | SendErrorKind::InsufficientFunds
            | SendErrorKind::FeeTooLow
            | SendErrorKind::ReplacementUnderpriced => true,
            SendErrorKind::AlreadyKnown | SendErrorKind::NonceTooLow | SendErrorKind::Rejected => {
                false
            }
        }
    }
}

/// Classifies a node's error message (case-insensitive substring match on geth's texts).
pub fn classify_message(message: &str) -> SendErrorKind {
    let m = message.to_ascii_lowercase();
    if m.contains("already known")
        || m.contains("known transaction")
        || m.contains("already imported")
    {
        SendErrorKind::AlreadyKnown
    } else if m.contains("nonce too low") || m.contains("nonce has already been used") {
        SendErrorKind::NonceTooLow
    } else if m.contains("replacement transaction underpriced") {
        SendErrorKind::ReplacementUnderpriced
    } else if m.contains("insufficient funds") {
        SendErrorKind::InsufficientFunds
    } else if m.contains("less than block base fee")
        || m.contains("transaction underpriced")
        || m.contains("fee cap less than")
    {
        SendErrorKind::FeeTooLow
    } else if m.contains("intrinsic gas too low")
        || m.contains("exceeds block gas limit")
        || m.contains("invalid chain id")
        || m.contains("invalid sender")
        || m.contains("oversized data")
        || m.contains("gas limit reached")
    {
        SendErrorKind::Rejected
    } else {
        SendErrorKind::Transient
    }
}

/// Classifies an alloy RPC error: a JSON-RPC error response by its message; transport, timeout and HTTP errors
/// are transient.
pub fn classify_rpc(err: &RpcError<TransportErrorKind>) -> SendErrorKind {
    match err {
        RpcError::ErrorResp(payload) => classify_message(&payload.message),
        RpcError::Transport(_)
        | RpcError::NullResp
        | RpcError::DeserError { .. }
        | RpcError::SerError(_)
        | RpcError::UnsupportedFeature(_)
        | RpcError::LocalUsageError(_) => SendErrorKind::Transient,
    }
}

/// Whether a node refused a call because it does not serve that method (JSON-RPC `-32601`, or the texts geth,
/// Nitro and the hosted providers use): the caller falls back to another method instead of retrying.
pub fn is_unsupported_method(err: &RpcError<TransportErrorKind>) -> bool {
    match err {
        RpcError::ErrorResp(payload) => {
            let m = payload.message.to_ascii_lowercase();
            payload.code == -32601
                || m.contains("method not found")
                || m.contains("does not exist")
                || m.contains("not supported")
                || m.contains("unsupported method")
                || m.contains("not available")
        }
        RpcError::UnsupportedFeature(_) => true,
        RpcError::Transport(_)
        | RpcError::NullResp
        | RpcError::DeserError { .. }
        | RpcError::SerError(_)
        | RpcError::LocalUsageError(_) => false,
    }
}

/// Revert data of an RPC error response (`code 3` with `data`), if it is one.
pub fn revert_data(err: &RpcError<TransportErrorKind>) -> Option<alloy::primitives::Bytes> {
    match err {
        RpcError::ErrorResp(payload) => payload.as_revert_data(),
        _ => None,
    }
}

/// Selectors of every typed `Already…` error in `verity-abi`: a single-target operation answering with one of
/// these was already done (by us earlier or by someone else) — success for the keeper.
pub const ALREADY_DONE: [[u8; 4]; 12] = [
    registry::RegistryAlreadyStored::SELECTOR,
    registry::RegistryAlreadyFinal::SELECTOR,
    gauge::GaugeEpochAlreadyFinalized::SELECTOR,
    gauge::GaugeAlreadyAdded::SELECTOR,
    gauge::GaugeAlreadyKilled::SELECTOR,
    gauge::GaugeAlreadyAlive::SELECTOR,
    settlement::SettlementAlreadyRegistered::SELECTOR,
    settlement::SettlementAlreadyApproved::SELECTOR,
    settlement::SettlementAlreadyRevoked::SELECTOR,
    settlement::SettlementAlreadySettled::SELECTOR,
    settlement::SettlementAlreadyFinal::SELECTOR,
    settlement::SettlementAlreadyVoided::SELECTOR,
];

/// Selectors of typed errors that say "not yet": the operation becomes possible later without any change
/// (`SettlementTooEarly`: an answered request is refundable only after its deadline plus the challenge window;
/// `SettlementPaused`: nothing settles while paused). The intent stays `Pending` and is simulated again next pass.
pub const RETRY_LATER: [[u8; 4]; 2] = [
    settlement::SettlementTooEarly::SELECTOR,
    settlement::SettlementPaused::SELECTOR,
];

/// Whether `revert` is one of [`RETRY_LATER`].
pub fn is_retry_later(revert: &[u8]) -> bool {
    revert
        .get(..4)
        .is_some_and(|sel| RETRY_LATER.iter().any(|s| s.as_slice() == sel))
}

/// Revert data for humans: the typed error decoded with the committed interfaces of `verity-abi`
/// (`GaugeEpochNotEnded(0, 1797465600)`), or an `Error(string)` / `Panic(uint256)` reason, followed by the raw
/// hex; just the hex when nothing decodes.
pub fn describe_revert(revert: &[u8]) -> String {
    let hex = alloy::primitives::hex::encode_prefixed(revert);
    let reason = || {
        use alloy::sol_types::{Panic, Revert};
        Revert::abi_decode(revert)
            .map(|r| format!("Error({:?})", r.reason))
            .or_else(|_| Panic::abi_decode(revert).map(|p| format!("Panic({})", p.code)))
            .ok()
    };
    match typed_revert(revert).or_else(reason) {
        Some(t) => format!("{t} ({hex})"),
        None => hex,
    }
}

fn typed_revert(revert: &[u8]) -> Option<String> {
    use alloy::dyn_abi::DynSolType;
    use verity_abi::rpc::{IBrToken, IGaugeController, IVotingEscrow};
    let selector: [u8; 4] = revert.get(..4)?.try_into().ok()?;
    let signature = IGaugeController::IGaugeControllerErrors::signature_by_selector(selector)
        .or_else(|| IVotingEscrow::IVotingEscrowErrors::signature_by_selector(selector))
        .or_else(|| IBrToken::IBrTokenErrors::signature_by_selector(selector))?;
    let (name, params) = signature.split_once('(')?;
    let values = DynSolType::parse(&format!("({params}"))
        .ok()?
        .abi_decode_params(revert.get(4..)?)
        .ok()?;
    Some(format!("{name}{}", display_value(&values)))
}

fn display_value(v: &alloy::dyn_abi::DynSolValue) -> String {
    use alloy::dyn_abi::DynSolValue as V;
    let list = |items: &[V], open: &str, close: &str| {
        let inner: Vec<String> = items.iter().map(display_value).collect();
        format!("{open}{}{close}", inner.join(", "))
    };
    match v {
        V::Bool(b) => b.to_string(),
        V::Int(i, _) => i.to_string(),
        V::Uint(u, _) => u.to_string(),
        V::Address(a) => a.to_string(),
        V::FixedBytes(w, size) => {
            alloy::primitives::hex::encode_prefixed(w.get(..*size).unwrap_or(w.as_slice()))
        }
        V::Bytes(b) => alloy::primitives::hex::encode_prefixed(b),
        V::String(s) => format!("{s:?}"),
        V::Tuple(items) => list(items, "(", ")"),
        V::Array(items) | V::FixedArray(items) => list(items, "[", "]"),
        V::Function(f) => f.to_string(),
    }
}

/// Whether revert data is one of the [`ALREADY_DONE`] errors.
pub fn is_already_done(revert: &[u8]) -> bool {
    revert
        .get(..4)
        .is_some_and(|sel| ALREADY_DONE.iter().any(|s| s.as_slice() == sel))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, U256};
    use alloy::rpc::json_rpc::ErrorPayload;

    #[test]
    fn too_early_and_paused_are_retried_later_not_failed() {
        let early = settlement::SettlementTooEarly { until: 7 }.abi_encode();
        let paused = settlement::SettlementPaused {}.abi_encode();
        assert!(is_retry_later(&early) && is_retry_later(&paused));
        assert!(!is_already_done(&early) && !is_already_done(&paused));
        let settled = settlement::SettlementAlreadySettled {
            requestId: alloy::primitives::B256::ZERO,
        }
        .abi_encode();
        assert!(!is_retry_later(&settled) && !is_retry_later(&[1, 2]));
    }

    #[test]
    fn classifies_node_error_texts() {
        let table: &[(&str, SendErrorKind)] = &[
            ("already known", SendErrorKind::AlreadyKnown),
            ("known transaction: 0xabc", SendErrorKind::AlreadyKnown),
            ("nonce too low: next nonce 5, tx nonce 3", SendErrorKind::NonceTooLow),
            ("Nonce too low", SendErrorKind::NonceTooLow),
            ("replacement transaction underpriced", SendErrorKind::ReplacementUnderpriced),
            (
                "insufficient funds for gas * price + value: balance 0, tx cost 1",
                SendErrorKind::InsufficientFunds,
            ),
            (
                "max fee per gas less than block base fee: address 0x.., maxFeePerGas: 1, baseFee: 2",
                SendErrorKind::FeeTooLow,
            ),
            ("transaction underpriced", SendErrorKind::FeeTooLow),
            ("intrinsic gas too low", SendErrorKind::Rejected),
            ("exceeds block gas limit", SendErrorKind::Rejected),
            ("invalid chain id for signer", SendErrorKind::Rejected),
            ("internal error", SendErrorKind::Transient),
            ("", SendErrorKind::Transient),
        ];
        for (text, kind) in table {
            assert_eq!(classify_message(text), *kind, "{text}");
        }
    }

    #[test]
    fn transport_failures_are_transient() {
        let err: RpcError<TransportErrorKind> =
            TransportErrorKind::custom_str("connection refused");
        assert_eq!(classify_rpc(&err), SendErrorKind::Transient);
        assert!(classify_rpc(&err).is_transient());
        let resp = RpcError::ErrorResp(ErrorPayload {
            code: -32000,
            message: "nonce too low".into(),
            data: None,
        });
        assert_eq!(classify_rpc(&resp), SendErrorKind::NonceTooLow);
        assert!(!SendErrorKind::NonceTooLow.is_transient());
    }

    #[test]
    fn a_missing_method_is_told_from_a_failing_one() {
        let resp = |code: i64, message: &str| {
            RpcError::ErrorResp(ErrorPayload {
                code,
                message: message.to_string().into(),
                data: None,
            })
        };
        assert!(is_unsupported_method(&resp(-32601, "whatever")));
        assert!(is_unsupported_method(&resp(
            -32000,
            "the method eth_getBlockReceipts does not exist/is not available"
        )));
        assert!(is_unsupported_method(&resp(-32000, "Method not found")));
        assert!(!is_unsupported_method(&resp(-32000, "header not found")));
        assert!(!is_unsupported_method(&resp(-32603, "internal error")));
        let transport: RpcError<TransportErrorKind> = TransportErrorKind::custom_str("refused");
        assert!(!is_unsupported_method(&transport));
    }

    #[test]
    fn typed_already_errors_count_as_done() {
        let done = gauge::GaugeEpochAlreadyFinalized { epoch: 3 }.abi_encode();
        assert!(is_already_done(&done));
        let stored = registry::RegistryAlreadyStored { id: U256::from(1) }.abi_encode();
        assert!(is_already_done(&stored));
        let not_ended = gauge::GaugeEpochNotEnded {
            epoch: 3,
            endsAt: 9,
        }
        .abi_encode();
        assert!(!is_already_done(&not_ended));
        assert!(!is_already_done(&[]));
        let described = describe_revert(&not_ended);
        assert_eq!(
            described,
            format!(
                "GaugeEpochNotEnded(3, 9) ({})",
                alloy::primitives::hex::encode_prefixed(&not_ended)
            )
        );
        let who = Address::repeat_byte(7);
        let unauthorized = gauge::GaugeUnauthorized { account: who }.abi_encode();
        let described = describe_revert(&unauthorized);
        assert!(
            described.starts_with(&format!("GaugeUnauthorized({who}) (0x")),
            "{described}"
        );
        assert_eq!(describe_revert(&[0xde, 0xad]), "0xdead");
        let reason = alloy::sol_types::Revert::from("nope").abi_encode();
        assert!(describe_revert(&reason).starts_with("Error(\"nope\") (0x"));
        assert!(!is_already_done(&[0x01, 0x02]));
    }
}
