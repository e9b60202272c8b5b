//! DER structures: SEC1 `ECPrivateKey`, PKCS#8 (plain and encrypted), SPKI public keys, and the
//! table of curve OIDs (supported ones map to [`Curve`], others are refused by name).
//!
//! Owns: checking that a private key's embedded public key (when present) matches its scalar.
//! Must never: leave decrypted DER outside `Zeroizing`.

use pkcs8::ObjectIdentifier;
use pkcs8::der::Decode;
use zeroize::Zeroizing;

use super::{KeyFileError, KeyMaterial, PassphraseSource};
use crate::tezos::{Curve, PublicKey, SecretKey};

const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Named curves and key algorithms we recognise, with the names OpenSSL uses.
const CURVES: &[(&str, &str)] = &[
    ("1.3.132.0.10", "secp256k1"),
    ("1.2.840.10045.3.1.7", "prime256v1"),
    ("1.3.132.0.33", "secp224r1"),
    ("1.3.132.0.34", "secp384r1"),
    ("1.3.132.0.35", "secp521r1"),
    ("1.2.840.10045.3.1.1", "prime192v1"),
    ("1.3.36.3.3.2.8.1.1.7", "brainpoolP256r1"),
    ("1.3.36.3.3.2.8.1.1.11", "brainpoolP384r1"),
    ("1.3.36.3.3.2.8.1.1.13", "brainpoolP512r1"),
    ("1.2.156.10197.1.301", "SM2"),
    ("1.3.101.110", "X25519"),
    ("1.3.101.111", "X448"),
    ("1.3.101.112", "ed25519"),
    ("1.3.101.113", "ed448"),
    ("1.2.840.113549.1.1.1", "RSA"),
];

/// The human name of a curve or algorithm OID.
pub(super) fn oid_name(oid: &ObjectIdentifier) -> String {
    let s = oid.to_string();
    CURVES
        .iter()
        .find(|(o, _)| *o == s)
        .map(|(_, n)| (*n).to_owned())
        .unwrap_or_else(|| format!("with OID {s}"))
}

/// The signing curve for a named-curve OID; anything else is refused by name.
pub(super) fn curve_from_oid(oid: &ObjectIdentifier) -> Result<Curve, KeyFileError> {
    match oid.to_string().as_str() {
        "1.3.132.0.10" => Ok(Curve::Secp256k1),
        "1.2.840.10045.3.1.7" => Ok(Curve::P256),
        _ => Err(KeyFileError::UnsupportedCurve(oid_name(oid))),
    }
}

/// A DER file (as `openssl … -outform DER` writes): SEC1, PKCS#8, encrypted PKCS#8 or SPKI.
pub(super) fn parse_der(
    der: &[u8],
    passphrase: &dyn PassphraseSource,
) -> Result<KeyMaterial, KeyFileError> {
    if pkcs8::PrivateKeyInfo::from_der(der).is_ok() {
        return parse_pkcs8(der, None);
    }
    if sec1::EcPrivateKey::from_der(der).is_ok() {
        return parse_sec1(der, None);
    }
    if pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der).is_ok() {
        return parse_spki(der);
    }
    if pkcs8::EncryptedPrivateKeyInfo::from_der(der).is_ok() {
        return parse_encrypted_pkcs8(der, passphrase);
    }
    Err(KeyFileError::Unrecognised(
        "DER data that is not a SEC1, PKCS#8 or SubjectPublicKeyInfo key".into(),
    ))
}

/// SEC1 `ECPrivateKey`. `outer_curve` comes from a PKCS#8 wrapper or an `EC PARAMETERS` block
/// when the structure itself names no curve.
pub(super) fn parse_sec1(
    der: &[u8],
    outer_curve: Option<&ObjectIdentifier>,
) -> Result<KeyMaterial, KeyFileError> {
    const WHAT: &str = "SEC1 EC private key";
    let key = sec1::EcPrivateKey::from_der(der).map_err(|e| KeyFileError::malformed(WHAT, e))?;
    let inner = key.parameters.and_then(|p| p.named_curve());
    let oid = match (inner.as_ref(), outer_curve) {
        (Some(a), Some(b)) if a != b => {
            return Err(KeyFileError::malformed(
                WHAT,
                format!(
                    "the key says curve {} but its wrapper says {}",
                    oid_name(a),
                    oid_name(b)
                ),
            ));
        }
        (Some(a), _) => *a,
        (None, Some(b)) => *b,
        (None, None) => return infer_curve(&key),
    };
    let curve = curve_from_oid(&oid)?;
    let sk = SecretKey::from_scalar(curve, key.private_key)
        .map_err(|e| KeyFileError::from_key(WHAT, e))?;
    if let Some(embedded) = key.public_key {
        let pk = PublicKey::from_sec1(curve, embedded)
            .map_err(|e| KeyFileError::from_key("public key embedded in the private key", e))?;
        if pk != sk.public_key() {
            return Err(KeyFileError::malformed(
                WHAT,
                "the embedded public key does not belong to the private key",
            ));
        }
    }
    Ok(KeyMaterial::Secret(sk))
}

/// A SEC1 key that names no curve (RustCrypto writes these): the curve whose public key for
/// this scalar is the embedded one. Without an embedded public key the curve is unknowable.
fn infer_curve(key: &sec1::EcPrivateKey<'_>) -> Result<KeyMaterial, KeyFileError> {
    let Some(embedded) = key.public_key else {
        return Err(KeyFileError::malformed(
            "SEC1 EC private key",
            "the key names no curve and carries no public key",
        ));
    };
    for curve in [Curve::Secp256k1, Curve::P256] {
        if let (Ok(sk), Ok(pk)) = (
            SecretKey::from_scalar(curve, key.private_key),
            PublicKey::from_sec1(curve, embedded),
        ) && sk.public_key() == pk
        {
            return Ok(KeyMaterial::Secret(sk));
        }
    }
    Err(KeyFileError::UnsupportedCurve(
        "(unnamed; the key is neither secp256k1 nor P-256)".into(),
    ))
}

/// Unencrypted PKCS#8 `PrivateKeyInfo` holding an EC key.
pub(super) fn parse_pkcs8(
    der: &[u8],
    outer_curve: Option<&ObjectIdentifier>,
) -> Result<KeyMaterial, KeyFileError> {
    const WHAT: &str = "PKCS#8 private key";
    let info =
        pkcs8::PrivateKeyInfo::from_der(der).map_err(|e| KeyFileError::malformed(WHAT, e))?;
    if info.algorithm.oid == ID_ED25519 {
        return Err(KeyFileError::ed25519_secret());
    }
    if info.algorithm.oid != ID_EC_PUBLIC_KEY {
        return Err(KeyFileError::Unrecognised(format!(
            "PKCS#8 key of algorithm {}, not an elliptic-curve key",
            oid_name(&info.algorithm.oid)
        )));
    }
    let oid = info
        .algorithm
        .parameters_oid()
        .map_err(|e| KeyFileError::malformed(WHAT, format!("no named curve: {e}")))?;
    if let Some(outer) = outer_curve
        && *outer != oid
    {
        return Err(KeyFileError::malformed(
            WHAT,
            "EC PARAMETERS disagree with the key",
        ));
    }
    curve_from_oid(&oid)?;
    parse_sec1(info.private_key, Some(&oid))
}

/// Encrypted PKCS#8 (PBES2). Decrypted with RustCrypto; schemes it lacks (PBES1, DES) fall back
/// to OpenSSL.
pub(super) fn parse_encrypted_pkcs8(
    der: &[u8],
    passphrase: &dyn PassphraseSource,
) -> Result<KeyMaterial, KeyFileError> {
    const WHAT: &str = "encrypted PKCS#8 private key";
    let pass = passphrase.passphrase("the encrypted PKCS#8 key")?;
    let decrypt_err = |detail: String| KeyFileError::Decrypt {
        what: "the encrypted PKCS#8 key".into(),
        detail,
    };
    let rust_crypto = pkcs8::EncryptedPrivateKeyInfo::from_der(der)
        .map_err(|e| e.to_string())
        .and_then(|info| {
            info.decrypt(&pass[..]).map_err(|e| match e {
                pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed) => {
                    "decryption failed".to_owned()
                }
                e => e.to_string(),
            })
        });
    match rust_crypto {
        Ok(doc) => {
            // The document zeroizes itself; a wrong passphrase that happens to unpad cleanly
            // leaves garbage that fails to parse below.
            parse_pkcs8(doc.as_bytes(), None).map_err(|e| match e {
                KeyFileError::Malformed { detail, .. } => {
                    decrypt_err(format!("decrypted data is not a key: {detail}"))
                }
                e => e,
            })
        }
        Err(rc_detail) if rc_detail == "decryption failed" => Err(decrypt_err(rc_detail)),
        Err(rc_detail) => {
            let pkey = openssl::pkey::PKey::private_key_from_pkcs8_passphrase(der, &pass)
                .map_err(|e| decrypt_err(format!("{rc_detail}; OpenSSL: {e}")))?;
            let inner = Zeroizing::new(
                pkey.private_key_to_pkcs8()
                    .map_err(|e| KeyFileError::malformed(WHAT, e))?,
            );
            parse_pkcs8(&inner, None)
        }
    }
}

/// SubjectPublicKeyInfo (`PUBLIC KEY` PEM): EC on a supported curve, or Ed25519.
pub(super) fn parse_spki(der: &[u8]) -> Result<KeyMaterial, KeyFileError> {
    const WHAT: &str = "public key";
    let spki = pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| KeyFileError::malformed(WHAT, e))?;
    let bits = spki.subject_public_key.raw_bytes();
    let pk = if spki.algorithm.oid == ID_ED25519 {
        PublicKey::from_tezos_bytes(Curve::Ed25519, bits)
    } else if spki.algorithm.oid == ID_EC_PUBLIC_KEY {
        let oid = spki
            .algorithm
            .parameters_oid()
            .map_err(|e| KeyFileError::malformed(WHAT, format!("no named curve: {e}")))?;
        PublicKey::from_sec1(curve_from_oid(&oid)?, bits)
    } else {
        return Err(KeyFileError::UnsupportedCurve(oid_name(
            &spki.algorithm.oid,
        )));
    };
    pk.map(KeyMaterial::Public)
        .map_err(|e| KeyFileError::from_key(WHAT, e))
}

/// The curve named by an `EC PARAMETERS` block (DER OID).
pub(super) fn parse_ec_parameters(der: &[u8]) -> Result<ObjectIdentifier, KeyFileError> {
    ObjectIdentifier::from_der(der).map_err(|e| {
        KeyFileError::malformed(
            "EC PARAMETERS",
            format!("not a named curve (explicit parameters are not supported): {e}"),
        )
    })
}

/// An OpenSSL-held private key (legacy encrypted PEM) turned into our type.
pub(super) fn from_openssl(
    pkey: &openssl::pkey::PKey<openssl::pkey::Private>,
) -> Result<KeyMaterial, KeyFileError> {
    use openssl::nid::Nid;
    use openssl::pkey::Id;
    match pkey.id() {
        Id::EC => {}
        Id::ED25519 => {
            return Err(KeyFileError::ed25519_secret());
        }
        other => {
            return Err(KeyFileError::Unrecognised(format!(
                "private key of OpenSSL type {}, not an elliptic-curve key",
                other.as_raw()
            )));
        }
    }
    let ec = pkey
        .ec_key()
        .map_err(|e| KeyFileError::malformed("EC private key", e))?;
    let curve = match ec.group().curve_name() {
        Some(Nid::SECP256K1) => Curve::Secp256k1,
        Some(Nid::X9_62_PRIME256V1) => Curve::P256,
        Some(nid) => {
            return Err(KeyFileError::UnsupportedCurve(
                nid.short_name().unwrap_or("unknown").to_owned(),
            ));
        }
        None => {
            return Err(KeyFileError::UnsupportedCurve(
                "given by explicit parameters".into(),
            ));
        }
    };
    let scalar = Zeroizing::new(
        ec.private_key()
            .to_vec_padded(32)
            .map_err(|e| KeyFileError::malformed("EC private key", e))?,
    );
    SecretKey::from_scalar(curve, &scalar)
        .map(KeyMaterial::Secret)
        .map_err(|e| KeyFileError::from_key("EC private key", e))
}
