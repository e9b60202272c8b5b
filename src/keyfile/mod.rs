//! Reading key files into key types: PEM (SEC1, PKCS#8, encrypted PKCS#8, legacy
//! OpenSSL-encrypted, SPKI public keys), DER, JWK JSON and Tezos base58 text.
//!
//! Owns: recognising the format, asking a [`PassphraseSource`] only when a key is encrypted,
//! refusing curves other than secp256k1 / P-256 (and Ed25519 for public keys) by name, and
//! typed errors ([`KeyFileError`]) that tell a baker what to do.
//! Must never: print or log secret material, keep a secret buffer outside `Zeroizing`, or panic
//! on any input.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::tezos::{Curve, KeyError, Pkh, PublicKey, SecretKey};

mod asn1;
mod jwk;
mod passphrase;
mod pem;
mod text;

pub use passphrase::{
    FixedPassphrase, NoPassphrase, PassphraseFile, PassphraseSource, TerminalPrompt,
    passphrase_source,
};

/// What a key file holds: a secret key (from which the public key follows) or only a public key.
#[derive(Debug, Clone)]
pub enum KeyMaterial {
    Secret(SecretKey),
    Public(PublicKey),
}

impl KeyMaterial {
    pub fn public_key(&self) -> PublicKey {
        match self {
            KeyMaterial::Secret(sk) => sk.public_key(),
            KeyMaterial::Public(pk) => pk.clone(),
        }
    }
    pub fn curve(&self) -> Curve {
        match self {
            KeyMaterial::Secret(sk) => sk.curve(),
            KeyMaterial::Public(pk) => pk.curve(),
        }
    }
    pub fn pkh(&self) -> Pkh {
        self.public_key().pkh()
    }
    pub fn is_secret(&self) -> bool {
        matches!(self, KeyMaterial::Secret(_))
    }
}

/// Why a key file could not be turned into a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read passphrase file {path}: {source}")]
    PassphraseFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{what} is encrypted and no passphrase is available: pass --passphrase-file FILE \
         (or run on a terminal to be prompted)"
    )]
    PassphraseRequired { what: String },
    #[error("cannot read the passphrase from the terminal: {0}")]
    Prompt(String),
    #[error("cannot decrypt {what}: wrong passphrase? ({detail})")]
    Decrypt { what: String, detail: String },
    #[error(
        "unsupported curve {0}: only secp256k1 (tz2) and P-256 (tz3) keys are supported \
         (and Ed25519 public keys)"
    )]
    UnsupportedCurve(String),
    #[error(
        "{0} is an encrypted Tezos secret key: decrypt it with octez-client first \
         (octez-client show address ALIAS --show-secret) and pass the unencrypted spsk/p2sk"
    )]
    EncryptedTezosKey(&'static str),
    #[error("unrecognised key file format: {0}")]
    Unrecognised(String),
    #[error("malformed {what}: {detail}")]
    Malformed { what: String, detail: String },
}

impl KeyFileError {
    /// An Ed25519 secret key: tz1 keys verify here, but Key Vault cannot hold them.
    pub(crate) fn ed25519_secret() -> Self {
        KeyFileError::UnsupportedCurve(
            "ed25519 (secret key; Ed25519 cannot be held in Key Vault)".into(),
        )
    }
    pub(crate) fn malformed(what: impl Into<String>, detail: impl ToString) -> Self {
        KeyFileError::Malformed {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    /// Maps a Tezos key validation error met while reading `what`.
    pub(crate) fn from_key(what: &str, e: KeyError) -> Self {
        match e {
            KeyError::UnsupportedCurve(c) => KeyFileError::UnsupportedCurve(c),
            e => KeyFileError::malformed(what, e),
        }
    }
}

/// Reads the key in the file at `path`. The passphrase source is asked only if the key is
/// encrypted.
pub fn read_key_file(
    path: &Path,
    passphrase: &dyn PassphraseSource,
) -> Result<KeyMaterial, KeyFileError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    })?);
    parse_key_bytes(&bytes, passphrase)
}

/// Parses the contents of a key file (any supported format, recognised by content).
pub fn parse_key_bytes(
    bytes: &[u8],
    passphrase: &dyn PassphraseSource,
) -> Result<KeyMaterial, KeyFileError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.first() == Some(&0x30) {
        return asn1::parse_der(bytes, passphrase);
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(KeyFileError::Unrecognised(
            "binary content that is not DER (expected PEM, DER, JWK JSON or a Tezos base58 key)"
                .into(),
        ));
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err(KeyFileError::Unrecognised("the file is empty".into()))
    } else if trimmed.contains("-----BEGIN ") {
        pem::parse_pem(trimmed, passphrase)
    } else if trimmed.starts_with('{') {
        jwk::parse_jwk(trimmed)
    } else {
        text::parse_base58(trimmed)
    }
}

#[cfg(test)]
mod tests;
