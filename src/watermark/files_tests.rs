//! The data directory's files as an adversary or a migrating operator leaves them: names of
//! older octez-signer versions, unknown watermark files, symbolic links, loose permissions, a
//! deleted lock file.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use crate::private_fs::temp_path;
use crate::tezos::{ChainId, ConsensusKind, Pkh};
use crate::watermark::data_dir::{DataDir, StoreError};
use crate::watermark::format::file_name;
use crate::watermark::lock::LOCK_FILE;
use crate::watermark::rule::Mark;

const MAINNET: &str = "NetXdQprcVkpaWU";
const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
const TZ3: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";

fn chain() -> ChainId {
    MAINNET.parse().unwrap()
}
fn tz2() -> Pkh {
    TZ2.parse().unwrap()
}
fn tz3() -> Pkh {
    TZ3.parse().unwrap()
}
fn entry(pkh: &str, level: i32, round: Option<i32>, h: &str) -> String {
    let round = round
        .map(|r| format!(r#""round": {r}, "#))
        .unwrap_or_default();
    format!(
        r#""{pkh}": {{"level": {level}, {round}"hash": "{}"}}"#,
        h.repeat(32)
    )
}
fn file(entries: &[String]) -> String {
    format!(r#"{{"{MAINNET}": {{{}}}}}"#, entries.join(", "))
}
fn level_round(s: &DataDir, kind: ConsensusKind, pkh: Pkh) -> Option<(i32, Option<i32>)> {
    s.get(kind, &chain(), &pkh).map(|m| (m.level, m.round))
}

/// An octez-signer data directory from before the 2025 rename: 0x12 marks in
/// `preendorsement_high_watermarks`, 0x13 marks (with a round) in `endorsement_high_watermarks`
/// next to an Emmy 0x02 endorsement (no round). Every mark protects again, the higher of the
/// old and new names wins, and the result is durable in the current files.
#[test]
fn marks_under_older_octez_names_are_read_and_migrated() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("preendorsement_high_watermarks"),
        file(&[
            entry(TZ2, 5000, Some(1), "aa"),
            entry(TZ3, 10, Some(0), "ab"),
        ]),
    )
    .unwrap();
    // The current name holds a lower mark for tz2 and a higher one for tz3.
    fs::write(
        dir.path().join("preattestation_high_watermarks"),
        file(&[
            entry(TZ2, 4000, Some(0), "ba"),
            entry(TZ3, 20, Some(0), "bb"),
        ]),
    )
    .unwrap();
    fs::write(
        dir.path().join("endorsement_high_watermarks"),
        file(&[entry(TZ2, 6000, Some(2), "cc"), entry(TZ3, 77, None, "cd")]),
    )
    .unwrap();
    let (s, migration) = DataDir::open_reporting(dir.path()).unwrap();
    use ConsensusKind::*;
    assert_eq!(
        level_round(&s, Preattestation, tz2()),
        Some((5000, Some(1)))
    );
    assert_eq!(level_round(&s, Preattestation, tz3()), Some((20, Some(0))));
    assert_eq!(level_round(&s, Attestation, tz2()), Some((6000, Some(2))));
    assert_eq!(level_round(&s, Endorsement, tz3()), Some((77, None)));
    // The Emmy entry is not an attestation mark, the attestation entry not an Emmy one.
    assert_eq!(level_round(&s, Attestation, tz3()), None);
    assert_eq!(level_round(&s, Endorsement, tz2()), None);
    assert_eq!(
        migration.found,
        vec![
            ("preendorsement_high_watermarks", 2, 1),
            ("endorsement_high_watermarks", 1, 1)
        ]
    );
    drop(s);
    // Durable under the current names: they alone now protect.
    fs::remove_file(dir.path().join("preendorsement_high_watermarks")).unwrap();
    let s = DataDir::open(dir.path()).unwrap();
    assert_eq!(
        level_round(&s, Preattestation, tz2()),
        Some((5000, Some(1)))
    );
    assert_eq!(level_round(&s, Attestation, tz2()), Some((6000, Some(2))));
}

/// Writing a 0x02 endorsement keeps the attestation entries an older octez wrote in the same
/// file, as they were.
#[test]
fn an_endorsement_write_keeps_the_older_attestation_entries_of_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("endorsement_high_watermarks");
    fs::write(&path, file(&[entry(TZ2, 6000, Some(2), "cc")])).unwrap();
    let mut s = DataDir::open(dir.path()).unwrap();
    let legacy = Mark {
        level: 80,
        round: None,
        hash: [0xdd; 32],
        signature: None,
        unreleased: false,
    };
    s.persist(ConsensusKind::Endorsement, chain(), tz3(), legacy)
        .unwrap();
    s.flush().unwrap();
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v[MAINNET][TZ2]["round"], 2);
    assert_eq!(v[MAINNET][TZ2]["level"], 6000);
    assert_eq!(v[MAINNET][TZ3]["level"], 80);
}

#[test]
fn an_unknown_watermark_file_stops_the_store() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("baking_high_watermarks"), "{}").unwrap();
    let err = DataDir::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::UnknownFile { .. }), "{err}");
    assert!(err.to_string().contains("baking_high_watermarks"), "{err}");
}

/// A dangling link used to read as "no marks" (and a level below the intended mark was
/// signed); a link to a real file used to be replaced on the first write, leaving its target
/// stale; a temporary-file link used to be followed and its target overwritten.
#[test]
fn links_and_special_files_in_the_data_directory_are_refused_with_the_path() {
    let outside = tempfile::tempdir().unwrap();
    let real = outside.path().join("marks");
    fs::write(&real, file(&[entry(TZ2, 9, Some(0), "aa")])).unwrap();
    let name = file_name(ConsensusKind::Attestation);
    type Plant<'a> = Box<dyn Fn(&std::path::Path) + 'a>;
    let cases: Vec<(&str, Plant)> = vec![
        (
            "dangling link",
            Box::new(|d| symlink(outside.path().join("gone"), d.join(name)).unwrap()),
        ),
        (
            "link to a file",
            Box::new(|d| symlink(&real, d.join(name)).unwrap()),
        ),
        (
            "directory",
            Box::new(|d| fs::create_dir(d.join(name)).unwrap()),
        ),
        (
            "temporary-file link",
            Box::new(|d| symlink(&real, temp_path(d, name)).unwrap()),
        ),
        (
            "legacy name as a link",
            Box::new(|d| symlink(&real, d.join("preendorsement_high_watermarks")).unwrap()),
        ),
    ];
    for (what, plant) in cases {
        let dir = tempfile::tempdir().unwrap();
        plant(dir.path());
        let err = DataDir::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, StoreError::NotARegularFile { .. }),
            "{what}: {err}"
        );
        assert!(
            err.to_string().contains(&*dir.path().to_string_lossy()),
            "{what}: {err}"
        );
    }
    assert_eq!(
        fs::read_to_string(&real).unwrap(),
        file(&[entry(TZ2, 9, Some(0), "aa")]),
        "a link's target is never written"
    );
}

#[test]
fn a_world_writable_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let err = DataDir::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::UnsafePermissions { .. }), "{err}");
    assert!(err.to_string().contains("chmod o-w"), "{err}");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o750)).unwrap();
    DataDir::open(dir.path()).expect("group-readable is fine");
}

/// Deleting the lock file used to let a second signer in on the same directory.
#[test]
fn deleting_the_lock_file_does_not_let_a_second_store_in() {
    let dir = tempfile::tempdir().unwrap();
    let _first = DataDir::open(dir.path()).unwrap();
    fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
    let err = DataDir::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
}

/// A data directory moved away (and a new one put at its path) while the store holds it: the
/// store refuses to write instead of writing marks a second signer on the new path ignores.
#[test]
fn a_replaced_data_directory_stops_writes() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let mut s = DataDir::open(&data).unwrap();
    fs::rename(&data, root.path().join("moved")).unwrap();
    crate::private_fs::create_all(&data).unwrap();
    let _second = DataDir::open(&data).expect("the new directory is not locked");
    let mark = Mark {
        level: 1,
        round: Some(0),
        hash: [1; 32],
        signature: None,
        unreleased: false,
    };
    let err = s
        .persist(ConsensusKind::Block, chain(), tz2(), mark)
        .unwrap_err();
    assert!(matches!(err, StoreError::DirectoryReplaced { .. }), "{err}");
}
