//! Files and directories only their owner may use, written so that a crash leaves the old or
//! the new contents and never a mix: the watermark files, the emulator's key store and TLS
//! material, and the directories holding them (mode 0700 on Unix).
//!
//! Owns: the durable write (temporary file, fsync, rename, fsync of the directory). Never
//! returns from a write before the data and the rename are on disk.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Creates `path` and any missing parents; an existing directory is left as it is.
pub fn create_all(path: &Path) -> io::Result<()> {
    builder().recursive(true).create(path)
}

/// Creates `path`, which must not exist yet (its parent must).
pub fn create_new(path: &Path) -> io::Result<()> {
    builder().create(path)
}

fn builder() -> DirBuilder {
    #[allow(unused_mut)]
    let mut builder = DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
}

/// The temporary file [`write_durably`] writes before renaming it over `name`.
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.tmp"))
}

/// A failed step of [`write_durably`].
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}: {source}", path.display())]
pub struct WriteError {
    pub op: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

/// Replaces `dir/name` with `contents` durably, the file with `mode` (Unix): write a temporary
/// file in the same directory, fsync it, rename it over the target, fsync the directory.
/// Returns only once all of that is done; on error the previous file is untouched.
///
/// The temporary file is created new (`O_EXCL`, `O_NOFOLLOW`): a leftover regular temporary
/// file (an interrupted write) is removed first, but a link or anything else at its path is
/// refused, never followed, so a planted link cannot redirect the write elsewhere.
pub fn write_durably(dir: &Path, name: &str, contents: &[u8], mode: u32) -> Result<(), WriteError> {
    let tmp = temp_path(dir, name);
    let target = dir.join(name);
    let failed = |op: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source: io::Error| WriteError { op, path, source }
    };
    if let Ok(meta) = std::fs::symlink_metadata(&tmp)
        && meta.file_type().is_file()
    {
        std::fs::remove_file(&tmp).map_err(failed("remove the stale temporary file", &tmp))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&tmp).map_err(failed("create", &tmp))?;
    let written = file
        .write_all(contents)
        .map_err(failed("write", &tmp))
        .and_then(|()| file.sync_all().map_err(failed("fsync", &tmp)));
    drop(file);
    if let Err(e) = written {
        // Ours (created new above): never leave a partial file for the next write to trip on.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, &target).map_err(failed("rename into place", &target))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(failed("fsync the directory", dir))?;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn created_directories_are_owner_only() {
        let root = tempfile::tempdir().expect("a temp dir");
        let nested = root.path().join("a/b");
        super::create_all(&nested).expect("nested directories are created");
        super::create_all(&nested).expect("an existing directory is fine");
        let fresh = root.path().join("fresh");
        super::create_new(&fresh).expect("a new directory is created");
        assert!(
            super::create_new(&fresh).is_err(),
            "create_new refuses an existing one"
        );
        for dir in [&nested, &fresh] {
            let mode = std::fs::metadata(dir)
                .expect("it exists")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700, "{}", dir.display());
        }
    }

    #[test]
    fn durable_writes_replace_the_file_with_the_mode_asked_and_leave_no_temporary() {
        let root = tempfile::tempdir().expect("a temp dir");
        for (mode, contents) in [(0o600, "first"), (0o644, "second")] {
            super::write_durably(root.path(), "f.pem", contents.as_bytes(), mode).expect("written");
            let path = root.path().join("f.pem");
            assert_eq!(std::fs::read_to_string(&path).expect("readable"), contents);
            let got = std::fs::metadata(&path)
                .expect("it exists")
                .permissions()
                .mode();
            assert_eq!(got & 0o777, mode);
            assert!(!super::temp_path(root.path(), "f.pem").exists());
        }
        let err = super::write_durably(&root.path().join("missing"), "f", b"x", 0o600)
            .expect_err("no such directory");
        assert_eq!(err.op, "create");
    }

    #[test]
    fn a_leftover_temporary_file_is_replaced_but_a_link_there_is_never_followed() {
        let root = tempfile::tempdir().expect("a temp dir");
        let tmp = super::temp_path(root.path(), "f");
        std::fs::write(&tmp, "partial").expect("leftover");
        super::write_durably(root.path(), "f", b"new", 0o600)
            .expect("a stale regular temp is fine");
        assert_eq!(
            std::fs::read_to_string(root.path().join("f")).expect("written"),
            "new"
        );

        let victim = root.path().join("victim");
        std::fs::write(&victim, "precious").expect("victim");
        std::os::unix::fs::symlink(&victim, &tmp).expect("plant a link");
        let err = super::write_durably(root.path(), "f", b"evil", 0o600).expect_err("refused");
        assert_eq!(err.op, "create");
        assert_eq!(
            std::fs::read_to_string(&victim).expect("victim"),
            "precious"
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("f")).expect("kept"),
            "new"
        );
    }
}
