//! The exclusive lock on a data directory.
//!
//! Owns: making sure one process at a time uses a watermark directory, and saying who holds
//! it. The lock is an OS lock (flock) on the directory itself, which cannot be deleted from
//! under its holder while it holds marks, released by the kernel even on SIGKILL. The lock
//! file next to the marks is locked too (what earlier versions locked, so an old and a new
//! signer still exclude each other during an upgrade) and records the holder's pid and command
//! line, but deleting it no longer lets a second signer in. The store also checks before each
//! write that its path still names the locked directory ([`DirLock::still_holds`]).
//! The durable file write itself is [`crate::private_fs::write_durably`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::data_dir::StoreError;

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "tezos-azure-signer.lock";

/// An exclusive lock on a data directory; released when dropped (or when the process dies).
#[derive(Debug)]
pub(crate) struct DirLock {
    dir_path: PathBuf,
    /// The locked directory (its identity is checked before each write).
    dir: File,
    _file: File,
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError + use<> {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}

impl DirLock {
    /// Takes the lock without waiting, and records our pid and command line in the lock file.
    pub(crate) fn acquire(dir_path: &Path) -> Result<DirLock, StoreError> {
        let dir = File::open(dir_path).map_err(io_err("open the data directory", dir_path))?;
        let path = dir_path.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io_err("open the lock file", &path))?;
        for (locked, what) in [(&dir, dir_path), (&file, path.as_path())] {
            match locked.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    // Best effort: the holder may be rewriting it this very moment.
                    let _ = (&file).read_to_string(&mut holder);
                    let holder = holder.trim();
                    return Err(StoreError::Locked {
                        dir: dir_path.to_path_buf(),
                        holder: if holder.is_empty() {
                            "a process that has not recorded itself".to_string()
                        } else {
                            holder.to_string()
                        },
                    });
                }
                Err(fs::TryLockError::Error(source)) => {
                    return Err(StoreError::Io {
                        op: "lock",
                        path: what.to_path_buf(),
                        source,
                    });
                }
            }
        }
        let command: Vec<String> = std::env::args_os()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let record = format!("pid {} ({})\n", std::process::id(), command.join(" "));
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(record.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(io_err("record the holder in the lock file", &path))?;
        Ok(DirLock {
            dir_path: dir_path.to_path_buf(),
            dir,
            _file: file,
        })
    }

    /// Whether the data directory's path still names the directory this lock holds. If it was
    /// moved or replaced, another signer could lock the new one: the store stops writing.
    pub(crate) fn still_holds(&self) -> Result<(), StoreError> {
        let held = self
            .dir
            .metadata()
            .map_err(io_err("inspect the locked data directory", &self.dir_path))?;
        let now = fs::metadata(&self.dir_path);
        match now {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => Ok(()),
            _ => Err(StoreError::DirectoryReplaced {
                dir: self.dir_path.clone(),
            }),
        }
    }
}

#[cfg(test)]
#[path = "lock_tests.rs"]
mod tests;
