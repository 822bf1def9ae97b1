//! `ArbSys` (0x64): the block number, chain id and ArbOS version tools ask for.

use super::{
    IArbSys::{self, IArbSysCalls},
    Meter,
};
use crate::evm::EvmContext;
use alloy::{
    primitives::U256,
    sol_types::{SolCall, SolInterface},
};
use revm::{
    context::{Block, Cfg, ContextTr},
    context_interface::Host,
    interpreter::{CallInputs, InterpreterResult},
};

/// The ArbOS version reported (`arbOSVersion()` returns 55 + this, as Nitro does).
pub const ARBOS_VERSION: u64 = 60;

/// Runs one `ArbSys` call.
pub(crate) fn run(ctx: &mut EvmContext<'_>, inputs: &CallInputs) -> InterpreterResult {
    let input = inputs.input.bytes(ctx);
    let Some(mut meter) = Meter::new(inputs.gas_limit, input.len()) else {
        return Meter::out_of_gas(inputs.gas_limit);
    };
    let Ok(call) = IArbSysCalls::abi_decode(&input) else {
        return meter.revert(Vec::new());
    };
    let number = ctx.block().number().saturating_to::<u64>();
    let output = match call {
        IArbSysCalls::arbBlockNumber(_) => {
            IArbSys::arbBlockNumberCall::abi_encode_returns(&U256::from(number))
        }
        IArbSysCalls::arbBlockHash(c) => {
            let Ok(requested) = u64::try_from(c.arbBlockNum) else {
                return meter.revert(Vec::new());
            };
            if requested >= number || requested + 256 < number {
                return meter.revert(Vec::new());
            }
            if !meter.charge(20) {
                return Meter::out_of_gas(inputs.gas_limit);
            }
            let hash = ctx.block_hash(requested).unwrap_or_default();
            IArbSys::arbBlockHashCall::abi_encode_returns(&hash)
        }
        IArbSysCalls::arbChainID(_) => {
            IArbSys::arbChainIDCall::abi_encode_returns(&U256::from(ctx.cfg().chain_id()))
        }
        IArbSysCalls::arbOSVersion(_) => {
            IArbSys::arbOSVersionCall::abi_encode_returns(&U256::from(55 + ARBOS_VERSION))
        }
        IArbSysCalls::getStorageGasAvailable(_) => {
            IArbSys::getStorageGasAvailableCall::abi_encode_returns(&U256::ZERO)
        }
        IArbSysCalls::wasMyCallersAddressAliased(_) => {
            IArbSys::wasMyCallersAddressAliasedCall::abi_encode_returns(&false)
        }
    };
    meter.ok(output)
}
