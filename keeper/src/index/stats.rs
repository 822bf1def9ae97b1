//! Small statistics for the scoreboard and the epoch figures: nearest-rank percentiles and vote concentration.

use alloy::primitives::U256;

/// The `p`-th percentile (nearest rank, 0 < p ≤ 100) of `sorted` (ascending); `None` when empty.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank: ceil(p/100 × n), 1-based.
    let n = sorted.len() as u64;
    let rank = (u64::from(p.clamp(1, 100)) * n).div_ceil(100).max(1);
    sorted.get((rank - 1) as usize).copied()
}

/// `a / b` as a float (0 when `b` is zero); exact enough for shares of 256-bit weights.
pub fn ratio(a: U256, b: U256) -> f64 {
    if b.is_zero() {
        return 0.0;
    }
    // Scale to 1e12 in integers first, so huge values keep their precision.
    let scaled = a.saturating_mul(U256::from(1_000_000_000_000u64)) / b;
    u64::try_from(scaled).map_or(f64::INFINITY, |v| v as f64 / 1e12)
}

/// How concentrated a set of voter weights is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Concentration {
    /// Σ weights.
    pub total: U256,
    /// The largest weight's share (0..1).
    pub top1_share: f64,
    /// The five largest weights' share (0..1).
    pub top5_share: f64,
    /// Nakamoto coefficient: fewest voters whose weights exceed half the total (0 for no weight).
    pub nakamoto: u64,
}

impl Concentration {
    /// The figures of `weights` (any order).
    pub fn of(weights: &[U256]) -> Self {
        let mut sorted = weights.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        let total = sorted
            .iter()
            .fold(U256::ZERO, |acc, w| acc.saturating_add(*w));
        let top = |k: usize| {
            sorted
                .iter()
                .take(k)
                .fold(U256::ZERO, |acc, w| acc.saturating_add(*w))
        };
        let mut nakamoto = 0;
        let mut acc = U256::ZERO;
        if !total.is_zero() {
            for w in &sorted {
                acc = acc.saturating_add(*w);
                nakamoto += 1;
                // acc > total / 2, without rounding: 2·acc > total.
                if acc.saturating_mul(U256::from(2)) > total {
                    break;
                }
            }
        }
        Self {
            total,
            top1_share: ratio(top(1), total),
            top5_share: ratio(top(5), total),
            nakamoto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), Some(50));
        assert_eq!(percentile(&v, 99), Some(99));
        assert_eq!(percentile(&v, 100), Some(100));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50), Some(2));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn concentration_figures() {
        let w = |v: &[u64]| v.iter().map(|x| U256::from(*x)).collect::<Vec<_>>();
        // One whale over half: Nakamoto 1.
        let c = Concentration::of(&w(&[60, 10, 10, 10, 10]));
        assert_eq!(c.total, U256::from(100));
        assert_eq!(c.nakamoto, 1);
        assert!((c.top1_share - 0.6).abs() < 1e-9);
        assert!((c.top5_share - 1.0).abs() < 1e-9);
        // Exactly half is not more than half.
        let c = Concentration::of(&w(&[50, 25, 25]));
        assert_eq!(c.nakamoto, 2);
        // Ten equal voters: six needed.
        let c = Concentration::of(&w(&[1; 10]));
        assert_eq!(c.nakamoto, 6);
        assert!((c.top5_share - 0.5).abs() < 1e-9);
        // Nobody voted.
        let c = Concentration::of(&[]);
        assert_eq!((c.nakamoto, c.top1_share), (0, 0.0));
    }

    #[test]
    fn ratio_keeps_precision_for_large_values() {
        let big = U256::from(10).pow(U256::from(40));
        assert!((ratio(big, big * U256::from(4)) - 0.25).abs() < 1e-12);
        assert_eq!(ratio(U256::from(1), U256::ZERO), 0.0);
    }
}
