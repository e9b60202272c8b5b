//! Decoding of the bytes a baker asks us to sign (docs/protocol.md §2 and §4).
//!
//! Owns: the magic-byte table and the strict layouts of blocks and (pre)attestations.
//! Pure and total: every input yields a value or a typed error naming the byte offset;
//! nothing here panics, whatever the bytes.

pub use super::kinds::{ChainId, ConsensusKind, MagicByte, RequestKind};
use super::reader::{DecodeError, Reader, non_negative};

/// A Tenderbake block header (magic 0x11) or a legacy Emmy block (0x01, round 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockHeader {
    /// The chain the block belongs to.
    pub chain_id: ChainId,
    /// The block's level (height), never negative.
    pub level: i32,
    /// The block's round: the last element of the fitness. This is what the watermark uses.
    pub round: i32,
    /// The round at which the payload was proposed (not the block's round).
    pub payload_round: i32,
    /// True for an Emmy block (magic 0x01): only chain and level are read; round is 0.
    pub legacy: bool,
}

/// Operation tags of consensus operations that tz2/tz3 keys can sign.
pub(crate) const TAG_PREATTESTATION: u8 = 0x14;
pub(crate) const TAG_ATTESTATION: u8 = 0x15;
pub(crate) const TAG_ATTESTATION_WITH_DAL: u8 = 0x17;
/// Tags that only BLS (tz4) keys can sign.
pub(crate) const BLS_ONLY_TAGS: [u8; 4] = [0x28, 0x29, 0x1e, 0x1f];
const CONSENSUS_LEN: usize = 80;

/// A preattestation or attestation (magic 0x12 / 0x13), or a legacy endorsement (0x02).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusOperation {
    /// The chain the operation is for.
    pub chain_id: ChainId,
    /// The hash of the block the operation is anchored to.
    pub branch: [u8; 32],
    /// The operation tag: 0x14 preattestation, 0x15 attestation, 0x17 attestation with DAL.
    pub tag: u8,
    /// The delegate's first consensus slot at this level.
    pub slot: u16,
    /// The level being (pre)attested, never negative.
    pub level: i32,
    /// The round being (pre)attested, never negative.
    pub round: i32,
    /// The hash of the block payload being (pre)attested.
    pub payload_hash: [u8; 32],
    /// The DAL attestation bitset (a Zarith natural, raw bytes) for tag 0x17.
    pub dal_content: Option<Vec<u8>>,
}

/// A generic (manager) operation batch (magic 0x03): branch and undecoded contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenericOperation {
    /// The hash of the block the batch is anchored to.
    pub branch: [u8; 32],
    /// The operation contents (tag-prefixed operations, never empty), left undecoded here.
    pub contents: Vec<u8>,
}

/// A parsed signing request. Construct with [`SigningRequest::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningRequest {
    /// A Tenderbake (0x11) or legacy Emmy (0x01) block header.
    Block(BlockHeader),
    /// A preattestation (0x12, tag 0x14).
    Preattestation(ConsensusOperation),
    /// An attestation (0x13): tag 0x15, or 0x17 with DAL content.
    Attestation(ConsensusOperation),
    /// An Emmy endorsement (0x02): only what its watermark needs is kept.
    LegacyEndorsement {
        /// The chain the endorsement is for.
        chain_id: ChainId,
        /// The endorsed level, taken from the request's last four bytes as octez-signer does.
        level: i32,
    },
    /// A generic operation batch (0x03): transactions, delegations, reveals, and so on.
    Generic(GenericOperation),
    /// An authentication payload (0x04); holds the bytes after the magic byte.
    Authentication(Vec<u8>),
    /// Packed Michelson data (0x05); holds the Micheline bytes after the magic byte.
    MichelsonData(Vec<u8>),
}

/// What a request is, for logs, metrics and refusals: its kind and, when its encoding says,
/// its chain, level and round. Derived once from the parsed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSummary {
    /// The request's kind, by its one name in logs and metrics.
    pub kind: RequestKind,
    /// The chain, for watermarked kinds (blocks, (pre)attestations, legacy endorsements).
    pub chain: Option<ChainId>,
    /// The level, for watermarked kinds.
    pub level: Option<i32>,
    /// The round, for Tenderbake blocks and (pre)attestations; `None` for other kinds.
    pub round: Option<i32>,
}

/// What the watermark needs to know about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatermarkKey {
    /// Which high watermark applies (legacy blocks share [`ConsensusKind::Block`]'s).
    pub kind: ConsensusKind,
    /// The chain the mark is kept for: each chain has its own high watermarks.
    pub chain_id: ChainId,
    /// The request's level, compared before the round.
    pub level: i32,
    /// None for the legacy kinds (0x01, 0x02): octez records no round for them and compares
    /// them as round 0.
    pub round: Option<i32>,
}

impl SigningRequest {
    /// Strictly decodes `bytes` (magic byte first).
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        let mut r = Reader::new(bytes);
        let magic_byte = r.u8("magic byte")?;
        let magic =
            MagicByte::from_byte(magic_byte).ok_or(DecodeError::UnknownMagicByte(magic_byte))?;
        match magic {
            MagicByte::Block => parse_block(&mut r).map(SigningRequest::Block),
            MagicByte::LegacyBlock => parse_legacy_block(&mut r).map(SigningRequest::Block),
            MagicByte::Preattestation => {
                parse_consensus(&mut r, &[TAG_PREATTESTATION], "preattestation (0x12)")
                    .map(SigningRequest::Preattestation)
            }
            MagicByte::Attestation => parse_consensus(
                &mut r,
                &[TAG_ATTESTATION, TAG_ATTESTATION_WITH_DAL],
                "attestation (0x13)",
            )
            .map(SigningRequest::Attestation),
            MagicByte::LegacyEndorsement => {
                let chain_id = ChainId(r.array("chain id")?);
                let _branch: [u8; 32] = r.array("branch")?;
                let _tag = r.u8("operation tag")?;
                let _level = r.non_negative_i32("level")?;
                // octez-signer takes the level from the last four bytes (the same field for an
                // endorsement; any trailing bytes must not change which mark is used).
                let at = bytes.len() - 4;
                let mut last = [0u8; 4];
                last.copy_from_slice(&bytes[at..]);
                let level = non_negative("level", i32::from_be_bytes(last), at)?;
                Ok(SigningRequest::LegacyEndorsement { chain_id, level })
            }
            MagicByte::Generic => {
                let branch = r.array("branch")?;
                let contents = r.rest();
                if contents.is_empty() {
                    return Err(DecodeError::Truncated {
                        what: "operation contents",
                        offset: bytes.len(),
                        needed: 1,
                    });
                }
                Ok(SigningRequest::Generic(GenericOperation {
                    branch,
                    contents: contents.to_vec(),
                }))
            }
            MagicByte::Authentication => Ok(SigningRequest::Authentication(r.rest().to_vec())),
            MagicByte::MichelsonData => Ok(SigningRequest::MichelsonData(r.rest().to_vec())),
        }
    }

    /// The magic byte the request was decoded from (0x01 for a legacy block).
    pub fn magic_byte(&self) -> MagicByte {
        match self {
            SigningRequest::Block(b) if b.legacy => MagicByte::LegacyBlock,
            SigningRequest::Block(_) => MagicByte::Block,
            SigningRequest::Preattestation(_) => MagicByte::Preattestation,
            SigningRequest::Attestation(_) => MagicByte::Attestation,
            SigningRequest::LegacyEndorsement { .. } => MagicByte::LegacyEndorsement,
            SigningRequest::Generic(_) => MagicByte::Generic,
            SigningRequest::Authentication(_) => MagicByte::Authentication,
            SigningRequest::MichelsonData(_) => MagicByte::MichelsonData,
        }
    }

    /// The request's kind.
    pub fn kind(&self) -> RequestKind {
        match self {
            SigningRequest::Block(b) if b.legacy => RequestKind::LegacyBlock,
            SigningRequest::Block(_) => RequestKind::Block,
            SigningRequest::Preattestation(_) => RequestKind::Preattestation,
            SigningRequest::Attestation(op) if op.tag == TAG_ATTESTATION_WITH_DAL => {
                RequestKind::AttestationWithDal
            }
            SigningRequest::Attestation(_) => RequestKind::Attestation,
            SigningRequest::LegacyEndorsement { .. } => RequestKind::LegacyEndorsement,
            SigningRequest::Generic(_) => RequestKind::Generic,
            SigningRequest::Authentication(_) => RequestKind::Authentication,
            SigningRequest::MichelsonData(_) => RequestKind::MichelsonData,
        }
    }

    /// Kind, chain, level and round, for logs and metrics.
    pub fn summary(&self) -> RequestSummary {
        let wm = self.watermark_key();
        RequestSummary {
            kind: self.kind(),
            chain: wm.map(|w| w.chain_id),
            level: wm.map(|w| w.level),
            round: wm.and_then(|w| w.round),
        }
    }

    /// The high watermark this request is subject to, if any. As octez-signer does: legacy
    /// blocks share the block watermark, legacy endorsements have their own (`endorsement`),
    /// and neither has a round.
    pub fn watermark_key(&self) -> Option<WatermarkKey> {
        let (kind, chain_id, level, round) = match self {
            SigningRequest::Block(b) => (
                ConsensusKind::Block,
                b.chain_id,
                b.level,
                (!b.legacy).then_some(b.round),
            ),
            SigningRequest::Preattestation(c) => (
                ConsensusKind::Preattestation,
                c.chain_id,
                c.level,
                Some(c.round),
            ),
            SigningRequest::Attestation(c) => (
                ConsensusKind::Attestation,
                c.chain_id,
                c.level,
                Some(c.round),
            ),
            SigningRequest::LegacyEndorsement { chain_id, level } => {
                (ConsensusKind::Endorsement, *chain_id, *level, None)
            }
            _ => return None,
        };
        Some(WatermarkKey {
            kind,
            chain_id,
            level,
            round,
        })
    }

    /// The chain this request is bound to, when its encoding says.
    pub fn chain_id(&self) -> Option<ChainId> {
        self.watermark_key().map(|w| w.chain_id)
    }
}

fn parse_block(r: &mut Reader<'_>) -> Result<BlockHeader, DecodeError> {
    let chain_id = ChainId(r.array("chain id")?);
    let level = r.non_negative_i32("level")?;
    let _proto = r.u8("proto level")?;
    let _predecessor: [u8; 32] = r.array("predecessor")?;
    let _timestamp = r.i64("timestamp")?;
    let _validation_passes = r.u8("validation passes")?;
    let _operations_hash: [u8; 32] = r.array("operations hash")?;
    let round = parse_fitness(r, level)?;
    let _context: [u8; 32] = r.array("context hash")?;
    let _payload_hash: [u8; 32] = r.array("payload hash")?;
    let payload_round = r.non_negative_i32("payload round")?;
    // Proof-of-work nonce; what follows (seed nonce hash option, per-block votes, and fields
    // future protocols may add) does not affect the watermark and is left to the protocol.
    let _pow: [u8; 8] = r.array("proof-of-work nonce")?;
    Ok(BlockHeader {
        chain_id,
        level,
        round,
        payload_round,
        legacy: false,
    })
}

/// Tenderbake fitness: version 02, level, locked round (empty or 4 bytes),
/// −1 − predecessor round, round. Returns the round (last element).
fn parse_fitness(r: &mut Reader<'_>, level: i32) -> Result<i32, DecodeError> {
    let start = r.offset();
    let total = r.u32("fitness length")? as usize;
    let body_start = r.offset();
    let body = r.take(total, "fitness")?;
    let mut f = Reader::with_base(body, body_start);
    let mut elements: Vec<(usize, &[u8])> = Vec::with_capacity(5);
    let bad = |offset: usize, reason: String| DecodeError::Fitness { offset, reason };
    while !f.is_empty() {
        let at = f.offset();
        let element = f
            .u32("fitness element length")
            .and_then(|len| f.take(len as usize, "fitness element"));
        let element = element.map_err(|_| {
            bad(
                at,
                format!("element lengths do not add up to the fitness length {total}"),
            )
        })?;
        elements.push((at, element));
    }
    if elements.len() != 5 {
        return Err(bad(
            start,
            format!("expected 5 fitness elements, found {}", elements.len()),
        ));
    }
    let (at, version) = elements[0];
    if version != [0x02] {
        return Err(bad(
            at,
            format!("fitness version must be 02, found {}", hex::encode(version)),
        ));
    }
    let expect4 = |i: usize, what: &str| -> Result<[u8; 4], DecodeError> {
        let (at, v) = elements[i];
        v.try_into()
            .map_err(|_| bad(at, format!("{what} must be 4 bytes, found {}", v.len())))
    };
    let fitness_level = i32::from_be_bytes(expect4(1, "fitness level")?);
    if fitness_level != level {
        return Err(bad(
            elements[1].0,
            format!("fitness level {fitness_level} differs from the header level {level}"),
        ));
    }
    let (at, locked) = elements[2];
    if !locked.is_empty() && locked.len() != 4 {
        return Err(bad(
            at,
            format!(
                "locked round must be empty or 4 bytes, found {}",
                locked.len()
            ),
        ));
    }
    expect4(3, "predecessor round")?;
    let round = i32::from_be_bytes(expect4(4, "round")?);
    // The element's 4-byte length prefix comes first.
    non_negative("round", round, elements[4].0 + 4)
}

fn parse_legacy_block(r: &mut Reader<'_>) -> Result<BlockHeader, DecodeError> {
    let chain_id = ChainId(r.array("chain id")?);
    let level = r.non_negative_i32("level")?;
    Ok(BlockHeader {
        chain_id,
        level,
        round: 0,
        payload_round: 0,
        legacy: true,
    })
}

fn parse_consensus(
    r: &mut Reader<'_>,
    allowed_tags: &[u8],
    what: &'static str,
) -> Result<ConsensusOperation, DecodeError> {
    let chain_id = ChainId(r.array("chain id")?);
    let branch = r.array("branch")?;
    let tag_offset = r.offset();
    let tag = r.u8("operation tag")?;
    if BLS_ONLY_TAGS.contains(&tag) {
        return Err(DecodeError::BlsOnlyTag {
            tag,
            offset: tag_offset,
        });
    }
    if !allowed_tags.contains(&tag) {
        return Err(DecodeError::TagMismatch {
            tag,
            offset: tag_offset,
            magic: what,
        });
    }
    let slot = r.u16("slot")?;
    let level = r.non_negative_i32("level")?;
    let round = r.non_negative_i32("round")?;
    let payload_hash = r.array("block payload hash")?;
    debug_assert_eq!(r.offset(), CONSENSUS_LEN);
    let dal_content = if tag == TAG_ATTESTATION_WITH_DAL {
        Some(r.zarith_natural("DAL content")?.to_vec())
    } else {
        None
    };
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes {
            offset: r.offset(),
            count: r.remaining(),
        });
    }
    Ok(ConsensusOperation {
        chain_id,
        branch,
        tag,
        slot,
        level,
        round,
        payload_hash,
        dal_content,
    })
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
