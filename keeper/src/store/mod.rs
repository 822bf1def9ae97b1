//! The store: sqlx repositories over SQLite (default) and PostgreSQL (replicas), one trait per concept
//! ([`OutboxStore`], [`CursorStore`], [`LeaseStore`]), the same SQL on both backends, `migrations/` run at start.
//!
//! Both backends implement every trait from one macro body (`sql`) and pass one test suite (`tests`).

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};

use alloy::primitives::Address;

mod sql;
pub mod types;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

pub use sql::{PgStore, SqliteStore};
pub use types::{
    Attempt, Cursor, Enqueued, Finish, Intent, IntentStatus, Lease, NewIntent, SignedTx,
};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Running migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The URL names no supported database (`sqlite:` or `postgres:`).
    #[error("unsupported database URL scheme in {0:?} (use sqlite:// or postgres://)")]
    UnsupportedUrl(String),
    /// A stored status code is not an [`IntentStatus`].
    #[error("unknown intent status code {0}")]
    UnknownStatus(i16),
    /// A stored value has the wrong shape (`what` names the column).
    #[error("corrupt value in column {what}")]
    Corrupt {
        /// The column.
        what: &'static str,
    },
    /// A status change the state machine does not allow.
    #[error("invalid intent transition {from:?} -> {to:?}")]
    InvalidTransition {
        /// Current status.
        from: IntentStatus,
        /// Requested status.
        to: IntentStatus,
    },
    /// The intent was not in the expected status any more (changed concurrently) or does not exist.
    #[error("intent {id} is not in status {expected:?}")]
    Conflict {
        /// The intent.
        id: i64,
        /// The status the update required.
        expected: IntentStatus,
    },
    /// A batch to sign holds intents of more than one sender (one nonce counter per batch).
    #[error("one signing batch holds intents of several senders")]
    MixedSenders,
    /// Signing inside the nonce transaction failed (nothing was stored, the nonce was not consumed).
    #[error("signing failed: {0}")]
    Sign(String),
    /// A write lost a race with a concurrent writer on rows it had read (e.g. another replica batched the same
    /// receipts first): nothing was stored; the next pass re-reads and decides again. Transient.
    #[error("lost a race: {what}")]
    Raced {
        /// What changed underneath.
        what: &'static str,
    },
    /// The lease named as the fencing token is no longer held with that term (another instance took over, or
    /// it expired): this instance must not allocate a nonce. Transient: the next pass ticks the lease again.
    #[error("fenced: lease {name} term {term} of {holder} is no longer held")]
    Fenced {
        /// The lease.
        name: String,
        /// The instance that thought it held it.
        holder: String,
        /// Its term.
        term: i64,
    },
}

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Db(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Tls(_) => true,
                sqlx::Error::Database(db) => {
                    // SQLite busy/locked, PostgreSQL serialization/deadlock/connection classes.
                    let code = db.code();
                    matches!(
                        code.as_deref(),
                        Some("5" | "6" | "40001" | "40P01" | "57P01" | "08000" | "08003" | "08006")
                    )
                }
                _ => false,
            },
            StoreError::Conflict { .. } | StoreError::Fenced { .. } | StoreError::Raced { .. } => {
                true
            }
            StoreError::Migrate(_)
            | StoreError::UnsupportedUrl(_)
            | StoreError::UnknownStatus(_)
            | StoreError::Corrupt { .. }
            | StoreError::InvalidTransition { .. }
            | StoreError::MixedSenders
            | StoreError::Sign(_) => false,
        }
    }
}

/// The fencing token of one store (shared by its clones): the lease its instance last acquired. Set by
/// [`crate::lease::Leadership`] on every successful tick and cleared only by a graceful release (the instance
/// stopped leading on purpose), so an instance that *lost* the lease stays fenced until it acquires it again. While set, every job and outbox write transaction of the store first checks
/// — by the database's clock, inside the transaction — that the lease row still names this holder with this term
/// and has not expired ([`StoreError::Fenced`] otherwise, nothing written). Unset (a tool, a test, a dry run):
/// writes are unfenced.
#[derive(Debug, Clone, Default)]
pub struct Fence(Arc<RwLock<Option<Lease>>>);

impl Fence {
    /// Fences later writes by `lease`.
    pub fn set(&self, lease: &Lease) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(lease.clone());
    }

    /// Unfences (after the lease was released on purpose).
    pub fn clear(&self) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The lease writes are fenced by, if any.
    pub fn get(&self) -> Option<Lease> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Signs the intent's transaction with the nonce the store allocated; called inside the database transaction that
/// assigns the nonce, so the nonce, the intent's status and the raw transaction are committed together.
pub type SignFn<'a> = dyn Fn(u64) -> std::result::Result<SignedTx, String> + Send + Sync + 'a;

/// Signs the `i`-th intent of a batch with the nonce the store allocated to it (see
/// [`OutboxStore::sign_batch`]); called inside the one database transaction that assigns every nonce of the batch.
pub type BatchSignFn<'a> =
    dyn Fn(usize, u64) -> std::result::Result<SignedTx, String> + Send + Sync + 'a;

/// The SQL outbox: intents, their signed attempts and the database-owned nonce counter.
pub trait OutboxStore: Send + Sync + 'static {
    /// Persists an intent unless one with the same key exists (then returns that one's id).
    fn enqueue(
        &self,
        intent: &NewIntent,
        now_ms: i64,
    ) -> impl Future<Output = Result<Enqueued>> + Send;

    /// One intent by id.
    fn intent(&self, id: i64) -> impl Future<Output = Result<Option<Intent>>> + Send;

    /// One intent by idempotency key.
    fn intent_by_key(&self, key: &str) -> impl Future<Output = Result<Option<Intent>>> + Send;

    /// Intents in any of `statuses`, oldest first, at most `limit`.
    fn intents_in(
        &self,
        statuses: &[IntentStatus],
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Intent>>> + Send;

    /// The `limit` most recently created intents, newest first (for `status`).
    fn latest_intents(&self, limit: i64) -> impl Future<Output = Result<Vec<Intent>>> + Send;

    /// Counts intents per status (for metrics and `status`).
    fn count_by_status(&self) -> impl Future<Output = Result<Vec<(IntentStatus, i64)>>> + Send;

    /// In one database transaction: allocates the sender's next nonce (at least `chain_floor`), signs with it,
    /// moves the intent `Pending` → `Signed` with that nonce and stores the attempt. On any error nothing is
    /// stored and the nonce is not consumed.
    fn sign_next(
        &self,
        id: i64,
        chain_floor: u64,
        sign: &SignFn<'_>,
        now_ms: i64,
    ) -> impl Future<Output = Result<Attempt>> + Send;

    /// [`OutboxStore::sign_next`] fenced by `lease`: inside the same database transaction, the lease row must
    /// still name `lease.holder` with `lease.term`, unexpired at `now_ms`; otherwise [`StoreError::Fenced`] and
    /// nothing is stored (a deposed leader never allocates a nonce). `None` signs unfenced.
    fn sign_next_fenced(
        &self,
        id: i64,
        chain_floor: u64,
        sign: &SignFn<'_>,
        now_ms: i64,
        lease: Option<&Lease>,
    ) -> impl Future<Output = Result<Attempt>> + Send;

    /// [`OutboxStore::sign_next_fenced`] for many intents in ONE database transaction (one commit, one fsync): the
    /// fencing tokens are checked first, every intent in `ids` moves `Pending` → `Signed` with consecutive nonces
    /// from the sender's counter (at least `chain_floor`), in the order of `ids`, and each raw transaction
    /// `sign(i, nonce)` returns is stored as its attempt before anything is broadcast. All or nothing: when any
    /// intent is no longer `Pending` ([`StoreError::Conflict`]), the intents have different senders
    /// ([`StoreError::MixedSenders`]), signing fails or the lease is lost, nothing is stored and no nonce is
    /// consumed. Returns the attempts in the order of `ids`.
    fn sign_batch(
        &self,
        ids: &[i64],
        chain_floor: u64,
        sign: &BatchSignFn<'_>,
        now_ms: i64,
        lease: Option<&Lease>,
    ) -> impl Future<Output = Result<Vec<Attempt>>> + Send;

    /// Every attempt of the intents `ids`, by intent then oldest first (one query for a whole pass).
    fn attempts_of(&self, ids: &[i64]) -> impl Future<Output = Result<Vec<Attempt>>> + Send;

    /// [`OutboxStore::mark_sent`] for many broadcast attempts in one database transaction (all or nothing).
    fn mark_sent_batch(
        &self,
        attempt_ids: &[i64],
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// [`OutboxStore::finish`] for many intents in one database transaction: all or nothing (a guard that fails
    /// is [`StoreError::Conflict`] and nothing is recorded).
    fn finish_batch(
        &self,
        items: &[Finish],
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Stores another signed attempt for a `Signed`/`Sent` intent at its current nonce (not used on Arbitrum:
    /// no fee bumping there).
    fn add_attempt(
        &self,
        id: i64,
        signed: &SignedTx,
        now_ms: i64,
    ) -> impl Future<Output = Result<Attempt>> + Send;

    /// Every attempt of an intent, oldest first.
    fn attempts(&self, intent_id: i64) -> impl Future<Output = Result<Vec<Attempt>>> + Send;

    /// Every attempt (of any intent) that used `nonce` for `sender`.
    fn attempts_for_nonce(
        &self,
        sender: Address,
        nonce: u64,
    ) -> impl Future<Output = Result<Vec<Attempt>>> + Send;

    /// Records a broadcast of an attempt and moves its intent `Signed`/`Sent` → `Sent`.
    fn mark_sent(&self, attempt_id: i64, now_ms: i64) -> impl Future<Output = Result<()>> + Send;

    /// Moves an intent from `from` to a final status `to` (guarded), recording the included hash/block or error.
    fn finish(
        &self,
        id: i64,
        from: IntentStatus,
        to: IntentStatus,
        included: Option<(alloy::primitives::B256, u64)>,
        error: Option<&str>,
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// `Confirmed` intents included at or after `block`, oldest first, at most `limit` (checked for reorgs).
    fn confirmed_since(
        &self,
        block: u64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<Intent>>> + Send;

    /// A reorg removed a `Confirmed` intent's transaction from the chain: back to `Sent` (nonce and attempts
    /// kept, inclusion cleared), so the outbox rebroadcasts it — or re-queues it if another transaction took the
    /// nonce — like any sent intent.
    fn reopen(&self, id: i64, reason: &str, now_ms: i64)
        -> impl Future<Output = Result<()>> + Send;

    /// Another transaction took the intent's nonce: back to `Pending` without a nonce, and the sender's counter
    /// moved to at least `chain_nonce`.
    fn requeue(
        &self,
        id: i64,
        from: IntentStatus,
        chain_nonce: u64,
        reason: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The persisted `(block, hash)` cursor of each event stream.
pub trait CursorStore: Send + Sync + 'static {
    /// The stream's cursor, `None` before its first read.
    fn cursor(&self, stream: &str) -> impl Future<Output = Result<Option<Cursor>>> + Send;

    /// Stores the stream's cursor.
    fn set_cursor(&self, stream: &str, cursor: Cursor) -> impl Future<Output = Result<()>> + Send;
}

/// The leader lease: one row per name with holder and expiry.
pub trait LeaseStore: Send + Sync + 'static {
    /// Takes the lease for `holder` if it is free, expired, or already `holder`'s (renewal); returns it when
    /// held after the call.
    fn try_acquire(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<Option<Lease>>> + Send;

    /// Gives the lease up if `holder` holds it (graceful shutdown: another instance takes over at once).
    fn release(&self, name: &str, holder: &str) -> impl Future<Output = Result<()>> + Send;

    /// The lease row as stored.
    fn lease(&self, name: &str) -> impl Future<Output = Result<Option<Lease>>> + Send;

    /// The database's clock in Unix milliseconds: every replica judges lease expiry by this one clock.
    fn db_now_ms(&self) -> impl Future<Output = Result<i64>> + Send;

    /// This store's fencing token ([`Fence`]); the lease sets it, job writes check it.
    fn fence(&self) -> &Fence;
}

/// Every repository together: what the keeper needs from a backend.
pub trait Store: OutboxStore + CursorStore + LeaseStore + Clone {}

impl<T: OutboxStore + CursorStore + LeaseStore + Clone> Store for T {}
