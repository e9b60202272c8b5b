//! Translation between Key Vault JSON Web Keys and the Tezos key types.
//!
//! Owns: which vault keys are usable (enabled EC keys on P-256K / SECP256K1 / P-256), the
//! derivation of the Tezos public key from JWK x/y, and the import JWK (x/y/d left-padded to
//! 32 bytes). Must never keep a copy of `d` beyond the import request it builds.

use azure_security_keyvault_keys::ResourceExt;
use azure_security_keyvault_keys::models::{CurveName, JsonWebKey, Key, KeyType};

use crate::tezos::{Curve, PublicKey, SecretKey};
use crate::vault::VaultKey;

/// Why a vault key is not usable for signing (skipped when listing, an error when named).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unusable {
    #[error("the key is disabled")]
    Disabled,
    #[error("key type {0} is not an elliptic-curve key")]
    NotEc(String),
    #[error("curve {0} is not secp256k1 or P-256")]
    OtherCurve(String),
    #[error("the vault's answer lacks {0}")]
    Missing(&'static str),
    #[error("the public key is invalid: {0}")]
    BadPoint(String),
}

/// A usable [`VaultKey`] from a `get_key` answer.
pub(crate) fn vault_key(key: &Key) -> Result<VaultKey, Unusable> {
    if key.attributes.as_ref().and_then(|a| a.enabled) == Some(false) {
        return Err(Unusable::Disabled);
    }
    let jwk = key.key.as_ref().ok_or(Unusable::Missing("the key"))?;
    match jwk.kty.as_ref() {
        Some(KeyType::Ec | KeyType::EcHsm) => {}
        Some(other) => return Err(Unusable::NotEc(other.to_string())),
        None => return Err(Unusable::Missing("kty")),
    }
    let vault_curve = jwk
        .crv
        .as_ref()
        .ok_or(Unusable::Missing("crv"))?
        .to_string();
    let curve = Curve::from_jwk_crv(&vault_curve)
        .ok_or_else(|| Unusable::OtherCurve(vault_curve.clone()))?;
    let x = jwk.x.as_deref().ok_or(Unusable::Missing("x"))?;
    let y = jwk.y.as_deref().ok_or(Unusable::Missing("y"))?;
    let public_key =
        PublicKey::from_coordinates(curve, x, y).map_err(|e| Unusable::BadPoint(e.to_string()))?;
    let id = key.resource_id().map_err(|_| Unusable::Missing("kid"))?;
    let version = id
        .version
        .clone()
        .ok_or(Unusable::Missing("the key version in kid"))?;
    Ok(VaultKey {
        name: id.name,
        version,
        id: id.source_id,
        vault_curve,
        public_key,
    })
}

/// The JWK that imports `secret`: kty EC, crv P-256K or P-256, x/y/d of exactly 32 bytes,
/// key_ops sign+verify. The caller zeroizes `d` (see [`wipe`]) once the request is serialised.
pub(crate) fn import_jwk(secret: &SecretKey) -> JsonWebKey {
    let public = secret.public_key();
    let (x, y) = public
        .coordinates()
        .expect("secp256k1 and P-256 public keys always have affine coordinates");
    let crv = match secret.curve() {
        Curve::Secp256k1 => CurveName::P256K,
        _ => CurveName::P256,
    };
    let d = secret.to_scalar_bytes();
    JsonWebKey {
        kty: Some(KeyType::Ec),
        crv: Some(crv),
        x: Some(x.to_vec()),
        y: Some(y.to_vec()),
        d: Some(d.to_vec()),
        key_ops: Some(vec!["sign".to_owned(), "verify".to_owned()]),
        ..Default::default()
    }
}

/// Overwrites the private part of a JWK we built.
pub(crate) fn wipe(jwk: &mut JsonWebKey) {
    use zeroize::Zeroize;
    if let Some(d) = jwk.d.as_mut() {
        d.zeroize();
    }
    jwk.d = None;
}

#[cfg(test)]
#[path = "jwk_tests.rs"]
mod tests;
