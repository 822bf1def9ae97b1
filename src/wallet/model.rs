//! `verity model publish|show|list|approve-fork`: model versions in the ModelRegistry.
//!
//! `publish` hashes the weights file (keccak256, the content hash the storage attester checks) and takes its size,
//! checks what registration would reject before paying — missing metadata, the parent count for the relation,
//! parents that are not Registered, a fork of another owner's version whose license does not allow derivatives
//! and which its owner has not approved — simulates `submit` (unknown parents, a version that does not increase,
//! a foreign name and a low fee are the contract's own decoded errors), submits with the fee, then follows the
//! version live: Submitted → Stored → Registered, or the rejection reason with advice (`--no-wait` stops after
//! the submission). `--skip-checks` leaves the judging to the chain.
//!
//! The name's owner and fork approvals have no view (the registry keeps its code small): they are read from
//! `NameTransferred` and `ForkApproved` events; URIs and tags likewise from `VersionSubmitted`.

use std::{path::PathBuf, time::Duration};

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use clap::Subcommand;
use serde_json::{json, Value};
use verity_abi::{
    registry::{
        license_allows_derivatives, license_id, ConfigChanged, ForkApproved, Format,
        NameTransferred, Reason, Relation, Status, VersionSubmitted, MAX_PARENTS,
    },
    rpc::IModelRegistry,
};

use super::{
    client::{Client, Common},
    errors::WalletError,
    format::{amount, parse_amount, parse_version, utc, version_text, word, word_text},
    Report, Ui,
};

/// `verity model …`.
// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Submit a model version (weights FILE) with its fee and follow it to registration.
    Publish(PublishArgs),
    /// A version's status, metadata and lineage tree.
    Show(ShowArgs),
    /// Versions submitted to the registry, by owner, name or tag.
    List(ListArgs),
    /// Allow FORKER to register versions derived from PARENT (a version of a name you own).
    ApproveFork(ApproveForkArgs),
}

impl ModelCommand {
    pub(super) fn common(&self) -> &Common {
        match self {
            Self::Publish(a) => &a.common,
            Self::Show(a) => &a.common,
            Self::List(a) => &a.common,
            Self::ApproveFork(a) => &a.common,
        }
    }
}

/// `verity model publish`.
#[derive(clap::Args, Debug)]
pub struct PublishArgs {
    /// The weights file (hashed with keccak256; its size is recorded).
    pub file: PathBuf,
    /// Model name (at most 32 bytes); the first submitter owns it.
    #[arg(long)]
    pub name: String,
    /// Version: MAJOR.MINOR.PATCH or a number; must exceed every version submitted for the name.
    #[arg(long)]
    pub version: String,
    /// Parent version id (repeat, or comma-separate, for a merge).
    #[arg(long = "parent", value_delimiter = ',')]
    pub parents: Vec<U256>,
    /// How it derives from its parents: original, finetune, adapter, quantized, distill, merge (default: original
    /// without parents, finetune with one, merge with more).
    #[arg(long)]
    pub relation: Option<String>,
    /// License id text (SPDX, at most 31 bytes), e.g. Apache-2.0.
    #[arg(long)]
    pub license: String,
    /// The license allows other owners to derive from this version without asking.
    #[arg(long)]
    pub derivatives: bool,
    /// Weights format: safetensors, onnx, gguf, pytorch, tensorrt, coreml, mlx, tensorflow, verity-zk (default:
    /// from the file's extension).
    #[arg(long)]
    pub format: Option<String>,
    /// Runtime that executes it (text, at most 32 bytes, or a 0x-hash).
    #[arg(long)]
    pub runtime: String,
    /// Where the weights are stored (the attester fetches and hashes them).
    #[arg(long)]
    pub uri: String,
    /// Input/output schema: text, @FILE, or a 0x-hash.
    #[arg(long)]
    pub io_schema: Option<String>,
    /// Model card: a FILE (hashed) or a 0x-hash.
    #[arg(long)]
    pub metadata: Option<String>,
    /// Where the model card is published.
    #[arg(long)]
    pub metadata_uri: Option<String>,
    /// A tag (repeat for more), indexed from the event.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Fee in ETH (default: the registry's minimum; anything above is the priority fee).
    #[arg(long)]
    pub fee: Option<String>,
    /// Return after the submission instead of following the version to a final status.
    #[arg(long)]
    pub no_wait: bool,
    /// How long to follow the version, in seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Skip the local checks (metadata, relation, parents, license): the chain judges.
    #[arg(long)]
    pub skip_checks: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity model show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The version id.
    pub id: U256,
    /// Generations of ancestors to draw.
    #[arg(long, default_value_t = 8)]
    pub depth: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity model list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Only versions submitted by this account.
    #[arg(long)]
    pub owner: Option<Address>,
    /// Only versions carrying this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Only versions of this name.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// `verity model approve-fork`.
#[derive(clap::Args, Debug)]
pub struct ApproveForkArgs {
    /// The parent version (of a name you own).
    pub parent: U256,
    /// The account allowed to derive from it.
    pub forker: Address,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub common: Common,
}

/// Runs `verity model …`.
///
/// # Errors
/// Whatever the command fails with, decoded.
pub async fn run(command: ModelCommand, ui: Ui) -> Result<Report, WalletError> {
    match command {
        ModelCommand::Publish(a) => publish(a, ui).await,
        ModelCommand::Show(a) => show(a).await,
        ModelCommand::List(a) => list(a).await,
        ModelCommand::ApproveFork(a) => approve_fork(a).await,
    }
}

type Registry = IModelRegistry::IModelRegistryInstance<alloy::providers::DynProvider>;

fn registry(c: &Client) -> Result<Registry, WalletError> {
    Ok(IModelRegistry::new(
        c.address("registry")?,
        c.provider.clone(),
    ))
}

/// The registry's configuration from its last `ConfigChanged` event (it has no config view).
async fn config(c: &Client) -> Result<ConfigChanged, WalletError> {
    let filter = Filter::new()
        .address(c.address("registry")?)
        .event_signature(ConfigChanged::SIGNATURE_HASH);
    c.logs(filter, "registry")
        .await?
        .iter()
        .rev()
        .find_map(|l| ConfigChanged::decode_log_data(l.data()).ok())
        .ok_or_else(|| {
            WalletError::check(
                "the registry emitted no ConfigChanged event",
                "is the deployment record for this chain?",
            )
        })
}

/// The current owner of `name` (its last `NameTransferred`), zero if unclaimed.
async fn name_owner(c: &Client, name: B256) -> Result<Address, WalletError> {
    let filter = Filter::new()
        .address(c.address("registry")?)
        .event_signature(NameTransferred::SIGNATURE_HASH)
        .topic1(name);
    Ok(c.logs(filter, "registry")
        .await?
        .iter()
        .rev()
        .find_map(|l| NameTransferred::decode_log_data(l.data()).ok())
        .map(|e| e.newOwner)
        .unwrap_or_default())
}

/// Whether the owner of `parent`'s name approved `forker`'s forks of it.
async fn fork_approved(c: &Client, parent: U256, forker: Address) -> Result<bool, WalletError> {
    let filter = Filter::new()
        .address(c.address("registry")?)
        .event_signature(ForkApproved::SIGNATURE_HASH)
        .topic1(B256::from(parent))
        .topic2(forker.into_word());
    Ok(!c.logs(filter, "registry").await?.is_empty())
}

/// Every `VersionSubmitted` event, optionally for one name and/or submitter.
async fn submissions(
    c: &Client,
    name: Option<B256>,
    submitter: Option<Address>,
) -> Result<Vec<VersionSubmitted>, WalletError> {
    let mut filter = Filter::new()
        .address(c.address("registry")?)
        .event_signature(VersionSubmitted::SIGNATURE_HASH);
    if let Some(name) = name {
        filter = filter.topic2(name);
    }
    if let Some(who) = submitter {
        filter = filter.topic3(who.into_word());
    }
    Ok(c.logs(filter, "registry")
        .await?
        .iter()
        .filter_map(|l| VersionSubmitted::decode_log_data(l.data()).ok())
        .collect())
}

/// The `VersionSubmitted` event of version `id`.
async fn submission(c: &Client, id: U256) -> Result<Option<VersionSubmitted>, WalletError> {
    let filter = Filter::new()
        .address(c.address("registry")?)
        .event_signature(VersionSubmitted::SIGNATURE_HASH)
        .topic1(B256::from(id));
    Ok(c.logs(filter, "registry")
        .await?
        .iter()
        .find_map(|l| VersionSubmitted::decode_log_data(l.data()).ok()))
}

fn status_name(code: u8) -> String {
    Status::try_from(code).map_or_else(|_| format!("status {code}"), |s| format!("{s:?}"))
}

fn reason_name(code: u8) -> String {
    Reason::try_from(code).map_or_else(|_| format!("reason {code}"), |r| format!("{r:?}"))
}

fn relation_name(code: u8) -> String {
    Relation::try_from(code).map_or_else(
        |_| format!("relation {code}"),
        |r| format!("{r:?}").to_lowercase(),
    )
}

fn format_name(code: u8) -> String {
    Format::try_from(code).map_or_else(
        |_| format!("format {code}"),
        |f| format!("{f:?}").to_lowercase(),
    )
}

/// What to do about a rejection or expiry `reason`.
pub fn reason_advice(reason: u8) -> String {
    let Ok(r) = Reason::try_from(reason) else {
        return "see verity_abi::registry::Reason".into();
    };
    let text = match r {
        Reason::ContentHashMismatch | Reason::SizeMismatch => {
            "the stored file differs from the one you hashed: upload exactly the published FILE to --uri"
        }
        Reason::StorageExpired => "the storage expiry passed: store the weights for longer and publish again",
        Reason::BadRelation | Reason::WrongParentCount => {
            "original takes no parent, finetune/adapter/quantized/distill one, merge 2 to 8 (--relation, --parent)"
        }
        Reason::DuplicateParent => "name each parent once",
        Reason::ParentNotRegistered => "a parent was not Registered when this version was judged: publish once it is",
        Reason::ParentYanked => "a parent was yanked by its owner: derive from another version",
        Reason::ForkNotApproved => {
            "the parent belongs to another owner and its license does not allow derivatives: ask its owner for `verity model approve-fork PARENT YOUR_ADDRESS`"
        }
        Reason::MissingContentHash | Reason::MissingSize => "the weights file was empty",
        Reason::MissingStorageUri => "give --uri",
        Reason::MissingFormat | Reason::UnknownFormat => "give a known --format",
        Reason::MissingRuntime => "give --runtime",
        Reason::MissingIoSchema => "give --io-schema",
        Reason::MissingLicense => "give --license",
        Reason::MissingMetadataHash => "give --metadata (the model card)",
        Reason::MissingMetadataUri => "give --metadata-uri",
        Reason::TtlElapsed => "nobody finalized it in time (is the keeper running?): publish again",
        _ => "see verity_abi::registry::Reason",
    };
    format!("{text}; the fee was credited to you: `verity withdraw`")
}

/// A hash argument: a `0x` 32-byte hash as is, `@FILE` (or an existing file) hashed, other text hashed.
fn hash_arg(text: &str, what: &str, file_ok: bool) -> Result<B256, WalletError> {
    if text.starts_with("0x") && text.len() == 66 {
        return text
            .parse()
            .map_err(|_| WalletError::input(format!("{what} {text:?} is not 32 bytes of hex")));
    }
    let path = text.strip_prefix('@').map(PathBuf::from).or_else(|| {
        let p = PathBuf::from(text);
        (file_ok && p.is_file()).then_some(p)
    });
    match path {
        Some(p) => std::fs::read(&p)
            .map(keccak256)
            .map_err(|e| WalletError::input(format!("reading {what} {}: {e}", p.display()))),
        None => Ok(keccak256(text.as_bytes())),
    }
}

fn parse_relation(text: Option<&str>, parents: usize) -> Result<Relation, WalletError> {
    let Some(text) = text else {
        return Ok(match parents {
            0 => Relation::Original,
            1 => Relation::Finetune,
            _ => Relation::Merge,
        });
    };
    Relation::ALL
        .iter()
        .find(|r| format!("{r:?}").eq_ignore_ascii_case(text.trim()))
        .copied()
        .ok_or_else(|| {
            WalletError::input(format!(
                "--relation {text:?}: use original, finetune, adapter, quantized, distill or merge"
            ))
        })
}

fn parse_format(text: Option<&str>, file: &std::path::Path) -> Result<Format, WalletError> {
    let guess = || -> Option<Format> {
        let ext = file.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "safetensors" => Format::Safetensors,
            "onnx" => Format::Onnx,
            "gguf" => Format::Gguf,
            "pt" | "pth" | "bin" => Format::PyTorch,
            "engine" | "plan" => Format::TensorRt,
            "mlmodel" | "mlpackage" => Format::CoreMl,
            "tflite" | "pb" => Format::TensorFlow,
            "vzk" | "vzk1" => Format::VerityZk,
            _ => return None,
        })
    };
    let Some(text) = text else {
        return guess().ok_or_else(|| {
            WalletError::input(format!(
                "cannot tell the format of {} from its extension: pass --format",
                file.display()
            ))
        });
    };
    let wanted: String = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    Format::ALL
        .iter()
        .filter(|f| **f != Format::Unspecified)
        .find(|f| format!("{f:?}").eq_ignore_ascii_case(&wanted))
        .copied()
        .ok_or_else(|| {
            WalletError::input(format!(
                "--format {text:?}: use safetensors, onnx, gguf, pytorch, tensorrt, coreml, mlx, tensorflow or verity-zk"
            ))
        })
}

/// A fork check for `parent` by `me`: Ok when derivation is allowed, else the check error.
async fn check_parent(
    c: &Client,
    registry: &Registry,
    parent: U256,
    me: Address,
) -> Result<(), WalletError> {
    let info = c
        .view(registry.version(parent), "reading the parent")
        .await?;
    let status = Status::try_from(info.status).unwrap_or(Status::None);
    let label = format!(
        "parent {parent} ({} {})",
        word_text(info.name),
        version_text(info.version)
    );
    match status {
        Status::Registered => {}
        Status::Yanked => {
            return Err(WalletError::check(
                format!("{label} is yanked: registration would reject this version (ParentYanked)"),
                "derive from a version that is not yanked",
            ))
        }
        s if s.is_pending() => {
            return Err(WalletError::check(
                format!("{label} is still {s:?}: a parent must be Registered when its child is judged (ParentNotRegistered)"),
                format!("wait for it (`verity model show {parent}`), or pass --skip-checks to submit now and take the risk"),
            ))
        }
        s => {
            return Err(WalletError::check(
                format!("{label} is {s:?}: registration would reject this version (ParentNotRegistered)"),
                "derive from a Registered version (`verity model list`)",
            ))
        }
    }
    let owner = name_owner(c, info.name).await?;
    if owner != me
        && !license_allows_derivatives(&info.licenseId.0)
        && !fork_approved(c, parent, me).await?
    {
        return Err(WalletError::check(
            format!(
                "unlicensed fork: {label} belongs to {owner}, its license {:?} does not allow derivatives, and its owner has not approved forks by {me} (registration would reject this version: ForkNotApproved)",
                word_text(info.licenseId)
            ),
            format!("ask the owner to run `verity model approve-fork {parent} {me}`, or derive from a version whose license allows derivatives"),
        ));
    }
    Ok(())
}

async fn publish(a: PublishArgs, ui: Ui) -> Result<Report, WalletError> {
    let weights = std::fs::read(&a.file)
        .map_err(|e| WalletError::input(format!("reading {}: {e}", a.file.display())))?;
    let content_hash = keccak256(&weights);
    let size = weights.len() as u64;
    let name = word(&a.name, "--name")?;
    let version = parse_version(&a.version)?;
    let relation = parse_relation(a.relation.as_deref(), a.parents.len())?;
    let format = parse_format(a.format.as_deref(), &a.file)?;
    let runtime = word(&a.runtime, "--runtime")?;
    if a.license.len() > 31 || a.license.is_empty() {
        return Err(WalletError::input(
            "--license must be 1 to 31 bytes of text (an SPDX id)",
        ));
    }
    let license = B256::from(license_id(&a.license, a.derivatives));
    let io_schema = a
        .io_schema
        .as_deref()
        .map(|t| hash_arg(t, "--io-schema", false))
        .transpose()?;
    let metadata = a
        .metadata
        .as_deref()
        .map(|t| hash_arg(t, "--metadata", true))
        .transpose()?;
    let tags = a
        .tags
        .iter()
        .map(|t| word(t, "--tag"))
        .collect::<Result<Vec<_>, _>>()?;

    let c = Client::connect(&a.common).await?;
    let me = c.me()?;
    let registry = registry(&c)?;
    let config = config(&c).await?;
    let fee = match &a.fee {
        Some(f) => parse_amount(f, "--fee")?,
        None => config.minFee,
    };

    if !a.skip_checks {
        let missing = [
            (size == 0, "the weights file is empty", Reason::MissingSize),
            (
                a.uri.is_empty(),
                "--uri is empty",
                Reason::MissingStorageUri,
            ),
            (
                io_schema.is_none(),
                "--io-schema is missing",
                Reason::MissingIoSchema,
            ),
            (
                metadata.is_none(),
                "--metadata (the model card) is missing",
                Reason::MissingMetadataHash,
            ),
            (
                a.metadata_uri.as_deref().unwrap_or_default().is_empty(),
                "--metadata-uri is missing",
                Reason::MissingMetadataUri,
            ),
        ];
        if let Some((_, what, reason)) = missing.iter().find(|(m, _, _)| *m) {
            return Err(WalletError::check(
                format!("{what}: registration would reject the version ({reason:?})"),
                "give every field; --skip-checks submits anyway (the fee is refunded on rejection)",
            ));
        }
        if !relation.accepts_parent_count(a.parents.len()) {
            return Err(WalletError::check(
                format!(
                    "{} parents do not fit relation {relation:?} (WrongParentCount)",
                    a.parents.len()
                ),
                "original takes no parent, finetune/adapter/quantized/distill one, merge 2 to 8",
            ));
        }
        let mut seen = a.parents.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != a.parents.len() {
            return Err(WalletError::check(
                "a parent is named twice (DuplicateParent)",
                "name each parent once",
            ));
        }
        if a.parents.len() > MAX_PARENTS {
            return Err(WalletError::check(
                format!("{} parents, at most {MAX_PARENTS}", a.parents.len()),
                "merge at most 8 parents",
            ));
        }
        if config.paused {
            return Err(WalletError::check(
                "the registry is paused",
                "try again once governance unpauses it",
            ));
        }
    }

    let call = registry
        .submit(
            name,
            version,
            a.parents.clone(),
            relation.code(),
            content_hash,
            size,
            Bytes::from(a.uri.clone().into_bytes()),
            format.code(),
            runtime,
            io_schema.unwrap_or_default(),
            license,
            metadata.unwrap_or_default(),
            Bytes::from(a.metadata_uri.clone().unwrap_or_default().into_bytes()),
            tags,
        )
        .value(fee);
    // The contract's own checks first (unknown parent, version, name owner, fee), then the parents' state.
    c.simulate(&call.clone().from(me), "submit").await?;
    if !a.skip_checks {
        for parent in &a.parents {
            check_parent(&c, &registry, *parent, me).await?;
        }
    }
    let sent = c.send(call, "submit").await?;
    let mut json = json!({
        "name": a.name,
        "version": version_text(version),
        "contentHash": content_hash,
        "size": size,
        "fee": fee.to_string(),
        "tx": sent.to_json(),
    });
    let header = format!(
        "{} {} ({size} bytes, content {content_hash}), fee {} ETH",
        a.name,
        version_text(version),
        amount(fee)
    );
    let Some(event) = sent.events::<VersionSubmitted>().into_iter().next() else {
        json["dryRun"] = json!(true);
        return Ok(Report {
            text: format!("{header}\n{}\n", sent.line()),
            json,
        });
    };
    let id = event.id;
    json["id"] = json!(id.to_string());
    ui.line(&format!(
        "{header}\n{}\nversion {id}: Submitted",
        sent.line()
    ));
    if a.no_wait {
        json["status"] = json!("Submitted");
        return Ok(Report {
            text: format!("follow it with `verity model show {id}`\n"),
            json,
        });
    }
    let transitions = follow(&c, &registry, id, a.timeout, ui).await?;
    let last = transitions.last().cloned().unwrap_or_default();
    json["status"] = json!(last.0);
    json["transitions"] = Value::Array(
        transitions
            .iter()
            .map(|(s, t, r)| json!({ "status": s, "at": t, "reason": r }))
            .collect(),
    );
    Ok(Report {
        text: format!("version {id} is {}: `verity model show {id}`\n", last.0),
        json,
    })
}

/// Polls version `id` until it is final (or `timeout` seconds pass), printing each status change; returns the
/// statuses seen with the chain time and reason.
async fn follow(
    c: &Client,
    registry: &Registry,
    id: U256,
    timeout: u64,
    ui: Ui,
) -> Result<Vec<(String, u64, String)>, WalletError> {
    let started = std::time::Instant::now();
    let mut seen: Vec<(String, u64, String)> =
        vec![("Submitted".into(), c.now().await?, "None".into())];
    let mut frame = 0usize;
    loop {
        let info = c.view(registry.version(id), "reading the version").await?;
        let status = status_name(info.status);
        if seen.last().map(|s| &s.0) != Some(&status) {
            let now = c.now().await?;
            let reason = reason_name(info.reason);
            let detail = match Status::try_from(info.status) {
                Ok(Status::Stored) => {
                    format!(" (storage attested until {})", utc(info.storageExpiry))
                }
                Ok(Status::Registered) => format!(" at {}: usable", utc(info.registeredAt)),
                Ok(Status::Rejected | Status::Expired) => format!(": {reason}"),
                _ => String::new(),
            };
            ui.line(&format!("version {id}: {status}{detail}"));
            seen.push((status.clone(), now, reason.clone()));
            if let Ok(s @ (Status::Rejected | Status::Expired)) = Status::try_from(info.status) {
                return Err(WalletError::NotRegistered {
                    id,
                    status: format!("{s:?}"),
                    reason,
                    advice: reason_advice(info.reason),
                });
            }
        }
        if Status::try_from(info.status).is_ok_and(Status::is_final) {
            return Ok(seen);
        }
        if started.elapsed() > Duration::from_secs(timeout) {
            return Err(WalletError::check(
                format!("version {id} is still {status} after {timeout} s"),
                format!("the keeper attests storage and registers versions; follow it with `verity model show {id}`"),
            ));
        }
        ui.spin(
            frame,
            &format!("version {id}: {status} … waiting for the keeper"),
        );
        frame += 1;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

/// One line about version `id`: `3 llama 1.0.0 [Registered]`.
async fn label(c: &Client, registry: &Registry, id: U256) -> Result<(String, Value), WalletError> {
    let info = c.view(registry.version(id), "reading a version").await?;
    let text = format!(
        "{id} {} {} [{}]",
        word_text(info.name),
        version_text(info.version),
        status_name(info.status)
    );
    Ok((
        text,
        json!({ "id": id.to_string(), "name": word_text(info.name), "version": version_text(info.version), "status": status_name(info.status) }),
    ))
}

/// Draws the ancestors of `id` as a tree, `depth` generations deep.
async fn tree(
    c: &Client,
    registry: &Registry,
    id: U256,
    depth: u64,
) -> Result<(Vec<String>, Value), WalletError> {
    // Iterative depth-first walk: (id, prefix for its children, its own line prefix, generation).
    let (root_text, mut root_json) = label(c, registry, id).await?;
    let mut lines = vec![root_text];
    let mut stack: Vec<(U256, String, u64, Vec<usize>)> = vec![(id, String::new(), 0, vec![])];
    while let Some((node, prefix, generation, path)) = stack.pop() {
        if generation >= depth {
            continue;
        }
        // The registry keeps no lineage view: a version's parents are in its `VersionSubmitted` event.
        let parents = submission(c, node)
            .await?
            .map(|e| e.parents)
            .unwrap_or_default();
        let n = parents.len();
        let mut children = Vec::new();
        for (i, parent) in parents.iter().enumerate() {
            let last = i + 1 == n;
            let (text, j) = label(c, registry, *parent).await?;
            lines.push(format!(
                "{prefix}{}{text}",
                if last { "└─ " } else { "├─ " }
            ));
            children.push((
                *parent,
                format!("{prefix}{}", if last { "   " } else { "│  " }),
                generation + 1,
                [path.clone(), vec![i]].concat(),
                j,
            ));
        }
        // Attach to the JSON tree.
        let mut node_json = &mut root_json;
        for &k in &path {
            node_json = &mut node_json["parents"][k];
        }
        node_json["parents"] = Value::Array(children.iter().map(|c| c.4.clone()).collect());
        for child in children.into_iter().rev() {
            stack.push((child.0, child.1, child.2, child.3));
        }
    }
    Ok((lines, root_json))
}

async fn show(a: ShowArgs) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let registry = registry(&c)?;
    let info = c
        .view(registry.version(a.id), "reading the version")
        .await?;
    let event = submission(&c, a.id).await?;
    let owner = name_owner(&c, info.name).await?;
    let usable = c.view(registry.isUsable(a.id), "isUsable").await?;
    let (lines, lineage) = tree(&c, &registry, a.id, a.depth).await?;
    let children: Vec<U256> = submissions(&c, None, None)
        .await?
        .into_iter()
        .filter(|e| e.parents.contains(&a.id))
        .map(|e| e.id)
        .collect();
    let license = word_text(info.licenseId);
    let derivatives = license_allows_derivatives(&info.licenseId.0);
    let text_of = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let storage_uri = event
        .as_ref()
        .map(|e| text_of(&e.storageUri))
        .unwrap_or_default();
    let metadata_uri = event
        .as_ref()
        .map(|e| text_of(&e.metadataUri))
        .unwrap_or_default();
    let tags: Vec<String> = event
        .as_ref()
        .map(|e| e.tags.iter().map(|t| word_text(*t)).collect())
        .unwrap_or_default();
    let status = status_name(info.status);
    let reason = reason_name(info.reason);
    let mut text = format!(
        "version {}  {} {}  {status}{}\n",
        a.id,
        word_text(info.name),
        version_text(info.version),
        if usable { " (usable)" } else { "" }
    );
    if matches!(
        Status::try_from(info.status),
        Ok(Status::Rejected | Status::Expired)
    ) {
        text += &format!("  reason      {reason}: {}\n", reason_advice(info.reason));
    }
    text += &format!("  submitter   {}  (name owner {owner})\n", info.submitter);
    text += &format!(
        "  relation    {}  format {}  runtime {}\n",
        relation_name(info.relation),
        format_name(info.format),
        word_text(info.runtime)
    );
    text += &format!(
        "  content     {} ({} bytes) at {storage_uri}{}\n",
        info.contentHash,
        info.size,
        if info.storageExpiry > 0 {
            format!(", stored until {}", utc(info.storageExpiry))
        } else {
            String::new()
        }
    );
    text += &format!(
        "  license     {license}{}\n",
        if derivatives {
            " (derivatives allowed)"
        } else {
            " (derivatives need the owner's approval)"
        }
    );
    text += &format!("  io schema   {}\n", info.ioSchemaHash);
    text += &format!("  metadata    {} at {metadata_uri}\n", info.metadataHash);
    if !tags.is_empty() {
        text += &format!("  tags        {}\n", tags.join(", "));
    }
    text += &format!(
        "  fee         {} ETH, submitted {}{}\n",
        amount(info.fee),
        utc(info.submittedAt),
        if info.registeredAt > 0 {
            format!(", registered {}", utc(info.registeredAt))
        } else {
            String::new()
        }
    );
    text += "lineage\n";
    for line in &lines {
        text += &format!("  {line}\n");
    }
    if !children.is_empty() {
        text += &format!(
            "children: {}\n",
            children
                .iter()
                .map(U256::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let json = json!({
        "id": a.id.to_string(),
        "name": word_text(info.name),
        "version": version_text(info.version),
        "status": status,
        "reason": reason,
        "usable": usable,
        "submitter": info.submitter,
        "nameOwner": owner,
        "relation": relation_name(info.relation),
        "format": format_name(info.format),
        "runtime": word_text(info.runtime),
        "contentHash": info.contentHash,
        "size": info.size,
        "storageUri": storage_uri,
        "storageExpiry": info.storageExpiry,
        "license": license,
        "derivativesAllowed": derivatives,
        "ioSchemaHash": info.ioSchemaHash,
        "metadataHash": info.metadataHash,
        "metadataUri": metadata_uri,
        "tags": tags,
        "fee": info.fee.to_string(),
        "submittedAt": info.submittedAt,
        "registeredAt": info.registeredAt,
        "lineage": lineage,
        "children": children.iter().map(U256::to_string).collect::<Vec<_>>(),
    });
    Ok(Report { json, text })
}

async fn list(a: ListArgs) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let registry = registry(&c)?;
    let name = a.name.as_deref().map(|n| word(n, "--name")).transpose()?;
    let tag = a.tag.as_deref().map(|t| word(t, "--tag")).transpose()?;
    let events = submissions(&c, name, a.owner).await?;
    let mut rows = Vec::new();
    let mut text = format!(
        "{:>5}  {:<24} {:<10} {:<11} {:<42} tags\n",
        "id", "name", "version", "status", "submitter"
    );
    for e in events
        .iter()
        .filter(|e| tag.is_none_or(|t| e.tags.contains(&t)))
    {
        let info = c.view(registry.version(e.id), "reading a version").await?;
        let tags: Vec<String> = e.tags.iter().map(|t| word_text(*t)).collect();
        let status = status_name(info.status);
        text += &format!(
            "{:>5}  {:<24} {:<10} {:<11} {:<42} {}\n",
            e.id,
            word_text(e.name),
            version_text(e.version),
            status,
            e.submitter.to_string(),
            tags.join(",")
        );
        rows.push(json!({
            "id": e.id.to_string(),
            "name": word_text(e.name),
            "version": version_text(e.version),
            "status": status,
            "submitter": e.submitter,
            "parents": e.parents.iter().map(U256::to_string).collect::<Vec<_>>(),
            "tags": tags,
        }));
    }
    if rows.is_empty() {
        text = "no versions match\n".into();
    }
    Ok(Report {
        json: json!({ "versions": rows }),
        text,
    })
}

async fn approve_fork(a: ApproveForkArgs) -> Result<Report, WalletError> {
    let c = Client::connect(&a.common).await?;
    let registry = registry(&c)?;
    let sent = c
        .send(registry.approveFork(a.parent, a.forker), "approveFork")
        .await?;
    Ok(Report {
        text: format!(
            "{}\n{} may now register versions derived from {}\n",
            sent.line(),
            a.forker,
            a.parent
        ),
        json: json!({ "parent": a.parent.to_string(), "forker": a.forker, "tx": sent.to_json() }),
    })
}
