//! The keys this signer serves: discovered from the vault, filtered by `--key`, cached with
//! their public keys, each with its own lock that serialises its watermarked signatures.
//!
//! Owns: the pkh → key map and the rate limit on re-discovery (an unknown pkh triggers at most
//! one vault listing per interval, however many requests ask). Never calls the vault for a
//! key it already knows, and never replaces a key's lock nor forgets a key (a re-discovery
//! only adds or refreshes entries), so two requests for one key can never run their
//! check → sign → persist at the same time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::tezos::Pkh;
use crate::vault::{Vault, VaultError, VaultKey};

/// One served key.
#[derive(Debug)]
pub struct KeyEntry {
    pub key: VaultKey,
    /// Held across watermark check → vault sign → persist for this key.
    pub lock: Arc<tokio::sync::Mutex<()>>,
}

/// The discovered keys.
#[derive(Debug)]
pub struct Keyring {
    keys: RwLock<HashMap<Pkh, Arc<KeyEntry>>>,
    /// When the vault was last listed; the mutex also makes concurrent re-discoveries wait
    /// for the one in flight instead of starting their own.
    last_discovery: tokio::sync::Mutex<Option<Instant>>,
    filter: Vec<String>,
    interval: Duration,
}

impl Keyring {
    pub fn new(filter: Vec<String>, interval: Duration) -> Self {
        Keyring {
            keys: RwLock::new(HashMap::new()),
            last_discovery: tokio::sync::Mutex::new(None),
            filter,
            interval,
        }
    }

    /// Lists the vault and (re)builds the map. Returns the entries of `--key` that matched no
    /// usable key, for the caller to report.
    pub async fn discover(&self, vault: &dyn Vault) -> Result<Vec<String>, VaultError> {
        let mut last = self.last_discovery.lock().await;
        self.discover_locked(vault, &mut last).await
    }

    async fn discover_locked(
        &self,
        vault: &dyn Vault,
        last: &mut Option<Instant>,
    ) -> Result<Vec<String>, VaultError> {
        *last = Some(Instant::now());
        let mut listed = vault.list_keys().await?;
        // Stable choice when one key is in the vault under several names.
        listed.sort_by(|a, b| a.name.cmp(&b.name));
        let selected: Vec<VaultKey> = listed.into_iter().filter(|k| self.wanted(k)).collect();
        let unmatched = self
            .filter
            .iter()
            .filter(|f| {
                !selected
                    .iter()
                    .any(|k| k.name == **f || k.pkh().to_string() == **f)
            })
            .cloned()
            .collect();
        let mut map = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let mut seen: Vec<Pkh> = Vec::new();
        for key in selected {
            let pkh = key.pkh();
            if seen.contains(&pkh) {
                tracing::warn!(%pkh, name = %key.name, "key present under several vault names; using the first by name");
                continue;
            }
            seen.push(pkh);
            // A key seen before keeps its lock (the vault entry may be newer).
            let lock = map
                .get(&pkh)
                .map(|old| Arc::clone(&old.lock))
                .unwrap_or_default();
            map.insert(pkh, Arc::new(KeyEntry { key, lock }));
        }
        Ok(unmatched)
    }

    fn wanted(&self, key: &VaultKey) -> bool {
        self.filter.is_empty()
            || self
                .filter
                .iter()
                .any(|f| *f == key.name || *f == key.pkh().to_string())
    }

    /// The entry for `pkh`, without any vault call.
    pub fn get(&self, pkh: &Pkh) -> Option<Arc<KeyEntry>> {
        let map = self.keys.read().unwrap_or_else(|p| p.into_inner());
        map.get(pkh).cloned()
    }

    /// The entry for `pkh`; if unknown, re-discovers at most once per interval (requests that
    /// arrive meanwhile wait for that listing and use its result).
    pub async fn get_or_rediscover(
        &self,
        vault: &dyn Vault,
        pkh: &Pkh,
    ) -> Result<Option<Arc<KeyEntry>>, VaultError> {
        if let Some(entry) = self.get(pkh) {
            return Ok(Some(entry));
        }
        let mut last = self.last_discovery.lock().await;
        // Another request may have re-discovered while we waited.
        if let Some(entry) = self.get(pkh) {
            return Ok(Some(entry));
        }
        if last.is_some_and(|t| t.elapsed() < self.interval) {
            return Ok(None);
        }
        tracing::info!(%pkh, "unknown key requested: listing the vault again");
        self.discover_locked(vault, &mut last).await?;
        Ok(self.get(pkh))
    }

    /// Every served pkh, sorted.
    pub fn pkhs(&self) -> Vec<Pkh> {
        let map = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Pkh> = map.keys().copied().collect();
        out.sort();
        out
    }

    /// Any served key (for a cheap vault health check).
    pub fn any(&self) -> Option<Arc<KeyEntry>> {
        let map = self.keys.read().unwrap_or_else(|p| p.into_inner());
        map.values()
            .min_by(|a, b| a.key.name.cmp(&b.key.name))
            .cloned()
    }
}
