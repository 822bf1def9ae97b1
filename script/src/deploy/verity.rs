//! Verity's own deployment plan: which contracts, their constructors and the roles wiring. Each contract's issue
//! adds its [`Deployable`] and wiring here; `verity deploy`, `verity dev` and the end-to-end tests all use it.

use alloy::primitives::{Address, U256};

use super::{AddressBook, DeployPlan, Deployable, PlannedCall};

/// Who holds which role and how much BR circulates at genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerityParams {
    /// Admin of every contract (governance). `None` = the deployer.
    pub admin: Option<Address>,
    /// Receives BR's genesis supply. `None` = the deployer.
    pub treasury: Option<Address>,
    /// BR minted at genesis (≈21% of the cap by default).
    pub genesis_supply: U256,
}

impl Default for VerityParams {
    fn default() -> Self {
        Self {
            admin: None,
            treasury: None,
            // 21% of the 1e9 BR cap.
            genesis_supply: verity_abi::token::CAP * U256::from(21u64) / U256::from(100u64),
        }
    }
}

impl VerityParams {
    fn admin(&self, book: &AddressBook) -> Address {
        self.admin.unwrap_or(book.deployer())
    }

    fn treasury(&self, book: &AddressBook) -> Address {
        self.treasury.unwrap_or(book.deployer())
    }
}

/// The full Verity deployment: BR first (its minter is wired to the GaugeController once that exists).
pub fn plan(params: &VerityParams) -> DeployPlan {
    let token_params = params.clone();
    let gauge_params = params.clone();
    DeployPlan::new()
        .contract(Deployable::new("token").constructor(move |book| {
            Ok((
                token_params.admin(book),
                // The minter is the GaugeController, set by the wiring once it is deployed.
                Address::ZERO,
                token_params.treasury(book),
                token_params.genesis_supply,
            ))
        }))
        .contract(Deployable::new("escrow").constructor(|book| Ok((book.address("token")?,))))
        .contract(Deployable::new("gauge").constructor(move |book| {
            use verity_abi::gauge::{
                DEFAULT_EMISSION_END, DEFAULT_EPOCH_LENGTH, DEFAULT_SEASON_LENGTH,
            };
            Ok((
                gauge_params.admin(book),
                book.address("token")?,
                book.address("escrow")?,
                // Genesis 0: the start of the current week, at construction.
                0u64,
                DEFAULT_EPOCH_LENGTH,
                DEFAULT_SEASON_LENGTH,
                DEFAULT_EMISSION_END,
                // No per-voter cap.
                0u64,
            ))
        }))
        // BR's admin (the deployer unless `admin` is set: then governance sends this call) makes the
        // GaugeController the minter of every epoch's emission.
        .wire(PlannedCall::new(
            "token.setMinter(gauge)",
            "token",
            |book| {
                Ok(verity_abi::rpc::IBrToken::setMinterCall {
                    new_minter: book.address("gauge")?,
                })
            },
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{primitives::address, sol_types::SolValue};

    #[test]
    fn token_constructor_encodes_selector_and_arguments() {
        let deployer = address!("0x00000000000000000000000000000000000000d1");
        let plan = plan(&VerityParams::default());
        let call = plan.calls().next().expect("token constructor");
        let data = call.calldata(&AddressBook::new(deployer)).unwrap();
        assert_eq!(data[..4], verity_abi::STYLUS_CONSTRUCTOR_SELECTOR);
        let (admin, minter, treasury, supply) =
            <(Address, Address, Address, U256)>::abi_decode_params(&data[4..]).unwrap();
        assert_eq!(
            (admin, minter, treasury),
            (deployer, Address::ZERO, deployer)
        );
        assert_eq!(
            supply,
            verity_abi::token::CAP * U256::from(21u64) / U256::from(100u64)
        );
    }
}
