//! The exclusive lock on a data directory.
//!
//! Owns: making sure one process at a time uses a watermark directory (an OS file lock held
//! for the store's lifetime, released by the kernel even on SIGKILL) and saying who holds it.
//! The durable file write itself is [`crate::private_fs::write_durably`].

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::store::StoreError;

/// Name of the lock file inside the data directory.
pub const LOCK_FILE: &str = "tezos-azure-signer.lock";

/// An exclusive lock on a data directory; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock without waiting, and records our pid and command line in the lock file.
    pub fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        let path = dir.join(LOCK_FILE);
        let io_err = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { op, path, source }
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io_err("open the lock file", &path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // Best effort: the holder may be rewriting it this very moment.
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::Locked {
                    dir: dir.to_path_buf(),
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
                    path,
                    source,
                });
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
        Ok(DirLock { _file: file })
    }
}
