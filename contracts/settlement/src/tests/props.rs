//! Stateful property test of InferenceSettlement's four invariants (INVARIANTS.md, "Settlement"): random request /
//! answer / prove (receipt, ZK, batch) / settle / refund / dispute / resolve / withdraw / pause / time-travel
//! sequences by two payers, a node and strangers, with valid and invalid proofs and batches in every status.
//!
//! After every step:
//! - **no payment without a valid proof**: a prove call succeeds only with a receipt SettlementNodes finds valid
//!   (plus the verifier's yes in mode ZK, or a `Final` batch); a request is `Settled` only if such a proof was
//!   accepted for it; the node's credits + withdrawals == Σ fees (+ dispute bonds won) of settled requests;
//! - **a node holding a proof it may still submit is never slashed**: a refund never succeeds while paused, nor for
//!   an answered request before `deadline + batchWindow`; a dispute never opens without the bond;
//! - **no request settled twice**: at most one `Settled`/`Refunded` event per request id, and the final status
//!   never changes again;
//! - **a voided batch pays nothing**: `proveByBatch` against an `Anchored` or `Voided` batch always fails;
//! - **escrow == open obligations**: `config().escrowed` == Σ fees of open requests + Σ bonds of disputed ones + Σ
//!   credits == Σ fees and bonds in − Σ paid out, and `openRequests(node)` == the number of open requests.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

const PAYERS: [Address; 2] = [PAYER, address!("00000000000000000000000000000000000000c2")];
const IDS: u8 = 6;

#[derive(Debug, Clone)]
enum Op {
    Request {
        n: u8,
        payer: usize,
        zk: bool,
        fee: u64,
    },
    Answer {
        n: u8,
        by_node: bool,
    },
    ProveReceipt {
        n: u8,
        valid: bool,
        zk_ok: bool,
    },
    ProveBatch {
        n: u8,
        batch: u8,
        valid: bool,
        late: bool,
    },
    Settle {
        n: u8,
    },
    Refund {
        n: u8,
    },
    Dispute {
        n: u8,
        by_payer: bool,
        bonded: bool,
    },
    Resolve {
        n: u8,
        node_wins: bool,
    },
    Withdraw {
        who: usize,
    },
    Pause {
        paused: bool,
    },
    Advance {
        secs: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0..IDS;
    prop_oneof![
        3 => (n.clone(), 0..2usize, any::<bool>(), 1..1_000u64)
            .prop_map(|(n, payer, zk, fee)| Op::Request { n, payer, zk, fee }),
        2 => (n.clone(), prop::bool::weighted(0.8)).prop_map(|(n, by_node)| Op::Answer { n, by_node }),
        3 => (n.clone(), prop::bool::weighted(0.7), prop::bool::weighted(0.7))
            .prop_map(|(n, valid, zk_ok)| Op::ProveReceipt { n, valid, zk_ok }),
        2 => (n.clone(), 1..4u8, prop::bool::weighted(0.8), prop::bool::weighted(0.2))
            .prop_map(|(n, batch, valid, late)| Op::ProveBatch { n, batch, valid, late }),
        2 => n.clone().prop_map(|n| Op::Settle { n }),
        2 => n.clone().prop_map(|n| Op::Refund { n }),
        1 => (n.clone(), prop::bool::weighted(0.8), prop::bool::weighted(0.8))
            .prop_map(|(n, by_payer, bonded)| Op::Dispute { n, by_payer, bonded }),
        1 => (n.clone(), any::<bool>()).prop_map(|(n, node_wins)| Op::Resolve { n, node_wins }),
        1 => (0..4usize).prop_map(|who| Op::Withdraw { who }),
        1 => prop::bool::weighted(0.3).prop_map(|paused| Op::Pause { paused }),
        2 => prop_oneof![0..3_600u64, 3_600..2 * DEFAULT_ANSWER_DEADLINE].prop_map(|secs| Op::Advance { secs }),
    ]
}

/// What the test knows independently of the contract.
#[derive(Default)]
struct Model {
    /// Requests a valid proof was accepted for.
    validly_proven: HashMap<B256, bool>,
    /// Σ fees paid in.
    paid_in: U256,
    /// Σ withdrawn.
    paid_out: U256,
    /// Final status seen per request (settled / refunded never change).
    finals: HashMap<B256, u8>,
}

fn is_open(status: u8) -> bool {
    matches!(
        status,
        request_status::REQUESTED
            | request_status::ANSWERED
            | request_status::PROVEN
            | request_status::DISPUTED
    )
}

/// The receipt a node would sign for request `n` as the contract records it.
fn receipt_for(s: &InferenceSettlement, n: u8, now: u64) -> Receipt {
    let r = s.get_request(id(n));
    Receipt {
        requestId: id(n),
        modelVersion: r.2,
        inputHash: r.4,
        outputHash: if r.6 == request_status::ANSWERED {
            r.5
        } else {
            keccak256("out")
        },
        payer: r.0,
        node: r.1,
        fee: r.3,
        mode: r.7,
        signedAt: now,
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let (vm, mut s) = deployed();
    mock::with(|m| m.verifiers.insert(VERIFIER, b"ok".to_vec()));
    call(&vm, GOV, U256::ZERO, || {
        s.set_verifier(U256::from(MODEL), VERIFIER)
    })
    .unwrap();
    let mut model = Model::default();
    let mut now = T0;
    let actors = [PAYERS[0], PAYERS[1], NODE, OUTSIDER];
    for op in ops {
        match op {
            Op::Request { n, payer, zk, fee } => {
                let fee = U256::from(fee);
                let r = call(&vm, PAYERS[payer], fee, || {
                    s.request(
                        id(n),
                        NODE,
                        U256::from(MODEL),
                        keccak256("input"),
                        u8::from(zk),
                    )
                });
                if r.is_ok() {
                    model.paid_in += fee;
                }
            }
            Op::Answer { n, by_node } => {
                let who = if by_node { NODE } else { OUTSIDER };
                let r = call(&vm, who, U256::ZERO, || s.answer(id(n), keccak256([n, 1])));
                prop_assert!(by_node || r.is_err(), "a stranger answered");
            }
            Op::ProveReceipt { n, valid, zk_ok } => {
                let receipt = receipt_for(&s, n, now);
                let encoded = flat(&receipt);
                mock::with(|m| {
                    m.faults.clear();
                    if !valid {
                        m.faults
                            .insert(encoded_leaf_hash(&encoded), void_reason::BAD_SIGNATURE);
                    }
                });
                let proof: &[u8] = if zk_ok { b"ok" } else { b"bad" };
                let r = call(&vm, OUTSIDER, U256::ZERO, || {
                    s.prove_with_receipt(encoded.clone(), proof.to_vec().into())
                });
                if r.is_ok() {
                    prop_assert!(valid, "an invalid receipt was accepted");
                    prop_assert!(
                        receipt.mode == mode::TEE || zk_ok,
                        "a rejected ZK proof was accepted"
                    );
                    model.validly_proven.insert(id(n), true);
                }
            }
            Op::ProveBatch {
                n,
                batch,
                valid,
                late,
            } => {
                let receipt = receipt_for(&s, n, now);
                let encoded = flat(&receipt);
                let leaf = encoded_leaf_hash(&encoded);
                let deadline = s.get_request(id(n)).8;
                let anchored_at = if late {
                    deadline + 1
                } else {
                    now.min(deadline)
                };
                mock::with(|m| {
                    m.faults.clear();
                    if !valid {
                        m.faults.insert(leaf, void_reason::KEY_NOT_APPROVED);
                    }
                    m.batches
                        .insert(U256::from(batch), (leaf, anchored_at, batch));
                });
                let r = call(&vm, OUTSIDER, U256::ZERO, || {
                    s.prove_by_batch(U256::from(batch), encoded.clone(), vec![])
                });
                if r.is_ok() {
                    prop_assert_eq!(
                        batch,
                        batch_status::FINAL,
                        "a non-final batch proved a request"
                    );
                    prop_assert!(valid && !late && receipt.mode == mode::TEE);
                    model.validly_proven.insert(id(n), true);
                }
            }
            Op::Settle { n } => {
                let _ = call(&vm, OUTSIDER, U256::ZERO, || s.settle(id(n)));
            }
            Op::Refund { n } => {
                let before = s.get_request(id(n));
                let paused = s.config().4;
                let r = call(&vm, OUTSIDER, U256::ZERO, || s.refund(id(n)));
                if r.is_ok() {
                    prop_assert!(!paused, "refunded while paused");
                    prop_assert!(
                        before.6 != request_status::ANSWERED
                            || now > before.8 + DEFAULT_CHALLENGE_WINDOW,
                        "an answered request refunded (node slashed) before its batch window ended"
                    );
                }
            }
            Op::Dispute {
                n,
                by_payer,
                bonded,
            } => {
                let who = if by_payer {
                    s.get_request(id(n)).0
                } else {
                    OUTSIDER
                };
                let bond = if bonded {
                    DEFAULT_DISPUTE_BOND
                } else {
                    DEFAULT_DISPUTE_BOND - U256::from(1)
                };
                let r = call(&vm, who, bond, || s.dispute(id(n)));
                prop_assert!(by_payer || r.is_err(), "a stranger disputed");
                prop_assert!(bonded || r.is_err(), "disputed without the bond");
                if r.is_ok() {
                    model.paid_in += bond;
                }
            }
            Op::Resolve { n, node_wins } => {
                let _ = call(&vm, GOV, U256::ZERO, || s.resolve_dispute(id(n), node_wins));
            }
            Op::Withdraw { who } => {
                if let Ok(amount) = call(&vm, actors[who], U256::ZERO, || s.withdraw()) {
                    model.paid_out += amount;
                }
            }
            Op::Pause { paused } => {
                call(&vm, GOV, U256::ZERO, || s.set_paused(paused)).unwrap();
            }
            Op::Advance { secs } => {
                now += secs;
                vm.set_block_timestamp(now);
            }
        }
        check(&vm, &s, &mut model, &actors)?;
    }
    Ok(())
}

fn check(
    vm: &TestVM,
    s: &InferenceSettlement,
    model: &mut Model,
    actors: &[Address],
) -> Result<(), TestCaseError> {
    let mut open_fees = U256::ZERO;
    let mut open_count = 0u64;
    let mut settled_fees = U256::ZERO;
    for n in 0..IDS {
        let r = s.get_request(id(n));
        if is_open(r.6) {
            open_fees += r.3;
            open_count += 1;
        }
        if r.6 == request_status::DISPUTED {
            open_fees += r.10;
        }
        if r.6 == request_status::SETTLED {
            // A dispute bond the node won (zero if never disputed) is paid with the fee.
            settled_fees += r.3 + r.10;
            prop_assert!(
                model.validly_proven.get(&id(n)).copied().unwrap_or(false),
                "request {} settled without a valid proof",
                n
            );
        }
        if let Some(final_status) = model.finals.get(&id(n)) {
            prop_assert_eq!(r.6, *final_status, "a final request changed status");
        } else if matches!(r.6, request_status::SETTLED | request_status::REFUNDED) {
            model.finals.insert(id(n), r.6);
        }
    }
    // At most one Settled / Refunded event per request.
    let mut closes: HashMap<B256, u32> = HashMap::new();
    for (topics, _) in vm.get_emitted_logs() {
        if topics[0] == Settled::SIGNATURE_HASH || topics[0] == Refunded::SIGNATURE_HASH {
            *closes.entry(topics[1]).or_default() += 1;
        }
    }
    prop_assert!(
        closes.values().all(|c| *c == 1),
        "a request closed twice: {:?}",
        closes
    );
    let credits: U256 = actors.iter().map(|a| s.credit(*a)).sum();
    prop_assert_eq!(
        s.config().10,
        open_fees + credits,
        "escrow == open fees + dispute bonds + credits"
    );
    prop_assert_eq!(
        s.config().10,
        model.paid_in - model.paid_out,
        "escrow == in - out"
    );
    prop_assert_eq!(s.open_requests(NODE), open_count);
    let node_withdrawn: U256 = mock::with(|m| {
        m.sent
            .iter()
            .filter(|(to, _)| *to == NODE)
            .map(|(_, a)| *a)
            .sum()
    });
    prop_assert_eq!(
        s.credit(NODE) + node_withdrawn,
        settled_fees,
        "the node is paid exactly the fees (and won dispute bonds) of settled requests"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, max_shrink_iters: 2_000, ..ProptestConfig::default() })]

    /// The four settlement invariants over ≥ 50 random steps.
    #[test]
    fn settlement_invariants_hold(ops in prop::collection::vec(op(), 50..80)) {
        run(ops)?;
    }
}
