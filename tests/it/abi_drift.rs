//! Every committed interface equals what the contract exports today (plus its `verity-abi` events).
//! Regenerate with `cargo run -p verity -- abi --write` after an intended change.

use verity::abi::{export_interface, interface_path, workspace_root};

#[test]
fn committed_interfaces_match_export_abi() {
    let root = workspace_root();
    let mut drifted = Vec::new();
    for contract in verity_abi::CONTRACTS {
        let exported = export_interface(&root, contract).expect("export-abi runs");
        let path = interface_path(&root, contract);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != exported {
            drifted.push(format!("{} ({})", contract.package, path.display()));
        }
    }
    assert!(
        drifted.is_empty(),
        "ABI drift, run `cargo run -p verity -- abi --write`: {drifted:?}"
    );
}

/// Every committed JSON ABI (`contracts/abi/json/`) equals the committed Solidity interface as `sol!` compiles it.
#[test]
fn committed_json_abis_match_the_interfaces() {
    let root = workspace_root();
    let mut drifted = Vec::new();
    for contract in verity_abi::CONTRACTS {
        let json = verity::abi::json_abi(contract).expect("a JSON ABI per contract");
        let path = verity::abi::json_path(&root, contract);
        if std::fs::read_to_string(&path).unwrap_or_default() != json {
            drifted.push(path.display().to_string());
        }
    }
    assert!(
        drifted.is_empty(),
        "JSON ABI drift, run `cargo run -p verity -- abi --write`: {drifted:?}"
    );
}
