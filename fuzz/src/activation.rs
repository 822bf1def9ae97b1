//! Mutated Stylus programs at activation: bit flips and truncations of a real contract's deployed code
//! (`EF F0 00 00 ‖ brotli(wasm)`) and of its WASM (recompressed), fed to devnode's activation path
//! ([`ProgramCache::compile`]: decompress, validate against Nitro's rules, compile). Every mutant must be
//! accepted or rejected with a typed [`devnode::stylus::ActivationError`]; a panic is a finding.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use alloy::primitives::keccak256;
use devnode::stylus::ProgramCache;

use crate::Rng;

/// Counts of one activation fuzzing run.
#[derive(Debug, Clone, Default)]
pub struct ActivationReport {
    /// Mutants tried.
    pub mutants: u64,
    /// Accepted (a mutation that keeps a valid program, e.g. in a data segment).
    pub accepted: u64,
    /// Rejected with a typed error.
    pub rejected: u64,
    /// Panics: `(description of the mutant, message)`.
    pub panics: Vec<String>,
}

fn compress(wasm: &[u8]) -> Vec<u8> {
    let mut code = vec![0xEF, 0xF0, 0x00, 0x00];
    let mut writer = brotli::CompressorWriter::new(&mut code, 4096, 1, 22);
    let _ = writer.write_all(wasm);
    drop(writer);
    code
}

fn mutate(rng: &mut Rng, bytes: &[u8]) -> (Vec<u8>, String) {
    let mut out = bytes.to_vec();
    if out.is_empty() {
        return (out, "empty".into());
    }
    let what = match rng.below(4) {
        0 => {
            let len = rng.below(out.len() as u64) as usize;
            out.truncate(len);
            format!("truncated to {len}")
        }
        1 => {
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let at = rng.below(out.len() as u64) as usize;
                out[at] ^= 1 << rng.below(8);
            }
            format!("{flips} bit flips")
        }
        2 => {
            let at = rng.below(out.len() as u64) as usize;
            let b = rng.next_u64() as u8;
            out[at] = b;
            format!("byte {at} = {b:#04x}")
        }
        _ => {
            let at = rng.below(out.len() as u64) as usize;
            let len = (1 + rng.below(16) as usize).min(out.len() - at);
            out[at..at + len].fill(0xff);
            format!("{len} bytes at {at} = 0xff")
        }
    };
    (out, what)
}

/// Tries `mutants` mutants of `code` and `wasm` (half each) from `seed`.
pub fn run(code: &[u8], wasm: &[u8], seed: u64, mutants: u64) -> ActivationReport {
    let mut rng = Rng::new(seed);
    let mut report = ActivationReport::default();
    let mut cache = ProgramCache::new();
    for i in 0..mutants {
        if i % 256 == 255 {
            cache = ProgramCache::new();
        }
        let (candidate, what) = if i % 2 == 0 {
            let (m, what) = mutate(&mut rng, code);
            (m, format!("code {what}"))
        } else {
            let (m, what) = mutate(&mut rng, wasm);
            (compress(&m), format!("wasm {what}"))
        };
        report.mutants += 1;
        let hash = keccak256(&candidate);
        match catch_unwind(AssertUnwindSafe(|| cache.compile(hash, &candidate))) {
            Ok(Ok(_)) => report.accepted += 1,
            Ok(Err(_)) => report.rejected += 1,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                report.panics.push(format!("mutant {i} ({what}): {msg}"));
            }
        }
    }
    report
}
