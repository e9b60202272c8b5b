//! Shared bench inputs: the repo's test vectors, deterministic attestations at any level, and
//! an in-memory `Vault` (the crate's test fakes are `cfg(test)` and invisible to benches).
//!
//! Owns: deterministic inputs only. Must never: touch the network, or hide work from a
//! measurement (the fake vault really signs with ECDSA).

// Each bench binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::time::Duration;

use async_trait::async_trait;
use criterion::Criterion;
use tezos_azure_signer::tezos::{Curve, SecretKey};
use tezos_azure_signer::vault::{ImportOptions, Vault, VaultError, VaultKey};

const REQUESTS: &str = include_str!("../../tests/vectors/requests.json");
const KEYS: &str = include_str!("../../tests/vectors/keys.json");

/// The same settings for every group, so runs compare: short but stable on 2 cores.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .noise_threshold(0.05)
        .without_plots()
}

/// The bytes of the request vector `name` (tests/vectors/requests.json).
pub fn request(name: &str) -> Vec<u8> {
    let doc: serde_json::Value = serde_json::from_str(REQUESTS).expect("vendored vectors are JSON");
    let hex = doc["requests"]
        .as_array()
        .expect("vendored vectors have a requests array")
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["hex"].as_str())
        .unwrap_or_else(|| panic!("no request vector named {name}"));
    hex::decode(hex).expect("vendored vectors are hex")
}

/// The first vector secret key of `curve` (tests/vectors/keys.json).
pub fn secret(curve: Curve) -> SecretKey {
    let name = match curve {
        Curve::Secp256k1 => "secp256k1",
        Curve::P256 => "p256",
        Curve::Ed25519 => panic!("the vault holds no Ed25519 keys"),
    };
    let doc: serde_json::Value = serde_json::from_str(KEYS).expect("vendored vectors are JSON");
    let hex = doc["keys"]
        .as_array()
        .expect("vendored vectors have a keys array")
        .iter()
        .find(|k| k["curve"] == name && k["secret_hex"].is_string())
        .and_then(|k| k["secret_hex"].as_str())
        .unwrap_or_else(|| panic!("no {name} secret in the vectors"));
    let bytes = hex::decode(hex).expect("vendored vectors are hex");
    SecretKey::from_scalar(curve, &bytes).expect("vendored secret is a valid scalar")
}

/// Byte offset of the level in a (pre)attestation request: magic (1), chain id (4), branch
/// (32), operation tag (1), slot (2).
const ATTESTATION_LEVEL_OFFSET: usize = 40;

/// The `attestation` vector with its level replaced by `level` (round 0, same payload).
pub fn attestation_at(level: i32) -> Vec<u8> {
    let mut bytes = request("attestation");
    bytes[ATTESTATION_LEVEL_OFFSET..ATTESTATION_LEVEL_OFFSET + 4]
        .copy_from_slice(&level.to_be_bytes());
    bytes
}

/// An in-memory vault holding one key: `sign_digest` is a real ECDSA signature (k256/p256),
/// with no I/O. The baseline of the pipeline bench.
pub struct MemoryVault {
    key: VaultKey,
    secret: SecretKey,
}

impl MemoryVault {
    pub fn new(name: &str, secret: SecretKey) -> MemoryVault {
        let vault_curve = match secret.curve() {
            Curve::Secp256k1 => "P-256K",
            _ => "P-256",
        };
        let key = VaultKey {
            name: name.to_string(),
            version: "1".to_string(),
            id: format!("https://memory.invalid/keys/{name}/1"),
            vault_curve: vault_curve.to_string(),
            public_key: secret.public_key(),
        };
        MemoryVault { key, secret }
    }

    pub fn key(&self) -> &VaultKey {
        &self.key
    }
}

#[async_trait]
impl Vault for MemoryVault {
    async fn list_keys(&self) -> Result<Vec<VaultKey>, VaultError> {
        Ok(vec![self.key.clone()])
    }
    async fn get_key(&self, name: &str) -> Result<VaultKey, VaultError> {
        if name == self.key.name {
            Ok(self.key.clone())
        } else {
            Err(VaultError::NotFound(name.to_string()))
        }
    }
    async fn sign_digest(&self, key: &VaultKey, digest: &[u8; 32]) -> Result<[u8; 64], VaultError> {
        if key.name != self.key.name {
            return Err(VaultError::NotFound(key.name.clone()));
        }
        Ok(*self.secret.sign_digest(digest).raw())
    }
    async fn import_key(
        &self,
        name: &str,
        _secret: &SecretKey,
        _options: ImportOptions,
    ) -> Result<VaultKey, VaultError> {
        Err(VaultError::Protocol(format!(
            "the bench vault cannot import {name}"
        )))
    }
}
