//! Test chain: an [`Engine`] over an in-memory state with funded accounts, helpers to deploy and
//! activate programs and to call them.

use alloy::{
    primitives::{address, Address, Bytes, TxKind, B256, U256},
    sol_types::{SolCall, SolError},
};
use devnode::{
    evm::{Engine, StateDb},
    precompiles::{IArbWasm, ARB_WASM},
};
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    context_interface::result::{ExecutionResult, Output},
    database::DatabaseRef,
    primitives::hardfork::SpecId,
    state::AccountInfo,
    DatabaseCommit,
};
use std::io::Write;

pub(crate) const CHAIN_ID: u64 = 412_346;
pub(crate) const ALICE: Address = address!("00000000000000000000000000000000000a11ce");
pub(crate) const BOB: Address = address!("0000000000000000000000000000000000000b0b");
pub(crate) const COINBASE: Address = address!("00000000000000000000000000000000c0ffee00");
pub(crate) const GAS: u64 = 30_000_000;

/// One ether in wei.
pub(crate) fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

pub(crate) struct Chain {
    pub(crate) engine: Engine,
    pub(crate) db: StateDb,
    pub(crate) block: BlockEnv,
    pub(crate) cfg: CfgEnv,
}

impl Chain {
    pub(crate) fn new() -> Self {
        let mut db = StateDb::default();
        for who in [ALICE, BOB] {
            db.insert_account_info(
                who,
                AccountInfo {
                    balance: ether(1_000),
                    ..Default::default()
                },
            );
        }
        let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE);
        cfg.chain_id = CHAIN_ID;
        let block = BlockEnv {
            number: U256::from(7),
            timestamp: U256::from(1_800_000_000u64),
            gas_limit: GAS,
            beneficiary: COINBASE,
            basefee: 0,
            ..Default::default()
        };
        Self {
            engine: Engine::new(),
            db,
            block,
            cfg,
        }
    }

    pub(crate) fn nonce(&self, who: Address) -> u64 {
        self.db.basic_ref(who).ok().flatten().map_or(0, |a| a.nonce)
    }

    pub(crate) fn balance(&self, who: Address) -> U256 {
        self.db
            .basic_ref(who)
            .ok()
            .flatten()
            .map_or(U256::ZERO, |a| a.balance)
    }

    pub(crate) fn storage(&self, who: Address, key: B256) -> B256 {
        self.db
            .storage_ref(who, key.into())
            .map(B256::from)
            .unwrap_or_default()
    }

    pub(crate) fn code(&self, who: Address) -> Bytes {
        self.db
            .basic_ref(who)
            .ok()
            .flatten()
            .and_then(|a| a.code)
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }

    /// Executes and commits a transaction.
    pub(crate) fn send(
        &mut self,
        from: Address,
        to: TxKind,
        value: U256,
        data: impl Into<Bytes>,
    ) -> ExecutionResult {
        self.send_gas(from, to, value, data, GAS)
    }

    pub(crate) fn send_gas(
        &mut self,
        from: Address,
        to: TxKind,
        value: U256,
        data: impl Into<Bytes>,
        gas_limit: u64,
    ) -> ExecutionResult {
        let tx = TxEnv {
            caller: from,
            gas_limit,
            kind: to,
            value,
            data: data.into(),
            nonce: self.nonce(from),
            chain_id: Some(CHAIN_ID),
            ..Default::default()
        };
        let out = self
            .engine
            .execute(&mut self.db, self.block.clone(), self.cfg.clone(), tx)
            .expect("valid transaction");
        self.db.commit(out.state);
        out.result
    }

    /// Calls `to` from ALICE (committing) and returns the result.
    pub(crate) fn call(&mut self, to: Address, data: impl Into<Bytes>) -> ExecutionResult {
        self.send(ALICE, TxKind::Call(to), U256::ZERO, data)
    }

    /// Calls and expects success; returns the output.
    pub(crate) fn call_ok(&mut self, to: Address, data: impl Into<Bytes>) -> Bytes {
        match self.call(to, data) {
            ExecutionResult::Success { output, .. } => output.into_data(),
            other => panic!("call failed: {other:?}"),
        }
    }

    /// Deploys `code` through the standard 43-byte initcode; returns the new address.
    pub(crate) fn deploy(&mut self, code: &[u8]) -> Address {
        self.deploy_initcode(standard_initcode(code))
    }

    pub(crate) fn deploy_initcode(&mut self, initcode: Vec<u8>) -> Address {
        match self.send(ALICE, TxKind::Create, U256::ZERO, initcode) {
            ExecutionResult::Success {
                output: Output::Create(_, Some(address)),
                ..
            } => address,
            other => panic!("deploy failed: {other:?}"),
        }
    }

    /// `ArbWasm.activateProgram(program)` from ALICE with `value`.
    pub(crate) fn activate_with(&mut self, program: Address, value: U256) -> ExecutionResult {
        let data = IArbWasm::activateProgramCall { program }.abi_encode();
        self.send(ALICE, TxKind::Call(ARB_WASM), value, data)
    }

    pub(crate) fn activate(&mut self, program: Address) -> ExecutionResult {
        self.activate_with(program, ether(1))
    }

    /// Deploys and activates a WAT program.
    pub(crate) fn program(&mut self, wat: &str) -> Address {
        let address = self.deploy(&stylus_code(&wat::parse_str(wat).expect("valid wat")));
        match self.activate(address) {
            ExecutionResult::Success { .. } => address,
            other => panic!("activation failed: {other:?}"),
        }
    }

    /// The probe test program (testdata/probe.wat), deployed and activated.
    pub(crate) fn probe(&mut self) -> Address {
        self.program(PROBE)
    }
}

pub(crate) const PROBE: &str = include_str!("../../testdata/probe.wat");

/// `EF F0 00 00 ‖ brotli(wasm)`.
pub(crate) fn stylus_code(wasm: &[u8]) -> Vec<u8> {
    let mut out = vec![0xEF, 0xF0, 0x00, 0x00];
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(wasm).expect("in-memory write");
    }
    out
}

/// cargo-stylus's 43-byte deployment prelude followed by `code`.
pub(crate) fn standard_initcode(code: &[u8]) -> Vec<u8> {
    let mut init = vec![0x7f];
    init.extend_from_slice(&U256::from(code.len()).to_be_bytes::<32>());
    init.extend_from_slice(&[0x80, 0x60, 0x2b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3, 0x00]);
    assert_eq!(init.len(), 43);
    init.extend_from_slice(code);
    init
}

/// A different valid initcode returning `code`: PUSH2-based, code appended after 14 bytes.
pub(crate) fn alternative_initcode(code: &[u8]) -> Vec<u8> {
    let len = u16::try_from(code.len()).expect("small code");
    let [hi, lo] = len.to_be_bytes();
    // PUSH2 len; PUSH1 14; PUSH1 0; CODECOPY; PUSH2 len; PUSH1 0; RETURN
    let mut init = vec![
        0x61, hi, lo, 0x60, 14, 0x60, 0x00, 0x39, 0x61, hi, lo, 0x60, 0x00, 0xf3,
    ];
    assert_eq!(init.len(), 14);
    init.extend_from_slice(code);
    init
}

/// The revert data of a result, if it reverted.
pub(crate) fn revert_data(result: &ExecutionResult) -> Option<Bytes> {
    match result {
        ExecutionResult::Revert { output, .. } => Some(output.clone()),
        _ => None,
    }
}

/// Asserts the result is a revert with exactly the ABI-encoded error `E`, and decodes it.
pub(crate) fn expect_error<E: SolError>(result: &ExecutionResult) -> E {
    let data = revert_data(result).unwrap_or_else(|| panic!("expected revert, got {result:?}"));
    E::abi_decode(&data)
        .unwrap_or_else(|e| panic!("revert data {data} is not {}: {e}", E::SIGNATURE))
}

/// Probe calldata: op ‖ parts.
pub(crate) fn op(code: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut data = vec![code];
    for p in parts {
        data.extend_from_slice(p);
    }
    data
}

/// Probe call arguments: kind ‖ target ‖ value ‖ gas (LE) ‖ data.
pub(crate) fn call_args(kind: u8, target: Address, value: U256, gas: u64, data: &[u8]) -> Vec<u8> {
    let mut v = vec![kind];
    v.extend_from_slice(target.as_slice());
    v.extend_from_slice(&value.to_be_bytes::<32>());
    v.extend_from_slice(&gas.to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// Splits a probe call result into (status, return data).
pub(crate) fn call_result(out: &[u8]) -> (u32, Vec<u8>) {
    let status = u32::from_le_bytes(out[0..4].try_into().expect("4 bytes"));
    let size = u32::from_le_bytes(out[4..8].try_into().expect("4 bytes")) as usize;
    assert_eq!(
        out.len(),
        8 + size,
        "return_data_size matches the data read"
    );
    (status, out[8..].to_vec())
}

pub(crate) fn word(n: u64) -> [u8; 32] {
    U256::from(n).to_be_bytes::<32>()
}

pub(crate) fn gas_used(result: &ExecutionResult) -> u64 {
    result.tx_gas_used()
}

/// EVM bytecode returning its calldata.
pub(crate) const EVM_ECHO: &[u8] = &[0x36, 0x5f, 0x5f, 0x37, 0x36, 0x5f, 0xf3];

/// EVM bytecode storing 42 at slot 0, then returning nothing.
pub(crate) const EVM_STORE_42: &[u8] = &[0x60, 0x2a, 0x5f, 0x55, 0x00];

/// EVM bytecode forwarding its calldata to `target` with all gas and returning (or reverting
/// with) the callee's return data.
pub(crate) fn evm_forwarder(target: Address) -> Vec<u8> {
    // CALLDATASIZE PUSH0 PUSH0 CALLDATACOPY
    let mut c = vec![0x36, 0x5f, 0x5f, 0x37];
    // PUSH0 PUSH0 CALLDATASIZE PUSH0 CALLVALUE PUSH20 target GAS CALL
    c.extend_from_slice(&[0x5f, 0x5f, 0x36, 0x5f, 0x34, 0x73]);
    c.extend_from_slice(target.as_slice());
    c.extend_from_slice(&[0x5a, 0xf1]);
    // RETURNDATASIZE PUSH0 PUSH0 RETURNDATACOPY
    c.extend_from_slice(&[0x3d, 0x5f, 0x5f, 0x3e]);
    // PUSH1 ok JUMPI RETURNDATASIZE PUSH0 REVERT JUMPDEST RETURNDATASIZE PUSH0 RETURN
    let ok = c.len() as u8 + 6;
    c.extend_from_slice(&[0x60, ok, 0x57, 0x3d, 0x5f, 0xfd, 0x5b, 0x3d, 0x5f, 0xf3]);
    c
}
