//! The ModelRegistry as real WASM on devnode, deployed by Verity's plan and driven over JSON-RPC as a wallet
//! (submit, yank, withdraw), the attester (confirmStorage), the keeper (finalizeRegistrations) and strangers
//! (liveness) drive it. Every event is decoded with the types declared in `verity-abi`; every revert is decoded
//! into its typed error; fee conservation is checked from chain state after every step that moves ether.

use alloy::{
    network::Ethereum,
    primitives::{Address, Bytes, B256, U256},
    providers::Provider,
    rpc::types::TransactionReceipt,
};
use verity_abi::{
    registry::{
        storage_item, FeesWithdrawn, Format, NameTransferred, Reason, RefundCredited,
        RefundWithdrawn, RegistryAlreadyFinal, RegistryAlreadyStored, RegistryInsufficientFee,
        RegistryNotExpired, RegistryNotNameOwner, RegistryNothingToWithdraw, RegistryUnauthorized,
        RegistryVersionNotIncreasing, Relation, Role, RoleChanged, Status, StorageConfirmed,
        VersionFinalized, VersionSubmitted, YankChanged,
    },
    rpc::IModelRegistry::{self, IModelRegistryInstance},
};
use verity_script::deploy::{
    mapping_slot,
    verity::{registry_layout, RegistryParams},
};

use crate::support::{events, expect_error, now, tx, Harness};

pub(crate) const ADMIN: usize = 0;
pub(crate) const ATTESTER: usize = 1;
pub(crate) const KEEPER: usize = 2;
pub(crate) const ALICE: usize = 3;
pub(crate) const BOB: usize = 4;
pub(crate) const OUTSIDER: usize = 5;

pub(crate) const CONTENT: B256 = B256::repeat_byte(0xc1);
pub(crate) const SIZE: u64 = 4_096;

pub(crate) fn name(text: &str) -> B256 {
    let mut word = [0u8; 32];
    word[..text.len()].copy_from_slice(text.as_bytes());
    B256::from(word)
}

fn params() -> RegistryParams {
    RegistryParams::default()
}

pub(crate) fn min_fee() -> U256 {
    params().min_fee
}

/// A complete submission, adjustable before sending.
#[derive(Clone)]
pub(crate) struct Sub {
    pub(crate) name: B256,
    pub(crate) version: u64,
    pub(crate) parents: Vec<U256>,
    pub(crate) relation: Relation,
    pub(crate) license: B256,
    pub(crate) fee: U256,
}

impl Sub {
    pub(crate) fn original(name: B256, version: u64) -> Self {
        Self {
            name,
            version,
            parents: vec![],
            relation: Relation::Original,
            license: B256::repeat_byte(0x33),
            fee: min_fee(),
        }
    }

    pub(crate) fn derived(name: B256, version: u64, relation: Relation, parents: &[U256]) -> Self {
        Self {
            parents: parents.to_vec(),
            relation,
            ..Self::original(name, version)
        }
    }
}

pub(crate) type Registry<P> = IModelRegistryInstance<P, Ethereum>;

/// One registry binding per dev account (each with its own provider, whose nonce cache sees all its txs).
pub(crate) struct World<P> {
    pub(crate) h: Harness,
    pub(crate) at: Address,
    pub(crate) r: Vec<Registry<P>>,
}

/// Verity deployed by its plan, with the attester and keeper roles moved by the admin from the deployer
/// (the plan's dev default) to accounts 1 and 2 over JSON-RPC.
pub(crate) async fn world() -> World<impl Provider + Clone> {
    let h = Harness::start().await;
    let at = h.address("registry");
    let r: Vec<_> = (0..6)
        .map(|i| IModelRegistry::new(at, h.wallet(i)))
        .collect();
    let admin = &r[ADMIN];
    for (account, role) in [(ATTESTER, Role::Attester), (KEEPER, Role::Keeper)] {
        let receipt = tx!(admin.setRole(h.account(account), role.code(), true));
        let changed = &events::<RoleChanged>(&receipt)[0];
        assert_eq!(
            (changed.account, changed.role, changed.granted),
            (h.account(account), role.code(), true)
        );
        tx!(admin.setRole(h.account(ADMIN), role.code(), false));
    }
    World { h, at, r }
}

impl<P: Provider + Clone> World<P> {
    /// Submits `s` from account `who`; returns the new id and the receipt.
    pub(crate) async fn submit(&self, who: usize, s: &Sub) -> (U256, TransactionReceipt) {
        let receipt = tx!(self.submit_call(who, s));
        let submitted = events::<VersionSubmitted>(&receipt);
        assert_eq!(submitted.len(), 1);
        (submitted[0].id, receipt)
    }

    pub(crate) fn submit_call(
        &self,
        who: usize,
        s: &Sub,
    ) -> alloy::contract::SolCallBuilder<&P, IModelRegistry::submitCall> {
        self.r[who]
            .submit(
                s.name,
                s.version,
                s.parents.clone(),
                s.relation.code(),
                CONTENT,
                SIZE,
                Bytes::from_static(b"ipfs://weights"),
                Format::Safetensors.code(),
                B256::repeat_byte(0x11),
                B256::repeat_byte(0x22),
                s.license,
                B256::repeat_byte(0x44),
                Bytes::from_static(b"ipfs://card"),
                vec![B256::repeat_byte(0x55)],
            )
            .value(s.fee)
    }

    pub(crate) async fn confirm(&self, id: U256) -> TransactionReceipt {
        let expiry = now(&self.h).await + 365 * 86_400;
        tx!(self.r[ATTESTER].confirmStorage(id, CONTENT, SIZE, expiry))
    }

    pub(crate) async fn finalize(&self, who: usize, ids: &[U256]) -> Vec<VersionFinalized> {
        let receipt = tx!(self.r[who].finalizeRegistrations(ids.to_vec()));
        events::<VersionFinalized>(&receipt)
    }

    pub(crate) async fn status(&self, id: U256) -> Status {
        let info = self.r[ADMIN].version(id).call().await.expect("version");
        Status::try_from(info.status).expect("status code")
    }

    /// Refunds credited to `account` and not withdrawn, read from the registry's storage (the contract has no
    /// view for it: size; wallets learn it from `RefundCredited` / `RefundWithdrawn`).
    pub(crate) async fn refundable(&self, account: Address) -> U256 {
        let slot = mapping_slot(account.into_word(), registry_layout::ACCOUNTS_SLOT);
        let word = self
            .h
            .wallet(0)
            .get_storage_at(self.at, slot)
            .await
            .unwrap();
        word & U256::from(u128::MAX)
    }

    pub(crate) async fn balance(&self, account: Address) -> U256 {
        self.h.wallet(0).get_balance(account).await.unwrap()
    }

    /// Fee conservation from chain state: the registry's balance equals the fees escrowed for pending versions,
    /// plus the refunds credited and not withdrawn, plus the fees earned by registered versions and not withdrawn
    /// (`FeesWithdrawn` amounts summed by the caller in `fees_withdrawn`).
    pub(crate) async fn assert_conservation(&self, fees_withdrawn: U256) {
        let registry = &self.r[ADMIN];
        let (mut escrowed, mut earned) = (U256::ZERO, U256::ZERO);
        let mut id = U256::from(1);
        while let Ok(info) = registry.version(id).call().await {
            let status = Status::try_from(info.status).unwrap();
            if status.is_pending() {
                escrowed += info.fee;
            } else if matches!(status, Status::Registered | Status::Yanked) {
                earned += info.fee;
            }
            id += U256::from(1);
        }
        let mut refunds = U256::ZERO;
        for i in 0..6 {
            refunds += self.refundable(self.h.account(i)).await;
        }
        assert_eq!(
            self.balance(self.at).await,
            escrowed + refunds + earned - fees_withdrawn,
            "balance == escrowed {escrowed} + refunds owed {refunds} + earned {earned} - withdrawn {fees_withdrawn}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_as_wallet_attester_and_keeper() {
    let w = world().await;
    let (alice, bob) = (w.h.account(ALICE), w.h.account(BOB));
    let llama = name("llama");

    // Submit: fee escrowed (with a priority fee), the name claimed, nothing usable yet.
    let v1 = Sub {
        fee: min_fee() + U256::from(500),
        ..Sub::original(llama, 1)
    };
    let (id1, receipt) = w.submit(ALICE, &v1).await;
    let submitted = &events::<VersionSubmitted>(&receipt)[0];
    assert_eq!(
        (submitted.name, submitted.submitter, submitted.version),
        (llama, alice, 1)
    );
    assert_eq!(
        (submitted.fee, submitted.priorityFee),
        (v1.fee, U256::from(500))
    );
    assert_eq!(&submitted.storageUri[..], b"ipfs://weights");
    assert_eq!(submitted.tags, vec![B256::repeat_byte(0x55)]);
    let claimed = &events::<NameTransferred>(&receipt)[0];
    assert_eq!(
        (claimed.name, claimed.previousOwner, claimed.newOwner),
        (llama, Address::ZERO, alice)
    );
    assert_eq!(w.balance(w.at).await, v1.fee, "fee escrowed");
    assert_eq!(w.status(id1).await, Status::Submitted);
    assert_eq!(w.r[ADMIN].pendingCount().call().await.unwrap(), 1);
    assert!(!w.r[ADMIN].isUsable(id1).call().await.unwrap());
    w.assert_conservation(U256::ZERO).await;

    // Versions strictly increase per name; the name is Alice's; the fee has a floor.
    let again = expect_error::<_, RegistryVersionNotIncreasing>(
        w.submit_call(ALICE, &Sub::original(llama, 1)).call().await,
    );
    assert_eq!((again.version, again.highest), (1, 1));
    let foreign = expect_error::<_, RegistryNotNameOwner>(
        w.submit_call(BOB, &Sub::original(llama, 9)).call().await,
    );
    assert_eq!((foreign.name, foreign.account), (llama, bob));
    let cheap = Sub {
        fee: min_fee() - U256::from(1),
        ..Sub::original(name("cheap"), 1)
    };
    expect_error::<_, RegistryInsufficientFee>(w.submit_call(BOB, &cheap).call().await);

    // Storage stage: confirmed → Stored, still not usable; a second attestation is the typed "already done".
    let receipt = w.confirm(id1).await;
    assert_eq!(events::<StorageConfirmed>(&receipt)[0].id, id1);
    assert_eq!(w.status(id1).await, Status::Stored);
    assert!(!w.r[ADMIN].isUsable(id1).call().await.unwrap());
    let expiry = now(&w.h).await + 86_400;
    expect_error::<_, RegistryAlreadyStored>(
        w.r[ATTESTER]
            .confirmStorage(id1, CONTENT, SIZE, expiry)
            .call()
            .await,
    );

    // More versions: v2 fine-tunes v1; v3 lacks its license; v4's storage attestation mismatches; v5 is never
    // stored.
    let (id2, _) = w
        .submit(ALICE, &Sub::derived(llama, 2, Relation::Finetune, &[id1]))
        .await;
    let (id3, _) = w
        .submit(
            ALICE,
            &Sub {
                license: B256::ZERO,
                ..Sub::original(llama, 3)
            },
        )
        .await;
    let (id4, _) = w.submit(ALICE, &Sub::original(llama, 4)).await;
    let (id5, _) = w.submit(BOB, &Sub::original(name("mistral"), 1)).await;
    w.confirm(id2).await;
    w.confirm(id3).await;
    let receipt = tx!(w.r[ATTESTER].confirmStorage(id4, B256::repeat_byte(0xbb), SIZE, expiry));
    let rejected = &events::<VersionFinalized>(&receipt)[0];
    assert_eq!(
        (
            rejected.id,
            rejected.status,
            rejected.reason,
            rejected.changed
        ),
        (
            id4,
            Status::Rejected.code(),
            Reason::ContentHashMismatch.code(),
            true
        )
    );
    let credited = &events::<RefundCredited>(&receipt)[0];
    assert_eq!(
        (credited.account, credited.id, credited.amount),
        (alice, id4, min_fee())
    );
    w.assert_conservation(U256::ZERO).await;

    // One keeper batch, good and bad items mixed: one event per item, in order; nothing reverts.
    let unknown = U256::from(999);
    let report = w
        .finalize(KEEPER, &[id1, id2, id3, id4, unknown, id5])
        .await;
    let got: Vec<_> = report
        .iter()
        .map(|e| (e.id, e.status, e.reason, e.changed))
        .collect();
    assert_eq!(
        got,
        vec![
            (id1, Status::Registered.code(), Reason::None.code(), true),
            (id2, Status::Registered.code(), Reason::None.code(), true),
            (
                id3,
                Status::Rejected.code(),
                Reason::MissingLicense.code(),
                true
            ),
            (
                id4,
                Status::Rejected.code(),
                Reason::AlreadyFinal.code(),
                false
            ),
            (
                unknown,
                Status::None.code(),
                Reason::UnknownVersion.code(),
                false
            ),
            (
                id5,
                Status::Submitted.code(),
                Reason::NotStored.code(),
                false
            ),
        ]
    );
    // Re-running the batch changes nothing: every item is reported already final or not stored.
    let rerun = w.finalize(KEEPER, &[id1, id3]).await;
    assert!(rerun
        .iter()
        .all(|e| !e.changed && e.reason == Reason::AlreadyFinal.code()));
    assert_eq!(w.r[ADMIN].pendingCount().call().await.unwrap(), 1);
    w.assert_conservation(U256::ZERO).await;

    // Reads: usable (lineage is indexed from `VersionSubmitted`'s parents; no on-chain walk).
    assert!(w.r[ADMIN].isUsable(id2).call().await.unwrap());
    let info = w.r[ADMIN].version(id2).call().await.unwrap();
    assert_eq!(
        (info.version, info.parentCount, info.submitter),
        (2, 1, alice)
    );
    let registered_at = info.registeredAt;
    assert!(!w.r[ADMIN]
        .usableAt(id2, registered_at - 1)
        .call()
        .await
        .unwrap());
    assert!(w.r[ADMIN]
        .usableAt(id2, registered_at)
        .call()
        .await
        .unwrap());

    // Yank by the owner: usableAt keeps the past; unyank restores it.
    w.h.advance(100).await;
    let receipt = tx!(w.r[ALICE].setYanked(id2, true));
    assert!(events::<YankChanged>(&receipt)[0].yanked);
    let yanked_at = now(&w.h).await;
    assert_eq!(w.status(id2).await, Status::Yanked);
    assert!(!w.r[ADMIN].isUsable(id2).call().await.unwrap());
    assert!(!w.r[ADMIN].usableAt(id2, yanked_at).call().await.unwrap());
    assert!(w.r[ADMIN]
        .usableAt(id2, yanked_at - 1)
        .call()
        .await
        .unwrap());
    // A child of a yanked parent is rejected.
    let (id6, _) = w
        .submit(ALICE, &Sub::derived(llama, 6, Relation::Quantized, &[id2]))
        .await;
    w.confirm(id6).await;
    let report = w.finalize(KEEPER, &[id6]).await;
    assert_eq!(
        (report[0].status, report[0].reason),
        (Status::Rejected.code(), Reason::ParentYanked.code())
    );
    w.h.advance(100).await;
    tx!(w.r[ALICE].setYanked(id2, false));
    assert!(w.r[ADMIN].isUsable(id2).call().await.unwrap());
    assert!(w.r[ADMIN]
        .usableAt(id2, now(&w.h).await)
        .call()
        .await
        .unwrap());
    assert!(!w.r[ADMIN].usableAt(id2, yanked_at).call().await.unwrap());
    w.assert_conservation(U256::ZERO).await;

    // Withdrawals: Alice's refunds (v3, v4, v6) leave exactly once; the admin takes the earned fees (v1, v2).
    let owed = w.refundable(alice).await;
    assert_eq!(owed, min_fee() * U256::from(3));
    let before = w.balance(alice).await;
    let receipt = tx!(w.r[ALICE].withdrawRefund());
    let paid_gas = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(w.balance(alice).await, before + owed - paid_gas);
    let withdrawn = &events::<RefundWithdrawn>(&receipt)[0];
    assert_eq!((withdrawn.account, withdrawn.amount), (alice, owed));
    expect_error::<_, RegistryNothingToWithdraw>(w.r[ALICE].withdrawRefund().call().await);
    w.assert_conservation(U256::ZERO).await;

    let earned = v1.fee + min_fee();
    let sink = w.h.account(OUTSIDER);
    let before = w.balance(sink).await;
    let receipt = tx!(w.r[ADMIN].withdrawFees(sink));
    let fees = &events::<FeesWithdrawn>(&receipt)[0];
    assert_eq!((fees.to, fees.amount), (sink, earned));
    assert_eq!(w.balance(sink).await, before + earned);
    w.assert_conservation(earned).await;
    // Only Bob's pending v5 fee is left.
    assert_eq!(w.balance(w.at).await, min_fee());
}

#[tokio::test(flavor = "multi_thread")]
async fn liveness_expiry_after_ttl_and_finalization_by_anyone_after_max_wait() {
    let w = world().await;
    let p = params();
    let (id1, _) = w.submit(ALICE, &Sub::original(name("phi"), 1)).await;
    let (id2, _) = w.submit(ALICE, &Sub::original(name("phi"), 2)).await;
    w.confirm(id2).await;
    let t0 = w.r[ADMIN].version(id2).call().await.unwrap().submittedAt;

    // Before the max wait a stranger's batch only reports the item (not due), and expiry is refused.
    let report = w.finalize(OUTSIDER, &[id2]).await;
    assert_eq!(
        (report[0].status, report[0].reason, report[0].changed),
        (Status::Stored.code(), Reason::NotDue.code(), false)
    );
    let early = expect_error::<_, RegistryNotExpired>(w.r[OUTSIDER].expire(id1).call().await);
    let submitted_at = w.r[ADMIN].version(id1).call().await.unwrap().submittedAt;
    assert!(submitted_at <= t0);
    assert_eq!(early.expiresAt, submitted_at + p.ttl);

    // After the max wait anyone finalizes.
    w.h.advance(p.max_wait + 1).await;
    let report = w.finalize(OUTSIDER, &[id2]).await;
    assert_eq!(
        (report[0].status, report[0].changed),
        (Status::Registered.code(), true)
    );
    assert!(w.r[ADMIN].oldestPendingAge().call().await.unwrap() > p.max_wait);

    // After the TTL anyone expires the never-stored version; the refund goes to its submitter.
    w.h.advance(p.ttl).await;
    let receipt = tx!(w.r[OUTSIDER].expire(id1));
    let expired = &events::<VersionFinalized>(&receipt)[0];
    assert_eq!(
        (expired.id, expired.status, expired.reason),
        (id1, Status::Expired.code(), Reason::TtlElapsed.code())
    );
    assert_eq!(
        events::<RefundCredited>(&receipt)[0].account,
        w.h.account(ALICE)
    );
    let done = expect_error::<_, RegistryAlreadyFinal>(w.r[OUTSIDER].expire(id1).call().await);
    assert_eq!(done.status, Status::Expired.code());
    assert_eq!(w.r[ADMIN].pendingCount().call().await.unwrap(), 0);
    assert_eq!(w.r[ADMIN].oldestPendingAge().call().await.unwrap(), 0);
    assert!(!w.r[ADMIN]
        .usableAt(id1, now(&w.h).await)
        .call()
        .await
        .unwrap());
    w.assert_conservation(U256::ZERO).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn outsider_is_rejected_by_every_gated_function() {
    let w = world().await;
    let outsider = w.h.account(OUTSIDER);
    let llama = name("llama");
    let (id, _) = w.submit(ALICE, &Sub::original(llama, 1)).await;
    let r = &w.r[OUTSIDER];
    let unauthorized = |e: RegistryUnauthorized, role: Role| {
        assert_eq!((e.account, e.role), (outsider, role.code()));
    };

    // Attester: confirmStorage — by call, and by transaction (mined, reverted).
    let expiry = now(&w.h).await + 86_400;
    unauthorized(
        expect_error(r.confirmStorage(id, CONTENT, SIZE, expiry).call().await),
        Role::Attester,
    );
    let receipt = r
        .confirmStorage(id, CONTENT, SIZE, expiry)
        .gas(1_000_000)
        .send()
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(
        !receipt.status(),
        "an outsider's confirmStorage must revert"
    );
    // The keeper role does not stand in for the attester.
    let by_keeper = expect_error::<_, RegistryUnauthorized>(
        w.r[KEEPER]
            .confirmStorage(id, CONTENT, SIZE, expiry)
            .call()
            .await,
    );
    assert_eq!(by_keeper.role, Role::Attester.code());

    // Attester: confirmStorageBatch — by call, and as a mined transaction that reverts.
    let items: Vec<B256> = storage_item(id.to(), CONTENT.0, SIZE, expiry).to_vec();
    unauthorized(
        expect_error(r.confirmStorageBatch(items.clone()).call().await),
        Role::Attester,
    );
    let receipt = r
        .confirmStorageBatch(items)
        .gas(1_000_000)
        .send()
        .await
        .expect("sent")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(
        !receipt.status(),
        "an outsider's confirmStorageBatch must revert"
    );
    assert_eq!(w.status(id).await, Status::Submitted);

    // Admin: setRole, setConfig, withdrawFees.
    unauthorized(
        expect_error(r.setRole(outsider, Role::Admin.code(), true).call().await),
        Role::Admin,
    );
    unauthorized(
        expect_error(r.setConfig(U256::ZERO, 1, 2, true).call().await),
        Role::Admin,
    );
    unauthorized(
        expect_error(r.withdrawFees(outsider).call().await),
        Role::Admin,
    );

    // Name owner: setYanked, transferName; a foreign name cannot be submitted to.
    w.confirm(id).await;
    w.finalize(KEEPER, &[id]).await;
    let e = expect_error::<_, RegistryNotNameOwner>(r.setYanked(id, true).call().await);
    assert_eq!((e.name, e.account), (llama, outsider));
    let e = expect_error::<_, RegistryNotNameOwner>(r.transferName(llama, outsider).call().await);
    assert_eq!(e.account, outsider);
    expect_error::<_, RegistryNotNameOwner>(
        w.submit_call(OUTSIDER, &Sub::original(llama, 2))
            .call()
            .await,
    );

    // Refunds: nothing credited to the outsider.
    expect_error::<_, RegistryNothingToWithdraw>(r.withdrawRefund().call().await);

    // Keeper: an outsider's batch never reverts, but only reports items that are not yet due.
    let (id2, _) = w.submit(ALICE, &Sub::original(llama, 2)).await;
    w.confirm(id2).await;
    let report = w.finalize(OUTSIDER, &[id2]).await;
    assert_eq!(
        (report[0].reason, report[0].changed),
        (Reason::NotDue.code(), false)
    );
    assert_eq!(w.status(id2).await, Status::Stored);

    // The owner can hand the name over; the new owner (and only they) yanks.
    let receipt = tx!(w.r[ALICE].transferName(llama, w.h.account(BOB)));
    let moved = &events::<NameTransferred>(&receipt)[0];
    assert_eq!(
        (moved.previousOwner, moved.newOwner),
        (w.h.account(ALICE), w.h.account(BOB))
    );
    expect_error::<_, RegistryNotNameOwner>(w.r[ALICE].setYanked(id, true).call().await);
    tx!(w.r[BOB].setYanked(id, true));
    w.assert_conservation(U256::ZERO).await;
}

/// `finalizeRegistrations` gas for 1, 10 and 100 items, measured by the benchmark's own function (gas is
/// deterministic, so the goal is asserted).
#[tokio::test(flavor = "multi_thread")]
async fn finalize_registrations_gas_per_item() {
    use verity::bench::{
        registry_gas, RegistryGasSetup, BATCH_GAS_LIMIT, REGISTRY_PER_ITEM_RATIO_GOAL,
    };
    let h = Harness::start().await;
    let deployer = h.accounts[0].signer.clone();
    let gas = registry_gas(&RegistryGasSetup {
        url: h.node.url().to_string(),
        submitter: h.accounts[3].signer.clone(),
        attester: deployer.clone(),
        keeper: deployer,
        registry: h.address("registry"),
        fee: min_fee(),
    })
    .await
    .expect("registry gas benchmark runs on devnode");
    let (one, ten, hundred) = (
        gas.gas(1).unwrap(),
        gas.gas(10).unwrap(),
        gas.gas(100).unwrap(),
    );
    eprintln!(
        "finalizeRegistrations gas: 1 item {one}, 10 items {ten}, 100 items {hundred}; per item in 100 / 1 = {:.3}; \
         ~{} gas per extra item; largest batch under {BATCH_GAS_LIMIT}: {:?}",
        gas.per_item_ratio().unwrap(),
        gas.per_item_gas().unwrap(),
        gas.largest_batch_under_limit()
    );
    assert!(one < ten && ten < hundred, "more items cost more gas");
    assert!(hundred < BATCH_GAS_LIMIT, "a batch of 100 fits the budget");
    // Goal met (measured 0.220): per-model gas in a batch of 100 is at most a quarter of a lone item's.
    assert!(
        gas.per_item_ratio().unwrap() <= REGISTRY_PER_ITEM_RATIO_GOAL,
        "per-item gas ratio {:.3} over the goal {REGISTRY_PER_ITEM_RATIO_GOAL}",
        gas.per_item_ratio().unwrap()
    );
}

impl<P: Provider + Clone> World<P> {
    /// `confirmStorageBatch` from the attester, each item `(id, content hash, size, storage expiry)`.
    pub(crate) async fn confirm_batch(
        &self,
        items: &[(U256, B256, u64, u64)],
    ) -> TransactionReceipt {
        let words: Vec<B256> = items
            .iter()
            .flat_map(|(id, hash, size, expiry)| storage_item(id.to(), hash.0, *size, *expiry))
            .collect();
        tx!(self.r[ATTESTER].confirmStorageBatch(words))
    }
}

/// One `confirmStorageBatch` mixing a valid item with every kind of bad one: the transaction succeeds, the valid
/// version is Stored, mismatches are rejected and refunded, and unknown / already-stored / already-final items
/// are reported unchanged — one bad item never reverts the batch.
#[tokio::test(flavor = "multi_thread")]
async fn storage_batch_mixes_valid_and_invalid_items_without_reverting() {
    let w = world().await;
    let phi = name("phi");
    let (done, _) = w.submit(ALICE, &Sub::original(phi, 1)).await;
    w.confirm(done).await;
    w.finalize(KEEPER, &[done]).await;
    let (stored, _) = w.submit(ALICE, &Sub::original(phi, 2)).await;
    w.confirm(stored).await;
    let (good, _) = w.submit(ALICE, &Sub::original(phi, 3)).await;
    let (bad_hash, _) = w.submit(ALICE, &Sub::original(phi, 4)).await;
    let (bad_size, _) = w.submit(BOB, &Sub::original(name("bob"), 1)).await;
    let expiry = now(&w.h).await + 365 * 86_400;
    let unknown = U256::from(1_000);
    let receipt = w
        .confirm_batch(&[
            (good, CONTENT, SIZE, expiry),
            (bad_hash, B256::repeat_byte(0xee), SIZE, expiry),
            (unknown, CONTENT, SIZE, expiry),
            (stored, CONTENT, SIZE, expiry),
            (done, CONTENT, SIZE, expiry),
            (bad_size, CONTENT, SIZE + 1, expiry),
        ])
        .await;
    assert!(receipt.status());

    let confirmed = events::<StorageConfirmed>(&receipt);
    assert_eq!(confirmed.len(), 1);
    assert_eq!(
        (confirmed[0].id, confirmed[0].storageExpiry),
        (good, expiry)
    );
    let outcomes: Vec<_> = events::<VersionFinalized>(&receipt)
        .iter()
        .map(|e| (e.id, e.status, e.reason, e.changed))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (
                bad_hash,
                Status::Rejected.code(),
                Reason::ContentHashMismatch.code(),
                true
            ),
            (
                unknown,
                Status::None.code(),
                Reason::UnknownVersion.code(),
                false
            ),
            (
                stored,
                Status::Stored.code(),
                Reason::AlreadyStored.code(),
                false
            ),
            (
                done,
                Status::Registered.code(),
                Reason::AlreadyFinal.code(),
                false
            ),
            (
                bad_size,
                Status::Rejected.code(),
                Reason::SizeMismatch.code(),
                true
            ),
        ]
    );
    let refunds: Vec<_> = events::<RefundCredited>(&receipt)
        .iter()
        .map(|e| (e.account, e.amount))
        .collect();
    assert_eq!(
        refunds,
        vec![
            (w.h.account(ALICE), min_fee()),
            (w.h.account(BOB), min_fee())
        ]
    );
    assert_eq!(w.status(good).await, Status::Stored);
    assert_eq!(
        w.r[ADMIN].version(good).call().await.unwrap().storageExpiry,
        expiry
    );
    // The stored item registers as usual.
    let report = w.finalize(KEEPER, &[good]).await;
    assert_eq!(report[0].status, Status::Registered.code());
    w.assert_conservation(U256::ZERO).await;
}

/// Amortized `confirmStorageBatch` gas per item in a batch of 100 against a lone `confirmStorage` (gas is
/// deterministic on devnode). Measured 0.304 (12,264 per item vs 40,397 lone): issue 16's goal of 0.25 is NOT met
/// yet — per item the batch still pays three cold reads (core, info, content hash), one write (info) and one
/// `StorageConfirmed` log, ≈12k gas of floor. This asserts the measured figure as a regression bound; the goal
/// needs one fewer cold slot per item or a summary event instead of per-item logs (README, registrations).
#[tokio::test(flavor = "multi_thread")]
async fn storage_batch_gas_per_item_stays_at_the_measured_ratio() {
    const ITEMS: usize = 100;
    let w = world().await;
    let gem = name("gem");
    let mut ids = Vec::with_capacity(ITEMS + 1);
    for version in 1..=(ITEMS as u64 + 1) {
        ids.push(w.submit(ALICE, &Sub::original(gem, version)).await.0);
    }
    let expiry = now(&w.h).await + 365 * 86_400;
    let lone = tx!(w.r[ATTESTER].confirmStorage(ids[0], CONTENT, SIZE, expiry)).gas_used;
    let items: Vec<_> = ids[1..]
        .iter()
        .map(|id| (*id, CONTENT, SIZE, expiry))
        .collect();
    let receipt = w.confirm_batch(&items).await;
    assert_eq!(events::<StorageConfirmed>(&receipt).len(), ITEMS);
    let per_item = receipt.gas_used as f64 / ITEMS as f64;
    let ratio = per_item / lone as f64;
    eprintln!(
        "confirmStorage {lone} gas; confirmStorageBatch of {ITEMS}: {} gas, {per_item:.0} per item, {ratio:.3} of a lone one",
        receipt.gas_used
    );
    assert!(
        ratio <= 0.31,
        "per-item gas ratio {ratio:.3} regressed past the measured 0.304 (lone {lone}, batch {})",
        receipt.gas_used
    );
    for id in &ids {
        assert_eq!(w.status(*id).await, Status::Stored);
    }
}
