//! Native unit tests on stylus-test's TestVM (one contract per VM). Every emitted log is decoded with the event
//! type declared in `verity-abi`, which checks the contract's compact log encoder against the declarations.

use super::*;
use alloy_primitives::{address, b256, Bytes, FixedBytes};
use alloy_sol_types::SolEvent;
use stylus_sdk::testing::TestVM;
use verity_abi::registry::Format;

const ADMIN: Address = address!("00000000000000000000000000000000000000a1");
const ATTESTER: Address = address!("00000000000000000000000000000000000000a2");
const KEEPER: Address = address!("00000000000000000000000000000000000000a3");
const ALICE: Address = address!("00000000000000000000000000000000000000c3");
const BOB: Address = address!("00000000000000000000000000000000000000d4");
const OUTSIDER: Address = address!("00000000000000000000000000000000000000e5");

const MIN_FEE: u64 = 1_000;
const MAX_WAIT: u64 = 3_600;
const TTL: u64 = 86_400;
const T0: u64 = 1_700_000_000;

const LLAMA: B256 = b256!("6c6c616d61000000000000000000000000000000000000000000000000000000");
const CONTENT: B256 = b256!("00000000000000000000000000000000000000000000000000000000000000c1");

fn deployed(vm: &TestVM) -> ModelRegistry {
    vm.set_block_timestamp(T0);
    let mut registry = ModelRegistry::from(vm);
    registry
        .constructor(ADMIN, ATTESTER, KEEPER, U256::from(MIN_FEE), MAX_WAIT, TTL)
        .expect("constructor");
    registry
}

/// A complete submission, adjustable before sending.
#[derive(Clone)]
struct Submission {
    name: B256,
    version: u64,
    parents: Vec<U256>,
    relation: u8,
    content_hash: B256,
    size: u64,
    storage_uri: Blob,
    format: u8,
    runtime: B256,
    io_schema_hash: B256,
    license_id: B256,
    metadata_hash: B256,
    metadata_uri: Blob,
    tags: Vec<B256>,
    fee: u64,
}

fn complete(name: B256, version: u64) -> Submission {
    Submission {
        name,
        version,
        parents: vec![],
        relation: Relation::Original.code(),
        content_hash: CONTENT,
        size: 4_096,
        storage_uri: Blob::from(&b"ipfs://weights"[..]),
        format: Format::Safetensors.code(),
        runtime: B256::repeat_byte(0x11),
        io_schema_hash: B256::repeat_byte(0x22),
        license_id: B256::repeat_byte(0x33),
        metadata_hash: B256::repeat_byte(0x44),
        metadata_uri: Blob::from(&b"ipfs://card"[..]),
        tags: vec![B256::repeat_byte(0x55)],
        fee: MIN_FEE,
    }
}

fn submit(
    vm: &TestVM,
    registry: &mut ModelRegistry,
    who: Address,
    s: Submission,
) -> Result<U256, Error> {
    vm.set_sender(who);
    vm.set_value(U256::from(s.fee));
    let result = registry.submit(
        s.name,
        s.version,
        s.parents,
        s.relation,
        s.content_hash,
        s.size,
        s.storage_uri,
        s.format,
        s.runtime,
        s.io_schema_hash,
        s.license_id,
        s.metadata_hash,
        s.metadata_uri,
        s.tags,
    );
    vm.set_value(U256::ZERO);
    result
}

fn confirm(vm: &TestVM, registry: &mut ModelRegistry, id: U256) -> Result<(), Error> {
    vm.set_sender(ATTESTER);
    registry.confirm_storage(id, CONTENT, 4_096, T0 + 10 * TTL)
}

fn finalize(vm: &TestVM, registry: &mut ModelRegistry, who: Address, ids: &[U256]) {
    vm.set_sender(who);
    registry
        .finalize_registrations(ids.to_vec())
        .expect("batch never reverts");
}

/// A Registered original version of `name`.
fn registered(vm: &TestVM, registry: &mut ModelRegistry, name: B256, version: u64) -> U256 {
    let id = submit(vm, registry, ALICE, complete(name, version)).unwrap();
    confirm(vm, registry, id).unwrap();
    finalize(vm, registry, KEEPER, &[id]);
    assert_eq!(status(registry, id), Status::Registered);
    id
}

fn status(registry: &ModelRegistry, id: U256) -> Status {
    Status::try_from(registry.version(id).unwrap().status).unwrap()
}

fn reason(registry: &ModelRegistry, id: U256) -> Reason {
    Reason::try_from(registry.version(id).unwrap().reason).unwrap()
}

/// Every `VersionFinalized` emitted so far, decoded.
fn finalized_events(vm: &TestVM) -> Vec<VersionFinalized> {
    vm.get_emitted_logs()
        .into_iter()
        .filter(|(topics, _)| topics[0] == VersionFinalized::SIGNATURE_HASH)
        .map(|(topics, data)| VersionFinalized::decode_raw_log(topics, &data).unwrap())
        .collect()
}

fn accounting(registry: &ModelRegistry) -> (u128, u128, U256) {
    let (escrowed, earned) = pack::pair(registry._global(FUNDS));
    (escrowed, earned, registry._global(REFUNDS_OWED))
}

/// `confirmStorageBatch` items for `(id, content hash, size, storage expiry)` tuples.
fn storage_items(items: &[(U256, B256, u64, u64)]) -> Vec<B256> {
    items
        .iter()
        .flat_map(|(id, hash, size, expiry)| {
            verity_abi::registry::storage_item(id.as_limbs()[0], hash.0, *size, *expiry)
        })
        .collect()
}

/// Test support for what the contract no longer answers on chain (views dropped for size; the keeper's index
/// serves them from events): refund credits and the lineage walk over the stored parent ids.
impl ModelRegistry {
    fn refundable(&self, account: Address) -> U256 {
        U256::from(pack::pair(self.accounts.get(account).into()).0)
    }

    fn lineage(&self, id: U256, max_depth: u64) -> Result<Vec<U256>, Error> {
        self._known(id)?;
        let mut found: Vec<U256> = vec![id];
        let mut level_start = 0;
        let mut depth = 0u64;
        while depth < max_depth && level_start < found.len() {
            let level_end = found.len();
            for k in level_start..level_end {
                let (parents, n) = self._parents(found[k].as_limbs()[0]);
                for &parent in &parents[..n] {
                    let parent = U256::from(parent);
                    if !found.contains(&parent) {
                        found.push(parent);
                    }
                }
            }
            level_start = level_end;
            depth += 1;
        }
        found.remove(0);
        Ok(found)
    }
}

#[test]
fn constructor_grants_roles_and_config() {
    let vm = TestVM::default();
    let registry = deployed(&vm);
    assert!(registry._has_role(ADMIN, Role::Admin));
    assert!(registry._has_role(ATTESTER, Role::Attester));
    assert!(registry._has_role(KEEPER, Role::Keeper));
    assert!(!registry._has_role(OUTSIDER, Role::Keeper));
    let config = Config::load(registry._global(CONFIG));
    assert_eq!(
        (config.min_fee, config.max_wait, config.ttl, config.paused),
        (MIN_FEE, MAX_WAIT, TTL, false)
    );
    let logs = vm.get_emitted_logs();
    let roles: Vec<_> = logs
        .iter()
        .filter(|(t, _)| t[0] == RoleChanged::SIGNATURE_HASH)
        .map(|(t, d)| RoleChanged::decode_raw_log(t.clone(), d).unwrap())
        .collect();
    assert_eq!(roles.len(), 3);
    assert_eq!(
        (roles[2].account, roles[2].role, roles[2].granted),
        (KEEPER, Role::Keeper.code(), true)
    );
    let (t, d) = logs.last().unwrap();
    let config = ConfigChanged::decode_raw_log(t.clone(), d).unwrap();
    assert_eq!(
        (config.minFee, config.maxWait, config.ttl, config.paused),
        (U256::from(MIN_FEE), MAX_WAIT, TTL, false)
    );
}

#[test]
fn constructor_rejects_zero_roles_and_bad_config() {
    let vm = TestVM::default();
    let mut registry = ModelRegistry::from(&vm);
    assert!(matches!(
        registry.constructor(Address::ZERO, ATTESTER, KEEPER, U256::ZERO, 1, 2),
        Err(Error::InvalidAccount(_))
    ));
    let vm = TestVM::default();
    let mut registry = ModelRegistry::from(&vm);
    assert!(matches!(
        registry.constructor(ADMIN, ATTESTER, KEEPER, U256::ZERO, 5, 5),
        Err(Error::InvalidConfig(_))
    ));
    let vm = TestVM::default();
    let mut registry = ModelRegistry::from(&vm);
    assert!(matches!(
        registry.constructor(ADMIN, ATTESTER, KEEPER, U256::ZERO, 0, 0),
        Err(Error::InvalidConfig(_))
    ));
    let vm = TestVM::default();
    let mut registry = ModelRegistry::from(&vm);
    let too_big = U256::from(u64::MAX) + U256::from(1);
    assert!(matches!(
        registry.constructor(ADMIN, ATTESTER, KEEPER, too_big, 1, 2),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn full_lifecycle_registers_and_earns_the_fee() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let mut s = complete(LLAMA, 1);
    s.fee = MIN_FEE + 500;
    let id = submit(&vm, &mut registry, ALICE, s.clone()).unwrap();
    assert_eq!(id, U256::from(1));
    assert_eq!(status(&registry, id), Status::Submitted);
    assert!(!registry.is_usable(id));
    assert_eq!(registry.pending_count(), 1);
    assert_eq!(
        accounting(&registry),
        (u128::from(MIN_FEE + 500), 0, U256::ZERO)
    );

    // The submission event carries what the indexer needs.
    let (topics, data) = vm
        .get_emitted_logs()
        .into_iter()
        .find(|(t, _)| t[0] == VersionSubmitted::SIGNATURE_HASH)
        .unwrap();
    let event = VersionSubmitted::decode_raw_log(topics, &data).unwrap();
    assert_eq!(
        (event.id, event.name, event.submitter, event.version),
        (id, LLAMA, ALICE, 1)
    );
    assert_eq!(event.storageUri[..], s.storage_uri[..]);
    assert_eq!(event.metadataUri[..], s.metadata_uri[..]);
    assert_eq!(event.tags, s.tags);
    assert_eq!(
        (event.fee, event.priorityFee),
        (U256::from(MIN_FEE + 500), U256::from(500))
    );

    vm.set_block_timestamp(T0 + 10);
    confirm(&vm, &mut registry, id).unwrap();
    assert_eq!(status(&registry, id), Status::Stored);
    assert!(!registry.is_usable(id), "stored is not registered");

    vm.set_block_timestamp(T0 + 20);
    finalize(&vm, &mut registry, KEEPER, &[id]);
    let info = registry.version(id).unwrap();
    assert_eq!(Status::try_from(info.status), Ok(Status::Registered));
    assert_eq!(
        (info.registeredAt, info.submittedAt, info.fee),
        (T0 + 20, T0, U256::from(MIN_FEE + 500))
    );
    assert_eq!(
        (info.name, info.version, info.submitter, info.size),
        (LLAMA, 1, ALICE, 4_096)
    );
    assert!(registry.is_usable(id));
    assert!(!registry.usable_at(id, T0 + 19));
    assert!(registry.usable_at(id, T0 + 20));
    assert_eq!(registry.pending_count(), 0);
    assert_eq!(registry.oldest_pending_age(), 0);
    assert_eq!(
        accounting(&registry),
        (0, u128::from(MIN_FEE + 500), U256::ZERO)
    );
    let events = finalized_events(&vm);
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].id,
            events[0].status,
            events[0].reason,
            events[0].changed
        ),
        (id, Status::Registered.code(), Reason::None.code(), true)
    );
}

#[test]
fn submit_checks_name_version_parents_tags_and_fee() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    registered(&vm, &mut registry, LLAMA, 5);
    let err = submit(&vm, &mut registry, ALICE, complete(LLAMA, 5)).unwrap_err();
    assert!(matches!(err, Error::VersionNotIncreasing(e) if e.highest == 5 && e.version == 5));
    assert!(matches!(
        submit(&vm, &mut registry, BOB, complete(LLAMA, 6)),
        Err(Error::NotNameOwner(_))
    ));
    assert!(matches!(
        submit(&vm, &mut registry, ALICE, complete(B256::ZERO, 1)),
        Err(Error::InvalidName(_))
    ));
    let mut s = complete(LLAMA, 6);
    s.parents = vec![U256::from(7)];
    assert!(
        matches!(submit(&vm, &mut registry, ALICE, s), Err(Error::UnknownParent(e)) if e.parent == U256::from(7))
    );
    let mut s = complete(LLAMA, 6);
    s.parents = vec![U256::ZERO];
    assert!(matches!(
        submit(&vm, &mut registry, ALICE, s),
        Err(Error::UnknownParent(_))
    ));
    let mut s = complete(LLAMA, 6);
    s.parents = vec![U256::from(1); MAX_PARENTS + 1];
    assert!(matches!(
        submit(&vm, &mut registry, ALICE, s),
        Err(Error::TooManyParents(_))
    ));
    let mut s = complete(LLAMA, 6);
    s.tags = vec![B256::ZERO; MAX_TAGS + 1];
    assert!(matches!(
        submit(&vm, &mut registry, ALICE, s),
        Err(Error::TooManyTags(_))
    ));
    let mut s = complete(LLAMA, 6);
    s.fee = MIN_FEE - 1;
    assert!(matches!(
        submit(&vm, &mut registry, ALICE, s),
        Err(Error::InsufficientFee(_))
    ));
    // Versions need not be consecutive, only increasing; a failed call claims nothing.
    assert_eq!(
        submit(&vm, &mut registry, ALICE, complete(LLAMA, 9)).unwrap(),
        U256::from(2)
    );
    assert_eq!(registry._counters().count, 2);
}

#[test]
fn fee_above_64_bits_is_refused() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    vm.set_sender(ALICE);
    vm.set_value(U256::from(u64::MAX) + U256::from(1));
    let s = complete(LLAMA, 1);
    let result = registry.submit(
        s.name,
        s.version,
        s.parents,
        s.relation,
        s.content_hash,
        s.size,
        s.storage_uri,
        s.format,
        s.runtime,
        s.io_schema_hash,
        s.license_id,
        s.metadata_hash,
        s.metadata_uri,
        s.tags,
    );
    assert!(matches!(result, Err(Error::FeeTooLarge(_))));
}

#[test]
fn name_owner_can_transfer_the_name() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = registered(&vm, &mut registry, LLAMA, 1);
    vm.set_sender(BOB);
    assert!(matches!(
        registry.transfer_name(LLAMA, BOB),
        Err(Error::NotNameOwner(_))
    ));
    vm.set_sender(ALICE);
    assert!(matches!(
        registry.transfer_name(LLAMA, Address::ZERO),
        Err(Error::InvalidAccount(_))
    ));
    registry.transfer_name(LLAMA, BOB).unwrap();
    assert!(matches!(
        submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)),
        Err(Error::NotNameOwner(_))
    ));
    submit(&vm, &mut registry, BOB, complete(LLAMA, 2)).unwrap();
    vm.set_sender(ALICE);
    assert!(matches!(
        registry.set_yanked(id, true),
        Err(Error::NotNameOwner(_))
    ));
    vm.set_sender(BOB);
    registry.set_yanked(id, true).unwrap();
}

#[test]
fn a_name_without_a_live_version_is_released_to_the_next_submitter() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    // Alice's only version fails its storage check: rejected, refunded — and the name is free again.
    let bad = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_sender(ATTESTER);
    registry
        .confirm_storage(bad, B256::repeat_byte(0xbb), 4_096, T0 + TTL)
        .unwrap();
    assert_eq!(status(&registry, bad), Status::Rejected);
    // While a version of hers is pending (or registered), the name stays hers.
    let pending = submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)).unwrap();
    assert!(matches!(
        submit(&vm, &mut registry, BOB, complete(LLAMA, 3)),
        Err(Error::NotNameOwner(_))
    ));
    vm.set_block_timestamp(T0 + TTL);
    vm.set_sender(OUTSIDER);
    registry.expire(pending).unwrap();
    // Versions still increase across owners; Bob claims the released name.
    assert!(matches!(
        submit(&vm, &mut registry, BOB, complete(LLAMA, 2)),
        Err(Error::VersionNotIncreasing(_))
    ));
    let bobs = submit(&vm, &mut registry, BOB, complete(LLAMA, 3)).unwrap();
    let (topics, data) = vm
        .get_emitted_logs()
        .into_iter()
        .rfind(|(t, _)| t[0] == NameTransferred::SIGNATURE_HASH)
        .unwrap();
    let moved = NameTransferred::decode_raw_log(topics, &data).unwrap();
    assert_eq!((moved.previousOwner, moved.newOwner), (ALICE, BOB));
    confirm(&vm, &mut registry, bobs).unwrap();
    finalize(&vm, &mut registry, KEEPER, &[bobs]);
    assert_eq!(status(&registry, bobs), Status::Registered);
    // A name with a registered version is never released, even once it is yanked.
    vm.set_sender(BOB);
    registry.set_yanked(bobs, true).unwrap();
    assert!(matches!(
        submit(&vm, &mut registry, ALICE, complete(LLAMA, 4)),
        Err(Error::NotNameOwner(_))
    ));
}

#[test]
fn forks_of_another_owner_need_a_permissive_license_or_approval() {
    use verity_abi::registry::license_id;
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let closed = B256::from(license_id("Apache-2.0", false));
    let mut s = complete(LLAMA, 1);
    s.license_id = closed;
    let base = submit(&vm, &mut registry, ALICE, s).unwrap();
    confirm(&vm, &mut registry, base).unwrap();
    finalize(&vm, &mut registry, KEEPER, &[base]);
    let mut s = complete(B256::repeat_byte(0x0a), 1);
    s.license_id = B256::from(license_id("MIT", true));
    let open = submit(&vm, &mut registry, ALICE, s).unwrap();
    confirm(&vm, &mut registry, open).unwrap();
    finalize(&vm, &mut registry, KEEPER, &[open]);

    let child = |name: u8, parent: U256| {
        let mut s = complete(B256::repeat_byte(name), 1);
        s.parents = vec![parent];
        s.relation = Relation::Finetune.code();
        s
    };
    let unapproved = submit(&vm, &mut registry, BOB, child(1, base)).unwrap();
    let of_open = submit(&vm, &mut registry, BOB, child(2, open)).unwrap();
    let own = submit(&vm, &mut registry, ALICE, child(3, base)).unwrap();
    // Only the parent's owner approves, and only for an existing version and a real account.
    vm.set_sender(BOB);
    assert!(matches!(
        registry.approve_fork(base, BOB),
        Err(Error::NotNameOwner(e)) if e.account == BOB
    ));
    vm.set_sender(ALICE);
    assert!(matches!(
        registry.approve_fork(U256::from(99), BOB),
        Err(Error::UnknownVersion(_))
    ));
    assert!(matches!(
        registry.approve_fork(base, Address::ZERO),
        Err(Error::InvalidAccount(_))
    ));
    for id in [unapproved, of_open, own] {
        confirm(&vm, &mut registry, id).unwrap();
    }
    finalize(&vm, &mut registry, KEEPER, &[unapproved, of_open, own]);
    assert_eq!(
        (status(&registry, unapproved), reason(&registry, unapproved)),
        (Status::Rejected, Reason::ForkNotApproved)
    );
    assert_eq!(status(&registry, of_open), Status::Registered);
    assert_eq!(status(&registry, own), Status::Registered);

    vm.set_sender(ALICE);
    registry.approve_fork(base, BOB).unwrap();
    let (topics, data) = vm.get_emitted_logs().pop().unwrap();
    let approved = ForkApproved::decode_raw_log(topics, &data).unwrap();
    assert_eq!(
        (approved.parent, approved.forker, approved.owner),
        (base, BOB, ALICE)
    );
    // The approval is Bob's alone, and approvals are not roles.
    assert!(!registry._has_role(registry._fork_key(base.as_limbs()[0], BOB), Role::Admin));
    let approved = submit(&vm, &mut registry, BOB, child(4, base)).unwrap();
    let stranger = submit(&vm, &mut registry, OUTSIDER, child(5, base)).unwrap();
    confirm(&vm, &mut registry, approved).unwrap();
    confirm(&vm, &mut registry, stranger).unwrap();
    finalize(&vm, &mut registry, KEEPER, &[approved, stranger]);
    assert_eq!(status(&registry, approved), Status::Registered);
    assert_eq!(reason(&registry, stranger), Reason::ForkNotApproved);
}

#[test]
fn each_missing_field_has_its_reason() {
    type Edit = fn(&mut Submission);
    let cases: [(Edit, Reason); 12] = [
        (|s| s.content_hash = B256::ZERO, Reason::MissingContentHash),
        (|s| s.size = 0, Reason::MissingSize),
        (
            |s| s.storage_uri = Blob::default(),
            Reason::MissingStorageUri,
        ),
        (
            |s| s.format = Format::Unspecified.code(),
            Reason::MissingFormat,
        ),
        (|s| s.format = 200, Reason::UnknownFormat),
        (|s| s.runtime = B256::ZERO, Reason::MissingRuntime),
        (|s| s.io_schema_hash = B256::ZERO, Reason::MissingIoSchema),
        (|s| s.license_id = B256::ZERO, Reason::MissingLicense),
        (
            |s| s.metadata_hash = B256::ZERO,
            Reason::MissingMetadataHash,
        ),
        (
            |s| s.metadata_uri = Blob::default(),
            Reason::MissingMetadataUri,
        ),
        (|s| s.relation = 9, Reason::BadRelation),
        (
            |s| s.relation = Relation::Finetune.code(),
            Reason::WrongParentCount,
        ),
    ];
    for (edit, expected) in cases {
        let vm = TestVM::default();
        let mut registry = deployed(&vm);
        let mut s = complete(LLAMA, 1);
        s.content_hash = CONTENT;
        edit(&mut s);
        let id = submit(&vm, &mut registry, ALICE, s.clone()).unwrap();
        vm.set_sender(ATTESTER);
        // Attest what was submitted, so the storage stage passes and registration judges the metadata.
        registry
            .confirm_storage(id, s.content_hash, s.size, T0 + TTL * 10)
            .unwrap();
        finalize(&vm, &mut registry, KEEPER, &[id]);
        assert_eq!(status(&registry, id), Status::Rejected, "{expected:?}");
        assert_eq!(reason(&registry, id), expected);
        assert_eq!(
            registry.refundable(ALICE),
            U256::from(MIN_FEE),
            "{expected:?} refunded"
        );
        assert!(!registry.is_usable(id));
    }
}

#[test]
fn parents_must_be_registered_and_not_yanked() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let base = registered(&vm, &mut registry, LLAMA, 1);
    let other = registered(&vm, &mut registry, LLAMA, 2);
    let pending = submit(&vm, &mut registry, ALICE, complete(LLAMA, 3)).unwrap();

    let child = |parents: Vec<U256>, relation: Relation, version: u64| {
        let mut s = complete(B256::repeat_byte(version as u8), version);
        s.parents = parents;
        s.relation = relation.code();
        s
    };
    let ok = submit(
        &vm,
        &mut registry,
        BOB,
        child(vec![base], Relation::Finetune, 10),
    )
    .unwrap();
    let merge = submit(
        &vm,
        &mut registry,
        BOB,
        child(vec![base, other], Relation::Merge, 11),
    )
    .unwrap();
    let dup = submit(
        &vm,
        &mut registry,
        BOB,
        child(vec![base, base], Relation::Merge, 12),
    )
    .unwrap();
    let on_pending = submit(
        &vm,
        &mut registry,
        BOB,
        child(vec![pending], Relation::Adapter, 13),
    )
    .unwrap();
    let on_yanked = submit(
        &vm,
        &mut registry,
        BOB,
        child(vec![other], Relation::Quantized, 14),
    )
    .unwrap();
    for id in [ok, merge, dup, on_pending, on_yanked] {
        confirm(&vm, &mut registry, id).unwrap();
    }
    vm.set_sender(ALICE);
    registry.set_yanked(other, true).unwrap();
    // The merge sees `other` yanked too: it comes after the yank in this batch.
    finalize(
        &vm,
        &mut registry,
        KEEPER,
        &[ok, merge, dup, on_pending, on_yanked],
    );
    assert_eq!(status(&registry, ok), Status::Registered);
    assert_eq!(
        (status(&registry, merge), reason(&registry, merge)),
        (Status::Rejected, Reason::ParentYanked)
    );
    assert_eq!(reason(&registry, dup), Reason::DuplicateParent);
    assert_eq!(reason(&registry, on_pending), Reason::ParentNotRegistered);
    assert_eq!(reason(&registry, on_yanked), Reason::ParentYanked);
    assert_eq!(registry.lineage(ok, 1).unwrap(), vec![base]);
    assert_eq!(registry.lineage(merge, 5).unwrap(), vec![base, other]);
}

#[test]
fn lineage_walks_generations_breadth_first_once_each() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let a = registered(&vm, &mut registry, LLAMA, 1);
    let b = registered(&vm, &mut registry, LLAMA, 2);
    let mut s = complete(LLAMA, 3);
    s.parents = vec![a, b];
    s.relation = Relation::Merge.code();
    let m = submit(&vm, &mut registry, ALICE, s).unwrap();
    let mut s = complete(LLAMA, 4);
    s.parents = vec![m];
    s.relation = Relation::Distill.code();
    let d = submit(&vm, &mut registry, ALICE, s).unwrap();
    assert_eq!(registry.lineage(d, 0).unwrap(), Vec::<U256>::new());
    assert_eq!(registry.lineage(d, 1).unwrap(), vec![m]);
    assert_eq!(registry.lineage(d, 2).unwrap(), vec![m, a, b]);
    assert_eq!(registry.lineage(d, u64::MAX).unwrap(), vec![m, a, b]);
    assert!(matches!(
        registry.lineage(U256::from(99), 1),
        Err(Error::UnknownVersion(_))
    ));
}

#[test]
fn storage_mismatch_rejects_and_refunds_once() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_sender(ATTESTER);
    registry
        .confirm_storage(id, B256::repeat_byte(9), 4_096, T0 + TTL)
        .unwrap();
    assert_eq!(
        (status(&registry, id), reason(&registry, id)),
        (Status::Rejected, Reason::ContentHashMismatch)
    );
    assert!(matches!(
        registry.confirm_storage(id, CONTENT, 4_096, T0 + TTL),
        Err(Error::AlreadyFinal(_))
    ));
    let size = submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)).unwrap();
    vm.set_sender(ATTESTER);
    registry
        .confirm_storage(size, CONTENT, 1, T0 + TTL)
        .unwrap();
    assert_eq!(reason(&registry, size), Reason::SizeMismatch);
    let expiry = submit(&vm, &mut registry, ALICE, complete(LLAMA, 3)).unwrap();
    vm.set_sender(ATTESTER);
    registry
        .confirm_storage(expiry, CONTENT, 4_096, T0)
        .unwrap();
    assert_eq!(reason(&registry, expiry), Reason::StorageExpired);
    assert_eq!(registry.refundable(ALICE), U256::from(3 * MIN_FEE));
    assert_eq!(accounting(&registry), (0, 0, U256::from(3 * MIN_FEE)));

    vm.set_sender(ALICE);
    registry.withdraw_refund().unwrap();
    assert_eq!(registry.refundable(ALICE), U256::ZERO);
    assert_eq!(accounting(&registry), (0, 0, U256::ZERO));
    assert!(matches!(
        registry.withdraw_refund(),
        Err(Error::NothingToWithdraw(_))
    ));
}

#[test]
fn confirm_storage_twice_is_already_stored() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    confirm(&vm, &mut registry, id).unwrap();
    assert!(matches!(
        confirm(&vm, &mut registry, id),
        Err(Error::AlreadyStored(_))
    ));
    assert!(matches!(
        confirm(&vm, &mut registry, U256::from(2)),
        Err(Error::UnknownVersion(_))
    ));
}

#[test]
fn storage_expiring_before_registration_rejects() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_sender(ATTESTER);
    registry
        .confirm_storage(id, CONTENT, 4_096, T0 + 100)
        .unwrap();
    vm.set_block_timestamp(T0 + 100);
    finalize(&vm, &mut registry, KEEPER, &[id]);
    assert_eq!(reason(&registry, id), Reason::StorageExpired);
}

#[test]
fn outsiders_are_rejected_from_every_gated_function() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_sender(OUTSIDER);
    let unauthorized = |r: Result<(), Error>, role: Role| {
        assert!(
            matches!(r, Err(Error::Unauthorized(e)) if e.account == OUTSIDER && e.role == role.code())
        )
    };
    unauthorized(
        registry.confirm_storage(id, CONTENT, 4_096, T0 + TTL),
        Role::Attester,
    );
    unauthorized(
        registry.set_role(OUTSIDER, Role::Keeper.code(), true),
        Role::Admin,
    );
    unauthorized(registry.set_config(U256::ZERO, 1, 2, true), Role::Admin);
    unauthorized(registry.withdraw_fees(OUTSIDER), Role::Admin);
    unauthorized(
        registry.confirm_storage_batch(storage_items(&[(id, CONTENT, 4_096, T0 + TTL)])),
        Role::Attester,
    );
    // The keeper and the admin cannot attest either: roles are separate.
    vm.set_sender(KEEPER);
    assert!(matches!(
        registry.confirm_storage(id, CONTENT, 4_096, T0 + TTL),
        Err(Error::Unauthorized(_))
    ));
    confirm(&vm, &mut registry, id).unwrap();
    // An outsider's finalization before the maximum wait changes nothing and is reported.
    finalize(&vm, &mut registry, OUTSIDER, &[id]);
    assert_eq!(status(&registry, id), Status::Stored);
    let last = finalized_events(&vm).pop().unwrap();
    assert_eq!((last.reason, last.changed), (Reason::NotDue.code(), false));
    // Yanking is the name owner's.
    finalize(&vm, &mut registry, KEEPER, &[id]);
    vm.set_sender(OUTSIDER);
    assert!(matches!(
        registry.set_yanked(id, true),
        Err(Error::NotNameOwner(_))
    ));
}

#[test]
fn anyone_may_finalize_after_the_maximum_wait() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    confirm(&vm, &mut registry, id).unwrap();
    vm.set_block_timestamp(T0 + MAX_WAIT - 1);
    finalize(&vm, &mut registry, OUTSIDER, &[id]);
    assert_eq!(status(&registry, id), Status::Stored);
    vm.set_block_timestamp(T0 + MAX_WAIT);
    finalize(&vm, &mut registry, OUTSIDER, &[id]);
    assert_eq!(status(&registry, id), Status::Registered);
}

#[test]
fn batch_reports_unknown_final_and_unstored_items_without_reverting() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let done = registered(&vm, &mut registry, LLAMA, 1);
    let unstored = submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)).unwrap();
    let ready = submit(&vm, &mut registry, ALICE, complete(LLAMA, 3)).unwrap();
    confirm(&vm, &mut registry, ready).unwrap();
    let before = finalized_events(&vm).len();
    let huge = U256::MAX;
    finalize(
        &vm,
        &mut registry,
        KEEPER,
        &[done, unstored, huge, ready, ready],
    );
    let events = &finalized_events(&vm)[before..];
    let summary: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.id,
                Status::try_from(e.status).unwrap(),
                Reason::try_from(e.reason).unwrap(),
                e.changed,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (done, Status::Registered, Reason::AlreadyFinal, false),
            (unstored, Status::Submitted, Reason::NotStored, false),
            (huge, Status::None, Reason::UnknownVersion, false),
            (ready, Status::Registered, Reason::None, true),
            (ready, Status::Registered, Reason::AlreadyFinal, false),
        ]
    );
    assert_eq!(
        accounting(&registry).1,
        u128::from(2 * MIN_FEE),
        "each fee earned once"
    );
}

#[test]
fn storage_batch_judges_each_item_and_reports_the_rest_without_reverting() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let done = registered(&vm, &mut registry, LLAMA, 1);
    let stored = submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)).unwrap();
    confirm(&vm, &mut registry, stored).unwrap();
    let good = submit(&vm, &mut registry, ALICE, complete(LLAMA, 3)).unwrap();
    let bad_hash = submit(&vm, &mut registry, ALICE, complete(LLAMA, 4)).unwrap();
    let bad_size = submit(&vm, &mut registry, ALICE, complete(LLAMA, 5)).unwrap();
    let expiry = T0 + 10 * TTL;
    let before_logs = vm.get_emitted_logs().len();
    let before = finalized_events(&vm).len();
    vm.set_sender(ATTESTER);
    let mut items = storage_items(&[
        (good, CONTENT, 4_096, expiry),
        (bad_hash, B256::repeat_byte(0xee), 4_096, expiry),
        (U256::from(99), CONTENT, 4_096, expiry),
        (stored, CONTENT, 4_096, expiry),
        (done, CONTENT, 4_096, expiry),
        (bad_size, CONTENT, 1, expiry),
        (good, CONTENT, 4_096, expiry),
    ]);
    // A trailing odd word is ignored.
    items.push(B256::repeat_byte(0x01));
    registry
        .confirm_storage_batch(items)
        .expect("a batch never reverts for an item");

    assert_eq!(status(&registry, good), Status::Stored);
    assert_eq!(registry.version(good).unwrap().storageExpiry, expiry);
    assert_eq!(
        (status(&registry, bad_hash), reason(&registry, bad_hash)),
        (Status::Rejected, Reason::ContentHashMismatch)
    );
    assert_eq!(
        (status(&registry, bad_size), reason(&registry, bad_size)),
        (Status::Rejected, Reason::SizeMismatch)
    );
    let summary: Vec<_> = finalized_events(&vm)[before..]
        .iter()
        .map(|e| {
            (
                e.id,
                Status::try_from(e.status).unwrap(),
                Reason::try_from(e.reason).unwrap(),
                e.changed,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                bad_hash,
                Status::Rejected,
                Reason::ContentHashMismatch,
                true
            ),
            (U256::from(99), Status::None, Reason::UnknownVersion, false),
            (stored, Status::Stored, Reason::AlreadyStored, false),
            (done, Status::Registered, Reason::AlreadyFinal, false),
            (bad_size, Status::Rejected, Reason::SizeMismatch, true),
            (good, Status::Stored, Reason::AlreadyStored, false),
        ]
    );
    let confirmed: Vec<_> = vm.get_emitted_logs()[before_logs..]
        .iter()
        .filter(|(t, _)| t[0] == StorageConfirmed::SIGNATURE_HASH)
        .map(|(t, d)| StorageConfirmed::decode_raw_log(t.clone(), d).unwrap())
        .map(|e| (e.id, e.storageExpiry))
        .collect();
    assert_eq!(confirmed, vec![(good, expiry)]);
    assert_eq!(registry.refundable(ALICE), U256::from(2 * MIN_FEE));
    assert_eq!(
        accounting(&registry),
        (
            u128::from(2 * MIN_FEE),
            u128::from(MIN_FEE),
            U256::from(2 * MIN_FEE)
        )
    );

    // Paused: the whole batch reverts, like `confirmStorage`.
    vm.set_sender(ADMIN);
    registry
        .set_config(U256::from(MIN_FEE), MAX_WAIT, TTL, true)
        .unwrap();
    vm.set_sender(ATTESTER);
    assert!(matches!(
        registry.confirm_storage_batch(storage_items(&[(good, CONTENT, 4_096, expiry)])),
        Err(Error::Paused(_))
    ));
}

#[test]
fn storage_batch_expires_items_past_their_ttl() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_block_timestamp(T0 + TTL);
    vm.set_sender(ATTESTER);
    registry
        .confirm_storage_batch(storage_items(&[(id, CONTENT, 4_096, T0 + 10 * TTL)]))
        .unwrap();
    assert_eq!(
        (status(&registry, id), reason(&registry, id)),
        (Status::Expired, Reason::TtlElapsed)
    );
    assert_eq!(registry.pending_count(), 0);
}

#[test]
fn expire_after_ttl_refunds_and_is_idempotent() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_sender(OUTSIDER);
    assert!(matches!(registry.expire(id), Err(Error::NotExpired(e)) if e.expiresAt == T0 + TTL));
    vm.set_block_timestamp(T0 + TTL);
    registry.expire(id).unwrap();
    assert_eq!(
        (status(&registry, id), reason(&registry, id)),
        (Status::Expired, Reason::TtlElapsed)
    );
    assert_eq!(registry.refundable(ALICE), U256::from(MIN_FEE));
    assert!(matches!(registry.expire(id), Err(Error::AlreadyFinal(_))));
    assert!(matches!(
        registry.expire(U256::ZERO),
        Err(Error::UnknownVersion(_))
    ));
    // A batch touching a pending version past its TTL expires it too; confirmation likewise.
    let late = submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)).unwrap();
    let later = submit(&vm, &mut registry, ALICE, complete(LLAMA, 3)).unwrap();
    vm.set_block_timestamp(T0 + 2 * TTL + 1);
    finalize(&vm, &mut registry, KEEPER, &[late]);
    assert_eq!(status(&registry, late), Status::Expired);
    confirm(&vm, &mut registry, later).unwrap();
    assert_eq!(status(&registry, later), Status::Expired);
    assert_eq!(registry.refundable(ALICE), U256::from(3 * MIN_FEE));
    assert_eq!(registry.pending_count(), 0);
}

#[test]
fn yank_history_answers_usable_at_for_the_past() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let v1 = registered(&vm, &mut registry, LLAMA, 1);
    vm.set_block_timestamp(T0 + 100);
    let v2 = registered(&vm, &mut registry, LLAMA, 2);
    vm.set_sender(ALICE);
    vm.set_block_timestamp(T0 + 200);
    registry.set_yanked(v2, true).unwrap();
    assert!(matches!(
        registry.set_yanked(v2, true),
        Err(Error::InvalidStatus(_))
    ));
    vm.set_block_timestamp(T0 + 300);
    registry.set_yanked(v2, false).unwrap();
    assert!(matches!(
        registry.set_yanked(v2, false),
        Err(Error::InvalidStatus(_))
    ));
    vm.set_block_timestamp(T0 + 400);
    registry.set_yanked(v2, true).unwrap();
    assert!(!registry.is_usable(v2));
    let at = |t| registry.usable_at(v2, t);
    assert_eq!(
        [
            at(T0 + 99),
            at(T0 + 100),
            at(T0 + 199),
            at(T0 + 200),
            at(T0 + 299),
            at(T0 + 300),
            at(T0 + 399),
            at(T0 + 400)
        ],
        [false, true, true, false, false, true, true, false]
    );
    assert!(registry.usable_at(v1, T0 + 400));
    assert!(!registry.usable_at(U256::from(77), T0));
}

#[test]
fn pending_queue_tracks_the_oldest_pending_version() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let a = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_block_timestamp(T0 + 10);
    let b = submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)).unwrap();
    vm.set_block_timestamp(T0 + 20);
    let c = submit(&vm, &mut registry, ALICE, complete(LLAMA, 3)).unwrap();
    vm.set_block_timestamp(T0 + 50);
    assert_eq!(
        (registry.pending_count(), registry.oldest_pending_age()),
        (3, 50)
    );
    confirm(&vm, &mut registry, b).unwrap();
    finalize(&vm, &mut registry, KEEPER, &[b]);
    assert_eq!(
        (registry.pending_count(), registry.oldest_pending_age()),
        (2, 50)
    );
    confirm(&vm, &mut registry, a).unwrap();
    finalize(&vm, &mut registry, KEEPER, &[a]);
    assert_eq!(
        (registry.pending_count(), registry.oldest_pending_age()),
        (1, 30)
    );
    assert_eq!(
        registry._counters().head,
        c.as_limbs()[0],
        "head skipped a and b"
    );
    confirm(&vm, &mut registry, c).unwrap();
    finalize(&vm, &mut registry, KEEPER, &[c]);
    assert_eq!(
        (registry.pending_count(), registry.oldest_pending_age()),
        (0, 0)
    );
}

#[test]
fn pause_stops_intake_but_not_exits() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_sender(ADMIN);
    registry
        .set_config(U256::from(MIN_FEE), MAX_WAIT, TTL, true)
        .unwrap();
    assert!(matches!(
        submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)),
        Err(Error::Paused(_))
    ));
    assert!(matches!(
        confirm(&vm, &mut registry, id),
        Err(Error::Paused(_))
    ));
    vm.set_sender(KEEPER);
    assert!(matches!(
        registry.finalize_registrations(vec![id]),
        Err(Error::Paused(_))
    ));
    vm.set_block_timestamp(T0 + TTL);
    vm.set_sender(ALICE);
    registry.expire(id).unwrap();
    registry.withdraw_refund().unwrap();
    vm.set_sender(ADMIN);
    registry
        .set_config(U256::from(MIN_FEE), MAX_WAIT, TTL, false)
        .unwrap();
    submit(&vm, &mut registry, ALICE, complete(LLAMA, 2)).unwrap();
}

#[test]
fn admin_manages_roles_and_withdraws_earned_fees() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    registered(&vm, &mut registry, LLAMA, 1);
    vm.set_sender(ADMIN);
    assert!(matches!(
        registry.set_role(BOB, 3, true),
        Err(Error::InvalidRole(_))
    ));
    assert!(matches!(
        registry.set_role(Address::ZERO, 1, true),
        Err(Error::InvalidAccount(_))
    ));
    registry.set_role(BOB, Role::Attester.code(), true).unwrap();
    registry
        .set_role(ATTESTER, Role::Attester.code(), false)
        .unwrap();
    assert!(
        registry._has_role(BOB, Role::Attester) && !registry._has_role(ATTESTER, Role::Attester)
    );
    assert!(matches!(
        registry.withdraw_fees(Address::ZERO),
        Err(Error::InvalidAccount(_))
    ));
    registry.withdraw_fees(BOB).unwrap();
    assert_eq!(accounting(&registry), (0, 0, U256::ZERO));
    let (topics, data) = vm.get_emitted_logs().pop().unwrap();
    let event = FeesWithdrawn::decode_raw_log(topics, &data).unwrap();
    assert_eq!((event.to, event.amount), (BOB, U256::from(MIN_FEE)));
    vm.set_sender(ADMIN);
    assert!(matches!(
        registry.set_config(U256::ZERO, 10, 10, false),
        Err(Error::InvalidConfig(_))
    ));
}

#[test]
fn failed_transfer_reverts_the_withdrawal() {
    let vm = TestVM::default();
    let mut registry = deployed(&vm);
    let id = submit(&vm, &mut registry, ALICE, complete(LLAMA, 1)).unwrap();
    vm.set_block_timestamp(T0 + TTL);
    registry.expire(id).unwrap();
    vm.mock_call(ALICE, vec![], U256::from(MIN_FEE), Err(vec![]));
    vm.set_sender(ALICE);
    assert!(matches!(
        registry.withdraw_refund(),
        Err(Error::TransferFailed(_))
    ));
}

#[test]
fn compact_revert_data_equals_the_derived_encoding() {
    let a = ALICE;
    let n = U256::from(7);
    let errors = [
        Error::Unauthorized(RegistryUnauthorized {
            account: a,
            role: 2,
        }),
        Error::Paused(RegistryPaused {}),
        Error::InvalidAccount(RegistryInvalidAccount { account: a }),
        Error::InvalidRole(RegistryInvalidRole { role: 9 }),
        Error::InvalidConfig(RegistryInvalidConfig {
            minFee: n,
            maxWait: 1,
            ttl: 2,
        }),
        Error::InvalidName(RegistryInvalidName { name: LLAMA }),
        Error::NotNameOwner(RegistryNotNameOwner {
            name: LLAMA,
            account: a,
        }),
        Error::VersionNotIncreasing(RegistryVersionNotIncreasing {
            name: LLAMA,
            version: 3,
            highest: 4,
        }),
        Error::TooManyParents(RegistryTooManyParents { count: n, max: n }),
        Error::UnknownParent(RegistryUnknownParent { parent: n }),
        Error::TooManyTags(RegistryTooManyTags { count: n, max: n }),
        Error::InsufficientFee(RegistryInsufficientFee {
            paid: n,
            minimum: n,
        }),
        Error::FeeTooLarge(RegistryFeeTooLarge { paid: U256::MAX }),
        Error::UnknownVersion(RegistryUnknownVersion { id: n }),
        Error::InvalidStatus(RegistryInvalidStatus { id: n, status: 3 }),
        Error::AlreadyStored(RegistryAlreadyStored { id: n }),
        Error::AlreadyFinal(RegistryAlreadyFinal { id: n, status: 4 }),
        Error::NotExpired(RegistryNotExpired {
            id: n,
            expiresAt: 5,
        }),
        Error::NothingToWithdraw(RegistryNothingToWithdraw { account: a }),
        Error::TransferFailed(RegistryTransferFailed { to: a, amount: n }),
    ];
    for error in errors {
        let compact = error.revert_data();
        let derived: Vec<u8> = error.into();
        assert_eq!(compact, derived);
    }
}

#[test]
fn log_encoder_matches_alloy_for_dynamic_fields() {
    let parents = [B256::repeat_byte(1), B256::repeat_byte(2)];
    let data = log::encode(
        &[],
        &[
            Field::Words(&parents),
            Field::Bytes(&[7u8; 33]),
            Field::Word(B256::repeat_byte(3)),
            Field::Bytes(&[]),
        ],
    );
    let expected = alloy_sol_types::SolValue::abi_encode_params(&(
        vec![
            U256::from_be_bytes([1u8; 32]),
            U256::from_be_bytes([2u8; 32]),
        ],
        Bytes::from(vec![7u8; 33]),
        FixedBytes::<32>::repeat_byte(3),
        Bytes::new(),
    ));
    assert_eq!(data, expected);
}

mod props;
