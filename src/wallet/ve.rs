//! `verity ve lock|increase|extend|withdraw|show`: the account's veBR lock in the VotingEscrow.
//!
//! Locking pulls BR with `transferFrom`, so `lock` and `increase` approve the escrow first when the allowance is
//! short — but only after simulating the lock itself: the escrow checks amount, existing lock and end before it
//! calls BR, so a simulation that fails only inside BR's `transferFrom` for want of allowance means everything
//! else is right, and any other error is reported before an approval is spent. `show` prints the power now and at
//! the start of each coming epoch (the power a vote in that epoch counts), with the season boundaries.

use alloy::{primitives::U256, providers::DynProvider};
use clap::Subcommand;
use serde_json::json;
use verity_abi::{
    escrow::{week_floor, Deposit, Withdraw, WEEK},
    gauge::Schedule,
    rpc::{IBrToken, IGaugeController, IVotingEscrow},
};

use super::{
    client::{Client, Common, Sent},
    errors::WalletError,
    format::{amount, parse_amount, parse_time, percent, span, utc},
    Report, Ui,
};

/// `verity ve …`.
// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum VeCommand {
    /// Lock AMOUNT BR until a week boundary (approves the escrow first when needed).
    Lock(LockArgs),
    /// Add AMOUNT BR to the running lock (same end).
    Increase(IncreaseArgs),
    /// Move the running lock's end later.
    Extend(ExtendArgs),
    /// Withdraw an expired lock's BR.
    Withdraw(WithdrawArgs),
    /// The lock, its voting power now and at the start of each coming epoch.
    Show(ShowArgs),
}

impl VeCommand {
    pub(super) fn common(&self) -> &Common {
        match self {
            Self::Lock(a) => &a.common,
            Self::Increase(a) => &a.common,
            Self::Extend(a) => &a.common,
            Self::Withdraw(a) => &a.common,
            Self::Show(a) => &a.common,
        }
    }
}

/// When a lock ends: N weeks or days from now, or a date. The escrow rounds it down to a week boundary
/// (Thursday 00:00 UTC).
#[derive(clap::Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Until {
    /// End N weeks from now.
    #[arg(long)]
    pub weeks: Option<u64>,
    /// End N days from now.
    #[arg(long)]
    pub days: Option<u64>,
    /// End at a date (YYYY-MM-DD[THH:MM], UTC) or Unix time.
    #[arg(long)]
    pub until: Option<String>,
}

impl Until {
    /// The unlock time these flags name, from chain time `now`.
    ///
    /// # Errors
    /// [`WalletError::Input`] for an unreadable date.
    pub fn resolve(&self, now: u64) -> Result<u64, WalletError> {
        if let Some(w) = self.weeks {
            return Ok(now.saturating_add(w.saturating_mul(WEEK)));
        }
        if let Some(d) = self.days {
            return Ok(now.saturating_add(d.saturating_mul(86_400)));
        }
        parse_time(self.until.as_deref().unwrap_or_default())
    }
}

/// `verity ve lock`.
#[derive(clap::Args, Debug)]
pub struct LockArgs {
    /// BR to lock (decimal, e.g. 1000 or 2.5).
    pub amount: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub until: Until,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity ve increase`.
#[derive(clap::Args, Debug)]
pub struct IncreaseArgs {
    /// BR to add.
    pub amount: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity ve extend`.
#[derive(clap::Args, Debug)]
pub struct ExtendArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub until: Until,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity ve withdraw`.
#[derive(clap::Args, Debug)]
pub struct WithdrawArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity ve show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// Coming epochs to show.
    #[arg(long, default_value_t = 12)]
    pub epochs: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// Runs `verity ve …`.
///
/// # Errors
/// Whatever the command fails with, decoded.
pub async fn run(command: VeCommand, _ui: Ui) -> Result<Report, WalletError> {
    match command {
        VeCommand::Lock(a) => deposit(Some(a.until), &a.amount, &a.common).await,
        VeCommand::Increase(a) => deposit(None, &a.amount, &a.common).await,
        VeCommand::Extend(a) => extend(a).await,
        VeCommand::Withdraw(a) => withdraw(a).await,
        VeCommand::Show(a) => show(a).await,
    }
}

type Escrow = IVotingEscrow::IVotingEscrowInstance<DynProvider>;

fn escrow(c: &Client) -> Result<Escrow, WalletError> {
    Ok(IVotingEscrow::new(c.address("escrow")?, c.provider.clone()))
}

/// The gauge calendar (epochs and seasons), read from the controller.
pub(super) async fn schedule(c: &Client) -> Result<(Schedule, u64), WalletError> {
    let gauge = IGaugeController::new(c.address("gauge")?, c.provider.clone());
    let config = c.view(gauge.config(), "reading the gauge calendar").await?;
    Ok((
        Schedule::new(config._2, config._3, config._4, config._5),
        config._6,
    ))
}

/// `lock` (with `until`) or `increase` (without): approve when the allowance is short, then deposit.
async fn deposit(
    until: Option<Until>,
    amount_text: &str,
    common: &Common,
) -> Result<Report, WalletError> {
    let value = parse_amount(amount_text, "AMOUNT")?;
    let c = Client::connect(common).await?;
    let me = c.me()?;
    let escrow = escrow(&c)?;
    let token = IBrToken::new(c.address("token")?, c.provider.clone());
    let balance = c
        .view(token.balanceOf(me), "reading the BR balance")
        .await?;
    if balance < value {
        return Err(WalletError::check(
            format!(
                "{me} holds {} BR; the lock needs {}",
                amount(balance),
                amount(value)
            ),
            "get BR first (transfer it to this account) or lock less",
        ));
    }
    let (mut lines, mut txs, sent, unlock) = match &until {
        Some(u) => {
            let unlock = u.resolve(c.now().await?)?;
            let (lines, txs, sent) = approve_then(
                &c,
                &token,
                value,
                escrow.createLock(value, unlock),
                "createLock",
            )
            .await?;
            (lines, txs, sent, Some(unlock))
        }
        None => {
            let (lines, txs, sent) = approve_then(
                &c,
                &token,
                value,
                escrow.increaseAmount(value),
                "increaseAmount",
            )
            .await?;
            (lines, txs, sent, None)
        }
    };
    let Some(sent) = sent else {
        return Ok(Report {
            text: lines.join("\n") + "\n",
            json: json!({ "txs": txs, "dryRun": true }),
        });
    };
    lines.push(sent.line());
    txs.push(sent.to_json());
    let mut json = json!({ "txs": txs, "value": value.to_string() });
    if sent.receipt.is_some() {
        let l = c.view(escrow.locked(me), "reading the lock").await?;
        let (locked, end) = (l._0, l._1);
        let power = c.view(escrow.balanceOf(me), "reading the power").await?;
        let (schedule, _) = schedule(&c).await?;
        let now = c.now().await?;
        let next = schedule.first_epoch_from(now.saturating_add(1));
        lines.push(format!(
            "locked {} BR until {} ({} from now); voting power now {}",
            amount(locked),
            utc(end),
            span(end.saturating_sub(now)),
            amount(power)
        ));
        lines.push(format!(
            "votes count it from epoch {next} (starts {})",
            utc(schedule.epoch_start(next))
        ));
        if let Some(d) = sent.events::<Deposit>().first() {
            json["deposit"] = json!({ "value": d.value.to_string(), "amount": d.amount.to_string(), "end": d.end, "kind": d.kind });
        }
        json["locked"] = json!(locked.to_string());
        json["end"] = json!(end);
        json["power"] = json!(power.to_string());
    } else if let Some(u) = unlock {
        lines.push(format!("the lock would end {}", utc(week_floor(u))));
    }
    Ok(Report {
        text: lines.join("\n") + "\n",
        json,
    })
}

/// Simulates `call` (with a short allowance only BR's allowance error is expected), approves the escrow for
/// `value` when the allowance is short, then sends `call`. Returns the lines and JSON of the approval and the
/// deposit's [`Sent`] — `None` on a dry run that needed an approval (the deposit cannot be estimated before it).
async fn approve_then<C: alloy::sol_types::SolCall>(
    c: &Client,
    token: &IBrToken::IBrTokenInstance<DynProvider>,
    value: U256,
    call: alloy::contract::SolCallBuilder<&DynProvider, C>,
    what: &str,
) -> Result<(Vec<String>, Vec<serde_json::Value>, Option<Sent>), WalletError> {
    let me = c.me()?;
    let escrow_at = c.address("escrow")?;
    let allowance = c
        .view(token.allowance(me, escrow_at), "reading the allowance")
        .await?;
    let needs_approval = allowance < value;
    match c.simulate(&call, what).await {
        Ok(()) => {}
        Err(WalletError::Revert(d))
            if needs_approval && d.is_or_wraps("ERC20InsufficientAllowance") => {}
        Err(e) => return Err(e),
    }
    let (mut lines, mut txs) = (Vec::new(), Vec::new());
    if needs_approval {
        let approve = c.send(token.approve(escrow_at, value), "approve").await?;
        lines.push(approve.line());
        txs.push(approve.to_json());
        if c.dry_run {
            lines.push(format!(
                "{what}: dry run, simulated up to BR's transfer (it needs the approval above first)"
            ));
            return Ok((lines, txs, None));
        }
    }
    let sent = c.send(call, what).await?;
    Ok((lines, txs, Some(sent)))
}

async fn extend(a: ExtendArgs) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let me = c.me()?;
    let escrow = escrow(&c)?;
    let unlock = a.until.resolve(c.now().await?)?;
    let sent = c
        .send(escrow.increaseUnlockTime(unlock), "increaseUnlockTime")
        .await?;
    let l = c.view(escrow.locked(me), "reading the lock").await?;
    let power = c.view(escrow.balanceOf(me), "reading the power").await?;
    let text = if sent.receipt.is_some() {
        format!(
            "{}\nlock of {} BR now ends {}; voting power now {}\n",
            sent.line(),
            amount(l._0),
            utc(l._1),
            amount(power)
        )
    } else {
        format!(
            "{}\nthe lock would end {}\n",
            sent.line(),
            utc(week_floor(unlock))
        )
    };
    Ok(Report {
        text,
        json: json!({ "tx": sent.to_json(), "locked": l._0.to_string(), "end": l._1, "power": power.to_string() }),
    })
}

async fn withdraw(a: WithdrawArgs) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let escrow = escrow(&c)?;
    let sent = c.send(escrow.withdraw(), "withdraw").await?;
    let value = sent
        .events::<Withdraw>()
        .first()
        .map(|w| w.value)
        .unwrap_or_default();
    Ok(Report {
        text: format!("{}\nwithdrew {} BR\n", sent.line(), amount(value)),
        json: json!({ "tx": sent.to_json(), "value": value.to_string() }),
    })
}

async fn show(a: ShowArgs) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let me = c.me()?;
    let escrow = escrow(&c)?;
    let token = IBrToken::new(c.address("token")?, c.provider.clone());
    let now = c.now().await?;
    let (schedule, cap_bps) = schedule(&c).await?;
    let lock = c.view(escrow.locked(me), "reading the lock").await?;
    let (locked, end) = (lock._0, lock._1);
    let power = c.view(escrow.balanceOf(me), "reading the power").await?;
    let total = c
        .view(escrow.totalSupply(), "reading the total power")
        .await?;
    let balance = c
        .view(token.balanceOf(me), "reading the BR balance")
        .await?;
    let current = schedule.epoch_at(now).unwrap_or(0);
    let season_end = schedule.next_season_start(current);
    let mut text = format!("account {me}: {} BR in the wallet\n", amount(balance));
    if locked.is_zero() {
        text += "no lock: `verity ve lock AMOUNT --weeks N`\n";
    } else if end <= now {
        text += &format!(
            "lock of {} BR ended {}: `verity ve withdraw`\n",
            amount(locked),
            utc(end)
        );
    } else {
        text += &format!(
            "lock of {} BR until {} ({} left)\n",
            amount(locked),
            utc(end),
            span(end - now)
        );
    }
    text += &format!(
        "power now {} of {} ({}%){}\n",
        amount(power),
        amount(total),
        percent(power, total),
        if cap_bps > 0 {
            format!(
                "; one voter's weight is capped at {}% of the total",
                cap_bps as f64 / 100.0
            )
        } else {
            String::new()
        }
    );
    text += &format!(
        "epoch {current} runs; season {} ends at epoch {season_end} ({})\n",
        schedule.season_of(current),
        utc(schedule.epoch_start(season_end))
    );
    text += &format!(
        "{:>6}  {:<20} {:>24} {:>8}\n",
        "epoch", "starts", "power", "share"
    );
    let mut rows = Vec::new();
    for e in current + 1..=current + a.epochs {
        let t = schedule.epoch_start(e);
        let p = c.view(escrow.balanceOfAt(me, t), "balanceOfAt").await?;
        let s = c.view(escrow.totalSupplyAt(t), "totalSupplyAt").await?;
        let boundary = e % schedule.season_length == 0;
        text += &format!(
            "{:>6}  {:<20} {:>24} {:>7}%{}\n",
            e,
            utc(t),
            amount(p),
            percent(p, s),
            if boundary {
                "  ← new season: votes reset"
            } else {
                ""
            }
        );
        rows.push(json!({ "epoch": e, "start": t, "power": p.to_string(), "totalPower": s.to_string(), "seasonStart": boundary }));
        if p.is_zero() {
            break;
        }
    }
    Ok(Report {
        text,
        json: json!({
            "account": me,
            "balance": balance.to_string(),
            "locked": locked.to_string(),
            "end": end,
            "power": power.to_string(),
            "totalPower": total.to_string(),
            "epoch": current,
            "seasonEnd": season_end,
            "seasonEndTime": schedule.epoch_start(season_end),
            "capBps": cap_bps,
            "epochs": rows,
        }),
    })
}
