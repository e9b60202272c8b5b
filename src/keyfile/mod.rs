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
    /// A secp256k1 or P-256 secret key (what `import` needs).
    Secret(SecretKey),
    /// Only a public key (tz1, tz2 or tz3): enough for `verify`, not for `import`.
    Public(PublicKey),
}

impl KeyMaterial {
    /// The public key: the one held, or the one derived from the secret key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            KeyMaterial::Secret(sk) => sk.public_key(),
            KeyMaterial::Public(pk) => pk.clone(),
        }
    }
    /// The key's curve, which decides its address prefix (tz1, tz2 or tz3).
    pub fn curve(&self) -> Curve {
        match self {
            KeyMaterial::Secret(sk) => sk.curve(),
            KeyMaterial::Public(pk) => pk.curve(),
        }
    }
    /// The key's Tezos address (public key hash), as a baker's `tz…` address.
    pub fn pkh(&self) -> Pkh {
        self.public_key().pkh()
    }
    /// Whether the file held a secret key rather than only a public key.
    pub fn is_secret(&self) -> bool {
        matches!(self, KeyMaterial::Secret(_))
    }
}

/// Why a key file could not be turned into a key.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The key file could not be read (missing or unreadable).
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The key file given on the command line.
        path: PathBuf,
        /// The I/O error from reading it.
        #[source]
        source: std::io::Error,
    },
    /// The `--passphrase-file` could not be read (only tried when a key is encrypted).
    #[error("cannot read passphrase file {path}: {source}")]
    PassphraseFile {
        /// The file given as `--passphrase-file`.
        path: PathBuf,
        /// The I/O error from reading it.
        #[source]
        source: std::io::Error,
    },
    /// The key is encrypted, but there is no `--passphrase-file` and stdin is not a terminal
    /// to prompt on.
    #[error(
        "{what} is encrypted and no passphrase is available: pass --passphrase-file FILE \
         (or run on a terminal to be prompted)"
    )]
    PassphraseRequired {
        /// The encrypted key, in words (e.g. "the encrypted PKCS#8 key").
        what: String,
    },
    /// The hidden terminal prompt failed (e.g. the terminal closed or input was interrupted);
    /// holds the prompt's error message.
    #[error("cannot read the passphrase from the terminal: {0}")]
    Prompt(String),
    /// An encrypted PKCS#8 or legacy OpenSSL PEM key did not decrypt: usually the wrong
    /// passphrase, or a cipher that is not supported.
    #[error("cannot decrypt {what}: wrong passphrase? ({detail})")]
    Decrypt {
        /// The encrypted key, in words (e.g. "the encrypted PKCS#8 key").
        what: String,
        /// The decryption library's reason.
        detail: String,
    },
    /// The key is on a curve other than secp256k1 (tz2) or P-256 (tz3), or is an Ed25519
    /// secret key (Key Vault cannot hold one); holds the curve's name.
    #[error(
        "unsupported curve {0}: only secp256k1 (tz2) and P-256 (tz3) keys are supported \
         (and Ed25519 public keys)"
    )]
    UnsupportedCurve(String),
    /// An octez-encrypted base58 secret key (`spesk…`, `p2esk…`, `edesk…`, or `encrypted:`),
    /// which this signer cannot decrypt; holds its prefix, or "this key".
    #[error(
        "{0} is an encrypted Tezos secret key: decrypt it with octez-client first \
         (octez-client show address ALIAS --show-secret) and pass the unencrypted spsk/p2sk"
    )]
    EncryptedTezosKey(&'static str),
    /// The content is none of the supported formats (PEM, DER, JWK JSON, Tezos base58), or
    /// the file is empty; holds what was seen instead.
    #[error("unrecognised key file format: {0}")]
    Unrecognised(String),
    /// The format was recognised but its content is invalid (bad base64 or DER, a missing JWK
    /// field, a point not on the curve, …).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// The structure that is broken (e.g. "EC private key", "JWK JSON").
        what: String,
        /// What is wrong with it.
        detail: String,
    },
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
