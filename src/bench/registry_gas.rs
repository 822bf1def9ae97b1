//! Gas of the ModelRegistry's `finalizeRegistrations`, measured on devnode with the real WASM deployed by Verity's
//! plan and driven over JSON-RPC as a wallet (submit), the attester (confirmStorage) and the keeper (the batch)
//! drive it. Gas is deterministic, so the same function backs the benchmark table and the end-to-end test.
//!
//! Figures: the batch's gasUsed for 1, 10 and 100 Stored versions (every item Registered); the per-model cost in a
//! batch of 100 against a batch of 1 (goal ≤ [`REGISTRY_PER_ITEM_RATIO_GOAL`]), and the largest batch that fits
//! [`BATCH_GAS_LIMIT`] by the measured per-item slope.

use alloy::{
    primitives::{keccak256, Address, Bytes, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use anyhow::{ensure, Context, Result};
use verity_abi::{
    registry::{Format, Reason, Relation, Status, VersionFinalized, VersionSubmitted},
    rpc::IModelRegistry,
};

use crate::client::{mined, wallet};

/// The batch sizes measured.
pub const REGISTRY_BATCH_SIZES: [usize; 3] = [1, 10, 100];

/// Goal: the per-model gas in a batch of 100 is at most this fraction of a batch of one.
pub const REGISTRY_PER_ITEM_RATIO_GOAL: f64 = 0.25;

/// The gas a batch must stay under (Arbitrum's per-transaction budget used as the goal).
pub const BATCH_GAS_LIMIT: u64 = 32_000_000;

/// Where the registry benchmark runs: a node with the ModelRegistry deployed.
#[derive(Debug, Clone)]
pub struct RegistryGasSetup {
    /// The node's JSON-RPC URL.
    pub url: String,
    /// Submits (and pays for) every version.
    pub submitter: PrivateKeySigner,
    /// Holds the attester role.
    pub attester: PrivateKeySigner,
    /// Holds the keeper role; sends the measured batches.
    pub keeper: PrivateKeySigner,
    /// The ModelRegistry.
    pub registry: Address,
    /// The fee sent with each submission (at least the registry's minimum fee).
    pub fee: U256,
}

/// The measured `finalizeRegistrations` batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryGas {
    /// `(items, gasUsed)` per batch, in [`REGISTRY_BATCH_SIZES`] order.
    pub batches: Vec<(usize, u64)>,
}

impl RegistryGas {
    /// The gasUsed of the batch of `items` items, if measured.
    pub fn gas(&self, items: usize) -> Option<u64> {
        self.batches
            .iter()
            .find(|(n, _)| *n == items)
            .map(|(_, gas)| *gas)
    }

    /// Per-model gas in the largest batch divided by the gas of the smallest (a batch of one).
    pub fn per_item_ratio(&self) -> Option<f64> {
        let (small_n, small) = *self.batches.first()?;
        let (large_n, large) = *self.batches.last()?;
        Some((large as f64 / large_n as f64) / (small as f64 / small_n as f64))
    }

    /// Gas each extra item adds, from the two largest batches.
    pub fn per_item_gas(&self) -> Option<u64> {
        let [.., (a_n, a), (b_n, b)] = self.batches[..] else {
            return None;
        };
        Some(b.saturating_sub(a) / (b_n - a_n) as u64)
    }

    /// The largest batch whose gas stays under [`BATCH_GAS_LIMIT`], extrapolated linearly from the two largest
    /// measured batches.
    pub fn largest_batch_under_limit(&self) -> Option<u64> {
        let (large_n, large) = *self.batches.last()?;
        let slope = self.per_item_gas()?.max(1);
        let fixed = large.saturating_sub(slope * large_n as u64);
        Some(BATCH_GAS_LIMIT.saturating_sub(fixed) / slope)
    }

    /// Table rows: `(operation, gasUsed)`.
    pub fn rows(&self) -> Vec<(String, u64)> {
        self.batches
            .iter()
            .map(|(n, gas)| (finalize_registrations_label(*n), *gas))
            .collect()
    }
}

/// The row label of a `finalizeRegistrations` batch of `items` items.
pub fn finalize_registrations_label(items: usize) -> String {
    format!(
        "ModelRegistry.finalizeRegistrations ({items} item{})",
        if items == 1 { "" } else { "s" }
    )
}

/// A distinct model name per benchmark item.
fn bench_name(batch: usize, item: usize) -> B256 {
    keccak256(format!("verity-bench-model-{batch}-{item}"))
}

/// Submits (from `submitter`) and stores (from `attester`) `items` complete original versions; returns their ids.
async fn stored_versions<P: Provider + Clone>(
    submitter: &IModelRegistry::IModelRegistryInstance<P>,
    attester: &IModelRegistry::IModelRegistryInstance<P>,
    fee: U256,
    batch: usize,
    items: usize,
) -> Result<Vec<U256>> {
    let content = keccak256(b"verity-bench-weights");
    let mut ids = Vec::with_capacity(items);
    for item in 0..items {
        let submit = submitter
            .submit(
                bench_name(batch, item),
                1,
                vec![],
                Relation::Original.code(),
                content,
                4_096,
                Bytes::from_static(b"ipfs://bench-weights"),
                Format::Safetensors.code(),
                B256::repeat_byte(0x11),
                B256::repeat_byte(0x22),
                B256::repeat_byte(0x33),
                B256::repeat_byte(0x44),
                Bytes::from_static(b"ipfs://bench-card"),
                vec![],
            )
            .value(fee);
        let estimate = submit.estimate_gas().await.context("estimating submit")?;
        let receipt = mined(submit.gas(estimate * 3 / 2).send().await, "submit").await?;
        let id = receipt
            .inner
            .logs()
            .iter()
            .find_map(|log| VersionSubmitted::decode_log_data(log.data()).ok())
            .context("submit emitted no VersionSubmitted")?
            .id;
        ids.push(id);
    }
    let now = submitter
        .provider()
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .context("no latest block")?
        .header
        .timestamp;
    for id in &ids {
        let confirm = attester.confirmStorage(*id, content, 4_096, now + 365 * 86_400);
        let estimate = confirm
            .estimate_gas()
            .await
            .context("estimating confirmStorage")?;
        mined(confirm.gas(estimate * 3 / 2).send().await, "confirmStorage").await?;
    }
    Ok(ids)
}

/// Measures `finalizeRegistrations` over [`REGISTRY_BATCH_SIZES`] Stored versions (all registered) and checks
/// every item's `VersionFinalized` event.
pub async fn registry_gas(setup: &RegistryGasSetup) -> Result<RegistryGas> {
    // One provider per account: a provider caches its account's nonce, so two for one account would clash.
    let mut providers = Vec::new();
    let mut registry_for = |signer: &PrivateKeySigner| -> Result<_> {
        let provider = match providers.iter().find(|(a, _)| *a == signer.address()) {
            Some((_, p)) => Clone::clone(p),
            None => {
                let p = wallet(&setup.url, signer)?;
                providers.push((signer.address(), p.clone()));
                p
            }
        };
        Ok(IModelRegistry::new(setup.registry, provider))
    };
    let submitter = registry_for(&setup.submitter)?;
    let attester = registry_for(&setup.attester)?;
    let keeper = registry_for(&setup.keeper)?;
    let mut batches = Vec::new();
    for (batch, items) in REGISTRY_BATCH_SIZES.into_iter().enumerate() {
        let ids = stored_versions(&submitter, &attester, setup.fee, batch, items).await?;
        let call = keeper.finalizeRegistrations(ids.clone());
        let estimate = call
            .estimate_gas()
            .await
            .context("estimating finalizeRegistrations")?;
        let receipt = mined(
            call.gas(estimate * 3 / 2).send().await,
            "finalizeRegistrations",
        )
        .await?;
        let finalized: Vec<VersionFinalized> = receipt
            .inner
            .logs()
            .iter()
            .filter_map(|log| VersionFinalized::decode_log_data(log.data()).ok())
            .collect();
        ensure!(
            finalized.len() == items
                && finalized.iter().zip(&ids).all(|(event, id)| event.id == *id
                    && event.status == Status::Registered.code()
                    && event.reason == Reason::None.code()
                    && event.changed),
            "batch of {items}: not every item was registered: {finalized:?}"
        );
        batches.push((items, receipt.gas_used));
    }
    Ok(RegistryGas { batches })
}
