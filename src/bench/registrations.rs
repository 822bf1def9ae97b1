//! Keeper registration throughput: model owners submit versions at a steady rate for a while (weights files on
//! disk, named by `file://` URI) while the keeper's storage attester and registration batcher run in-process on
//! SQLite; every version's time from submission (its block) to registration (the block of its
//! `VersionFinalized`) is measured. Goals (issue 16): the keeper keeps up with the offered rate (≥ 5,000/min is the
//! target rate) with p99 pending → registered ≤ 10 s.
//!
//! The owners send without waiting for each receipt (their nonces in order, receipts collected at the end), so the
//! offered rate is set by the pacing, not by a receipt round trip. The gas per registration is measured from the
//! receipts: a submission, plus its share of the attestation and finalization transactions that carried it (a
//! keeper transaction with a `StorageConfirmed` log counts as an attestation, the others as finalizations).
//!
//! Fees: one submitter pays the minimum fee (priority 0), the others add [`FLOOD_PRIORITY_WEI`], and the keeper
//! ages at its default rate ([`DEFAULT_AGING_WEI_PER_SEC`]). A low-fee version is overtaken only by versions
//! submitted less than the *horizon* `FLOOD_PRIORITY_WEI / rate` after it, so its wait is bounded by the longest
//! high-fee wait plus the horizon; the report shows the observed maximum against that bound (issue 16). When the
//! keeper keeps up, nothing waits for long and the bound holds trivially; the figure matters above capacity.

use std::time::{Duration, Instant};

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use anyhow::{ensure, Context, Result};
use verity_abi::registry::{
    Format, Relation, Status, StorageConfirmed, VersionFinalized, VersionSubmitted,
};
use verity_abi::rpc::IModelRegistry;
use verity_keeper::failpoint::Failpoints;
use verity_keeper::http::Metrics;
use verity_keeper::jobs::attester::AttesterConfig;
use verity_keeper::jobs::batcher::{BatcherConfig, DEFAULT_AGING_WEI_PER_SEC};
use verity_keeper::jobs::{RegistrationBatcher, StorageAttester};
use verity_keeper::keeper::{Keeper, LoopConfig};
use verity_keeper::lease::Leadership;
use verity_keeper::outbox::{TxConfig, TxManager};
use verity_keeper::store::SqliteStore;
use verity_script::build::Artifacts;

use super::gas::GasGoal;
use super::nodes::{start_devnode, DevnodeKind};
use super::{deploy_verity, GasReport};
use crate::client::{send_with_headroom, wallet};

/// The submission rate (per minute) the keeper must keep up with (issue 16).
pub const REGISTRATIONS_GOAL_PER_MIN: f64 = 5_000.0;
/// The batcher's max wait in the benchmark: one batch interval, seconds.
pub const REGISTRATION_BATCH_INTERVAL_SECS: u64 = 5;
/// p99 pending → registered goal, seconds.
pub(crate) const REGISTRATION_P99_GOAL_SECS: u64 = 10;
/// Arbitrum One's sustained gas rate used for the on-paper ceiling: the 7 Mgas/s speed limit
/// (docs.arbitrum.io, "Guidance for Arbitrum chains gas speed limit").
pub(crate) const ARBITRUM_GAS_PER_SEC: f64 = 7_000_000.0;
/// Submitting accounts (each sends its own sequence).
const SUBMITTERS: usize = 16;
/// The priority fee of every submitter but the first (the low-fee one, priority 0): 10 s of aging at the
/// keeper's default rate, so the horizon is 10 s.
pub(crate) const FLOOD_PRIORITY_WEI: u64 = 10 * DEFAULT_AGING_WEI_PER_SEC;

/// What the run measured.
#[derive(Debug, Clone)]
pub struct RegistrationBench {
    /// Versions submitted.
    pub submitted: usize,
    /// Versions registered by the keeper.
    pub registered: usize,
    /// First submission to last registration, chain seconds.
    pub span_secs: u64,
    /// Median submission → registration, chain seconds.
    pub p50_secs: u64,
    /// 99th percentile submission → registration, chain seconds.
    pub p99_secs: u64,
    /// The batcher's max wait (one batch interval), seconds.
    pub batch_interval_secs: u64,
    /// Submissions per minute actually offered (first to last submission).
    pub offered_per_min: f64,
    /// First to last registration, chain seconds.
    pub registering_secs: u64,
    /// Mean gasUsed of a submission.
    pub gas_submit: f64,
    /// Attestation gas per version attested (gasUsed of the attestation transactions / versions they carried).
    pub gas_attest_per_item: f64,
    /// Finalization gas per version finalized.
    pub gas_finalize_per_item: f64,
    /// Keeper transactions: attestations and finalizations.
    pub keeper_txs: (usize, usize),
    /// Longest submission → registration of a low-fee (priority 0) version, chain seconds.
    pub low_fee_max_secs: u64,
    /// Longest submission → registration of a high-fee version, chain seconds.
    pub high_fee_max_secs: u64,
}

impl RegistrationBench {
    /// Registrations per minute over the run (first submission to last registration).
    pub fn per_min(&self) -> f64 {
        self.registered as f64 * 60.0 / self.span_secs.max(1) as f64
    }

    /// Registrations per minute while the keeper registered (first to last registration).
    pub fn sustained_per_min(&self) -> f64 {
        self.registered as f64 * 60.0 / self.registering_secs.max(1) as f64
    }

    /// Gas of one registration: its submission plus its attestation and finalization shares.
    pub fn gas_per_registration(&self) -> f64 {
        self.gas_submit + self.gas_attest_per_item + self.gas_finalize_per_item
    }

    /// Registrations per second Arbitrum's sustained gas rate allows at [`Self::gas_per_registration`].
    pub fn chain_ceiling_per_sec(&self) -> f64 {
        ARBITRUM_GAS_PER_SEC / self.gas_per_registration().max(1.0)
    }

    /// Seconds after a low-fee version within which a high-fee version may still overtake it.
    pub fn aging_horizon_secs(&self) -> u64 {
        FLOOD_PRIORITY_WEI / DEFAULT_AGING_WEI_PER_SEC
    }

    /// The bound on a low-fee wait: the longest high-fee wait plus the aging horizon.
    pub fn low_fee_bound_secs(&self) -> u64 {
        self.high_fee_max_secs + self.aging_horizon_secs()
    }

    /// The goals table rows.
    pub fn report(&self) -> GasReport {
        let mut report = GasReport::default();
        report.goals.push(GasGoal {
            goal: format!(
                "keeper keeps up with the offered {:.0}/min ({} submitted, {} registered; sustained >= 95% of offered; first submission → last registration {:.0}/min)",
                self.offered_per_min,
                self.submitted,
                self.registered,
                self.per_min()
            ),
            figure: format!("{:.0}/min", self.sustained_per_min()),
            met: self.sustained_per_min() >= 0.95 * self.offered_per_min
                && self.registered == self.submitted,
        });
        report.goals.push(GasGoal {
            goal: format!(
                "keeper p99 pending → registered <= {REGISTRATION_P99_GOAL_SECS} s (batch max wait {} s; p50 {} s)",
                self.batch_interval_secs, self.p50_secs
            ),
            figure: format!("{} s", self.p99_secs),
            met: self.p99_secs <= REGISTRATION_P99_GOAL_SECS,
        });
        report.goals.push(GasGoal {
            goal: format!(
                "on paper: registrations/s at Arbitrum's {:.0} Mgas/s ({:.0} gas each: submit {:.0} + attestation {:.0} + finalization {:.0}; keeper txs {} + {})",
                ARBITRUM_GAS_PER_SEC / 1e6,
                self.gas_per_registration(),
                self.gas_submit,
                self.gas_attest_per_item,
                self.gas_finalize_per_item,
                self.keeper_txs.0,
                self.keeper_txs.1
            ),
            figure: format!(
                "{:.0}/s = {:.0}/min",
                self.chain_ceiling_per_sec(),
                self.chain_ceiling_per_sec() * 60.0
            ),
            met: self.chain_ceiling_per_sec() * 60.0 >= REGISTRATIONS_GOAL_PER_MIN,
        });
        report.goals.push(GasGoal {
            goal: format!(
                "low-fee wait under a high-fee flood <= bound (1 of {SUBMITTERS} submitters at priority 0, the rest at {} gwei; bound = longest high-fee wait {} s + aging horizon {} s)",
                FLOOD_PRIORITY_WEI / 1_000_000_000,
                self.high_fee_max_secs,
                self.aging_horizon_secs()
            ),
            figure: format!(
                "{} s (bound {} s)",
                self.low_fee_max_secs,
                self.low_fee_bound_secs()
            ),
            met: self.low_fee_max_secs <= self.low_fee_bound_secs(),
        });
        report
    }
}

fn word(text: &str) -> B256 {
    let mut w = [0u8; 32];
    let n = text.len().min(32);
    w[..n].copy_from_slice(&text.as_bytes()[..n]);
    B256::from(w)
}

/// The keeper (attester + batcher) in-process on a temporary SQLite file, signing as `key`.
async fn keeper(
    url: &str,
    key: PrivateKeySigner,
    registry: Address,
    batch_interval_secs: u64,
    db: &std::path::Path,
) -> Result<Keeper<SqliteStore, DynProvider>> {
    let store = SqliteStore::connect(&format!("sqlite://{}?mode=rwc", db.display())).await?;
    let provider = ProviderBuilder::new()
        .connect_http(url.parse().context("RPC URL")?)
        .erased();
    let chain_id = provider.get_chain_id().await?;
    let tx = TxManager::new(
        store.clone(),
        provider,
        key,
        TxConfig {
            chain_id,
            rebroadcast_after: Duration::from_secs(5),
            ..TxConfig::default()
        },
        Failpoints::none(),
    );
    let leadership = Leadership::new(
        store.clone(),
        "registration-bench",
        "bench",
        Duration::from_secs(30),
    );
    let metrics = Metrics::new()?;
    let config = LoopConfig {
        poll_interval: Duration::from_millis(200),
        exit_when_idle: false,
        dry_run: false,
        shutdown_grace: std::time::Duration::from_secs(5),
        low_balance_wei: 0,
    };
    let mut attester = AttesterConfig::new(registry, 0);
    // The benchmark's weights are local files (the production policy refuses file:// URIs).
    attester.fetch.allow_file = true;
    let mut batcher = BatcherConfig::new(registry, 0);
    batcher.max_wait_secs = batch_interval_secs;
    Ok(
        Keeper::new(store.clone(), tx, leadership, metrics.clone(), config)
            .with_job(StorageAttester::new(
                store.clone(),
                attester,
                metrics.clone(),
            ))
            .with_job(RegistrationBatcher::new(store, batcher, metrics)),
    )
}

/// The timestamp of block `n` (cached).
async fn block_time(
    chain: &DynProvider,
    cache: &mut std::collections::HashMap<u64, u64>,
    n: Option<u64>,
) -> Result<u64> {
    let n = n.context("log without a block number")?;
    if let Some(t) = cache.get(&n) {
        return Ok(*t);
    }
    let t = chain
        .get_block_by_number(n.into())
        .await?
        .context("block missing")?
        .header
        .timestamp;
    cache.insert(n, t);
    Ok(t)
}

/// Submits `count` versions over `over` from [`SUBMITTERS`] accounts while the keeper runs, then waits (at most
/// two minutes) for every one to be registered.
pub async fn bench_registrations(
    kind: &DevnodeKind,
    artifacts: &Artifacts,
    count: usize,
    over: Duration,
    batch_interval_secs: u64,
) -> Result<RegistrationBench> {
    let node = start_devnode(kind, (SUBMITTERS + 1) as u32).await?;
    let deployment = deploy_verity(&node, artifacts).await?;
    let registry = deployment
        .contracts
        .get("registry")
        .map(|c| c.address)
        .context("the deployment has no registry")?;
    let dir = tempfile::tempdir()?;
    // Dev account 0 deployed the registry and holds its attester and keeper roles.
    let mut keeper = keeper(
        &node.url,
        node.accounts[0].clone(),
        registry,
        batch_interval_secs,
        &dir.path().join("keeper.db"),
    )
    .await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        keeper
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    let from_block = wallet(&node.url, &node.accounts[0])?
        .get_block_number()
        .await?;
    let fee = verity_script::deploy::verity::RegistryParams::default().min_fee;
    let per_submitter = count.div_ceil(SUBMITTERS);
    let pause = over / per_submitter.max(1) as u32;
    let mut tasks = Vec::new();
    for s in 0..SUBMITTERS {
        let provider = wallet(&node.url, &node.accounts[s + 1])?;
        let files = dir.path().join(format!("submitter-{s}"));
        std::fs::create_dir_all(&files)?;
        let n = per_submitter.min(count.saturating_sub(s * per_submitter));
        let value = match s {
            0 => fee,
            _ => fee + U256::from(FLOOD_PRIORITY_WEI),
        };
        tasks.push(tokio::spawn(async move {
            let registry = IModelRegistry::new(registry, provider);
            let started = Instant::now();
            let mut gas_limit = None;
            let mut pending = Vec::new();
            let mut gas_used = Vec::new();
            for v in 1..=n as u64 {
                let weights: Vec<u8> = format!("bench weights {s}/{v}\n")
                    .into_bytes()
                    .into_iter()
                    .cycle()
                    .take(2_048)
                    .collect();
                let path = files.join(format!("{v}.safetensors"));
                std::fs::write(&path, &weights)?;
                let call = registry
                    .submit(
                        word(&format!("bench-{s}")),
                        v,
                        vec![],
                        Relation::Original.code(),
                        keccak256(&weights),
                        weights.len() as u64,
                        Bytes::from(format!("file://{}", path.display()).into_bytes()),
                        Format::Safetensors.code(),
                        word("onnxruntime"),
                        word("io-schema"),
                        word("Apache-2.0"),
                        word("model-card"),
                        Bytes::from_static(b"ipfs://card"),
                        vec![],
                    )
                    .value(value);
                match gas_limit {
                    // The first (it claims the name) is sent and mined alone; its estimate bounds the rest.
                    None => {
                        let receipt = send_with_headroom(call, "submit").await?;
                        gas_used.push(receipt.gas_used);
                        gas_limit = Some(receipt.gas_used * 3 / 2 + 20_000);
                    }
                    Some(gas) => {
                        let sent = call.gas(gas).send().await.context("sending submit")?;
                        pending.push(tokio::spawn(async move {
                            crate::client::mined(Ok(sent), "submit").await
                        }));
                    }
                }
                // A steady rate: the v-th submission not before v × pause.
                let due = pause * v as u32;
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
            for p in pending {
                gas_used.push(p.await.context("a receipt task panicked")??.gas_used);
            }
            anyhow::Ok(gas_used)
        }));
    }
    let mut submit_gas = Vec::new();
    for t in tasks {
        submit_gas.extend(t.await.context("a submitter panicked")??);
    }
    let chain = wallet(&node.url, &node.accounts[0])?;
    let registry_view = IModelRegistry::new(registry, chain.clone());
    let deadline = Instant::now() + Duration::from_secs(120);
    while registry_view.pendingCount().call().await? > 0 && Instant::now() < deadline {
        // The batcher's max wait is chain time, which moves only with blocks: once the owners stop, a block a
        // second stands in for the rest of a live chain's traffic.
        let _: String = chain.raw_request("evm_mine".into(), ()).await?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = stop.send(());
    running.await.context("the keeper panicked")??;

    let logs = |sig: B256| {
        Filter::new()
            .address(registry)
            .event_signature(sig)
            .from_block(from_block)
    };
    let mut times: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    // id → (submission time, paid a priority fee).
    let mut submitted_at: std::collections::HashMap<U256, (u64, bool)> =
        std::collections::HashMap::new();
    for log in chain
        .get_logs(&logs(VersionSubmitted::SIGNATURE_HASH))
        .await?
    {
        let e = VersionSubmitted::decode_log_data(log.data())?;
        let t = block_time(&chain, &mut times, log.block_number).await?;
        submitted_at.insert(e.id, (t, !e.priorityFee.is_zero()));
    }
    let mut latencies = Vec::new();
    let (mut first, mut last) = (u64::MAX, 0u64);
    let (mut first_reg, mut last_sub) = (u64::MAX, 0u64);
    for (t, _) in submitted_at.values() {
        last_sub = last_sub.max(*t);
    }
    let (mut low_fee_max, mut high_fee_max) = (0u64, 0u64);
    for log in chain
        .get_logs(&logs(VersionFinalized::SIGNATURE_HASH))
        .await?
    {
        let e = VersionFinalized::decode_log_data(log.data())?;
        if !e.changed || e.status != Status::Registered.code() {
            continue;
        }
        let t = block_time(&chain, &mut times, log.block_number).await?;
        if let Some((s, high)) = submitted_at.get(&e.id) {
            let waited = t.saturating_sub(*s);
            latencies.push(waited);
            let max = if *high {
                &mut high_fee_max
            } else {
                &mut low_fee_max
            };
            *max = (*max).max(waited);
            first = first.min(*s);
            last = last.max(t);
            first_reg = first_reg.min(t);
        }
    }
    let (gas_attest, gas_finalize, keeper_txs) =
        keeper_gas(&chain, registry, from_block, node.accounts[0].address()).await?;
    ensure!(!latencies.is_empty(), "nothing was registered");
    latencies.sort_unstable();
    let pct = |p: usize| latencies[(latencies.len() * p).div_ceil(100).max(1) - 1];
    Ok(RegistrationBench {
        submitted: submitted_at.len(),
        registered: latencies.len(),
        span_secs: last.saturating_sub(first),
        p50_secs: pct(50),
        p99_secs: pct(99),
        batch_interval_secs,
        offered_per_min: submitted_at.len() as f64 * 60.0
            / last_sub.saturating_sub(first).max(1) as f64,
        registering_secs: last.saturating_sub(first_reg),
        gas_submit: mean(&submit_gas),
        gas_attest_per_item: gas_attest,
        gas_finalize_per_item: gas_finalize,
        keeper_txs,
        low_fee_max_secs: low_fee_max,
        high_fee_max_secs: high_fee_max,
    })
}

fn mean(xs: &[u64]) -> f64 {
    xs.iter().map(|x| *x as f64).sum::<f64>() / xs.len().max(1) as f64
}

/// Gas per item of the keeper's attestation and finalization transactions since `from_block` (read from the
/// receipts of the transactions that emitted the registry's `StorageConfirmed` / `VersionFinalized` logs), and how
/// many of each there were.
async fn keeper_gas(
    chain: &DynProvider,
    registry: Address,
    from_block: u64,
    keeper: Address,
) -> Result<(f64, f64, (usize, usize))> {
    use std::collections::BTreeMap;
    let filter = Filter::new()
        .address(registry)
        .event_signature(vec![
            StorageConfirmed::SIGNATURE_HASH,
            VersionFinalized::SIGNATURE_HASH,
        ])
        .from_block(from_block);
    // Per transaction: (items, has a StorageConfirmed).
    let mut txs: BTreeMap<B256, (u64, bool)> = BTreeMap::new();
    for log in chain.get_logs(&filter).await? {
        let hash = log
            .transaction_hash
            .context("log without a transaction hash")?;
        let e = txs.entry(hash).or_default();
        e.0 += 1;
        e.1 |= log.topic0() == Some(&StorageConfirmed::SIGNATURE_HASH);
    }
    let (mut attest, mut finalize) = ((0u64, 0u64, 0usize), (0u64, 0u64, 0usize));
    for (hash, (items, attestation)) in txs {
        let receipt = chain
            .get_transaction_receipt(hash)
            .await?
            .context("receipt missing")?;
        if receipt.from != keeper {
            continue;
        }
        let sum = if attestation {
            &mut attest
        } else {
            &mut finalize
        };
        sum.0 += receipt.gas_used;
        sum.1 += items;
        sum.2 += 1;
    }
    let per = |(gas, items, _): (u64, u64, usize)| gas as f64 / items.max(1) as f64;
    Ok((per(attest), per(finalize), (attest.2, finalize.2)))
}
