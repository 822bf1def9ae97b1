//! Native unit tests on stylus-test's TestVM (one contract per VM; BR's calls answer `Ok(empty)` unless mocked).
//! The property tests live in `tests/props.rs`-style module [`props`].

use super::*;
use alloy_primitives::{address, B256};
use alloy_sol_types::{SolError, SolEvent};
use stylus_sdk::testing::TestVM;
use verity_abi::escrow::{KIND_CREATE, MAX_LOCK};

mod props;

pub(crate) const TOKEN: Address = address!("00000000000000000000000000000000000000b7");
pub(crate) const ALICE: Address = address!("00000000000000000000000000000000000000c3");
pub(crate) const BOB: Address = address!("00000000000000000000000000000000000000d4");
/// A Thursday 00:00 UTC (a week boundary), in 2026.
pub(crate) const T0: u64 = 2_937 * WEEK;

pub(crate) fn br(n: u64) -> U256 {
    U256::from(n) * verity_abi::token::UNIT
}

/// An escrow deployed at `T0 + offset`.
pub(crate) fn deployed(vm: &TestVM, offset: u64) -> VotingEscrow {
    vm.set_block_timestamp(T0 + offset);
    let mut escrow = VotingEscrow::from(vm);
    escrow.constructor(TOKEN).expect("constructor");
    escrow
}

fn at(vm: &TestVM, t: u64) {
    vm.set_block_timestamp(t);
}

fn as_caller(vm: &TestVM, who: Address) {
    vm.set_sender(who);
}

fn slope(amount: U256) -> U256 {
    amount / U256::from(MAX_LOCK)
}

/// Makes BR revert `transferFrom(owner → escrow, value)` with `reason`.
fn mock_transfer_from_revert(vm: &TestVM, owner: Address, value: U256, reason: Vec<u8>) {
    let data = br::transferFromCall {
        from: owner,
        to: vm.contract_address(),
        value,
    }
    .abi_encode();
    vm.mock_call(TOKEN, data, U256::ZERO, Err(reason));
}

fn topics(vm: &TestVM) -> Vec<B256> {
    vm.get_emitted_logs()
        .into_iter()
        .map(|(t, _)| t[0])
        .collect()
}

#[test]
fn constructor_sets_token_and_rejects_zero() {
    let vm = TestVM::default();
    let escrow = deployed(&vm, 0);
    assert_eq!(escrow.token(), TOKEN);
    assert_eq!(escrow.total_supply(), U256::ZERO);
    let vm = TestVM::default();
    let mut escrow = VotingEscrow::from(&vm);
    assert!(matches!(
        escrow.constructor(Address::ZERO),
        Err(Error::InvalidToken(_))
    ));
}

#[test]
fn create_lock_rounds_end_down_to_a_week_and_sets_power() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 100);
    as_caller(&vm, ALICE);
    let unlock = T0 + 52 * WEEK + 3 * 86_400;
    escrow.create_lock(br(1_000), unlock).unwrap();
    let end = T0 + 52 * WEEK;
    assert_eq!(escrow.locked(ALICE), (br(1_000), end));
    assert_eq!(escrow.supply(), br(1_000));
    let expected = slope(br(1_000)) * U256::from(end - (T0 + 100));
    assert_eq!(escrow.balance_of(ALICE), expected);
    assert_eq!(escrow.total_supply(), expected);
    assert_eq!(
        topics(&vm),
        vec![Deposit::SIGNATURE_HASH, Supply::SIGNATURE_HASH]
    );
    let (t, d) = vm.get_emitted_logs()[0].clone();
    let deposit = Deposit::decode_raw_log(t, &d).unwrap();
    assert_eq!(
        (
            deposit.owner,
            deposit.value,
            deposit.amount,
            deposit.end,
            deposit.kind
        ),
        (ALICE, br(1_000), br(1_000), end, KIND_CREATE)
    );
}

#[test]
fn power_decays_linearly_to_zero_at_the_end() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    let end = T0 + 10 * WEEK;
    escrow.create_lock(br(100), end).unwrap();
    let s = slope(br(100));
    for week in 0..=11u64 {
        let t = T0 + week * WEEK + 17;
        let expected = if t >= end {
            U256::ZERO
        } else {
            s * U256::from(end - t)
        };
        assert_eq!(escrow.balance_of_at(ALICE, t), expected, "week {week}");
        assert_eq!(escrow.total_supply_at(t), expected, "week {week}");
    }
    at(&vm, end);
    assert_eq!(escrow.balance_of(ALICE), U256::ZERO);
    assert_eq!(escrow.total_supply(), U256::ZERO);
}

#[test]
fn history_is_kept_across_changes() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    escrow.create_lock(br(100), T0 + 20 * WEEK).unwrap();
    let before = escrow.balance_of_at(ALICE, T0 + WEEK);
    at(&vm, T0 + 2 * WEEK);
    escrow.increase_amount(br(50)).unwrap();
    at(&vm, T0 + 3 * WEEK);
    escrow.increase_unlock_time(T0 + 40 * WEEK).unwrap();
    assert_eq!(escrow.balance_of_at(ALICE, T0 + WEEK), before);
    assert_eq!(
        escrow.balance_of_at(ALICE, T0 + 2 * WEEK + 5),
        slope(br(150)) * U256::from(18 * WEEK - 5)
    );
    assert_eq!(
        escrow.balance_of_at(ALICE, T0 + 3 * WEEK),
        slope(br(150)) * U256::from(37 * WEEK)
    );
    assert_eq!(
        escrow.balance_of_at(ALICE, T0 - 1),
        U256::ZERO,
        "before any lock"
    );
    assert_eq!(
        escrow.total_supply_at(T0 - 1),
        U256::ZERO,
        "before deployment"
    );
}

#[test]
fn two_users_sum_to_the_total_at_any_time() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    escrow.create_lock(br(100), T0 + 5 * WEEK).unwrap();
    at(&vm, T0 + WEEK + 77);
    as_caller(&vm, BOB);
    escrow.create_lock(br(333), T0 + 9 * WEEK).unwrap();
    for t in [
        T0,
        T0 + WEEK,
        T0 + WEEK + 77,
        T0 + 5 * WEEK,
        T0 + 6 * WEEK + 1,
        T0 + 9 * WEEK,
        T0 + 99 * WEEK,
    ] {
        let sum = escrow.balance_of_at(ALICE, t) + escrow.balance_of_at(BOB, t);
        assert_eq!(sum, escrow.total_supply_at(t), "t = {t}");
    }
}

#[test]
fn power_at_returns_power_slope_and_supply() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    let end = T0 + 30 * WEEK;
    escrow.create_lock(br(700), end).unwrap();
    as_caller(&vm, BOB);
    escrow.create_lock(br(300), T0 + 10 * WEEK).unwrap();
    let t = T0 + 4 * WEEK;
    let (power, s, supply) = escrow.power_at(ALICE, t);
    assert_eq!(s, slope(br(700)));
    assert_eq!(
        U256::from(t) + power / s,
        U256::from(end),
        "the end is derivable exactly"
    );
    assert_eq!(supply, escrow.total_supply_at(t));
    assert_eq!(
        escrow.power_at(ALICE, end),
        (U256::ZERO, U256::ZERO, escrow.total_supply_at(end))
    );
}

#[test]
fn create_lock_rejects_bad_amounts() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    for value in [
        U256::ZERO,
        U256::from(MIN_LOCK_AMOUNT - 1),
        verity_abi::token::CAP + U256::from(1),
        U256::MAX,
    ] {
        match escrow.create_lock(value, T0 + WEEK) {
            Err(Error::InvalidAmount(e)) => assert_eq!(e.value, value),
            other => panic!("expected InvalidAmount, got {other:?}"),
        }
    }
    escrow
        .create_lock(U256::from(MIN_LOCK_AMOUNT), T0 + WEEK)
        .unwrap();
    assert!(
        escrow.balance_of(ALICE) > U256::ZERO,
        "the minimum lock has non-zero power"
    );
}

#[test]
fn create_lock_rejects_bad_unlock_times() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 10);
    as_caller(&vm, ALICE);
    match escrow.create_lock(br(1), T0 + WEEK - 1) {
        Err(Error::UnlockTooEarly(e)) => {
            assert_eq!((e.unlockTime, e.minimum), (T0 + WEEK - 1, T0 + 10))
        }
        other => panic!("expected UnlockTooEarly, got {other:?}"),
    }
    let too_late = week_floor(T0 + 10 + MAX_LOCK) + WEEK;
    match escrow.create_lock(br(1), too_late) {
        Err(Error::UnlockTooLate(e)) => assert_eq!(e.maximum, T0 + 10 + MAX_LOCK),
        other => panic!("expected UnlockTooLate, got {other:?}"),
    }
    escrow.create_lock(br(1), T0 + 10 + MAX_LOCK).unwrap();
    assert_eq!(escrow.locked(ALICE).1, week_floor(T0 + 10 + MAX_LOCK));
}

#[test]
fn create_lock_twice_fails() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    escrow.create_lock(br(1), T0 + WEEK).unwrap();
    assert!(
        matches!(escrow.create_lock(br(1), T0 + 2 * WEEK), Err(Error::LockExists(e)) if e.owner == ALICE)
    );
    at(&vm, T0 + 3 * WEEK);
    assert!(
        matches!(
            escrow.create_lock(br(1), T0 + 5 * WEEK),
            Err(Error::LockExists(_))
        ),
        "an expired lock must be withdrawn first"
    );
}

#[test]
fn increase_amount_rules() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    assert!(matches!(
        escrow.increase_amount(br(1)),
        Err(Error::NoLock(_))
    ));
    escrow.create_lock(br(10), T0 + 2 * WEEK).unwrap();
    assert!(matches!(
        escrow.increase_amount(U256::ZERO),
        Err(Error::InvalidAmount(_))
    ));
    escrow.increase_amount(U256::from(1)).unwrap();
    assert_eq!(escrow.locked(ALICE).0, br(10) + U256::from(1));
    assert!(matches!(
        escrow.increase_amount(verity_abi::token::CAP),
        Err(Error::InvalidAmount(_))
    ));
    at(&vm, T0 + 2 * WEEK);
    match escrow.increase_amount(br(1)) {
        Err(Error::LockExpired(e)) => assert_eq!((e.owner, e.end), (ALICE, T0 + 2 * WEEK)),
        other => panic!("expected LockExpired, got {other:?}"),
    }
}

#[test]
fn increase_unlock_time_rules() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    assert!(matches!(
        escrow.increase_unlock_time(T0 + 9 * WEEK),
        Err(Error::NoLock(_))
    ));
    escrow.create_lock(br(10), T0 + 4 * WEEK).unwrap();
    match escrow.increase_unlock_time(T0 + 4 * WEEK + 86_400) {
        Err(Error::UnlockTooEarly(e)) => assert_eq!(e.minimum, T0 + 4 * WEEK),
        other => panic!("expected UnlockTooEarly, got {other:?}"),
    }
    assert!(matches!(
        escrow.increase_unlock_time(week_floor(T0 + MAX_LOCK) + WEEK),
        Err(Error::UnlockTooLate(_))
    ));
    escrow.increase_unlock_time(T0 + 8 * WEEK).unwrap();
    assert_eq!(escrow.locked(ALICE), (br(10), T0 + 8 * WEEK));
    assert_eq!(
        escrow.balance_of(ALICE),
        slope(br(10)) * U256::from(8 * WEEK)
    );
    at(&vm, T0 + 8 * WEEK);
    assert!(matches!(
        escrow.increase_unlock_time(T0 + 20 * WEEK),
        Err(Error::LockExpired(_))
    ));
}

#[test]
fn withdraw_only_after_the_end() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    assert!(matches!(escrow.withdraw(), Err(Error::NoLock(_))));
    escrow.create_lock(br(10), T0 + 2 * WEEK).unwrap();
    at(&vm, T0 + 2 * WEEK - 1);
    match escrow.withdraw() {
        Err(Error::LockNotExpired(e)) => assert_eq!(e.end, T0 + 2 * WEEK),
        other => panic!("expected LockNotExpired, got {other:?}"),
    }
    at(&vm, T0 + 2 * WEEK);
    vm.clear_mocks();
    escrow.withdraw().unwrap();
    assert_eq!(escrow.locked(ALICE), (U256::ZERO, 0));
    assert_eq!(escrow.supply(), U256::ZERO);
    assert_eq!(
        topics(&vm),
        vec![Withdraw::SIGNATURE_HASH, Supply::SIGNATURE_HASH]
    );
    assert!(
        matches!(escrow.withdraw(), Err(Error::NoLock(_))),
        "no double withdraw"
    );
    // A new lock after withdrawing.
    escrow.create_lock(br(1), T0 + 5 * WEEK).unwrap();
    assert_eq!(
        escrow.balance_of_at(ALICE, T0 + WEEK),
        slope(br(10)) * U256::from(WEEK),
        "history kept"
    );
}

#[test]
fn token_revert_is_reported_with_its_data() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    let reason = verity_abi::token::ERC20InsufficientAllowance {
        spender: vm.contract_address(),
        allowance: U256::ZERO,
        needed: br(5),
    }
    .abi_encode();
    mock_transfer_from_revert(&vm, ALICE, br(5), reason.clone());
    match escrow.create_lock(br(5), T0 + WEEK) {
        Err(Error::TokenCallFailed(e)) => assert_eq!((e.token, e.reason.to_vec()), (TOKEN, reason)),
        other => panic!("expected TokenCallFailed, got {other:?}"),
    }
}

#[test]
fn token_returning_false_fails() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    let data = br::transferFromCall {
        from: ALICE,
        to: vm.contract_address(),
        value: br(5),
    }
    .abi_encode();
    vm.mock_call(TOKEN, data, U256::ZERO, Ok(U256::ZERO.to_be_bytes_vec()));
    assert!(matches!(
        escrow.create_lock(br(5), T0 + WEEK),
        Err(Error::TokenCallFailed(_))
    ));
    as_caller(&vm, BOB);
    let data = br::transferFromCall {
        from: BOB,
        to: vm.contract_address(),
        value: br(6),
    }
    .abi_encode();
    vm.mock_call(TOKEN, data, U256::ZERO, Ok(U256::from(1).to_be_bytes_vec()));
    escrow.create_lock(br(6), T0 + WEEK).unwrap();
}

#[test]
fn withdraw_reports_a_failed_transfer() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    escrow.create_lock(br(3), T0 + WEEK).unwrap();
    at(&vm, T0 + WEEK);
    let data = br::transferCall {
        to: ALICE,
        value: br(3),
    }
    .abi_encode();
    vm.mock_call(TOKEN, data, U256::ZERO, Err(vec![1, 2, 3]));
    assert!(
        matches!(escrow.withdraw(), Err(Error::TokenCallFailed(e)) if e.reason.to_vec() == vec![1, 2, 3])
    );
}

#[test]
fn checkpoint_keeps_values_and_shortens_reads() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    escrow.create_lock(br(40), T0 + 100 * WEEK).unwrap();
    let t = T0 + 60 * WEEK + 3;
    let before = escrow.total_supply_at(t);
    at(&vm, t);
    as_caller(&vm, BOB);
    escrow.checkpoint();
    assert_eq!(escrow.total_supply(), before);
    assert_eq!(
        escrow.total_supply_at(T0 + 7),
        slope(br(40)) * U256::from(100 * WEEK - 7)
    );
    assert_eq!(escrow.balance_of(ALICE), before);
}

#[test]
fn same_second_actions_overwrite_the_point() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 5);
    as_caller(&vm, ALICE);
    escrow.create_lock(br(1), T0 + WEEK).unwrap();
    escrow.increase_amount(br(1)).unwrap();
    escrow.increase_unlock_time(T0 + 3 * WEEK).unwrap();
    assert_eq!(
        escrow.points.count.get().native(),
        1,
        "constructor point overwritten at the same second"
    );
    assert_eq!(escrow.user_points.getter(ALICE).count.get().native(), 1);
    assert_eq!(
        escrow.balance_of(ALICE),
        slope(br(2)) * U256::from(3 * WEEK - 5)
    );
}

#[test]
fn far_future_reads_end_at_zero() {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    as_caller(&vm, ALICE);
    escrow.create_lock(br(1_000_000), T0 + MAX_LOCK).unwrap();
    assert_eq!(escrow.total_supply_at(u64::MAX), U256::ZERO);
    assert_eq!(escrow.balance_of_at(ALICE, u64::MAX), U256::ZERO);
}
