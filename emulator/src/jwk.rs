//! EC key material held by the emulator: validation of an imported JWK (curve, coordinate
//! lengths, that `d` matches `x`/`y`) and ECDSA signing with a random nonce. It never hands out
//! the private scalar except to the state file, and never signs with a curve/algorithm mismatch.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k256::ecdsa::signature::hazmat::RandomizedPrehashSigner;
use rand::Rng;
use serde::Deserialize;
use zeroize::Zeroizing;

/// The curve names Key Vault knows for EC keys, kept verbatim so replies echo what was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CurveName {
    #[serde(rename = "P-256K")]
    P256K,
    #[serde(rename = "P-256")]
    P256,
    /// The name used during Key Vault's EC preview (signs with `ECDSA256`).
    #[serde(rename = "SECP256K1")]
    Secp256k1Legacy,
    #[serde(rename = "secp256k1")]
    Secp256k1LegacyLower,
}

impl CurveName {
    pub fn parse(s: &str) -> Option<CurveName> {
        match s {
            "P-256K" => Some(CurveName::P256K),
            "P-256" => Some(CurveName::P256),
            "SECP256K1" => Some(CurveName::Secp256k1Legacy),
            "secp256k1" => Some(CurveName::Secp256k1LegacyLower),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CurveName::P256K => "P-256K",
            CurveName::P256 => "P-256",
            CurveName::Secp256k1Legacy => "SECP256K1",
            CurveName::Secp256k1LegacyLower => "secp256k1",
        }
    }

    /// The only signature algorithm Key Vault accepts for this curve.
    pub fn sign_algorithm(self) -> &'static str {
        match self {
            CurveName::P256K => "ES256K",
            CurveName::P256 => "ES256",
            CurveName::Secp256k1Legacy | CurveName::Secp256k1LegacyLower => "ECDSA256",
        }
    }

    pub fn is_secp256k1(self) -> bool {
        !matches!(self, CurveName::P256)
    }
}

/// Why an imported JWK was refused (the message goes into a 400 BadParameter body).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwkError {
    #[error("the key property 'kty' is missing")]
    MissingKty,
    #[error("key type '{0}' is not supported by this emulator: only 'EC' keys can be imported")]
    UnsupportedKty(String),
    #[error("the key property 'crv' is missing")]
    MissingCrv,
    #[error("curve '{0}' is not supported: use P-256K, P-256 or SECP256K1")]
    UnsupportedCurve(String),
    #[error("the key property '{0}' is missing")]
    Missing(&'static str),
    #[error("the key property '{0}' is not valid base64url")]
    NotBase64(&'static str),
    #[error("the key property '{field}' must be exactly 32 bytes, got {len}")]
    BadLength { field: &'static str, len: usize },
    #[error("the private key 'd' is not a valid scalar for curve {0}")]
    BadScalar(&'static str),
    #[error("the public key (x, y) does not match the private key 'd'")]
    Mismatch,
    #[error("key operation '{0}' is not valid for an EC key")]
    BadKeyOp(String),
}

/// The JWK fields the emulator reads on import.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ImportJwk {
    pub kty: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub d: Option<String>,
    pub key_ops: Option<Vec<String>>,
}

/// One validated EC private key.
#[derive(Clone)]
pub struct KeyMaterial {
    pub crv: CurveName,
    pub d: Zeroizing<[u8; 32]>,
    pub x: [u8; 32],
    pub y: [u8; 32],
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("crv", &self.crv)
            .field("x", &hex::encode(self.x))
            .finish_non_exhaustive()
    }
}

const EC_KEY_OPS: [&str; 2] = ["sign", "verify"];

/// Decodes base64url with or without padding.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn coordinate(field: &'static str, value: Option<&String>) -> Result<[u8; 32], JwkError> {
    let text = value.ok_or(JwkError::Missing(field))?;
    let bytes = b64url_decode(text).ok_or(JwkError::NotBase64(field))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| JwkError::BadLength { field, len })
}

impl KeyMaterial {
    /// Validates an imported JWK and returns the key and its `key_ops` (default sign+verify).
    pub fn from_import(jwk: &ImportJwk) -> Result<(KeyMaterial, Vec<String>), JwkError> {
        let kty = jwk.kty.as_deref().ok_or(JwkError::MissingKty)?;
        if kty != "EC" {
            return Err(JwkError::UnsupportedKty(kty.to_string()));
        }
        let crv_text = jwk.crv.as_deref().ok_or(JwkError::MissingCrv)?;
        let crv = CurveName::parse(crv_text)
            .ok_or_else(|| JwkError::UnsupportedCurve(crv_text.to_string()))?;
        let x = coordinate("x", jwk.x.as_ref())?;
        let y = coordinate("y", jwk.y.as_ref())?;
        let d = Zeroizing::new(coordinate("d", jwk.d.as_ref())?);
        let key = KeyMaterial { crv, d, x, y };
        let (px, py) = key.derive_public()?;
        if px != x || py != y {
            return Err(JwkError::Mismatch);
        }
        let key_ops = match &jwk.key_ops {
            None => EC_KEY_OPS.iter().map(|s| s.to_string()).collect(),
            Some(ops) => {
                if let Some(bad) = ops.iter().find(|op| !EC_KEY_OPS.contains(&op.as_str())) {
                    return Err(JwkError::BadKeyOp(bad.clone()));
                }
                ops.clone()
            }
        };
        Ok((key, key_ops))
    }

    /// Recomputes (x, y) from d.
    fn derive_public(&self) -> Result<([u8; 32], [u8; 32]), JwkError> {
        let point = if self.crv.is_secp256k1() {
            use k256::elliptic_curve::sec1::ToEncodedPoint;
            let sk = k256::SecretKey::from_slice(&self.d[..])
                .map_err(|_| JwkError::BadScalar("secp256k1"))?;
            sk.public_key().to_encoded_point(false).as_bytes().to_vec()
        } else {
            use p256::elliptic_curve::sec1::ToEncodedPoint;
            let sk = p256::SecretKey::from_slice(&self.d[..])
                .map_err(|_| JwkError::BadScalar("P-256"))?;
            sk.public_key().to_encoded_point(false).as_bytes().to_vec()
        };
        // Uncompressed SEC1: 0x04 ‖ x ‖ y.
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        x.copy_from_slice(&point[1..33]);
        y.copy_from_slice(&point[33..65]);
        Ok((x, y))
    }

    /// Signs a 32-byte digest with a random nonce. For secp256k1 the S half is chosen at
    /// random (high S about half of the time, as Azure does). Returns r‖s and whether S is high.
    pub fn sign(&self, digest: &[u8; 32]) -> Result<([u8; 64], bool), JwkError> {
        let mut rng = rand::thread_rng();
        if self.crv.is_secp256k1() {
            let sk = k256::ecdsa::SigningKey::from_slice(&self.d[..])
                .map_err(|_| JwkError::BadScalar("secp256k1"))?;
            let sig: k256::ecdsa::Signature = sk
                .sign_prehash_with_rng(&mut rng, digest)
                .map_err(|_| JwkError::BadScalar("secp256k1"))?;
            // k256 always produces low S; flip to n − s on a coin toss.
            let sig = sig.normalize_s().unwrap_or(sig);
            let high = rng.gen_bool(0.5);
            let out = if high {
                let s = -*sig.s();
                k256::ecdsa::Signature::from_scalars(sig.r().to_bytes(), s.to_bytes())
                    .map_err(|_| JwkError::BadScalar("secp256k1"))?
            } else {
                sig
            };
            Ok((out.to_bytes().into(), high))
        } else {
            let sk = p256::ecdsa::SigningKey::from_slice(&self.d[..])
                .map_err(|_| JwkError::BadScalar("P-256"))?;
            let sig: p256::ecdsa::Signature = sk
                .sign_prehash_with_rng(&mut rng, digest)
                .map_err(|_| JwkError::BadScalar("P-256"))?;
            Ok((sig.to_bytes().into(), false))
        }
    }
}
