//! The embedded high-watermark store: octez-signer's files in a data directory.
//!
//! Owns: loading every mark at open, the exclusive lock on the directory for the store's
//! lifetime, and persisting a new mark durably (see [`crate::private_fs::write_durably`]) before
//! [`WatermarkStore::persist`] returns. The in-memory state changes only after the file is on
//! disk, so memory never claims more than the disk holds. Never resets, skips or guesses: a
//! file that cannot be read or parsed stops [`WatermarkStore::open`], and a mark that would go
//! backwards is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::files;
use super::format::{self, KindFile, file_name};
use super::lock::DirLock;
use super::rule::{InvalidMark, Mark};
use crate::private_fs::{WriteError, write_durably};
use crate::tezos::{ChainId, ConsensusKind, Pkh};

/// Store failures. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory {} is in use by another process: {holder}. Stop it first: two \
         signers sharing watermarks could double sign",
        dir.display()
    )]
    Locked { dir: PathBuf, holder: String },
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot parse the watermark file {}: {reason}. Refusing to run with an unknown \
         watermark state: repair or restore the file (it is never reset automatically)",
        path.display()
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error(
        "the stored {kind} signature of {pkh} at level {level} does not verify for the same \
         bytes: refusing to return it (check the watermark file)"
    )]
    InvalidStoredSignature {
        kind: ConsensusKind,
        pkh: Pkh,
        level: i32,
    },
    #[error(
        "the watermark store is unavailable after an internal failure ({0}): restart the signer"
    )]
    Unavailable(String),
    #[error(
        "refusing to move the {kind} watermark of {pkh} on {chain} from ({from_level},{from_round}) \
         to ({to_level},{to_round}): watermarks only go up"
    )]
    Regression {
        kind: ConsensusKind,
        chain: ChainId,
        pkh: Pkh,
        from_level: i32,
        from_round: i32,
        to_level: i32,
        to_round: i32,
    },
    #[error(
        "{} is {what}: watermark files must be regular files in the data directory (a link \
         could make the signer read or overwrite marks elsewhere). Replace it with the file \
         itself",
        path.display()
    )]
    NotARegularFile { path: PathBuf, what: &'static str },
    #[error(
        "{} is a watermark file this signer does not understand: it may hold marks that would \
         be ignored. Move it out of the data directory (after checking what it holds)",
        path.display()
    )]
    UnknownFile { path: PathBuf },
    #[error(
        "the data directory {} is writable by every user (mode {mode:o}): anyone could replace \
         its watermarks. Run `chmod o-w {}` (the signer creates it with mode 700)",
        dir.display(), dir.display()
    )]
    UnsafePermissions { dir: PathBuf, mode: u32 },
    #[error(
        "the data directory {} was moved or replaced while this signer held it: refusing to \
         write marks another signer could be ignoring. Restart the signer",
        dir.display()
    )]
    DirectoryReplaced { dir: PathBuf },
    #[error(
        "no reservation to complete: the {kind} watermark of {pkh} on {chain} is not the \
         unsigned mark at level {level} it should be"
    )]
    NotAReservation {
        kind: ConsensusKind,
        chain: ChainId,
        pkh: Pkh,
        level: i32,
    },
    #[error(
        "refusing to store the {kind} watermark of {pkh} on {chain}: {reason} (the file could \
         not be loaded back)"
    )]
    InvalidMark {
        kind: ConsensusKind,
        chain: ChainId,
        pkh: Pkh,
        reason: InvalidMark,
    },
    /// The shared store (`--shared-watermarks`) refused or failed.
    #[error(transparent)]
    Shared(super::shared::SharedError),
}

impl From<WriteError> for StoreError {
    fn from(e: WriteError) -> Self {
        StoreError::Io {
            op: e.op,
            path: e.path,
            source: e.source,
        }
    }
}

/// A kind's file with nothing in it (the kinds that carry no older entries).
static NO_ENTRIES: KindFile = KindFile::EMPTY;

/// The high watermarks of one data directory, held exclusively by this process.
#[derive(Debug)]
pub struct WatermarkStore {
    dir: PathBuf,
    files: BTreeMap<ConsensusKind, KindFile>,
    /// Entries of `endorsement_high_watermarks` that carry a round: Tenderbake attestation
    /// marks an octez-signer of 2024 or earlier wrote there. They are also attestation marks
    /// (see [`WatermarkStore::open`]) and stay in that file, as octez wrote them.
    carried: KindFile,
    /// The chains each key has marks on, any kind.
    chains: BTreeMap<Pkh, BTreeSet<ChainId>>,
    /// Kinds whose file lacks signatures recorded in memory since its last write.
    unflushed: BTreeSet<ConsensusKind>,
    lock: DirLock,
}

/// What [`WatermarkStore::open`] found in files of older octez-signer versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migration {
    /// (file name, marks found in it, marks it raised in the current file).
    pub found: Vec<(&'static str, usize, usize)>,
}

impl WatermarkStore {
    /// Opens (creating it with mode 0700 if missing) the data directory, locks it, removes
    /// temporary files left by an interrupted write, and loads the watermark files, including
    /// the names older octez-signer versions used (raising the current files to them).
    pub fn open(dir: impl AsRef<Path>) -> Result<WatermarkStore, StoreError> {
        Self::open_reporting(dir).map(|(store, _)| store)
    }

    /// [`WatermarkStore::open`], also saying what it took from older octez-signer files (each
    /// is logged too).
    pub fn open_reporting(
        dir: impl AsRef<Path>,
    ) -> Result<(WatermarkStore, Migration), StoreError> {
        let dir = dir.as_ref().to_path_buf();
        crate::private_fs::create_all(&dir).map_err(|source| StoreError::Io {
            op: "create the data directory",
            path: dir.clone(),
            source,
        })?;
        files::check_permissions(&dir)?;
        // The directory's own entry must be durable too, or a power cut could take it, and
        // every mark written into it, away. Always, not only when this call created it: the
        // caller (serve) may have created it a moment ago.
        sync_parent(&dir)?;
        let lock = DirLock::acquire(&dir)?;
        files::check_names(&dir)?;
        for kind in ConsensusKind::ALL {
            files::remove_stale_temp(&dir, file_name(kind))?;
        }
        let files::DirMarks {
            marks,
            carried,
            older,
        } = files::read_all(&dir)?;
        let mut migration = Migration::default();
        for (from, kind, found, raised) in older {
            tracing::info!(
                file = from,
                marks = found,
                raised,
                into = file_name(kind),
                "found {kind} marks in the file an older octez-signer wrote them to"
            );
            if raised > 0 {
                // Durably in the current file before anything is signed: the marks stay even
                // if the older file is later rewritten or removed.
                let current = marks.get(&kind).cloned().unwrap_or_default();
                write_durably(
                    &dir,
                    file_name(kind),
                    format::render(&current).as_bytes(),
                    0o600,
                )?;
            }
            migration.found.push((from, found, raised));
        }
        let mut chains: BTreeMap<Pkh, BTreeSet<ChainId>> = BTreeMap::new();
        for kind_marks in marks.values() {
            for (chain, keys) in kind_marks {
                for pkh in keys.keys() {
                    chains.entry(*pkh).or_default().insert(*chain);
                }
            }
        }
        let files = marks
            .into_iter()
            .map(|(k, m)| (k, KindFile::new(m)))
            .collect();
        let store = WatermarkStore {
            dir,
            files,
            carried: KindFile::new(carried),
            chains,
            unflushed: BTreeSet::new(),
            lock,
        };
        Ok((store, migration))
    }

    /// The current mark for (kind, chain, key), if any.
    pub fn get(&self, kind: ConsensusKind, chain: &ChainId, pkh: &Pkh) -> Option<&Mark> {
        self.files.get(&kind)?.marks.get(chain)?.get(pkh)
    }

    /// The chains `pkh` has marks on (any kind).
    pub fn chains_of(&self, pkh: &Pkh) -> Option<&BTreeSet<ChainId>> {
        self.chains.get(pkh)
    }

    /// Every mark, for inspection (`kind, chain, key, mark`).
    pub fn entries(&self) -> impl Iterator<Item = (ConsensusKind, ChainId, Pkh, &Mark)> {
        self.files.iter().flat_map(|(kind, file)| {
            file.marks.iter().flat_map(move |(chain, keys)| {
                keys.iter().map(move |(pkh, m)| (*kind, *chain, *pkh, m))
            })
        })
    }

    /// Records `mark` for (kind, chain, key) and writes the kind's file durably. Returns only
    /// after the file and its directory entry are on disk. The new mark must be valid for its kind (see
    /// [`Mark::validate_for`]) and strictly above the stored one in (level, round); on any error
    /// nothing changes. The write re-encodes only this entry.
    pub fn persist(
        &mut self,
        kind: ConsensusKind,
        chain: ChainId,
        pkh: Pkh,
        mark: Mark,
    ) -> Result<(), StoreError> {
        mark.validate_for(kind)
            .map_err(|reason| StoreError::InvalidMark {
                kind,
                chain,
                pkh,
                reason,
            })?;
        if let Some(old) = self.get(kind, &chain, &pkh) {
            // The same reservation again (an identical retry whose first signature was never
            // recorded): it is already on disk.
            if old.signature.is_none()
                && mark.signature.is_none()
                && old.round.is_some()
                && (old.level, old.round, old.hash) == (mark.level, mark.round, mark.hash)
            {
                return Ok(());
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
        }
        self.write_entry(kind, chain, pkh, mark)
    }

    /// Adds `signature` to the mark of (kind, chain, key), which must be the one at `level`,
    /// `round` for `hash` and carry no signature yet (a reservation). In memory only: the next
    /// write of the kind's file carries it to disk. Losing it in a crash only means that an
    /// identical retry is signed again, which is no double sign (see the rule's module doc);
    /// the reservation itself is what must be durable, and it already is.
    pub fn record_signature(
        &mut self,
        slot: super::seam::Slot,
        level: i32,
        round: Option<i32>,
        hash: [u8; 32],
        signature: crate::tezos::Signature,
    ) -> Result<(), StoreError> {
        let super::seam::Slot { kind, chain, pkh } = slot;
        let current = self.get(kind, &chain, &pkh).cloned();
        match current {
            Some(m) if m.level == level && m.round == round && m.hash == hash => {
                if m.signature.is_some() {
                    return Err(StoreError::NotAReservation {
                        kind,
                        chain,
                        pkh,
                        level,
                    });
                }
                let mark = Mark {
                    signature: Some(signature),
                    ..m
                };
                let entry = format::encode_entry(&pkh, &mark);
                self.files
                    .entry(kind)
                    .or_default()
                    .insert(chain, pkh, mark, entry);
                self.unflushed.insert(kind);
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

    /// Writes every file that lacks signatures recorded since its last write (a clean
    /// shutdown: so that identical retries after a restart get their signatures back).
    pub fn flush(&mut self) -> Result<(), StoreError> {
        for kind in std::mem::take(&mut self.unflushed) {
            self.lock.still_holds()?;
            let file = self.files.get(&kind).unwrap_or(&NO_ENTRIES);
            let text = file.render(self.extra_for(kind));
            write_durably(&self.dir, file_name(kind), text.as_bytes(), 0o600)?;
        }
        Ok(())
    }

    /// The entries a kind's file carries besides its own marks: the older attestation entries
    /// of `endorsement_high_watermarks`.
    fn extra_for(&self, kind: ConsensusKind) -> &KindFile {
        if kind == ConsensusKind::Endorsement {
            &self.carried
        } else {
            &NO_ENTRIES
        }
    }

    /// Writes the kind's file with `mark` in place for (chain, key), then records it in memory.
    fn write_entry(
        &mut self,
        kind: ConsensusKind,
        chain: ChainId,
        pkh: Pkh,
        mark: Mark,
    ) -> Result<(), StoreError> {
        self.lock.still_holds()?;
        let entry = format::encode_entry(&pkh, &mark);
        let file = self.files.get(&kind).unwrap_or(&NO_ENTRIES);
        let text = file.render_with(chain, pkh, &entry, self.extra_for(kind));
        // Owner-only, like the directory.
        write_durably(&self.dir, file_name(kind), text.as_bytes(), 0o600)?;
        self.files
            .entry(kind)
            .or_default()
            .insert(chain, pkh, mark, entry);
        self.unflushed.remove(&kind);
        self.chains.entry(pkh).or_default().insert(chain);
        Ok(())
    }
}

fn sync_parent(dir: &Path) -> Result<(), StoreError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            op: "fsync the parent of the data directory",
            path: parent.to_path_buf(),
            source,
        })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
