//! The SQL of the receipts' repository, part: Intake and the waiting queue: persisting receipts (group commit), reading them, moving waiting ones out
//! (excluded, expired).
//!
//! The methods of [`super::ReceiptStore`] as a macro expanded inside each backend's `impl` by [`super::sql`]
//! (names resolve there).

/// Expands to this part's methods of `impl ReceiptStore for <backend>`.
macro_rules! receipt_methods {
    () => {
        async fn insert_receipts(&self, receipts: &[NewReceipt]) -> Result<Vec<Inserted>> {
            // The first receipt of each request id in the group goes into multi-row INSERTs; a later one in the
            // same group is judged against it. Rows the INSERTs skipped (the id was persisted before) are
            // compared with the stored leaf.
            let mut first: HashMap<B256, usize> = HashMap::with_capacity(receipts.len());
            let mut out: Vec<Option<Inserted>> = vec![None; receipts.len()];
            let mut fresh = Vec::with_capacity(receipts.len());
            for (i, r) in receipts.iter().enumerate() {
                match first.get(&r.request_id) {
                    Some(&f) => {
                        out[i] = Some(if receipts[f].leaf == r.leaf { Inserted::Duplicate } else { Inserted::Conflict });
                    }
                    None => {
                        first.insert(r.request_id, i);
                        fresh.push(i);
                    }
                }
            }
            let mut tx = self.pool().begin().await?;
            let mut inserted = std::collections::HashSet::with_capacity(fresh.len());
            for chunk in fresh.chunks(INSERT_CHUNK) {
                let values = (0..chunk.len())
                    .map(|k| format!("({}, ${})", placeholders(1 + 8 * k, 7), 8 + 8 * k))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "INSERT INTO receipts (request_id, signed, leaf, node, model, signed_at, received_at, state) \
                     VALUES {values} ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
                );
                let mut q = sqlx::query(&sql);
                for &i in chunk {
                    let r = &receipts[i];
                    q = q
                        .bind(r.request_id.as_slice())
                        .bind(r.signed.as_ref())
                        .bind(r.leaf.as_slice())
                        .bind(r.node.as_slice())
                        .bind(r.model.to_be_bytes::<32>().to_vec())
                        .bind(i64_of(r.signed_at, "signed_at")?)
                        .bind(r.received_at)
                        .bind(ANSWERED);
                }
                for row in q.fetch_all(&mut *tx).await? {
                    inserted.insert(b256(&row.try_get::<Vec<u8>, _>("request_id")?, "receipts.request_id")?);
                }
            }
            for &i in &fresh {
                let r = &receipts[i];
                if inserted.contains(&r.request_id) {
                    out[i] = Some(Inserted::New);
                    continue;
                }
                let row = sqlx::query("SELECT leaf FROM receipts WHERE request_id = $1")
                    .bind(r.request_id.as_slice())
                    .fetch_one(&mut *tx)
                    .await?;
                let leaf: Vec<u8> = row.try_get("leaf")?;
                out[i] = Some(if leaf.as_slice() == r.leaf.as_slice() {
                    Inserted::Duplicate
                } else {
                    Inserted::Conflict
                });
            }
            tx.commit().await?;
            out.into_iter()
                .map(|o| o.ok_or(StoreError::Corrupt { what: "receipts (an intake outcome is missing)" }))
                .collect()
        }

        async fn receipt(&self, request_id: B256) -> Result<Option<StoredReceipt>> {
            let sql = format!("SELECT {RECEIPT_COLUMNS} FROM receipts WHERE request_id = $1");
            let row = sqlx::query(&sql)
                .bind(request_id.as_slice())
                .fetch_optional(self.pool())
                .await?;
            row.as_ref().map(Self::receipt_from_row).transpose()
        }

        async fn waiting_receipts(&self, limit: i64) -> Result<Vec<StoredReceipt>> {
            let sql = format!(
                "SELECT {RECEIPT_COLUMNS} FROM receipts WHERE state = $1 ORDER BY received_at, request_id LIMIT $2"
            );
            let rows = sqlx::query(&sql)
                .bind(ANSWERED)
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
            rows.iter().map(Self::receipt_from_row).collect()
        }

        async fn waiting_summary(&self) -> Result<(u64, Option<i64>)> {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, MIN(received_at) AS oldest FROM receipts WHERE state = $1",
            )
            .bind(ANSWERED)
            .fetch_one(self.pool())
            .await?;
            Ok((u64_of(row.try_get("n")?, "count")?, row.try_get("oldest")?))
        }

        async fn set_receipt_state(
            &self,
            request_ids: &[B256],
            state: ReceiptState,
            note: Option<u8>,
        ) -> Result<u64> {
            let mut n = 0;
            let mut tx = self.begin_fenced().await?;
            for chunk in request_ids.chunks(CHUNK) {
                let sql = format!(
                    "UPDATE receipts SET state = $1, note = $2, batch_id = NULL WHERE request_id IN ({}) AND state + 0 = $3",
                    placeholders(4, chunk.len())
                );
                let mut q = sqlx::query(&sql)
                    .bind(state as i16)
                    .bind(note.map(i16::from))
                    .bind(ANSWERED);
                for id in chunk {
                    q = q.bind(id.as_slice());
                }
                n += q.execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await?;
            Ok(n)
        }

        async fn exclude_included_elsewhere(&self) -> Result<u64> {
            let mut tx = self.begin_fenced().await?;
            let done = sqlx::query(
                "UPDATE receipts SET state = $1, note = $2 WHERE state = $3 AND request_id IN \
                 (SELECT l.request_id FROM batch_leaves l JOIN receipt_batches b ON b.id = l.batch_id \
                  WHERE b.status IN ($4, $5, $6))",
            )
            .bind(EXCLUDED)
            .bind(i16::from(verity_abi::settlement::void_reason::DUPLICATE_REQUEST))
            .bind(ANSWERED)
            .bind(BUILT)
            .bind(ANCHORED)
            .bind(FINAL)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected())
        }
    };
}

pub(super) use receipt_methods;
