//! Bearer tokens of the emulated Entra ID: minting (for the managed-identity and the
//! client-credentials endpoints) and checking on every data-plane request. Tokens are random
//! opaque strings bound to an audience and an expiry; unknown, expired or foreign-audience
//! tokens are refused. Revoking forgets every token minted so far, as a restarted vault would.
//! It never accepts a token it did not mint, nor one minted before a revocation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rand::RngCore as _;

/// The audience (resource) of Key Vault tokens.
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";
/// The audience (resource) of Managed HSM tokens.
pub const MANAGED_HSM_RESOURCE: &str = "https://managedhsm.azure.net";

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    #[error("the access token is unknown or malformed")]
    Unknown,
    #[error("the access token has expired")]
    Expired,
    #[error("the access token audience is not this service's")]
    WrongAudience,
}

/// A freshly minted token.
#[derive(Debug, Clone)]
pub struct Minted {
    pub access_token: String,
    /// Unix seconds.
    pub expires_on: i64,
    pub expires_in: i64,
}

#[derive(Debug)]
struct Issued {
    expires_on: i64,
    resource: String,
}

/// Every token minted so far.
#[derive(Debug)]
pub struct TokenStore {
    lifetime: Duration,
    issued: Mutex<HashMap<String, Issued>>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Normalises a resource or scope to the resource form: no `/.default`, no trailing slash.
pub fn resource_of(scope_or_resource: &str) -> String {
    scope_or_resource
        .trim()
        .trim_end_matches("/.default")
        .trim_end_matches('/')
        .to_ascii_lowercase()
}

impl TokenStore {
    pub fn new(lifetime: Duration) -> Self {
        TokenStore {
            lifetime,
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// Mints a token for `resource` (a resource URL or a `/.default` scope).
    pub fn mint(&self, resource: &str) -> Minted {
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let access_token = format!("emulator.{}", hex::encode(bytes));
        let expires_in = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        let expires_on = now().saturating_add(expires_in);
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        issued.retain(|_, t| t.expires_on > now() - 3600);
        issued.insert(
            access_token.clone(),
            Issued {
                expires_on,
                resource: resource_of(resource),
            },
        );
        Minted {
            access_token,
            expires_on,
            expires_in,
        }
    }

    /// Forgets every token minted so far (as a vault restart or a revocation does): they are
    /// refused as unknown from now on. Returns how many were forgotten.
    pub fn revoke_all(&self) -> usize {
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let revoked = issued.len();
        issued.clear();
        revoked
    }

    /// Checks the value of an `Authorization` header for a service whose audience is
    /// `resource`.
    pub fn check_header_for(
        &self,
        authorization: &str,
        resource: &str,
    ) -> Result<(), TokenRefusal> {
        let mut parts = authorization.trim().splitn(2, ' ');
        let scheme = parts.next().unwrap_or_default();
        let token = parts.next().unwrap_or_default().trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Err(TokenRefusal::Unknown);
        }
        let issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let t = issued.get(token).ok_or(TokenRefusal::Unknown)?;
        if t.expires_on <= now() {
            return Err(TokenRefusal::Expired);
        }
        if t.resource != resource {
            return Err(TokenRefusal::WrongAudience);
        }
        Ok(())
    }

    /// [`TokenStore::check_header_for`] Key Vault.
    pub fn check_header(&self, authorization: &str) -> Result<(), TokenRefusal> {
        self.check_header_for(authorization, VAULT_RESOURCE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_accepted_others_refused() {
        let store = TokenStore::new(Duration::from_secs(60));
        let t = store.mint("https://vault.azure.net/.default");
        assert!(t.expires_on > now());
        assert_eq!(
            store.check_header(&format!("Bearer {}", t.access_token)),
            Ok(())
        );
        assert_eq!(
            store.check_header(&format!("bearer {}", t.access_token)),
            Ok(())
        );
        assert_eq!(
            store.check_header("Bearer nope"),
            Err(TokenRefusal::Unknown)
        );
        assert_eq!(
            store.check_header(&format!("Basic {}", t.access_token)),
            Err(TokenRefusal::Unknown)
        );
        assert_eq!(store.check_header("Bearer"), Err(TokenRefusal::Unknown));
        let other = store.mint("https://storage.azure.com/");
        assert_eq!(
            store.check_header(&format!("Bearer {}", other.access_token)),
            Err(TokenRefusal::WrongAudience)
        );
    }

    #[test]
    fn revoked_tokens_are_unknown_and_new_ones_work() {
        let store = TokenStore::new(Duration::from_secs(60));
        let old = store.mint(VAULT_RESOURCE);
        assert_eq!(store.revoke_all(), 1);
        assert_eq!(
            store.check_header(&format!("Bearer {}", old.access_token)),
            Err(TokenRefusal::Unknown)
        );
        let new = store.mint(VAULT_RESOURCE);
        assert_eq!(
            store.check_header(&format!("Bearer {}", new.access_token)),
            Ok(())
        );
        assert_eq!(store.revoke_all(), 1);
        assert_eq!(store.revoke_all(), 0);
    }

    #[test]
    fn expired_tokens_are_refused() {
        let store = TokenStore::new(Duration::from_secs(0));
        let t = store.mint(VAULT_RESOURCE);
        assert_eq!(
            store.check_header(&format!("Bearer {}", t.access_token)),
            Err(TokenRefusal::Expired)
        );
    }

    #[test]
    fn resources_and_scopes_normalise_alike() {
        for s in [
            "https://vault.azure.net",
            "https://vault.azure.net/",
            "https://vault.azure.net/.default",
            "https://VAULT.azure.net/.default",
        ] {
            assert_eq!(resource_of(s), VAULT_RESOURCE);
        }
    }
}
