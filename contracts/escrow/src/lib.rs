//! # VotingEscrow — veBR
//!
//! Lock BR until a week-rounded time at most four years ahead; voting power is the lock's amount times the time left
//! over four years, decaying linearly to zero at the end (Curve's `VotingEscrow`: bias/slope points with scheduled
//! slope changes). Timestamps only — `block.number` on Arbitrum is L1's. Locks are not transferable. Events and
//! errors come from [`verity_abi::escrow`].
//!
//! Arithmetic is exact: a lock of `amount` has slope `amount / MAX_LOCK` and bias `slope × (end − t)`, the global
//! point is the sum of the users' points, and slopes leave the sum at their (week-aligned) end. So
//! `Σ balanceOfAt(u, t) == totalSupplyAt(t)` with no rounding; the only rounding is the slope's division, which
//! under-weights a lock by less than `(end − t) / MAX_LOCK` base units.
//!
//! Unlike Curve, the global history is written only at user actions (not once per week crossed): a read for a time
//! after the last point walks the week boundaries, at most ~209 of them (every slope ends within four years of the
//! last point).
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
use stylus_sdk::call::call;
use stylus_sdk::prelude::*;
use stylus_sdk::storage::{StorageAddress, StorageMap, StorageU128, StorageU64};
use stylus_sdk::stylus_core::calls::{errors::Error as CallError, Call};
use verity_abi::escrow::{
    br, week_floor, Deposit, EscrowInvalidAmount, EscrowInvalidToken, EscrowLockExists,
    EscrowLockExpired, EscrowLockNotExpired, EscrowNoLock, EscrowTokenCallFailed,
    EscrowUnlockTooEarly, EscrowUnlockTooLate, Supply, Withdraw, KIND_CREATE, KIND_INCREASE_AMOUNT,
    KIND_INCREASE_UNLOCK_TIME, MAX_LOCK, MIN_LOCK_AMOUNT, WEEK,
};

/// Every way an escrow call can fail; each variant is the Solidity error of the same name in `verity-abi`.
#[derive(SolidityError, Debug)]
pub enum Error {
    /// The amount is zero, below the minimum lock or above BR's cap.
    InvalidAmount(EscrowInvalidAmount),
    /// The caller already has a lock.
    LockExists(EscrowLockExists),
    /// The caller has no lock.
    NoLock(EscrowNoLock),
    /// The caller's lock has ended; it can only be withdrawn.
    LockExpired(EscrowLockExpired),
    /// The caller's lock has not ended yet.
    LockNotExpired(EscrowLockNotExpired),
    /// The unlock time is not after now (or after the current end, when extending).
    UnlockTooEarly(EscrowUnlockTooEarly),
    /// The unlock time is more than four years ahead.
    UnlockTooLate(EscrowUnlockTooLate),
    /// The zero address cannot be the token.
    InvalidToken(EscrowInvalidToken),
    /// BR's `transferFrom` / `transfer` failed.
    TokenCallFailed(EscrowTokenCallFailed),
}

/// A point of a voting-power line: `bias` at time `ts`, falling by `slope` per second.
#[storage]
pub struct Point {
    bias: StorageU128,
    slope: StorageU128,
    ts: StorageU64,
}

/// One owner's lock.
#[storage]
pub struct Lock {
    amount: StorageU128,
    end: StorageU64,
}

/// A history of points in time order (a map and a count: `StorageVec`'s length read links a formatting panic).
#[storage]
pub struct History {
    count: StorageU64,
    at: StorageMap<u64, Point>,
}

/// The escrow's storage.
#[storage]
#[entrypoint]
pub struct VotingEscrow {
    token: StorageAddress,
    /// BR locked in total.
    supply: StorageU128,
    locks: StorageMap<Address, Lock>,
    /// Global history: the sum of every user's line, one point per action (same-second actions overwrite).
    points: History,
    user_points: StorageMap<Address, History>,
    /// Slope that ends at each week boundary.
    slope_ends: StorageMap<u64, StorageU128>,
}

/// BR's cap in base units (`verity_abi::token::CAP`, exactly 10^27 < 2^90).
const CAP: u128 = 1_000_000_000 * 1_000_000_000_000_000_000;

/// A point in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Pt {
    bias: u128,
    slope: u128,
    ts: u64,
}

impl Pt {
    /// The line's value at `t >= ts` (zero once it crosses zero).
    fn value_at(self, t: u64) -> u128 {
        self.bias.saturating_sub(
            self.slope
                .saturating_mul(u128::from(t.saturating_sub(self.ts))),
        )
    }
}

/// A lock in memory: `(amount, end)`.
type LockedBalance = (u128, u64);

#[public]
impl VotingEscrow {
    /// Sets the BR token and starts the history at the current time. Runs once (the SDK guards the constructor
    /// slot).
    ///
    /// # Errors
    /// [`Error::InvalidToken`] for the zero address.
    #[constructor]
    pub fn constructor(&mut self, token: Address) -> Result<(), Error> {
        if token.is_zero() {
            return Err(Error::InvalidToken(EscrowInvalidToken { token }));
        }
        self.token.set(token);
        let now = self.vm().block_timestamp();
        self._write_point(Pt {
            bias: 0,
            slope: 0,
            ts: now,
        });
        Ok(())
    }

    /// The BR token locked here.
    pub fn token(&self) -> Address {
        self.token.get()
    }

    /// BR locked in total (not voting power: see [`VotingEscrow::total_supply`]).
    pub fn supply(&self) -> U256 {
        U256::from(self.supply.get())
    }

    /// `owner`'s lock: amount and end (zero when none).
    pub fn locked(&self, owner: Address) -> (U256, u64) {
        let (amount, end) = self._lock(owner);
        (U256::from(amount), end)
    }

    /// `owner`'s voting power now.
    pub fn balance_of(&self, owner: Address) -> U256 {
        U256::from(self._balance_at(owner, self.vm().block_timestamp()).0)
    }

    /// `owner`'s voting power at time `t` (past or future).
    pub fn balance_of_at(&self, owner: Address, t: u64) -> U256 {
        U256::from(self._balance_at(owner, t).0)
    }

    /// Total voting power now.
    pub fn total_supply(&self) -> U256 {
        U256::from(self._supply_at(self.vm().block_timestamp()))
    }

    /// Total voting power at time `t` (past or future).
    pub fn total_supply_at(&self, t: u64) -> U256 {
        U256::from(self._supply_at(t))
    }

    /// What the GaugeController reads in one call: `user`'s voting power at `t`, its slope at `t` (zero when the
    /// power is zero; the lock ends at `t + power / slope`), and the total voting power at `t`.
    pub fn power_at(&self, user: Address, t: u64) -> (U256, U256, U256) {
        let (power, slope) = self._balance_at(user, t);
        (
            U256::from(power),
            U256::from(slope),
            U256::from(self._supply_at(t)),
        )
    }

    /// Locks `value` BR of the caller (pulled with `transferFrom`: approve the escrow first) until `unlock_time`
    /// rounded down to a week.
    ///
    /// # Errors
    /// [`Error::InvalidAmount`] below [`MIN_LOCK_AMOUNT`] or above BR's cap, [`Error::LockExists`],
    /// [`Error::UnlockTooEarly`], [`Error::UnlockTooLate`], [`Error::TokenCallFailed`].
    ///
    /// # Events
    /// [`Deposit`] (kind 0), [`Supply`].
    pub fn create_lock(&mut self, value: U256, unlock_time: u64) -> Result<(), Error> {
        let owner = self.vm().msg_sender();
        let amount = Self::_amount(value, MIN_LOCK_AMOUNT)?;
        let old = self._lock(owner);
        if old.0 != 0 {
            return Err(Error::LockExists(EscrowLockExists { owner }));
        }
        let now = self.vm().block_timestamp();
        let end = Self::_check_end(unlock_time, now)?;
        self._deposit(owner, amount, old, end, KIND_CREATE)
    }

    /// Adds `value` BR to the caller's running lock, end unchanged.
    ///
    /// # Errors
    /// [`Error::InvalidAmount`], [`Error::NoLock`], [`Error::LockExpired`], [`Error::TokenCallFailed`].
    ///
    /// # Events
    /// [`Deposit`] (kind 1), [`Supply`].
    pub fn increase_amount(&mut self, value: U256) -> Result<(), Error> {
        let owner = self.vm().msg_sender();
        let amount = Self::_amount(value, 1)?;
        let old = self._running_lock(owner)?;
        self._deposit(owner, amount, old, old.1, KIND_INCREASE_AMOUNT)
    }

    /// Moves the caller's running lock's end to `unlock_time` rounded down to a week (later than now, at most four
    /// years ahead).
    ///
    /// # Errors
    /// [`Error::NoLock`], [`Error::LockExpired`], [`Error::UnlockTooEarly`] (not after the current end),
    /// [`Error::UnlockTooLate`].
    ///
    /// # Events
    /// [`Deposit`] (kind 2, value 0), [`Supply`].
    pub fn increase_unlock_time(&mut self, unlock_time: u64) -> Result<(), Error> {
        let owner = self.vm().msg_sender();
        let old = self._running_lock(owner)?;
        let now = self.vm().block_timestamp();
        let end = Self::_check_end(unlock_time, now)?;
        if end <= old.1 {
            return Err(Error::UnlockTooEarly(EscrowUnlockTooEarly {
                unlockTime: unlock_time,
                minimum: old.1,
            }));
        }
        self._deposit(owner, 0, old, end, KIND_INCREASE_UNLOCK_TIME)
    }

    /// Returns the caller's BR once the lock has ended.
    ///
    /// # Errors
    /// [`Error::NoLock`], [`Error::LockNotExpired`], [`Error::TokenCallFailed`].
    ///
    /// # Events
    /// [`Withdraw`], [`Supply`].
    pub fn withdraw(&mut self) -> Result<(), Error> {
        let owner = self.vm().msg_sender();
        let old = self._lock(owner);
        if old.0 == 0 {
            return Err(Error::NoLock(EscrowNoLock { owner }));
        }
        if self.vm().block_timestamp() < old.1 {
            return Err(Error::LockNotExpired(EscrowLockNotExpired {
                owner,
                end: old.1,
            }));
        }
        self._withdraw(owner, old)
    }

    /// Writes the global point for the current time (anyone; keeps later reads short).
    pub fn checkpoint(&mut self) {
        self._checkpoint(Address::ZERO, (0, 0), (0, 0));
    }
}

impl VotingEscrow {
    /// `value` as a lock amount in `[minimum, CAP]`.
    fn _amount(value: U256, minimum: u64) -> Result<u128, Error> {
        if value < U256::from(minimum) || value > U256::from(CAP) {
            return Err(Error::InvalidAmount(EscrowInvalidAmount { value }));
        }
        // Exact: value <= CAP < 2^128.
        Ok(value.saturating_to::<u128>())
    }

    /// `unlock_time` rounded down to a week, checked to be after `now` and at most [`MAX_LOCK`] ahead.
    fn _check_end(unlock_time: u64, now: u64) -> Result<u64, Error> {
        let end = week_floor(unlock_time);
        if end <= now {
            return Err(Error::UnlockTooEarly(EscrowUnlockTooEarly {
                unlockTime: unlock_time,
                minimum: now,
            }));
        }
        let maximum = now.saturating_add(MAX_LOCK);
        if end > maximum {
            return Err(Error::UnlockTooLate(EscrowUnlockTooLate {
                unlockTime: unlock_time,
                maximum,
            }));
        }
        Ok(end)
    }

    fn _lock(&self, owner: Address) -> LockedBalance {
        let lock = self.locks.getter(owner);
        (lock.amount.get().native(), lock.end.get().native())
    }

    /// `owner`'s lock if it exists and has not ended.
    fn _running_lock(&self, owner: Address) -> Result<LockedBalance, Error> {
        let lock = self._lock(owner);
        if lock.0 == 0 {
            return Err(Error::NoLock(EscrowNoLock { owner }));
        }
        if lock.1 <= self.vm().block_timestamp() {
            return Err(Error::LockExpired(EscrowLockExpired { owner, end: lock.1 }));
        }
        Ok(lock)
    }

    fn _set_lock(&mut self, owner: Address, (amount, end): LockedBalance) {
        let mut lock = self.locks.setter(owner);
        lock.amount.set(U128::from(amount));
        lock.end.set(U64::from(end));
    }

    /// Adds `value` to `owner`'s lock (`old`) with the new `end`, then pulls the BR.
    fn _deposit(
        &mut self,
        owner: Address,
        value: u128,
        old: LockedBalance,
        end: u64,
        kind: u8,
    ) -> Result<(), Error> {
        // Overflow not possible: value <= CAP and the locked total <= BR's supply <= CAP.
        let new = (old.0.saturating_add(value), end);
        if new.0 > CAP {
            return Err(Error::InvalidAmount(EscrowInvalidAmount {
                value: U256::from(value),
            }));
        }
        self._set_lock(owner, new);
        let previous = self.supply.get().native();
        // Overflow not possible: the locked total is at most BR's supply <= CAP.
        let supply = previous.saturating_add(value);
        self.supply.set(U128::from(supply));
        self._checkpoint(owner, old, new);
        if value != 0 {
            let this = self.vm().contract_address();
            let data = br::transferFromCall {
                from: owner,
                to: this,
                value: U256::from(value),
            }
            .abi_encode();
            self._call_token(data)?;
        }
        self.vm().log(Deposit {
            owner,
            value: U256::from(value),
            amount: U256::from(new.0),
            end,
            kind,
        });
        self.vm().log(Supply {
            previousSupply: U256::from(previous),
            supply: U256::from(supply),
        });
        Ok(())
    }

    fn _withdraw(&mut self, owner: Address, old: LockedBalance) -> Result<(), Error> {
        self._set_lock(owner, (0, 0));
        let previous = self.supply.get().native();
        // Underflow not possible: the lock's amount is part of the locked total.
        let supply = previous.saturating_sub(old.0);
        self.supply.set(U128::from(supply));
        self._checkpoint(owner, old, (0, 0));
        let data = br::transferCall {
            to: owner,
            value: U256::from(old.0),
        }
        .abi_encode();
        self._call_token(data)?;
        self.vm().log(Withdraw {
            owner,
            value: U256::from(old.0),
        });
        self.vm().log(Supply {
            previousSupply: U256::from(previous),
            supply: U256::from(supply),
        });
        Ok(())
    }

    /// Calls BR; success is a return of nothing or of ABI `true`.
    fn _call_token(&mut self, data: Vec<u8>) -> Result<(), Error> {
        let token = self.token.get();
        let context = Call::new_mutating(self);
        let failed = |reason: Vec<u8>| {
            Error::TokenCallFailed(EscrowTokenCallFailed {
                token,
                reason: reason.into(),
            })
        };
        match call(self.vm(), context, token, &data) {
            Ok(ret) if ret.is_empty() || is_true(&ret) => Ok(()),
            Ok(_) => Err(failed(Vec::new())),
            Err(CallError::Revert(reason)) => Err(failed(reason)),
            Err(_) => Err(failed(Vec::new())),
        }
    }

    /// The user line of a lock at `now`: `(bias, slope)`, zero once ended.
    fn _line((amount, end): LockedBalance, now: u64) -> (u128, u128) {
        if end <= now || amount == 0 {
            return (0, 0);
        }
        let slope = amount / u128::from(MAX_LOCK);
        // Overflow not possible: slope <= CAP / MAX_LOCK < 2^63 and end - now <= MAX_LOCK < 2^27.
        (slope * u128::from(end - now), slope)
    }

    /// Brings the global line to now, replaces `owner`'s line for `old` by the one for `new`, and records both
    /// (`owner` zero = global only).
    fn _checkpoint(&mut self, owner: Address, old: LockedBalance, new: LockedBalance) {
        let now = self.vm().block_timestamp();
        let (old_bias, old_slope) = Self::_line(old, now);
        let (new_bias, new_slope) = Self::_line(new, now);
        let last = self._last_point();
        let mut point = self._advance(last, now);
        // Underflow not possible: the global line is the sum of the user lines, old's included.
        point.bias = point.bias.saturating_add(new_bias).saturating_sub(old_bias);
        point.slope = point
            .slope
            .saturating_add(new_slope)
            .saturating_sub(old_slope);
        if old_slope != 0 {
            let mut ending = self.slope_ends.setter(old.1);
            // Underflow not possible: old_slope was added at old.1 when that lock was written.
            let left = ending.get().native().saturating_sub(old_slope);
            ending.set(U128::from(left));
        }
        if new_slope != 0 {
            let mut ending = self.slope_ends.setter(new.1);
            // Overflow not possible: the sum of slopes is at most CAP / MAX_LOCK.
            let total = ending.get().native().saturating_add(new_slope);
            ending.set(U128::from(total));
        }
        self._write_point(point);
        if !owner.is_zero() {
            self.user_points.setter(owner).write(Pt {
                bias: new_bias,
                slope: new_slope,
                ts: now,
            });
        }
    }

    fn _last_point(&self) -> Pt {
        let len = self.points.count.get().native();
        self.points.read(len.saturating_sub(1))
    }

    fn _write_point(&mut self, point: Pt) {
        self.points.write(point);
    }

    /// The global line advanced from `point` to `t >= point.ts`, week by week, removing the slopes that end.
    fn _advance(&self, mut point: Pt, t: u64) -> Pt {
        let mut boundary = week_floor(point.ts);
        while point.ts < t {
            if point.slope == 0 {
                // Nothing decays any more (every slope has ended, so the bias is zero too).
                point.ts = t;
                break;
            }
            boundary = boundary.saturating_add(WEEK);
            let next = boundary.min(t);
            point.bias = point.value_at(next);
            if next == boundary {
                let ending = self.slope_ends.get(boundary).native();
                point.slope = point.slope.saturating_sub(ending);
            }
            point.ts = next;
        }
        point
    }

    /// `owner`'s `(power, slope)` at `t`.
    fn _balance_at(&self, owner: Address, t: u64) -> (u128, u128) {
        let history = self.user_points.getter(owner);
        match history.find(t) {
            Some(point) => {
                let power = point.value_at(t);
                (power, if power == 0 { 0 } else { point.slope })
            }
            None => (0, 0),
        }
    }

    /// Total voting power at `t`.
    fn _supply_at(&self, t: u64) -> u128 {
        match self.points.find(t) {
            Some(point) => self._advance(point, t).bias,
            None => 0,
        }
    }
}

impl History {
    /// Point `i` (zero if absent).
    fn read(&self, i: u64) -> Pt {
        let p = self.at.getter(i);
        Pt {
            bias: p.bias.get().native(),
            slope: p.slope.get().native(),
            ts: p.ts.get().native(),
        }
    }

    /// Appends `point`, or overwrites the last point when it has the same time.
    fn write(&mut self, point: Pt) {
        let len = self.count.get().native();
        let i = match len.checked_sub(1) {
            Some(last) if self.read(last).ts == point.ts => last,
            _ => {
                // Overflow not possible: one point per action.
                self.count.set(U64::from(len + 1));
                len
            }
        };
        let mut slot = self.at.setter(i);
        slot.bias.set(U128::from(point.bias));
        slot.slope.set(U128::from(point.slope));
        slot.ts.set(U64::from(point.ts));
    }

    /// The last point at or before `t`, `None` if every point is later.
    fn find(&self, t: u64) -> Option<Pt> {
        let len = self.count.get().native();
        let last = self.read(len.checked_sub(1)?);
        if last.ts <= t {
            return Some(last);
        }
        if self.read(0).ts > t {
            return None;
        }
        // Invariant: point lo is at or before t, point hi + 1 is after it.
        let (mut lo, mut hi) = (0, len - 1);
        while lo < hi {
            // Overflow not possible: lo + hi < 2^64 (counts of actions).
            let mid = (lo + hi).div_ceil(2);
            if self.read(mid).ts <= t {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(self.read(lo))
    }
}

#[cfg(test)]
mod tests;
