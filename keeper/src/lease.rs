//! Leader election through a lease row (name, holder, expiry, term) — not advisory locks on a pool, which a
//! pooled connection can lose silently. The leader renews every `ttl / 3`; a second instance takes over once the
//! lease expired; graceful shutdown releases it so the handover is immediate.
//!
//! Expiry is judged by the database's clock ([`LeaseStore::db_now_ms`]), never a replica's, so clock skew between
//! replicas cannot make two of them lead. Every lease acquired is handed to the store as its fencing token
//! ([`crate::store::Fence`]): each job and outbox write transaction re-checks the term inside the database, so a
//! replica that was deposed mid-pass (paused, partitioned, or simply slower than its TTL) writes nothing.

use std::time::Duration;

use tracing::info;

use crate::store::{Lease, LeaseStore, StoreError};

/// This replica's wall clock in Unix milliseconds (bookkeeping only; the lease uses the database's clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One instance's view of the lease.
#[derive(Debug, Clone)]
pub struct Leadership<S> {
    store: S,
    name: String,
    holder: String,
    ttl: Duration,
    held: Option<Lease>,
}

impl<S: LeaseStore> Leadership<S> {
    /// An instance called `holder` competing for lease `name`.
    pub fn new(
        store: S,
        name: impl Into<String>,
        holder: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        Self {
            store,
            name: name.into(),
            holder: holder.into(),
            ttl,
            held: None,
        }
    }

    /// This instance's id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Acquires or renews at `now_ms` (a time on the database's clock); returns whether this instance leads until
    /// the new expiry. An acquired lease becomes the store's fencing token.
    ///
    /// # Errors
    /// The store failed (the caller must then stop leading: the lease may lapse).
    pub async fn tick_at(&mut self, now_ms: i64) -> Result<bool, StoreError> {
        let ttl = i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX);
        let lease = self
            .store
            .try_acquire(&self.name, &self.holder, now_ms, ttl)
            .await?;
        match (&self.held, &lease) {
            (None, Some(l)) => {
                info!(target: "keeper::lease", holder = %self.holder, term = l.term, "became leader")
            }
            (Some(_), None) => {
                info!(target: "keeper::lease", holder = %self.holder, "lost leadership")
            }
            _ => {}
        }
        if let Some(l) = &lease {
            self.store.fence().set(l);
        }
        self.held = lease;
        Ok(self.held.is_some())
    }

    /// [`Leadership::tick_at`] with the database's clock.
    ///
    /// # Errors
    /// The store failed.
    pub async fn tick(&mut self) -> Result<bool, StoreError> {
        let now = self.store.db_now_ms().await?;
        self.tick_at(now).await
    }

    /// Whether the last tick left this instance leading and the lease has not expired by `now_ms` (a time on the
    /// database's clock).
    pub fn is_leader_at(&self, now_ms: i64) -> bool {
        self.held.as_ref().is_some_and(|l| l.expires_at > now_ms)
    }

    /// The held lease (the fencing token the outbox checks when it allocates a nonce), if leading.
    pub fn lease(&self) -> Option<&Lease> {
        self.held.as_ref()
    }

    /// The held lease's term (fencing token), if leading.
    pub fn term(&self) -> Option<i64> {
        self.held.as_ref().map(|l| l.term)
    }

    /// Releases the lease if held (graceful shutdown) and unfences the store: the instance stopped leading on
    /// purpose (its keeper loop has ended), so what the process does with the store afterwards is its own call.
    ///
    /// # Errors
    /// The store failed.
    pub async fn release(&mut self) -> Result<(), StoreError> {
        if self.held.take().is_some() {
            self.store.release(&self.name, &self.holder).await?;
            self.store.fence().clear();
        }
        Ok(())
    }

    /// How often to tick: a third of the TTL.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::store_suite;
    use crate::store::Store;

    async fn second_instance_takes_over_after_expiry<S: Store>(s: &S) {
        let ttl = Duration::from_millis(1_000);
        let mut a = Leadership::new(s.clone(), "keeper", "a", ttl);
        let mut b = Leadership::new(s.clone(), "keeper", "b", ttl);
        assert!(a.tick_at(10_000).await.unwrap());
        assert!(!b.tick_at(10_100).await.unwrap());
        assert!(a.is_leader_at(10_500) && !b.is_leader_at(10_500));
        // a stops renewing (crashed): b leads once the lease expired, a cannot come back before then.
        assert!(!b.tick_at(10_999).await.unwrap());
        assert!(b.tick_at(11_000).await.unwrap());
        assert!(!a.tick_at(11_100).await.unwrap());
        assert!(!a.is_leader_at(11_100));
        assert!(b.term().unwrap() > 0);
        // Graceful release hands over at once.
        b.release().await.unwrap();
        assert!(a.tick_at(11_200).await.unwrap());
    }

    fn intent(key: &str) -> crate::store::NewIntent {
        crate::store::NewIntent {
            key: key.to_string(),
            sender: alloy::primitives::Address::with_last_byte(1),
            target: alloy::primitives::Address::with_last_byte(2),
            calldata: alloy::primitives::Bytes::new(),
            value: alloy::primitives::U256::ZERO,
        }
    }

    /// The acquired lease fences the store's writes, by the database's clock: a replica whose own clock runs an
    /// hour late holds a lease that the database already sees expired, and writes nothing; once another holder
    /// took over, the deposed one writes nothing either; a fresh tick on the database's clock writes again.
    async fn writes_are_fenced_by_the_lease_on_the_database_clock<S: Store>(s: &S) {
        use crate::store::StoreError;
        let ttl = Duration::from_millis(60_000);
        let db_now = s.db_now_ms().await.unwrap();
        assert!(
            (db_now - now_ms()).abs() < 60_000,
            "database clock {db_now} vs {}",
            now_ms()
        );
        let mut a = Leadership::new(s.clone(), "keeper", "a", ttl);
        assert!(a.tick_at(db_now - 3_600_000).await.unwrap());
        let fenced = s.enqueue(&intent("late:1"), 1).await;
        assert!(
            matches!(fenced, Err(StoreError::Fenced { .. })),
            "{fenced:?}"
        );
        assert!(s.intent_by_key("late:1").await.unwrap().is_none());
        assert!(a.tick().await.unwrap());
        s.enqueue(&intent("late:1"), 1).await.unwrap();
        // b takes over (released lease); a's term no longer matches.
        let a_lease = a.lease().cloned().unwrap();
        a.release().await.unwrap();
        let mut b = Leadership::new(s.clone(), "keeper", "b", ttl);
        assert!(b.tick().await.unwrap());
        assert!(b.term() > Some(a_lease.term));
        // This one store now carries b's fence; put a's back, as a's own store (another process) still holds it.
        s.fence().set(&a_lease);
        let fenced = s.enqueue(&intent("late:2"), 1).await;
        assert!(matches!(&fenced, Err(e) if e.is_transient()), "{fenced:?}");
        assert!(s.intent_by_key("late:2").await.unwrap().is_none());
    }

    store_suite!(
        second_instance_takes_over_after_expiry,
        writes_are_fenced_by_the_lease_on_the_database_clock
    );
}
