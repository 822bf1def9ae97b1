//! Stateful property test of the controller against a reference model, with the real escrow (on its own TestVM,
//! its clock kept in step) supplying voting power: random locks, increases, extensions and withdrawals, votes and
//! re-votes (a hostile actor sends unsorted, duplicate, unknown, killed and overflowing ballots), time travel
//! across epochs and season flips, kills and revives (also by an outsider), finalizations (in order, early, twice)
//! and claims. Calendars vary: weekly or 10-day epochs, seasons of 1–3 epochs, genesis on or off a week boundary,
//! with or without a per-voter cap.
//!
//! Invariants (INVARIANTS.md, "Gauge"), checked after every step:
//! - every gauge's weight at every unfinalized epoch up to now equals the model's Σ over voters of their
//!   allocation's `slope × (end − epochStart)` (same season, lock not ended) — carried votes decay, a new season
//!   starts at zero;
//! - Σ gauge weights == the epoch's total weight (Σ gauge votes == total cast);
//! - each voter's used weight at the running epoch ≤ its escrow balance at the epoch start;
//! - minted == Σ schedule.emission(e) over finalized epochs (once each), and minted == claimed + claimable +
//!   carried (never stranded);
//!
//! and at each finalization: Σ relative weights ≤ 1e18, a killed gauge gets nothing, every share matches the
//! model, and shares + new carry == old carry + emission.

use super::*;
use proptest::prelude::*;
use verity_escrow::VotingEscrow;

const VOTERS: [Address; 4] = [
    address!("00000000000000000000000000000000000000c1"),
    address!("00000000000000000000000000000000000000c2"),
    address!("00000000000000000000000000000000000000c3"),
    address!("00000000000000000000000000000000000000c4"),
];
const HOSTILE: usize = 3;
const G4: Address = address!("0000000000000000000000000000000000000044");
const UNKNOWN: Address = address!("0000000000000000000000000000000000000055");
const GAUGES: [Address; 5] = [G1, G2, G3, G4, UNKNOWN];
const T0: u64 = GENESIS - 3 * WEEK;

#[derive(Debug, Clone)]
struct Config {
    epoch_length: u64,
    season_length: u64,
    genesis_offset: u64,
    emission_epochs: u64,
    cap_bps: u64,
}

#[derive(Debug, Clone)]
enum Op {
    Lock {
        who: usize,
        amount: u128,
        weeks: u64,
    },
    Extend {
        who: usize,
        weeks: u64,
    },
    Withdraw {
        who: usize,
    },
    Vote {
        who: usize,
        picks: Vec<(usize, u16)>,
    },
    Advance {
        secs: u64,
    },
    ToWindow {
        epochs: u64,
    },
    Finalize {
        delta: i8,
    },
    Claim {
        gauge: usize,
    },
    SetKilled {
        admin: bool,
        gauge: usize,
        kill: bool,
    },
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop_oneof![Just(WEEK), Just(10 * 86_400)],
        1u64..=3,
        prop_oneof![Just(0u64), Just(12_345u64)],
        4u64..30,
        prop_oneof![Just(0u64), Just(2_500u64)],
    )
        .prop_map(
            |(epoch_length, season_length, genesis_offset, emission_epochs, cap_bps)| Config {
                epoch_length,
                season_length,
                genesis_offset,
                emission_epochs,
                cap_bps,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..VOTERS.len();
    prop_oneof![
        3 => (who.clone(), 1u128..1_000_000, 1u64..220)
            .prop_map(|(who, n, weeks)| Op::Lock { who, amount: n * UNIT / 100, weeks }),
        1 => (who.clone(), 1u64..220).prop_map(|(who, weeks)| Op::Extend { who, weeks }),
        1 => who.clone().prop_map(|who| Op::Withdraw { who }),
        5 => (who, prop::collection::vec((0..GAUGES.len(), 0u16..=10_000), 0..5))
            .prop_map(|(who, picks)| Op::Vote { who, picks }),
        2 => (0u64..2 * WEEK).prop_map(|secs| Op::Advance { secs }),
        3 => (0u64..3).prop_map(|epochs| Op::ToWindow { epochs }),
        3 => (-1i8..=1).prop_map(|delta| Op::Finalize { delta }),
        1 => (0..GAUGES.len()).prop_map(|gauge| Op::Claim { gauge }),
        1 => (any::<bool>(), 0..GAUGES.len(), any::<bool>())
            .prop_map(|(admin, gauge, kill)| Op::SetKilled { admin, gauge, kill }),
    ]
}

/// One allocation as the model sees it: from which epoch, in which season, decaying to `end`.
#[derive(Debug, Clone)]
struct Allocation {
    from: u64,
    season: u64,
    end: u64,
    slopes: Vec<(Address, u128)>,
}

struct World {
    s: Schedule,
    cap_bps: u128,
    evm: TestVM,
    escrow: VotingEscrow,
    gvm: TestVM,
    gauge: GaugeController,
    now: u64,
    history: [Vec<Allocation>; 4],
    killed: [bool; 4],
    claimable: [u128; 4],
    claimed: u128,
    carry: u128,
    minted: u128,
    next: u64,
}

impl World {
    fn new(c: &Config) -> Self {
        let genesis = GENESIS + c.genesis_offset;
        let s = Schedule::new(
            genesis,
            c.epoch_length,
            c.season_length,
            genesis + c.emission_epochs * c.epoch_length,
        );
        let evm = TestVM::default();
        evm.set_block_timestamp(T0);
        let mut escrow = VotingEscrow::from(&evm);
        escrow.constructor(TOKEN).unwrap();
        let gvm = TestVM::default();
        gvm.set_block_timestamp(T0);
        let mut gauge = GaugeController::from(&gvm);
        gauge
            .constructor(
                ADMIN,
                TOKEN,
                ESCROW,
                s.genesis,
                s.epoch_length,
                s.season_length,
                s.end,
                c.cap_bps,
            )
            .unwrap();
        gvm.set_sender(ADMIN);
        for g in &GAUGES[..4] {
            gauge.add_gauge(*g).unwrap();
        }
        World {
            s,
            cap_bps: u128::from(c.cap_bps),
            evm,
            escrow,
            gvm,
            gauge,
            now: T0,
            history: Default::default(),
            killed: [false; 4],
            claimable: [0; 4],
            claimed: 0,
            carry: 0,
            minted: 0,
            next: 0,
        }
    }

    fn set_time(&mut self, t: u64) {
        self.now = t;
        self.evm.set_block_timestamp(t);
        self.gvm.set_block_timestamp(t);
    }

    fn model_weight(&self, g: Address, e: u64) -> u128 {
        let t = self.s.epoch_start(e);
        let season = self.s.season_of(e);
        let mut w = 0;
        for allocations in &self.history {
            let Some(a) = allocations.iter().rev().find(|a| a.from <= e) else {
                continue;
            };
            if a.season != season || a.end <= t {
                continue;
            }
            for (gauge, slope) in &a.slopes {
                if *gauge == g {
                    w += slope * u128::from(a.end - t);
                }
            }
        }
        w
    }

    fn power(&self, who: usize, t: u64) -> (u128, u128, u128) {
        let (p, s, total) = self.escrow.power_at(VOTERS[who], t);
        (p.saturating_to(), s.saturating_to(), total.saturating_to())
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Lock { who, amount, weeks } => {
                self.evm.set_sender(VOTERS[who]);
                let (locked, end) = self.escrow.locked(VOTERS[who]);
                if locked.is_zero() {
                    let _ = self
                        .escrow
                        .create_lock(U256::from(amount), self.now + weeks * WEEK);
                } else if end > self.now {
                    let _ = self.escrow.increase_amount(U256::from(amount));
                }
            }
            Op::Extend { who, weeks } => {
                self.evm.set_sender(VOTERS[who]);
                let _ = self.escrow.increase_unlock_time(self.now + weeks * WEEK);
            }
            Op::Withdraw { who } => {
                self.evm.set_sender(VOTERS[who]);
                let _ = self.escrow.withdraw();
            }
            Op::Vote { who, picks } => self.vote(who, picks)?,
            Op::Advance { secs } => self.set_time(self.now + secs),
            Op::ToWindow { epochs } => {
                let e = self.s.epoch_at(self.now).map_or(0, |e| e + epochs);
                let t = self.s.vote_window(e).0 + (self.now % 1_000);
                self.set_time(t.max(self.now));
            }
            Op::Finalize { delta } => self.finalize(delta)?,
            Op::Claim { gauge } => {
                let g = GAUGES[gauge];
                let owed = self.claimable.get(gauge).copied().unwrap_or(0);
                mock_transfer(&self.gvm, g, U256::from(owed), Ok(abi_true()));
                self.gvm.set_sender(VOTERS[HOSTILE]);
                let result = self.gauge.claim(g);
                if owed == 0 {
                    prop_assert!(
                        matches!(result, Err(Error::NothingToClaim(_))),
                        "{result:?}"
                    );
                } else {
                    prop_assert_eq!(result.ok(), Some(U256::from(owed)));
                    self.claimable[gauge] = 0;
                    self.claimed += owed;
                }
            }
            Op::SetKilled { admin, gauge, kill } => {
                self.gvm
                    .set_sender(if admin { ADMIN } else { VOTERS[HOSTILE] });
                let g = GAUGES[gauge];
                let result = if kill {
                    self.gauge.kill_gauge(g)
                } else {
                    self.gauge.revive_gauge(g)
                };
                let pending = self.s.epoch_at(self.now).is_some_and(|c| self.next < c);
                let known = gauge < 4;
                let changes = known && self.killed[gauge] != kill;
                if admin && !pending && changes {
                    prop_assert!(result.is_ok(), "{result:?}");
                    self.killed[gauge] = kill;
                } else {
                    prop_assert!(result.is_err(), "kill/revive should fail: {result:?}");
                    if !admin {
                        prop_assert!(matches!(result, Err(Error::Unauthorized(_))));
                    }
                }
            }
        }
        Ok(())
    }

    fn vote(&mut self, who: usize, picks: Vec<(usize, u16)>) -> Result<(), TestCaseError> {
        let (gauges, bps): (Vec<Address>, Vec<u16>) = if who == HOSTILE {
            picks.iter().map(|(g, b)| (GAUGES[*g], *b)).unzip()
        } else {
            // Honest voters: known gauges, sorted, no duplicates, scaled to Σ <= 10,000.
            let mut p: Vec<(Address, u16)> = picks
                .iter()
                .filter(|(g, _)| *g < 4)
                .map(|(g, b)| (GAUGES[*g], *b))
                .collect();
            p.sort();
            p.dedup_by_key(|x| x.0);
            let sum: u64 = p.iter().map(|x| u64::from(x.1)).sum();
            if sum > 10_000 {
                for x in &mut p {
                    x.1 = (u64::from(x.1) * 10_000 / sum) as u16;
                }
            }
            p.into_iter().unzip()
        };
        let epoch = self.s.epoch_at(self.now);
        let start = epoch.map(|e| self.s.epoch_start(e)).unwrap_or(0);
        let (power, slope, supply) = self.power(who, start);
        mock_power(&self.gvm, VOTERS[who], start, power, slope, supply);
        self.gvm.set_sender(VOTERS[who]);
        let result = self.gauge.vote(gauges.clone(), bps.clone());

        // The model's verdict.
        let Some(e) = epoch else {
            prop_assert!(matches!(result, Err(Error::NotStarted(_))), "{result:?}");
            return Ok(());
        };
        let (opens, closes) = self.s.vote_window(e);
        let sorted = gauges.windows(2).all(|w| w[0] < w[1]);
        let known_alive = gauges.iter().all(|g| {
            GAUGES[..4].contains(g) && !self.killed[GAUGES.iter().position(|x| x == g).unwrap_or(0)]
        });
        let sum: u64 = bps.iter().map(|b| u64::from(*b)).sum();
        let mut valid =
            self.now >= opens && self.now < closes && sorted && known_alive && sum <= 10_000;
        let mut slopes = Vec::new();
        let mut end = 0;
        if valid && !gauges.is_empty() {
            if power == 0 {
                valid = false;
            } else {
                let remaining = power / slope;
                end = start + remaining as u64;
                let mut s = slope;
                if self.cap_bps != 0 {
                    s = s.min(supply * self.cap_bps / 10_000 / remaining);
                }
                for (g, b) in gauges.iter().zip(&bps) {
                    let s_g = s * u128::from(*b) / 10_000;
                    valid &= s_g > 0;
                    slopes.push((*g, s_g));
                }
            }
        }
        if !valid {
            prop_assert!(
                result.is_err(),
                "vote should fail: {gauges:?} {bps:?} power {power} -> {result:?}"
            );
            return Ok(());
        }
        prop_assert!(
            result.is_ok(),
            "vote should pass: {gauges:?} {bps:?} power {power} -> {result:?}"
        );
        let used: u128 = slopes
            .iter()
            .map(|(_, s)| s * u128::from(end.saturating_sub(start)))
            .sum();
        prop_assert!(used <= power, "used power {} > power {}", used, power);
        if self.cap_bps != 0 {
            prop_assert!(used <= supply * self.cap_bps / 10_000, "cap exceeded");
        }
        let allocation = Allocation {
            from: e,
            season: self.s.season_of(e),
            end,
            slopes,
        };
        let h = &mut self.history[who];
        if h.last().is_some_and(|a| a.from == e) {
            h.pop();
        }
        h.push(allocation);
        Ok(())
    }

    fn finalize(&mut self, delta: i8) -> Result<(), TestCaseError> {
        let Some(e) = self.next.checked_add_signed(i64::from(delta)) else {
            return Ok(());
        };
        let ended = self.now >= self.s.epoch_start(e + 1);
        let weights: Vec<u128> = GAUGES[..4]
            .iter()
            .map(|g| self.model_weight(*g, e))
            .collect();
        self.gvm.set_sender(VOTERS[HOSTILE]);
        let result = self.gauge.finalize_epoch(e);
        if e < self.next {
            prop_assert!(
                matches!(result, Err(Error::EpochAlreadyFinalized(_))),
                "never twice: {result:?}"
            );
            return Ok(());
        }
        if e > self.next {
            prop_assert!(matches!(result, Err(Error::EpochNotNext(_))), "{result:?}");
            return Ok(());
        }
        if !ended {
            prop_assert!(matches!(result, Err(Error::EpochNotEnded(_))), "{result:?}");
            return Ok(());
        }
        prop_assert!(result.is_ok(), "finalize {e}: {result:?}");
        let emission = self.s.emission(e);
        let available = self.carry + emission;
        let total: u128 = weights.iter().sum();
        prop_assert_eq!(
            self.gauge.epoch_stats(e).1,
            U256::from(total),
            "total weight at {}",
            e
        );
        let mut relative = U256::ZERO;
        let mut paid = 0;
        for (i, w) in weights.iter().enumerate() {
            if *w == 0 {
                continue;
            }
            relative += U256::from(*w) * U256::from(UNIT) / U256::from(total);
            let share = if self.killed[i] {
                0
            } else {
                GaugeController::_share(available, *w, total)
            };
            self.claimable[i] += share;
            paid += share;
        }
        prop_assert!(relative <= U256::from(UNIT), "Σ relative weights <= 1e18");
        if total > 0 {
            prop_assert!(
                relative + U256::from(4) >= U256::from(UNIT),
                "Σ relative weights ≈ 1e18"
            );
        }
        self.carry = available - paid;
        self.minted += emission;
        self.next += 1;
        for (i, g) in GAUGES[..4].iter().enumerate() {
            prop_assert_eq!(
                self.gauge.gauge_info(*g, 0).2,
                U256::from(self.claimable[i]),
                "share of gauge {}",
                i
            );
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let (next, minted, claimed, carry) = self.gauge.totals();
        prop_assert_eq!(next, self.next);
        prop_assert_eq!(
            minted,
            U256::from(self.s.cumulative_emission(self.next)),
            "emission == schedule"
        );
        prop_assert_eq!(minted, U256::from(self.minted));
        prop_assert_eq!(carry, U256::from(self.carry));
        prop_assert_eq!(claimed, U256::from(self.claimed));
        let held: u128 = GAUGES
            .iter()
            .map(|g| self.gauge.gauge_info(*g, 0).2.saturating_to::<u128>())
            .sum();
        prop_assert_eq!(minted, claimed + U256::from(held) + carry, "never stranded");
        let Some(current) = self.s.epoch_at(self.now) else {
            return Ok(());
        };
        for e in self.next..=current {
            let mut sum = U256::ZERO;
            for g in GAUGES {
                let w = self.gauge.gauge_info(g, e).3;
                prop_assert_eq!(
                    w,
                    U256::from(self.model_weight(g, e)),
                    "weight of {} at epoch {}",
                    g,
                    e
                );
                sum += w;
            }
            prop_assert_eq!(
                self.gauge.epoch_stats(e).1,
                U256::ZERO,
                "the total of unfinalized epoch {} is recorded at finalization",
                e
            );
            if e % self.s.season_length == 0 && self.gauge.epoch_stats(e).0 == 0 {
                prop_assert_eq!(sum, U256::ZERO, "a new season starts at zero");
            }
        }
        let t = self.s.epoch_start(current);
        for (who, h) in self.history.iter().enumerate() {
            let Some(a) = h.iter().rev().find(|a| a.from <= current) else {
                continue;
            };
            if a.season != self.s.season_of(current) || a.end <= t {
                continue;
            }
            let used: u128 = a
                .slopes
                .iter()
                .map(|(_, s)| s * u128::from(a.end - t))
                .sum();
            prop_assert!(
                used <= self.power(who, t).0,
                "used power <= power (voter {})",
                who
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, max_shrink_iters: 4_000, ..ProptestConfig::default() })]

    /// Gauge invariants over ≥ 50 random steps of several voters (one hostile), governance and time.
    #[test]
    fn gauge_invariants_hold(c in config(), ops in prop::collection::vec(op(), 50..80)) {
        let mut world = World::new(&c);
        for op in ops {
            world.apply(op)?;
            world.check()?;
        }
    }
}
