//! # verity-fuzz — adversarial inputs against the compiled contracts and devnode
//!
//! * [`calldata`]: random and structure-aware calldata (selectors and argument types from the committed
//!   interfaces in `contracts/abi`) against every deployed contract on an in-process devnode, from every role
//!   and from outsiders, as calls and — when a call succeeds and the function is not a view — as mined
//!   transactions, so state evolves; invariants checked after every sequence.
//! * [`rpc`]: malformed JSON-RPC requests over HTTP to a devnode started in-process.
//! * [`activation`]: bit flips and truncations of a real contract's brotli code and WASM at activation.
//!
//! **Decisions**
//! * Own deterministic generator ([`Rng`], splitmix64): no extra dependency and the same seed gives the same
//!   inputs on every platform.
//! * stylus-sdk answers an unknown selector or undecodable arguments with an *empty* revert, exactly like a
//!   program trap looks on chain; traps are therefore read from devnode's per-thread trap record
//!   ([`devnode::stylus::take_traps`]), and an empty revert without a trap is a typed rejection by the SDK.
//! * Only inputs whose call succeeds are sent as transactions: a reverting transaction changes nothing but the
//!   sender's nonce and balance, and the call already classified its revert data.

pub mod activation;
pub mod calldata;
pub mod invariants;
pub mod rpc;
pub mod state;

/// Deterministic pseudo-random numbers (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One element of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A seed from the clock, for runs without `--seed`.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x5eed)
}

/// The roles the fuzzer deploys with, so each privileged role is a distinct dev account: 0 = deployer and admin
/// (governance) of every contract, 1 = registry attester, 2 = registry keeper, 3 = batch keeper, 4 = committee
/// member (with 0, threshold 1); 5–9 hold no role. The GaugeController gets a 25% per-voter cap so the capped vote
/// path is fuzzed too.
pub fn params(
    accounts: &[alloy::primitives::Address],
) -> verity_script::deploy::verity::VerityParams {
    let mut params = verity_script::deploy::verity::VerityParams::default();
    params.registry.attester = accounts.get(1).copied();
    params.registry.keeper = accounts.get(2).copied();
    params.settlement.batch_keeper = accounts.get(3).copied();
    params.settlement.committee = accounts
        .iter()
        .take(5)
        .skip(4)
        .chain(accounts.first())
        .copied()
        .collect();
    params.settlement.committee_threshold = 1;
    params.gauge_cap_bps = 2_500;
    params
}

/// Deploys Verity with [`params`] on the in-process node `node` (over its JSON-RPC, as `verity deploy` does) and
/// returns `(deployment name, address)` of every contract.
///
/// # Errors
/// When the deployment fails.
pub async fn deploy(
    node: &devnode::rpc::NodeHandle,
    artifacts: &verity_script::build::Artifacts,
    dir: &std::path::Path,
) -> anyhow::Result<Vec<(String, alloy::primitives::Address)>> {
    use alloy::providers::ProviderBuilder;
    let accounts = devnode::rpc::server::lock(&node.chain())
        .dev_accounts()
        .to_vec();
    let addresses: Vec<_> = accounts.iter().map(|a| a.address).collect();
    let deployer = ProviderBuilder::new()
        .wallet(alloy::network::EthereumWallet::from(
            accounts[0].signer.clone(),
        ))
        .connect_http(node.url().parse()?);
    let plan = verity_script::deploy::verity::plan(&params(&addresses));
    let deployment = verity_script::deploy::deploy_all(
        &deployer,
        artifacts,
        &plan,
        &verity_script::deploy::DeployOptions::new("fuzz", dir),
    )
    .await?;
    Ok(deployment
        .contracts
        .iter()
        .map(|(name, record)| (name.clone(), record.address))
        .collect())
}
