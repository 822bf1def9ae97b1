//! # BR — Verity's ERC-20
//!
//! 18 decimals, a hard cap ([`verity_abi::token::CAP`]), and one minter given explicitly at construction (the
//! GaugeController once it exists; the admin may move the role). Events and errors come from
//! [`verity_abi::token`]; this crate holds only the logic.
//!
//! Deployment note: Stylus runs a constructor in a call after activation, so [`BrToken::constructor`] takes
//! the admin and minter as arguments instead of trusting `msg.sender` (a deployer contract may be the caller).
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]
#![cfg_attr(not(any(test, feature = "export-abi")), no_std)]
// `#[entrypoint]` emits an undocumented `user_entrypoint` export on wasm; native builds still check docs.
#![cfg_attr(target_arch = "wasm32", allow(missing_docs))]

#[macro_use]
extern crate alloc;

// The wasm32 panic handler (traps; no std, no formatting code).
use verity_contract_support as _;

use alloc::{string::String, vec::Vec};
use alloy_primitives::{Address, U256};
use stylus_sdk::prelude::*;
use stylus_sdk::storage::{StorageAddress, StorageMap, StorageU256};
use verity_abi::token::{
    AdminChanged, Approval, BRInvalidAdmin, BRUnauthorizedAdmin, BRUnauthorizedMinter,
    ERC20ExceededCap, ERC20InsufficientAllowance, ERC20InsufficientBalance, ERC20InvalidApprover,
    ERC20InvalidReceiver, ERC20InvalidSender, ERC20InvalidSpender, MinterChanged, Transfer, CAP,
    DECIMALS,
};

/// Every way a BR call can fail; each variant is the Solidity error of the same name in `verity-abi`.
#[derive(SolidityError, Debug)]
pub enum Error {
    /// The sender's balance is below the amount.
    InsufficientBalance(ERC20InsufficientBalance),
    /// Transfer from the zero address.
    InvalidSender(ERC20InvalidSender),
    /// Transfer or mint to the zero address.
    InvalidReceiver(ERC20InvalidReceiver),
    /// `transferFrom` above the spender's allowance.
    InsufficientAllowance(ERC20InsufficientAllowance),
    /// Approval from the zero address.
    InvalidApprover(ERC20InvalidApprover),
    /// Approval for the zero address.
    InvalidSpender(ERC20InvalidSpender),
    /// A mint would exceed the cap.
    ExceededCap(ERC20ExceededCap),
    /// The caller is not the minter.
    UnauthorizedMinter(BRUnauthorizedMinter),
    /// The caller is not the admin.
    UnauthorizedAdmin(BRUnauthorizedAdmin),
    /// The zero address cannot be admin.
    InvalidAdmin(BRInvalidAdmin),
}

/// BR's storage.
#[storage]
#[entrypoint]
pub struct BrToken {
    balances: StorageMap<Address, StorageU256>,
    allowances: StorageMap<Address, StorageMap<Address, StorageU256>>,
    total_supply: StorageU256,
    minter: StorageAddress,
    admin: StorageAddress,
}

#[public]
impl BrToken {
    /// Sets the admin and the minter and mints `genesis_amount` to `genesis_recipient` (the circulating
    /// supply at genesis; zero mints nothing). Runs once (the SDK guards the constructor slot).
    ///
    /// # Errors
    /// [`Error::InvalidAdmin`] for a zero admin; [`Error::InvalidReceiver`] / [`Error::ExceededCap`] from the
    /// genesis mint.
    ///
    /// # Events
    /// [`AdminChanged`], [`MinterChanged`], and [`Transfer`] for the genesis mint.
    #[constructor]
    pub fn constructor(
        &mut self,
        admin: Address,
        minter: Address,
        genesis_recipient: Address,
        genesis_amount: U256,
    ) -> Result<(), Error> {
        self._set_admin(admin)?;
        self._set_minter(minter);
        if !genesis_amount.is_zero() {
            self._mint(genesis_recipient, genesis_amount)?;
        }
        Ok(())
    }

    /// The token's name.
    pub fn name(&self) -> String {
        String::from("Verity BR")
    }

    /// The token's symbol.
    pub fn symbol(&self) -> String {
        String::from("BR")
    }

    /// Always 18.
    pub fn decimals(&self) -> u8 {
        DECIMALS
    }

    /// The hard cap on total supply.
    pub fn cap(&self) -> U256 {
        CAP
    }

    /// BR in existence.
    pub fn total_supply(&self) -> U256 {
        self.total_supply.get()
    }

    /// `account`'s balance.
    pub fn balance_of(&self, account: Address) -> U256 {
        self.balances.get(account)
    }

    /// How much `spender` may still move from `owner`.
    pub fn allowance(&self, owner: Address, spender: Address) -> U256 {
        self.allowances.getter(owner).get(spender)
    }

    /// The address allowed to mint.
    pub fn minter(&self) -> Address {
        self.minter.get()
    }

    /// The address allowed to move the minter and admin roles.
    pub fn admin(&self) -> Address {
        self.admin.get()
    }

    /// Moves `value` from the caller to `to`.
    ///
    /// # Errors
    /// [`Error::InvalidReceiver`], [`Error::InsufficientBalance`].
    ///
    /// # Events
    /// [`Transfer`].
    pub fn transfer(&mut self, to: Address, value: U256) -> Result<bool, Error> {
        let from = self.vm().msg_sender();
        self._transfer(from, to, value)?;
        Ok(true)
    }

    /// Lets `spender` move up to `value` of the caller's BR (`U256::MAX` = unlimited, never decreased).
    ///
    /// # Errors
    /// [`Error::InvalidSpender`].
    ///
    /// # Events
    /// [`Approval`].
    pub fn approve(&mut self, spender: Address, value: U256) -> Result<bool, Error> {
        let owner = self.vm().msg_sender();
        self._approve(owner, spender, value)?;
        Ok(true)
    }

    /// Moves `value` from `from` to `to` out of the caller's allowance.
    ///
    /// # Errors
    /// [`Error::InsufficientAllowance`], [`Error::InvalidSender`], [`Error::InvalidReceiver`],
    /// [`Error::InsufficientBalance`].
    ///
    /// # Events
    /// [`Transfer`].
    pub fn transfer_from(
        &mut self,
        from: Address,
        to: Address,
        value: U256,
    ) -> Result<bool, Error> {
        let spender = self.vm().msg_sender();
        self._spend_allowance(from, spender, value)?;
        self._transfer(from, to, value)?;
        Ok(true)
    }

    /// Mints `value` to `to`; only the minter.
    ///
    /// # Errors
    /// [`Error::UnauthorizedMinter`], [`Error::InvalidReceiver`], [`Error::ExceededCap`].
    ///
    /// # Events
    /// [`Transfer`] from the zero address.
    pub fn mint(&mut self, to: Address, value: U256) -> Result<(), Error> {
        let caller = self.vm().msg_sender();
        if caller != self.minter.get() {
            return Err(Error::UnauthorizedMinter(BRUnauthorizedMinter {
                account: caller,
            }));
        }
        self._mint(to, value)
    }

    /// Gives the minter role to `new_minter` (zero = nobody can mint); only the admin.
    ///
    /// # Errors
    /// [`Error::UnauthorizedAdmin`].
    ///
    /// # Events
    /// [`MinterChanged`].
    pub fn set_minter(&mut self, new_minter: Address) -> Result<(), Error> {
        self._only_admin()?;
        self._set_minter(new_minter);
        Ok(())
    }

    /// Hands the admin role to `new_admin`; only the admin.
    ///
    /// # Errors
    /// [`Error::UnauthorizedAdmin`], [`Error::InvalidAdmin`].
    ///
    /// # Events
    /// [`AdminChanged`].
    pub fn transfer_admin(&mut self, new_admin: Address) -> Result<(), Error> {
        self._only_admin()?;
        self._set_admin(new_admin)
    }
}

impl BrToken {
    fn _only_admin(&self) -> Result<(), Error> {
        let caller = self.vm().msg_sender();
        if caller != self.admin.get() {
            return Err(Error::UnauthorizedAdmin(BRUnauthorizedAdmin {
                account: caller,
            }));
        }
        Ok(())
    }

    fn _set_admin(&mut self, new_admin: Address) -> Result<(), Error> {
        if new_admin.is_zero() {
            return Err(Error::InvalidAdmin(BRInvalidAdmin { admin: new_admin }));
        }
        let previous = self.admin.get();
        self.admin.set(new_admin);
        self.vm().log(AdminChanged {
            previousAdmin: previous,
            newAdmin: new_admin,
        });
        Ok(())
    }

    fn _set_minter(&mut self, new_minter: Address) {
        let previous = self.minter.get();
        self.minter.set(new_minter);
        self.vm().log(MinterChanged {
            previousMinter: previous,
            newMinter: new_minter,
        });
    }

    fn _approve(&mut self, owner: Address, spender: Address, value: U256) -> Result<(), Error> {
        if owner.is_zero() {
            return Err(Error::InvalidApprover(ERC20InvalidApprover {
                approver: owner,
            }));
        }
        if spender.is_zero() {
            return Err(Error::InvalidSpender(ERC20InvalidSpender { spender }));
        }
        self.allowances.setter(owner).insert(spender, value);
        self.vm().log(Approval {
            owner,
            spender,
            value,
        });
        Ok(())
    }

    fn _spend_allowance(
        &mut self,
        owner: Address,
        spender: Address,
        value: U256,
    ) -> Result<(), Error> {
        let mut owner_allowances = self.allowances.setter(owner);
        let mut allowance = owner_allowances.setter(spender);
        let current = allowance.get();
        if current == U256::MAX {
            return Ok(());
        }
        if current < value {
            return Err(Error::InsufficientAllowance(ERC20InsufficientAllowance {
                spender,
                allowance: current,
                needed: value,
            }));
        }
        // Underflow not possible: value <= current.
        allowance.set(current - value);
        Ok(())
    }

    fn _transfer(&mut self, from: Address, to: Address, value: U256) -> Result<(), Error> {
        if from.is_zero() {
            return Err(Error::InvalidSender(ERC20InvalidSender { sender: from }));
        }
        if to.is_zero() {
            return Err(Error::InvalidReceiver(ERC20InvalidReceiver {
                receiver: to,
            }));
        }
        let from_balance = self.balances.get(from);
        if from_balance < value {
            return Err(Error::InsufficientBalance(ERC20InsufficientBalance {
                sender: from,
                balance: from_balance,
                needed: value,
            }));
        }
        // Underflow not possible: value <= from_balance.
        self.balances.insert(from, from_balance - value);
        // Overflow not possible: the sum of balances is total_supply <= CAP.
        let to_balance = self.balances.get(to);
        self.balances.insert(to, to_balance + value);
        self.vm().log(Transfer { from, to, value });
        Ok(())
    }

    fn _mint(&mut self, to: Address, value: U256) -> Result<(), Error> {
        if to.is_zero() {
            return Err(Error::InvalidReceiver(ERC20InvalidReceiver {
                receiver: to,
            }));
        }
        let supply = self.total_supply.get();
        let increased = supply.saturating_add(value);
        if increased > CAP {
            return Err(Error::ExceededCap(ERC20ExceededCap {
                increasedSupply: increased,
                cap: CAP,
            }));
        }
        self.total_supply.set(increased);
        // Overflow not possible: balance <= total_supply <= CAP.
        let balance = self.balances.get(to);
        self.balances.insert(to, balance + value);
        self.vm().log(Transfer {
            from: Address::ZERO,
            to,
            value,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
