//! GaugeController (`verity-gauge`): events, errors, the epoch/season calendar and the emission schedule (plain
//! `no_std` Rust, shared by the contract and the keeper), and the calls the controller makes to BR and the escrow.
//!
//! Emission: [`GENESIS_SUPPLY`] (21% of BR's cap) circulates at genesis; the rest, [`EMISSION_TOTAL`], is released
//! linearly per epoch from `genesis` until `end` ([`Schedule::emission`]), each epoch's share minted once, to the
//! controller, when that epoch is finalized. Events let an indexer rebuild every tally: `VoteCast` per vote and
//! `GaugeVote` per allocation (a re-vote replaces the voter's previous allocation), `GaugeRewarded` per gauge per
//! finalized epoch. Errors carry the `Gauge` prefix.

use alloy_primitives::U256;

use crate::escrow::WEEK;

/// Basis points: a voter's allocations sum to at most this.
pub const BPS: u64 = 10_000;

/// Votes open this long after an epoch starts and close this long before it ends.
pub const VOTE_MARGIN: u64 = 3_600;

/// At most this many gauges (alive or killed): finalization loops over them.
pub const MAX_GAUGES: u64 = 50;

/// At most this many emission epochs (keeps the schedule's arithmetic in `u128`).
pub const MAX_EMISSION_EPOCHS: u64 = 1_000_000;

/// Default epoch length: one week.
pub const DEFAULT_EPOCH_LENGTH: u64 = WEEK;

/// Default season length: 12 epochs.
pub const DEFAULT_SEASON_LENGTH: u64 = 12;

/// Default end of emissions: 2028-01-01T00:00:00Z, i.e. the end of 2027-12-31.
pub const DEFAULT_EMISSION_END: u64 = 1_830_297_600;

/// BR circulating at genesis: 210,000,000 BR (21% of the cap), minted by BR's constructor.
pub const GENESIS_SUPPLY: U256 = U256::from_limbs([0xcfa41aee12000000, 0xadb53a, 0, 0]);

/// BR released by emissions: 790,000,000 BR (the cap minus [`GENESIS_SUPPLY`]), in base units.
pub const EMISSION_TOTAL: u128 = 790_000_000 * 1_000_000_000_000_000_000;

/// The controller's calendar and emission schedule, fixed at construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Start of epoch 0 (Unix seconds).
    pub genesis: u64,
    /// Seconds per epoch.
    pub epoch_length: u64,
    /// Epochs per season; votes are void at each season's start.
    pub season_length: u64,
    /// Emissions end: epochs starting at or after it emit nothing.
    pub end: u64,
}

impl Schedule {
    /// A schedule (check it with [`Schedule::is_valid`]).
    pub const fn new(genesis: u64, epoch_length: u64, season_length: u64, end: u64) -> Self {
        Self {
            genesis,
            epoch_length,
            season_length,
            end,
        }
    }

    /// The default calendar (weekly epochs, 12-epoch seasons, emissions until the end of 2027) from `genesis`.
    pub const fn with_defaults(genesis: u64) -> Self {
        Self::new(
            genesis,
            DEFAULT_EPOCH_LENGTH,
            DEFAULT_SEASON_LENGTH,
            DEFAULT_EMISSION_END,
        )
    }

    /// Epochs longer than both vote margins, seasons of at least one epoch, an end after genesis, at most
    /// [`MAX_EMISSION_EPOCHS`] emission epochs, and every epoch start representable.
    pub fn is_valid(&self) -> bool {
        self.epoch_length > 2 * VOTE_MARGIN
            && self.season_length >= 1
            && self.end > self.genesis
            && self.emission_epochs() <= MAX_EMISSION_EPOCHS
            // Epoch starts up to u32::MAX epochs (~80,000 years of weekly epochs) fit in u64.
            && self.epoch_length.checked_mul(u64::from(u32::MAX)).and_then(|d| d.checked_add(self.genesis)).is_some()
    }

    /// Start of epoch `e` (saturating at `u64::MAX`).
    pub fn epoch_start(&self, e: u64) -> u64 {
        self.genesis
            .saturating_add(e.saturating_mul(self.epoch_length))
    }

    /// The epoch running at time `t`, `None` before genesis.
    pub fn epoch_at(&self, t: u64) -> Option<u64> {
        // Division by zero not possible on a valid schedule (epoch_length > 0); checked_div guards the rest.
        t.checked_sub(self.genesis)?.checked_div(self.epoch_length)
    }

    /// The season epoch `e` belongs to.
    pub fn season_of(&self, e: u64) -> u64 {
        e.checked_div(self.season_length).unwrap_or(0)
    }

    /// The first epoch of the season after the one holding epoch `e`.
    pub fn next_season_start(&self, e: u64) -> u64 {
        self.season_of(e)
            .saturating_add(1)
            .saturating_mul(self.season_length)
    }

    /// The first epoch starting at or after time `t`.
    pub fn first_epoch_from(&self, t: u64) -> u64 {
        match t.checked_sub(self.genesis) {
            Some(d) if self.epoch_length > 0 => d.div_ceil(self.epoch_length),
            _ => 0,
        }
    }

    /// `(opens, closes)`: votes for epoch `e` are accepted at `opens <= t < closes`.
    pub fn vote_window(&self, e: u64) -> (u64, u64) {
        let start = self.epoch_start(e);
        (
            start.saturating_add(VOTE_MARGIN),
            start
                .saturating_add(self.epoch_length)
                .saturating_sub(VOTE_MARGIN),
        )
    }

    /// How many epochs emit: those starting before `end`.
    pub fn emission_epochs(&self) -> u64 {
        self.first_epoch_from(self.end)
    }

    /// BR emitted by epochs `0..e` together (linear, exact: the last epoch takes the rounding remainder).
    pub fn cumulative_emission(&self, e: u64) -> u128 {
        let n = self.emission_epochs();
        if n == 0 {
            return 0;
        }
        // Overflow not possible: EMISSION_TOTAL < 2^90 and min(e, n) <= MAX_EMISSION_EPOCHS < 2^20.
        EMISSION_TOTAL.saturating_mul(u128::from(e.min(n))) / u128::from(n)
    }

    /// BR emitted by epoch `e`: zero from the first epoch starting at or after `end`.
    pub fn emission(&self, e: u64) -> u128 {
        // Underflow not possible: cumulative_emission is non-decreasing in e.
        self.cumulative_emission(e.saturating_add(1)) - self.cumulative_emission(e)
    }
}

sol_with_source! {
    /// Solidity source of the controller's events, appended to the committed interface file.
    EVENTS_SOL => {
        event GaugeAdded(address indexed gauge);
        event GaugeKilled(address indexed gauge);
        event GaugeRevived(address indexed gauge);
        event VoteCast(address indexed voter, uint64 indexed epoch, uint256 power, uint256 used, uint64 end);
        event GaugeVote(address indexed voter, uint64 indexed epoch, address indexed gauge, uint256 bps, uint256 slope);
        event GaugeRewarded(uint64 indexed epoch, address indexed gauge, uint256 weight, uint256 amount);
        event EpochFinalized(uint64 indexed epoch, uint256 emission, uint256 totalWeight, uint256 distributed, uint256 carried);
        event Claimed(address indexed gauge, uint256 amount);
        event AdminChanged(address indexed previousAdmin, address indexed newAdmin);
    }
}

alloy_sol_types::sol! {
    #![sol(all_derives)]
    /// `account` is not the admin.
    error GaugeUnauthorized(address account);
    /// The zero address cannot be the admin, the token, the escrow or a gauge.
    error GaugeInvalidAddress();
    /// The calendar or emission schedule is invalid (see `Schedule::is_valid`), or the cap exceeds 10,000 bps.
    error GaugeInvalidSchedule();
    /// `gauge` is already registered.
    error GaugeAlreadyAdded(address gauge);
    /// The registry is full (`max` gauges).
    error GaugeTooMany(uint256 max);
    /// `gauge` is not registered.
    error GaugeUnknown(address gauge);
    /// `gauge` is already killed.
    error GaugeAlreadyKilled(address gauge);
    /// `gauge` is alive (revive needs a killed gauge).
    error GaugeAlreadyAlive(address gauge);
    /// `gauge` is killed: it takes no votes.
    error GaugeIsKilled(address gauge);
    /// Before genesis (`genesis`).
    error GaugeNotStarted(uint64 genesis);
    /// Votes for `epoch` are accepted at `opens <= t < closes`.
    error GaugeVoteOutsideWindow(uint64 epoch, uint64 opens, uint64 closes);
    /// The gauge and bps lists differ in length.
    error GaugeVoteLengthMismatch();
    /// Gauges must be strictly ascending (no duplicates); entry `index` is not.
    error GaugeVoteUnsorted(uint256 index);
    /// The allocations sum to `totalBps`, above 10,000.
    error GaugeVoteOverflow(uint256 totalBps);
    /// The allocation to `gauge` rounds to zero weight (zero bps, or too little power).
    error GaugeVoteRoundsToZero(address gauge);
    /// `voter` had no voting power at `epochStart`.
    error GaugeNoVotingPower(address voter, uint64 epochStart);
    /// `epoch` ends at `endsAt`: it cannot be finalized before.
    error GaugeEpochNotEnded(uint64 epoch, uint64 endsAt);
    /// `epoch` is already finalized (the keeper treats this as success).
    error GaugeEpochAlreadyFinalized(uint64 epoch);
    /// Epochs are finalized in order: `next` comes before `epoch`.
    error GaugeEpochNotNext(uint64 epoch, uint64 next);
    /// Finalize every ended epoch (the next is `next`) before killing or reviving a gauge.
    error GaugeFinalizationPending(uint64 next);
    /// `gauge` has nothing to claim.
    error GaugeNothingToClaim(address gauge);
    /// A call to `target` (BR or the escrow) reverted with `reason`, returned false or returned malformed data.
    error GaugeCallFailed(address target, bytes reason);
}

/// The functions the controller calls on BR and on the escrow (checked against the committed interfaces by a test).
pub mod calls {
    alloy_sol_types::sol! {
        /// BR's `mint` (the controller is BR's minter).
        function mint(address to, uint256 value) external;
        /// BR's `transfer`.
        function transfer(address to, uint256 value) external returns (bool);
        /// The escrow's `powerAt`: `user`'s balance and slope at `t`, and the total supply at `t`.
        function powerAt(address user, uint64 t) external view returns (uint256, uint256, uint256);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{CAP, UNIT};

    #[test]
    fn supply_constants_add_up_to_the_cap() {
        assert_eq!(GENESIS_SUPPLY, U256::from(210_000_000u64) * UNIT);
        assert_eq!(GENESIS_SUPPLY + U256::from(EMISSION_TOTAL), CAP);
        assert_eq!(GENESIS_SUPPLY * U256::from(100u64) / CAP, U256::from(21u64));
    }

    #[test]
    fn default_end_is_the_end_of_2027() {
        // 2028-01-01 is 58 years, 14 leap days after 1970-01-01.
        assert_eq!(DEFAULT_EMISSION_END, (58 * 365 + 14) * 86_400);
        // Weeks (Unix time) start on Thursdays; 2028-01-01 is a Saturday.
        assert_eq!(DEFAULT_EMISSION_END % WEEK, 2 * 86_400);
    }

    #[test]
    fn calendar_maths() {
        let s = Schedule::new(1_000, 10_000, 3, 1_000 + 95_000);
        assert!(s.is_valid());
        assert_eq!(s.epoch_at(999), None);
        assert_eq!(s.epoch_at(1_000), Some(0));
        assert_eq!(s.epoch_at(10_999), Some(0));
        assert_eq!(s.epoch_at(11_000), Some(1));
        assert_eq!(s.epoch_start(2), 21_000);
        assert_eq!((s.season_of(2), s.season_of(3)), (0, 1));
        assert_eq!((s.next_season_start(0), s.next_season_start(3)), (3, 6));
        assert_eq!(
            (s.first_epoch_from(1_000), s.first_epoch_from(1_001)),
            (0, 1)
        );
        assert_eq!(
            s.vote_window(1),
            (11_000 + VOTE_MARGIN, 21_000 - VOTE_MARGIN)
        );
        assert_eq!(s.emission_epochs(), 10, "the partial 10th epoch emits");
    }

    #[test]
    fn emission_is_linear_and_sums_to_the_total() {
        let s = Schedule::new(0, 7_300, 12, 7_300 * 7 + 1);
        let n = s.emission_epochs();
        assert_eq!(n, 8);
        let total: u128 = (0..n + 5).map(|e| s.emission(e)).sum();
        assert_eq!(total, EMISSION_TOTAL);
        assert_eq!(s.emission(n), 0);
        for e in 0..n {
            let diff = s.emission(e).abs_diff(EMISSION_TOTAL / u128::from(n));
            assert!(diff <= 1, "epoch {e}");
        }
    }

    #[test]
    fn default_schedule_from_a_2026_genesis_is_valid() {
        let s = Schedule::with_defaults(crate::escrow::week_floor(1_780_000_000));
        assert!(s.is_valid());
        assert_eq!(s.cumulative_emission(s.emission_epochs()), EMISSION_TOTAL);
    }

    #[test]
    fn invalid_schedules_are_rejected() {
        assert!(!Schedule::new(0, 2 * VOTE_MARGIN, 12, 1_000_000).is_valid());
        assert!(!Schedule::new(0, WEEK, 0, 1_000_000).is_valid());
        assert!(!Schedule::new(5, WEEK, 1, 5).is_valid());
        assert!(!Schedule::new(0, 2 * VOTE_MARGIN + 1, 1, u64::MAX).is_valid());
        assert!(!Schedule::new(u64::MAX - WEEK, WEEK, 1, u64::MAX).is_valid());
    }

    #[test]
    fn events_source_declares_every_event() {
        for name in [
            "GaugeAdded",
            "VoteCast",
            "GaugeVote",
            "GaugeRewarded",
            "EpochFinalized",
            "Claimed",
        ] {
            let flat = EVENTS_SOL
                .split_whitespace()
                .collect::<alloc::vec::Vec<_>>()
                .join(" ");
            assert!(flat.contains(&alloc::format!("event {name}(")), "{name}");
        }
    }

    #[cfg(feature = "rpc")]
    #[test]
    fn outbound_calls_match_the_committed_interfaces() {
        use crate::rpc::{IBrToken, IVotingEscrow};
        use alloy_sol_types::SolCall;
        assert_eq!(calls::mintCall::SIGNATURE, IBrToken::mintCall::SIGNATURE);
        assert_eq!(
            calls::transferCall::SIGNATURE,
            IBrToken::transferCall::SIGNATURE
        );
        assert_eq!(
            calls::powerAtCall::SIGNATURE,
            IVotingEscrow::powerAtCall::SIGNATURE
        );
    }
}
