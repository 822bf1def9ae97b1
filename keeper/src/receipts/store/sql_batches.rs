//! The SQL of the receipts' repository, part: Batches and their leaves: building and abandoning ours, reading any, storing others' leaves and the watcher's
//! verdicts, and the inclusion queries behind challenges, proofs and refunds.
//!
//! The methods of [`super::ReceiptStore`] as a macro expanded inside each backend's `impl` by [`super::sql`]
//! (names resolve there).

/// Expands to this part's methods of `impl ReceiptStore for <backend>`.
macro_rules! batch_methods {
    () => {
        async fn build_batch(&self, root: B256, request_ids: &[B256], now_ms: i64) -> Result<i64> {
            let count = i64::try_from(request_ids.len()).map_err(|_| StoreError::Corrupt { what: "batch size" })?;
            let mut tx = self.begin_fenced().await?;
            let row = sqlx::query(
                "INSERT INTO receipt_batches (root, ours, leaf_count, status, created_at) VALUES ($1, 1, $2, $3, $4) RETURNING id",
            )
            .bind(root.as_slice())
            .bind(count)
            .bind(BUILT)
            .bind(now_ms)
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = row.try_get("id")?;
            for chunk in request_ids.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO batch_leaves (batch_id, leaf, request_id, signed) \
                     SELECT $1, leaf, request_id, signed FROM receipts WHERE request_id IN ({}) AND state + 0 = $2",
                    placeholders(3, chunk.len())
                );
                let mut q = sqlx::query(&sql).bind(id).bind(ANSWERED);
                for r in chunk {
                    q = q.bind(r.as_slice());
                }
                let inserted = q.execute(&mut *tx).await?.rows_affected();
                let sql = format!(
                    "UPDATE receipts SET state = $1, batch_id = $2 WHERE request_id IN ({}) AND state + 0 = $3",
                    placeholders(4, chunk.len())
                );
                let mut q = sqlx::query(&sql).bind(BATCHED).bind(id).bind(ANSWERED);
                for r in chunk {
                    q = q.bind(r.as_slice());
                }
                let moved = q.execute(&mut *tx).await?.rows_affected();
                if inserted != chunk.len() as u64 || moved != chunk.len() as u64 {
                    // Dropping the transaction rolls everything back.
                    return Err(StoreError::Raced { what: "receipts.state (a receipt to batch was no longer waiting: another writer batched it first)" });
                }
            }
            tx.commit().await?;
            Ok(id)
        }

        async fn abandon_batch(&self, id: i64) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            let done = sqlx::query("UPDATE receipt_batches SET status = $1 WHERE id = $2 AND status = $3")
                .bind(ABANDONED)
                .bind(id)
                .bind(BUILT)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 1 {
                sqlx::query("UPDATE receipts SET state = $1, batch_id = NULL WHERE batch_id = $2 AND state = $3")
                    .bind(ANSWERED)
                    .bind(id)
                    .bind(BATCHED)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn batch(&self, id: i64) -> Result<Option<BatchRow>> {
            let sql = format!("SELECT {BATCH_COLUMNS} FROM receipt_batches WHERE id = $1");
            let row = sqlx::query(&sql).bind(id).fetch_optional(self.pool()).await?;
            row.as_ref().map(Self::batch_from_row).transpose()
        }

        async fn batches_by_root(&self, root: B256) -> Result<Vec<BatchRow>> {
            let sql = format!("SELECT {BATCH_COLUMNS} FROM receipt_batches WHERE root = $1 ORDER BY id DESC");
            let rows = sqlx::query(&sql).bind(root.as_slice()).fetch_all(self.pool()).await?;
            rows.iter().map(Self::batch_from_row).collect()
        }

        async fn batches_in(&self, status: BatchStatus, ours: bool) -> Result<Vec<BatchRow>> {
            let sql = format!(
                "SELECT {BATCH_COLUMNS} FROM receipt_batches WHERE status = $1 AND ours = $2 ORDER BY id"
            );
            let rows = sqlx::query(&sql)
                .bind(status as i16)
                .bind(i16::from(ours))
                .fetch_all(self.pool())
                .await?;
            rows.iter().map(Self::batch_from_row).collect()
        }

        async fn leaves(&self, batch_id: i64) -> Result<Vec<LeafRow>> {
            let rows = sqlx::query("SELECT leaf, request_id, signed FROM batch_leaves WHERE batch_id = $1")
                .bind(batch_id)
                .fetch_all(self.pool())
                .await?;
            rows.iter().map(Self::leaf_from_row).collect()
        }

        async fn store_leaves(&self, batch_id: i64, leaves: &[LeafRow]) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            for chunk in leaves.chunks(CHUNK / 2) {
                let values = (0..chunk.len())
                    .map(|i| format!("($1, ${}, ${}, ${})", 2 + 3 * i, 3 + 3 * i, 4 + 3 * i))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO batch_leaves (batch_id, leaf, request_id, signed) VALUES {values} \
                     ON CONFLICT (batch_id, leaf) DO NOTHING"
                );
                let mut q = sqlx::query(&sql).bind(batch_id);
                for l in chunk {
                    q = q.bind(l.leaf.as_slice()).bind(l.request_id.as_slice()).bind(l.signed.as_ref());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        }

        async fn set_checked(&self, batch_id: i64, checked: Checked, challenge: Option<&Bytes>) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            sqlx::query("UPDATE receipt_batches SET checked = $1, challenge = $2 WHERE id = $3")
                .bind(checked as i16)
                .bind(challenge.map(|c| c.to_vec()))
                .bind(batch_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn live_batches_with(&self, request_id: B256) -> Result<Vec<BatchRow>> {
            let sql = format!(
                "SELECT DISTINCT {} FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                 WHERE l.request_id = $1 AND b.status = $2 ORDER BY b.id",
                BATCH_COLUMNS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ")
            );
            let rows = sqlx::query(&sql)
                .bind(request_id.as_slice())
                .bind(ANCHORED)
                .fetch_all(self.pool())
                .await?;
            rows.iter().map(Self::batch_from_row).collect()
        }

        async fn earlier_inclusion(
            &self,
            request_id: B256,
            chain_batch: u64,
            batch_id: i64,
            leaf: B256,
        ) -> Result<Option<(BatchRow, LeafRow)>> {
            let sql = format!(
                "SELECT l.leaf AS l_leaf, l.request_id AS l_request_id, l.signed AS l_signed, {} \
                 FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                 WHERE l.request_id = $1 AND b.chain_batch IS NOT NULL AND b.status IN ($2, $3) \
                 AND l.leaf <> $6 AND (b.chain_batch < $4 OR b.id = $5) \
                 ORDER BY b.chain_batch LIMIT 1",
                BATCH_COLUMNS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ")
            );
            let row = sqlx::query(&sql)
                .bind(request_id.as_slice())
                .bind(ANCHORED)
                .bind(FINAL)
                .bind(i64_of(chain_batch, "chain batch")?)
                .bind(batch_id)
                .bind(leaf.as_slice())
                .fetch_optional(self.pool())
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let leaf = LeafRow {
                leaf: b256(&row.try_get::<Vec<u8>, _>("l_leaf")?, "batch_leaves.leaf")?,
                request_id: b256(&row.try_get::<Vec<u8>, _>("l_request_id")?, "batch_leaves.request_id")?,
                signed: Bytes::from(row.try_get::<Vec<u8>, _>("l_signed")?),
            };
            Ok(Some((Self::batch_from_row(&row)?, leaf)))
        }

        async fn first_duplicate(&self, batch_id: i64, chain_batch: u64) -> Result<Option<LeafRow>> {
            let row = sqlx::query(
                "SELECT l.leaf, l.request_id, l.signed FROM batch_leaves l WHERE l.batch_id = $1 AND EXISTS \
                 (SELECT 1 FROM batch_leaves o JOIN receipt_batches b ON b.id = o.batch_id \
                  WHERE o.request_id = l.request_id AND b.chain_batch IS NOT NULL AND b.status IN ($2, $3) \
                  AND o.leaf <> l.leaf AND (b.chain_batch < $4 OR b.id = $1)) \
                 ORDER BY l.leaf LIMIT 1",
            )
            .bind(batch_id)
            .bind(ANCHORED)
            .bind(FINAL)
            .bind(i64_of(chain_batch, "chain batch")?)
            .fetch_optional(self.pool())
            .await?;
            row.as_ref().map(Self::leaf_from_row).transpose()
        }

        async fn prune_dead_leaves(&self, voided_anchored_before: u64, abandoned_created_before_ms: i64) -> Result<u64> {
            let mut tx = self.begin_fenced().await?;
            let gone = sqlx::query(
                "DELETE FROM batch_leaves WHERE batch_id IN (SELECT id FROM receipt_batches \
                 WHERE (status = $1 AND anchored_at < $2) OR (status = $3 AND created_at < $4))",
            )
            .bind(VOIDED)
            .bind(i64_of(voided_anchored_before, "voided_anchored_before")?)
            .bind(ABANDONED)
            .bind(abandoned_created_before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(gone)
        }

        async fn inclusion_of(&self, leaf: B256) -> Result<Option<BatchRow>> {
            let sql = format!(
                "SELECT {} FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                 WHERE l.leaf = $1 AND b.status IN ($2, $3, $4) ORDER BY b.id DESC LIMIT 1",
                BATCH_COLUMNS.split(", ").map(|c| format!("b.{c}")).collect::<Vec<_>>().join(", ")
            );
            let row = sqlx::query(&sql)
                .bind(leaf.as_slice())
                .bind(BUILT)
                .bind(ANCHORED)
                .bind(FINAL)
                .fetch_optional(self.pool())
                .await?;
            row.as_ref().map(Self::batch_from_row).transpose()
        }
    };
}

pub(super) use batch_methods;
