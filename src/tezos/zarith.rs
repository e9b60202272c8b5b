//! Zarith numbers, the variable-length integers of Tezos encodings: naturals (7 bits per byte,
//! least significant group first, high bit = more follows) and integers (the first byte
//! carries the sign in bit 6 and 6 value bits). Canonical forms only.
//!
//! Owns: reading them strictly (no trailing zero group, no negative zero) and rendering any
//! size in decimal. Pure and total.

use super::reader::{DecodeError, Reader};

/// A decoded Zarith number of any size: its sign and magnitude (base 2³² limbs, least
/// significant first, no leading zero limb).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zarith {
    pub negative: bool,
    limbs: Vec<u32>,
}

impl Zarith {
    /// The value if it fits in a `u128` and is not negative.
    pub fn to_u128(&self) -> Option<u128> {
        if self.negative || self.limbs.len() > 4 {
            return None;
        }
        Some(
            self.limbs
                .iter()
                .rev()
                .fold(0u128, |acc, l| (acc << 32) | u128::from(*l)),
        )
    }

    /// Decimal digits, `-` first when negative.
    pub fn to_decimal(&self) -> String {
        if self.limbs.is_empty() {
            return "0".into();
        }
        let mut limbs = self.limbs.clone();
        let mut chunks: Vec<u32> = Vec::new();
        while !limbs.is_empty() {
            // Divide by 10⁹, most significant limb first.
            let mut rem: u64 = 0;
            for l in limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*l);
                *l = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            chunks.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        let mut chunks = chunks.into_iter().rev();
        if let Some(first) = chunks.next() {
            out.push_str(&first.to_string());
        }
        for c in chunks {
            out.push_str(&format!("{c:09}"));
        }
        out
    }

    fn from_bits(negative: bool, groups: &[(u32, u32)]) -> Zarith {
        // groups: (value, bit width), least significant first.
        let mut limbs: Vec<u32> = Vec::new();
        let mut acc: u64 = 0;
        let mut bits: u32 = 0;
        for &(value, width) in groups {
            acc |= u64::from(value) << bits;
            bits += width;
            while bits >= 32 {
                limbs.push(acc as u32);
                acc >>= 32;
                bits -= 32;
            }
        }
        if bits > 0 {
            limbs.push(acc as u32);
        }
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        Zarith { negative, limbs }
    }
}

impl std::fmt::Display for Zarith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_decimal())
    }
}

fn non_canonical(what: &'static str, offset: usize) -> DecodeError {
    DecodeError::Malformed {
        what,
        offset,
        reason: "non-canonical Zarith number (trailing zero byte)",
    }
}

/// A natural number.
pub(crate) fn natural(r: &mut Reader<'_>, what: &'static str) -> Result<Zarith, DecodeError> {
    let mut groups = Vec::new();
    loop {
        let at = r.offset();
        let b = r.u8(what)?;
        groups.push((u32::from(b & 0x7f), 7));
        if b & 0x80 == 0 {
            if b == 0 && groups.len() > 1 {
                return Err(non_canonical(what, at));
            }
            return Ok(Zarith::from_bits(false, &groups));
        }
    }
}

/// A natural that must fit in a `u128` (amounts, fees, counters and limits: the protocol
/// bounds them far below).
pub(crate) fn natural_u128(r: &mut Reader<'_>, what: &'static str) -> Result<u128, DecodeError> {
    let at = r.offset();
    natural(r, what)?.to_u128().ok_or(DecodeError::Malformed {
        what,
        offset: at,
        reason: "number larger than any the protocol allows here",
    })
}

/// An amount of mutez: a natural the protocol bounds to an int64.
pub(crate) fn mutez(r: &mut Reader<'_>, what: &'static str) -> Result<u128, DecodeError> {
    let at = r.offset();
    let value = natural_u128(r, what)?;
    if value > i64::MAX as u128 {
        return Err(DecodeError::Malformed {
            what,
            offset: at,
            reason: "more mutez than an int64 holds (the protocol's bound)",
        });
    }
    Ok(value)
}

/// A signed integer.
pub(crate) fn integer(r: &mut Reader<'_>, what: &'static str) -> Result<Zarith, DecodeError> {
    let start = r.offset();
    let first = r.u8(what)?;
    let negative = first & 0x40 != 0;
    let mut groups = vec![(u32::from(first & 0x3f), 6)];
    let mut last = first;
    let mut last_at = start;
    while last & 0x80 != 0 {
        last_at = r.offset();
        last = r.u8(what)?;
        groups.push((u32::from(last & 0x7f), 7));
    }
    if groups.len() > 1 && last == 0 {
        return Err(non_canonical(what, last_at));
    }
    let z = Zarith::from_bits(negative, &groups);
    if negative && z.limbs.is_empty() {
        return Err(DecodeError::Malformed {
            what,
            offset: start,
            reason: "non-canonical Zarith number (negative zero)",
        });
    }
    Ok(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nat(bytes: &[u8]) -> Result<String, DecodeError> {
        let mut r = Reader::new(bytes);
        let z = natural(&mut r, "n")?;
        assert!(r.is_empty(), "{bytes:02x?}");
        Ok(z.to_decimal())
    }

    fn int(bytes: &[u8]) -> Result<String, DecodeError> {
        let mut r = Reader::new(bytes);
        let z = integer(&mut r, "z")?;
        assert!(r.is_empty(), "{bytes:02x?}");
        Ok(z.to_decimal())
    }

    #[test]
    fn naturals_and_integers_decode_canonically() {
        assert_eq!(nat(&[0x00]).unwrap(), "0");
        assert_eq!(nat(&[0x21]).unwrap(), "33");
        assert_eq!(nat(&[0xdc, 0x05]).unwrap(), "732");
        assert_eq!(nat(&[0xed, 0xec, 0xc0, 0x04]).unwrap(), "9451117");
        assert_eq!(
            nat(&[0xad, 0xca, 0xcd, 0xb7, 0xd4, 0x01]).unwrap(),
            "57024931117"
        );
        assert!(nat(&[0x80, 0x00]).is_err());
        assert!(nat(&[0x80]).is_err());
        assert_eq!(int(&[0x00]).unwrap(), "0");
        assert_eq!(int(&[0x01]).unwrap(), "1");
        assert_eq!(int(&[0x41]).unwrap(), "-1");
        assert_eq!(int(&[0x3f]).unwrap(), "63");
        assert_eq!(int(&[0x80, 0x01]).unwrap(), "64");
        assert_eq!(int(&[0xc0, 0x01]).unwrap(), "-64");
        assert!(int(&[0x40]).is_err(), "negative zero");
        assert!(int(&[0x80, 0x00]).is_err(), "trailing zero");
    }

    #[test]
    fn big_numbers_render_in_decimal() {
        // 2^70 as a natural: 70 bits = 10 groups of 7.
        let mut bytes = vec![0x80u8; 10];
        bytes.push(0x01);
        assert_eq!(nat(&bytes).unwrap(), "1180591620717411303424");
        let mut r = Reader::new(&bytes);
        assert_eq!(natural(&mut r, "n").unwrap().to_u128(), Some(1u128 << 70));
    }
}
