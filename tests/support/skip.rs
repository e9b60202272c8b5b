//! A suite that cannot run here says so where a person sees it: in CI (`CI` set) its absence
//! fails the test; elsewhere the notice goes straight to the process's stderr (the test
//! harness captures only `eprintln!`, so this is visible in `cargo test`'s default output) and
//! into `<target>/tmp/skipped-suites.txt`, which `scripts/test.sh` prints at the end.

use std::io::Write as _;

/// Reports that `suite` did not run and why (`how` says what enables it); panics in CI.
pub fn skipped(suite: &str, why: &str, how: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the {suite} cannot run: {why} ({how})"
    );
    unavailable(suite, why, how);
}

/// Reports that `suite` did not run because this machine lacks a capability no set-up can
/// add (e.g. loop devices in a container): visible, and not a failure even in CI.
pub fn unavailable(suite: &str, why: &str, how: &str) {
    let line = format!("{suite}: {why} ({how})");
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED {line} ***");
    let list = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("skipped-suites.txt");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(list)
    {
        let _ = writeln!(f, "{line}");
    }
}
