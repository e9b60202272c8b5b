//! The container failing: stopped mid-stream (503s, nothing released, recovery without a
//! restart), hung (SIGSTOP: answers within the deadline, nothing released), and restarted
//! empty (no signature below any signer's local marks).

use std::time::{Duration, Instant};

use tezos_azure_signer::tezos::PublicKey;

// Azurite only through `Azurite::start`: 127.0.0.1 and `--disableTelemetry`, nothing
// leaves loopback.
use crate::azurite::{Azurite, launcher};
use crate::serve_common::{attestation, client, metrics_text, try_sign};
use crate::signers::{KEY, SharedSigner, assert_valid, public_key, vault};

/// `signer` signs an attestation (payload 1) at each of `levels`, each valid; returns the
/// key's public key.
async fn signs_levels(
    http: &reqwest::Client,
    signer: &SharedSigner,
    levels: std::ops::RangeInclusive<i32>,
) -> PublicKey {
    let key = public_key(http, &signer.url).await;
    for level in levels {
        let hex = attestation(level, 0, 1);
        let (status, body) = try_sign(http, &signer.url, KEY, &hex)
            .await
            .expect("answer");
        assert_eq!(status, 200, "level {level}: {body}");
        assert_valid(&key, &hex, &body);
    }
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_down_fails_closed_and_recovers_without_a_restart() {
    let Some(bin) = launcher() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("azurite");
    std::fs::create_dir(&store).expect("azurite dir");
    let mut azurite = Azurite::start(bin, Some(&store));
    azurite.create_container("marks").await;
    let vault = vault(dir.path());
    let signer = SharedSigner::start(&vault, &dir.path().join("a"), &azurite.url("marks", ""));
    let http = client();
    let key = signs_levels(&http, &signer, 1..=20).await;

    azurite.stop();
    for level in 21..=25 {
        let started = Instant::now();
        let (status, body) = try_sign(&http, &signer.url, KEY, &attestation(level, 0, 1))
            .await
            .expect("answer");
        assert_eq!(status, 503, "level {level}: {body}");
        assert!(body.get("signature").is_none(), "{body}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "answered within the deadline: {:?}",
            started.elapsed()
        );
    }
    // Readiness notices within its 10 s cache: the container takes no probe write.
    let deadline = Instant::now() + Duration::from_secs(15);
    let health = loop {
        let res = http
            .get(format!("{}/readyz", signer.metrics))
            .send()
            .await
            .expect("readyz");
        let status = res.status().as_u16();
        let body = res.text().await.expect("body");
        if status == 503 {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "still ready during the outage: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(health.contains("watermark store check failed"), "{health}");
    let text = metrics_text(&http, &signer.metrics).await;
    assert!(
        text.contains("tezos_azure_signer_shared_watermark_errors_total{error=\"unavailable\"}"),
        "{text}"
    );
    // One line per refused request, with the id the baker can correlate and what to check.
    let log = signer.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("refused:shared_store"))
        .unwrap_or_else(|| panic!("no refusal line: {log}"));
    assert!(line.contains("request_id="), "{line}");
    assert!(
        line.contains("check the storage account"),
        "the refusal says what to check: {line}"
    );
    assert!(log.contains("shared watermark store failed"), "{log}");

    azurite.restart();
    // Azurite saves its state lazily: a SIGKILL may lose the container itself.
    azurite.create_container("marks").await;
    // The same signer signs again without a restart. What it reserved locally during the
    // outage stays its floor: an identical retry of the last refused request is signed, an
    // older one is not.
    let (status, body) = try_sign(&http, &signer.url, KEY, &attestation(21, 0, 1))
        .await
        .expect("answer");
    assert_eq!(
        status, 409,
        "below the local reservation of level 25: {body}"
    );
    for level in 25..=30 {
        let hex = attestation(level, 0, 1);
        let (status, body) = try_sign(&http, &signer.url, KEY, &hex)
            .await
            .expect("answer");
        assert_eq!(status, 200, "level {level}: {body}");
        assert_valid(&key, &hex, &body);
    }
    let text = metrics_text(&http, &signer.metrics).await;
    assert!(
        text.contains("tezos_azure_signer_shared_watermark_write_duration_seconds_count"),
        "{text}"
    );
}

/// The storage account stops answering without closing connections (Azurite frozen with
/// SIGSTOP): each request still gets its 503 inside the deadline, nothing is released, the log
/// line says the reservation is what was slow, and signing resumes when it thaws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_storage_account_is_a_timely_503() {
    let Some(bin) = launcher() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let azurite = Azurite::start(bin, None);
    azurite.create_container("marks").await;
    let vault = vault(dir.path());
    let signer = SharedSigner::start(&vault, &dir.path().join("a"), &azurite.url("marks", ""));
    let http = client();
    let key = signs_levels(&http, &signer, 1..=5).await;
    azurite.signal("-STOP");
    for level in 6..=8 {
        let started = Instant::now();
        let (status, body) = try_sign(&http, &signer.url, KEY, &attestation(level, 0, 1))
            .await
            .expect("answer");
        assert_eq!(status, 503, "level {level}: {body}");
        assert!(body.get("signature").is_none(), "{body}");
        // --request-timeout 2s, --sign-deadline 1s.
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "answered within the deadline: {:?}",
            started.elapsed()
        );
    }
    let log = signer.log_text();
    assert!(
        log.lines().any(
            |l| (l.contains("refused:expired") && l.contains("watermark reservation"))
                || l.contains("refused:shared_store")
        ),
        "the log says the storage was what failed: {log}"
    );
    azurite.signal("-CONT");
    // The same signer signs again without a restart (above its local reservations).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut level = 8;
    loop {
        level += 1;
        let hex = attestation(level, 0, 1);
        let (status, body) = try_sign(&http, &signer.url, KEY, &hex)
            .await
            .expect("answer");
        if status == 200 {
            assert_valid(&key, &hex, &body);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after the thaw: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_container_never_lets_a_signer_below_its_local_marks() {
    let Some(bin) = launcher() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut azurite = Azurite::start(bin, None);
    azurite.create_container("marks").await;
    let vault = vault(dir.path());
    let shared = azurite.url("marks", "");
    let a = SharedSigner::start(&vault, &dir.path().join("a"), &shared);
    let b = SharedSigner::start(&vault, &dir.path().join("b"), &shared);
    let http = client();
    let key = public_key(&http, &a.url).await;
    // Both signers' bakers see every level; one of the two signs each.
    for level in 1..=30 {
        for (url, payload) in [(&a.url, 1), (&b.url, 2)] {
            let (status, body) = try_sign(&http, url, KEY, &attestation(level, 0, payload))
                .await
                .expect("answer");
            assert!(status == 200 || status == 409, "{status} {body}");
        }
    }

    azurite.restart();
    azurite.create_container("marks").await;
    // Below or at level 30, other payloads: refused by each signer's own floor.
    for level in [1, 15, 30] {
        for (url, payload) in [(&a.url, 3), (&b.url, 4)] {
            let (status, body) = try_sign(&http, url, KEY, &attestation(level, 0, payload))
                .await
                .expect("answer");
            assert_eq!(status, 409, "level {level}: {body}");
        }
    }
    // Above: exactly one of the two signs each level.
    for level in 31..=40 {
        let mut signed = 0;
        for (url, payload) in [(&a.url, 5), (&b.url, 6)] {
            let hex = attestation(level, 0, payload);
            let (status, body) = try_sign(&http, url, KEY, &hex).await.expect("answer");
            match status {
                200 => {
                    assert_valid(&key, &hex, &body);
                    signed += 1;
                }
                409 => {}
                other => panic!("level {level}: {other} {body}"),
            }
        }
        assert_eq!(signed, 1, "level {level}");
    }
}

/// At start, serve reads the storage account's SKU (Get Account Information) and warns when
/// it is geo-replicated: Azurite reports `Standard_RAGRS`, as a default Azure account does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_geo_replicated_account_is_named_in_a_warning_at_start() {
    let Some(bin) = launcher() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let azurite = Azurite::start(bin, None);
    azurite.create_container("marks").await;
    let vault = vault(dir.path());
    let signer = SharedSigner::start(&vault, &dir.path().join("a"), &azurite.url("marks", "x"));
    // The log is written by a background thread: give it a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read_to_string(&signer.log).expect("log");
        if log.contains("geo-replicated") || Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        log.contains("geo-replicated") && log.contains("Standard_RAGRS"),
        "{log}"
    );
    // Signing is not affected.
    signs_levels(&client(), &signer, 5..=5).await;
}
