//! A bounds-checked big-endian byte reader and the decoding error type.
//!
//! Every read names what it reads so errors can say what is wrong and at which offset.

/// A decoding failure, with the byte offset (magic byte = offset 0) where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The request has no bytes at all, not even a magic byte.
    #[error("empty payload: nothing to sign")]
    Empty,
    /// The first byte is none of the known magic bytes; holds that byte.
    #[error("unknown magic byte 0x{0:02x}")]
    UnknownMagicByte(u8),
    /// The payload ends before a field is complete.
    #[error("truncated payload: {what} at byte {offset} needs {needed} more byte(s)")]
    Truncated {
        /// The field being read, e.g. `level` or `branch`.
        what: &'static str,
        /// Where the field starts.
        offset: usize,
        /// How many bytes more the field needed than were left.
        needed: usize,
    },
    /// A consensus operation tag that does not belong to its magic byte (e.g. 0x15 under 0x12).
    #[error("operation tag 0x{tag:02x} at byte {offset} does not belong under magic byte {magic}")]
    TagMismatch {
        /// The operation tag found.
        tag: u8,
        /// Offset of the tag byte (37 in a consensus operation).
        offset: usize,
        /// The magic byte's name and value, e.g. `preattestation (0x12)`.
        magic: &'static str,
    },
    /// A consensus operation tag only tz4 (BLS) keys sign: 0x28, 0x29, 0x1e or 0x1f.
    #[error("operation tag 0x{tag:02x} at byte {offset} is only valid for BLS (tz4) keys")]
    BlsOnlyTag {
        /// The BLS-only operation tag found.
        tag: u8,
        /// Offset of the tag byte.
        offset: usize,
    },
    /// A Tenderbake block's fitness is not the five well-formed elements it must be.
    #[error("malformed fitness at byte {offset}: {reason}")]
    Fitness {
        /// Offset of the offending fitness element, or of the fitness length.
        offset: usize,
        /// What is wrong, e.g. `fitness version must be 02, found 01`.
        reason: String,
    },
    /// Bytes follow a complete value (a consensus operation, a Micheline expression).
    #[error("{count} unexpected trailing byte(s) at byte {offset}")]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many extra bytes there are.
        count: usize,
    },
    /// A generic operation's content tag is unknown or unsupported, so the batch is refused.
    #[error(
        "unknown or unsupported operation tag {tag} (0x{tag:02x}) at byte {offset}: refusing \
         what cannot be decoded"
    )]
    UnknownOperationTag {
        /// The content tag found (e.g. 108 is a transaction).
        tag: u8,
        /// Offset of the tag byte.
        offset: usize,
    },
    /// A level or round decodes as a negative int32.
    #[error("negative {what} {value} at byte {offset}: Tezos levels and rounds are never negative")]
    Negative {
        /// The field, e.g. `level`, `round` or `payload round`.
        what: &'static str,
        /// The negative value read.
        value: i32,
        /// Offset of the int32.
        offset: usize,
    },
    /// A field is present but invalid, e.g. a non-canonical Zarith number.
    #[error("malformed {what} at byte {offset}: {reason}")]
    Malformed {
        /// The field being read.
        what: &'static str,
        /// Where the problem was found.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Reads big-endian values from a slice; `base` is the offset of the slice in the request.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self::with_base(data, 0)
    }
    pub(crate) fn with_base(data: &'a [u8], base: usize) -> Self {
        Reader { data, pos: 0, base }
    }
    /// Offset of the next byte, counted from the start of the whole request.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                what,
                offset: self.offset(),
                needed: n - self.remaining(),
            });
        }
        let out = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }
    /// The next byte, without consuming it.
    pub(crate) fn peek_u8(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }
    pub(crate) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.array(what).map(u16::from_be_bytes)
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_be_bytes)
    }
    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.array(what).map(i32::from_be_bytes)
    }
    /// A level or round: an int32 that Tezos never lets be negative.
    pub(crate) fn non_negative_i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        let offset = self.offset();
        let value = self.i32(what)?;
        non_negative(what, value, offset)
    }
    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.array(what).map(i64::from_be_bytes)
    }
    /// A Zarith natural (7 bits per byte, little-endian groups, high bit = more), canonical:
    /// no trailing zero group. Returns its raw bytes.
    pub(crate) fn zarith_natural(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        loop {
            let at = self.offset();
            let b = self.u8(what)?;
            if b & 0x80 == 0 {
                if b == 0 && self.pos - start > 1 {
                    return Err(DecodeError::Malformed {
                        what,
                        offset: at,
                        reason: "non-canonical Zarith number (trailing zero byte)",
                    });
                }
                return Ok(&self.data[start..self.pos]);
            }
        }
    }
}

/// `value` (read at `offset`) if it is not negative.
pub(crate) fn non_negative(
    what: &'static str,
    value: i32,
    offset: usize,
) -> Result<i32, DecodeError> {
    if value < 0 {
        return Err(DecodeError::Negative {
            what,
            value,
            offset,
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zarith_naturals() {
        let table: &[(&[u8], Result<usize, ()>)] = &[
            (&[0x00], Ok(1)),
            (&[0x7f], Ok(1)),
            (&[0x80, 0x01], Ok(2)),
            (&[0x80, 0x20], Ok(2)),
            (&[0x80, 0x00], Err(())),
            (&[0x80], Err(())),
            (&[], Err(())),
        ];
        for (input, want) in table {
            let mut r = Reader::with_base(input, 80);
            let got = r.zarith_natural("z").map(|s| s.len()).map_err(|_| ());
            assert_eq!(&got, want, "{input:02x?}");
        }
    }

    #[test]
    fn offsets_are_absolute() {
        let mut r = Reader::with_base(&[1, 2], 10);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(
            r.u16("b"),
            Err(DecodeError::Truncated {
                what: "b",
                offset: 11,
                needed: 1
            })
        );
    }
}
