//! Named failpoints: `VERITY_FAILPOINT=after_sign|after_broadcast|after_receipt` (comma-separated), read once into
//! [`crate::config::Config`] and passed down. When a named step is reached the transaction manager stops with
//! [`crate::outbox::OutboxError::Failpoint`]; the binary exits at once (code [`FAILPOINT_EXIT_CODE`]), as a kill
//! at that exact step would. Tests restart and check that nothing was lost or sent twice.
//!
//! With the extra token `wait` (`VERITY_FAILPOINT=after_sign,wait`) the step instead prints
//! [`WAITING_MARKER`] and the failpoint's name to stderr and blocks right there, so a test can end the process with
//! a real `SIGKILL` at that exact step (nothing after it runs in that task, no shutdown path either).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// Exit code of the binary when a failpoint fires.
pub const FAILPOINT_EXIT_CODE: i32 = 86;

/// What a waiting failpoint prints to stderr (followed by its name) before it blocks for the test's `SIGKILL`.
pub const WAITING_MARKER: &str = "failpoint reached, waiting to be killed:";

/// A step of the transaction manager at which a test can kill the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Failpoint {
    /// The nonce, the intent's `Signed` status and the raw transaction are committed; nothing broadcast.
    AfterSign,
    /// The node accepted the raw transaction; the `Sent` status is not recorded.
    AfterBroadcast,
    /// A receipt with enough confirmations was read; the final status is not recorded.
    AfterReceipt,
}

impl Failpoint {
    /// Every failpoint.
    pub const ALL: [Failpoint; 3] = [
        Failpoint::AfterSign,
        Failpoint::AfterBroadcast,
        Failpoint::AfterReceipt,
    ];

    /// The name used in `VERITY_FAILPOINT`.
    pub const fn name(self) -> &'static str {
        match self {
            Failpoint::AfterSign => "after_sign",
            Failpoint::AfterBroadcast => "after_broadcast",
            Failpoint::AfterReceipt => "after_receipt",
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
#[error("unknown failpoint {0:?} (known: after_sign, after_broadcast, after_receipt; plus `wait`)")]
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

/// The armed failpoints (none in production), and whether they wait for a kill instead of stopping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failpoints {
    points: BTreeSet<Failpoint>,
    wait: bool,
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
        }
    }

    /// `Err(point)` when `point` is armed: the caller stops right there. In `wait` mode an armed point never
    /// returns: it prints [`WAITING_MARKER`] and blocks its thread until the process is killed.
    ///
    /// # Errors
    /// The armed failpoint itself.
    pub fn check(&self, point: Failpoint) -> Result<(), Failpoint> {
        if !self.points.contains(&point) {
            return Ok(());
        }
        if self.wait {
            eprintln!("{WAITING_MARKER} {point}");
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
        let points = tokens
            .filter(|t| *t != "wait")
            .map(Failpoint::from_str)
            .collect::<Result<BTreeSet<_>, _>>()?;
        Ok(Failpoints { points, wait })
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
    }
}
