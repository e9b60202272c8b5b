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
    let out = watermarks(
        &data,
        &["import", "--from", "octez", octez.to_str().expect("utf-8")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 marks raised"), "{stdout}");
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
    let out = watermarks(
        &data,
        &["import", "--from", "octez", octez.to_str().expect("utf-8")],
    );
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
    let out = watermarks(
        &data,
        &[
            "import",
            "--from",
            "signatory",
            sig.to_str().expect("utf-8"),
        ],
    );
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
