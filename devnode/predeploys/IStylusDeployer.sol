// SPDX-License-Identifier: MIT OR Apache-2.0
// The interface of Arbitrum's StylusDeployer (0xcEcba2F1DC234f70Dd89F2041029807F8D03A990), which devnode
// predeploys (StylusDeployer.sol) and `verity deploy` calls. The one source of this ABI: devnode binds it with
// alloy's `sol!`.
pragma solidity ^0.8.0;

interface IStylusDeployer {
    /// A program was deployed, activated and initialized.
    event ContractDeployed(address deployedContract);

    /// CREATE / CREATE2 failed (e.g. the address is taken, or the initcode reverted).
    error ContractDeploymentError(bytes bytecode);
    /// The constructor call reverted; `data` is its revert data.
    error ContractInitializationError(address newContract, bytes data);
    /// Returning the unspent value to the sender failed.
    error RefundExcessValueError(uint256 excessValue);
    /// No bytecode given.
    error EmptyBytecode();
    /// A constructor value without constructor data.
    error InitValueButNotInitData();
    /// `msg.value` is below `initValue`.
    error InsufficientValue(uint256 have, uint256 want);

    /// Deploys `bytecode` (CREATE, or CREATE2 when `salt` is non-zero — with `keccak256(initData ‖ salt)` as the
    /// salt, so an address can only ever be taken with these constructor arguments), activates it unless its code
    /// is already active, calls it with `initData` and `initValue` when `initData` is non-empty, and returns what
    /// is left of `msg.value` to the sender.
    function deploy(bytes calldata bytecode, bytes calldata initData, uint256 initValue, bytes32 salt)
        external
        payable
        returns (address newContract);
}
