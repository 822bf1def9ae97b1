// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.23;

/// @title BenchToken — BR's shape in Solidity, the EVM baseline of `verity bench`.
/// @notice Same functions, events and errors as BR (`contracts/abi/interfaces/IBrToken.sol`, logic in
///         `contracts/token/src/lib.rs`): 18 decimals, a hard cap, one minter, one admin, an infinite allowance
///         that is never decreased, EIP-6093 errors. Written plainly (no assembly) as a typical ERC-20 would be,
///         so the benchmark compares BR on devnode with an ordinary Solidity token on anvil.
contract BenchToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event MinterChanged(address indexed previousMinter, address indexed newMinter);
    event AdminChanged(address indexed previousAdmin, address indexed newAdmin);

    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    error ERC20InvalidSender(address sender);
    error ERC20InvalidReceiver(address receiver);
    error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    error ERC20InvalidApprover(address approver);
    error ERC20InvalidSpender(address spender);
    error ERC20ExceededCap(uint256 increasedSupply, uint256 cap);
    error BRUnauthorizedMinter(address account);
    error BRUnauthorizedAdmin(address account);
    error BRInvalidAdmin(address admin);

    /// 1,000,000,000 tokens of 18 decimals, as BR's CAP.
    uint256 public constant cap = 1_000_000_000 * 1e18;

    mapping(address => uint256) private _balances;
    mapping(address => mapping(address => uint256)) private _allowances;
    uint256 public totalSupply;
    address public minter;
    address public admin;

    /// Same arguments as BR's Stylus constructor.
    constructor(address admin_, address minter_, address genesisRecipient, uint256 genesisAmount) {
        _setAdmin(admin_);
        _setMinter(minter_);
        if (genesisAmount != 0) {
            _mint(genesisRecipient, genesisAmount);
        }
    }

    function name() external pure returns (string memory) {
        return "Verity BR (Solidity bench)";
    }

    function symbol() external pure returns (string memory) {
        return "BRB";
    }

    function decimals() external pure returns (uint8) {
        return 18;
    }

    function balanceOf(address account) external view returns (uint256) {
        return _balances[account];
    }

    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        _approve(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        _spendAllowance(from, msg.sender, value);
        _transfer(from, to, value);
        return true;
    }

    function mint(address to, uint256 value) external {
        if (msg.sender != minter) revert BRUnauthorizedMinter(msg.sender);
        _mint(to, value);
    }

    function setMinter(address newMinter) external {
        _onlyAdmin();
        _setMinter(newMinter);
    }

    function transferAdmin(address newAdmin) external {
        _onlyAdmin();
        _setAdmin(newAdmin);
    }

    function _onlyAdmin() private view {
        if (msg.sender != admin) revert BRUnauthorizedAdmin(msg.sender);
    }

    function _setAdmin(address newAdmin) private {
        if (newAdmin == address(0)) revert BRInvalidAdmin(newAdmin);
        address previous = admin;
        admin = newAdmin;
        emit AdminChanged(previous, newAdmin);
    }

    function _setMinter(address newMinter) private {
        address previous = minter;
        minter = newMinter;
        emit MinterChanged(previous, newMinter);
    }

    function _approve(address owner, address spender, uint256 value) private {
        if (owner == address(0)) revert ERC20InvalidApprover(owner);
        if (spender == address(0)) revert ERC20InvalidSpender(spender);
        _allowances[owner][spender] = value;
        emit Approval(owner, spender, value);
    }

    function _spendAllowance(address owner, address spender, uint256 value) private {
        uint256 current = _allowances[owner][spender];
        if (current == type(uint256).max) return;
        if (current < value) revert ERC20InsufficientAllowance(spender, current, value);
        unchecked {
            _allowances[owner][spender] = current - value;
        }
    }

    function _transfer(address from, address to, uint256 value) private {
        if (from == address(0)) revert ERC20InvalidSender(from);
        if (to == address(0)) revert ERC20InvalidReceiver(to);
        uint256 fromBalance = _balances[from];
        if (fromBalance < value) revert ERC20InsufficientBalance(from, fromBalance, value);
        unchecked {
            // value <= fromBalance.
            _balances[from] = fromBalance - value;
            // The sum of balances is totalSupply <= cap.
            _balances[to] += value;
        }
        emit Transfer(from, to, value);
    }

    function _mint(address to, uint256 value) private {
        if (to == address(0)) revert ERC20InvalidReceiver(to);
        uint256 increased = totalSupply + value;
        if (increased > cap) revert ERC20ExceededCap(increased, cap);
        totalSupply = increased;
        unchecked {
            // balance <= totalSupply <= cap.
            _balances[to] += value;
        }
        emit Transfer(address(0), to, value);
    }
}
