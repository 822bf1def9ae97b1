//! The epoch finalizer: each ended epoch of the GaugeController is finalized once, on time by the chain's clock
//! (the latest block's timestamp, never the wall clock), under the key `finalize:<epoch>`.
//!
//! The controller finalizes in order (`finalizeEpoch(e)` for any `e` but the next one reverts with
//! `GaugeEpochNotNext`), so the job asks for one epoch at a time — the next one, `totals()._0` — and only once it
//! has ended; a backlog of several ended epochs is worked off in order, one intent after the other. Two intents in
//! flight at once would not work: the outbox simulates each before signing, and the second epoch's simulation
//! fails while the first is unmined. An epoch someone else finalized first is simply no longer the next one; if
//! that happens while the keeper's own intent is in flight, the contract's typed `GaugeEpochAlreadyFinalized` makes
//! the outbox record it as done (the idempotency rule).

use std::sync::OnceLock;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use tracing::debug;
use verity_abi::gauge::Schedule;
use verity_abi::rpc::IGaugeController;

use super::{IntentSpec, Job, JobError, Plan, PlanFuture, Result};

/// The job's name.
pub const JOB_NAME: &str = "epoch-finalizer";

/// The prefix of the job's idempotency keys.
pub const KEY_PREFIX: &str = "finalize";

/// The idempotency key of epoch `epoch`'s finalization.
pub fn key(epoch: u64) -> String {
    format!("{KEY_PREFIX}:{epoch}")
}

/// The controller's epoch state as read at one block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochState {
    /// The calendar.
    pub schedule: Schedule,
    /// The next epoch to finalize (`totals()._0`).
    pub next: u64,
    /// When `next` ends, i.e. from when it can be finalized (Unix seconds, chain time).
    pub due_at: u64,
    /// The block the state was read at.
    pub block: u64,
    /// That block's timestamp: the chain's "now".
    pub chain_now: u64,
}

impl EpochState {
    /// Whether `next` has ended by the chain's clock.
    pub fn is_due(&self) -> bool {
        self.chain_now >= self.due_at
    }

    /// How many epochs have ended and are not finalized (`next` up to the running epoch, exclusive).
    pub fn due_epochs(&self) -> u64 {
        self.schedule
            .epoch_at(self.chain_now)
            .map_or(0, |running| running.saturating_sub(self.next))
    }

    /// How long `next` has been due (0 when it is not).
    pub fn lag_secs(&self) -> u64 {
        self.chain_now.saturating_sub(self.due_at)
    }
}

/// The epoch finalizer for one GaugeController.
#[derive(Debug)]
pub struct EpochFinalizer {
    gauge: Address,
    /// The calendar is fixed at construction: read once.
    schedule: OnceLock<Schedule>,
}

impl EpochFinalizer {
    /// The finalizer of the controller at `gauge`.
    pub fn new(gauge: Address) -> Self {
        Self {
            gauge,
            schedule: OnceLock::new(),
        }
    }

    /// The controller's address.
    pub fn gauge(&self) -> Address {
        self.gauge
    }

    /// The calldata of `finalizeEpoch(epoch)`.
    pub fn calldata(epoch: u64) -> Bytes {
        IGaugeController::finalizeEpochCall { e: epoch }
            .abi_encode()
            .into()
    }

    async fn schedule<P: Provider>(&self, provider: &P) -> Result<Schedule> {
        if let Some(s) = self.schedule.get() {
            return Ok(*s);
        }
        let config = IGaugeController::new(self.gauge, provider)
            .config()
            .call()
            .await?;
        let s = Schedule::new(config._2, config._3, config._4, config._5);
        if !s.is_valid() {
            return Err(JobError::BadContract {
                contract: "GaugeController",
                address: self.gauge,
                what: "config() returns an invalid calendar",
            });
        }
        Ok(*self.schedule.get_or_init(|| s))
    }

    /// Reads the epoch state: the latest block, then `totals()` at that same block.
    ///
    /// # Errors
    /// The node or the contract call failed, or the controller's calendar is invalid.
    pub async fn observe<P: Provider>(&self, provider: &P) -> Result<EpochState> {
        let schedule = self.schedule(provider).await?;
        let latest = provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await?
            .ok_or(JobError::NoLatestBlock)?;
        let block = latest.header.number;
        let totals = IGaugeController::new(self.gauge, provider)
            .totals()
            .block(BlockId::number(block))
            .call()
            .await?;
        let next = totals._0;
        Ok(EpochState {
            schedule,
            next,
            due_at: schedule.epoch_start(next.saturating_add(1)),
            block,
            chain_now: latest.header.timestamp,
        })
    }

    /// The plan for `state`: `finalize:<next>` once `next` has ended, nothing before.
    pub fn plan_for(&self, state: &EpochState) -> Plan {
        if !state.is_due() {
            debug!(target: "keeper::jobs::finalizer", next = state.next, due_at = state.due_at, chain_now = state.chain_now, "next epoch not due");
            return Plan::default();
        }
        Plan {
            intents: vec![IntentSpec {
                key: key(state.next),
                target: self.gauge,
                calldata: Self::calldata(state.next),
                value: U256::ZERO,
            }],
            due: state.due_epochs(),
            lag_secs: state.lag_secs(),
            in_flight: 0,
        }
    }
}

impl<P: Provider + Clone + 'static> Job<P> for EpochFinalizer {
    fn name(&self) -> &'static str {
        JOB_NAME
    }

    fn plan<'a>(&'a self, provider: &'a P) -> PlanFuture<'a> {
        Box::pin(async move {
            let state = self.observe(provider).await?;
            Ok(self.plan_for(&state))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WEEK: u64 = 604_800;

    fn state(next: u64, chain_now: u64) -> EpochState {
        let schedule = Schedule::with_defaults(1_700_006_400);
        EpochState {
            schedule,
            next,
            due_at: schedule.epoch_start(next + 1),
            block: 1,
            chain_now,
        }
    }

    #[test]
    fn nothing_before_the_epoch_ends() {
        let f = EpochFinalizer::new(Address::repeat_byte(1));
        let s = state(0, 1_700_006_400 + WEEK - 1);
        assert_eq!(f.plan_for(&s), Plan::default());
        let at_end = state(0, 1_700_006_400 + WEEK);
        let plan = f.plan_for(&at_end);
        assert_eq!(plan.intents.len(), 1);
        assert_eq!(plan.intents[0].key, "finalize:0");
        assert_eq!(plan.intents[0].target, Address::repeat_byte(1));
        assert_eq!(
            IGaugeController::finalizeEpochCall::abi_decode(&plan.intents[0].calldata)
                .unwrap()
                .e,
            0
        );
        assert_eq!((plan.due, plan.lag_secs), (1, 0));
    }

    #[test]
    fn backlog_asks_for_the_next_epoch_only() {
        let f = EpochFinalizer::new(Address::repeat_byte(1));
        let s = state(2, 1_700_006_400 + 5 * WEEK + 10);
        let plan = f.plan_for(&s);
        assert_eq!(
            plan.intents
                .iter()
                .map(|i| i.key.as_str())
                .collect::<Vec<_>>(),
            ["finalize:2"]
        );
        assert_eq!(plan.due, 3);
        assert_eq!(plan.lag_secs, 2 * WEEK + 10);
    }

    proptest! {
        /// The job asks for epoch `next` exactly when the chain's clock has passed its end, and nothing else.
        #[test]
        fn asks_exactly_when_due(next in 0u64..10_000, offset in 0u64..(20 * WEEK)) {
            let f = EpochFinalizer::new(Address::repeat_byte(2));
            let genesis = 1_700_006_400;
            let now = genesis + next * WEEK + offset;
            let s = state(next, now);
            let plan = f.plan_for(&s);
            let ended = now >= genesis + (next + 1) * WEEK;
            prop_assert_eq!(plan.intents.len(), usize::from(ended));
            if ended {
                prop_assert_eq!(&plan.intents[0].key, &key(next));
                prop_assert_eq!(plan.due, (now - genesis) / WEEK - next);
                prop_assert!(plan.due >= 1);
            } else {
                prop_assert_eq!(plan.due, 0);
            }
        }
    }
}
