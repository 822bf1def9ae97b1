//! The veBR population `verity dev` simulates: [`HOLDERS`] accounts (mnemonic indices from [`FIRST_HOLDER`]) with
//! heavy-tailed balances (Zipf-like, `≈ 400,000 / (i + 1)^1.1` BR) and lock lengths (most near half a year, a few
//! up to four years). A few large holders ([`LOYAL`]) vote every epoch; the others keep voting only for the first
//! epochs of a season (a "stamina", mostly one to three epochs) and come back after each reset — thin, skewed
//! participation, as veBR voting really is. The largest holder alone outweighs the per-voter cap ([`CAP_BPS`],
//! deployed on the controller), so the cap binds. Each holder favours one of the gauges.
//!
//! Everything is deterministic (a seeded mix per holder), so two runs tell the same story.

use alloy::{
    primitives::{utils::parse_ether, Address, U256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use anyhow::{Context, Result};
use devnode::chain::derive_accounts;
use verity_abi::{
    escrow::WEEK,
    gauge::{GaugeVote, Schedule, VoteCast},
    rpc::{IBrToken, IGaugeController, IVotingEscrow},
    token::UNIT,
};

use super::{Wallet, World};
use crate::client::{chain_time, send_with_headroom, wallet};

/// Simulated veBR holders.
pub(super) const HOLDERS: u32 = 50;
/// Mnemonic index of the first holder (the ten base accounts come first).
pub(super) const FIRST_HOLDER: u32 = 10;
/// The largest holders, who vote in every epoch.
const LOYAL: usize = 3;
/// The per-voter cap `verity dev` deploys the GaugeController with: one voter's weight is at most 20% of the total
/// voting power at the epoch start.
pub(super) const CAP_BPS: u64 = 2_000;

/// Holder `i`'s BR: Zipf-like, `400,000 / (i + 1)^1.1` (the first holds ~28% of what is locked).
fn balance_br(i: usize) -> u64 {
    (400_000.0 / ((i + 1) as f64).powf(1.1)).round() as u64
}

/// Holder `i`'s lock length in weeks: skewed short (u⁴ puts most near 26 weeks, a few near four years); the
/// largest holder locks for the maximum.
fn lock_weeks(i: usize) -> u64 {
    if i == 0 {
        208
    } else {
        26 + (unit(i as u64, 1).powi(4) * 182.0) as u64
    }
}

/// Epochs of each season holder `i` votes in: every epoch for the [`LOYAL`], else `1 + u³ × season length` —
/// mostly one to three epochs, a few the whole season.
fn stamina(i: usize, season_length: u64) -> u64 {
    if i < LOYAL {
        season_length
    } else {
        1 + (unit(i as u64, 2).powi(3) * season_length as f64) as u64
    }
}

/// A deterministic 64-bit mix of `(i, salt)` (splitmix64).
fn mix(i: u64, salt: u64) -> u64 {
    let mut z = i
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(salt.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `mix` as a fraction in [0, 1).
fn unit(i: u64, salt: u64) -> f64 {
    (mix(i, salt) >> 11) as f64 / (1u64 << 53) as f64
}

/// One simulated holder.
struct Holder {
    wallet: Wallet,
    address: Address,
    /// BR it locks.
    balance: U256,
    /// How long it locks, in weeks.
    lock_weeks: u64,
    /// Epochs of each season it votes in (from the season's first); every epoch for the loyal.
    stamina: u64,
    /// Index of the gauge it favours.
    favourite: usize,
}

/// The holders and the gauges they vote over.
pub(super) struct Voters {
    holders: Vec<Holder>,
    gauges: Vec<Address>,
    schedule: Schedule,
}

impl Voters {
    /// Derives the holders from `mnemonic` and draws their balances, locks, stamina and favourite gauges.
    pub(super) fn new(
        url: &str,
        mnemonic: &str,
        schedule: Schedule,
        gauges: Vec<Address>,
    ) -> Result<Self> {
        let accounts = derive_accounts(mnemonic, FIRST_HOLDER + HOLDERS)
            .context("deriving the veBR holders")?;
        let holders = accounts[FIRST_HOLDER as usize..]
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let k = i as u64;
                let br = balance_br(i);
                let lock_weeks = lock_weeks(i);
                let stamina = stamina(i, schedule.season_length);
                // The large holders split between the first two gauges; the crowd leans to the last.
                let favourite = match i {
                    0 => 0,
                    1 | 2 => 1,
                    _ => (mix(k, 3) % gauges.len() as u64) as usize,
                };
                Ok(Holder {
                    wallet: wallet(url, &a.signer)?,
                    address: a.address,
                    balance: U256::from(br) * UNIT,
                    lock_weeks,
                    stamina,
                    favourite,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            holders,
            gauges,
            schedule,
        })
    }

    /// Account 0 (the BR treasury) funds every holder with gas money and its BR; each holder locks it.
    pub(super) async fn fund_and_lock(
        &self,
        world: &World,
        signer: &PrivateKeySigner,
    ) -> Result<()> {
        let treasury = &world.wallets[0];
        let token_at = world.address("token")?;
        let escrow_at = world.address("escrow")?;
        let token = IBrToken::new(token_at, treasury.clone());
        let gas_money = parse_ether("1")?;
        let now = chain_time(treasury).await?;
        for h in &self.holders {
            if treasury.get_balance(h.address).await? < gas_money {
                let tx = alloy::rpc::types::TransactionRequest::default()
                    .from(signer.address())
                    .to(h.address)
                    .value(gas_money);
                treasury
                    .send_transaction(tx)
                    .await
                    .context("funding a holder")?
                    .get_receipt()
                    .await?;
            }
            send_with_headroom(token.transfer(h.address, h.balance), "BR transfer").await?;
            let own = IBrToken::new(token_at, h.wallet.clone());
            send_with_headroom(own.approve(escrow_at, h.balance), "approve").await?;
            let escrow = IVotingEscrow::new(escrow_at, h.wallet.clone());
            send_with_headroom(
                escrow.createLock(h.balance, now + h.lock_weeks * WEEK),
                "createLock",
            )
            .await?;
        }
        Ok(())
    }

    /// Whether the largest holder has voting power at the start of the epoch running at `now` (votes count the
    /// power at the epoch start, so a chain without time travel waits an epoch after locking).
    pub(super) async fn have_power(&self, world: &World, now: u64) -> Result<bool> {
        let Some(e) = self.schedule.epoch_at(now) else {
            return Ok(false);
        };
        let escrow = IVotingEscrow::new(world.address("escrow")?, world.wallets[0].clone());
        let power = escrow
            .balanceOfAt(self.holders[0].address, self.schedule.epoch_start(e))
            .call()
            .await;
        Ok(power.is_ok_and(|p| !p.is_zero()))
    }

    /// The votes of the epoch running at `now`: the loyal holders always, the others while their stamina lasts
    /// this season, each holder with power at the epoch start. Returns how many voted.
    pub(super) async fn round(&self, world: &World, now: u64) -> Result<u64> {
        let gauge_at = world.address("gauge")?;
        let escrow = IVotingEscrow::new(world.address("escrow")?, world.wallets[0].clone());
        let e = self.schedule.epoch_at(now).context("before genesis")?;
        let in_season = e % self.schedule.season_length;
        let start = self.schedule.epoch_start(e);
        let mut votes = 0;
        for (i, h) in self.holders.iter().enumerate() {
            if in_season >= h.stamina {
                continue;
            }
            if escrow.balanceOfAt(h.address, start).call().await?.is_zero() {
                continue; // its lock ended: it has no say any more
            }
            // The favourite gets 60–100% (and the rounding), the rest split evenly over the other gauges.
            let others = self.gauges.len() as u64 - 1;
            let other_bps = (4_000 - mix(i as u64, e) % 4_001) / others;
            let favourite_bps = 10_000 - other_bps * others;
            let mut ballot: Vec<(Address, u16)> = self
                .gauges
                .iter()
                .enumerate()
                .map(|(g, a)| {
                    let bps = if g == h.favourite {
                        favourite_bps
                    } else {
                        other_bps
                    };
                    // Truncation not possible: bps <= 10,000.
                    (*a, bps as u16)
                })
                .filter(|(_, bps)| *bps > 0)
                .collect();
            ballot.sort_by_key(|(a, _)| *a);
            let (gauges, bps): (Vec<Address>, Vec<u16>) = ballot.into_iter().unzip();
            let controller = IGaugeController::new(gauge_at, h.wallet.clone());
            send_with_headroom(controller.vote(gauges, bps), "vote").await?;
            votes += 1;
        }
        Ok(votes)
    }
}

/// Who shaped the emissions of the last finalized epoch: the voters with the largest weight in it (share of the
/// epoch's total, in bps), how many voters it took to pass half (the Nakamoto coefficient), and whether the cap
/// bound someone (a voter whose vote used less power than it had).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shapers {
    /// The epoch described.
    pub epoch: u64,
    /// Voters with a live vote in it.
    pub voters: u64,
    /// The three heaviest voters and their share of the weight (bps).
    pub top: Vec<(Address, u64)>,
    /// Fewest voters holding more than half of the weight.
    pub nakamoto: u64,
    /// A voter the per-voter cap held back in that season, if any.
    pub capped: Option<Address>,
}

/// [`Shapers`] of epoch `epoch`, rebuilt from `VoteCast` / `GaugeVote` events with the controller's tally rule
/// (an allocation's slope `s` until the lock's end `T` weighs `s × (T − t)` at the epoch start `t`).
pub(super) async fn shapers(
    world: &World,
    schedule: &Schedule,
    epoch: u64,
    from_block: u64,
) -> Result<Shapers> {
    let p = &world.wallets[0];
    let gauge = world.address("gauge")?;
    let season = schedule.season_of(epoch);
    let t = schedule.epoch_start(epoch);
    let casts = p
        .get_logs(
            &Filter::new()
                .address(gauge)
                .event_signature(VoteCast::SIGNATURE_HASH)
                .from_block(from_block),
        )
        .await?;
    let allocs = p
        .get_logs(
            &Filter::new()
                .address(gauge)
                .event_signature(GaugeVote::SIGNATURE_HASH)
                .from_block(from_block),
        )
        .await?;
    // voter → (epoch of its latest vote this season, end, Σ slope); capped voters seen.
    let mut latest: std::collections::BTreeMap<Address, (u64, u64, U256)> = Default::default();
    let mut capped = None;
    for v in casts
        .iter()
        .filter_map(|l| VoteCast::decode_log_data(l.data()).ok())
    {
        if schedule.season_of(v.epoch) == season && v.epoch <= epoch {
            latest.insert(v.voter, (v.epoch, v.end, U256::ZERO));
            // Held back by the cap (a full ballot otherwise uses its power up to rounding).
            if v.used * U256::from(100u64) < v.power * U256::from(99u64) && capped.is_none() {
                capped = Some(v.voter);
            }
        }
    }
    for g in allocs
        .iter()
        .filter_map(|l| GaugeVote::decode_log_data(l.data()).ok())
    {
        if let Some(entry) = latest.get_mut(&g.voter) {
            if entry.0 == g.epoch {
                entry.2 += g.slope;
            }
        }
    }
    let mut weights: Vec<(Address, U256)> = latest
        .into_iter()
        .map(|(v, (_, end, slope))| (v, slope * U256::from(end.saturating_sub(t))))
        .filter(|(_, w)| !w.is_zero())
        .collect();
    weights.sort_by_key(|w| std::cmp::Reverse(w.1));
    let total: U256 = weights.iter().map(|w| w.1).fold(U256::ZERO, |a, b| a + b);
    let share = |w: U256| -> u64 {
        if total.is_zero() {
            0
        } else {
            u64::try_from(w * U256::from(10_000u64) / total).unwrap_or(10_000)
        }
    };
    let mut acc = U256::ZERO;
    let mut nakamoto = 0;
    for (_, w) in &weights {
        if acc * U256::from(2u64) > total {
            break;
        }
        acc += *w;
        nakamoto += 1;
    }
    Ok(Shapers {
        epoch,
        voters: weights.len() as u64,
        top: weights
            .iter()
            .take(3)
            .map(|(a, w)| (*a, share(*w)))
            .collect(),
        nakamoto,
        capped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balances_are_heavy_tailed_and_the_first_holder_outweighs_the_cap() {
        let brs: Vec<u64> = (0..HOLDERS as usize).map(balance_br).collect();
        let total: u64 = brs.iter().sum();
        assert!(brs[0] * 10_000 > total * CAP_BPS, "the cap binds");
        assert!(brs[HOLDERS as usize - 1] < brs[0] / 50);
        let short = (0..HOLDERS as usize)
            .filter(|i| lock_weeks(*i) <= 52)
            .count();
        assert!(
            short > HOLDERS as usize / 2,
            "most locks are short: {short}"
        );
    }
}
