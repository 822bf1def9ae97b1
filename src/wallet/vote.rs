//! `verity vote GAUGE=BPS …` and `verity gauges`: the GaugeController seen by a voter.
//!
//! `vote` first shows what the voter needs to decide — the epoch's vote window, the season's end (when every
//! vote resets), the power the vote will count (the lock's balance at the epoch start) and the allocation cast
//! earlier this season — then validates the sum (10,000 bps; `--partial` allows less, leaving power unused; more
//! is the contract's `GaugeVoteOverflow`), sorts the gauges (the contract wants them ascending) and votes.
//! `gauges` prints each gauge's weight this epoch with turnout (voters among lock holders, and power used
//! against total power) and concentration (the top voters' share, the Nakamoto coefficient) rebuilt from
//! `VoteCast` / `GaugeVote` events with the controller's own tally rule: a vote gives each gauge a slope `s`
//! until the lock's end `T`, worth `s × (T − t)` at an epoch start `t`.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use serde_json::json;
use verity_abi::{
    escrow::Deposit,
    gauge::{GaugeVote, Schedule, VoteCast, BPS},
    rpc::{IGaugeController, IVotingEscrow},
};

use super::{
    client::{Client, Common},
    errors::WalletError,
    format::{amount, percent, utc},
    ve::schedule,
    Report, Ui,
};

/// `verity vote`.
#[derive(clap::Args, Debug)]
pub struct VoteArgs {
    /// Allocations `GAUGE=BPS` (gauge address, basis points); they sum to 10,000.
    #[arg(required = true, num_args = 1..)]
    pub allocations: Vec<String>,
    /// Allow a sum below 10,000 (the rest of the power stays unused this season).
    #[arg(long)]
    pub partial: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity gauges`.
#[derive(clap::Args, Debug)]
pub struct GaugesArgs {
    /// The epoch to show (default: the running one).
    #[arg(long)]
    pub epoch: Option<u64>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

type Gauge = IGaugeController::IGaugeControllerInstance<DynProvider>;

/// One voter's live vote: the epoch it was cast in, its lock end and its allocations (gauge, bps, slope).
#[derive(Debug, Clone, Default)]
struct Ballot {
    epoch: u64,
    end: u64,
    allocations: Vec<(Address, u64, U256)>,
}

impl Ballot {
    /// The weight this ballot gives all its gauges at time `t` (the controller's `s × (T − t)`).
    fn weight_at(&self, t: u64) -> U256 {
        let left = U256::from(self.end.saturating_sub(t));
        self.allocations
            .iter()
            .map(|(_, _, s)| *s * left)
            .fold(U256::ZERO, |a, b| a + b)
    }
}

/// The latest ballot of each voter (or only `voter`) cast in `season` up to epoch `until`, from events.
async fn ballots(
    c: &Client,
    schedule: &Schedule,
    season: u64,
    until: u64,
    voter: Option<Address>,
) -> Result<BTreeMap<Address, Ballot>, WalletError> {
    let gauge = c.address("gauge")?;
    let mut casts = Filter::new()
        .address(gauge)
        .event_signature(VoteCast::SIGNATURE_HASH);
    let mut allocs = Filter::new()
        .address(gauge)
        .event_signature(GaugeVote::SIGNATURE_HASH);
    if let Some(v) = voter {
        casts = casts.topic1(v.into_word());
        allocs = allocs.topic1(v.into_word());
    }
    let mut out: BTreeMap<Address, Ballot> = BTreeMap::new();
    let in_season = |e: u64| schedule.season_of(e) == season && e <= until;
    for log in c.logs(casts, "gauge").await? {
        let Ok(v) = VoteCast::decode_log_data(log.data()) else {
            continue;
        };
        if in_season(v.epoch) {
            // Events come in chain order: a later vote replaces an earlier one.
            out.insert(
                v.voter,
                Ballot {
                    epoch: v.epoch,
                    end: v.end,
                    allocations: vec![],
                },
            );
        }
    }
    for log in c.logs(allocs, "gauge").await? {
        let Ok(g) = GaugeVote::decode_log_data(log.data()) else {
            continue;
        };
        if let Some(b) = out.get_mut(&g.voter) {
            if b.epoch == g.epoch {
                let bps = u64::try_from(g.bps).unwrap_or(u64::MAX);
                b.allocations.retain(|(a, _, _)| *a != g.gauge);
                b.allocations.push((g.gauge, bps, g.slope));
            }
        }
    }
    Ok(out)
}

/// Parses `GAUGE=BPS`.
fn parse_allocation(text: &str) -> Result<(Address, u16), WalletError> {
    let (gauge, bps) = text.split_once('=').ok_or_else(|| {
        WalletError::input(format!("{text:?} is not GAUGE=BPS (e.g. 0xAbC…=2500)"))
    })?;
    let gauge: Address = gauge
        .trim()
        .parse()
        .map_err(|_| WalletError::input(format!("{gauge:?} is not a gauge address")))?;
    let bps: u16 = bps
        .trim()
        .parse()
        .ok()
        .filter(|b| u64::from(*b) <= BPS)
        .ok_or_else(|| {
            WalletError::input(format!(
                "{bps:?} is not a number of basis points (0 to 10,000)"
            ))
        })?;
    Ok((gauge, bps))
}

/// Runs `verity vote`.
///
/// # Errors
/// A malformed allocation, a sum below 10,000 without `--partial`, a gauge named twice, or the contract's
/// decoded error.
pub async fn vote(a: VoteArgs, ui: Ui) -> Result<Report, WalletError> {
    let mut allocations = a
        .allocations
        .iter()
        .map(|t| parse_allocation(t))
        .collect::<Result<Vec<_>, _>>()?;
    let c = Client::connect(&a.common).await?;
    let me = c.me()?;
    let gauge: Gauge = IGaugeController::new(c.address("gauge")?, c.provider.clone());
    let escrow = IVotingEscrow::new(c.address("escrow")?, c.provider.clone());
    let (schedule, cap_bps) = schedule(&c).await?;
    let now = c.now().await?;
    let epoch = schedule.epoch_at(now).unwrap_or(0);
    let season = schedule.season_of(epoch);
    let season_end = schedule.next_season_start(epoch);
    let (opens, closes) = schedule.vote_window(epoch);
    let power = c
        .view(
            escrow.balanceOfAt(me, schedule.epoch_start(epoch)),
            "balanceOfAt",
        )
        .await?;
    let previous = ballots(&c, &schedule, season, epoch, Some(me))
        .await?
        .remove(&me);

    // What the voter needs first.
    let mut lines = vec![
        format!(
            "epoch {epoch} (season {season}): votes open {} – {}",
            utc(opens),
            utc(closes)
        ),
        format!(
            "the season ends at epoch {season_end} ({}): every vote resets then",
            utc(schedule.epoch_start(season_end))
        ),
        format!(
            "your power at this epoch's start: {}{}",
            amount(power),
            if cap_bps > 0 {
                format!(
                    " (one voter counts at most {}% of the total)",
                    cap_bps as f64 / 100.0
                )
            } else {
                String::new()
            }
        ),
    ];
    match &previous {
        Some(b) => lines.push(format!(
            "current allocation (cast in epoch {}): {}",
            b.epoch,
            b.allocations
                .iter()
                .map(|(g, bps, _)| format!("{g}={bps}"))
                .collect::<Vec<_>>()
                .join(" ")
        )),
        None => lines.push("current allocation: none this season".into()),
    }
    for line in &lines {
        ui.line(line);
    }

    let sum: u64 = allocations.iter().map(|(_, b)| u64::from(*b)).sum();
    allocations.sort_by_key(|(g, _)| *g);
    if let Some(w) = allocations.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(WalletError::check(
            format!("gauge {} is named twice", w[0].0),
            "name each gauge once",
        ));
    }
    if sum < BPS && !a.partial {
        return Err(WalletError::check(
            format!("the allocations sum to {sum} bps, not 10,000"),
            format!(
                "make them add up to 10,000, or pass --partial to leave {} bps of your power unused",
                BPS - sum
            ),
        ));
    }
    let (gauges, bps): (Vec<Address>, Vec<u16>) = allocations.iter().copied().unzip();
    let sent = c.send(gauge.vote(gauges, bps), "vote").await?;
    let mut json = json!({
        "epoch": epoch,
        "season": season,
        "seasonEnd": season_end,
        "seasonEndTime": schedule.epoch_start(season_end),
        "window": [opens, closes],
        "power": power.to_string(),
        "previous": previous.as_ref().map(|b| b.allocations.iter().map(|(g, bps, _)| json!({ "gauge": g, "bps": bps })).collect::<Vec<_>>()),
        "allocation": allocations.iter().map(|(g, b)| json!({ "gauge": g, "bps": b })).collect::<Vec<_>>(),
        "tx": sent.to_json(),
    });
    let mut text = sent.line();
    if let Some(cast) = sent.events::<VoteCast>().first() {
        json["used"] = json!(cast.used.to_string());
        text += &format!(
            "\nvoted {} of {} power in epoch {} until {}",
            amount(cast.used),
            amount(cast.power),
            cast.epoch,
            utc(cast.end.min(schedule.epoch_start(season_end)))
        );
    }
    Ok(Report {
        json,
        text: text + "\n",
    })
}

/// Runs `verity gauges`.
///
/// # Errors
/// The node's or contract's errors.
pub async fn gauges(a: GaugesArgs, _ui: Ui) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let gauge: Gauge = IGaugeController::new(c.address("gauge")?, c.provider.clone());
    let escrow = IVotingEscrow::new(c.address("escrow")?, c.provider.clone());
    let (schedule, cap_bps) = schedule(&c).await?;
    let now = c.now().await?;
    let epoch = a.epoch.unwrap_or(schedule.epoch_at(now).unwrap_or(0));
    let start = schedule.epoch_start(epoch);
    let season = schedule.season_of(epoch);
    let stats = c.view(gauge.epochStats(epoch), "epochStats").await?;
    let (voters_this_epoch, recorded_total, largest) = (stats._0, stats._1, stats._2);
    let totals = c.view(gauge.totals(), "totals").await?;
    let finalized = totals._0 > epoch;
    let emission = U256::from(schedule.emission(epoch));
    let list = c.view(gauge.gauges(), "gauges").await?;
    let mut rows = Vec::new();
    for g in &list {
        let info = c.view(gauge.gaugeInfo(*g, epoch), "gaugeInfo").await?;
        rows.push((*g, info._1, info._2, info._3));
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.3));
    // The controller records an epoch's total at finalization; before, it is the sum of the gauges' weights
    // (killed gauges included: their shares are carried, not redistributed).
    let total_weight = if finalized {
        recorded_total
    } else {
        rows.iter().map(|r| r.3).sum()
    };

    // Turnout and concentration from events.
    let ballots = ballots(&c, &schedule, season, epoch, None).await?;
    let mut weights: Vec<(Address, U256)> = ballots
        .iter()
        .map(|(v, b)| (*v, b.weight_at(start)))
        .filter(|(_, w)| !w.is_zero())
        .collect();
    weights.sort_by_key(|w| std::cmp::Reverse(w.1));
    let voter_total: U256 = weights
        .iter()
        .map(|(_, w)| *w)
        .fold(U256::ZERO, |a, b| a + b);
    let top = |n: usize| {
        weights
            .iter()
            .take(n)
            .map(|(_, w)| *w)
            .fold(U256::ZERO, |a, b| a + b)
    };
    let nakamoto = {
        let mut acc = U256::ZERO;
        let mut n = 0usize;
        for (_, w) in &weights {
            if acc * U256::from(2) > voter_total {
                break;
            }
            acc += *w;
            n += 1;
        }
        n
    };
    let holders = {
        let filter = Filter::new()
            .address(c.address("escrow")?)
            .event_signature(Deposit::SIGNATURE_HASH);
        let owners: std::collections::BTreeSet<Address> = c
            .logs(filter, "escrow")
            .await?
            .iter()
            .filter_map(|l| Deposit::decode_log_data(l.data()).ok())
            .map(|d| d.owner)
            .collect();
        let mut with_power = 0u64;
        for owner in owners {
            if !c
                .view(escrow.balanceOfAt(owner, start), "balanceOfAt")
                .await?
                .is_zero()
            {
                with_power += 1;
            }
        }
        with_power
    };
    let total_power = c.view(escrow.totalSupplyAt(start), "totalSupplyAt").await?;

    let mut text = format!(
        "epoch {epoch} (season {season}, started {}){}; emission {} BR\n",
        utc(start),
        if finalized {
            ", finalized"
        } else {
            ", running"
        },
        amount(emission)
    );
    text += &format!(
        "{:<42} {:>26} {:>7} {:>20}  status\n",
        "gauge", "weight", "share", "claimable BR"
    );
    for (g, killed, claimable, weight) in &rows {
        text += &format!(
            "{:<42} {:>26} {:>6}% {:>20}  {}\n",
            g.to_string(),
            amount(*weight),
            percent(*weight, total_weight),
            amount(*claimable),
            if *killed { "killed" } else { "alive" }
        );
    }
    let live_voters = weights.len() as u64;
    text += &format!(
        "turnout: {live_voters} of {holders} lock holders have a live vote ({voters_this_epoch} cast or refreshed in this epoch); {}% of the voting power\n",
        percent(total_weight, total_power)
    );
    text += &format!(
        "concentration: top voter {}%, top 3 {}%, Nakamoto coefficient {nakamoto}; largest single vote {}{}\n",
        percent(top(1), voter_total),
        percent(top(3), voter_total),
        amount(largest),
        if cap_bps > 0 { format!("; cap {}% of total power per voter", cap_bps as f64 / 100.0) } else { String::new() }
    );
    let json = json!({
        "epoch": epoch,
        "season": season,
        "start": start,
        "finalized": finalized,
        "emission": emission.to_string(),
        "totalWeight": total_weight.to_string(),
        "totalPower": total_power.to_string(),
        "gauges": rows.iter().map(|(g, killed, claimable, weight)| json!({
            "gauge": g, "killed": killed, "claimable": claimable.to_string(), "weight": weight.to_string(),
        })).collect::<Vec<_>>(),
        "turnout": { "liveVoters": live_voters, "holders": holders, "votersThisEpoch": voters_this_epoch },
        "concentration": {
            "top1": percent(top(1), voter_total),
            "top3": percent(top(3), voter_total),
            "nakamoto": nakamoto,
            "largestVote": largest.to_string(),
        },
        "capBps": cap_bps,
    });
    Ok(Report { json, text })
}
