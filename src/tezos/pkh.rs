//! Public key hashes (`tz1…` to `tz4…`): the 20-byte BLAKE2b-160 of a public key, tagged by
//! signature scheme. Parsing validates the checksum, prefix and length.

use std::fmt;
use std::str::FromStr;

use super::base58::{self, Base58Error, Prefix};
use super::keys::KeyError;

/// The signature scheme of the key a hash was made from: it picks the base58 prefix
/// and the binary tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PkhKind {
    /// Ed25519 (`tz1…`, tag 0).
    Tz1,
    /// secp256k1 (`tz2…`, tag 1).
    Tz2,
    /// P-256 (`tz3…`, tag 2).
    Tz3,
    /// BLS12-381 (`tz4…`, tag 3).
    Tz4,
}

impl PkhKind {
    /// The 1-byte tag Tezos uses in binary encodings of public key hashes.
    pub fn tag(self) -> u8 {
        match self {
            PkhKind::Tz1 => 0,
            PkhKind::Tz2 => 1,
            PkhKind::Tz3 => 2,
            PkhKind::Tz4 => 3,
        }
    }
    fn prefix(self) -> Prefix {
        match self {
            PkhKind::Tz1 => base58::TZ1,
            PkhKind::Tz2 => base58::TZ2,
            PkhKind::Tz3 => base58::TZ3,
            PkhKind::Tz4 => base58::TZ4,
        }
    }
}

/// A public key hash (`tz1…`, `tz2…`, `tz3…`, `tz4…`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pkh {
    kind: PkhKind,
    hash: [u8; 20],
}

impl Pkh {
    /// A hash of scheme `kind` from its 20 raw bytes (the BLAKE2b-160 of the public key;
    /// not checked against any key).
    pub fn new(kind: PkhKind, hash: [u8; 20]) -> Self {
        Pkh { kind, hash }
    }
    /// The scheme, which decides the `tz1`…`tz4` prefix and the tag byte.
    pub fn kind(&self) -> PkhKind {
        self.kind
    }
    /// The 20 raw hash bytes, without tag, prefix or checksum.
    pub fn hash(&self) -> &[u8; 20] {
        &self.hash
    }
    /// Tag byte followed by the 20-byte hash, as in octez's authentication payload.
    pub fn to_tagged_bytes(&self) -> [u8; 21] {
        let mut out = [0u8; 21];
        out[0] = self.kind.tag();
        out[1..].copy_from_slice(&self.hash);
        out
    }
    /// The inverse of [`Pkh::to_tagged_bytes`]; `None` for an unknown tag.
    pub fn from_tagged_bytes(bytes: &[u8; 21]) -> Option<Pkh> {
        let kind = match bytes[0] {
            0 => PkhKind::Tz1,
            1 => PkhKind::Tz2,
            2 => PkhKind::Tz3,
            3 => PkhKind::Tz4,
            _ => return None,
        };
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&bytes[1..]);
        Some(Pkh { kind, hash })
    }
}

impl FromStr for Pkh {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        const KINDS: [PkhKind; 4] = [PkhKind::Tz1, PkhKind::Tz2, PkhKind::Tz3, PkhKind::Tz4];
        let prefixes = KINDS.map(PkhKind::prefix);
        let (p, payload) = base58::decode_any(&prefixes, s).map_err(|e| match e {
            Base58Error::WrongPrefix { .. } => KeyError::UnknownPrefix {
                what: "public key hash",
                expected: "tz1, tz2, tz3, tz4",
            },
            e => KeyError::Base58(e),
        })?;
        let kind = KINDS[prefixes.iter().position(|x| *x == p).unwrap_or(0)];
        let hash = payload.try_into().map_err(|_| KeyError::UnknownPrefix {
            what: "public key hash",
            expected: "tz1, tz2, tz3, tz4",
        })?;
        Ok(Pkh { kind, hash })
    }
}

impl fmt::Display for Pkh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&base58::encode(self.kind.prefix(), &self.hash))
    }
}

impl fmt::Debug for Pkh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pkh({self})")
    }
}

impl serde::Serialize for Pkh {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Pkh {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
