//! veBR and the GaugeController as real WASM on devnode, deployed and wired by the deploy plan: locks (BR
//! `transferFrom` into the escrow), votes (the controller's `powerAt` call into the escrow), epochs finalized across
//! a season boundary (BR `mint` to the controller), claims (BR `transfer` to the gauges).

use alloy::{
    network::Ethereum,
    primitives::U256,
    providers::{PendingTransactionBuilder, Provider},
    rpc::types::TransactionReceipt,
    sol_types::{SolError, SolEvent},
};
use verity_abi::{
    escrow::WEEK,
    gauge::{EpochFinalized, GaugeEpochAlreadyFinalized, Schedule, VOTE_MARGIN},
    rpc::{IBrToken, IGaugeController, IVotingEscrow},
    token::UNIT,
};

use crate::support::Harness;

fn br(n: u64) -> U256 {
    U256::from(n) * UNIT
}

async fn now(h: &Harness) -> u64 {
    let block = h
        .wallet(0)
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    block.header.timestamp
}

/// Moves the clock to `t` (forward only) and mines.
async fn travel_to(h: &Harness, t: u64) {
    let current = now(h).await;
    if t > current {
        h.advance(t - current).await;
    }
}

/// The receipt of a sent transaction, which must have succeeded.
async fn sent(
    pending: Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
) -> TransactionReceipt {
    let receipt = pending.expect("sent").get_receipt().await.expect("receipt");
    assert!(receipt.status(), "transaction reverted: {receipt:?}");
    receipt
}

#[tokio::test(flavor = "multi_thread")]
async fn season_of_votes_finalization_and_claims() {
    let h = Harness::start().await;
    let (token_at, escrow_at, gauge_at) =
        (h.address("token"), h.address("escrow"), h.address("gauge"));
    // One provider per account (its nonce cache must see every transaction the account sends).
    let wallets: Vec<_> = (0..3).map(|i| h.wallet(i)).collect();
    let admin_token = IBrToken::new(token_at, wallets[0].clone());
    assert_eq!(
        admin_token.minter().call().await.unwrap(),
        gauge_at,
        "wired: the controller mints BR"
    );
    let admin = IGaugeController::new(gauge_at, wallets[0].clone());
    let config = admin.config().call().await.unwrap();
    assert_eq!((config._0, config._1), (token_at, escrow_at));
    let s = Schedule::new(config._2, config._3, config._4, config._5);
    assert_eq!(s, Schedule::with_defaults(s.genesis));

    // Two gauges (plain addresses: they only receive BR) and two voters with locks.
    let (mut g1, mut g2) = (h.account(5), h.account(6));
    if g2 < g1 {
        std::mem::swap(&mut g1, &mut g2);
    }
    for g in [g1, g2] {
        sent(admin.addGauge(g).send().await).await;
    }
    let t0 = now(&h).await;
    for (voter, amount) in [(1, 1_000u64), (2, 3_000)] {
        sent(
            admin_token
                .transfer(h.account(voter), br(amount))
                .send()
                .await,
        )
        .await;
        let token = IBrToken::new(token_at, wallets[voter].clone());
        sent(token.approve(escrow_at, br(amount)).send().await).await;
        let escrow = IVotingEscrow::new(escrow_at, wallets[voter].clone());
        let lock = escrow.createLock(br(amount), t0 + 100 * WEEK);
        // devnode's eth_estimateGas returns the gas used, which is too little once the escrow calls BR (the
        // first lock runs out of gas at exactly the estimate): send with headroom until the estimate covers it.
        let estimate = lock.estimate_gas().await.expect("estimate");
        sent(lock.gas(estimate * 3 / 2).send().await).await;
    }
    let escrow = IVotingEscrow::new(escrow_at, wallets[0].clone());
    assert_eq!(escrow.supply().call().await.unwrap(), br(4_000));
    assert_eq!(
        IBrToken::new(token_at, wallets[0].clone())
            .balanceOf(escrow_at)
            .call()
            .await
            .unwrap(),
        br(4_000)
    );

    // Power counts from the next epoch's start: vote in epoch e1's window.
    let e1 = s.epoch_at(t0).unwrap() + 1;
    travel_to(&h, s.vote_window(e1).0 + 10).await;
    let v1 = IGaugeController::new(gauge_at, wallets[1].clone());
    sent(v1.vote(vec![g1, g2], vec![6_000, 4_000]).send().await).await;
    let v2 = IGaugeController::new(gauge_at, wallets[2].clone());
    sent(v2.vote(vec![g2], vec![10_000]).send().await).await;
    let w1 = admin.gaugeInfo(g1, e1).call().await.unwrap()._3;
    let w2 = admin.gaugeInfo(g2, e1).call().await.unwrap()._3;
    let p1 = escrow
        .balanceOfAt(h.account(1), s.epoch_start(e1))
        .call()
        .await
        .unwrap();
    assert!(w1 > U256::ZERO && w1 <= p1 * U256::from(6_000) / U256::from(10_000));
    let stats = admin.epochStats(e1).call().await.unwrap();
    assert_eq!(
        (stats._0, stats._1),
        (2, U256::ZERO),
        "two voters; the total is recorded at finalization"
    );

    // Finalize every epoch up to the end of the season after e1's (votes carry, then reset).
    let season_end = s.next_season_start(e1);
    travel_to(&h, s.epoch_start(season_end + 1) + VOTE_MARGIN).await;
    let mut minted = U256::ZERO;
    for e in 0..=season_end {
        let receipt = sent(admin.finalizeEpoch(e).send().await).await;
        let fin = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| EpochFinalized::decode_log_data(log.data()).ok())
            .expect("EpochFinalized");
        assert_eq!(fin.epoch, e);
        assert_eq!(fin.emission, U256::from(s.emission(e)));
        assert_eq!(
            admin.epochStats(e).call().await.unwrap()._1,
            fin.totalWeight
        );
        if e == e1 {
            assert_eq!(fin.totalWeight, w1 + w2, "total = Σ gauge weights");
        }
        minted += fin.emission;
        if e == season_end {
            assert_eq!(fin.totalWeight, U256::ZERO, "a new season starts at zero");
        } else if e >= e1 {
            assert!(
                fin.totalWeight > U256::ZERO,
                "votes carry within the season (epoch {e})"
            );
        }
    }
    // Exactly once: the keeper's typed "already done".
    let Err(again) = admin.finalizeEpoch(e1).call().await else {
        panic!("finalized twice")
    };
    let decoded = again
        .as_decoded_error::<GaugeEpochAlreadyFinalized>()
        .expect("typed error");
    assert_eq!(decoded.epoch, e1);
    assert_eq!(GaugeEpochAlreadyFinalized::SELECTOR.len(), 4);
    // Carried votes decayed with the locks.
    assert!(admin.gaugeInfo(g1, e1 + 1).call().await.unwrap()._3 < w1);

    // BR: minted to the controller exactly as scheduled, claimed by the gauges, nothing stranded.
    let totals = admin.totals().call().await.unwrap();
    assert_eq!((totals._0, totals._1), (season_end + 1, minted));
    let mut claimed = U256::ZERO;
    for g in [g1, g2] {
        let owed = admin.gaugeInfo(g, 0).call().await.unwrap()._2;
        assert!(owed > U256::ZERO);
        let before = admin_token.balanceOf(g).call().await.unwrap();
        sent(admin.claim(g).send().await).await;
        assert_eq!(
            admin_token.balanceOf(g).call().await.unwrap() - before,
            owed
        );
        claimed += owed;
    }
    let totals = admin.totals().call().await.unwrap();
    assert_eq!(totals._2, claimed);
    let held = admin_token.balanceOf(gauge_at).call().await.unwrap();
    assert_eq!(
        held, totals._3,
        "the controller holds exactly what is carried"
    );
    assert_eq!(totals._1, totals._2 + totals._3);
}
