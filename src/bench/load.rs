//! The load generator: ERC-20 transfers pre-signed by many senders (each with its own nonce sequence), sent
//! concurrently over JSON-RPC and waited for to receipt, then checked (status, gasUsed, balances).
//!
//! The same code drives every node and every token (BR and the Solidity `BenchToken` share their ABI), so the
//! figures differ only by what the node does with the same bytes.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::Encodable2718,
    network::{Ethereum, TxSignerSync},
    primitives::{Address, Bytes, TxKind, B256, U256},
    providers::{Provider, RootProvider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use anyhow::{bail, ensure, Context, Result};
use tokio::task::JoinSet;
use verity_abi::rpc::IBrToken;

/// How long to wait for one receipt before giving up (a stuck node fails the run instead of hanging it).
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between receipt polls of a transaction that is not mined yet.
const RECEIPT_POLL: Duration = Duration::from_millis(2);
/// A transaction admitted but not mined for this long gets an `evm_mine`: anvil's automine can leave ready
/// transactions in its pool until the next one arrives (foundry-rs/foundry#10122), which would hang the run.
const STALL: Duration = Duration::from_millis(50);

/// The shape of one measured run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Transfers to measure.
    pub txs: usize,
    /// Sending accounts, each a tokio task sending its own nonce sequence (the concurrency).
    pub senders: usize,
    /// Token base units moved by every transfer.
    pub amount: U256,
}

impl LoadConfig {
    /// `txs` transfers of 1 base unit spread over `senders` accounts.
    pub fn new(txs: usize, senders: usize) -> Self {
        Self {
            txs,
            senders,
            amount: U256::from(1u64),
        }
    }
}

/// What one measured run did and what it proved about the chain afterwards.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Transfers sent.
    pub txs: usize,
    /// Concurrent sending accounts.
    pub senders: usize,
    /// From the first `eth_sendRawTransaction` to the last receipt.
    pub elapsed: Duration,
    /// Receipts with status 1.
    pub succeeded: usize,
    /// `gasUsed` of every measured transfer, in send order (index `i` went to [`recipient`]`(i)`).
    pub gas_used: Vec<u64>,
    /// Recipients whose balance equals exactly one transfer's amount afterwards.
    pub recipients_credited: usize,
    /// Senders whose balance dropped by exactly their transfers' total.
    pub senders_debited: usize,
    /// Whether the token's total supply is unchanged by the run.
    pub supply_unchanged: bool,
    /// `evm_mine` calls made to unstick admitted-but-unmined transactions (see `STALL`); 0 on a healthy node.
    pub mine_nudges: usize,
}

impl LoadReport {
    /// Transactions per second, first send to last receipt.
    pub fn tx_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.txs as f64 / secs
        } else {
            0.0
        }
    }

    /// The smallest and largest `gasUsed` of the measured transfers (`None` when nothing ran).
    pub fn gas_range(&self) -> Option<(u64, u64)> {
        let min = self.gas_used.iter().copied().min()?;
        let max = self.gas_used.iter().copied().max()?;
        Some((min, max))
    }

    /// Whether every check passed: all receipts succeeded and every balance moved exactly.
    pub fn is_valid(&self) -> bool {
        self.succeeded == self.txs
            && self.recipients_credited == self.txs
            && self.senders_debited == self.senders
            && self.supply_unchanged
    }
}

/// The fresh recipient of measured transfer `i`: an address with no zero byte, so every transfer's calldata costs
/// the same intrinsic gas and every transfer has the same storage shape (a zero balance becomes non-zero).
pub fn recipient(i: usize) -> Address {
    let mut bytes = [0xBE_u8; 20];
    let mut rest = i;
    for byte in bytes[16..].iter_mut().rev() {
        // Base-255 digits shifted to 1..=255: never zero, unique for i < 255^4.
        *byte = (rest % 255) as u8 + 1;
        rest /= 255;
    }
    Address::from(bytes)
}

/// Fees and limits shared by every transaction of a run.
#[derive(Debug, Clone, Copy)]
struct TxParams {
    chain_id: u64,
    max_fee_per_gas: u128,
}

/// A signed transaction ready to send.
struct SignedTx {
    hash: B256,
    raw: Bytes,
}

fn sign(
    signer: &PrivateKeySigner,
    params: TxParams,
    nonce: u64,
    gas_limit: u64,
    to: TxKind,
    input: Bytes,
) -> Result<SignedTx> {
    let mut tx = TxEip1559 {
        chain_id: params.chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: params.max_fee_per_gas,
        max_priority_fee_per_gas: 0,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        input,
    };
    let signature = signer
        .sign_transaction_sync(&mut tx)
        .context("signing a transaction")?;
    let envelope: TxEnvelope = tx.into_signed(signature).into();
    Ok(SignedTx {
        hash: *envelope.tx_hash(),
        raw: envelope.encoded_2718().into(),
    })
}

/// A plain HTTP JSON-RPC client (no fillers: every byte sent is decided here).
pub(crate) fn client(url: &str) -> Result<RootProvider<Ethereum>> {
    let url = url
        .parse()
        .with_context(|| format!("invalid node URL {url:?}"))?;
    Ok(RootProvider::new_http(url))
}

async fn tx_params(provider: &RootProvider<Ethereum>) -> Result<TxParams> {
    let chain_id = provider.get_chain_id().await.context("eth_chainId")?;
    let gas_price = provider.get_gas_price().await.context("eth_gasPrice")?;
    // Base fees only fall while blocks are far below target, so twice today's price covers the whole run.
    Ok(TxParams {
        chain_id,
        max_fee_per_gas: gas_price.max(1_000_000_000) * 2,
    })
}

/// Waits for `hash`'s receipt, polling; a transaction stuck for [`STALL`] gets an `evm_mine` (counted in
/// `nudges`).
async fn wait_receipt(
    provider: &RootProvider<Ethereum>,
    hash: B256,
    nudges: &AtomicUsize,
) -> Result<TransactionReceipt> {
    let deadline = Instant::now() + RECEIPT_TIMEOUT;
    let mut next_nudge = Instant::now() + STALL;
    loop {
        if let Some(receipt) = provider
            .get_transaction_receipt(hash)
            .await
            .with_context(|| format!("eth_getTransactionReceipt {hash}"))?
        {
            return Ok(receipt);
        }
        if Instant::now() > deadline {
            bail!("no receipt for {hash} after {RECEIPT_TIMEOUT:?}");
        }
        if Instant::now() > next_nudge {
            let _: String = provider
                .raw_request("evm_mine".into(), ())
                .await
                .context("evm_mine")?;
            nudges.fetch_add(1, Ordering::Relaxed);
            next_nudge = Instant::now() + STALL;
        }
        tokio::time::sleep(RECEIPT_POLL).await;
    }
}

/// Sends `txs` in order (one sender's nonce sequence) and returns their receipts.
async fn send_in_order(
    provider: &RootProvider<Ethereum>,
    txs: &[SignedTx],
    nudges: &AtomicUsize,
) -> Result<Vec<TransactionReceipt>> {
    for tx in txs {
        let pending = provider
            .send_raw_transaction(&tx.raw)
            .await
            .with_context(|| format!("eth_sendRawTransaction {}", tx.hash))?;
        ensure!(
            *pending.tx_hash() == tx.hash,
            "node returned hash {} for transaction {}",
            pending.tx_hash(),
            tx.hash
        );
    }
    let mut receipts = Vec::with_capacity(txs.len());
    for tx in txs {
        receipts.push(wait_receipt(provider, tx.hash, nudges).await?);
    }
    Ok(receipts)
}

/// Deploys `initcode` from `deployer` and returns the new contract's address.
pub(crate) async fn deploy(
    url: &str,
    deployer: &PrivateKeySigner,
    initcode: Bytes,
) -> Result<Address> {
    let provider = client(url)?;
    let params = tx_params(&provider).await?;
    let from = deployer.address();
    let nonce = provider
        .get_transaction_count(from)
        .pending()
        .await
        .context("eth_getTransactionCount")?;
    let request = TransactionRequest::default()
        .from(from)
        .input(initcode.clone().into())
        .create();
    let estimate = provider
        .estimate_gas(request)
        .await
        .context("estimating the deployment's gas")?;
    let tx = sign(
        deployer,
        params,
        nonce,
        estimate + estimate / 5,
        TxKind::Create,
        initcode,
    )?;
    let receipts =
        send_in_order(&provider, std::slice::from_ref(&tx), &AtomicUsize::new(0)).await?;
    let receipt = &receipts[0];
    ensure!(receipt.status(), "deployment {} reverted", tx.hash);
    receipt
        .contract_address
        .context("deployment receipt without a contract address")
}

/// Transfers on `token` at `url`: `funder` (holding tokens) first funds every sender — not timed — then the
/// senders send `config.txs` pre-signed transfers concurrently; the time runs from the first send to the last
/// receipt. Afterwards every receipt, every balance and the total supply are checked.
///
/// `senders` must be funded with ETH on the node and hold no tokens; `config.senders` of them are used.
pub async fn run_transfers(
    url: &str,
    token: Address,
    funder: &PrivateKeySigner,
    senders: &[PrivateKeySigner],
    config: &LoadConfig,
) -> Result<LoadReport> {
    ensure!(config.txs > 0, "nothing to send: --txs is 0");
    ensure!(config.senders > 0, "no senders: --concurrency is 0");
    ensure!(
        senders.len() >= config.senders,
        "{} senders requested but only {} funded accounts given",
        config.senders,
        senders.len()
    );
    let senders = &senders[..config.senders.min(config.txs)];
    let provider = client(url)?;
    let params = tx_params(&provider).await?;
    let erc20 = IBrToken::new(token, provider.clone());

    // Transfer i goes from sender i % S: sender s sends `counts[s]` transfers.
    let counts: Vec<usize> = (0..senders.len())
        .map(|s| config.txs / senders.len() + usize::from(s < config.txs % senders.len()))
        .collect();

    // Funding (not timed): each sender gets its transfers' total plus one more amount, so its balance stays
    // non-zero and every measured transfer has the same storage shape.
    let funding_gas = 200_000;
    let mut nonce = provider
        .get_transaction_count(funder.address())
        .pending()
        .await
        .context("eth_getTransactionCount (funder)")?;
    let mut funding = Vec::with_capacity(senders.len());
    for (sender, count) in senders.iter().zip(&counts) {
        let value = config.amount * U256::from(*count as u64 + 1);
        let input = IBrToken::transferCall {
            to: sender.address(),
            value,
        }
        .abi_encode();
        funding.push(sign(
            funder,
            params,
            nonce,
            funding_gas,
            TxKind::Call(token),
            input.into(),
        )?);
        nonce += 1;
    }
    let setup_nudges = AtomicUsize::new(0);
    for (receipt, tx) in send_in_order(&provider, &funding, &setup_nudges)
        .await
        .context("funding the senders")?
        .iter()
        .zip(&funding)
    {
        ensure!(receipt.status(), "funding transfer {} reverted", tx.hash);
    }
    let supply_before = erc20.totalSupply().call().await.context("totalSupply")?;
    let sender_before: Vec<U256> = {
        let mut balances = Vec::with_capacity(senders.len());
        for sender in senders {
            balances.push(
                erc20
                    .balanceOf(sender.address())
                    .call()
                    .await
                    .context("balanceOf")?,
            );
        }
        balances
    };

    // Gas limit: the node's own estimate for one measured transfer, with headroom for refunds and EIP-150.
    let probe = TransactionRequest::default()
        .from(senders[0].address())
        .to(token)
        .input(
            Bytes::from(
                IBrToken::transferCall {
                    to: recipient(0),
                    value: config.amount,
                }
                .abi_encode(),
            )
            .into(),
        );
    let estimate = provider
        .estimate_gas(probe)
        .await
        .context("estimating a transfer's gas")?;
    let gas_limit = estimate + estimate / 2;

    // Pre-sign every measured transfer.
    let mut batches: Vec<Vec<SignedTx>> = Vec::with_capacity(senders.len());
    for (s, sender) in senders.iter().enumerate() {
        let first_nonce = provider
            .get_transaction_count(sender.address())
            .pending()
            .await
            .context("eth_getTransactionCount (sender)")?;
        let mut batch = Vec::with_capacity(counts[s]);
        for k in 0..counts[s] {
            let i = k * senders.len() + s;
            let input = IBrToken::transferCall {
                to: recipient(i),
                value: config.amount,
            }
            .abi_encode();
            batch.push(sign(
                sender,
                params,
                first_nonce + k as u64,
                gas_limit,
                TxKind::Call(token),
                input.into(),
            )?);
        }
        batches.push(batch);
    }

    // Measured: one task per sender; each sends its sequence, then collects its receipts.
    let nudges = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (s, batch) in batches.into_iter().enumerate() {
        let provider = provider.clone();
        let nudges = nudges.clone();
        tasks.spawn(async move {
            let receipts = send_in_order(&provider, &batch, &nudges).await;
            (s, receipts, Instant::now())
        });
    }
    let mut per_sender: Vec<Option<Vec<TransactionReceipt>>> = vec![None; senders.len()];
    let mut last = start;
    while let Some(joined) = tasks.join_next().await {
        let (s, receipts, done) = joined.context("a sender task panicked")?;
        per_sender[s] = Some(receipts.with_context(|| format!("sender {s}"))?);
        last = last.max(done);
    }
    let elapsed = last - start;

    // Checks (not timed).
    let mut gas_used = vec![0u64; config.txs];
    let mut succeeded = 0;
    for (s, receipts) in per_sender.iter().enumerate() {
        for (k, receipt) in receipts.iter().flatten().enumerate() {
            gas_used[k * senders.len() + s] = receipt.gas_used;
            succeeded += usize::from(receipt.status());
        }
    }
    let mut recipients_credited = 0;
    for i in 0..config.txs {
        let balance = erc20
            .balanceOf(recipient(i))
            .call()
            .await
            .context("balanceOf (recipient)")?;
        recipients_credited += usize::from(balance == config.amount);
    }
    let mut senders_debited = 0;
    for ((sender, before), count) in senders.iter().zip(&sender_before).zip(&counts) {
        let after = erc20
            .balanceOf(sender.address())
            .call()
            .await
            .context("balanceOf (sender)")?;
        senders_debited +=
            usize::from(*before == after + config.amount * U256::from(*count as u64));
    }
    let supply_after = erc20.totalSupply().call().await.context("totalSupply")?;
    Ok(LoadReport {
        txs: config.txs,
        senders: senders.len(),
        elapsed,
        succeeded,
        gas_used,
        recipients_credited,
        senders_debited,
        supply_unchanged: supply_before == supply_after,
        mine_nudges: nudges.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn recipients_are_unique_and_have_no_zero_byte() {
        let all: HashSet<Address> = (0..100_000).map(recipient).collect();
        assert_eq!(all.len(), 100_000);
        assert!(all.iter().all(|a| a.iter().all(|b| *b != 0)));
    }

    #[test]
    fn report_rates_and_validity() {
        let report = LoadReport {
            txs: 4,
            senders: 2,
            elapsed: Duration::from_millis(500),
            succeeded: 4,
            gas_used: vec![7, 7, 9, 7],
            recipients_credited: 4,
            senders_debited: 2,
            supply_unchanged: true,
            mine_nudges: 0,
        };
        assert_eq!(report.tx_per_sec(), 8.0);
        assert_eq!(report.gas_range(), Some((7, 9)));
        assert!(report.is_valid());
        assert!(!LoadReport {
            succeeded: 3,
            ..report
        }
        .is_valid());
    }
}
