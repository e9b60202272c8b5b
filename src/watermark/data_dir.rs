//! The embedded high-watermark store: octez-signer's files in a data directory.
//!
//! Owns: loading every mark at open (the files, then the journal's reservations), the exclusive
//! lock on the directory for the store's lifetime, and making a new mark durable in the journal
//! ([`super::journal`]) before [`DataDir::persist`] returns; the files are rewritten
//! (see [`crate::private_fs::write_durably`]) at checkpoints. The in-memory state changes only
//! after the mark is on disk, so memory never claims more than the disk holds. Never resets, skips or guesses: a
//! file that cannot be read or parsed stops [`DataDir::open`], and a mark that would go
//! backwards is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::files;
use super::format::{KindMarks, file_name};
use super::journal::{Journal, JournalWatch};
use super::lock::DirLock;
use super::mark_store::Slot;
use super::marks::Marks;
use super::rule::{InvalidMark, Mark};
use crate::private_fs::{WriteError, write_durably};
use crate::tezos::{ChainId, ConsensusKind, Pkh};

/// Store failures. Each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// At open: another process (another signer, or a command on the same data directory)
    /// holds the directory's lock; two stores on one directory would not see each other's marks.
    #[error(
        "the data directory {} is in use by another process: {holder}. Stop it first: two \
         signers sharing watermarks could double sign",
        dir.display()
    )]
    Locked {
        /// The data directory that is locked.
        dir: PathBuf,
        /// What the holder recorded in the lock file (its pid and command line), or a
        /// placeholder when it recorded nothing.
        holder: String,
    },
    /// A file-system call on the data directory, a watermark file, the journal or the lock
    /// file failed: at open, when a mark is made durable, or at a checkpoint.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done, worded to follow "cannot" (`"read"`, `"open the lock file"`).
        op: &'static str,
        /// The file or directory it was done on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A watermark file (or `journal.id`) does not parse, is not UTF-8 or is larger than a
    /// watermark file can be: the store does not open rather than guess its marks.
    #[error(
        "cannot parse the watermark file {}: {reason}. Refusing to run with an unknown \
         watermark state: repair or restore the file (it is never reset automatically)",
        path.display()
    )]
    Corrupt {
        /// The file that cannot be read as marks.
        path: PathBuf,
        /// Why it cannot be read as marks (the parse error, or its size).
        reason: String,
    },
    /// The signature the store holds for the request's very bytes (an identical retry's, or
    /// the one another signer recorded first for a block) does not verify against the key:
    /// it is not released, and nothing new is signed.
    #[error(
        "the stored {kind} signature of {pkh} at level {level} does not verify for the same \
         bytes: refusing to return it (check the watermark file)"
    )]
    InvalidStoredSignature {
        /// The request's kind.
        kind: ConsensusKind,
        /// The key the stored signature should be from.
        pkh: Pkh,
        /// The request's level.
        level: i32,
    },
    /// The store cannot answer after an internal failure: its writer thread stopped, the
    /// recording task failed, or the batch this request was written in failed (holds the
    /// cause's text).
    #[error(
        "the watermark store is unavailable after an internal failure ({0}): restart the signer"
    )]
    Unavailable(String),
    /// A mark to store is not strictly above the slot's current one in (level, round) (for a
    /// mark without a round: not at a higher level). The rule refuses such requests first, so
    /// this is a race or an import below what is already held.
    #[error(
        "refusing to move the {kind} watermark of {pkh} on {chain} from ({from_level},{from_round}) \
         to ({to_level},{to_round}): watermarks only go up"
    )]
    Regression {
        /// The kind of the slot.
        kind: ConsensusKind,
        /// The chain of the slot.
        chain: ChainId,
        /// The key of the slot.
        pkh: Pkh,
        /// The current mark's level.
        from_level: i32,
        /// The current mark's round (0 when it has none).
        from_round: i32,
        /// The refused mark's level.
        to_level: i32,
        /// The refused mark's round (0 when it has none).
        to_round: i32,
    },
    /// A watermark file, the journal, `journal.id` or a leftover temporary file is a symbolic
    /// link, a directory, a FIFO or anything else but a regular file: refused, never followed.
    #[error(
        "{} is {what}: watermark files must be regular files in the data directory (a link \
         could make the signer read or overwrite marks elsewhere). Replace it with the file \
         itself",
        path.display()
    )]
    NotARegularFile {
        /// The path that is not a regular file.
        path: PathBuf,
        /// What it is instead (`"a symbolic link"`, `"a directory"`, `"a FIFO"`…).
        what: &'static str,
    },
    /// At open: the data directory holds a `*_high_watermarks` file whose name this signer
    /// does not know, so its marks would be ignored.
    #[error(
        "{} is a watermark file this signer does not understand: it may hold marks that would \
         be ignored. Move it out of the data directory (after checking what it holds)",
        path.display()
    )]
    UnknownFile {
        /// The unknown file.
        path: PathBuf,
    },
    /// At open: the data directory is writable by every user, who could replace its marks.
    #[error(
        "the data directory {} is writable by every user (mode {mode:o}): anyone could replace \
         its watermarks. Run `chmod o-w {}` (the signer creates it with mode 700)",
        dir.display(), dir.display()
    )]
    UnsafePermissions {
        /// The data directory.
        dir: PathBuf,
        /// Its permission bits (`st_mode & 0o7777`), shown in octal.
        mode: u32,
    },
    /// The data directory's path no longer names the directory locked at open (same device
    /// and inode): another signer could lock the new one, so this store stops writing.
    #[error(
        "the data directory {} was moved or replaced while this signer held it: refusing to \
         write marks another signer could be ignoring. Restart the signer",
        dir.display()
    )]
    DirectoryReplaced {
        /// The data directory's path, as given at open.
        dir: PathBuf,
    },
    /// A signature to record does not fit the slot's current mark, which must be the unsigned
    /// one at the same level, round and bytes (it moved on, or was never reserved).
    #[error(
        "no reservation to complete: the {kind} watermark of {pkh} on {chain} is not the \
         unsigned mark at level {level} it should be"
    )]
    NotAReservation {
        /// The kind of the slot.
        kind: ConsensusKind,
        /// The chain of the slot.
        chain: ChainId,
        /// The key of the slot.
        pkh: Pkh,
        /// The level of the signed mark to record.
        level: i32,
    },
    /// A mark fails [`Mark::validate_for`] for its slot's kind (a negative level or round, or
    /// an Emmy endorsement with a round): refused before it is written, as it would not load.
    #[error(
        "refusing to store the {kind} watermark of {pkh} on {chain}: {reason} (the file could \
         not be loaded back)"
    )]
    InvalidMark {
        /// The kind of the slot.
        kind: ConsensusKind,
        /// The chain of the slot.
        chain: ChainId,
        /// The key of the slot.
        pkh: Pkh,
        /// Which check it fails.
        reason: InvalidMark,
    },
    /// At open: `marks.journal` cannot be read back in full (a damaged header or record, the
    /// wrong size, another directory's identity, or missing while `journal.id` exists).
    #[error(
        "the reservation journal {} is damaged: {reason}. It may hold acknowledged marks that \
         are in no other file, so the signer refuses to start rather than sign below them; it \
         is never reset automatically. Restore the data directory from a backup; or, knowing \
         the last level and round this signer released for each key (the baker's logs, the \
         chain), move marks.journal and journal.id aside and start with --min-level above them",
        path.display()
    )]
    JournalDamaged {
        /// The journal's path.
        path: PathBuf,
        /// What is wrong with it (which record, header or size).
        reason: String,
    },
    /// The journal's path no longer names the file (device and inode) this store opened, so
    /// marks appended to it would be lost at the next start: the store stops writing.
    #[error(
        "the reservation journal {} was deleted, renamed or replaced while this signer wrote \
         it: marks written now would reach no file a restart reads. Restart the signer (it \
         refuses to start if marks are missing)",
        path.display()
    )]
    JournalReplaced {
        /// The journal's path.
        path: PathBuf,
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

/// The file the readiness probe writes in the data directory.
pub(crate) const PROBE_FILE: &str = "readyz.probe";

/// The high watermarks of one data directory, held exclusively by this process: the marks in
/// memory, and the directory they are durable in.
#[derive(Debug)]
pub struct DataDir {
    marks: Marks,
    disk: Disk,
}

/// Where marks become durable: the locked data directory, its octez-format files and the
/// reservation journal.
#[derive(Debug)]
pub struct Disk {
    files: Files,
    journal: Journal,
    /// Records the last reset carried into the journal's generation (unreleased block
    /// reservations, see [`Disk::reset_journal`]): not behind the files.
    carried: usize,
}

/// The octez-format files and the probe file of the locked data directory: what a checkpoint
/// or a readiness probe writes, on any thread (the journal stays its writer's).
#[derive(Debug, Clone)]
pub struct Files {
    dir: PathBuf,
    lock: Arc<DirLock>,
    journal: JournalWatch,
}

impl Files {
    /// Writes each kind's file durably (owner-only, like the directory).
    pub fn write(&self, texts: &[(ConsensusKind, String)]) -> Result<(), StoreError> {
        for (kind, text) in texts {
            self.lock.still_holds()?;
            write_durably(&self.dir, file_name(*kind), text.as_bytes(), 0o600)?;
        }
        Ok(())
    }

    /// Readiness: writes (temporary, fsync, rename, directory fsync) a small probe file, so
    /// a full disk, a read-only mount or a lost lock shows before a signature needs a write;
    /// and checks that the journal is still the directory's.
    pub fn probe(&self) -> Result<(), StoreError> {
        self.lock.still_holds()?;
        self.journal.check()?;
        write_durably(&self.dir, PROBE_FILE, b"ok\n", 0o600)?;
        Ok(())
    }
}

/// What [`DataDir::open`] found in files of older octez-signer versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migration {
    /// (file name, marks found in it, marks it raised in the current file).
    pub found: Vec<(&'static str, usize, usize)>,
}

impl DataDir {
    /// Opens (creating it with mode 0700 if missing) the data directory, locks it, removes
    /// temporary files left by an interrupted write, loads the watermark files (including the
    /// names older octez-signer versions used, raising the current files to them) and the
    /// journal's reservations, and writes the files so they hold every mark.
    pub fn open(dir: impl AsRef<Path>) -> Result<DataDir, StoreError> {
        Self::open_reporting(dir).map(|(store, _)| store)
    }

    /// [`DataDir::open`], also saying what it took from older octez-signer files (each
    /// is logged too).
    pub fn open_reporting(dir: impl AsRef<Path>) -> Result<(DataDir, Migration), StoreError> {
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
        let mut raised_kinds = Vec::new();
        for (from, kind, found, raised) in older {
            tracing::info!(
                file = from,
                marks = found,
                raised,
                into = file_name(kind),
                "found {kind} marks in the file an older octez-signer wrote them to"
            );
            if raised > 0 {
                raised_kinds.push(kind);
            }
            migration.found.push((from, found, raised));
        }
        let mut marks = Marks::new(marks, carried);
        // Durably in the current files before anything is signed: the marks stay even if the
        // older file is later rewritten or removed.
        marks.mark_dirty(raised_kinds);
        let (journal, recovery) = Journal::open(&dir)?;
        if recovery.repaired > 0 {
            tracing::warn!(
                records = recovery.repaired,
                "journal records with one damaged copy were read from their mirror (check the disk)"
            );
        }
        if recovery.torn_tail {
            tracing::warn!(
                "the journal ends with a record torn in both copies: an append interrupted by a crash, never acknowledged"
            );
        }
        let replayed = recovery
            .marks
            .into_iter()
            .filter(|(slot, mark)| marks.raise(*slot, mark.clone()))
            .count();
        if replayed > 0 {
            tracing::info!(
                marks = replayed,
                "took reservations from the journal that the files did not hold yet"
            );
        }
        let mut store = DataDir {
            marks,
            disk: Disk {
                files: Files {
                    dir,
                    lock: Arc::new(lock),
                    journal: journal.watch(),
                },
                journal,
                carried: 0,
            },
        };
        store.flush()?;
        Ok((store, migration))
    }

    /// The marks of `dir` as [`DataDir::open`] would load them, without writing a mark
    /// file or the journal (read-only commands): under the directory lock, so no `serve`
    /// writes meanwhile. A directory that does not exist holds no marks.
    pub fn inspect(dir: impl AsRef<Path>) -> Result<Marks, StoreError> {
        let dir = dir.as_ref();
        if !dir.exists() {
            return Ok(Marks::default());
        }
        files::check_permissions(dir)?;
        let _lock = DirLock::acquire(dir)?;
        files::check_names(dir)?;
        let files::DirMarks { marks, carried, .. } = files::read_all(dir)?;
        let mut marks = Marks::new(marks, carried);
        for (slot, mark) in Journal::read(dir)?.marks {
            marks.raise(slot, mark);
        }
        Ok(marks)
    }

    /// The current mark for (kind, chain, key), if any.
    pub fn get(&self, kind: ConsensusKind, chain: &ChainId, pkh: &Pkh) -> Option<&Mark> {
        self.marks.get(kind, chain, pkh)
    }

    /// The chains `pkh` has marks on (any kind).
    pub fn chains_of(&self, pkh: &Pkh) -> Option<&BTreeSet<ChainId>> {
        self.marks.chains_of(pkh)
    }

    /// Every mark, for inspection (`kind, chain, key, mark`).
    pub fn entries(&self) -> impl Iterator<Item = (ConsensusKind, ChainId, Pkh, &Mark)> {
        self.marks.entries()
    }

    /// Records `mark` for (kind, chain, key) durably: it is in the journal (written and
    /// fdatasync'd) when this returns, and in the kind's file after the next checkpoint. The
    /// new mark must be valid for its kind (see [`Mark::validate_for`]) and strictly above
    /// the stored one in (level, round); on any error nothing changes.
    pub fn persist(
        &mut self,
        kind: ConsensusKind,
        chain: ChainId,
        pkh: Pkh,
        mark: Mark,
    ) -> Result<(), StoreError> {
        let slot = Slot { kind, chain, pkh };
        if !self.marks.check_new(&slot, &mark)? {
            return Ok(());
        }
        let batch = [(slot, mark)];
        if !self.disk.has_room(batch.len()) {
            self.flush()?;
        }
        self.disk.append(&batch)?;
        let [(slot, mark)] = batch;
        self.marks.apply(slot, mark);
        Ok(())
    }

    /// Raises this directory's marks to `marks` wherever they are higher (never lowering one),
    /// then writes the files (a checkpoint) before returning, so octez-signer reads them at
    /// once: one durable write per kind, whatever the number of marks. Returns how many marks
    /// were raised and how many were kept (already as high). On an error nothing is written
    /// (the raised marks live only in this value, which the caller drops).
    pub fn import(
        &mut self,
        marks: BTreeMap<ConsensusKind, KindMarks>,
    ) -> Result<(usize, usize), StoreError> {
        let (mut raised, mut kept) = (0, 0);
        for (kind, chains) in marks {
            for (chain, keys) in chains {
                for (pkh, mark) in keys {
                    let slot = Slot { kind, chain, pkh };
                    match self.marks.check_new(&slot, &mark) {
                        Ok(true) => {
                            self.marks.apply(slot, mark);
                            raised += 1;
                        }
                        Ok(false) | Err(StoreError::Regression { .. }) => kept += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        self.flush()?;
        Ok((raised, kept))
    }

    /// A checkpoint: writes every file that is behind memory, then empties the journal.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        self.disk.checkpoint(&mut self.marks)
    }

    /// The marks and the directory apart, for a store that reads the one while a writer
    /// thread owns the other ([`super::LocalStore`]).
    pub fn into_parts(self) -> (Marks, Disk) {
        (self.marks, self.disk)
    }
}

impl Disk {
    /// Room in the journal for `n` more marks.
    pub fn has_room(&self, n: usize) -> bool {
        self.journal.has_room(n)
    }

    /// Makes `batch` durable with one write and one fdatasync of the journal.
    pub fn append(&mut self, batch: &[(Slot, Mark)]) -> Result<(), StoreError> {
        self.files.lock.still_holds()?;
        self.journal.append(batch)
    }

    /// The files side, for a thread that checkpoints and probes beside the journal's writer.
    pub fn files(&self) -> Files {
        self.files.clone()
    }

    /// Writes the files `marks` has ahead of them (marked dirty again on failure), then resets
    /// the journal, whose every record those files now hold.
    pub fn checkpoint(&mut self, marks: &mut Marks) -> Result<(), StoreError> {
        let texts = marks.take_dirty();
        if let Err(e) = self.write_files(&texts) {
            marks.mark_dirty(texts.into_iter().map(|(k, _)| k));
            return Err(e);
        }
        self.reset_journal(&marks.unreleased())
    }

    /// Writes each kind's file durably (owner-only, like the directory).
    pub fn write_files(&self, texts: &[(ConsensusKind, String)]) -> Result<(), StoreError> {
        self.files.write(texts)
    }

    /// Empties the journal (after the files hold everything it held), then writes `carried`
    /// into the new generation: the unreleased block reservations ([`Mark::unreleased`]),
    /// whose proof octez's files cannot hold. A crash between the two loses that proof, never a
    /// mark (the files hold every mark when this is called): the identical block is then
    /// refused rather than signed (fail closed).
    pub fn reset_journal(&mut self, carried: &[(Slot, Mark)]) -> Result<(), StoreError> {
        // Nothing appended since the last reset (so the same reservations to carry).
        if self.journal.is_current() && self.journal.len() == self.carried {
            return Ok(());
        }
        self.journal.reset()?;
        self.carried = 0;
        let room = carried.len().min(super::journal::CAPACITY / 2);
        if room < carried.len() {
            tracing::error!(
                reservations = carried.len(),
                kept = room,
                "too many unreleased block reservations to carry: the rest will be refused if retried"
            );
        }
        if room > 0 {
            self.journal.append(&carried[..room])?;
            self.carried = room;
        }
        Ok(())
    }

    /// Readiness: see [`Files::probe`].
    pub fn probe(&self) -> Result<(), StoreError> {
        self.files.probe()
    }

    /// Marks in the journal since the last checkpoint (not counting the reservations carried
    /// over, which the files already hold).
    pub fn journaled(&self) -> usize {
        self.journal.len() - self.carried
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
#[path = "data_dir_tests.rs"]
mod tests;
