//! Stateful property test: random lock / increase / extend / withdraw / checkpoint / time-travel sequences by
//! several actors (one hostile: dust, huge amounts, early withdrawals, past or too-far unlock times), checked
//! against a reference model after every step.
//!
//! Invariants (INVARIANTS.md, "Escrow"):
//! - `Σ balanceOf(u) == totalSupply()` exactly, now and at every past step's time (`balanceOfAt` /
//!   `totalSupplyAt`), and at a future time;
//! - each balance equals the model's `amount / MAX_LOCK × (end − t)`;
//! - history is immutable: a value read at a time already past never changes;
//! - `supply()` (escrow BR) == Σ locked amounts == BR pulled − BR returned;
//! - every call succeeds or fails exactly as the model predicts.

use super::*;
use proptest::prelude::*;

const ACTORS: [Address; 4] = [
    ALICE,
    BOB,
    address!("00000000000000000000000000000000000000e5"),
    // hostile: its amounts and times come from the hostile strategies
    address!("00000000000000000000000000000000000000f6"),
];
const HOSTILE: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Create {
        who: usize,
        amount: u128,
        unlock_in: u64,
    },
    Increase {
        who: usize,
        amount: u128,
    },
    Extend {
        who: usize,
        unlock_in: u64,
    },
    Withdraw {
        who: usize,
    },
    Checkpoint,
    Advance {
        secs: u64,
    },
}

fn amount(hostile: bool) -> BoxedStrategy<u128> {
    let unit = 1_000_000_000_000_000_000u128;
    if hostile {
        prop_oneof![
            Just(0u128),
            0..u128::from(MIN_LOCK_AMOUNT) * 2,
            Just(verity_abi::token::CAP.to::<u128>()),
            Just(u128::MAX),
        ]
        .boxed()
    } else {
        prop_oneof![
            (1u128..1_000_000).prop_map(move |n| n * unit),
            1u128..unit * 1_000_000,
        ]
        .boxed()
    }
}

fn unlock_in(hostile: bool) -> BoxedStrategy<u64> {
    if hostile {
        prop_oneof![
            0..WEEK,
            Just(MAX_LOCK + WEEK),
            MAX_LOCK - 2 * WEEK..MAX_LOCK + 2 * WEEK
        ]
        .boxed()
    } else {
        (0..MAX_LOCK).boxed()
    }
}

fn op() -> impl Strategy<Value = Op> {
    let who = || 0..ACTORS.len();
    prop_oneof![
        3 => who().prop_flat_map(|w| (amount(w == HOSTILE), unlock_in(w == HOSTILE))
            .prop_map(move |(amount, unlock_in)| Op::Create { who: w, amount, unlock_in })),
        2 => who().prop_flat_map(|w| amount(w == HOSTILE).prop_map(move |amount| Op::Increase { who: w, amount })),
        2 => who().prop_flat_map(|w| unlock_in(w == HOSTILE).prop_map(move |unlock_in| Op::Extend { who: w, unlock_in })),
        2 => who().prop_map(|who| Op::Withdraw { who }),
        1 => Just(Op::Checkpoint),
        3 => prop_oneof![0..3 * WEEK, Just(WEEK), 0..MAX_LOCK / 2].prop_map(|secs| Op::Advance { secs }),
    ]
}

/// The reference model: each actor's `(amount, end)` and the BR moved.
#[derive(Debug, Default)]
struct Model {
    locks: [(u128, u64); 4],
    pulled: u128,
    returned: u128,
}

impl Model {
    fn power(&self, who: usize, t: u64) -> u128 {
        let (amount, end) = self.locks[who];
        if end <= t {
            0
        } else {
            amount / u128::from(MAX_LOCK) * u128::from(end - t)
        }
    }
}

fn expect_err<T: core::fmt::Debug>(
    result: Result<T, Error>,
    what: &str,
) -> Result<(), TestCaseError> {
    prop_assert!(result.is_err(), "{what} should fail, got {result:?}");
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let vm = TestVM::default();
    let mut escrow = deployed(&vm, 0);
    let mut model = Model::default();
    let mut now = T0;
    let cap = verity_abi::token::CAP.to::<u128>();
    // (time, balances, total) observed after each step, re-read at the end.
    let mut seen: Vec<(u64, [U256; 4], U256)> = Vec::new();
    for op in ops {
        match op {
            Op::Create {
                who,
                amount,
                unlock_in,
            } => {
                as_caller(&vm, ACTORS[who]);
                let end = week_floor(now + unlock_in);
                let result = escrow.create_lock(U256::from(amount), now + unlock_in);
                let valid = (u128::from(MIN_LOCK_AMOUNT)..=cap).contains(&amount)
                    && model.locks[who].0 == 0
                    && end > now
                    && end <= now + MAX_LOCK;
                if valid {
                    prop_assert!(result.is_ok(), "create {result:?}");
                    model.locks[who] = (amount, end);
                    model.pulled += amount;
                } else {
                    expect_err(result, "create")?;
                }
            }
            Op::Increase { who, amount } => {
                as_caller(&vm, ACTORS[who]);
                let (locked, end) = model.locks[who];
                let result = escrow.increase_amount(U256::from(amount));
                let valid = amount >= 1
                    && amount <= cap
                    && locked > 0
                    && end > now
                    && locked + amount <= cap;
                if valid {
                    prop_assert!(result.is_ok(), "increase {result:?}");
                    model.locks[who].0 += amount;
                    model.pulled += amount;
                } else {
                    expect_err(result, "increase")?;
                }
            }
            Op::Extend { who, unlock_in } => {
                as_caller(&vm, ACTORS[who]);
                let (locked, end) = model.locks[who];
                let new_end = week_floor(now + unlock_in);
                let result = escrow.increase_unlock_time(now + unlock_in);
                let valid = locked > 0 && end > now && new_end > end && new_end <= now + MAX_LOCK;
                if valid {
                    prop_assert!(result.is_ok(), "extend {result:?}");
                    model.locks[who].1 = new_end;
                } else {
                    expect_err(result, "extend")?;
                }
            }
            Op::Withdraw { who } => {
                as_caller(&vm, ACTORS[who]);
                let (locked, end) = model.locks[who];
                let result = escrow.withdraw();
                if locked > 0 && end <= now {
                    prop_assert!(result.is_ok(), "withdraw {result:?}");
                    model.locks[who] = (0, 0);
                    model.returned += locked;
                } else {
                    expect_err(result, "withdraw")?;
                }
            }
            Op::Checkpoint => {
                as_caller(&vm, ACTORS[HOSTILE]);
                escrow.checkpoint();
            }
            Op::Advance { secs } => {
                now += secs;
                at(&vm, now);
            }
        }
        // Invariants now.
        let mut sum = U256::ZERO;
        let mut balances = [U256::ZERO; 4];
        for (i, who) in ACTORS.iter().enumerate() {
            let balance = escrow.balance_of(*who);
            prop_assert_eq!(
                balance,
                U256::from(model.power(i, now)),
                "balance of actor {}",
                i
            );
            prop_assert_eq!(
                escrow.locked(*who),
                (U256::from(model.locks[i].0), model.locks[i].1)
            );
            balances[i] = balance;
            sum += balance;
        }
        let total = escrow.total_supply();
        prop_assert_eq!(sum, total, "Σ balances == total supply");
        let locked: u128 = model.locks.iter().map(|l| l.0).sum();
        prop_assert_eq!(escrow.supply(), U256::from(locked), "escrow BR == Σ locked");
        prop_assert_eq!(
            locked,
            model.pulled - model.returned,
            "escrow BR == pulled − returned"
        );
        // A future time: scheduled slope ends are consistent with the users' lines.
        let later = now + 5 * WEEK + 12_345;
        let future: U256 = ACTORS.iter().map(|w| escrow.balance_of_at(*w, later)).sum();
        prop_assert_eq!(
            future,
            escrow.total_supply_at(later),
            "Σ balances == total supply in the future"
        );
        // Values at `now` are final once time moves on (later actions in the same second count at `now` too).
        if seen.last().is_some_and(|(t, _, _)| *t == now) {
            seen.pop();
        }
        seen.push((now, balances, total));
    }
    // History never changes, and sums hold at every past time.
    for (t, balances, total) in seen {
        for (i, who) in ACTORS.iter().enumerate() {
            prop_assert_eq!(
                escrow.balance_of_at(*who, t),
                balances[i],
                "history of actor {} at {}",
                i,
                t
            );
        }
        prop_assert_eq!(escrow.total_supply_at(t), total, "total history at {}", t);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Escrow invariants over ≥ 50 random steps of several actors (one hostile).
    #[test]
    fn escrow_invariants_hold(ops in prop::collection::vec(op(), 50..80)) {
        run(ops)?;
    }
}
