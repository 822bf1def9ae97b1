//! The `verity-zk` binary end to end in a scratch directory: example → commit → setup → prove → verify, a
//! tampered proof and a wrong output hash refused (exit code 1), a malformed weights file refused with an error.

use std::{path::Path, process::Command};

fn run(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_verity-zk"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("verity-zk runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The value printed after `label ` on its own line.
fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{label} ")))
        .unwrap_or_else(|| panic!("no {label} in {text}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn example_commit_setup_prove_verify() {
    let dir = std::env::temp_dir().join(format!("verity-zk-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (ok, out) = run(&dir, &["example", "--seed", "5", "model.vzk"]);
    assert!(ok, "{out}");
    let model = verity_zk::model::Model::from_bytes(&std::fs::read(dir.join("model.vzk")).unwrap())
        .unwrap();
    assert_eq!(model, verity_zk::model::Model::example(4, 8, 3, 5));

    let (ok, out) = run(&dir, &["commit", "model.vzk"]);
    assert!(ok, "{out}");
    assert_eq!(field(&out, "contentHash"), model.content_hash().to_string());
    let commitment = field(&out, "weightsCommitment");
    assert_eq!(
        commitment,
        verity_zk::field::word_of(model.commitment()).to_string()
    );

    let (ok, out) = run(&dir, &["setup", "model.vzk", "--out", "keys"]);
    assert!(ok, "{out}");
    let (ok, out) = run(
        &dir,
        &[
            "prove",
            "--key",
            "keys/proving.key",
            "model.vzk",
            "--input",
            "3,-7,100,-128",
            "--out",
            "proof.bin",
        ],
    );
    assert!(ok, "{out}");
    let (input_hash, output_hash) = (field(&out, "inputHash"), field(&out, "outputHash"));
    let expected = format!("output {:?}", model.infer(&[3, -7, 100, -128]).unwrap());
    assert!(out.lines().any(|l| l == expected), "{out}");
    let verify = |proof: &str, output: &str| {
        run(
            &dir,
            &[
                "verify",
                "--key",
                "keys/verifying.key",
                "--commitment",
                &commitment,
                "--input-hash",
                &input_hash,
                "--output-hash",
                output,
                proof,
            ],
        )
    };
    let (ok, out) = verify("proof.bin", &output_hash);
    assert!(ok && out.trim() == "valid", "{out}");

    let mut proof = std::fs::read(dir.join("proof.bin")).unwrap();
    assert_eq!(proof.len(), 256);
    proof[255] ^= 1;
    std::fs::write(dir.join("tampered.bin"), &proof).unwrap();
    let (ok, out) = verify("tampered.bin", &output_hash);
    assert!(!ok && out.starts_with("invalid"), "{out}");
    let (ok, out) = verify("proof.bin", &input_hash);
    assert!(!ok && out.trim() == "invalid", "{out}");

    std::fs::write(dir.join("bad.vzk"), b"VZK1\x00").unwrap();
    let (ok, out) = run(&dir, &["commit", "bad.vzk"]);
    assert!(!ok && out.contains("bad.vzk"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
