//! Packed storage words: several small fields in one `uint256` slot, read and written as four little-endian `u64`
//! limbs. One slot per group keeps finalization at one read and one write per version, and one storage field per
//! group keeps the contract small (every `#[storage]` field costs code in the struct's constructor).

use alloy_primitives::U256;

/// Limbs of a storage word, least significant first.
pub(crate) fn limbs(word: U256) -> [u64; 4] {
    *word.as_limbs()
}

/// A storage word from its limbs, least significant first.
pub(crate) fn word(limbs: [u64; 4]) -> U256 {
    U256::from_limbs(limbs)
}

/// A word holding two `u128`s (low, high).
pub(crate) fn pair(word: U256) -> (u128, u128) {
    let l = limbs(word);
    (
        u128::from(l[0]) | (u128::from(l[1]) << 64),
        u128::from(l[2]) | (u128::from(l[3]) << 64),
    )
}

/// The word holding `low` and `high`.
pub(crate) fn from_pair(low: u128, high: u128) -> U256 {
    // Truncations intended: each u128 is split into its two 64-bit halves.
    word([
        low as u64,
        (low >> 64) as u64,
        high as u64,
        (high >> 64) as u64,
    ])
}

/// Most yank/unyank toggles one version's history holds (the 24 bits left in [`Core`]'s first limb).
pub(crate) const MAX_YANK_TOGGLES: u32 = (1 << 24) - 1;

/// The hot slot of a version: everything finalization reads and writes.
/// Limb 0: status | reason << 8 | relation << 16 | parent count << 24 | format << 32 | yank toggles << 40 (24 bits);
/// limb 1: submitted at; limb 2: registered at; limb 3: fee (wei).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Core {
    pub(crate) status: u8,
    /// Submission-time reason while pending; the final reason afterwards.
    pub(crate) reason: u8,
    pub(crate) relation: u8,
    pub(crate) parent_count: u8,
    pub(crate) format: u8,
    /// How many yank/unyank timestamps the version's history holds (at most [`MAX_YANK_TOGGLES`]).
    pub(crate) yank_toggles: u32,
    pub(crate) submitted_at: u64,
    pub(crate) registered_at: u64,
    pub(crate) fee: u64,
}

impl Core {
    /// Unpacks a stored word.
    pub(crate) fn load(stored: U256) -> Self {
        let l = limbs(stored);
        let byte = |shift: u32| (l[0] >> shift) as u8;
        Self {
            status: byte(0),
            reason: byte(8),
            relation: byte(16),
            parent_count: byte(24),
            format: byte(32),
            // Truncation not possible: 24 bits remain after the shift.
            yank_toggles: (l[0] >> 40) as u32,
            submitted_at: l[1],
            registered_at: l[2],
            fee: l[3],
        }
    }

    /// Packs into a word.
    pub(crate) fn store(&self) -> U256 {
        let flags = u64::from(self.status)
            | u64::from(self.reason) << 8
            | u64::from(self.relation) << 16
            | u64::from(self.parent_count) << 24
            | u64::from(self.format) << 32
            | u64::from(self.yank_toggles.min(MAX_YANK_TOGGLES)) << 40;
        word([flags, self.submitted_at, self.registered_at, self.fee])
    }
}

/// The second slot of a version: limb 0 version, 1 size, 2 storage expiry (limb 3 unused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Info {
    pub(crate) version: u64,
    pub(crate) size: u64,
    pub(crate) storage_expiry: u64,
}

impl Info {
    /// Unpacks a stored word.
    pub(crate) fn load(stored: U256) -> Self {
        let [version, size, storage_expiry, _] = limbs(stored);
        Self {
            version,
            size,
            storage_expiry,
        }
    }

    /// Packs into a word.
    pub(crate) fn store(&self) -> U256 {
        word([self.version, self.size, self.storage_expiry, 0])
    }
}

/// The registry's settings: limb 0 paused (0/1), 1 max wait, 2 TTL, 3 minimum fee (wei).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Config {
    pub(crate) paused: bool,
    pub(crate) max_wait: u64,
    pub(crate) ttl: u64,
    pub(crate) min_fee: u64,
}

impl Config {
    /// Unpacks a stored word.
    pub(crate) fn load(stored: U256) -> Self {
        let [paused, max_wait, ttl, min_fee] = limbs(stored);
        Self {
            paused: paused != 0,
            max_wait,
            ttl,
            min_fee,
        }
    }

    /// Packs into a word.
    pub(crate) fn store(&self) -> U256 {
        word([
            u64::from(self.paused),
            self.max_wait,
            self.ttl,
            self.min_fee,
        ])
    }
}

/// The registry's counters: limb 0 version count (ids run 1..=count), 1 pending count, 2 queue head (smallest id
/// that may still be pending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counters {
    pub(crate) count: u64,
    pub(crate) pending: u64,
    pub(crate) head: u64,
}

impl Counters {
    /// Unpacks a stored word.
    pub(crate) fn load(stored: U256) -> Self {
        let [count, pending, head, _] = limbs(stored);
        Self {
            count,
            pending,
            head,
        }
    }

    /// Packs into a word.
    pub(crate) fn store(&self) -> U256 {
        word([self.count, self.pending, self.head, 0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        let core = Core {
            status: 3,
            reason: 29,
            relation: 5,
            parent_count: 8,
            format: 255,
            yank_toggles: MAX_YANK_TOGGLES,
            submitted_at: u64::MAX,
            registered_at: 7,
            fee: u64::MAX - 1,
        };
        assert_eq!(Core::load(core.store()), core);
        let info = Info {
            version: 1,
            size: u64::MAX,
            storage_expiry: 3,
        };
        assert_eq!(Info::load(info.store()), info);
        let config = Config {
            paused: true,
            max_wait: 5,
            ttl: 6,
            min_fee: u64::MAX,
        };
        assert_eq!(Config::load(config.store()), config);
        let counters = Counters {
            count: 1,
            pending: 2,
            head: 3,
        };
        assert_eq!(Counters::load(counters.store()), counters);
        assert_eq!(pair(from_pair(u128::MAX, 5)), (u128::MAX, 5));
    }
}
