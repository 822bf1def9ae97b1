//! The SQL of the receipts' repository, part: Paid requests as InferenceSettlement's events and views say.
//!
//! The methods of [`super::ReceiptStore`] as a macro expanded inside each backend's `impl` by [`super::sql`]
//! (names resolve there).

/// Expands to this part's methods of `impl ReceiptStore for <backend>`.
macro_rules! request_methods {
    () => {
        async fn upsert_request(&self, request_id: B256, deadline: u64, block: u64) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            sqlx::query(
                "INSERT INTO paid_requests (request_id, status, deadline, status_block) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (request_id) DO NOTHING",
            )
            .bind(request_id.as_slice())
            .bind(i16::from(verity_abi::settlement::request_status::REQUESTED))
            .bind(i64_of(deadline, "deadline")?)
            .bind(i64_of(block, "block")?)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn set_request_status(&self, request_id: B256, status: u8, proven_at: Option<u64>, block: u64) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            let proven = proven_at.map(|p| i64_of(p, "proven at")).transpose()?;
            sqlx::query(
                "UPDATE paid_requests SET status = $1, proven_at = COALESCE($2, proven_at), status_block = $4 WHERE request_id = $3",
            )
            .bind(i16::from(status))
            .bind(proven)
            .bind(request_id.as_slice())
            .bind(i64_of(block, "block")?)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn reset_request(&self, request_id: B256, view: Option<RequestView>) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            match view {
                None => {
                    sqlx::query("DELETE FROM paid_requests WHERE request_id = $1")
                        .bind(request_id.as_slice())
                        .execute(&mut *tx)
                        .await?;
                }
                Some(v) => {
                    sqlx::query(
                        "UPDATE paid_requests SET status = $1, deadline = $2, proven_at = $3, status_block = NULL \
                         WHERE request_id = $4",
                    )
                    .bind(i16::from(v.status))
                    .bind(i64_of(v.deadline, "deadline")?)
                    .bind((v.proven_at != 0).then(|| i64_of(v.proven_at, "proven at")).transpose()?)
                    .bind(request_id.as_slice())
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        }

        async fn set_request_deadline(&self, request_id: B256, deadline: u64) -> Result<()> {
            let mut tx = self.begin_fenced().await?;
            sqlx::query("UPDATE paid_requests SET deadline = $1 WHERE request_id = $2")
                .bind(i64_of(deadline, "deadline")?)
                .bind(request_id.as_slice())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn requests_in(&self, statuses: &[u8]) -> Result<Vec<PaidRow>> {
            if statuses.is_empty() {
                return Ok(Vec::new());
            }
            // Codes come from `request_status` constants, never from input: safe to inline.
            let list = statuses.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
            let sql = format!(
                "SELECT request_id, status, deadline, proven_at FROM paid_requests WHERE status IN ({list}) ORDER BY deadline"
            );
            let rows = sqlx::query(&sql).fetch_all(self.pool()).await?;
            rows.iter()
                .map(|r| {
                    let proven: Option<i64> = r.try_get("proven_at")?;
                    Ok(PaidRow {
                        request_id: b256(&r.try_get::<Vec<u8>, _>("request_id")?, "paid_requests.request_id")?,
                        status: u8_of(r.try_get("status")?, "paid_requests.status")?,
                        deadline: u64_of(r.try_get("deadline")?, "paid_requests.deadline")?,
                        proven_at: proven.map(|p| u64_of(p, "paid_requests.proven_at")).transpose()?,
                    })
                })
                .collect()
        }
    };
}

pub(super) use request_methods;
