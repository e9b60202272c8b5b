//! The on-disk format of the emulator's key store (`keys.json`): serialisation of every key
//! version including its private scalar (test keys only), and strict decoding that refuses a
//! corrupt file rather than starting with an empty vault.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::jwk::{CurveName, KeyMaterial, b64url, b64url_decode};
use super::state::{KeyEntry, KeyVersion, StateError, valid_name};

/// On-disk form of one key version.
#[derive(Serialize, Deserialize)]
struct StoredVersion {
    version: String,
    crv: CurveName,
    d: String,
    x: String,
    y: String,
    key_ops: Vec<String>,
    hsm: bool,
    enabled: bool,
    created: i64,
    updated: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    name: String,
    versions: Vec<StoredVersion>,
}

#[derive(Serialize, Deserialize)]
struct StoredFile {
    keys: Vec<StoredKey>,
}

pub(super) fn encode(keys: &BTreeMap<String, KeyEntry>) -> Result<String, serde_json::Error> {
    let file = StoredFile {
        keys: keys
            .values()
            .map(|e| StoredKey {
                name: e.name.clone(),
                versions: e
                    .versions
                    .iter()
                    .map(|v| StoredVersion {
                        version: v.version.clone(),
                        crv: v.material.crv,
                        d: b64url(&v.material.d[..]),
                        x: b64url(&v.material.x),
                        y: b64url(&v.material.y),
                        key_ops: v.key_ops.clone(),
                        hsm: v.hsm,
                        enabled: v.enabled,
                        created: v.created,
                        updated: v.updated,
                        nbf: v.nbf,
                        exp: v.exp,
                        tags: v.tags.clone(),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&file)
}

pub(super) fn decode(path: &Path, bytes: &[u8]) -> Result<BTreeMap<String, KeyEntry>, StateError> {
    let corrupt = |reason: String| StateError::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    let file: StoredFile = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let mut keys = BTreeMap::new();
    for k in file.keys {
        if !valid_name(&k.name) {
            return Err(corrupt(format!("invalid key name {:?}", k.name)));
        }
        let mut versions = Vec::new();
        for v in k.versions {
            let field = |name: &str, s: &str| -> Result<[u8; 32], StateError> {
                b64url_decode(s)
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| corrupt(format!("key {}: bad '{name}'", k.name)))
            };
            let material = KeyMaterial {
                crv: v.crv,
                d: Zeroizing::new(field("d", &v.d)?),
                x: field("x", &v.x)?,
                y: field("y", &v.y)?,
            };
            versions.push(KeyVersion {
                version: v.version,
                material,
                key_ops: v.key_ops,
                hsm: v.hsm,
                enabled: v.enabled,
                created: v.created,
                updated: v.updated,
                nbf: v.nbf,
                exp: v.exp,
                tags: v.tags,
            });
        }
        keys.insert(
            k.name.to_ascii_lowercase(),
            KeyEntry {
                name: k.name,
                versions,
            },
        );
    }
    Ok(keys)
}
