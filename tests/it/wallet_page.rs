//! The status page's wallet panel, in headless Chromium, inside `verity dev`'s session (issue 20): an injected
//! EIP-1193 provider forwards to devnode, whose unlocked dev account signs. The page connects, locks BR, votes too
//! early (the controller's refusal shown decoded), votes in the next epoch, and — once the keeper has finalized
//! that epoch — marks the vote on the chart; then it withdraws the account's settlement credit. Everything the page
//! claims is checked against the chain: the lock, the vote's events, the keeper's finalization, each bar's weight,
//! the vote's weight, and the withdrawal.

use std::path::Path;
use std::process::Command;

use alloy::eips::BlockId;
use alloy::primitives::{utils::parse_ether, Address, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use verity::dev::DevSession;
use verity_abi::gauge::{EpochFinalized, GaugeVote, Schedule, VoteCast};
use verity_abi::rpc::{IBrToken, IGaugeController, IInferenceSettlement, IVotingEscrow};

/// BR the page locks, and for how many weeks.
const LOCK_BR: &str = "1000";
const LOCK_WEEKS: u64 = 52;
/// The dev account the page's wallet holds: the demo's `near` inference node, the one the client routes to once it
/// has seen the near node fail, so it has settlement fees to withdraw; it holds no lock (the demo's veBR holders
/// are other accounts).
const WALLET_ACCOUNT: usize = 4;

fn text(v: &serde_json::Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

/// The transaction hash at the end of a "mined … 0x…" line.
fn tx_hash(line: &str) -> B256 {
    line.rsplit(' ')
        .next()
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("no transaction hash in {line:?}"))
}

/// Runs the wallet scenario in the browser and checks it against the chain; skipped (with one line, failing under
/// `CI=true`) when Chromium or playwright-core are missing.
pub(crate) async fn wallet_page_locks_votes_and_withdraws(session: &DevSession) {
    let (module, chromium) = match crate::dev::browser() {
        Ok(found) => found,
        Err(why) => {
            crate::support::skip("wallet panel browser check", &why);
            return;
        }
    };
    let chain = ProviderBuilder::new().connect_http(session.rpc_url.parse().unwrap());
    let contracts = &session.deployment.contracts;
    let token = IBrToken::new(contracts["token"].address, &chain);
    let escrow = IVotingEscrow::new(contracts["escrow"].address, &chain);
    let gauge = IGaugeController::new(contracts["gauge"].address, &chain);
    let settlement = IInferenceSettlement::new(contracts["settlement"].address, &chain);
    let accounts = chain.get_accounts().await.unwrap();
    let (treasury, me) = (accounts[0], accounts[WALLET_ACCOUNT]);
    assert_eq!(
        escrow.locked(me).call().await.unwrap()._0,
        U256::ZERO,
        "the wallet starts without a lock"
    );
    // The treasury (devnode signs for it) gives the wallet the BR it will lock.
    let amount = parse_ether(LOCK_BR).unwrap();
    let transfer = IBrToken::transferCall {
        to: me,
        value: amount,
    };
    chain
        .send_transaction(
            TransactionRequest::default()
                .from(treasury)
                .to(*token.address())
                .input(transfer.abi_encode().into()),
        )
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let c = gauge.config().call().await.unwrap();
    let schedule = Schedule::new(c._2, c._3, c._4, c._5);

    let output = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/wallet_page.cjs"))
        .arg(format!("{}/", session.keeper_url))
        .arg(&session.rpc_url)
        .arg(me.to_string())
        .arg(LOCK_BR)
        .arg(LOCK_WEEKS.to_string())
        .env("PLAYWRIGHT_CORE", &module)
        .env("CHROMIUM_BIN", &chromium)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "wallet page check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let page: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the script prints one JSON line");
    println!("wallet panel: {page}");
    assert_eq!(page["errors"], serde_json::json!([]), "no script errors");
    assert_eq!(text(&page["connected"]), me.to_string().to_lowercase());
    let e0 = page["e0"].as_u64().unwrap();
    let e1 = page["e1"].as_u64().unwrap();
    assert_eq!(e1, e0 + 1);

    // The lock, as the chain has it.
    assert_eq!(text(&page["approve"]["state"]), "mined", "{page}");
    assert_eq!(text(&page["lock"]["state"]), "mined", "{page}");
    let (locked, end) = {
        let l = escrow.locked(me).call().await.unwrap();
        (l._0, l._1)
    };
    assert_eq!(locked, amount);
    assert!(end > schedule.epoch_start(e0) + (LOCK_WEEKS - 1) * verity_abi::escrow::WEEK);

    // The early vote: refused by the controller (no power at the epoch start), shown decoded with its arguments.
    assert_eq!(text(&page["rejected"]["state"]), "rejected", "{page}");
    let expected = format!(
        "GaugeNoVotingPower({}, {})",
        me.to_string().to_lowercase(),
        schedule.epoch_start(e0)
    );
    assert!(
        text(&page["rejected"]["text"]).contains(&expected),
        "{} lacks {expected}",
        page["rejected"]["text"]
    );

    // The vote: exactly one, in e1, all on the gauge the form named.
    assert_eq!(text(&page["vote"]["state"]), "mined", "{page}");
    let voted: Address = text(&page["votedGauge"]).parse().unwrap();
    let gauge_at = *gauge.address();
    let logs = |sig: B256| {
        let chain = &chain;
        async move {
            chain
                .get_logs(
                    &Filter::new()
                        .address(gauge_at)
                        .event_signature(sig)
                        .topic1(me.into_word())
                        .from_block(0),
                )
                .await
                .unwrap()
        }
    };
    let casts: Vec<VoteCast> = logs(VoteCast::SIGNATURE_HASH)
        .await
        .iter()
        .map(|l| VoteCast::decode_log_data(l.data()).unwrap())
        .collect();
    assert_eq!(casts.len(), 1, "one vote landed (the early one did not)");
    assert_eq!(casts[0].epoch, e1);
    let allocations: Vec<GaugeVote> = logs(GaugeVote::SIGNATURE_HASH)
        .await
        .iter()
        .map(|l| GaugeVote::decode_log_data(l.data()).unwrap())
        .collect();
    assert_eq!(allocations.len(), 1);
    assert_eq!(
        (allocations[0].gauge, allocations[0].bps),
        (voted, U256::from(10_000))
    );
    // The weight the vote gives e1: slope × (end − start).
    let mine = allocations[0].slope * U256::from(casts[0].end - schedule.epoch_start(e1));
    assert!(mine > U256::ZERO);

    // The keeper finalized e1.
    let finalized = chain
        .get_logs(
            &Filter::new()
                .address(*gauge.address())
                .event_signature(EpochFinalized::SIGNATURE_HASH)
                .topic1(B256::from(U256::from(e1)))
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(finalized.len(), 1, "epoch {e1} finalized once");
    let by = chain
        .get_transaction_receipt(finalized[0].transaction_hash.unwrap())
        .await
        .unwrap()
        .unwrap()
        .from;
    assert_eq!(by, session.summary.keeper, "by the keeper's account");

    // The chart: each bar of e1 has the controller's weight; the vote's mark and row have the vote's weight.
    let bars = page["bars"].as_array().unwrap();
    assert!(!bars.is_empty(), "e1 has bars");
    let mut voted_bar = None;
    for bar in bars {
        let g: Address = text(&bar["gauge"]).parse().unwrap();
        let w: U256 = text(&bar["weight"]).parse().unwrap();
        assert_eq!(
            w,
            gauge.gaugeInfo(g, e1).call().await.unwrap()._3,
            "gauge {g} in epoch {e1}"
        );
        if g == voted {
            voted_bar = Some(w);
        }
    }
    assert!(
        voted_bar.expect("the voted gauge has a bar") >= mine,
        "the voted gauge's bar includes the vote"
    );
    assert_eq!(text(&page["marker"]["weight"]), mine.to_string());
    assert_eq!(text(&page["myVote"]["weight"]), mine.to_string());

    // The withdrawal: the whole credit the account had just before, nothing left after.
    let before: U256 = text(&page["creditBefore"]).parse().unwrap();
    assert!(before > U256::ZERO, "the node account earned fees: {page}");
    assert_eq!(text(&page["withdraw"]["state"]), "mined", "{page}");
    let receipt = chain
        .get_transaction_receipt(tx_hash(text(&page["withdraw"]["text"])))
        .await
        .unwrap()
        .expect("the withdrawal is mined");
    let block = receipt.block_number.unwrap();
    let credit_at = |b: u64| {
        let settlement = &settlement;
        async move {
            settlement
                .credit(me)
                .block(BlockId::number(b))
                .call()
                .await
                .unwrap()
        }
    };
    assert!(credit_at(block - 1).await > U256::ZERO);
    assert_eq!(credit_at(block).await, U256::ZERO);
}
