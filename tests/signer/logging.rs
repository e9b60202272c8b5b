//! Logging never stops the signer: with stderr on a full disk (`/dev/full`) or a pipe whose
//! reader died, every request is still signed, the lost lines are counted on `/metrics`, and
//! liveness stays true (nothing died).

use std::fs::OpenOptions;
use std::process::Stdio;

use crate::serve_common::{Serving, attestation, client, metrics_text, serve_dev, try_sign};

async fn signs_with_broken_stderr(stderr: Stdio, what: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = serve_dev(&dir.path().join("data"), "127.0.0.1:0");
    // Every request logs a line at info.
    cmd.env("RUST_LOG", "info").stderr(stderr);
    let server = Serving::spawn(cmd);
    let http = client();
    for level in 1..=20 {
        let (status, body) = try_sign(&http, &server.url, &server.tz2, &attestation(level, 0, 1))
            .await
            .expect("answer");
        assert_eq!(status, 200, "{what}: level {level}: {body}");
    }
    let text = metrics_text(&http, &server.metrics).await;
    let lost: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tezos_azure_signer_log_lines_lost_total "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the lost-lines counter");
    assert!(lost >= 20, "{what}: {lost} lines counted as lost");
    let live = http
        .get(format!("{}/healthz", server.metrics))
        .send()
        .await
        .expect("healthz");
    assert_eq!(live.status().as_u16(), 200, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_on_a_full_disk_never_stops_signing() {
    let full = OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    signs_with_broken_stderr(Stdio::from(full), "stderr on /dev/full").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_a_closed_pipe_never_stops_signing() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    signs_with_broken_stderr(Stdio::from(writer), "stderr a closed pipe").await;
}
