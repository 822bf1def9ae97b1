//! `verity dev` end to end, short: devnode in-process, every contract built and deployed, the real
//! `verity-keeper` binary on SQLite, traffic for a few seconds. The end state is asserted from the chain
//! (events and views, read by [`verity::dev::run`]'s summary), not from the driver's own counters.

use std::{path::PathBuf, time::Duration};

use verity::dev::{run, DevOptions};
use verity_abi::registry::Reason;

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
    options.data_dir = scratch.0.join("keeper");
    options.record_dir = scratch.0.join("deployments");
    let summary = run(&options).await.expect("verity dev runs");
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
}
