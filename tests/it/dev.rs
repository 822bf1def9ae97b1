//! `verity dev` end to end, short: devnode in-process, every contract built and deployed, the real
//! `verity-keeper` binary on SQLite, traffic for a few seconds. The end state is asserted from the chain
//! (events and views, read by [`verity::dev::run`]'s summary), not from the driver's own counters; then the
//! keeper's status page is opened in headless Chromium and what it shows is compared with the chain.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::sol_types::SolEvent;
use verity::dev::{run_with, DevOptions, DevSession};
use verity_abi::registry::{Reason, Status};
use verity_abi::rpc::{IGaugeController, IModelRegistry};
use verity_abi::settlement::void_reason;

use crate::support::ScratchDir;

#[tokio::test(flavor = "multi_thread")]
async fn dev_runs_chain_deploy_keeper_and_traffic() {
    let scratch = ScratchDir::new("dev");
    let mut options = DevOptions::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    // As fast as rounds go (each is a week of chain time): 14 rounds cross a season flip (12 weeks); the
    // duration only bounds a stuck run.
    options.rounds = Some(14);
    options.duration = Duration::from_secs(300);
    options.rate = 100.0;
    options.port = 0;
    options.keeper_port = 0;
    options.data_dir = scratch.0.join("keeper");
    options.record_dir = scratch.0.join("deployments");
    let summary = run_with(&options, |session| async move {
        api_models_filters_match_the_chain(&session).await;
        status_page_matches_the_chain(&session).await;
        // Last: it moves the chain two epochs on.
        crate::wallet_page::wallet_page_locks_votes_and_withdraws(&session).await;
        Ok(())
    })
    .await
    .expect("verity dev runs");
    println!("{summary:?}");
    assert!(
        scratch.0.join("deployments/devnet.json").is_file(),
        "deployment recorded"
    );
    // Registry, all through the keeper service: every submitted version reached a final state; every fourth
    // lacked its license (rejected at registration), every seventh named a wrong hash (rejected at attestation).
    assert_eq!(summary.submitted, 28, "two versions per round");
    assert_eq!(summary.pending, 0);
    assert_eq!(
        summary.registered + summary.rejected.len() as u64,
        summary.submitted
    );
    let count = |reason: Reason| {
        summary
            .rejected
            .iter()
            .filter(|r| **r == reason.code())
            .count()
    };
    assert_eq!(count(Reason::MissingLicense), 7, "{summary:?}");
    assert_eq!(count(Reason::ContentHashMismatch), 3, "{summary:?}");
    assert_eq!(summary.rejected.len(), 10, "{summary:?}");
    // veBR: the keeper service (its own account) finalized every epoch that fell due, across a season flip.
    assert!(summary.epochs_finalized >= 12, "{summary:?}");
    assert_eq!(summary.epochs_by_keeper, summary.epochs_finalized);
    assert!(summary.seasons >= 2, "{summary:?}");
    assert!(summary.minted > alloy::primitives::U256::ZERO);
    // Real inference through three node processes: every request answered through the client ran once on one
    // node (the nodes' own metrics), and each signed receipt was anchored in a batch that became final.
    let nodes = &summary.nodes;
    assert_eq!(nodes.len(), 3, "{summary:?}");
    let sum = |f: fn(&verity::dev::NodeOutcome) -> u64| nodes.iter().map(f).sum::<u64>();
    let routed = sum(|n| n.routed);
    assert!(
        routed >= 14 * 6,
        "six unpaid inferences a round at least: {summary:?}"
    );
    assert_eq!(
        sum(|n| n.inferences),
        routed,
        "inference ran once per request: {summary:?}"
    );
    assert_eq!(sum(|n| n.receipts_signed), routed, "{summary:?}");
    assert_eq!(
        summary.receipts_final, routed,
        "every receipt final: {summary:?}"
    );
    // The near but flaky node (half its calls fail) loses the traffic once the client has seen it fail: after the
    // warm-up, at least 90% of the requests go to the stable nodes.
    let flaky = nodes.iter().find(|n| n.name == "near-flaky").unwrap();
    let after = sum(|n| n.routed_after_warmup);
    assert!(
        after > 0 && flaky.routed_after_warmup * 10 <= after,
        "{summary:?}"
    );
    assert!(
        flaky.failures > 0,
        "the client tried the nearest node and saw it fail: {summary:?}"
    );
    // Settlement, all through the keeper service: the forged batch voided by the keeper's challenge (signed by
    // no registered enclave key); every paid request the client routed proven by batch and — but the last
    // round's, still in its window — settled; every third round's request to the offline node, and any paid
    // request its node failed to answer, refunded at its deadline.
    assert_eq!(
        summary.batches_voided,
        [(void_reason::BAD_SIGNATURE, summary.keeper)],
        "{summary:?}"
    );
    assert_eq!(summary.requests, 14 + 14 / 3, "{summary:?}");
    let answered = sum(|n| n.answered);
    assert_eq!(answered + summary.refunded, summary.requests, "{summary:?}");
    assert_eq!(
        summary.refunded,
        14 / 3 + sum(|n| n.refunded),
        "{summary:?}"
    );
    assert_eq!(summary.proven_by_batch, answered, "{summary:?}");
    assert_eq!(sum(|n| n.proven), answered, "{summary:?}");
    assert!(summary.settled + 1 >= answered, "{summary:?}");
    // Batch finalizations, proofs, settlements, refunds and the challenge: all sent by the keeper's account.
    assert!(
        summary.settlement_txs_by_keeper
            >= summary.batches_final + answered + (answered - 1) + summary.refunded,
        "{summary:?}"
    );
}

/// Waits until the keeper's index has applied the chain's head block.
async fn index_caught_up(session: &DevSession) {
    let chain = ProviderBuilder::new().connect_http(session.rpc_url.parse().unwrap());
    let head = chain.get_block_number().await.unwrap();
    let client = alloy::transports::http::reqwest::Client::new();
    let summary_url = format!("{}/api/summary", session.keeper_url);
    let mut indexed = 0;
    for _ in 0..100 {
        let body: serde_json::Value = client
            .get(&summary_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        indexed = body["block"].as_u64().unwrap_or(0);
        if indexed >= head {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("index at {indexed}, chain at {head}");
}

/// `/api/models` by owner, parent and tag, end to end: every listing equals what the chain's `VersionSubmitted`
/// events and `version(id)` views give for the registered versions (in `verity dev` each name belongs to the one
/// owner who submits its versions, so the name's owner is the submitter); bad filters are a one-line 400.
async fn api_models_filters_match_the_chain(session: &DevSession) {
    use std::collections::BTreeSet;
    index_caught_up(session).await;
    let chain = ProviderBuilder::new().connect_http(session.rpc_url.parse().unwrap());
    let at = session.deployment.contracts["registry"].address;
    let registry = IModelRegistry::new(at, &chain);
    let logs = chain
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(at)
                .event_signature(verity_abi::registry::VersionSubmitted::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    let mut listed = Vec::new();
    for log in &logs {
        let ev = verity_abi::registry::VersionSubmitted::decode_log_data(log.data()).unwrap();
        let status = registry.version(ev.id).call().await.unwrap().status;
        if status == Status::Registered.code() || status == Status::Yanked.code() {
            let id: u64 = ev.id.to();
            listed.push((id, ev.submitter, ev.parents.clone(), ev.tags.clone()));
        }
    }
    assert!(listed.len() >= 10, "registered versions: {}", listed.len());
    let client = alloy::transports::http::reqwest::Client::new();
    let ids = |query: String| {
        let client = client.clone();
        let url = format!("{}/api/models?{query}", session.keeper_url);
        async move {
            let body: serde_json::Value =
                client.get(&url).send().await.unwrap().json().await.unwrap();
            body.as_array()
                .unwrap_or_else(|| panic!("{url}: {body}"))
                .iter()
                .map(|v| v["id"].as_u64().unwrap())
                .collect::<BTreeSet<u64>>()
        }
    };
    let all: BTreeSet<u64> = listed.iter().map(|l| l.0).collect();
    assert_eq!(
        ids(String::new()).await,
        all,
        "every registered version, nothing else"
    );
    let owners: BTreeSet<_> = listed.iter().map(|l| l.1).collect();
    assert!(owners.len() >= 2);
    for owner in owners {
        let expected: BTreeSet<u64> = listed
            .iter()
            .filter(|l| l.1 == owner)
            .map(|l| l.0)
            .collect();
        assert_eq!(
            ids(format!("owner={owner}")).await,
            expected,
            "owner {owner}"
        );
    }
    let parents: BTreeSet<U256> = listed.iter().flat_map(|l| l.2.clone()).collect();
    assert!(!parents.is_empty(), "the demo fine-tunes earlier versions");
    for parent in parents {
        let expected: BTreeSet<u64> = listed
            .iter()
            .filter(|l| l.2.contains(&parent))
            .map(|l| l.0)
            .collect();
        assert_eq!(
            ids(format!("parent={parent}")).await,
            expected,
            "children of {parent}"
        );
    }
    let demo = verity_keeper::index::label_word("demo").unwrap();
    let tagged: BTreeSet<u64> = listed
        .iter()
        .filter(|l| l.3.contains(&demo))
        .map(|l| l.0)
        .collect();
    assert_eq!(ids("tag=demo".into()).await, tagged);
    assert!(ids("tag=no-such-tag".into()).await.is_empty());
    let bad = client
        .get(format!(
            "{}/api/models?owner=0xnot-an-address",
            session.keeper_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().starts_with("owner:"),
        "{body}"
    );
}

/// Where playwright-core and Chromium are, or why the browser check cannot run here.
pub(crate) fn browser() -> Result<(PathBuf, PathBuf), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let module = root.join(".tools/node_modules/playwright-core");
    if !module.is_dir() {
        return Err(format!(
            "{} missing (script/test installs it)",
            module.display()
        ));
    }
    let chromium = std::env::var_os("CHROMIUM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.is_file() {
        return Err(format!(
            "{} missing (script/test installs Debian's chromium)",
            chromium.display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("node missing".into());
    }
    Ok((module, chromium))
}

/// Opens the status page in headless Chromium once the keeper's index has caught up, and checks its figures
/// against the chain: counts from the summary (events and views), per-epoch voters from `epochStats`, and a
/// lookup typed into the form against `version(id)`.
async fn status_page_matches_the_chain(session: &DevSession) {
    let (module, chromium) = match browser() {
        Ok(found) => found,
        Err(why) => {
            crate::support::skip("status page browser check", &why);
            return;
        }
    };
    let chain = ProviderBuilder::new().connect_http(session.rpc_url.parse().unwrap());
    let head = chain.get_block_number().await.unwrap();
    // The index polls every second: wait until it has applied the head.
    index_caught_up(session).await;
    let client = alloy::transports::http::reqwest::Client::new();

    // A registered and a rejected version, as the chain says.
    let registry = IModelRegistry::new(session.deployment.contracts["registry"].address, &chain);
    let mut registered = None;
    for id in 1..=session.summary.submitted {
        let v = registry.version(U256::from(id)).call().await.unwrap();
        if v.status == Status::Registered.code() && registered.is_none() {
            registered = Some(id);
        }
    }
    let registered = registered.expect("a registered version");

    // A settled paid request, as the chain says.
    let settled = chain
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(session.deployment.contracts["settlement"].address)
                .event_signature(verity_abi::settlement::Settled::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    let settled = settled
        .first()
        .map(|l| {
            verity_abi::settlement::Settled::decode_log_data(l.data())
                .unwrap()
                .requestId
        })
        .expect("a settled request");

    let output = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/status_page.cjs"))
        .arg(format!("{}/", session.keeper_url))
        .arg(registered.to_string())
        .arg(settled.to_string())
        .env("PLAYWRIGHT_CORE", &module)
        .env("CHROMIUM_BIN", &chromium)
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "browser check failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let page: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the script prints one JSON line");
    println!("status page: {page}");
    let s = &session.summary;
    let number = |key: &str| page[key].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(
        page["errors"],
        serde_json::json!([]),
        "no script errors, no failed requests"
    );
    assert_eq!(
        page["errorsAfter"],
        serde_json::json!([]),
        "only the bad lookup's expected 400"
    );
    assert_eq!(number("submitted"), s.submitted);
    assert_eq!(number("registered"), s.registered);
    assert_eq!(number("rejected"), s.rejected.len() as u64);
    assert_eq!(
        number("awaiting-storage") + number("awaiting-registration"),
        s.pending
    );
    assert!(number("block") >= head);
    assert_eq!(page["epochRows"].as_u64().unwrap(), s.epochs_finalized);
    assert!(
        page["chartBars"].as_u64().unwrap() > 0,
        "the weights chart has bars"
    );
    // Per epoch, the voters who cast in it (page column 5) equal the controller's own count.
    let gauge = IGaugeController::new(session.deployment.contracts["gauge"].address, &chain);
    for row in page["epochs"].as_array().unwrap() {
        let cells: Vec<&str> = row
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let epoch: u64 = cells[0].parse().unwrap();
        let stats = gauge.epochStats(epoch).call().await.unwrap();
        assert_eq!(
            cells[4].parse::<u64>().unwrap(),
            stats._0,
            "voters cast in epoch {epoch}"
        );
    }
    // The concentration figures rest on per-voter weights rebuilt from vote events: their sum is the
    // controller's own total for every epoch.
    let epochs: serde_json::Value = client
        .get(format!("{}/api/epochs", session.keeper_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for e in epochs.as_array().unwrap() {
        let epoch = e["epoch"].as_u64().unwrap();
        let stats = gauge.epochStats(epoch).call().await.unwrap();
        assert_eq!(e["total_weight"], stats._1.to_string(), "epoch {epoch}");
        assert_eq!(e["voter_weight"], e["total_weight"], "epoch {epoch}: {e}");
    }
    // The lookup typed into the form shows the chain's status; a bad id shows an error.
    assert_eq!(page["versionStatus"], "Registered");
    assert!(page["versionText"]
        .as_str()
        .unwrap()
        .starts_with(&format!("#{registered} ")));
    assert!(page["badLookup"]
        .as_str()
        .unwrap()
        .contains("not a version id"));
    assert_eq!(page["requestStatus"], "Settled");
    assert_eq!(number("requests"), s.requests);
    assert_eq!(number("settled"), s.settled);
    assert_eq!(number("refunded"), s.refunded);
    assert_eq!(number("batches-final"), s.batches_final);
    assert_eq!(number("batches-voided"), s.batches_voided.len() as u64);
    // The scoreboard lists every node that had a paid request: the offline one and those the client paid.
    let paid_nodes = s.nodes.iter().filter(|n| n.requests > 0).count() as u64;
    assert_eq!(
        page["nodeRows"].as_u64().unwrap(),
        paid_nodes + 1,
        "the offline node and every paid node on the scoreboard"
    );
    // The routing table shows the client's report: per node, answered and attempts equal the dev summary's.
    let routing = page["routing"].as_array().unwrap();
    let tried = s.nodes.iter().filter(|n| n.attempts > 0).count();
    assert_eq!(
        routing.len(),
        tried,
        "one row per node the client tried: {page}"
    );
    for row in routing {
        let node: alloy::primitives::Address = row[0].as_str().unwrap().parse().unwrap();
        let n = s
            .nodes
            .iter()
            .find(|n| n.node == node)
            .expect("a fleet node");
        assert_eq!(row[2].as_str().unwrap(), n.routed.to_string(), "{row}");
        assert_eq!(row[3].as_str().unwrap(), n.attempts.to_string(), "{row}");
        assert_eq!(row[4].as_str().unwrap(), n.retries.to_string(), "{row}");
        assert_eq!(row[5].as_str().unwrap(), n.failures.to_string(), "{row}");
    }
}
