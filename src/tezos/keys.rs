//! Tezos keys: curves, public key hashes (tz1–tz4), public keys and secret keys.
//!
//! Owns: parsing and validating key material at the edge into types. Every point is checked
//! to be on its curve. Secret keys are zeroized on drop and never shown by `Debug`.

use std::fmt;
use std::str::FromStr;

use k256::elliptic_curve::sec1::ToEncodedPoint;
use zeroize::Zeroizing;

use super::base58::{self, Base58Error, Prefix};
use super::hash::{blake2b_160, blake2b_256};
pub use super::pkh::{Pkh, PkhKind};
use super::signature::{Signature, VerifyError};

/// The signature schemes the signer knows about. Only secp256k1 and P-256 can be held in the
/// vault; Ed25519 is needed to verify authentication signatures from tz1 keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Curve {
    /// Ed25519, the curve of tz1 keys (`edpk…`); only verified here, never held in the vault.
    Ed25519,
    /// secp256k1, the curve of tz2 keys (`sppk…`); `P-256K` in a JWK.
    Secp256k1,
    /// NIST P-256 (secp256r1), the curve of tz3 keys (`p2pk…`); `P-256` in a JWK.
    P256,
}

impl Curve {
    /// The curve a JWK `crv` names: `P-256K` (also Key Vault's legacy `SECP256K1` and
    /// `secp256k1`) or `P-256`; `None` for curves a tz2/tz3 key cannot use.
    pub fn from_jwk_crv(crv: &str) -> Option<Curve> {
        match crv {
            "P-256K" | "SECP256K1" | "secp256k1" => Some(Curve::Secp256k1),
            "P-256" => Some(Curve::P256),
            _ => None,
        }
    }
    /// Lowercase name for messages and logs, as serialized: `ed25519`, `secp256k1` or `p256`.
    pub fn name(self) -> &'static str {
        match self {
            Curve::Ed25519 => "ed25519",
            Curve::Secp256k1 => "secp256k1",
            Curve::P256 => "p256",
        }
    }
    /// The address kind of keys on this curve: tz1 (Ed25519), tz2 (secp256k1), tz3 (P-256).
    pub fn pkh_kind(self) -> PkhKind {
        match self {
            Curve::Ed25519 => PkhKind::Tz1,
            Curve::Secp256k1 => PkhKind::Tz2,
            Curve::P256 => PkhKind::Tz3,
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors met while turning outside input into key types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not valid Base58Check (alphabet, checksum or payload length).
    #[error(transparent)]
    Base58(#[from] Base58Error),
    /// The Base58 text starts with none of the prefixes accepted for the value being parsed.
    #[error("not a Tezos {what}: expected one of {expected}")]
    UnknownPrefix {
        /// What was being parsed, e.g. `public key` or `public key hash`.
        what: &'static str,
        /// The accepted prefixes, comma-separated, e.g. `sppk, p2pk, edpk`.
        expected: &'static str,
    },
    /// The public key bytes do not decode to a point on the curve; holds the curve.
    #[error("the point is not on the {0} curve")]
    NotOnCurve(Curve),
    /// Public key bytes of a length the curve's encoding does not allow.
    #[error("{curve} public key must be {expected}, got {got} bytes")]
    PublicKeyLength {
        /// The curve the key was meant for.
        curve: Curve,
        /// The allowed length(s) in words, e.g. `33 (compressed) or 65 (uncompressed)`.
        expected: &'static str,
        /// The length received, in bytes.
        got: usize,
    },
    /// A secret scalar is zero or not below the curve's group order; holds the curve.
    #[error("{0} secret scalar is out of range (zero or not below the group order)")]
    BadScalar(Curve),
    /// A secret scalar longer than 32 bytes.
    #[error("secret key is {got} bytes, expected 32")]
    SecretKeyLength {
        /// The scalar's length, in bytes.
        got: usize,
    },
    /// A JWK `x` or `y` coordinate longer than 32 bytes once leading zeros are stripped.
    #[error("JWK coordinate is {got} bytes, expected at most 32")]
    CoordinateLength {
        /// The coordinate's length after stripping leading zeros, in bytes.
        got: usize,
    },
    /// A signing key on a curve other than secp256k1 or P-256; holds the curve's name.
    #[error("unsupported curve {0}: only secp256k1 (tz2) and P-256 (tz3) can sign")]
    UnsupportedCurve(String),
}

// ---------------------------------------------------------------------------------------------
// Public keys

/// A validated public key.
#[derive(Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// A tz1 public key (`edpk…`, 32 bytes).
    Ed25519(ed25519_dalek::VerifyingKey),
    /// A tz2 public key (`sppk…`, a 33-byte compressed SEC1 point).
    Secp256k1(k256::PublicKey),
    /// A tz3 public key (`p2pk…`, a 33-byte compressed SEC1 point).
    P256(p256::PublicKey),
}

impl PublicKey {
    /// The curve of this key, which decides its address kind and Base58 prefix.
    pub fn curve(&self) -> Curve {
        match self {
            PublicKey::Ed25519(_) => Curve::Ed25519,
            PublicKey::Secp256k1(_) => Curve::Secp256k1,
            PublicKey::P256(_) => Curve::P256,
        }
    }

    /// From SEC1 bytes: 33-byte compressed or 65-byte uncompressed points.
    pub fn from_sec1(curve: Curve, bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() != 33 && bytes.len() != 65 {
            return Err(KeyError::PublicKeyLength {
                curve,
                expected: "33 (compressed) or 65 (uncompressed)",
                got: bytes.len(),
            });
        }
        match curve {
            Curve::Secp256k1 => k256::PublicKey::from_sec1_bytes(bytes)
                .map(PublicKey::Secp256k1)
                .map_err(|_| KeyError::NotOnCurve(curve)),
            Curve::P256 => p256::PublicKey::from_sec1_bytes(bytes)
                .map(PublicKey::P256)
                .map_err(|_| KeyError::NotOnCurve(curve)),
            Curve::Ed25519 => Err(KeyError::PublicKeyLength {
                curve,
                expected: "32",
                got: bytes.len(),
            }),
        }
    }

    /// From the raw bytes Tezos encodes: 32 bytes for Ed25519, 33 (compressed) otherwise.
    pub fn from_tezos_bytes(curve: Curve, bytes: &[u8]) -> Result<Self, KeyError> {
        match curve {
            Curve::Ed25519 => {
                let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::PublicKeyLength {
                    curve,
                    expected: "32",
                    got: bytes.len(),
                })?;
                ed25519_dalek::VerifyingKey::from_bytes(&arr)
                    .map(PublicKey::Ed25519)
                    .map_err(|_| KeyError::NotOnCurve(curve))
            }
            _ if bytes.len() != 33 => Err(KeyError::PublicKeyLength {
                curve,
                expected: "33",
                got: bytes.len(),
            }),
            _ => Self::from_sec1(curve, bytes),
        }
    }

    /// From JWK `x` and `y` coordinates (already base64url-decoded), left-padded to 32 bytes.
    pub fn from_coordinates(curve: Curve, x: &[u8], y: &[u8]) -> Result<Self, KeyError> {
        let mut point = [0u8; 65];
        point[0] = 0x04;
        point[1..33].copy_from_slice(&pad32(x)?);
        point[33..].copy_from_slice(&pad32(y)?);
        Self::from_sec1(curve, &point)
    }

    /// Affine coordinates (x, y), 32 bytes each, for JWKs. `None` for Ed25519.
    pub fn coordinates(&self) -> Option<([u8; 32], [u8; 32])> {
        let point = match self {
            PublicKey::Ed25519(_) => return None,
            PublicKey::Secp256k1(pk) => pk.to_encoded_point(false).as_bytes().to_vec(),
            PublicKey::P256(pk) => pk.to_encoded_point(false).as_bytes().to_vec(),
        };
        let mut x = [0u8; 32];
        let mut y = [0u8; 32];
        x.copy_from_slice(&point[1..33]);
        y.copy_from_slice(&point[33..65]);
        Some((x, y))
    }

    /// The bytes Tezos hashes and encodes: 32 for Ed25519, 33-byte compressed SEC1 otherwise.
    pub fn to_tezos_bytes(&self) -> Vec<u8> {
        match self {
            PublicKey::Ed25519(pk) => pk.as_bytes().to_vec(),
            PublicKey::Secp256k1(pk) => pk.to_encoded_point(true).as_bytes().to_vec(),
            PublicKey::P256(pk) => pk.to_encoded_point(true).as_bytes().to_vec(),
        }
    }

    /// The key's address (tz1/tz2/tz3): BLAKE2b-160 of [`PublicKey::to_tezos_bytes`].
    pub fn pkh(&self) -> Pkh {
        Pkh::new(self.curve().pkh_kind(), blake2b_160(&self.to_tezos_bytes()))
    }

    /// Verifies a Tezos signature over `data` (the digest is BLAKE2b-256 of `data`).
    pub fn verify(&self, data: &[u8], sig: &Signature) -> Result<(), VerifyError> {
        self.verify_digest(&blake2b_256(data), sig)
    }

    /// Verifies a signature over an already computed 32-byte digest.
    pub fn verify_digest(&self, digest: &[u8; 32], sig: &Signature) -> Result<(), VerifyError> {
        sig.verify_with(self, digest)
    }

    fn prefix(&self) -> Prefix {
        match self {
            PublicKey::Ed25519(_) => base58::EDPK,
            PublicKey::Secp256k1(_) => base58::SPPK,
            PublicKey::P256(_) => base58::P2PK,
        }
    }
}

fn pad32(v: &[u8]) -> Result<[u8; 32], KeyError> {
    // Strip superfluous leading zeros some encoders emit, then left-pad.
    let first = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    let v = &v[first.min(v.len().saturating_sub(32))..];
    if v.len() > 32 {
        return Err(KeyError::CoordinateLength { got: v.len() });
    }
    let mut out = [0u8; 32];
    out[32 - v.len()..].copy_from_slice(v);
    Ok(out)
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (p, payload) = base58::decode_any(&[base58::SPPK, base58::P2PK, base58::EDPK], s)
            .map_err(|e| match e {
                Base58Error::WrongPrefix { .. } => KeyError::UnknownPrefix {
                    what: "public key",
                    expected: "sppk, p2pk, edpk",
                },
                e => KeyError::Base58(e),
            })?;
        let curve = match p.name {
            "sppk" => Curve::Secp256k1,
            "p2pk" => Curve::P256,
            _ => Curve::Ed25519,
        };
        Self::from_tezos_bytes(curve, &payload)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base58::encode(self.prefix(), &self.to_tezos_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

// ---------------------------------------------------------------------------------------------
// Secret keys

/// A secp256k1 or P-256 secret scalar. Zeroized on drop (the inner types are `ZeroizeOnDrop`);
/// `Debug` never shows it.
#[derive(Clone)]
pub enum SecretKey {
    /// A tz2 secret key (`spsk…`).
    Secp256k1(k256::SecretKey),
    /// A tz3 secret key (`p2sk…`).
    P256(p256::SecretKey),
}

impl SecretKey {
    /// From a big-endian scalar of at most 32 bytes (left-padded).
    pub fn from_scalar(curve: Curve, scalar: &[u8]) -> Result<Self, KeyError> {
        if scalar.len() > 32 {
            return Err(KeyError::SecretKeyLength { got: scalar.len() });
        }
        let mut padded = Zeroizing::new([0u8; 32]);
        padded[32 - scalar.len()..].copy_from_slice(scalar);
        match curve {
            Curve::Secp256k1 => k256::SecretKey::from_slice(&padded[..])
                .map(SecretKey::Secp256k1)
                .map_err(|_| KeyError::BadScalar(curve)),
            Curve::P256 => p256::SecretKey::from_slice(&padded[..])
                .map(SecretKey::P256)
                .map_err(|_| KeyError::BadScalar(curve)),
            Curve::Ed25519 => Err(KeyError::UnsupportedCurve("ed25519".into())),
        }
    }

    /// The curve of this key: secp256k1 (tz2) or P-256 (tz3).
    pub fn curve(&self) -> Curve {
        match self {
            SecretKey::Secp256k1(_) => Curve::Secp256k1,
            SecretKey::P256(_) => Curve::P256,
        }
    }

    /// The 32-byte big-endian scalar, zeroized when the returned value is dropped.
    pub fn to_scalar_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        match self {
            SecretKey::Secp256k1(sk) => out.copy_from_slice(&sk.to_bytes()),
            SecretKey::P256(sk) => out.copy_from_slice(&sk.to_bytes()),
        }
        out
    }

    /// The matching public key, derived from the scalar.
    pub fn public_key(&self) -> PublicKey {
        match self {
            SecretKey::Secp256k1(sk) => PublicKey::Secp256k1(sk.public_key()),
            SecretKey::P256(sk) => PublicKey::P256(sk.public_key()),
        }
    }

    /// Base58 `spsk…`/`p2sk…` (zeroized on drop). Only for tests and explicit exports.
    pub fn to_base58(&self) -> Zeroizing<String> {
        let prefix = match self {
            SecretKey::Secp256k1(_) => base58::SPSK,
            SecretKey::P256(_) => base58::P2SK,
        };
        Zeroizing::new(base58::encode(prefix, &self.to_scalar_bytes()[..]))
    }

    /// Deterministic (RFC 6979) low-S signature over a 32-byte digest. The signer never signs
    /// locally in production; this serves the emulator, tests and authentication clients.
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Signature {
        use k256::ecdsa::signature::hazmat::PrehashSigner;
        let raw: [u8; 64] = match self {
            SecretKey::Secp256k1(sk) => {
                let s: k256::ecdsa::Signature = k256::ecdsa::SigningKey::from(sk)
                    .sign_prehash(digest)
                    .expect("a 32-byte prehash is always accepted");
                s.to_bytes().into()
            }
            SecretKey::P256(sk) => {
                let s: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(sk)
                    .sign_prehash(digest)
                    .expect("a 32-byte prehash is always accepted");
                s.to_bytes().into()
            }
        };
        Signature::from_raw(Some(self.curve()), raw).normalized()
    }

    /// Signs `data` the Tezos way (BLAKE2b-256 digest, then ECDSA).
    pub fn sign(&self, data: &[u8]) -> Signature {
        self.sign_digest(&blake2b_256(data))
    }
}

impl FromStr for SecretKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let (p, payload) =
            base58::decode_any(&[base58::SPSK, base58::P2SK], s).map_err(|e| match e {
                Base58Error::WrongPrefix { .. } => KeyError::UnknownPrefix {
                    what: "unencrypted secret key",
                    expected: "spsk, p2sk",
                },
                e => KeyError::Base58(e),
            })?;
        let payload = Zeroizing::new(payload);
        let curve = if p == base58::SPSK {
            Curve::Secp256k1
        } else {
            Curve::P256
        };
        Self::from_scalar(curve, &payload)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, <redacted>)", self.curve())
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
