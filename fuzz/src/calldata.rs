//! Calldata fuzzing of the deployed contracts on an in-process devnode (the [`Chain`] API, no HTTP).
//!
//! Every input is executed as `eth_call` first and classified ([`Verdict`]); a successful call to a function
//! that is not a view is then mined as a transaction, so a sequence of inputs evolves the state. After each
//! sequence the INVARIANTS.md rows of [`crate::invariants`] are checked; [`Config::deep`] first builds the deep
//! state of [`crate::state`] so random calls meet real locks, models, nodes, requests and batches.
//!
//! A *finding* is: a program trap (`unreachable`, out-of-bounds memory, stack overflow — read from
//! [`devnode::stylus::take_traps`]), a revert whose data is not empty and does not start with an error selector
//! declared in `verity-abi`, a halt (out of gas with the block's whole 30M gas, invalid opcode), an internal
//! node error, a host panic, or a broken invariant.
//!
//! **Decisions**
//! * Selectors and argument types come from the alloy bindings of the committed interfaces
//!   (`verity_abi::rpc::I*::I*Calls::{SELECTORS, SIGNATURES}`), error selectors from their `I*Errors`
//!   enums: one source of truth, kept equal to the contracts by the ABI drift test.
//! * Addresses are drawn from a closed pool (dev accounts, the deployed contracts, zero, `0xdead`), and every
//!   BR `Transfer` log of a mined transaction adds its recipient to the tracked set, so Σ balances over the
//!   tracked set must equal `totalSupply` exactly, even when a mutated argument names an unknown address.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use alloy::dyn_abi::{DynSolType, DynSolValue};
use alloy::primitives::{address, Address, Bytes, B256, I256, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use devnode::chain::Chain;
use devnode::error::Error as ChainError;
use serde::{Deserialize, Serialize};
use verity_abi::rpc::{
    IBrToken, ICommitteeVerifier, IGaugeController, IGroth16Verifier, IInferenceSettlement,
    IModelRegistry, IReceiptBatches, ISettlementNodes, IVotingEscrow,
};

use crate::invariants::{self, Tracked};
use crate::Rng;

/// Gas of every fuzzed call and transaction: the whole block. Running out of it is a finding.
pub const GAS: u64 = 30_000_000;

/// One contract's interface as the fuzzer sees it.
#[derive(Debug, Clone)]
pub struct Interface {
    /// The deployment name (`token`, `registry`, …).
    pub name: &'static str,
    /// Function selectors, sorted (alloy's order).
    pub selectors: &'static [[u8; 4]],
    /// Function signatures, in the order of `selectors`.
    pub signatures: &'static [&'static str],
    /// Error selectors the contract declares.
    pub errors: &'static [[u8; 4]],
    /// The committed Solidity interface (to tell views from state-changing functions).
    pub solidity: &'static str,
}

macro_rules! interface {
    ($name:literal, $module:ident, $calls:ident, $errors:ident, $file:literal) => {
        Interface {
            name: $name,
            selectors: $module::$calls::SELECTORS,
            signatures: $module::$calls::SIGNATURES,
            errors: $module::$errors::SELECTORS,
            solidity: include_str!(concat!("../../contracts/abi/interfaces/", $file)),
        }
    };
}

/// Every contract of Verity's deploy plan, by deployment name.
pub fn interfaces() -> Vec<Interface> {
    vec![
        interface!(
            "token",
            IBrToken,
            IBrTokenCalls,
            IBrTokenErrors,
            "IBrToken.sol"
        ),
        interface!(
            "escrow",
            IVotingEscrow,
            IVotingEscrowCalls,
            IVotingEscrowErrors,
            "IVotingEscrow.sol"
        ),
        interface!(
            "gauge",
            IGaugeController,
            IGaugeControllerCalls,
            IGaugeControllerErrors,
            "IGaugeController.sol"
        ),
        interface!(
            "registry",
            IModelRegistry,
            IModelRegistryCalls,
            IModelRegistryErrors,
            "IModelRegistry.sol"
        ),
        interface!(
            "settlement-nodes",
            ISettlementNodes,
            ISettlementNodesCalls,
            ISettlementNodesErrors,
            "ISettlementNodes.sol"
        ),
        interface!(
            "settlement-batches",
            IReceiptBatches,
            IReceiptBatchesCalls,
            IReceiptBatchesErrors,
            "IReceiptBatches.sol"
        ),
        interface!(
            "settlement",
            IInferenceSettlement,
            IInferenceSettlementCalls,
            IInferenceSettlementErrors,
            "IInferenceSettlement.sol"
        ),
        interface!(
            "settlement-committee",
            ICommitteeVerifier,
            ICommitteeVerifierCalls,
            ICommitteeVerifierErrors,
            "ICommitteeVerifier.sol"
        ),
        interface!(
            "groth16",
            IGroth16Verifier,
            IGroth16VerifierCalls,
            IGroth16VerifierErrors,
            "IGroth16Verifier.sol"
        ),
    ]
}

impl Interface {
    /// Whether the function `signature` is declared `view` or `pure` in the committed interface.
    pub fn is_view(&self, signature: &str) -> bool {
        let name = signature.split('(').next().unwrap_or(signature);
        let needle = format!("function {name}(");
        let mut lines = self
            .solidity
            .lines()
            .filter(|l| l.contains(&needle))
            .peekable();
        lines.peek().is_some() && lines.all(|l| l.contains(" view") || l.contains(" pure"))
    }

    /// The argument types of `signature` (`f(address,uint256)` → `(address,uint256)`).
    fn arguments(signature: &str) -> Option<DynSolType> {
        let open = signature.find('(')?;
        DynSolType::parse(&signature[open..]).ok()
    }
}

/// One fuzz input: enough to replay it exactly (the corpus format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    /// Deployment name of the target contract.
    pub contract: String,
    /// The caller's index in the address pool (dev accounts first, see [`Target::pool`]).
    pub caller: usize,
    /// Wei sent along.
    pub value: U256,
    /// The calldata.
    pub calldata: Bytes,
}

/// How one input ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The call returned.
    Success,
    /// Reverted with a declared error.
    TypedRevert,
    /// Reverted with no data and no trap: stylus-sdk refused the selector, the arguments or the value.
    SdkRejection,
    /// The node refused the call before execution (e.g. the caller cannot pay `value`).
    Refused,
}

/// Something that must never happen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// The input that caused it (`None` for a broken invariant).
    pub input: Option<Input>,
    /// What happened.
    pub what: String,
}

/// Per-contract counts.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Deployment name.
    pub contract: String,
    /// Inputs executed (as calls).
    pub inputs: u64,
    /// Of which mined as transactions too.
    pub transactions: u64,
    /// Successful calls.
    pub success: u64,
    /// Reverts with a declared error.
    pub typed: u64,
    /// Empty reverts without a trap (stylus-sdk's refusals).
    pub sdk: u64,
    /// Refused by the node before execution.
    pub refused: u64,
    /// Findings.
    pub findings: u64,
    /// Wall-clock seconds spent.
    pub seconds: f64,
}

impl Stats {
    /// Inputs per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.inputs as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// The fuzzer's view of a deployment: the contracts and the address pool.
#[derive(Debug, Clone)]
pub struct Target {
    /// (deployment name, address) of every contract.
    pub contracts: Vec<(String, Address)>,
    /// The address pool: dev accounts (callers of transactions) first, then the contracts, zero and `0xdead`.
    pub pool: Vec<Address>,
    /// How many of `pool`'s first entries are dev accounts the chain can sign for.
    pub accounts: usize,
    /// Words the generator draws `bytes32` arguments from first (ids, names, roots of the deep state).
    pub words: Vec<B256>,
    /// Byte strings the generator draws `bytes` arguments from at times (signed receipts of the deep state).
    pub blobs: Vec<Bytes>,
}

impl Target {
    /// A target from the deployment's contracts and the chain's dev accounts.
    pub fn new(chain: &Chain, contracts: Vec<(String, Address)>) -> Self {
        let mut pool: Vec<Address> = chain.dev_accounts().iter().map(|a| a.address).collect();
        let accounts = pool.len();
        pool.extend(contracts.iter().map(|(_, a)| *a));
        pool.push(Address::ZERO);
        pool.push(address!("0x000000000000000000000000000000000000dEaD"));
        Self {
            contracts,
            pool,
            accounts,
            words: Vec::new(),
            blobs: Vec::new(),
        }
    }

    /// The address of the contract deployed as `name`.
    pub fn address(&self, name: &str) -> Option<Address> {
        self.contracts
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The seed (print it: the same seed replays the same run).
    pub seed: u64,
    /// Inputs per contract.
    pub inputs: u64,
    /// Only this contract (deployment name); all when `None`.
    pub contract: Option<String>,
    /// Inputs between two invariant checks.
    pub sequence: u64,
    /// Build the deep state ([`crate::state`]) before the first input.
    pub deep: bool,
}

/// The outcome of a run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Per contract.
    pub stats: Vec<Stats>,
    /// Everything that must not happen.
    pub findings: Vec<Finding>,
}

impl Report {
    /// The figures as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<22} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}\n",
            "contract",
            "inputs",
            "txs",
            "success",
            "typed",
            "sdk",
            "refused",
            "findings",
            "inputs/s"
        );
        for s in &self.stats {
            out += &format!(
                "{:<22} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10.0}\n",
                s.contract,
                s.inputs,
                s.transactions,
                s.success,
                s.typed,
                s.sdk,
                s.refused,
                s.findings,
                s.rate()
            );
        }
        out
    }
}

/// Generates inputs.
struct Generator<'a> {
    rng: Rng,
    target: &'a Target,
    words: Vec<B256>,
    now: u64,
}

impl Generator<'_> {
    fn uint(&mut self, bits: usize) -> U256 {
        let max = if bits >= 256 {
            U256::MAX
        } else {
            (U256::from(1u8) << bits) - U256::from(1u8)
        };
        let v = match self.rng.below(12) {
            0 => U256::ZERO,
            1 => U256::from(1u8),
            2 => max,
            3 => max - U256::from(1u8),
            4 => U256::from(1u8) << (bits - 1),
            5 => U256::from(10u64.pow(18)),
            6 => U256::from(
                self.now
                    .wrapping_add(self.rng.below(2_000_000))
                    .wrapping_sub(1_000_000),
            ),
            7 => U256::from(self.rng.below(8)),
            8 => U256::from(self.rng.below(1_000)),
            9 => U256::from(self.rng.next_u64()),
            _ => U256::from_be_bytes(B256::from_slice(&self.rng.bytes(32)).0),
        };
        v & max
    }

    fn int(&mut self, bits: usize) -> I256 {
        let shift = 256 - bits;
        match self.rng.below(6) {
            0 => I256::ZERO,
            1 => I256::ONE,
            2 => I256::MINUS_ONE,
            3 => I256::MAX.asr(shift),
            4 => I256::MIN.asr(shift),
            _ => I256::try_from(self.rng.next_u64() as i64 as i128).unwrap_or(I256::ZERO),
        }
    }

    fn word(&mut self) -> B256 {
        if !self.words.is_empty() && self.rng.chance(50) {
            return *self.rng.pick(&self.words);
        }
        let w = match self.rng.below(4) {
            0 => B256::ZERO,
            1 => B256::with_last_byte(1),
            _ => B256::from_slice(&self.rng.bytes(32)),
        };
        if self.words.len() < 64 {
            self.words.push(w);
        }
        w
    }

    fn value(&mut self, ty: &DynSolType, depth: usize) -> DynSolValue {
        match ty {
            DynSolType::Address => DynSolValue::Address(*self.rng.pick(&self.target.pool)),
            DynSolType::Bool => DynSolValue::Bool(self.rng.chance(50)),
            DynSolType::Uint(bits) => DynSolValue::Uint(self.uint(*bits), *bits),
            DynSolType::Int(bits) => DynSolValue::Int(self.int(*bits), *bits),
            DynSolType::FixedBytes(n) => {
                let mut w = self.word();
                w.0[*n..].fill(0);
                DynSolValue::FixedBytes(w, *n)
            }
            DynSolType::Bytes if !self.target.blobs.is_empty() && self.rng.chance(25) => {
                let mut blob = self.rng.pick(&self.target.blobs).to_vec();
                if self.rng.chance(50) {
                    let at = self.rng.below(blob.len() as u64) as usize;
                    blob[at] ^= 1 << self.rng.below(8);
                }
                DynSolValue::Bytes(blob)
            }
            DynSolType::Bytes => {
                let len = *self.rng.pick(&[0usize, 1, 31, 32, 33, 64, 65, 200]);
                DynSolValue::Bytes(self.rng.bytes(len))
            }
            DynSolType::String => {
                let len = self.rng.below(40) as usize;
                let s: String = (0..len)
                    .map(|_| char::from(b' ' + (self.rng.below(95) as u8)))
                    .collect();
                DynSolValue::String(s)
            }
            DynSolType::Array(inner) => {
                let len = if depth > 2 {
                    0
                } else {
                    *self.rng.pick(&[0u64, 1, 2, 3, 5, 8, 17, 64])
                };
                DynSolValue::Array((0..len).map(|_| self.value(inner, depth + 1)).collect())
            }
            DynSolType::FixedArray(inner, n) => {
                DynSolValue::FixedArray((0..*n).map(|_| self.value(inner, depth + 1)).collect())
            }
            DynSolType::Tuple(types) => {
                DynSolValue::Tuple(types.iter().map(|t| self.value(t, depth + 1)).collect())
            }
            DynSolType::Function => {
                DynSolValue::Function(alloy::primitives::Function::from_slice(&self.rng.bytes(24)))
            }
        }
    }

    /// Structure-aware calldata for `iface`, sometimes broken on purpose.
    fn calldata(&mut self, iface: &Interface) -> (Vec<u8>, bool) {
        let i = self.rng.below(iface.selectors.len() as u64) as usize;
        let signature = iface.signatures[i];
        let view = iface.is_view(signature);
        let mut data = iface.selectors[i].to_vec();
        if let Some(args) = Interface::arguments(signature) {
            data.extend(self.value(&args, 0).abi_encode_params());
        }
        match self.rng.below(100) {
            0..70 => {}
            70..78 => data.truncate(self.rng.below(data.len() as u64) as usize),
            78..86 => {
                let extra = 1 + self.rng.below(64) as usize;
                data.extend(self.rng.bytes(extra));
            }
            86..92 if data.len() > 4 => {
                let at = 4 + self.rng.below(data.len() as u64 - 4) as usize;
                data[at] ^= 1 << self.rng.below(8);
            }
            92..96 if data.len() >= 36 => {
                let words = (data.len() - 4) / 32;
                let at = 4 + 32 * self.rng.below(words as u64) as usize;
                data[at..at + 32].fill(0xff);
            }
            _ => {
                let len = self.rng.below(100) as usize;
                data = self.rng.bytes(len);
            }
        }
        (data, view)
    }

    fn wei(&mut self) -> U256 {
        if self.rng.chance(70) {
            return U256::ZERO;
        }
        match self.rng.below(5) {
            0 => U256::from(1u8),
            1 => U256::from(10u64.pow(15)),
            2 => U256::from(10u64.pow(18)),
            3 => U256::from(self.rng.below(10u64.pow(18))),
            _ => U256::from(2 * 10u128.pow(22)),
        }
    }
}

/// Executes `input` as a call; on success of a state-changing function, mines it as a transaction.
/// Returns the verdict (or the finding) and whether a transaction was mined.
pub fn execute(
    chain: &mut Chain,
    target: &Target,
    input: &Input,
    send: bool,
    tracked: &mut Tracked,
) -> (Result<Verdict, String>, bool) {
    let Some(to) = target.address(&input.contract) else {
        return (Err(format!("unknown contract {}", input.contract)), false);
    };
    let errors = interfaces()
        .into_iter()
        .find(|i| i.name == input.contract)
        .map(|i| i.errors)
        .unwrap_or_default();
    let from = target.pool.get(input.caller).copied().unwrap_or_default();
    let request = TransactionRequest::default()
        .from(from)
        .to(to)
        .value(input.value)
        .input(input.calldata.clone().into())
        .gas_limit(GAS);
    let _ = devnode::stylus::take_traps();
    let called = catch_unwind(AssertUnwindSafe(|| chain.call(&request, None, None)));
    let traps = devnode::stylus::take_traps();
    let verdict = match called {
        Err(_) => return (Err("host panic in eth_call".into()), false),
        Ok(_) if !traps.is_empty() => return (Err(format!("trap: {}", traps.join("; "))), false),
        Ok(Ok(_)) => Verdict::Success,
        Ok(Err(ChainError::Revert(data))) if data.is_empty() => Verdict::SdkRejection,
        Ok(Err(ChainError::Revert(data))) => {
            if data.len() >= 4 && errors.iter().any(|e| e[..] == data[..4]) {
                Verdict::TypedRevert
            } else {
                return (
                    Err(format!(
                        "undeclared revert data 0x{}",
                        alloy::hex::encode(&data)
                    )),
                    false,
                );
            }
        }
        Ok(Err(e @ (ChainError::Halt(_) | ChainError::Internal(_)))) => {
            return (Err(format!("{e}")), false)
        }
        Ok(Err(_)) => Verdict::Refused,
    };
    if verdict != Verdict::Success || !send || input.caller >= target.accounts {
        return (Ok(verdict), false);
    }
    let sent = catch_unwind(AssertUnwindSafe(|| chain.send_transaction(request.clone())));
    let traps = devnode::stylus::take_traps();
    match sent {
        Err(_) => (Err("host panic in eth_sendTransaction".into()), true),
        Ok(_) if !traps.is_empty() => (
            Err(format!("trap in transaction: {}", traps.join("; "))),
            true,
        ),
        Ok(Err(_)) => (Ok(verdict), false),
        Ok(Ok(hash)) => {
            if let Some(receipt) = chain.receipt(hash) {
                tracked.record(&receipt);
            }
            (Ok(verdict), true)
        }
    }
}

/// Chain time after which the fuzzer renews every program's activation: well inside Stylus's 365-day expiry
/// and past ArbWasm's 31-day keepalive minimum. A long run moves the clock by years; without renewals every call
/// would fail with `ProgramExpired` — the harness's doing, not a contract's (a chain operator keeps programs alive
/// the same way).
const KEEPALIVE_EVERY: u64 = 180 * 86_400;

/// Renews the activation of every target program (`ArbWasm.codehashKeepalive`, sent by the first dev account).
fn keep_programs_alive(chain: &mut Chain, target: &Target) -> Result<(), String> {
    use devnode::precompiles::{IArbWasm, ARB_WASM};
    let from = target.pool.first().copied().unwrap_or_default();
    for (name, at) in &target.contracts {
        let code = chain
            .code(*at, None)
            .map_err(|e| format!("{name}: code: {e}"))?;
        let request = TransactionRequest::default()
            .from(from)
            .to(ARB_WASM)
            .input(
                IArbWasm::codehashKeepaliveCall {
                    codehash: alloy::primitives::keccak256(&code),
                }
                .abi_encode()
                .into(),
            )
            .gas_limit(GAS);
        let hash = chain
            .send_transaction(request)
            .map_err(|e| format!("{name}: keepalive: {e}"))?;
        if !chain.receipt(hash).is_some_and(|r| r.status()) {
            return Err(format!("{name}: keepalive reverted"));
        }
    }
    Ok(())
}

/// Runs the fuzzer against `target` on `chain`.
pub fn run(chain: &mut Chain, target: &mut Target, config: &Config) -> Report {
    let mut report = Report::default();
    let mut tracked = Tracked::default();
    if config.deep {
        if let Err(what) = crate::state::build(chain, target, &mut tracked) {
            report.findings.push(Finding { input: None, what });
            return report;
        }
        for what in invariants::check(chain, target, &mut tracked) {
            report.findings.push(Finding {
                input: None,
                what: format!("after the deep state: {what}"),
            });
        }
    }
    let target = &*target;
    // Chain time the fuzzer moved since the programs' last activation or keepalive.
    let mut since_keepalive = 0u64;
    for (k, iface) in interfaces().into_iter().enumerate() {
        if config.contract.as_deref().is_some_and(|c| c != iface.name) {
            continue;
        }
        let mut generator = Generator {
            rng: Rng::new(config.seed ^ (k as u64).wrapping_mul(0x1000_0000_01b3)),
            target,
            words: target.words.clone(),
            now: chain.pending_timestamp(),
        };
        let mut stats = Stats {
            contract: iface.name.to_string(),
            ..Default::default()
        };
        let started = Instant::now();
        for n in 0..config.inputs {
            if n % 32 == 31 {
                let seconds = *generator.rng.pick(&[0u64, 60, 3_600, 86_400, 7 * 86_400]);
                chain.increase_time(seconds);
                generator.now = chain.pending_timestamp();
                since_keepalive += seconds;
                if since_keepalive >= KEEPALIVE_EVERY {
                    if let Err(what) = keep_programs_alive(chain, target) {
                        stats.findings += 1;
                        report.findings.push(Finding { input: None, what });
                    }
                    since_keepalive = 0;
                }
            }
            let (calldata, view) = generator.calldata(&iface);
            let caller = if generator.rng.chance(90) {
                generator.rng.below(target.accounts.min(8) as u64) as usize
            } else {
                generator.rng.below(target.pool.len() as u64) as usize
            };
            let input = Input {
                contract: iface.name.to_string(),
                caller,
                value: generator.wei(),
                calldata: calldata.into(),
            };
            let (verdict, mined) = execute(chain, target, &input, !view, &mut tracked);
            stats.inputs += 1;
            stats.transactions += u64::from(mined);
            match verdict {
                Ok(Verdict::Success) => stats.success += 1,
                Ok(Verdict::TypedRevert) => stats.typed += 1,
                Ok(Verdict::SdkRejection) => stats.sdk += 1,
                Ok(Verdict::Refused) => stats.refused += 1,
                Err(what) => {
                    stats.findings += 1;
                    if report.findings.len() < 100 {
                        report.findings.push(Finding {
                            input: Some(input),
                            what,
                        });
                    }
                }
            }
            if (n + 1) % config.sequence == 0 || n + 1 == config.inputs {
                for what in invariants::check(chain, target, &mut tracked) {
                    stats.findings += 1;
                    report.findings.push(Finding { input: None, what });
                }
            }
        }
        stats.seconds = started.elapsed().as_secs_f64();
        report.stats.push(stats);
    }
    report
}

/// Replays corpus inputs (each as call, then as transaction when it succeeds); returns the findings.
pub fn replay(chain: &mut Chain, target: &Target, inputs: &[Input]) -> Vec<Finding> {
    let mut tracked = Tracked::default();
    let mut findings = Vec::new();
    for input in inputs {
        if let (Err(what), _) = execute(chain, target, input, true, &mut tracked) {
            findings.push(Finding {
                input: Some(input.clone()),
                what,
            });
        }
    }
    for what in invariants::check(chain, target, &mut tracked) {
        findings.push(Finding { input: None, what });
    }
    findings
}
