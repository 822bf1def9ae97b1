// SPDX-License-Identifier: MIT OR Apache-2.0
// devnode's StylusDeployer: the ABI (IStylusDeployer.sol) and behaviour of Arbitrum's deployer at
// 0xcEcba2F1DC234f70Dd89F2041029807F8D03A990, written for devnode. Compiled by compile.cjs (solc 0.8.30, optimizer,
// Cancun, no metadata); the runtime bytecode is committed as StylusDeployer.hex and a devnode test recompiles it.
pragma solidity 0.8.30;

import {IStylusDeployer} from "./IStylusDeployer.sol";

interface IArbWasm {
    function activateProgram(address program) external payable returns (uint16 version, uint256 dataFee);
    function codehashVersion(bytes32 codehash) external view returns (uint16 version);
}

/// Deploys a Stylus program, activates it (paying the data fee) and calls its constructor, all in one
/// transaction: nobody can call the constructor in between. Any failure reverts the whole deployment.
contract StylusDeployer is IStylusDeployer {
    IArbWasm private constant ARB_WASM = IArbWasm(address(0x71));

    /// See IStylusDeployer.deploy.
    function deploy(bytes calldata bytecode, bytes calldata initData, uint256 initValue, bytes32 salt)
        external
        payable
        override
        returns (address newContract)
    {
        if (bytecode.length == 0) revert EmptyBytecode();
        if (initData.length == 0 && initValue != 0) revert InitValueButNotInitData();
        if (msg.value < initValue) revert InsufficientValue(msg.value, initValue);
        uint256 left = msg.value - initValue;

        bytes memory code = bytecode;
        if (salt != bytes32(0)) {
            bytes32 effective = keccak256(abi.encodePacked(initData, salt));
            assembly {
                newContract := create2(0, add(code, 0x20), mload(code), effective)
            }
        } else {
            assembly {
                newContract := create(0, add(code, 0x20), mload(code))
            }
        }
        if (newContract == address(0)) revert ContractDeploymentError(bytecode);

        if (!isActive(newContract.codehash)) {
            // ArbWasm sends back whatever exceeds the data fee.
            (, uint256 dataFee) = ARB_WASM.activateProgram{value: left}(newContract);
            left -= dataFee;
        }

        if (initData.length != 0) {
            (bool ok, bytes memory data) = newContract.call{value: initValue}(initData);
            if (!ok) revert ContractInitializationError(newContract, data);
        }

        if (left != 0) {
            (bool sent,) = msg.sender.call{value: left}("");
            if (!sent) revert RefundExcessValueError(left);
        }
        emit ContractDeployed(newContract);
    }

    /// Whether a program with this code hash is activated at the current Stylus version and not expired.
    function isActive(bytes32 codehash) private view returns (bool) {
        try ARB_WASM.codehashVersion(codehash) returns (uint16) {
            return true;
        } catch {
            return false;
        }
    }
}
