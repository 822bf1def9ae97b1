//! Named failpoints: `VERITY_FAILPOINT=<name>[,<name>…]` (the names of [`Failpoint::ALL`]), read once into
//! [`crate::config::Config`] and passed down. When a named step is reached the transaction manager stops with
//! [`crate::outbox::OutboxError::Failpoint`], a receipts job with [`crate::jobs::JobError::Failpoint`]; the binary
//! exits at once (code [`FAILPOINT_EXIT_CODE`]), as a kill at that exact step would. Tests restart and check that
//! nothing was lost or sent twice.
//!
//! The transaction manager's steps ([`Failpoint::OUTBOX`]) are crossed by every job's intents (`after_sign` right
//! before an intent's first broadcast, whether it was signed alone or in a batch), its batch steps
//! ([`Failpoint::OUTBOX_BATCH`]) once per signed batch and once per pass that confirms something; the receipts jobs'
//! steps ([`Failpoint::RECEIPTS`]) sit between a store write and what depends on it (the batch built but its anchor
//! intent not persisted; a range of events applied but the cursor not moved; a batch's verdict stored but its
//! challenge not persisted).
//!
//! With the extra token `wait` (`VERITY_FAILPOINT=after_sign,wait`) the step instead prints
//! [`WAITING_MARKER`], the failpoint's name and what it was working on (an intent's key, a batch) to stderr and
//! blocks right there, so a test can end the process with a real `SIGKILL` at that exact step (nothing after it
//! runs in that task, no shutdown path either). A token `<name>@<what>` (`after_receipt@anchor:0x…`) exempts that
//! one step: a test that already killed the process there restarts it armed with every other step, so one run of a
//! scenario kills the keeper once at each step of each intent, batch and event range it crosses.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Exit code of the binary when a failpoint fires.
pub const FAILPOINT_EXIT_CODE: i32 = 86;

/// What a waiting failpoint prints to stderr (followed by its name) before it blocks for the test's `SIGKILL`.
pub const WAITING_MARKER: &str = "failpoint reached, waiting to be killed:";

/// A step of the transaction manager or of a receipts job at which a test can kill the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Failpoint {
    /// The nonce, the intent's `Signed` status and the raw transaction are committed; nothing broadcast.
    AfterSign,
    /// The node accepted the raw transaction; the `Sent` status is not recorded.
    AfterBroadcast,
    /// A receipt with enough confirmations was read; the final status is not recorded.
    AfterReceipt,
    /// The receipt batcher committed a batch with its leaves (its receipts `Batched`); the anchor intent is not
    /// persisted.
    AfterBatchBuilt,
    /// The receipts' events job applied a range of logs to the store; the cursor has not moved past them.
    AfterEventsApplied,
    /// The challenge watcher stored its verdict on another submitter's batch (with the challenge calldata); the
    /// challenge intent is not persisted.
    AfterBatchChecked,
    /// The transaction manager committed a signed batch (every intent's nonce, `Signed` status and raw
    /// transaction in one database transaction); none of it is broadcast.
    AfterBatchSign,
    /// The transaction manager read the receipts of the new blocks (or looked them up) and found some of its
    /// intents included with enough confirmations; no final status of the pass is recorded and the in-memory scan
    /// position is lost with the process.
    AfterBlockReceipts,
}

impl Failpoint {
    /// The transaction manager's steps (crossed by every job's intents).
    pub const OUTBOX: [Failpoint; 3] = [
        Failpoint::AfterSign,
        Failpoint::AfterBroadcast,
        Failpoint::AfterReceipt,
    ];

    /// The transaction manager's batch steps (crossed once per signed batch and once per pass that confirms).
    pub const OUTBOX_BATCH: [Failpoint; 2] =
        [Failpoint::AfterBatchSign, Failpoint::AfterBlockReceipts];

    /// The receipts jobs' own steps.
    pub const RECEIPTS: [Failpoint; 3] = [
        Failpoint::AfterBatchBuilt,
        Failpoint::AfterEventsApplied,
        Failpoint::AfterBatchChecked,
    ];

    /// Every failpoint.
    pub const ALL: [Failpoint; 8] = [
        Failpoint::AfterSign,
        Failpoint::AfterBroadcast,
        Failpoint::AfterReceipt,
        Failpoint::AfterBatchBuilt,
        Failpoint::AfterEventsApplied,
        Failpoint::AfterBatchChecked,
        Failpoint::AfterBatchSign,
        Failpoint::AfterBlockReceipts,
    ];

    /// The name used in `VERITY_FAILPOINT`.
    pub const fn name(self) -> &'static str {
        match self {
            Failpoint::AfterSign => "after_sign",
            Failpoint::AfterBroadcast => "after_broadcast",
            Failpoint::AfterReceipt => "after_receipt",
            Failpoint::AfterBatchBuilt => "after_batch_built",
            Failpoint::AfterEventsApplied => "after_events_applied",
            Failpoint::AfterBatchChecked => "after_batch_checked",
            Failpoint::AfterBatchSign => "after_batch_sign",
            Failpoint::AfterBlockReceipts => "after_block_receipts",
        }
    }
}

impl fmt::Display for Failpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`Failpoint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown failpoint {0:?} (known: after_sign, after_broadcast, after_receipt, after_batch_built, \
     after_events_applied, after_batch_checked, after_batch_sign, after_block_receipts; plus `wait`)"
)]
pub struct UnknownFailpoint(pub String);

impl FromStr for Failpoint {
    type Err = UnknownFailpoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Failpoint::ALL
            .into_iter()
            .find(|f| f.name() == s.trim())
            .ok_or_else(|| UnknownFailpoint(s.to_string()))
    }
}

/// The armed failpoints (none in production), whether they wait for a kill instead of stopping, and the steps
/// exempted (a failpoint and what it works on).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failpoints {
    points: BTreeSet<Failpoint>,
    wait: bool,
    skip: BTreeSet<(Failpoint, String)>,
}

impl Failpoints {
    /// No failpoint armed.
    pub fn none() -> Self {
        Self::default()
    }

    /// Exactly these failpoints armed.
    pub fn of(points: impl IntoIterator<Item = Failpoint>) -> Self {
        Self {
            points: points.into_iter().collect(),
            wait: false,
            skip: BTreeSet::new(),
        }
    }

    /// `Err(point)` when `point` is armed: the caller stops right there. In `wait` mode an armed point never
    /// returns: it prints [`WAITING_MARKER`] and blocks its thread until the process is killed.
    ///
    /// # Errors
    /// The armed failpoint itself.
    pub fn check(&self, point: Failpoint) -> Result<(), Failpoint> {
        self.check_at(point, "")
    }

    /// As [`Failpoints::check`], naming what the step was working on (`what`: an intent's key, a batch): a
    /// waiting failpoint prints it after its name, so a test knows which intent or batch the kill caught.
    ///
    /// # Errors
    /// The armed failpoint itself.
    pub fn check_at(&self, point: Failpoint, what: &str) -> Result<(), Failpoint> {
        if !self.points.contains(&point) || self.skip.contains(&(point, what.to_string())) {
            return Ok(());
        }
        if self.wait {
            eprintln!("{WAITING_MARKER} {point} {what}");
            loop {
                std::thread::park();
            }
        }
        Err(point)
    }

    /// Whether any failpoint is armed.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

impl FromStr for Failpoints {
    type Err = UnknownFailpoint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let tokens = s.split(',').map(str::trim).filter(|p| !p.is_empty());
        let wait = tokens.clone().any(|t| t == "wait");
        let skip = tokens
            .clone()
            .filter_map(|t| t.split_once('@'))
            .map(|(p, what)| Ok((Failpoint::from_str(p)?, what.to_string())))
            .collect::<Result<BTreeSet<_>, UnknownFailpoint>>()?;
        let points = tokens
            .filter(|t| *t != "wait" && !t.contains('@'))
            .map(Failpoint::from_str)
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(Failpoints { points, wait, skip })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_rejects_unknown() {
        let f: Failpoints = "after_sign, after_receipt".parse().unwrap();
        assert_eq!(f.check(Failpoint::AfterSign), Err(Failpoint::AfterSign));
        assert_eq!(f.check(Failpoint::AfterBroadcast), Ok(()));
        assert!("".parse::<Failpoints>().unwrap().is_empty());
        assert_eq!(
            "after_nap".parse::<Failpoints>(),
            Err(UnknownFailpoint("after_nap".into()))
        );
        for p in Failpoint::ALL {
            assert_eq!(p.name().parse::<Failpoint>(), Ok(p));
        }
        let waiting: Failpoints = "after_broadcast,wait".parse().unwrap();
        assert!(waiting.wait && !waiting.is_empty());
        assert_eq!(waiting.check(Failpoint::AfterSign), Ok(()));
        assert!(!"after_sign".parse::<Failpoints>().unwrap().wait);
        // One step exempted: the same point still fires for anything else.
        let skipping: Failpoints = "after_receipt,after_receipt@anchor:0x01".parse().unwrap();
        assert_eq!(
            skipping.check_at(Failpoint::AfterReceipt, "anchor:0x01"),
            Ok(())
        );
        assert_eq!(
            skipping.check_at(Failpoint::AfterReceipt, "prove:0x02"),
            Err(Failpoint::AfterReceipt)
        );
        assert!("after_nap@x".parse::<Failpoints>().is_err());
    }
}
