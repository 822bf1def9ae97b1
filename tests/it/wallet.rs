//! The wallet commands (`verity model|ve|vote|gauges|request|refund|withdraw`) run as the real `verity` binary
//! against devnode over HTTP, after a `verity deploy`-style setup (the deploy plan, its record saved as a
//! `deployments/devnode.json` file handed over with `--deployment`), signing with dev-account keys, a keystore or a
//! mnemonic — as a wallet user would. Each happy path is asserted from chain state; each bad input must end with
//! the contract's decoded error (or a named pre-send check) and one line of advice: never a panic or a raw hex blob.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use alloy::{
    primitives::{keccak256, Address, U256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use verity_abi::{
    escrow::{week_floor, WEEK},
    gauge::Schedule,
    registry::{Status, VersionSubmitted},
    rpc::{IBrToken, IGaugeController, IInferenceSettlement, IModelRegistry, IVotingEscrow},
    settlement::request_status,
    token::UNIT,
};

use crate::support::{now, tx, Harness, ScratchDir};

/// Refunds the registry credits `account` and has not paid out, read from its storage (the registry has no view
/// for it; the CLI sums `RefundCredited` − `RefundWithdrawn`, so this is an independent reading).
async fn refund_credit(h: &Harness, account: Address) -> U256 {
    let slot = verity_script::deploy::mapping_slot(
        account.into_word(),
        verity_script::deploy::verity::registry_layout::ACCOUNTS_SLOT,
    );
    let word = h
        .wallet(0)
        .get_storage_at(h.address("registry"), slot)
        .await
        .unwrap();
    word & U256::from(u128::MAX)
}

/// The `verity` binary cargo built for this test binary.
const VERITY: &str = env!("CARGO_BIN_EXE_verity");

/// A wallet's view of a harness: the record file and the node's URL.
struct Wallet {
    url: String,
    record: PathBuf,
    dir: ScratchDir,
}

impl Wallet {
    /// Saves the harness's deployment record as `deployments/devnode.json` in a scratch dir.
    fn of(h: &Harness) -> Self {
        let dir = ScratchDir::new("wallet");
        let record = h
            .deployment
            .save(&dir.0.join("deployments"))
            .expect("record saved");
        Self {
            url: h.node.url().to_owned(),
            record,
            dir,
        }
    }

    /// The base arguments: node, record, and dev account `account`'s key (`None`: no signer).
    fn args(&self, h: &Harness, account: Option<usize>) -> Vec<String> {
        let mut args = vec![
            "--rpc-url".to_owned(),
            self.url.clone(),
            "--deployment".to_owned(),
            self.record.display().to_string(),
        ];
        if let Some(i) = account {
            args.push("--private-key".into());
            args.push(h.accounts[i].private_key_hex());
        }
        args
    }

    /// A command for `verity <args…>` as dev account `account`, environment cleared of VERITY_* signers.
    fn command(
        &self,
        h: &Harness,
        account: Option<usize>,
        args: &[&str],
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(VERITY);
        cmd.args(args)
            .args(self.args(h, account))
            .env_remove("VERITY_PRIVATE_KEY")
            .env_remove("VERITY_MNEMONIC")
            .env_remove("VERITY_KEYSTORE")
            .env_remove("VERITY_NETWORK")
            .env_remove("VERITY_DEPLOYMENT")
            .env_remove("VERITY_RPC_URL")
            .current_dir(&self.dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `verity <args…> --json` as `account` and returns `(ok, result-or-error)`.
    async fn json(&self, h: &Harness, account: Option<usize>, args: &[&str]) -> (bool, Value) {
        let mut full: Vec<&str> = args.to_vec();
        full.push("--json");
        let out = self
            .command(h, account, &full)
            .output()
            .await
            .expect("verity runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!("{args:?}: stdout is not JSON ({e}): {stdout}\nstderr: {stderr}")
        });
        let ok = doc["ok"].as_bool().expect("ok flag");
        assert_eq!(
            ok,
            out.status.success(),
            "{args:?}: exit status vs ok: {doc}"
        );
        if ok {
            (true, doc["result"].clone())
        } else {
            (false, doc["error"].clone())
        }
    }

    /// Runs `verity <args…> --json`, which must succeed; returns its result.
    async fn ok(&self, h: &Harness, account: usize, args: &[&str]) -> Value {
        let (ok, v) = self.json(h, Some(account), args).await;
        assert!(ok, "{args:?} failed: {v:#}");
        v
    }

    /// Runs `verity <args…> --json`, which must fail; returns the error document.
    async fn err(&self, h: &Harness, account: usize, args: &[&str]) -> Value {
        let (ok, v) = self.json(h, Some(account), args).await;
        assert!(!ok, "{args:?} must fail: {v:#}");
        assert!(
            !v["advice"].as_str().unwrap_or_default().is_empty(),
            "an error has advice: {v:#}"
        );
        v
    }

    /// Runs `verity <args…>` in text mode, which must fail with one `error:` line, one `advice:` line, no panic
    /// and no raw hex blob; returns stderr.
    async fn text_err(&self, h: &Harness, account: usize, args: &[&str]) -> String {
        let out = self
            .command(h, Some(account), args)
            .output()
            .await
            .expect("verity runs");
        assert_eq!(out.status.code(), Some(1), "{args:?} must exit with 1");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_clean(&stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert_eq!(
            stderr
                .lines()
                .filter(|l| l.trim_start().starts_with("advice: "))
                .count(),
            1,
            "{stderr}"
        );
        stderr
    }
}

/// No panic and no hex run longer than a 32-byte word (raw revert data would be).
fn assert_clean(text: &str) {
    assert!(!text.contains("panicked"), "{text}");
    let mut run = 0usize;
    for ch in text.chars() {
        run = if ch.is_ascii_hexdigit() { run + 1 } else { 0 };
        assert!(run <= 64, "raw hex in: {text}");
    }
}

/// The error's decoded name (a revert) or kind.
fn error_name(err: &Value) -> String {
    err["error"]["name"].as_str().map_or_else(
        || err["kind"].as_str().unwrap_or_default().to_owned(),
        str::to_owned,
    )
}

fn br(n: u64) -> U256 {
    U256::from(n) * UNIT
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write file");
    path.display().to_string()
}

/// Moves chain time to `t` (forward only).
async fn travel_to(h: &Harness, t: u64) {
    let current = now(h).await;
    if t > current {
        h.advance(t - current).await;
    }
}

/// Plays the keeper for version `id`: attests its storage (as submitted) and registers it (account 0 holds both
/// roles on a dev deployment).
async fn keeper_finalizes(h: &Harness, id: U256) {
    let registry = IModelRegistry::new(h.address("registry"), h.wallet(0));
    let info = registry.version(id).call().await.unwrap();
    let expiry = now(h).await + 365 * 86_400;
    tx!(registry.confirmStorage(id, info.contentHash, info.size, expiry));
    tx!(registry.finalizeRegistrations(vec![id]));
}

/// The newest version id.
async fn newest_version(h: &Harness) -> Option<U256> {
    let logs = h
        .wallet(0)
        .get_logs(
            &Filter::new()
                .address(h.address("registry"))
                .event_signature(VersionSubmitted::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    logs.last()
        .map(|l| VersionSubmitted::decode_log_data(l.data()).unwrap().id)
}

/// Reads `lines` until one contains `needle` (two minutes at most), keeping what it read in `seen`.
async fn wait_for(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    needle: &str,
    seen: &mut Vec<String>,
) {
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("stdout") {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "no {needle:?} in the output: {seen:#?}"
    );
}

/// `publish` flags for a complete version of `name`.
fn publish_args<'a>(file: &'a str, card: &'a str, name: &'a str, version: &'a str) -> Vec<&'a str> {
    vec![
        "model",
        "publish",
        file,
        "--name",
        name,
        "--version",
        version,
        "--license",
        "Apache-2.0",
        "--runtime",
        "vllm-0.6",
        "--uri",
        "ipfs://weights",
        "--io-schema",
        "text->text",
        "--metadata",
        card,
        "--metadata-uri",
        "ipfs://card",
        "--tag",
        "chat",
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn model_publish_follows_a_version_to_registered_and_refuses_bad_parents() {
    let h = Harness::start().await;
    let w = Wallet::of(&h);
    let registry = IModelRegistry::new(h.address("registry"), h.wallet(0));
    let weights = b"weights of the base model".repeat(40);
    let file = write(&w.dir.0, "base.safetensors", &weights);
    let card = write(&w.dir.0, "card.md", b"# base\nA model card.");
    let (owner, forker) = (1, 2);

    // Happy path, followed live: the CLI prints each status as the "keeper" (the test) moves the version.
    let mut child = w
        .command(
            &h,
            Some(owner),
            &publish_args(&file, &card, "base", "1.0.0"),
        )
        .spawn()
        .expect("verity runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    wait_for(&mut lines, "Submitted", &mut seen).await;
    let base = newest_version(&h).await.expect("submitted");
    let info = registry.version(base).call().await.unwrap();
    assert_eq!(
        info.contentHash,
        keccak256(&weights),
        "content hash is keccak256 of the file"
    );
    assert_eq!(info.size, weights.len() as u64);
    assert_eq!(info.status, Status::Submitted.code());
    assert_eq!(info.version, 1 << 32, "1.0.0 packs as major << 32");
    let expiry = now(&h).await + 365 * 86_400;
    tx!(registry.confirmStorage(base, info.contentHash, info.size, expiry));
    wait_for(&mut lines, "Stored", &mut seen).await;
    tx!(registry.finalizeRegistrations(vec![base]));
    wait_for(&mut lines, "Registered", &mut seen).await;
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(registry.isUsable(base).call().await.unwrap());

    // A same-owner finetune (no wait), registered by the keeper; then show draws the lineage and list filters.
    let child_file = write(&w.dir.0, "child.safetensors", b"finetuned weights");
    let parent = base.to_string();
    let mut args = publish_args(&child_file, &card, "base-chat", "1");
    args.extend(["--parent", &parent, "--no-wait", "--tag", "en"]);
    let published = w.ok(&h, owner, &args).await;
    let child_id: U256 = published["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(published["status"], "Submitted");
    keeper_finalizes(&h, child_id).await;
    let submitted = h
        .wallet(0)
        .get_logs(
            &Filter::new()
                .address(h.address("registry"))
                .event_signature(VersionSubmitted::SIGNATURE_HASH)
                .topic1(alloy::primitives::B256::from(child_id))
                .from_block(0),
        )
        .await
        .unwrap();
    assert_eq!(
        VersionSubmitted::decode_log_data(submitted[0].data())
            .unwrap()
            .parents,
        vec![base],
        "the child's parent, as its VersionSubmitted event records it"
    );
    let shown = w
        .ok(&h, owner, &["model", "show", &child_id.to_string()])
        .await;
    assert_eq!(shown["status"], "Registered");
    assert_eq!(shown["relation"], "finetune");
    assert_eq!(shown["lineage"]["parents"][0]["id"], base.to_string());
    assert_eq!(shown["tags"], serde_json::json!(["chat", "en"]));
    let base_shown = w.ok(&h, owner, &["model", "show", &parent]).await;
    assert_eq!(
        base_shown["children"],
        serde_json::json!([child_id.to_string()])
    );
    let owner_hex = h.account(owner).to_string();
    let listed = w
        .ok(&h, owner, &["model", "list", "--owner", &owner_hex])
        .await;
    assert_eq!(listed["versions"].as_array().unwrap().len(), 2);
    let tagged = w.ok(&h, owner, &["model", "list", "--tag", "en"]).await;
    assert_eq!(tagged["versions"][0]["id"], child_id.to_string());

    // --dry-run simulates and prints gas, and sends nothing.
    let count = newest_version(&h).await;
    let mut args = publish_args(&child_file, &card, "base-chat", "2");
    args.extend(["--parent", &parent, "--dry-run"]);
    let dry = w.ok(&h, owner, &args).await;
    assert!(
        dry["tx"]["gasEstimate"].as_u64().unwrap() > 21_000,
        "{dry:#}"
    );
    assert_eq!(dry["tx"]["dryRun"], true);
    assert_eq!(newest_version(&h).await, count, "a dry run sends nothing");

    // Wrong parent: the simulation's decoded RegistryUnknownParent, before anything is paid.
    let mut args = publish_args(&child_file, &card, "orphan", "1");
    args.extend(["--parent", "999"]);
    let err = w.err(&h, owner, &args).await;
    assert_eq!(err["kind"], "revert");
    assert_eq!(error_name(&err), "RegistryUnknownParent");
    assert_eq!(err["error"]["args"], serde_json::json!(["999"]));
    let stderr = w.text_err(&h, owner, &args).await;
    assert!(stderr.contains("RegistryUnknownParent(999)"), "{stderr}");
    assert_eq!(newest_version(&h).await, count, "nothing was submitted");

    // Unlicensed fork: another owner derives from `base` (Apache-2.0 without the derivatives flag).
    let fork_file = write(&w.dir.0, "fork.safetensors", b"forked weights");
    let mut args = publish_args(&fork_file, &card, "fork", "1");
    args.extend(["--parent", &parent]);
    let err = w.err(&h, forker, &args).await;
    assert_eq!(err["kind"], "check");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("unlicensed fork") && message.contains("ForkNotApproved"),
        "{message}"
    );
    assert!(
        err["advice"].as_str().unwrap().contains("approve-fork"),
        "{err:#}"
    );
    w.text_err(&h, forker, &args).await;
    assert_eq!(newest_version(&h).await, count, "nothing was submitted");

    // Past the checks the chain rejects it at registration (ForkNotApproved), refunding the fee to a credit…
    let mut forced = args.clone();
    forced.extend(["--skip-checks", "--no-wait"]);
    let forced_out = w.ok(&h, forker, &forced).await;
    let fork: U256 = forced_out["id"].as_str().unwrap().parse().unwrap();
    keeper_finalizes(&h, fork).await;
    let shown = w
        .ok(&h, forker, &["model", "show", &fork.to_string()])
        .await;
    assert_eq!(
        (shown["status"].as_str(), shown["reason"].as_str()),
        (Some("Rejected"), Some("ForkNotApproved"))
    );
    let fee: U256 = forced_out["fee"].as_str().unwrap().parse().unwrap();
    assert_eq!(refund_credit(&h, h.account(forker)).await, fee);
    // … which `verity withdraw` pays out.
    let before = h.wallet(0).get_balance(h.account(forker)).await.unwrap();
    let withdrawn = w.ok(&h, forker, &["withdraw"]).await;
    assert_eq!(withdrawn["withdrawn"][0]["contract"], "registry");
    assert_eq!(refund_credit(&h, h.account(forker)).await, U256::ZERO);
    let after = h.wallet(0).get_balance(h.account(forker)).await.unwrap();
    assert!(after > before, "the refund arrived (net of gas)");

    // With the owner's approval the same fork passes the checks and registers.
    let forker_hex = h.account(forker).to_string();
    w.ok(&h, owner, &["model", "approve-fork", &parent, &forker_hex])
        .await;
    let mut args = publish_args(&fork_file, &card, "fork", "2");
    args.extend(["--parent", &parent, "--no-wait"]);
    let approved = w.ok(&h, forker, &args).await;
    let approved_id: U256 = approved["id"].as_str().unwrap().parse().unwrap();
    keeper_finalizes(&h, approved_id).await;
    assert!(registry.isUsable(approved_id).call().await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn ve_lock_vote_gauges_and_withdraw_with_decoded_refusals() {
    let h = Harness::start().await;
    let w = Wallet::of(&h);
    let voter = 3;
    let me = h.account(voter);
    let token = IBrToken::new(h.address("token"), h.wallet(0));
    let escrow = IVotingEscrow::new(h.address("escrow"), h.wallet(0));
    let gauge = IGaugeController::new(h.address("gauge"), h.wallet(0));
    tx!(token.transfer(me, br(5_000)));
    let (g1, g2) = {
        let (a, b) = (h.account(5), h.account(6));
        (a.min(b), a.max(b))
    };
    for g in [g1, g2] {
        tx!(gauge.addGauge(g));
    }
    let config = gauge.config().call().await.unwrap();
    let s = Schedule::new(config._2, config._3, config._4, config._5);

    // One day into a week: a one-day lock rounds down to the week's start, which is not after now.
    let t0 = week_floor(now(&h).await) + WEEK + 86_400;
    travel_to(&h, t0).await;
    let err = w
        .err(&h, voter, &["ve", "lock", "100", "--days", "1"])
        .await;
    assert_eq!(error_name(&err), "EscrowUnlockTooEarly");
    assert!(err["advice"].as_str().unwrap().contains("week"), "{err:#}");
    let stderr = w
        .text_err(&h, voter, &["ve", "lock", "100", "--days", "1"])
        .await;
    assert!(stderr.contains("EscrowUnlockTooEarly("), "{stderr}");
    assert_eq!(escrow.locked(me).call().await.unwrap()._0, U256::ZERO);

    // A dry run approves nothing and locks nothing.
    let dry = w
        .ok(
            &h,
            voter,
            &["ve", "lock", "1000", "--weeks", "10", "--dry-run"],
        )
        .await;
    assert_eq!(dry["dryRun"], true);
    assert_eq!(
        token
            .allowance(me, h.address("escrow"))
            .call()
            .await
            .unwrap(),
        U256::ZERO
    );

    // Lock (approving first), increase, extend.
    let locked = w
        .ok(&h, voter, &["ve", "lock", "1000", "--weeks", "10"])
        .await;
    assert_eq!(
        locked["txs"].as_array().unwrap().len(),
        2,
        "approve + createLock: {locked:#}"
    );
    let lock = escrow.locked(me).call().await.unwrap();
    assert_eq!(lock._0, br(1_000));
    assert_eq!(lock._1, week_floor(t0 + 10 * WEEK));
    assert_eq!(token.balanceOf(me).call().await.unwrap(), br(4_000));
    w.ok(&h, voter, &["ve", "increase", "500"]).await;
    assert_eq!(escrow.locked(me).call().await.unwrap()._0, br(1_500));
    w.ok(&h, voter, &["ve", "extend", "--weeks", "20"]).await;
    let end = escrow.locked(me).call().await.unwrap()._1;
    assert!(end > lock._1, "extended");
    let err = w.err(&h, voter, &["ve", "extend", "--weeks", "300"]).await;
    assert_eq!(error_name(&err), "EscrowUnlockTooLate");

    // Power by epoch: what a vote in each coming epoch counts.
    let shown = w.ok(&h, voter, &["ve", "show", "--epochs", "4"]).await;
    let current = s.epoch_at(now(&h).await).unwrap();
    assert_eq!(shown["epoch"], current);
    let row = &shown["epochs"][0];
    assert_eq!(row["epoch"], current + 1);
    let expected = escrow
        .balanceOfAt(me, s.epoch_start(current + 1))
        .call()
        .await
        .unwrap();
    assert_eq!(row["power"], expected.to_string());
    assert!(!expected.is_zero());
    assert_eq!(shown["seasonEnd"], s.next_season_start(current));

    // Vote in the next epoch's window (power counts from an epoch's start).
    let e1 = current + 1;
    travel_to(&h, s.vote_window(e1).0 + 10).await;
    let a1 = format!("{g1}=6000");
    let err = w
        .err(&h, voter, &["vote", &a1, &format!("{g2}=3000")])
        .await;
    assert_eq!(err["kind"], "check");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("9000 bps, not 10,000"),
        "{err:#}"
    );
    let err = w
        .err(&h, voter, &["vote", &a1, &format!("{g2}=5000")])
        .await;
    assert_eq!(error_name(&err), "GaugeVoteOverflow");
    assert_eq!(err["error"]["args"], serde_json::json!(["11000"]));
    let stderr = w
        .text_err(&h, voter, &["vote", &a1, &format!("{g2}=3000")])
        .await;
    assert!(stderr.contains("not 10,000"), "{stderr}");
    // Given in any order: the CLI sorts the gauges.
    let voted = w.ok(&h, voter, &["vote", &format!("{g2}=4000"), &a1]).await;
    assert_eq!(voted["epoch"], e1);
    assert_eq!(voted["seasonEnd"], s.next_season_start(e1));
    assert!(voted["previous"].is_null());
    let (w1, w2) = (
        gauge.gaugeInfo(g1, e1).call().await.unwrap()._3,
        gauge.gaugeInfo(g2, e1).call().await.unwrap()._3,
    );
    assert!(!w1.is_zero() && !w2.is_zero());
    let (x, y) = (w1 * U256::from(4), w2 * U256::from(6));
    assert!(
        x.abs_diff(y) <= (x / U256::from(1_000_000u64)),
        "6:4 split: {w1} vs {w2}"
    );
    assert_eq!(
        gauge.epochStats(e1).call().await.unwrap()._0,
        1,
        "one voter this epoch"
    );
    // A second vote shows the first as the current allocation.
    let revote = w.ok(&h, voter, &["vote", &format!("{g1}=10000")]).await;
    assert_eq!(
        revote["previous"].as_array().unwrap().len(),
        2,
        "{revote:#}"
    );
    assert_eq!(gauge.gaugeInfo(g2, e1).call().await.unwrap()._3, U256::ZERO);

    // gauges: the chain's weights, with turnout and concentration.
    let shown = w.ok(&h, voter, &["gauges"]).await;
    assert_eq!(shown["epoch"], e1);
    let rows = shown["gauges"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let weight_of = |g: Address| {
        rows.iter()
            .find(|r| {
                r["gauge"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(&g.to_string())
            })
            .unwrap()["weight"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        weight_of(g1),
        gauge.gaugeInfo(g1, e1).call().await.unwrap()._3.to_string()
    );
    assert_eq!(shown["turnout"]["liveVoters"], 1);
    assert_eq!(shown["turnout"]["holders"], 1);
    assert_eq!(shown["concentration"]["nakamoto"], 1);

    // Withdraw: before the end the escrow refuses (decoded); after it, `withdraw` finds the BR.
    let err = w.err(&h, voter, &["ve", "withdraw"]).await;
    assert_eq!(error_name(&err), "EscrowLockNotExpired");
    travel_to(&h, end + 1).await;
    let withdrawn = w.ok(&h, voter, &["withdraw", "--from", "escrow"]).await;
    assert_eq!(withdrawn["withdrawn"][0]["amount"], br(1_500).to_string());
    assert_eq!(escrow.locked(me).call().await.unwrap()._0, U256::ZERO);
    assert_eq!(token.balanceOf(me).call().await.unwrap(), br(5_000));
}

#[tokio::test(flavor = "multi_thread")]
async fn request_refund_and_withdraw_pay_back_a_payer() {
    use crate::settlement::{world, DEADLINE, NODE, PAYER};
    let world = world().await;
    let h = &world.h;
    let w = Wallet::of(h);
    let settlement = IInferenceSettlement::new(h.address("settlement"), h.wallet(0));
    let input = write(&w.dir.0, "prompt.txt", b"what is verity?");
    let node = h.account(NODE).to_string();
    let model = world.model.to_string();

    // A model that is not usable: the simulation's decoded error.
    let err = w
        .err(
            h,
            PAYER,
            &[
                "request", "--node", &node, "--model", "77", "--input", &input, "--fee", "0.005",
            ],
        )
        .await;
    assert_eq!(error_name(&err), "SettlementModelNotUsable");

    let opened = w
        .ok(
            h,
            PAYER,
            &[
                "request", "--node", &node, "--model", &model, "--input", &input, "--fee", "0.005",
            ],
        )
        .await;
    let id: alloy::primitives::B256 = opened["requestId"].as_str().unwrap().parse().unwrap();
    let r = settlement.getRequest(id).call().await.unwrap();
    assert_eq!(r._0, h.account(PAYER));
    assert_eq!(r._3, U256::from(5_000_000_000_000_000u64));
    assert_eq!(r._4, keccak256(b"what is verity?"));
    assert_eq!(r._6, request_status::REQUESTED);
    let id_text = id.to_string();

    // Too early to refund: decoded SettlementTooEarly with the date in the advice.
    let err = w.err(h, PAYER, &["refund", &id_text]).await;
    assert_eq!(error_name(&err), "SettlementTooEarly");
    assert!(err["advice"].as_str().unwrap().contains("UTC"), "{err:#}");
    w.text_err(h, PAYER, &["refund", &id_text]).await;

    h.advance(DEADLINE + 60).await;
    let refunded = w.ok(h, PAYER, &["refund", &id_text]).await;
    assert_eq!(refunded["fee"], "5000000000000000");
    assert_eq!(
        settlement.getRequest(id).call().await.unwrap()._6,
        request_status::REFUNDED
    );
    assert_eq!(
        settlement.credit(h.account(PAYER)).call().await.unwrap(),
        U256::from(5_000_000_000_000_000u64)
    );

    let withdrawn = w.ok(h, PAYER, &["withdraw"]).await;
    let credits = withdrawn["credits"].as_array().unwrap();
    assert!(credits
        .iter()
        .any(|c| c["contract"] == "settlement" && c["amount"] == "5000000000000000"));
    assert_eq!(
        settlement.credit(h.account(PAYER)).call().await.unwrap(),
        U256::ZERO
    );

    // Nothing owed: one line naming every contract; with --from, the contract's own decoded error.
    let err = w.err(h, PAYER, &["withdraw"]).await;
    assert_eq!(err["kind"], "check");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("nothing to withdraw"),
        "{err:#}"
    );
    let err = w.err(h, PAYER, &["withdraw", "--from", "settlement"]).await;
    assert_eq!(error_name(&err), "SettlementNothingToWithdraw");
    let stderr = w
        .text_err(h, PAYER, &["withdraw", "--from", "registry"])
        .await;
    assert!(stderr.contains("RegistryNothingToWithdraw("), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn signers_keystore_mnemonic_and_record_checks() {
    let h = Harness::start().await;
    let w = Wallet::of(&h);
    let account = 4;

    // An encrypted keystore of dev account 4's key, as `cast wallet import` writes one.
    let password = write(&w.dir.0, "password", b"correct horse\n");
    let mut rng = rand::thread_rng();
    alloy::signers::local::PrivateKeySigner::encrypt_keystore(
        &w.dir.0,
        &mut rng,
        h.accounts[account].signer.to_bytes(),
        "correct horse",
        Some("key.json"),
    )
    .expect("keystore written");
    let keystore = w.dir.0.join("key.json").display().to_string();
    let (ok, shown) = w
        .json(
            &h,
            None,
            &[
                "ve",
                "show",
                "--keystore",
                &keystore,
                "--password-file",
                &password,
            ],
        )
        .await;
    assert!(ok, "{shown:#}");
    assert_eq!(
        shown["account"].as_str().unwrap().to_lowercase(),
        h.account(account).to_string().to_lowercase()
    );

    let wrong = write(&w.dir.0, "wrong", b"battery staple");
    let (ok, err) = w
        .json(
            &h,
            None,
            &[
                "ve",
                "show",
                "--keystore",
                &keystore,
                "--password-file",
                &wrong,
            ],
        )
        .await;
    assert!(!ok);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("cannot decrypt keystore"),
        "{err:#}"
    );

    let (ok, shown) = w
        .json(
            &h,
            None,
            &[
                "ve",
                "show",
                "--mnemonic",
                devnode::chain::DEFAULT_MNEMONIC,
                "--mnemonic-index",
                "4",
            ],
        )
        .await;
    assert!(ok, "{shown:#}");
    assert_eq!(
        shown["account"].as_str().unwrap().to_lowercase(),
        h.account(account).to_string().to_lowercase()
    );

    // Two signers at once, no signer for a transaction, a record of another chain: one clear line each.
    let (ok, err) = w
        .json(
            &h,
            Some(1),
            &["ve", "show", "--mnemonic", devnode::chain::DEFAULT_MNEMONIC],
        )
        .await;
    assert!(
        !ok && err["message"]
            .as_str()
            .unwrap()
            .contains("more than one signer"),
        "{err:#}"
    );
    let (ok, err) = w.json(&h, None, &["ve", "lock", "1", "--weeks", "2"]).await;
    assert!(!ok && err["kind"] == "input", "{err:#}");
    let mut other = h.deployment.clone();
    other.chain_id += 1;
    other.network = "other".into();
    let other_path = other.save(&w.dir.0.join("deployments")).unwrap();
    let out = tokio::process::Command::new(VERITY)
        .args(["gauges", "--rpc-url", h.node.url(), "--deployment"])
        .arg(&other_path)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("is chain"),
        "{stderr}"
    );
    assert_clean(&stderr);

    // --network finds deployments/<network>.json from the current directory.
    let out = tokio::process::Command::new(VERITY)
        .args([
            "gauges",
            "--json",
            "--network",
            "devnode",
            "--rpc-url",
            h.node.url(),
        ])
        .env_remove("VERITY_DEPLOYMENT")
        .env_remove("VERITY_NETWORK")
        .current_dir(&w.dir.0)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["result"]["gauges"], serde_json::json!([]));
}

#[test]
fn deployments_readme_documents_every_record_field() {
    use verity_script::deploy::{ActivationRecord, CallRecord, ContractRecord, Deployment};
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deployments/README.md"
    ))
    .unwrap();
    let mut d = Deployment::new("x", 1, Address::ZERO);
    d.contracts.insert(
        "token".into(),
        ContractRecord {
            address: Address::ZERO,
            deploy_block: 1,
            deploy_tx: Default::default(),
            code_hash: Default::default(),
            wasm_hash: Default::default(),
            activation: Some(ActivationRecord {
                tx: Some(Default::default()),
                stylus_version: 1,
                data_fee: Some(U256::from(1)),
            }),
        },
    );
    d.calls.insert(
        "call".into(),
        CallRecord {
            contract: "token".into(),
            to: Address::ZERO,
            input_hash: Default::default(),
            tx: Some(Default::default()),
            block: Some(1),
        },
    );
    fn keys(v: &Value, out: &mut Vec<String>) {
        if let Value::Object(map) = v {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
    }
    let mut found = Vec::new();
    let json = serde_json::to_value(&d).unwrap();
    keys(&json, &mut found);
    for key in found.into_iter().filter(|k| k != "token" && k != "call") {
        assert!(
            readme.contains(&format!("`{key}`")) || readme.contains(&format!(".{key}`")),
            "README misses `{key}`"
        );
    }
    for contract in verity_abi::CONTRACTS {
        assert!(
            readme.contains(contract.interface),
            "README misses {}",
            contract.interface
        );
    }
}
