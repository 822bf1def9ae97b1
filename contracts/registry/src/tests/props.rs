//! Stateful property test: random submit / confirm / finalize / expire / yank / withdraw / transfer / time-travel
//! sequences by several actors — three honest submitters and a hostile one (zero and foreign names, stale
//! versions, unknown and duplicate parents, bad relations, missing metadata, low fees, calls to every gated
//! function) — with the attester and keeper roles in play. After every step the whole registry is read back.
//!
//! Invariants (INVARIANTS.md, "ModelRegistry"):
//! - nothing is usable before it is Registered: `isUsable(id)` ⇔ Registered; `usableAt(id, t)` is false for every
//!   version never Registered and for every `t` before its registration; a Registered version's parents are
//!   Registered (or later yanked) and were registered no later than it;
//! - versions strictly increase per name, in submission (id) order, and a submission whose version does not exceed
//!   the name's highest is refused;
//! - lineage is acyclic: `lineage(id, ∞)` never contains `id`, every ancestor id is smaller, none twice;
//! - fee conservation, each fee counted exactly once: escrowed == Σ fees of pending versions; earned + fees
//!   withdrawn == Σ fees of Registered/Yanked versions; refunds owed + refunds withdrawn == Σ fees of
//!   Rejected/Expired versions; refunds owed == Σ per-account credits; the ether the contract holds (paid in −
//!   paid out) == escrowed + earned + refunds owed;
//! - `finalizeRegistrations` never reverts and emits exactly one `VersionFinalized` per item; `pendingCount()`
//!   equals the number of pending versions; every call succeeds or fails as the model predicts where it predicts;
//! - a name is kept by registering: while any version of it is pending, Registered or Yanked only its owner submits
//!   to it; once all were rejected or expired anyone may claim it; each name's owner is the model's.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

const CAROL: Address = address!("00000000000000000000000000000000000000c7");
const HOSTILE: Address = address!("00000000000000000000000000000000000000f6");
/// Submitters and callers of the open functions; the last one is hostile.
const ACTORS: [Address; 4] = [ALICE, BOB, CAROL, HOSTILE];
const H: usize = 3;

fn names() -> [B256; 3] {
    [
        LLAMA,
        b256!("6d69737472616c00000000000000000000000000000000000000000000000000"),
        b256!("7068690000000000000000000000000000000000000000000000000000000000"),
    ]
}

/// Stands for the relation that fits the parent count (original, a one-parent relation, merge).
const FITTING: u8 = 255;

#[derive(Debug, Clone)]
enum Op {
    Submit {
        who: usize,
        name: usize,
        /// Added to the name's highest version (0 = a stale version).
        bump: u64,
        /// Picks of existing ids (`usize::MAX` = an id that does not exist).
        parents: Vec<usize>,
        /// A relation code, or [`FITTING`]: one that fits the parent count.
        relation: u8,
        /// 0 = complete; 1 = no license; 2 = no storage URI; 3 = zero name (hostile).
        defect: u8,
        fee: u64,
    },
    Confirm {
        id: usize,
        by_attester: bool,
        good: bool,
        expiry_in: u64,
        /// Through `confirmStorageBatch` (the item twice: the second is reported, never reverts).
        batch: bool,
    },
    Finalize {
        ids: Vec<usize>,
        by_keeper: bool,
    },
    Expire {
        id: usize,
        who: usize,
    },
    Yank {
        id: usize,
        who: usize,
        yanked: bool,
    },
    Withdraw {
        who: usize,
    },
    WithdrawFees {
        by_admin: bool,
    },
    Transfer {
        name: usize,
        who: usize,
        to: usize,
    },
    Advance {
        secs: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let id = prop_oneof![8 => 0usize..64, 1 => Just(usize::MAX)];
    prop_oneof![
        5 => (0..4usize, 0..3usize, prop_oneof![4 => 1u64..3, 1 => Just(0u64)],
              prop_oneof![3 => Just(vec![]), 2 => prop::collection::vec(id.clone(), 1..2),
                          1 => prop::collection::vec(id.clone(), 2..5)],
              prop_oneof![6 => Just(FITTING), 2 => 0u8..6, 1 => Just(9u8)],
              prop_oneof![6 => Just(0u8), 1 => 1u8..4],
              prop_oneof![6 => MIN_FEE..MIN_FEE * 3, 1 => 0..MIN_FEE])
            .prop_map(|(who, name, bump, parents, relation, defect, fee)| Op::Submit {
                who, name, bump, parents, relation,
                // Only the hostile actor submits the zero name.
                defect: if defect == 3 && who != H { 0 } else { defect },
                fee,
            }),
        4 => (id.clone(), prop_oneof![5 => Just(true), 1 => Just(false)], prop_oneof![5 => Just(true), 1 => Just(false)],
              prop_oneof![5 => TTL..TTL * 10, 1 => 0..MAX_WAIT], any::<bool>())
            .prop_map(|(id, by_attester, good, expiry_in, batch)| Op::Confirm { id, by_attester, good, expiry_in, batch }),
        4 => (prop::collection::vec(id.clone(), 1..6), prop_oneof![4 => Just(true), 1 => Just(false)])
            .prop_map(|(ids, by_keeper)| Op::Finalize { ids, by_keeper }),
        1 => (id.clone(), 0..4usize).prop_map(|(id, who)| Op::Expire { id, who }),
        2 => (id.clone(), 0..4usize, any::<bool>()).prop_map(|(id, who, yanked)| Op::Yank { id, who, yanked }),
        1 => (0..4usize).prop_map(|who| Op::Withdraw { who }),
        1 => any::<bool>().prop_map(|by_admin| Op::WithdrawFees { by_admin }),
        1 => (0..3usize, 0..4usize, 0..4usize).prop_map(|(name, who, to)| Op::Transfer { name, who, to }),
        2 => prop_oneof![1u64..MAX_WAIT, MAX_WAIT..MAX_WAIT * 2, TTL / 2..TTL + 1]
            .prop_map(|secs| Op::Advance { secs }),
    ]
}

/// What the test remembers (the rest is read back from the contract).
#[derive(Default)]
struct Model {
    now: u64,
    /// Wei sent in by successful submissions.
    paid_in: u128,
    refunds_withdrawn: u128,
    fees_withdrawn: u128,
    highest: HashMap<B256, u64>,
    owner: HashMap<B256, Address>,
    count: u64,
}

fn pick(id: usize, count: u64) -> U256 {
    match id {
        usize::MAX => U256::from(count + 1),
        id if count == 0 => U256::from(id as u64 + 1),
        id => U256::from(id as u64 % count + 1),
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let mut m = Model {
        now: T0,
        ..Model::default()
    };
    for op in ops {
        vm.set_block_timestamp(m.now);
        match op {
            Op::Submit {
                who,
                name,
                bump,
                parents,
                relation,
                defect,
                fee,
            } => {
                let name = if defect == 3 {
                    B256::ZERO
                } else {
                    names()[name]
                };
                let highest = m.highest.get(&name).copied().unwrap_or(0);
                let mut s = complete(name, highest + bump);
                s.parents = parents.iter().map(|p| pick(*p, m.count)).collect();
                s.relation = match (relation, s.parents.len()) {
                    (FITTING, 0) => Relation::Original.code(),
                    (FITTING, 1) => Relation::Finetune.code() + (bump % 4) as u8,
                    (FITTING, _) => Relation::Merge.code(),
                    (code, _) => code,
                };
                s.fee = fee;
                match defect {
                    1 => s.license_id = B256::ZERO,
                    2 => s.storage_uri = Blob::default(),
                    _ => {}
                }
                let unknown_parent = s.parents.iter().any(|p| *p > U256::from(m.count));
                let owner = m.owner.get(&name).copied();
                // A name whose versions were all rejected or expired is released to any submitter.
                let released = (1..=m.count).all(|index| {
                    let info = registry.version(U256::from(index)).unwrap();
                    info.name != name
                        || matches!(
                            Status::try_from(info.status),
                            Ok(Status::Rejected | Status::Expired)
                        )
                });
                let result = submit(&vm, &mut registry, ACTORS[who], s.clone());
                let expected_ok = fee >= MIN_FEE
                    && !unknown_parent
                    && !name.is_zero()
                    && (released || owner.is_none_or(|o| o == ACTORS[who]))
                    && bump > 0;
                prop_assert_eq!(
                    result.is_ok(),
                    expected_ok,
                    "submit {:?}: {:?}",
                    s.version,
                    result
                );
                match result {
                    Ok(id) => {
                        m.count += 1;
                        prop_assert_eq!(id, U256::from(m.count));
                        m.paid_in += u128::from(fee);
                        m.highest.insert(name, s.version);
                        m.owner.insert(name, ACTORS[who]);
                    }
                    Err(Error::VersionNotIncreasing(e)) => {
                        // Strictly increasing per name: only a version above the highest is taken.
                        prop_assert!(s.version <= highest && e.highest == highest);
                    }
                    Err(_) => {}
                }
            }
            Op::Confirm {
                id,
                by_attester,
                good,
                expiry_in,
                batch,
            } => {
                let id = pick(id, m.count);
                vm.set_sender(if by_attester { ATTESTER } else { ACTORS[H] });
                let content = if good {
                    CONTENT
                } else {
                    B256::repeat_byte(0xee)
                };
                let item = (id, content, 4_096, m.now + expiry_in);
                let result = if batch {
                    registry.confirm_storage_batch(super::storage_items(&[item, item]))
                } else {
                    registry.confirm_storage(id, content, 4_096, m.now + expiry_in)
                };
                if !by_attester {
                    prop_assert!(matches!(result, Err(Error::Unauthorized(_))));
                } else if batch {
                    prop_assert!(
                        result.is_ok(),
                        "a batch never reverts for an item: {:?}",
                        result
                    );
                } else if id > U256::from(m.count) {
                    prop_assert!(matches!(result, Err(Error::UnknownVersion(_))));
                }
            }
            Op::Finalize { ids, by_keeper } => {
                let ids: Vec<U256> = ids.iter().map(|i| pick(*i, m.count)).collect();
                let before = finalized_events(&vm).len();
                vm.set_sender(if by_keeper { KEEPER } else { ACTORS[H] });
                let result = registry.finalize_registrations(ids.clone());
                prop_assert!(result.is_ok(), "a batch never reverts");
                prop_assert_eq!(
                    finalized_events(&vm).len() - before,
                    ids.len(),
                    "one event per item"
                );
            }
            Op::Expire { id, who } => {
                let id = pick(id, m.count);
                let due = registry.version(id).ok().map(|info| {
                    Status::try_from(info.status).unwrap().is_pending()
                        && m.now >= info.submittedAt + TTL
                });
                vm.set_sender(ACTORS[who]);
                let result = registry.expire(id);
                prop_assert_eq!(
                    result.is_ok(),
                    due == Some(true),
                    "expire {}: {:?}",
                    id,
                    result
                );
            }
            Op::Yank { id, who, yanked } => {
                let id = pick(id, m.count);
                let allowed = registry.version(id).ok().map(|info| {
                    let from = if yanked {
                        Status::Registered
                    } else {
                        Status::Yanked
                    };
                    m.owner.get(&info.name) == Some(&ACTORS[who]) && info.status == from.code()
                });
                vm.set_sender(ACTORS[who]);
                let result = registry.set_yanked(id, yanked);
                prop_assert_eq!(
                    result.is_ok(),
                    allowed == Some(true),
                    "yank {}: {:?}",
                    id,
                    result
                );
            }
            Op::Withdraw { who } => {
                let owed = registry.refundable(ACTORS[who]);
                vm.set_sender(ACTORS[who]);
                let result = registry.withdraw_refund();
                prop_assert_eq!(result.is_ok(), !owed.is_zero());
                if result.is_ok() {
                    m.refunds_withdrawn += owed.to::<u128>();
                    prop_assert!(registry.refundable(ACTORS[who]).is_zero());
                }
            }
            Op::WithdrawFees { by_admin } => {
                let earned = accounting(&registry).1;
                vm.set_sender(if by_admin { ADMIN } else { ACTORS[H] });
                let result = registry.withdraw_fees(BOB);
                prop_assert_eq!(result.is_ok(), by_admin);
                if result.is_ok() {
                    m.fees_withdrawn += earned;
                    prop_assert_eq!(accounting(&registry).1, 0);
                }
            }
            Op::Transfer { name, who, to } => {
                let name = names()[name];
                vm.set_sender(ACTORS[who]);
                let result = registry.transfer_name(name, ACTORS[to]);
                prop_assert_eq!(result.is_ok(), m.owner.get(&name) == Some(&ACTORS[who]));
                if result.is_ok() {
                    m.owner.insert(name, ACTORS[to]);
                }
            }
            Op::Advance { secs } => m.now += secs,
        }
        check(&registry, &m)?;
    }
    Ok(())
}

/// Reads every version back and checks the invariants.
fn check(registry: &ModelRegistry, m: &Model) -> Result<(), TestCaseError> {
    let (mut pending_fees, mut earned_fees, mut refunded_fees) = (0u128, 0u128, 0u128);
    let mut pending = 0u64;
    let mut last_version: HashMap<B256, u64> = HashMap::new();
    let mut infos = Vec::new();
    for index in 1..=m.count {
        let id = U256::from(index);
        let info = registry.version(id).unwrap();
        let status = Status::try_from(info.status).unwrap();
        let fee = info.fee.to::<u128>();
        match status {
            Status::Submitted | Status::Stored => {
                pending_fees += fee;
                pending += 1;
            }
            Status::Registered | Status::Yanked => earned_fees += fee,
            Status::Rejected | Status::Expired => refunded_fees += fee,
            _ => prop_assert!(false, "version {} has no status", index),
        }

        // Nothing usable before Registered.
        prop_assert_eq!(registry.is_usable(id), status == Status::Registered);
        if matches!(status, Status::Registered | Status::Yanked) {
            prop_assert!(info.registeredAt >= info.submittedAt);
            prop_assert!(!registry.usable_at(id, info.registeredAt - 1));
        } else {
            prop_assert!(!registry.usable_at(id, m.now) && !registry.usable_at(id, u64::MAX));
        }

        // Versions strictly increase per name, in id order.
        if let Some(previous) = last_version.insert(info.name, info.version) {
            prop_assert!(
                info.version > previous,
                "{} after {}",
                info.version,
                previous
            );
        }

        // Lineage: acyclic, ancestors older, each once; parents of a registered version registered first.
        let ancestors = registry.lineage(id, u64::MAX).unwrap();
        prop_assert!(
            ancestors.iter().all(|a| *a < id),
            "lineage of {}: {:?}",
            index,
            ancestors
        );
        let mut unique = ancestors.clone();
        unique.sort();
        unique.dedup();
        prop_assert_eq!(unique.len(), ancestors.len());
        if matches!(status, Status::Registered | Status::Yanked) {
            for parent in registry.lineage(id, 1).unwrap() {
                let p = registry.version(parent).unwrap();
                prop_assert!(
                    matches!(
                        Status::try_from(p.status),
                        Ok(Status::Registered | Status::Yanked)
                    ) && p.registeredAt <= info.registeredAt,
                    "parent {} of registered {}",
                    parent,
                    index
                );
            }
        }
        infos.push(info);
    }

    // Fee conservation: each fee escrowed, earned or refunded — exactly once.
    let (escrowed, earned, refunds_owed) = accounting(registry);
    let refunds_owed = refunds_owed.to::<u128>();
    prop_assert_eq!(escrowed, pending_fees);
    prop_assert_eq!(earned + m.fees_withdrawn, earned_fees);
    prop_assert_eq!(refunds_owed + m.refunds_withdrawn, refunded_fees);
    let credits: u128 = ACTORS
        .iter()
        .map(|a| registry.refundable(*a).to::<u128>())
        .sum();
    prop_assert_eq!(refunds_owed, credits);
    prop_assert_eq!(
        m.paid_in - m.refunds_withdrawn - m.fees_withdrawn,
        escrowed + earned + refunds_owed,
        "balance == escrowed + earned + refunds owed"
    );
    prop_assert_eq!(registry.pending_count(), pending);
    // Every name is owned by whom the model says (claims, releases and transfers).
    for (name, owner) in &m.owner {
        prop_assert_eq!(registry._name_owner(*name), *owner);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// Registry invariants over ≥ 50 random steps of several actors (one hostile).
    #[test]
    fn registry_invariants_hold(ops in prop::collection::vec(op(), 50..80)) {
        run(ops)?;
    }
}
