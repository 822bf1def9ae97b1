//! # ModelRegistry — storage confirmed ≠ registered
//!
//! A model version is submitted and paid for (`submit`, payable: the native-ETH fee is escrowed, everything above
//! the minimum fee is the priority fee the keeper orders by), its storage is attested (`confirmStorage`, attester
//! role → `Stored`), and only then is it registered (`finalizeRegistrations`, keeper role → `Registered` or
//! `Rejected(reason)`). Nothing is usable before `Registered`. Events, errors, enums and reason codes come from
//! [`verity_abi::registry`]; this crate holds only the logic.
//!
//! ## Decisions
//! - **Names** are `bytes32` (UTF-8, left-aligned, zero-padded); the first submitter owns a name and may transfer it.
//!   Versions are `uint64` (tools may pack semver as `major << 32 | minor << 16 | patch`) and must exceed every
//!   version ever submitted for the name — checked at `submit`, so finalization order does not matter.
//! - **A name is kept by registering, not by submitting** (audit issue 14, finding 4): each name counts its
//!   versions that are not Rejected or Expired (pending, Registered, Yanked); when that count is zero — every
//!   version it ever had was rejected or expired, and refunded — the name is *released*: the next submitter
//!   claims it (`NameTransferred` from the old owner). Chosen over a non-refundable name fee, which would tax every
//!   honest first submission that fails a check. Cost: one read-modify-write of the name's word per rejection or
//!   expiry (none on the Registered path the keeper's batches take). Residual griefing: a squatter can hold a name
//!   only while one of its versions is pending (at most the TTL each), must re-submit with the fee escrowed after
//!   every rejection or expiry and race the other claimant then; an honest owner whose only version was rejected
//!   keeps the name only until someone else submits to it, so should resubmit promptly.
//! - **Forks need the parent owner's consent** (audit issue 14, finding 9): a version whose parent's name belongs
//!   to another account is registered only if the parent's license id allows derivatives
//!   ([`verity_abi::registry::license_allows_derivatives`]: a flag bit in the id's last byte, declared by the
//!   parent's submitter — no governance list to maintain) or the parent's owner called `approveFork(parent,
//!   forker)` for the child's submitter; otherwise registration rejects it with `ForkNotApproved` (refunded). The
//!   owners compared are the name owners at registration time; approvals are per parent version and permanent.
//!   Same-owner derivation is unaffected.
//! - **URIs and tags are emitted, not stored**: `VersionSubmitted` carries the storage URI, metadata URI and tags for
//!   the keeper's indexer; the contract keeps only what it judges by (hashes, sizes, codes, timestamps). Whether a
//!   URI was empty is folded into the version's submission-time reason (below). Saves ~2 slots per submission and
//!   the string-storage code.
//! - **Submission-time checks**: fields never change after `submit`, so the relation checks (known relation, parent
//!   count, no duplicate parent) and metadata completeness (one [`Reason`] code per missing field) are evaluated once
//!   there and stored as the version's pending reason; registration applies it, then checks what can change
//!   (storage expiry, each parent Registered and not yanked). `submit` itself only reverts for what would corrupt
//!   state or can never become valid: unknown parents, too many parents/tags, a wrong version, a foreign name.
//! - **Acyclic by construction**: a parent must exist when its child is submitted, so every lineage edge goes from a
//!   larger id to a smaller one; a lineage walk terminates and never meets the version itself (property-tested).
//! - **Lineage and listings are served from events** (issue 14, size): `VersionSubmitted` carries the parents and the
//!   keeper's index walks them (`GET /api/versions/<id>`); the on-chain `lineage`, `latest` and `refundable` views
//!   were dropped (−955 and −110 bytes brotli), and `withdrawFees(to)` sends all earned fees (no amount argument).
//! - **Storage attestation writes one slot**: `Stored` is never written to the core word; a Submitted version whose
//!   info word holds a storage expiry is Stored (`_status_of`). `confirmStorageBatch(bytes32[])` attests many
//!   versions per transaction with per-item outcomes (items packed as two words each:
//!   [`verity_abi::registry::storage_item`]; a struct array's decoder cost ≈1.1 KB).
//! - **Refunds are pulled**: a rejection or expiry credits the submitter (`refundable(account)`); `withdrawRefund()` sends it.
//!   A batch never calls out, so one recipient cannot make a batch fail or run out of gas, and credits are zeroed
//!   before the transfer (checks-effects-interactions; stylus-sdk also refuses reentrant calls by default).
//! - **Accounting**: `balance == escrowed + earned + refundsOwed` (plus any ether forced in without a call). Each
//!   fee leaves escrow exactly once, into `earned` (Registered) or `refundsOwed` (Rejected/Expired). A fee is a
//!   `uint64` of wei (≤ 18.4 ether; more reverts with `RegistryFeeTooLarge`), which lets one slot hold everything
//!   finalization reads and writes.
//! - **Size**: small fields are packed by hand into `uint256` words ([`pack`]); all storage is fixed arrays of
//!   `bytes32` words (registry-wide, per account, per name, per version) so one storage type's code serves every
//!   value; `bytes` arguments decode into [`Blob`] (no `bytes` crate); logs are encoded by one small encoder
//!   ([`log`]) instead of alloy's per-event generic code; encoders are checked against `verity-abi` by tests.
//!   `submit` keeps its 14 positional arguments: one `sol!` struct argument was measured (2026-12, build-std
//!   contracts) at 21,122 bytes brotli (86.0%) against 19,764 (80.4%) — a struct's `bytes` fields must be alloy's
//!   `Bytes` (the `bytes` crate), where positional ones decode into [`Blob`].
//! - **Pending queue**: ids are issued in submission order, so the FIFO of pending versions is the id sequence.
//!   `queue_head` is the smallest id that may still be pending; every finalizing call moves it past final ids by a
//!   bounded number of steps (items finalized + [`QUEUE_SLACK`]), so no call pays for an unbounded skip and
//!   `oldestPendingAge()` scans only the short run the last moves left (amortized O(1)).
//! - **Yank history** is a list of toggle timestamps per version (kept in the `accounts` map under keccak-derived
//!   keys, like fork approvals, which saves a storage type's code), so `usableAt(id, t)` answers for any past `t` even
//!   after yank/unyank cycles (binary search: an odd number of toggles at or before `t` means yanked at `t`).
//! - **Liveness**: past `submittedAt + ttl` anyone may `expire` a pending version (refund), and any finalizing call
//!   that touches it expires it; past `submittedAt + maxWait` anyone may finalize it.
//! - **Pause** stops `submit`, `confirmStorage` and `finalizeRegistrations`; never `expire`, withdrawals, yanks or
//!   name transfers, so funds and moderation never get stuck.
//!
//! Deployment note: Stylus runs a constructor in a call after activation, so [`ModelRegistry::constructor`] takes
//! the admin, attester and keeper as arguments instead of trusting `msg.sender`.
#![cfg_attr(not(any(test, feature = "export-abi")), no_main)]
#![cfg_attr(not(any(test, feature = "export-abi")), no_std)]
// `#[entrypoint]` emits an undocumented `user_entrypoint` in contract builds; test and export-abi builds check docs.
#![cfg_attr(not(any(test, feature = "export-abi")), allow(missing_docs))]

#[macro_use]
extern crate alloc;

// The wasm32 panic handler (traps; no std, no formatting code).
use verity_contract_support as _;

mod blob;
mod log;
mod pack;

pub use blob::Blob;

use alloc::vec::Vec;
use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{SolError, SolEvent};
use stylus_sdk::prelude::*;
use stylus_sdk::storage::{StorageArray, StorageB256, StorageMap};
use verity_abi::registry::{
    license_allows_derivatives, ConfigChanged, FeesWithdrawn, ForkApproved, Format,
    NameTransferred, Reason, RefundCredited, RefundWithdrawn, RegistryAlreadyFinal,
    RegistryAlreadyStored, RegistryFeeTooLarge, RegistryInsufficientFee, RegistryInvalidAccount,
    RegistryInvalidConfig, RegistryInvalidName, RegistryInvalidRole, RegistryInvalidStatus,
    RegistryNotExpired, RegistryNotNameOwner, RegistryNothingToWithdraw, RegistryPaused,
    RegistryTooManyParents, RegistryTooManyTags, RegistryTransferFailed, RegistryUnauthorized,
    RegistryUnknownParent, RegistryUnknownVersion, RegistryVersionNotIncreasing, Relation, Role,
    RoleChanged, Status, StorageConfirmed, VersionFinalized, VersionSubmitted, YankChanged,
    MAX_PARENTS, MAX_TAGS, STORAGE_ITEM_WORDS,
};

use log::{address, boolean, u256, uint, Field};
use pack::{Config, Core, Counters, Info, MAX_YANK_TOGGLES};

/// Extra steps the pending queue's head may move per finalizing call, beyond the items it finalized.
pub const QUEUE_SLACK: u64 = 4;

/// Index of each word in a version's `words` array: the [`Core`] and [`Info`] slots, the submitter, the parent ids
/// (four `u64` limbs per word) and the six hashes.
const CORE: usize = 0;
const INFO: usize = 1;
const SUBMITTER: usize = 2;
const PARENTS: usize = 3;
const NAME: usize = 5;
const CONTENT_HASH: usize = 6;
const RUNTIME: usize = 7;
const IO_SCHEMA_HASH: usize = 8;
const LICENSE_ID: usize = 9;
const METADATA_HASH: usize = 10;
const WORDS: usize = 11;

// A version's parents fill two words of four `u64` ids each.
const _: () = assert!(MAX_PARENTS == 8);

alloy_sol_types::sol! {
    /// One version as `version(id)` returns it (URIs and tags are in its `VersionSubmitted` event; parents come
    /// from `lineage(id, 1)`).
    #[derive(Debug, PartialEq, Eq, AbiType)]
    struct VersionInfo {
        bytes32 name;
        uint64 version;
        address submitter;
        uint8 status;
        uint8 reason;
        uint8 relation;
        uint8 parentCount;
        uint8 format;
        bytes32 contentHash;
        uint64 size;
        uint64 storageExpiry;
        bytes32 runtime;
        bytes32 ioSchemaHash;
        bytes32 licenseId;
        bytes32 metadataHash;
        uint256 fee;
        uint64 submittedAt;
        uint64 registeredAt;
    }

    /// One item of `confirmStorageBatch`: what the attester found at version `id`'s storage URI.
    #[derive(Debug, PartialEq, Eq, AbiType)]
    struct StorageAttestation {
        uint256 id;
        bytes32 contentHash;
        uint64 size;
        uint64 storageExpiry;
    }
}

/// Every way a registry call can fail; each variant is the Solidity error of the same name in `verity-abi`.
///
/// Contract builds encode the revert data with [`Error::revert_data`] (one small encoder instead of alloy's code per
/// error); tests and `export-abi` derive `SolidityError`, and a test checks both encodings agree for every variant.
#[cfg_attr(any(test, feature = "export-abi"), derive(SolidityError))]
#[derive(Debug)]
pub enum Error {
    /// The caller lacks the role the function needs.
    Unauthorized(RegistryUnauthorized),
    /// The registry is paused.
    Paused(RegistryPaused),
    /// The zero address where an account is needed.
    InvalidAccount(RegistryInvalidAccount),
    /// Not a role code.
    InvalidRole(RegistryInvalidRole),
    /// TTL zero or not above the maximum wait, or a minimum fee above 64 bits.
    InvalidConfig(RegistryInvalidConfig),
    /// The zero name.
    InvalidName(RegistryInvalidName),
    /// The caller does not own the name.
    NotNameOwner(RegistryNotNameOwner),
    /// The version does not exceed every version submitted for the name.
    VersionNotIncreasing(RegistryVersionNotIncreasing),
    /// More than [`MAX_PARENTS`] parents.
    TooManyParents(RegistryTooManyParents),
    /// A parent id names no existing version.
    UnknownParent(RegistryUnknownParent),
    /// More than [`MAX_TAGS`] tags.
    TooManyTags(RegistryTooManyTags),
    /// The value sent is below the minimum fee.
    InsufficientFee(RegistryInsufficientFee),
    /// The value sent does not fit the 64-bit fee field.
    FeeTooLarge(RegistryFeeTooLarge),
    /// No version has this id.
    UnknownVersion(RegistryUnknownVersion),
    /// The operation does not apply in the version's status.
    InvalidStatus(RegistryInvalidStatus),
    /// Storage already confirmed (the keeper treats it as done).
    AlreadyStored(RegistryAlreadyStored),
    /// Already final (the keeper treats it as done).
    AlreadyFinal(RegistryAlreadyFinal),
    /// The TTL has not passed yet.
    NotExpired(RegistryNotExpired),
    /// No refund credited to the caller.
    NothingToWithdraw(RegistryNothingToWithdraw),
    /// The ether transfer failed.
    TransferFailed(RegistryTransferFailed),
}

impl Error {
    /// The ABI-encoded revert data: the error's selector and its (static) arguments.
    pub fn revert_data(&self) -> Vec<u8> {
        let (selector, words): ([u8; 4], &[B256]) = match self {
            Error::Unauthorized(e) => (
                RegistryUnauthorized::SELECTOR,
                &[address(e.account), uint(e.role.into())],
            ),
            Error::Paused(_) => (RegistryPaused::SELECTOR, &[]),
            Error::InvalidAccount(e) => (RegistryInvalidAccount::SELECTOR, &[address(e.account)]),
            Error::InvalidRole(e) => (RegistryInvalidRole::SELECTOR, &[uint(e.role.into())]),
            Error::InvalidConfig(e) => (
                RegistryInvalidConfig::SELECTOR,
                &[u256(e.minFee), uint(e.maxWait), uint(e.ttl)],
            ),
            Error::InvalidName(e) => (RegistryInvalidName::SELECTOR, &[e.name]),
            Error::NotNameOwner(e) => (
                RegistryNotNameOwner::SELECTOR,
                &[e.name, address(e.account)],
            ),
            Error::VersionNotIncreasing(e) => (
                RegistryVersionNotIncreasing::SELECTOR,
                &[e.name, uint(e.version), uint(e.highest)],
            ),
            Error::TooManyParents(e) => (
                RegistryTooManyParents::SELECTOR,
                &[u256(e.count), u256(e.max)],
            ),
            Error::UnknownParent(e) => (RegistryUnknownParent::SELECTOR, &[u256(e.parent)]),
            Error::TooManyTags(e) => (RegistryTooManyTags::SELECTOR, &[u256(e.count), u256(e.max)]),
            Error::InsufficientFee(e) => (
                RegistryInsufficientFee::SELECTOR,
                &[u256(e.paid), u256(e.minimum)],
            ),
            Error::FeeTooLarge(e) => (RegistryFeeTooLarge::SELECTOR, &[u256(e.paid)]),
            Error::UnknownVersion(e) => (RegistryUnknownVersion::SELECTOR, &[u256(e.id)]),
            Error::InvalidStatus(e) => (
                RegistryInvalidStatus::SELECTOR,
                &[u256(e.id), uint(e.status.into())],
            ),
            Error::AlreadyStored(e) => (RegistryAlreadyStored::SELECTOR, &[u256(e.id)]),
            Error::AlreadyFinal(e) => (
                RegistryAlreadyFinal::SELECTOR,
                &[u256(e.id), uint(e.status.into())],
            ),
            Error::NotExpired(e) => (
                RegistryNotExpired::SELECTOR,
                &[u256(e.id), uint(e.expiresAt)],
            ),
            Error::NothingToWithdraw(e) => {
                (RegistryNothingToWithdraw::SELECTOR, &[address(e.account)])
            }
            Error::TransferFailed(e) => (
                RegistryTransferFailed::SELECTOR,
                &[address(e.to), u256(e.amount)],
            ),
        };
        let mut data = selector.to_vec();
        for word in words {
            data.extend_from_slice(word.as_slice());
        }
        data
    }
}

#[cfg(not(any(test, feature = "export-abi")))]
impl From<Error> for Vec<u8> {
    fn from(error: Error) -> Self {
        error.revert_data()
    }
}

/// One version: its words (see [`CORE`] … [`METADATA_HASH`]; one array keeps the storage code small). Its yank
/// history lives in the `accounts` map under derived keys ([`ModelRegistry::_toggle_key`]).
#[storage]
pub struct VersionRecord {
    words: StorageArray<StorageB256, { WORDS }>,
}

/// Index of each registry-wide word in `globals`.
const CONFIG: usize = 0;
const COUNTERS: usize = 1;
const FUNDS: usize = 2;
const REFUNDS_OWED: usize = 3;

/// Index of each word of a name: its owner; the highest version ever submitted (limb 0) and how many of its
/// versions are not Rejected or Expired (limb 2: pending, Registered or Yanked ones; limb 1 is unused).
const OWNER: usize = 0;
const NAME_VERSIONS: usize = 1;

/// The bit, in the role half of an `accounts` word, that marks a fork approval. Approvals live in the accounts map
/// under [`ModelRegistry::_fork_key`] (an address derived by keccak, whose key nobody holds), which reuses the map's
/// code instead of adding a storage type; no role code maps to this bit.
const FORK_APPROVED: u128 = 1 << 7;

/// ModelRegistry's storage. Every value is a word of a fixed-size array (one storage type keeps the contract small).
#[storage]
#[entrypoint]
pub struct ModelRegistry {
    /// [`Config`]; [`Counters`]; escrowed fees (low 128 bits) and earned fees not withdrawn (high 128 bits); refunds
    /// credited and not withdrawn.
    globals: StorageArray<StorageB256, 4>,
    /// Per account: refunds credited and not withdrawn (low 128 bits) and its role mask (high 128 bits; one
    /// slot instead of two maps keeps the contract smaller).
    accounts: StorageMap<Address, StorageB256>,
    /// Per name: owner, versions.
    names: StorageMap<B256, StorageArray<StorageB256, 2>>,
    versions: StorageMap<u64, VersionRecord>,
}

#[public]
impl ModelRegistry {
    /// Grants the admin, attester and keeper roles and sets the configuration: `min_fee` wei per submission,
    /// `max_wait` seconds after which anyone may finalize, `ttl` seconds after which a pending version expires.
    /// Runs once (the SDK guards the constructor slot).
    ///
    /// # Errors
    /// [`Error::InvalidAccount`] for a zero role holder; [`Error::InvalidConfig`].
    ///
    /// # Events
    /// [`RoleChanged`] ×3, [`ConfigChanged`].
    #[constructor]
    pub fn constructor(
        &mut self,
        admin: Address,
        attester: Address,
        keeper: Address,
        min_fee: U256,
        max_wait: u64,
        ttl: u64,
    ) -> Result<(), Error> {
        self._set_role(admin, Role::Admin, true)?;
        self._set_role(attester, Role::Attester, true)?;
        self._set_role(keeper, Role::Keeper, true)?;
        self._set_config(min_fee, max_wait, ttl, false)?;
        self._set_global(
            COUNTERS,
            Counters {
                count: 0,
                pending: 0,
                head: 1,
            }
            .store(),
        );
        Ok(())
    }

    /// Submits version `version` of model `name` and escrows the value sent as its fee (the part above the
    /// minimum fee is the priority fee). The first submitter of a name owns it; a name whose versions were all
    /// rejected or expired is released to the next submitter. Returns the new version's id.
    ///
    /// Relation and metadata completeness are judged at registration (a rejected version is refunded); this call
    /// reverts only for what can never become valid.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::InvalidName`], [`Error::NotNameOwner`], [`Error::VersionNotIncreasing`],
    /// [`Error::TooManyParents`], [`Error::UnknownParent`], [`Error::TooManyTags`], [`Error::InsufficientFee`],
    /// [`Error::FeeTooLarge`].
    ///
    /// # Events
    /// [`NameTransferred`] (from zero, or from the previous owner of a released name) when the name is claimed,
    /// [`VersionSubmitted`].
    #[payable]
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &mut self,
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
    ) -> Result<U256, Error> {
        let config = self._config()?;
        let sender = self.vm().msg_sender();
        let paid = self.vm().msg_value();
        let minimum = U256::from(config.min_fee);
        if paid < minimum {
            return Err(Error::InsufficientFee(RegistryInsufficientFee {
                paid,
                minimum,
            }));
        }
        let fee = u64_in(paid).ok_or(Error::FeeTooLarge(RegistryFeeTooLarge { paid }))?;
        if tags.len() > MAX_TAGS {
            return Err(Error::TooManyTags(RegistryTooManyTags {
                count: U256::from(tags.len()),
                max: U256::from(MAX_TAGS),
            }));
        }
        if parents.len() > MAX_PARENTS {
            return Err(Error::TooManyParents(RegistryTooManyParents {
                count: U256::from(parents.len()),
                max: U256::from(MAX_PARENTS),
            }));
        }
        let mut counters = self._counters();
        let mut parent_ids = [0u64; MAX_PARENTS];
        for (slot, parent) in parent_ids.iter_mut().zip(&parents) {
            *slot = id_in_range(*parent, counters.count).ok_or(Error::UnknownParent(
                RegistryUnknownParent { parent: *parent },
            ))?;
        }
        let parent_ids = &parent_ids[..parents.len()];
        // Overflow not possible: one id per transaction, far below 2^64.
        let id = counters.count + 1;
        self._claim(name, sender, version)?;

        let reason = submission_reason(
            relation,
            parent_ids,
            [
                (content_hash.is_zero(), Reason::MissingContentHash),
                (size == 0, Reason::MissingSize),
                (storage_uri.is_empty(), Reason::MissingStorageUri),
                (format == Format::Unspecified.code(), Reason::MissingFormat),
                (Format::try_from(format).is_err(), Reason::UnknownFormat),
                (runtime.is_zero(), Reason::MissingRuntime),
                (io_schema_hash.is_zero(), Reason::MissingIoSchema),
                (license_id.is_zero(), Reason::MissingLicense),
                (metadata_hash.is_zero(), Reason::MissingMetadataHash),
                (metadata_uri.is_empty(), Reason::MissingMetadataUri),
            ],
        );

        let core = Core {
            status: Status::Submitted.code(),
            reason: reason.code(),
            relation,
            // Truncation not possible: parents.len() <= MAX_PARENTS.
            parent_count: parents.len() as u8,
            format,
            yank_toggles: 0,
            submitted_at: self.vm().block_timestamp(),
            registered_at: 0,
            fee,
        };
        let info = Info {
            version,
            size,
            storage_expiry: 0,
        };
        let mut parent_words = [[0u64; 4]; 2];
        for (k, parent) in parent_ids.iter().enumerate() {
            parent_words[k / 4][k % 4] = *parent;
        }
        let words = [
            (CORE, core.store().into()),
            (INFO, info.store().into()),
            (SUBMITTER, sender.into_word()),
            (PARENTS, pack::word(parent_words[0]).into()),
            (PARENTS + 1, pack::word(parent_words[1]).into()),
            (NAME, name),
            (CONTENT_HASH, content_hash),
            (RUNTIME, runtime),
            (IO_SCHEMA_HASH, io_schema_hash),
            (LICENSE_ID, license_id),
            (METADATA_HASH, metadata_hash),
        ];
        for (k, word) in words {
            // Zero words (unused parent words, missing hashes) are left unwritten: storage starts at zero.
            if !word.is_zero() {
                self._set_word(id, k, word);
            }
        }

        counters.count = id;
        if counters.pending == 0 {
            counters.head = id;
        }
        // Overflow not possible: pending <= count < 2^64.
        counters.pending += 1;
        self._set_global(COUNTERS, counters.store());
        let (escrowed, earned) = pack::pair(self._global(FUNDS));
        // Overflow not possible: escrow <= ether supply < 2^128.
        self._set_global(FUNDS, pack::from_pair(escrowed + u128::from(fee), earned));

        let parent_words: Vec<B256> = parents.iter().map(|p| u256(*p)).collect();
        self._emit(
            &[
                VersionSubmitted::SIGNATURE_HASH,
                uint(id),
                name,
                address(sender),
            ],
            &[
                Field::Word(uint(version)),
                Field::Word(uint(relation.into())),
                Field::Words(&parent_words),
                Field::Word(content_hash),
                Field::Word(uint(size)),
                Field::Bytes(&storage_uri),
                Field::Word(uint(format.into())),
                Field::Word(runtime),
                Field::Word(io_schema_hash),
                Field::Word(license_id),
                Field::Word(metadata_hash),
                Field::Bytes(&metadata_uri),
                Field::Words(&tags),
                Field::Word(u256(paid)),
                // Underflow not possible: paid >= minimum.
                Field::Word(u256(paid - minimum)),
            ],
        );
        Ok(U256::from(id))
    }

    /// Attests version `id`'s storage: matching content hash and size and a future storage expiry make it
    /// `Stored`; a mismatch rejects it with the reason and credits the refund. Past its TTL it expires instead.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::Unauthorized`] (attester role), [`Error::UnknownVersion`],
    /// [`Error::AlreadyStored`], [`Error::AlreadyFinal`].
    ///
    /// # Events
    /// [`StorageConfirmed`], or [`VersionFinalized`] (Rejected / Expired) and [`RefundCredited`].
    pub fn confirm_storage(
        &mut self,
        id: U256,
        content_hash: B256,
        size: u64,
        storage_expiry: u64,
    ) -> Result<(), Error> {
        let config = self._config()?;
        self._only_role(Role::Attester)?;
        self._confirm_storage(config, id, content_hash, size, storage_expiry)
    }

    /// Attests the storage of each item's version, in order, as [`Self::confirm_storage`] would; one item never
    /// reverts the batch: unknown, already-stored and already-final items are reported unchanged. Each item is
    /// two words, `id | size << 64 | storageExpiry << 128` then the content hash
    /// ([`verity_abi::registry::storage_item`]); a trailing odd word is ignored.
    ///
    /// # Errors
    /// [`Error::Paused`], [`Error::Unauthorized`] (attester role).
    ///
    /// # Events
    /// Per item: [`StorageConfirmed`], or [`VersionFinalized`] (Rejected / Expired, and [`RefundCredited`]), or
    /// [`VersionFinalized`] with `changed` false and reason `UnknownVersion`, `AlreadyStored` or `AlreadyFinal`.
    pub fn confirm_storage_batch(&mut self, items: Vec<B256>) -> Result<(), Error> {
        let config = self._config()?;
        self._only_role(Role::Attester)?;
        for item in items.chunks_exact(STORAGE_ITEM_WORDS) {
            let [id, size, expiry, _] = pack::limbs(item[0].into());
            let id = U256::from(id);
            if let Err(error) = self._confirm_storage(config, id, item[1], size, expiry) {
                let (status, reason) = match error {
                    Error::AlreadyStored(_) => (Status::Stored, Reason::AlreadyStored),
                    Error::AlreadyFinal(e) => (
                        Status::try_from(e.status).unwrap_or(Status::None),
                        Reason::AlreadyFinal,
                    ),
                    _ => (Status::None, Reason::UnknownVersion),
                };
                self._report(id, status, reason, false);
            }
        }
        Ok(())
    }

    /// Finalizes the registration of each version in `ids`, in order: `Registered`, or `Rejected(reason)` with its
    /// refund credited; past its TTL a pending version expires. Never reverts for one item: unknown, already-final,
    /// not-yet-stored and (for callers without the keeper role) not-yet-due items are reported unchanged in their
    /// event. Anyone may finalize a version once `maxWait` has passed since its submission.
    ///
    /// # Errors
    /// [`Error::Paused`].
    ///
    /// # Events
    /// One [`VersionFinalized`] per item (`changed` false when reported only), [`RefundCredited`] per refund.
    pub fn finalize_registrations(&mut self, ids: Vec<U256>) -> Result<(), Error> {
        let config = self._config()?;
        let caller = self.vm().msg_sender();
        let is_keeper = self._has_role(caller, Role::Keeper);
        self._finalize_registrations(config, &ids, is_keeper);
        Ok(())
    }

    /// Expires pending version `id` once its TTL has passed and credits the refund; anyone may call, even while
    /// paused.
    ///
    /// # Errors
    /// [`Error::UnknownVersion`], [`Error::AlreadyFinal`], [`Error::NotExpired`].
    ///
    /// # Events
    /// [`VersionFinalized`] (Expired, `TtlElapsed`), [`RefundCredited`].
    pub fn expire(&mut self, id: U256) -> Result<(), Error> {
        let index = self._known(id)?;
        let core = self._core(index);
        let status = status_of(&core);
        if status.is_final() {
            return Err(already_final(id, status));
        }
        let config = Config::load(self._global(CONFIG));
        let expires_at = core.submitted_at.saturating_add(config.ttl);
        if self.vm().block_timestamp() < expires_at {
            return Err(Error::NotExpired(RegistryNotExpired {
                id,
                expiresAt: expires_at,
            }));
        }
        self._finish(index, core, Status::Expired, Reason::TtlElapsed);
        self._advance_queue(1 + QUEUE_SLACK);
        Ok(())
    }

    /// Withdraws Registered version `id` from use (`yanked`: → `Yanked`) or returns a Yanked one to use
    /// (→ `Registered`); only the name's owner, even while paused. `usableAt` keeps answering for the past.
    ///
    /// # Errors
    /// [`Error::UnknownVersion`], [`Error::NotNameOwner`], [`Error::InvalidStatus`] unless Registered (to yank) or
    /// Yanked (to unyank), or once the version's yank history is full (2^24 - 1 toggles).
    ///
    /// # Events
    /// [`YankChanged`].
    pub fn set_yanked(&mut self, id: U256, yanked: bool) -> Result<(), Error> {
        let index = self._known(id)?;
        let caller = self.vm().msg_sender();
        let name = self._word(index, NAME);
        let core = self._core(index);
        if self._name_owner(name) != caller {
            return Err(Error::NotNameOwner(RegistryNotNameOwner {
                name,
                account: caller,
            }));
        }
        let (from, to) = if yanked {
            (Status::Registered, Status::Yanked)
        } else {
            (Status::Yanked, Status::Registered)
        };
        let status = status_of(&core);
        if status != from || core.yank_toggles >= MAX_YANK_TOGGLES {
            return Err(Error::InvalidStatus(RegistryInvalidStatus {
                id,
                status: status.code(),
            }));
        }
        let now = self.vm().block_timestamp();
        self._set_core(
            index,
            Core {
                status: to.code(),
                // Overflow not possible: checked against MAX_YANK_TOGGLES above.
                yank_toggles: core.yank_toggles + 1,
                ..core
            },
        );
        self.accounts
            .insert(self._toggle_key(index, core.yank_toggles), uint(now));
        self._emit(
            &[YankChanged::SIGNATURE_HASH, u256(id)],
            &[Field::Word(boolean(yanked))],
        );
        Ok(())
    }

    /// Hands name `name` to `new_owner`; only its owner.
    ///
    /// # Errors
    /// [`Error::NotNameOwner`], [`Error::InvalidAccount`].
    ///
    /// # Events
    /// [`NameTransferred`].
    pub fn transfer_name(&mut self, name: B256, new_owner: Address) -> Result<(), Error> {
        let caller = self.vm().msg_sender();
        if self._name_owner(name) != caller || caller.is_zero() {
            return Err(Error::NotNameOwner(RegistryNotNameOwner {
                name,
                account: caller,
            }));
        }
        if new_owner.is_zero() {
            return Err(Error::InvalidAccount(RegistryInvalidAccount {
                account: new_owner,
            }));
        }
        self._set_name_word(name, OWNER, new_owner.into_word());
        self._emit(
            &[
                NameTransferred::SIGNATURE_HASH,
                name,
                address(caller),
                address(new_owner),
            ],
            &[],
        );
        Ok(())
    }

    /// Approves `forker`'s versions deriving from version `parent` (a fork by another owner of a version whose
    /// license does not allow derivatives is otherwise rejected at registration with `ForkNotApproved`); only the
    /// owner of `parent`'s name. Permanent.
    ///
    /// # Errors
    /// [`Error::UnknownVersion`], [`Error::NotNameOwner`], [`Error::InvalidAccount`] for a zero forker.
    ///
    /// # Events
    /// [`ForkApproved`].
    pub fn approve_fork(&mut self, parent: U256, forker: Address) -> Result<(), Error> {
        let index = self._known(parent)?;
        let caller = self.vm().msg_sender();
        let name = self._word(index, NAME);
        if self._name_owner(name) != caller {
            return Err(Error::NotNameOwner(RegistryNotNameOwner {
                name,
                account: caller,
            }));
        }
        if forker.is_zero() {
            return Err(Error::InvalidAccount(RegistryInvalidAccount {
                account: forker,
            }));
        }
        self.accounts.insert(
            self._fork_key(index, forker),
            pack::from_pair(0, FORK_APPROVED).into(),
        );
        self._emit(
            &[
                ForkApproved::SIGNATURE_HASH,
                u256(parent),
                address(forker),
                address(caller),
            ],
            &[],
        );
        Ok(())
    }

    /// Sends the caller's credited refunds.
    ///
    /// # Errors
    /// [`Error::NothingToWithdraw`], [`Error::TransferFailed`].
    ///
    /// # Events
    /// [`RefundWithdrawn`].
    pub fn withdraw_refund(&mut self) -> Result<(), Error> {
        let account = self.vm().msg_sender();
        let (credit, roles) = pack::pair(self.accounts.get(account).into());
        if credit == 0 {
            return Err(Error::NothingToWithdraw(RegistryNothingToWithdraw {
                account,
            }));
        }
        let amount = U256::from(credit);
        self.accounts
            .insert(account, pack::from_pair(0, roles).into());
        // Underflow not possible: refunds_owed is the sum of all credits, this one included.
        self._set_global(REFUNDS_OWED, self._global(REFUNDS_OWED) - amount);
        self._send(account, amount)?;
        self._emit(
            &[RefundWithdrawn::SIGNATURE_HASH, address(account)],
            &[Field::Word(u256(amount))],
        );
        Ok(())
    }

    /// Sends `amount` of the earned fees to `to`; only the admin.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] (admin), [`Error::InvalidAccount`], [`Error::InsufficientFees`],
    /// [`Error::TransferFailed`].
    ///
    /// # Events
    /// [`FeesWithdrawn`].
    pub fn withdraw_fees(&mut self, to: Address) -> Result<(), Error> {
        self._only_role(Role::Admin)?;
        if to.is_zero() {
            return Err(Error::InvalidAccount(RegistryInvalidAccount {
                account: to,
            }));
        }
        let (escrowed, earned) = pack::pair(self._global(FUNDS));
        self._set_global(FUNDS, pack::from_pair(escrowed, 0));
        let amount = U256::from(earned);
        self._send(to, amount)?;
        self._emit(
            &[FeesWithdrawn::SIGNATURE_HASH, address(to)],
            &[Field::Word(u256(amount))],
        );
        Ok(())
    }

    /// Grants (`granted`) or revokes `role` (a [`Role`] code) for `account`; only the admin.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] (admin), [`Error::InvalidRole`], [`Error::InvalidAccount`].
    ///
    /// # Events
    /// [`RoleChanged`].
    pub fn set_role(&mut self, account: Address, role: u8, granted: bool) -> Result<(), Error> {
        self._only_role(Role::Admin)?;
        let role = Role::try_from(role)
            .map_err(|e| Error::InvalidRole(RegistryInvalidRole { role: e.0 }))?;
        self._set_role(account, role, granted)
    }

    /// Sets the minimum fee, the maximum wait and the TTL (both in seconds from submission, applied to pending
    /// versions too) and pauses or resumes `submit`, `confirmStorage` and `finalizeRegistrations`; only the admin.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] (admin), [`Error::InvalidConfig`].
    ///
    /// # Events
    /// [`ConfigChanged`].
    pub fn set_config(
        &mut self,
        min_fee: U256,
        max_wait: u64,
        ttl: u64,
        paused: bool,
    ) -> Result<(), Error> {
        self._only_role(Role::Admin)?;
        self._set_config(min_fee, max_wait, ttl, paused)
    }

    /// Version `id`.
    ///
    /// # Errors
    /// [`Error::UnknownVersion`].
    pub fn version(&self, id: U256) -> Result<VersionInfo, Error> {
        let index = self._known(id)?;
        let core = self._core(index);
        let info = self._info(index);
        let hash = |k: usize| self._word(index, k);
        Ok(VersionInfo {
            name: hash(NAME),
            version: info.version,
            submitter: Address::from_word(hash(SUBMITTER)),
            status: self._status_of(index, &core).code(),
            reason: core.reason,
            relation: core.relation,
            parentCount: core.parent_count,
            format: core.format,
            contentHash: hash(CONTENT_HASH),
            size: info.size,
            storageExpiry: info.storage_expiry,
            runtime: hash(RUNTIME),
            ioSchemaHash: hash(IO_SCHEMA_HASH),
            licenseId: hash(LICENSE_ID),
            metadataHash: hash(METADATA_HASH),
            fee: U256::from(core.fee),
            submittedAt: core.submitted_at,
            registeredAt: core.registered_at,
        })
    }

    /// Whether version `id` is Registered and not yanked now.
    pub fn is_usable(&self, id: U256) -> bool {
        self._index(id)
            .is_some_and(|index| self._status(index) == Status::Registered)
    }

    /// Whether version `id` was usable at time `t`: registered at or before `t` and not yanked at `t`.
    /// InferenceSettlement judges receipts by it; the signature is frozen.
    pub fn usable_at(&self, id: U256, t: u64) -> bool {
        let Some(index) = self._index(id) else {
            return false;
        };
        let core = self._core(index);
        if !matches!(status_of(&core), Status::Registered | Status::Yanked)
            || core.registered_at > t
        {
            return false;
        }
        // Toggles are appended at non-decreasing block times: count those at or before `t`.
        let (mut lo, mut hi) = (0u32, core.yank_toggles);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pack::limbs(self.accounts.get(self._toggle_key(index, mid)).into())[0] <= t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo % 2 == 0
    }

    /// Versions waiting for storage or registration.
    pub fn pending_count(&self) -> u64 {
        self._counters().pending
    }

    /// Seconds since the oldest pending version was submitted (0 when none is pending).
    pub fn oldest_pending_age(&self) -> u64 {
        let counters = self._counters();
        if counters.pending == 0 {
            return 0;
        }
        let mut index = counters.head.max(1);
        while index <= counters.count {
            let core = self._core(index);
            if status_of(&core).is_pending() {
                return self
                    .vm()
                    .block_timestamp()
                    .saturating_sub(core.submitted_at);
            }
            index += 1;
        }
        0
    }
}

impl ModelRegistry {
    /// The configuration, or [`Error::Paused`].
    fn _config(&self) -> Result<Config, Error> {
        let config = Config::load(self._global(CONFIG));
        if config.paused {
            return Err(Error::Paused(RegistryPaused {}));
        }
        Ok(config)
    }

    fn _global(&self, k: usize) -> U256 {
        self.globals.get(k).unwrap_or_default().into()
    }

    fn _set_global(&mut self, k: usize, word: U256) {
        if let Some(mut slot) = self.globals.setter(k) {
            slot.set(word.into());
        }
    }

    fn _name_word(&self, name: B256, k: usize) -> B256 {
        self.names.getter(name).get(k).unwrap_or_default()
    }

    fn _set_name_word(&mut self, name: B256, k: usize, word: B256) {
        if let Some(mut slot) = self.names.setter(name).setter(k) {
            slot.set(word);
        }
    }

    fn _name_owner(&self, name: B256) -> Address {
        Address::from_word(self._name_word(name, OWNER))
    }

    fn _counters(&self) -> Counters {
        Counters::load(self._global(COUNTERS))
    }

    /// Word `k` of version `index`.
    fn _word(&self, index: u64, k: usize) -> B256 {
        self.versions.getter(index).words.get(k).unwrap_or_default()
    }

    fn _set_word(&mut self, index: u64, k: usize, word: B256) {
        if let Some(mut slot) = self.versions.setter(index).words.setter(k) {
            slot.set(word);
        }
    }

    fn _core(&self, index: u64) -> Core {
        Core::load(self._word(index, CORE).into())
    }

    fn _set_core(&mut self, index: u64, core: Core) {
        self._set_word(index, CORE, core.store().into());
    }

    fn _info(&self, index: u64) -> Info {
        Info::load(self._word(index, INFO).into())
    }

    fn _status(&self, index: u64) -> Status {
        status_of(&self._core(index))
    }

    /// Version `index`'s status as the ABI reports it. The core word (`core`) never holds `Stored`: a version whose
    /// core says Submitted is Stored once its info word holds a storage expiry (always in the future when set, so
    /// never zero), which lets `confirmStorage` write one slot instead of two. Only pending versions read the
    /// info word here; [`Self::_status`] is enough wherever Submitted and Stored need not be told apart.
    fn _status_of(&self, index: u64, core: &Core) -> Status {
        match status_of(core) {
            Status::Submitted if self._info(index).storage_expiry != 0 => Status::Stored,
            status => status,
        }
    }

    /// The parents of version `index`: the first `n` entries of the array.
    fn _parents(&self, index: u64) -> ([u64; MAX_PARENTS], usize) {
        let n = usize::from(self._core(index).parent_count).min(MAX_PARENTS);
        let mut parents = [0u64; MAX_PARENTS];
        for (k, chunk) in parents.chunks_mut(4).enumerate().take(n.div_ceil(4)) {
            chunk.copy_from_slice(&pack::limbs(self._word(index, PARENTS + k).into()));
        }
        (parents, n)
    }

    fn _emit(&self, topics: &[B256], fields: &[Field<'_>]) {
        self.vm()
            .emit_log(&log::encode(topics, fields), topics.len());
    }

    fn _has_role(&self, account: Address, role: Role) -> bool {
        pack::pair(self.accounts.get(account).into()).1 & u128::from(role.bit()) != 0
    }

    fn _only_role(&self, role: Role) -> Result<(), Error> {
        let account = self.vm().msg_sender();
        if !self._has_role(account, role) {
            return Err(Error::Unauthorized(RegistryUnauthorized {
                account,
                role: role.code(),
            }));
        }
        Ok(())
    }

    fn _set_role(&mut self, account: Address, role: Role, granted: bool) -> Result<(), Error> {
        if account.is_zero() {
            return Err(Error::InvalidAccount(RegistryInvalidAccount { account }));
        }
        let (credit, mask) = pack::pair(self.accounts.get(account).into());
        let mask = if granted {
            mask | u128::from(role.bit())
        } else {
            mask & !u128::from(role.bit())
        };
        self.accounts
            .insert(account, pack::from_pair(credit, mask).into());
        self._emit(
            &[
                RoleChanged::SIGNATURE_HASH,
                address(account),
                uint(role.code().into()),
            ],
            &[Field::Word(boolean(granted))],
        );
        Ok(())
    }

    fn _set_config(
        &mut self,
        min_fee: U256,
        max_wait: u64,
        ttl: u64,
        paused: bool,
    ) -> Result<(), Error> {
        let fee = u64_in(min_fee);
        let Some(min_fee) = fee.filter(|_| ttl != 0 && max_wait < ttl) else {
            return Err(Error::InvalidConfig(RegistryInvalidConfig {
                minFee: min_fee,
                maxWait: max_wait,
                ttl,
            }));
        };
        self._set_global(
            CONFIG,
            Config {
                paused,
                max_wait,
                ttl,
                min_fee,
            }
            .store(),
        );
        self._emit(
            &[ConfigChanged::SIGNATURE_HASH],
            &[
                Field::Word(uint(min_fee)),
                Field::Word(uint(max_wait)),
                Field::Word(uint(ttl)),
                Field::Word(boolean(paused)),
            ],
        );
        Ok(())
    }

    /// Claims `name` for `sender` if unowned or released (every version of it Rejected or Expired: the first
    /// submitter keeps a name only by getting a version registered), checks ownership and that `version` is new,
    /// and records `version`.
    fn _claim(&mut self, name: B256, sender: Address, version: u64) -> Result<(), Error> {
        if name.is_zero() {
            return Err(Error::InvalidName(RegistryInvalidName { name }));
        }
        let owner = self._name_owner(name);
        let [highest, _, live, _] = pack::limbs(self._name_word(name, NAME_VERSIONS).into());
        // An unowned name has no versions, so `live == 0` also covers it.
        let claims = owner != sender;
        if claims && live != 0 {
            return Err(Error::NotNameOwner(RegistryNotNameOwner {
                name,
                account: sender,
            }));
        }
        if version <= highest {
            return Err(Error::VersionNotIncreasing(RegistryVersionNotIncreasing {
                name,
                version,
                highest,
            }));
        }
        // Written only once every check passed (a revert undoes writes on chain, not in TestVM).
        // Overflow not possible: live <= versions of the name < 2^64.
        self._set_name_word(
            name,
            NAME_VERSIONS,
            pack::word([version, 0, live + 1, 0]).into(),
        );
        if claims {
            self._set_name_word(name, OWNER, sender.into_word());
            self._emit(
                &[
                    NameTransferred::SIGNATURE_HASH,
                    name,
                    address(owner),
                    address(sender),
                ],
                &[],
            );
        }
        Ok(())
    }

    /// `keccak256(uint256(index) ‖ word)`, whose last 20 bytes key extra per-version values in the `accounts` map
    /// (fork approvals, yank toggles), reusing its code instead of adding storage types. Nobody holds the key of
    /// such an address, and steering one onto a real account's needs a 160-bit preimage. (Never key the `names`
    /// map this way: its keys are chosen by submitters.)
    fn _derived_key(&self, index: u64, word: B256) -> B256 {
        let mut input = [0u8; 64];
        input[..32].copy_from_slice(uint(index).as_slice());
        input[32..].copy_from_slice(word.as_slice());
        self.vm().native_keccak256(&input)
    }

    /// Where the approval of `forker`'s forks of version `parent` is kept: the `accounts` key made of the last 20
    /// bytes of `_derived_key(parent, forker)`.
    fn _fork_key(&self, parent: u64, forker: Address) -> Address {
        Address::from_word(self._derived_key(parent, forker.into_word()))
    }

    /// Where yank toggle `k` of version `index` is kept: the `accounts` key made of the last 20 bytes of
    /// `_derived_key(index, ~k)` (the complement starts with `0xff` bytes, which no address word does, so toggle
    /// keys never equal fork keys).
    fn _toggle_key(&self, index: u64, k: u32) -> Address {
        Address::from_word(self._derived_key(index, !uint(k.into())))
    }

    /// Whether version `index`'s submitter may derive from `parent`: the parent's name owner is the submitter, the
    /// parent's license allows derivatives, or the parent's owner approved this submitter's forks of it.
    fn _may_derive(&self, index: u64, parent: u64) -> bool {
        let forker = Address::from_word(self._word(index, SUBMITTER));
        self._name_owner(self._word(parent, NAME)) == forker
            || license_allows_derivatives(&self._word(parent, LICENSE_ID).0)
            || pack::pair(self.accounts.get(self._fork_key(parent, forker)).into()).1
                & FORK_APPROVED
                != 0
    }

    /// The version index of `id`, if a version has it.
    fn _index(&self, id: U256) -> Option<u64> {
        id_in_range(id, self._counters().count)
    }

    /// The version index of `id`, or [`Error::UnknownVersion`].
    fn _known(&self, id: U256) -> Result<u64, Error> {
        self._index(id)
            .ok_or(Error::UnknownVersion(RegistryUnknownVersion { id }))
    }

    fn _confirm_storage(
        &mut self,
        config: Config,
        id: U256,
        content_hash: B256,
        size: u64,
        storage_expiry: u64,
    ) -> Result<(), Error> {
        let index = self._known(id)?;
        let core = self._core(index);
        match self._status_of(index, &core) {
            Status::Submitted => {}
            Status::Stored => return Err(Error::AlreadyStored(RegistryAlreadyStored { id })),
            other => return Err(already_final(id, other)),
        }
        let now = self.vm().block_timestamp();
        let mut info = self._info(index);
        let outcome = if now >= core.submitted_at.saturating_add(config.ttl) {
            Some((Status::Expired, Reason::TtlElapsed))
        } else if self._word(index, CONTENT_HASH) != content_hash {
            Some((Status::Rejected, Reason::ContentHashMismatch))
        } else if info.size != size {
            Some((Status::Rejected, Reason::SizeMismatch))
        } else if storage_expiry <= now {
            Some((Status::Rejected, Reason::StorageExpired))
        } else {
            None
        };
        if let Some((status, reason)) = outcome {
            self._finish(index, core, status, reason);
            self._advance_queue(1 + QUEUE_SLACK);
            return Ok(());
        }
        // `Stored` is not written to the core word: a Submitted version with a storage expiry is Stored
        // ([`Self::_status_of`]), so attestation writes one slot.
        info.storage_expiry = storage_expiry;
        self._set_word(index, INFO, info.store().into());
        self._emit(
            &[StorageConfirmed::SIGNATURE_HASH, u256(id)],
            &[Field::Word(uint(storage_expiry))],
        );
        Ok(())
    }

    fn _finalize_registrations(&mut self, config: Config, ids: &[U256], is_keeper: bool) {
        let now = self.vm().block_timestamp();
        let count = self._counters().count;
        let mut finalized = 0u64;
        for &id in ids {
            let Some(index) = id_in_range(id, count) else {
                self._report(id, Status::None, Reason::UnknownVersion, false);
                continue;
            };
            let core = self._core(index);
            let status = self._status_of(index, &core);
            let (to, reason) = if status.is_final() {
                (status, Reason::AlreadyFinal)
            } else if now >= core.submitted_at.saturating_add(config.ttl) {
                (Status::Expired, Reason::TtlElapsed)
            } else if !is_keeper && now < core.submitted_at.saturating_add(config.max_wait) {
                (status, Reason::NotDue)
            } else if status != Status::Stored {
                (status, Reason::NotStored)
            } else {
                match self._registration_reason(index, &core, now) {
                    Reason::None => (Status::Registered, Reason::None),
                    reason => (Status::Rejected, reason),
                }
            };
            if to == status {
                self._report(id, status, reason, false);
            } else {
                self._finish(index, core, to, reason);
                finalized += 1;
            }
        }
        if finalized > 0 {
            self._advance_queue(finalized + QUEUE_SLACK);
        }
    }

    fn _report(&self, id: U256, status: Status, reason: Reason, changed: bool) {
        self._emit(
            &[VersionFinalized::SIGNATURE_HASH, u256(id)],
            &[
                Field::Word(uint(status.code().into())),
                Field::Word(uint(reason.code().into())),
                Field::Word(boolean(changed)),
            ],
        );
    }

    /// Why a Stored version cannot be registered now, or [`Reason::None`].
    fn _registration_reason(&self, index: u64, core: &Core, now: u64) -> Reason {
        if core.reason != Reason::None.code() {
            return Reason::try_from(core.reason).unwrap_or(Reason::BadRelation);
        }
        let info = self._info(index);
        if info.storage_expiry <= now {
            return Reason::StorageExpired;
        }
        let (parents, n) = self._parents(index);
        for &parent in &parents[..n] {
            match self._status(parent) {
                Status::Registered => {}
                Status::Yanked => return Reason::ParentYanked,
                _ => return Reason::ParentNotRegistered,
            }
            if !self._may_derive(index, parent) {
                return Reason::ForkNotApproved;
            }
        }
        Reason::None
    }

    /// Moves pending version `index` (whose slot is `core`) to final status `to` with `reason`: the fee leaves
    /// escrow into the earned fees (Registered) or the submitter's refund credit (Rejected, Expired) — exactly
    /// once, since only pending versions get here.
    fn _finish(&mut self, index: u64, core: Core, to: Status, reason: Reason) {
        let now = self.vm().block_timestamp();
        let fee = u128::from(core.fee);
        let (escrowed, mut earned) = pack::pair(self._global(FUNDS));
        let mut core = Core {
            status: to.code(),
            reason: reason.code(),
            ..core
        };
        if to == Status::Registered {
            core.registered_at = now;
            // Overflow not possible: earned <= ether supply < 2^128.
            earned += fee;
        } else {
            // One version of its name fewer that is not Rejected or Expired: at zero the name is released.
            let name = self._word(index, NAME);
            let mut limbs = pack::limbs(self._name_word(name, NAME_VERSIONS).into());
            // Underflow not possible: this pending version is counted.
            limbs[2] -= 1;
            self._set_name_word(name, NAME_VERSIONS, pack::word(limbs).into());
            if fee != 0 {
                let submitter = Address::from_word(self._word(index, SUBMITTER));
                let amount = U256::from(fee);
                let (credit, roles) = pack::pair(self.accounts.get(submitter).into());
                // Overflow not possible: credits <= ether supply < 2^128.
                self.accounts
                    .insert(submitter, pack::from_pair(credit + fee, roles).into());
                self._set_global(REFUNDS_OWED, self._global(REFUNDS_OWED) + amount);
                self._emit(
                    &[
                        RefundCredited::SIGNATURE_HASH,
                        address(submitter),
                        uint(index),
                    ],
                    &[Field::Word(u256(amount))],
                );
            }
        }
        self._set_core(index, core);
        // Underflow not possible: escrowed is the sum of pending fees, this one included.
        self._set_global(FUNDS, pack::from_pair(escrowed - fee, earned));
        let mut counters = self._counters();
        // Underflow not possible: this version was pending, so pending >= 1.
        counters.pending -= 1;
        self._set_global(COUNTERS, counters.store());
        self._report(U256::from(index), to, reason, true);
    }

    /// Moves the queue head past final versions, at most `budget` steps (straight past everything when nothing is
    /// pending).
    fn _advance_queue(&mut self, budget: u64) {
        let mut counters = self._counters();
        if counters.pending == 0 {
            // Overflow not possible: count < 2^64 - 1.
            counters.head = counters.count + 1;
        } else {
            let mut steps = 0;
            while steps < budget
                && counters.head <= counters.count
                && !self._status(counters.head).is_pending()
            {
                counters.head += 1;
                steps += 1;
            }
        }
        self._set_global(COUNTERS, counters.store());
    }

    /// Sends `amount` wei to `to` with all gas.
    fn _send(&mut self, to: Address, amount: U256) -> Result<(), Error> {
        if !verity_contract_support::transfer(self.vm(), to, amount) {
            return Err(Error::TransferFailed(RegistryTransferFailed { to, amount }));
        }
        Ok(())
    }
}

/// The first submission-time problem, in [`Reason`] code order: relation checks, then each missing field.
fn submission_reason(relation: u8, parents: &[u64], missing: [(bool, Reason); 10]) -> Reason {
    let Ok(relation) = Relation::try_from(relation) else {
        return Reason::BadRelation;
    };
    if !relation.accepts_parent_count(parents.len()) {
        return Reason::WrongParentCount;
    }
    for (k, parent) in parents.iter().enumerate() {
        if parents[..k].contains(parent) {
            return Reason::DuplicateParent;
        }
    }
    missing
        .into_iter()
        .find(|(is_missing, _)| *is_missing)
        .map_or(Reason::None, |(_, reason)| reason)
}

fn status_of(core: &Core) -> Status {
    Status::try_from(core.status).unwrap_or(Status::None)
}

fn already_final(id: U256, status: Status) -> Error {
    Error::AlreadyFinal(RegistryAlreadyFinal {
        id,
        status: status.code(),
    })
}

/// `value` if it fits 64 bits.
fn u64_in(value: U256) -> Option<u64> {
    let [low, rest @ ..] = *value.as_limbs();
    (rest == [0, 0, 0]).then_some(low)
}

/// `id` as a version index if `1 <= id <= count`.
fn id_in_range(id: U256, count: u64) -> Option<u64> {
    u64_in(id).filter(|index| *index != 0 && *index <= count)
}

#[cfg(test)]
mod tests;
