//! Native unit tests on stylus-test's TestVM. The escrow and BR are mocked: `powerAt` is answered by
//! [`mock_power`] right before each vote (TestVM returns the last mocked data), BR's `mint` returns nothing, and
//! `transfer` is mocked before each claim. The real cross-contract paths run as WASM on devnode (`tests/it/gauge.rs`).

use super::*;
use alloy_primitives::{address, B256};
use alloy_sol_types::{SolError, SolEvent};
use stylus_sdk::testing::TestVM;
use verity_abi::escrow::{MAX_LOCK, WEEK};
use verity_abi::gauge::{EMISSION_TOTAL, VOTE_MARGIN};

mod props;

pub(crate) const ADMIN: Address = address!("00000000000000000000000000000000000000a1");
pub(crate) const TOKEN: Address = address!("00000000000000000000000000000000000000b7");
pub(crate) const ESCROW: Address = address!("00000000000000000000000000000000000000e5");
pub(crate) const G1: Address = address!("0000000000000000000000000000000000000011");
pub(crate) const G2: Address = address!("0000000000000000000000000000000000000022");
pub(crate) const G3: Address = address!("0000000000000000000000000000000000000033");
const ALICE: Address = address!("00000000000000000000000000000000000000c3");
const BOB: Address = address!("00000000000000000000000000000000000000d4");
const OUTSIDER: Address = address!("00000000000000000000000000000000000000ee");
/// A Thursday 00:00 UTC (a week boundary), in 2026.
pub(crate) const GENESIS: u64 = 2_937 * WEEK;
/// Seasons of 3 weekly epochs; emissions over 10 epochs.
pub(crate) const SEASON: u64 = 3;
pub(crate) const END: u64 = GENESIS + 10 * WEEK;

fn schedule() -> Schedule {
    Schedule::new(GENESIS, WEEK, SEASON, END)
}

fn start(e: u64) -> u64 {
    schedule().epoch_start(e)
}

/// A controller with G1, G2, G3 added, at the opening of epoch 0's vote window.
fn deployed(vm: &TestVM, cap_bps: u64) -> GaugeController {
    vm.set_block_timestamp(GENESIS + VOTE_MARGIN);
    let mut gauge = GaugeController::from(vm);
    gauge
        .constructor(ADMIN, TOKEN, ESCROW, GENESIS, WEEK, SEASON, END, cap_bps)
        .expect("constructor");
    vm.set_sender(ADMIN);
    for g in [G1, G2, G3] {
        gauge.add_gauge(g).unwrap();
    }
    gauge
}

/// Opens epoch `e`'s vote window.
fn in_window(vm: &TestVM, e: u64) {
    vm.set_block_timestamp(start(e) + VOTE_MARGIN);
}

/// Makes the escrow answer `powerAt(voter, t)` with `(power, slope, supply)`.
pub(crate) fn mock_power(
    vm: &TestVM,
    voter: Address,
    t: u64,
    power: u128,
    slope: u128,
    supply: u128,
) {
    let data = calls::powerAtCall { user: voter, t }.abi_encode();
    let mut ret = U256::from(power).to_be_bytes_vec();
    ret.extend(U256::from(slope).to_be_bytes_vec());
    ret.extend(U256::from(supply).to_be_bytes_vec());
    vm.mock_static_call(ESCROW, data, Ok(ret));
}

/// A lock of `amount` ending at `end`, seen at `t`: `(power, slope)` as the escrow computes them.
fn lock(amount: u128, end: u64, t: u64) -> (u128, u128) {
    let slope = amount / u128::from(MAX_LOCK);
    (slope * u128::from(end.saturating_sub(t)), slope)
}

const UNIT: u128 = 1_000_000_000_000_000_000;

/// `voter` votes in epoch `e` with a lock of `amount` ending at `end`.
fn vote_with(
    vm: &TestVM,
    gauge: &mut GaugeController,
    voter: Address,
    e: u64,
    (amount, end): (u128, u64),
    gauges: &[Address],
    bps: &[u16],
) -> Result<(), Error> {
    in_window(vm, e);
    let (power, slope) = lock(amount, end, start(e));
    mock_power(vm, voter, start(e), power, slope, power.max(1) * 4);
    vm.set_sender(voter);
    gauge.vote(gauges.to_vec(), bps.to_vec())
}

fn weight(gauge: &GaugeController, g: Address, e: u64) -> u128 {
    gauge.gauge_info(g, e).3.saturating_to()
}

/// The slope a bps allocation gets from a lock of `amount`.
fn s_of(amount: u128, bps: u128) -> u128 {
    amount / u128::from(MAX_LOCK) * bps / 10_000
}

fn mock_transfer(vm: &TestVM, to: Address, amount: U256, ret: Result<Vec<u8>, Vec<u8>>) {
    let data = calls::transferCall { to, value: amount }.abi_encode();
    vm.mock_call(TOKEN, data, U256::ZERO, ret);
}

fn abi_true() -> Vec<u8> {
    U256::from(1).to_be_bytes_vec()
}

fn topics(vm: &TestVM) -> Vec<B256> {
    vm.get_emitted_logs()
        .into_iter()
        .map(|(t, _)| t[0])
        .collect()
}

fn finalize_at_end(vm: &TestVM, gauge: &mut GaugeController, e: u64) -> Result<(), Error> {
    vm.set_block_timestamp(start(e + 1));
    vm.set_sender(OUTSIDER);
    gauge.finalize_epoch(e)
}

// ---------------------------------------------------------------- constructor and admin

#[test]
fn constructor_sets_config() {
    let vm = TestVM::default();
    let gauge = deployed(&vm, 1_500);
    assert_eq!(gauge.admin(), ADMIN);
    assert_eq!(
        gauge.config(),
        (TOKEN, ESCROW, GENESIS, WEEK, SEASON, END, 1_500)
    );
    assert_eq!(gauge.gauges(), vec![G1, G2, G3]);
    assert_eq!(gauge.totals(), (0, U256::ZERO, U256::ZERO, U256::ZERO));
}

#[test]
fn constructor_defaults_genesis_to_the_current_week() {
    let vm = TestVM::default();
    vm.set_block_timestamp(GENESIS + 3 * 86_400 + 5);
    let mut gauge = GaugeController::from(&vm);
    gauge
        .constructor(ADMIN, TOKEN, ESCROW, 0, WEEK, 12, END, 0)
        .unwrap();
    assert_eq!(gauge.config().2, GENESIS);
}

#[test]
fn constructor_rejects_bad_parameters() {
    type Args = (Address, Address, Address, u64, u64, u64, u64, u64);
    let bad: [Args; 7] = [
        (Address::ZERO, TOKEN, ESCROW, GENESIS, WEEK, 12, END, 0),
        (ADMIN, Address::ZERO, ESCROW, GENESIS, WEEK, 12, END, 0),
        (ADMIN, TOKEN, Address::ZERO, GENESIS, WEEK, 12, END, 0),
        (ADMIN, TOKEN, ESCROW, GENESIS, 2 * VOTE_MARGIN, 12, END, 0),
        (ADMIN, TOKEN, ESCROW, GENESIS, WEEK, 0, END, 0),
        (ADMIN, TOKEN, ESCROW, GENESIS, WEEK, 12, GENESIS, 0),
        (ADMIN, TOKEN, ESCROW, GENESIS, WEEK, 12, END, 10_001),
    ];
    for (i, (a, t, e, g, l, s, end, cap)) in bad.into_iter().enumerate() {
        let vm = TestVM::default();
        let mut gauge = GaugeController::from(&vm);
        let result = gauge.constructor(a, t, e, g, l, s, end, cap);
        let expected = if i < 3 {
            "InvalidAddress"
        } else {
            "InvalidSchedule"
        };
        assert!(
            format!("{result:?}").contains(expected),
            "case {i}: {result:?}"
        );
    }
}

#[test]
fn rejects_outsider_add_gauge() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_sender(OUTSIDER);
    match gauge.add_gauge(address!("0000000000000000000000000000000000000044")) {
        Err(Error::Unauthorized(e)) => assert_eq!(e.account, OUTSIDER),
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[test]
fn rejects_outsider_kill_and_revive() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_sender(OUTSIDER);
    assert!(matches!(gauge.kill_gauge(G1), Err(Error::Unauthorized(_))));
    vm.set_sender(ADMIN);
    gauge.kill_gauge(G1).unwrap();
    vm.set_sender(OUTSIDER);
    assert!(matches!(
        gauge.revive_gauge(G1),
        Err(Error::Unauthorized(_))
    ));
}

#[test]
fn rejects_outsider_transfer_admin() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_sender(OUTSIDER);
    assert!(matches!(
        gauge.transfer_admin(OUTSIDER),
        Err(Error::Unauthorized(_))
    ));
    vm.set_sender(ADMIN);
    assert!(matches!(
        gauge.transfer_admin(Address::ZERO),
        Err(Error::InvalidAddress(_))
    ));
    gauge.transfer_admin(BOB).unwrap();
    assert_eq!(gauge.admin(), BOB);
    assert!(
        matches!(gauge.add_gauge(OUTSIDER), Err(Error::Unauthorized(_))),
        "the old admin is out"
    );
    vm.set_sender(BOB);
    gauge.add_gauge(OUTSIDER).unwrap();
    let (t, d) = vm
        .get_emitted_logs()
        .into_iter()
        .find(|(t, _)| t[0] == AdminChanged::SIGNATURE_HASH)
        .unwrap();
    assert_eq!(
        AdminChanged::decode_raw_log(t, &d).unwrap().newAdmin,
        ADMIN,
        "constructor logs the first admin"
    );
}

#[test]
fn add_gauge_rules() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    assert!(matches!(
        gauge.add_gauge(Address::ZERO),
        Err(Error::InvalidAddress(_))
    ));
    assert!(matches!(gauge.add_gauge(G1), Err(Error::AlreadyAdded(e)) if e.gauge == G1));
    for i in 3..MAX_GAUGES {
        gauge
            .add_gauge(Address::with_last_byte(0x80 + i as u8))
            .unwrap();
    }
    assert!(matches!(
        gauge.add_gauge(Address::with_last_byte(0xff)),
        Err(Error::TooMany(_))
    ));
    assert_eq!(gauge.gauges().len() as u64, MAX_GAUGES);
    assert_eq!(
        gauge.gauge_info(G2, 0),
        (true, false, U256::ZERO, U256::ZERO)
    );
    assert_eq!(
        gauge.gauge_info(OUTSIDER, 0),
        (false, false, U256::ZERO, U256::ZERO)
    );
}

#[test]
fn kill_and_revive_rules() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    assert!(matches!(gauge.kill_gauge(OUTSIDER), Err(Error::Unknown(_))));
    assert!(matches!(gauge.revive_gauge(G1), Err(Error::AlreadyAlive(e)) if e.gauge == G1));
    gauge.kill_gauge(G1).unwrap();
    assert!(matches!(gauge.kill_gauge(G1), Err(Error::AlreadyKilled(e)) if e.gauge == G1));
    assert_eq!(
        gauge.gauge_info(G1, 0),
        (true, true, U256::ZERO, U256::ZERO)
    );
    gauge.revive_gauge(G1).unwrap();
    assert!(!gauge.gauge_info(G1, 0).1);
    assert_eq!(
        topics(&vm)[topics(&vm).len() - 2..],
        [GaugeKilled::SIGNATURE_HASH, GaugeRevived::SIGNATURE_HASH]
    );
}

#[test]
fn kill_waits_for_pending_finalization() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_block_timestamp(start(1) + 5);
    vm.set_sender(ADMIN);
    match gauge.kill_gauge(G1) {
        Err(Error::FinalizationPending(e)) => assert_eq!(e.next, 0),
        other => panic!("expected FinalizationPending, got {other:?}"),
    }
    gauge.finalize_epoch(0).unwrap();
    gauge.kill_gauge(G1).unwrap();
    assert!(matches!(gauge.revive_gauge(G1), Ok(())));
}

// ---------------------------------------------------------------- voting rules

#[test]
fn vote_before_genesis_fails() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_block_timestamp(GENESIS - 1);
    vm.set_sender(ALICE);
    assert!(
        matches!(gauge.vote(vec![G1], vec![10_000]), Err(Error::NotStarted(e)) if e.genesis == GENESIS)
    );
}

#[test]
fn vote_only_inside_the_window() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_sender(ALICE);
    for t in [
        start(1),
        start(1) + VOTE_MARGIN - 1,
        start(2) - VOTE_MARGIN,
        start(2) - 1,
    ] {
        vm.set_block_timestamp(t);
        match gauge.vote(vec![G1], vec![10_000]) {
            Err(Error::VoteOutsideWindow(e)) => {
                assert_eq!(
                    (e.epoch, e.opens, e.closes),
                    (1, start(1) + VOTE_MARGIN, start(2) - VOTE_MARGIN)
                )
            }
            other => panic!("expected VoteOutsideWindow at {t}, got {other:?}"),
        }
    }
    let big = (1_000 * UNIT, start(40));
    vote_with(&vm, &mut gauge, ALICE, 1, big, &[G1], &[10_000]).unwrap();
    vm.set_block_timestamp(start(2) - VOTE_MARGIN - 1);
    gauge.vote(vec![G1], vec![10_000]).unwrap();
}

#[test]
fn vote_list_rules() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    let big = (1_000 * UNIT, start(40));
    let err = |r: Result<(), Error>| format!("{r:?}");
    let mut v = |g: &[Address], b: &[u16]| vote_with(&vm, &mut gauge, ALICE, 0, big, g, b);
    assert!(err(v(&[G1, G2], &[1])).contains("VoteLengthMismatch"));
    assert!(
        matches!(v(&[G2, G1], &[1, 1]), Err(Error::VoteUnsorted(e)) if e.index == U256::from(1))
    );
    assert!(
        matches!(v(&[G1, G1], &[1, 1]), Err(Error::VoteUnsorted(_))),
        "duplicates"
    );
    assert!(matches!(v(&[G1, OUTSIDER], &[1, 1]), Err(Error::Unknown(e)) if e.gauge == OUTSIDER));
    assert!(matches!(v(&[Address::ZERO], &[1]), Err(Error::Unknown(_))));
    assert!(
        matches!(v(&[G1, G2], &[6_000, 4_001]), Err(Error::VoteOverflow(e)) if e.totalBps == U256::from(10_001))
    );
    assert!(matches!(v(&[G1, G2], &[10_000, 0]), Err(Error::VoteRoundsToZero(e)) if e.gauge == G2));
    assert!(matches!(
        v(&[G1, G2], &[u16::MAX, u16::MAX]),
        Err(Error::VoteOverflow(_))
    ));
    v(&[G1, G2, G3], &[5_000, 3_000, 2_000]).unwrap();
}

#[test]
fn killed_gauge_takes_no_votes() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_sender(ADMIN);
    gauge.kill_gauge(G2).unwrap();
    let big = (1_000 * UNIT, start(40));
    assert!(matches!(
        vote_with(&vm, &mut gauge, ALICE, 0, big, &[G1, G2], &[1, 1]),
        Err(Error::IsKilled(e)) if e.gauge == G2
    ));
}

#[test]
fn vote_needs_power_that_does_not_round_to_zero() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    in_window(&vm, 0);
    vm.set_sender(ALICE);
    mock_power(&vm, ALICE, start(0), 0, 0, 0);
    match gauge.vote(vec![G1], vec![10_000]) {
        Err(Error::NoVotingPower(e)) => assert_eq!((e.voter, e.epochStart), (ALICE, start(0))),
        other => panic!("expected NoVotingPower, got {other:?}"),
    }
    // Slope 1 (the escrow's minimum lock): 1 bps of it rounds to zero.
    mock_power(&vm, ALICE, start(0), u128::from(WEEK), 1, u128::from(WEEK));
    assert!(matches!(
        gauge.vote(vec![G1], vec![1]),
        Err(Error::VoteRoundsToZero(_))
    ));
    gauge.vote(vec![G1], vec![10_000]).unwrap();
    assert_eq!(weight(&gauge, G1, 0), u128::from(WEEK));
}

#[test]
fn escrow_failures_are_reported() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    in_window(&vm, 0);
    vm.set_sender(ALICE);
    let data = calls::powerAtCall {
        user: ALICE,
        t: start(0),
    }
    .abi_encode();
    vm.mock_static_call(ESCROW, data.clone(), Err(vec![0xde, 0xad]));
    match gauge.vote(vec![G1], vec![10_000]) {
        Err(Error::CallFailed(e)) => {
            assert_eq!((e.target, e.reason.to_vec()), (ESCROW, vec![0xde, 0xad]))
        }
        other => panic!("expected CallFailed, got {other:?}"),
    }
    vm.mock_static_call(ESCROW, data, Ok(vec![1, 2, 3]));
    assert!(
        matches!(
            gauge.vote(vec![G1], vec![10_000]),
            Err(Error::CallFailed(_))
        ),
        "malformed return"
    );
}

// ---------------------------------------------------------------- tally

#[test]
fn vote_splits_power_by_bps() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    let amount = 1_000 * UNIT;
    let end = start(40);
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        0,
        (amount, end),
        &[G1, G3],
        &[7_000, 2_000],
    )
    .unwrap();
    let dt = u128::from(end - start(0));
    assert_eq!(weight(&gauge, G1, 0), s_of(amount, 7_000) * dt);
    assert_eq!(weight(&gauge, G2, 0), 0);
    assert_eq!(weight(&gauge, G3, 0), s_of(amount, 2_000) * dt);
    let used = (s_of(amount, 7_000) + s_of(amount, 2_000)) * dt;
    // The total is recorded at finalization (zero before); voters and the largest vote are live.
    assert_eq!(gauge.epoch_stats(0), (1, U256::ZERO, U256::from(used)));
    let (t, d) = vm.get_emitted_logs().pop().unwrap();
    let cast = VoteCast::decode_raw_log(t, &d).unwrap();
    assert_eq!(
        (cast.voter, cast.epoch, cast.used, cast.end),
        (ALICE, 0, U256::from(used), end)
    );
    assert_eq!(cast.power, U256::from(lock(amount, end, start(0)).0));
    assert!(used <= lock(amount, end, start(0)).0, "used power <= power");
    assert_eq!(
        topics(&vm)
            .iter()
            .filter(|t| **t == GaugeVote::SIGNATURE_HASH)
            .count(),
        2
    );
}

#[test]
fn votes_carry_with_decay_and_void_at_the_season_end() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    let amount = 500 * UNIT;
    let end = start(30);
    vote_with(&vm, &mut gauge, ALICE, 0, (amount, end), &[G1], &[10_000]).unwrap();
    let s = s_of(amount, 10_000);
    for e in 0..SEASON {
        assert_eq!(
            weight(&gauge, G1, e),
            s * u128::from(end - start(e)),
            "epoch {e} decays with the lock"
        );
    }
    assert_eq!(weight(&gauge, G1, SEASON), 0, "a new season starts at zero");
    assert_eq!(
        gauge.epoch_stats(1).0,
        0,
        "carried votes are not cast in epoch 1"
    );
    // The voter's record is untouched (lazy) and a new vote in the new season counts alone.
    in_window(&vm, SEASON);
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        SEASON,
        (amount, end),
        &[G2],
        &[10_000],
    )
    .unwrap();
    assert_eq!(weight(&gauge, G1, SEASON), 0);
    assert_eq!(
        weight(&gauge, G2, SEASON),
        s * u128::from(end - start(SEASON))
    );
}

#[test]
fn allocation_ends_with_the_lock() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    let amount = 100 * UNIT;
    let end = start(2);
    vote_with(&vm, &mut gauge, ALICE, 0, (amount, end), &[G1], &[10_000]).unwrap();
    assert_eq!(
        weight(&gauge, G1, 1),
        s_of(amount, 10_000) * u128::from(WEEK)
    );
    assert_eq!(weight(&gauge, G1, 2), 0, "removed at the lock's end");
}

#[test]
fn lock_ending_mid_epoch_is_removed_at_the_next_epoch() {
    // 10-day epochs: week-aligned lock ends fall inside epochs.
    let vm = TestVM::default();
    let len = 10 * 86_400;
    let s = Schedule::new(GENESIS, len, 12, GENESIS + 100 * len);
    vm.set_block_timestamp(GENESIS + VOTE_MARGIN);
    let mut gauge = GaugeController::from(&vm);
    gauge
        .constructor(ADMIN, TOKEN, ESCROW, GENESIS, len, 12, s.end, 0)
        .unwrap();
    vm.set_sender(ADMIN);
    gauge.add_gauge(G1).unwrap();
    let end = GENESIS + 3 * WEEK; // inside epoch 2 (days 20..30)
    let (power, slope) = lock(50 * UNIT, end, GENESIS);
    mock_power(&vm, ALICE, GENESIS, power, slope, power);
    vm.set_sender(ALICE);
    gauge.vote(vec![G1], vec![10_000]).unwrap();
    assert_eq!(
        weight(&gauge, G1, 1),
        slope * u128::from(end - s.epoch_start(1))
    );
    assert_eq!(
        weight(&gauge, G1, 2),
        slope * u128::from(end - s.epoch_start(2))
    );
    assert_eq!(weight(&gauge, G1, 3), 0);
}

#[test]
fn revote_replaces_the_allocation_exactly() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    let lock_a = (800 * UNIT, start(20));
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        0,
        lock_a,
        &[G1, G2],
        &[5_000, 5_000],
    )
    .unwrap();
    vote_with(
        &vm,
        &mut gauge,
        BOB,
        0,
        (100 * UNIT, start(8)),
        &[G2],
        &[10_000],
    )
    .unwrap();
    let bob_w2 = s_of(100 * UNIT, 10_000) * u128::from(start(8) - start(0));
    // Same epoch: decreases first, then the new split; counted once.
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        0,
        lock_a,
        &[G2, G3],
        &[2_000, 8_000],
    )
    .unwrap();
    let dt = u128::from(start(20) - start(0));
    assert_eq!(weight(&gauge, G1, 0), 0);
    assert_eq!(weight(&gauge, G2, 0), s_of(800 * UNIT, 2_000) * dt + bob_w2);
    assert_eq!(weight(&gauge, G3, 0), s_of(800 * UNIT, 8_000) * dt);
    assert_eq!(gauge.epoch_stats(0).0, 2, "two voters, one re-vote");
    // A later epoch of the season: epoch 0's tally (not finalized yet) is kept.
    let w0: Vec<u128> = [G1, G2, G3].iter().map(|g| weight(&gauge, *g, 0)).collect();
    vote_with(&vm, &mut gauge, ALICE, 1, lock_a, &[G1], &[10_000]).unwrap();
    assert_eq!([G1, G2, G3].map(|g| weight(&gauge, g, 0)).to_vec(), w0);
    let dt1 = u128::from(start(20) - start(1));
    assert_eq!(weight(&gauge, G1, 1), s_of(800 * UNIT, 10_000) * dt1);
    assert_eq!(weight(&gauge, G3, 1), 0);
    assert_eq!(
        weight(&gauge, G2, 1),
        s_of(100 * UNIT, 10_000) * u128::from(start(8) - start(1))
    );
}

#[test]
fn empty_vote_withdraws() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    let l = (10 * UNIT, start(9));
    vote_with(&vm, &mut gauge, ALICE, 0, l, &[G1], &[10_000]).unwrap();
    in_window(&vm, 1);
    vm.set_sender(ALICE);
    gauge.vote(vec![], vec![]).unwrap();
    assert_eq!(weight(&gauge, G1, 1), 0);
    assert!(weight(&gauge, G1, 0) > 0, "the past epoch keeps its tally");
}

#[test]
fn cap_limits_one_voters_weight() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 1_000); // 10% of the total supply
    in_window(&vm, 0);
    let (power, slope) = lock(1_000 * UNIT, start(50), start(0));
    let supply = power * 2; // the voter holds half the supply
    mock_power(&vm, ALICE, start(0), power, slope, supply);
    vm.set_sender(ALICE);
    gauge.vote(vec![G1], vec![10_000]).unwrap();
    let w = weight(&gauge, G1, 0);
    assert!(w <= supply / 10, "capped: {w} > {}", supply / 10);
    assert!(
        w > supply / 10 - u128::from(start(50) - start(0)),
        "cap is tight: {w}"
    );
}

// ---------------------------------------------------------------- finalization and claims

#[test]
fn finalize_order_and_timing_rules() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_block_timestamp(start(1) - 1);
    match gauge.finalize_epoch(0) {
        Err(Error::EpochNotEnded(e)) => assert_eq!((e.epoch, e.endsAt), (0, start(1))),
        other => panic!("expected EpochNotEnded, got {other:?}"),
    }
    vm.set_block_timestamp(start(3));
    assert!(
        matches!(gauge.finalize_epoch(1), Err(Error::EpochNotNext(e)) if (e.epoch, e.next) == (1, 0))
    );
    gauge.finalize_epoch(0).unwrap();
    match gauge.finalize_epoch(0) {
        Err(Error::EpochAlreadyFinalized(e)) => assert_eq!(e.epoch, 0),
        other => panic!("expected EpochAlreadyFinalized, got {other:?}"),
    }
    let encoded: Vec<u8> =
        Error::EpochAlreadyFinalized(GaugeEpochAlreadyFinalized { epoch: 0 }).into();
    assert_eq!(
        encoded[..4],
        GaugeEpochAlreadyFinalized::SELECTOR,
        "the keeper matches this selector"
    );
}

#[test]
fn epoch_without_votes_carries_everything() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    finalize_at_end(&vm, &mut gauge, 0).unwrap();
    let emission = EMISSION_TOTAL / 10;
    assert_eq!(
        gauge.totals(),
        (1, U256::from(emission), U256::ZERO, U256::from(emission))
    );
    let (t, d) = vm.get_emitted_logs().pop().unwrap();
    let fin = EpochFinalized::decode_raw_log(t, &d).unwrap();
    assert_eq!(
        (fin.epoch, fin.distributed, fin.carried),
        (0, U256::ZERO, U256::from(emission))
    );
    // Epoch 1 pays epoch 0's emission too.
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        1,
        (10 * UNIT, start(9)),
        &[G1],
        &[10_000],
    )
    .unwrap();
    finalize_at_end(&vm, &mut gauge, 1).unwrap();
    assert_eq!(gauge.gauge_info(G1, 0).2, U256::from(2 * emission));
    assert_eq!(gauge.totals().3, U256::ZERO);
}

#[test]
fn shares_follow_weights_and_conserve_br() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        0,
        (300 * UNIT, start(30)),
        &[G1, G2],
        &[2_500, 7_500],
    )
    .unwrap();
    vote_with(
        &vm,
        &mut gauge,
        BOB,
        0,
        (77 * UNIT, start(5)),
        &[G3],
        &[10_000],
    )
    .unwrap();
    finalize_at_end(&vm, &mut gauge, 0).unwrap();
    let emission = EMISSION_TOTAL / 10;
    let w: Vec<u128> = [G1, G2, G3].iter().map(|g| weight(&gauge, *g, 0)).collect();
    let total: u128 = w.iter().sum();
    assert_eq!(
        gauge.epoch_stats(0).1,
        U256::from(total),
        "total weight recorded"
    );
    let mut held = 0u128;
    for (g, wg) in [G1, G2, G3].iter().zip(&w) {
        let share: u128 = gauge.gauge_info(*g, 0).2.saturating_to();
        let exact = U256::from(emission) * U256::from(*wg) / U256::from(total);
        let diff = exact.saturating_to::<u128>() - share;
        assert!(
            diff <= emission >> 36,
            "share close to exact: off by {diff}"
        );
        held += share;
    }
    let (_, minted, claimed, carry) = gauge.totals();
    assert_eq!(minted, U256::from(emission));
    assert_eq!(
        minted,
        claimed + U256::from(held) + carry,
        "nothing stranded"
    );
    assert_eq!(
        topics(&vm)
            .iter()
            .filter(|t| **t == GaugeRewarded::SIGNATURE_HASH)
            .count(),
        3
    );
}

#[test]
fn killed_gauge_share_is_carried() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        0,
        (100 * UNIT, start(30)),
        &[G1, G2],
        &[5_000, 5_000],
    )
    .unwrap();
    vm.set_sender(ADMIN);
    gauge.kill_gauge(G2).unwrap();
    finalize_at_end(&vm, &mut gauge, 0).unwrap();
    let emission = EMISSION_TOTAL / 10;
    assert_eq!(gauge.gauge_info(G2, 0).2, U256::ZERO);
    let g1: u128 = gauge.gauge_info(G1, 0).2.saturating_to();
    assert!(g1 <= emission / 2 && g1 + (emission >> 36) >= emission / 2);
    assert_eq!(gauge.totals().3, U256::from(emission - g1));
    // Epoch 1: G2 still killed, its carried votes still count; revived for epoch 2 it earns again.
    finalize_at_end(&vm, &mut gauge, 1).unwrap();
    assert_eq!(gauge.gauge_info(G2, 0).2, U256::ZERO);
    vm.set_sender(ADMIN);
    gauge.revive_gauge(G2).unwrap();
    finalize_at_end(&vm, &mut gauge, 2).unwrap();
    assert!(gauge.gauge_info(G2, 0).2 > U256::ZERO);
}

#[test]
fn mint_failure_fails_finalization() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    let data = calls::mintCall {
        to: vm.contract_address(),
        value: U256::from(EMISSION_TOTAL / 10),
    }
    .abi_encode();
    vm.mock_call(
        TOKEN,
        data,
        U256::ZERO,
        Err(verity_abi::token::BRUnauthorizedMinter {
            account: Address::ZERO,
        }
        .abi_encode()),
    );
    match finalize_at_end(&vm, &mut gauge, 0) {
        Err(Error::CallFailed(e)) => {
            assert_eq!(e.target, TOKEN);
            assert_eq!(
                e.reason[..4],
                verity_abi::token::BRUnauthorizedMinter::SELECTOR
            );
        }
        other => panic!("expected CallFailed, got {other:?}"),
    }
}

#[test]
fn after_the_end_date_nothing_is_minted() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    for e in 0..12 {
        finalize_at_end(&vm, &mut gauge, e).unwrap();
    }
    let (next, minted, _, carry) = gauge.totals();
    assert_eq!(
        (next, minted, carry),
        (12, U256::from(EMISSION_TOTAL), U256::from(EMISSION_TOTAL))
    );
}

#[test]
fn claim_pays_the_gauge_once() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vm.set_sender(OUTSIDER);
    assert!(matches!(gauge.claim(G1), Err(Error::NothingToClaim(e)) if e.gauge == G1));
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        0,
        (100 * UNIT, start(30)),
        &[G1],
        &[10_000],
    )
    .unwrap();
    finalize_at_end(&vm, &mut gauge, 0).unwrap();
    let amount = gauge.gauge_info(G1, 0).2;
    assert_eq!(amount, U256::from(EMISSION_TOTAL / 10));
    mock_transfer(&vm, G1, amount, Ok(abi_true()));
    vm.set_sender(OUTSIDER);
    assert_eq!(gauge.claim(G1).unwrap(), amount);
    assert_eq!(gauge.gauge_info(G1, 0).2, U256::ZERO);
    assert_eq!(gauge.totals().2, amount);
    assert!(
        matches!(gauge.claim(G1), Err(Error::NothingToClaim(_))),
        "never twice"
    );
    let (t, d) = vm.get_emitted_logs().pop().unwrap();
    assert_eq!(Claimed::decode_raw_log(t, &d).unwrap().amount, amount);
}

#[test]
fn claim_reports_a_failed_transfer() {
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        0,
        (100 * UNIT, start(30)),
        &[G1],
        &[10_000],
    )
    .unwrap();
    finalize_at_end(&vm, &mut gauge, 0).unwrap();
    let amount = gauge.gauge_info(G1, 0).2;
    mock_transfer(&vm, G1, amount, Ok(U256::ZERO.to_be_bytes_vec()));
    assert!(
        matches!(gauge.claim(G1), Err(Error::CallFailed(_))),
        "transfer returned false"
    );
    let vm = TestVM::default();
    let mut gauge = deployed(&vm, 0);
    vote_with(
        &vm,
        &mut gauge,
        ALICE,
        0,
        (100 * UNIT, start(30)),
        &[G1],
        &[10_000],
    )
    .unwrap();
    finalize_at_end(&vm, &mut gauge, 0).unwrap();
    mock_transfer(&vm, G1, amount, Err(vec![7]));
    assert!(matches!(gauge.claim(G1), Err(Error::CallFailed(e)) if e.reason.to_vec() == vec![7]));
}

#[test]
fn share_maths_never_over_pays() {
    for (available, weights) in [
        (EMISSION_TOTAL, vec![1u128, 1, 1]),
        (EMISSION_TOTAL, vec![u128::from(u64::MAX) << 30, 3, 5 << 70]),
        (1, vec![1, 1]),
        (
            EMISSION_TOTAL / 7,
            vec![123_456_789_000_000_000_000_000_000, 987_654_321],
        ),
    ] {
        let total: u128 = weights.iter().sum();
        let paid: u128 = weights
            .iter()
            .map(|w| GaugeController::_share(available, *w, total))
            .sum();
        assert!(paid <= available);
        assert!(
            available - paid <= (available >> 36) * weights.len() as u128 + weights.len() as u128
        );
    }
}
