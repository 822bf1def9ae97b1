//! What a Nitro dev chain has at genesis besides the dev accounts, so tools written for nitro-devnode work here
//! unchanged: the CREATE2 factory, a StylusDeployer (create + activate + constructor in one transaction — the only
//! deployment a constructor cannot be front-run in), a Stylus cache manager (`cargo stylus cache`), and Nitro's
//! funded dev account.
//!
//! # Decisions
//! - **Our own StylusDeployer** (`devnode/predeploys/StylusDeployer.sol`), with the ABI and behaviour of
//!   Arbitrum's deployer at the same address; its runtime bytecode is committed (`StylusDeployer.hex`, solc 0.8.30,
//!   optimizer on, Cancun, no metadata) so building devnode needs no Solidity compiler, and a test recompiles the
//!   source with solcjs and compares (`predeploys_match_their_sources` in `devnode/tests`).
//! - **The CREATE2 factory is the standard one** (the keyless "deterministic deployment proxy" whose address every
//!   chain shares): its 69 bytes are a constant of the ecosystem, not a design of ours; `salt ‖ initcode` in,
//!   the created address out.
//! - **Nitro's dev account is funded but not one of the dev accounts**: `dev_accounts()` stays anvil's list (tests
//!   and tools index it), and the binary prints this account beside them.

use alloy::primitives::{address, hex, Address, Bytes};
use alloy::signers::local::PrivateKeySigner;

use super::DevAccount;

/// Alloy bindings of `devnode/predeploys/IStylusDeployer.sol`.
#[allow(missing_docs)]
mod deployer_abi {
    alloy::sol!(
        #[sol(rpc)]
        "predeploys/IStylusDeployer.sol"
    );
}
pub use deployer_abi::IStylusDeployer;

/// Arbitrum's StylusDeployer address (cargo-stylus deploys contracts with constructors through it).
pub const STYLUS_DEPLOYER: Address = address!("cEcba2F1DC234f70Dd89F2041029807F8D03A990");

/// The deterministic-deployment proxy (CREATE2 factory) every EVM chain has at this address.
pub const CREATE2_FACTORY: Address = address!("4e59b44847b379578588920ca78fbf26c0b4956c");

/// The CREATE2 factory's runtime code: calldata `salt (32 bytes) ‖ initcode`, returns the created address.
const CREATE2_FACTORY_CODE: &str = "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe03601600081602082378035828234f58015156039578182fd5b8082525050506014600cf3";

/// StylusDeployer's runtime code, compiled from `devnode/predeploys/StylusDeployer.sol`.
pub const STYLUS_DEPLOYER_CODE: &str = include_str!("../../predeploys/StylusDeployer.hex");

/// nitro-devnode's Stylus cache manager address; devnode's own `CacheManager` (`devnode/predeploys/`) lives here.
pub const CACHE_MANAGER: Address = address!("2F8Bd4EaB69764c105aDd7dE7CB0402557a44E6f");

/// CacheManager's runtime code, compiled from `devnode/predeploys/CacheManager.sol`.
pub const CACHE_MANAGER_CODE: &str = include_str!("../../predeploys/CacheManager.hex");

/// Nitro's dev account (`nitro-devnode`'s funded account; its key is published in Nitro's documentation).
pub const NITRO_DEV_ADDRESS: Address = address!("3f1Eae7D46d88F08fc2F8ed27FCb2AB183EB2d0E");

/// Nitro's published dev key for [`NITRO_DEV_ADDRESS`].
const NITRO_DEV_KEY: &str = "b6b15c8cb491557369f3c7d2c287b053eb229daa9c22138887752191c9520659";

/// Every predeployed contract: its address and runtime code.
pub fn contracts() -> [(Address, Bytes); 3] {
    [
        (CREATE2_FACTORY, code(CREATE2_FACTORY_CODE)),
        (STYLUS_DEPLOYER, code(STYLUS_DEPLOYER_CODE)),
        (CACHE_MANAGER, code(CACHE_MANAGER_CODE)),
    ]
}

/// Nitro's dev account, with its signer.
pub fn nitro_dev_account() -> DevAccount {
    // Invariant: the constant is a valid secp256k1 key (checked by a test against NITRO_DEV_ADDRESS).
    let signer: PrivateKeySigner = NITRO_DEV_KEY
        .parse()
        .unwrap_or_else(|_| unreachable!("Nitro's dev key is a valid key"));
    DevAccount {
        address: signer.address(),
        signer,
    }
}

fn code(hex_text: &str) -> Bytes {
    // Invariant: every constant is hex (checked by the tests).
    hex::decode(hex_text.trim())
        .unwrap_or_else(|_| unreachable!("predeploy code is hex"))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nitro_dev_key_is_the_published_account() {
        assert_eq!(nitro_dev_account().address, NITRO_DEV_ADDRESS);
    }

    #[test]
    fn predeploy_code_decodes() {
        for (address, code) in contracts() {
            assert!(!code.is_empty(), "{address}");
        }
    }
}
