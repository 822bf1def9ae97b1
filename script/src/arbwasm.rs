//! `ArbWasm`, Arbitrum's precompile at `0x…71` that activates Stylus programs.
//!
//! The part of stylus-tools' `precompiles/ArbWasm.sol` deployment uses: activation, version queries and the errors.
#![allow(missing_docs)] // sol!-generated items

use alloy::{
    primitives::{address, Address},
    sol,
};

/// The precompile's address.
pub const ARB_WASM_ADDRESS: Address = address!("0x0000000000000000000000000000000000000071");

sol! {
    /// Methods for managing user programs (Arbitrum precompile at `0x71`).
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    interface ArbWasm {
        /// Activates a wasm program; returns the Stylus version it was activated against and the data fee paid.
        function activateProgram(address program) external payable returns (uint16 version, uint256 dataFee);
        /// The latest Stylus version.
        function stylusVersion() external view returns (uint16 version);
        /// The Stylus version the program with `codehash` was most recently activated against.
        function codehashVersion(bytes32 codehash) external view returns (uint16 version);
        /// The Stylus version the program at `program` was most recently activated against.
        function programVersion(address program) external view returns (uint16 version);

        event ProgramActivated(bytes32 indexed codehash, bytes32 moduleHash, address program, uint256 dataFee, uint16 version);

        error ProgramNotWasm();
        error ProgramNotActivated();
        error ProgramNeedsUpgrade(uint16 version, uint16 stylusVersion);
        error ProgramExpired(uint64 ageInSeconds);
        error ProgramUpToDate();
        error ProgramKeepaliveTooSoon(uint64 ageInSeconds);
        error ProgramInsufficientValue(uint256 have, uint256 want);
    }
}
