//! JWK JSON keys: `kty` EC (or Key Vault's `EC-HSM`) on secp256k1 / P-256, public or private,
//! and OKP Ed25519 public keys. A Key Vault reply (`{"key": {…}, …}`) is accepted too.
//!
//! Owns: checking that a private JWK's `x`/`y` belong to its `d`. Must never keep `d` outside
//! a zeroizing buffer.

use base64::Engine;
use zeroize::{Zeroize, Zeroizing};

use super::{KeyFileError, KeyMaterial};
use crate::tezos::{Curve, PublicKey, SecretKey};

/// The private scalar field, wiped when dropped.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct SecretField(String);

impl Drop for SecretField {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[derive(serde::Deserialize)]
struct Jwk {
    kty: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<SecretField>,
    /// Key Vault wraps the JWK: `{"key": {...}, "attributes": ...}`.
    key: Option<Box<Jwk>>,
}

const WHAT: &str = "JWK";

fn b64url(field: &str, value: &str) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.trim_end_matches('='))
        .map(Zeroizing::new)
        .map_err(|e| KeyFileError::malformed(WHAT, format!("field {field} is not base64url: {e}")))
}

fn required<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str, KeyFileError> {
    v.as_deref()
        .ok_or_else(|| KeyFileError::malformed(WHAT, format!("missing field {field}")))
}

pub(super) fn parse_jwk(text: &str) -> Result<KeyMaterial, KeyFileError> {
    let outer: Jwk =
        serde_json::from_str(text).map_err(|e| KeyFileError::malformed("JWK JSON", e))?;
    let jwk = match (&outer.kty, &outer.key) {
        (None, Some(inner)) => inner.as_ref(),
        _ => &outer,
    };
    let kty = required("kty", &jwk.kty)?;
    let crv = required("crv", &jwk.crv)?;
    match kty {
        "EC" | "EC-HSM" => {
            let curve = Curve::from_jwk_crv(crv)
                .ok_or_else(|| KeyFileError::UnsupportedCurve(crv.to_owned()))?;
            let public = match (&jwk.x, &jwk.y) {
                (Some(x), Some(y)) => Some(
                    PublicKey::from_coordinates(curve, &b64url("x", x)?, &b64url("y", y)?)
                        .map_err(|e| KeyFileError::from_key(WHAT, e))?,
                ),
                (None, None) => None,
                _ => return Err(KeyFileError::malformed(WHAT, "x and y must come together")),
            };
            match (&jwk.d, public) {
                (Some(d), public) => {
                    let sk = SecretKey::from_scalar(curve, &b64url("d", &d.0)?)
                        .map_err(|e| KeyFileError::from_key(WHAT, e))?;
                    if let Some(pk) = public
                        && pk != sk.public_key()
                    {
                        return Err(KeyFileError::malformed(
                            WHAT,
                            "x/y do not belong to the private scalar d",
                        ));
                    }
                    Ok(KeyMaterial::Secret(sk))
                }
                (None, Some(pk)) => Ok(KeyMaterial::Public(pk)),
                (None, None) => Err(KeyFileError::malformed(WHAT, "neither x/y nor d present")),
            }
        }
        "OKP" => {
            if crv != "Ed25519" {
                return Err(KeyFileError::UnsupportedCurve(crv.to_owned()));
            }
            if jwk.d.is_some() {
                return Err(KeyFileError::ed25519_secret());
            }
            let x = b64url("x", required("x", &jwk.x)?)?;
            PublicKey::from_tezos_bytes(Curve::Ed25519, &x)
                .map(KeyMaterial::Public)
                .map_err(|e| KeyFileError::from_key(WHAT, e))
        }
        other => Err(KeyFileError::Unrecognised(format!(
            "JWK key type {other} (expected EC or OKP)"
        ))),
    }
}
