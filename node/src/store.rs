//! The node's store (SQLite): one row per request id it answered, written before the answer leaves the node,
//! with the delivery flags the background loop clears ([`crate::delivery`]).

use std::str::FromStr;

use alloy::primitives::{B256, U256};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// One answered request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The request id.
    pub request_id: B256,
    /// The model version run.
    pub model_version: U256,
    /// The input (int8 values).
    pub input: Vec<i8>,
    /// The output logits.
    pub output: Vec<i64>,
    /// The signed receipt (384 bytes).
    pub signed: Vec<u8>,
    /// Whether a paid request backs it (then `answer` goes on chain).
    pub paid: bool,
    /// Receipt mode.
    pub mode: u8,
    /// The keeper acknowledged the receipt.
    pub posted: bool,
    /// `answer` is confirmed on chain (or was not needed).
    pub answered: bool,
    /// The mode-ZK proof is accepted (or not needed).
    pub proven: bool,
}

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS answers (
    request_id BLOB PRIMARY KEY,
    model_version TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    signed BLOB NOT NULL,
    paid INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    posted INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    proven INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
)";

fn corrupt(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("answers.{what} is malformed").into())
}

fn row_answer(row: &sqlx::sqlite::SqliteRow) -> Result<Answer, sqlx::Error> {
    let id: Vec<u8> = row.try_get("request_id")?;
    let version: String = row.try_get("model_version")?;
    let input: String = row.try_get("input")?;
    let output: String = row.try_get("output")?;
    Ok(Answer {
        request_id: B256::try_from(id.as_slice()).map_err(|_| corrupt("request_id"))?,
        model_version: version.parse().map_err(|_| corrupt("model_version"))?,
        input: serde_json::from_str(&input).map_err(|_| corrupt("input"))?,
        output: serde_json::from_str(&output).map_err(|_| corrupt("output"))?,
        signed: row.try_get("signed")?,
        paid: row.try_get("paid")?,
        mode: u8::try_from(row.try_get::<i64, _>("mode")?).map_err(|_| corrupt("mode"))?,
        posted: row.try_get("posted")?,
        answered: row.try_get("answered")?,
        proven: row.try_get("proven")?,
    })
}

impl Store {
    /// Opens (creating) the SQLite database at `url` (`sqlite://path` or `sqlite::memory:`).
    ///
    /// # Errors
    /// The database cannot be opened or its table created.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
        // One connection: an in-memory database lives per connection, and the node's writes are few.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::query(SCHEMA).execute(&pool).await?;
        Ok(Self { pool })
    }

    /// The stored answer of `request_id`.
    ///
    /// # Errors
    /// The store failed or holds a malformed row.
    pub async fn get(&self, request_id: B256) -> Result<Option<Answer>, sqlx::Error> {
        sqlx::query("SELECT * FROM answers WHERE request_id = ?")
            .bind(request_id.as_slice())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| row_answer(&r))
            .transpose()
    }

    /// Stores `answer`; `false` when the id was already stored (the first answer stays).
    ///
    /// # Errors
    /// The store failed.
    pub async fn insert(&self, a: &Answer) -> Result<bool, sqlx::Error> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO answers (request_id, model_version, input, output, signed, paid, mode, \
             posted, answered, proven) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(a.request_id.as_slice())
        .bind(a.model_version.to_string())
        .bind(serde_json::to_string(&a.input).unwrap_or_default())
        .bind(serde_json::to_string(&a.output).unwrap_or_default())
        .bind(&a.signed)
        .bind(a.paid)
        .bind(i64::from(a.mode))
        .bind(a.posted)
        .bind(a.answered)
        .bind(a.proven)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Answers with a delivery still to do, oldest first.
    ///
    /// # Errors
    /// The store failed or holds a malformed row.
    pub async fn pending(&self, limit: i64) -> Result<Vec<Answer>, sqlx::Error> {
        sqlx::query(
            "SELECT * FROM answers WHERE posted = 0 OR answered = 0 OR proven = 0 \
             ORDER BY created_at, rowid LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(row_answer)
        .collect()
    }

    /// Sets one delivery flag (`posted`, `answered`, `proven`) of `request_id`.
    ///
    /// # Errors
    /// The store failed.
    pub async fn mark(&self, request_id: B256, flag: Flag) -> Result<(), sqlx::Error> {
        let sql = match flag {
            Flag::Posted => "UPDATE answers SET posted = 1 WHERE request_id = ?",
            Flag::Answered => "UPDATE answers SET answered = 1 WHERE request_id = ?",
            Flag::Proven => "UPDATE answers SET proven = 1 WHERE request_id = ?",
        };
        sqlx::query(sql)
            .bind(request_id.as_slice())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// A delivery step of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// The keeper acknowledged the receipt.
    Posted,
    /// `answer` confirmed on chain.
    Answered,
    /// The mode-ZK proof accepted.
    Proven,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: u8) -> Answer {
        Answer {
            request_id: B256::repeat_byte(id),
            model_version: U256::from(3),
            input: vec![1, -2, 127],
            output: vec![-70_000, 5],
            signed: vec![7; 384],
            paid: true,
            mode: 0,
            posted: false,
            answered: false,
            proven: true,
        }
    }

    #[tokio::test]
    async fn the_first_answer_of_an_id_stays_and_flags_clear_pending_work() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("node.db").display());
        let store = Store::open(&url).await.unwrap();
        assert!(store.insert(&answer(1)).await.unwrap());
        let mut other = answer(1);
        other.output = vec![1];
        assert!(!store.insert(&other).await.unwrap());
        assert_eq!(
            store.get(B256::repeat_byte(1)).await.unwrap(),
            Some(answer(1))
        );
        assert_eq!(store.get(B256::repeat_byte(2)).await.unwrap(), None);
        assert_eq!(store.pending(10).await.unwrap().len(), 1);
        store
            .mark(B256::repeat_byte(1), Flag::Posted)
            .await
            .unwrap();
        store
            .mark(B256::repeat_byte(1), Flag::Answered)
            .await
            .unwrap();
        assert!(store.pending(10).await.unwrap().is_empty());
        // Reopening keeps the row.
        drop(store);
        let store = Store::open(&url).await.unwrap();
        assert!(
            store
                .get(B256::repeat_byte(1))
                .await
                .unwrap()
                .unwrap()
                .posted
        );
    }
}
