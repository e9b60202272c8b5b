//! The emulator's key store: key names (case-insensitive, as in Key Vault) → versions, with
//! optional persistence to `<state-dir>/keys.json` (atomic replace, fsync, mode 0600 because it
//! holds test private keys). It never returns a private key to a caller outside the emulator
//! and never leaves a half-written state file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::RngCore as _;
use zeroize::Zeroizing;

use super::jwk::KeyMaterial;
use super::state_file::{decode, encode};

/// Longest key name Key Vault accepts.
pub const MAX_NAME_LEN: usize = 127;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot access emulator state file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("emulator state file {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
}

/// Whether `name` is a valid Key Vault object name: `^[0-9a-zA-Z-]+$`, 1 to 127 characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Attributes set by the importer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportAttributes {
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// One version of a key.
#[derive(Debug, Clone)]
pub struct KeyVersion {
    pub version: String,
    pub material: KeyMaterial,
    pub key_ops: Vec<String>,
    pub hsm: bool,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

/// A key: its name as first imported and its versions, oldest first.
#[derive(Debug, Clone)]
pub struct KeyEntry {
    pub name: String,
    pub versions: Vec<KeyVersion>,
}

impl KeyEntry {
    pub fn latest(&self) -> Option<&KeyVersion> {
        self.versions.last()
    }
}

/// All keys of the emulated vault.
#[derive(Debug, Default)]
pub struct KeyStore {
    keys: BTreeMap<String, KeyEntry>,
    file: Option<PathBuf>,
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn new_version() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl KeyStore {
    /// An empty in-memory store.
    pub fn ephemeral() -> Self {
        KeyStore::default()
    }

    /// Opens (or creates on first write) `<dir>/keys.json`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let file = dir.join("keys.json");
        let keys = match std::fs::read(&file) {
            Ok(bytes) => decode(&file, &bytes)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(StateError::Io { path: file, source }),
        };
        Ok(KeyStore {
            keys,
            file: Some(file),
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds a new version (a new key when the name is unknown) and persists the store.
    pub fn import(
        &mut self,
        name: &str,
        material: KeyMaterial,
        key_ops: Vec<String>,
        hsm: bool,
        attributes: ImportAttributes,
        tags: BTreeMap<String, String>,
    ) -> Result<(String, KeyVersion), StateError> {
        let t = now();
        let version = KeyVersion {
            version: new_version(),
            material,
            key_ops,
            hsm,
            enabled: attributes.enabled.unwrap_or(true),
            created: t,
            updated: t,
            nbf: attributes.nbf,
            exp: attributes.exp,
            tags,
        };
        let entry = self
            .keys
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| KeyEntry {
                name: name.to_string(),
                versions: Vec::new(),
            });
        entry.versions.push(version.clone());
        let display = entry.name.clone();
        if let Err(e) = self.persist() {
            // Keep memory and disk in agreement: undo the version that could not be saved.
            if let Some(entry) = self.keys.get_mut(&name.to_ascii_lowercase()) {
                entry.versions.pop();
                if entry.versions.is_empty() {
                    self.keys.remove(&name.to_ascii_lowercase());
                }
            }
            return Err(e);
        }
        Ok((display, version))
    }

    /// Changes `enabled` (and replaces tags when given) of one version (latest when `version`
    /// is None or empty) and persists. Returns false when the key or version is unknown.
    pub fn update(
        &mut self,
        name: &str,
        version: Option<&str>,
        enabled: Option<bool>,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<bool, StateError> {
        let Some(entry) = self.keys.get_mut(&name.to_ascii_lowercase()) else {
            return Ok(false);
        };
        let found = match version.filter(|v| !v.is_empty()) {
            None => entry.versions.last_mut(),
            Some(v) => entry
                .versions
                .iter_mut()
                .find(|kv| kv.version.eq_ignore_ascii_case(v)),
        };
        let Some(kv) = found else {
            return Ok(false);
        };
        let before = kv.clone();
        if let Some(enabled) = enabled {
            kv.enabled = enabled;
        }
        if let Some(tags) = tags {
            kv.tags = tags;
        }
        kv.updated = now();
        let version = kv.version.clone();
        if let Err(e) = self.persist() {
            if let Some(kv) = self
                .keys
                .get_mut(&name.to_ascii_lowercase())
                .and_then(|e| e.versions.iter_mut().find(|kv| kv.version == version))
            {
                *kv = before;
            }
            return Err(e);
        }
        Ok(true)
    }

    /// The key and the requested version (latest when `version` is None or empty).
    pub fn get(&self, name: &str, version: Option<&str>) -> Option<(&KeyEntry, &KeyVersion)> {
        let entry = self.keys.get(&name.to_ascii_lowercase())?;
        let v = match version.filter(|v| !v.is_empty()) {
            None => entry.latest()?,
            Some(v) => entry
                .versions
                .iter()
                .find(|kv| kv.version.eq_ignore_ascii_case(v))?,
        };
        Some((entry, v))
    }

    /// One page of keys in name order, starting after the key named by `after` (a skip
    /// token). Returns the page and the skip token of the next page, if any.
    pub fn page(&self, after: Option<&str>, max: usize) -> (Vec<&KeyEntry>, Option<String>) {
        use std::ops::Bound;
        let start = match after {
            Some(a) => Bound::Excluded(a.to_ascii_lowercase()),
            None => Bound::Unbounded,
        };
        let mut iter = self
            .keys
            .range((start, Bound::Unbounded))
            .map(|(_, e)| e)
            .peekable();
        let page: Vec<&KeyEntry> = iter.by_ref().take(max).collect();
        let next = match (iter.peek(), page.last()) {
            (Some(_), Some(last)) => Some(last.name.to_ascii_lowercase()),
            _ => None,
        };
        (page, next)
    }

    /// One page of a key's versions, oldest first, starting after version `after`. None when
    /// the key does not exist.
    pub fn versions_page(
        &self,
        name: &str,
        after: Option<&str>,
        max: usize,
    ) -> Option<(&KeyEntry, Vec<&KeyVersion>, Option<String>)> {
        let entry = self.keys.get(&name.to_ascii_lowercase())?;
        let start = match after {
            Some(a) => entry
                .versions
                .iter()
                .position(|v| v.version.eq_ignore_ascii_case(a))
                .map_or(entry.versions.len(), |i| i + 1),
            None => 0,
        };
        let rest = entry.versions.get(start..).unwrap_or_default();
        let page: Vec<&KeyVersion> = rest.iter().take(max).collect();
        let next = (rest.len() > max)
            .then(|| page.last().map(|v| v.version.clone()))
            .flatten();
        Some((entry, page, next))
    }

    fn persist(&self) -> Result<(), StateError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let io = |source| StateError::Io {
            path: file.clone(),
            source,
        };
        let body = Zeroizing::new(encode(&self.keys).map_err(|e| StateError::Corrupt {
            path: file.clone(),
            reason: format!("cannot serialise the key store: {e}"),
        })?);
        let (Some(dir), Some(name)) = (file.parent(), file.file_name().and_then(|n| n.to_str()))
        else {
            return Err(io(std::io::Error::other("not a file path")));
        };
        private_fs::write_durably(dir, name, body.as_bytes(), 0o600).map_err(|e| io(e.source))?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
