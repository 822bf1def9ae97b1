//! What the CLI's drivers (`verity bench`'s gas runs, `verity dev`'s traffic) do as a wallet does: a signing
//! provider per account, sending with headroom over the estimate, requiring success, reading and moving chain time.

use alloy::{
    contract::SolCallBuilder,
    eips::BlockNumberOrTag,
    network::{Ethereum, EthereumWallet},
    providers::{DynProvider, PendingTransactionBuilder, Provider, ProviderBuilder},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use anyhow::{ensure, Context, Result};

/// A provider at `url` that signs as `signer` and fills nonce, gas and fees. Use one per account: it caches the
/// account's nonce, so two providers sending for one account would clash.
pub fn wallet(url: &str, signer: &PrivateKeySigner) -> Result<DynProvider> {
    Ok(ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(url.parse().with_context(|| format!("RPC URL {url}"))?)
        .erased())
}

/// Waits for a sent transaction's receipt and requires success; `what` names it in errors.
pub async fn mined(
    pending: Result<PendingTransactionBuilder<Ethereum>, alloy::contract::Error>,
    what: &str,
) -> Result<TransactionReceipt> {
    let receipt = pending
        .with_context(|| format!("sending {what}"))?
        .get_receipt()
        .await
        .with_context(|| format!("receipt of {what}"))?;
    ensure!(
        receipt.status(),
        "{what} reverted (tx {}, gasUsed {})",
        receipt.transaction_hash,
        receipt.gas_used
    );
    Ok(receipt)
}

/// Sends `call` with 1.5× its estimate plus 20,000 and requires success. Contracts whose cost depends on the block
/// they land in (veBR checkpoints at a new timestamp, registry batches) can need more than an estimate made a
/// moment earlier; wallets add headroom for the same reason.
pub async fn send_with_headroom<P: Provider, C: SolCall>(
    call: SolCallBuilder<P, C>,
    what: &str,
) -> Result<TransactionReceipt> {
    let estimate = call
        .estimate_gas()
        .await
        .with_context(|| format!("estimating {what}"))?;
    mined(call.gas(estimate * 3 / 2 + 20_000).send().await, what).await
}

/// The latest block's timestamp.
pub async fn chain_time<P: Provider>(provider: &P) -> Result<u64> {
    Ok(provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .context("no latest block")?
        .header
        .timestamp)
}

/// Moves a devnode's (or anvil's) clock forward by `seconds` and mines a block.
pub async fn travel<P: Provider>(provider: &P, seconds: u64) -> Result<()> {
    let _: i64 = provider
        .raw_request("evm_increaseTime".into(), (seconds,))
        .await
        .context("evm_increaseTime")?;
    let _: String = provider
        .raw_request("evm_mine".into(), ())
        .await
        .context("evm_mine")?;
    Ok(())
}

/// Moves the clock forward to `t` (never back) and mines a block.
pub async fn travel_to<P: Provider>(provider: &P, t: u64) -> Result<()> {
    let now = chain_time(provider).await?;
    if t > now {
        travel(provider, t - now).await?;
    }
    Ok(())
}

/// A receipt signed by `key` in its on-chain encoding (the 384-byte Merkle leaf preimage): EIP-712 under the
/// "Verity"/"1" domain of the InferenceSettlement contract `settlement` on chain `chain_id`, `v` 27/28.
///
/// # Errors
/// The key cannot sign.
pub fn sign_receipt(
    key: &PrivateKeySigner,
    chain_id: u64,
    settlement: alloy::primitives::Address,
    receipt: &verity_abi::settlement::Receipt,
) -> Result<alloy::primitives::Bytes> {
    let signed = verity_abi::rpc::signed_receipt(key, chain_id, settlement, receipt.clone())
        .context("signing a receipt")?;
    Ok(verity_abi::settlement::encode_signed_receipt(&signed)
        .to_vec()
        .into())
}

/// Submits a complete model version (name `name`, version 1, declared `content` hash, 4,096 bytes) as `gov` and,
/// as the registry's attester and keeper (a dev deployment's deployer), confirms its storage and registers it;
/// returns the version id. The benchmarks' "a registered model".
///
/// # Errors
/// A transaction failed or reverted.
pub async fn register_demo_model(
    gov: &DynProvider,
    registry: alloy::primitives::Address,
    name: alloy::primitives::B256,
    content: alloy::primitives::B256,
) -> Result<alloy::primitives::U256> {
    use alloy::primitives::{Bytes, B256};
    use alloy::sol_types::SolEvent;
    use verity_abi::registry::{Format, Relation, VersionSubmitted};
    let registry = verity_abi::rpc::IModelRegistry::new(registry, gov.clone());
    let fee = verity_script::deploy::verity::RegistryParams::default().min_fee;
    let receipt = send_with_headroom(
        registry
            .submit(
                name,
                1,
                vec![],
                Relation::Original.code(),
                content,
                4_096,
                Bytes::from_static(b"ipfs://weights"),
                Format::Safetensors.code(),
                B256::repeat_byte(0x11),
                B256::repeat_byte(0x22),
                B256::repeat_byte(0x33),
                B256::repeat_byte(0x44),
                Bytes::from_static(b"ipfs://card"),
                vec![],
            )
            .value(fee),
        "submit",
    )
    .await?;
    let model = receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| VersionSubmitted::decode_log_data(l.data()).ok())
        .context("no VersionSubmitted")?
        .id;
    let expiry = chain_time(gov).await? + 365 * 86_400;
    send_with_headroom(
        registry.confirmStorage(model, content, 4_096, expiry),
        "confirmStorage",
    )
    .await?;
    send_with_headroom(
        registry.finalizeRegistrations(vec![model]),
        "finalizeRegistrations",
    )
    .await?;
    Ok(model)
}
