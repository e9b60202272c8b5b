//! A `TokenCredential` that tries the planned credentials in order and sticks to the first that
//! produces a token.
//!
//! Owns: trying each configured credential once per token request until one works, remembering
//! it, the combined error when none does, and rebuilding the chosen credential from its factory
//! when the vault rejected a token ([`TokenReset`]). Token caching and refresh before expiry are
//! done in front of this credential (the keeper and the SDK's bearer policy); but the SDK
//! credentials also cache their token, refresh it only 5 minutes before expiry, and offer no
//! way to bypass that cache: a fresh instance is the only way to get a new token early. Must
//! never hold a lock across a token request, and never drop a working credential for one that
//! failed to build.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;

use super::{Candidate, ChainError, CredentialEnv, CredentialKind, TokenReset};
use crate::vault::cause::error_chain;

/// Builds the SDK credential for one kind (the real one is [`super::SdkFactory`]).
pub trait CredentialFactory {
    /// A new instance of `kind`'s credential configured from `env` (local work only, no token
    /// request), or why it cannot be built (a missing variable, an SDK error).
    fn build(
        &self,
        kind: CredentialKind,
        env: &CredentialEnv,
    ) -> Result<Arc<dyn TokenCredential>, String>;
}

/// One credential of the plan: built (and when), or why it cannot be used.
struct Slot {
    credential: Result<Arc<dyn TokenCredential>, String>,
    built_at: Instant,
}

struct Entry {
    kind: CredentialKind,
    slot: Mutex<Slot>,
}

impl Entry {
    /// The credential as it is now (a clone of the `Arc`: the lock is released at once).
    fn credential(&self) -> Result<Arc<dyn TokenCredential>, String> {
        self.slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .credential
            .clone()
    }
}

/// The `TokenCredential` the vault client uses: tries each credential of the plan in order
/// until one gets a token, then sticks to it; when none does, the error lists each with why.
pub struct ChainCredential {
    entries: Vec<Entry>,
    chosen: OnceLock<usize>,
    /// Rebuilds the chosen credential on a reset.
    factory: Arc<dyn CredentialFactory + Send + Sync>,
    env: CredentialEnv,
}

impl std::fmt::Debug for ChainCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<_> = self.entries.iter().map(|e| e.kind.name()).collect();
        f.debug_struct("ChainCredential")
            .field("credentials", &kinds)
            .field("chosen", &self.chosen().map(CredentialKind::name))
            .finish()
    }
}

impl ChainCredential {
    /// Builds every available candidate of `plan`; unavailable ones keep their reason. Keeps a
    /// copy of `factory` and `env` to rebuild the chosen credential on a [`TokenReset`].
    pub fn new<F>(plan: &[Candidate], env: &CredentialEnv, factory: &F) -> Self
    where
        F: CredentialFactory + Clone + Send + Sync + 'static,
    {
        let now = Instant::now();
        let entries = plan
            .iter()
            .map(|c| {
                let credential = match &c.unavailable {
                    Some(reason) => Err(reason.clone()),
                    None => factory.build(c.kind, env),
                };
                Entry {
                    kind: c.kind,
                    slot: Mutex::new(Slot {
                        credential,
                        built_at: now,
                    }),
                }
            })
            .collect();
        ChainCredential {
            entries,
            chosen: OnceLock::new(),
            factory: Arc::new(factory.clone()),
            env: env.clone(),
        }
    }

    /// The credential that answered, once one has.
    pub fn chosen(&self) -> Option<CredentialKind> {
        self.chosen
            .get()
            .and_then(|i| self.entries.get(*i))
            .map(|e| e.kind)
    }

    /// Whether at least one credential is configured (otherwise every request will fail).
    pub fn any_available(&self) -> bool {
        self.entries.iter().any(|e| e.credential().is_ok())
    }

    /// The error listing every credential and why it cannot be used, without trying any.
    pub fn unavailable_error(&self) -> ChainError {
        ChainError {
            attempts: self
                .entries
                .iter()
                .map(|e| (e.kind, e.credential().err().unwrap_or_default()))
                .collect(),
        }
    }
}

/// Rebuilds the chosen credential (a new instance has an empty token cache), unless it was
/// built at or after `seen_at`. Before any credential answered there is no token to forget.
/// Building is local (options, at most reading the federated token file): no network.
impl TokenReset for ChainCredential {
    fn reset(&self, seen_at: Instant) {
        let Some(entry) = self.chosen.get().and_then(|i| self.entries.get(*i)) else {
            return;
        };
        let mut slot = entry.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.built_at >= seen_at || slot.credential.is_err() {
            return;
        }
        match self.factory.build(entry.kind, &self.env) {
            Ok(fresh) => {
                *slot = Slot {
                    credential: Ok(fresh),
                    built_at: Instant::now(),
                };
                tracing::info!(
                    credential = entry.kind.name(),
                    "the vault rejected a token: rebuilt the Azure credential to get a new one"
                );
            }
            Err(why) => tracing::warn!(
                credential = entry.kind.name(),
                error = %why,
                "cannot rebuild the Azure credential after the vault rejected a token; keeping it"
            ),
        }
    }
}

#[async_trait]
impl TokenCredential for ChainCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        if let Some(entry) = self.chosen.get().and_then(|i| self.entries.get(*i))
            && let Ok(cred) = entry.credential()
        {
            return cred.get_token(scopes, options).await;
        }
        let mut attempts = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            let kind = entry.kind;
            match entry.credential() {
                Err(reason) => attempts.push((kind, reason)),
                Ok(cred) => match cred.get_token(scopes, options.clone()).await {
                    Ok(token) => {
                        let _ = self.chosen.set(i);
                        tracing::info!(credential = kind.name(), "authenticated to Azure");
                        return Ok(token);
                    }
                    Err(err) => {
                        let why = error_chain(&err).replace('\n', " ");
                        tracing::warn!(credential = kind.name(), error = %why, "Azure credential failed");
                        attempts.push((kind, why));
                    }
                },
            }
        }
        Err(azure_core::Error::with_message(
            ErrorKind::Credential,
            ChainError { attempts }.to_string(),
        ))
    }
}
