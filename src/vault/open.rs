//! Opening the vault from plain settings: URL, credential chain, extra CA, deadlines.
//!
//! Owns: the single place every subcommand turns [`VaultSettings`] into an [`AzureVault`] (or,
//! for several URLs, a [`VaultSet`] of them sharing one credential chain), wiring
//! the token keeper in as both the vault's credential and its reset hook (a token the vault
//! refuses is replaced at once, not at the next scheduled refresh), and the early, precise
//! errors when something is missing (no URL, unreadable CA, no credential configured at all).
//! Must never read the process environment except through
//! [`CredentialEnv::from_process`] in [`open`].

use std::path::PathBuf;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::ClientOptions;
use url::Url;

use super::azure::{AzureVault, AzureVaultConfig, DEFAULT_SIGN_ATTEMPTS, client_options};
use super::credentials::AuthMode;
use super::credentials::{
    ChainCredential, ChainError, CredentialEnv, KeeperHandle, KeeperTiming, SdkFactory, TokenReset,
    keep_fresh_with_reset, plan,
};
use super::{HedgeConfig, Vault, VaultError, VaultSet};

/// How to reach and authenticate to the vault: what every subcommand's flags come down to.
#[derive(Debug, Clone)]
pub struct VaultSettings {
    /// `https://NAME.vault.azure.net` (or a Managed HSM), the preferred first; several hold the
    /// same keys (one per region) and are used as one ([`VaultSet`]). Empty when none was given.
    pub urls: Vec<Url>,
    /// `--auth`: which credentials the chain may try, and in what order.
    pub auth: AuthMode,
    /// Total time for one signature, retries included.
    pub sign_deadline: std::time::Duration,
    /// Total time for one read or import, retries included.
    pub read_deadline: std::time::Duration,
    /// An extra CA certificate (PEM file) to trust for the vault and token endpoints.
    pub extra_ca: Option<PathBuf>,
    /// How several vaults hedge and demote (unused with one).
    pub hedge: HedgeConfig,
}

/// Why the vault could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Neither `--vault-url` nor AZURE_KEYVAULT_URI gave a vault URL.
    #[error(
        "no vault URL: pass --vault-url https://NAME.vault.azure.net or set AZURE_KEYVAULT_URI"
    )]
    MissingVaultUrl,
    /// The extra CA file (`--vault-ca`) could not be read.
    #[error("cannot read the vault CA file {path}: {source}")]
    ReadCa {
        /// The CA file.
        path: PathBuf,
        /// The I/O error (missing file, permissions…).
        source: std::io::Error,
    },
    /// No credential of the `--auth` mode is configured in this environment; the error lists
    /// each with why and its fix. Nothing was sent to Azure.
    #[error(transparent)]
    NoCredential(#[from] ChainError),
    /// The vault client could not be built: an invalid vault URL (not https, or with a path),
    /// or a CA file that holds no usable PEM certificate.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Opens the vault of `settings` (a [`VaultSet`] when several URLs were given), with
/// credentials from the process environment.
pub fn open(settings: &VaultSettings) -> Result<Arc<dyn Vault>, OpenError> {
    open_with_env(settings, &CredentialEnv::from_process()).map(|(vault, _)| vault)
}

/// [`open`] with credentials decided from `env` (tests and `serve --dev` inject one). Also
/// returns the credential chain, which can say which credential answered.
pub fn open_with_env(
    settings: &VaultSettings,
    env: &CredentialEnv,
) -> Result<(Arc<dyn Vault>, Arc<ChainCredential>), OpenError> {
    let (each, chain) = open_each_with_env(settings, env)?;
    Ok((as_one(each, settings.hedge), chain))
}

/// The vaults of [`open_each`] as one: the vault itself, or a [`VaultSet`] of several.
pub fn as_one(mut each: Vaults, hedge: HedgeConfig) -> Arc<dyn Vault> {
    if each.len() == 1 {
        let (_, vault) = each.remove(0);
        return Arc::new(vault);
    }
    let members = each
        .into_iter()
        .map(|(url, vault)| (url.to_string(), Arc::new(vault) as Arc<dyn Vault>))
        .collect();
    Arc::new(VaultSet::new(members, hedge))
}

/// Each vault of the settings, with its URL, in the order given.
pub type Vaults = Vec<(Url, AzureVault)>;

/// Every vault of `settings` on its own, in order (`import` and `verify` report vault by
/// vault), with credentials from the process environment.
pub fn open_each(settings: &VaultSettings) -> Result<Vaults, OpenError> {
    open_each_with_env(settings, &CredentialEnv::from_process()).map(|(each, _)| each)
}

/// [`open_each`] with credentials decided from `env`. One credential chain and one token
/// keeper serve every vault: the same identity has its roles on each, and one token is good
/// for all of them.
pub fn open_each_with_env(
    settings: &VaultSettings,
    env: &CredentialEnv,
) -> Result<(Vaults, Arc<ChainCredential>), OpenError> {
    if settings.urls.is_empty() {
        return Err(OpenError::MissingVaultUrl);
    }
    // One set of client options (one HTTP client when an extra CA is given) for the
    // credentials and the vault clients.
    let options = options_of(settings)?;
    let (keeper, chain) = credential_chain(settings, env, &options)?;
    let token_reset: Arc<dyn TokenReset> = keeper.clone();
    let mut urls: Vec<&Url> = Vec::with_capacity(settings.urls.len());
    for url in &settings.urls {
        if urls.contains(&url) {
            tracing::warn!(vault = %url, "the same vault URL was given twice: it is used once");
        } else {
            urls.push(url);
        }
    }
    let several = urls.len() > 1;
    let mut each = Vec::with_capacity(urls.len());
    for url in urls {
        let config = AzureVaultConfig {
            vault_url: url.clone(),
            credential: keeper.clone(),
            token_reset: Some(token_reset.clone()),
            sign_deadline: settings.sign_deadline,
            read_deadline: settings.read_deadline,
            sign_attempts: if several { 1 } else { DEFAULT_SIGN_ATTEMPTS },
        };
        let vault = AzureVault::with_client_options(config, options.clone())?;
        each.push((url.clone(), vault));
    }
    Ok((each, chain))
}

/// What another Azure service of the signer (the shared watermark container) needs to be
/// reached like the vault: the same extra CA and transport settings and, unless `credential`
/// is false (a SAS token authenticates), the same credential chain, with its own token keeper.
pub fn azure_access(
    settings: &VaultSettings,
    credential: bool,
) -> Result<(Option<Arc<dyn TokenCredential>>, ClientOptions), OpenError> {
    let options = options_of(settings)?;
    if !credential {
        return Ok((None, options));
    }
    let (keeper, _) = credential_chain(settings, &CredentialEnv::from_process(), &options)?;
    let credential: Arc<dyn TokenCredential> = keeper;
    Ok((Some(credential), options))
}

/// Client options with the extra CA of `settings`, if any.
fn options_of(settings: &VaultSettings) -> Result<ClientOptions, OpenError> {
    let extra_ca_pem = match &settings.extra_ca {
        Some(path) => Some(std::fs::read(path).map_err(|source| OpenError::ReadCa {
            path: path.clone(),
            source,
        })?),
        None => None,
    };
    Ok(client_options(extra_ca_pem.as_deref())?)
}

/// The credential chain of `settings` behind a token keeper that refreshes ahead of expiry.
fn credential_chain(
    settings: &VaultSettings,
    env: &CredentialEnv,
    options: &ClientOptions,
) -> Result<(Arc<KeeperHandle>, Arc<ChainCredential>), OpenError> {
    let factory = SdkFactory::new(options.clone());
    let candidates = plan(settings.auth, env);
    let chain = Arc::new(ChainCredential::new(&candidates, env, &factory));
    if !chain.any_available() {
        return Err(chain.unavailable_error().into());
    }
    // The keeper resets the chain too: the chosen SDK credential is rebuilt, bypassing the
    // token cache it has of its own.
    let keeper = keep_fresh_with_reset(chain.clone(), chain.clone(), KeeperTiming::default());
    Ok((keeper, chain))
}
