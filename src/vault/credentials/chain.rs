//! A `TokenCredential` that tries the planned credentials in order and sticks to the first that
//! produces a token.
//!
//! Owns: trying each configured credential once per token request until one works, remembering
//! it, and the combined error when none does. Token caching and refresh before expiry are done
//! by the SDK's bearer policy in front of this credential (one token per ~hour, never one per
//! signature); this type only decides *which* credential answers.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::ErrorKind;

use super::{Candidate, ChainError, CredentialEnv, CredentialKind};
use crate::vault::azure::errors::error_chain;

/// Builds the SDK credential for one kind (the real one is [`super::SdkFactory`]).
pub trait CredentialFactory {
    fn build(
        &self,
        kind: CredentialKind,
        env: &CredentialEnv,
    ) -> Result<Arc<dyn TokenCredential>, String>;
}

type Entry = (CredentialKind, Result<Arc<dyn TokenCredential>, String>);

pub struct ChainCredential {
    entries: Vec<Entry>,
    chosen: OnceLock<usize>,
}

impl std::fmt::Debug for ChainCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<_> = self.entries.iter().map(|(k, _)| k.name()).collect();
        f.debug_struct("ChainCredential")
            .field("credentials", &kinds)
            .field(
                "chosen",
                &self.chosen.get().map(|i| self.entries[*i].0.name()),
            )
            .finish()
    }
}

impl ChainCredential {
    /// Builds every available candidate of `plan`; unavailable ones keep their reason.
    pub fn new(plan: &[Candidate], env: &CredentialEnv, factory: &dyn CredentialFactory) -> Self {
        let entries = plan
            .iter()
            .map(|c| {
                let built = match &c.unavailable {
                    Some(reason) => Err(reason.clone()),
                    None => factory.build(c.kind, env),
                };
                (c.kind, built)
            })
            .collect();
        ChainCredential {
            entries,
            chosen: OnceLock::new(),
        }
    }

    /// The credential that answered, once one has.
    pub fn chosen(&self) -> Option<CredentialKind> {
        self.chosen.get().map(|i| self.entries[*i].0)
    }

    /// Whether at least one credential is configured (otherwise every request will fail).
    pub fn any_available(&self) -> bool {
        self.entries.iter().any(|(_, c)| c.is_ok())
    }

    /// The error listing every credential and why it cannot be used, without trying any.
    pub fn unavailable_error(&self) -> ChainError {
        ChainError {
            attempts: self
                .entries
                .iter()
                .map(|(k, c)| (*k, c.as_ref().err().cloned().unwrap_or_default()))
                .collect(),
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
        if let Some(&i) = self.chosen.get()
            && let (_, Ok(cred)) = &self.entries[i]
        {
            return cred.get_token(scopes, options).await;
        }
        let mut attempts = Vec::new();
        for (i, (kind, cred)) in self.entries.iter().enumerate() {
            match cred {
                Err(reason) => attempts.push((*kind, reason.clone())),
                Ok(cred) => match cred.get_token(scopes, options.clone()).await {
                    Ok(token) => {
                        let _ = self.chosen.set(i);
                        tracing::info!(credential = kind.name(), "authenticated to Azure");
                        return Ok(token);
                    }
                    Err(err) => {
                        let why = error_chain(&err).replace('\n', " ");
                        tracing::warn!(credential = kind.name(), error = %why, "Azure credential failed");
                        attempts.push((*kind, why));
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
