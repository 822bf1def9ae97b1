//! Deep state for the calldata fuzzer: before random inputs run, the chain is brought to where the deep paths
//! start, by the same transactions a wallet, a node and the keeper send — so random calls to `vote`, `claim`,
//! `settle`, `dispute`, `refund`, `proveByBatch`, `challengeLeaf`, `setYanked`, `withdrawStake`… meet real
//! locks, models, nodes, requests and batches instead of reverting at their first check.
//!
//! Built (roles as in [`crate::params`]: 0 admin, 1 attester, 2 registry keeper, 3 batch keeper):
//! * BR for accounts 5–9 and a veBR lock each (1 week to 4 years), three gauges, and a vote by each locker;
//! * a Registered model (account 5, license without derivatives), a fork of it approved by its owner and
//!   Registered (account 6), a Stored and a Submitted version (accounts 7 and 8);
//! * nodes 6 and 7 staked with approved keys (signing-key possession proofs);
//! * requests in every live status: requested (payer 9 → node 7), answered (8 → 6), proven by its signed
//!   receipt (9 → 6), and a one-leaf batch anchored by the batch keeper holding a receipt of the answered one.
//!
//! The request ids, names, roots and signed receipts join the generator's dictionaries ([`Target::words`],
//! [`Target::blobs`]); the gauges join the address pool.

use alloy::primitives::{keccak256, Address, Bytes, B256, U256};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use devnode::chain::Chain;
use verity_abi::registry::{Format, Relation, LICENSE_DERIVATIVES_FLAG};
use verity_abi::rpc::{key_registration_proof, signed_receipt};
use verity_abi::rpc::{
    IBrToken, IGaugeController, IInferenceSettlement, IModelRegistry, IReceiptBatches,
    ISettlementNodes, IVotingEscrow,
};
use verity_abi::settlement::{encode_signed_receipt, mode, signed_leaf_hash, Receipt};

use crate::calldata::{Target, GAS};
use crate::invariants::Tracked;

const WEEK: u64 = 7 * 86_400;
const ETHER: u128 = 1_000_000_000_000_000_000;

/// Sends `call` to `to` from dev account `from` with `value`; the mined receipt, recorded in `tracked`.
fn send<C: SolCall>(
    chain: &mut Chain,
    target: &Target,
    tracked: &mut Tracked,
    (from, to): (usize, Address),
    call: C,
    value: U256,
) -> Result<TransactionReceipt, String> {
    let name = C::SIGNATURE;
    let request = TransactionRequest::default()
        .from(target.pool[from])
        .to(to)
        .value(value)
        .input(call.abi_encode().into())
        .gas_limit(GAS);
    let request_again = request.clone();
    let hash = chain
        .send_transaction(request)
        .map_err(|e| format!("deep state: {name}: {e}"))?;
    let receipt = chain
        .receipt(hash)
        .ok_or_else(|| format!("deep state: {name}: no receipt"))?;
    if !receipt.status() {
        let why = chain
            .call(&request_again, None, None)
            .err()
            .map(|e| match e {
                devnode::error::Error::Revert(data) => {
                    format!("revert 0x{}", alloy::hex::encode(data))
                }
                e => e.to_string(),
            })
            .unwrap_or_default();
        return Err(format!("deep state: {name} reverted: {why}"));
    }
    tracked.record(&receipt);
    Ok(receipt)
}

/// The address of contract `name` in `target`, or why the deep state cannot be built.
fn at(target: &Target, name: &str) -> Result<Address, String> {
    target
        .address(name)
        .ok_or_else(|| format!("deep state: no {name} deployed"))
}

/// A fixed TEE signing key for node account `account` (deterministic: the same seed replays the same run).
fn tee_key(account: usize) -> Result<PrivateKeySigner, String> {
    PrivateKeySigner::from_bytes(&keccak256(format!("verity fuzz tee key {account}")))
        .map_err(|e| format!("deep state: tee key: {e}"))
}

/// Builds the deep state on `chain`, adds its ids and blobs to `target`, records what it mined in `tracked`.
///
/// # Errors
/// When a set-up transaction reverts (a contract or the plan changed): one line naming it.
pub fn build(chain: &mut Chain, target: &mut Target, tracked: &mut Tracked) -> Result<(), String> {
    if target.accounts < 10 {
        return Err("deep state: needs 10 dev accounts".into());
    }
    votes(chain, target, tracked)?;
    let model = models(chain, target, tracked)?;
    requests(chain, target, tracked, model)
}

/// BR and a lock for accounts 5–9, three gauges, and one vote each.
fn votes(chain: &mut Chain, target: &mut Target, tracked: &mut Tracked) -> Result<(), String> {
    let (token, escrow, gauge) = (
        at(target, "token")?,
        at(target, "escrow")?,
        at(target, "gauge")?,
    );
    let gauges: Vec<Address> = (1..=3u8).map(|g| Address::repeat_byte(0xa0 + g)).collect();
    for g in &gauges {
        send(
            chain,
            target,
            tracked,
            (0, gauge),
            IGaugeController::addGaugeCall { gauge: *g },
            U256::ZERO,
        )?;
    }
    target.pool.extend(gauges.iter().copied());
    let now = chain.pending_timestamp();
    for (k, account) in (5..=9).enumerate() {
        let amount = U256::from(ETHER) * U256::from(1_000u64 << k);
        let to = target.pool[account];
        send(
            chain,
            target,
            tracked,
            (0, token),
            IBrToken::transferCall { to, value: amount },
            U256::ZERO,
        )?;
        let spender = escrow;
        send(
            chain,
            target,
            tracked,
            (account, token),
            IBrToken::approveCall {
                spender,
                value: amount,
            },
            U256::ZERO,
        )?;
        let weeks = [2u64, 4, 26, 104, 208][k];
        send(
            chain,
            target,
            tracked,
            (account, escrow),
            IVotingEscrow::createLockCall {
                value: amount / U256::from(2u8),
                unlock_time: now + weeks * WEEK,
            },
            U256::ZERO,
        )?;
    }
    // Votes count power at the epoch's start: move into the vote window (which opens an hour into the epoch) of
    // the first epoch that starts after the locks.
    let config = crate::invariants::view(chain, gauge, IGaugeController::configCall {})
        .ok_or("deep state: gauge config() does not answer")?;
    let (genesis, epoch) = (config._2, config._3.max(1));
    let now = chain.pending_timestamp();
    let next = if now < genesis {
        genesis
    } else {
        genesis + ((now - genesis) / epoch + 1) * epoch
    };
    chain.increase_time(next - now + 2 * 3_600);
    for (k, account) in (5..=9).enumerate() {
        // Within the 25% per-voter cap the fuzzer deploys with.
        let bps = vec![2_000u16, 1_000 + 500 * k as u16, 500];
        send(
            chain,
            target,
            tracked,
            (account, gauge),
            IGaugeController::voteCall {
                gauges: gauges.clone(),
                bps,
            },
            U256::ZERO,
        )?;
    }
    Ok(())
}

/// Submits a version of `name` from `account` (parents `parents`); returns its id.
fn submit(
    chain: &mut Chain,
    target: &mut Target,
    tracked: &mut Tracked,
    account: usize,
    name: &str,
    parents: Vec<U256>,
) -> Result<U256, String> {
    let registry = at(target, "registry")?;
    let name = B256::right_padding_from(name.as_bytes());
    let relation = if parents.is_empty() {
        Relation::Original
    } else {
        Relation::Finetune
    };
    // No derivatives flag: a fork by another account needs the owner's approval.
    let mut license = B256::repeat_byte(0x33);
    license.0[31] &= !LICENSE_DERIVATIVES_FLAG;
    let content = keccak256(name);
    send(
        chain,
        target,
        tracked,
        (account, registry),
        IModelRegistry::submitCall {
            name,
            version: 1,
            parents,
            relation: relation.code(),
            content_hash: content,
            size: 4_096,
            storage_uri: Bytes::from_static(b"https://models.example/weights"),
            format: Format::Safetensors.code(),
            runtime: B256::repeat_byte(0x11),
            io_schema_hash: B256::repeat_byte(0x22),
            license_id: license,
            metadata_hash: B256::repeat_byte(0x44),
            metadata_uri: Bytes::from_static(b"https://models.example/card"),
            tags: vec![B256::right_padding_from(b"fuzz".as_slice())],
        },
        U256::from(ETHER / 100),
    )?;
    target.words.extend([name, content]);
    tracked
        .versions
        .iter()
        .rev()
        .find(|(_, v)| v.name == name)
        .map(|(id, _)| *id)
        .ok_or_else(|| "deep state: submit emitted no VersionSubmitted".into())
}

/// Confirms `id`'s storage as the attester (account 1).
fn store(
    chain: &mut Chain,
    target: &Target,
    tracked: &mut Tracked,
    id: U256,
) -> Result<(), String> {
    let registry = at(target, "registry")?;
    let name = tracked
        .versions
        .get(&id)
        .map(|v| v.name)
        .unwrap_or_default();
    let expiry = chain.pending_timestamp() + 400 * 86_400;
    send(
        chain,
        target,
        tracked,
        (1, registry),
        IModelRegistry::confirmStorageCall {
            id,
            content_hash: keccak256(name),
            size: 4_096,
            storage_expiry: expiry,
        },
        U256::ZERO,
    )
    .map(|_| ())
}

/// Registers `ids` as the registry keeper (account 2).
fn finalize(
    chain: &mut Chain,
    target: &Target,
    tracked: &mut Tracked,
    ids: Vec<U256>,
) -> Result<(), String> {
    let registry = at(target, "registry")?;
    send(
        chain,
        target,
        tracked,
        (2, registry),
        IModelRegistry::finalizeRegistrationsCall { ids },
        U256::ZERO,
    )
    .map(|_| ())
}

/// A Registered model, an approved fork of it, a Stored and a Submitted version; returns the model's id.
fn models(chain: &mut Chain, target: &mut Target, tracked: &mut Tracked) -> Result<U256, String> {
    let registry = at(target, "registry")?;
    let base = submit(chain, target, tracked, 5, "fuzz-base", vec![])?;
    store(chain, target, tracked, base)?;
    finalize(chain, target, tracked, vec![base])?;
    let forker = target.pool[6];
    send(
        chain,
        target,
        tracked,
        (5, registry),
        IModelRegistry::approveForkCall {
            parent: base,
            forker,
        },
        U256::ZERO,
    )?;
    let fork = submit(chain, target, tracked, 6, "fuzz-fork", vec![base])?;
    store(chain, target, tracked, fork)?;
    finalize(chain, target, tracked, vec![fork])?;
    let stored = submit(chain, target, tracked, 7, "fuzz-stored", vec![base])?;
    store(chain, target, tracked, stored)?;
    submit(chain, target, tracked, 8, "fuzz-pending", vec![])?;
    Ok(base)
}

/// Nodes 6 and 7 staked with approved keys, requests in each live status and a one-leaf batch.
fn requests(
    chain: &mut Chain,
    target: &mut Target,
    tracked: &mut Tracked,
    model: U256,
) -> Result<(), String> {
    let (nodes, settlement, batches) = (
        at(target, "settlement-nodes")?,
        at(target, "settlement")?,
        at(target, "settlement-batches")?,
    );
    let chain_id = chain.chain_id();
    let stake = U256::from(10 * ETHER);
    for account in [6usize, 7] {
        let key = tee_key(account)?;
        let node = target.pool[account];
        let proof = key_registration_proof(&key, chain_id, nodes, node)
            .map_err(|e| format!("deep state: key proof: {e}"))?;
        send(
            chain,
            target,
            tracked,
            (account, nodes),
            ISettlementNodes::registerNodeCall {
                signing_key: key.address(),
                key_proof: proof,
            },
            stake,
        )?;
        send(
            chain,
            target,
            tracked,
            (0, nodes),
            ISettlementNodes::approveKeyCall {
                key: key.address(),
                measurement: keccak256(b"verity fuzz enclave"),
            },
            U256::ZERO,
        )?;
    }
    let fee = U256::from(ETHER / 1_000);
    // (request id, payer, node): requested only; answered and batched; proven by its receipt.
    let plan = [(1u8, 9usize, 7usize), (2, 8, 6), (3, 9, 6)];
    for (n, payer, node) in plan {
        let request_id = keccak256([b'r', n]);
        let input_hash = keccak256([b'i', n]);
        send(
            chain,
            target,
            tracked,
            (payer, settlement),
            IInferenceSettlement::requestCall {
                request_id,
                node: target.pool[node],
                model_version: model,
                input_hash,
                receipt_mode: mode::TEE,
            },
            fee,
        )?;
        target.words.extend([request_id, input_hash]);
        if n == 1 {
            continue;
        }
        let output_hash = keccak256([b'o', n]);
        send(
            chain,
            target,
            tracked,
            (node, settlement),
            IInferenceSettlement::answerCall {
                request_id,
                output_hash,
            },
            U256::ZERO,
        )?;
        let receipt = Receipt {
            requestId: request_id,
            modelVersion: model,
            inputHash: input_hash,
            outputHash: output_hash,
            payer: target.pool[payer],
            node: target.pool[node],
            fee,
            mode: mode::TEE,
            signedAt: chain.pending_timestamp(),
        };
        let signed = signed_receipt(&tee_key(node)?, chain_id, settlement, receipt)
            .map_err(|e| format!("deep state: signing: {e}"))?;
        let encoded: Bytes = encode_signed_receipt(&signed).to_vec().into();
        target.blobs.push(encoded.clone());
        if n == 2 {
            let root = signed_leaf_hash(&signed);
            target.words.push(root);
            send(
                chain,
                target,
                tracked,
                (3, batches),
                IReceiptBatches::anchorBatchCall {
                    root,
                    count: 1,
                    data_uri: "https://keeper.example/batches/1".into(),
                },
                U256::from(ETHER / 10),
            )?;
        } else {
            send(
                chain,
                target,
                tracked,
                (node, settlement),
                IInferenceSettlement::proveWithReceiptCall {
                    signed: encoded,
                    zk_proof: Bytes::new(),
                },
                U256::ZERO,
            )?;
        }
    }
    Ok(())
}
