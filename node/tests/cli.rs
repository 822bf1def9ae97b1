//! The `verity-node` binary: bad settings end with one clear line naming the setting, never a panic.

use std::process::Command;

fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_verity-node"))
        .args(args)
        .env_remove("VERITY_NODE_KEY")
        .env_remove("VERITY_NODE_SIGNING_KEY")
        .env_remove("VERITY_SETTLEMENT")
        .envs(env.iter().copied())
        .output()
        .expect("verity-node runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SETTLEMENT: &str = "0x0000000000000000000000000000000000000001";
const K1: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";
const K2: &str = "0x2222222222222222222222222222222222222222222222222222222222222222";

#[test]
fn a_bad_key_or_fault_is_one_line_naming_the_setting() {
    let (ok, err) = run(
        &["--settlement", SETTLEMENT, "--signing-key", K2],
        &[("VERITY_NODE_KEY", "not-a-key")],
    );
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--node-key / VERITY_NODE_KEY"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let (ok, err) = run(
        &[
            "--settlement",
            SETTLEMENT,
            "--node-key",
            K1,
            "--signing-key",
            K2,
            "--fault",
            "jitter=5",
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains("unknown fault item"), "{err}");
}

#[test]
fn an_unreachable_chain_is_one_line() {
    let (ok, err) = run(
        &[
            "--settlement",
            SETTLEMENT,
            "--node-key",
            K1,
            "--signing-key",
            K2,
            "--rpc-url",
            "http://127.0.0.1:1",
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.starts_with("verity-node: connecting to the chain"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
