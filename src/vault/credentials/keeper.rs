//! Keeps Azure tokens fresh in the background, so no signature ever waits for a token request.
//!
//! Owns: one cached token per scope set, a background task per scope set that fetches the next
//! token `refresh_before` its expiry (retrying with backoff while the old one is still valid),
//! answering every `get_token` from the cache while the cached token has more than
//! `min_validity` left, and forgetting a token the vault rejected ([`TokenReset`]).
//!
//! Timing against the SDK: its credentials (client secret, workload and managed identity) keep
//! their own cache and fetch a new token only once the cached one has 5 minutes or less left;
//! its bearer policy also asks again from 5 minutes before expiry. So the keeper refreshes at
//! 4 minutes before expiry (inside that window, so the fetch really returns a new token), and
//! hands out its cached token to the policy until then. A credential that keeps returning a
//! token already inside the refresh window (short-lived tokens, or a cache we do not control)
//! is asked again at most every `min_interval`, never in a loop.
//!
//! Reset: a token fetched before the rejection was seen is dropped and the inner credential is
//! reset too (its own cache would hand back the same token), both under the cache lock, so no
//! fetch can slip in between. Only a reset that dropped something resets the inner credential,
//! and inline fetches run one at a time: a burst of rejections costs one new token. A fetch
//! that overlapped a reset may carry the rejected token and is not cached. The first reset
//! acts at once; another one within `min_interval` is ignored, so a vault that refuses every
//! token (wrong tenant, say) cannot make each signature ask the token endpoint. Must never log
//! a token, and never keep a background task alive after the keeper is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::OffsetDateTime;

use super::TokenReset;

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

/// A cached token and when the request that obtained it started.
#[derive(Debug)]
struct Cached {
    token: AccessToken,
    fetched_at: Instant,
}

/// The cached tokens and the reset generation.
#[derive(Debug, Default)]
struct Cache {
    tokens: HashMap<Vec<String>, Cached>,
    /// Bumped by every reset that dropped a token. A fetch that started in an earlier
    /// generation may have asked the inner credential before it was reset: its answer is
    /// handed out once but not cached.
    generation: u64,
    /// When a reset last dropped a token.
    last_reset: Option<Instant>,
}

/// A [`TokenCredential`] wrapper that caches tokens and refreshes them in the background.
#[derive(Debug)]
pub(super) struct TokenKeeper {
    inner: Arc<dyn TokenCredential>,
    /// Makes `inner` forget its own cached token (the chain credential).
    inner_reset: Option<Arc<dyn TokenReset>>,
    timing: KeeperTiming,
    cache: Mutex<Cache>,
    /// Inline fetches one at a time: concurrent requests after a reset share one new token.
    fetching: tokio::sync::Mutex<()>,
    /// Scope sets that have a background refresher running.
    refreshing: Mutex<Vec<Vec<String>>>,
}

fn remaining(token: &AccessToken) -> Duration {
    let left = token.expires_on - OffsetDateTime::now_utc();
    Duration::try_from(left).unwrap_or(Duration::ZERO)
}

impl TokenKeeper {
    pub(super) fn new(
        inner: Arc<dyn TokenCredential>,
        inner_reset: Option<Arc<dyn TokenReset>>,
        timing: KeeperTiming,
    ) -> Arc<Self> {
        Arc::new(TokenKeeper {
            inner,
            inner_reset,
            timing,
            cache: Mutex::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
            refreshing: Mutex::new(Vec::new()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, key: &[String]) -> Option<AccessToken> {
        self.lock()
            .tokens
            .get(key)
            .map(|c| &c.token)
            .filter(|t| remaining(t) > self.timing.min_validity)
            .cloned()
    }

    fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Caches `token` unless a reset happened since its fetch started (`generation`).
    fn store(&self, key: &[String], token: &AccessToken, fetched_at: Instant, generation: u64) {
        let mut cache = self.lock();
        if cache.generation != generation {
            tracing::debug!("an Azure token fetch overlapped a reset; not caching its answer");
            return;
        }
        cache.tokens.insert(
            key.to_vec(),
            Cached {
                token: token.clone(),
                fetched_at,
            },
        );
    }

    async fn fetch(
        &self,
        key: &[String],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let generation = self.generation();
        let started = Instant::now();
        let scopes: Vec<&str> = key.iter().map(String::as_str).collect();
        let token = self.inner.get_token(&scopes, options).await?;
        self.store(key, &token, started, generation);
        Ok(token)
    }

    /// Drops every token fetched before `seen_at`; when that dropped one, also resets the
    /// inner credential (under the cache lock: a fetch starting after this sees both). Does
    /// nothing within `min_interval` of the last reset that dropped a token.
    pub(super) fn reset(&self, seen_at: Instant) {
        let mut cache = self.lock();
        if let Some(last) = cache.last_reset
            && last.elapsed() < self.timing.min_interval
        {
            tracing::debug!("the vault refused a token again soon after a reset; not resetting");
            return;
        }
        let before = cache.tokens.len();
        cache.tokens.retain(|_, c| c.fetched_at >= seen_at);
        if cache.tokens.len() == before {
            return;
        }
        cache.generation = cache.generation.wrapping_add(1);
        cache.last_reset = Some(Instant::now());
        tracing::info!(
            "the vault rejected the cached Azure token; the next request fetches a new one"
        );
        if let Some(inner) = &self.inner_reset {
            inner.reset(seen_at);
        }
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
    /// if that is shorter) and never less than a millisecond, so it cannot spin. No cached
    /// token (never fetched, or dropped by a reset): fetch now.
    fn next_refresh_in(&self, key: &[String]) -> Duration {
        let cache = self.lock();
        let Some(cached) = cache.tokens.get(key) else {
            return Duration::ZERO;
        };
        let left = remaining(&cached.token);
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
        match k.fetch(&key, None).await {
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
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(token) = self.cached(&key) {
            return Ok(token);
        }
        self.fetch(&key, options).await
    }
}

/// Wraps `inner` in a keeper and returns it as a credential; the first token request starts
/// the background refresher for its scopes. A reset drops the keeper's tokens only.
pub fn keep_fresh(inner: Arc<dyn TokenCredential>, timing: KeeperTiming) -> Arc<KeeperHandle> {
    Arc::new(KeeperHandle(TokenKeeper::new(inner, None, timing)))
}

/// [`keep_fresh`], where a reset that drops a token also resets `inner_reset` (the inner
/// credential's own cache, e.g. the chain rebuilding its chosen credential).
pub fn keep_fresh_with_reset(
    inner: Arc<dyn TokenCredential>,
    inner_reset: Arc<dyn TokenReset>,
    timing: KeeperTiming,
) -> Arc<KeeperHandle> {
    Arc::new(KeeperHandle(TokenKeeper::new(
        inner,
        Some(inner_reset),
        timing,
    )))
}

/// The credential handed to the SDK: a keeper that can start its own refreshers. Also the
/// vault client's [`TokenReset`].
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

impl TokenReset for KeeperHandle {
    fn reset(&self, seen_at: Instant) {
        self.0.reset(seen_at);
    }
}

#[cfg(test)]
#[path = "keeper_tests.rs"]
mod tests;
