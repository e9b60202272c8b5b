//! Store tests: round trip, octez-format compatibility both ways, refusal of damaged files,
//! the directory lock (same process and a child process), and durability.

use std::fs;

use crate::private_fs::temp_path;
use crate::tezos::{ChainId, ConsensusKind, Pkh, Signature};
use crate::watermark::data_dir::{DataDir, StoreError};
use crate::watermark::format::file_name;
use crate::watermark::lock::LOCK_FILE;
use crate::watermark::rule::Mark;

const MAINNET: &str = "NetXdQprcVkpaWU";
const GHOSTNET: &str = "NetXnHfVqm9iesp";
const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
const TZ3: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";
const SPSIG: &str = "spsig16QPQy2nPP6BkV5vtKyQhtVXjDGTq9Wx8VQgqEv7bYKviCkbXjaaaD1n8R7HRMxTRcjUn9U4TaoAtSBq2Sx1F9fbAVjWGK";

/// A real P-256 signature (`p2sig…`).
fn p2sig() -> String {
    let sk: crate::tezos::SecretKey = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9"
        .parse()
        .unwrap();
    sk.sign(b"\x13watermark").to_string()
}

fn chain(s: &str) -> ChainId {
    s.parse().unwrap()
}
fn pkh(s: &str) -> Pkh {
    s.parse().unwrap()
}
fn mark(level: i32, round: i32, h: u8, sig: &str) -> Mark {
    Mark {
        level,
        round: Some(round),
        hash: [h; 32],
        signature: Some(sig.parse::<Signature>().unwrap()),
        unreleased: false,
    }
}

#[test]
fn round_trip_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        let mut s = DataDir::open(&data).unwrap();
        s.persist(
            ConsensusKind::Block,
            chain(MAINNET),
            pkh(TZ2),
            mark(10, 1, 1, SPSIG),
        )
        .unwrap();
        s.persist(
            ConsensusKind::Block,
            chain(MAINNET),
            pkh(TZ2),
            mark(11, 0, 2, SPSIG),
        )
        .unwrap();
        s.persist(
            ConsensusKind::Attestation,
            chain(GHOSTNET),
            pkh(TZ3),
            mark(5, 3, 3, &p2sig()),
        )
        .unwrap();
        s.persist(
            ConsensusKind::Attestation,
            chain(MAINNET),
            pkh(TZ3),
            mark(6, 0, 4, &p2sig()),
        )
        .unwrap();
    }
    let s = DataDir::open(&data).unwrap();
    let got: Vec<_> = s
        .entries()
        .map(|(k, c, p, m)| (k, c, p, m.clone()))
        .collect();
    assert_eq!(got.len(), 3);
    assert_eq!(
        s.get(ConsensusKind::Block, &chain(MAINNET), &pkh(TZ2)),
        Some(&mark(11, 0, 2, SPSIG))
    );
    assert_eq!(
        s.get(ConsensusKind::Attestation, &chain(GHOSTNET), &pkh(TZ3)),
        Some(&mark(5, 3, 3, &p2sig()))
    );
    assert_eq!(
        s.get(ConsensusKind::Attestation, &chain(MAINNET), &pkh(TZ3)),
        Some(&mark(6, 0, 4, &p2sig()))
    );
    assert_eq!(
        s.get(ConsensusKind::Preattestation, &chain(MAINNET), &pkh(TZ2)),
        None
    );
    assert_eq!(
        s.get(ConsensusKind::Block, &chain(GHOSTNET), &pkh(TZ2)),
        None
    );
}

/// A file as octez-signer writes it (hex hash, optional round/signature), plus a `vh…` hash,
/// a tz1 key of another signer and an unknown field: all must load.
#[test]
fn reads_octez_files() {
    let dir = tempfile::tempdir().unwrap();
    let hash_hex = "11e8f192039a4e9507f8566ed6284fa5e0e9469da9f3eb15ffc7072c5e75e0e1";
    let text = format!(
        r#"{{ "{MAINNET}": {{
              "{TZ2}": {{ "level": 1331, "round": 2, "hash": "{hash_hex}", "signature": "{SPSIG}" }},
              "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx": {{ "level": 7, "hash": "{hash_hex}", "extra": true }} }},
            "{GHOSTNET}": {{
              "{TZ3}": {{ "level": 2, "round": 0,
                         "hash": "vh2i6wpkn9bGpw47r3RhnfHiCrLvzTvQT36AmEZNPPsKqcN7yecT" }} }} }}"#
    );
    fs::write(dir.path().join("block_high_watermarks"), text).unwrap();
    let s = DataDir::open(dir.path()).unwrap();
    let m = s
        .get(ConsensusKind::Block, &chain(MAINNET), &pkh(TZ2))
        .unwrap();
    assert_eq!((m.level, m.round), (1331, Some(2)));
    assert_eq!(hex::encode(m.hash), hash_hex);
    assert_eq!(m.signature.unwrap().to_string(), SPSIG);
    let tz1 = pkh("tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx");
    let m = s.get(ConsensusKind::Block, &chain(MAINNET), &tz1).unwrap();
    assert_eq!((m.level, m.round, m.signature), (7, None, None));
    let m = s
        .get(ConsensusKind::Block, &chain(GHOSTNET), &pkh(TZ3))
        .unwrap();
    assert_eq!(
        hex::encode(m.hash),
        "88310e217dd88a8efc67659a9ac8768d18edf3826008878253ce7c745b671f84"
    );
}

/// What we write is octez's layout: chain → pkh → {level, round, hash (lowercase hex),
/// signature (curve prefix)}, in octez's field order, and keeps marks we did not write.
#[test]
fn writes_octez_files() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = format!(
        r#"{{"{MAINNET}": {{"tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx": {{"level": 7, "hash": "{}"}}}}}}"#,
        "ab".repeat(32)
    );
    fs::write(dir.path().join("preattestation_high_watermarks"), foreign).unwrap();
    let mut s = DataDir::open(dir.path()).unwrap();
    let m = mark(1331, 0, 0xAB, &p2sig());
    s.persist(ConsensusKind::Preattestation, chain(MAINNET), pkh(TZ3), m)
        .unwrap();
    // In the journal now, in the file after a checkpoint.
    s.flush().unwrap();
    let text = fs::read_to_string(dir.path().join("preattestation_high_watermarks")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entry = &v[MAINNET][TZ3];
    assert_eq!(entry["level"], 1331);
    assert_eq!(entry["round"], 0);
    assert_eq!(entry["hash"], "ab".repeat(32));
    assert_eq!(entry["signature"], p2sig());
    assert_eq!(entry.as_object().unwrap().len(), 4);
    let foreign = &v[MAINNET]["tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx"];
    assert_eq!(foreign["level"], 7);
    assert!(foreign.get("round").is_none() && foreign.get("signature").is_none());
    let tz3_at = text.find(TZ3).unwrap();
    let fields: Vec<usize> = ["\"level\"", "\"round\"", "\"hash\"", "\"signature\""]
        .iter()
        .map(|f| tz3_at + text[tz3_at..].find(f).unwrap())
        .collect();
    assert!(fields.windows(2).all(|w| w[0] < w[1]), "{text}");
    // The other two kinds were not written.
    assert!(!dir.path().join("block_high_watermarks").exists());
}

/// octez-signer keeps legacy (0x02) endorsements in their own `endorsement` file, and legacy
/// marks without a round: both survive a reopen, next to an attestation mark at the same level.
#[test]
fn legacy_endorsements_have_their_own_file_and_no_round() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        file_name(ConsensusKind::Endorsement),
        "endorsement_high_watermarks"
    );
    let mut s = DataDir::open(dir.path()).unwrap();
    let legacy = Mark {
        round: None,
        ..mark(1331, 0, 0xCD, SPSIG)
    };
    s.persist(
        ConsensusKind::Endorsement,
        chain(MAINNET),
        pkh(TZ2),
        legacy.clone(),
    )
    .unwrap();
    s.persist(
        ConsensusKind::Attestation,
        chain(MAINNET),
        pkh(TZ2),
        mark(1331, 0, 0xAB, SPSIG),
    )
    .unwrap();
    s.flush().unwrap();
    let text = fs::read_to_string(dir.path().join("endorsement_high_watermarks")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entry = &v[MAINNET][TZ2];
    assert_eq!(entry["level"], 1331);
    assert!(entry.get("round").is_none(), "{text}");
    assert_eq!(entry["hash"], "cd".repeat(32));
    drop(s);
    let s = DataDir::open(dir.path()).unwrap();
    assert_eq!(
        s.get(ConsensusKind::Endorsement, &chain(MAINNET), &pkh(TZ2)),
        Some(&legacy)
    );
    assert_eq!(
        s.get(ConsensusKind::Attestation, &chain(MAINNET), &pkh(TZ2))
            .map(|m| (m.level, m.round)),
        Some((1331, Some(0)))
    );
}

#[test]
fn damaged_files_stop_the_store() {
    let good_hash = "00".repeat(32);
    let rows: Vec<(&str, String)> = vec![
        ("empty file", String::new()),
        (
            "truncated JSON",
            format!(r#"{{"{MAINNET}": {{"{TZ2}": {{"level": 1"#),
        ),
        ("array", "[]".into()),
        ("bad chain id", r#"{"NetXXX": {}}"#.to_string()),
        (
            "bad key",
            format!(r#"{{"{MAINNET}": {{"tz9nope": {{"level": 1, "hash": "{good_hash}"}}}}}}"#),
        ),
        (
            "bad hash",
            format!(r#"{{"{MAINNET}": {{"{TZ2}": {{"level": 1, "hash": "zz"}}}}}}"#),
        ),
        (
            "missing hash",
            format!(r#"{{"{MAINNET}": {{"{TZ2}": {{"level": 1}}}}}}"#),
        ),
        (
            "level as text",
            format!(r#"{{"{MAINNET}": {{"{TZ2}": {{"level": "1", "hash": "{good_hash}"}}}}}}"#),
        ),
        (
            "bad signature",
            format!(
                r#"{{"{MAINNET}": {{"{TZ2}": {{"level": 1, "hash": "{good_hash}", "signature": "spsig1xx"}}}}}}"#
            ),
        ),
        (
            "negative round",
            format!(
                r#"{{"{MAINNET}": {{"{TZ2}": {{"level": 1, "round": -1, "hash": "{good_hash}"}}}}}}"#
            ),
        ),
        (
            "duplicate key",
            format!(
                r#"{{"{MAINNET}": {{"{TZ2}": {{"level": 9, "hash": "{good_hash}"}}, "{TZ2}": {{"level": 1, "hash": "{good_hash}"}}}}}}"#
            ),
        ),
        (
            "duplicate chain",
            format!(r#"{{"{MAINNET}": {{}}, "{MAINNET}": {{}}}}"#),
        ),
    ];
    for (name, text) in rows {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("attestation_high_watermarks");
        fs::write(&path, &text).unwrap();
        match DataDir::open(dir.path()) {
            Err(e @ StoreError::Corrupt { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("attestation_high_watermarks"), "{name}: {msg}");
                assert!(msg.contains("never reset"), "{name}: {msg}");
            }
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
        // Never rewritten or removed.
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "{name}");
    }
    // Not UTF-8.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("block_high_watermarks"), [0xff, 0xfe, 0x00]).unwrap();
    assert!(matches!(
        DataDir::open(dir.path()),
        Err(StoreError::Corrupt { .. })
    ));
}

/// A crash between writing the temporary file and renaming it leaves a stale temporary file:
/// the store opens with the last complete state and discards the leftover.
#[test]
fn interrupted_write_keeps_last_good_state() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = DataDir::open(dir.path()).unwrap();
        s.persist(
            ConsensusKind::Block,
            chain(MAINNET),
            pkh(TZ2),
            mark(10, 0, 1, SPSIG),
        )
        .unwrap();
    }
    let tmp = temp_path(dir.path(), file_name(ConsensusKind::Block));
    fs::write(
        &tmp,
        br#"{"NetXdQprcVkpaWU": {"tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt": {"lev"#,
    )
    .unwrap();
    let s = DataDir::open(dir.path()).unwrap();
    assert_eq!(
        s.get(ConsensusKind::Block, &chain(MAINNET), &pkh(TZ2)),
        Some(&mark(10, 0, 1, SPSIG))
    );
    assert!(!tmp.exists());
    assert!(dir.path().join(LOCK_FILE).exists());
}

/// `persist` returns only once the mark is durable: a store dropped without a checkpoint (a
/// crash) opens again with it, and that open writes it to the kind's file, leaving no
/// temporary file.
#[test]
fn persist_is_on_disk_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    for level in 1..=5 {
        let mut s = DataDir::open(dir.path()).unwrap();
        s.persist(
            ConsensusKind::Attestation,
            chain(MAINNET),
            pkh(TZ2),
            mark(level, 0, 7, SPSIG),
        )
        .unwrap();
        drop(s);
        let s = DataDir::open(dir.path()).unwrap();
        assert_eq!(
            s.get(ConsensusKind::Attestation, &chain(MAINNET), &pkh(TZ2))
                .map(|m| m.level),
            Some(level)
        );
        let text =
            fs::read_to_string(dir.path().join(file_name(ConsensusKind::Attestation))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[MAINNET][TZ2]["level"], level);
        assert!(!temp_path(dir.path(), file_name(ConsensusKind::Attestation)).exists());
    }
}

/// A failed checkpoint loses nothing: the file keeps its last complete state, memory and the
/// journal keep the new mark, and the next open writes it.
#[test]
fn a_failed_checkpoint_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DataDir::open(dir.path()).unwrap();
    s.persist(
        ConsensusKind::Block,
        chain(MAINNET),
        pkh(TZ2),
        mark(10, 0, 1, SPSIG),
    )
    .unwrap();
    s.flush().unwrap();
    let path = dir.path().join(file_name(ConsensusKind::Block));
    let before = fs::read_to_string(&path).unwrap();
    // A directory where the temporary file must go makes the file write fail (even as root).
    let tmp = temp_path(dir.path(), file_name(ConsensusKind::Block));
    fs::create_dir(&tmp).unwrap();
    s.persist(
        ConsensusKind::Block,
        chain(MAINNET),
        pkh(TZ2),
        mark(11, 0, 2, SPSIG),
    )
    .unwrap();
    let err = s.flush().unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), before);
    assert_eq!(
        s.get(ConsensusKind::Block, &chain(MAINNET), &pkh(TZ2)),
        Some(&mark(11, 0, 2, SPSIG))
    );
    drop(s);
    fs::remove_dir(&tmp).unwrap();
    let s = DataDir::open(dir.path()).unwrap();
    assert_eq!(
        s.get(ConsensusKind::Block, &chain(MAINNET), &pkh(TZ2)),
        Some(&mark(11, 0, 2, SPSIG))
    );
    assert!(fs::read_to_string(&path).unwrap().contains("\"level\": 11"));
}

/// A failed persist changes nothing: here the data directory was moved away under the store.
#[test]
fn failed_persist_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = DataDir::open(&data).unwrap();
    s.persist(
        ConsensusKind::Block,
        chain(MAINNET),
        pkh(TZ2),
        mark(10, 0, 1, SPSIG),
    )
    .unwrap();
    fs::rename(&data, dir.path().join("moved")).unwrap();
    let err = s
        .persist(
            ConsensusKind::Block,
            chain(MAINNET),
            pkh(TZ2),
            mark(11, 0, 2, SPSIG),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::DirectoryReplaced { .. }), "{err}");
    assert_eq!(
        s.get(ConsensusKind::Block, &chain(MAINNET), &pkh(TZ2)),
        Some(&mark(10, 0, 1, SPSIG))
    );
}

#[test]
fn marks_never_go_backwards() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DataDir::open(dir.path()).unwrap();
    s.persist(
        ConsensusKind::Block,
        chain(MAINNET),
        pkh(TZ2),
        mark(10, 2, 1, SPSIG),
    )
    .unwrap();
    for (level, round) in [(10, 2), (10, 1), (9, 5)] {
        let err = s
            .persist(
                ConsensusKind::Block,
                chain(MAINNET),
                pkh(TZ2),
                mark(level, round, 3, SPSIG),
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::Regression { .. }), "{err}");
    }
    s.persist(
        ConsensusKind::Block,
        chain(MAINNET),
        pkh(TZ2),
        mark(10, 3, 1, SPSIG),
    )
    .unwrap();
    // Other chains and kinds are independent.
    s.persist(
        ConsensusKind::Block,
        chain(GHOSTNET),
        pkh(TZ2),
        mark(1, 0, 1, SPSIG),
    )
    .unwrap();
    s.persist(
        ConsensusKind::Preattestation,
        chain(MAINNET),
        pkh(TZ2),
        mark(1, 0, 1, SPSIG),
    )
    .unwrap();
}

mod persisted_marks_load_back {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Whatever the store accepts to persist, it loads back at the next open: a mark it
        /// wrote can never stop the signer from restarting. Marks it refuses change nothing.
        #[test]
        fn every_mark_that_can_be_persisted_loads_back(
            level in prop_oneof![any::<i32>(), -2i32..2],
            round in proptest::option::of(prop_oneof![any::<i32>(), -2i32..2]),
            kind in proptest::sample::select(ConsensusKind::ALL.to_vec()),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let candidate = Mark { level, round, hash: [7; 32], signature: None, unreleased: false };
            let persisted = {
                let mut s = DataDir::open(dir.path()).unwrap();
                s.persist(kind, chain(MAINNET), pkh(TZ2), candidate.clone())
            };
            let reopened = DataDir::open(dir.path());
            let reopened = match reopened {
                Ok(s) => s,
                Err(e) => return Err(TestCaseError::fail(format!("the store refused its own file: {e}"))),
            };
            let loaded = reopened.get(kind, &chain(MAINNET), &pkh(TZ2)).cloned();
            match persisted {
                Ok(()) => prop_assert_eq!(loaded, Some(candidate)),
                Err(e) => {
                    prop_assert!(matches!(e, StoreError::InvalidMark { .. }), "{}", e);
                    prop_assert!(
                        level < 0
                            || round.is_some_and(|r| r < 0)
                            || (kind == ConsensusKind::Endorsement && round.is_some())
                    );
                    prop_assert_eq!(loaded, None);
                }
            }
        }
    }

    #[test]
    fn a_negative_round_is_refused_with_its_reason_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = DataDir::open(dir.path()).unwrap();
        let err = s
            .persist(
                ConsensusKind::Preattestation,
                chain(MAINNET),
                pkh(TZ2),
                mark(100, -1, 1, SPSIG),
            )
            .unwrap_err();
        assert!(err.to_string().contains("negative round -1"), "{err}");
        assert!(
            !dir.path()
                .join(file_name(ConsensusKind::Preattestation))
                .exists()
        );
    }
}

/// A block's signature completes its reservation durably (the journal), so a process killed
/// right after (no checkpoint, no clean stop) still replays it; the reservation keeps its
/// unreleased proof across the same kind of stop.
#[test]
fn a_block_signature_completes_its_reservation_durably() {
    let dir = tempfile::tempdir().unwrap();
    let (kind, on, key) = (ConsensusKind::Block, chain(MAINNET), pkh(TZ2));
    let reservation = Mark {
        signature: None,
        unreleased: true,
        ..mark(30, 0, 3, SPSIG)
    };
    let mut s = DataDir::open(dir.path()).unwrap();
    s.persist(kind, on, key, reservation.clone()).unwrap();
    // The same reservation again is nothing to write; other bytes at that point are refused.
    s.persist(kind, on, key, reservation.clone()).unwrap();
    let other = Mark {
        hash: [4; 32],
        ..reservation.clone()
    };
    assert!(s.persist(kind, on, key, other).is_err());
    drop(s); // no checkpoint: only the journal holds it
    let s = DataDir::open(dir.path()).unwrap();
    assert_eq!(s.get(kind, &on, &key), Some(&reservation));
    drop(s);

    let mut s = DataDir::open(dir.path()).unwrap();
    s.persist(kind, on, key, mark(30, 0, 3, SPSIG)).unwrap();
    // The signature is set once: another one for the same bytes is refused.
    assert!(s.persist(kind, on, key, mark(30, 0, 3, &p2sig())).is_err());
    drop(s);
    let s = DataDir::open(dir.path()).unwrap();
    assert_eq!(s.get(kind, &on, &key), Some(&mark(30, 0, 3, SPSIG)));
}

/// A journal that cannot be fully read stops the store before anything is written: neither
/// opening (serve, import) nor inspecting (`watermarks show`) rewrites or resets it.
#[test]
fn a_damaged_journal_stops_the_store_and_is_left_as_it_was() {
    use crate::watermark::journal::JOURNAL_FILE;
    let dir = tempfile::tempdir().unwrap();
    let mut s = DataDir::open(dir.path()).unwrap();
    for level in 1..=5 {
        s.persist(
            ConsensusKind::Attestation,
            chain(MAINNET),
            pkh(TZ2),
            mark(level, 0, level as u8, SPSIG),
        )
        .unwrap();
    }
    drop(s); // no checkpoint: the journal alone holds levels 1 to 5
    let path = dir.path().join(JOURNAL_FILE);
    let mut bytes = fs::read(&path).unwrap();
    // Both copies of the second record (slots start after two 256-byte headers; the mirror
    // after 8,192 slots).
    for at in [3 * 256 + 40, (2 + 8192 + 1) * 256 + 40] {
        bytes[at] ^= 0x01;
    }
    fs::write(&path, &bytes).unwrap();
    for _ in 0..2 {
        let err = DataDir::open(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::JournalDamaged { .. }), "{err}");
        let err = DataDir::inspect(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::JournalDamaged { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), bytes, "the journal was rewritten");
    }
}

/// `inspect` reads what `open` would, writing nothing: no journal or identity file appears
/// in a directory that has none, and an existing one is not reset.
#[test]
fn inspecting_writes_nothing() {
    use crate::watermark::journal::{ID_FILE, JOURNAL_FILE};
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join(file_name(ConsensusKind::Block)),
        format!(
            "{{\"{MAINNET}\": {{\"{TZ2}\": {{\"level\": 7, \"round\": 0, \"hash\": \"{}\"}}}}}}",
            "ab".repeat(32)
        ),
    )
    .unwrap();
    let marks = DataDir::inspect(dir.path()).unwrap();
    assert_eq!(marks.entries().count(), 1);
    assert!(!dir.path().join(JOURNAL_FILE).exists());
    assert!(!dir.path().join(ID_FILE).exists());

    let mut s = DataDir::open(dir.path()).unwrap();
    s.persist(
        ConsensusKind::Attestation,
        chain(MAINNET),
        pkh(TZ2),
        mark(9, 0, 9, SPSIG),
    )
    .unwrap();
    drop(s);
    let before = fs::read(dir.path().join(JOURNAL_FILE)).unwrap();
    let marks = DataDir::inspect(dir.path()).unwrap();
    assert_eq!(marks.entries().count(), 2);
    assert_eq!(fs::read(dir.path().join(JOURNAL_FILE)).unwrap(), before);
}
