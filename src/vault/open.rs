//! Opening the vault from the command line: URL, credential chain, extra CA, deadlines.
//!
//! Owns: the single place every subcommand turns [`VaultArgs`] into an [`AzureVault`], wiring
//! the token keeper in as both the vault's credential and its reset hook (a token the vault
//! refuses is replaced at once, not at the next scheduled refresh), and the early, precise
//! errors when something is missing (no URL, unreadable CA, no credential configured at all).
//! Must never read the process environment except through
//! [`CredentialEnv::from_process`] in [`open`].

use std::path::PathBuf;
use std::sync::Arc;

use url::Url;

use super::VaultError;
use super::azure::{AzureVault, AzureVaultConfig, client_options};
use super::credentials::{
    ChainCredential, ChainError, CredentialEnv, KeeperTiming, SdkFactory, TokenReset,
    keep_fresh_with_reset, plan,
};
use crate::cli::{GlobalArgs, VaultArgs};

/// Why the vault could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "no vault URL: pass --vault-url https://NAME.vault.azure.net or set AZURE_KEYVAULT_URI"
    )]
    MissingVaultUrl,
    #[error("cannot read the vault CA file {path}: {source}")]
    ReadCa {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    NoCredential(#[from] ChainError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Opens the vault named on the command line, with credentials from the process environment.
pub fn open(global: &GlobalArgs, args: &VaultArgs) -> Result<AzureVault, OpenError> {
    let url = global
        .vault_url
        .as_ref()
        .ok_or(OpenError::MissingVaultUrl)?;
    open_with_env(url, args, &CredentialEnv::from_process()).map(|(vault, _)| vault)
}

/// Opens `vault_url` with credentials decided from `env` (tests and `serve --dev` inject one).
/// Also returns the credential chain, which can say which credential answered.
pub fn open_with_env(
    vault_url: &Url,
    args: &VaultArgs,
    env: &CredentialEnv,
) -> Result<(AzureVault, Arc<ChainCredential>), OpenError> {
    let extra_ca_pem = match &args.vault_ca {
        Some(path) => Some(std::fs::read(path).map_err(|source| OpenError::ReadCa {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    // One set of client options (one HTTP client when an extra CA is given) for the
    // credentials and the vault client.
    let options = client_options(extra_ca_pem.as_deref())?;
    let factory = SdkFactory::new(options.clone());
    let candidates = plan(args.auth, env);
    let chain = Arc::new(ChainCredential::new(&candidates, env, &factory));
    if !chain.any_available() {
        return Err(chain.unavailable_error().into());
    }
    // The keeper resets the chain too: the chosen SDK credential is rebuilt, bypassing the
    // token cache it has of its own.
    let keeper = keep_fresh_with_reset(chain.clone(), chain.clone(), KeeperTiming::default());
    let token_reset: Arc<dyn TokenReset> = keeper.clone();
    let config = AzureVaultConfig {
        vault_url: vault_url.clone(),
        credential: keeper,
        token_reset: Some(token_reset),
        sign_deadline: args.sign_deadline,
        read_deadline: args.read_deadline,
    };
    Ok((AzureVault::with_client_options(config, options)?, chain))
}
