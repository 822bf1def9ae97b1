//! Gas figures of Verity's contract operations, measured on devnode with the real WASM deployed by Verity's
//! plan and driven over JSON-RPC exactly as wallets and the keeper drive it. Gas is deterministic, so the same
//! functions back the benchmark table (`verity bench`) and the tests that assert the goals.
//!
//! The veBR gauge figures ([`gauge_gas`]):
//! - `vote` allocating over 1, 5 and 20 gauges (each a voter's first vote of the season);
//! - `finalizeEpoch` of an epoch with few voters against one with many — each the first voted epoch of its
//!   season, with the same gauges weighted — the goal is that finalization does not depend on the number of voters (ratio ≤
//!   [`FINALIZE_VOTER_RATIO_GOAL`]), because votes are tallied per gauge when cast, never looped over later.

use std::{fmt, sync::Arc};

use alloy::{
    primitives::{keccak256, Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use anyhow::{ensure, Context, Result};

use crate::client::{chain_time, mined, travel_to, wallet};
use tokio::{sync::Semaphore, task::JoinSet};
use verity_abi::{
    escrow::WEEK,
    gauge::{Schedule, BPS},
    rpc::{IBrToken, IGaugeController, IVotingEscrow},
    token::UNIT,
};

/// Goal: `finalizeEpoch`'s gasUsed with many voters is at most this multiple of its gasUsed with few.
pub const FINALIZE_VOTER_RATIO_GOAL: f64 = 1.1;

/// The largest gauge count measured for `vote` (and the number of gauges registered for the run).
pub const VOTE_GAUGE_COUNTS: [usize; 3] = [1, 5, 20];

/// How many voters set up their locks at once (each voter's own transactions stay in order).
const SETUP_CONCURRENCY: usize = 64;

/// One measured operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GasRow {
    /// What was measured, e.g. `GaugeController.vote (5 gauges)`.
    pub operation: String,
    /// The receipt's gasUsed.
    pub gas_used: u64,
}

/// A goal, the figure measured for it and whether the figure meets it.
#[derive(Debug, Clone, PartialEq)]
pub struct GasGoal {
    /// The goal, e.g. `finalizeEpoch 1000 / 10 voters <= 1.10`.
    pub goal: String,
    /// The measured figure, e.g. `1.002`.
    pub figure: String,
    /// Whether the figure meets the goal.
    pub met: bool,
}

/// Measured gas figures and goals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GasReport {
    /// Every measured operation.
    pub rows: Vec<GasRow>,
    /// The goals with their figures.
    pub goals: Vec<GasGoal>,
}

impl GasReport {
    /// The gasUsed recorded for `operation`, if measured.
    pub fn gas(&self, operation: &str) -> Option<u64> {
        self.rows
            .iter()
            .find(|r| r.operation == operation)
            .map(|r| r.gas_used)
    }

    /// Appends `other`'s rows and goals.
    pub fn extend(&mut self, other: GasReport) {
        self.rows.extend(other.rows);
        self.goals.extend(other.goals);
    }
}

impl fmt::Display for GasReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<60} {:>12}", "operation", "gasUsed")?;
        for row in &self.rows {
            writeln!(f, "{:<60} {:>12}", row.operation, row.gas_used)?;
        }
        for goal in &self.goals {
            writeln!(
                f,
                "goal {:<55} {:>12}  {}",
                goal.goal,
                goal.figure,
                if goal.met { "PASS" } else { "MISS" }
            )?;
        }
        Ok(())
    }
}

/// The `vote` row label for `gauges` gauges.
pub fn vote_label(gauges: usize) -> String {
    format!(
        "GaugeController.vote ({gauges} gauge{})",
        if gauges == 1 { "" } else { "s" }
    )
}

/// The `finalizeEpoch` row label for an epoch with `voters` voters.
pub fn finalize_label(voters: usize) -> String {
    format!("GaugeController.finalizeEpoch ({voters} voters)")
}

/// Where the gauge benchmark runs: a node with Verity deployed.
#[derive(Debug, Clone)]
pub struct GaugeGasSetup {
    /// The node's JSON-RPC URL (a devnode: the run moves its clock with `evm_increaseTime`).
    pub url: String,
    /// The GaugeController's admin, holding enough BR to fund every voter.
    pub admin: PrivateKeySigner,
    /// Funded accounts to vote with: at least `many_voters` of them.
    pub voters: Vec<PrivateKeySigner>,
    /// BR.
    pub token: Address,
    /// The VotingEscrow.
    pub escrow: Address,
    /// The GaugeController.
    pub gauge: Address,
    /// Voters in the "few" epoch (at least 3: the `vote` rows use three of them).
    pub few_voters: usize,
    /// Voters in the "many" epoch.
    pub many_voters: usize,
}

/// Distinct gauge addresses that belong to no one (they only receive BR), ascending as `vote` wants them.
fn gauge_addresses(n: usize) -> Vec<Address> {
    let mut gauges: Vec<Address> = (0..n)
        .map(|i| Address::from_slice(&keccak256(format!("verity-bench-gauge-{i}"))[12..]))
        .collect();
    gauges.sort();
    gauges
}

/// Gives every voter `amount` BR and has each lock it for ~100 weeks (voters set up concurrently).
/// `admin` is the provider every admin transaction goes through (one provider per account: its nonce cache
/// must see every transaction the account sends).
async fn lock_for_all<P: Provider + Clone>(
    setup: &GaugeGasSetup,
    admin: &P,
    voters: &[PrivateKeySigner],
    amount: U256,
) -> Result<()> {
    let token = IBrToken::new(setup.token, admin.clone());
    let mut pending = Vec::with_capacity(voters.len());
    for voter in voters {
        pending.push(
            token
                .transfer(voter.address(), amount)
                .send()
                .await
                .context("sending BR to a voter")?,
        );
    }
    for tx in pending {
        let receipt = tx.get_receipt().await.context("BR transfer receipt")?;
        ensure!(receipt.status(), "BR transfer to a voter reverted");
    }
    let unlock = chain_time(admin).await? + 100 * WEEK;
    let permits = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut tasks = JoinSet::new();
    for voter in voters {
        let voter = voter.clone();
        let (url, token_at, escrow_at) = (setup.url.clone(), setup.token, setup.escrow);
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let provider = wallet(&url, &voter)?;
            let token = IBrToken::new(token_at, provider.clone());
            mined(token.approve(escrow_at, amount).send().await, "approve").await?;
            let escrow = IVotingEscrow::new(escrow_at, provider.clone());
            let lock = escrow.createLock(amount, unlock);
            // createLock's cost depends on the block it lands in: the first checkpoint at a new timestamp
            // writes a new global point (~+35% gas), later ones in the same second update it. With voters
            // locking concurrently the estimate's second and the inclusion's second often differ, as they
            // would on Arbitrum; wallets add headroom, and so does this.
            let estimate = lock.estimate_gas().await.context("estimating createLock")?;
            mined(lock.gas(estimate * 3 / 2).send().await, "createLock").await?;
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.context("voter setup task")??;
    }
    Ok(())
}

/// Casts one vote: `voter` spreads all its power evenly over `gauges`; returns the receipt's gasUsed.
async fn vote(setup: &GaugeGasSetup, voter: &PrivateKeySigner, gauges: &[Address]) -> Result<u64> {
    let provider = wallet(&setup.url, voter)?;
    let controller = IGaugeController::new(setup.gauge, provider.clone());
    let share = u16::try_from(BPS / gauges.len() as u64).context("too many gauges")?;
    let receipt = mined(
        controller
            .vote(gauges.to_vec(), vec![share; gauges.len()])
            .send()
            .await,
        "vote",
    )
    .await?;
    Ok(receipt.gas_used)
}

/// Measures `vote` over 1/5/20 gauges and `finalizeEpoch` with `few_voters` against `many_voters` voters.
pub async fn gauge_gas(setup: &GaugeGasSetup) -> Result<GasReport> {
    ensure!(setup.few_voters >= 3, "few_voters must be at least 3");
    ensure!(
        setup.many_voters > setup.few_voters && setup.voters.len() >= setup.many_voters,
        "need many_voters > few_voters funded voter accounts (have {})",
        setup.voters.len()
    );
    let admin = wallet(&setup.url, &setup.admin)?;
    let controller = IGaugeController::new(setup.gauge, admin.clone());
    let config = controller
        .config()
        .call()
        .await
        .context("reading the controller's config")?;
    let schedule = Schedule::new(config._2, config._3, config._4, config._5);

    let gauges = gauge_addresses(VOTE_GAUGE_COUNTS[VOTE_GAUGE_COUNTS.len() - 1]);
    for g in &gauges {
        mined(controller.addGauge(*g).send().await, "addGauge").await?;
    }
    let voters = &setup.voters[..setup.many_voters];
    lock_for_all(setup, &admin, voters, U256::from(1_000u64) * UNIT).await?;

    // Three seasons, each starting from zero votes. In the first, three voters measure `vote` over 1/5/20
    // gauges. In the first epoch of the second (`few`) and of the third (`many`), voters split their power over
    // two gauges, pairs taken round robin so every gauge is weighted in both: the two finalizations differ only
    // in how many voters stand behind the same weighted gauges.
    let now = chain_time(&admin).await?;
    let probe = schedule.next_season_start(schedule.epoch_at(now).context("before genesis")?);
    let few = schedule.next_season_start(probe);
    let many = schedule.next_season_start(few);
    travel_to(&admin, schedule.vote_window(probe).0 + 10).await?;
    let mut report = GasReport::default();
    for (voter, k) in voters.iter().zip(VOTE_GAUGE_COUNTS) {
        report.rows.push(GasRow {
            operation: vote_label(k),
            gas_used: vote(setup, voter, &gauges[..k]).await?,
        });
    }
    // Each epoch is finalized as the keeper does, right after it ends (before later votes roll the gauges on).
    let mut finalize_gas = [0u64; 2];
    for (slot, (epoch, count)) in [(few, setup.few_voters), (many, setup.many_voters)]
        .into_iter()
        .enumerate()
    {
        travel_to(&admin, schedule.vote_window(epoch).0 + 10).await?;
        let permits = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
        let mut tasks = JoinSet::new();
        for (i, voter) in voters[..count].iter().cloned().enumerate() {
            let pair = 2 * (i % (gauges.len() / 2));
            let (setup, permits, pair) = (
                setup.clone(),
                permits.clone(),
                gauges[pair..pair + 2].to_vec(),
            );
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await?;
                vote(&setup, &voter, &pair).await
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.context("vote task")??;
        }
        let voted = controller.epochStats(epoch).call().await?._0;
        ensure!(
            voted == count as u64,
            "epoch {epoch} counted {voted} voters, expected {count}"
        );
        travel_to(&admin, schedule.epoch_start(epoch + 1) + 10).await?;
        let first = controller.totals().call().await?._0;
        for e in first..=epoch {
            let receipt = mined(controller.finalizeEpoch(e).send().await, "finalizeEpoch").await?;
            if e == epoch {
                finalize_gas[slot] = receipt.gas_used;
            }
        }
    }
    report.rows.push(GasRow {
        operation: finalize_label(setup.few_voters),
        gas_used: finalize_gas[0],
    });
    report.rows.push(GasRow {
        operation: finalize_label(setup.many_voters),
        gas_used: finalize_gas[1],
    });
    let ratio = finalize_gas[1] as f64 / finalize_gas[0] as f64;
    report.goals.push(GasGoal {
        goal: format!(
            "finalizeEpoch {} / {} voters <= {FINALIZE_VOTER_RATIO_GOAL:.2}",
            setup.many_voters, setup.few_voters
        ),
        figure: format!("{ratio:.3}"),
        met: ratio <= FINALIZE_VOTER_RATIO_GOAL,
    });
    Ok(report)
}
