//! The journal's recovery rules, record by record and file by file.

use super::*;

fn slot(kind: ConsensusKind) -> Slot {
    Slot {
        kind,
        chain: "NetXdQprcVkpaWU".parse().unwrap(),
        pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().unwrap(),
    }
}

fn mark(level: i32, round: Option<i32>) -> Mark {
    Mark {
        level,
        round,
        hash: [level as u8; 32],
        signature: None,
        unreleased: false,
    }
}

fn marks(levels: std::ops::RangeInclusive<i32>) -> Vec<(Slot, Mark)> {
    levels
        .map(|l| (slot(ConsensusKind::Attestation), mark(l, Some(0))))
        .collect()
}

/// A journal in `dir` holding `written`, one append each, closed.
fn journal_with(dir: &Path, written: &[(Slot, Mark)]) {
    let (mut j, _) = Journal::open(dir).unwrap();
    for m in written {
        j.append(std::slice::from_ref(m)).unwrap();
    }
}

fn poke(dir: &Path, at: usize, bytes: &[u8]) {
    let file = OpenOptions::new()
        .write(true)
        .open(dir.join(JOURNAL_FILE))
        .unwrap();
    file.write_all_at(bytes, at as u64).unwrap();
}

fn refused(dir: &Path) -> String {
    match Journal::open(dir) {
        Err(e @ StoreError::JournalDamaged { .. }) => e.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn appends_read_back_in_order_and_a_reset_empties_it() {
    let dir = tempfile::tempdir().unwrap();
    let written = vec![
        (slot(ConsensusKind::Attestation), mark(10, Some(2))),
        (slot(ConsensusKind::Endorsement), mark(11, None)),
    ];
    journal_with(dir.path(), &written);
    let (mut j, read) = Journal::open(dir.path()).unwrap();
    assert_eq!(read.marks, written);
    assert_eq!((read.repaired, read.torn_tail), (0, false));
    assert_eq!(j.len(), 2);
    j.reset().unwrap();
    j.append(&[(slot(ConsensusKind::Block), mark(12, Some(0)))])
        .unwrap();
    drop(j);
    let (j, read) = Journal::open(dir.path()).unwrap();
    assert_eq!(
        read.marks,
        vec![(slot(ConsensusKind::Block), mark(12, Some(0)))]
    );
    assert_eq!(j.generation, 2);
}

/// The eleven ways a journal was found damaged, each either fully recovered or refused,
/// never read short without a word.
#[test]
fn a_damaged_copy_is_repaired_from_its_mirror() {
    let dir = tempfile::tempdir().unwrap();
    journal_with(dir.path(), &marks(1..=3));
    poke(dir.path(), record_at(1, false) + 40, &[0xff]);
    poke(dir.path(), record_at(2, true) + 3, &[0x55]);
    let (_, read) = Journal::open(dir.path()).unwrap();
    assert_eq!(read.marks, marks(1..=3));
    assert_eq!(read.repaired, 2);
}

#[test]
fn an_acknowledged_record_damaged_in_both_copies_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    journal_with(dir.path(), &marks(1..=5));
    for mirror in [false, true] {
        poke(dir.path(), record_at(2, mirror) + 40, &[0xff]);
    }
    let e = refused(dir.path());
    assert!(e.contains("record 3 is intact but record 2"), "{e}");
}

#[test]
fn a_torn_last_append_ends_the_generation_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    journal_with(dir.path(), &marks(1..=3));
    for mirror in [false, true] {
        poke(dir.path(), record_at(2, mirror) + 100, &[0xaa; 7]);
    }
    let (_, read) = Journal::open(dir.path()).unwrap();
    assert_eq!(read.marks, marks(1..=2));
    assert!(read.torn_tail);
}

#[test]
fn a_damaged_current_header_is_refused_when_its_generation_has_records() {
    let dir = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(dir.path()).unwrap();
    j.reset().unwrap(); // generation 2, in header slot 1
    j.append(&marks(1..=1)).unwrap();
    drop(j);
    poke(dir.path(), RECORD + 18, &[0xff]);
    let e = refused(dir.path());
    assert!(e.contains("newer than its header"), "{e}");
}

#[test]
fn a_damaged_current_header_without_records_falls_back_to_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    journal_with(dir.path(), &marks(1..=2));
    let (mut j, _) = Journal::open(dir.path()).unwrap();
    j.reset().unwrap(); // a torn reset: nothing appended in generation 2 yet
    drop(j);
    poke(dir.path(), RECORD + 18, &[0xff]);
    let (j, read) = Journal::open(dir.path()).unwrap();
    assert_eq!(j.generation, 1);
    assert_eq!(read.marks, marks(1..=2), "generation 1 again: nothing lost");
}

#[test]
fn truncated_extended_zeroed_emptied_or_deleted_journals_are_refused() {
    type Damage = fn(&Path);
    let cases: [(&str, Damage, &str); 5] = [
        (
            "truncated",
            |d| {
                let f = OpenOptions::new()
                    .write(true)
                    .open(d.join(JOURNAL_FILE))
                    .unwrap();
                f.set_len((record_at(2, false)) as u64).unwrap();
            },
            "truncated",
        ),
        (
            "extended",
            |d| {
                let f = OpenOptions::new()
                    .write(true)
                    .open(d.join(JOURNAL_FILE))
                    .unwrap();
                f.set_len(file_size(VERSION) as u64 + 1).unwrap();
            },
            "not the",
        ),
        (
            "zeroed",
            |d| poke(d, 0, &vec![0; file_size(VERSION)]),
            "neither header",
        ),
        (
            "emptied",
            |d| {
                let f = OpenOptions::new()
                    .write(true)
                    .open(d.join(JOURNAL_FILE))
                    .unwrap();
                f.set_len(0).unwrap();
            },
            "empty",
        ),
        (
            "deleted",
            |d| std::fs::remove_file(d.join(JOURNAL_FILE)).unwrap(),
            "missing",
        ),
    ];
    for (name, damage, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        journal_with(dir.path(), &marks(1..=2));
        damage(dir.path());
        let e = refused(dir.path());
        assert!(e.contains(says), "{name}: {e}");
        // Refused again: nothing was rewritten by the refusal.
        assert!(Journal::open(dir.path()).is_err(), "{name}");
        assert!(Journal::read(dir.path()).is_err(), "{name}");
    }
}

#[test]
fn a_journal_from_another_data_directory_is_refused() {
    let (ours, theirs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    journal_with(ours.path(), &marks(1..=2));
    journal_with(theirs.path(), &marks(5..=6));
    std::fs::copy(
        theirs.path().join(JOURNAL_FILE),
        ours.path().join(JOURNAL_FILE),
    )
    .unwrap();
    let e = refused(ours.path());
    assert!(e.contains("another data directory"), "{e}");
}

/// A journal deleted, renamed away or replaced under a running store: the next write
/// fails instead of reaching a file no restart reads.
#[test]
fn a_journal_moved_under_the_store_stops_its_writes() {
    for how in ["delete", "rename", "replace"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(dir.path()).unwrap();
        j.append(&marks(1..=1)).unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        match how {
            "delete" => std::fs::remove_file(&path).unwrap(),
            "rename" => std::fs::rename(&path, dir.path().join("elsewhere")).unwrap(),
            _ => {
                std::fs::copy(&path, dir.path().join("copy")).unwrap();
                std::fs::rename(dir.path().join("copy"), &path).unwrap();
            }
        }
        assert!(
            matches!(
                j.append(&marks(2..=2)),
                Err(StoreError::JournalReplaced { .. })
            ),
            "{how}"
        );
        assert!(
            matches!(j.reset(), Err(StoreError::JournalReplaced { .. })),
            "{how}"
        );
        assert!(j.still_ours().is_err(), "{how}");
    }
}

/// Reading for a read-only command writes nothing: the journal's bytes stay, and no
/// identity file appears where there was none.
#[test]
fn reading_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Journal::read(dir.path()).unwrap(), Recovery::default());
    assert!(!dir.path().join(JOURNAL_FILE).exists());
    assert!(!dir.path().join(ID_FILE).exists());
    journal_with(dir.path(), &marks(1..=2));
    poke(dir.path(), record_at(1, false) + 40, &[0xff]);
    let before = std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
    let read = Journal::read(dir.path()).unwrap();
    assert_eq!((read.marks.len(), read.repaired), (2, 1));
    assert_eq!(
        std::fs::read(dir.path().join(JOURNAL_FILE)).unwrap(),
        before
    );
}

/// The unreleased proof of a block reservation survives the journal; a version 1 journal
/// (whose block reservations may have been released: that version recorded block
/// signatures after the reply) is read without it, and replaced before any append.
#[test]
fn the_unreleased_proof_is_kept_and_an_older_journal_never_claims_it() {
    let dir = tempfile::tempdir().unwrap();
    let reservation = Mark {
        unreleased: true,
        ..mark(20, Some(1))
    };
    journal_with(
        dir.path(),
        &[(slot(ConsensusKind::Block), reservation.clone())],
    );
    let (_, read) = Journal::open(dir.path()).unwrap();
    assert_eq!(
        read.marks,
        vec![(slot(ConsensusKind::Block), reservation.clone())]
    );

    // The same record in version 1's layout, in a version 1 file (no identity file).
    let old = tempfile::tempdir().unwrap();
    let mut v1 = encode_record(1, 0, &slot(ConsensusKind::Block), &reservation);
    v1[FLAGS..].fill(0);
    let sum = checksum(&v1[..140]);
    v1[140..148].copy_from_slice(&sum);
    let mut head = [0u8; RECORD];
    head[..16].copy_from_slice(MAGIC_V1);
    head[16..24].copy_from_slice(&1u64.to_le_bytes());
    let sum = checksum(&head[..24]);
    head[24..32].copy_from_slice(&sum);
    let mut file = vec![0u8; file_size(1)];
    file[..RECORD].copy_from_slice(&head);
    for i in 0..2 {
        file[record_at(i, false)..record_at(i, false) + RECORD].copy_from_slice(&v1);
    }
    std::fs::write(old.path().join(JOURNAL_FILE), file).unwrap();
    let (mut j, read) = Journal::open(old.path()).unwrap();
    assert_eq!(
        read.marks,
        vec![(slot(ConsensusKind::Block), mark(20, Some(1))); 2],
        "read, without the proof"
    );
    assert!(
        !j.is_current() && !j.has_room(1),
        "no append into version 1"
    );
    j.reset().unwrap();
    assert!(j.is_current() && j.has_room(1));
    j.append(&marks(1..=1)).unwrap();
    drop(j);
    let (j, read) = Journal::open(old.path()).unwrap();
    assert!(j.is_current());
    assert_eq!(read.marks, marks(1..=1));
    assert_eq!(
        (read.repaired, read.torn_tail),
        (0, false),
        "no trace of version 1's records"
    );
}

#[test]
fn a_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/tmp/elsewhere", dir.path().join(JOURNAL_FILE)).unwrap();
    assert!(matches!(
        Journal::open(dir.path()),
        Err(StoreError::NotARegularFile { .. })
    ));
}
