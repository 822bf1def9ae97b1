//! InferenceSettlement (`verity-settlement`): the receipt, its EIP-712 encoding, the Merkle leaf encoding and
//! proof verifier, status codes, events and errors — frozen here so the contract, the keeper and the tests agree.
//!
//! # Receipt signature (EIP-712)
//! Domain `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)` with name
//! [`DOMAIN_NAME`] (`"Verity"`), version [`DOMAIN_VERSION`] (`"1"`), the chain id and the settlement contract's
//! address; the struct is [`Receipt`] ([`RECEIPT_TYPEHASH`]). The TEE key signs [`signing_hash`]; the contract
//! recovers the signer through the ecrecover precompile and insists on a low `s` ([`SECP256K1_HALF_N`]).
//!
//! # Merkle batches (OpenZeppelin `StandardMerkleTree`)
//! A leaf is one *signed* receipt, encoded as [`LEAF_ENCODING`]: the nine receipt fields followed by the
//! signature's `v`, `r`, `s`, so anyone holding the batch data can check every signature and challenge a bad leaf.
//! `leaf = keccak256(keccak256(abi.encode(fields)))` ([`leaf_hash`]); inner nodes hash the sorted pair
//! ([`hash_pair`]); [`process_proof`] / [`verify_proof`] check a proof. With `alloc`, [`StandardMerkleTree`]
//! builds the very tree `@openzeppelin/merkle-tree` builds (leaves sorted by hash), so roots and proofs match
//! byte for byte (vectors in `contracts/abi/testdata/`).

use alloc::{vec, vec::Vec};
// The `AbiType` derive's export-abi code names `String`.
#[cfg(feature = "stylus")]
#[allow(unused_imports)]
use alloc::string::String;
use alloy_primitives::{b256, keccak256, Address, B256, U256};

/// EIP-712 domain name of the settlement contract.
pub const DOMAIN_NAME: &str = "Verity";
/// EIP-712 domain version of the settlement contract.
pub const DOMAIN_VERSION: &str = "1";

/// `keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")`.
pub const DOMAIN_TYPEHASH: B256 =
    b256!("8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f");
/// `keccak256("Verity")`.
pub const DOMAIN_NAME_HASH: B256 =
    b256!("4dc9420abfb55d0db70aac56d98470e9cc6295731ea60b521b03bc68a3ea168e");
/// `keccak256("1")`.
pub const DOMAIN_VERSION_HASH: B256 =
    b256!("c89efdaa54c0f20c7adf612882df0950f5a951637e0307cdcb4c672f298b8bc6");
/// The EIP-712 type string of [`Receipt`].
pub const RECEIPT_TYPE: &str = "Receipt(bytes32 requestId,uint256 modelVersion,bytes32 inputHash,bytes32 outputHash,address payer,address node,uint256 fee,uint8 mode,uint64 signedAt)";
/// `keccak256(RECEIPT_TYPE)`.
pub const RECEIPT_TYPEHASH: B256 =
    b256!("aad78e049a572e05cd6fbc8c1aa1921bdea4b1dbc735adfdd94d34883a0c10ab");

/// The EIP-712 type string of a node's proof that it holds the signing key it registers
/// ([`key_registration_hash`]).
pub const KEY_REGISTRATION_TYPE: &str = "KeyRegistration(address node)";
/// `keccak256(KEY_REGISTRATION_TYPE)`.
pub const KEY_REGISTRATION_TYPEHASH: B256 =
    b256!("6e0e7b45d8c1c6bfbe57b64bad60847caa7cc10cc8b5c33f1e638aed5d618efa");

/// Half the secp256k1 group order: a signature's `s` must not exceed it (EIP-2).
pub const SECP256K1_HALF_N: U256 = U256::from_limbs([
    0xdfe92f46681b20a0,
    0x5d576e7357a4501d,
    0xffffffffffffffff,
    0x7fffffffffffffff,
]);

/// The ecrecover precompile (Stylus has no ecrecover host function).
pub const ECRECOVER: Address = Address::with_last_byte(1);

/// OpenZeppelin `StandardMerkleTree` leaf encoding of a signed receipt (the `leafEncoding` argument of
/// `StandardMerkleTree.of`).
pub const LEAF_ENCODING: [&str; 12] = [
    "bytes32", "uint256", "bytes32", "bytes32", "address", "address", "uint256", "uint8", "uint64",
    "uint8", "bytes32", "bytes32",
];

/// Receipt modes: how a receipt's result is backed.
pub mod mode {
    /// Signed by an approved TEE key (the signature is the proof).
    pub const TEE: u8 = 0;
    /// Signed by an approved TEE key and proven by the verifier registered for the model version.
    pub const ZK: u8 = 1;
}

/// A paid request's status (`requestStatus(requestId)`); `NONE` = never opened.
pub mod request_status {
    /// No such request.
    pub const NONE: u8 = 0;
    /// Escrowed by the payer, waiting for an answer.
    pub const REQUESTED: u8 = 1;
    /// The node posted its result commitment (usable at once, not yet proven).
    pub const ANSWERED: u8 = 2;
    /// A valid proof was accepted; the challenge window runs.
    pub const PROVEN: u8 = 3;
    /// The node was paid (final).
    pub const SETTLED: u8 = 4;
    /// The payer was refunded and the node slashed (final).
    pub const REFUNDED: u8 = 5;
    /// Governance is resolving a dispute.
    pub const DISPUTED: u8 = 6;
}

/// A batch's status, also `receiptStatus`'s answer; `NONE` = unknown batch or the receipt is not in it.
pub mod batch_status {
    /// No such batch, or the receipt/proof does not belong to it.
    pub const NONE: u8 = 0;
    /// Anchored; the challenge window runs.
    pub const ANCHORED: u8 = 1;
    /// Survived its window and was finalized (final).
    pub const FINAL: u8 = 2;
    /// A challenge succeeded; nothing in it counts (final).
    pub const VOIDED: u8 = 3;
}

/// Why a batch was voided (`BatchVoided.reason`).
pub mod void_reason {
    /// The leaf's signature does not recover to a registered key, or `s` is high, or the signer is zero.
    pub const BAD_SIGNATURE: u8 = 1;
    /// The signing key was not approved (or already revoked) at `signedAt`.
    pub const KEY_NOT_APPROVED: u8 = 2;
    /// `signedAt` is after the anchoring time or older than the maximum receipt age then.
    pub const BAD_TIME: u8 = 3;
    /// The model version was not usable at `signedAt`.
    pub const MODEL_NOT_USABLE: u8 = 4;
    /// The same request id is included in an earlier batch.
    pub const DUPLICATE_REQUEST: u8 = 5;
    /// The receipt names a node other than the key's owner, or an unknown mode.
    pub const BAD_FIELDS: u8 = 6;
}

alloy_sol_types::sol! {
    #![sol(all_derives)]
    /// An inference receipt, signed (EIP-712) by the node's TEE key.
    #[cfg_attr(feature = "stylus", derive(stylus_sdk::prelude::AbiType))]
    struct Receipt {
        bytes32 requestId;
        uint256 modelVersion;
        bytes32 inputHash;
        bytes32 outputHash;
        address payer;
        address node;
        uint256 fee;
        uint8 mode;
        uint64 signedAt;
    }

    /// A receipt with its TEE signature (`v` is 27 or 28) — one Merkle leaf ([`LEAF_ENCODING`] is its flat
    /// `abi.encode`).
    #[cfg_attr(feature = "stylus", derive(stylus_sdk::prelude::AbiType))]
    struct SignedReceipt {
        Receipt receipt;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// The registry view settlement reads (ModelRegistry exposes it; the selector is asserted against the
    /// registry's committed interface by the end-to-end tests).
    interface IModelUsable {
        function usableAt(uint256 id, uint64 t) external view returns (bool);
    }

    /// What InferenceSettlement and ReceiptBatches call on SettlementNodes (`receiptFault` of a signed receipt in
    /// its flat encoding ([`encode_signed_receipt`]): 0 = valid, else a `void_reason`; `slash` only from
    /// InferenceSettlement, returns the amount taken).
    interface ISettlementNodesCalls {
        function receiptFault(bytes signed, uint64 at) external view returns (uint8);
        function nodeActive(address node) external view returns (bool);
        function slash(address node, uint256 amount, address to) external returns (uint256);
    }

    /// What SettlementNodes calls on InferenceSettlement.
    interface IInferenceSettlementCalls {
        function openRequests(address node) external view returns (uint64);
    }

    /// What InferenceSettlement calls on ReceiptBatches.
    interface IReceiptBatchesCalls {
        function batch(uint256 batchId) external view returns (bytes32, uint64, address, uint64, uint256, uint8);
        function config() external view returns (address, address, bool, uint64, uint256, uint256);
    }

    /// A proof verifier registered per model version for mode-ZK receipts.
    interface IInferenceVerifier {
        function verify(bytes publicInputs, bytes proof) external view returns (bool);
    }
}

/// The 32-byte big-endian word of a `uint64`.
fn word_u64(v: u64) -> [u8; 32] {
    U256::from(v).to_be_bytes()
}

/// The 32-byte left-padded word of an address.
fn word_address(a: Address) -> [u8; 32] {
    a.into_word().0
}

/// `abi.encode` of the receipt's nine fields (9 words).
pub fn encode_receipt(r: &Receipt) -> [u8; 288] {
    let words: [[u8; 32]; 9] = [
        r.requestId.0,
        r.modelVersion.to_be_bytes(),
        r.inputHash.0,
        r.outputHash.0,
        word_address(r.payer),
        word_address(r.node),
        r.fee.to_be_bytes(),
        word_u64(u64::from(r.mode)),
        word_u64(r.signedAt),
    ];
    let mut out = [0u8; 288];
    for (chunk, word) in out.chunks_exact_mut(32).zip(words) {
        chunk.copy_from_slice(&word);
    }
    out
}

/// The EIP-712 domain separator for the settlement contract at `verifying_contract` on `chain_id`.
pub fn domain_separator(chain_id: u64, verifying_contract: Address) -> B256 {
    let mut buf = [0u8; 160];
    buf[..32].copy_from_slice(DOMAIN_TYPEHASH.as_slice());
    buf[32..64].copy_from_slice(DOMAIN_NAME_HASH.as_slice());
    buf[64..96].copy_from_slice(DOMAIN_VERSION_HASH.as_slice());
    buf[96..128].copy_from_slice(&word_u64(chain_id));
    buf[128..].copy_from_slice(&word_address(verifying_contract));
    keccak256(buf)
}

/// EIP-712 `hashStruct(receipt)`.
pub fn receipt_struct_hash(r: &Receipt) -> B256 {
    let mut buf = [0u8; 320];
    buf[..32].copy_from_slice(RECEIPT_TYPEHASH.as_slice());
    buf[32..].copy_from_slice(&encode_receipt(r));
    keccak256(buf)
}

/// The digest the TEE key signs: `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(receipt))`.
pub fn signing_hash(domain_separator: B256, r: &Receipt) -> B256 {
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(domain_separator.as_slice());
    buf[34..].copy_from_slice(receipt_struct_hash(r).as_slice());
    keccak256(buf)
}

/// What a TEE key signs to be registered by `node` at SettlementNodes `nodes` on `chain_id`: the EIP-712 digest
/// `keccak256(0x1901 ‖ domainSeparator ‖ keccak256(KEY_REGISTRATION_TYPEHASH ‖ node))` under the "Verity"/"1"
/// domain whose verifying contract is SettlementNodes (not InferenceSettlement, the receipts' domain). The proof
/// `registerNode` takes is the 65-byte signature `r ‖ s ‖ v` of this digest (`v` 27/28, low `s`); the rpc side
/// produces it with `verity_abi::rpc::key_registration_proof`.
pub fn key_registration_hash(chain_id: u64, nodes: Address, node: Address) -> B256 {
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(KEY_REGISTRATION_TYPEHASH.as_slice());
    data[32..].copy_from_slice(&word_address(node));
    let mut buf = [0u8; 66];
    buf[0] = 0x19;
    buf[1] = 0x01;
    buf[2..34].copy_from_slice(domain_separator(chain_id, nodes).as_slice());
    buf[34..].copy_from_slice(keccak256(data).as_slice());
    keccak256(buf)
}

/// Length of a key registration proof (`r ‖ s ‖ v`).
pub const KEY_PROOF_LEN: usize = 65;

/// The Merkle leaf of a signed receipt: `keccak256(keccak256(abi.encode(receipt…, v, r, s)))` as
/// OpenZeppelin's `StandardMerkleTree` with [`LEAF_ENCODING`] computes it.
pub fn leaf_hash(receipt: &Receipt, v: u8, r: B256, s: B256) -> B256 {
    let mut buf = [0u8; 384];
    buf[..288].copy_from_slice(&encode_receipt(receipt));
    buf[288..320].copy_from_slice(&word_u64(u64::from(v)));
    buf[320..352].copy_from_slice(r.as_slice());
    buf[352..].copy_from_slice(s.as_slice());
    keccak256(keccak256(buf))
}

/// The Merkle leaf of a signed receipt ([`leaf_hash`] of its parts).
pub fn signed_leaf_hash(signed: &SignedReceipt) -> B256 {
    leaf_hash(&signed.receipt, signed.v, signed.r, signed.s)
}

/// Length of a signed receipt's flat encoding ([`encode_signed_receipt`]): twelve 32-byte words.
pub const SIGNED_RECEIPT_LEN: usize = 384;

/// The flat encoding of a signed receipt — `abi.encode` of the nine receipt fields, `v`, `r`, `s`
/// ([`LEAF_ENCODING`]), the very bytes whose double keccak is its Merkle leaf. Contracts take signed receipts as
/// `bytes` in this encoding (cheaper to decode on-chain than the nested tuple).
pub fn encode_signed_receipt(signed: &SignedReceipt) -> [u8; SIGNED_RECEIPT_LEN] {
    let mut out = [0u8; SIGNED_RECEIPT_LEN];
    out[..288].copy_from_slice(&encode_receipt(&signed.receipt));
    out[288..320].copy_from_slice(&word_u64(u64::from(signed.v)));
    out[320..352].copy_from_slice(signed.r.as_slice());
    out[352..].copy_from_slice(signed.s.as_slice());
    out
}

/// Decodes [`encode_signed_receipt`]'s bytes; `None` unless there are exactly [`SIGNED_RECEIPT_LEN`] bytes in the
/// canonical encoding (addresses, `uint8` and `uint64` words zero-padded), so that every accepted byte string
/// re-encodes to itself and its leaf is `keccak256(keccak256(bytes))` ([`encoded_leaf_hash`]).
pub fn decode_signed_receipt(bytes: &[u8]) -> Option<SignedReceipt> {
    if bytes.len() != SIGNED_RECEIPT_LEN {
        return None;
    }
    let word = |i: usize| -> &[u8] { &bytes[32 * i..32 * i + 32] };
    let b256 = |i: usize| B256::from_slice(word(i));
    // The low `keep` bytes of word `i`, if the rest is zero.
    let low = |i: usize, keep: usize| -> Option<&[u8]> {
        let w = word(i);
        w[..32 - keep]
            .iter()
            .all(|b| *b == 0)
            .then(|| &w[32 - keep..])
    };
    let address = |i: usize| low(i, 20).map(Address::from_slice);
    let uint64 = |i: usize| {
        low(i, 8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_be_bytes(a)
        })
    };
    let uint8 = |i: usize| low(i, 1).map(|b| b[0]);
    Some(SignedReceipt {
        receipt: Receipt {
            requestId: b256(0),
            modelVersion: U256::from_be_slice(word(1)),
            inputHash: b256(2),
            outputHash: b256(3),
            payer: address(4)?,
            node: address(5)?,
            fee: U256::from_be_slice(word(6)),
            mode: uint8(7)?,
            signedAt: uint64(8)?,
        },
        v: uint8(9)?,
        r: b256(10),
        s: b256(11),
    })
}

/// The Merkle leaf of a signed receipt given in its flat encoding: `keccak256(keccak256(bytes))` (equal to
/// [`signed_leaf_hash`] of [`decode_signed_receipt`]'s result for canonical bytes).
pub fn encoded_leaf_hash(bytes: &[u8]) -> B256 {
    keccak256(keccak256(bytes))
}

/// The inner node of two children: the hash of the sorted pair (OpenZeppelin `Hashes.commutativeKeccak256`).
pub fn hash_pair(a: B256, b: B256) -> B256 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(lo.as_slice());
    buf[32..].copy_from_slice(hi.as_slice());
    keccak256(buf)
}

/// The root a proof leads to from `leaf` (OpenZeppelin `MerkleProof.processProof`).
pub fn process_proof(leaf: B256, proof: &[B256]) -> B256 {
    proof
        .iter()
        .fold(leaf, |node, sibling| hash_pair(node, *sibling))
}

/// Whether `proof` proves `leaf` is in the tree of `root` (OpenZeppelin `MerkleProof.verify`).
pub fn verify_proof(root: B256, leaf: B256, proof: &[B256]) -> bool {
    process_proof(leaf, proof) == root
}

/// Public inputs handed to a mode-ZK verifier: `abi.encode(receipt)` (the nine fields, 288 bytes).
pub fn zk_public_inputs(r: &Receipt) -> Vec<u8> {
    encode_receipt(r).to_vec()
}

/// A complete Merkle tree laid out exactly as `@openzeppelin/merkle-tree` lays it out: `2n − 1` nodes in one
/// array, root first, the leaves (sorted ascending by hash) at the end in reverse order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardMerkleTree {
    nodes: Vec<B256>,
}

impl StandardMerkleTree {
    /// Builds the tree of `leaves` (leaf hashes, e.g. from [`leaf_hash`]); `None` for no leaves.
    pub fn new(leaves: &[B256]) -> Option<Self> {
        if leaves.is_empty() {
            return None;
        }
        let mut sorted = leaves.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        // Overflow not possible: n ≤ isize::MAX / 32 as the slice exists.
        let len = 2 * n - 1;
        let mut nodes = vec![B256::ZERO; len];
        for (i, leaf) in sorted.into_iter().enumerate() {
            nodes[len - 1 - i] = leaf;
        }
        for i in (0..len - n).rev() {
            nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2]);
        }
        Some(Self { nodes })
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.nodes[0]
    }

    /// Every node, root first (the `tree` array of OpenZeppelin's `dump()`).
    pub fn nodes(&self) -> &[B256] {
        &self.nodes
    }

    /// The proof of `leaf`, or `None` when it is not a leaf of this tree.
    pub fn proof(&self, leaf: B256) -> Option<Vec<B256>> {
        let len = self.nodes.len();
        // Leaves occupy the last (len + 1) / 2 slots.
        let first_leaf = len / 2;
        let mut index = (first_leaf..len).find(|&i| self.nodes[i] == leaf)?;
        let mut proof = Vec::new();
        while index > 0 {
            let sibling = if index % 2 == 1 { index + 1 } else { index - 1 };
            proof.push(self.nodes[sibling]);
            index = (index - 1) / 2;
        }
        Some(proof)
    }
}

sol_with_source! {
    /// Solidity source of InferenceSettlement's events, appended to the committed interface file.
    EVENTS_SOL => {
        event Requested(bytes32 indexed requestId, address indexed payer, address indexed node, uint256 modelVersion, uint256 fee, bytes32 inputHash, uint64 deadline);
        event Answered(bytes32 indexed requestId, address indexed node, bytes32 outputHash);
        event Proven(bytes32 indexed requestId, address indexed node, uint8 mode, uint256 batchId, uint64 provenAt);
        event Settled(bytes32 indexed requestId, address indexed node, uint256 fee);
        event Refunded(bytes32 indexed requestId, address indexed payer, uint256 fee, uint256 slashed);
        event Disputed(bytes32 indexed requestId, address indexed by, uint256 bond, uint64 expiresAt);
        event DisputeResolved(bytes32 indexed requestId, bool nodeWins);
        event VerifierSet(uint256 indexed modelVersion, address verifier);
        event Credited(address indexed account, uint256 amount);
        event Withdrawn(address indexed account, uint256 amount);
        event ParamsSet(uint64 challengeWindow, uint64 answerDeadline, uint256 slashAmount, uint256 disputeBond, uint64 disputeTimeout);
        event GovernanceChanged(address indexed previousGovernance, address indexed newGovernance);
        event PausedSet(bool paused);
    }
}

/// SettlementNodes (`verity-settlement-nodes`): events.
pub mod nodes {
    sol_with_source! {
        /// Solidity source of SettlementNodes' events, appended to the committed interface file.
        EVENTS_SOL => {
            event NodeRegistered(address indexed node, address indexed signingKey, uint256 stake);
            event StakeAdded(address indexed node, uint256 amount, uint256 stake);
            event KeyApproved(address indexed signingKey, address indexed node, bytes32 measurement, uint64 approvedAt);
            event KeyRevoked(address indexed signingKey, address indexed node, uint64 revokedAt);
            event UnbondRequested(address indexed node, uint64 availableAt);
            event StakeWithdrawn(address indexed node, uint256 amount);
            event Slashed(address indexed node, uint256 amount, address indexed to);
            event SettlementSet(address settlement);
            event Credited(address indexed account, uint256 amount);
            event Withdrawn(address indexed account, uint256 amount);
            event ParamsSet(uint64 maxReceiptAge, uint64 unbondDelay, uint256 minStake);
            event GovernanceChanged(address indexed previousGovernance, address indexed newGovernance);
            event PausedSet(bool paused);
        }
    }
}

/// ReceiptBatches (`verity-settlement-batches`): events.
pub mod batches {
    sol_with_source! {
        /// Solidity source of ReceiptBatches' events, appended to the committed interface file.
        EVENTS_SOL => {
            event BatchAnchored(uint256 indexed batchId, address indexed submitter, bytes32 root, uint64 count, uint256 bond, string dataUri);
            event BatchFinalized(uint256 indexed batchId, address indexed submitter, uint256 bond);
            event BatchVoided(uint256 indexed batchId, address indexed challenger, uint8 reason, bytes32 requestId, uint256 bond);
            event KeeperChanged(address indexed keeper, bool allowed);
            event Credited(address indexed account, uint256 amount);
            event Withdrawn(address indexed account, uint256 amount);
            event ParamsSet(uint64 challengeWindow, uint256 minBond);
            event GovernanceChanged(address indexed previousGovernance, address indexed newGovernance);
            event PausedSet(bool paused);
        }
    }
}

/// CommitteeVerifier (`verity-settlement-committee`): a k-of-n **attestation-signature** verifier implementing
/// [`IInferenceVerifier`] for mode-ZK receipts — a stand-in that trusts a committee, not a zero-knowledge proof.
///
/// A committee member attests to a receipt by signing [`committee::attestation_hash`] of the public inputs
/// (`abi.encode(receipt)`, [`zk_public_inputs`]) with its secp256k1 key (no prefix, like TEE receipts); the proof
/// is the concatenation of 65-byte signatures `r ‖ s ‖ v` (`v` 27/28, low `s`) with signers in strictly ascending
/// address order, at least `threshold` of them members.
pub mod committee {
    use alloy_primitives::{b256, keccak256, Address, B256};

    /// The attestation type string.
    pub const ATTESTATION_TYPE: &str =
        "VerityCommitteeAttestation(uint256 chainId,address verifier,bytes32 publicInputsHash)";
    /// `keccak256(ATTESTATION_TYPE)`.
    pub const ATTESTATION_TYPEHASH: B256 =
        b256!("b6aafedc955c76446d38fd730f6124ba1f5ff083736d093cefbd9cbaee1af184");
    /// Length of one signature in a proof: `r ‖ s ‖ v`.
    pub const SIGNATURE_LEN: usize = 65;

    /// What each member signs: `keccak256(abi.encode(ATTESTATION_TYPEHASH, chainId, verifier,
    /// keccak256(publicInputs)))` — bound to one chain and one verifier contract.
    pub fn attestation_hash(chain_id: u64, verifier: Address, public_inputs: &[u8]) -> B256 {
        let mut buf = [0u8; 128];
        buf[..32].copy_from_slice(ATTESTATION_TYPEHASH.as_slice());
        buf[56..64].copy_from_slice(&chain_id.to_be_bytes());
        buf[76..96].copy_from_slice(verifier.as_slice());
        buf[96..].copy_from_slice(keccak256(public_inputs).as_slice());
        keccak256(buf)
    }

    sol_with_source! {
        /// Solidity source of CommitteeVerifier's events, appended to the committed interface file.
        EVENTS_SOL => {
            event MemberSet(address indexed member, bool isMember, uint64 members);
            event ThresholdSet(uint64 threshold);
            event GovernanceChanged(address indexed previousGovernance, address indexed newGovernance);
        }
    }
}

alloy_sol_types::sol! {
    #![sol(all_derives)]
    /// `account` is not governance.
    error SettlementUnauthorized(address account);
    /// `account` is not the contract allowed to make this call (e.g. `slash` from InferenceSettlement).
    error SettlementUnauthorizedCaller(address account);
    /// The one-time wiring was already done (to `current`).
    error SettlementAlreadyWired(address current);
    /// `account` is not an allowed keeper (batch submitter).
    error SettlementUnauthorizedKeeper(address account);
    /// `account` is not the node the request or key belongs to.
    error SettlementUnauthorizedNode(address account);
    /// `account` is not the request's payer.
    error SettlementUnauthorizedPayer(address account);
    /// The contract is paused.
    error SettlementPaused();
    /// The zero address is not allowed here.
    error SettlementZeroAddress();
    /// A parameter is out of range (`which` is its position in the contract's `setParams`; 7 = the receipt
    /// mode of `request`).
    error SettlementInvalidParam(uint8 which);
    /// `sent` wei is below the required `required`.
    error SettlementInsufficientValue(uint256 sent, uint256 required);
    /// The node is already registered.
    error SettlementAlreadyRegistered(address node);
    /// The node is not registered.
    error SettlementUnknownNode(address node);
    /// The node cannot take requests: stake below the minimum, unbonding, or its key not approved (or revoked).
    error SettlementNodeInactive(address node);
    /// The signing key is already in use.
    error SettlementKeyTaken(address signingKey);
    /// The signing key is unknown.
    error SettlementUnknownKey(address signingKey);
    /// The key registration proof is not `signingKey`'s signature of `key_registration_hash` for the caller.
    error SettlementBadKeyProof(address signingKey);
    /// The key was already approved.
    error SettlementAlreadyApproved(address signingKey);
    /// The key was already revoked.
    error SettlementAlreadyRevoked(address signingKey);
    /// The node has open obligations (`open` requests) or is still unbonding until `availableAt`.
    error SettlementStakeLocked(uint64 open, uint64 availableAt);
    /// The request id is already used.
    error SettlementRequestExists(bytes32 requestId);
    /// The request id is unknown.
    error SettlementUnknownRequest(bytes32 requestId);
    /// The request is in `status`, which does not allow this transition.
    error SettlementBadRequestStatus(bytes32 requestId, uint8 status);
    /// The request was already settled or refunded.
    error SettlementAlreadySettled(bytes32 requestId);
    /// The request's deadline or challenge window has not passed (`until`).
    error SettlementTooEarly(uint64 until);
    /// The request's deadline has passed.
    error SettlementTooLate(uint64 deadline);
    /// The model version is not usable now.
    error SettlementModelNotUsable(uint256 modelVersion);
    /// The receipt does not match the request (`field`: 0 requestId, 1 modelVersion, 2 inputHash, 3 outputHash,
    /// 4 payer, 5 node, 6 fee, 7 mode).
    error SettlementReceiptMismatch(uint8 field);
    /// The receipt is invalid (`reason` as in `BatchVoided`).
    error SettlementInvalidReceipt(uint8 reason);
    /// The ZK verifier rejected the proof or none is registered.
    error SettlementProofRejected(uint256 modelVersion);
    /// The Merkle root is zero or the count is zero.
    error SettlementEmptyBatch();
    /// The batch id is unknown.
    error SettlementUnknownBatch(uint256 batchId);
    /// The batch is already final.
    error SettlementAlreadyFinal(uint256 batchId);
    /// The batch is already voided.
    error SettlementAlreadyVoided(uint256 batchId);
    /// The batch's challenge window is still open until `until`.
    error SettlementWindowOpen(uint64 until);
    /// The batch's challenge window closed at `closedAt`.
    error SettlementWindowClosed(uint64 closedAt);
    /// The Merkle proof does not lead to the batch root.
    error SettlementBadProof(uint256 batchId);
    /// The challenged leaf is valid.
    error SettlementLeafValid();
    /// The two inclusions do not show the same request id in two different batches.
    error SettlementNotDuplicate();
    /// The batch is not final.
    error SettlementBatchNotFinal(uint256 batchId);
    /// Nothing to withdraw.
    error SettlementNothingToWithdraw(address account);
    /// A native transfer to `to` failed.
    error SettlementTransferFailed(address to);
}

#[cfg(test)]
mod tests;
