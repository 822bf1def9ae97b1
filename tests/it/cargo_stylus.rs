//! cargo-stylus 0.10.10 itself, unchanged, against devnode — as a Stylus developer would use it against
//! nitro-devnode: `cargo stylus check` (builds BR, simulates activation through `eth_call` with a code override) and
//! `cargo stylus deploy --constructor-args …` (through the StylusDeployer predeploy: create, activate and
//! constructor in one transaction), then the deployed token read with cast. `script/test` installs cargo-stylus
//! (`--locked`) when it is missing; without it this test skips locally and fails with `CI=true`.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use alloy::{
    primitives::{utils::parse_ether, Address},
    providers::Provider,
};
use devnode::{
    chain::predeploys::STYLUS_DEPLOYER,
    rpc::{server::lock, start, NodeConfig},
};
use verity_abi::rpc::IBrToken;

use crate::support::{skip, wallet_for};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `cargo stylus <args>` in `dir`, outside `script/test`'s clippy wrapper; stdout + stderr without colours.
fn cargo_stylus(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("stylus")
        .args(args)
        .current_dir(dir)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .env_remove("CARGO_TARGET_DIR")
        .env("NO_COLOR", "1")
        .output()
        .expect("cargo runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), strip_ansi(&text))
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ … final byte in @..~
            for d in chars.by_ref() {
                if ('@'..='~').contains(&d) && d != '[' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn cargo_stylus_checks_and_deploys_a_verity_contract_on_devnode() {
    let installed = Command::new("cargo")
        .args(["stylus", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        skip(
            "cargo-stylus",
            "not installed (script/test installs 0.10.10)",
        );
        return;
    }
    let node = start(NodeConfig::default()).await.expect("devnode starts");
    let account = lock(&node.chain()).dev_accounts()[0].clone();
    let url = node.url().to_string();
    let token_dir = root().join("contracts/token");

    let (ok, out) = tokio::task::spawn_blocking({
        let (dir, url) = (token_dir.clone(), url.clone());
        move || cargo_stylus(&dir, &["check", "--endpoint", &url])
    })
    .await
    .expect("check task");
    assert!(ok, "cargo stylus check failed:\n{out}");
    assert!(out.contains("wasm data fee"), "{out}");

    let owner = account.address.to_string();
    let key = account.private_key_hex();
    let supply = parse_ether("1000").expect("amount").to_string();
    let (ok, out) = tokio::task::spawn_blocking({
        let (dir, url) = (token_dir, url.clone());
        move || {
            cargo_stylus(
                &dir,
                &[
                    "deploy",
                    "--no-verify",
                    "--endpoint",
                    &url,
                    "--private-key",
                    &key,
                    "--constructor-args",
                    &owner,
                    &owner,
                    &owner,
                    &supply,
                ],
            )
        }
    })
    .await
    .expect("deploy task");
    assert!(ok, "cargo stylus deploy failed:\n{out}");
    let address: Address = out
        .lines()
        .find_map(|l| l.split("deployed code at address: ").nth(1))
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no address in:\n{out}"));
    let tx = out
        .lines()
        .find_map(|l| l.split("deployment tx hash: ").nth(1))
        .and_then(|h| h.trim().parse().ok())
        .unwrap_or_else(|| panic!("no tx hash in:\n{out}"));

    // One transaction, to the StylusDeployer: the constructor ran with the program's creation.
    let provider = wallet_for(node.url(), account.signer.clone());
    let receipt = provider
        .get_transaction_receipt(tx)
        .await
        .expect("receipt")
        .expect("mined");
    assert_eq!(receipt.to, Some(STYLUS_DEPLOYER));
    let token = IBrToken::new(address, &provider);
    assert_eq!(
        token
            .balanceOf(account.address)
            .call()
            .await
            .expect("balanceOf"),
        parse_ether("1000").expect("amount")
    );

    // And with cast, as a developer would check it.
    let cast = std::env::var_os("CAST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            root().join(".tools/node_modules/@foundry-rs/cast-linux-amd64/bin/cast")
        });
    if !cast.is_file() {
        skip(
            "cargo-stylus deploy checked with cast",
            "cast not installed",
        );
        return;
    }
    let out = Command::new(&cast)
        .args([
            "call",
            &address.to_string(),
            "admin()(address)",
            "--rpc-url",
            &url,
        ])
        .output()
        .expect("cast runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim().to_lowercase(),
        account.address.to_string().to_lowercase()
    );
}
