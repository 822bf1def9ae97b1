//! The projection folded from synthetic events (encoded with verity-abi's own types, as the contracts emit them).

use alloy::primitives::{address, Address, Bytes, LogData, B256, U256};
use alloy::rpc::types::Log;
use alloy::sol_types::SolEvent;
use verity_abi::registry::{Reason, Relation, Status};
use verity_abi::settlement::{batch_status, void_reason};

use super::*;

const ALICE: Address = address!("00000000000000000000000000000000000a11ce");
const BOB: Address = address!("0000000000000000000000000000000000000b0b");
const NODE_A: Address = address!("00000000000000000000000000000000000000aa");
const NODE_B: Address = address!("00000000000000000000000000000000000000bb");
const GAUGE_1: Address = address!("0000000000000000000000000000000000000001");
const GAUGE_2: Address = address!("0000000000000000000000000000000000000002");

fn log(data: LogData) -> Log {
    Log {
        inner: alloy::primitives::Log {
            address: Address::ZERO,
            data,
        },
        block_number: Some(1),
        log_index: Some(0),
        ..Default::default()
    }
}

fn apply<E: SolEvent>(index: &mut Index, event: E, time: u64) {
    index
        .apply(&log(event.encode_log_data()), time)
        .expect("decodes");
}

fn submit(
    index: &mut Index,
    id: u64,
    name: &str,
    who: Address,
    relation: Relation,
    parents: &[u64],
    tags: &[&str],
) {
    apply(
        index,
        registry::VersionSubmitted {
            id: U256::from(id),
            name: label_word(name).unwrap(),
            submitter: who,
            version: id,
            relation: relation.code(),
            parents: parents.iter().map(|p| U256::from(*p)).collect(),
            contentHash: B256::repeat_byte(id as u8),
            size: 100,
            storageUri: Bytes::from(format!("file:///m/{id}").into_bytes()),
            format: 1,
            runtime: B256::repeat_byte(1),
            ioSchemaHash: B256::repeat_byte(2),
            licenseId: B256::repeat_byte(3),
            metadataHash: B256::repeat_byte(4),
            metadataUri: Bytes::from_static(b"ipfs://meta"),
            tags: tags.iter().map(|t| label_word(t).unwrap()).collect(),
            fee: U256::from(1_000),
            priorityFee: U256::from(10),
        },
        100 + id,
    );
}

fn finalize(index: &mut Index, id: u64, status: Status, reason: Reason, changed: bool) {
    apply(
        index,
        registry::VersionFinalized {
            id: U256::from(id),
            status: status.code(),
            reason: reason.code(),
            changed,
        },
        500 + id,
    );
}

#[test]
fn listings_by_owner_parent_and_tag_show_registered_versions_only() {
    let mut index = Index::new(None);
    submit(
        &mut index,
        1,
        "llama",
        ALICE,
        Relation::Original,
        &[],
        &["text"],
    );
    submit(
        &mut index,
        2,
        "llama",
        ALICE,
        Relation::Finetune,
        &[1],
        &["text", "chat"],
    );
    submit(
        &mut index,
        3,
        "mix",
        BOB,
        Relation::Merge,
        &[1, 2],
        &["chat"],
    );
    submit(
        &mut index,
        4,
        "pending",
        BOB,
        Relation::Original,
        &[],
        &["chat"],
    );
    apply(
        &mut index,
        registry::StorageConfirmed {
            id: U256::from(4),
            storageExpiry: 9_999,
        },
        300,
    );
    finalize(&mut index, 1, Status::Registered, Reason::None, true);
    finalize(&mut index, 2, Status::Registered, Reason::None, true);
    finalize(
        &mut index,
        3,
        Status::Rejected,
        Reason::MissingLicense,
        true,
    );
    // An unchanged batch item does not change anything.
    finalize(
        &mut index,
        1,
        Status::Registered,
        Reason::AlreadyFinal,
        false,
    );

    let ids = |v: Vec<VersionView>| v.into_iter().map(|v| v.id).collect::<Vec<_>>();
    assert_eq!(ids(index.models(None, None, None)), [1, 2]);
    assert_eq!(ids(index.models(Some(ALICE), None, None)), [1, 2]);
    assert!(
        index.models(Some(BOB), None, None).is_empty(),
        "3 rejected, 4 pending"
    );
    assert_eq!(ids(index.models(None, Some(U256::from(1)), None)), [2]);
    assert_eq!(ids(index.models(None, None, label_word("chat"))), [2]);

    // Lineage: 3 merges 1 and 2 (2 derives from 1): ancestors each once, nearest first.
    let d = index.version(U256::from(3)).unwrap();
    assert_eq!(d.ancestors, [1, 2]);
    assert_eq!(d.version.status, "Rejected");
    assert_eq!(d.version.reason, "MissingLicense");
    assert_eq!(index.version(U256::from(1)).unwrap().children, [2, 3]);
    assert_eq!(index.version(U256::from(2)).unwrap().name_versions, [1, 2]);
    assert!(index.version(U256::from(9)).is_none());

    // The owner follows the name; a yanked version stays listed, flagged.
    apply(
        &mut index,
        registry::NameTransferred {
            name: label_word("llama").unwrap(),
            previousOwner: ALICE,
            newOwner: BOB,
        },
        600,
    );
    apply(
        &mut index,
        registry::YankChanged {
            id: U256::from(2),
            yanked: true,
        },
        601,
    );
    assert_eq!(ids(index.models(Some(BOB), None, None)), [1, 2]);
    assert_eq!(
        index.version(U256::from(2)).unwrap().version.status,
        "Yanked"
    );

    let s = index.summary();
    assert_eq!(s.counts.submitted, 4);
    assert_eq!(s.counts.registered, 2);
    assert_eq!(s.counts.yanked, 1);
    assert_eq!(s.counts.rejected, 1);
    assert_eq!(s.counts.awaiting_registration, 1);
    assert_eq!(s.oldest_pending_since, Some(104));
    assert_eq!(
        s.recent_registrations
            .iter()
            .map(|v| v.id)
            .collect::<Vec<_>>(),
        [2, 1]
    );
}

fn request(index: &mut Index, n: u8, node: Address, at: u64) -> B256 {
    let id = B256::repeat_byte(n);
    apply(
        index,
        settlement::Requested {
            requestId: id,
            payer: ALICE,
            node,
            modelVersion: U256::from(1),
            fee: U256::from(5),
            inputHash: B256::ZERO,
            deadline: at + 1_000,
        },
        at,
    );
    id
}

#[test]
fn scoreboard_counts_latency_misses_and_voided_batches_per_node() {
    let mut index = Index::new(None);
    for (n, latency) in [(1u8, 10u64), (2, 20), (3, 30)] {
        let id = request(&mut index, n, NODE_A, 1_000);
        apply(
            &mut index,
            settlement::Answered {
                requestId: id,
                node: NODE_A,
                outputHash: B256::repeat_byte(9),
            },
            1_100,
        );
        apply(
            &mut index,
            settlement::Proven {
                requestId: id,
                node: NODE_A,
                mode: 0,
                batchId: U256::from(n),
                provenAt: 1_100 + latency,
            },
            1_100 + latency,
        );
    }
    apply(
        &mut index,
        settlement::Settled {
            requestId: B256::repeat_byte(1),
            node: NODE_A,
            fee: U256::from(5),
        },
        3_000,
    );
    let missed = request(&mut index, 4, NODE_B, 1_000);
    apply(
        &mut index,
        settlement::Refunded {
            requestId: missed,
            payer: ALICE,
            fee: U256::from(5),
            slashed: U256::from(7),
        },
        2_500,
    );
    let dup = request(&mut index, 5, NODE_B, 1_000);
    for (batch, reason, req) in [
        (1u64, void_reason::DUPLICATE_REQUEST, dup),
        (2, void_reason::BAD_SIGNATURE, missed),
    ] {
        apply(
            &mut index,
            batches::BatchAnchored {
                batchId: U256::from(batch),
                submitter: ALICE,
                root: B256::repeat_byte(batch as u8),
                count: 4,
                bond: U256::from(1),
                dataUri: "http://k/batches/1".into(),
            },
            1_200,
        );
        apply(
            &mut index,
            batches::BatchVoided {
                batchId: U256::from(batch),
                challenger: BOB,
                reason,
                requestId: req,
                bond: U256::from(1),
            },
            1_300,
        );
    }
    let board = index.scoreboard();
    assert_eq!(board.len(), 2);
    let a = &board[0];
    assert_eq!(a.node, NODE_A);
    assert_eq!((a.requests, a.answered, a.proven, a.settled), (3, 3, 3, 1));
    assert_eq!((a.latency_p50, a.latency_p99), (Some(20), Some(30)));
    assert_eq!(a.missed_deadlines, 0);
    let b = &board[1];
    assert_eq!((b.requests, b.missed_deadlines), (2, 1));
    assert_eq!((b.duplicates, b.voided_batches), (1, 1));
    assert_eq!(b.latency_p50, None);

    let r = index.request(&missed).unwrap();
    assert_eq!((r.status, r.slashed.as_deref()), ("Refunded", Some("7")));
    assert_eq!(
        index.request(&B256::repeat_byte(2)).unwrap().status,
        "Proven"
    );
    assert_eq!(
        index.request(&B256::repeat_byte(1)).unwrap().status,
        "Settled"
    );
    let batches = index.batches(10);
    assert_eq!(batches[0].batch_id, 2, "newest first");
    assert_eq!(batches[0].void_reason, Some("BadSignature"));
    assert_eq!(batches[1].void_reason, Some("DuplicateRequest"));
    let c = index.summary().counts;
    assert_eq!((c.requests, c.settled, c.refunded, c.proven), (5, 1, 1, 2));
    assert_eq!((c.batches, c.batches_voided), (2, 2));
    let _ = batch_status::NONE;
}

/// A vote as the controller emits it: one `GaugeVote` per allocation, then `VoteCast`.
fn vote(index: &mut Index, voter: Address, epoch: u64, end: u64, slopes: &[(Address, u64)]) {
    for (g, s) in slopes {
        apply(
            index,
            gauge::GaugeVote {
                voter,
                epoch,
                gauge: *g,
                bps: U256::ZERO,
                slope: U256::from(*s),
            },
            0,
        );
    }
    apply(
        index,
        gauge::VoteCast {
            voter,
            epoch,
            power: U256::ZERO,
            used: U256::ZERO,
            end,
        },
        0,
    );
}

fn finalize_epoch(index: &mut Index, epoch: u64, weights: &[(Address, u64)]) {
    for (g, w) in weights {
        apply(
            index,
            gauge::GaugeRewarded {
                epoch,
                gauge: *g,
                weight: U256::from(*w),
                amount: U256::from(*w * 2),
            },
            0,
        );
    }
    apply(
        index,
        gauge::EpochFinalized {
            epoch,
            emission: U256::from(1_000),
            totalWeight: U256::from(weights.iter().map(|(_, w)| w).sum::<u64>()),
            distributed: U256::from(900),
            carried: U256::from(100),
        },
        0,
    );
}

#[test]
fn epoch_figures_follow_votes_with_decay_and_reset_each_season() {
    // Epochs of 100 s from 0, two epochs per season.
    let cal = Calendar {
        genesis: 0,
        epoch_len: 100,
        season_len: 2,
    };
    let mut index = Index::new(Some(cal));
    vote(&mut index, ALICE, 0, 1_000, &[(GAUGE_1, 3), (GAUGE_2, 2)]);
    vote(&mut index, BOB, 0, 500, &[(GAUGE_2, 1)]);
    // Alice re-votes within epoch 0: the second vote replaces the first.
    vote(&mut index, ALICE, 0, 1_000, &[(GAUGE_1, 5)]);
    finalize_epoch(&mut index, 0, &[(GAUGE_1, 5_000), (GAUGE_2, 500)]);
    // Epoch 1 carries both votes with decay; Bob re-votes.
    vote(&mut index, BOB, 1, 500, &[(GAUGE_1, 2)]);
    finalize_epoch(&mut index, 1, &[(GAUGE_1, 5_300)]);
    // Epoch 2 is a new season: nobody voted in it.
    finalize_epoch(&mut index, 2, &[]);
    assert_eq!(index.epochs_missing_supply(), [(0, 0), (1, 100), (2, 200)]);
    index.set_supply(0, U256::from(11_000));

    let epochs = index.epochs();
    assert_eq!(epochs.len(), 3);
    let e0 = &epochs[0];
    // Alice 5 × 1000 = 5000, Bob 1 × 500 = 500.
    assert_eq!(e0.voter_weight, "5500");
    assert_eq!(
        e0.voter_weight, e0.total_weight,
        "matches the controller's total"
    );
    assert_eq!((e0.voters, e0.cast, e0.nakamoto), (2, 2, 1));
    assert!((e0.top1_share - 5_000.0 / 5_500.0).abs() < 1e-9);
    assert_eq!(e0.turnout, Some(0.5));
    assert_eq!(e0.gauges.len(), 2);
    let e1 = &epochs[1];
    // Alice 5 × 900 = 4500, Bob's new vote 2 × 400 = 800.
    assert_eq!(e1.voter_weight, "5300");
    assert_eq!((e1.voters, e1.cast, e1.season), (2, 1, 0));
    assert_eq!(e1.turnout, None, "supply not read yet");
    let e2 = &epochs[2];
    assert_eq!((e2.voters, e2.cast, e2.nakamoto, e2.season), (0, 0, 0, 1));
    assert_eq!(e2.voter_weight, "0");
    assert_eq!(index.summary().counts.epochs_finalized, 3);
}

#[test]
fn voter_view_gives_the_live_allocation_and_the_weight_given_each_epoch() {
    let cal = Calendar {
        genesis: 0,
        epoch_len: 100,
        season_len: 2,
    };
    let mut index = Index::new(Some(cal));
    // Alice votes in epoch 0 (slopes 3 and 2 until t = 1000); epoch 0 is finalized; she re-votes in epoch 1.
    vote(&mut index, ALICE, 0, 1_000, &[(GAUGE_1, 3), (GAUGE_2, 2)]);
    finalize_epoch(&mut index, 0, &[(GAUGE_1, 3_000), (GAUGE_2, 2_000)]);
    vote(&mut index, ALICE, 1, 1_000, &[(GAUGE_2, 4)]);
    index.advance(10, 150);
    let v = index.voter(ALICE);
    assert_eq!(v.epoch, Some(1));
    let current = v.current.expect("the epoch 1 vote counts now");
    assert_eq!((current.epoch, current.end), (1, 1_000));
    assert_eq!(current.allocations.len(), 1);
    assert_eq!(current.allocations[0].gauge, GAUGE_2);
    assert_eq!(current.allocations[0].slope, "4");
    // Only finalized epochs are listed: epoch 0 with 3 × 1000 + 2 × 1000.
    assert_eq!(v.epochs.len(), 1);
    assert_eq!(v.epochs[0].weight, "5000");
    assert_eq!(v.epochs[0].cast_in, 0);
    assert_eq!(
        v.epochs[0].gauges,
        [(GAUGE_1, "3000".to_string()), (GAUGE_2, "2000".to_string())]
    );
    // Epoch 1 finalized: 4 × (1000 − 100).
    finalize_epoch(&mut index, 1, &[(GAUGE_2, 3_600)]);
    let v = index.voter(ALICE);
    assert_eq!(v.epochs.len(), 2);
    assert_eq!(
        (v.epochs[1].epoch, v.epochs[1].weight.as_str()),
        (1, "3600")
    );
    // A new season (epoch 2) voids the vote; a stranger has nothing.
    index.advance(11, 250);
    assert!(index.voter(ALICE).current.is_none());
    let bob = index.voter(BOB);
    assert!(bob.current.is_none() && bob.epochs.is_empty());
}

#[test]
fn labels_round_trip_and_fall_back_to_hex() {
    assert_eq!(label(&label_word("llama-3").unwrap()), "llama-3");
    assert!(label(&B256::repeat_byte(0xff)).starts_with("0x"));
    assert!(label_word(&"x".repeat(33)).is_none());
}

#[test]
fn a_known_event_that_does_not_decode_is_an_error() {
    let mut index = Index::new(None);
    let bad = LogData::new_unchecked(
        vec![registry::VersionFinalized::SIGNATURE_HASH],
        Bytes::from_static(b"short"),
    );
    assert!(index.apply(&log(bad), 0).is_err());
    // Unknown events are ignored.
    let other = LogData::new_unchecked(vec![B256::repeat_byte(7)], Bytes::new());
    assert!(index.apply(&log(other), 0).is_ok());
}
