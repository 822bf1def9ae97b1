//! The `verity-zk` command: make an example weights file, print its content hash and commitment, generate keys,
//! prove one inference and verify a proof natively.
//!
//! ```text
//! verity-zk example --inputs 4 --hidden 8 --outputs 3 --seed 1 model.vzk
//! verity-zk commit model.vzk
//! verity-zk setup model.vzk --out keys/                 # keys/proving.key, keys/verifying.key (EVM encoding)
//! verity-zk prove --key keys/proving.key model.vzk --input 3,-7,100,-128 --out proof.bin
//! verity-zk verify --key keys/verifying.key --commitment 0x… --input-hash 0x… --output-hash 0x… proof.bin
//! ```
//!
//! Hashes and proofs print as 0x-hex; the EVM verifying key and proof files hold the raw bytes the contract takes
//! (`registerKey`'s `verifyingKey`, `proveWithReceipt`'s `zkProof`).

use std::{fs, path::PathBuf, time::Instant};

use alloy_primitives::B256;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::{
    evm,
    field::{fr_from_word, word_of},
    model::{input_hash, Model},
    snark::{self, ShapedProvingKey, Statement},
};

/// `verity-zk`: Groth16 proofs of a quantized MLP's inference for Verity's mode-ZK receipts.
#[derive(Debug, Parser)]
#[command(name = "verity-zk", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Writes a deterministic pseudo-random example model as a VZK1 weights file.
    Example {
        /// Input width.
        #[arg(long, default_value_t = 4)]
        inputs: u8,
        /// Hidden units.
        #[arg(long, default_value_t = 8)]
        hidden: u8,
        /// Output width.
        #[arg(long, default_value_t = 3)]
        outputs: u8,
        /// Seed of the weights.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The file to write.
        out: PathBuf,
    },
    /// Prints a weights file's shape, registry content hash (keccak256) and weights commitment (Poseidon).
    Commit {
        /// The VZK1 weights file.
        weights: PathBuf,
    },
    /// Generates a Groth16 key pair for the weights file's shape (development keys: see the crate docs).
    Setup {
        /// The VZK1 weights file (only its shape matters).
        weights: PathBuf,
        /// Directory for `proving.key` and `verifying.key`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Runs the model on an input and proves it; prints the receipt's input and output hashes.
    Prove {
        /// The proving key (`setup`'s `proving.key`).
        #[arg(long)]
        key: PathBuf,
        /// The VZK1 weights file.
        weights: PathBuf,
        /// The input: comma-separated int8 values.
        #[arg(long, allow_hyphen_values = true, value_delimiter = ',')]
        input: Vec<i8>,
        /// Where to write the proof (256 bytes, EVM encoding).
        #[arg(long)]
        out: PathBuf,
    },
    /// Verifies a proof with arkworks' native verifier; exits 1 when it is invalid.
    Verify {
        /// The verifying key (`setup`'s `verifying.key`, EVM encoding).
        #[arg(long)]
        key: PathBuf,
        /// The weights commitment (0x-hex word).
        #[arg(long)]
        commitment: B256,
        /// The receipt's input hash (0x-hex word).
        #[arg(long)]
        input_hash: B256,
        /// The receipt's output hash (0x-hex word).
        #[arg(long)]
        output_hash: B256,
        /// The proof file (EVM encoding).
        proof: PathBuf,
    },
}

fn read_model(path: &PathBuf) -> Result<Model> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Model::from_bytes(&bytes).with_context(|| format!("parsing {}", path.display()))
}

fn scalar(word: B256, what: &str) -> Result<ark_bn254::Fr> {
    fr_from_word(word).with_context(|| format!("{what} is not below the BN254 scalar modulus"))
}

/// Runs one command, writing what it reports to stdout; `Ok(false)` when `verify` finds the proof invalid.
pub fn run(cli: Cli) -> Result<bool> {
    let mut rng = ark_std::rand::rngs::OsRng;
    match cli.command {
        Command::Example {
            inputs,
            hidden,
            outputs,
            seed,
            out,
        } => {
            let model = Model::example(inputs, hidden, outputs, seed);
            // Validates the dimensions the flags gave.
            let model = Model::from_bytes(&model.to_bytes()).context("model dimensions")?;
            fs::write(&out, model.to_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} ({} bytes)",
                out.display(),
                model.shape().file_len()
            );
        }
        Command::Commit { weights } => {
            let model = read_model(&weights)?;
            let s = model.shape();
            println!(
                "shape {}x{}x{} shift {}",
                s.inputs, s.hidden, s.outputs, s.shift
            );
            println!("contentHash {}", model.content_hash());
            println!("weightsCommitment {}", word_of(model.commitment()));
        }
        Command::Setup { weights, out } => {
            let model = read_model(&weights)?;
            let started = Instant::now();
            let keys = snark::setup(model.shape(), &mut rng)?;
            fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            fs::write(out.join("proving.key"), keys.proving.to_bytes()?)?;
            fs::write(out.join("verifying.key"), evm::vk_bytes(&keys.verifying)?)?;
            println!(
                "keys for shape {:?} in {} ({:.2} s)",
                model.shape(),
                out.display(),
                started.elapsed().as_secs_f64()
            );
            println!("weightsCommitment {}", word_of(model.commitment()));
        }
        Command::Prove {
            key,
            weights,
            input,
            out,
        } => {
            let model = read_model(&weights)?;
            let key_bytes = fs::read(&key).with_context(|| format!("reading {}", key.display()))?;
            let key = ShapedProvingKey::from_bytes(&key_bytes)?;
            let started = Instant::now();
            let proven = snark::prove(&key, &model, &input, &mut rng)?;
            let elapsed = started.elapsed();
            fs::write(&out, evm::proof_bytes(&proven.proof))?;
            println!("output {:?}", proven.output);
            println!("inputHash {}", proven.statement.input_word());
            println!("outputHash {}", proven.statement.output_word());
            println!("weightsCommitment {}", proven.statement.commitment_word());
            println!("proof {} ({:.3} s)", out.display(), elapsed.as_secs_f64());
            debug_assert_eq!(proven.statement.input_hash, input_hash(&input));
        }
        Command::Verify {
            key,
            commitment,
            input_hash,
            output_hash,
            proof,
        } => {
            let vk = evm::vk_from(
                &fs::read(&key).with_context(|| format!("reading {}", key.display()))?,
            )?;
            let proof = fs::read(&proof).with_context(|| format!("reading {}", proof.display()))?;
            let Ok(proof) = evm::proof_from(&proof) else {
                println!("invalid (malformed proof)");
                return Ok(false);
            };
            let statement = Statement {
                weights_commitment: scalar(commitment, "the commitment")?,
                input_hash: scalar(input_hash, "the input hash")?,
                output_hash: scalar(output_hash, "the output hash")?,
            };
            let valid = snark::verify(&vk, &statement, &proof)?;
            println!("{}", if valid { "valid" } else { "invalid" });
            return Ok(valid);
        }
    }
    Ok(true)
}

/// Parses the arguments and runs; the process exit code is 1 for an invalid proof or an error.
pub fn main() -> Result<std::process::ExitCode> {
    let valid = run(Cli::parse())?;
    if valid {
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        Ok(std::process::ExitCode::from(1))
    }
}
