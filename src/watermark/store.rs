//! The embedded high-watermark store: octez-signer's files in a data directory.
//!
//! Owns: loading every mark at open, the exclusive lock on the directory for the store's
//! lifetime, and persisting a new mark durably (see [`crate::private_fs::write_durably`]) before
//! [`WatermarkStore::persist`] returns. The in-memory state changes only after the file is on
//! disk, so memory never claims more than the disk holds. Never resets, skips or guesses: a
//! file that cannot be read or parsed stops [`WatermarkStore::open`], and a mark that would go
//! backwards is refused.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::format::{self, KindMarks, file_name};
use super::lock::DirLock;
use super::rule::Mark;
use crate::private_fs::{WriteError, temp_path, write_durably};
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

/// The high watermarks of one data directory, held exclusively by this process.
#[derive(Debug)]
pub struct WatermarkStore {
    dir: PathBuf,
    marks: BTreeMap<ConsensusKind, KindMarks>,
    _lock: DirLock,
}

impl WatermarkStore {
    /// Opens (creating it with mode 0700 if missing) the data directory, locks it, removes
    /// temporary files left by an interrupted write, and loads the three watermark files.
    pub fn open(dir: impl AsRef<Path>) -> Result<WatermarkStore, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        crate::private_fs::create_all(&dir).map_err(|source| StoreError::Io {
            op: "create the data directory",
            path: dir.clone(),
            source,
        })?;
        // The directory's own entry must be durable too, or a power cut could take it, and
        // every mark written into it, away. Always, not only when this call created it: the
        // caller (serve) may have created it a moment ago.
        sync_parent(&dir)?;
        let lock = DirLock::acquire(&dir)?;
        let mut marks = BTreeMap::new();
        for kind in ConsensusKind::ALL {
            remove_stale_temp(&dir, file_name(kind))?;
            marks.insert(kind, load(&dir.join(file_name(kind)))?);
        }
        Ok(WatermarkStore {
            dir,
            marks,
            _lock: lock,
        })
    }

    /// The current mark for (kind, chain, key), if any.
    pub fn get(&self, kind: ConsensusKind, chain: &ChainId, pkh: &Pkh) -> Option<&Mark> {
        self.marks.get(&kind)?.get(chain)?.get(pkh)
    }

    /// Every mark, for inspection (`kind, chain, key, mark`).
    #[cfg(test)]
    pub fn entries(&self) -> impl Iterator<Item = (ConsensusKind, ChainId, Pkh, &Mark)> {
        self.marks.iter().flat_map(|(kind, chains)| {
            chains.iter().flat_map(move |(chain, keys)| {
                keys.iter().map(move |(pkh, m)| (*kind, *chain, *pkh, m))
            })
        })
    }

    /// Records `mark` for (kind, chain, key) and writes the kind's file durably. Returns only
    /// after the file and its directory entry are on disk. The new mark must be strictly
    /// above the stored one in (level, round); on any error nothing changes.
    pub fn persist(
        &mut self,
        kind: ConsensusKind,
        chain: ChainId,
        pkh: Pkh,
        mark: Mark,
    ) -> Result<(), StoreError> {
        let current = self.marks.get(&kind).cloned().unwrap_or_default();
        if let Some(old) = current.get(&chain).and_then(|keys| keys.get(&pkh)) {
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
        let mut next = current;
        next.entry(chain).or_default().insert(pkh, mark);
        // Owner-only, like the directory.
        write_durably(
            &self.dir,
            file_name(kind),
            format::render(&next).as_bytes(),
            0o600,
        )?;
        self.marks.insert(kind, next);
        Ok(())
    }
}

/// Reads one watermark file; a missing file is an empty one (as octez does).
fn load(path: &Path) -> Result<KindMarks, StoreError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(KindMarks::new()),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                reason: "not UTF-8 text".into(),
            });
        }
        Err(source) => {
            return Err(StoreError::Io {
                op: "read",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    format::parse(&text).map_err(|reason| StoreError::Corrupt {
        path: path.to_path_buf(),
        reason,
    })
}

/// A temporary file means a write was interrupted before its rename: the target still holds
/// the last complete state, and the temporary one is discarded.
fn remove_stale_temp(dir: &Path, name: &str) -> Result<(), StoreError> {
    let tmp = temp_path(dir, name);
    match fs::symlink_metadata(&tmp) {
        Ok(meta) if meta.is_file() => fs::remove_file(&tmp).map_err(|source| StoreError::Io {
            op: "remove the interrupted write",
            path: tmp,
            source,
        }),
        _ => Ok(()),
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
