//! `verity request`, `verity refund`, `verity withdraw`: paying for inference and getting money back.
//!
//! `request` escrows a fee for one answer from a node (InferenceSettlement `request`); `refund` returns the fee
//! of a request its node did not prove in time (credited, not sent: settlement contracts pay by pull);
//! `withdraw` lists every credit the account has — registry refunds, InferenceSettlement, ReceiptBatches and
//! SettlementNodes credits in ETH, an expired veBR lock and a gauge's claimable emissions in BR — and takes each
//! (or the one `--from` names, which then also reports the contract's own "nothing to withdraw" error).

use std::path::PathBuf;

use alloy::{
    primitives::{keccak256, Address, B256, U256},
    providers::DynProvider,
};
use serde_json::json;
use verity_abi::{
    rpc::{
        IGaugeController, IInferenceSettlement, IModelRegistry, IReceiptBatches, ISettlementNodes,
        IVotingEscrow,
    },
    settlement::{mode, request_status, Refunded, Requested},
};

use super::{
    client::{Client, Common, Sent},
    errors::WalletError,
    format::{amount, parse_amount, utc},
    Report, Ui,
};

/// `verity request`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("input_source").required(true).args(["input", "input_hash"])))]
pub struct RequestArgs {
    /// The node to ask (its operator address).
    #[arg(long)]
    pub node: Address,
    /// The model version id (must be Registered).
    #[arg(long)]
    pub model: U256,
    /// The input file (its keccak256 is the input hash).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// The input hash, when the input is not a file here.
    #[arg(long)]
    pub input_hash: Option<B256>,
    /// Fee in ETH, escrowed until the node proves its answer.
    #[arg(long)]
    pub fee: String,
    /// How the answer is backed: tee (a TEE-signed receipt) or zk (plus a proof the model's verifier accepts).
    #[arg(long, default_value = "tee")]
    pub mode: String,
    /// The request id (default: a fresh one).
    #[arg(long)]
    pub request_id: Option<B256>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity refund`.
#[derive(clap::Args, Debug)]
pub struct RefundArgs {
    /// The request id.
    pub request_id: B256,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity withdraw`.
#[derive(clap::Args, Debug)]
pub struct WithdrawArgs {
    /// Only this contract: registry, settlement, settlement-batches, settlement-nodes, escrow or gauge.
    #[arg(long)]
    pub from: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

fn status_name(code: u8) -> &'static str {
    match code {
        request_status::NONE => "None",
        request_status::REQUESTED => "Requested",
        request_status::ANSWERED => "Answered",
        request_status::PROVEN => "Proven",
        request_status::SETTLED => "Settled",
        request_status::REFUNDED => "Refunded",
        request_status::DISPUTED => "Disputed",
        _ => "Unknown",
    }
}

fn settlement(
    c: &Client,
) -> Result<IInferenceSettlement::IInferenceSettlementInstance<DynProvider>, WalletError> {
    Ok(IInferenceSettlement::new(
        c.address("settlement")?,
        c.provider.clone(),
    ))
}

/// Runs `verity request`.
///
/// # Errors
/// Bad input, or the contract's decoded error (inactive node, unusable model, taken id, zero fee).
pub async fn request(a: RequestArgs, _ui: Ui) -> Result<Report, WalletError> {
    let input_hash = match (&a.input, a.input_hash) {
        (Some(path), _) => std::fs::read(path)
            .map(keccak256)
            .map_err(|e| WalletError::input(format!("reading {}: {e}", path.display())))?,
        (None, Some(h)) => h,
        (None, None) => return Err(WalletError::input("give --input FILE or --input-hash")),
    };
    let receipt_mode = match a.mode.to_ascii_lowercase().as_str() {
        "tee" => mode::TEE,
        "zk" => mode::ZK,
        other => {
            return Err(WalletError::input(format!(
                "--mode {other:?}: use tee or zk"
            )))
        }
    };
    let fee = parse_amount(&a.fee, "--fee")?;
    let c = Client::connect(&a.common).await?;
    let me = c.me()?;
    let request_id = match a.request_id {
        Some(id) => id,
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let mut seed = Vec::with_capacity(88);
            seed.extend_from_slice(me.as_slice());
            seed.extend_from_slice(input_hash.as_slice());
            seed.extend_from_slice(&nanos.to_be_bytes());
            seed.extend_from_slice(&std::process::id().to_be_bytes());
            keccak256(seed)
        }
    };
    let settlement = settlement(&c)?;
    let sent = c
        .send(
            settlement
                .request(request_id, a.node, a.model, input_hash, receipt_mode)
                .value(fee),
            "request",
        )
        .await?;
    let mut json = json!({
        "requestId": request_id,
        "node": a.node,
        "model": a.model.to_string(),
        "inputHash": input_hash,
        "fee": fee.to_string(),
        "mode": a.mode.to_ascii_lowercase(),
        "tx": sent.to_json(),
    });
    let mut text = format!("{}\nrequest {request_id}\n", sent.line());
    if let Some(r) = sent.events::<Requested>().first() {
        json["deadline"] = json!(r.deadline);
        text += &format!(
            "{} ETH escrowed for node {} on model {}; the node must prove its answer by {}, else `verity refund {request_id}`\n",
            amount(r.fee),
            r.node,
            r.modelVersion,
            utc(r.deadline)
        );
    }
    Ok(Report { json, text })
}

/// Runs `verity refund`.
///
/// # Errors
/// The contract's decoded error (too early, unknown or already settled request).
pub async fn refund(a: RefundArgs, ui: Ui) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let settlement = settlement(&c)?;
    let r = c
        .view(settlement.getRequest(a.request_id), "getRequest")
        .await?;
    let (payer, status, deadline) = (r._0, r._6, r._8);
    if status != request_status::NONE {
        ui.line(&format!(
            "request {}: {}, fee {} ETH, payer {payer}, deadline {}",
            a.request_id,
            status_name(status),
            amount(r._3),
            utc(deadline)
        ));
    }
    let sent = c.send(settlement.refund(a.request_id), "refund").await?;
    let mut json = json!({ "requestId": a.request_id, "payer": payer, "tx": sent.to_json() });
    let mut text = sent.line() + "\n";
    if let Some(e) = sent.events::<Refunded>().first() {
        let credit = c.view(settlement.credit(payer), "credit").await?;
        json["fee"] = json!(e.fee.to_string());
        json["slashed"] = json!(e.slashed.to_string());
        json["credit"] = json!(credit.to_string());
        text += &format!(
            "refunded {} ETH (plus {} ETH slashed from the node) to {payer}'s credit, now {} ETH: `verity withdraw`\n",
            amount(e.fee),
            amount(e.slashed),
            amount(credit)
        );
    }
    Ok(Report { json, text })
}

/// A place that may owe the account something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Registry,
    Settlement,
    Batches,
    Nodes,
    Escrow,
    Gauge,
}

impl Source {
    const ALL: [Source; 6] = [
        Source::Registry,
        Source::Settlement,
        Source::Batches,
        Source::Nodes,
        Source::Escrow,
        Source::Gauge,
    ];

    /// The deployment-record name of its contract.
    fn contract(self) -> &'static str {
        match self {
            Source::Registry => "registry",
            Source::Settlement => "settlement",
            Source::Batches => "settlement-batches",
            Source::Nodes => "settlement-nodes",
            Source::Escrow => "escrow",
            Source::Gauge => "gauge",
        }
    }

    /// What it owes, in which unit.
    fn what(self) -> (&'static str, &'static str) {
        match self {
            Source::Registry => ("refunds of rejected or expired versions", "ETH"),
            Source::Settlement => ("refunds, node fees, dispute bonds", "ETH"),
            Source::Batches => ("batch bonds and challenge rewards", "ETH"),
            Source::Nodes => ("slashed stake paid to you", "ETH"),
            Source::Escrow => ("an expired veBR lock", "BR"),
            Source::Gauge => ("emissions of your gauge", "BR"),
        }
    }

    /// What `me` can withdraw here now.
    async fn owed(self, c: &Client, me: Address) -> Result<U256, WalletError> {
        let at = c.address(self.contract())?;
        let p = c.provider.clone();
        match self {
            // The registry keeps no refund view: credited − withdrawn, from its events.
            Source::Registry => registry_refund_owed(c, at, me).await,
            Source::Settlement => {
                c.view(IInferenceSettlement::new(at, p).credit(me), "credit")
                    .await
            }
            Source::Batches => {
                c.view(IReceiptBatches::new(at, p).credit(me), "credit")
                    .await
            }
            Source::Nodes => {
                c.view(ISettlementNodes::new(at, p).credit(me), "credit")
                    .await
            }
            Source::Escrow => {
                let lock = c
                    .view(IVotingEscrow::new(at, p).locked(me), "locked")
                    .await?;
                let expired = lock._1 != 0 && lock._1 <= c.now().await?;
                Ok(if expired { lock._0 } else { U256::ZERO })
            }
            Source::Gauge => {
                let info = c
                    .view(IGaugeController::new(at, p).gaugeInfo(me, 0), "gaugeInfo")
                    .await?;
                Ok(info._2)
            }
        }
    }

    /// Withdraws it.
    async fn take(self, c: &Client, me: Address) -> Result<Sent, WalletError> {
        let at = c.address(self.contract())?;
        let p = c.provider.clone();
        match self {
            Source::Registry => {
                c.send(
                    IModelRegistry::new(at, p).withdrawRefund(),
                    "registry.withdrawRefund",
                )
                .await
            }
            Source::Settlement => {
                c.send(
                    IInferenceSettlement::new(at, p).withdraw(),
                    "settlement.withdraw",
                )
                .await
            }
            Source::Batches => {
                c.send(
                    IReceiptBatches::new(at, p).withdraw(),
                    "settlement-batches.withdraw",
                )
                .await
            }
            Source::Nodes => {
                c.send(
                    ISettlementNodes::new(at, p).withdraw(),
                    "settlement-nodes.withdraw",
                )
                .await
            }
            Source::Escrow => {
                c.send(IVotingEscrow::new(at, p).withdraw(), "escrow.withdraw")
                    .await
            }
            Source::Gauge => {
                c.send(IGaugeController::new(at, p).claim(me), "gauge.claim")
                    .await
            }
        }
    }
}

/// Runs `verity withdraw`.
///
/// # Errors
/// Nothing owed anywhere (one line listing each contract), or with `--from` the contract's decoded
/// "nothing to withdraw" error; a failed withdrawal.
pub async fn withdraw(a: WithdrawArgs, ui: Ui) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let me = c.me()?;
    let sources: Vec<Source> = match &a.from {
        Some(name) => {
            let source = Source::ALL
                .into_iter()
                .find(|s| s.contract() == name.as_str())
                .ok_or_else(|| {
                    WalletError::input(format!(
                        "--from {name:?}: use one of {}",
                        Source::ALL.map(Source::contract).join(", ")
                    ))
                })?;
            c.address(source.contract())?;
            vec![source]
        }
        None => Source::ALL
            .into_iter()
            .filter(|s| c.deployment.address(s.contract()).is_some())
            .collect(),
    };
    let mut rows = Vec::new();
    let mut text = format!("credits of {me}\n");
    for s in &sources {
        let owed = s.owed(&c, me).await?;
        let (what, unit) = s.what();
        text += &format!(
            "  {:<19} {:>24} {unit:<3}  {what}\n",
            s.contract(),
            amount(owed)
        );
        rows.push((*s, owed));
    }
    ui.line(text.trim_end());
    let due: Vec<Source> = rows
        .iter()
        .filter(|(s, owed)| !owed.is_zero() || a.from.as_deref() == Some(s.contract()))
        .map(|(s, _)| *s)
        .collect();
    if due.is_empty() {
        return Err(WalletError::check(
            format!(
                "nothing to withdraw: {me} is owed nothing by {}",
                sources
                    .iter()
                    .map(|s| s.contract())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "credits appear after a refund, a rejected version, a settled fee or an expired lock",
        ));
    }
    let mut done = Vec::new();
    let mut lines = Vec::new();
    for s in due {
        let owed = rows
            .iter()
            .find(|(r, _)| *r == s)
            .map(|(_, o)| *o)
            .unwrap_or_default();
        let sent = s.take(&c, me).await?;
        lines.push(format!("{} ({} {})", sent.line(), amount(owed), s.what().1));
        done.push(json!({ "contract": s.contract(), "amount": owed.to_string(), "unit": s.what().1, "tx": sent.to_json() }));
    }
    Ok(Report {
        text: lines.join("\n") + "\n",
        json: json!({
            "account": me,
            "credits": rows.iter().map(|(s, o)| json!({ "contract": s.contract(), "amount": o.to_string(), "unit": s.what().1 })).collect::<Vec<_>>(),
            "withdrawn": done,
        }),
    })
}

/// What the registry owes `me` in refunds: Σ `RefundCredited` − Σ `RefundWithdrawn` for `me` (the registry keeps no
/// refund view; both events index the account).
async fn registry_refund_owed(c: &Client, at: Address, me: Address) -> Result<U256, WalletError> {
    use alloy::rpc::types::Filter;
    use alloy::sol_types::SolEvent;
    use verity_abi::registry::{RefundCredited, RefundWithdrawn};
    let credited = Filter::new()
        .address(at)
        .event_signature(RefundCredited::SIGNATURE_HASH)
        .topic1(me.into_word());
    let withdrawn = Filter::new()
        .address(at)
        .event_signature(RefundWithdrawn::SIGNATURE_HASH)
        .topic1(me.into_word());
    let mut owed = U256::ZERO;
    for log in c.logs(credited, "registry").await? {
        if let Ok(e) = RefundCredited::decode_log_data(log.data()) {
            owed += e.amount;
        }
    }
    for log in c.logs(withdrawn, "registry").await? {
        if let Ok(e) = RefundWithdrawn::decode_log_data(log.data()) {
            owed = owed.saturating_sub(e.amount);
        }
    }
    Ok(owed)
}
