//! The double-sign rule (docs/protocol.md §3), as octez-signer applies it.
//!
//! Owns: the decision, for one (kind, chain, key) mark and one request, between signing,
//! returning the stored signature (an identical retry), and refusing. Pure: no I/O, no clock.
//! Must never allow two different payloads at the same (level, round), nor anything below a
//! signed (level, round).
//!
//! One case goes beyond octez-signer's rule, for the signer's own reservations (a mark written
//! before the vault call, without its signature yet): at the same level and round, a mark
//! without a signature whose hash is the request's may allow signing the same bytes again. The
//! signature of a reservation may never have been recorded (the vault call failed, or the
//! process stopped before recording it), and an identical retry must not be refused forever.
//! Whether that is safe depends on the kind (docs/protocol.md §3):
//!
//! - **(Pre)attestations: yes.** The protocol punishes two consensus operations at one level
//!   and round only when their block payload hashes or their branches differ (protocol 025
//!   `validate.ml`, `check_double_consensus_operation_evidence`); identical bytes signed twice
//!   with different ECDSA nonces are the same operation content, not a double sign. Their
//!   signature is recorded after the reply, so an unsigned mark may well have been released.
//! - **Blocks: only if nothing was released.** `check_double_baking_evidence` accepts any two
//!   headers at one level and round with different hashes, and a block's hash covers its
//!   signature: with Key Vault's random nonce, two signatures of one unsigned block *are* a
//!   double bake. So a block signature is recorded (durably, and in the shared container)
//!   before it leaves, and its reservation says so ([`Mark::unreleased`]): such a reservation
//!   without a signature proves no signature left for it, and the same bytes may be signed
//!   again (the store then keeps the first signature recorded and hands that one out). A block
//!   mark without a signature that carries no such proof (imported from octez or Signatory
//!   files, pushed, written by an older version that recorded after the reply) may stand for a
//!   released block: the identical block is refused ([`WatermarkError::UnsignedBlock`]).
//!
//! Every other case is octez's.

use crate::tezos::{ConsensusKind, Signature, WatermarkKey, blake2b_256};

/// What is remembered for one (kind, chain id, pkh): the last signed level/round, the
/// BLAKE2b-256 of the full signed bytes and the signature that was released.
///
/// `round` and `signature` are optional because octez's format allows them to be absent
/// (marks written before Tenderbake, or by tools that do not keep signatures); a mark without a
/// signature can never be replayed, so it refuses more, never less.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The level signed (or reserved) last: nothing below it is signed again.
    pub level: i32,
    /// The round at that level; `None` for a level-only mark (legacy kinds, pre-Tenderbake
    /// files): nothing new is signed at its level.
    pub round: Option<i32>,
    /// BLAKE2b-256 of the full signed bytes (magic byte included): an identical retry matches.
    pub hash: [u8; 32],
    /// The signature of those bytes, replayed to an identical retry; `None` for a reservation
    /// whose signature is not recorded yet, or a mark from a tool that keeps no signatures.
    pub signature: Option<Signature>,
    /// A block reservation made by a signer that records block signatures before releasing
    /// them, with no signature recorded yet: proof that no signature left any signer for it.
    /// Only ever true for an unsigned block mark; octez's files cannot express it, so marks
    /// read from them (or imported, or pushed) never carry it.
    pub unreleased: bool,
}

/// Why a mark can be neither stored nor loaded. The store checks every mark with
/// [`Mark::validate`] before writing it and the file format checks every entry with it when
/// reading, so a mark that was persisted always loads back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidMark {
    /// The mark's level (the value held) is negative: no Tezos level is.
    #[error("negative level {0}")]
    NegativeLevel(i32),
    /// The mark's round (the value held) is negative: no Tezos round is.
    #[error("negative round {0}")]
    NegativeRound(i32),
    /// Emmy (0x02) endorsement marks have no round: in `endorsement_high_watermarks` an entry
    /// with a round is a Tenderbake attestation mark of an older octez-signer.
    #[error("an Emmy endorsement mark carries no round (found round {0})")]
    RoundOnEndorsement(i32),
}

impl Mark {
    /// The one validity check shared by writing and reading: Tezos levels and rounds are never
    /// negative.
    pub fn validate(&self) -> Result<(), InvalidMark> {
        if self.level < 0 {
            return Err(InvalidMark::NegativeLevel(self.level));
        }
        match self.round {
            Some(round) if round < 0 => Err(InvalidMark::NegativeRound(round)),
            _ => Ok(()),
        }
    }

    /// [`Mark::validate`], and what the file of `kind` can hold so that it loads back as a mark
    /// of the same kind.
    pub fn validate_for(&self, kind: ConsensusKind) -> Result<(), InvalidMark> {
        self.validate()?;
        match (kind, self.round) {
            (ConsensusKind::Endorsement, Some(round)) => {
                Err(InvalidMark::RoundOnEndorsement(round))
            }
            _ => Ok(()),
        }
    }
}

/// A request as the rule sees it: kind, level, round (None for the legacy kinds: compared as
/// round 0 and recorded without a round, as octez does) and the hash of the full signed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkRequest {
    /// Which of the key's marks on the chain the request is checked against.
    pub kind: ConsensusKind,
    /// The level the request would sign at.
    pub level: i32,
    /// The round at that level; `None` for the legacy kinds (compared as round 0).
    pub round: Option<i32>,
    /// BLAKE2b-256 of the full bytes to sign, magic byte included.
    pub hash: [u8; 32],
}

impl MarkRequest {
    /// From a parsed request's watermark key and its full bytes (magic byte included).
    pub fn new(key: &WatermarkKey, data: &[u8]) -> Self {
        MarkRequest {
            kind: key.kind,
            level: key.level,
            round: key.round,
            hash: blake2b_256(data),
        }
    }

    /// The reservation of this request: its mark before the signature exists (for a block,
    /// one that says nothing was released for it yet).
    pub fn reservation(&self) -> Mark {
        Mark {
            level: self.level,
            round: self.round,
            hash: self.hash,
            signature: None,
            unreleased: self.kind == ConsensusKind::Block,
        }
    }

    /// The mark to persist once `signature` over this request has been produced.
    pub fn to_mark(&self, signature: Signature) -> Mark {
        Mark {
            level: self.level,
            round: self.round,
            hash: self.hash,
            signature: Some(signature),
            unreleased: false,
        }
    }
}

/// What the rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Higher than anything signed: sign, persist the new mark, then reply.
    Sign,
    /// The exact bytes were already signed at this (level, round): return that signature again
    /// (Key Vault signatures are not deterministic, re-signing would give another one).
    Replay(Signature),
}

/// Why a request is refused. The texts are octez-signer's own messages, so bakers and their
/// tooling see what they already know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatermarkError {
    /// The request's level is below that of a mark with a recorded signature.
    #[error("{kind} level {level} below high watermark {mark_level}")]
    Below {
        /// The request's kind.
        kind: ConsensusKind,
        /// The request's level.
        level: i32,
        /// The stored mark's level.
        mark_level: i32,
    },
    /// At the mark's level, the request's round is below the mark's, or at the round of an
    /// unsigned mark (a reservation) for other bytes.
    #[error(
        "{kind} level {level} and round {round} not above high watermark ({mark_level},{mark_round})"
    )]
    RoundNotAbove {
        /// The request's kind.
        kind: ConsensusKind,
        /// The request's level.
        level: i32,
        /// The request's round (0 for a request without one).
        round: i32,
        /// The stored mark's level.
        mark_level: i32,
        /// The stored mark's round.
        mark_round: i32,
    },
    /// The request is not above an unsigned mark: one without a round or signature (octez's
    /// oldest format) at its level or above, or an unsigned mark with a round above its level.
    #[error("{kind} level {level} not above high watermark {mark_level}")]
    LevelNotAbove {
        /// The request's kind.
        kind: ConsensusKind,
        /// The request's level.
        level: i32,
        /// The stored mark's level.
        mark_level: i32,
    },
    /// Other bytes at the (level, round) of a signed mark: signing them would be the double
    /// sign itself.
    #[error("{kind} level {level} and round {round} already signed with different data")]
    DifferentData {
        /// The request's kind.
        kind: ConsensusKind,
        /// The request's level (the mark's).
        level: i32,
        /// The request's round (the mark's).
        round: i32,
    },
    /// Same as [`WatermarkError::DifferentData`] for a mark without a round (octez's wording).
    #[error("{kind} level {level} already signed with different data")]
    DifferentDataAtLevel {
        /// The request's kind.
        kind: ConsensusKind,
        /// The request's level (the mark's).
        level: i32,
    },
    /// A block mark at this very point without a signature and without proof that none was
    /// released (imported, pushed, or from an older signer): signing the same block again could
    /// release a second signature of it, a double bake.
    #[error(
        "block level {level} and round {round} is marked without a recorded signature (imported, \
         pushed or written by an older signer): the block may have been released already, and a \
         second signature of it would be a double bake; refusing"
    )]
    UnsignedBlock {
        /// The block's level.
        level: i32,
        /// The block's round.
        round: i32,
    },
    /// The `--min-level` migration floor: nothing below it is signed until a mark exists there.
    #[error(
        "{kind} level {level} below the minimum level {floor} this signer was started with (--min-level)"
    )]
    BelowFloor {
        /// The request's kind.
        kind: ConsensusKind,
        /// The request's level.
        level: i32,
        /// The `--min-level` the signer was started with.
        floor: i32,
    },
}

impl WatermarkError {
    /// The kind of request the refusal is about.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> ConsensusKind {
        match self {
            WatermarkError::Below { kind, .. }
            | WatermarkError::RoundNotAbove { kind, .. }
            | WatermarkError::LevelNotAbove { kind, .. }
            | WatermarkError::DifferentData { kind, .. }
            | WatermarkError::DifferentDataAtLevel { kind, .. }
            | WatermarkError::BelowFloor { kind, .. } => *kind,
            WatermarkError::UnsignedBlock { .. } => ConsensusKind::Block,
        }
    }
}

/// Decides `req` against the stored `mark` (if any) for the same (kind, chain, key), and the
/// optional `floor` (`--min-level`): a request the mark would let through is still refused
/// when its level is below the floor. An identical retry of a stored signature is always
/// answered with that signature (it releases nothing new).
pub fn check(
    mark: Option<&Mark>,
    req: &MarkRequest,
    floor: Option<i32>,
) -> Result<Decision, WatermarkError> {
    let decision = match mark {
        None => Decision::Sign,
        Some(mark) => check_mark(mark, req)?,
    };
    match (decision, floor) {
        (Decision::Sign, Some(floor)) if req.level < floor => Err(WatermarkError::BelowFloor {
            kind: req.kind,
            level: req.level,
            floor,
        }),
        (decision, _) => Ok(decision),
    }
}

/// octez's `check_mark`, case by case on which optional parts the mark has.
fn check_mark(mark: &Mark, req: &MarkRequest) -> Result<Decision, WatermarkError> {
    let (kind, level, round) = (req.kind, req.level, req.round.unwrap_or(0));
    let below = || WatermarkError::Below {
        kind,
        level,
        mark_level: mark.level,
    };
    let level_not_above = || WatermarkError::LevelNotAbove {
        kind,
        level,
        mark_level: mark.level,
    };
    match (mark.round, mark.signature) {
        (None, None) if mark.level >= level => Err(level_not_above()),
        (None, None) => Ok(Decision::Sign),
        (None, Some(sig)) => {
            if mark.level > level {
                Err(below())
            } else if mark.level == level {
                if mark.hash == req.hash {
                    Ok(Decision::Replay(sig))
                } else {
                    Err(WatermarkError::DifferentDataAtLevel { kind, level })
                }
            } else {
                Ok(Decision::Sign)
            }
        }
        (Some(mark_round), signature) => {
            let round_not_above = || WatermarkError::RoundNotAbove {
                kind,
                level,
                round,
                mark_level: mark.level,
                mark_round,
            };
            if mark.level > level {
                return Err(match signature {
                    Some(_) => below(),
                    None => level_not_above(),
                });
            }
            if mark.level < level || mark_round < round {
                return Ok(Decision::Sign);
            }
            // Same level, round not higher.
            match signature {
                _ if mark_round > round => Err(round_not_above()),
                // A reservation of these very bytes, its signature not recorded: sign again
                // (see the module documentation for why this is no double sign), except a
                // block that may have been released.
                None if mark.hash == req.hash && kind == ConsensusKind::Block => {
                    if mark.unreleased {
                        Ok(Decision::Sign)
                    } else {
                        Err(WatermarkError::UnsignedBlock { level, round })
                    }
                }
                None if mark.hash == req.hash => Ok(Decision::Sign),
                None => Err(round_not_above()),
                Some(sig) if mark.hash == req.hash => Ok(Decision::Replay(sig)),
                Some(_) => Err(WatermarkError::DifferentData { kind, level, round }),
            }
        }
    }
}

#[cfg(test)]
#[path = "rule_tests.rs"]
mod tests;
