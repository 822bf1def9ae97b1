//! The deployable contracts: the one list the build pipeline and the deploy plan read.

/// A deployable Stylus contract: a workspace package whose `Cargo.toml` has `crate-type = ["lib", "cdylib"]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContractSpec {
    /// Short name used for artifacts (`target/verity/<name>.wasm`) and in `deployments/<network>.json`.
    pub name: &'static str,
    /// The Cargo package that builds it.
    pub package: &'static str,
}

impl ContractSpec {
    /// A contract named `name`, built from the Cargo package `package`.
    pub const fn new(name: &'static str, package: &'static str) -> Self {
        Self { name, package }
    }

    /// The library target's name, i.e. the stem of the `.wasm` file cargo writes.
    pub fn lib_name(&self) -> String {
        self.package.replace('-', "_")
    }
}

/// Every deployable contract, in deployment order. Adding a contract is one line here.
pub const CONTRACTS: &[ContractSpec] = &[
    ContractSpec::new("token", "verity-token"),
    ContractSpec::new("escrow", "verity-escrow"),
    ContractSpec::new("gauge", "verity-gauge"),
    ContractSpec::new("registry", "verity-registry"),
    ContractSpec::new("settlement-nodes", "verity-settlement-nodes"),
    ContractSpec::new("settlement-batches", "verity-settlement-batches"),
    ContractSpec::new("settlement", "verity-settlement"),
    ContractSpec::new("settlement-committee", "verity-settlement-committee"),
    ContractSpec::new("groth16", "verity-groth16"),
];

/// Contract crates that compile but are not deployable yet, each with the reason; they stay out of
/// [`CONTRACTS`] (and so out of `verity build` and the deploy plan) until the reason is gone. The sizes test
/// fails on any other cdylib crate missing from [`CONTRACTS`].
pub const NOT_YET_DEPLOYABLE: &[(&str, &str)] = &[];

/// Looks a contract up by its short name in [`CONTRACTS`].
pub fn find(name: &str) -> Option<&'static ContractSpec> {
    CONTRACTS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_packages_are_unique() {
        let names: HashSet<_> = CONTRACTS.iter().map(|c| c.name).collect();
        let packages: HashSet<_> = CONTRACTS.iter().map(|c| c.package).collect();
        assert_eq!(names.len(), CONTRACTS.len());
        assert_eq!(packages.len(), CONTRACTS.len());
    }

    #[test]
    fn lib_name_replaces_dashes() {
        assert_eq!(
            ContractSpec::new("token", "verity-token").lib_name(),
            "verity_token"
        );
        assert_eq!(find("token").map(|c| c.package), Some("verity-token"));
        assert!(find("nope").is_none());
    }
}
