//! Decoding of generic operation batches (magic byte 0x03) far enough to list their kinds.
//!
//! Owns: walking the contents list of an operation (after its 32-byte branch) element by
//! element, with the binary encodings of the protocol's `operation_repr.ml` (protocols Rio
//! and Seoul: the BLS `proof` of `reveal` and `update_consensus_key` is read when present).
//! Pure and total. An unknown tag, a malformed field or a trailing byte is an error, never a
//! guess: the policy refuses what this module cannot decode.

use std::fmt;

use super::keys::{Pkh, PkhKind};
use super::reader::{DecodeError, Reader};

/// Operation kinds that can appear in a generic (0x03) batch and that we decode exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OperationKind {
    ActivateAccount,
    Proposals,
    Ballot,
    DrainDelegate,
    FailingNoop,
    Reveal,
    Transaction,
    Origination,
    Delegation,
    RegisterGlobalConstant,
    SetDepositsLimit,
    IncreasePaidStorage,
    UpdateConsensusKey,
    TransferTicket,
}

impl OperationKind {
    pub const ALL: [OperationKind; 14] = [
        OperationKind::ActivateAccount,
        OperationKind::Proposals,
        OperationKind::Ballot,
        OperationKind::DrainDelegate,
        OperationKind::FailingNoop,
        OperationKind::Reveal,
        OperationKind::Transaction,
        OperationKind::Origination,
        OperationKind::Delegation,
        OperationKind::RegisterGlobalConstant,
        OperationKind::SetDepositsLimit,
        OperationKind::IncreasePaidStorage,
        OperationKind::UpdateConsensusKey,
        OperationKind::TransferTicket,
    ];

    /// The contents tag in the binary encoding.
    pub fn tag(self) -> u8 {
        match self {
            OperationKind::ActivateAccount => 4,
            OperationKind::Proposals => 5,
            OperationKind::Ballot => 6,
            OperationKind::DrainDelegate => 9,
            OperationKind::FailingNoop => 17,
            OperationKind::Reveal => 107,
            OperationKind::Transaction => 108,
            OperationKind::Origination => 109,
            OperationKind::Delegation => 110,
            OperationKind::RegisterGlobalConstant => 111,
            OperationKind::SetDepositsLimit => 112,
            OperationKind::IncreasePaidStorage => 113,
            OperationKind::UpdateConsensusKey => 114,
            OperationKind::TransferTicket => 158,
        }
    }

    /// The protocol's name for the kind (as in the JSON `"kind"` field).
    pub fn name(self) -> &'static str {
        match self {
            OperationKind::ActivateAccount => "activate_account",
            OperationKind::Proposals => "proposals",
            OperationKind::Ballot => "ballot",
            OperationKind::DrainDelegate => "drain_delegate",
            OperationKind::FailingNoop => "failing_noop",
            OperationKind::Reveal => "reveal",
            OperationKind::Transaction => "transaction",
            OperationKind::Origination => "origination",
            OperationKind::Delegation => "delegation",
            OperationKind::RegisterGlobalConstant => "register_global_constant",
            OperationKind::SetDepositsLimit => "set_deposits_limit",
            OperationKind::IncreasePaidStorage => "increase_paid_storage",
            OperationKind::UpdateConsensusKey => "update_consensus_key",
            OperationKind::TransferTicket => "transfer_ticket",
        }
    }

    pub fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.tag() == tag)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Manager operations (fee, counter, gas and storage limits, paid by `source`).
    pub fn is_manager(self) -> bool {
        self.tag() >= 107
    }
}

impl fmt::Display for OperationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded element of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationSummary {
    pub kind: OperationKind,
    /// The account the element acts for (manager source, voter, consensus key of a drain),
    /// when the encoding names one.
    pub source: Option<Pkh>,
    /// Offset of the element's tag in the whole request (magic byte = 0).
    pub offset: usize,
}

/// Offset of the contents in a generic request: magic byte (1) + branch (32).
pub const CONTENTS_OFFSET: usize = 33;

/// Decodes a contents list (the bytes after the branch) into one summary per element.
pub fn decode_contents(contents: &[u8]) -> Result<Vec<OperationSummary>, DecodeError> {
    let mut r = Reader::with_base(contents, CONTENTS_OFFSET);
    let mut out = Vec::new();
    if r.is_empty() {
        return Err(DecodeError::Truncated {
            what: "operation contents",
            offset: CONTENTS_OFFSET,
            needed: 1,
        });
    }
    while !r.is_empty() {
        let offset = r.offset();
        let tag = r.u8("operation tag")?;
        let kind =
            OperationKind::from_tag(tag).ok_or(DecodeError::UnknownOperationTag { tag, offset })?;
        let source = decode_element(&mut r, kind)?;
        out.push(OperationSummary {
            kind,
            source,
            offset,
        });
    }
    Ok(out)
}

/// Decodes the body of one element (after its tag). Returns its source, if any.
fn decode_element(r: &mut Reader<'_>, kind: OperationKind) -> Result<Option<Pkh>, DecodeError> {
    use OperationKind::*;
    match kind {
        ActivateAccount => {
            r.take(20, "activation public key hash")?;
            r.take(20, "activation code")?;
            Ok(None)
        }
        Proposals => {
            let source = pkh(r, "proposals source")?;
            r.i32("voting period")?;
            let at = r.offset();
            let list = dynamic(r, "proposals list")?;
            if list.len() % 32 != 0 || list.len() > 20 * 32 {
                return Err(malformed(
                    "proposals list",
                    at,
                    "not a list of at most 20 protocol hashes",
                ));
            }
            Ok(Some(source))
        }
        Ballot => {
            let source = pkh(r, "ballot source")?;
            r.i32("voting period")?;
            r.take(32, "proposal")?;
            let at = r.offset();
            if r.u8("ballot")? > 2 {
                return Err(malformed("ballot", at, "not yay (0), nay (1) or pass (2)"));
            }
            Ok(Some(source))
        }
        DrainDelegate => {
            let consensus_key = pkh(r, "consensus key")?;
            pkh(r, "delegate")?;
            pkh(r, "destination")?;
            Ok(Some(consensus_key))
        }
        FailingNoop => {
            dynamic(r, "failing_noop payload")?;
            Ok(None)
        }
        _ => {
            let source = pkh(r, "manager source")?;
            r.zarith_natural("fee")?;
            r.zarith_natural("counter")?;
            r.zarith_natural("gas limit")?;
            r.zarith_natural("storage limit")?;
            decode_manager_body(r, kind)?;
            Ok(Some(source))
        }
    }
}

fn decode_manager_body(r: &mut Reader<'_>, kind: OperationKind) -> Result<(), DecodeError> {
    use OperationKind::*;
    match kind {
        Reveal | UpdateConsensusKey => {
            public_key(r)?;
            optional_trailing_proof(r)
        }
        Transaction => {
            r.zarith_natural("amount")?;
            contract(r, "destination")?;
            if option_tag(r, "parameters")? {
                entrypoint(r)?;
                dynamic(r, "parameters value")?;
            }
            Ok(())
        }
        Origination => {
            r.zarith_natural("balance")?;
            if option_tag(r, "delegate")? {
                pkh(r, "delegate")?;
            }
            dynamic(r, "script code")?;
            dynamic(r, "script storage")?;
            Ok(())
        }
        Delegation => {
            if option_tag(r, "delegate")? {
                pkh(r, "delegate")?;
            }
            Ok(())
        }
        RegisterGlobalConstant => dynamic(r, "constant value").map(drop),
        SetDepositsLimit => {
            if option_tag(r, "limit")? {
                r.zarith_natural("limit")?;
            }
            Ok(())
        }
        IncreasePaidStorage => {
            zarith_integer(r, "amount")?;
            // An originated contract: 20-byte hash and one padding byte.
            r.take(21, "destination contract")?;
            Ok(())
        }
        TransferTicket => {
            dynamic(r, "ticket contents")?;
            dynamic(r, "ticket type")?;
            contract(r, "ticketer")?;
            r.zarith_natural("ticket amount")?;
            contract(r, "destination")?;
            dynamic(r, "entrypoint")?;
            Ok(())
        }
        ActivateAccount | Proposals | Ballot | DrainDelegate | FailingNoop => Ok(()),
    }
}

fn malformed(what: &'static str, offset: usize, reason: &'static str) -> DecodeError {
    DecodeError::Malformed {
        what,
        offset,
        reason,
    }
}

/// A tagged public key hash (tag 0–3, then 20 bytes).
fn pkh(r: &mut Reader<'_>, what: &'static str) -> Result<Pkh, DecodeError> {
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

/// A tagged public key: Ed25519 (32 bytes), secp256k1 / P-256 (33), BLS (48).
fn public_key(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    let at = r.offset();
    let len = match r.u8("public key")? {
        0 => 32,
        1 | 2 => 33,
        3 => 48,
        _ => return Err(malformed("public key", at, "unknown public key tag")),
    };
    r.take(len, "public key").map(drop)
}

/// A contract id: implicit (tag 0 + tagged pkh) or originated (tag 1 + 20 bytes + padding).
fn contract(r: &mut Reader<'_>, what: &'static str) -> Result<(), DecodeError> {
    let at = r.offset();
    match r.u8(what)? {
        0 => pkh(r, what).map(drop),
        1 => r.take(21, what).map(drop),
        _ => Err(malformed(what, at, "unknown contract tag")),
    }
}

/// An entrypoint: a well-known one by tag (0–9), or 255 + a 1-byte length + name (≤ 31).
fn entrypoint(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    let at = r.offset();
    match r.u8("entrypoint")? {
        0..=9 => Ok(()),
        255 => {
            let len = r.u8("entrypoint name length")? as usize;
            if len == 0 || len > 31 {
                return Err(malformed(
                    "entrypoint",
                    at,
                    "named entrypoint of bad length",
                ));
            }
            r.take(len, "entrypoint name").map(drop)
        }
        _ => Err(malformed("entrypoint", at, "unknown entrypoint tag")),
    }
}

/// An option tag: 0x00 (none) or 0xff (some).
fn option_tag(r: &mut Reader<'_>, what: &'static str) -> Result<bool, DecodeError> {
    let at = r.offset();
    match r.u8(what)? {
        0x00 => Ok(false),
        0xff => Ok(true),
        _ => Err(malformed(what, at, "option tag must be 00 or ff")),
    }
}

/// Bytes preceded by a 4-byte big-endian length.
fn dynamic<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<&'a [u8], DecodeError> {
    let len = r.u32(what)? as usize;
    r.take(len, what)
}

/// The optional BLS proof after a public key (Seoul's `reveal`, Rio's and Seoul's
/// `update_consensus_key`): `00`, or `ff` + 4-byte length + signature. Older encodings end
/// with the key; the next byte then is the next element's tag, which is never `00` or `ff`
/// (`ff` is reserved by the protocol), so the three forms cannot be confused.
fn optional_trailing_proof(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    match r.peek_u8() {
        Some(0x00) => r.u8("proof option").map(drop),
        Some(0xff) => {
            r.u8("proof option")?;
            dynamic(r, "proof").map(drop)
        }
        _ => Ok(()),
    }
}

/// A Zarith integer (sign in bit 6 of the first byte), canonical.
fn zarith_integer(r: &mut Reader<'_>, what: &'static str) -> Result<(), DecodeError> {
    let first = r.u8(what)?;
    if first & 0x80 == 0 {
        return Ok(());
    }
    loop {
        let at = r.offset();
        let b = r.u8(what)?;
        if b & 0x80 == 0 {
            if b == 0 {
                return Err(malformed(
                    what,
                    at,
                    "non-canonical Zarith number (trailing zero byte)",
                ));
            }
            return Ok(());
        }
    }
}

#[cfg(test)]
#[path = "operation_tests.rs"]
mod tests;
