//! ModelRegistry (`verity-registry`): events, errors, status/relation/format/role enums and reason codes.
//!
//! A version moves `Submitted` → `Stored` → `Registered` | `Rejected` | `Expired`; a `Registered` version can be
//! `Yanked` and unyanked. Every move to a final status (Registered, Rejected, Expired) and every item of a
//! `finalizeRegistrations` batch emits `VersionFinalized(id, status, reason, changed)`; `changed == false` reports an item left as it was (already
//! final, not stored yet, not due for an outsider, unknown id) — the idempotency rule: a batch never reverts for
//! one item. `confirmStorageBatch` follows the same rule: each item is `StorageConfirmed`, finalized (Rejected /
//! Expired) or reported unchanged (`UnknownVersion`, `AlreadyStored`, `AlreadyFinal`). URIs and tags are emitted in `VersionSubmitted` only (the keeper indexes them); the contract stores
//! hashes and the fields it judges by.
//!
//! Errors carry a `Registry` prefix; `RegistryAlreadyStored` / `RegistryAlreadyFinal` are the "already done"
//! answers of the single-target operations (`confirmStorage`, `expire`), which the keeper treats as success.

use core::fmt;

/// Most parents a version may name (a merge takes 2..=`MAX_PARENTS`).
pub const MAX_PARENTS: usize = 8;

/// Most tags a submission may carry (tags are emitted, never stored).
pub const MAX_TAGS: usize = 16;

/// The bit of a `licenseId`'s last byte that declares "derivatives allowed": a version of another owner may derive
/// from a version whose license id has it set without the owner's `approveFork`. Text ids (SPDX names, left-aligned,
/// at most 31 bytes) leave the last byte zero — no derivatives unless the flag is added ([`license_id`]); a
/// hash-style id must set or clear the bit deliberately.
pub const LICENSE_DERIVATIVES_FLAG: u8 = 0x01;

/// Whether the license id `license` allows derivatives by other owners ([`LICENSE_DERIVATIVES_FLAG`]).
pub const fn license_allows_derivatives(license: &[u8; 32]) -> bool {
    license[31] & LICENSE_DERIVATIVES_FLAG != 0
}

/// A license id from its text (left-aligned, at most 31 bytes, longer text is cut) and whether it allows
/// derivatives by other owners.
pub fn license_id(text: &str, allows_derivatives: bool) -> [u8; 32] {
    let mut id = [0u8; 32];
    let n = text.len().min(31);
    id[..n].copy_from_slice(&text.as_bytes()[..n]);
    if allows_derivatives {
        id[31] = LICENSE_DERIVATIVES_FLAG;
    }
    id
}

/// Words per item of `confirmStorageBatch(bytes32[] items)` ([`storage_item`]).
pub const STORAGE_ITEM_WORDS: usize = 2;

/// One item of `confirmStorageBatch(bytes32[] items)`, what `confirmStorage(id, contentHash, size, storageExpiry)`
/// takes: the word `id | size << 64 | storageExpiry << 128` (ids are below 2^64), then the content hash. Items are
/// packed into `bytes32` pairs because a struct array's decoder cost the registry ≈1.1 KB of its 24 KiB (measured);
/// a trailing odd word is ignored.
pub fn storage_item(
    id: u64,
    content_hash: [u8; 32],
    size: u64,
    storage_expiry: u64,
) -> [alloy_primitives::B256; STORAGE_ITEM_WORDS] {
    let packed = alloy_primitives::U256::from_limbs([id, size, storage_expiry, 0]);
    [packed.into(), content_hash.into()]
}

/// A value that is not a code of the enum it was decoded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCode(pub u8);

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown code {}", self.0)
    }
}

/// Declares a `#[repr(u8)]` enum with a fallible `TryFrom<u8>` (never a panicking `From`).
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)*
        }

        impl $name {
            /// Every variant, in code order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The on-chain code.
            pub const fn code(self) -> u8 {
                self as u8
            }
        }

        impl TryFrom<u8> for $name {
            type Error = UnknownCode;

            fn try_from(code: u8) -> Result<Self, UnknownCode> {
                match code {
                    $($value => Ok($name::$variant),)*
                    other => Err(UnknownCode(other)),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(value: $name) -> u8 {
                value as u8
            }
        }
    };
}

code_enum! {
    /// Where a version stands (`uint8 status` in events and `VersionInfo`).
    Status {
        /// No version has this id.
        None = 0,
        /// Submitted and paid; waiting for the storage attestation.
        Submitted = 1,
        /// Storage attested; waiting for registration.
        Stored = 2,
        /// Registered: usable.
        Registered = 3,
        /// Rejected with a reason; the fee was refunded.
        Rejected = 4,
        /// Not finalized within the TTL; the fee was refunded.
        Expired = 5,
        /// Registered, then withdrawn from use by its owner (reversible).
        Yanked = 6,
    }
}

impl Status {
    /// The statuses a version never leaves by finalization (registration, rejection or expiry already happened).
    pub const FINAL: [Status; 4] = [
        Status::Registered,
        Status::Rejected,
        Status::Expired,
        Status::Yanked,
    ];

    /// Waiting for a stage (Submitted or Stored): counted by `pendingCount()`, its fee escrowed.
    pub const fn is_pending(self) -> bool {
        matches!(self, Status::Submitted | Status::Stored)
    }

    /// Registration, rejection or expiry happened.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Status::Registered | Status::Rejected | Status::Expired | Status::Yanked
        )
    }
}

code_enum! {
    /// How a version derives from its parents (`uint8 relation`).
    Relation {
        /// Trained from scratch: no parents.
        Original = 0,
        /// Fine-tuned from one parent.
        Finetune = 1,
        /// An adapter (LoRA …) on one parent.
        Adapter = 2,
        /// A quantization of one parent.
        Quantized = 3,
        /// Distilled from one parent.
        Distill = 4,
        /// A merge of 2..=`MAX_PARENTS` parents.
        Merge = 5,
    }
}

impl Relation {
    /// Whether `count` parents fit this relation.
    pub const fn accepts_parent_count(self, count: usize) -> bool {
        match self {
            Relation::Original => count == 0,
            Relation::Finetune | Relation::Adapter | Relation::Quantized | Relation::Distill => {
                count == 1
            }
            Relation::Merge => count >= 2 && count <= MAX_PARENTS,
        }
    }
}

code_enum! {
    /// The weights' file format (`uint8 format`); `Unspecified` counts as a missing field.
    Format {
        /// Not given: rejected at registration ([`Reason::MissingFormat`]).
        Unspecified = 0,
        /// safetensors.
        Safetensors = 1,
        /// ONNX.
        Onnx = 2,
        /// GGUF (llama.cpp).
        Gguf = 3,
        /// PyTorch pickle / TorchScript.
        PyTorch = 4,
        /// TensorRT engine.
        TensorRt = 5,
        /// Core ML.
        CoreMl = 6,
        /// Apple MLX.
        Mlx = 7,
        /// TensorFlow SavedModel / TFLite.
        TensorFlow = 8,
        /// Verity's `VZK1` quantized-MLP weights file (`verity-zk`), the format mode-ZK proofs are made for.
        VerityZk = 9,
    }
}

code_enum! {
    /// Roles (`uint8 role`); an account may hold several.
    Role {
        /// Grants and revokes roles, pauses, sets the configuration, withdraws earned fees.
        Admin = 0,
        /// Confirms storage (`confirmStorage`).
        Attester = 1,
        /// Finalizes registrations at any time (`finalizeRegistrations`).
        Keeper = 2,
    }
}

impl Role {
    /// The role's bit in an account's role mask.
    pub const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

code_enum! {
    /// Why a version was rejected or expired, or why a batch item was left unchanged (`uint8 reason`).
    /// Submission-time checks (relation, metadata) are recorded at `submit` and applied at registration, first
    /// failing check first, in code order.
    Reason {
        /// Nothing to report (registered, stored).
        None = 0,
        /// Storage stage: the attested content hash differs from the submitted one.
        ContentHashMismatch = 1,
        /// Storage stage: the attested size differs from the submitted one.
        SizeMismatch = 2,
        /// The storage expiry is not in the future (at attestation or at registration).
        StorageExpired = 3,
        /// The relation code is unknown.
        BadRelation = 10,
        /// The parent count does not fit the relation (original 0, finetune/adapter/quantized/distill 1, merge 2..=N).
        WrongParentCount = 11,
        /// A parent is named twice.
        DuplicateParent = 12,
        /// A parent is not Registered (still pending, rejected or expired).
        ParentNotRegistered = 13,
        /// A parent is yanked.
        ParentYanked = 14,
        /// A parent belongs to another owner, its license does not allow derivatives ([`license_allows_derivatives`])
        /// and its owner has not approved this submitter's fork (`approveFork(parent, forker)`).
        ForkNotApproved = 15,
        /// Missing metadata: content hash is zero.
        MissingContentHash = 20,
        /// Missing metadata: size is zero.
        MissingSize = 21,
        /// Missing metadata: storage URI is empty.
        MissingStorageUri = 22,
        /// Missing metadata: format is `Unspecified`.
        MissingFormat = 23,
        /// The format code is unknown.
        UnknownFormat = 24,
        /// Missing metadata: runtime is zero.
        MissingRuntime = 25,
        /// Missing metadata: input/output schema hash is zero.
        MissingIoSchema = 26,
        /// Missing metadata: license id is zero.
        MissingLicense = 27,
        /// Missing metadata: metadata document hash is zero.
        MissingMetadataHash = 28,
        /// Missing metadata: metadata document URI is empty.
        MissingMetadataUri = 29,
        /// Expired: the TTL passed before the version was finalized.
        TtlElapsed = 40,
        /// Unchanged batch item: already final (`status` says which).
        AlreadyFinal = 50,
        /// Unchanged batch item: storage not confirmed yet.
        NotStored = 51,
        /// Unchanged batch item: the caller is not a keeper and the maximum wait has not passed.
        NotDue = 52,
        /// Unchanged batch item: no version has this id.
        UnknownVersion = 53,
        /// Unchanged `confirmStorageBatch` item: storage already confirmed.
        AlreadyStored = 54,
    }
}

sol_with_source! {
    /// Solidity source of the registry's events, appended to the committed interface file.
    EVENTS_SOL => {
        event RoleChanged(address indexed account, uint8 indexed role, bool granted);
        event ConfigChanged(uint256 minFee, uint64 maxWait, uint64 ttl, bool paused);
        event NameTransferred(bytes32 indexed name, address indexed previousOwner, address indexed newOwner);
        event VersionSubmitted(uint256 indexed id, bytes32 indexed name, address indexed submitter, uint64 version, uint8 relation, uint256[] parents, bytes32 contentHash, uint64 size, bytes storageUri, uint8 format, bytes32 runtime, bytes32 ioSchemaHash, bytes32 licenseId, bytes32 metadataHash, bytes metadataUri, bytes32[] tags, uint256 fee, uint256 priorityFee);
        event StorageConfirmed(uint256 indexed id, uint64 storageExpiry);
        event VersionFinalized(uint256 indexed id, uint8 status, uint8 reason, bool changed);
        event YankChanged(uint256 indexed id, bool yanked);
        event RefundCredited(address indexed account, uint256 indexed id, uint256 amount);
        event RefundWithdrawn(address indexed account, uint256 amount);
        event FeesWithdrawn(address indexed to, uint256 amount);
        event ForkApproved(uint256 indexed parent, address indexed forker, address indexed owner);
    }
}

alloy_sol_types::sol! {
    #![sol(all_derives)]
    /// `account` lacks `role` (a [`Role`] code).
    error RegistryUnauthorized(address account, uint8 role);
    /// The registry is paused.
    error RegistryPaused();
    /// The zero address cannot hold a role, a name or receive a withdrawal.
    error RegistryInvalidAccount(address account);
    /// `role` is not a [`Role`] code.
    error RegistryInvalidRole(uint8 role);
    /// The TTL must be non-zero and exceed the maximum wait; the minimum fee must fit 64 bits.
    error RegistryInvalidConfig(uint256 minFee, uint64 maxWait, uint64 ttl);
    /// The zero name cannot be claimed.
    error RegistryInvalidName(bytes32 name);
    /// `account` does not own `name`.
    error RegistryNotNameOwner(bytes32 name, address account);
    /// `version` does not exceed `highest`, the highest version ever submitted for `name`.
    error RegistryVersionNotIncreasing(bytes32 name, uint64 version, uint64 highest);
    /// More than `max` parents.
    error RegistryTooManyParents(uint256 count, uint256 max);
    /// `parent` names no existing version (parents must be submitted before their children).
    error RegistryUnknownParent(uint256 parent);
    /// More than `max` tags.
    error RegistryTooManyTags(uint256 count, uint256 max);
    /// The value sent is below the minimum fee.
    error RegistryInsufficientFee(uint256 paid, uint256 minimum);
    /// The value sent does not fit the fee field (64 bits, 18.4 ether).
    error RegistryFeeTooLarge(uint256 paid);
    /// No version has id `id`.
    error RegistryUnknownVersion(uint256 id);
    /// The operation does not apply to version `id` in `status`.
    error RegistryInvalidStatus(uint256 id, uint8 status);
    /// Storage of `id` was already confirmed ("already done" for `confirmStorage`).
    error RegistryAlreadyStored(uint256 id);
    /// `id` is already final in `status` ("already done" for `confirmStorage` and `expire`).
    error RegistryAlreadyFinal(uint256 id, uint8 status);
    /// `id` cannot be expired before `expiresAt`.
    error RegistryNotExpired(uint256 id, uint64 expiresAt);
    /// `account` has no refund to withdraw.
    error RegistryNothingToWithdraw(address account);
    /// `requested` exceeds the `available` earned fees.
    error RegistryInsufficientFees(uint256 requested, uint256 available);
    /// Sending `amount` wei to `to` failed.
    error RegistryTransferFailed(address to, uint256 amount);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::try_from(s.code()), Ok(*s));
        }
        for r in Reason::ALL {
            assert_eq!(Reason::try_from(r.code()), Ok(*r));
        }
        for r in Relation::ALL {
            assert_eq!(Relation::try_from(r.code()), Ok(*r));
        }
        for f in Format::ALL {
            assert_eq!(Format::try_from(f.code()), Ok(*f));
        }
        assert_eq!(Status::try_from(7), Err(UnknownCode(7)));
        assert_eq!(Relation::try_from(6), Err(UnknownCode(6)));
        assert_eq!(Role::try_from(3), Err(UnknownCode(3)));
    }

    #[test]
    fn final_and_pending_partition_the_live_statuses() {
        for s in Status::ALL {
            assert!(!(s.is_final() && s.is_pending()), "{s:?}");
            assert_eq!(Status::FINAL.contains(s), s.is_final());
        }
        assert!(!Status::None.is_pending() && !Status::None.is_final());
    }

    #[test]
    fn license_flag_is_the_last_byte_bit() {
        assert!(!license_allows_derivatives(&license_id(
            "Apache-2.0",
            false
        )));
        assert!(license_allows_derivatives(&license_id("Apache-2.0", true)));
        assert_eq!(&license_id("MIT", true)[..3], b"MIT");
        assert!(!license_allows_derivatives(&license_id(
            "a text of more than thirty-one bytes",
            false
        )));
    }

    #[test]
    fn relations_take_their_parent_counts() {
        assert!(Relation::Original.accepts_parent_count(0));
        assert!(!Relation::Original.accepts_parent_count(1));
        assert!(Relation::Quantized.accepts_parent_count(1));
        assert!(!Relation::Finetune.accepts_parent_count(2));
        assert!(!Relation::Merge.accepts_parent_count(1));
        assert!(Relation::Merge.accepts_parent_count(MAX_PARENTS));
        assert!(!Relation::Merge.accepts_parent_count(MAX_PARENTS + 1));
    }

    #[test]
    fn events_source_declares_every_event() {
        for name in [
            "RoleChanged",
            "ConfigChanged",
            "NameTransferred",
            "VersionSubmitted",
            "StorageConfirmed",
            "VersionFinalized",
            "YankChanged",
            "RefundCredited",
            "RefundWithdrawn",
            "FeesWithdrawn",
            "ForkApproved",
        ] {
            assert!(
                crate::solidity_events(EVENTS_SOL)
                    .iter()
                    .any(|e| e.starts_with(&alloc::format!("event {name}("))),
                "{name}"
            );
        }
    }
}
