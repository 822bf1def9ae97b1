//! `verity-keeper status`: what an operator asks first — the outbox per status, the backlog of open intents per job
//! with the oldest one, the last intents submitted, the GaugeController's epoch state (next epoch to finalize and
//! when it is due, by chain time) and the lease. [`StatusReport::collect`] reads it, `Display` prints a short table.

use std::collections::BTreeMap;
use std::fmt;

use alloy::primitives::Address;
use alloy::providers::Provider;

use crate::jobs::finalizer::{self, EpochFinalizer, EpochState};
use crate::jobs::job_of_key;
use crate::store::{Intent, IntentStatus, Lease, Store, StoreError};

/// Open intents of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobBacklog {
    /// The job ([`job_of_key`]).
    pub job: String,
    /// Open intents (pending, signed, sent).
    pub open: usize,
    /// The oldest open intent.
    pub oldest: Intent,
}

/// Everything `status` prints.
#[derive(Debug, Clone)]
pub struct StatusReport {
    /// Intents per status (every status listed, zeros included).
    pub counts: Vec<(IntentStatus, i64)>,
    /// Open intents per job, jobs in name order.
    pub backlog: Vec<JobBacklog>,
    /// The last intents submitted, newest first.
    pub latest: Vec<Intent>,
    /// The lease row.
    pub lease: Option<Lease>,
    /// The controller's epoch state: `None` without `--gauge`, `Err` when the node could not be read.
    pub epochs: Option<(Address, Result<EpochState, String>)>,
    /// The outbox's intent for the next epoch to finalize, if any (a final one while the epoch is due = stuck).
    pub next_epoch_intent: Option<Intent>,
    /// When the report was taken (Unix milliseconds, wall clock: ages of intents).
    pub now_ms: i64,
    /// The ModelRegistry's backlog: `None` without `--registry`, `Err` when the node could not be read.
    pub registry: Option<(Address, Result<RegistryBacklog, String>)>,
    /// The receipts' backlog and our last batches: `None` without `--settlement`.
    pub receipts: Option<ReceiptsBacklog>,
}

/// Receipts waiting for a batch and this keeper's latest batches, read from the store.
#[derive(Debug, Clone, Default)]
pub struct ReceiptsBacklog {
    /// Receipts persisted and acknowledged, not yet in a batch.
    pub waiting: u64,
    /// When the oldest of them arrived (Unix milliseconds).
    pub oldest_waiting_ms: Option<i64>,
    /// Our batches per status (built, anchored, final, voided, abandoned).
    pub batches: Vec<(&'static str, usize)>,
    /// Our latest batches, newest first: (on-chain id, status, receipts, created at ms).
    pub last: Vec<(Option<u64>, &'static str, u64, i64)>,
}

/// What the registry still has to finalize, read from its views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryBacklog {
    /// Versions submitted or stored, not yet final (`pendingCount()`).
    pub pending: u64,
    /// Seconds of chain time the oldest pending version has waited (`oldestPendingAge()`).
    pub oldest_pending_age: u64,
}

/// The statuses in display order.
const ALL: [IntentStatus; 7] = [
    IntentStatus::Pending,
    IntentStatus::Signed,
    IntentStatus::Sent,
    IntentStatus::Confirmed,
    IntentStatus::AlreadyDone,
    IntentStatus::Reverted,
    IntentStatus::Failed,
];

fn status_name(s: IntentStatus) -> &'static str {
    match s {
        IntentStatus::Pending => "pending",
        IntentStatus::Signed => "signed",
        IntentStatus::Sent => "sent",
        IntentStatus::Confirmed => "confirmed",
        IntentStatus::Reverted => "reverted",
        IntentStatus::Failed => "failed",
        IntentStatus::AlreadyDone => "already_done",
    }
}

/// A duration in seconds, short: `45s`, `12m`, `5h`, `7d 3h`.
fn span(s: u64) -> String {
    match s {
        0..=119 => format!("{s}s"),
        120..=7_199 => format!("{}m", s / 60),
        7_200..=172_799 => format!("{}h", s / 3_600),
        _ if s % 86_400 < 3_600 => format!("{}d", s / 86_400),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3_600),
    }
}

fn age(now_ms: i64, then_ms: i64) -> String {
    span(u64::try_from(now_ms.saturating_sub(then_ms) / 1_000).unwrap_or(0))
}

impl StatusReport {
    /// Adds the registry's backlog (`pendingCount`, `oldestPendingAge`) read through `provider`; a failed read is
    /// reported inside the report.
    pub async fn read_registry<P: Provider>(&mut self, provider: &P, registry: Address) {
        let contract = verity_abi::rpc::IModelRegistry::new(registry, provider);
        let backlog = async {
            Ok::<_, alloy::contract::Error>(RegistryBacklog {
                pending: contract.pendingCount().call().await?,
                oldest_pending_age: contract.oldestPendingAge().call().await?,
            })
        }
        .await
        .map_err(|e| e.to_string());
        self.registry = Some((registry, backlog));
    }

    /// Adds the receipts' backlog (waiting receipts, our batches by status, the last `last` of them) from `store`.
    ///
    /// # Errors
    /// The store failed.
    pub async fn read_receipts<S: crate::receipts::store::ReceiptStore>(
        &mut self,
        store: &S,
        last: usize,
    ) -> Result<(), StoreError> {
        use crate::receipts::store::BatchStatus;
        let (waiting, oldest_waiting_ms) = store.waiting_summary().await?;
        let mut backlog = ReceiptsBacklog {
            waiting,
            oldest_waiting_ms,
            ..ReceiptsBacklog::default()
        };
        let mut all = Vec::new();
        for status in [
            BatchStatus::Built,
            BatchStatus::Anchored,
            BatchStatus::Final,
            BatchStatus::Voided,
            BatchStatus::Abandoned,
        ] {
            let rows = store.batches_in(status, true).await?;
            backlog.batches.push((status.name(), rows.len()));
            all.extend(rows);
        }
        all.sort_by_key(|b| std::cmp::Reverse(b.created_at));
        backlog.last = all
            .iter()
            .take(last)
            .map(|b| (b.chain_batch, b.status.name(), b.count, b.created_at))
            .collect();
        self.receipts = Some(backlog);
        Ok(())
    }

    /// Reads the report: the store always; the chain only when `gauge` is given (`provider` reaches the node).
    ///
    /// # Errors
    /// The store failed (a chain failure is reported inside the report instead).
    pub async fn collect<S: Store, P: Provider>(
        store: &S,
        lease_name: &str,
        chain: Option<(&P, Address)>,
        latest: i64,
        now_ms: i64,
    ) -> Result<Self, StoreError> {
        let stored = store.count_by_status().await?;
        let counts = ALL
            .iter()
            .map(|s| {
                let n = stored.iter().find(|(t, _)| t == s).map_or(0, |(_, n)| *n);
                (*s, n)
            })
            .collect();
        // Open intents are the backlog: few by design; oldest first.
        let mut per_job: BTreeMap<String, JobBacklog> = BTreeMap::new();
        for intent in store.intents_in(&IntentStatus::OPEN, i64::MAX).await? {
            let job = job_of_key(&intent.key).to_string();
            per_job
                .entry(job.clone())
                .and_modify(|b| b.open += 1)
                .or_insert(JobBacklog {
                    job,
                    open: 1,
                    oldest: intent,
                });
        }
        let epochs = match chain {
            None => None,
            Some((provider, gauge)) => Some((
                gauge,
                EpochFinalizer::new(gauge)
                    .observe(provider)
                    .await
                    .map_err(|e| e.to_string()),
            )),
        };
        let next_epoch_intent = match &epochs {
            Some((_, Ok(state))) => store.intent_by_key(&finalizer::key(state.next)).await?,
            _ => None,
        };
        Ok(Self {
            registry: None,
            receipts: None,
            next_epoch_intent,
            counts,
            backlog: per_job.into_values().collect(),
            latest: store.latest_intents(latest).await?,
            lease: store.lease(lease_name).await?,
            epochs,
            now_ms,
        })
    }
}

impl fmt::Display for StatusReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "outbox:")?;
        for (s, n) in &self.counts {
            write!(f, "  {} {n}", status_name(*s))?;
        }
        writeln!(f)?;

        writeln!(f, "\nbacklog (open intents by job):")?;
        if self.backlog.is_empty() {
            writeln!(f, "  none")?;
        } else {
            writeln!(f, "  {:<18} {:>6}  oldest", "job", "open")?;
            for b in &self.backlog {
                writeln!(
                    f,
                    "  {:<18} {:>6}  {} ({}, {} old)",
                    b.job,
                    b.open,
                    b.oldest.key,
                    status_name(b.oldest.status),
                    age(self.now_ms, b.oldest.created_at)
                )?;
            }
        }

        writeln!(f, "\nlast intents:")?;
        if self.latest.is_empty() {
            writeln!(f, "  none")?;
        } else {
            writeln!(
                f,
                "  {:>6}  {:<24} {:<12} {:>6} {:>8}  {:>6}  tx",
                "id", "key", "status", "nonce", "block", "age"
            )?;
            for i in &self.latest {
                let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |n| n.to_string());
                writeln!(
                    f,
                    "  {:>6}  {:<24} {:<12} {:>6} {:>8}  {:>6}  {}",
                    i.id,
                    i.key,
                    status_name(i.status),
                    opt(i.nonce),
                    opt(i.block_number),
                    age(self.now_ms, i.created_at),
                    i.tx_hash.map_or_else(|| "-".to_string(), |h| h.to_string())
                )?;
                if let Some(e) = &i.error {
                    if !matches!(i.status, IntentStatus::Confirmed) {
                        writeln!(f, "  {:>6}  ↳ {e}", "")?;
                    }
                }
            }
        }

        writeln!(f, "\nregistry:")?;
        match &self.registry {
            None => writeln!(f, "  no --registry / VERITY_REGISTRY configured")?,
            Some((registry, Err(e))) => writeln!(f, "  registry {registry}: unavailable: {e}")?,
            Some((registry, Ok(b))) => {
                writeln!(f, "  registry            {registry}")?;
                writeln!(f, "  pending versions    {}", b.pending)?;
                if b.pending > 0 {
                    writeln!(
                        f,
                        "  oldest pending      {} (chain time)",
                        span(b.oldest_pending_age)
                    )?;
                }
            }
        }

        writeln!(f, "\nreceipts:")?;
        match &self.receipts {
            None => writeln!(f, "  no --settlement / VERITY_SETTLEMENT configured")?,
            Some(r) => {
                write!(f, "  waiting             {}", r.waiting)?;
                match r.oldest_waiting_ms {
                    Some(t) if r.waiting > 0 => {
                        writeln!(f, " (oldest {} old)", age(self.now_ms, t))?
                    }
                    _ => writeln!(f)?,
                }
                write!(f, "  our batches        ")?;
                for (status, n) in &r.batches {
                    write!(f, " {status} {n}")?;
                }
                writeln!(f)?;
                for (chain_batch, status, count, created) in &r.last {
                    let id = chain_batch
                        .map_or_else(|| "(not anchored)".to_owned(), |b| format!("#{b}"));
                    writeln!(
                        f,
                        "  batch {id:<14} {status:<9} {count:>7} receipts, built {} ago",
                        age(self.now_ms, *created)
                    )?;
                }
            }
        }

        writeln!(f, "\nepochs:")?;
        match &self.epochs {
            None => writeln!(f, "  no --gauge / VERITY_GAUGE configured")?,
            Some((gauge, Err(e))) => writeln!(f, "  gauge {gauge}: unavailable: {e}")?,
            Some((gauge, Ok(s))) => {
                writeln!(f, "  gauge               {gauge}")?;
                writeln!(f, "  next to finalize    {}", s.next)?;
                let when = if s.is_due() {
                    format!(
                        "due, {} ago; {} ended epoch(s) not finalized",
                        span(s.lag_secs()),
                        s.due_epochs()
                    )
                } else {
                    format!("in {}", span(s.due_at - s.chain_now))
                };
                writeln!(f, "  due at              {} ({when})", s.due_at)?;
                writeln!(
                    f,
                    "  chain time          {} (block {})",
                    s.chain_now, s.block
                )?;
                if let Some(i) = &self.next_epoch_intent {
                    let stuck = if i.status.is_final() && s.is_due() {
                        " — STUCK: final but the epoch is still due; not re-sent"
                    } else {
                        ""
                    };
                    writeln!(
                        f,
                        "  intent              {} {}{stuck}",
                        i.key,
                        status_name(i.status)
                    )?;
                    if let (true, Some(e)) = (i.status.is_final(), &i.error) {
                        writeln!(f, "                      ↳ {e}")?;
                    }
                }
            }
        }

        match &self.lease {
            Some(l) if l.expires_at > self.now_ms => writeln!(
                f,
                "\nlease: {} (term {}, expires in {}s)",
                l.holder,
                l.term,
                (l.expires_at - self.now_ms) / 1_000
            ),
            Some(l) => writeln!(
                f,
                "\nlease: free (last holder {}, term {})",
                l.holder, l.term
            ),
            None => writeln!(f, "\nlease: none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_short() {
        let table = [
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (7_199, "119m"),
            (7_200, "2h"),
            (172_799, "47h"),
            (172_800, "2d"),
            (604_800, "7d"),
            (604_800 + 3 * 3_600 + 5, "7d 3h"),
        ];
        for (s, text) in table {
            assert_eq!(span(s), text, "{s}");
        }
        assert_eq!(age(10_000, 4_000), "6s");
        assert_eq!(age(0, 5_000), "0s", "clock skew shows as 0");
    }
}
