//! The files of a data directory, read the way a safety store must: only regular files, never
//! through a symbolic link, every `*_high_watermarks` name understood, and the names older
//! octez-signer versions used.
//!
//! Owns: deciding which files hold which marks, and refusing (with the path) anything it cannot
//! vouch for. Must never: treat a dangling link or an unknown file as "no marks", or follow a
//! link into a file elsewhere.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::data_dir::StoreError;
use super::format::{self, KindMarks, file_name};
use crate::private_fs::temp_path;
use crate::tezos::ConsensusKind;

/// Where octez-signer kept Tenderbake preattestation (0x12) marks until its 2025 rename.
pub(crate) const LEGACY_PREATTESTATION_FILE: &str = "preendorsement_high_watermarks";

/// Every `*_high_watermarks` name this signer understands. `endorsement_high_watermarks` holds
/// Emmy 0x02 endorsements (entries without a round) and, in directories of octez-signer 2024
/// and earlier, Tenderbake attestations (entries with a round).
fn known(name: &str) -> bool {
    name == LEGACY_PREATTESTATION_FILE || ConsensusKind::ALL.iter().any(|k| file_name(*k) == name)
}

/// Refuses a data directory that others may write into: anyone who can replace a watermark
/// file can make this signer double sign.
pub(crate) fn check_permissions(dir: &Path) -> Result<(), StoreError> {
    let meta = fs::metadata(dir).map_err(|source| StoreError::Io {
        op: "inspect the data directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 {
        return Err(StoreError::UnsafePermissions {
            dir: dir.to_path_buf(),
            mode: mode & 0o7777,
        });
    }
    Ok(())
}

/// Refuses a directory holding a `*_high_watermarks` file this signer does not know: it may
/// hold marks that would otherwise be ignored.
pub(crate) fn check_names(dir: &Path) -> Result<(), StoreError> {
    let entries = fs::read_dir(dir).map_err(|source| StoreError::Io {
        op: "list the data directory",
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| StoreError::Io {
            op: "list the data directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with("_high_watermarks") && !known(&name) {
            return Err(StoreError::UnknownFile { path: entry.path() });
        }
    }
    Ok(())
}

/// Reads the marks of one file: a missing file is an empty one (as octez does); a symbolic
/// link (dangling or not) or anything but a regular file is refused.
pub(crate) fn read(dir: &Path, name: &str) -> Result<Option<KindMarks>, StoreError> {
    let path = dir.join(name);
    let Some(text) = read_text(&path)? else {
        return Ok(None);
    };
    format::parse(&text)
        .map(Some)
        .map_err(|reason| StoreError::Corrupt { path, reason })
}

/// The largest watermark file read (about a million entries): a bigger one is refused rather
/// than read into memory.
pub(crate) const MAX_FILE: u64 = 256 << 20;

/// The text of a watermark file, `None` if it does not exist. Only a regular file, never
/// through a link, never a FIFO or a device (which could block or never end), at most
/// [`MAX_FILE`] bytes.
pub(crate) fn read_text(path: &Path) -> Result<Option<String>, StoreError> {
    let path = path.to_path_buf();
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StoreError::Io {
                op: "inspect",
                path,
                source,
            });
        }
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(StoreError::NotARegularFile {
                path,
                what: describe(&meta.file_type()),
            });
        }
        Ok(meta) if meta.len() > MAX_FILE => {
            return Err(StoreError::Corrupt {
                path,
                reason: format!("{} bytes, more than a watermark file holds", meta.len()),
            });
        }
        Ok(_) => {}
    }
    let mut bytes = Vec::new();
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path)
        // Bounded even if the file grows while it is read.
        .and_then(|f| f.take(MAX_FILE + 1).read_to_end(&mut bytes))
        .map_err(|source| StoreError::Io {
            op: "read",
            path: path.clone(),
            source,
        })?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(StoreError::Corrupt {
            path,
            reason: "it grew past the size a watermark file holds while it was read".into(),
        });
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| StoreError::Corrupt {
            path,
            reason: "not UTF-8 text".into(),
        })
}

/// A temporary file means a write was interrupted before its rename: the target still holds
/// the last complete state, and the temporary one is discarded. A temporary path that is a link
/// or not a regular file was not left by us: refused, never followed.
pub(crate) fn remove_stale_temp(dir: &Path, name: &str) -> Result<(), StoreError> {
    let tmp = temp_path(dir, name);
    match fs::symlink_metadata(&tmp) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Io {
            op: "inspect",
            path: tmp,
            source,
        }),
        Ok(meta) if meta.file_type().is_file() => {
            fs::remove_file(&tmp).map_err(|source| StoreError::Io {
                op: "remove the interrupted write",
                path: tmp,
                source,
            })
        }
        Ok(meta) => Err(StoreError::NotARegularFile {
            path: tmp,
            what: describe(&meta.file_type()),
        }),
    }
}

fn describe(t: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// The marks of a directory's octez-signer files of every version: by kind under the current
/// names, with the marks of the older names raised into them.
#[derive(Debug, Default)]
pub(crate) struct DirMarks {
    pub marks: BTreeMap<ConsensusKind, KindMarks>,
    /// The entries of `endorsement_high_watermarks` that carry a round (Tenderbake attestation
    /// marks of an older octez-signer, raised into the attestation marks too).
    pub carried: KindMarks,
    /// Each older file found: its name, the kind its marks are, how many marks it held and how
    /// many it raised.
    pub older: Vec<(&'static str, ConsensusKind, usize, usize)>,
}

/// Reads every watermark file of `dir` (see [`read`]: links and special files are refused),
/// the names older octez-signer versions used included. Reads only.
pub(crate) fn read_all(dir: &Path) -> Result<DirMarks, StoreError> {
    let mut marks = BTreeMap::new();
    for kind in ConsensusKind::ALL {
        marks.insert(kind, read(dir, file_name(kind))?.unwrap_or_default());
    }
    let legacy_pre = read(dir, LEGACY_PREATTESTATION_FILE)?;
    let carried = take_with_round(marks.entry(ConsensusKind::Endorsement).or_default());
    let older = [
        (
            ConsensusKind::Preattestation,
            LEGACY_PREATTESTATION_FILE,
            legacy_pre,
        ),
        (
            ConsensusKind::Attestation,
            file_name(ConsensusKind::Endorsement),
            (!carried.is_empty()).then(|| carried.clone()),
        ),
    ];
    let mut found = Vec::new();
    for (kind, from, legacy) in older {
        let Some(legacy) = legacy else { continue };
        let raised = raise(marks.entry(kind).or_default(), &legacy);
        found.push((from, kind, legacy.values().map(BTreeMap::len).sum(), raised));
    }
    Ok(DirMarks {
        marks,
        carried,
        older: found,
    })
}

/// `into` raised to `from` entry by entry: wherever `from` holds a higher (level, round) for a
/// (chain, key), or a mark `into` lacks. Returns how many entries were raised or added.
pub(crate) fn raise(into: &mut KindMarks, from: &KindMarks) -> usize {
    let mut raised = 0;
    for (chain, keys) in from {
        let target = into.entry(*chain).or_default();
        for (pkh, mark) in keys {
            let higher = match target.get(pkh) {
                None => true,
                Some(have) => {
                    (mark.level, mark.round.unwrap_or(0)) > (have.level, have.round.unwrap_or(0))
                }
            };
            if higher {
                target.insert(*pkh, mark.clone());
                raised += 1;
            }
        }
    }
    into.retain(|_, keys| !keys.is_empty());
    raised
}

/// The entries of a file that carry a round, removed from `marks` and returned.
pub(crate) fn take_with_round(marks: &mut KindMarks) -> KindMarks {
    let mut out = KindMarks::new();
    for (chain, keys) in marks.iter_mut() {
        let with_round: Vec<_> = keys
            .iter()
            .filter(|(_, m)| m.round.is_some())
            .map(|(p, _)| *p)
            .collect();
        for pkh in with_round {
            if let Some(m) = keys.remove(&pkh) {
                out.entry(*chain).or_default().insert(pkh, m);
            }
        }
    }
    marks.retain(|_, keys| !keys.is_empty());
    out
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
