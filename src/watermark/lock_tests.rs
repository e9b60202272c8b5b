//! Directory lock tests: a second store in the same process, and another process, are
//! refused with a message naming the holder; the lock goes away with the store.

use std::path::Path;

use crate::watermark::data_dir::{DataDir, StoreError};

#[test]
fn second_open_is_refused_and_names_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let first = DataDir::open(dir.path()).unwrap();
    let err = DataDir::open(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Locked { .. }), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains("in use by another process"), "{msg}");
    drop(first);
    // Released with the store.
    DataDir::open(dir.path()).unwrap();
}

/// Environment variables that turn [`lock_probe_child`] into the child side of
/// [`another_process_is_refused`].
const PROBE_DIR: &str = "TAS_TEST_LOCK_PROBE_DIR";
const PROBE_HOLDER: &str = "TAS_TEST_LOCK_PROBE_HOLDER";

#[test]
fn another_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _held = DataDir::open(dir.path()).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "watermark::lock::tests::lock_probe_child",
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
    let err = DataDir::open(Path::new(&dir)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Locked { .. }), "{msg}");
    assert!(msg.contains(&format!("pid {holder}")), "{msg}");
    println!("LOCK PROBE REFUSED: {msg}");
}

const CRASH_DIR: &str = "TAS_TEST_CRASH_WRITER_DIR";

/// Kills a process that persists increasing marks as fast as it can (SIGKILL, at several
/// moments), then reopens the directory: it is unlocked, every file parses, and no
/// acknowledged mark was lost.
#[test]
fn sigkill_during_writes_loses_nothing_acknowledged() {
    use std::io::{BufRead, BufReader};
    use std::time::{Duration, Instant};

    use crate::tezos::{ConsensusKind, Pkh};

    let dir = tempfile::tempdir().unwrap();
    let pkh: Pkh = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().unwrap();
    let chain = "NetXdQprcVkpaWU".parse().unwrap();
    let mut highest_ack = 0;
    for (round, delay_ms) in [5u64, 17, 30, 45, 60, 80].into_iter().enumerate() {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "watermark::lock::tests::crash_writer_child",
                "--nocapture",
            ])
            .env(CRASH_DIR, dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(level) = line.strip_prefix("ack ") {
                    last = Some(level.trim().parse::<i32>().unwrap());
                }
            }
            last
        });
        // Let it write for a while (it first waits for the lock and starts up).
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(150 + delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Some(ack) = reader.join().unwrap() {
            highest_ack = highest_ack.max(ack);
        }
        let store = DataDir::open(dir.path())
            .unwrap_or_else(|e| panic!("round {round} after {:?}: {e}", started.elapsed()));
        let level = store
            .get(ConsensusKind::Block, &chain, &pkh)
            .map(|m| m.level)
            .unwrap_or(0);
        assert!(
            level >= highest_ack,
            "round {round}: mark {level} < acknowledged {highest_ack}"
        );
    }
    assert!(highest_ack > 0, "the writer never got to write");
}

/// Child side of [`sigkill_during_writes_loses_nothing_acknowledged`]: persists increasing
/// levels until killed; does nothing in a normal test run.
#[test]
fn crash_writer_child() {
    use std::io::Write;

    use crate::tezos::{ConsensusKind, Pkh, SecretKey};
    use crate::watermark::Mark;

    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let mut store = DataDir::open(Path::new(&dir)).unwrap();
    let pkh: Pkh = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().unwrap();
    let chain = "NetXdQprcVkpaWU".parse().unwrap();
    let sk: SecretKey = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5"
        .parse()
        .unwrap();
    let mut level = store
        .get(ConsensusKind::Block, &chain, &pkh)
        .map(|m| m.level)
        .unwrap_or(0);
    let mut out = std::io::stdout().lock();
    loop {
        level += 1;
        let mark = Mark {
            level,
            round: Some(0),
            hash: [level as u8; 32],
            signature: Some(sk.sign(&level.to_be_bytes())),
            unreleased: false,
        };
        store
            .persist(ConsensusKind::Block, chain, pkh, mark)
            .unwrap();
        writeln!(out, "ack {level}").unwrap();
        out.flush().unwrap();
    }
}
