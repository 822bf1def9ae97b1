//! # GaugeController — where BR emissions flow
//!
//! veBR holders split their voting power over gauges (addresses added by governance) in basis points, once per
//! epoch inside the vote window; a vote's weight is the voter's escrow power at the epoch start and carries to the
//! season's later epochs, decaying with the lock. Every season starts from zero. `finalizeEpoch(e)` mints epoch
//! `e`'s emission (exactly once, to the controller) and splits it, plus whatever was carried, over the gauges by
//! weight; gauges (or anyone for them) `claim` their BR. Events, errors and the emission schedule come from
//! [`verity_abi::gauge`].
//!
//! ## Tally without loops over voters
//! A vote gives gauge `g` a slope `s` (the voter's slope × bps, capped) until an end `T` (the lock's end); its
//! weight at an epoch start `t` is `s × (T − t)`. Per gauge the controller keeps `A = Σ s·T` and `B = Σ s` of the
//! live allocations, so the weight at `t` is `A − t·B`, and schedules each allocation's removal at the first epoch
//! starting at or after `T`, or at the season's end, whichever is first. A gauge's `(A, B)` is brought forward
//! lazily (at most one season of epochs), and at a season boundary it is reset to zero without touching the voters:
//! a voter's allocation is keyed by its season and ignored once that season is over. A re-vote subtracts the old
//! allocation exactly (and cancels its scheduled removal) before adding the new one.
//!
//! ## Finalization
//! Epochs are finalized in order. Killing or reviving a gauge waits until every ended epoch is finalized, so a
//! finalized share never depends on when the keeper ran. A killed gauge's share, rounding dust, and a whole epoch
//! without votes are carried to the next epoch: minted == claimed + claimable + carried, always.
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]
#![cfg_attr(not(any(test, feature = "export-abi")), no_std)]
// `#[entrypoint]` / `#[public]` emit undocumented items in contract and export-abi builds; test builds check docs.
#![cfg_attr(not(test), allow(missing_docs))]

#[macro_use]
extern crate alloc;

// The wasm32 panic handler (traps; no std, no formatting code) and the panic-free word helpers.
use verity_contract_support::{is_true, Native};

use alloc::vec::Vec;
use alloy_primitives::aliases::{U128, U64};
use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use stylus_sdk::prelude::*;
use stylus_sdk::storage::{StorageAddress, StorageBool, StorageMap, StorageU128, StorageU64};
use verity_abi::escrow::week_floor;
use verity_abi::gauge::{
    calls, AdminChanged, Claimed, EpochFinalized, GaugeAdded, GaugeAlreadyAdded, GaugeAlreadyAlive,
    GaugeAlreadyKilled, GaugeCallFailed, GaugeEpochAlreadyFinalized, GaugeEpochNotEnded,
    GaugeEpochNotNext, GaugeFinalizationPending, GaugeInvalidAddress, GaugeInvalidSchedule,
    GaugeIsKilled, GaugeKilled, GaugeNoVotingPower, GaugeNotStarted, GaugeNothingToClaim,
    GaugeRevived, GaugeRewarded, GaugeTooMany, GaugeUnauthorized, GaugeUnknown, GaugeVote,
    GaugeVoteLengthMismatch, GaugeVoteOutsideWindow, GaugeVoteOverflow, GaugeVoteRoundsToZero,
    GaugeVoteUnsorted, Schedule, VoteCast, BPS, MAX_GAUGES,
};

/// Every way a controller call can fail; each variant is the Solidity error of the same name in `verity-abi`.
#[derive(SolidityError, Debug)]
pub enum Error {
    /// The caller is not the admin.
    Unauthorized(GaugeUnauthorized),
    /// A zero address where an account is needed.
    InvalidAddress(GaugeInvalidAddress),
    /// The calendar, emission schedule or cap is invalid.
    InvalidSchedule(GaugeInvalidSchedule),
    /// The gauge is already registered.
    AlreadyAdded(GaugeAlreadyAdded),
    /// The registry holds `MAX_GAUGES` gauges.
    TooMany(GaugeTooMany),
    /// The gauge is not registered.
    Unknown(GaugeUnknown),
    /// The gauge is already killed.
    AlreadyKilled(GaugeAlreadyKilled),
    /// The gauge is not killed.
    AlreadyAlive(GaugeAlreadyAlive),
    /// The gauge is killed and takes no votes.
    IsKilled(GaugeIsKilled),
    /// Before genesis.
    NotStarted(GaugeNotStarted),
    /// Outside the epoch's vote window.
    VoteOutsideWindow(GaugeVoteOutsideWindow),
    /// Gauge and bps lists of different lengths.
    VoteLengthMismatch(GaugeVoteLengthMismatch),
    /// Gauges not strictly ascending.
    VoteUnsorted(GaugeVoteUnsorted),
    /// The bps sum above 10,000.
    VoteOverflow(GaugeVoteOverflow),
    /// An allocation with zero weight.
    VoteRoundsToZero(GaugeVoteRoundsToZero),
    /// No voting power at the epoch start.
    NoVotingPower(GaugeNoVotingPower),
    /// The epoch has not ended.
    EpochNotEnded(GaugeEpochNotEnded),
    /// The epoch is already finalized.
    EpochAlreadyFinalized(GaugeEpochAlreadyFinalized),
    /// An earlier epoch is not finalized yet.
    EpochNotNext(GaugeEpochNotNext),
    /// Kill / revive while an ended epoch is not finalized.
    FinalizationPending(GaugeFinalizationPending),
    /// Nothing to claim.
    NothingToClaim(GaugeNothingToClaim),
    /// A call to BR or the escrow failed.
    CallFailed(GaugeCallFailed),
}

/// Allocations leaving a gauge at one epoch: their `Σ s·T` and `Σ s`.
#[storage]
pub struct Removal {
    a: StorageU128,
    b: StorageU128,
}

/// One gauge.
#[storage]
pub struct Gauge {
    added: StorageBool,
    killed: StorageBool,
    /// The epoch `a` and `b` describe.
    last_epoch: StorageU64,
    /// `Σ s·T` of the live allocations.
    a: StorageU128,
    /// `Σ s` of the live allocations.
    b: StorageU128,
    claimable: StorageU128,
    removals: StorageMap<u64, Removal>,
    /// Weights of epochs the gauge was brought past, written when not yet finalized or at finalization.
    weights: StorageMap<u64, StorageU128>,
}

/// One voter's current allocation.
#[storage]
pub struct Voter {
    /// Season of the allocation + 1 (0 = none).
    season: StorageU64,
    /// Epoch of the last vote + 1 (0 = never).
    last_cast: StorageU64,
    /// End the allocation decays to (the lock's end).
    end: StorageU64,
    /// Number of allocations.
    count: StorageU64,
    items: StorageMap<u64, Item>,
}

/// One allocation of a voter: the gauge and the slope it got.
#[storage]
pub struct Item {
    gauge: StorageAddress,
    slope: StorageU128,
}

/// Transparency figures of one epoch.
#[storage]
pub struct EpochStats {
    /// Voters who cast or refreshed a vote in the epoch.
    voters: StorageU64,
    /// The largest weight a single vote cast in the epoch used.
    largest: StorageU128,
    /// Total weight, recorded at finalization.
    total: StorageU128,
}

/// The controller's storage.
#[storage]
#[entrypoint]
pub struct GaugeController {
    admin: StorageAddress,
    token: StorageAddress,
    escrow: StorageAddress,
    genesis: StorageU64,
    epoch_length: StorageU64,
    season_length: StorageU64,
    emission_end: StorageU64,
    /// Cap on one voter's weight, in bps of the escrow's total supply at the epoch start (0 = none).
    cap_bps: StorageU64,
    /// The next epoch to finalize.
    next_epoch: StorageU64,
    carry: StorageU128,
    minted: StorageU128,
    claimed: StorageU128,
    /// Registered gauges: count and index → address (maps: `StorageVec`'s length read links a formatting panic).
    gauge_count: StorageU64,
    gauge_at: StorageMap<u64, StorageAddress>,
    gauges: StorageMap<Address, Gauge>,
    voters: StorageMap<Address, Voter>,
    epochs: StorageMap<u64, EpochStats>,
}

/// A validated vote: the gauges, their bps and the slope each gets.
struct Ballot {
    epoch: u64,
    power: u128,
    end: u64,
    items: Vec<(Address, u16, u128)>,
}

#[public]
impl GaugeController {
    /// Sets the roles, BR, the escrow, the calendar and the optional per-voter cap; `genesis == 0` means the start
    /// of the current week. Runs once (the SDK guards the constructor slot).
    ///
    /// # Errors
    /// [`Error::InvalidAddress`] for a zero admin, token or escrow; [`Error::InvalidSchedule`] when
    /// [`Schedule::is_valid`] fails or `cap_bps > 10,000`.
    ///
    /// # Events
    /// [`AdminChanged`].
    #[allow(clippy::too_many_arguments)]
    #[constructor]
    pub fn constructor(
        &mut self,
        admin: Address,
        token: Address,
        escrow: Address,
        genesis: u64,
        epoch_length: u64,
        season_length: u64,
        emission_end: u64,
        cap_bps: u64,
    ) -> Result<(), Error> {
        if admin.is_zero() || token.is_zero() || escrow.is_zero() {
            return Err(Error::InvalidAddress(GaugeInvalidAddress {}));
        }
        let genesis = if genesis == 0 {
            week_floor(self.vm().block_timestamp())
        } else {
            genesis
        };
        let schedule = Schedule::new(genesis, epoch_length, season_length, emission_end);
        if !schedule.is_valid() || cap_bps > BPS {
            return Err(Error::InvalidSchedule(GaugeInvalidSchedule {}));
        }
        self.admin.set(admin);
        self.token.set(token);
        self.escrow.set(escrow);
        self.genesis.set(U64::from(genesis));
        self.epoch_length.set(U64::from(epoch_length));
        self.season_length.set(U64::from(season_length));
        self.emission_end.set(U64::from(emission_end));
        self.cap_bps.set(U64::from(cap_bps));
        self.vm().log(AdminChanged {
            previousAdmin: Address::ZERO,
            newAdmin: admin,
        });
        Ok(())
    }

    /// The admin (governance).
    pub fn admin(&self) -> Address {
        self.admin.get()
    }

    /// BR, the escrow, and the calendar: genesis, epoch length, season length (epochs), emission end, cap (bps).
    pub fn config(&self) -> (Address, Address, u64, u64, u64, u64, u64) {
        let s = self._schedule();
        (
            self.token.get(),
            self.escrow.get(),
            s.genesis,
            s.epoch_length,
            s.season_length,
            s.end,
            self.cap_bps.get().native(),
        )
    }

    /// The next epoch to finalize; BR minted, claimed, and carried to that epoch.
    pub fn totals(&self) -> (u64, U256, U256, U256) {
        (
            self.next_epoch.get().native(),
            U256::from(self.minted.get()),
            U256::from(self.claimed.get()),
            U256::from(self.carry.get()),
        )
    }

    /// Every registered gauge, alive or killed, in the order added.
    pub fn gauges(&self) -> Vec<Address> {
        (0..self.gauge_count.get().native())
            .map(|i| self.gauge_at.get(i))
            .collect()
    }

    /// `gauge`'s status — registered, killed, BR claimable — and its weight at epoch `e` (the current tally for
    /// the running epoch; later epochs assume no new votes). One view, so a wallet reads a gauge in one call.
    pub fn gauge_info(&self, gauge: Address, e: u64) -> (bool, bool, U256, U256) {
        let weight = self._weight_at(gauge, e, &self._schedule());
        let g = self.gauges.getter(gauge);
        (
            g.added.get(),
            g.killed.get(),
            U256::from(g.claimable.get()),
            U256::from(weight),
        )
    }

    /// Epoch `e`'s transparency figures: voters who cast or refreshed a vote in it, total weight (recorded at
    /// finalization; zero before — the live total is Σ [`Self::gauge_info`] weights), and the largest weight one
    /// vote cast in it used.
    pub fn epoch_stats(&self, e: u64) -> (u64, U256, U256) {
        let stats = self.epochs.getter(e);
        (
            stats.voters.get().native(),
            U256::from(stats.total.get()),
            U256::from(stats.largest.get()),
        )
    }

    /// Replaces the caller's allocation by `bps[i]` basis points of its power for `gauges[i]` (strictly
    /// ascending, alive gauges; Σ bps ≤ 10,000; an empty list withdraws the vote). Power is the escrow balance at
    /// the epoch start (capped when a cap is set); the allocation carries over the season's later epochs,
    /// decaying with the lock.
    ///
    /// # Errors
    /// [`Error::NotStarted`], [`Error::VoteOutsideWindow`], [`Error::VoteLengthMismatch`], [`Error::VoteUnsorted`],
    /// [`Error::Unknown`], [`Error::IsKilled`], [`Error::VoteOverflow`], [`Error::VoteRoundsToZero`],
    /// [`Error::NoVotingPower`], [`Error::CallFailed`].
    ///
    /// # Events
    /// [`GaugeVote`] per allocation, then [`VoteCast`].
    pub fn vote(&mut self, gauges: Vec<Address>, bps: Vec<u16>) -> Result<(), Error> {
        let voter = self.vm().msg_sender();
        let s = self._schedule();
        let ballot = self._check_vote(voter, &s, &gauges, &bps)?;
        self._vote(voter, &s, ballot);
        Ok(())
    }

    /// Finalizes epoch `e` once it has ended (anyone; the keeper normally): mints its emission to the controller
    /// and shares it, with what was carried, over the gauges by weight.
    ///
    /// # Errors
    /// [`Error::EpochAlreadyFinalized`] (the keeper treats it as success), [`Error::EpochNotNext`],
    /// [`Error::EpochNotEnded`], [`Error::CallFailed`] (BR's mint).
    ///
    /// # Events
    /// [`GaugeRewarded`] per gauge with weight, then [`EpochFinalized`].
    pub fn finalize_epoch(&mut self, e: u64) -> Result<(), Error> {
        let next = self.next_epoch.get().native();
        if e < next {
            return Err(Error::EpochAlreadyFinalized(GaugeEpochAlreadyFinalized {
                epoch: e,
            }));
        }
        if e > next {
            return Err(Error::EpochNotNext(GaugeEpochNotNext { epoch: e, next }));
        }
        let s = self._schedule();
        let ends_at = s.epoch_start(e.saturating_add(1));
        if self.vm().block_timestamp() < ends_at {
            return Err(Error::EpochNotEnded(GaugeEpochNotEnded {
                epoch: e,
                endsAt: ends_at,
            }));
        }
        self._finalize(e, &s)
    }

    /// Sends `gauge` its claimable BR (anyone may trigger it; the BR goes to the gauge).
    ///
    /// # Errors
    /// [`Error::NothingToClaim`], [`Error::CallFailed`] (BR's transfer).
    ///
    /// # Events
    /// [`Claimed`].
    pub fn claim(&mut self, gauge: Address) -> Result<U256, Error> {
        let amount = self.gauges.getter(gauge).claimable.get().native();
        if amount == 0 {
            return Err(Error::NothingToClaim(GaugeNothingToClaim { gauge }));
        }
        self._claim(gauge, amount)
    }

    /// Registers `gauge`; only the admin.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::InvalidAddress`], [`Error::AlreadyAdded`], [`Error::TooMany`].
    ///
    /// # Events
    /// [`GaugeAdded`].
    pub fn add_gauge(&mut self, gauge: Address) -> Result<(), Error> {
        self._only_admin()?;
        if gauge.is_zero() {
            return Err(Error::InvalidAddress(GaugeInvalidAddress {}));
        }
        if self.gauges.getter(gauge).added.get() {
            return Err(Error::AlreadyAdded(GaugeAlreadyAdded { gauge }));
        }
        if self.gauge_count.get().native() >= MAX_GAUGES {
            return Err(Error::TooMany(GaugeTooMany {
                max: U256::from(MAX_GAUGES),
            }));
        }
        self._add_gauge(gauge);
        Ok(())
    }

    /// Kills `gauge`: it takes no new votes and its shares, from the running epoch on, are carried; only the
    /// admin, once every ended epoch is finalized.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::FinalizationPending`], [`Error::Unknown`], [`Error::AlreadyKilled`].
    ///
    /// # Events
    /// [`GaugeKilled`].
    pub fn kill_gauge(&mut self, gauge: Address) -> Result<(), Error> {
        self._check_status_change(gauge, true)?;
        self._set_killed(gauge, true);
        Ok(())
    }

    /// Revives a killed `gauge`; only the admin, once every ended epoch is finalized.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::FinalizationPending`], [`Error::Unknown`], [`Error::AlreadyAlive`].
    ///
    /// # Events
    /// [`GaugeRevived`].
    pub fn revive_gauge(&mut self, gauge: Address) -> Result<(), Error> {
        self._check_status_change(gauge, false)?;
        self._set_killed(gauge, false);
        Ok(())
    }

    /// Hands the admin role to `new_admin`; only the admin.
    ///
    /// # Errors
    /// [`Error::Unauthorized`], [`Error::InvalidAddress`].
    ///
    /// # Events
    /// [`AdminChanged`].
    pub fn transfer_admin(&mut self, new_admin: Address) -> Result<(), Error> {
        let previous = self._only_admin()?;
        if new_admin.is_zero() {
            return Err(Error::InvalidAddress(GaugeInvalidAddress {}));
        }
        self.admin.set(new_admin);
        self.vm().log(AdminChanged {
            previousAdmin: previous,
            newAdmin: new_admin,
        });
        Ok(())
    }
}

impl GaugeController {
    fn _schedule(&self) -> Schedule {
        Schedule::new(
            self.genesis.get().native(),
            self.epoch_length.get().native(),
            self.season_length.get().native(),
            self.emission_end.get().native(),
        )
    }

    /// The admin if it is the caller.
    fn _only_admin(&self) -> Result<Address, Error> {
        let caller = self.vm().msg_sender();
        if caller != self.admin.get() {
            return Err(Error::Unauthorized(GaugeUnauthorized { account: caller }));
        }
        Ok(caller)
    }

    fn _add_gauge(&mut self, gauge: Address) {
        self.gauges.setter(gauge).added.set(true);
        let count = self.gauge_count.get().native();
        self.gauge_at.setter(count).set(gauge);
        // Overflow not possible: count < MAX_GAUGES.
        self.gauge_count.set(U64::from(count + 1));
        self.vm().log(GaugeAdded { gauge });
    }

    /// Admin, no ended epoch left unfinalized, a registered gauge, and a status change.
    fn _check_status_change(&self, gauge: Address, kill: bool) -> Result<(), Error> {
        self._only_admin()?;
        let next = self.next_epoch.get().native();
        if let Some(current) = self._schedule().epoch_at(self.vm().block_timestamp()) {
            if next < current {
                return Err(Error::FinalizationPending(GaugeFinalizationPending {
                    next,
                }));
            }
        }
        let g = self.gauges.getter(gauge);
        if !g.added.get() {
            return Err(Error::Unknown(GaugeUnknown { gauge }));
        }
        match (kill, g.killed.get()) {
            (true, true) => Err(Error::AlreadyKilled(GaugeAlreadyKilled { gauge })),
            (false, false) => Err(Error::AlreadyAlive(GaugeAlreadyAlive { gauge })),
            _ => Ok(()),
        }
    }

    fn _set_killed(&mut self, gauge: Address, killed: bool) {
        self.gauges.setter(gauge).killed.set(killed);
        if killed {
            self.vm().log(GaugeKilled { gauge });
        } else {
            self.vm().log(GaugeRevived { gauge });
        }
    }

    /// Every check of a vote, before any state changes: window, lists, gauges, power, and each slope.
    fn _check_vote(
        &self,
        voter: Address,
        s: &Schedule,
        gauges: &[Address],
        bps: &[u16],
    ) -> Result<Ballot, Error> {
        let now = self.vm().block_timestamp();
        let epoch = s
            .epoch_at(now)
            .ok_or(Error::NotStarted(GaugeNotStarted { genesis: s.genesis }))?;
        let (opens, closes) = s.vote_window(epoch);
        if now < opens || now >= closes {
            return Err(Error::VoteOutsideWindow(GaugeVoteOutsideWindow {
                epoch,
                opens,
                closes,
            }));
        }
        if gauges.len() != bps.len() {
            return Err(Error::VoteLengthMismatch(GaugeVoteLengthMismatch {}));
        }
        let mut total_bps = 0u64;
        for (i, (gauge, w)) in gauges.iter().zip(bps).enumerate() {
            if i > 0 && *gauge <= gauges[i - 1] {
                return Err(Error::VoteUnsorted(GaugeVoteUnsorted {
                    index: U256::from(i),
                }));
            }
            let g = self.gauges.getter(*gauge);
            if !g.added.get() {
                return Err(Error::Unknown(GaugeUnknown { gauge: *gauge }));
            }
            if g.killed.get() {
                return Err(Error::IsKilled(GaugeIsKilled { gauge: *gauge }));
            }
            // Overflow not possible: at most MAX_GAUGES entries of at most u16::MAX.
            total_bps += u64::from(*w);
        }
        if total_bps > BPS {
            return Err(Error::VoteOverflow(GaugeVoteOverflow {
                totalBps: U256::from(total_bps),
            }));
        }
        let mut ballot = Ballot {
            epoch,
            power: 0,
            end: 0,
            items: Vec::with_capacity(gauges.len()),
        };
        if gauges.is_empty() {
            return Ok(ballot);
        }
        let start = s.epoch_start(epoch);
        let (power, slope, supply) = self._power_at(voter, start)?;
        if power == 0 || slope == 0 {
            return Err(Error::NoVotingPower(GaugeNoVotingPower {
                voter,
                epochStart: start,
            }));
        }
        // Exact: the escrow's power is slope × (end − t); the quotient is below MAX_LOCK.
        let remaining = power / slope;
        let end = start.saturating_add(u64::try_from(remaining).unwrap_or(u64::MAX));
        let cap_bps = u128::from(self.cap_bps.get().native());
        let mut slope = slope;
        if cap_bps != 0 {
            // Overflow not possible: supply <= CAP < 2^90 and cap_bps <= 10,000.
            let max_weight = supply * cap_bps / u128::from(BPS);
            // The largest slope whose weight at the epoch start stays within the cap.
            slope = slope.min(max_weight / remaining.max(1));
        }
        for (gauge, w) in gauges.iter().zip(bps) {
            // Overflow not possible: slope < 2^63 and w <= 2^16.
            let s_g = slope * u128::from(*w) / u128::from(BPS);
            if s_g == 0 {
                return Err(Error::VoteRoundsToZero(GaugeVoteRoundsToZero {
                    gauge: *gauge,
                }));
            }
            ballot.items.push((*gauge, *w, s_g));
        }
        ballot.power = power;
        ballot.end = end;
        Ok(ballot)
    }

    /// The escrow's `powerAt(voter, t)` as `(power, slope, totalSupply)`.
    fn _power_at(&self, voter: Address, t: u64) -> Result<(u128, u128, u128), Error> {
        let escrow = self.escrow.get();
        let data = calls::powerAtCall { user: voter, t }.abi_encode();
        let failed = |reason: Vec<u8>| {
            Error::CallFailed(GaugeCallFailed {
                target: escrow,
                reason: reason.into(),
            })
        };
        let ret =
            verity_contract_support::host_call(self.vm(), escrow, &data, None).map_err(failed)?;
        let decoded =
            calls::powerAtCall::abi_decode_returns(&ret).map_err(|_| failed(ret.clone()))?;
        Ok((
            decoded._0.saturating_to(),
            decoded._1.saturating_to(),
            decoded._2.saturating_to(),
        ))
    }

    /// Applies a checked ballot: removes the voter's allocation of this season, adds the new one.
    fn _vote(&mut self, voter: Address, s: &Schedule, ballot: Ballot) {
        let epoch = ballot.epoch;
        let start = s.epoch_start(epoch);
        self._clear_allocation(voter, epoch, s);
        let removal_epoch = s
            .first_epoch_from(ballot.end)
            .min(s.next_season_start(epoch));
        let end = u128::from(ballot.end);
        let mut used = 0u128;
        for (gauge, w, s_g) in ballot.items.iter().copied() {
            self._bring_forward(gauge, epoch, s);
            let mut g = self.gauges.setter(gauge);
            // Overflow not possible: Σ slopes <= CAP / MAX_LOCK < 2^63 and end < 2^64.
            let (a, b) = (g.a.get().native() + s_g * end, g.b.get().native() + s_g);
            g.a.set(U128::from(a));
            g.b.set(U128::from(b));
            let mut removal = g.removals.setter(removal_epoch);
            let (ra, rb) = (
                removal.a.get().native() + s_g * end,
                removal.b.get().native() + s_g,
            );
            removal.a.set(U128::from(ra));
            removal.b.set(U128::from(rb));
            // Overflow not possible: the used weight is at most the voter's power.
            used += s_g * u128::from(ballot.end - start);
            let mut v = self.voters.setter(voter);
            let count = v.count.get().native();
            let mut item = v.items.setter(count);
            item.gauge.set(gauge);
            item.slope.set(U128::from(s_g));
            // Overflow not possible: at most MAX_GAUGES allocations.
            v.count.set(U64::from(count + 1));
            self.vm().log(GaugeVote {
                voter,
                epoch,
                gauge,
                bps: U256::from(w),
                slope: U256::from(s_g),
            });
        }
        let mut v = self.voters.setter(voter);
        let first_this_epoch = v.last_cast.get().native() != epoch + 1;
        v.last_cast.set(U64::from(epoch + 1));
        v.season.set(U64::from(s.season_of(epoch) + 1));
        v.end.set(U64::from(ballot.end));
        let mut stats = self.epochs.setter(epoch);
        if first_this_epoch {
            // Overflow not possible: fewer than 2^64 voters.
            let voters = stats.voters.get().native() + 1;
            stats.voters.set(U64::from(voters));
        }
        if U128::from(used) > stats.largest.get() {
            stats.largest.set(U128::from(used));
        }
        self.vm().log(VoteCast {
            voter,
            epoch,
            power: U256::from(ballot.power),
            used: U256::from(used),
            end: ballot.end,
        });
    }

    /// Subtracts the voter's allocation from its gauges if it is still live (same season, not yet removed), and
    /// forgets it.
    fn _clear_allocation(&mut self, voter: Address, epoch: u64, s: &Schedule) {
        let v = self.voters.getter(voter);
        let live = v.season.get().native() == s.season_of(epoch) + 1;
        let end = v.end.get().native();
        let removal_epoch = s.first_epoch_from(end).min(s.next_season_start(epoch));
        let items: Vec<(Address, u128)> = (0..v.count.get().native())
            .map(|i| {
                let item = v.items.getter(i);
                (item.gauge.get(), item.slope.get().native())
            })
            .collect();
        drop(v);
        if live && removal_epoch > epoch {
            let end = u128::from(end);
            for (gauge, s_g) in items {
                self._bring_forward(gauge, epoch, s);
                let mut g = self.gauges.setter(gauge);
                // Underflow not possible: the allocation was added to these sums and not removed since.
                let (a, b) = (
                    g.a.get().native().saturating_sub(s_g * end),
                    g.b.get().native().saturating_sub(s_g),
                );
                g.a.set(U128::from(a));
                g.b.set(U128::from(b));
                let mut removal = g.removals.setter(removal_epoch);
                let (ra, rb) = (
                    removal.a.get().native().saturating_sub(s_g * end),
                    removal.b.get().native().saturating_sub(s_g),
                );
                removal.a.set(U128::from(ra));
                removal.b.set(U128::from(rb));
            }
        }
        let mut v = self.voters.setter(voter);
        v.count.set(U64::ZERO);
        v.season.set(U64::ZERO);
    }

    /// `gauge`'s `(A, B)` at epoch `k` from its last state, and the weights of the epochs passed at or after
    /// `record_from` (zero weights are not listed).
    fn _roll(
        &self,
        gauge: Address,
        k: u64,
        s: &Schedule,
        record_from: u64,
    ) -> (u128, u128, Vec<(u64, u128)>) {
        let g = self.gauges.getter(gauge);
        let mut i = g.last_epoch.get().native();
        let (mut a, mut b) = (g.a.get().native(), g.b.get().native());
        let mut passed = Vec::new();
        while i < k && b != 0 {
            if i >= record_from {
                passed.push((i, Self::_weight(a, b, s.epoch_start(i))));
            }
            i += 1;
            if s.season_of(i) != s.season_of(i - 1) {
                // A new season: every allocation of the last one is void.
                return (0, 0, passed);
            }
            let removal = g.removals.getter(i);
            // Underflow not possible: removals at i are allocations still in the sums.
            a = a.saturating_sub(removal.a.get().native());
            b = b.saturating_sub(removal.b.get().native());
        }
        (a, b, passed)
    }

    /// The weight `A − t·B` (zero if negative, which exact sums never are).
    fn _weight(a: u128, b: u128, t: u64) -> u128 {
        a.saturating_sub(b.saturating_mul(u128::from(t)))
    }

    /// Brings `gauge`'s sums to epoch `k` (the running epoch), recording the weights of unfinalized epochs passed.
    fn _bring_forward(&mut self, gauge: Address, k: u64, s: &Schedule) {
        let last = self.gauges.getter(gauge).last_epoch.get().native();
        if k <= last {
            return;
        }
        let (a, b, passed) = self._roll(gauge, k, s, self.next_epoch.get().native());
        let mut g = self.gauges.setter(gauge);
        for (i, w) in passed {
            g.weights.setter(i).set(U128::from(w));
        }
        g.a.set(U128::from(a));
        g.b.set(U128::from(b));
        g.last_epoch.set(U64::from(k));
    }

    /// `gauge`'s weight at epoch `e`.
    fn _weight_at(&self, gauge: Address, e: u64, s: &Schedule) -> u128 {
        let g = self.gauges.getter(gauge);
        if e < g.last_epoch.get().native() {
            return g.weights.get(e).native();
        }
        drop(g);
        let (a, b, _) = self._roll(gauge, e, s, u64::MAX);
        Self::_weight(a, b, s.epoch_start(e))
    }

    fn _finalize(&mut self, e: u64, s: &Schedule) -> Result<(), Error> {
        let list = self.gauges();
        let weights: Vec<u128> = list.iter().map(|g| self._weight_at(*g, e, s)).collect();
        // Overflow not possible: each weight is at most the escrow's total supply (< 2^90), at most 50 gauges.
        let total: u128 = weights.iter().sum();
        let emission = s.emission(e);
        // Overflow not possible: carry + emission <= EMISSION_TOTAL.
        let available = self.carry.get().native() + emission;
        let mut distributed = 0u128;
        for (gauge, weight) in list.into_iter().zip(weights) {
            if weight == 0 {
                continue;
            }
            let mut g = self.gauges.setter(gauge);
            let share = if g.killed.get() {
                0
            } else {
                Self::_share(available, weight, total)
            };
            if share != 0 {
                let claimable = g.claimable.get().native() + share;
                g.claimable.set(U128::from(claimable));
                distributed += share;
            }
            if g.last_epoch.get().native() <= e {
                g.weights.setter(e).set(U128::from(weight));
            }
            self.vm().log(GaugeRewarded {
                epoch: e,
                gauge,
                weight: U256::from(weight),
                amount: U256::from(share),
            });
        }
        // Underflow not possible: Σ floor(available × w / total) <= available.
        let carried = available - distributed;
        self.carry.set(U128::from(carried));
        self.next_epoch.set(U64::from(e + 1));
        let minted = self.minted.get().native() + emission;
        self.minted.set(U128::from(minted));
        self.epochs.setter(e).total.set(U128::from(total));
        if emission != 0 {
            let this = self.vm().contract_address();
            self._call_token(
                calls::mintCall {
                    to: this,
                    value: U256::from(emission),
                }
                .abi_encode(),
                false,
            )?;
        }
        self.vm().log(EpochFinalized {
            epoch: e,
            emission: U256::from(emission),
            totalWeight: U256::from(total),
            distributed: U256::from(distributed),
            carried: U256::from(carried),
        });
        Ok(())
    }

    /// `available × weight / total`, rounded down, with weight and total scaled to at most 38 bits so the product
    /// stays in `u128` (available < 2^90). Σ shares <= available because Σ (w >> k) <= (Σ w) >> k; the scaling
    /// under-pays a share by less than available / 2^37 (≈ 0.006 BR of a full epoch), which is carried.
    fn _share(available: u128, weight: u128, total: u128) -> u128 {
        let shift = (128 - total.leading_zeros()).saturating_sub(38);
        let (w, t) = (weight >> shift, total >> shift);
        // Division by zero not possible: total >= weight > 0 keeps t >= 1 (t has its top bit).
        available.saturating_mul(w).checked_div(t).unwrap_or(0)
    }

    fn _claim(&mut self, gauge: Address, amount: u128) -> Result<U256, Error> {
        self.gauges.setter(gauge).claimable.set(U128::ZERO);
        let claimed = self.claimed.get().native() + amount;
        self.claimed.set(U128::from(claimed));
        let value = U256::from(amount);
        self._call_token(calls::transferCall { to: gauge, value }.abi_encode(), true)?;
        self.vm().log(Claimed {
            gauge,
            amount: value,
        });
        Ok(value)
    }

    /// Calls BR; with `returns_bool`, success also needs a return of nothing or of ABI `true`.
    fn _call_token(&mut self, data: Vec<u8>, returns_bool: bool) -> Result<(), Error> {
        let token = self.token.get();
        let failed = |reason: Vec<u8>| {
            Error::CallFailed(GaugeCallFailed {
                target: token,
                reason: reason.into(),
            })
        };
        match verity_contract_support::host_call(self.vm(), token, &data, Some(U256::ZERO)) {
            Ok(ret) if !returns_bool || ret.is_empty() || is_true(&ret) => Ok(()),
            Ok(ret) | Err(ret) => Err(failed(ret)),
        }
    }
}

#[cfg(test)]
mod tests;
