//! The Azure Key Vault backend on the maintained SDK (`azure_security_keyvault_keys` 1.0.x).
//!
//! Owns: one `KeyClient` per process (pooled TLS connections), the SDK's own retry turned off in
//! favour of [`retry`] (a total deadline per call), exactly one sign request per signature in
//! steady state against the exact key version cached in [`VaultKey`], and challenge-resource
//! verification (off only for loopback hosts), and one re-authentication per call when the
//! vault refuses the token (the [`TokenReset`] hook given in the config). Must never return a
//! signature it has not checked to be 64 bytes for the requested key version (callers then
//! verify it: `sign_verified`), and never send the private key anywhere but the import request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::pager::{PagerContinuation, PagerOptions};
use azure_core::http::{ClientOptions, RequestContent, RetryOptions, Transport, Url};
use azure_security_keyvault_keys::models::{
    ImportKeyParameters, Key, KeyClientGetKeyOptions, KeyClientListKeyPropertiesOptions,
    KeyClientSignOptions, KeyProperties, SignParameters, SignatureAlgorithm,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions, ResourceExt};
use futures::{StreamExt, TryStreamExt};

use crate::tezos::SecretKey;
use crate::vault::credentials::TokenReset;
use crate::vault::{Cause, ImportOptions, Vault, VaultError, VaultKey};

pub(crate) mod errors;
pub(crate) mod jwk;
pub(crate) mod retry;

use errors::classify;
use retry::{AttemptError, RetryPolicy, with_retries_reauth};

/// Default total deadline for one signature (retries included).
pub(crate) const DEFAULT_SIGN_DEADLINE: Duration = Duration::from_secs(3);
/// Attempts per signature of a vault used alone.
pub(crate) const DEFAULT_SIGN_ATTEMPTS: u32 = 4;
/// Default total deadline for reads and imports.
pub(crate) const DEFAULT_READ_DEADLINE: Duration = Duration::from_secs(30);
/// Keys fetched at once while listing.
const LIST_CONCURRENCY: usize = 8;

/// Everything needed to talk to one vault.
#[derive(Clone)]
pub struct AzureVaultConfig {
    /// `https://NAME.vault.azure.net`, `https://NAME.managedhsm.azure.net`, or a loopback URL.
    pub vault_url: Url,
    /// Where the vault client gets its bearer tokens (in production the token keeper in front
    /// of the credential chain).
    pub credential: Arc<dyn TokenCredential>,
    /// Makes `credential` forget a token the vault refused (401), so the call can be retried
    /// once with a new one. Usually the same keeper as `credential`. None: a 401 is returned.
    pub token_reset: Option<Arc<dyn TokenReset>>,
    /// Total time for one signature, retries included.
    pub sign_deadline: Duration,
    /// Total time for one read or import, retries included.
    pub read_deadline: Duration,
    /// Attempts per signature (4). In a set of vaults, 1: the other vault is the retry, and
    /// a throttled or failing vault hands over at once instead of backing off.
    pub sign_attempts: u32,
}

impl AzureVaultConfig {
    /// A config with the default deadlines (3 s per signature, 30 s per read or import) and
    /// no token reset (a 401 is returned, not retried).
    pub fn new(vault_url: Url, credential: Arc<dyn TokenCredential>) -> Self {
        AzureVaultConfig {
            vault_url,
            credential,
            token_reset: None,
            sign_deadline: DEFAULT_SIGN_DEADLINE,
            read_deadline: DEFAULT_READ_DEADLINE,
            sign_attempts: DEFAULT_SIGN_ATTEMPTS,
        }
    }
}

/// Whether `url` points at this machine (the emulator), where the challenge resource
/// (`vault.azure.net`) cannot match the host.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Checks a vault URL before any request: https, a host, no path beyond `/`.
pub(crate) fn check_vault_url(url: &Url) -> Result<(), VaultError> {
    let bad = |why: &str| VaultError::Protocol(format!("invalid vault URL {url}: {why}").into());
    if url.scheme() != "https" {
        return Err(bad("Key Vault is only reachable over https"));
    }
    if url.host().is_none() {
        return Err(bad("no host"));
    }
    if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() {
        return Err(bad("expected just https://NAME.vault.azure.net"));
    }
    Ok(())
}

/// Client options shared by the vault client and the credentials: the SDK's retry off (we
/// retry under a deadline ourselves) and, when given, a transport trusting an extra CA.
pub(crate) fn client_options(extra_ca_pem: Option<&[u8]>) -> Result<ClientOptions, VaultError> {
    let mut options = ClientOptions {
        retry: RetryOptions::none(),
        ..Default::default()
    };
    if let Some(pem) = extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| VaultError::Transport(format!("cannot read the extra CA: {e}").into()))?;
        if certs.is_empty() {
            return Err(VaultError::Transport(
                "the extra CA file holds no PEM certificate".into(),
            ));
        }
        let client = reqwest::Client::builder()
            .tls_certs_merge(certs)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                VaultError::Transport(format!("cannot build the HTTP client: {e}").into())
            })?;
        options.transport = Some(Transport::new(Arc::new(client)));
    }
    Ok(options)
}

/// Key Vault key names: 1-127 letters, digits and dashes.
pub(crate) fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 127
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// [`valid_key_name`] as the error a vault call returns before sending anything.
fn check_key_name(name: &str) -> Result<(), VaultError> {
    if valid_key_name(name) {
        Ok(())
    } else {
        Err(unusable(
            name,
            "not a valid Key Vault key name (1-127 letters, digits and dashes)",
        ))
    }
}

/// The Azure Key Vault implementation of [`Vault`].
pub struct AzureVault {
    client: KeyClient,
    token_reset: Option<Arc<dyn TokenReset>>,
    sign_policy: RetryPolicy,
    read_policy: RetryPolicy,
    import_policy: RetryPolicy,
}

impl std::fmt::Debug for AzureVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureVault")
            .field("vault_url", &self.client.endpoint().as_str())
            .field("sign_deadline", &self.sign_policy.deadline)
            .field("reauthenticates", &self.token_reset.is_some())
            .finish()
    }
}

impl AzureVault {
    /// A vault client with these SDK client options: usually [`client_options`] (shared with
    /// the credentials, so one HTTP client serves both), or e.g. a transport that resolves the
    /// vault host to a stand-in (tests). Set `retry` to `RetryOptions::none()`: this type
    /// retries under its own deadlines.
    pub fn with_client_options(
        config: AzureVaultConfig,
        client_options: ClientOptions,
    ) -> Result<Self, VaultError> {
        check_vault_url(&config.vault_url)?;
        let options = KeyClientOptions {
            client_options,
            verify_challenge_resource: Some(!is_loopback(&config.vault_url)),
            ..Default::default()
        };
        let client = KeyClient::new(config.vault_url.as_str(), config.credential, Some(options))
            .map_err(|e| VaultError::Protocol(Cause::new(e)))?;
        Ok(AzureVault {
            client,
            token_reset: config.token_reset,
            sign_policy: RetryPolicy {
                max_attempts: config.sign_attempts.max(1),
                ..RetryPolicy::for_sign(config.sign_deadline)
            },
            read_policy: RetryPolicy::for_read(config.read_deadline),
            import_policy: RetryPolicy::for_import(config.read_deadline),
        })
    }

    /// Lists, then fetches every listed key (a few at a time) and keeps the usable ones.
    async fn list_usable_keys(&self) -> Result<Vec<VaultKey>, VaultError> {
        let names = self.list_names().await?;
        let fetched: Vec<(String, Result<Key, VaultError>)> = futures::stream::iter(names)
            .map(|name| async move {
                let key = self.fetch_key(&name).await;
                (name, key)
            })
            .buffer_unordered(LIST_CONCURRENCY)
            .collect()
            .await;
        let mut keys = Vec::new();
        for (name, fetched) in fetched {
            match fetched {
                Ok(key) => match jwk::vault_key(&key) {
                    Ok(k) => keys.push(k),
                    Err(why) => tracing::debug!(key = %name, reason = %why, "skipping key"),
                },
                // Deleted between list and get: not an error for the whole listing.
                Err(VaultError::NotFound(_)) => {
                    tracing::debug!(key = %name, "key disappeared while listing")
                }
                Err(e) => return Err(e),
            }
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    async fn fetch_key(&self, name: &str) -> Result<Key, VaultError> {
        check_key_name(name)?;
        let reset = self.token_reset.as_deref();
        with_retries_reauth(&self.read_policy, "get key", reset, || async {
            let response = self
                .client
                .get_key(name, None::<KeyClientGetKeyOptions<'_>>)
                .await
                .map_err(|e| classify(e, name))?;
            response
                .into_model()
                .map_err(|e| AttemptError::from(VaultError::Protocol(Cause::new(e))))
        })
        .await
    }

    /// The names of the enabled keys, page by page. A page that fails (a 429, a 5xx) is
    /// retried from where the listing stopped, not from the first page: the pages already read
    /// and the continuation survive the retry.
    async fn list_names(&self) -> Result<Vec<String>, VaultError> {
        let reset = self.token_reset.as_deref();
        let progress = std::sync::Mutex::new(Listing::default());
        with_retries_reauth(&self.read_policy, "list keys", reset, || async {
            let continuation = lock(&progress).continuation.clone();
            let options = KeyClientListKeyPropertiesOptions {
                maxresults: Some(25),
                method_options: PagerOptions {
                    continuation,
                    ..Default::default()
                },
            };
            let mut pages = self
                .client
                .list_key_properties(Some(options))
                .map_err(|e| classify(e, "(list)"))?
                .into_pages();
            loop {
                let page = match pages.try_next().await {
                    Ok(Some(page)) => page,
                    Ok(None) => return Ok(std::mem::take(&mut lock(&progress).names)),
                    Err(e) => return Err(classify(e, "(list)")),
                };
                let page = page
                    .into_model()
                    .map_err(|e| AttemptError::from(VaultError::Protocol(Cause::new(e))))?;
                let mut progress = lock(&progress);
                progress
                    .names
                    .extend(page.value.iter().filter_map(usable_name));
                progress.continuation = pages.continuation().cloned();
            }
        })
        .await
    }
}

/// How far a key listing got: the names read so far and where the next page starts.
#[derive(Default)]
struct Listing {
    names: Vec<String>,
    continuation: Option<PagerContinuation>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A listed key's name, if it is enabled and has a usable id.
fn usable_name(item: &KeyProperties) -> Option<String> {
    let Ok(id) = item.resource_id() else {
        tracing::debug!(kid = ?item.kid, "skipping a listed key without a usable id");
        return None;
    };
    if item.attributes.as_ref().and_then(|a| a.enabled) == Some(false) {
        tracing::debug!(key = %id.name, "skipping disabled key");
        return None;
    }
    Some(id.name)
}

fn unusable(name: &str, reason: impl ToString) -> VaultError {
    VaultError::UnusableKey {
        name: name.to_owned(),
        reason: reason.to_string(),
    }
}

#[async_trait]
impl Vault for AzureVault {
    /// One read deadline for the whole listing: the pages and every key's fetch together.
    async fn list_keys(&self) -> Result<Vec<VaultKey>, VaultError> {
        let deadline = self.read_policy.deadline;
        tokio::time::timeout(deadline, self.list_usable_keys())
            .await
            .unwrap_or(Err(VaultError::Deadline(deadline)))
    }

    async fn get_key(&self, name: &str) -> Result<VaultKey, VaultError> {
        let key = self.fetch_key(name).await?;
        jwk::vault_key(&key).map_err(|why| unusable(name, why))
    }

    async fn sign_digest_until(
        &self,
        key: &VaultKey,
        digest: &[u8; 32],
        deadline: Option<std::time::Instant>,
    ) -> Result<[u8; 64], VaultError> {
        let policy = self.sign_policy.until(deadline);
        let algorithm: SignatureAlgorithm = key
            .algorithm()
            .parse()
            .map_err(|_| unusable(&key.name, "no signing algorithm for its curve"))?;
        let params = SignParameters {
            algorithm: Some(algorithm),
            value: Some(digest.to_vec()),
        };
        let body: RequestContent<SignParameters> = params
            .try_into()
            .map_err(|e: azure_core::Error| VaultError::Protocol(Cause::new(e)))?;
        let reset = self.token_reset.as_deref();
        with_retries_reauth(&policy, "sign", reset, || async {
            let options = KeyClientSignOptions {
                key_version: Some(key.version.clone()),
                ..Default::default()
            };
            let result = self
                .client
                .sign(&key.name, body.clone(), Some(options))
                .await
                .map_err(|e| classify(e, &key.name))?
                .into_model()
                .map_err(|e| AttemptError::from(VaultError::Protocol(Cause::new(e))))?;
            if let Some(kid) = result.kid.as_deref()
                && let Ok(id) = kid.parse::<azure_security_keyvault_keys::ResourceId>()
                && id.version.as_deref().is_some_and(|v| v != key.version)
            {
                return Err(VaultError::Protocol(
                    format!(
                        "asked key {} version {} to sign, the vault answered for {kid}",
                        key.name, key.version
                    )
                    .into(),
                )
                .into());
            }
            let raw = result.result.unwrap_or_default();
            <[u8; 64]>::try_from(raw.as_slice()).map_err(|_| {
                VaultError::Protocol(
                    format!("signature of {} bytes, expected 64 (r‖s)", raw.len()).into(),
                )
                .into()
            })
        })
        .await
    }

    async fn import_key(
        &self,
        name: &str,
        secret: &SecretKey,
        options: ImportOptions,
    ) -> Result<VaultKey, VaultError> {
        check_key_name(name)?;
        let mut params = ImportKeyParameters {
            hsm: Some(!options.software),
            key: Some(jwk::import_jwk(secret)),
            ..Default::default()
        };
        let json = serde_json::to_vec(&params).map(zeroize::Zeroizing::new);
        if let Some(k) = params.key.as_mut() {
            jwk::wipe(k);
        }
        let json = json.map_err(|e| VaultError::Protocol(Cause::new(e)))?;
        // The HTTP layer needs its own copy of the body (not zeroizable: it lives in `Bytes`
        // inside the SDK for the duration of the request).
        let body: RequestContent<ImportKeyParameters> =
            azure_core::Bytes::copy_from_slice(&json).into();
        drop(json);
        // A 401 means the vault did not process the import: retrying it cannot add a version.
        let reset = self.token_reset.as_deref();
        let key = with_retries_reauth(&self.import_policy, "import key", reset, || async {
            let response = self
                .client
                .import_key(name, body.clone(), None)
                .await
                .map_err(|e| classify(e, name))?;
            response
                .into_model()
                .map_err(|e| AttemptError::from(VaultError::Protocol(Cause::new(e))))
        })
        .await?;
        jwk::vault_key(&key).map_err(|why| unusable(name, why))
    }
}

#[cfg(test)]
mod tests;
