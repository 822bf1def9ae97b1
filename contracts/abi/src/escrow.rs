//! VotingEscrow (`verity-escrow`, veBR): events, errors, lock constants, and the BR calls the escrow makes.
//!
//! Events: `Deposit` (create, increase amount or extend: `kind` 0 / 1 / 2), `Withdraw`, `Supply` (total BR locked
//! before and after). Errors carry the `Escrow` prefix.

/// Lock ends are rounded down to a multiple of a week (Unix time).
pub const WEEK: u64 = 7 * 86_400;

/// The longest lock: 4 × 365 days (Curve's `MAXTIME`). A lock of `amount` has slope `amount / MAX_LOCK`.
pub const MAX_LOCK: u64 = 4 * 365 * 86_400;

/// The smallest lock: below `MAX_LOCK` base units the slope, and so the voting power, would round to zero.
pub const MIN_LOCK_AMOUNT: u64 = MAX_LOCK;

/// `Deposit.kind` of `createLock`.
pub const KIND_CREATE: u8 = 0;
/// `Deposit.kind` of `increaseAmount`.
pub const KIND_INCREASE_AMOUNT: u8 = 1;
/// `Deposit.kind` of `increaseUnlockTime`.
pub const KIND_INCREASE_UNLOCK_TIME: u8 = 2;

/// `t` rounded down to a multiple of [`WEEK`].
pub const fn week_floor(t: u64) -> u64 {
    t / WEEK * WEEK
}

sol_with_source! {
    /// Solidity source of the escrow's events, appended to the committed interface file.
    EVENTS_SOL => {
        event Deposit(address indexed owner, uint256 value, uint256 amount, uint64 end, uint8 kind);
        event Withdraw(address indexed owner, uint256 value);
        event Supply(uint256 previousSupply, uint256 supply);
    }
}

alloy_sol_types::sol! {
    #![sol(all_derives)]
    /// `value` is outside what a lock may hold (at least `MIN_LOCK_AMOUNT` for a new lock, non-zero for an
    /// increase, the total at most BR's cap).
    error EscrowInvalidAmount(uint256 value);
    /// `owner` already has a lock (increase or extend it, or withdraw it once expired).
    error EscrowLockExists(address owner);
    /// `owner` has no lock.
    error EscrowNoLock(address owner);
    /// `owner`'s lock ended at `end`: it can only be withdrawn.
    error EscrowLockExpired(address owner, uint64 end);
    /// `owner`'s lock runs until `end`: it cannot be withdrawn yet.
    error EscrowLockNotExpired(address owner, uint64 end);
    /// `unlockTime`, rounded down to a week, is not after `minimum` (now, or the current end when extending).
    error EscrowUnlockTooEarly(uint64 unlockTime, uint64 minimum);
    /// `unlockTime` is after `maximum` (now + 4 years).
    error EscrowUnlockTooLate(uint64 unlockTime, uint64 maximum);
    /// The zero address cannot be the token.
    error EscrowInvalidToken(address token);
    /// The BR call reverted (its revert data) or returned false (empty data).
    error EscrowTokenCallFailed(address token, bytes reason);
}

/// The BR functions the escrow calls (checked against the committed `IBrToken.sol` by a test).
pub mod br {
    alloy_sol_types::sol! {
        /// BR's `transferFrom`.
        function transferFrom(address from, address to, uint256 value) external returns (bool);
        /// BR's `transfer`.
        function transfer(address to, uint256 value) external returns (bool);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_curve() {
        assert_eq!(MAX_LOCK, 126_144_000);
        assert_eq!(week_floor(WEEK * 3 + 5), WEEK * 3);
    }

    #[test]
    fn events_source_declares_every_event() {
        for name in ["Deposit", "Withdraw", "Supply"] {
            let flat = EVENTS_SOL
                .split_whitespace()
                .collect::<alloc::vec::Vec<_>>()
                .join(" ");
            assert!(flat.contains(&alloc::format!("event {name}(")), "{name}");
        }
    }

    #[cfg(feature = "rpc")]
    #[test]
    fn br_calls_match_the_committed_interface() {
        use crate::rpc::IBrToken;
        use alloy_sol_types::SolCall;
        assert_eq!(
            br::transferFromCall::SIGNATURE,
            IBrToken::transferFromCall::SIGNATURE
        );
        assert_eq!(
            br::transferCall::SIGNATURE,
            IBrToken::transferCall::SIGNATURE
        );
    }
}
