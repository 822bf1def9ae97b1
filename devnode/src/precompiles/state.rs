//! Activation state kept in the storage of the `ArbWasm` account, so it is journaled, rolls back
//! with its transaction and persists with the chain state like any other storage.
//!
//! - `keccak256("verity.arbwasm.program" ‖ codehash)` → `version u16 ‖ footprint u16 ‖
//!   asm_kb u32 ‖ activated_at u64` (big-endian, left-aligned; zero = not activated).
//! - `keccak256("verity.arbwasm.data_pricer")` → `demand u32 ‖ last_update u64`.
//! - `keccak256("verity.arbwasm.cached" ‖ codehash)` → 1 when `ArbWasmCache` holds the program.
//! - `keccak256("verity.arbwasm.max_fragments")` → `set u8 (1) ‖ max u8` (unset = Nitro's default, 2).

use super::ARB_WASM;
use crate::evm::EvmContext;
use alloy::primitives::{keccak256, B256, U256};
use revm::context::{ContextTr, JournalTr};

/// Seconds after which an activation expires (`expiryDays` = 365).
pub(crate) const EXPIRY_SECONDS: u64 = 365 * 86_400;
/// Seconds before a keepalive is allowed (`keepaliveDays` = 31).
pub(crate) const KEEPALIVE_SECONDS: u64 = 31 * 86_400;

/// An activated program, keyed by code hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProgramRecord {
    pub version: u16,
    pub footprint: u16,
    pub asm_kb: u32,
    pub activated_at: u64,
}

impl ProgramRecord {
    /// Seconds since activation at time `now`.
    pub(crate) fn age(&self, now: u64) -> u64 {
        now.saturating_sub(self.activated_at)
    }

    /// Whether the activation has expired at time `now`.
    pub(crate) fn expired(&self, now: u64) -> bool {
        self.age(now) > EXPIRY_SECONDS
    }
}

fn program_slot(code_hash: B256) -> U256 {
    let mut preimage = b"verity.arbwasm.program".to_vec();
    preimage.extend_from_slice(code_hash.as_slice());
    keccak256(preimage).into()
}

fn pricer_slot() -> U256 {
    keccak256(b"verity.arbwasm.data_pricer").into()
}

fn cached_slot(code_hash: B256) -> U256 {
    let mut preimage = b"verity.arbwasm.cached".to_vec();
    preimage.extend_from_slice(code_hash.as_slice());
    keccak256(preimage).into()
}

/// Whether the program with `code_hash` is in ArbOS's cache (`ArbWasmCache.codehashIsCached`).
pub(crate) fn is_cached(ctx: &mut EvmContext<'_>, code_hash: B256) -> bool {
    !sload(ctx, cached_slot(code_hash)).is_zero()
}

/// Puts the program with `code_hash` in ArbOS's cache or takes it out.
pub(crate) fn set_cached(ctx: &mut EvmContext<'_>, code_hash: B256, cached: bool) {
    sstore(ctx, cached_slot(code_hash), U256::from(u8::from(cached)));
}

fn max_fragments_slot() -> U256 {
    keccak256(b"verity.arbwasm.max_fragments").into()
}

/// The chain's maximum fragment count per program (`ArbOwnerPublic.getMaxStylusContractFragments`).
pub(crate) fn load_max_fragments(ctx: &mut EvmContext<'_>) -> u8 {
    let word = sload(ctx, max_fragments_slot()).to_be_bytes::<32>();
    if word[0] == 1 {
        word[1]
    } else {
        crate::stylus::fragments::DEFAULT_MAX_FRAGMENTS
    }
}

/// Sets the chain's maximum fragment count per program (`ArbOwner.setMaxStylusContractFragments`).
pub(crate) fn store_max_fragments(ctx: &mut EvmContext<'_>, max: u8) {
    let mut word = [0u8; 32];
    word[0] = 1;
    word[1] = max;
    sstore(ctx, max_fragments_slot(), U256::from_be_bytes(word));
}

fn sload(ctx: &mut EvmContext<'_>, slot: U256) -> U256 {
    let journal = ctx.journal_mut();
    // The database is infallible (an in-memory CacheDB).
    let Ok(_) = journal.load_account(ARB_WASM);
    let Ok(value) = journal.sload(ARB_WASM, slot);
    value.data
}

fn sstore(ctx: &mut EvmContext<'_>, slot: U256, value: U256) {
    let journal = ctx.journal_mut();
    let Ok(_) = journal.load_account(ARB_WASM);
    let Ok(_) = journal.sstore(ARB_WASM, slot, value);
    // An untouched account is not committed by CacheDB.
    journal.touch_account(ARB_WASM);
}

/// Reads the activation record of `code_hash`.
pub(crate) fn load_program(ctx: &mut EvmContext<'_>, code_hash: B256) -> Option<ProgramRecord> {
    let word = sload(ctx, program_slot(code_hash)).to_be_bytes::<32>();
    let version = u16::from_be_bytes([word[0], word[1]]);
    (version != 0).then(|| ProgramRecord {
        version,
        footprint: u16::from_be_bytes([word[2], word[3]]),
        asm_kb: u32::from_be_bytes([word[4], word[5], word[6], word[7]]),
        activated_at: u64::from_be_bytes([
            word[8], word[9], word[10], word[11], word[12], word[13], word[14], word[15],
        ]),
    })
}

/// Writes the activation record of `code_hash`.
pub(crate) fn store_program(ctx: &mut EvmContext<'_>, code_hash: B256, record: ProgramRecord) {
    let mut word = [0u8; 32];
    word[0..2].copy_from_slice(&record.version.to_be_bytes());
    word[2..4].copy_from_slice(&record.footprint.to_be_bytes());
    word[4..8].copy_from_slice(&record.asm_kb.to_be_bytes());
    word[8..16].copy_from_slice(&record.activated_at.to_be_bytes());
    sstore(ctx, program_slot(code_hash), U256::from_be_bytes(word));
}

/// Nitro's data pricer: the price per byte rises exponentially with recent activation demand.
pub(crate) mod pricer {
    /// The day Arbitrum began: the pricer's initial `lastUpdateTime`.
    pub(crate) const ARBITRUM_START_TIME: u64 = 1_421_388_000;
    /// Demand drains at 1 TiB per year.
    pub(crate) const BYTES_PER_SECOND: u64 = (1u64 << 40) / (365 * 24) / 3_600;
    /// Wei per byte at zero demand ("5 MB = $1").
    pub(crate) const MIN_PRICE: u64 = 82_928_201;
    /// Demand at which the price is e× the minimum.
    pub(crate) const INERTIA: u64 = 21_360_419;
    const ONE_BIPS: u128 = 10_000;

    /// Nitro's `ApproxExpBasisPoints(value, 12)` for non-negative `value` (in basis points).
    pub(crate) fn approx_exp_bips(value: u64) -> u128 {
        let input = u128::from(value);
        let accuracy: u128 = 12;
        let mut res = ONE_BIPS + input / accuracy;
        let mut i = accuracy - 1;
        while i > 0 {
            res = ONE_BIPS + res.saturating_mul(input) / (ONE_BIPS * i);
            i -= 1;
        }
        res
    }

    /// Updates `(demand, last_update)` for `bytes` activated at `time`; returns the new demand
    /// and the fee in wei.
    pub(crate) fn update(demand: u32, last_update: u64, bytes: u32, time: u64) -> (u32, u128) {
        let passed = time.saturating_sub(last_update).min(u64::from(u32::MAX));
        let credit = u32::try_from(BYTES_PER_SECOND.saturating_mul(passed)).unwrap_or(u32::MAX);
        let demand = demand.saturating_sub(credit).saturating_add(bytes);
        let exponent = u64::from(demand) * 10_000 / INERTIA;
        let multiplier = approx_exp_bips(exponent);
        let per_byte = u128::from(MIN_PRICE) * multiplier / ONE_BIPS;
        (demand, per_byte * u128::from(bytes))
    }
}

/// Runs the data pricer for `bytes` at `time`, persisting its state; returns the fee in wei.
pub(crate) fn charge_data_fee(ctx: &mut EvmContext<'_>, bytes: u32, time: u64) -> U256 {
    let word = sload(ctx, pricer_slot()).to_be_bytes::<32>();
    let (demand, last) = if word == [0u8; 32] {
        (0, pricer::ARBITRUM_START_TIME)
    } else {
        (
            u32::from_be_bytes([word[0], word[1], word[2], word[3]]),
            u64::from_be_bytes([
                word[4], word[5], word[6], word[7], word[8], word[9], word[10], word[11],
            ]),
        )
    };
    let (demand, fee) = pricer::update(demand, last, bytes, time);
    let mut out = [0u8; 32];
    out[0..4].copy_from_slice(&demand.to_be_bytes());
    out[4..12].copy_from_slice(&time.to_be_bytes());
    sstore(ctx, pricer_slot(), U256::from_be_bytes(out));
    U256::from(fee)
}

#[cfg(test)]
mod tests {
    use super::pricer::*;

    #[test]
    fn exp_is_one_at_zero_demand_and_grows() {
        assert_eq!(approx_exp_bips(0), 10_000);
        // e^1 ≈ 2.7183
        assert!((27_170..27_190).contains(&approx_exp_bips(10_000)));
    }

    #[test]
    fn fee_at_zero_demand_is_min_price_per_byte() {
        let (demand, fee) = update(
            0,
            ARBITRUM_START_TIME,
            1_000,
            ARBITRUM_START_TIME + 10_000_000,
        );
        assert_eq!(demand, 1_000);
        // 1,000 bytes ≈ 1,000 × min price (exp(1000/inertia) ≈ 1.00005).
        assert!(fee >= 1_000 * u128::from(MIN_PRICE));
        assert!(fee < 1_001 * u128::from(MIN_PRICE));
    }
}
