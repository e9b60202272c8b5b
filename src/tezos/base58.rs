//! Base58Check with Tezos prefixes (docs/protocol.md §5).
//!
//! Owns: the prefix table and the checksum. Pure; never panics on input.

use sha2::{Digest, Sha256};

/// A Tezos base58 prefix: the bytes prepended before encoding and the payload length they imply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    /// The text every encoded value starts with (`tz1`, `edpk`, `B`…); also names the
    /// prefix in errors.
    pub name: &'static str,
    /// The bytes put before the payload (and the 4-byte checksum after it) before base58
    /// encoding.
    pub bytes: &'static [u8],
    /// The payload's length in bytes, prefix and checksum excluded.
    pub payload_len: usize,
}

macro_rules! prefixes {
    ($($id:ident = $name:literal, [$($b:literal),*], $len:literal;)*) => {
        $(
            #[doc = concat!(
                "Prefix of `", $name, "…` values, whose payload is ", stringify!($len), " bytes."
            )]
            pub const $id: Prefix = Prefix { name: $name, bytes: &[$($b),*], payload_len: $len };
        )*
    };
}

prefixes! {
    TZ1 = "tz1", [0x06, 0xa1, 0x9f], 20;
    TZ2 = "tz2", [0x06, 0xa1, 0xa1], 20;
    TZ3 = "tz3", [0x06, 0xa1, 0xa4], 20;
    TZ4 = "tz4", [0x06, 0xa1, 0xa6], 20;
    EDPK = "edpk", [0x0d, 0x0f, 0x25, 0xd9], 32;
    SPPK = "sppk", [0x03, 0xfe, 0xe2, 0x56], 33;
    P2PK = "p2pk", [0x03, 0xb2, 0x8b, 0x7f], 33;
    SPSK = "spsk", [0x11, 0xa2, 0xe0, 0xc9], 32;
    P2SK = "p2sk", [0x10, 0x51, 0xee, 0xbd], 32;
    EDSK_SEED = "edsk", [0x0d, 0x0f, 0x3a, 0x07], 32;
    EDSIG = "edsig", [0x09, 0xf5, 0xcd, 0x86, 0x12], 64;
    SPSIG1 = "spsig1", [0x0d, 0x73, 0x65, 0x13, 0x3f], 64;
    P2SIG = "p2sig", [0x36, 0xf0, 0x2c, 0x34], 64;
    SIG = "sig", [0x04, 0x82, 0x2b], 64;
    CHAIN_ID = "Net", [0x57, 0x52, 0x00], 4;
    BLOCK_HASH = "B", [0x01, 0x34], 32;
    VALUE_HASH = "vh", [0x01, 0x6a, 0xf2], 32;
    SPESK = "spesk", [0x09, 0xed, 0xf1, 0xae, 0x96], 56;
    KT1 = "KT1", [0x02, 0x5a, 0x79], 20;
    SR1 = "sr1", [0x06, 0x7c, 0x75], 20;
    EPX1 = "epx1", [0x01, 0x17, 0xe0, 0x7d], 20;
    PROTOCOL = "P", [0x02, 0xaa], 32;
    BLPK = "BLpk", [0x06, 0x95, 0x87, 0xcc], 48;
    BLSIG = "BLsig", [0x28, 0xab, 0x40, 0xcf], 96;
    P2ESK = "p2esk", [0x09, 0x30, 0x39, 0x73, 0xab], 56;
}

/// Why a string could not be decoded as the expected base58check Tezos value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Base58Error {
    /// The text is not base58 (e.g. a `0`, `O`, `I` or `l`); holds the decoder's message.
    #[error("not valid base58: {0}")]
    Alphabet(String),
    /// The last 4 decoded bytes are not the start of the double SHA-256 of the rest, or
    /// fewer than 4 bytes were decoded.
    #[error("bad base58 checksum")]
    Checksum,
    /// The text (its length held here) is longer than [`MAX_CHARS`]; refused before
    /// decoding.
    #[error("a base58 value of {0} characters: no Tezos value is longer than {MAX_CHARS}")]
    TooLong(usize),
    /// The decoded bytes do not start with the prefix wanted (for [`decode_any`]: with
    /// any candidate's, at its payload length).
    #[error("expected a {expected} value, got something else")]
    WrongPrefix {
        /// Name of the prefix wanted (for [`decode_any`], the first candidate's).
        expected: &'static str,
    },
    /// The prefix matched but the payload has the wrong number of bytes.
    #[error("{name} value has {got} payload bytes, expected {expected}")]
    Length {
        /// Name of the prefix that matched.
        name: &'static str,
        /// Payload length found, in bytes.
        got: usize,
        /// Payload length the prefix requires, in bytes.
        expected: usize,
    },
}

/// The longest base58 text any Tezos value here needs (a 73-byte spsig1 signature encodes to
/// 100 characters), with room to spare. Longer input is refused before decoding: base58
/// decoding costs time quadratic in the length, and URL path segments and query values reach
/// this code unauthenticated.
pub const MAX_CHARS: usize = 128;

fn checksum(data: &[u8]) -> [u8; 4] {
    let h = Sha256::digest(Sha256::digest(data));
    [h[0], h[1], h[2], h[3]]
}

/// Encodes `payload` under `prefix`. The payload length is the caller's invariant.
pub fn encode(prefix: Prefix, payload: &[u8]) -> String {
    debug_assert_eq!(payload.len(), prefix.payload_len, "{}", prefix.name);
    // Zeroized: the payload may be a secret key (spsk/p2sk).
    let mut buf =
        zeroize::Zeroizing::new(Vec::with_capacity(prefix.bytes.len() + payload.len() + 4));
    buf.extend_from_slice(prefix.bytes);
    buf.extend_from_slice(payload);
    let sum = checksum(&buf);
    buf.extend_from_slice(&sum);
    bs58::encode(&buf[..]).into_string()
}

/// Decodes a base58check string without interpreting the prefix. Zeroized: the decoded bytes
/// may be a secret key (spsk/p2sk).
pub fn decode_raw(s: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, Base58Error> {
    let s = s.trim();
    if s.len() > MAX_CHARS {
        return Err(Base58Error::TooLong(s.len()));
    }
    let raw = zeroize::Zeroizing::new(
        bs58::decode(s)
            .into_vec()
            .map_err(|e| Base58Error::Alphabet(e.to_string()))?,
    );
    if raw.len() < 4 {
        return Err(Base58Error::Checksum);
    }
    let (body, sum) = raw.split_at(raw.len() - 4);
    if checksum(body) != sum {
        return Err(Base58Error::Checksum);
    }
    Ok(zeroize::Zeroizing::new(body.to_vec()))
}

/// Decodes `s`, requiring `prefix` and its payload length; returns the payload.
pub fn decode(prefix: Prefix, s: &str) -> Result<Vec<u8>, Base58Error> {
    let body = decode_raw(s)?;
    let payload = body
        .strip_prefix(prefix.bytes)
        .ok_or(Base58Error::WrongPrefix {
            expected: prefix.name,
        })?;
    if payload.len() != prefix.payload_len {
        return Err(Base58Error::Length {
            name: prefix.name,
            got: payload.len(),
            expected: prefix.payload_len,
        });
    }
    Ok(payload.to_vec())
}

/// Decodes `s` into a fixed-size payload.
pub fn decode_array<const N: usize>(prefix: Prefix, s: &str) -> Result<[u8; N], Base58Error> {
    let v = decode(prefix, s)?;
    v.as_slice().try_into().map_err(|_| Base58Error::Length {
        name: prefix.name,
        got: v.len(),
        expected: N,
    })
}

/// Finds which of `candidates` `s` is encoded with (by prefix bytes and payload length).
pub fn decode_any(candidates: &[Prefix], s: &str) -> Result<(Prefix, Vec<u8>), Base58Error> {
    let body = decode_raw(s)?;
    for p in candidates {
        if let Some(payload) = body.strip_prefix(p.bytes)
            && payload.len() == p.payload_len
        {
            return Ok((*p, payload.to_vec()));
        }
    }
    Err(Base58Error::WrongPrefix {
        expected: candidates.first().map(|p| p.name).unwrap_or("known"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_produce_expected_text_prefix_and_length() {
        let table: &[(Prefix, &str, usize)] = &[
            (TZ1, "tz1", 36),
            (TZ2, "tz2", 36),
            (TZ3, "tz3", 36),
            (TZ4, "tz4", 36),
            (EDPK, "edpk", 54),
            (SPPK, "sppk", 55),
            (P2PK, "p2pk", 55),
            (SPSK, "spsk", 54),
            (P2SK, "p2sk", 54),
            (SPSIG1, "spsig1", 99),
            (P2SIG, "p2sig", 98),
            (SIG, "sig", 96),
            (EDSIG, "edsig", 99),
            (CHAIN_ID, "Net", 15),
            (BLOCK_HASH, "B", 51),
            (VALUE_HASH, "vh", 52),
            (SPESK, "spesk", 88),
            (P2ESK, "p2esk", 88),
        ];
        for (p, text, len) in table {
            for fill in [0u8, 0x7f, 0xff] {
                let s = encode(*p, &vec![fill; p.payload_len]);
                assert!(s.starts_with(text), "{} -> {s}", p.name);
                assert_eq!(s.len(), *len, "{} -> {s}", p.name);
                assert_eq!(decode(*p, &s).unwrap(), vec![fill; p.payload_len]);
            }
        }
    }

    #[test]
    fn rejects_bad_checksum_alphabet_and_prefix() {
        let s = encode(TZ2, &[1u8; 20]);
        let mut bad = s.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            decode(TZ2, std::str::from_utf8(&bad).unwrap()),
            Err(Base58Error::Checksum)
        );
        assert!(matches!(decode(TZ2, "0OIl"), Err(Base58Error::Alphabet(_))));
        assert_eq!(
            decode(TZ3, &s),
            Err(Base58Error::WrongPrefix { expected: "tz3" })
        );
        assert!(matches!(decode(TZ2, ""), Err(Base58Error::Checksum)));
    }

    #[test]
    fn refuses_oversized_text_before_decoding() {
        // Every value the table above encodes fits; one character more than the cap does not.
        let longest = encode(SPSIG1, &[0xff; 64]);
        assert!(longest.len() <= MAX_CHARS);
        let long = "1".repeat(MAX_CHARS + 1);
        assert_eq!(decode_raw(&long), Err(Base58Error::TooLong(MAX_CHARS + 1)));
        // A megabyte is refused at once (decoding it would take minutes).
        let huge = "z".repeat(1 << 20);
        let started = std::time::Instant::now();
        assert_eq!(decode(TZ2, &huge), Err(Base58Error::TooLong(1 << 20)));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
