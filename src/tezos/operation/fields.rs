//! The field encodings generic operations are made of (docs/protocol.md §9): tagged public
//! key hashes and public keys, contracts and destinations, entrypoints, options, dynamic
//! (length-prefixed) bytes and Micheline.

use crate::tezos::base58;
use crate::tezos::keys::{Pkh, PkhKind};
use crate::tezos::micheline::{self, Micheline};
use crate::tezos::reader::{DecodeError, Reader};

pub(super) fn malformed(what: &'static str, offset: usize, reason: &'static str) -> DecodeError {
    DecodeError::Malformed {
        what,
        offset,
        reason,
    }
}

/// A tagged public key hash (tag 0–3, then 20 bytes).
pub(super) fn pkh(r: &mut Reader<'_>, what: &'static str) -> Result<Pkh, DecodeError> {
    let at = r.offset();
    let kind = match r.u8(what)? {
        0 => PkhKind::Tz1,
        1 => PkhKind::Tz2,
        2 => PkhKind::Tz3,
        3 => PkhKind::Tz4,
        _ => return Err(malformed(what, at, "unknown public key hash tag")),
    };
    Ok(Pkh::new(kind, r.array(what)?))
}

/// A public key as the protocol encodes it: Ed25519 (tag 0, 32 bytes), secp256k1 (1, 33),
/// P-256 (2, 33), BLS (3, 48). Kept as bytes: BLS keys have no type of their own here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPublicKey {
    /// The scheme tag: 0 Ed25519, 1 secp256k1, 2 P-256, 3 BLS.
    pub tag: u8,
    /// The key without its tag: 32, 33, 33 or 48 bytes, by tag.
    pub bytes: Vec<u8>,
}

impl EncodedPublicKey {
    /// `edpk…`, `sppk…`, `p2pk…` or `BLpk…`.
    pub fn to_base58(&self) -> String {
        let prefix = match self.tag {
            0 => base58::EDPK,
            1 => base58::SPPK,
            2 => base58::P2PK,
            _ => base58::BLPK,
        };
        base58::encode(prefix, &self.bytes)
    }
}

pub(super) fn public_key(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<EncodedPublicKey, DecodeError> {
    let at = r.offset();
    let tag = r.u8(what)?;
    let len = match tag {
        0 => 32,
        1 | 2 => 33,
        3 => 48,
        _ => return Err(malformed(what, at, "unknown public key tag")),
    };
    Ok(EncodedPublicKey {
        tag,
        bytes: r.take(len, what)?.to_vec(),
    })
}

/// Where a transaction or ticket goes: an implicit account, an originated contract (`KT1`), a
/// smart rollup (`sr1`) or a ZK rollup (`epx1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// An implicit account, `tz1…` to `tz4…` (contract tag 0).
    Implicit(Pkh),
    /// An originated contract: the 20-byte hash of its `KT1…` address (contract tag 1).
    Originated([u8; 20]),
    /// A smart rollup: the 20-byte hash of its `sr1…` address (destination tag 3).
    SmartRollup([u8; 20]),
    /// A ZK rollup: the 20-byte hash of its `epx1…` address (destination tag 4).
    ZkRollup([u8; 20]),
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Implicit(p) => p.fmt(f),
            Destination::Originated(h) => f.write_str(&base58::encode(base58::KT1, h)),
            Destination::SmartRollup(h) => f.write_str(&base58::encode(base58::SR1, h)),
            Destination::ZkRollup(h) => f.write_str(&base58::encode(base58::EPX1, h)),
        }
    }
}

/// A 20-byte hash followed by the padding byte 0x00.
fn padded_hash(r: &mut Reader<'_>, what: &'static str) -> Result<[u8; 20], DecodeError> {
    let hash = r.array(what)?;
    let at = r.offset();
    if r.u8(what)? != 0 {
        return Err(malformed(what, at, "padding byte must be 00"));
    }
    Ok(hash)
}

/// A contract id: implicit (0) or originated (1) only.
pub(super) fn contract(r: &mut Reader<'_>, what: &'static str) -> Result<Destination, DecodeError> {
    let at = r.offset();
    match r.u8(what)? {
        0 => pkh(r, what).map(Destination::Implicit),
        1 => padded_hash(r, what).map(Destination::Originated),
        _ => Err(malformed(what, at, "unknown contract tag")),
    }
}

/// A transaction destination: a contract, a smart rollup (3) or a ZK rollup (4).
pub(super) fn destination(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Destination, DecodeError> {
    let at = r.offset();
    match r.peek_u8() {
        Some(3) => {
            r.u8(what)?;
            padded_hash(r, what).map(Destination::SmartRollup)
        }
        Some(4) => {
            r.u8(what)?;
            padded_hash(r, what).map(Destination::ZkRollup)
        }
        Some(0 | 1) | None => contract(r, what),
        Some(_) => {
            r.u8(what)?;
            Err(malformed(what, at, "unknown contract tag"))
        }
    }
}

/// The entrypoints with a one-byte tag, in tag order.
pub const NAMED_ENTRYPOINTS: [&str; 10] = [
    "default",
    "root",
    "do",
    "set_delegate",
    "remove_delegate",
    "deposit",
    "stake",
    "unstake",
    "finalize_unstake",
    "set_delegate_parameters",
];

/// An entrypoint: a well-known one by tag (0–9), or 255 + a 1-byte length + name (≤ 31).
pub(super) fn entrypoint(r: &mut Reader<'_>) -> Result<String, DecodeError> {
    let at = r.offset();
    match r.u8("entrypoint")? {
        tag @ 0..=9 => Ok(NAMED_ENTRYPOINTS[usize::from(tag)].to_string()),
        255 => {
            let len = r.u8("entrypoint name length")? as usize;
            if len == 0 || len > 31 {
                return Err(malformed(
                    "entrypoint",
                    at,
                    "named entrypoint of bad length",
                ));
            }
            let name_at = r.offset();
            let name = r.take(len, "entrypoint name")?;
            entrypoint_name(name, name_at)
        }
        _ => Err(malformed("entrypoint", at, "unknown entrypoint tag")),
    }
}

/// An entrypoint's name: at most 31 letters, digits or `_ . % @`.
pub(super) fn entrypoint_name(name: &[u8], at: usize) -> Result<String, DecodeError> {
    let valid = !name.is_empty()
        && name.len() <= 31
        && name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'%' | b'@'));
    if !valid {
        return Err(malformed(
            "entrypoint name",
            at,
            "not a valid entrypoint name",
        ));
    }
    Ok(String::from_utf8_lossy(name).into_owned())
}

/// An option tag: 0x00 (none) or 0xff (some).
pub(super) fn option_tag(r: &mut Reader<'_>, what: &'static str) -> Result<bool, DecodeError> {
    let at = r.offset();
    match r.u8(what)? {
        0x00 => Ok(false),
        0xff => Ok(true),
        _ => Err(malformed(what, at, "option tag must be 00 or ff")),
    }
}

/// Bytes preceded by a 4-byte big-endian length, and the offset where they start.
pub(super) fn dynamic<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
) -> Result<(&'a [u8], usize), DecodeError> {
    let len = r.u32(what)? as usize;
    let at = r.offset();
    Ok((r.take(len, what)?, at))
}

/// A length-prefixed binary Micheline expression.
pub(super) fn micheline(r: &mut Reader<'_>, what: &'static str) -> Result<Micheline, DecodeError> {
    let (bytes, at) = dynamic(r, what)?;
    micheline::decode(bytes, at)
}

/// The optional BLS proof after a public key (`reveal`, `update_consensus_key`,
/// `update_companion_key`): `00`, or `ff` + 4-byte length + signature. Older encodings end
/// with the key; the next byte then is the next element's tag, which is never `00` or `ff`
/// (`ff` is reserved by the protocol), so the three forms cannot be confused.
pub(super) fn optional_trailing_proof(r: &mut Reader<'_>) -> Result<Option<Vec<u8>>, DecodeError> {
    match r.peek_u8() {
        Some(0x00) => r.u8("proof option").map(|_| None),
        Some(0xff) => {
            r.u8("proof option")?;
            let at = r.offset() + 4;
            let (proof, _) = dynamic(r, "proof")?;
            if proof.len() != 96 {
                return Err(malformed("proof", at, "a BLS proof has 96 bytes"));
            }
            Ok(Some(proof.to_vec()))
        }
        _ => Ok(None),
    }
}
