//! cargo-stylus 0.10.10 itself, unchanged, against devnode — as a Stylus developer would use it against
//! nitro-devnode: `cargo stylus check` (builds BR, simulates activation through `eth_call` with a code override) and
//! `cargo stylus deploy --constructor-args …` (through the StylusDeployer predeploy: create, activate and
//! constructor in one transaction), then the deployed token read with cast; and a contract over the 24,576-byte
//! code limit (`devnode/testdata/big-contract`), which cargo-stylus deploys as ArbOS 60 fragments: `check`,
//! `deploy` with a constructor, `verify --no-verify` (local, no Docker), `deploy --wasm-file --no-activate` then
//! `activate`, each answer read with cast. `script/test` installs cargo-stylus (`--locked`) when it is missing;
//! without it these tests skip locally and fail with `CI=true`.

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

/// Whether cargo-stylus runs here; when not, [`skip`] (a failure with `CI=true`).
fn cargo_stylus_installed() -> bool {
    let installed = Command::new("cargo")
        .args(["stylus", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        skip(
            "cargo-stylus",
            "not installed (script/test installs 0.10.10)",
        );
    }
    installed
}

/// Foundry's cast (`CAST_BIN` or the copy `script/test` installs), or `None` after [`skip`].
fn cast_bin() -> Option<PathBuf> {
    let cast = std::env::var_os("CAST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            root().join(".tools/node_modules/@foundry-rs/cast-linux-amd64/bin/cast")
        });
    if cast.is_file() {
        Some(cast)
    } else {
        skip(
            "cargo-stylus deployments checked with cast",
            "cast not installed",
        );
        None
    }
}

/// `cast <args> --rpc-url <url>`: (success, stdout trimmed, stderr).
fn cast(cast: &Path, url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cast)
        .args(args)
        .args(["--rpc-url", url])
        .output()
        .expect("cast runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value after `label` on cargo-stylus's output, parsed.
fn printed<T: std::str::FromStr>(out: &str, label: &str) -> T {
    out.lines()
        .find_map(|l| l.split(label).nth(1))
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn cargo_stylus_checks_and_deploys_a_verity_contract_on_devnode() {
    if !cargo_stylus_installed() {
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
    let address: Address = printed(&out, "deployed code at address: ");
    let tx: alloy::primitives::TxHash = printed(&out, "deployment tx hash: ");

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
    let Some(cast_bin) = cast_bin() else {
        return;
    };
    let (ok, admin, err) = cast(
        &cast_bin,
        &url,
        &["call", &address.to_string(), "admin()(address)"],
    );
    assert!(ok, "{err}");
    assert_eq!(
        admin.to_lowercase(),
        account.address.to_string().to_lowercase()
    );
}

/// The fixture's embedded data (`devnode_big_contract::NOISE`): xorshift32 from `0x9E3779B9`, low bytes.
fn big_contract_noise(offset: usize) -> [u8; 32] {
    let mut x: u32 = 0x9E37_79B9;
    let bytes: Vec<u8> = (0..offset + 32)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    bytes[offset..].try_into().expect("32 bytes")
}

/// Runs cargo-stylus off the async runtime.
async fn stylus(dir: &Path, args: Vec<String>) -> (bool, String) {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cargo_stylus(&dir, &args)
    })
    .await
    .expect("cargo-stylus task")
}

#[tokio::test(flavor = "multi_thread")]
async fn cargo_stylus_deploys_activates_and_verifies_a_fragmented_contract_on_devnode() {
    if !cargo_stylus_installed() {
        return;
    }
    let Some(cast_bin) = cast_bin() else {
        return;
    };
    let node = start(NodeConfig::default()).await.expect("devnode starts");
    let account = lock(&node.chain()).dev_accounts()[0].clone();
    let url = node.url().to_string();
    let key = account.private_key_hex();
    let dir = root().join("devnode/testdata/big-contract");
    let provider = wallet_for(node.url(), account.signer.clone());
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let expected_noise = format!(
        "0x{}",
        alloy::primitives::hex::encode(big_contract_noise(100))
    );

    // check: over one contract's limit, so cargo-stylus plans fragments and simulates their activation.
    let (ok, out) = stylus(&dir, s(&["check", "--endpoint", &url])).await;
    assert!(ok, "cargo stylus check failed:\n{out}");
    assert!(out.contains("(2 fragments)"), "{out}");
    assert!(out.contains("wasm data fee"), "{out}");

    // deploy with a constructor: fragments, then root + activation + constructor through the StylusDeployer.
    let (ok, out) = stylus(
        &dir,
        s(&[
            "deploy",
            "--no-verify",
            "--endpoint",
            &url,
            "--private-key",
            &key,
            "--constructor-args",
            "42",
        ]),
    )
    .await;
    assert!(ok, "cargo stylus deploy failed:\n{out}");
    let address: Address = printed(&out, "deployed code at address: ");
    let tx: alloy::primitives::TxHash = printed(&out, "deployment tx hash: ");
    let code = provider.get_code_at(address).await.expect("code");
    assert_eq!(&code[..4], &[0xEF, 0xF0, 0x02, 0x00], "a root");
    let receipt = provider
        .get_transaction_receipt(tx)
        .await
        .expect("receipt")
        .expect("mined");
    assert_eq!(receipt.to, Some(STYLUS_DEPLOYER));
    let (ok, marker, err) = cast(
        &cast_bin,
        &url,
        &["call", &address.to_string(), "marker()(uint256)"],
    );
    assert!(ok, "{err}");
    assert_eq!(marker, "42");
    let (ok, noise, err) = cast(
        &cast_bin,
        &url,
        &[
            "call",
            &address.to_string(),
            "noise(uint256)(bytes32)",
            "100",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(noise, expected_noise);

    // verify without Docker: rebuilds locally and compares every fragment with the chain's.
    let (ok, out) = stylus(
        &dir,
        s(&[
            "verify",
            "--no-verify",
            "--skip-clean",
            "--endpoint",
            &url,
            "--deployment-tx",
            &tx.to_string(),
        ]),
    )
    .await;
    assert!(
        ok && out.contains("Verification successful"),
        "cargo stylus verify:\n{out}"
    );

    // deploy the built wasm without activation, then `cargo stylus activate`.
    let wasm = root().join("target/wasm32-unknown-unknown/release/deps/devnode_big_contract.wasm");
    assert!(wasm.is_file(), "cargo-stylus built {}", wasm.display());
    let (ok, out) = stylus(
        &dir,
        s(&[
            "deploy",
            "--no-verify",
            "--no-activate",
            "--wasm-file",
            &wasm.to_string_lossy(),
            "--endpoint",
            &url,
            "--private-key",
            &key,
        ]),
    )
    .await;
    assert!(
        ok,
        "cargo stylus deploy --wasm-file --no-activate failed:\n{out}"
    );
    let inactive: Address = printed(&out, "deployed code at address: ");
    let (ok, _, err) = cast(
        &cast_bin,
        &url,
        &["call", &inactive.to_string(), "marker()(uint256)"],
    );
    assert!(!ok, "an un-activated root must not run");
    assert!(err.to_lowercase().contains("revert"), "{err}");
    let (ok, out) = stylus(
        &dir,
        s(&[
            "activate",
            "--address",
            &inactive.to_string(),
            "--endpoint",
            &url,
            "--private-key",
            &key,
        ]),
    )
    .await;
    assert!(ok, "cargo stylus activate failed:\n{out}");
    let (ok, noise, err) = cast(
        &cast_bin,
        &url,
        &[
            "call",
            &inactive.to_string(),
            "noise(uint256)(bytes32)",
            "100",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(noise, expected_noise);
    let (ok, marker, err) = cast(
        &cast_bin,
        &url,
        &["call", &inactive.to_string(), "marker()(uint256)"],
    );
    assert!(ok, "{err}");
    assert_eq!(marker, "0", "no constructor ran on this copy");

    // cache: status, suggest-bid, bid (through devnode's CacheManager into ArbWasmCache), status again.
    let target = inactive.to_string();
    let (ok, out) = stylus(
        &dir,
        s(&["cache", "status", "--address", &target, "--endpoint", &url]),
    )
    .await;
    assert!(
        ok && out.contains("is not yet cached"),
        "cargo stylus cache status:\n{out}"
    );
    let (ok, out) = stylus(
        &dir,
        s(&["cache", "suggest-bid", &target, "--endpoint", &url]),
    )
    .await;
    assert!(
        ok && out.contains(": 0 wei"),
        "cargo stylus cache suggest-bid:\n{out}"
    );
    let bid = s(&[
        "cache",
        "bid",
        &target,
        "0",
        "--endpoint",
        &url,
        "--private-key",
        &key,
    ]);
    let (ok, out) = stylus(&dir, bid.clone()).await;
    assert!(ok, "cargo stylus cache bid:\n{out}");
    let (ok, out) = stylus(
        &dir,
        s(&["cache", "status", "--address", &target, "--endpoint", &url]),
    )
    .await;
    assert!(
        ok && out.contains("is cached"),
        "cargo stylus cache status:\n{out}"
    );
    let (ok, out) = stylus(&dir, bid).await;
    assert!(
        !ok && out.contains("already cached"),
        "a second bid:\n{out}"
    );
}
