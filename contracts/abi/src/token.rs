//! BR token (`verity-token`): events, errors and supply constants.
//!
//! Events: `Transfer` (from = 0 on mint), `Approval`, `MinterChanged`, `AdminChanged` (previous, new).
//! Errors follow EIP-6093 (`ERC20…`) where the standard names one, and carry a `BR` prefix otherwise.

use alloy_primitives::U256;

/// One BR in wei-like base units (18 decimals).
pub const UNIT: U256 = U256::from_limbs([1_000_000_000_000_000_000, 0, 0, 0]);

/// The hard cap on BR's total supply: 1,000,000,000 BR.
pub const CAP: U256 = U256::from_limbs([0x9fd0803ce8000000, 0x33b2e3c, 0, 0]);

/// BR's decimals.
pub const DECIMALS: u8 = 18;

sol_with_source! {
    /// Solidity source of BR's events, appended to the committed interface file.
    EVENTS_SOL => {
        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);
        event MinterChanged(address indexed previousMinter, address indexed newMinter);
        event AdminChanged(address indexed previousAdmin, address indexed newAdmin);
    }
}

alloy_sol_types::sol! {
    #![sol(all_derives)]
    /// `sender` holds `balance` BR but tried to move `needed`.
    error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed);
    /// The zero address cannot send.
    error ERC20InvalidSender(address sender);
    /// The zero address cannot receive.
    error ERC20InvalidReceiver(address receiver);
    /// `spender` may move `allowance` from the owner but tried `needed`.
    error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed);
    /// The zero address cannot approve.
    error ERC20InvalidApprover(address approver);
    /// The zero address cannot be approved.
    error ERC20InvalidSpender(address spender);
    /// Minting would lift the supply to `increasedSupply`, above `cap`.
    error ERC20ExceededCap(uint256 increasedSupply, uint256 cap);
    /// `account` is not the minter.
    error BRUnauthorizedMinter(address account);
    /// `account` is not the admin.
    error BRUnauthorizedAdmin(address account);
    /// The zero address cannot hold the admin role.
    error BRInvalidAdmin(address admin);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_what_they_say() {
        let unit = U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(UNIT, unit);
        assert_eq!(CAP, U256::from(1_000_000_000u64) * unit);
    }

    #[test]
    fn events_source_declares_every_event() {
        for name in ["Transfer", "Approval", "MinterChanged", "AdminChanged"] {
            assert!(
                crate::solidity_events(EVENTS_SOL)
                    .iter()
                    .any(|e| e.starts_with(&alloc::format!("event {name}("))),
                "{name}"
            );
        }
    }
}
