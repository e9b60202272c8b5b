//! Keeps Azure tokens fresh in the background, so no signature ever waits for a token request.
//!
//! Owns: one cached token per scope set, a background task per scope set that fetches the next
//! token `refresh_before` its expiry (retrying with backoff while the old one is still valid),
//! and answering every `get_token` from the cache while the cached token has more than
//! `min_validity` left.
//!
//! Timing against the SDK: its credentials (client secret, workload and managed identity) keep
//! their own cache and fetch a new token only once the cached one has 5 minutes or less left;
//! its bearer policy also asks again from 5 minutes before expiry. So the keeper refreshes at
//! 4 minutes before expiry (inside that window, so the fetch really returns a new token), and
//! hands out its cached token to the policy until then. A credential that keeps returning a
//! token already inside the refresh window (short-lived tokens, or a cache we do not control)
//! is asked again at most every `min_interval`, never in a loop. Must never log a token, and
//! never keep a background task alive after the keeper is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::OffsetDateTime;

/// When to refresh, relative to a token's expiry.
#[derive(Debug, Clone, Copy)]
pub struct KeeperTiming {
    /// Fetch the next token this long before the current one expires.
    pub refresh_before: Duration,
    /// A cached token with less than this left is not handed out; a fresh one is fetched
    /// inline instead.
    pub min_validity: Duration,
    /// The shortest pause between two background fetches.
    pub min_interval: Duration,
}

/// Azure SDK credentials and its bearer policy refresh once a token has this long left.
const SDK_REFRESH_WINDOW: Duration = Duration::from_secs(5 * 60);

impl Default for KeeperTiming {
    fn default() -> Self {
        KeeperTiming {
            refresh_before: SDK_REFRESH_WINDOW.saturating_sub(Duration::from_secs(60)),
            min_validity: Duration::from_secs(60),
            min_interval: Duration::from_secs(30),
        }
    }
}

/// A [`TokenCredential`] wrapper that caches tokens and refreshes them in the background.
#[derive(Debug)]
pub struct TokenKeeper {
    inner: Arc<dyn TokenCredential>,
    timing: KeeperTiming,
    cache: Mutex<HashMap<Vec<String>, AccessToken>>,
    /// Scope sets that have a background refresher running.
    refreshing: Mutex<Vec<Vec<String>>>,
}

fn remaining(token: &AccessToken) -> Duration {
    let left = token.expires_on - OffsetDateTime::now_utc();
    Duration::try_from(left).unwrap_or(Duration::ZERO)
}

impl TokenKeeper {
    pub fn new(inner: Arc<dyn TokenCredential>, timing: KeeperTiming) -> Arc<Self> {
        Arc::new(TokenKeeper {
            inner,
            timing,
            cache: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(Vec::new()),
        })
    }

    fn cached(&self, key: &[String]) -> Option<AccessToken> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(key)
            .filter(|t| remaining(t) > self.timing.min_validity)
            .cloned()
    }

    fn store(&self, key: Vec<String>, token: AccessToken) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(key, token);
    }

    async fn fetch(&self, key: &[String]) -> azure_core::Result<AccessToken> {
        let scopes: Vec<&str> = key.iter().map(String::as_str).collect();
        let token = self.inner.get_token(&scopes, None).await?;
        self.store(key.to_vec(), token.clone());
        Ok(token)
    }

    /// Starts the background refresher for `key` once (needs a tokio runtime; without one the
    /// SDK's inline refresh still applies).
    fn ensure_refresher(self: &Arc<Self>, key: &[String]) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        {
            let mut running = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
            if running.iter().any(|k| k == key) {
                return;
            }
            running.push(key.to_vec());
        }
        handle.spawn(refresh_loop(Arc::downgrade(self), key.to_vec()));
    }

    /// How long the refresher sleeps before fetching again, given the cached token: until
    /// `refresh_before` its expiry, but never less than `min_interval` (or half the time left,
    /// if that is shorter) and never less than a millisecond, so it cannot spin.
    fn next_refresh_in(&self, key: &[String]) -> Duration {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let Some(token) = cache.get(key) else {
            return Duration::ZERO;
        };
        let left = remaining(token);
        let due = left.saturating_sub(self.timing.refresh_before);
        due.max(self.timing.min_interval.min(left / 2))
            .max(Duration::from_millis(1))
    }
}

async fn refresh_loop(keeper: Weak<TokenKeeper>, key: Vec<String>) {
    let mut failures = 0u32;
    loop {
        let wait = match keeper.upgrade() {
            Some(k) if failures == 0 => k.next_refresh_in(&key),
            Some(_) => Duration::from_secs(1u64 << (failures - 1).min(6)),
            None => return,
        };
        tokio::time::sleep(wait).await;
        let Some(k) = keeper.upgrade() else {
            return;
        };
        match k.fetch(&key).await {
            Ok(_) => {
                failures = 0;
                tracing::debug!("Azure token refreshed in the background");
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(error = %e, "background Azure token refresh failed; retrying");
            }
        }
    }
}

#[async_trait]
impl TokenCredential for TokenKeeper {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let key: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        if let Some(token) = self.cached(&key) {
            return Ok(token);
        }
        let token = self.inner.get_token(scopes, options).await?;
        self.store(key, token.clone());
        Ok(token)
    }
}

/// Wraps `inner` in a keeper and returns it as a credential; the first token request starts
/// the background refresher for its scopes.
pub fn keep_fresh(inner: Arc<dyn TokenCredential>, timing: KeeperTiming) -> Arc<KeeperHandle> {
    Arc::new(KeeperHandle(TokenKeeper::new(inner, timing)))
}

/// The credential handed to the SDK: a keeper that can start its own refreshers.
#[derive(Debug)]
pub struct KeeperHandle(Arc<TokenKeeper>);

#[async_trait]
impl TokenCredential for KeeperHandle {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let token = self.0.get_token(scopes, options).await?;
        let key: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.0.ensure_refresher(&key);
        Ok(token)
    }
}

#[cfg(test)]
#[path = "keeper_tests.rs"]
mod tests;
