//! `eth_call` (with state overrides) and `eth_estimateGas` (geth's binary search).
//!
//! Calls run like geth's: nonce checks skipped, no base-fee check (gas price may be 0), calls from contract
//! addresses allowed (EIP-3607 off); the balance check still applies to `value` and to an explicit gas price.

use alloy::consensus::TxType;
use alloy::eips::BlockId;
use alloy::primitives::{Address, Bytes, TxKind, U256};
use alloy::rpc::types::{state::StateOverride, TransactionRequest};
use revm::bytecode::Bytecode;
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::context_interface::result::{ExecutionResult, HaltReason, OutOfGasError};
use revm::Database;

use super::mining::map_exec_error;
use super::Chain;
use crate::error::{Error, Result};
use crate::evm::StateDb;

/// Bytecode for raw code bytes: EIP-7702 delegations are recognised, anything else (including Stylus
/// programs, `EF F0 00 …`) is stored as legacy bytes.
pub(crate) fn bytecode(code: Bytes) -> Bytecode {
    Bytecode::new_raw_checked(code.clone()).unwrap_or_else(|_| Bytecode::new_legacy(code))
}

/// geth's texts for halts.
fn halt_message(reason: &HaltReason) -> String {
    match reason {
        HaltReason::OutOfGas(OutOfGasError::Basic)
        | HaltReason::OutOfGas(OutOfGasError::Memory)
        | HaltReason::OutOfGas(OutOfGasError::MemoryLimit)
        | HaltReason::OutOfGas(OutOfGasError::Precompile)
        | HaltReason::OutOfGas(OutOfGasError::InvalidOperand) => "out of gas".into(),
        HaltReason::OpcodeNotFound | HaltReason::InvalidFEOpcode => "invalid opcode".into(),
        HaltReason::InvalidJump => "invalid jump destination".into(),
        HaltReason::StackUnderflow => "stack underflow".into(),
        HaltReason::StackOverflow => "stack limit reached 1024 (1023)".into(),
        HaltReason::CreateCollision => "contract address collision".into(),
        HaltReason::OutOfFunds => "insufficient balance for transfer".into(),
        HaltReason::CallTooDeep => "max call depth exceeded".into(),
        HaltReason::CreateContractSizeLimit => "max code size exceeded".into(),
        HaltReason::CreateInitCodeSizeLimit => "max initcode size exceeded".into(),
        HaltReason::StateChangeDuringStaticCall | HaltReason::CallNotAllowedInsideStatic => {
            "write protection".into()
        }
        HaltReason::CreateContractStartingWithEF => "invalid code: must not begin with 0xef".into(),
        HaltReason::OutOfOffset => "return data out of bounds".into(),
        HaltReason::PrecompileErrorWithContext(ctx) => ctx.clone(),
        other => format!("{other:?}"),
    }
}

fn is_out_of_gas(result: &ExecutionResult) -> bool {
    matches!(
        result,
        ExecutionResult::Halt {
            reason: HaltReason::OutOfGas(_),
            ..
        }
    )
}

/// Applies `eth_call` state overrides to `db`.
pub(crate) fn apply_overrides(db: &mut StateDb, overrides: &StateOverride) -> Result<()> {
    for (address, o) in overrides {
        if o.state.is_some() && o.state_diff.is_some() {
            return Err(Error::InvalidParams(format!(
                "account {address} has both 'state' and 'stateDiff'"
            )));
        }
        if o.move_precompile_to.is_some() {
            return Err(Error::InvalidParams(
                "movePrecompileToAddress is not supported".into(),
            ));
        }
        // Infallible: the inner database is EmptyDB.
        let mut info = db.basic(*address).ok().flatten().unwrap_or_default();
        if let Some(balance) = o.balance {
            info.balance = balance;
        }
        if let Some(nonce) = o.nonce {
            info.nonce = nonce;
        }
        if let Some(code) = &o.code {
            let code = bytecode(code.clone());
            info.code_hash = code.hash_slow();
            info.code = Some(code);
        }
        db.insert_account_info(*address, info);
        if let Some(state) = &o.state {
            let slots = state
                .iter()
                .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)));
            let _ = db.replace_account_storage(*address, slots.collect());
        }
        if let Some(diff) = &o.state_diff {
            for (k, v) in diff {
                let _ = db.insert_account_storage(
                    *address,
                    U256::from_be_bytes(k.0),
                    U256::from_be_bytes(v.0),
                );
            }
        }
    }
    Ok(())
}

/// Everything one simulated execution needs.
struct CallEnv {
    db: Option<StateDb>,
    block: BlockEnv,
    cfg: CfgEnv,
    tx: TxEnv,
}

impl Chain {
    fn call_env(
        &self,
        request: &TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<&StateOverride>,
        pending: bool,
    ) -> Result<CallEnv> {
        let number = self.resolve_block(block)?;
        let at_head = number == self.block_number();
        let db = match (at_head, overrides) {
            (true, None) => None,
            (true, Some(_)) => Some(self.state.live.clone()),
            (false, _) => {
                let mut db = self.state.db_at(number);
                let start = number.saturating_sub(256);
                for b in &self.blocks[start as usize..=number as usize] {
                    db.cache.block_hashes.insert(U256::from(b.number()), b.hash);
                }
                Some(db)
            }
        };
        let db = match (db, overrides) {
            (Some(mut db), Some(o)) => {
                apply_overrides(&mut db, o)?;
                Some(db)
            }
            (db, _) => db,
        };
        let header_block = &self.blocks[number as usize];
        let block_env = if pending && at_head {
            // The block the transaction would be mined in: next number, the timestamp it would get now,
            // the next base fee (as anvil does for estimates).
            self.block_env(
                number + 1,
                self.pending_timestamp(),
                self.next_base_fee(),
                header_block.header.mix_hash,
            )
        } else {
            self.block_env_of(header_block)
        };
        let mut cfg = self.cfg_env();
        cfg.disable_nonce_check = true;
        cfg.disable_base_fee = true;
        cfg.disable_eip3607 = true;
        cfg.disable_block_gas_limit = true;

        let caller = request.from.unwrap_or_default();
        let gas_price = request.gas_price.or(request.max_fee_per_gas).unwrap_or(0);
        let tx_type = if request.gas_price.is_some() {
            if request.access_list.is_some() {
                TxType::Eip2930
            } else {
                TxType::Legacy
            }
        } else if request.authorization_list.is_some() {
            TxType::Eip7702
        } else if request.max_fee_per_gas.is_some() || request.max_priority_fee_per_gas.is_some() {
            TxType::Eip1559
        } else if request.access_list.is_some() {
            TxType::Eip2930
        } else {
            TxType::Legacy
        };
        let priority = match tx_type {
            TxType::Eip1559 | TxType::Eip7702 => {
                Some(request.max_priority_fee_per_gas.unwrap_or(0).min(gas_price))
            }
            _ => None,
        };
        let mut tx = TxEnv {
            tx_type: tx_type as u8,
            caller,
            gas_limit: request.gas.unwrap_or(self.config.block_gas_limit),
            gas_price,
            kind: request.to.unwrap_or(TxKind::Create),
            value: request.value.unwrap_or_default(),
            data: request.input.input().cloned().unwrap_or_default(),
            nonce: request
                .nonce
                .unwrap_or_else(|| self.state.nonce_at(caller, number)),
            chain_id: Some(self.config.chain_id),
            access_list: request.access_list.clone().unwrap_or_default(),
            gas_priority_fee: priority,
            ..Default::default()
        };
        if let Some(list) = &request.authorization_list {
            tx.authorization_list = list
                .iter()
                .cloned()
                .map(revm::context_interface::either::Either::Left)
                .collect();
        }
        Ok(CallEnv {
            db,
            block: block_env,
            cfg,
            tx,
        })
    }

    fn run(
        &mut self,
        db: &mut Option<StateDb>,
        env: &CallEnv,
        gas_limit: u64,
    ) -> Result<ExecutionResult> {
        let mut tx = env.tx.clone();
        tx.gas_limit = gas_limit;
        let caller = tx.caller;
        let db = match db {
            Some(db) => db,
            None => &mut self.state.live,
        };
        // Field-disjoint borrow: `db` may point into `self.state`.
        self.engine
            .execute(db, env.block.clone(), env.cfg.clone(), tx)
            .map(|out| out.result)
            .map_err(|e| map_exec_error(e, caller))
    }

    /// `eth_call`: executes `request` at `block` on a throw-away copy of the state; returns the output.
    pub fn call(
        &mut self,
        request: &TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<&StateOverride>,
    ) -> Result<Bytes> {
        let env = self.call_env(request, block, overrides, Self::is_pending(block))?;
        let mut db = env.db.clone();
        match self.run(&mut db, &env, env.tx.gas_limit)? {
            ExecutionResult::Success { output, .. } => Ok(output.into_data()),
            ExecutionResult::Revert { output, .. } => Err(Error::Revert(output)),
            ExecutionResult::Halt { reason, .. } => Err(Error::Halt(halt_message(&reason))),
        }
    }

    /// `eth_estimateGas`: the smallest gas limit at which `request` succeeds (binary search, as geth).
    ///
    /// Without a block (or with `pending`) the estimate runs in the block the transaction would be mined in —
    /// next number, the timestamp it would get now — so time-dependent contracts are estimated for the block
    /// they will run in, not the previous one.
    pub fn estimate_gas(
        &mut self,
        request: &TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<&StateOverride>,
    ) -> Result<u64> {
        let pending = block.is_none() || Self::is_pending(block);
        let env = self.call_env(request, block, overrides, pending)?;
        let mut db = env.db.clone();
        let mut hi = env.tx.gas_limit;
        // Cap by what the caller can pay for, as geth does.
        if env.tx.gas_price > 0 {
            let balance = match &mut db {
                Some(db) => db
                    .basic(env.tx.caller)
                    .ok()
                    .flatten()
                    .map(|a| a.balance)
                    .unwrap_or_default(),
                None => self.state.balance_latest(env.tx.caller),
            };
            let available = balance.saturating_sub(env.tx.value);
            let allowance = available / U256::from(env.tx.gas_price);
            if allowance < U256::from(hi) {
                hi = allowance.to::<u64>();
            }
        }
        let cap = hi;
        let first = self.run(&mut db, &env, hi)?;
        let used = match &first {
            ExecutionResult::Success { gas, .. } => gas.tx_gas_used(),
            ExecutionResult::Revert { output, .. } => return Err(Error::Revert(output.clone())),
            ExecutionResult::Halt { .. } if is_out_of_gas(&first) => {
                return Err(Error::GasRequiredExceedsAllowance(cap))
            }
            ExecutionResult::Halt { reason, .. } => return Err(Error::Halt(halt_message(reason))),
        };
        // A plain transfer to an account without code costs exactly the intrinsic gas.
        if let TxKind::Call(to) = env.tx.kind {
            if used == 21_000
                && env.tx.data.is_empty()
                && env.tx.authorization_list.is_empty()
                && self.no_code(&mut db, to)
            {
                return Ok(used);
            }
        }
        let mut lo = used.saturating_sub(1);
        // Optimistic first guess: the gas used plus the 63/64 reserve.
        let guess = used.saturating_add(2300).saturating_mul(64) / 63;
        if guess < hi {
            match self.run(&mut db, &env, guess) {
                Ok(r) if r.is_success() => hi = guess,
                _ => lo = guess,
            }
        }
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            match self.run(&mut db, &env, mid) {
                Ok(r) if r.is_success() => hi = mid,
                _ => lo = mid,
            }
        }
        Ok(hi)
    }

    fn no_code(&self, db: &mut Option<StateDb>, address: Address) -> bool {
        match db {
            Some(db) => db.basic(address).ok().flatten().is_none_or(|a| {
                a.code_hash == revm::primitives::KECCAK_EMPTY || a.code_hash.is_zero()
            }),
            None => !self.state.has_code_latest(address),
        }
    }
}
