//! Ink: Stylus's unit of computation. `1 gas = 10,000 ink` (Nitro's `initialInkPrice`).
//!
//! WASM instructions are metered with wasmi's fuel: one unit of fuel is [`INK_PER_FUEL`] ink, and
//! [`operator_costs`] gives each operator its fuel, derived from Nitro's `pricing_v1` table
//! (`ink / 25`, rounded to nearest, capped at 255 because wasmi stores per-operator costs in a
//! byte). Host I/O is charged from the constants below, which are Nitro's `arbutil::pricing`, plus
//! the EVM gas of the operation the host call stands for. The full table is in `devnode/INK.md`.

use wasmi::OperatorCost;

/// Ink bought by one unit of gas (`ArbWasm.inkPrice()`).
pub const INK_PER_GAS: u64 = 10_000;

/// Ink represented by one unit of wasmi fuel.
pub const INK_PER_FUEL: u64 = 25;

/// Base ink of a host call that may return something.
pub const HOSTIO_INK: u64 = 8_400;
/// Extra ink of a host call per pointer argument.
pub const PTR_INK: u64 = 13_440 - HOSTIO_INK;
/// Extra ink of a host call that crosses into the EVM.
pub const EVM_API_INK: u64 = 59_673;
/// Extra ink of `math_div` / `math_mod`.
pub const DIV_INK: u64 = 20_000;
/// Extra ink of `math_mul_mod`.
pub const MUL_MOD_INK: u64 = 24_100;
/// Extra ink of `math_add_mod`.
pub const ADD_MOD_INK: u64 = 21_000;

/// Gas a storage-cache access must leave (Nitro's `StorageCache::REQUIRED_ACCESS_GAS`).
pub const STORAGE_CACHE_REQUIRED_ACCESS_GAS: u64 = 10;
/// Gas an SSTORE-like host call must leave (EIP-2200's sentry).
pub const SSTORE_SENTRY_GAS: u64 = 2_300;
/// Gas of a cold SLOAD (EIP-2929).
pub const COLD_SLOAD_GAS: u64 = 2_100;
/// Gas of a cold account access (EIP-2929).
pub const COLD_ACCOUNT_GAS: u64 = 2_600;
/// Gas of TLOAD / TSTORE (EIP-1153).
pub const TRANSIENT_GAS: u64 = 100;

/// WASM pages every transaction gets for free (`ArbWasm.freePages()`).
pub const FREE_PAGES: u16 = 2;
/// Linear gas per page beyond the free ones (`ArbWasm.pageGas()`).
pub const PAGE_GAS: u16 = 1_000;
/// The exponential page-cost ramp (`ArbWasm.pageRamp()`; informational, the table below encodes it).
pub const PAGE_RAMP: u64 = 620_674_314;
/// The most WASM pages a program may use (`ArbWasm.pageLimit()`): 8 MiB.
pub const PAGE_LIMIT: u16 = 128;
/// Gas charged on every call of a (cached) program: Nitro's `minCachedInitGas` (11 × 32).
pub const CACHED_INIT_GAS: u64 = 352;
/// `ArbWasm.minInitGas()`'s first value: Nitro's v2 `minInitGas` (69 × 128).
pub const MIN_INIT_GAS: u64 = 8_832;
/// Nitro's WASM stack depth limit (`ArbWasm.maxStackDepth()`).
pub const MAX_STACK_DEPTH: u32 = 4 * 65_536;

/// Ink charged for writing `bytes` into program memory.
pub fn write_price(bytes: u32) -> u64 {
    5_040 + 30 * u64::from(bytes.saturating_sub(32))
}

/// Ink charged for reading `bytes` out of program memory.
pub fn read_price(bytes: u32) -> u64 {
    16_381 + 55 * u64::from(bytes.saturating_sub(32))
}

/// Ink charged for `native_keccak256` over `bytes`.
pub fn keccak_price(bytes: u32) -> u64 {
    let words = u64::from(bytes).div_ceil(32).saturating_sub(2);
    121_800 + 21_000 * words
}

/// Ink charged for `math_pow` with big-endian `exponent`.
pub fn pow_price(exponent: &[u8; 32]) -> u64 {
    let zeros = exponent.iter().take_while(|b| **b == 0).count() as u64;
    3_000 + (33 - zeros) * 17_500
}

/// Converts gas to ink, saturating.
pub fn gas_to_ink(gas: u64) -> u64 {
    gas.saturating_mul(INK_PER_GAS)
}

/// Converts ink to gas, rounding down.
pub fn ink_to_gas(ink: u64) -> u64 {
    ink / INK_PER_GAS
}

const MEMORY_EXPONENTS: [u32; 129] = [
    1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 7, 8, 9, 11, 12, 14, 17, 19, 22, 25, 29, 33, 38,
    43, 50, 57, 65, 75, 85, 98, 112, 128, 147, 168, 193, 221, 253, 289, 331, 379, 434, 497, 569,
    651, 745, 853, 976, 1117, 1279, 1463, 1675, 1917, 2194, 2511, 2874, 3290, 3765, 4309, 4932,
    5645, 6461, 7395, 8464, 9687, 11087, 12689, 14523, 16621, 19024, 21773, 24919, 28521, 32642,
    37359, 42758, 48938, 56010, 64104, 73368, 83971, 96106, 109994, 125890, 144082, 164904, 188735,
    216010, 247226, 282953, 323844, 370643, 424206, 485509, 555672, 635973, 727880, 833067, 953456,
    1091243, 1248941, 1429429, 1636000, 1872423, 2143012, 2452704, 2807151, 3212820, 3677113,
    4208502, 4816684, 5512756, 6309419, 7221210, 8264766, 9459129, 10826093, 12390601, 14181199,
    16230562, 18576084, 21260563, 24332984, 27849408, 31873999,
];

/// Nitro's memory model: gas for opening `new` pages when `open` are open in this transaction and
/// at most `ever` were open at once.
pub fn memory_gas(new: u16, open: u16, ever: u16) -> u64 {
    let new_open = open.saturating_add(new);
    let new_ever = ever.max(new_open);
    if new_ever <= FREE_PAGES {
        return 0;
    }
    let sub_free = |pages: u16| pages.saturating_sub(FREE_PAGES);
    let adding = sub_free(new_open).saturating_sub(sub_free(open));
    let linear = u64::from(adding) * u64::from(PAGE_GAS);
    let exp = |pages: u16| {
        MEMORY_EXPONENTS
            .get(usize::from(pages))
            .map_or(u64::MAX, |x| u64::from(*x))
    };
    linear.saturating_add(exp(new_ever).saturating_sub(exp(ever)))
}

/// Converts a Nitro ink price to wasmi fuel: `ink / 25` rounded to nearest, capped at 255.
const fn fuel(ink: u64) -> u8 {
    let f = (ink + INK_PER_FUEL / 2) / INK_PER_FUEL;
    if f > 255 {
        255
    } else {
        f as u8
    }
}

/// The wasmi fuel of every WASM operator Nitro accepts, from Nitro's `pricing_v1`.
///
/// Operators Nitro rejects at activation (floats, SIMD, reference types, tables, `memory.init`)
/// never reach execution; they keep wasmi's default.
// The table reads best as one assignment per Nitro price group.
#[allow(clippy::field_reassign_with_default)]
pub fn operator_costs() -> OperatorCost {
    let mut c = OperatorCost::default();
    // Free or nearly free (Nitro: 1 ink) and structural operators.
    c.unreachable = fuel(1);
    c.return_ = fuel(1);
    c.nop = fuel(1);
    c.i32_const = fuel(1);
    c.i64_const = fuel(1);
    c.drop = fuel(9);
    c.block = fuel(1);
    c.loop_ = fuel(1);
    c.else_ = fuel(1);
    c.end = fuel(1);
    // Control flow.
    c.br = fuel(765);
    c.br_if = fuel(765);
    c.if_ = fuel(765);
    c.select = fuel(1_250);
    c.call = fuel(3_800);
    c.br_table = fuel(2_400);
    c.call_indirect = fuel(13_610);
    // Locals and globals.
    c.local_get = fuel(75);
    c.local_tee = fuel(75);
    c.local_set = fuel(210);
    c.global_get = fuel(225);
    c.global_set = fuel(575);
    // Memory.
    for x in [
        &mut c.i32_load,
        &mut c.i32_load8_s,
        &mut c.i32_load8_u,
        &mut c.i32_load16_s,
        &mut c.i32_load16_u,
    ] {
        *x = fuel(670);
    }
    for x in [
        &mut c.i64_load,
        &mut c.i64_load8_s,
        &mut c.i64_load8_u,
        &mut c.i64_load16_s,
        &mut c.i64_load16_u,
        &mut c.i64_load32_s,
        &mut c.i64_load32_u,
    ] {
        *x = fuel(680);
    }
    for x in [&mut c.i32_store, &mut c.i32_store8, &mut c.i32_store16] {
        *x = fuel(825);
    }
    for x in [
        &mut c.i64_store,
        &mut c.i64_store8,
        &mut c.i64_store16,
        &mut c.i64_store32,
    ] {
        *x = fuel(950);
    }
    c.memory_size = fuel(3_000);
    c.memory_grow = fuel(8_050);
    c.memory_copy = fuel(950);
    c.memory_fill = fuel(950);
    // Comparisons.
    for x in [
        &mut c.i32_eqz,
        &mut c.i32_eq,
        &mut c.i32_ne,
        &mut c.i32_lt_s,
        &mut c.i32_lt_u,
        &mut c.i32_gt_s,
        &mut c.i32_gt_u,
        &mut c.i32_le_s,
        &mut c.i32_le_u,
        &mut c.i32_ge_s,
        &mut c.i32_ge_u,
    ] {
        *x = fuel(170);
    }
    for x in [
        &mut c.i64_eqz,
        &mut c.i64_eq,
        &mut c.i64_ne,
        &mut c.i64_lt_s,
        &mut c.i64_lt_u,
        &mut c.i64_gt_s,
        &mut c.i64_gt_u,
        &mut c.i64_le_s,
        &mut c.i64_le_u,
        &mut c.i64_ge_s,
        &mut c.i64_ge_u,
    ] {
        *x = fuel(225);
    }
    // Arithmetic.
    for x in [
        &mut c.i32_clz,
        &mut c.i32_ctz,
        &mut c.i64_clz,
        &mut c.i64_ctz,
    ] {
        *x = fuel(210);
    }
    for x in [
        &mut c.i32_add,
        &mut c.i32_sub,
        &mut c.i32_and,
        &mut c.i32_or,
        &mut c.i32_xor,
        &mut c.i32_shl,
        &mut c.i32_shr_s,
        &mut c.i32_shr_u,
        &mut c.i32_rotl,
        &mut c.i32_rotr,
    ] {
        *x = fuel(70);
    }
    for x in [
        &mut c.i64_add,
        &mut c.i64_sub,
        &mut c.i64_and,
        &mut c.i64_or,
        &mut c.i64_xor,
        &mut c.i64_shl,
        &mut c.i64_shr_s,
        &mut c.i64_shr_u,
        &mut c.i64_rotl,
        &mut c.i64_rotr,
    ] {
        *x = fuel(100);
    }
    c.i32_mul = fuel(160);
    c.i64_mul = fuel(160);
    for x in [
        &mut c.i32_div_s,
        &mut c.i32_div_u,
        &mut c.i32_rem_s,
        &mut c.i32_rem_u,
    ] {
        *x = fuel(1_120);
    }
    for x in [
        &mut c.i64_div_s,
        &mut c.i64_div_u,
        &mut c.i64_rem_s,
        &mut c.i64_rem_u,
    ] {
        *x = fuel(1_270);
    }
    c.i32_popcnt = fuel(2_650);
    c.i64_popcnt = fuel(6_000);
    for x in [
        &mut c.i32_wrap_i64,
        &mut c.i64_extend_i32_s,
        &mut c.i64_extend_i32_u,
        &mut c.i32_extend8_s,
        &mut c.i32_extend16_s,
        &mut c.i64_extend8_s,
        &mut c.i64_extend16_s,
        &mut c.i64_extend32_s,
    ] {
        *x = fuel(100);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_model_matches_nitro() {
        // Two free pages, then 1,000 gas per page plus the exponential ramp.
        assert_eq!(memory_gas(2, 0, 0), 0);
        assert_eq!(memory_gas(3, 0, 0), 1_000);
        assert_eq!(memory_gas(1, 2, 2), 1_000);
        assert_eq!(memory_gas(10, 0, 0), 8_000 + 3 - 1);
    }

    #[test]
    fn fuel_rounds_and_caps() {
        assert_eq!(fuel(70), 3);
        assert_eq!(fuel(3_800), 152);
        assert_eq!(fuel(13_610), 255);
        assert_eq!(fuel(9), 0);
    }
}
