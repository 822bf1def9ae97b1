//! Chain ownership as a Nitro dev chain has it: `ArbOwner` (0x70, owner-only setters), `ArbOwnerPublic` (0x6b,
//! the getters anyone may call) and `ArbDebug` (0xff, `becomeChainOwner`, which Nitro dev nodes enable).
//!
//! # Decisions
//! - **The Nitro dev account owns the chain at genesis**, as on nitro-devnode; `ArbDebug.becomeChainOwner()`
//!   lets any other account join, which is what dev tooling calls before an owner-only setter.
//! - **Only the setters devnode honours exist**: `setMaxStylusContractFragments` (read by activation and by
//!   cargo-stylus before a fragmented deploy) and chain-owner management. Every other selector reverts with empty
//!   data, as an unknown method does on Nitro — a setter accepted and ignored would lie.
//! - **A non-owner gets a typed error** (`NotChainOwner(caller)`) where Nitro reverts with the text
//!   "unauthorized caller to access-controlled method".
//! - Owners live in the storage of the `ArbOwner` account (journaled, rolled back with their transaction):
//!   `keccak256("verity.arbowner.owners")` holds `initialised u8 ‖ count u64`, the next slots the owners in order.

use super::{
    state, IArbDebug, IArbOwner, IArbOwnerPublic, Meter, ARB_DEBUG, ARB_OWNER, ARB_OWNER_PUBLIC,
};
use crate::{chain::predeploys::NITRO_DEV_ADDRESS, evm::EvmContext};
use alloy::{
    primitives::{keccak256, Address, U256},
    sol_types::{SolCall, SolError, SolInterface},
};
use revm::{
    context::{ContextTr, JournalTr},
    interpreter::{CallInputs, InterpreterResult},
};

fn list_slot() -> U256 {
    keccak256(b"verity.arbowner.owners").into()
}

fn sload(ctx: &mut EvmContext<'_>, slot: U256) -> U256 {
    let journal = ctx.journal_mut();
    // The database is infallible (an in-memory CacheDB).
    let Ok(_) = journal.load_account(ARB_OWNER);
    let Ok(value) = journal.sload(ARB_OWNER, slot);
    value.data
}

fn sstore(ctx: &mut EvmContext<'_>, slot: U256, value: U256) {
    let journal = ctx.journal_mut();
    let Ok(_) = journal.load_account(ARB_OWNER);
    let Ok(_) = journal.sstore(ARB_OWNER, slot, value);
    journal.touch_account(ARB_OWNER);
}

/// The chain owners, in the order they were added.
pub(crate) fn owners(ctx: &mut EvmContext<'_>) -> Vec<Address> {
    let header = sload(ctx, list_slot()).to_be_bytes::<32>();
    if header[0] == 0 {
        return vec![NITRO_DEV_ADDRESS];
    }
    let count = u64::from_be_bytes([
        header[1], header[2], header[3], header[4], header[5], header[6], header[7], header[8],
    ]);
    (1..=count)
        .map(|i| {
            let word = sload(ctx, list_slot() + U256::from(i)).to_be_bytes::<32>();
            Address::from_slice(&word[12..])
        })
        .collect()
}

fn store_owners(ctx: &mut EvmContext<'_>, owners: &[Address]) {
    let old = owners_len(ctx);
    let mut header = [0u8; 32];
    header[0] = 1;
    header[1..9].copy_from_slice(&(owners.len() as u64).to_be_bytes());
    sstore(ctx, list_slot(), U256::from_be_bytes(header));
    for (i, owner) in owners.iter().enumerate() {
        sstore(
            ctx,
            list_slot() + U256::from(i + 1),
            U256::from_be_slice(owner.as_slice()),
        );
    }
    for i in owners.len()..old {
        sstore(ctx, list_slot() + U256::from(i + 1), U256::ZERO);
    }
}

fn owners_len(ctx: &mut EvmContext<'_>) -> usize {
    let header = sload(ctx, list_slot()).to_be_bytes::<32>();
    let count = u64::from_be_bytes([
        header[1], header[2], header[3], header[4], header[5], header[6], header[7], header[8],
    ]);
    usize::try_from(count).unwrap_or(usize::MAX)
}

fn add_owner(ctx: &mut EvmContext<'_>, owner: Address) {
    let mut list = owners(ctx);
    if !list.contains(&owner) {
        list.push(owner);
        store_owners(ctx, &list);
    }
}

/// Runs one call to `ArbOwner`, `ArbOwnerPublic` or `ArbDebug` (by `inputs.bytecode_address`).
pub(crate) fn run(ctx: &mut EvmContext<'_>, inputs: &CallInputs) -> InterpreterResult {
    let input = inputs.input.bytes(ctx);
    let Some(mut meter) = Meter::new(inputs.gas_limit, input.len()) else {
        return Meter::out_of_gas(inputs.gas_limit);
    };
    if !meter.charge(Meter::READ) {
        return Meter::out_of_gas(inputs.gas_limit);
    }
    let output = match inputs.bytecode_address {
        ARB_OWNER_PUBLIC => {
            let Ok(call) = IArbOwnerPublic::IArbOwnerPublicCalls::abi_decode(&input) else {
                return meter.revert(Vec::new());
            };
            use IArbOwnerPublic::IArbOwnerPublicCalls as C;
            match call {
                C::isChainOwner(c) => {
                    let is = owners(ctx).contains(&c.addr);
                    IArbOwnerPublic::isChainOwnerCall::abi_encode_returns(&is)
                }
                C::getAllChainOwners(_) => {
                    IArbOwnerPublic::getAllChainOwnersCall::abi_encode_returns(&owners(ctx))
                }
                C::getMaxStylusContractFragments(_) => {
                    let max = state::load_max_fragments(ctx);
                    IArbOwnerPublic::getMaxStylusContractFragmentsCall::abi_encode_returns(&max)
                }
            }
        }
        ARB_DEBUG => {
            let Ok(call) = IArbDebug::IArbDebugCalls::abi_decode(&input) else {
                return meter.revert(Vec::new());
            };
            match call {
                IArbDebug::IArbDebugCalls::becomeChainOwner(_) => {
                    if inputs.is_static {
                        return meter.revert(
                            IArbOwner::NotChainOwner {
                                caller: inputs.caller,
                            }
                            .abi_encode(),
                        );
                    }
                    if !meter.charge(Meter::WRITE) {
                        return Meter::out_of_gas(inputs.gas_limit);
                    }
                    add_owner(ctx, inputs.caller);
                    Vec::new()
                }
            }
        }
        _ => {
            let Ok(call) = IArbOwner::IArbOwnerCalls::abi_decode(&input) else {
                return meter.revert(Vec::new());
            };
            let list = owners(ctx);
            if !list.contains(&inputs.caller) || inputs.is_static {
                return meter.revert(
                    IArbOwner::NotChainOwner {
                        caller: inputs.caller,
                    }
                    .abi_encode(),
                );
            }
            use IArbOwner::IArbOwnerCalls as C;
            match call {
                C::isChainOwner(c) => {
                    IArbOwner::isChainOwnerCall::abi_encode_returns(&list.contains(&c.addr))
                }
                C::getAllChainOwners(_) => {
                    IArbOwner::getAllChainOwnersCall::abi_encode_returns(&list)
                }
                C::addChainOwner(c) => {
                    if !meter.charge(Meter::WRITE) {
                        return Meter::out_of_gas(inputs.gas_limit);
                    }
                    add_owner(ctx, c.newOwner);
                    Vec::new()
                }
                C::removeChainOwner(c) => {
                    if !list.contains(&c.ownerToRemove) {
                        return meter.revert(
                            IArbOwner::NotChainOwner {
                                caller: c.ownerToRemove,
                            }
                            .abi_encode(),
                        );
                    }
                    if !meter.charge(Meter::WRITE) {
                        return Meter::out_of_gas(inputs.gas_limit);
                    }
                    let rest: Vec<Address> =
                        list.into_iter().filter(|o| *o != c.ownerToRemove).collect();
                    store_owners(ctx, &rest);
                    Vec::new()
                }
                C::setMaxStylusContractFragments(c) => {
                    if !meter.charge(Meter::WRITE) {
                        return Meter::out_of_gas(inputs.gas_limit);
                    }
                    state::store_max_fragments(ctx, c.maxFragments);
                    Vec::new()
                }
            }
        }
    };
    meter.ok(output)
}
