//! `watermarks show` and `watermarks import` through the real binary: octez-signer's files of
//! every version and Signatory's `watermark_v2`, never lowering a mark, and refused while a
//! `serve` holds the directory.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");
const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
const TZ3: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";
const MAINNET: &str = "NetXdQprcVkpaWU";

fn watermarks(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("watermarks")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("RUST_LOG")
        .output()
        .expect("run watermarks")
}

/// `watermarks import --from <source> <dir>` into `data`.
fn import(data: &Path, source: &str, dir: &Path) -> std::process::Output {
    watermarks(
        data,
        &["import", "--from", source, dir.to_str().expect("utf-8")],
    )
}

fn octez_file(pkh: &str, level: i32, round: Option<i32>) -> String {
    let round = round
        .map(|r| format!(r#""round": {r}, "#))
        .unwrap_or_default();
    format!(
        r#"{{"{MAINNET}": {{"{pkh}": {{"level": {level}, {round}"hash": "{}"}}}}}}"#,
        "ab".repeat(32)
    )
}

fn marks(data: &Path) -> serde_json::Value {
    let out = watermarks(data, &["show", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn level_of(v: &serde_json::Value, kind: &str, key: &str) -> Option<i64> {
    v["marks"]
        .as_array()?
        .iter()
        .find(|m| m["kind"] == kind && m["key"] == key)
        .and_then(|m| m["level"].as_i64())
}

#[test]
fn octez_files_of_every_version_are_imported_and_never_lower_a_mark() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (octez, data) = (dir.path().join("octez"), dir.path().join("data"));
    std::fs::create_dir(&octez).expect("mkdir");
    std::fs::write(
        octez.join("block_high_watermarks"),
        octez_file(TZ2, 500, Some(0)),
    )
    .expect("w");
    // Before octez's 2025 rename: preattestations and (round-carrying) attestations.
    std::fs::write(
        octez.join("preendorsement_high_watermarks"),
        octez_file(TZ2, 400, Some(1)),
    )
    .expect("w");
    std::fs::write(
        octez.join("endorsement_high_watermarks"),
        octez_file(TZ3, 300, Some(2)),
    )
    .expect("w");
    let out = import(&data, "octez", &octez);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 marks raised"), "{stdout}");
    // The octez-format files hold the imported marks as soon as import returns (an
    // octez-signer pointed at the directory sees them; no serve start needed).
    let file = std::fs::read_to_string(data.join("block_high_watermarks")).expect("file");
    assert!(file.contains("\"level\": 500"), "{file}");
    let v = marks(&data);
    assert_eq!(level_of(&v, "block", TZ2), Some(500));
    assert_eq!(level_of(&v, "preattestation", TZ2), Some(400));
    assert_eq!(level_of(&v, "attestation", TZ3), Some(300));
    assert!(
        v["marks"]
            .as_array()
            .expect("marks")
            .iter()
            .all(|m| m["state"] == "reserved")
    );

    // A second import from lower marks raises nothing.
    std::fs::write(
        octez.join("block_high_watermarks"),
        octez_file(TZ2, 100, Some(0)),
    )
    .expect("w");
    let out = import(&data, "octez", &octez);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 marks raised"));
    assert_eq!(level_of(&marks(&data), "block", TZ2), Some(500));
}

#[test]
fn signatory_watermarks_are_imported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sig, data) = (dir.path().join("signatory"), dir.path().join("data"));
    std::fs::create_dir_all(sig.join("watermark_v2")).expect("mkdir");
    let vh = tezos_azure_signer::tezos::base58::encode(
        tezos_azure_signer::tezos::base58::VALUE_HASH,
        &[7; 32],
    );
    let file = format!(
        r#"{{"{TZ2}": {{"block": {{"level": 90, "round": 1, "hash": "{vh}"}}, "attestation_with_dal": {{"level": 91, "round": 0, "hash": "{vh}"}}}}}}"#
    );
    std::fs::write(
        sig.join("watermark_v2").join(format!("{MAINNET}.json")),
        file,
    )
    .expect("w");
    let out = import(&data, "signatory", &sig);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = marks(&data);
    assert_eq!(level_of(&v, "block", TZ2), Some(90));
    assert_eq!(level_of(&v, "attestation", TZ2), Some(91));
    let text = String::from_utf8_lossy(&watermarks(&data, &["show"]).stdout).to_string();
    assert!(
        text.contains("level        90  round   1  reserved"),
        "{text}"
    );
}

#[test]
fn a_data_directory_held_by_serve_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (mut serve, _, _) = crate::running_binary::serve_dev_on(&data, &[]);
    let out = watermarks(&data, &["show"]);
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another process"));
}

/// The migration tools read only regular files, of bounded size, and refuse what serve
/// refuses: a FIFO or a link to a device never hangs or exhausts memory, and an unknown
/// octez watermark file is reported, not ignored.
#[test]
fn imports_read_only_regular_files_and_refuse_unknown_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let sig = dir.path().join("signatory");
    std::fs::create_dir_all(sig.join("watermark_v2")).expect("mkdir");
    let fifo = sig.join("watermark_v2").join(format!("{MAINNET}.json"));
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let started = std::time::Instant::now();
    let out = import(&data, "signatory", &sig);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a regular file")
            || String::from_utf8_lossy(&out.stderr).contains("a FIFO"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    std::fs::remove_file(&fifo).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &fifo).expect("link");
    let out = import(&data, "signatory", &sig);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let octez = dir.path().join("octez");
    std::fs::create_dir(&octez).expect("mkdir");
    std::fs::write(octez.join("baking_high_watermarks"), "{}").expect("w");
    let out = import(&data, "octez", &octez);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("baking_high_watermarks"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// 20,000 marks are imported with one durable write per kind, not one per mark: well under a
/// second in a release build (the README's figure); this debug build of the tests is held to
/// 10 s, a margin for a loaded CI machine (it was 16-30 s with one journal write per mark).
#[test]
fn twenty_thousand_marks_import_with_one_write_per_kind() {
    use tezos_azure_signer::tezos::{Pkh, PkhKind};
    let dir = tempfile::tempdir().expect("tempdir");
    let (sig, data) = (dir.path().join("signatory"), dir.path().join("data"));
    std::fs::create_dir_all(sig.join("watermark_v2")).expect("mkdir");
    let vh = tezos_azure_signer::tezos::base58::encode(
        tezos_azure_signer::tezos::base58::VALUE_HASH,
        &[7; 32],
    );
    let entries: Vec<String> = (0..20_000u32)
        .map(|i| {
            let mut raw = [0u8; 20];
            raw[..4].copy_from_slice(&i.to_be_bytes());
            let pkh = Pkh::new(PkhKind::Tz2, raw);
            format!(r#""{pkh}": {{"attestation": {{"level": 100, "round": 0, "hash": "{vh}"}}}}"#)
        })
        .collect();
    std::fs::write(
        sig.join("watermark_v2").join(format!("{MAINNET}.json")),
        format!("{{{}}}", entries.join(",")),
    )
    .expect("w");
    let started = std::time::Instant::now();
    let out = import(&data, "signatory", &sig);
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("20000 marks raised"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    println!("20,000 marks imported in {took:?}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    let file = std::fs::read_to_string(data.join("attestation_high_watermarks")).expect("file");
    assert_eq!(file.matches("\"level\": 100").count(), 20_000);
}
