//! Promises the native suites check, run again on the compiled WASM on devnode (issue 17 item 3): settlement
//! refuses models that are not usable, veBR's whole lock life cycle with its bounds, gauge kill/revive and the
//! per-voter cap (deployed with a non-zero cap), and every registry metadata field read back as submitted.

use alloy::{
    primitives::{keccak256, Bytes, B256, U256},
    providers::Provider,
};
use verity_abi::{
    escrow::{
        week_floor, EscrowInvalidAmount, EscrowLockNotExpired, EscrowUnlockTooEarly,
        EscrowUnlockTooLate, MAX_LOCK, WEEK,
    },
    gauge::{GaugeIsKilled, Schedule, BPS},
    registry::{Format, Relation, Status, VersionSubmitted},
    rpc::{IBrToken, IGaugeController, IModelRegistry, IVotingEscrow},
    settlement::{mode, SettlementModelNotUsable},
    token::UNIT,
};
use verity_script::deploy::verity::VerityParams;

use crate::{
    settlement::{eth_milli, world, GOV, NODE, PAYER},
    support::{events, expect_error, now, tx, Harness},
};

fn br(n: u64) -> U256 {
    U256::from(n) * UNIT
}

/// Moves the clock to `t` (forward only) and mines.
async fn travel_to(h: &Harness, t: u64) {
    let current = now(h).await;
    if t > current {
        h.advance(t - current).await;
    }
}

/// One provider per dev account for a whole test (each caches its account's nonce, so a second provider of the
/// same account would reuse a nonce).
fn wallets(h: &Harness) -> Vec<impl Provider + Clone + use<>> {
    (0..h.accounts.len()).map(|i| h.wallet(i)).collect()
}

/// Gives `who` `amount` BR from the treasury (account 0) and lets the escrow pull it.
async fn fund_and_approve<P: Provider + Clone>(
    h: &Harness,
    wallets: &[P],
    who: usize,
    amount: U256,
) {
    let treasury = IBrToken::new(h.address("token"), wallets[0].clone());
    tx!(treasury.transfer(h.account(who), amount));
    let token = IBrToken::new(h.address("token"), wallets[who].clone());
    tx!(token.approve(h.address("escrow"), amount));
}

/// Moves the clock to `t` in steps of at most 180 days, renewing every deployed program's activation
/// (`ArbWasm.codehashKeepalive`, sent by account 0) after each step, as a chain operator must: Stylus programs
/// expire 365 days after activation (devnode enforces it), and a four-year lock outlives that.
async fn travel_far<P: Provider + Clone>(h: &Harness, wallets: &[P], t: u64) {
    use devnode::precompiles::{IArbWasm, ARB_WASM};
    loop {
        let current = now(h).await;
        if current >= t {
            return;
        }
        // The last step needs no renewal: the previous one was at most 180 days ago.
        let step = (t - current).min(180 * 86_400);
        h.advance(step).await;
        if current + step >= t {
            return;
        }
        for contract in h.deployment.contracts.values() {
            let code = wallets[0].get_code_at(contract.address).await.unwrap();
            let call = IArbWasm::codehashKeepaliveCall {
                codehash: keccak256(&code),
            };
            let request = alloy::rpc::types::TransactionRequest::default()
                .to(ARB_WASM)
                .input(alloy::sol_types::SolCall::abi_encode(&call).into());
            let pending = wallets[0].send_transaction(request).await.unwrap();
            assert!(pending.get_receipt().await.unwrap().status(), "keepalive");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn settlement_refuses_unknown_pending_and_yanked_models() {
    let w = world().await;
    let payer = &w.settlement[PAYER];
    let node = w.h.account(NODE);
    let request = |id: &str, model: U256| {
        payer
            .request(keccak256(id), node, model, keccak256("prompt"), mode::TEE)
            .value(eth_milli(5))
    };

    // Unknown version.
    let unknown = w.model + U256::from(1_000);
    let e: SettlementModelNotUsable = expect_error(request("unknown", unknown).call().await);
    assert_eq!(e.modelVersion, unknown);

    // Submitted but not yet registered: it exists, yet is unusable.
    let registry = IModelRegistry::new(w.h.address("registry"), w.h.wallet(GOV));
    let mut name = [0u8; 32];
    name[..7].copy_from_slice(b"pending");
    let receipt = tx!(registry
        .submit(
            B256::from(name),
            1,
            vec![],
            Relation::Original.code(),
            B256::repeat_byte(0xab),
            1_024,
            Bytes::from_static(b"https://weights.example/pending"),
            Format::Safetensors.code(),
            B256::repeat_byte(0x11),
            B256::repeat_byte(0x22),
            B256::repeat_byte(0x33),
            B256::repeat_byte(0x44),
            Bytes::new(),
            vec![],
        )
        .value(verity_script::deploy::verity::RegistryParams::default().min_fee));
    let pending = events::<VersionSubmitted>(&receipt)[0].id;
    let e: SettlementModelNotUsable = expect_error(request("pending", pending).call().await);
    assert_eq!(e.modelVersion, pending);

    // Registered, then yanked by its owner: refused; unyanked: accepted as a mined request.
    tx!(registry.setYanked(w.model, true));
    let e: SettlementModelNotUsable = expect_error(request("yanked", w.model).call().await);
    assert_eq!(e.modelVersion, w.model);
    tx!(registry.setYanked(w.model, false));
    tx!(request("usable", w.model));
    assert_eq!(
        w.status(keccak256("usable")).await,
        verity_abi::settlement::request_status::REQUESTED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ve_lock_bounds_increase_extend_and_withdraw() {
    let h = Harness::start().await;
    let w = wallets(&h);
    let voter = 3;
    fund_and_approve(&h, &w, voter, br(3_000)).await;
    let escrow = IVotingEscrow::new(h.address("escrow"), w[voter].clone());
    let token = IBrToken::new(h.address("token"), w[voter].clone());
    let who = h.account(voter);
    let t0 = now(&h).await;

    // Bounds: at least a week (after rounding down to a week), at most four years.
    let _: EscrowUnlockTooEarly =
        expect_error(escrow.createLock(br(1_000), t0 + 3 * 86_400).call().await);
    let _: EscrowUnlockTooLate = expect_error(
        escrow
            .createLock(br(1_000), t0 + MAX_LOCK + 2 * WEEK)
            .call()
            .await,
    );

    // The maximum lock: power ≈ the amount (rounded down to a week, so within a week's decay).
    let max_end = week_floor(t0 + MAX_LOCK);
    tx!(escrow.createLock(br(1_000), t0 + MAX_LOCK));
    let (amount, end) = {
        let l = escrow.locked(who).call().await.unwrap();
        (l._0, l._1)
    };
    assert_eq!((amount, end), (br(1_000), max_end));
    let power = escrow.balanceOf(who).call().await.unwrap();
    assert!(
        power <= br(1_000)
            && power >= br(1_000) - br(1_000) * U256::from(WEEK) / U256::from(MAX_LOCK)
    );

    // increaseAmount: zero refused; more BR raises the lock and the power, end unchanged.
    let _: EscrowInvalidAmount = expect_error(escrow.increaseAmount(U256::ZERO).call().await);
    tx!(escrow.increaseAmount(br(2_000)));
    let l = escrow.locked(who).call().await.unwrap();
    assert_eq!((l._0, l._1), (br(3_000), max_end));
    assert!(escrow.balanceOf(who).call().await.unwrap() > power * U256::from(2));
    assert_eq!(token.balanceOf(who).call().await.unwrap(), U256::ZERO);

    // increaseUnlockTime past the maximum is refused; so is one that does not move the end later.
    let _: EscrowUnlockTooLate = expect_error(
        escrow
            .increaseUnlockTime(now(&h).await + MAX_LOCK + 2 * WEEK)
            .call()
            .await,
    );
    let _: EscrowUnlockTooEarly = expect_error(escrow.increaseUnlockTime(max_end).call().await);

    // Withdraw before the end: refused. After it: every BR back, lock and power zero.
    let _: EscrowLockNotExpired = expect_error(escrow.withdraw().call().await);
    travel_far(&h, &w, max_end + 1).await;
    assert_eq!(escrow.balanceOf(who).call().await.unwrap(), U256::ZERO);
    tx!(escrow.withdraw());
    assert_eq!(token.balanceOf(who).call().await.unwrap(), br(3_000));
    let l = escrow.locked(who).call().await.unwrap();
    assert_eq!((l._0, l._1), (U256::ZERO, 0));
    assert_eq!(escrow.supply().call().await.unwrap(), U256::ZERO);

    // A short lock can be extended: lock two weeks, extend to ten; the end moves and the power grows.
    fund_and_approve(&h, &w, voter, br(100)).await;
    let t1 = now(&h).await;
    tx!(escrow.createLock(br(100), t1 + 2 * WEEK + 86_400));
    let before = escrow.balanceOf(who).call().await.unwrap();
    tx!(escrow.increaseUnlockTime(t1 + 10 * WEEK + 86_400));
    let l = escrow.locked(who).call().await.unwrap();
    assert_eq!(l._1, week_floor(t1 + 10 * WEEK + 86_400));
    assert!(escrow.balanceOf(who).call().await.unwrap() > before * U256::from(4));
}

#[tokio::test(flavor = "multi_thread")]
async fn gauge_kill_revive_and_the_per_voter_cap() {
    const CAP_BPS: u64 = 2_000;
    let h = Harness::start_with(VerityParams {
        gauge_cap_bps: CAP_BPS,
        ..VerityParams::default()
    })
    .await;
    let w = wallets(&h);
    let gauge_at = h.address("gauge");
    let admin = IGaugeController::new(gauge_at, w[0].clone());
    let config = admin.config().call().await.unwrap();
    assert_eq!(config._6, CAP_BPS, "deployed with the cap");
    let s = Schedule::new(config._2, config._3, config._4, config._5);
    let mut gauges = [h.account(6), h.account(7), h.account(8)];
    gauges.sort();
    let [g1, g2, g3] = gauges;
    for g in gauges {
        tx!(admin.addGauge(g));
    }

    // A whale with 90% of veBR and a small holder, both locked for 100 weeks.
    let t0 = now(&h).await;
    for (voter, amount) in [(1, 9_000u64), (2, 1_000)] {
        fund_and_approve(&h, &w, voter, br(amount)).await;
        let escrow = IVotingEscrow::new(h.address("escrow"), w[voter].clone());
        tx!(escrow.createLock(br(amount), t0 + 100 * WEEK));
    }
    let e1 = s.epoch_at(t0).unwrap() + 1;
    travel_to(&h, s.vote_window(e1).0 + 10).await;
    for e in 0..e1 {
        tx!(admin.finalizeEpoch(e));
    }

    // Kill g3: a vote for it is refused; revived, it takes votes again.
    tx!(admin.killGauge(g3));
    let small = IGaugeController::new(gauge_at, w[2].clone());
    let e: GaugeIsKilled = expect_error(small.vote(vec![g3], vec![10_000]).call().await);
    assert_eq!(e.gauge, g3);
    tx!(admin.reviveGauge(g3));
    tx!(small.vote(vec![g2, g3], vec![5_000, 5_000]));
    assert!(admin.gaugeInfo(g3, e1).call().await.unwrap()._3 > U256::ZERO);

    // The whale's whole power on g1 is capped at 20% of veBR's supply at the epoch start.
    let whale = IGaugeController::new(gauge_at, w[1].clone());
    tx!(whale.vote(vec![g1], vec![10_000]));
    let escrow = IVotingEscrow::new(h.address("escrow"), w[0].clone());
    let supply = escrow
        .totalSupplyAt(s.epoch_start(e1))
        .call()
        .await
        .unwrap();
    let whale_power = escrow
        .balanceOfAt(h.account(1), s.epoch_start(e1))
        .call()
        .await
        .unwrap();
    let cap = supply * U256::from(CAP_BPS) / U256::from(BPS);
    let w1 = admin.gaugeInfo(g1, e1).call().await.unwrap()._3;
    assert!(
        whale_power > cap * U256::from(4),
        "uncapped, the whale would hold ~90%"
    );
    assert!(w1 <= cap, "capped weight {w1} exceeds {cap}");
    assert!(
        cap - w1 <= cap / U256::from(1_000),
        "the cap binds, not a rounding to zero: {w1} vs {cap}"
    );
    let stats = admin.epochStats(e1).call().await.unwrap();
    assert_eq!(stats._0, 2);
    let mut sum = U256::ZERO;
    for g in [g1, g2, g3] {
        sum += admin.gaugeInfo(g, e1).call().await.unwrap()._3;
    }
    assert!(sum >= w1, "Σ gauge weights includes the capped whale's");
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_metadata_fields_read_back_as_submitted() {
    let h = Harness::start().await;
    let registry = IModelRegistry::new(h.address("registry"), h.wallet(1));
    let mut name = [0u8; 32];
    name[..8].copy_from_slice(b"metadata");
    let fee = verity_script::deploy::verity::RegistryParams::default().min_fee * U256::from(3);
    let tags = vec![B256::repeat_byte(0x55), B256::repeat_byte(0x66)];
    let receipt = tx!(registry
        .submit(
            B256::from(name),
            7,
            vec![],
            Relation::Original.code(),
            B256::repeat_byte(0xc7),
            123_456,
            Bytes::from_static(b"https://weights.example/metadata.safetensors"),
            Format::Gguf.code(),
            B256::repeat_byte(0x11),
            B256::repeat_byte(0x22),
            B256::repeat_byte(0x33),
            B256::repeat_byte(0x44),
            Bytes::from_static(b"ipfs://model-card"),
            tags.clone(),
        )
        .value(fee));
    let ev = &events::<VersionSubmitted>(&receipt)[0];
    assert_eq!(
        (
            ev.storageUri.as_ref(),
            ev.metadataUri.as_ref(),
            &ev.tags,
            ev.fee
        ),
        (
            &b"https://weights.example/metadata.safetensors"[..],
            &b"ipfs://model-card"[..],
            &tags,
            fee
        )
    );
    let info = registry.version(ev.id).call().await.unwrap();
    assert_eq!(
        (
            info.name,
            info.version,
            info.submitter,
            info.relation,
            info.parentCount
        ),
        (
            B256::from(name),
            7,
            h.account(1),
            Relation::Original.code(),
            0
        )
    );
    assert_eq!(
        (info.format, info.contentHash, info.size),
        (Format::Gguf.code(), B256::repeat_byte(0xc7), 123_456)
    );
    assert_eq!(
        (
            info.runtime,
            info.ioSchemaHash,
            info.licenseId,
            info.metadataHash
        ),
        (
            B256::repeat_byte(0x11),
            B256::repeat_byte(0x22),
            B256::repeat_byte(0x33),
            B256::repeat_byte(0x44)
        )
    );
    assert_eq!(info.fee, fee);
    assert_eq!(Status::try_from(info.status).unwrap(), Status::Submitted);
    assert_eq!((info.storageExpiry, info.registeredAt), (0, 0));
    assert!(info.submittedAt > 0);
}
