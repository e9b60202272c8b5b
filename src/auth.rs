//! Who may ask for signatures: the `--authorized-keys` file and octez's request
//! authentication (docs/protocol.md §1).
//!
//! Owns: reading the list of authorized public keys (tz1/tz2/tz3: `edpk`, `sppk`, `p2pk`)
//! and checking that an `authentication` signature over `0x04 ‖ 0x01 ‖ pkh(21) ‖ data` verifies
//! against one of them. Pure once loaded; never accepts a signature that octez would reject.

use std::path::Path;

use crate::tezos::{Pkh, PublicKey, Signature};

/// Why the `--authorized-keys` file could not be loaded (`serve` then refuses to start).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The file could not be read (missing, unreadable, or not UTF-8).
    #[error("cannot read the authorized keys file {path}: {source}")]
    Read {
        /// The file given as `--authorized-keys`, as displayed.
        path: String,
        /// The I/O error from reading it.
        #[source]
        source: std::io::Error,
    },
    /// A non-comment line is not a Tezos public key (`edpk…`, `sppk…`, `p2pk…`).
    #[error("authorized keys line {line}: {reason}")]
    BadLine {
        /// 1-based line number in the file.
        line: usize,
        /// Why the line's key did not parse.
        reason: String,
    },
    /// The file holds no key at all (only blanks or comments): with authentication required,
    /// every request would be refused, so this is treated as a mistake.
    #[error("the authorized keys file lists no key: every request would be refused")]
    Empty,
}

/// The bytes an authorized client signs for a request to sign `data` with `pkh`:
/// `0x04 ‖ 0x01 ‖ pkh tag ‖ pkh hash (20) ‖ data`.
pub fn authentication_bytes(pkh: &Pkh, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 21 + data.len());
    out.push(0x04);
    out.push(0x01);
    out.extend_from_slice(&pkh.to_tagged_bytes());
    out.extend_from_slice(data);
    out
}

/// The public keys allowed to send signing requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKeys {
    keys: Vec<PublicKey>,
}

impl AuthorizedKeys {
    /// At least one key is required (an empty list would refuse everything silently).
    pub fn new(keys: Vec<PublicKey>) -> Result<Self, AuthError> {
        if keys.is_empty() {
            return Err(AuthError::Empty);
        }
        Ok(AuthorizedKeys { keys })
    }

    /// Reads and parses the `--authorized-keys` file at `path` (format as in [`Self::parse`]).
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// One public key per line; `#` starts a comment; blank lines are ignored.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let key: PublicKey = content.parse().map_err(|e| AuthError::BadLine {
                line: i + 1,
                reason: format!("{e}"),
            })?;
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Self::new(keys)
    }

    /// The authorized public keys.
    #[cfg(test)]
    pub(crate) fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The hashes of the authorized keys (what `GET /authorized_keys` lists).
    pub fn pkhs(&self) -> Vec<Pkh> {
        self.keys.iter().map(PublicKey::pkh).collect()
    }

    /// True when `signature` over [`authentication_bytes`] verifies against any listed key.
    pub fn verify(&self, pkh: &Pkh, data: &[u8], signature: &Signature) -> bool {
        let message = authentication_bytes(pkh, data);
        self.keys
            .iter()
            .any(|key| key.verify(&message, signature).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Signer as _;

    use super::*;
    use crate::tezos::{Curve, SecretKey, blake2b_256, keys::PkhKind};

    const SPSK: &str = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5";
    const P2SK: &str = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9";
    const TARGET: &str = "tz3Lfm6CyfSTZ7EgMckptZZGiPxzs9GK59At";

    fn ed25519() -> (ed25519_dalek::SigningKey, PublicKey) {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let pk = PublicKey::Ed25519(sk.verifying_key());
        (sk, pk)
    }

    /// Tezos Ed25519 signs the BLAKE2b-256 digest of the message.
    fn ed_sign(sk: &ed25519_dalek::SigningKey, msg: &[u8]) -> Signature {
        let raw = sk.sign(&blake2b_256(msg)).to_bytes();
        Signature::from_raw(Some(Curve::Ed25519), raw)
    }

    #[test]
    fn authentication_bytes_layout() {
        let pkh: Pkh = TARGET.parse().unwrap();
        let bytes = authentication_bytes(&pkh, &[0x11, 0xaa]);
        assert_eq!(bytes[..3], [0x04, 0x01, PkhKind::Tz3.tag()]);
        assert_eq!(&bytes[3..23], pkh.hash());
        assert_eq!(bytes[23..], [0x11, 0xaa]);
        assert_eq!(bytes.len(), 25);
    }

    #[test]
    fn parses_comments_and_all_three_kinds() {
        let (_, edpk) = ed25519();
        let sp: SecretKey = SPSK.parse().unwrap();
        let p2: SecretKey = P2SK.parse().unwrap();
        let text = format!(
            "# baker's monitoring host\n{edpk}\n\n  {}   # tz2 client\n{}\n{edpk}\n",
            sp.public_key(),
            p2.public_key()
        );
        let keys = AuthorizedKeys::parse(&text).unwrap();
        assert_eq!(keys.keys().len(), 3, "duplicates collapse");
        let kinds: Vec<PkhKind> = keys.pkhs().iter().map(|p| p.kind()).collect();
        assert_eq!(kinds, [PkhKind::Tz1, PkhKind::Tz2, PkhKind::Tz3]);
        assert_eq!(keys.pkhs()[1], sp.public_key().pkh());

        for (text, want_line) in [
            ("# only\n\nsppk7bad\n", 3),
            ("tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt", 1),
        ] {
            match AuthorizedKeys::parse(text) {
                Err(AuthError::BadLine { line, .. }) => assert_eq!(line, want_line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            AuthorizedKeys::parse("# nothing\n"),
            Err(AuthError::Empty)
        ));
    }

    #[test]
    fn verifies_real_signatures_from_each_curve() {
        let (ed_sk, edpk) = ed25519();
        let sp: SecretKey = SPSK.parse().unwrap();
        let p2: SecretKey = P2SK.parse().unwrap();
        let keys = AuthorizedKeys::new(vec![edpk, sp.public_key(), p2.public_key()]).unwrap();
        let pkh: Pkh = TARGET.parse().unwrap();
        let data = [0x11u8, 1, 2, 3];
        let msg = authentication_bytes(&pkh, &data);
        let good = [ed_sign(&ed_sk, &msg), sp.sign(&msg), p2.sign(&msg)];
        for sig in good {
            assert!(keys.verify(&pkh, &data, &sig), "{sig}");
            // The generic `sig…` form of the same bytes is accepted too.
            let generic: Signature = sig.to_generic_string().parse().unwrap();
            assert!(keys.verify(&pkh, &data, &generic), "{generic}");
            // Bound to the data and to the target key.
            assert!(!keys.verify(&pkh, &[0x11, 1, 2, 4], &sig));
            let other: Pkh = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().unwrap();
            assert!(!keys.verify(&other, &data, &sig));
        }
        // Signed without the 0x04 0x01 prefix (raw data): refused.
        assert!(!keys.verify(&pkh, &data, &sp.sign(&data)));
        // A key that is not listed.
        let stranger: SecretKey = "spsk2rBDDeUqakQ42nBHDGQTtP3GErb6AahHPwF9bhca3Q5KA5HESE"
            .parse()
            .unwrap();
        assert!(!keys.verify(&pkh, &data, &stranger.sign(&msg)));
    }

    #[test]
    fn high_s_tz2_authentication_is_refused() {
        let sp: SecretKey = SPSK.parse().unwrap();
        let keys = AuthorizedKeys::new(vec![sp.public_key()]).unwrap();
        let pkh: Pkh = TARGET.parse().unwrap();
        let data = [0x12u8; 8];
        let low = sp.sign(&authentication_bytes(&pkh, &data));
        // s' = n - s: the same signature in its high-S form.
        let sig = k256::ecdsa::Signature::from_slice(low.raw()).unwrap();
        let (r, s) = sig.split_scalars();
        let high = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
        let high = Signature::from_raw(Some(Curve::Secp256k1), high.to_bytes().into());
        assert!(!high.is_low_s());
        assert!(!keys.verify(&pkh, &data, &high));
        assert!(keys.verify(&pkh, &data, &low));
    }
}
