//! Held requests end to end (`serve --confirm` and `sign --pending`), through the real binary:
//! HTTP clients wait while an operator approves one request and rejects another; a third
//! expires; an answer for other bytes approves nothing; twenty held at once all get their own
//! answers; the same bytes held for two keys are two requests, answered per key.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::serve_common::{Serving, client, sign};

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");

/// A generic operation (a delegation by tz1KqTpE…) that `variant` makes unique.
fn operation(variant: u8) -> String {
    format!(
        "03{}6e0002298c03ed7d454a101eb7022bc95f7e5f41ac7821dc05edecc004adcacdb7d40100",
        hex::encode([variant; 32])
    )
}

fn hash_of(hex_text: &str) -> String {
    let bytes = hex::decode(hex_text).expect("hex");
    bs58::encode(tezos_azure_signer::tezos::blake2b_256(&bytes)).into_string()
}

pub fn pending(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["sign", "--pending", "--data-dir"])
        .arg(dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run sign --pending")
}

/// Waits until `n` requests are held, and returns their hashes.
fn held(dir: &Path, n: usize) -> Vec<String> {
    held_views(dir, n)
        .iter()
        .map(|h| h["hash"].as_str().expect("hash").to_string())
        .collect()
}

/// Waits until `n` views (one per key and bytes) are listed, and returns them.
pub fn held_views(dir: &Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = pending(dir, &["--list", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let views = v["held"].as_array().expect("held").clone();
        if views.len() >= n {
            return views;
        }
        assert!(Instant::now() < deadline, "only {} held", views.len());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn msg(body: &serde_json::Value) -> String {
    body[0]["msg"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_approves_rejects_or_lets_held_requests_expire() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serving = Serving::start(
        dir.path(),
        &["--confirm", "0x03", "--confirm-timeout", "4s"],
    );
    let c = client();
    let send = |variant: u8| {
        let (c, url, pkh) = (c.clone(), serving.url.clone(), serving.tz2.clone());
        tokio::spawn(async move { sign(&c, &url, &pkh, &operation(variant)).await })
    };
    let (a, b, expiring) = (send(1), send(2), send(3));
    let dir_path = dir.path().to_path_buf();
    let hashes = tokio::task::spawn_blocking(move || held(&dir_path, 3))
        .await
        .expect("join");
    for v in [1, 2, 3] {
        assert!(hashes.contains(&hash_of(&operation(v))), "{hashes:?}");
    }
    // An answer for bytes nobody sent approves nothing (exit 1), and a stays held.
    let tz2 = serving.tz2.as_str();
    let out = pending(
        dir.path(),
        &["--approve", &hash_of(&operation(9)), "--key", tz2],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no held request"));
    assert!(
        pending(
            dir.path(),
            &["--approve", &hash_of(&operation(1)), "--key", tz2]
        )
        .status
        .success()
    );
    assert!(
        pending(
            dir.path(),
            &["--reject", &hash_of(&operation(2)), "--key", tz2]
        )
        .status
        .success()
    );

    let (status, body) = a.await.expect("join");
    assert_eq!(status, 200, "{body}");
    assert!(
        body["signature"]
            .as_str()
            .expect("sig")
            .starts_with("spsig1")
    );
    let (status, body) = b.await.expect("join");
    assert_eq!(status, 403, "{body}");
    assert!(msg(&body).contains("rejected by the operator"), "{body}");
    let (status, body) = expiring.await.expect("join");
    assert_eq!(status, 403, "{body}");
    assert!(msg(&body).contains("not confirmed within 4 s"), "{body}");

    // What the policy allows is never held: consensus messages are signed at once.
    let att = crate::serve_common::attestation(10, 0, 1);
    let (status, body) = sign(&c, &serving.url, &serving.tz2, &att).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_held_requests_each_get_their_own_answer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serving = Serving::start(
        dir.path(),
        &[
            "--confirm",
            "0x03",
            "--confirm-timeout",
            "30s",
            "--max-held-per-client",
            "20",
        ],
    );
    let c = client();
    let tasks: Vec<_> = (0..20u8)
        .map(|v| {
            let (c, url, pkh) = (c.clone(), serving.url.clone(), serving.tz2.clone());
            tokio::spawn(async move { sign(&c, &url, &pkh, &operation(100 + v)).await })
        })
        .collect();
    let dir_path = dir.path().to_path_buf();
    let tz2 = serving.tz2.clone();
    tokio::task::spawn_blocking(move || {
        held(&dir_path, 20);
        for v in 0..20u8 {
            let verb = if v % 2 == 0 { "--approve" } else { "--reject" };
            let hash = hash_of(&operation(100 + v));
            let out = pending(&dir_path, &[verb, &hash, "--key", &tz2]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    })
    .await
    .expect("join");
    for (v, t) in tasks.into_iter().enumerate() {
        let (status, body) = t.await.expect("join");
        let want = if v % 2 == 0 { 200 } else { 403 };
        assert_eq!(status, want, "request {v}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bytes_for_two_keys_are_two_requests_answered_per_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serving = Serving::start(
        dir.path(),
        &["--confirm", "0x03", "--confirm-timeout", "30s"],
    );
    let c = client();
    let op = operation(50);
    let hash = hash_of(&op);
    let send = |pkh: &str| {
        let (c, url, pkh, op) = (c.clone(), serving.url.clone(), pkh.to_string(), op.clone());
        tokio::spawn(async move { sign(&c, &url, &pkh, &op).await })
    };
    let (for_tz2, for_tz3) = (send(&serving.tz2), send(&serving.tz3));
    let (dir_path, tz2, tz3) = (
        dir.path().to_path_buf(),
        serving.tz2.clone(),
        serving.tz3.clone(),
    );
    let listed = tokio::task::spawn_blocking(move || {
        let views = held_views(&dir_path, 2);
        let mut keys: Vec<(&str, &str)> = views
            .iter()
            .map(|v| {
                (
                    v["pkh"].as_str().expect("pkh"),
                    v["hash"].as_str().expect("hash"),
                )
            })
            .collect();
        keys.sort();
        let mut want = [(tz2.as_str(), hash.as_str()), (tz3.as_str(), hash.as_str())];
        want.sort();
        assert_eq!(keys, want, "one view per (key, bytes): {views:?}");
        // The text listing names both too, each with a preview of the bytes.
        let out = pending(&dir_path, &["--list"]);
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        for pkh in [&tz2, &tz3] {
            assert!(text.contains(&format!("for {pkh}")), "{text}");
        }
        assert!(text.contains(&op[..64]), "a preview of the bytes: {text}");

        // The key is a pkh here: a vault name is a usage error, and nothing is answered.
        let out = pending(&dir_path, &["--approve", &hash, "--key", "demo-tz2"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is not a pkh"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(held_views(&dir_path, 2).len(), 2);

        // Approving for tz2 answers tz2's request only.
        let out = pending(&dir_path, &["--approve", &hash, "--key", &tz2]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let views = held_views(&dir_path, 1);
        assert_eq!(views.len(), 1, "{views:?}");
        assert_eq!(views[0]["pkh"], tz3.as_str());
        (dir_path, hash, tz3)
    })
    .await
    .expect("join");

    let (status, body) = for_tz2.await.expect("join");
    assert_eq!(status, 200, "{body}");
    assert!(!for_tz3.is_finished(), "tz3's request still waits");
    let (dir_path, hash, tz3) = listed;
    let out = tokio::task::spawn_blocking(move || {
        pending(&dir_path, &["--reject", &hash, "--key", &tz3])
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, body) = for_tz3.await.expect("join");
    assert_eq!(status, 403, "{body}");
    assert!(msg(&body).contains("rejected by the operator"), "{body}");
}
