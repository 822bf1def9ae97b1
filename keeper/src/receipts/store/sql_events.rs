//! The SQL of the receipts' repository, part: Applying ReceiptBatches' events (anchored, finalized, voided) and undoing what orphaned blocks applied (reorg).
//!
//! The methods of [`super::ReceiptStore`] as a macro expanded inside each backend's `impl` by [`super::sql`]
//! (names resolve there).

/// Expands to this part's methods of `impl ReceiptStore for <backend>`.
macro_rules! event_methods {
    () => {
        async fn apply_anchored(&self, e: &Anchored, us: Address, now_ms: i64) -> Result<i64> {
            let chain = i64_of(e.chain_batch, "chain batch")?;
            let at = i64_of(e.anchored_at, "anchored at")?;
            let mut tx = self.begin_fenced().await?;
            if let Some(row) = sqlx::query("SELECT id FROM receipt_batches WHERE chain_batch = $1")
                .bind(chain)
                .fetch_optional(&mut *tx)
                .await?
            {
                return Ok(row.try_get("id")?);
            }
            if e.submitter == us {
                let linked = sqlx::query(
                    "UPDATE receipt_batches SET chain_batch = $1, status = $2, submitter = $3, anchored_at = $4, data_uri = $5, anchored_block = $8 \
                     WHERE id = (SELECT MIN(id) FROM receipt_batches WHERE ours = 1 AND root = $6 AND status = $7 AND chain_batch IS NULL) \
                     RETURNING id",
                )
                .bind(chain)
                .bind(ANCHORED)
                .bind(e.submitter.as_slice())
                .bind(at)
                .bind(&e.data_uri)
                .bind(e.root.as_slice())
                .bind(BUILT)
                .bind(i64_of(e.block, "block")?)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = linked {
                    let id: i64 = row.try_get("id")?;
                    tx.commit().await?;
                    return Ok(id);
                }
            }
            let row = sqlx::query(
                "INSERT INTO receipt_batches (root, ours, leaf_count, status, chain_batch, submitter, anchored_at, data_uri, created_at, anchored_block) \
                 VALUES ($1, 0, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(e.root.as_slice())
            .bind(i64_of(e.count, "count")?)
            .bind(ANCHORED)
            .bind(chain)
            .bind(e.submitter.as_slice())
            .bind(at)
            .bind(&e.data_uri)
            .bind(now_ms)
            .bind(i64_of(e.block, "block")?)
            .fetch_one(&mut *tx)
            .await?;
            let id: i64 = row.try_get("id")?;
            tx.commit().await?;
            Ok(id)
        }

        async fn apply_finalized(&self, chain_batch: u64, block: u64) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            sqlx::query("UPDATE receipt_batches SET status = $1, settled_block = $4 WHERE chain_batch = $2 AND status = $3")
                .bind(FINAL)
                .bind(i64_of(chain_batch, "chain batch")?)
                .bind(ANCHORED)
                .bind(i64_of(block, "block")?)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn apply_voided(&self, chain_batch: u64, reason: u8, request_id: B256, block: u64) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            let row = sqlx::query(
                "UPDATE receipt_batches SET status = $1, void_reason = $2, void_request = $3, settled_block = $6 \
                 WHERE chain_batch = $4 AND status = $5 RETURNING id, ours",
            )
            .bind(VOIDED)
            .bind(i16::from(reason))
            .bind(request_id.as_slice())
            .bind(i64_of(chain_batch, "chain batch")?)
            .bind(ANCHORED)
            .bind(i64_of(block, "block")?)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                let id: i64 = row.try_get("id")?;
                if row.try_get::<i16, _>("ours")? != 0 {
                    sqlx::query(
                        "UPDATE receipts SET state = $1, note = $2, batch_id = NULL \
                         WHERE batch_id = $3 AND state = $4 AND request_id = $5",
                    )
                    .bind(EXCLUDED)
                    .bind(i16::from(reason))
                    .bind(id)
                    .bind(BATCHED)
                    .bind(request_id.as_slice())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("UPDATE receipts SET state = $1, batch_id = NULL WHERE batch_id = $2 AND state = $3")
                        .bind(ANSWERED)
                        .bind(id)
                        .bind(BATCHED)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        }

        async fn rewind(&self, from_block: u64) -> Result<Vec<B256>> {
            let from = i64_of(from_block, "block")?;
            let mut tx = self.begin_fenced().await?;
            // 1. Finalized or voided in an orphaned block: anchored again. Our batch un-voided takes back its
            //    receipts that were released and not batched again since.
            let unsettled = sqlx::query(
                "UPDATE receipt_batches SET status = $1, void_reason = NULL, void_request = NULL, settled_block = NULL \
                 WHERE settled_block >= $2 AND status IN ($3, $4) RETURNING id, ours",
            )
            .bind(ANCHORED)
            .bind(from)
            .bind(FINAL)
            .bind(VOIDED)
            .fetch_all(&mut *tx)
            .await?;
            for row in &unsettled {
                if row.try_get::<i16, _>("ours")? == 0 {
                    continue;
                }
                let id: i64 = row.try_get("id")?;
                sqlx::query(
                    "UPDATE receipts SET state = $1, batch_id = $2, note = NULL \
                     WHERE batch_id IS NULL AND state IN ($3, $4) \
                     AND request_id IN (SELECT request_id FROM batch_leaves WHERE batch_id = $2)",
                )
                .bind(BATCHED)
                .bind(id)
                .bind(ANSWERED)
                .bind(EXCLUDED)
                .execute(&mut *tx)
                .await?;
            }
            // 2. Anchored in an orphaned block: ours is built again (its receipts stay with it), another
            //    keeper's is forgotten with its leaves.
            sqlx::query(
                "UPDATE receipt_batches SET status = $1, chain_batch = NULL, submitter = NULL, anchored_at = NULL, \
                 anchored_block = NULL WHERE ours = 1 AND anchored_block >= $2",
            )
            .bind(BUILT)
            .bind(from)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM batch_leaves WHERE batch_id IN \
                 (SELECT id FROM receipt_batches WHERE ours = 0 AND anchored_block >= $1)",
            )
            .bind(from)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM receipt_batches WHERE ours = 0 AND anchored_block >= $1")
                .bind(from)
                .execute(&mut *tx)
                .await?;
            // 3. Excluded as included elsewhere, and no live batch holds the request any more: waits again.
            sqlx::query(
                "UPDATE receipts SET state = $1, note = NULL WHERE state = $2 AND batch_id IS NULL AND note = $3 \
                 AND request_id NOT IN (SELECT l.request_id FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                 WHERE b.status IN ($4, $5, $6))",
            )
            .bind(ANSWERED)
            .bind(EXCLUDED)
            .bind(i16::from(verity_abi::settlement::void_reason::DUPLICATE_REQUEST))
            .bind(BUILT)
            .bind(ANCHORED)
            .bind(FINAL)
            .execute(&mut *tx)
            .await?;
            // 4. Paid requests last changed in an orphaned block: the caller re-derives them from the chain.
            let rows = sqlx::query("SELECT request_id FROM paid_requests WHERE status_block >= $1")
                .bind(from)
                .fetch_all(&mut *tx)
                .await?;
            let requests = rows
                .iter()
                .map(|r| b256(&r.try_get::<Vec<u8>, _>("request_id")?, "paid_requests.request_id"))
                .collect::<Result<Vec<_>>>()?;
            tx.commit().await?;
            Ok(requests)
        }
    };
}

pub(super) use event_methods;
