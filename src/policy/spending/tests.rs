//! The ledger: the rolling total across restarts, the log's recovery rules (torn tail,
//! emptied, missing, far-future entries, the old JSON file), a clock set back, the per-request
//! cost at 100,000 spends, and one budget for two signers on one container.

use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::testing::MemoryBlobs;
use crate::watermark::shared::SharedLocation;

const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
const TZ3: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";

fn pkh(s: &str) -> Pkh {
    s.parse().expect("pkh")
}

fn open(dir: &Path) -> SpendingLedger {
    SpendingLedger::open(dir, false).expect("open").0
}

fn charge(amount: u128, limit: u128) -> Charge {
    Charge { amount, limit }
}

async fn count(ledger: &SpendingLedger, amount: u128, limit: u128) -> Result<(), Spend> {
    ledger
        .count(&pkh(TZ2), charge(amount, limit), Enforce::Limit, None)
        .await
}

fn write_log(dir: &Path, lines: &[String]) {
    let mut text = String::from("tezos-azure-signer spending log v2\n");
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    std::fs::write(dir.join(FILE), text).expect("write");
}

#[tokio::test]
async fn the_total_is_enforced_kept_across_restarts_and_approvals_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = open(dir.path());
    count(&ledger, 6, 10).await.expect("6 of 10");
    let msg = count(&ledger, 5, 10).await.expect_err("over").to_string();
    assert!(msg.contains("max_total_24h"), "{msg}");
    drop(ledger);
    let ledger = open(dir.path());
    assert!(
        count(&ledger, 5, 10).await.is_err(),
        "kept across a restart"
    );
    // An approved spend is counted though it passes the limit, and then nothing fits.
    ledger
        .count(&pkh(TZ2), charge(20, 10), Enforce::Approved, None)
        .await
        .expect("approved");
    assert!(
        count(&ledger, 1, 26).await.is_err(),
        "6 + 20 counted: 27 > 26"
    );
    count(&ledger, 1, 27).await.expect("27 fits 27");
}

#[tokio::test]
async fn entries_roll_out_after_a_day_and_a_clock_set_back_revives_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = window::wall_clock();
    write_log(
        dir.path(),
        &[
            format!("{} {TZ2} 9", now - window::DAY_SECS - 5),
            // Written while the clock was an hour ahead (it has since been set back).
            format!("{} {TZ2} 7", now + 3600),
            format!("{} {TZ3} 1000", now),
        ],
    );
    let ledger = open(dir.path());
    // The day-old 9 rolled out; the 7 "from the future" still counts; TZ3's are its own.
    count(&ledger, 3, 10).await.expect("7 + 3 fits 10");
    let msg = count(&ledger, 1, 10).await.expect_err("full").to_string();
    assert!(msg.contains("0.00001 ꜩ already at risk"), "{msg}");
    drop(ledger);
    // The file was compacted at start: the expired entry is gone.
    let text = std::fs::read_to_string(dir.path().join(FILE)).expect("read");
    assert!(
        !text.contains(&format!("{} ", now - window::DAY_SECS - 5)),
        "{text}"
    );
}

#[test]
fn damaged_missing_or_emptied_logs_stop_the_signer_with_the_way_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let msg = SpendingLedger::open(dir.path(), true)
        .expect_err("missing")
        .to_string();
    assert!(msg.contains("--reset-spending"), "{msg}");
    for (what, text) in [
        ("emptied", String::new()),
        ("no header", format!("1 {TZ2} 5\n")),
        (
            "bad line",
            "tezos-azure-signer spending log v2\n1 nope 5\n".into(),
        ),
        (
            "wraps",
            format!("tezos-azure-signer spending log v2\n{} {TZ2} 5\n", u64::MAX),
        ),
    ] {
        std::fs::write(dir.path().join(FILE), &text).expect("write");
        let msg = SpendingLedger::open(dir.path(), false)
            .expect_err(what)
            .to_string();
        assert!(msg.contains(FILE), "{what}: {msg}");
    }
    std::fs::remove_file(dir.path().join(FILE)).expect("rm");
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join(FILE)).expect("link");
    assert!(SpendingLedger::open(dir.path(), false).is_err(), "a link");
}

#[tokio::test]
async fn a_torn_last_line_is_dropped_and_the_old_json_file_is_migrated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = window::wall_clock();
    std::fs::write(
        dir.path().join(FILE),
        format!("tezos-azure-signer spending log v2\n{now} {TZ2} 4\n{now} {TZ2} 99"),
    )
    .expect("write");
    let ledger = open(dir.path());
    count(&ledger, 6, 10)
        .await
        .expect("4 + 6: the torn 99 was never signed");
    drop(ledger);
    let old = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        old.path().join(OLD_FILE),
        format!("{{\"{TZ2}\": [[{now}, \"8\"]]}}"),
    )
    .expect("old");
    let (ledger, found) = SpendingLedger::open(old.path(), true).expect("migrates");
    assert_eq!(found, Found::Migrated);
    assert!(count(&ledger, 3, 10).await.is_err(), "8 carried over");
    assert!(!old.path().join(OLD_FILE).exists());
}

async fn fifty_spends(ledger: &SpendingLedger) -> std::time::Duration {
    let started = Instant::now();
    for _ in 0..50 {
        count(ledger, 1, u128::MAX).await.expect("fits");
    }
    started.elapsed()
}

/// The log grows with spends, not requests, and a spend costs the same with 100,000 live
/// entries as with none (one append and one fdatasync; no rewrite of the whole file).
#[tokio::test]
async fn the_cost_per_spend_is_flat_at_100_000_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = window::wall_clock();
    let lines: Vec<String> = (0..100_000)
        .map(|i| format!("{} {TZ3} 1", now - 100 + i % 50))
        .collect();
    write_log(dir.path(), &lines);
    let full = open(dir.path());
    let empty_dir = tempfile::tempdir().expect("tempdir");
    let empty = open(empty_dir.path());
    let base = fifty_spends(&empty).await;
    let at_100k = fifty_spends(&full).await;
    eprintln!("50 spends: {base:?} on an empty log, {at_100k:?} at 100,000 entries");
    assert!(
        at_100k < base * 4 + std::time::Duration::from_millis(200),
        "50 spends: {at_100k:?} at 100,000 entries against {base:?} at none"
    );
    // A refused request and a zero charge append nothing.
    let before = std::fs::metadata(dir.path().join(FILE))
        .expect("meta")
        .len();
    assert!(count(&full, 10, 1).await.is_err());
    count(&full, 0, 1).await.expect("nothing to count");
    assert_eq!(
        std::fs::metadata(dir.path().join(FILE))
            .expect("meta")
            .len(),
        before
    );
}

fn location() -> SharedLocation {
    SharedLocation::parse("http://127.0.0.1:10000/devstoreaccount1/marks?sv=1&sig=x")
        .expect("location")
}

/// Two signers, one container: 250 + 250 against 250 signs one of them; each signer's own
/// log still keeps its floor when the container is emptied.
#[tokio::test]
async fn two_signers_on_one_container_share_one_budget() {
    let blobs = Arc::new(MemoryBlobs::default());
    let (a_dir, b_dir) = (
        tempfile::tempdir().expect("a"),
        tempfile::tempdir().expect("b"),
    );
    let shared = || SharedBudget::new(blobs.clone(), location());
    let a = open(a_dir.path()).with_shared(shared());
    let b = open(b_dir.path()).with_shared(shared());
    let (ra, rb) = tokio::join!(count(&a, 250, 250), count(&b, 250, 250));
    assert!(ra.is_ok() != rb.is_ok(), "exactly one: {ra:?} {rb:?}");
    let winner = if ra.is_ok() { &a } else { &b };
    // The container is emptied by hand: the winner's own log still refuses.
    blobs.blobs.lock().expect("lock").clear();
    assert!(count(winner, 1, 250).await.is_err());
    // The next spend the winner counts (one a person approved) finds the blob gone and
    // writes its own spends back with it: the other signer is held to them again.
    winner
        .count(&pkh(TZ2), charge(1, 250), Enforce::Approved, None)
        .await
        .expect("approved");
    let loser = if ra.is_ok() { &b } else { &a };
    let msg = count(loser, 1, 250).await.expect_err("seeded").to_string();
    assert!(msg.contains("max_total_24h"), "{msg}");
    // A container that fails is a failure (503), never a silent pass.
    blobs.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let deadline = Some(Instant::now() + std::time::Duration::from_millis(300));
    let err = loser
        .count(&pkh(TZ2), charge(1, 250), Enforce::Limit, deadline)
        .await
        .expect_err("down");
    assert!(
        matches!(err, Spend::Failed(SpendingError::Shared { .. })),
        "{err}"
    );
}
