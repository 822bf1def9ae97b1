//! `verity` for wallet users: publish and inspect models, lock BR and vote, pay for inference, get refunds and
//! withdraw credits — one module per concept ([`model`], [`ve`], [`vote`], [`pay`]) over one client layer
//! ([`client`]: deployment record, signer, simulate → estimate → send → receipt), with every revert decoded
//! ([`errors`]) and `--json` / `--dry-run` on every command.
//!
//! The calls used, by deployment-record contract (so a contract split is a small change here):
//! - `registry`: `submit`, `version`, `approveFork`, `withdrawRefund`; lineage and refunds owed from its events, storage slot 0
//!   (the packed config: minimum fee); events `VersionSubmitted`, `VersionFinalized`, `NameTransferred`,
//!   `ForkApproved`;
//! - `token`: `balanceOf`, `allowance`, `approve`;
//! - `escrow`: `createLock`, `increaseAmount`, `increaseUnlockTime`, `withdraw`, `locked`, `balanceOf`,
//!   `balanceOfAt`, `totalSupplyAt`;
//! - `gauge`: `vote`, `config`, `gauges`, `gaugeInfo`, `epochStats`, `claim`; events `VoteCast`,
//!   `GaugeVote`;
//! - `settlement`: `request`, `refund`, `getRequest`, `credit`, `withdraw`; `settlement-batches` and
//!   `settlement-nodes`: `credit`, `withdraw`; `settlement-nodes`: `nodeActive`.

use std::io::{IsTerminal, Write};

use clap::Subcommand;
use serde_json::Value;

pub mod client;
pub mod errors;
pub mod format;
pub mod model;
pub mod pay;
pub mod signer;
pub mod ve;
pub mod vote;

pub use client::{Client, Common};
pub use errors::WalletError;

/// The wallet subcommands (flattened into `verity`'s own).
// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum WalletCommand {
    /// Model versions: publish one and follow it to registration, show one with its lineage, list them.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// veBR: lock BR for voting power, add to or extend the lock, withdraw it, show its power by epoch.
    #[command(subcommand)]
    Ve(ve::VeCommand),
    /// Vote the account's veBR power over gauges: `verity vote GAUGE=BPS …` (the allocations sum to 10,000).
    Vote(vote::VoteArgs),
    /// The gauges: weights this epoch, turnout and concentration.
    Gauges(vote::GaugesArgs),
    /// Open a paid inference request to a node (the fee is escrowed until the node proves its answer).
    Request(pay::RequestArgs),
    /// Refund a paid request its node did not prove in time (credited to the payer).
    Refund(pay::RefundArgs),
    /// Withdraw every credit the account has, per contract (refunds, settlement credits, an expired lock).
    Withdraw(pay::WithdrawArgs),
}

impl WalletCommand {
    fn common(&self) -> &Common {
        match self {
            Self::Model(c) => c.common(),
            Self::Ve(c) => c.common(),
            Self::Vote(a) => &a.common,
            Self::Gauges(a) => &a.common,
            Self::Request(a) => &a.common,
            Self::Refund(a) => &a.common,
            Self::Withdraw(a) => &a.common,
        }
    }
}

/// What a command answers: a JSON document for `--json` and the text for people.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The `--json` document.
    pub json: Value,
    /// Lines for people.
    pub text: String,
}

/// Where a command's progress goes: text mode prints it as it happens (lines on stdout, a spinner on a terminal's
/// stderr); `--json` keeps stdout for the one final document.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// `--json`.
    pub json: bool,
    /// stderr is a terminal (the spinner is drawn).
    pub tty: bool,
}

impl Ui {
    /// The UI for `common`'s flags.
    pub fn new(common: &Common) -> Self {
        Self {
            json: common.json,
            tty: std::io::stderr().is_terminal() && !common.json,
        }
    }

    /// Prints a line of progress (text mode only).
    pub fn line(&self, text: &str) {
        if !self.json {
            self.clear_spinner();
            println!("{text}");
        }
    }

    /// Redraws the spinner line (terminal only).
    pub fn spin(&self, frame: usize, text: &str) {
        if self.tty {
            const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
            eprint!("\r\x1b[2K{} {text}", FRAMES[frame % FRAMES.len()]);
            let _ = std::io::stderr().flush();
        }
    }

    /// Clears the spinner line.
    pub fn clear_spinner(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}

/// Runs a wallet command and prints its report or its error; returns the process exit code (0, or 1 on error).
pub fn main(command: WalletCommand) -> i32 {
    let common = command.common().clone();
    let ui = Ui::new(&common);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(run(command, ui));
    ui.clear_spinner();
    match result {
        Ok(report) => {
            if common.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "ok": true, "result": report.json })
                    )
                    .unwrap_or_default()
                );
            } else if !report.text.is_empty() {
                print!("{}", report.text);
                if !report.text.ends_with('\n') {
                    println!();
                }
            }
            0
        }
        Err(err) => {
            if common.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "ok": false, "error": err.to_json() })
                    )
                    .unwrap_or_default()
                );
            } else {
                eprintln!("error: {err}");
                eprintln!("  advice: {}", err.advice());
            }
            1
        }
    }
}

/// Runs a wallet command.
///
/// # Errors
/// Whatever the command fails with, decoded.
pub async fn run(command: WalletCommand, ui: Ui) -> Result<Report, WalletError> {
    match command {
        WalletCommand::Model(c) => model::run(c, ui).await,
        WalletCommand::Ve(c) => ve::run(c, ui).await,
        WalletCommand::Vote(a) => vote::vote(a, ui).await,
        WalletCommand::Gauges(a) => vote::gauges(a, ui).await,
        WalletCommand::Request(a) => pay::request(a, ui).await,
        WalletCommand::Refund(a) => pay::refund(a, ui).await,
        WalletCommand::Withdraw(a) => pay::withdraw(a, ui).await,
    }
}
