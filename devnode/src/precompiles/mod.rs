//! Arbitrum precompiles on top of revm's Ethereum set: `ArbWasm` (0x71: Stylus activation and
//! parameters), `ArbSys` (0x64: block number, chain id, ArbOS version), and chain ownership —
//! `ArbOwner` (0x70), `ArbOwnerPublic` (0x6b), `ArbDebug` (0xff) — as far as dev tooling uses it, and
//! `ArbWasmCache` (0x72, the program cache behind `cargo stylus cache`).
//!
//! Their interfaces (with Nitro's error definitions plus the activation errors this engine adds)
//! are the `sol!` blocks [`IArbWasm`] and [`IArbSys`]; a revert of `ArbWasm` is one of
//! [`IArbWasm::IArbWasmErrors`], ABI-encoded.

pub mod arb_owner;
pub mod arb_sys;
pub mod arb_wasm;
pub mod arb_wasm_cache;
pub(crate) mod state;

use crate::{evm::EvmContext, stylus::ProgramCache};
use alloy::{primitives::address, sol};
use revm::{
    context::Cfg,
    handler::{EthPrecompiles, PrecompileProvider},
    interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult},
    primitives::{hardfork::SpecId, Address, AddressSet, Bytes},
};
use std::sync::Arc;

/// Address of the `ArbWasm` precompile.
pub const ARB_WASM: Address = address!("0000000000000000000000000000000000000071");

/// Address of the `ArbSys` precompile.
pub const ARB_SYS: Address = address!("0000000000000000000000000000000000000064");

/// Address of the `ArbWasmCache` precompile (the program cache, changed by cache managers).
pub const ARB_WASM_CACHE: Address = address!("0000000000000000000000000000000000000072");

/// Address of the `ArbOwner` precompile (chain-owner-only setters).
pub const ARB_OWNER: Address = address!("0000000000000000000000000000000000000070");

/// Address of the `ArbOwnerPublic` precompile (the owner getters anyone may call).
pub const ARB_OWNER_PUBLIC: Address = address!("000000000000000000000000000000000000006b");

/// Address of the `ArbDebug` precompile (enabled on dev chains).
pub const ARB_DEBUG: Address = address!("00000000000000000000000000000000000000ff");

sol! {
    /// Nitro's `ArbWasm` precompile (as in stylus-tools' `ArbWasm.sol`), plus the activation
    /// errors this engine reports where Nitro returns an untyped failure.
    #[derive(Debug, PartialEq, Eq)]
    interface IArbWasm {
        function activateProgram(address program) external payable returns (uint16 version, uint256 dataFee);
        function stylusVersion() external view returns (uint16 version);
        function codehashVersion(bytes32 codehash) external view returns (uint16 version);
        function codehashKeepalive(bytes32 codehash) external payable;
        function codehashAsmSize(bytes32 codehash) external view returns (uint32 size);
        function programVersion(address program) external view returns (uint16 version);
        function programInitGas(address program) external view returns (uint64 gas, uint64 gasWhenCached);
        function programMemoryFootprint(address program) external view returns (uint16 footprint);
        function programTimeLeft(address program) external view returns (uint64 _secs);
        function inkPrice() external view returns (uint32 price);
        function maxStackDepth() external view returns (uint32 depth);
        function freePages() external view returns (uint16 pages);
        function pageGas() external view returns (uint16 gas);
        function pageRamp() external view returns (uint64 ramp);
        function pageLimit() external view returns (uint16 limit);
        function minInitGas() external view returns (uint64 gas, uint64 cached);
        function initCostScalar() external view returns (uint64 percent);
        function expiryDays() external view returns (uint16 _days);
        function keepaliveDays() external view returns (uint16 _days);
        function blockCacheSize() external view returns (uint16 count);

        event ProgramActivated(bytes32 indexed codehash, bytes32 moduleHash, address program, uint256 dataFee, uint16 version);
        event ProgramLifetimeExtended(bytes32 indexed codehash, uint256 dataFee);

        error ProgramNotWasm();
        error ProgramNotActivated();
        error ProgramNeedsUpgrade(uint16 version, uint16 stylusVersion);
        error ProgramExpired(uint64 ageInSeconds);
        error ProgramUpToDate();
        error ProgramKeepaliveTooSoon(uint64 ageInSeconds);
        error ProgramInsufficientValue(uint256 have, uint256 want);

        /// Devnode: the deployed code is over the 24,576-byte limit.
        error ProgramCodeTooLarge(uint256 size, uint256 limit);
        /// Devnode: the decompressed WASM is over the 128 KiB limit.
        error ProgramWasmTooLarge(uint256 size, uint256 limit);
        /// Devnode: invalid brotli data or an unknown dictionary.
        error ProgramBadCompression(string reason);
        /// Devnode: malformed or invalid WASM.
        error ProgramInvalidWasm(string reason);
        /// Devnode: valid WASM using a feature or operator Nitro rejects.
        error ProgramForbiddenFeature(string reason);
        /// Devnode: an import the host does not provide.
        error ProgramUnknownImport(string module, string name);
        /// Devnode: `user_entrypoint` or `memory` is not exported (correctly).
        error ProgramMissingExport(string name);
        /// Devnode: initial memory above the page limit.
        error ProgramMemoryTooLarge(uint64 pages, uint16 limit);
        /// Devnode: a state-changing method called in a static context.
        error ProgramWriteProtection();
        /// Devnode: the code is a fragment (`EF F0 01`); activate its root instead.
        error ProgramFragmentNotActivatable();
        /// Devnode: a root shorter than its 8-byte header.
        error ProgramRootTooShort(uint256 size);
        /// Devnode: a root's address section is not a multiple of 20 bytes.
        error ProgramRootBadAddresses(uint256 length);
        /// Devnode: a root naming no fragment.
        error ProgramNoFragments();
        /// Devnode: a root naming more fragments than the chain's maximum.
        error ProgramTooManyFragments(uint256 count, uint8 limit);
        /// Devnode: a root's fragment address holds no fragment code.
        error ProgramNotAFragment(uint256 index, address fragment);
        /// Devnode: the joined fragments decompress to another size than the root declares.
        error ProgramSizeMismatch(uint256 declared, uint256 actual);
    }

    /// Nitro's `ArbWasmCache` precompile, plus its typed access error.
    #[derive(Debug, PartialEq, Eq)]
    interface IArbWasmCache {
        function isCacheManager(address manager) external view returns (bool);
        function allCacheManagers() external view returns (address[] memory managers);
        function cacheProgram(address addr) external;
        function evictCodehash(bytes32 codehash) external;
        function codehashIsCached(bytes32 codehash) external view returns (bool);

        event UpdateProgramCache(address indexed manager, bytes32 indexed codehash, bool cached);

        /// Devnode: the caller is neither a cache manager nor a chain owner.
        error NotCacheManager(address caller);
    }

    /// The parts of Nitro's `ArbOwner` precompile devnode implements, plus its typed access error.
    #[derive(Debug, PartialEq, Eq)]
    interface IArbOwner {
        function addChainOwner(address newOwner) external;
        function removeChainOwner(address ownerToRemove) external;
        function isChainOwner(address addr) external view returns (bool);
        function getAllChainOwners() external view returns (address[] memory);
        function setMaxStylusContractFragments(uint8 maxFragments) external;

        /// Devnode: the caller is not a chain owner (Nitro: "unauthorized caller to access-controlled method").
        error NotChainOwner(address caller);
    }

    /// The parts of Nitro's `ArbOwnerPublic` precompile devnode implements.
    #[derive(Debug, PartialEq, Eq)]
    interface IArbOwnerPublic {
        function isChainOwner(address addr) external view returns (bool);
        function getAllChainOwners() external view returns (address[] memory);
        function getMaxStylusContractFragments() external view returns (uint8);
    }

    /// The part of Nitro's `ArbDebug` precompile dev tooling uses.
    #[derive(Debug, PartialEq, Eq)]
    interface IArbDebug {
        function becomeChainOwner() external;
    }

    /// The parts of Nitro's `ArbSys` precompile tools use.
    #[derive(Debug, PartialEq, Eq)]
    interface IArbSys {
        function arbBlockNumber() external view returns (uint256);
        function arbBlockHash(uint256 arbBlockNum) external view returns (bytes32);
        function arbChainID() external view returns (uint256);
        function arbOSVersion() external view returns (uint256);
        function getStorageGasAvailable() external view returns (uint256);
        function wasMyCallersAddressAliased() external view returns (bool);
    }
}

/// Ethereum's precompiles plus the Arbitrum ones above.
#[derive(Debug)]
pub struct ArbPrecompiles {
    eth: EthPrecompiles,
    addresses: AddressSet,
    programs: Arc<ProgramCache>,
}

impl ArbPrecompiles {
    /// Creates the set for `spec`, sharing the compiled-program cache.
    pub fn new(spec: SpecId, programs: Arc<ProgramCache>) -> Self {
        let eth = EthPrecompiles::new(spec);
        let addresses = Self::addresses_for(&eth);
        Self {
            eth,
            addresses,
            programs,
        }
    }

    fn addresses_for(eth: &EthPrecompiles) -> AddressSet {
        let mut set = eth.warm_addresses().clone();
        set.extend([
            ARB_WASM,
            ARB_WASM_CACHE,
            ARB_SYS,
            ARB_OWNER,
            ARB_OWNER_PUBLIC,
            ARB_DEBUG,
        ]);
        set
    }
}

impl<'db> PrecompileProvider<EvmContext<'db>> for ArbPrecompiles {
    type Output = InterpreterResult;

    fn set_spec(
        &mut self,
        spec: <<EvmContext<'db> as revm::context::ContextTr>::Cfg as Cfg>::Spec,
    ) -> bool {
        let changed =
            <EthPrecompiles as PrecompileProvider<EvmContext<'db>>>::set_spec(&mut self.eth, spec);
        self.addresses = Self::addresses_for(&self.eth);
        changed
    }

    fn run(
        &mut self,
        context: &mut EvmContext<'db>,
        inputs: &CallInputs,
    ) -> Result<Option<Self::Output>, String> {
        match inputs.bytecode_address {
            ARB_WASM => Ok(Some(arb_wasm::run(context, inputs, &self.programs))),
            ARB_SYS => Ok(Some(arb_sys::run(context, inputs))),
            ARB_WASM_CACHE => Ok(Some(arb_wasm_cache::run(context, inputs))),
            ARB_OWNER | ARB_OWNER_PUBLIC | ARB_DEBUG => Ok(Some(arb_owner::run(context, inputs))),
            _ => self.eth.run(context, inputs),
        }
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.addresses
    }
}

/// Gas accounting and results shared by the Arbitrum precompiles.
pub(crate) struct Meter {
    pub gas: Gas,
}

impl Meter {
    /// Gas per 32-byte word copied in or out (Nitro charges `CopyGas` per word).
    const COPY_GAS: u64 = 3;
    /// Gas per storage read (Nitro's `StorageReadCost`).
    pub(crate) const READ: u64 = 800;
    /// Gas per storage write (Nitro's `StorageWriteCost`).
    pub(crate) const WRITE: u64 = 20_000;

    pub(crate) fn new(limit: u64, input_len: usize) -> Option<Self> {
        let mut gas = Gas::new(limit);
        gas.record_regular_cost(Self::COPY_GAS * (input_len as u64).div_ceil(32))
            .then_some(Self { gas })
    }

    /// Charges `cost`; false when out of gas.
    pub(crate) fn charge(&mut self, cost: u64) -> bool {
        self.gas.record_regular_cost(cost)
    }

    pub(crate) fn ok(mut self, output: Vec<u8>) -> InterpreterResult {
        if !self
            .gas
            .record_regular_cost(Self::COPY_GAS * (output.len() as u64).div_ceil(32))
        {
            return Self::out_of_gas(self.gas.limit());
        }
        InterpreterResult {
            result: InstructionResult::Return,
            output: output.into(),
            gas: self.gas,
        }
    }

    pub(crate) fn revert(self, output: Vec<u8>) -> InterpreterResult {
        InterpreterResult {
            result: InstructionResult::Revert,
            output: Bytes::from(output),
            gas: self.gas,
        }
    }

    pub(crate) fn out_of_gas(limit: u64) -> InterpreterResult {
        let mut gas = Gas::new(limit);
        gas.spend_all();
        InterpreterResult {
            result: InstructionResult::PrecompileOOG,
            output: Bytes::new(),
            gas,
        }
    }
}
