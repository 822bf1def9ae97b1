//! The outbox's batch statements (one database transaction for many intents: signing a batch, recording its
//! broadcasts, recording final statuses), instantiated for both backends like the rest of [`super`]; the
//! [`crate::store::OutboxStore`] implementations delegate here.

use sqlx::Row;

use super::{to_i64, to_u64, ATTEMPT_COLUMNS};
use crate::store::{
    Attempt, BatchSignFn, Finish, IntentStatus, Lease, PgStore, Result, SqliteStore, StoreError,
};

fn id_list(ids: &[i64]) -> String {
    // Row ids are integers the store handed out: safe to inline.
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

macro_rules! impl_batch {
    ($store:ty) => {
        impl $store {
        pub(super) async fn sign_batch_tx(
            &self,
            ids: &[i64],
            chain_floor: u64,
            sign: &BatchSignFn<'_>,
            now_ms: i64,
            lease: Option<&Lease>,
        ) -> Result<Vec<Attempt>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            IntentStatus::Pending.check_transition(IntentStatus::Signed)?;
            let floor = to_i64(chain_floor, "nonce floor")?;
            let count = i64::try_from(ids.len()).map_err(|_| StoreError::Corrupt { what: "batch size" })?;
            let mut tx = self.begin_fenced().await?;
            if let Some(lease) = lease {
                Self::check_lease(&mut tx, lease).await?;
            }
            // Claim every intent first (write locks before any read), all or nothing.
            let mut sender: Option<Vec<u8>> = None;
            for &id in ids {
                let claimed = sqlx::query(
                    "UPDATE intents SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4 RETURNING sender",
                )
                .bind(IntentStatus::Signed.code())
                .bind(now_ms)
                .bind(id)
                .bind(IntentStatus::Pending.code())
                .fetch_optional(&mut *tx)
                .await?;
                let Some(claimed) = claimed else {
                    return Err(StoreError::Conflict { id, expected: IntentStatus::Pending });
                };
                let s: Vec<u8> = claimed.try_get("sender")?;
                match &sender {
                    Some(first) if *first != s => return Err(StoreError::MixedSenders),
                    Some(_) => {}
                    None => sender = Some(s),
                }
            }
            let sender = sender.unwrap_or_default();
            sqlx::query("INSERT INTO nonces (sender, next_nonce) VALUES ($1, $2) ON CONFLICT (sender) DO NOTHING")
                .bind(&sender)
                .bind(floor)
                .execute(&mut *tx)
                .await?;
            // One counter update reserves the whole run of consecutive nonces.
            let row = sqlx::query(
                "UPDATE nonces SET next_nonce = (CASE WHEN next_nonce >= $1 THEN next_nonce ELSE $1 END) + $3 \
                 WHERE sender = $2 RETURNING next_nonce",
            )
            .bind(floor)
            .bind(&sender)
            .bind(count)
            .fetch_one(&mut *tx)
            .await?;
            let next: i64 = row.try_get("next_nonce")?;
            let first = next - count;
            let sql = format!(
                "INSERT INTO attempts (intent_id, sender, nonce, tx_hash, raw, created_at, broadcasts) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0) RETURNING {ATTEMPT_COLUMNS}"
            );
            let mut attempts = Vec::with_capacity(ids.len());
            for (i, &id) in ids.iter().enumerate() {
                // Overflow not possible: i < count and first + count = next fits in i64.
                let nonce = first + i as i64;
                let signed = sign(i, to_u64(nonce, "nonces.next_nonce")?).map_err(StoreError::Sign)?;
                sqlx::query("UPDATE intents SET nonce = $1 WHERE id = $2")
                    .bind(nonce)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let row = sqlx::query(&sql)
                    .bind(id)
                    .bind(&sender)
                    .bind(nonce)
                    .bind(signed.tx_hash.as_slice())
                    .bind(signed.raw.as_ref())
                    .bind(now_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                attempts.push(Self::attempt_from_row(&row)?);
            }
            tx.commit().await?;
            Ok(attempts)
        }

        pub(super) async fn attempts_of_query(&self, ids: &[i64]) -> Result<Vec<Attempt>> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE intent_id IN ({}) ORDER BY intent_id, id",
                id_list(ids)
            );
            let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
            rows.iter().map(Self::attempt_from_row).collect()
        }

        pub(super) async fn mark_sent_batch_tx(&self, attempt_ids: &[i64], now_ms: i64) -> Result<()> {
            if attempt_ids.is_empty() {
                return Ok(());
            }
            let mut tx = self.begin_fenced().await?;
            for &attempt_id in attempt_ids {
                let row = sqlx::query(
                    "UPDATE attempts SET broadcasts = broadcasts + 1, last_broadcast_at = $1 WHERE id = $2 RETURNING intent_id",
                )
                .bind(now_ms)
                .bind(attempt_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = row else {
                    return Err(StoreError::Corrupt { what: "attempts.id" });
                };
                let intent_id: i64 = row.try_get("intent_id")?;
                let done = sqlx::query(
                    "UPDATE intents SET status = $1, updated_at = $2 WHERE id = $3 AND status IN ($4, $1)",
                )
                .bind(IntentStatus::Sent.code())
                .bind(now_ms)
                .bind(intent_id)
                .bind(IntentStatus::Signed.code())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict { id: intent_id, expected: IntentStatus::Signed });
                }
            }
            tx.commit().await?;
            Ok(())
        }

        pub(super) async fn finish_batch_tx(&self, items: &[Finish], now_ms: i64) -> Result<()> {
            if items.is_empty() {
                return Ok(());
            }
            for item in items {
                item.from.check_transition(item.to)?;
                if !item.to.is_final() {
                    return Err(StoreError::InvalidTransition { from: item.from, to: item.to });
                }
            }
            let mut tx = self.begin_fenced().await?;
            for item in items {
                let (hash, block) = match item.included {
                    Some((h, b)) => (Some(h.to_vec()), Some(to_i64(b, "block")?)),
                    None => (None, None),
                };
                let done = sqlx::query(
                    "UPDATE intents SET status = $1, tx_hash = $2, block_number = $3, error = $4, updated_at = $5 \
                     WHERE id = $6 AND status = $7",
                )
                .bind(item.to.code())
                .bind(hash)
                .bind(block)
                .bind(item.error.as_deref())
                .bind(now_ms)
                .bind(item.id)
                .bind(item.from.code())
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Conflict { id: item.id, expected: item.from });
                }
            }
            tx.commit().await?;
            Ok(())
        }
        }
    };
}

impl_batch!(SqliteStore);
impl_batch!(PgStore);
