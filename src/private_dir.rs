//! Directories only their owner may enter (mode 0700 on Unix): the watermark data directory,
//! the emulator's state directory and its temporary one. Keys, watermarks and the emulator's
//! CA key live in them.

use std::fs::DirBuilder;
use std::io;
use std::path::Path;

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
}
