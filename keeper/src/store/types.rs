//! Records the store keeps: outbox intents and their attempts, the event cursor and the leader lease, with the
//! intent state machine ([`IntentStatus`]) and its transition guard.

use alloy::primitives::{Address, Bytes, B256, U256};

use super::StoreError;

/// Declares a status enum stored as `SMALLINT` (`#[repr(i16)]`, each variant's code written once) and its
/// `TryFrom<i16>`, which maps any other code to the given error (`fn(i16) -> StoreError`): never a panicking
/// `From`. One definition for every status the keeper stores.
macro_rules! smallint_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($unknown:expr) {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i16)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant = $code,)+
        }

        impl TryFrom<i16> for $name {
            type Error = StoreError;

            fn try_from(code: i16) -> std::result::Result<Self, StoreError> {
                let unknown: fn(i16) -> StoreError = $unknown;
                match code {
                    $($code => Ok(Self::$variant),)+
                    other => Err(unknown(other)),
                }
            }
        }
    };
}
pub(crate) use smallint_enum;

smallint_enum! {
    /// Where an outbox intent stands. Stored as `SMALLINT`; decoded with [`TryFrom<i16>`], never a panicking `From`.
    pub enum IntentStatus (StoreError::UnknownStatus) {
        /// Persisted, no nonce yet.
        Pending = 0,
        /// A nonce is assigned and the raw signed transaction is stored; maybe not broadcast yet.
        Signed = 1,
        /// Broadcast at least once; waiting for a receipt with enough confirmations.
        Sent = 2,
        /// Included and confirmed with status success (final).
        Confirmed = 3,
        /// Included and confirmed, but the transaction reverted for a reason that is not "already done" (final).
        Reverted = 4,
        /// Failed before a nonce was assigned (simulation reverted, bad intent) (final).
        Failed = 5,
        /// The contract answered with a typed `Already…` error: someone did the work (final, counts as success).
        AlreadyDone = 6,
    }
}

impl IntentStatus {
    /// The statuses an intent never leaves.
    pub const FINAL: [IntentStatus; 4] = [
        IntentStatus::Confirmed,
        IntentStatus::Reverted,
        IntentStatus::Failed,
        IntentStatus::AlreadyDone,
    ];

    /// Statuses the transaction manager still works on.
    pub const OPEN: [IntentStatus; 3] = [
        IntentStatus::Pending,
        IntentStatus::Signed,
        IntentStatus::Sent,
    ];

    /// The stored code.
    pub const fn code(self) -> i16 {
        self as i16
    }

    /// Whether the intent is done (nothing more will be sent for it).
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            IntentStatus::Confirmed
                | IntentStatus::Reverted
                | IntentStatus::Failed
                | IntentStatus::AlreadyDone
        )
    }

    /// The transition guard: whether an intent in `self` may move to `to`.
    ///
    /// A receipt can be found for a `Signed` intent (the process died after broadcasting, before recording it);
    /// a `Signed` or `Sent` intent goes back to `Pending` only when another transaction took its nonce.
    pub const fn can_transition_to(self, to: IntentStatus) -> bool {
        use IntentStatus::*;
        match self {
            Pending => matches!(to, Signed | Failed | AlreadyDone),
            Signed => matches!(to, Sent | Pending | Confirmed | Reverted | AlreadyDone),
            Sent => matches!(to, Sent | Pending | Confirmed | Reverted | AlreadyDone),
            Confirmed | Reverted | Failed | AlreadyDone => false,
        }
    }

    /// Checks [`IntentStatus::can_transition_to`].
    ///
    /// # Errors
    /// [`StoreError::InvalidTransition`] when the move is not allowed.
    pub fn check_transition(self, to: IntentStatus) -> Result<(), StoreError> {
        if self.can_transition_to(to) {
            Ok(())
        } else {
            Err(StoreError::InvalidTransition { from: self, to })
        }
    }
}

/// A transaction the keeper wants on chain, before it is persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntent {
    /// Idempotency key (`finalize:<epoch>`, `register:<ids>` …): a second intent with the same key is the same
    /// intent.
    pub key: String,
    /// The sending account (the keeper's key).
    pub sender: Address,
    /// The contract called.
    pub target: Address,
    /// The calldata.
    pub calldata: Bytes,
    /// Wei sent along.
    pub value: U256,
}

/// A persisted intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Row id.
    pub id: i64,
    /// Idempotency key.
    pub key: String,
    /// The sending account.
    pub sender: Address,
    /// The contract called.
    pub target: Address,
    /// The calldata.
    pub calldata: Bytes,
    /// Wei sent along.
    pub value: U256,
    /// Where it stands.
    pub status: IntentStatus,
    /// The assigned nonce (`Signed` and later, until re-queued).
    pub nonce: Option<u64>,
    /// The hash of the attempt that was included (final statuses after inclusion).
    pub tx_hash: Option<B256>,
    /// The block it was included in.
    pub block_number: Option<u64>,
    /// The last error or the reason for a final non-success status.
    pub error: Option<String>,
    /// Creation time (Unix milliseconds).
    pub created_at: i64,
    /// Last update (Unix milliseconds).
    pub updated_at: i64,
}

/// Whether [`super::OutboxStore::enqueue`] created the intent or found it under its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new intent with this id.
    Created(i64),
    /// An intent with the same key already existed (its id).
    Existing(i64),
}

impl Enqueued {
    /// The intent's id either way.
    pub const fn id(self) -> i64 {
        match self {
            Enqueued::Created(id) | Enqueued::Existing(id) => id,
        }
    }
}

/// One signed transaction for an intent: stored before it is broadcast, rebroadcast byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Row id.
    pub id: i64,
    /// The intent.
    pub intent_id: i64,
    /// The sender.
    pub sender: Address,
    /// The nonce.
    pub nonce: u64,
    /// The transaction hash.
    pub tx_hash: B256,
    /// The EIP-2718 encoded signed transaction.
    pub raw: Bytes,
    /// Creation time (Unix milliseconds).
    pub created_at: i64,
    /// How many times it was broadcast.
    pub broadcasts: i64,
    /// The last broadcast (Unix milliseconds).
    pub last_broadcast_at: Option<i64>,
}

/// A signed transaction produced inside the nonce transaction (see [`super::OutboxStore::sign_next`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    /// The transaction hash.
    pub tx_hash: B256,
    /// The EIP-2718 encoded signed transaction.
    pub raw: Bytes,
}

/// One final status to record ([`super::OutboxStore::finish_batch`]): the intent moves from `from` to the final
/// status `to`, with the included hash/block or the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish {
    /// The intent.
    pub id: i64,
    /// The status it must still be in (the guard).
    pub from: IntentStatus,
    /// The final status.
    pub to: IntentStatus,
    /// The included transaction's hash and block.
    pub included: Option<(B256, u64)>,
    /// The error or the reason for a final non-success status.
    pub error: Option<String>,
}

/// The last block whose logs a stream has processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Block number.
    pub block: u64,
    /// Block hash, checked on the next read to detect a reorg.
    pub hash: B256,
}

/// The leader lease as held after a successful acquire or renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Lease name (one per keeper deployment).
    pub name: String,
    /// The holder's instance id.
    pub holder: String,
    /// Expiry (Unix milliseconds).
    pub expires_at: i64,
    /// Increases each time the lease changes hands (a fencing token).
    pub term: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [IntentStatus; 7] = [
        IntentStatus::Pending,
        IntentStatus::Signed,
        IntentStatus::Sent,
        IntentStatus::Confirmed,
        IntentStatus::Reverted,
        IntentStatus::Failed,
        IntentStatus::AlreadyDone,
    ];

    #[test]
    fn status_codes_round_trip_and_reject_unknown() {
        for s in ALL {
            assert_eq!(IntentStatus::try_from(s.code()).unwrap(), s);
        }
        assert!(matches!(
            IntentStatus::try_from(7),
            Err(StoreError::UnknownStatus(7))
        ));
        assert!(IntentStatus::try_from(-1).is_err());
    }

    #[test]
    fn final_statuses_have_no_way_out() {
        for s in ALL {
            assert_eq!(IntentStatus::FINAL.contains(&s), s.is_final());
            assert_eq!(IntentStatus::OPEN.contains(&s), !s.is_final());
            if s.is_final() {
                for to in ALL {
                    assert!(s.check_transition(to).is_err(), "{s:?} -> {to:?}");
                }
            }
        }
    }

    #[test]
    fn pending_cannot_skip_signing() {
        assert!(!IntentStatus::Pending.can_transition_to(IntentStatus::Sent));
        assert!(!IntentStatus::Pending.can_transition_to(IntentStatus::Confirmed));
        assert!(IntentStatus::Pending.can_transition_to(IntentStatus::Signed));
        assert!(IntentStatus::Signed.can_transition_to(IntentStatus::Confirmed));
    }
}
