//! What to deploy: the contracts in order, each one's optional initializer, and the roles wiring after them.
//!
//! Calls are built late, from an [`AddressBook`] of what is deployed so far, so an initializer can name a contract
//! deployed before it and wiring can name any of them. Calldata comes from the `verity-abi` `rpc` bindings
//! (`sol!`-generated `…Call` structs), never from hand-written selectors.
//!
//! Verity's own plan (contracts, constructors, wiring) lives in [`super::verity`].

use std::{collections::BTreeMap, fmt, sync::Arc};

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    sol_types::{abi::TokenSeq, SolCall, SolError, SolType, SolValue},
};

/// The deployer and the addresses of the contracts deployed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressBook {
    deployer: Address,
    contracts: BTreeMap<String, Address>,
}

/// A call asked for the address of a contract that is not deployed (yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingAddress(pub String);

impl AddressBook {
    /// An address book with no contracts.
    pub fn new(deployer: Address) -> Self {
        Self {
            deployer,
            contracts: BTreeMap::new(),
        }
    }

    /// The account deploying (the provider's signer).
    pub fn deployer(&self) -> Address {
        self.deployer
    }

    /// The address of contract `name`, if it is deployed.
    pub fn address(&self, name: &str) -> Result<Address, MissingAddress> {
        self.contracts
            .get(name)
            .copied()
            .ok_or_else(|| MissingAddress(name.to_owned()))
    }

    /// Records contract `name` at `address`.
    pub fn insert(&mut self, name: impl Into<String>, address: Address) {
        self.contracts.insert(name.into(), address);
    }
}

/// The storage slot where the Stylus SDK marks its constructor as run: `keccak256("stylus_constructor")`.
pub fn constructor_executed_slot() -> U256 {
    U256::from_be_bytes(keccak256("stylus_constructor").0)
}

/// How deployment recognizes a call that was already made when the record does not say so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoneCheck {
    /// The simulation reverts with the error with this selector.
    RevertsWith([u8; 4]),
    /// This storage slot of the called contract is non-zero (the SDK's constructor flag).
    SlotSet(U256),
}

type BuildFn = dyn Fn(&AddressBook) -> Result<Bytes, MissingAddress> + Send + Sync;

/// A transaction to a deployed contract, made after activation: an initializer or a wiring call.
#[derive(Clone)]
pub struct PlannedCall {
    /// Unique label, the key in the deployment record (e.g. `token.initialize`, `token.grantMinter(gauge)`).
    pub label: String,
    /// The contract called (a name in the plan).
    pub contract: String,
    /// Native value sent with the call.
    pub value: U256,
    /// How to tell that the call was already made (besides the deployment record).
    pub(crate) done_check: Option<DoneCheck>,
    build: Arc<BuildFn>,
}

impl fmt::Debug for PlannedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedCall")
            .field("label", &self.label)
            .field("contract", &self.contract)
            .field("value", &self.value)
            .finish_non_exhaustive()
    }
}

impl PlannedCall {
    /// A call to `contract` whose arguments are a `sol!` call struct built from the address book.
    ///
    /// ```
    /// use alloy::{primitives::Address, sol};
    /// use verity_script::deploy::PlannedCall;
    ///
    /// sol! { function setMinter(address minter, address owner); }
    /// let call = PlannedCall::new("token.setMinter", "token", |book| {
    ///     Ok(setMinterCall { minter: book.address("gauge")?, owner: book.deployer() })
    /// });
    /// assert_eq!(call.contract, "token");
    /// ```
    pub fn new<C, F>(label: impl Into<String>, contract: impl Into<String>, build: F) -> Self
    where
        C: SolCall,
        F: Fn(&AddressBook) -> Result<C, MissingAddress> + Send + Sync + 'static,
    {
        Self::raw(label, contract, move |book| {
            build(book).map(|call| call.abi_encode().into())
        })
    }

    /// A call whose calldata is built directly (for calls no `sol!` struct describes, e.g. a Stylus constructor).
    pub fn raw<F>(label: impl Into<String>, contract: impl Into<String>, build: F) -> Self
    where
        F: Fn(&AddressBook) -> Result<Bytes, MissingAddress> + Send + Sync + 'static,
    {
        Self {
            label: label.into(),
            contract: contract.into(),
            value: U256::ZERO,
            done_check: None,
            build: Arc::new(build),
        }
    }

    /// Treats a simulated revert with error `E` (e.g. the contract's `AlreadyInitialized`) as "already done":
    /// recorded without a transaction instead of failing. Per the idempotency rule, single-target operations revert
    /// with a typed `Already…` error when repeated.
    pub fn done_if_reverts_with<E: SolError>(mut self) -> Self {
        self.done_check = Some(DoneCheck::RevertsWith(E::SELECTOR));
        self
    }

    /// The same call sending `value` wei.
    pub fn with_value(mut self, value: U256) -> Self {
        self.value = value;
        self
    }

    /// Whether this is a Stylus `#[constructor]` call ([`Deployable::constructor`]): run by the SDK once, with its
    /// flag slot set.
    pub fn is_constructor(&self) -> bool {
        self.done_check == Some(DoneCheck::SlotSet(constructor_executed_slot()))
    }

    /// The calldata for the addresses in `book`.
    pub fn calldata(&self, book: &AddressBook) -> Result<Bytes, MissingAddress> {
        (self.build)(book)
    }
}

/// Where a [`StateCheck`] reads its 32-byte word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Word `word` of the return data of an `eth_call` to the contract with this calldata (a view).
    Call {
        /// The view's calldata.
        input: Bytes,
        /// Which 32-byte word of the answer (0 = the first return value of a static tuple).
        word: usize,
    },
    /// The contract's storage slot (for state no view exposes).
    Slot(U256),
}

/// What one checked field must hold: `actual & mask == expected` (`expected` within `mask`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Where the word is read.
    pub probe: Probe,
    /// The bits compared (`U256::MAX` = the whole word).
    pub mask: U256,
    /// Their expected value.
    pub value: U256,
}

impl Expected {
    /// Word `word` of view `call`'s answer must equal `value` (an address, number or bool, as its ABI word).
    pub fn call<C: SolCall>(call: C, word: usize, value: impl Into<B256>) -> Self {
        Self {
            probe: Probe::Call {
                input: call.abi_encode().into(),
                word,
            },
            mask: U256::MAX,
            value: U256::from_be_bytes(value.into().0),
        }
    }

    /// Storage slot `slot` must hold `value` in the bits of `mask`.
    pub fn slot(slot: U256, mask: U256, value: U256) -> Self {
        Self {
            probe: Probe::Slot(slot),
            mask,
            value: value & mask,
        }
    }
}

type CheckFn = dyn Fn(&AddressBook) -> Result<Expected, MissingAddress> + Send + Sync;

/// A field of a contract's state that must match the plan once its constructor has run: Stylus runs a constructor
/// in a call after activation, which anyone can send first; these checks turn such a front-run into an error
/// ([`crate::Error::StateMismatch`]) instead of a deployment whose admin is someone else.
#[derive(Clone)]
pub struct StateCheck {
    /// The field's name in errors (`admin`, `role(keeper)`, …).
    pub field: String,
    build: Arc<CheckFn>,
}

impl fmt::Debug for StateCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateCheck")
            .field("field", &self.field)
            .finish_non_exhaustive()
    }
}

impl StateCheck {
    /// What the field must hold, for the addresses in `book`.
    pub fn expected(&self, book: &AddressBook) -> Result<Expected, MissingAddress> {
        (self.build)(book)
    }
}

/// The storage slot of key `key` (a 32-byte word: an address left-padded, a number) in the Solidity-layout mapping
/// at slot `root`: `keccak256(key ‖ root)`, as stylus-sdk's `StorageMap` lays it out.
pub fn mapping_slot(key: B256, root: U256) -> U256 {
    let mut input = [0u8; 64];
    input[..32].copy_from_slice(key.as_slice());
    input[32..].copy_from_slice(&root.to_be_bytes::<32>());
    U256::from_be_bytes(keccak256(input).0)
}

/// One contract of the plan: which artifact to deploy, its initializer, if any, and the state its constructor
/// must leave.
#[derive(Debug, Clone)]
pub struct Deployable {
    /// The artifact's name ([`crate::ContractSpec::name`]).
    pub contract: String,
    /// Called once after activation (Stylus programs have no EVM constructor on this path).
    pub init: Option<PlannedCall>,
    /// Checked after the initializer ran (or was found run, or failed): any mismatch aborts the deployment.
    pub checks: Vec<StateCheck>,
}

impl Deployable {
    /// Deploys artifact `contract` with no initializer.
    pub fn new(contract: impl Into<String>) -> Self {
        Self {
            contract: contract.into(),
            init: None,
            checks: Vec::new(),
        }
    }

    /// Adds a state check: after the initializer, `field` must hold what `build` says for the address book.
    pub fn expect<F>(mut self, field: impl Into<String>, build: F) -> Self
    where
        F: Fn(&AddressBook) -> Result<Expected, MissingAddress> + Send + Sync + 'static,
    {
        self.checks.push(StateCheck {
            field: field.into(),
            build: Arc::new(build),
        });
        self
    }

    /// Adds the initializer: `build` makes its `sol!` call from the address book (this contract's own address
    /// included). Its label is `<contract>.init`.
    pub fn init<C, F>(mut self, build: F) -> Self
    where
        C: SolCall,
        F: Fn(&AddressBook) -> Result<C, MissingAddress> + Send + Sync + 'static,
    {
        self.init = Some(PlannedCall::new(
            format!("{}.init", self.contract),
            self.contract.clone(),
            build,
        ));
        self
    }

    /// Makes the initializer the contract's Stylus `#[constructor]`, called with the arguments `build` makes
    /// (a tuple such as `(admin, minter, recipient, amount)`): `stylus_constructor()`'s selector ‖ the
    /// ABI-encoded arguments, as cargo-stylus's deployer sends it. A constructor already run (the SDK's flag slot is
    /// set) counts as done. Label: `<contract>.constructor`.
    ///
    /// Between activation and this call anyone could run the constructor first: give the state it must leave
    /// with [`Deployable::expect`] (admin, roles, wiring), which deployment checks and aborts on.
    pub fn constructor<A, F>(mut self, build: F) -> Self
    where
        A: SolValue,
        for<'t> <A::SolType as SolType>::Token<'t>: TokenSeq<'t>,
        F: Fn(&AddressBook) -> Result<A, MissingAddress> + Send + Sync + 'static,
    {
        let selector = verity_abi::STYLUS_CONSTRUCTOR_SELECTOR;
        let mut call = PlannedCall::raw(
            format!("{}.constructor", self.contract),
            self.contract.clone(),
            move |book| {
                let mut data = selector.to_vec();
                data.extend(build(book)?.abi_encode_params());
                Ok(data.into())
            },
        );
        call.done_check = Some(DoneCheck::SlotSet(constructor_executed_slot()));
        self.init = Some(call);
        self
    }

    /// Sets the initializer to an arbitrary planned call (label and value of your choice).
    pub fn init_call(mut self, call: PlannedCall) -> Self {
        self.init = Some(call);
        self
    }
}

/// Everything `deploy_all` does, in order: each contract (create, activate, initialize), then the wiring calls.
#[derive(Debug, Clone, Default)]
pub struct DeployPlan {
    /// The contracts, in deployment order.
    pub contracts: Vec<Deployable>,
    /// Roles wiring and other calls after every contract is deployed, in order.
    pub wiring: Vec<PlannedCall>,
}

impl DeployPlan {
    /// An empty plan.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a contract.
    pub fn contract(mut self, deployable: Deployable) -> Self {
        self.contracts.push(deployable);
        self
    }

    /// Appends a wiring call.
    pub fn wire(mut self, call: PlannedCall) -> Self {
        self.wiring.push(call);
        self
    }

    /// Every planned call (initializers, then wiring) in execution order.
    pub fn calls(&self) -> impl Iterator<Item = &PlannedCall> {
        self.contracts
            .iter()
            .filter_map(|d| d.init.as_ref())
            .chain(&self.wiring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::{primitives::address, sol};

    sol! { function grant(address who); }

    #[test]
    fn calls_resolve_addresses_late() {
        let call = PlannedCall::new("token.grant(gauge)", "token", |book| {
            Ok(grantCall {
                who: book.address("gauge")?,
            })
        });
        let mut book = AddressBook::new(Address::ZERO);
        assert_eq!(call.calldata(&book), Err(MissingAddress("gauge".into())));
        let gauge = address!("0x00000000000000000000000000000000000000aa");
        book.insert("gauge", gauge);
        assert_eq!(
            call.calldata(&book).unwrap(),
            Bytes::from(grantCall { who: gauge }.abi_encode())
        );
    }

    #[test]
    fn constructor_call_is_selector_then_params() {
        // The selector stylus-sdk routes to its #[constructor].
        assert_eq!(
            verity_abi::STYLUS_CONSTRUCTOR_SELECTOR,
            alloy::primitives::keccak256("stylus_constructor()")[..4]
        );
        let d = Deployable::new("token").constructor(|book| Ok((book.deployer(), U256::from(7))));
        let call = d.init.unwrap();
        assert_eq!(call.label, "token.constructor");
        let data = call
            .calldata(&AddressBook::new(Address::repeat_byte(1)))
            .unwrap();
        assert_eq!(data[..4], verity_abi::STYLUS_CONSTRUCTOR_SELECTOR);
        assert_eq!(
            data[4..],
            (Address::repeat_byte(1), U256::from(7)).abi_encode_params()
        );
        assert_eq!(
            call.done_check,
            Some(DoneCheck::SlotSet(constructor_executed_slot()))
        );
    }

    #[test]
    fn plan_orders_inits_before_wiring() {
        let plan = DeployPlan::new()
            .contract(Deployable::new("token").init(|book| {
                Ok(grantCall {
                    who: book.deployer(),
                })
            }))
            .contract(Deployable::new("registry"))
            .wire(PlannedCall::new("token.grant(registry)", "token", |b| {
                Ok(grantCall {
                    who: b.address("registry")?,
                })
            }));
        let labels: Vec<_> = plan.calls().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["token.init", "token.grant(registry)"]);
    }
}
