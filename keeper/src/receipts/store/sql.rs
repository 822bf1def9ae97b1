//! The SQL of the receipts' repository on SQLite and PostgreSQL (`migrations/*/0002_receipts.sql`): one macro
//! instantiated for both backends like [`crate::store`]'s, its methods grouped by concept in `sql_receipts`,
//! `sql_batches`, `sql_events` and `sql_requests` (each a macro expanded here, so every name below is theirs).

use std::collections::HashMap;

use alloy::primitives::{Address, Bytes, B256, U256};
use sqlx::Row;

use super::sql_batches::batch_methods;
use super::sql_events::event_methods;
use super::sql_receipts::receipt_methods;
use super::sql_requests::request_methods;
use super::*;
use crate::store::{PgStore, Result, SqliteStore, StoreError};

// Statements that pick receipts by request id write `state + 0 = $n`: a bare `state = $n` lets SQLite's planner
// choose the `(state, received_at)` index and scan every waiting receipt for each chunk (150,000 × 300 row visits
// when a month of receipts is batched) instead of the primary key.

/// Rows per multi-row statement (well under both backends' bind-parameter limits).
const CHUNK: usize = 500;

/// Receipts per multi-row INSERT (8 parameters each).
const INSERT_CHUNK: usize = 100;

fn b256(bytes: &[u8], what: &'static str) -> Result<B256> {
    B256::try_from(bytes).map_err(|_| StoreError::Corrupt { what })
}

fn address(bytes: &[u8], what: &'static str) -> Result<Address> {
    Address::try_from(bytes).map_err(|_| StoreError::Corrupt { what })
}

fn u64_of(v: i64, what: &'static str) -> Result<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

fn i64_of(v: u64, what: &'static str) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

fn u8_of(v: i16, what: &'static str) -> Result<u8> {
    u8::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

/// `$from, $from+1, …` for `n` parameters.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const RECEIPT_COLUMNS: &str =
    "request_id, signed, leaf, node, model, signed_at, received_at, state, batch_id, note";
const BATCH_COLUMNS: &str =
    "id, root, ours, leaf_count, status, chain_batch, submitter, anchored_at, data_uri, \
     checked, challenge, void_reason, void_request, created_at";

const ANSWERED: i16 = ReceiptState::Answered as i16;
const BATCHED: i16 = ReceiptState::Batched as i16;
const EXCLUDED: i16 = ReceiptState::Excluded as i16;
const BUILT: i16 = BatchStatus::Built as i16;
const ANCHORED: i16 = BatchStatus::Anchored as i16;
const FINAL: i16 = BatchStatus::Final as i16;
const VOIDED: i16 = BatchStatus::Voided as i16;
const ABANDONED: i16 = BatchStatus::Abandoned as i16;

macro_rules! impl_receipt_store {
    ($store:ty, $db:ty) => {
        impl $store {
            fn receipt_from_row(row: &<$db as sqlx::Database>::Row) -> Result<StoredReceipt> {
                let note: Option<i16> = row.try_get("note")?;
                Ok(StoredReceipt {
                    request_id: b256(
                        &row.try_get::<Vec<u8>, _>("request_id")?,
                        "receipts.request_id",
                    )?,
                    signed: Bytes::from(row.try_get::<Vec<u8>, _>("signed")?),
                    leaf: b256(&row.try_get::<Vec<u8>, _>("leaf")?, "receipts.leaf")?,
                    node: address(&row.try_get::<Vec<u8>, _>("node")?, "receipts.node")?,
                    model: U256::from_be_slice(&row.try_get::<Vec<u8>, _>("model")?),
                    signed_at: u64_of(row.try_get("signed_at")?, "receipts.signed_at")?,
                    received_at: row.try_get("received_at")?,
                    state: ReceiptState::try_from(row.try_get::<i16, _>("state")?)?,
                    batch_id: row.try_get("batch_id")?,
                    note: note.map(|n| u8_of(n, "receipts.note")).transpose()?,
                })
            }

            fn batch_from_row(row: &<$db as sqlx::Database>::Row) -> Result<BatchRow> {
                let chain: Option<i64> = row.try_get("chain_batch")?;
                let submitter: Option<Vec<u8>> = row.try_get("submitter")?;
                let anchored: Option<i64> = row.try_get("anchored_at")?;
                let challenge: Option<Vec<u8>> = row.try_get("challenge")?;
                let reason: Option<i16> = row.try_get("void_reason")?;
                let request: Option<Vec<u8>> = row.try_get("void_request")?;
                Ok(BatchRow {
                    id: row.try_get("id")?,
                    root: b256(&row.try_get::<Vec<u8>, _>("root")?, "receipt_batches.root")?,
                    ours: row.try_get::<i16, _>("ours")? != 0,
                    count: u64_of(row.try_get("leaf_count")?, "receipt_batches.leaf_count")?,
                    status: BatchStatus::try_from(row.try_get::<i16, _>("status")?)?,
                    chain_batch: chain
                        .map(|c| u64_of(c, "receipt_batches.chain_batch"))
                        .transpose()?,
                    submitter: submitter
                        .map(|s| address(&s, "receipt_batches.submitter"))
                        .transpose()?,
                    anchored_at: anchored
                        .map(|a| u64_of(a, "receipt_batches.anchored_at"))
                        .transpose()?,
                    data_uri: row.try_get("data_uri")?,
                    checked: Checked::try_from(row.try_get::<i16, _>("checked")?)?,
                    challenge: challenge.map(Bytes::from),
                    void_reason: reason
                        .map(|r| u8_of(r, "receipt_batches.void_reason"))
                        .transpose()?,
                    void_request: request
                        .map(|r| b256(&r, "receipt_batches.void_request"))
                        .transpose()?,
                    created_at: row.try_get("created_at")?,
                })
            }

            fn leaf_from_row(row: &<$db as sqlx::Database>::Row) -> Result<LeafRow> {
                Ok(LeafRow {
                    leaf: b256(&row.try_get::<Vec<u8>, _>("leaf")?, "batch_leaves.leaf")?,
                    request_id: b256(
                        &row.try_get::<Vec<u8>, _>("request_id")?,
                        "batch_leaves.request_id",
                    )?,
                    signed: Bytes::from(row.try_get::<Vec<u8>, _>("signed")?),
                })
            }
        }

        impl ReceiptStore for $store {
            receipt_methods!();
            batch_methods!();
            event_methods!();
            request_methods!();
        }
    };
}

impl_receipt_store!(SqliteStore, sqlx::Sqlite);
impl_receipt_store!(PgStore, sqlx::Postgres);
