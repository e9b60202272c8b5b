//! Shared bench inputs: the repo's test vectors, deterministic attestations at any level, and
//! the crate's in-memory vault (feature `testing`) holding one of them.
//!
//! Owns: deterministic inputs only. Must never: touch the network, or hide work from a
//! measurement (the fake vault really signs with ECDSA).

// Each bench binary compiles this module and uses a different subset of it.
#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;
use tezos_azure_signer::tezos::{Curve, SecretKey};

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

/// The in-memory vault of the crate's test doubles holding one key, `name`: `sign_digest` is a
/// real ECDSA signature (k256/p256), with no I/O. The baseline of the pipeline bench.
pub fn memory_vault(name: &str, secret: &SecretKey) -> tezos_azure_signer::testing::MemoryVault {
    let vault = tezos_azure_signer::testing::MemoryVault::new();
    vault.add(name, &secret.to_base58());
    vault
}
