//! The crate's error type: every failure names the step and, where there is one, the contract.

use std::{fmt, io, path::PathBuf, process::ExitStatus};

use alloy::{
    primitives::{Address, Bytes, TxHash, B256},
    transports::TransportError,
};

use crate::build::NitroViolation;

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which of the two Stylus size limits a contract exceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeLimit {
    /// The deployed code (`EF F0 00 00` ‖ brotli(wasm)) against the chain's 24,576-byte code limit.
    Compressed,
    /// The processed WASM against Nitro's 128 KiB decompression limit.
    Uncompressed,
    /// The brotli stream against what the chain's maximum number of fragments holds (ArbOS 60 fragments).
    Fragmented,
}

impl fmt::Display for SizeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Compressed => "deployed code (compressed)",
            Self::Uncompressed => "uncompressed wasm",
            Self::Fragmented => "brotli stream (fragmented)",
        })
    }
}

/// A step of deployment, named in [`Error`] variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeployStep {
    /// Reading chain id, code or receipts before acting.
    Inspect,
    /// The CREATE transaction carrying the initcode.
    Create,
    /// Estimating the data fee and sending `ArbWasm.activateProgram`.
    Activate,
    /// The contract's initializer call.
    Initialize,
    /// A roles-wiring call.
    Wire,
}

impl fmt::Display for DeployStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Inspect => "inspect",
            Self::Create => "create",
            Self::Activate => "activate",
            Self::Initialize => "initialize",
            Self::Wire => "wire",
        })
    }
}

/// Why an activation or a post-activation call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// A revert decoded as ArbWasm's typed errors (e.g. `ProgramNotWasm`), or for other calls as Solidity's
    /// `Error(string)` / `Panic(uint256)`: the decoded value's debug form.
    Rejected(String),
    /// The call reverted with this data (undecoded: a contract's ABI error, or Nitro's validation message).
    Reverted(Bytes),
    /// The call failed without revert data (the node's error message).
    Failed(String),
    /// The activation transaction was mined with status 0.
    TxFailed(TxHash),
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rejected(error) => write!(f, "ArbWasm rejected it: {error}"),
            Self::Reverted(data) => write!(f, "reverted with {data}"),
            Self::Failed(message) => write!(f, "failed: {message}"),
            Self::TxFailed(tx) => write!(f, "transaction {tx} failed"),
        }
    }
}

/// Everything that can go wrong building or deploying Verity's contracts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- build ----
    /// A toolchain part the contract build needs is missing and could not be added.
    #[error("the contract build needs {part}; add it with `{command}`")]
    ToolchainPart {
        /// What is missing (`rust-src`, the wasm32 target).
        part: &'static str,
        /// The command that adds it.
        command: String,
    },
    /// `cargo` could not be started.
    #[error("could not run cargo: {0}")]
    CargoSpawn(#[source] io::Error),
    /// `cargo build` for the contracts exited unsuccessfully (its output went to stderr).
    #[error("cargo build of {packages:?} for wasm32 failed ({status})")]
    CargoFailed {
        /// The packages that were being built.
        packages: Vec<String>,
        /// Cargo's exit status.
        status: ExitStatus,
    },
    /// Cargo succeeded but the expected `.wasm` file is not there.
    #[error("{contract}: cargo produced no wasm at {}", path.display())]
    WasmMissing {
        /// The contract.
        contract: String,
        /// Where the file was expected.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The wasm could not be parsed or printed as text (the first half of the wat round trip).
    #[error("{contract}: wasm could not be printed as text: {source}")]
    WasmToText {
        /// The contract.
        contract: String,
        /// wasmprinter's error.
        #[source]
        source: anyhow::Error,
    },
    /// The text form could not be assembled back to binary (the second half of the wat round trip).
    #[error("{contract}: wat could not be assembled: {source}")]
    TextToWasm {
        /// The contract.
        contract: String,
        /// The wat assembler's error.
        #[source]
        source: wat::Error,
    },
    /// `wasm-opt` was required but is not on `PATH`.
    #[error("wasm-opt is required but was not found (install Debian's `binaryen`)")]
    WasmOptMissing,
    /// `wasm-opt` ran and failed.
    #[error("{contract}: wasm-opt failed ({status}): {stderr}")]
    WasmOptFailed {
        /// The contract.
        contract: String,
        /// wasm-opt's exit status.
        status: ExitStatus,
        /// What wasm-opt printed on stderr.
        stderr: String,
    },
    /// The processed wasm would not pass Nitro's activation checks.
    #[error("{contract}: not Nitro-valid: {violation}")]
    NitroRejected {
        /// The contract.
        contract: String,
        /// The first rule it breaks.
        violation: NitroViolation,
    },
    /// Brotli compression failed.
    #[error("{contract}: brotli compression failed: {source}")]
    Compress {
        /// The contract.
        contract: String,
        /// The compressor's error.
        #[source]
        source: io::Error,
    },
    /// A contract exceeds one of the Stylus size limits.
    #[error("{contract}: {limit} is {size} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The contract.
        contract: String,
        /// Which limit.
        limit: SizeLimit,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A contract name is not in [`crate::CONTRACTS`] or not among the loaded artifacts.
    #[error("unknown contract {0:?}")]
    UnknownContract(String),
    /// The artifacts on disk are inconsistent with their manifest (rebuild with `verity build`).
    #[error("{contract}: artifact {} does not match the build manifest; rebuild", path.display())]
    ArtifactMismatch {
        /// The contract.
        contract: String,
        /// The mismatching file.
        path: PathBuf,
    },
    /// A JSON file (build manifest or deployment record) could not be parsed or written.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },

    // ---- deploy ----
    /// An RPC request failed.
    #[error("{step} {contract}: rpc error: {source}")]
    Rpc {
        /// The step.
        step: DeployStep,
        /// The contract (or wiring call) being worked on.
        contract: String,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// No receipt arrived within [`crate::deploy::DeployOptions::receipt_timeout`].
    #[error("{step} {contract}: no receipt for {tx} in time")]
    ReceiptTimeout {
        /// The step.
        step: DeployStep,
        /// The contract (or wiring call) being worked on.
        contract: String,
        /// The transaction.
        tx: TxHash,
    },
    /// A call's return data did not decode.
    #[error("{step} {contract}: undecodable return data: {source}")]
    Decode {
        /// The step.
        step: DeployStep,
        /// The contract being worked on.
        contract: String,
        /// The decoder's error.
        #[source]
        source: alloy::sol_types::Error,
    },
    /// The CREATE transaction failed or created no contract.
    #[error("create {contract}: transaction {tx} {}", if *mined_ok { "created no contract" } else { "failed" })]
    CreateFailed {
        /// The contract.
        contract: String,
        /// The CREATE transaction.
        tx: TxHash,
        /// Whether the transaction itself succeeded (then no contract address came back).
        mined_ok: bool,
    },
    /// The code at the new address is not the deployed code the initcode carries.
    #[error("create {contract}: code at {address} does not match the artifact")]
    CodeMismatch {
        /// The contract.
        contract: String,
        /// The address inspected.
        address: Address,
    },
    /// `ArbWasm.activateProgram` failed.
    #[error("activate {contract}: {reason}")]
    ActivationFailed {
        /// The contract.
        contract: String,
        /// Why.
        reason: FailureReason,
    },
    /// A post-activation call (initializer or wiring) reverted or failed.
    #[error("{step} {contract}: call {call:?} failed: {reason}")]
    CallFailed {
        /// [`DeployStep::Initialize`] or [`DeployStep::Wire`].
        step: DeployStep,
        /// The contract called.
        contract: String,
        /// The call's label.
        call: String,
        /// The revert data or the failed transaction.
        reason: FailureReason,
    },
    /// After a contract's constructor ran (sent by this deploy, found already run, or beaten by another
    /// transaction), a field of its state differs from the plan: someone else ran the constructor first (it is open
    /// to anyone between activation and the planned call). Deployment stops; that contract must be deployed again.
    #[error(
        "deploy aborted: {contract}.{field} is {actual}, the plan expects {expected} — its constructor was run by \
         someone else before the planned call (front-run between activation and constructor); deploy a new {contract}"
    )]
    StateMismatch {
        /// The contract.
        contract: String,
        /// The checked field (e.g. `admin`, `role(attester)`).
        field: String,
        /// What the plan expects (the compared bits of the 32-byte word).
        expected: B256,
        /// What the chain holds (the same bits).
        actual: B256,
    },
    /// A call in the plan refers to a contract that has no address (not in the plan, or later in it).
    #[error("call {call:?} needs the address of {needed:?}, which is not deployed before it")]
    MissingAddress {
        /// The call's label.
        call: String,
        /// The contract whose address it needs.
        needed: String,
    },
    /// The existing deployment record is for another chain.
    #[error("{}: recorded chain id {recorded} but the provider is on chain {actual}", path.display())]
    NetworkMismatch {
        /// The record.
        path: PathBuf,
        /// The chain id in the record.
        recorded: u64,
        /// The provider's chain id.
        actual: u64,
    },
    /// A fragmented deployment was asked of a chain without fragments (before ArbOS 60:
    /// `ArbOwnerPublic.getMaxStylusContractFragments` fails there).
    #[error("{contract}: the chain does not support fragmented programs (ArbOS < 60): {source}")]
    FragmentsUnsupported {
        /// The contract.
        contract: String,
        /// The failed `getMaxStylusContractFragments` call.
        #[source]
        source: TransportError,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }

    /// Wraps a serde_json error with the path it concerns.
    pub(crate) fn json(path: impl Into<PathBuf>) -> impl FnOnce(serde_json::Error) -> Self {
        let path = path.into();
        move |source| Self::Json { path, source }
    }
}
