// SPDX-License-Identifier: MIT OR Apache-2.0
// devnode's Stylus cache manager: the ABI cargo-stylus's `cache` subcommands use (that of Arbitrum's CacheManager,
// at nitro-devnode's address 0x2F8Bd4EaB69764c105aDd7dE7CB0402557a44E6f), written for devnode. Compiled by
// compile.cjs (solc 0.8.30, optimizer, Cancun, no metadata); the runtime bytecode is committed as CacheManager.hex
// and a devnode test recompiles it.
//
// A dev chain has room for every program: there is no eviction auction. Any activated program is cached for any
// bid (the minimum bid is 0); the bid stays in this contract, as a bid on Arbitrum pays for the slot.
pragma solidity 0.8.30;

interface IArbWasm {
    function codehashVersion(bytes32 codehash) external view returns (uint16 version);
    function codehashAsmSize(bytes32 codehash) external view returns (uint32 size);
}

interface IArbWasmCache {
    function cacheProgram(address addr) external;
    function codehashIsCached(bytes32 codehash) external view returns (bool);
}

/// Caches activated Stylus programs in ArbOS's program cache (ArbWasmCache at 0x72) for any bid.
contract CacheManager {
    IArbWasm private constant ARB_WASM = IArbWasm(address(0x71));
    IArbWasmCache private constant ARB_WASM_CACHE = IArbWasmCache(address(0x72));
    /// The cache's nominal capacity in bytes of native code (devnode never evicts).
    uint64 private constant CACHE_SIZE = 1 << 30;

    /// Bytes of native code cached through this manager.
    uint64 public queueSize;

    event InsertBid(bytes32 indexed codehash, address program, uint192 bid, uint64 size);

    error AsmTooLarge(uint256 asm, uint256 queueSize, uint256 cacheSize);
    error AlreadyCached(bytes32 codehash);
    error BidTooSmall(uint192 bid, uint192 min);
    error BidsArePaused();
    error ProgramNotActivated();

    /// The cache's capacity in bytes.
    function cacheSize() external pure returns (uint64) {
        return CACHE_SIZE;
    }

    /// Bids are never paused on devnode.
    function isPaused() external pure returns (bool) {
        return false;
    }

    /// The minimum bid to cache `program`: 0 (there is always room).
    function getMinBid(address program) external view returns (uint192 min) {
        if (!isActive(program.codehash)) revert ProgramNotActivated();
        return 0;
    }

    /// The minimum bid to cache a program of any size: 0 (there is always room).
    function getMinBid(uint64) public pure returns (uint192 min) {
        return 0;
    }

    /// Caches the activated `program`; the bid (msg.value) stays here.
    function placeBid(address program) external payable {
        bytes32 codehash = program.codehash;
        if (!isActive(codehash)) revert ProgramNotActivated();
        if (ARB_WASM_CACHE.codehashIsCached(codehash)) revert AlreadyCached(codehash);
        uint64 size = ARB_WASM.codehashAsmSize(codehash);
        if (uint256(queueSize) + size > CACHE_SIZE) revert AsmTooLarge(size, queueSize, CACHE_SIZE);
        (bool ok, bytes memory data) =
            address(ARB_WASM_CACHE).call(abi.encodeCall(IArbWasmCache.cacheProgram, (program)));
        if (!ok) {
            assembly {
                revert(add(data, 0x20), mload(data))
            }
        }
        queueSize += size;
        emit InsertBid(codehash, program, uint192(msg.value), size);
    }

    function isActive(bytes32 codehash) private view returns (bool) {
        try ARB_WASM.codehashVersion(codehash) returns (uint16) {
            return true;
        } catch {
            return false;
        }
    }
}
