//! Tezos signatures: 64-byte r‖s, their base58 forms, canonical (low-S) form and verification.
//!
//! Owns: the rule that a tz2 signature with high S is invalid (as libsecp256k1 in Octez
//! decides), and normalisation. Never accepts a signature that Octez would reject.

use std::fmt;
use std::str::FromStr;

use super::base58::{self, Base58Error, Prefix};
use super::keys::{Curve, PublicKey};

/// A signature: raw r‖s (or the Ed25519 64 bytes) and, when known, the curve it belongs to.
/// Generic `sig…` strings carry no curve.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature {
    raw: [u8; 64],
    curve: Option<Curve>,
}

/// Why a string is not a Tezos signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The text is not valid Base58Check (alphabet, checksum or payload length).
    #[error(transparent)]
    Base58(#[from] Base58Error),
    /// The prefix is none of `spsig1`, `p2sig`, `edsig` and `sig`, or the payload is not 64 bytes.
    #[error("not a Tezos signature: expected spsig1, p2sig, edsig or sig")]
    UnknownPrefix,
}

/// Why a signature does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The signature is well formed but was not made by this key over this digest.
    #[error("signature does not verify against the public key")]
    Invalid,
    /// A tz2 signature that verifies but has high S, which Octez's libsecp256k1 rejects.
    #[error("valid ECDSA but not canonical (high S): Tezos rejects it")]
    HighS,
    /// A curve-tagged signature (e.g. `p2sig…`) checked against a key on another curve.
    #[error("the signature is a {sig} signature but the key is {key}")]
    CurveMismatch {
        /// The curve the signature's prefix names.
        sig: Curve,
        /// The curve of the public key.
        key: Curve,
    },
    /// r or s is zero or not below the curve's group order, so no key can verify it.
    #[error("malformed signature: r or s is zero or not below the group order")]
    Malformed,
}

/// libsecp256k1's verification context: built once (building it costs as much as a
/// verification), read-only afterwards.
static SECP256K1_VERIFY: std::sync::LazyLock<secp256k1::Secp256k1<secp256k1::VerifyOnly>> =
    std::sync::LazyLock::new(secp256k1::Secp256k1::verification_only);

/// The P-256 group for OpenSSL's verification (its assembly is about 2.4× the p256 crate's
/// speed here: 70 against 171 µs per check on the signing path).
static P256_GROUP: std::sync::LazyLock<Option<openssl::ec::EcGroup>> =
    std::sync::LazyLock::new(|| {
        openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).ok()
    });

/// ECDSA P-256 over a 32-byte digest with OpenSSL; `None` if OpenSSL could not be used at all
/// (the caller then verifies with the p256 crate). Range checks of r and s are the caller's.
fn verify_p256_openssl(pk: &p256::PublicKey, digest: &[u8; 32], raw: &[u8; 64]) -> Option<bool> {
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::ec::{EcKey, EcPoint};
    use openssl::ecdsa::EcdsaSig;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let group = P256_GROUP.as_ref()?;
    let mut ctx = BigNumContext::new().ok()?;
    // Uncompressed: no square root to take; OpenSSL checks the point is on the curve.
    let point = EcPoint::from_bytes(group, pk.to_encoded_point(false).as_bytes(), &mut ctx).ok()?;
    let key = EcKey::from_public_key(group, &point).ok()?;
    let r = BigNum::from_slice(&raw[..32]).ok()?;
    let s = BigNum::from_slice(&raw[32..]).ok()?;
    let sig = EcdsaSig::from_private_components(r, s).ok()?;
    sig.verify(digest, &key).ok()
}

impl Signature {
    /// Wraps 64 raw bytes with their curve; `None` for a generic `sig…` value.
    pub fn from_raw(curve: Option<Curve>, raw: [u8; 64]) -> Self {
        Signature { raw, curve }
    }
    /// The 64 signature bytes: r‖s big-endian for ECDSA, R‖S for Ed25519.
    pub fn raw(&self) -> &[u8; 64] {
        &self.raw
    }
    /// The curve the signature is known to belong to; `None` for a generic `sig…` value.
    pub fn curve(&self) -> Option<Curve> {
        self.curve
    }
    /// The same bytes attributed to `curve` (e.g. a generic `sig…` checked against a key).
    pub fn with_curve(self, curve: Curve) -> Self {
        Signature {
            curve: Some(curve),
            ..self
        }
    }

    /// Canonical form: for ECDSA curves, s := n − s when s > n/2. Idempotent; leaves Ed25519,
    /// unknown-curve and malformed values unchanged (they fail verification anyway).
    pub fn normalized(self) -> Self {
        let fixed = match self.curve {
            Some(Curve::Secp256k1) => k256::ecdsa::Signature::from_slice(&self.raw)
                .ok()
                .and_then(|s| s.normalize_s())
                .map(|s| s.to_bytes().into()),
            Some(Curve::P256) => p256::ecdsa::Signature::from_slice(&self.raw)
                .ok()
                .and_then(|s| s.normalize_s())
                .map(|s| s.to_bytes().into()),
            _ => None,
        };
        match fixed {
            Some(raw) => Signature { raw, ..self },
            None => self,
        }
    }

    /// True when s ≤ n/2 (always true for Ed25519 and unknown curves).
    pub fn is_low_s(&self) -> bool {
        self.normalized().raw == self.raw
    }

    /// Verifies against `key` over a 32-byte digest. A curve-tagged signature must match the key.
    pub(crate) fn verify_with(
        &self,
        key: &PublicKey,
        digest: &[u8; 32],
    ) -> Result<(), VerifyError> {
        use k256::ecdsa::signature::hazmat::PrehashVerifier;
        if let Some(c) = self.curve
            && c != key.curve()
        {
            return Err(VerifyError::CurveMismatch {
                sig: c,
                key: key.curve(),
            });
        }
        match key {
            PublicKey::Secp256k1(pk) => {
                // The scalars' range (0 < r, s < n) as k256 checks it: a malformed signature
                // is told apart from a wrong one.
                k256::ecdsa::Signature::from_slice(&self.raw)
                    .map_err(|_| VerifyError::Malformed)?;
                // libsecp256k1, the library octez verifies with, here too: the same answers,
                // in about a quarter of k256's time on the signing path.
                use k256::elliptic_curve::sec1::ToEncodedPoint;
                let key = secp256k1::PublicKey::from_slice(pk.to_encoded_point(false).as_bytes())
                    .map_err(|_| VerifyError::Malformed)?;
                let sig = secp256k1::ecdsa::Signature::from_compact(&self.raw)
                    .map_err(|_| VerifyError::Malformed)?;
                let msg = secp256k1::Message::from_digest(*digest);
                let ctx = &*SECP256K1_VERIFY;
                let mut low = sig;
                low.normalize_s();
                if low != sig {
                    // libsecp256k1 (and so Octez) rejects high S even when the math checks out.
                    return match ctx.verify_ecdsa(msg, &low, &key) {
                        Ok(()) => Err(VerifyError::HighS),
                        Err(_) => Err(VerifyError::Invalid),
                    };
                }
                ctx.verify_ecdsa(msg, &sig, &key)
                    .map_err(|_| VerifyError::Invalid)
            }
            PublicKey::P256(pk) => {
                // The scalars' range (0 < r, s < n), as for secp256k1.
                let sig = p256::ecdsa::Signature::from_slice(&self.raw)
                    .map_err(|_| VerifyError::Malformed)?;
                match verify_p256_openssl(pk, digest, &self.raw) {
                    Some(true) => Ok(()),
                    Some(false) => Err(VerifyError::Invalid),
                    None => p256::ecdsa::VerifyingKey::from(pk)
                        .verify_prehash(digest, &sig)
                        .map_err(|_| VerifyError::Invalid),
                }
            }
            PublicKey::Ed25519(pk) => {
                let sig = ed25519_dalek::Signature::from_bytes(&self.raw);
                pk.verify_strict(digest, &sig)
                    .map_err(|_| VerifyError::Invalid)
            }
        }
    }

    fn prefix(&self) -> Prefix {
        match self.curve {
            Some(Curve::Secp256k1) => base58::SPSIG1,
            Some(Curve::P256) => base58::P2SIG,
            Some(Curve::Ed25519) => base58::EDSIG,
            None => base58::SIG,
        }
    }

    /// The generic `sig…` encoding, whatever the curve.
    pub fn to_generic_string(&self) -> String {
        base58::encode(base58::SIG, &self.raw)
    }
}

impl FromStr for Signature {
    type Err = SignatureError;
    fn from_str(s: &str) -> Result<Self, SignatureError> {
        let table = [
            (base58::SPSIG1, Some(Curve::Secp256k1)),
            (base58::P2SIG, Some(Curve::P256)),
            (base58::EDSIG, Some(Curve::Ed25519)),
            (base58::SIG, None),
        ];
        let prefixes = table.map(|(p, _)| p);
        let (p, payload) = base58::decode_any(&prefixes, s).map_err(|e| match e {
            Base58Error::WrongPrefix { .. } => SignatureError::UnknownPrefix,
            e => SignatureError::Base58(e),
        })?;
        let curve = table.iter().find(|(q, _)| *q == p).and_then(|(_, c)| *c);
        let raw: [u8; 64] = payload
            .try_into()
            .map_err(|_| SignatureError::UnknownPrefix)?;
        Ok(Signature { raw, curve })
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base58::encode(self.prefix(), &self.raw))
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

impl serde::Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
