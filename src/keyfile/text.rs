//! A file holding one Tezos base58 key: `spsk…`/`p2sk…` (optionally `unencrypted:`-prefixed as
//! in octez's `secret_keys`), `sppk…`/`p2pk…`/`edpk…`.
//!
//! Must never: accept encrypted or Ed25519 secret keys silently (both are refused by name).

use super::{KeyFileError, KeyMaterial};
use crate::tezos::{PublicKey, SecretKey};

pub(super) fn parse_base58(text: &str) -> Result<KeyMaterial, KeyFileError> {
    let text = text.trim().trim_matches('"');
    if text.split_whitespace().count() != 1 {
        return Err(KeyFileError::Unrecognised(
            "not PEM, JWK JSON or a single Tezos base58 key".into(),
        ));
    }
    // octez-client's `encrypted:` / `unencrypted:` URI schemes around the base58 key.
    let (scheme_encrypted, text) = match text.strip_prefix("encrypted:") {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix("unencrypted:").unwrap_or(text)),
    };
    if let Some(kind) = ["spesk", "p2esk", "edesk"]
        .into_iter()
        .find(|kind| text.starts_with(kind))
    {
        return Err(KeyFileError::EncryptedTezosKey(kind));
    }
    if scheme_encrypted {
        return Err(KeyFileError::EncryptedTezosKey("this key"));
    }
    if text.starts_with("edsk") {
        return Err(KeyFileError::ed25519_secret());
    }
    if text.starts_with("spsk") || text.starts_with("p2sk") {
        return text
            .parse::<SecretKey>()
            .map(KeyMaterial::Secret)
            .map_err(|e| KeyFileError::from_key("Tezos secret key", e));
    }
    if text.starts_with("sppk") || text.starts_with("p2pk") || text.starts_with("edpk") {
        return text
            .parse::<PublicKey>()
            .map(KeyMaterial::Public)
            .map_err(|e| KeyFileError::from_key("Tezos public key", e));
    }
    if ["tz1", "tz2", "tz3", "tz4"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        return Err(KeyFileError::Unrecognised(
            "the file holds a public key hash (tz…), not a key".into(),
        ));
    }
    Err(KeyFileError::Unrecognised(
        "not PEM, DER, JWK JSON or a Tezos base58 key (spsk, p2sk, sppk, p2pk, edpk)".into(),
    ))
}
