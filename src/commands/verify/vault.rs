//! `verify --vault-key NAME [--pkh TZ]` and `verify --vault-keys`: the vault side of `verify`.
//!
//! Owns: fetching one key's public key from the vault for the ordinary verify checks, and the
//! listing of every usable vault key (text table or one JSON object). Read-only: never imports,
//! signs or changes anything in the vault.

use std::process::ExitCode;

use super::{Exit, ResolvedKey};
use crate::commands::{GlobalArgs, VaultArgs};
use crate::vault::{OpenError, Vault, VaultError, VaultKey};

/// Why the vault could not answer `verify`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum VaultReadError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// The public key of vault key `name`, for `verify --vault-key`.
pub(super) fn resolve(
    global: &GlobalArgs,
    args: &VaultArgs,
    name: &str,
) -> Result<ResolvedKey, VaultReadError> {
    let vault = crate::vault::open(&args.settings(global))?;
    let key = crate::commands::runtime()?.block_on(vault.get_key(name))?;
    Ok(ResolvedKey {
        public_key: key.public_key,
        had_secret: false,
        source: format!("vault key {}", key.id),
    })
}

#[derive(serde::Serialize)]
struct Listed {
    name: String,
    version: String,
    key_id: String,
    vault_curve: String,
    curve: crate::tezos::Curve,
    algorithm: &'static str,
    pkh: crate::tezos::Pkh,
    public_key: String,
    state: &'static str,
}

impl From<VaultKey> for Listed {
    fn from(k: VaultKey) -> Self {
        Listed {
            curve: k.curve(),
            algorithm: k.algorithm(),
            pkh: k.pkh(),
            public_key: k.public_key.to_string(),
            state: "enabled",
            name: k.name,
            version: k.version,
            key_id: k.id,
            vault_curve: k.vault_curve,
        }
    }
}

/// `verify --vault-keys`: exit 0 with the list, 3 when the vault cannot be read.
pub(super) fn list(global: &GlobalArgs, args: &VaultArgs, json: bool) -> ExitCode {
    let keys = (|| -> Result<Vec<VaultKey>, VaultReadError> {
        let vault = crate::vault::open(&args.settings(global))?;
        Ok(crate::commands::runtime()?.block_on(vault.list_keys())?)
    })();
    let keys: Vec<Listed> = match keys {
        Ok(keys) => keys.into_iter().map(Listed::from).collect(),
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "exit_code": Exit::Input as u8, "error": e.to_string()})
                );
            }
            eprintln!("error: {e}");
            return ExitCode::from(Exit::Input as u8);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "exit_code": 0, "keys": keys})
        );
    } else if keys.is_empty() {
        println!("no usable tz2/tz3 keys in the vault");
    } else {
        let w = keys.iter().map(|k| k.name.len()).max().unwrap_or(4).max(4);
        println!(
            "{:<w$}  {:<9}  {:<36}  {:<7}  VERSION",
            "NAME", "CURVE", "PKH", "STATE"
        );
        for k in &keys {
            println!(
                "{:<w$}  {:<9}  {:<36}  {:<7}  {}",
                k.name, k.vault_curve, k.pkh, k.state, k.version
            );
        }
    }
    ExitCode::SUCCESS
}
