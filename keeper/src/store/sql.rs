//! The SQL behind every repository, written once and instantiated for SQLite ([`SqliteStore`]) and PostgreSQL
//! ([`PgStore`]) by `impl_store!`. Both backends accept `$n` placeholders, `ON CONFLICT`, `RETURNING` and
//! `CASE`, so one statement text serves both; only the migrations differ (types and identity columns).

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use alloy::primitives::{Address, Bytes, B256, U256};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Postgres, Row, Sqlite};

use super::{
    Attempt, BatchSignFn, Cursor, CursorStore, Enqueued, Fence, Finish, Intent, IntentStatus,
    Lease, LeaseStore, NewIntent, OutboxStore, Result, SignFn, StoreError,
};

mod batch;

/// SQLite's clock in Unix milliseconds (one expression, evaluated by the database).
const SQLITE_NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
/// PostgreSQL's clock in Unix milliseconds (`clock_timestamp()`: the time of the statement, not of the transaction
/// start).
const POSTGRES_NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// The migrations in order: `(version, description, sql)`; never edit one that shipped, add the next.
fn migrator(steps: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            steps
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect(),
        ),
        ..Migrator::DEFAULT
    }
}

const SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "receipts",
        include_str!("../../migrations/sqlite/0002_receipts.sql"),
    ),
    (
        3,
        "reorgs",
        include_str!("../../migrations/sqlite/0003_reorgs.sql"),
    ),
];

const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "receipts",
        include_str!("../../migrations/postgres/0002_receipts.sql"),
    ),
    (
        3,
        "reorgs",
        include_str!("../../migrations/postgres/0003_reorgs.sql"),
    ),
];

fn address(bytes: &[u8], what: &'static str) -> Result<Address> {
    Address::try_from(bytes).map_err(|_| StoreError::Corrupt { what })
}

fn hash(bytes: &[u8], what: &'static str) -> Result<B256> {
    B256::try_from(bytes).map_err(|_| StoreError::Corrupt { what })
}

fn u256(bytes: &[u8], what: &'static str) -> Result<U256> {
    U256::try_from_be_slice(bytes).ok_or(StoreError::Corrupt { what })
}

fn to_u64(v: i64, what: &'static str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

fn to_i64(v: u64, what: &'static str) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

fn status_list(statuses: &[IntentStatus]) -> String {
    // Codes come from the enum, never from input: safe to inline.
    statuses
        .iter()
        .map(|s| s.code().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

const INTENT_COLUMNS: &str =
    "id, idem_key, sender, target, calldata, value, status, nonce, tx_hash, \
    block_number, error, created_at, updated_at";
const ATTEMPT_COLUMNS: &str =
    "id, intent_id, sender, nonce, tx_hash, raw, created_at, broadcasts, last_broadcast_at";

/// The keeper's store on a SQLite file (WAL, `synchronous = FULL`: a committed raw transaction survives a crash).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool<Sqlite>,
    fence: Fence,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://verity-keeper.db?mode=rwc`) and migrates it.
    ///
    /// # Errors
    /// The URL is invalid, the file cannot be opened, or a migration fails.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        migrator(SQLITE_MIGRATIONS).run(&pool).await?;
        Ok(Self {
            pool,
            fence: Fence::default(),
        })
    }

    /// The pool (for tests and ad-hoc queries).
    pub fn pool(&self) -> &Pool<Sqlite> {
        &self.pool
    }
}

/// The keeper's store on PostgreSQL (replicas share it; the lease row elects the leader).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool<Postgres>,
    fence: Fence,
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:5432/db`) and migrates.
    ///
    /// # Errors
    /// The URL is invalid, the server is unreachable, or a migration fails.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(PgConnectOptions::from_str(url)?, Duration::from_secs(10)).await
    }

    /// Connects with explicit options (e.g. a `search_path`) and an acquire timeout, and migrates.
    ///
    /// # Errors
    /// The server is unreachable or a migration fails.
    pub async fn connect_with(
        options: PgConnectOptions,
        acquire_timeout: Duration,
    ) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(acquire_timeout)
            .connect_with(options)
            .await?;
        migrator(POSTGRES_MIGRATIONS).run(&pool).await?;
        Ok(Self {
            pool,
            fence: Fence::default(),
        })
    }

    /// The pool (for tests and ad-hoc queries).
    pub fn pool(&self) -> &Pool<Postgres> {
        &self.pool
    }
}

macro_rules! impl_store {
    ($store:ty, $db:ty, $now:expr) => {
        impl $store {
            /// Checks inside `tx` that `lease` is still held with its term and unexpired by the database's clock,
            /// and locks its row until `tx` ends (a takeover waits for this transaction; on SQLite the UPDATE takes
            /// the write lock first). 0 rows: [`StoreError::Fenced`].
            async fn check_lease(tx: &mut sqlx::Transaction<'static, $db>, lease: &Lease) -> Result<()> {
                let sql = format!(
                    "UPDATE leases SET term = term WHERE name = $1 AND holder = $2 AND term = $3 AND expires_at > {}",
                    $now
                );
                let held = sqlx::query(&sql)
                    .bind(&lease.name)
                    .bind(&lease.holder)
                    .bind(lease.term)
                    .execute(&mut **tx)
                    .await?;
                if held.rows_affected() != 1 {
                    return Err(StoreError::Fenced {
                        name: lease.name.clone(),
                        holder: lease.holder.clone(),
                        term: lease.term,
                    });
                }
                Ok(())
            }

            /// Begins a job/outbox write transaction, fenced by this store's [`Fence`] when set: its first
            /// statement checks the lease, so a replica that lost the lease writes nothing.
            ///
            /// # Errors
            /// The database failed, or [`StoreError::Fenced`].
            pub(crate) async fn begin_fenced(&self) -> Result<sqlx::Transaction<'static, $db>> {
                let mut tx = self.pool.begin().await?;
                if let Some(lease) = self.fence.get() {
                    Self::check_lease(&mut tx, &lease).await?;
                }
                Ok(tx)
            }

            fn intent_from_row(row: &<$db as sqlx::Database>::Row) -> Result<Intent> {
                let nonce: Option<i64> = row.try_get("nonce")?;
                let tx_hash: Option<Vec<u8>> = row.try_get("tx_hash")?;
                let block: Option<i64> = row.try_get("block_number")?;
                Ok(Intent {
                    id: row.try_get("id")?,
                    key: row.try_get("idem_key")?,
                    sender: address(&row.try_get::<Vec<u8>, _>("sender")?, "intents.sender")?,
                    target: address(&row.try_get::<Vec<u8>, _>("target")?, "intents.target")?,
                    calldata: Bytes::from(row.try_get::<Vec<u8>, _>("calldata")?),
                    value: u256(&row.try_get::<Vec<u8>, _>("value")?, "intents.value")?,
                    status: IntentStatus::try_from(row.try_get::<i16, _>("status")?)?,
                    nonce: nonce.map(|n| to_u64(n, "intents.nonce")).transpose()?,
                    tx_hash: tx_hash.map(|h| hash(&h, "intents.tx_hash")).transpose()?,
                    block_number: block.map(|b| to_u64(b, "intents.block_number")).transpose()?,
                    error: row.try_get("error")?,
                    created_at: row.try_get("created_at")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            fn attempt_from_row(row: &<$db as sqlx::Database>::Row) -> Result<Attempt> {
                Ok(Attempt {
                    id: row.try_get("id")?,
                    intent_id: row.try_get("intent_id")?,
                    sender: address(&row.try_get::<Vec<u8>, _>("sender")?, "attempts.sender")?,
                    nonce: to_u64(row.try_get("nonce")?, "attempts.nonce")?,
                    tx_hash: hash(&row.try_get::<Vec<u8>, _>("tx_hash")?, "attempts.tx_hash")?,
                    raw: Bytes::from(row.try_get::<Vec<u8>, _>("raw")?),
                    created_at: row.try_get("created_at")?,
                    broadcasts: row.try_get("broadcasts")?,
                    last_broadcast_at: row.try_get("last_broadcast_at")?,
                })
            }
        }

        impl OutboxStore for $store {
            async fn enqueue(&self, intent: &NewIntent, now_ms: i64) -> Result<Enqueued> {
                let mut tx = self.begin_fenced().await?;
                let inserted = sqlx::query(
                    "INSERT INTO intents (idem_key, sender, target, calldata, value, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (idem_key) DO NOTHING RETURNING id",
                )
                .bind(&intent.key)
                .bind(intent.sender.as_slice())
                .bind(intent.target.as_slice())
                .bind(intent.calldata.as_ref())
                .bind(intent.value.to_be_bytes::<32>().as_slice())
                .bind(IntentStatus::Pending.code())
                .bind(now_ms)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = inserted {
                    let id = row.try_get("id")?;
                    tx.commit().await?;
                    return Ok(Enqueued::Created(id));
                }
                let row = sqlx::query("SELECT id FROM intents WHERE idem_key = $1")
                    .bind(&intent.key)
                    .fetch_one(&mut *tx)
                    .await?;
                let id = row.try_get("id")?;
                tx.commit().await?;
                Ok(Enqueued::Existing(id))
            }

            async fn intent(&self, id: i64) -> Result<Option<Intent>> {
                let sql = format!("SELECT {INTENT_COLUMNS} FROM intents WHERE id = $1");
                let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::intent_from_row).transpose()
            }

            async fn intent_by_key(&self, key: &str) -> Result<Option<Intent>> {
                let sql = format!("SELECT {INTENT_COLUMNS} FROM intents WHERE idem_key = $1");
                let row = sqlx::query(&sql).bind(key).fetch_optional(&self.pool).await?;
                row.as_ref().map(Self::intent_from_row).transpose()
            }

            async fn intents_in(&self, statuses: &[IntentStatus], limit: i64) -> Result<Vec<Intent>> {
                if statuses.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT {INTENT_COLUMNS} FROM intents WHERE status IN ({}) ORDER BY id LIMIT $1",
                    status_list(statuses)
                );
                let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map(Self::intent_from_row).collect()
            }

            async fn latest_intents(&self, limit: i64) -> Result<Vec<Intent>> {
                let sql = format!("SELECT {INTENT_COLUMNS} FROM intents ORDER BY id DESC LIMIT $1");
                let rows = sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map(Self::intent_from_row).collect()
            }

            async fn count_by_status(&self) -> Result<Vec<(IntentStatus, i64)>> {
                let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM intents GROUP BY status ORDER BY status")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((IntentStatus::try_from(r.try_get::<i16, _>("status")?)?, r.try_get::<i64, _>("n")?)))
                    .collect()
            }

            async fn sign_next(
                &self,
                id: i64,
                chain_floor: u64,
                sign: &SignFn<'_>,
                now_ms: i64,
            ) -> Result<Attempt> {
                self.sign_next_fenced(id, chain_floor, sign, now_ms, None).await
            }

            async fn sign_next_fenced(
                &self,
                id: i64,
                chain_floor: u64,
                sign: &SignFn<'_>,
                now_ms: i64,
                lease: Option<&super::Lease>,
            ) -> Result<Attempt> {
                // One intent is a batch of one: the same claim, nonce reservation and attempt, in one transaction.
                let one = |_: usize, nonce: u64| sign(nonce);
                let mut attempts = self.sign_batch_tx(&[id], chain_floor, &one, now_ms, lease).await?;
                attempts.pop().ok_or(StoreError::Corrupt { what: "attempts" })
            }

            async fn sign_batch(
                &self,
                ids: &[i64],
                chain_floor: u64,
                sign: &BatchSignFn<'_>,
                now_ms: i64,
                lease: Option<&Lease>,
            ) -> Result<Vec<Attempt>> {
                self.sign_batch_tx(ids, chain_floor, sign, now_ms, lease).await
            }

            async fn attempts_of(&self, ids: &[i64]) -> Result<Vec<Attempt>> {
                self.attempts_of_query(ids).await
            }

            async fn mark_sent_batch(&self, attempt_ids: &[i64], now_ms: i64) -> Result<()> {
                self.mark_sent_batch_tx(attempt_ids, now_ms).await
            }

            async fn finish_batch(&self, items: &[Finish], now_ms: i64) -> Result<()> {
                self.finish_batch_tx(items, now_ms).await
            }

            async fn add_attempt(&self, id: i64, signed: &super::SignedTx, now_ms: i64) -> Result<Attempt> {
                let intent = self.intent(id).await?.ok_or(StoreError::Conflict { id, expected: IntentStatus::Sent })?;
                let nonce = match (intent.status, intent.nonce) {
                    (IntentStatus::Signed | IntentStatus::Sent, Some(n)) => to_i64(n, "intents.nonce")?,
                    (status, _) => return Err(StoreError::Conflict { id, expected: if status == IntentStatus::Signed { IntentStatus::Sent } else { IntentStatus::Signed } }),
                };
                let sql = format!(
                    "INSERT INTO attempts (intent_id, sender, nonce, tx_hash, raw, created_at, broadcasts) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING {ATTEMPT_COLUMNS}"
                );
                let mut tx = self.begin_fenced().await?;
                let row = sqlx::query(&sql)
                    .bind(id)
                    .bind(intent.sender.as_slice())
                    .bind(nonce)
                    .bind(signed.tx_hash.as_slice())
                    .bind(signed.raw.as_ref())
                    .bind(now_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                let attempt = Self::attempt_from_row(&row)?;
                tx.commit().await?;
                Ok(attempt)
            }

            async fn attempts(&self, intent_id: i64) -> Result<Vec<Attempt>> {
                let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE intent_id = $1 ORDER BY id");
                let rows = sqlx::query(&sql).bind(intent_id).fetch_all(&self.pool).await?;
                rows.iter().map(Self::attempt_from_row).collect()
            }

            async fn attempts_for_nonce(&self, sender: Address, nonce: u64) -> Result<Vec<Attempt>> {
                let sql = format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE sender = $1 AND nonce = $2 ORDER BY id"
                );
                let rows = sqlx::query(&sql)
                    .bind(sender.as_slice())
                    .bind(to_i64(nonce, "nonce")?)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(Self::attempt_from_row).collect()
            }

            async fn mark_sent(&self, attempt_id: i64, now_ms: i64) -> Result<()> {
                self.mark_sent_batch_tx(&[attempt_id], now_ms).await
            }

            async fn finish(
                &self,
                id: i64,
                from: IntentStatus,
                to: IntentStatus,
                included: Option<(B256, u64)>,
                error: Option<&str>,
                now_ms: i64,
            ) -> Result<()> {
                from.check_transition(to)?;
                if !to.is_final() {
                    return Err(StoreError::InvalidTransition { from, to });
                }
                let (hash, block) = match included {
                    Some((h, b)) => (Some(h.to_vec()), Some(to_i64(b, "block")?)),
                    None => (None, None),
                };
                let mut tx = self.begin_fenced().await?;
                let done = sqlx::query(
                    "UPDATE intents SET status = $1, tx_hash = $2, block_number = $3, error = $4, updated_at = $5 \
                     WHERE id = $6 AND status = $7",
                )
                .bind(to.code())
                .bind(hash)
                .bind(block)
                .bind(error)
                .bind(now_ms)
                .bind(id)
                .bind(from.code())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict { id, expected: from });
                }
                tx.commit().await?;
                Ok(())
            }

            async fn confirmed_since(&self, block: u64, limit: i64) -> Result<Vec<Intent>> {
                let sql = format!(
                    "SELECT {INTENT_COLUMNS} FROM intents WHERE status = $1 AND block_number >= $2 ORDER BY block_number, id LIMIT $3"
                );
                let rows = sqlx::query(&sql)
                    .bind(IntentStatus::Confirmed.code())
                    .bind(to_i64(block, "block")?)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(Self::intent_from_row).collect()
            }

            async fn reopen(&self, id: i64, reason: &str, now_ms: i64) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                let done = sqlx::query(
                    "UPDATE intents SET status = $1, tx_hash = NULL, block_number = NULL, error = $2, updated_at = $3 \
                     WHERE id = $4 AND status = $5",
                )
                .bind(IntentStatus::Sent.code())
                .bind(reason)
                .bind(now_ms)
                .bind(id)
                .bind(IntentStatus::Confirmed.code())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict { id, expected: IntentStatus::Confirmed });
                }
                tx.commit().await?;
                Ok(())
            }

            async fn requeue(
                &self,
                id: i64,
                from: IntentStatus,
                chain_nonce: u64,
                reason: &str,
                now_ms: i64,
            ) -> Result<()> {
                from.check_transition(IntentStatus::Pending)?;
                let floor = to_i64(chain_nonce, "chain nonce")?;
                let mut tx = self.begin_fenced().await?;
                let row = sqlx::query(
                    "UPDATE intents SET status = $1, nonce = NULL, error = $2, updated_at = $3 \
                     WHERE id = $4 AND status = $5 RETURNING sender",
                )
                .bind(IntentStatus::Pending.code())
                .bind(reason)
                .bind(now_ms)
                .bind(id)
                .bind(from.code())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    return Err(StoreError::Conflict { id, expected: from });
                };
                let sender: Vec<u8> = row.try_get("sender")?;
                sqlx::query(
                    "UPDATE nonces SET next_nonce = CASE WHEN next_nonce >= $1 THEN next_nonce ELSE $1 END WHERE sender = $2",
                )
                .bind(floor)
                .bind(&sender)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        }

        impl CursorStore for $store {
            async fn cursor(&self, stream: &str) -> Result<Option<Cursor>> {
                let row = sqlx::query("SELECT block_number, block_hash FROM cursors WHERE stream = $1")
                    .bind(stream)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok(Cursor {
                        block: to_u64(r.try_get("block_number")?, "cursors.block_number")?,
                        hash: hash(&r.try_get::<Vec<u8>, _>("block_hash")?, "cursors.block_hash")?,
                    })
                })
                .transpose()
            }

            async fn set_cursor(&self, stream: &str, cursor: Cursor) -> Result<()> {
                let mut tx = self.begin_fenced().await?;
                sqlx::query(
                    "INSERT INTO cursors (stream, block_number, block_hash) VALUES ($1, $2, $3) \
                     ON CONFLICT (stream) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash",
                )
                .bind(stream)
                .bind(to_i64(cursor.block, "block")?)
                .bind(cursor.hash.as_slice())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
        }

        impl LeaseStore for $store {
            async fn try_acquire(&self, name: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<Option<Lease>> {
                let expires = now_ms.saturating_add(ttl_ms);
                sqlx::query(
                    "INSERT INTO leases (name, holder, expires_at, term) VALUES ($1, '', 0, 0) ON CONFLICT (name) DO NOTHING",
                )
                .bind(name)
                .execute(&self.pool)
                .await?;
                // One conditional UPDATE: the row lock serialises competing instances; the term grows when the
                // holder changes.
                let row = sqlx::query(
                    "UPDATE leases SET term = CASE WHEN holder = $2 THEN term ELSE term + 1 END, holder = $2, expires_at = $3 \
                     WHERE name = $1 AND (holder = $2 OR expires_at <= $4) RETURNING name, holder, expires_at, term",
                )
                .bind(name)
                .bind(holder)
                .bind(expires)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(Lease {
                        name: r.try_get("name")?,
                        holder: r.try_get("holder")?,
                        expires_at: r.try_get("expires_at")?,
                        term: r.try_get("term")?,
                    })
                })
                .transpose()
            }

            async fn release(&self, name: &str, holder: &str) -> Result<()> {
                sqlx::query("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
                    .bind(name)
                    .bind(holder)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn db_now_ms(&self) -> Result<i64> {
                let row = sqlx::query(&format!("SELECT {} AS now_ms", $now)).fetch_one(&self.pool).await?;
                Ok(row.try_get("now_ms")?)
            }

            fn fence(&self) -> &Fence {
                &self.fence
            }

            async fn lease(&self, name: &str) -> Result<Option<Lease>> {
                let row = sqlx::query("SELECT name, holder, expires_at, term FROM leases WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|r| {
                    Ok(Lease {
                        name: r.try_get("name")?,
                        holder: r.try_get("holder")?,
                        expires_at: r.try_get("expires_at")?,
                        term: r.try_get("term")?,
                    })
                })
                .transpose()
            }
        }
    };
}

impl_store!(SqliteStore, Sqlite, SQLITE_NOW_MS);
impl_store!(PgStore, Postgres, POSTGRES_NOW_MS);
