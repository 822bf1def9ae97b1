//! Injected faults (`--fault latency=200ms,drop-ack=0.2,error-rate=0.1,seed=7`) for tests and the demo:
//!
//! - **latency**: every `/infer` waits this long before answering;
//! - **error-rate**: this share of calls fail at once (`503 fault`), before anything runs or is stored;
//! - **drop-ack**: this share of calls run, store and sign the answer but lose the reply (`503 fault`): the
//!   client sees a failure although the work is done — exactly the lagging acknowledgement that makes clients
//!   retry. The retry (same request id) gets the stored answer; inference does not run again.
//!
//! Draws come from a seeded generator, so a run's pattern of faults repeats.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The faults a node injects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fault {
    /// Added to every `/infer`.
    pub latency: Duration,
    /// Share of calls whose reply is dropped after the work is done (0..=1).
    pub drop_ack: f64,
    /// Share of calls failed before any work (0..=1).
    pub error_rate: f64,
    /// Seed of the draws.
    pub seed: u64,
}

/// Why a `--fault` value does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultParseError {
    /// An item is not `key=value` with a known key.
    #[error(
        "unknown fault item {0:?} (latency=<ms>ms, drop-ack=<0..1>, error-rate=<0..1>, seed=<n>)"
    )]
    Item(String),
    /// A value does not parse or is out of range.
    #[error("bad value in {0:?}")]
    Value(String),
}

impl FromStr for Fault {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut fault = Fault::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| FaultParseError::Item(item.into()))?;
            let bad = || FaultParseError::Value(item.into());
            let share = |v: &str| -> Result<f64, FaultParseError> {
                let p: f64 = v.parse().map_err(|_| bad())?;
                if (0.0..=1.0).contains(&p) {
                    Ok(p)
                } else {
                    Err(bad())
                }
            };
            match key {
                "latency" => {
                    let ms = value.strip_suffix("ms").unwrap_or(value);
                    fault.latency = Duration::from_millis(ms.parse().map_err(|_| bad())?);
                }
                "drop-ack" => fault.drop_ack = share(value)?,
                "error-rate" => fault.error_rate = share(value)?,
                "seed" => fault.seed = value.parse().map_err(|_| bad())?,
                _ => return Err(FaultParseError::Item(item.into())),
            }
        }
        Ok(fault)
    }
}

/// A [`Fault`] with its generator.
#[derive(Debug, Default)]
pub struct Dice {
    fault: Fault,
    state: AtomicU64,
}

impl Dice {
    /// Draws for `fault`.
    pub fn new(fault: Fault) -> Self {
        Self {
            state: AtomicU64::new(fault.seed),
            fault,
        }
    }

    /// The configured faults.
    pub fn fault(&self) -> &Fault {
        &self.fault
    }

    /// A uniform draw in `[0, 1)` (splitmix64).
    fn draw(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether this call fails before any work.
    pub fn error(&self) -> bool {
        self.fault.error_rate > 0.0 && self.draw() < self.fault.error_rate
    }

    /// Whether this call's reply is dropped.
    pub fn drop_ack(&self) -> bool {
        self.fault.drop_ack > 0.0 && self.draw() < self.fault.drop_ack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_item_and_rejects_unknown_ones() {
        let f: Fault = "latency=250ms, drop-ack=0.5,error-rate=0.25,seed=9"
            .parse()
            .unwrap();
        assert_eq!(
            f,
            Fault {
                latency: Duration::from_millis(250),
                drop_ack: 0.5,
                error_rate: 0.25,
                seed: 9
            }
        );
        assert_eq!("".parse::<Fault>().unwrap(), Fault::default());
        assert!(matches!(
            "slow=1".parse::<Fault>(),
            Err(FaultParseError::Item(_))
        ));
        assert!(matches!(
            "error-rate=2".parse::<Fault>(),
            Err(FaultParseError::Value(_))
        ));
    }

    #[test]
    fn draws_follow_the_rates() {
        let never = Dice::new(Fault::default());
        assert!((0..1_000).all(|_| !never.error() && !never.drop_ack()));
        let half = Dice::new(Fault {
            error_rate: 0.5,
            ..Fault::default()
        });
        let errors = (0..10_000).filter(|_| half.error()).count();
        assert!((4_500..5_500).contains(&errors), "{errors}");
    }
}
