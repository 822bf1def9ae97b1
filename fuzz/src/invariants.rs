//! The INVARIANTS.md rows the calldata fuzzer checks after every sequence, from the contracts' own views and the
//! events of the transactions it mined ([`Tracked`]).
//!
//! Checked (each a row of INVARIANTS.md; the README's "Invariants by suite" table names them):
//! * **BR**: Σ `balanceOf` over every address that ever held BR == `totalSupply` ≤ `cap`.
//! * **veBR**: Σ `balanceOf` == `totalSupply` *exactly*; `supply()` == Σ locked amounts; BR held ≥ `supply()`.
//! * **GaugeController**: minted − claimed == carried + Σ claimable, and BR held ≥ that.
//! * **ModelRegistry**: `isUsable(id)` ⇔ Registered, and a Registered version is not usable a second before its
//!   registration; statuses move only along the lifecycle (Rejected and Expired are final, Yanked only from and
//!   back to Registered); `pendingCount()` == Submitted + Stored versions; every parent id is below its child's
//!   (lineage acyclic); per name, registered versions strictly increase in id order.
//! * **InferenceSettlement**: `config().escrowed` == Σ fees of open requests + dispute bonds of disputed ones + Σ
//!   credits, and ETH held ≥ that; `openRequests(node)` == the node's open requests; Settled and Refunded are
//!   final, and no request goes back to "none".
//! * **SettlementNodes**: `escrowed()` == Σ stakes + Σ credits ≤ ETH held.
//! * **ReceiptBatches**: `escrowed()` == Σ bonds of anchored batches + Σ credits ≤ ETH held; Final and Voided
//!   are final.
//! * Every argument-less view of every contract still answers (no input bricks a contract).
//!
//! ETH and BR *held* are compared with `≥`: anyone may donate (a plain transfer, or `selfdestruct`), no contract
//! can refuse it; the contract's own accounting is compared with `==`.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::{Address, Bytes, B256, U256};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use devnode::chain::Chain;
use verity_abi::registry::Status;
use verity_abi::rpc::{
    IBrToken, IGaugeController, IInferenceSettlement, IModelRegistry, IReceiptBatches,
    ISettlementNodes, IVotingEscrow,
};
use verity_abi::settlement::{batch_status, request_status};

use crate::calldata::{interfaces, Target, GAS};

/// A submitted model version as its `VersionSubmitted` event showed it.
#[derive(Debug, Clone)]
pub struct Version {
    /// The name it was submitted under.
    pub name: B256,
    /// Its version number.
    pub version: u64,
    /// Its parents' ids.
    pub parents: Vec<U256>,
    /// The last status the registry answered for it (`None` before the first check).
    pub status: Option<u8>,
}

/// What the mined transactions showed: who may hold value, and every version, request and batch to check.
#[derive(Debug, Clone, Default)]
pub struct Tracked {
    /// Every address that received BR or a credit, or staked.
    pub holders: BTreeSet<Address>,
    /// Model versions by id.
    pub versions: BTreeMap<U256, Version>,
    /// Requests by id, with the last status seen.
    pub requests: BTreeMap<B256, u8>,
    /// Batches by id, with the last status seen.
    pub batches: BTreeMap<U256, u8>,
    /// Registered nodes.
    pub nodes: BTreeSet<Address>,
}

impl Tracked {
    /// Records what `receipt`'s logs reveal.
    pub fn record(&mut self, receipt: &TransactionReceipt) {
        for log in receipt.inner.logs() {
            let inner = &log.inner;
            if let Ok(t) = IBrToken::Transfer::decode_log(inner) {
                self.holders.insert(t.to);
            } else if let Ok(v) = IModelRegistry::VersionSubmitted::decode_log(inner) {
                self.versions.entry(v.id).or_insert(Version {
                    name: v.name,
                    version: v.version,
                    parents: v.parents.clone(),
                    status: None,
                });
            } else if let Ok(r) = IInferenceSettlement::Requested::decode_log(inner) {
                self.requests
                    .entry(r.requestId)
                    .or_insert(request_status::NONE);
                self.holders.extend([r.payer, r.node]);
            } else if let Ok(b) = IReceiptBatches::BatchAnchored::decode_log(inner) {
                self.batches.entry(b.batchId).or_insert(batch_status::NONE);
                self.holders.insert(b.submitter);
            } else if let Ok(n) = ISettlementNodes::NodeRegistered::decode_log(inner) {
                self.nodes.insert(n.node);
            } else if let Ok(c) = IInferenceSettlement::Credited::decode_log(inner) {
                // The three settlement contracts share the event's signature.
                self.holders.insert(c.account);
            } else if let Ok(s) = ISettlementNodes::Slashed::decode_log(inner) {
                self.holders.insert(s.to);
            }
        }
    }
}

/// Calls a view of `to` with `data`.
pub(crate) fn view_call(chain: &mut Chain, to: Address, data: Vec<u8>) -> Result<Bytes, String> {
    let request = TransactionRequest::default()
        .to(to)
        .input(data.into())
        .gas_limit(GAS);
    chain.call(&request, None, None).map_err(|e| e.to_string())
}

/// Calls `call` on `to` and decodes its return value (`None` on a revert or a bad encoding).
pub(crate) fn view<C: SolCall>(chain: &mut Chain, to: Address, call: C) -> Option<C::Return> {
    let data = view_call(chain, to, call.abi_encode()).ok()?;
    C::abi_decode_returns(&data).ok()
}

/// Every invariant of the module's list; one line per broken one. Updates `tracked`'s last-seen statuses.
pub fn check(chain: &mut Chain, target: &Target, tracked: &mut Tracked) -> Vec<String> {
    let mut broken = Vec::new();
    let holders: BTreeSet<Address> = target
        .pool
        .iter()
        .chain(tracked.holders.iter())
        .copied()
        .collect();
    broken.extend(check_token(chain, target, &holders));
    broken.extend(check_escrow(chain, target, &holders));
    broken.extend(check_gauge(chain, target));
    broken.extend(check_registry(chain, target, tracked));
    broken.extend(check_settlement(chain, target, tracked, &holders));
    broken.extend(check_stakes_and_bonds(chain, target, tracked, &holders));
    for iface in interfaces() {
        let Some(to) = target.address(iface.name) else {
            continue;
        };
        for (selector, signature) in iface.selectors.iter().zip(iface.signatures) {
            if signature.ends_with("()") && iface.is_view(signature) {
                if let Err(e) = view_call(chain, to, selector.to_vec()) {
                    broken.push(format!("{}.{signature} no longer answers: {e}", iface.name));
                }
            }
        }
    }
    broken
}

fn br_balance(chain: &mut Chain, token: Address, of: Address) -> Option<U256> {
    view(chain, token, IBrToken::balanceOfCall { account: of })
}

fn check_token(chain: &mut Chain, target: &Target, holders: &BTreeSet<Address>) -> Vec<String> {
    let Some(token) = target.address("token") else {
        return Vec::new();
    };
    let supply = view(chain, token, IBrToken::totalSupplyCall {});
    let cap = view(chain, token, IBrToken::capCall {});
    let mut sum = U256::ZERO;
    for holder in holders {
        sum += br_balance(chain, token, *holder).unwrap_or_default();
    }
    match (supply, cap) {
        (Some(s), Some(c)) if s == sum && s <= c => Vec::new(),
        other => vec![format!(
            "BR books: Σ balances {sum} vs (totalSupply, cap) {other:?}"
        )],
    }
}

fn check_escrow(chain: &mut Chain, target: &Target, holders: &BTreeSet<Address>) -> Vec<String> {
    let (Some(token), Some(escrow)) = (target.address("token"), target.address("escrow")) else {
        return Vec::new();
    };
    let mut broken = Vec::new();
    let supply = view(chain, escrow, IVotingEscrow::supplyCall {});
    let held = br_balance(chain, token, escrow);
    if !matches!((supply, held), (Some(owed), Some(held)) if held >= owed) {
        broken.push(format!("veBR books: supply {supply:?} vs BR held {held:?}"));
    }
    let (mut power, mut locked) = (U256::ZERO, U256::ZERO);
    for owner in holders {
        power += view(
            chain,
            escrow,
            IVotingEscrow::balanceOfCall { owner: *owner },
        )
        .unwrap_or_default();
        locked += view(chain, escrow, IVotingEscrow::lockedCall { owner: *owner })
            .map(|l| l._0)
            .unwrap_or_default();
    }
    let total = view(chain, escrow, IVotingEscrow::totalSupplyCall {});
    if total != Some(power) {
        broken.push(format!(
            "veBR power: Σ balanceOf {power} != totalSupply {total:?}"
        ));
    }
    if supply != Some(locked) {
        broken.push(format!("veBR supply {supply:?} != Σ locked {locked}"));
    }
    broken
}

fn check_gauge(chain: &mut Chain, target: &Target) -> Vec<String> {
    let (Some(token), Some(gauge)) = (target.address("token"), target.address("gauge")) else {
        return Vec::new();
    };
    let totals = view(chain, gauge, IGaugeController::totalsCall {});
    let gauges = view(chain, gauge, IGaugeController::gaugesCall {}).unwrap_or_default();
    let mut claimable = U256::ZERO;
    for g in gauges {
        claimable += view(
            chain,
            gauge,
            IGaugeController::gaugeInfoCall { gauge: g, e: 0 },
        )
        .map(|i| i._2)
        .unwrap_or_default();
    }
    let held = br_balance(chain, token, gauge);
    match totals {
        Some(t)
            if t._1 >= t._2
                && held.is_some_and(|h| h >= t._1 - t._2)
                && t._1 - t._2 == t._3 + claimable =>
        {
            Vec::new()
        }
        other => vec![format!(
            "gauge books: (minted, claimed, carried) {:?}, Σ claimable {claimable}, BR held {held:?}",
            other.map(|t| (t._1, t._2, t._3))
        )],
    }
}

/// Whether a version may move from status `from` to `to` (the registry's lifecycle).
fn version_step_allowed(from: u8, to: u8) -> bool {
    use Status as S;
    let (Ok(from), Ok(to)) = (S::try_from(from), S::try_from(to)) else {
        return false;
    };
    from == to
        || matches!(
            (from, to),
            (
                S::Submitted,
                S::Stored | S::Registered | S::Rejected | S::Expired
            ) | (S::Stored, S::Registered | S::Rejected | S::Expired)
                | (S::Registered, S::Yanked)
                | (S::Yanked, S::Registered)
        )
}

fn check_registry(chain: &mut Chain, target: &Target, tracked: &mut Tracked) -> Vec<String> {
    let Some(registry) = target.address("registry") else {
        return Vec::new();
    };
    let mut broken = Vec::new();
    let mut pending = 0u64;
    // Per name: the highest version registered so far, in id order.
    let mut highest: BTreeMap<B256, u64> = BTreeMap::new();
    for (id, v) in tracked.versions.iter_mut() {
        let Some(info) = view(chain, registry, IModelRegistry::versionCall { id: *id }) else {
            broken.push(format!("registry: version({id}) no longer answers"));
            continue;
        };
        let status = info.status;
        if let Some(before) = v.status {
            if !version_step_allowed(before, status) {
                broken.push(format!(
                    "registry: version {id} moved from status {before} to {status}"
                ));
            }
        }
        v.status = Some(status);
        let registered = status == Status::Registered.code();
        if matches!(
            Status::try_from(status),
            Ok(Status::Submitted | Status::Stored)
        ) {
            pending += 1;
        }
        let usable = view(chain, registry, IModelRegistry::isUsableCall { id: *id });
        if usable != Some(registered) {
            broken.push(format!(
                "registry: version {id} status {status} but isUsable {usable:?}"
            ));
        }
        if registered || status == Status::Yanked.code() {
            let before = view(
                chain,
                registry,
                IModelRegistry::usableAtCall {
                    id: *id,
                    t: info.registeredAt.saturating_sub(1),
                },
            );
            if before != Some(false) || info.registeredAt == 0 {
                broken.push(format!(
                    "registry: version {id} registered at {} but usable a second before: {before:?}",
                    info.registeredAt
                ));
            }
            if let Some(h) = highest.get(&v.name).filter(|h| **h >= v.version) {
                broken.push(format!(
                    "registry: version {id} ({}) registered after version {h} of the same name",
                    v.version
                ));
            }
            highest.insert(v.name, v.version);
        }
        if let Some(p) = v.parents.iter().find(|p| *p >= id) {
            broken.push(format!("registry: version {id} has parent {p} (not older)"));
        }
    }
    let count = view(chain, registry, IModelRegistry::pendingCountCall {});
    if count != Some(pending) {
        broken.push(format!(
            "registry: pendingCount {count:?} but {pending} versions Submitted or Stored"
        ));
    }
    broken
}

fn check_settlement(
    chain: &mut Chain,
    target: &Target,
    tracked: &mut Tracked,
    holders: &BTreeSet<Address>,
) -> Vec<String> {
    let Some(settlement) = target.address("settlement") else {
        return Vec::new();
    };
    let mut broken = Vec::new();
    let mut owed = U256::ZERO;
    let mut open: BTreeMap<Address, u64> = BTreeMap::new();
    for (id, last) in tracked.requests.iter_mut() {
        let Some(r) = view(
            chain,
            settlement,
            IInferenceSettlement::getRequestCall { request_id: *id },
        ) else {
            broken.push(format!("settlement: getRequest({id}) no longer answers"));
            continue;
        };
        let status = r._6;
        let final_before = matches!(*last, request_status::SETTLED | request_status::REFUNDED);
        if status == request_status::NONE || (final_before && status != *last) {
            broken.push(format!(
                "settlement: request {id} moved from status {last} to {status}"
            ));
        }
        *last = status;
        if matches!(
            status,
            request_status::REQUESTED
                | request_status::ANSWERED
                | request_status::PROVEN
                | request_status::DISPUTED
        ) {
            owed += r._3;
            if status == request_status::DISPUTED {
                owed += r._10;
            }
            *open.entry(r._1).or_default() += 1;
        }
    }
    for account in holders {
        owed += view(
            chain,
            settlement,
            IInferenceSettlement::creditCall { account: *account },
        )
        .unwrap_or_default();
    }
    let escrowed = view(chain, settlement, IInferenceSettlement::configCall {}).map(|c| c._10);
    let held = chain.balance(settlement, None).ok();
    if escrowed != Some(owed) || held.is_none_or(|h| h < owed) {
        broken.push(format!(
            "settlement books: config().escrowed {escrowed:?}, open fees + bonds + credits {owed}, ETH held {held:?}"
        ));
    }
    for node in tracked
        .nodes
        .iter()
        .chain(open.keys())
        .collect::<BTreeSet<_>>()
    {
        let expected = open.get(node).copied().unwrap_or_default();
        let counted = view(
            chain,
            settlement,
            IInferenceSettlement::openRequestsCall { node: *node },
        );
        if counted != Some(expected) {
            broken.push(format!(
                "settlement: openRequests({node}) {counted:?} but {expected} open requests"
            ));
        }
    }
    broken
}

fn check_stakes_and_bonds(
    chain: &mut Chain,
    target: &Target,
    tracked: &mut Tracked,
    holders: &BTreeSet<Address>,
) -> Vec<String> {
    let mut broken = Vec::new();
    if let Some(nodes) = target.address("settlement-nodes") {
        let mut owed = U256::ZERO;
        for node in &tracked.nodes {
            owed += view(chain, nodes, ISettlementNodes::nodeCall { node: *node })
                .map(|n| n._1)
                .unwrap_or_default();
        }
        for account in holders {
            owed += view(
                chain,
                nodes,
                ISettlementNodes::creditCall { account: *account },
            )
            .unwrap_or_default();
        }
        let escrowed = view(chain, nodes, ISettlementNodes::escrowedCall {});
        let held = chain.balance(nodes, None).ok();
        if escrowed != Some(owed) || held.is_none_or(|h| h < owed) {
            broken.push(format!(
                "settlement-nodes books: escrowed() {escrowed:?}, stakes + credits {owed}, ETH held {held:?}"
            ));
        }
    }
    if let Some(batches) = target.address("settlement-batches") {
        let mut owed = U256::ZERO;
        for (id, last) in tracked.batches.iter_mut() {
            let Some(b) = view(chain, batches, IReceiptBatches::batchCall { batch_id: *id }) else {
                broken.push(format!("settlement-batches: batch({id}) no longer answers"));
                continue;
            };
            let status = b._5;
            let final_before = matches!(*last, batch_status::FINAL | batch_status::VOIDED);
            if status == batch_status::NONE || (final_before && status != *last) {
                broken.push(format!(
                    "settlement-batches: batch {id} moved from status {last} to {status}"
                ));
            }
            *last = status;
            if status == batch_status::ANCHORED {
                owed += b._4;
            }
        }
        for account in holders {
            owed += view(
                chain,
                batches,
                IReceiptBatches::creditCall { account: *account },
            )
            .unwrap_or_default();
        }
        let escrowed = view(chain, batches, IReceiptBatches::escrowedCall {});
        let held = chain.balance(batches, None).ok();
        if escrowed != Some(owed) || held.is_none_or(|h| h < owed) {
            broken.push(format!(
                "settlement-batches books: escrowed() {escrowed:?}, anchored bonds + credits {owed}, ETH held {held:?}"
            ));
        }
    }
    broken
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_lifecycle_allows_only_its_own_steps() {
        use Status as S;
        let ok = |a: S, b: S| version_step_allowed(a.code(), b.code());
        assert!(ok(S::Submitted, S::Stored) && ok(S::Stored, S::Registered));
        assert!(ok(S::Registered, S::Yanked) && ok(S::Yanked, S::Registered));
        assert!(ok(S::Submitted, S::Expired) && ok(S::Stored, S::Rejected));
        assert!(!ok(S::Rejected, S::Registered) && !ok(S::Expired, S::Submitted));
        assert!(!ok(S::Registered, S::Stored) && !ok(S::Yanked, S::Rejected));
        assert!(!ok(S::Registered, S::Submitted));
        assert!(!version_step_allowed(S::Submitted.code(), 99));
    }
}
