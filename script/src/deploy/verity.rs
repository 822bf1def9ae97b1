//! Verity's own deployment plan: which contracts, their constructors and the roles wiring. Each contract's issue
//! adds its [`Deployable`] and wiring here; `verity deploy`, `verity dev` and the end-to-end tests all use it.

use alloy::primitives::{Address, B256, U256};
use verity_abi::{
    registry::Role,
    rpc::{
        IBrToken, ICommitteeVerifier, IGaugeController, IGroth16Verifier, IInferenceSettlement,
        IReceiptBatches, ISettlementNodes, IVotingEscrow,
    },
};

use super::{mapping_slot, AddressBook, DeployPlan, Deployable, Expected, PlannedCall};

/// ModelRegistry's storage layout, which its constructor's state is checked against (it has no role or config
/// views, to save code size): the first field `globals` (4 words; word 0 the packed config), then `accounts`
/// (mapping: account → refund credit in the low 128 bits, role mask in the high 128 bits).
pub mod registry_layout {
    use alloy::primitives::U256;

    /// Slot of the packed config word: limb 0 paused, 1 max wait, 2 TTL, 3 minimum fee.
    pub const CONFIG_SLOT: U256 = U256::ZERO;
    /// Slot of the `accounts` mapping.
    pub const ACCOUNTS_SLOT: U256 = U256::from_limbs([4, 0, 0, 0]);
    /// Bit offset of the role mask in an account's word.
    pub const ROLE_SHIFT: usize = 128;
}

/// An address as its ABI word.
fn word(address: Address) -> B256 {
    address.into_word()
}

/// A number as its ABI word.
fn num(value: U256) -> B256 {
    B256::from(value)
}

/// `true` as its ABI word.
const TRUE: B256 = B256::with_last_byte(1);

/// The registry's check that `account` holds `role` (its bit in the account's role mask).
fn registry_role(account: Address, role: Role) -> Expected {
    let bit = U256::from(role.bit()) << registry_layout::ROLE_SHIFT;
    Expected::slot(
        mapping_slot(word(account), registry_layout::ACCOUNTS_SLOT),
        bit,
        bit,
    )
}

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
    /// InferenceSettlement's roles (its three contracts and the committee verifier).
    pub settlement: SettlementParams,
    /// The GaugeController's per-voter cap, in bps of veBR's total supply at an epoch's start (0 = no cap).
    pub gauge_cap_bps: u64,
}

/// InferenceSettlement's deployment arguments beyond the admin (governance of all four contracts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementParams {
    /// The one keeper allowed to anchor receipt batches at first (`ReceiptBatches.setKeeper` adds more). `None` =
    /// the deployer.
    pub batch_keeper: Option<Address>,
    /// Members of the CommitteeVerifier (k-of-n attestation signatures). Empty = the deployer alone.
    pub committee: Vec<Address>,
    /// Signatures the CommitteeVerifier requires (1 ≤ k ≤ members).
    pub committee_threshold: u64,
}

impl Default for SettlementParams {
    /// Dev-chain defaults: the deployer anchors batches and is the one-member committee.
    fn default() -> Self {
        Self {
            batch_keeper: None,
            committee: Vec::new(),
            committee_threshold: 1,
        }
    }
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
            settlement: SettlementParams::default(),
            gauge_cap_bps: 0,
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
    let nodes_params = params.clone();
    let batches_params = params.clone();
    let settlement_params = params.clone();
    let committee_params = params.clone();
    DeployPlan::new()
        .contract(
            Deployable::new("token")
                .constructor(move |book| {
                    Ok((
                        token_params.admin(book),
                        // The minter is the GaugeController, set by the wiring once it is deployed.
                        Address::ZERO,
                        token_params.treasury(book),
                        token_params.genesis_supply,
                    ))
                })
                .expect("admin", {
                    let p = params.clone();
                    move |book| {
                        Ok(Expected::call(
                            IBrToken::adminCall {},
                            0,
                            word(p.admin(book)),
                        ))
                    }
                })
                .expect("minter", |_| {
                    Ok(Expected::call(
                        IBrToken::minterCall {},
                        0,
                        word(Address::ZERO),
                    ))
                })
                .expect("totalSupply", {
                    let p = params.clone();
                    move |_| {
                        Ok(Expected::call(
                            IBrToken::totalSupplyCall {},
                            0,
                            num(p.genesis_supply),
                        ))
                    }
                })
                .expect("balanceOf(treasury)", {
                    let p = params.clone();
                    move |book| {
                        Ok(Expected::call(
                            IBrToken::balanceOfCall {
                                account: p.treasury(book),
                            },
                            0,
                            num(p.genesis_supply),
                        ))
                    }
                }),
        )
        .contract(
            Deployable::new("escrow")
                .constructor(|book| Ok((book.address("token")?,)))
                .expect("token", |book| {
                    Ok(Expected::call(
                        IVotingEscrow::tokenCall {},
                        0,
                        word(book.address("token")?),
                    ))
                }),
        )
        .contract(
            Deployable::new("gauge")
                .constructor(move |book| {
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
                        gauge_params.gauge_cap_bps,
                    ))
                })
                .expect("admin", {
                    let p = params.clone();
                    move |book| {
                        Ok(Expected::call(
                            IGaugeController::adminCall {},
                            0,
                            word(p.admin(book)),
                        ))
                    }
                })
                .expect("token", |book| {
                    Ok(Expected::call(
                        IGaugeController::configCall {},
                        0,
                        word(book.address("token")?),
                    ))
                })
                .expect("escrow", |book| {
                    Ok(Expected::call(
                        IGaugeController::configCall {},
                        1,
                        word(book.address("escrow")?),
                    ))
                })
                .expect("per-voter cap", {
                    let cap = params.gauge_cap_bps;
                    move |_| {
                        Ok(Expected::call(
                            IGaugeController::configCall {},
                            6,
                            num(U256::from(cap)),
                        ))
                    }
                }),
        )
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
        .contract(
            Deployable::new("registry")
                .constructor(move |book| {
                    let p = &registry_params.registry;
                    Ok((
                        registry_params.admin(book),
                        p.attester.unwrap_or(book.deployer()),
                        p.keeper.unwrap_or(book.deployer()),
                        p.min_fee,
                        p.max_wait,
                        p.ttl,
                    ))
                })
                .expect("role(admin)", {
                    let p = params.clone();
                    move |book| Ok(registry_role(p.admin(book), Role::Admin))
                })
                .expect("role(attester)", {
                    let p = params.clone();
                    move |book| {
                        Ok(registry_role(
                            p.registry.attester.unwrap_or(book.deployer()),
                            Role::Attester,
                        ))
                    }
                })
                .expect("role(keeper)", {
                    let p = params.clone();
                    move |book| {
                        Ok(registry_role(
                            p.registry.keeper.unwrap_or(book.deployer()),
                            Role::Keeper,
                        ))
                    }
                })
                .expect("config", {
                    let p = params.registry.clone();
                    move |_| {
                        // Limb 3 (the minimum fee) is the plan's only if it fits 64 bits; else the constructor reverts.
                        let fee = p.min_fee.as_limbs()[0];
                        Ok(Expected::slot(
                            registry_layout::CONFIG_SLOT,
                            U256::MAX,
                            U256::from_limbs([0, p.max_wait, p.ttl, fee]),
                        ))
                    }
                }),
        )
        // InferenceSettlement: nodes (stake, keys, the receipt judge) → batches (Merkle anchoring) → the paid-request
        // contract (the EIP-712 verifying contract), then nodes learns the settlement address once.
        .contract(
            Deployable::new("settlement-nodes")
                .constructor(move |book| Ok((nodes_params.admin(book), book.address("registry")?)))
                .expect("governance", {
                    let p = params.clone();
                    move |book| {
                        Ok(Expected::call(
                            ISettlementNodes::configCall {},
                            0,
                            word(p.admin(book)),
                        ))
                    }
                })
                .expect("registry", |book| {
                    Ok(Expected::call(
                        ISettlementNodes::configCall {},
                        1,
                        word(book.address("registry")?),
                    ))
                })
                .expect("settlement", |_| {
                    Ok(Expected::call(
                        ISettlementNodes::configCall {},
                        2,
                        word(Address::ZERO),
                    ))
                }),
        )
        .contract(
            Deployable::new("settlement-batches")
                .constructor(move |book| {
                    Ok((
                        batches_params.admin(book),
                        book.address("settlement-nodes")?,
                        batches_params
                            .settlement
                            .batch_keeper
                            .unwrap_or(book.deployer()),
                    ))
                })
                .expect("governance", {
                    let p = params.clone();
                    move |book| {
                        Ok(Expected::call(
                            IReceiptBatches::configCall {},
                            0,
                            word(p.admin(book)),
                        ))
                    }
                })
                .expect("nodes", |book| {
                    Ok(Expected::call(
                        IReceiptBatches::configCall {},
                        1,
                        word(book.address("settlement-nodes")?),
                    ))
                })
                .expect("isKeeper(batch keeper)", {
                    let p = params.clone();
                    move |book| {
                        Ok(Expected::call(
                            IReceiptBatches::isKeeperCall {
                                account: p.settlement.batch_keeper.unwrap_or(book.deployer()),
                            },
                            0,
                            TRUE,
                        ))
                    }
                }),
        )
        .contract(
            Deployable::new("settlement")
                .constructor(move |book| {
                    Ok((
                        settlement_params.admin(book),
                        book.address("registry")?,
                        book.address("settlement-nodes")?,
                        book.address("settlement-batches")?,
                    ))
                })
                .expect("governance", {
                    let p = params.clone();
                    move |book| {
                        Ok(Expected::call(
                            IInferenceSettlement::configCall {},
                            0,
                            word(p.admin(book)),
                        ))
                    }
                })
                .expect("registry", |book| {
                    Ok(Expected::call(
                        IInferenceSettlement::configCall {},
                        1,
                        word(book.address("registry")?),
                    ))
                })
                .expect("nodes", |book| {
                    Ok(Expected::call(
                        IInferenceSettlement::configCall {},
                        2,
                        word(book.address("settlement-nodes")?),
                    ))
                })
                .expect("batches", |book| {
                    Ok(Expected::call(
                        IInferenceSettlement::configCall {},
                        3,
                        word(book.address("settlement-batches")?),
                    ))
                }),
        )
        .wire(
            PlannedCall::new(
                "settlement-nodes.setSettlement(settlement)",
                "settlement-nodes",
                |book| {
                    Ok(verity_abi::rpc::ISettlementNodes::setSettlementCall {
                        settlement: book.address("settlement")?,
                    })
                },
            )
            .done_if_reverts_with::<verity_abi::settlement::SettlementAlreadyWired>(),
        )
        .contract(
            Deployable::new("settlement-committee")
                .constructor(move |book| {
                    let p = &committee_params.settlement;
                    let members = if p.committee.is_empty() {
                        vec![book.deployer()]
                    } else {
                        p.committee.clone()
                    };
                    Ok((committee_params.admin(book), members, p.committee_threshold))
                })
                .expect("governance", {
                    let p = params.clone();
                    move |book| {
                        Ok(Expected::call(
                            ICommitteeVerifier::configCall {},
                            0,
                            word(p.admin(book)),
                        ))
                    }
                })
                .expect("threshold", {
                    let p = params.settlement.clone();
                    move |_| {
                        Ok(Expected::call(
                            ICommitteeVerifier::configCall {},
                            1,
                            num(U256::from(p.committee_threshold)),
                        ))
                    }
                })
                .expect("members", {
                    let p = params.settlement.clone();
                    move |_| {
                        Ok(Expected::call(
                            ICommitteeVerifier::configCall {},
                            2,
                            num(U256::from(p.committee.len().max(1))),
                        ))
                    }
                })
                .expect("isMember(first member)", {
                    let p = params.settlement.clone();
                    move |book| {
                        Ok(Expected::call(
                            ICommitteeVerifier::isMemberCall {
                                account: p.committee.first().copied().unwrap_or(book.deployer()),
                            },
                            0,
                            TRUE,
                        ))
                    }
                }),
        )
        // Groth16Verifier: keys are registered per model version by the version's submitter in the registry;
        // governance points `settlement.setVerifier(modelVersion, groth16)` at it per model.
        .contract(
            Deployable::new("groth16")
                .constructor(|book| Ok((book.address("registry")?,)))
                .expect("registry", |book| {
                    Ok(Expected::call(
                        IGroth16Verifier::registryCall {},
                        0,
                        word(book.address("registry")?),
                    ))
                }),
        )
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
    fn settlement_contracts_follow_nodes_batches_settlement_order() {
        let deployer = address!("0x00000000000000000000000000000000000000d1");
        let plan = plan(&VerityParams::default());
        let labels: Vec<&str> = plan.calls().map(|c| c.label.as_str()).collect();
        let at = |l: &str| labels.iter().position(|x| *x == l).expect(l);
        assert!(at("registry.constructor") < at("settlement-nodes.constructor"));
        assert!(at("settlement-nodes.constructor") < at("settlement-batches.constructor"));
        assert!(at("settlement-batches.constructor") < at("settlement.constructor"));
        assert!(at("settlement.constructor") < at("settlement-nodes.setSettlement(settlement)"));
        let mut book = AddressBook::new(deployer);
        for (i, name) in [
            "registry",
            "settlement-nodes",
            "settlement-batches",
            "settlement",
        ]
        .into_iter()
        .enumerate()
        {
            book.insert(name, Address::with_last_byte(0x10 + i as u8));
        }
        let call = plan
            .calls()
            .find(|c| c.label == "settlement.constructor")
            .unwrap();
        let data = call.calldata(&book).unwrap();
        let args = <(Address, Address, Address, Address)>::abi_decode_params(&data[4..]).unwrap();
        assert_eq!(
            args,
            (
                deployer,
                Address::with_last_byte(0x10),
                Address::with_last_byte(0x11),
                Address::with_last_byte(0x12)
            )
        );
        let committee = plan
            .calls()
            .find(|c| c.label == "settlement-committee.constructor")
            .unwrap();
        let data = committee.calldata(&book).unwrap();
        let (admin, members, k) =
            <(Address, Vec<Address>, u64)>::abi_decode_params(&data[4..]).unwrap();
        assert_eq!((admin, members, k), (deployer, vec![deployer], 1));
    }

    #[test]
    fn every_constructor_has_state_checks() {
        let plan = plan(&VerityParams::default());
        for d in &plan.contracts {
            if d.init.is_some() {
                assert!(!d.checks.is_empty(), "{} has no state checks", d.contract);
            }
        }
        // The registry's role checks read bit `role` of the high half of the account's word.
        let e = registry_role(Address::repeat_byte(1), Role::Keeper);
        assert_eq!(e.mask, U256::from(4) << 128);
        assert_eq!(
            e.probe,
            super::super::Probe::Slot(mapping_slot(
                Address::repeat_byte(1).into_word(),
                U256::from(4)
            ))
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
