//! Directory lock tests: a second store in the same process, and another process, are
//! refused with a message naming the holder; the lock goes away with the store.

use std::path::Path;

use super::store::{StoreError, WatermarkStore};

#[test]
fn second_open_is_refused_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = WatermarkStore::open(dir.path()).unwrap();
    let err = WatermarkStore::open(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Locked { .. }), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains("in use by another process"), "{msg}");
    drop(first);
    // Released with the store.
    WatermarkStore::open(dir.path()).unwrap();
}

/// Environment variables that turn [`lock_probe_child`] into the child side of
/// [`another_process_is_refused`].
const PROBE_DIR: &str = "TAS_TEST_LOCK_PROBE_DIR";
const PROBE_HOLDER: &str = "TAS_TEST_LOCK_PROBE_HOLDER";

#[test]
fn another_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _held = WatermarkStore::open(dir.path()).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "watermark::lock_tests::lock_probe_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_DIR, dir.path())
        .env(PROBE_HOLDER, std::process::id().to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("LOCK PROBE REFUSED"), "{stdout}");
}

/// Child side of [`another_process_is_refused`]; does nothing in a normal test run.
#[test]
fn lock_probe_child() {
    let (Some(dir), Some(holder)) = (
        std::env::var_os(PROBE_DIR),
        std::env::var(PROBE_HOLDER).ok(),
    ) else {
        return;
    };
    let err = WatermarkStore::open(Path::new(&dir)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Locked { .. }), "{msg}");
    assert!(msg.contains(&format!("pid {holder}")), "{msg}");
    println!("LOCK PROBE REFUSED: {msg}");
}
