//! The reservation journal deleted, renamed away or replaced under a running `serve`: the next
//! mark is refused (nothing signed, readiness false), and after a SIGKILL no acknowledged
//! mark is lost: a restart either refuses the damaged directory or still refuses every point
//! it signed with other bytes.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::serve_common::{Serving, attestation, client, serve_dev, try_sign};

async fn readyz(http: &reqwest::Client, metrics: &str) -> u16 {
    http.get(format!("{metrics}/readyz"))
        .send()
        .await
        .expect("readyz")
        .status()
        .as_u16()
}

/// Moves `marks.journal` the way `how` says.
fn move_journal(data: &Path, how: &str) {
    let journal = data.join("marks.journal");
    match how {
        "delete" => std::fs::remove_file(&journal).expect("delete"),
        "rename" => std::fs::rename(&journal, data.join("marks.journal.old")).expect("rename"),
        _ => {
            std::fs::copy(&journal, data.join("copy")).expect("copy");
            std::fs::rename(data.join("copy"), &journal).expect("replace");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_moved_under_serve_stops_signing_and_loses_no_mark() {
    let http = client();
    for how in ["delete", "rename", "replace"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let mut server = Serving::start(&data, &[]);
        let key = server.tz2.clone();
        for level in 1..=10 {
            let (status, body) = try_sign(&http, &server.url, &key, &attestation(level, 0, 1))
                .await
                .expect("answer");
            assert_eq!(status, 200, "{how}: {body}");
        }
        move_journal(&data, how);
        let (status, body) = try_sign(&http, &server.url, &key, &attestation(11, 0, 1))
            .await
            .expect("answer");
        assert_eq!(status, 500, "{how}: a mark into a moved journal: {body}");
        if how == "delete" {
            // Readiness is cached for up to 10 s.
            tokio::time::sleep(Duration::from_secs(11)).await;
            assert_eq!(readyz(&http, &server.metrics).await, 503, "{how}");
        }
        server.kill();

        if how == "replace" {
            // The copy is this directory's journal as it was: every acknowledged mark is in
            // it. The restart signs on, below nothing it released.
            let mut server = Serving::start(&data, &[]);
            for level in 1..=10 {
                let (status, body) = try_sign(&http, &server.url, &key, &attestation(level, 0, 2))
                    .await
                    .expect("answer");
                assert_eq!(
                    status, 409,
                    "{how}: level {level} again with other bytes: {body}"
                );
            }
            server.kill();
        } else {
            // Marks may be missing: the directory is refused until an operator decides.
            let out = serve_dev(&data, "off")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .expect("run serve");
            assert!(!out.status.success(), "{how}: started without its journal");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("marks.journal") && stderr.contains("missing"),
                "{how}: {stderr}"
            );
        }
    }
}
