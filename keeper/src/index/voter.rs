//! One voter seen by the status page's wallet panel ([`Index::voter`]): the allocation that counts now (the vote
//! form starts from it) and the weight the voter gave each finalized epoch (the chart marks it), rebuilt from
//! `GaugeVote` / `VoteCast` with the controller's tally rule — the same rule [`Index::epochs`] uses for the
//! concentration figures, through the one [`live_vote`].

use alloy::primitives::{Address, U256};
use serde::Serialize;

use super::{Calendar, Index, Vote};

/// A voter's allocations and per-epoch weights ([`Index::voter`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoterView {
    /// The voter.
    pub voter: Address,
    /// The epoch running at the index's head block time (`None` before genesis or without a calendar).
    pub epoch: Option<u64>,
    /// The vote that counts in `epoch` (the latest cast in its season up to it), if any.
    pub current: Option<BallotView>,
    /// Finalized epochs the voter gave weight to, oldest first.
    pub epochs: Vec<VoterEpoch>,
}

/// One vote as cast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BallotView {
    /// The epoch it was cast in.
    pub epoch: u64,
    /// The lock's end: the vote's weight decays to zero then (unix seconds).
    pub end: u64,
    /// Its allocations.
    pub allocations: Vec<AllocationView>,
}

/// One gauge of a vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationView {
    /// The gauge.
    pub gauge: Address,
    /// Basis points of the voter's power.
    pub bps: String,
    /// The slope they gave the gauge (decimal).
    pub slope: String,
}

/// The weight a voter gave one finalized epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoterEpoch {
    /// The epoch.
    pub epoch: u64,
    /// The epoch cast in (this epoch, or an earlier one of its season carried over).
    pub cast_in: u64,
    /// Σ over the voter's gauges of slope × (end − epoch start) (decimal).
    pub weight: String,
    /// Per gauge: (gauge, weight as decimal).
    pub gauges: Vec<(Address, String)>,
}

/// The vote of `votes` (one voter's, in chain order) that counts at epoch `e`: the latest cast in `e`'s season at
/// or before `e`.
pub(super) fn live_vote<'a>(votes: &'a [Vote], e: u64, cal: &Calendar) -> Option<&'a Vote> {
    let season = cal.season(e);
    votes
        .iter()
        .rev()
        .find(|v| v.epoch <= e && cal.season(v.epoch) == season)
}

impl Index {
    /// `voter`'s current allocation and the weight it gave each finalized epoch.
    pub fn voter(&self, voter: Address) -> VoterView {
        let none = VoterView {
            voter,
            epoch: None,
            current: None,
            epochs: Vec::new(),
        };
        let Some(cal) = self.calendar else {
            return none;
        };
        let epoch = (self.block_time >= cal.genesis && cal.epoch_len > 0)
            .then(|| (self.block_time - cal.genesis) / cal.epoch_len);
        let Some(votes) = self.votes.get(&voter) else {
            return VoterView { epoch, ..none };
        };
        let current = epoch
            .and_then(|e| live_vote(votes, e, &cal))
            .map(|v| BallotView {
                epoch: v.epoch,
                end: v.end,
                allocations: v
                    .slopes
                    .iter()
                    .map(|a| AllocationView {
                        gauge: a.gauge,
                        bps: a.bps.to_string(),
                        slope: a.slope.to_string(),
                    })
                    .collect(),
            });
        let epochs = self
            .epochs
            .iter()
            .filter(|(_, e)| e.finalized)
            .filter_map(|(n, _)| {
                let vote = live_vote(votes, *n, &cal)?;
                let start = cal.epoch_start(*n);
                let remaining = U256::from(vote.end.checked_sub(start).filter(|r| *r > 0)?);
                let gauges: Vec<(Address, U256)> = vote
                    .slopes
                    .iter()
                    .map(|a| (a.gauge, a.slope.saturating_mul(remaining)))
                    .collect();
                let weight = gauges
                    .iter()
                    .fold(U256::ZERO, |acc, (_, w)| acc.saturating_add(*w));
                (weight > U256::ZERO).then(|| VoterEpoch {
                    epoch: *n,
                    cast_in: vote.epoch,
                    weight: weight.to_string(),
                    gauges: gauges
                        .into_iter()
                        .map(|(g, w)| (g, w.to_string()))
                        .collect(),
                })
            })
            .collect();
        VoterView {
            voter,
            epoch,
            current,
            epochs,
        }
    }
}
