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
