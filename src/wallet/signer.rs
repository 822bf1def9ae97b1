//! Who signs: a raw private key (`--private-key` or `VERITY_PRIVATE_KEY`), an encrypted JSON keystore
//! (`--keystore`, Web3 Secret Storage as geth and Foundry write it; password from `--password-file` or
//! `VERITY_KEYSTORE_PASSWORD`), or a BIP-39 mnemonic (`--mnemonic` or `VERITY_MNEMONIC`, account
//! `--mnemonic-index`, path m/44'/60'/0'/0/i). At most one source may be given; read-only commands need none
//! (`--address` names the account to read for).

use std::path::PathBuf;

use alloy::{
    primitives::Address,
    signers::local::{coins_bip39::English, MnemonicBuilder, PrivateKeySigner},
};

use super::errors::WalletError;

/// The signer flags shared by every wallet command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SignerArgs {
    /// Private key (0x-hex) of the account that signs.
    #[arg(
        long,
        env = "VERITY_PRIVATE_KEY",
        hide_env_values = true,
        global = true
    )]
    pub private_key: Option<String>,
    /// Encrypted JSON keystore of the account that signs (geth / Foundry `cast wallet` format).
    #[arg(long, env = "VERITY_KEYSTORE", global = true)]
    pub keystore: Option<PathBuf>,
    /// File holding the keystore's password (else `VERITY_KEYSTORE_PASSWORD`).
    #[arg(long, global = true)]
    pub password_file: Option<PathBuf>,
    /// BIP-39 mnemonic to derive the signing account from.
    #[arg(long, env = "VERITY_MNEMONIC", hide_env_values = true, global = true)]
    pub mnemonic: Option<String>,
    /// Index of the account under m/44'/60'/0'/0/ when signing with --mnemonic.
    #[arg(long, default_value_t = 0, global = true)]
    pub mnemonic_index: u32,
    /// Account to read for (read-only commands, `--dry-run`); defaults to the signer's.
    #[arg(long, global = true)]
    pub address: Option<Address>,
}

impl SignerArgs {
    /// The signer these flags name, if any.
    ///
    /// # Errors
    /// [`WalletError::Input`] for two sources at once, a malformed key, an unreadable or undecryptable keystore, a
    /// bad mnemonic.
    pub fn signer(&self) -> Result<Option<PrivateKeySigner>, WalletError> {
        let given = [
            self.private_key
                .is_some()
                .then_some("--private-key/VERITY_PRIVATE_KEY"),
            self.keystore
                .is_some()
                .then_some("--keystore/VERITY_KEYSTORE"),
            self.mnemonic
                .is_some()
                .then_some("--mnemonic/VERITY_MNEMONIC"),
        ];
        let given: Vec<&str> = given.into_iter().flatten().collect();
        if given.len() > 1 {
            return Err(WalletError::input(format!(
                "more than one signer given ({}): pass exactly one",
                given.join(", ")
            )));
        }
        if let Some(key) = &self.private_key {
            return key
                .trim()
                .parse::<PrivateKeySigner>()
                .map(Some)
                .map_err(|_| WalletError::input("the private key is not 32 bytes of hex"));
        }
        if let Some(path) = &self.keystore {
            let password = match &self.password_file {
                Some(file) => std::fs::read_to_string(file)
                    .map_err(|e| {
                        WalletError::input(format!("reading the password file {}: {e}", file.display()))
                    })?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
                None => std::env::var("VERITY_KEYSTORE_PASSWORD").map_err(|_| {
                    WalletError::input(
                        "the keystore needs a password: --password-file FILE or VERITY_KEYSTORE_PASSWORD",
                    )
                })?,
            };
            if !path.is_file() {
                return Err(WalletError::input(format!(
                    "keystore {} does not exist",
                    path.display()
                )));
            }
            return PrivateKeySigner::decrypt_keystore(path, password)
                .map(Some)
                .map_err(|e| {
                    WalletError::input(format!(
                        "cannot decrypt keystore {} (wrong password?): {e}",
                        path.display()
                    ))
                });
        }
        if let Some(phrase) = &self.mnemonic {
            return MnemonicBuilder::<English>::default()
                .phrase(phrase.trim())
                .index(self.mnemonic_index)
                .and_then(|b| b.build())
                .map(Some)
                .map_err(|e| WalletError::input(format!("the mnemonic is not valid: {e}")));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sources_are_refused_and_each_source_works() {
        let key = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
        let args = SignerArgs {
            private_key: Some(key.into()),
            ..Default::default()
        };
        let signer = args.signer().unwrap().unwrap();
        let both = SignerArgs {
            mnemonic: Some(devnode::chain::DEFAULT_MNEMONIC.into()),
            ..args.clone()
        };
        assert!(both
            .signer()
            .unwrap_err()
            .to_string()
            .contains("more than one signer"));
        let mnemonic = SignerArgs {
            mnemonic: Some(devnode::chain::DEFAULT_MNEMONIC.into()),
            ..Default::default()
        };
        assert_eq!(
            mnemonic.signer().unwrap().unwrap().address(),
            signer.address()
        );
        let bad = SignerArgs {
            private_key: Some("0x1234".into()),
            ..Default::default()
        };
        assert!(bad.signer().unwrap_err().to_string().contains("32 bytes"));
        assert!(SignerArgs::default().signer().unwrap().is_none());
    }
}
