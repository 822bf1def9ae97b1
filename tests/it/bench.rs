//! `verity bench`'s core run small and untimed: only what is deterministic is asserted — every receipt
//! succeeded, balances moved exactly, every transfer of the same shape used the same gas (and, with anvil
//! installed, the Solidity token's gas on devnode equals anvil's). Never a timing assertion.

use std::path::PathBuf;

use verity::bench::{
    bench_br_on_devnode, bench_solidity, compile_solidity, start_anvil, start_devnode, DevnodeKind,
    LoadConfig, LoadReport,
};

use crate::support::artifacts;

const TXS: usize = 20;
const SENDERS: usize = 4;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn assert_exact(load: &LoadReport) {
    assert_eq!(load.txs, TXS);
    assert_eq!(load.senders, SENDERS);
    assert_eq!(load.succeeded, TXS, "every receipt has status 1");
    assert_eq!(
        load.recipients_credited, TXS,
        "each recipient got exactly one amount"
    );
    assert_eq!(
        load.senders_debited, SENDERS,
        "each sender paid exactly its transfers"
    );
    assert!(load.supply_unchanged, "transfers do not change the supply");
    let (min, max) = load.gas_range().expect("gas figures");
    assert_eq!(
        min, max,
        "same-shaped transfers use the same gas: {:?}",
        load.gas_used
    );
    assert!(
        min > 21_000,
        "a token transfer costs more than a plain transfer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn br_transfers_on_devnode_succeed_and_move_balances_exactly() {
    let row = bench_br_on_devnode(
        &DevnodeKind::InProcess,
        artifacts(),
        &LoadConfig::new(TXS, SENDERS),
    )
    .await
    .expect("BR bench runs on devnode");
    assert_exact(&row.load);
    assert!(row.load.is_valid());
    assert_eq!(
        row.load.mine_nudges, 0,
        "devnode mines every admitted transaction by itself"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn solidity_twin_runs_on_devnode_with_anvils_gas() {
    let solcjs = std::env::var_os("SOLCJS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools/node_modules/solc/solc.js"));
    let Some(bytecode) = compile_solidity(&solcjs, &root().join("target/verity-bench"))
        .expect("BenchToken compiles")
    else {
        crate::support::skip(
            "solc",
            &format!("not installed: {} missing", solcjs.display()),
        );
        return;
    };
    let config = LoadConfig::new(TXS, SENDERS);
    let accounts = (SENDERS + 1) as u32;
    let devnode = start_devnode(&DevnodeKind::InProcess, accounts)
        .await
        .expect("devnode starts");
    let on_devnode = bench_solidity(&devnode, &bytecode, &config)
        .await
        .expect("BenchToken bench runs on devnode");
    assert_exact(&on_devnode.load);

    let anvil = std::env::var_os("ANVIL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            root().join(".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
        });
    if !anvil.is_file() {
        crate::support::skip("anvil", "not installed");
        return;
    }
    let anvil = start_anvil(&anvil, accounts).await.expect("anvil starts");
    let on_anvil = bench_solidity(&anvil, &bytecode, &config)
        .await
        .expect("BenchToken bench runs on anvil");
    assert_exact(&on_anvil.load);
    assert_eq!(
        on_devnode.load.gas_used, on_anvil.load.gas_used,
        "devnode charges the EVM token exactly what anvil charges"
    );
}

/// The gas benchmark's figures are deterministic, so its goals are asserted here (on fewer voters than
/// `verity bench`'s 1,000, for time): finalizing an epoch costs the same whatever the number of voters; a
/// registration batch of 100 costs at most 25% per item of a batch of 1; anchoring 150,000 receipts takes at
/// most 15 transactions and 1% of the gas of settling each receipt alone.
#[tokio::test(flavor = "multi_thread")]
async fn finalize_epoch_gas_does_not_grow_with_voters() {
    use verity::bench::{
        bench_gas, finalize_label, vote_label, FEW_VOTERS, FINALIZE_VOTER_RATIO_GOAL,
    };
    let many = 60;
    let report = bench_gas(&DevnodeKind::InProcess, artifacts(), many)
        .await
        .expect("gas benchmark runs on devnode");
    println!("{report}");
    let few_gas = report.gas(&finalize_label(FEW_VOTERS)).expect("few row");
    let many_gas = report.gas(&finalize_label(many)).expect("many row");
    assert!(few_gas > 21_000 && many_gas > 21_000);
    assert!(
        many_gas as f64 <= few_gas as f64 * FINALIZE_VOTER_RATIO_GOAL,
        "finalizeEpoch: {many_gas} gas with {many} voters vs {few_gas} with {FEW_VOTERS}"
    );
    assert!(report.goals.iter().all(|g| g.met), "{:?}", report.goals);
    // More gauges in one vote cost more gas (one tally update per gauge).
    let votes: Vec<u64> = [1, 5, 20]
        .map(|k| report.gas(&vote_label(k)).expect("vote row"))
        .to_vec();
    assert!(votes[0] < votes[1] && votes[1] < votes[2], "{votes:?}");
}

/// The registration benchmark's machinery, small: every version submitted at a steady rate is registered by
/// the in-process keeper (attester + batcher), and the figures are consistent. Its timing goals are measured by
/// `verity bench`, not asserted here.
#[tokio::test(flavor = "multi_thread")]
async fn registration_benchmark_registers_every_submitted_version() {
    let r = verity::bench::bench_registrations(
        &DevnodeKind::InProcess,
        artifacts(),
        24,
        std::time::Duration::from_secs(3),
        1,
    )
    .await
    .expect("the registration benchmark runs");
    assert_eq!(r.submitted, 24);
    assert_eq!(r.registered, r.submitted, "{r:?}");
    assert!(r.p50_secs <= r.p99_secs, "{r:?}");
    assert!(r.span_secs >= r.p99_secs, "{r:?}");
    // keeps up, p99, the chain's ceiling on paper from the measured gas per registration, and the low-fee wait
    // under the high-fee flood against its bound (`registered == submitted` above covers both fee classes: the
    // first submitter pays no priority fee).
    assert_eq!(r.report().goals.len(), 4);
    assert!(
        r.low_fee_max_secs <= r.span_secs && r.high_fee_max_secs <= r.span_secs,
        "{r:?}"
    );
    assert_eq!(r.aging_horizon_secs(), 10);
    assert!(
        r.gas_per_registration() > 21_000.0 && r.chain_ceiling_per_sec() > 0.0,
        "{r:?}"
    );
}

/// The inference benchmark, small: `verity dev` for three rounds with the three node processes, then 20 unpaid
/// inferences through one node. Only counts are asserted: every load request answered and counted once by the
/// node, the flaky node out of the traffic after the warm-up, and every paid request's `Answered` → `Proven`
/// measured on chain. Never a timing assertion.
#[tokio::test(flavor = "multi_thread")]
async fn inference_benchmark_counts_every_inference_once() {
    let report = verity::bench::inference::run(&verity::bench::inference::InferenceOptions {
        workspace: root(),
        rounds: 3,
        load: 20,
        concurrency: 4,
    })
    .await
    .expect("the inference benchmark runs");
    println!("{report}");
    assert_eq!(report.throughput.answered, 20);
    assert_eq!(
        report.throughput.node_counted, 20,
        "inference ran once per request"
    );
    assert!(
        report.stable_share >= verity::bench::inference::ROUTING_GOAL,
        "{report}"
    );
    let (_, _, proven) = report.answered_to_proven;
    assert!(proven >= 2, "paid requests proven on chain: {report}");
}

/// `verity bench --outbox-only` small and untimed: every intent of the burst confirmed exactly once (the run checks
/// each status and the sender's nonce itself and fails otherwise), every single intent timed.
#[tokio::test(flavor = "multi_thread")]
async fn outbox_benchmark_confirms_every_intent_once() {
    use verity::bench::outbox::{run, OutboxOptions};
    let report = run(&OutboxOptions {
        intents: 40,
        poll_ms: 50,
        singles: 2,
        devnode: DevnodeKind::InProcess,
    })
    .await
    .expect("every intent confirmed once");
    assert!(report.passes >= 2, "signed, then confirmed: {report:?}");
    assert_eq!(report.singles.len(), 2);
    assert!(report.tps() > 0.0);
    assert!(report.to_string().contains("| 40 |"));
}
