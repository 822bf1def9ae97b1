//! Native unit tests on stylus-test's TestVM (one contract per VM).

use super::*;
use alloy_primitives::{address, B256};
use alloy_sol_types::SolEvent;
use stylus_sdk::testing::TestVM;

const ADMIN: Address = address!("00000000000000000000000000000000000000a1");
const MINTER: Address = address!("00000000000000000000000000000000000000b2");
const ALICE: Address = address!("00000000000000000000000000000000000000c3");
const BOB: Address = address!("00000000000000000000000000000000000000d4");
const OUTSIDER: Address = address!("00000000000000000000000000000000000000e5");

fn br(n: u64) -> U256 {
    U256::from(n) * verity_abi::token::UNIT
}

/// A token with `genesis` BR minted to ALICE.
fn deployed(vm: &TestVM, genesis: U256) -> BrToken {
    let mut token = BrToken::from(vm);
    token
        .constructor(ADMIN, MINTER, ALICE, genesis)
        .expect("constructor");
    token
}

fn as_caller(vm: &TestVM, who: Address) {
    vm.set_sender(who);
}

/// Topic 0 of every log emitted so far.
fn event_topics(vm: &TestVM) -> Vec<B256> {
    vm.get_emitted_logs()
        .into_iter()
        .map(|(topics, _)| topics[0])
        .collect()
}

#[test]
fn constructor_sets_roles_and_mints_genesis() {
    let vm = TestVM::default();
    let token = deployed(&vm, br(210));
    assert_eq!(token.admin(), ADMIN);
    assert_eq!(token.minter(), MINTER);
    assert_eq!(token.total_supply(), br(210));
    assert_eq!(token.balance_of(ALICE), br(210));
    assert_eq!(token.decimals(), 18);
    assert_eq!(token.cap(), verity_abi::token::CAP);
    assert_eq!(token.symbol(), "BR");
    assert_eq!(
        event_topics(&vm),
        vec![
            AdminChanged::SIGNATURE_HASH,
            MinterChanged::SIGNATURE_HASH,
            Transfer::SIGNATURE_HASH
        ]
    );
}

#[test]
fn constructor_rejects_zero_admin_and_over_cap_genesis() {
    let vm = TestVM::default();
    let mut token = BrToken::from(&vm);
    assert!(matches!(
        token.constructor(Address::ZERO, MINTER, ALICE, U256::ZERO),
        Err(Error::InvalidAdmin(_))
    ));
    let vm = TestVM::default();
    let mut token = BrToken::from(&vm);
    let over = verity_abi::token::CAP + U256::from(1);
    match token.constructor(ADMIN, MINTER, ALICE, over) {
        Err(Error::ExceededCap(e)) => assert_eq!(e.increasedSupply, over),
        other => panic!("expected ExceededCap, got {other:?}"),
    }
}

#[test]
fn transfer_moves_balance_and_emits() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, br(100));
    as_caller(&vm, ALICE);
    assert!(token.transfer(BOB, br(40)).unwrap());
    assert_eq!(token.balance_of(ALICE), br(60));
    assert_eq!(token.balance_of(BOB), br(40));
    assert_eq!(token.total_supply(), br(100));
    let (topics, data) = vm.get_emitted_logs().pop().unwrap();
    let decoded = Transfer::decode_raw_log(topics, &data).unwrap();
    assert_eq!(
        (decoded.from, decoded.to, decoded.value),
        (ALICE, BOB, br(40))
    );
}

#[test]
fn transfer_to_self_keeps_balance() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, br(100));
    as_caller(&vm, ALICE);
    token.transfer(ALICE, br(100)).unwrap();
    assert_eq!(token.balance_of(ALICE), br(100));
}

#[test]
fn transfer_over_balance_fails_with_figures() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, br(10));
    as_caller(&vm, ALICE);
    match token.transfer(BOB, br(11)) {
        Err(Error::InsufficientBalance(e)) => {
            assert_eq!((e.sender, e.balance, e.needed), (ALICE, br(10), br(11)))
        }
        other => panic!("expected InsufficientBalance, got {other:?}"),
    }
    assert_eq!(token.balance_of(ALICE), br(10));
}

#[test]
fn transfer_to_zero_fails() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, br(10));
    as_caller(&vm, ALICE);
    assert!(matches!(
        token.transfer(Address::ZERO, br(1)),
        Err(Error::InvalidReceiver(_))
    ));
}

#[test]
fn approve_and_transfer_from_spend_allowance() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, br(100));
    as_caller(&vm, ALICE);
    token.approve(BOB, br(30)).unwrap();
    assert_eq!(token.allowance(ALICE, BOB), br(30));
    as_caller(&vm, BOB);
    token.transfer_from(ALICE, OUTSIDER, br(20)).unwrap();
    assert_eq!(token.allowance(ALICE, BOB), br(10));
    assert_eq!(token.balance_of(OUTSIDER), br(20));
    match token.transfer_from(ALICE, OUTSIDER, br(11)) {
        Err(Error::InsufficientAllowance(e)) => {
            assert_eq!((e.spender, e.allowance, e.needed), (BOB, br(10), br(11)))
        }
        other => panic!("expected InsufficientAllowance, got {other:?}"),
    }
}

#[test]
fn unlimited_allowance_is_not_decreased() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, br(100));
    as_caller(&vm, ALICE);
    token.approve(BOB, U256::MAX).unwrap();
    as_caller(&vm, BOB);
    token.transfer_from(ALICE, BOB, br(50)).unwrap();
    assert_eq!(token.allowance(ALICE, BOB), U256::MAX);
}

#[test]
fn transfer_from_within_allowance_but_over_balance_fails() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, br(5));
    as_caller(&vm, ALICE);
    token.approve(BOB, br(50)).unwrap();
    as_caller(&vm, BOB);
    assert!(matches!(
        token.transfer_from(ALICE, BOB, br(6)),
        Err(Error::InsufficientBalance(_))
    ));
}

#[test]
fn approve_zero_spender_fails() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, br(5));
    as_caller(&vm, ALICE);
    assert!(matches!(
        token.approve(Address::ZERO, br(1)),
        Err(Error::InvalidSpender(_))
    ));
}

#[test]
fn minter_mints_up_to_cap() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, U256::ZERO);
    as_caller(&vm, MINTER);
    let cap = verity_abi::token::CAP;
    token.mint(BOB, cap - br(1)).unwrap();
    token.mint(BOB, br(1)).unwrap();
    assert_eq!(token.total_supply(), cap);
    match token.mint(BOB, U256::from(1)) {
        Err(Error::ExceededCap(e)) => {
            assert_eq!((e.increasedSupply, e.cap), (cap + U256::from(1), cap))
        }
        other => panic!("expected ExceededCap, got {other:?}"),
    }
    assert!(matches!(
        token.mint(BOB, U256::MAX),
        Err(Error::ExceededCap(_))
    ));
}

#[test]
fn mint_to_zero_fails() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, U256::ZERO);
    as_caller(&vm, MINTER);
    assert!(matches!(
        token.mint(Address::ZERO, br(1)),
        Err(Error::InvalidReceiver(_))
    ));
}

#[test]
fn rejects_outsider_mint() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, U256::ZERO);
    for who in [OUTSIDER, ADMIN, ALICE] {
        as_caller(&vm, who);
        match token.mint(who, br(1)) {
            Err(Error::UnauthorizedMinter(e)) => assert_eq!(e.account, who),
            other => panic!("expected UnauthorizedMinter, got {other:?}"),
        }
    }
    assert_eq!(token.total_supply(), U256::ZERO);
}

#[test]
fn rejects_outsider_set_minter() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, U256::ZERO);
    for who in [OUTSIDER, MINTER] {
        as_caller(&vm, who);
        assert!(matches!(
            token.set_minter(who),
            Err(Error::UnauthorizedAdmin(_))
        ));
    }
    assert_eq!(token.minter(), MINTER);
}

#[test]
fn rejects_outsider_transfer_admin() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, U256::ZERO);
    as_caller(&vm, OUTSIDER);
    assert!(matches!(
        token.transfer_admin(OUTSIDER),
        Err(Error::UnauthorizedAdmin(_))
    ));
    assert_eq!(token.admin(), ADMIN);
}

#[test]
fn admin_moves_roles() {
    let vm = TestVM::default();
    let mut token = deployed(&vm, U256::ZERO);
    as_caller(&vm, ADMIN);
    token.set_minter(BOB).unwrap();
    assert_eq!(token.minter(), BOB);
    assert!(matches!(
        token.transfer_admin(Address::ZERO),
        Err(Error::InvalidAdmin(_))
    ));
    token.transfer_admin(ALICE).unwrap();
    assert_eq!(token.admin(), ALICE);
    // The old admin lost the role.
    assert!(matches!(
        token.set_minter(ADMIN),
        Err(Error::UnauthorizedAdmin(_))
    ));
    as_caller(&vm, BOB);
    token.mint(BOB, br(3)).unwrap();
    as_caller(&vm, MINTER);
    assert!(matches!(
        token.mint(MINTER, br(1)),
        Err(Error::UnauthorizedMinter(_))
    ));
}

#[test]
fn errors_encode_as_their_solidity_selectors() {
    use alloy_sol_types::SolError;
    let err = Error::UnauthorizedMinter(BRUnauthorizedMinter { account: OUTSIDER });
    let bytes: alloc::vec::Vec<u8> = err.into();
    assert_eq!(bytes[..4], BRUnauthorizedMinter::SELECTOR);
    let decoded = BRUnauthorizedMinter::abi_decode(&bytes).unwrap();
    assert_eq!(decoded.account, OUTSIDER);
}

#[test]
fn constructor_selector_matches_the_sdk() {
    assert_eq!(
        verity_abi::STYLUS_CONSTRUCTOR_SELECTOR,
        stylus_sdk::abi::CONSTRUCTOR_SELECTOR.to_be_bytes()
    );
}

mod properties {
    //! Stateful property test: random sequences of every BR operation by several actors (including ones with no
    //! balance, no allowance and no role) keep the books balanced.

    use super::*;
    use proptest::prelude::*;

    const ACTORS: [Address; 5] = [ADMIN, MINTER, ALICE, BOB, OUTSIDER];

    #[derive(Debug, Clone)]
    enum Op {
        Transfer {
            from: usize,
            to: usize,
            amount: u64,
        },
        Approve {
            owner: usize,
            spender: usize,
            amount: u64,
        },
        TransferFrom {
            spender: usize,
            from: usize,
            to: usize,
            amount: u64,
        },
        Mint {
            caller: usize,
            to: usize,
            amount: u64,
        },
        SetMinter {
            caller: usize,
            minter: usize,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let who = 0..ACTORS.len();
        let amount = 0u64..2_000;
        prop_oneof![
            (who.clone(), who.clone(), amount.clone())
                .prop_map(|(from, to, amount)| Op::Transfer { from, to, amount }),
            (who.clone(), who.clone(), amount.clone()).prop_map(|(owner, spender, amount)| {
                Op::Approve {
                    owner,
                    spender,
                    amount,
                }
            }),
            (who.clone(), who.clone(), who.clone(), amount.clone()).prop_map(
                |(spender, from, to, amount)| Op::TransferFrom {
                    spender,
                    from,
                    to,
                    amount
                }
            ),
            (who.clone(), who.clone(), amount).prop_map(|(caller, to, amount)| Op::Mint {
                caller,
                to,
                amount
            }),
            (who.clone(), who).prop_map(|(caller, minter)| Op::SetMinter { caller, minter }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

        /// INVARIANTS.md: token — Σ balances == totalSupply ≤ CAP; a failed call changes nothing.
        #[test]
        fn books_stay_balanced(ops in proptest::collection::vec(op(), 50..80)) {
            let vm = TestVM::default();
            let mut token = deployed(&vm, br(1_000));
            let mut minter = MINTER;
            for op in ops {
                let before: Vec<U256> = ACTORS.iter().map(|a| token.balance_of(*a)).collect();
                let supply_before = token.total_supply();
                let ok = match op {
                    Op::Transfer { from, to, amount } => {
                        as_caller(&vm, ACTORS[from]);
                        token.transfer(ACTORS[to], br(amount)).is_ok()
                    }
                    Op::Approve { owner, spender, amount } => {
                        as_caller(&vm, ACTORS[owner]);
                        token.approve(ACTORS[spender], br(amount)).is_ok()
                    }
                    Op::TransferFrom { spender, from, to, amount } => {
                        let allowance = token.allowance(ACTORS[from], ACTORS[spender]);
                        as_caller(&vm, ACTORS[spender]);
                        let ok = token.transfer_from(ACTORS[from], ACTORS[to], br(amount)).is_ok();
                        if ok {
                            prop_assert_eq!(
                                token.allowance(ACTORS[from], ACTORS[spender]),
                                allowance - br(amount)
                            );
                        }
                        ok
                    }
                    Op::Mint { caller, to, amount } => {
                        as_caller(&vm, ACTORS[caller]);
                        let ok = token.mint(ACTORS[to], br(amount)).is_ok();
                        prop_assert_eq!(ok, ACTORS[caller] == minter);
                        ok
                    }
                    Op::SetMinter { caller, minter: next } => {
                        as_caller(&vm, ACTORS[caller]);
                        let ok = token.set_minter(ACTORS[next]).is_ok();
                        prop_assert_eq!(ok, ACTORS[caller] == ADMIN);
                        if ok {
                            minter = ACTORS[next];
                        }
                        ok
                    }
                };
                let after: Vec<U256> = ACTORS.iter().map(|a| token.balance_of(*a)).collect();
                let sum = after.iter().fold(U256::ZERO, |acc, b| acc + b);
                prop_assert_eq!(sum, token.total_supply());
                prop_assert!(token.total_supply() <= verity_abi::token::CAP);
                if !ok {
                    prop_assert_eq!(&after, &before);
                    prop_assert_eq!(token.total_supply(), supply_before);
                }
            }
        }
    }
}
