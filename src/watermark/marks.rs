//! Every mark of a data directory, in memory: what the rule reads, and what the files are
//! rendered from.
//!
//! Owns: the regression check a new mark must pass ([`Marks::check_new`]), applying a mark
//! once it is durable, adding a released signature to its reservation, and which kinds' files
//! are behind memory ("dirty"). Pure: no I/O. Each entry keeps its encoded form, so rendering
//! a file re-encodes nothing that did not change.

use std::collections::{BTreeMap, BTreeSet};

use super::data_dir::StoreError;
use super::format::{self, KindFile, KindMarks};
use super::mark_store::Slot;
use super::rule::Mark;
use crate::tezos::{ChainId, ConsensusKind, Pkh, Signature};

/// A kind's file with nothing in it (the kinds that carry no older entries).
static NO_ENTRIES: KindFile = KindFile::EMPTY;

#[derive(Debug, Default)]
pub struct Marks {
    files: BTreeMap<ConsensusKind, KindFile>,
    /// Entries of `endorsement_high_watermarks` that carry a round: Tenderbake attestation
    /// marks an octez-signer of 2024 or earlier wrote there. They are also attestation marks
    /// and stay in that file, as octez wrote them.
    carried: KindFile,
    /// The chains each key has marks on, any kind.
    chains: BTreeMap<Pkh, BTreeSet<ChainId>>,
    /// Kinds whose file is behind memory (marks only in the journal, or signatures only here).
    dirty: BTreeSet<ConsensusKind>,
}

impl Marks {
    pub fn new(marks: BTreeMap<ConsensusKind, KindMarks>, carried: KindMarks) -> Marks {
        let mut chains: BTreeMap<Pkh, BTreeSet<ChainId>> = BTreeMap::new();
        for kind_marks in marks.values() {
            for (chain, keys) in kind_marks {
                for pkh in keys.keys() {
                    chains.entry(*pkh).or_default().insert(*chain);
                }
            }
        }
        Marks {
            files: marks
                .into_iter()
                .map(|(k, m)| (k, KindFile::new(m)))
                .collect(),
            carried: KindFile::new(carried),
            chains,
            dirty: BTreeSet::new(),
        }
    }

    pub fn get(&self, kind: ConsensusKind, chain: &ChainId, pkh: &Pkh) -> Option<&Mark> {
        self.files.get(&kind)?.marks.get(chain)?.get(pkh)
    }

    pub fn chains_of(&self, pkh: &Pkh) -> Option<&BTreeSet<ChainId>> {
        self.chains.get(pkh)
    }

    pub fn entries(&self) -> impl Iterator<Item = (ConsensusKind, ChainId, Pkh, &Mark)> {
        self.files.iter().flat_map(|(kind, file)| {
            file.marks.iter().flat_map(move |(chain, keys)| {
                keys.iter().map(move |(pkh, m)| (*kind, *chain, *pkh, m))
            })
        })
    }

    /// Whether `mark` may become the mark of `slot`: valid for its kind and strictly above the
    /// current one in (level, round), or the current reservation's signature (a block's,
    /// recorded before release). `Ok(false)`: it is the current mark already (an identical
    /// retry whose first signature was never recorded, or the same signature again), nothing
    /// to write.
    pub fn check_new(&self, slot: &Slot, mark: &Mark) -> Result<bool, StoreError> {
        let Slot { kind, chain, pkh } = *slot;
        mark.validate_for(kind)
            .map_err(|reason| StoreError::InvalidMark {
                kind,
                chain,
                pkh,
                reason,
            })?;
        let Some(old) = self.get(kind, &chain, &pkh) else {
            return Ok(true);
        };
        if same_point(old, mark) {
            match (old.signature, mark.signature) {
                // A mark without a round is level-only: never reserved twice.
                (None, None) if old.round.is_some() => return Ok(false),
                (None, Some(_)) => return Ok(true),
                (Some(a), Some(b)) if a == b => return Ok(false),
                _ => {}
            }
        }
        let from = (old.level, old.round.unwrap_or(0));
        let to = (mark.level, mark.round.unwrap_or(0));
        // A mark without a round is level-only: the same level can never be re-marked.
        if to <= from || (old.round.is_none() && mark.level <= old.level) {
            return Err(StoreError::Regression {
                kind,
                chain,
                pkh,
                from_level: from.0,
                from_round: from.1,
                to_level: to.0,
                to_round: to.1,
            });
        }
        Ok(true)
    }

    /// Makes `mark` the mark of `slot` (after it is durable); its file is then dirty.
    pub fn apply(&mut self, slot: Slot, mark: Mark) {
        let entry = format::encode_entry(&slot.pkh, &mark);
        self.files
            .entry(slot.kind)
            .or_default()
            .insert(slot.chain, slot.pkh, mark, entry);
        self.chains.entry(slot.pkh).or_default().insert(slot.chain);
        self.dirty.insert(slot.kind);
    }

    /// Raises `slot` to `mark` if it is above the current mark, or completes the current
    /// unsigned mark at the same point with the signature or the unreleased proof `mark` carries
    /// (replaying the journal at open: the files lose the proof, the journal keeps it).
    pub fn raise(&mut self, slot: Slot, mark: Mark) -> bool {
        let higher = match self.get(slot.kind, &slot.chain, &slot.pkh) {
            None => true,
            Some(old) if same_point(old, &mark) => {
                old.signature.is_none()
                    && (mark.signature.is_some() || (mark.unreleased && !old.unreleased))
            }
            Some(old) => {
                (mark.level, mark.round.unwrap_or(0)) > (old.level, old.round.unwrap_or(0))
            }
        };
        if higher {
            self.apply(slot, mark);
        }
        higher
    }

    /// Adds `signature` to the mark of `slot`, which must be the unsigned one at `level`,
    /// `round` for `hash`. Memory only: the next checkpoint carries it to the file.
    pub fn record_signature(
        &mut self,
        slot: Slot,
        level: i32,
        round: Option<i32>,
        hash: [u8; 32],
        signature: Signature,
    ) -> Result<(), StoreError> {
        let Slot { kind, chain, pkh } = slot;
        match self.get(kind, &chain, &pkh) {
            Some(m)
                if m.level == level
                    && m.round == round
                    && m.hash == hash
                    && m.signature.is_none() =>
            {
                let mark = Mark {
                    signature: Some(signature),
                    unreleased: false,
                    ..m.clone()
                };
                self.apply(slot, mark);
                Ok(())
            }
            _ => Err(StoreError::NotAReservation {
                kind,
                chain,
                pkh,
                level,
            }),
        }
    }

    /// The block reservations that prove nothing was released for them
    /// ([`Mark::unreleased`]): octez's files cannot hold that proof, so the journal carries
    /// them into each new generation.
    pub fn unreleased(&self) -> Vec<(Slot, Mark)> {
        let Some(file) = self.files.get(&ConsensusKind::Block) else {
            return Vec::new();
        };
        file.marks
            .iter()
            .flat_map(|(chain, keys)| {
                keys.iter()
                    .filter(|(_, m)| m.unreleased && m.signature.is_none())
                    .map(|(pkh, m)| {
                        let slot = Slot {
                            kind: ConsensusKind::Block,
                            chain: *chain,
                            pkh: *pkh,
                        };
                        (slot, m.clone())
                    })
            })
            .collect()
    }

    /// The text of every dirty kind's file, now clean (mark them dirty again if the write
    /// fails).
    pub fn take_dirty(&mut self) -> Vec<(ConsensusKind, String)> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|kind| (kind, self.render(kind)))
            .collect()
    }

    pub fn mark_dirty(&mut self, kinds: impl IntoIterator<Item = ConsensusKind>) {
        self.dirty.extend(kinds);
    }

    pub fn is_dirty(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// The full text of `kind`'s file.
    pub fn render(&self, kind: ConsensusKind) -> String {
        let extra = if kind == ConsensusKind::Endorsement {
            &self.carried
        } else {
            &NO_ENTRIES
        };
        self.files.get(&kind).unwrap_or(&NO_ENTRIES).render(extra)
    }
}

/// The same (level, round) and bytes.
fn same_point(a: &Mark, b: &Mark) -> bool {
    (a.level, a.round, a.hash) == (b.level, b.round, b.hash)
}
