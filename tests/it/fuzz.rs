//! Bounded adversarial runs in the suite (issue 17): calldata fuzzing of every deployed contract on an
//! in-process devnode, the regression corpus, malformed JSON-RPC and mutated programs at activation.
//! `verity fuzz` runs the same code with more inputs; `VERITY_FUZZ_SEED` overrides the fixed seed here.

use std::path::PathBuf;

use devnode::rpc::{server::lock, start, NodeConfig};
use verity_fuzz::calldata::{self, Config, Input, Target};

use crate::support::{artifacts, ScratchDir};

fn seed() -> u64 {
    std::env::var("VERITY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0017)
}

/// A fresh node with Verity deployed under the fuzzer's roles, and the fuzz target.
async fn deployed() -> (
    devnode::rpc::NodeHandle,
    Vec<(String, alloy::primitives::Address)>,
) {
    let node = start(NodeConfig::default()).await.expect("devnode starts");
    let dir = ScratchDir::new("fuzz");
    let contracts = verity_fuzz::deploy(&node, artifacts(), &dir.0)
        .await
        .expect("Verity deploys");
    (node, contracts)
}

#[tokio::test(flavor = "multi_thread")]
async fn random_calldata_never_traps_and_keeps_the_invariants() {
    let (node, contracts) = deployed().await;
    let chain = node.chain();
    let seed = seed();
    println!("seed {seed}");
    let report = tokio::task::spawn_blocking(move || {
        let mut chain = lock(&chain);
        let mut target = Target::new(&chain, contracts);
        let config = Config {
            seed,
            inputs: 1_000,
            contract: None,
            sequence: 64,
            deep: true,
        };
        calldata::run(&mut chain, &mut target, &config)
    })
    .await
    .unwrap();
    print!("{}", report.table());
    assert_eq!(report.stats.len(), 9, "every planned contract is fuzzed");
    for s in &report.stats {
        assert!(
            s.success > 0 && s.typed + s.sdk > 0,
            "{} saw no variety: {s:?}",
            s.contract
        );
    }
    assert!(
        report.findings.is_empty(),
        "findings: {:#?}",
        report.findings
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_regression_corpus_replays_without_findings() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut inputs: Vec<Input> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let mut more: Vec<Input> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        inputs.append(&mut more);
    }
    assert!(!inputs.is_empty(), "the corpus is empty");
    let (node, contracts) = deployed().await;
    let chain = node.chain();
    let findings = tokio::task::spawn_blocking(move || {
        let mut chain = lock(&chain);
        let target = Target::new(&chain, contracts);
        calldata::replay(&mut chain, &target, &inputs)
    })
    .await
    .unwrap();
    assert!(findings.is_empty(), "findings: {findings:#?}");
}

/// The first 100,000-input run (seed 7) "found" BR transferred straight to veBR and the GaugeController: a donation
/// no contract can refuse, which broke the fuzzer's books check while it was an equality. The books are solvency
/// checks now (held ≥ owed); this replays such donations and asserts they landed and broke nothing.
#[tokio::test(flavor = "multi_thread")]
async fn donations_to_value_holding_contracts_keep_the_books_solvent() {
    use alloy::{
        primitives::{Address, U256},
        sol_types::SolCall,
    };
    use verity_abi::rpc::IBrToken;
    let (node, contracts) = deployed().await;
    let address = |name: &str| -> Address { contracts.iter().find(|(n, _)| n == name).unwrap().1 };
    let (token, escrow, gauge) = (address("token"), address("escrow"), address("gauge"));
    let inputs: Vec<Input> = [(escrow, 22_788_524_881u64), (gauge, 344)]
        .into_iter()
        .map(|(to, value)| Input {
            contract: "token".into(),
            caller: 0,
            value: U256::ZERO,
            calldata: IBrToken::transferCall {
                to,
                value: U256::from(value),
            }
            .abi_encode()
            .into(),
        })
        .collect();
    let chain = node.chain();
    let (findings, held) = tokio::task::spawn_blocking(move || {
        let mut chain = lock(&chain);
        let target = Target::new(&chain, contracts);
        let findings = calldata::replay(&mut chain, &target, &inputs);
        let held: Vec<U256> = [escrow, gauge]
            .iter()
            .map(|who| {
                let call = IBrToken::balanceOfCall { account: *who }.abi_encode();
                let request = alloy::rpc::types::TransactionRequest::default()
                    .to(token)
                    .input(call.into());
                let out = chain.call(&request, None, None).unwrap();
                IBrToken::balanceOfCall::abi_decode_returns(&out).unwrap()
            })
            .collect();
        (findings, held)
    })
    .await
    .unwrap();
    assert_eq!(
        held,
        [U256::from(22_788_524_881u64), U256::from(344)],
        "the donations landed"
    );
    assert!(findings.is_empty(), "findings: {findings:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_rpc_always_gets_a_json_rpc_answer() {
    let node = start(NodeConfig::default()).await.expect("devnode starts");
    let chain = node.chain();
    let real = verity_fuzz::rpc::real_tx(&mut lock(&chain));
    let report = verity_fuzz::rpc::run(node.url(), &chain, &real, seed(), 3_000).await;
    println!("{report:?}");
    assert!(report.errors > 1_000, "mostly errors: {report:?}");
    assert!(
        report.findings.is_empty(),
        "findings: {:#?}",
        report.findings
    );
}

#[test]
fn mutated_programs_are_rejected_with_a_typed_error() {
    let token = artifacts().get("token").unwrap();
    let report = verity_fuzz::activation::run(&token.code, &token.wasm, seed(), 400);
    println!("{report:?}");
    assert!(report.rejected > 300, "{report:?}");
    assert!(report.panics.is_empty(), "panics: {:#?}", report.panics);
}

/// The fuzzer's invariant checks can fail: the deep state passes them, then a tampered balance (ETH taken from
/// InferenceSettlement) and a tampered history (a Registered version remembered as Rejected, which is final) are
/// each reported.
#[tokio::test(flavor = "multi_thread")]
async fn the_invariant_checks_catch_broken_books_and_lifecycles() {
    use alloy::primitives::U256;
    use verity_abi::registry::Status;
    use verity_fuzz::invariants::{self, Tracked};
    let (node, contracts) = deployed().await;
    let chain = node.chain();
    tokio::task::spawn_blocking(move || {
        let mut chain = lock(&chain);
        let mut target = Target::new(&chain, contracts);
        let mut tracked = Tracked::default();
        verity_fuzz::state::build(&mut chain, &mut target, &mut tracked).expect("deep state");
        assert_eq!(
            invariants::check(&mut chain, &target, &mut tracked),
            Vec::<String>::new(),
            "the deep state keeps every invariant"
        );
        assert!(tracked.versions.len() >= 4 && tracked.requests.len() == 3);
        assert!(tracked.batches.len() == 1 && tracked.nodes.len() == 2);

        let (id, version) = tracked
            .versions
            .iter_mut()
            .find(|(_, v)| v.status == Some(Status::Registered.code()))
            .expect("a registered version");
        version.status = Some(Status::Rejected.code());
        let id = *id;
        let settlement = target.address("settlement").unwrap();
        chain.set_balance(settlement, U256::ZERO);
        let broken = invariants::check(&mut chain, &target, &mut tracked);
        assert!(
            broken
                .iter()
                .any(|b| b.contains(&format!("version {id} moved from status 4 to 3"))),
            "{broken:#?}"
        );
        assert!(
            broken.iter().any(|b| b.starts_with("settlement books")),
            "{broken:#?}"
        );
    })
    .await
    .unwrap();
}
