//! `watermarks push`: seeding a container from a data directory, never lowering a mark, and
//! what a second signer then refuses.

use std::process::Command;

// Azurite only through `Azurite::start`: 127.0.0.1 and `--disableTelemetry`, nothing
// leaves loopback.
use crate::azurite::{Azurite, launcher};
use crate::serve_common::{attestation, client, try_sign};
use crate::signers::{KEY, SharedSigner, vault};

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");

fn push(data_dir: &std::path::Path, url: &str) -> std::process::Output {
    Command::new(BIN)
        .args(["watermarks", "push", url, "--data-dir"])
        .arg(data_dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run watermarks push")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_seeds_the_container_and_a_second_signer_is_held_to_it() {
    let Some(bin) = launcher() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let azurite = Azurite::start(bin, None);
    azurite.create_container("marks").await;
    let url = azurite.url("marks", "");
    // An octez-signer's attestation mark at (500, 2).
    let old = dir.path().join("old");
    std::fs::create_dir(&old).expect("dir");
    let entry = format!(
        r#"{{"NetXdQprcVkpaWU": {{"{KEY}": {{"level": 500, "round": 2, "hash": "{}"}}}}}}"#,
        "ab".repeat(32)
    );
    std::fs::write(old.join("attestation_high_watermarks"), entry).expect("write marks");

    let out = push(&old, &url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 marks pushed") && stdout.contains("1 created"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("sig="),
        "the SAS is never printed: {stdout}"
    );
    let again = push(&old, &url);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("1 already as high or higher"), "{stdout}");

    // A new signer with an empty data directory, on the seeded container (the test payloads
    // carry mainnet's chain id).
    let vault = vault(dir.path());
    let signer = SharedSigner::start(&vault, &dir.path().join("new"), &url);
    let http = client();
    let (status, body) = try_sign(&http, &signer.url, KEY, &attestation(500, 1, 1))
        .await
        .expect("answer");
    assert_eq!(status, 409, "below the pushed mark: {body}");
    assert!(body.to_string().contains("another signer wrote"), "{body}");
    let (status, body) = try_sign(&http, &signer.url, KEY, &attestation(500, 3, 1))
        .await
        .expect("answer");
    assert_eq!(status, 200, "above it: {body}");

    // The running signer holds its directory: push refuses it (exit 1).
    let busy = push(&dir.path().join("new"), &url);
    assert_eq!(
        busy.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );

    // A push never lowers: the container's (500, 3) stays above the old directory's (500, 2).
    let lower = push(&old, &url);
    let stdout = String::from_utf8_lossy(&lower.stdout);
    assert!(stdout.contains("1 already as high or higher"), "{stdout}");
}

#[test]
fn push_refuses_bad_urls_and_a_missing_container() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = push(dir.path(), "http://storage.example/marks");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("plain http is allowed only for a local emulator"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
