//! The keys this signer serves: discovered from the vault, filtered by `--key`, cached with
//! their public keys, each with its own lock that serialises its watermarked signatures.
//!
//! Owns: the pkh → key map and the rate limit on re-discovery (an unknown pkh triggers at most
//! one vault listing per interval, however many requests ask). Never calls the vault for a
//! key it already knows. A successful listing is authoritative: a key whose pkh is listed again
//! is refreshed (new version, same pkh — the pkh is what the watermarks belong to), a key no
//! longer listed (deleted, disabled, or its name now holds other key material) stops being
//! served, and a failed listing changes nothing. A pkh's lock is created once and never
//! replaced, even when the key vanishes and comes back, so two requests for one pkh can never
//! run their check → sign → persist at the same time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::queue::KeyQueue;
use crate::tezos::Pkh;
use crate::vault::{Vault, VaultError, VaultKey};

/// One served key.
#[derive(Debug)]
pub(super) struct KeyEntry {
    pub key: VaultKey,
    /// Held across watermark check → vault sign → persist for this key (a bounded queue).
    pub lock: Arc<KeyQueue>,
}

/// What the keyring holds: the served keys, and one lock per pkh ever served (kept for the
/// process's lifetime; a handful of keys).
#[derive(Debug, Default)]
struct Keys {
    served: HashMap<Pkh, Arc<KeyEntry>>,
    locks: HashMap<Pkh, Arc<KeyQueue>>,
}

/// The discovered keys.
#[derive(Debug)]
pub(super) struct Keyring {
    keys: RwLock<Keys>,
    /// When the vault was last listed; the mutex also makes concurrent re-discoveries wait
    /// for the one in flight instead of starting their own.
    last_discovery: tokio::sync::Mutex<Option<Instant>>,
    filter: Vec<String>,
    interval: Duration,
}

impl Keyring {
    pub(super) fn new(filter: Vec<String>, interval: Duration) -> Self {
        Keyring {
            keys: RwLock::new(Keys::default()),
            last_discovery: tokio::sync::Mutex::new(None),
            filter,
            interval,
        }
    }

    /// Lists the vault and rebuilds the map from that listing (on error nothing changes).
    /// Returns the entries of `--key` that matched no
    /// usable key, for the caller to report.
    pub(super) async fn discover(&self, vault: &dyn Vault) -> Result<Vec<String>, VaultError> {
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
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let Keys { served, locks } = &mut *keys;
        let first_discovery = locks.is_empty();
        let mut fresh: HashMap<Pkh, Arc<KeyEntry>> = HashMap::new();
        for key in selected {
            let pkh = key.pkh();
            if fresh.contains_key(&pkh) {
                tracing::warn!(%pkh, name = %key.name, "key present under several vault names; using the first by name");
                continue;
            }
            match served.get(&pkh) {
                Some(old) if old.key.name != key.name || old.key.version != key.version => {
                    tracing::info!(%pkh, name = %key.name, version = %key.version, old_name = %old.key.name, old_version = %old.key.version, "key refreshed from the vault");
                }
                None if !first_discovery => {
                    tracing::info!(%pkh, name = %key.name, version = %key.version, "new key found in the vault");
                }
                _ => {}
            }
            // One lock per pkh for the process's lifetime (a request holding the old entry
            // still serialises with requests on the new one).
            let lock = Arc::clone(locks.entry(pkh).or_default());
            fresh.insert(pkh, Arc::new(KeyEntry { key, lock }));
        }
        for (pkh, old) in served.iter() {
            if !fresh.contains_key(pkh) {
                tracing::warn!(%pkh, name = %old.key.name, version = %old.key.version, "key no longer usable in the vault (deleted, disabled, or its name holds another key now): no longer served");
            }
        }
        *served = fresh;
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
    pub(super) fn get(&self, pkh: &Pkh) -> Option<Arc<KeyEntry>> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.served.get(pkh).cloned()
    }

    /// The entry for `pkh`; if unknown, re-discovers at most once per interval (requests that
    /// arrive meanwhile wait for that listing and use its result).
    pub(super) async fn get_or_rediscover(
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
    pub(super) fn pkhs(&self) -> Vec<Pkh> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Pkh> = keys.served.keys().copied().collect();
        out.sort();
        out
    }

    /// Every served key, the first by name first (the vault health check reads it).
    pub(super) fn served_keys(&self) -> Vec<crate::vault::VaultKey> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = keys.served.values().map(|e| e.key.clone()).collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}
