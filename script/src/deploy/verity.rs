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
    /// The ModelRegistry's roles and configuration.
    pub registry: RegistryParams,
}

/// The ModelRegistry's constructor arguments beyond the admin (which is [`VerityParams::admin`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryParams {
    /// Confirms storage (`confirmStorage`). `None` = the deployer (on a dev chain the deployer runs the keeper).
    pub attester: Option<Address>,
    /// Finalizes registrations at any time (`finalizeRegistrations`). `None` = the deployer.
    pub keeper: Option<Address>,
    /// Minimum fee per submission, in wei (at most `u64::MAX`).
    pub min_fee: U256,
    /// Seconds after submission past which anyone may finalize a version.
    pub max_wait: u64,
    /// Seconds after submission past which a pending version expires (must exceed `max_wait`).
    pub ttl: u64,
}

impl Default for RegistryParams {
    /// Dev-chain defaults: a 0.001 ETH minimum fee, anyone may finalize after a day, pending versions expire after
    /// a week.
    fn default() -> Self {
        Self {
            attester: None,
            keeper: None,
            min_fee: U256::from(1_000_000_000_000_000u64),
            max_wait: 24 * 3_600,
            ttl: 7 * 24 * 3_600,
        }
    }
}

impl Default for VerityParams {
    fn default() -> Self {
        Self {
            admin: None,
            treasury: None,
            // 21% of the 1e9 BR cap.
            genesis_supply: verity_abi::token::CAP * U256::from(21u64) / U256::from(100u64),
            registry: RegistryParams::default(),
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
    let registry_params = params.clone();
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
        .contract(Deployable::new("registry").constructor(move |book| {
            let p = &registry_params.registry;
            Ok((
                registry_params.admin(book),
                p.attester.unwrap_or(book.deployer()),
                p.keeper.unwrap_or(book.deployer()),
                p.min_fee,
                p.max_wait,
                p.ttl,
            ))
        }))
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

    #[test]
    fn registry_constructor_takes_roles_and_config() {
        let deployer = address!("0x00000000000000000000000000000000000000d1");
        let keeper = address!("0x00000000000000000000000000000000000000d2");
        let mut params = VerityParams::default();
        params.registry.keeper = Some(keeper);
        let plan = plan(&params);
        let call = plan
            .calls()
            .find(|c| c.label == "registry.constructor")
            .expect("registry constructor");
        let data = call.calldata(&AddressBook::new(deployer)).unwrap();
        assert_eq!(data[..4], verity_abi::STYLUS_CONSTRUCTOR_SELECTOR);
        let (admin, attester, k, min_fee, max_wait, ttl) =
            <(Address, Address, Address, U256, u64, u64)>::abi_decode_params(&data[4..]).unwrap();
        let d = RegistryParams::default();
        assert_eq!((admin, attester, k), (deployer, deployer, keeper));
        assert_eq!((min_fee, max_wait, ttl), (d.min_fee, d.max_wait, d.ttl));
        assert!(d.max_wait < d.ttl && d.min_fee <= U256::from(u64::MAX));
    }
}
