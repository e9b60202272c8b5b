//! End to end: the real binary `serve --dev` (bundled emulator, real Azure SDK over TLS, real
//! watermark store) on loopback. Concurrency at one (level, round), graceful shutdown under
//! load, crash safety under SIGKILL at random (seeded) moments, metrics and health.

mod serve_common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serve_common::{Serving, attestation, block, client, preattestation, sign, try_sign};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_conflicting_requests_sign_exactly_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Serving::start(dir.path(), &[]);
    let http = client();
    for pkh in [server.tz2.clone(), server.tz3.clone()] {
        let tasks: Vec<_> = (0..64u8)
            .map(|i| {
                let (http, url, pkh) = (http.clone(), server.url.clone(), pkh.clone());
                tokio::spawn(async move { sign(&http, &url, &pkh, &attestation(100, 0, i)).await })
            })
            .collect();
        let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
        for t in tasks {
            let (status, body) = t.await.expect("join");
            if status == 409 {
                let msg = body[0]["msg"].as_str().unwrap_or_default();
                assert!(msg.contains("already signed with different data"), "{msg}");
            }
            *by_status.entry(status).or_default() += 1;
        }
        assert_eq!(by_status, BTreeMap::from([(200, 1), (409, 63)]), "{pkh}");
    }
    let metrics = http
        .get(format!("{}/metrics", server.metrics))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let refusals = format!(
        "tezos_azure_signer_watermark_refusals_total{{kind=\"attestation\",pkh=\"{}\"}} 63",
        server.tz2
    );
    assert!(metrics.lines().any(|l| l == refusals), "{metrics}");
    let health = http
        .get(format!("{}/healthz", server.metrics))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_identical_requests_get_the_same_signature() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Serving::start(dir.path(), &[]);
    let http = client();
    for (pkh, payload) in [
        (server.tz2.clone(), block(200, 1, 7)),
        (server.tz3.clone(), preattestation(200, 1, 7)),
    ] {
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (http, url, pkh, payload) = (
                    http.clone(),
                    server.url.clone(),
                    pkh.clone(),
                    payload.clone(),
                );
                tokio::spawn(async move { sign(&http, &url, &pkh, &payload).await })
            })
            .collect();
        let mut signatures = BTreeSet::new();
        for t in tasks {
            let (status, body) = t.await.expect("join");
            assert_eq!(status, 200, "{body}");
            signatures.insert(body["signature"].as_str().expect("signature").to_string());
        }
        assert_eq!(signatures.len(), 1, "{pkh}: {signatures:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_exits_zero_with_acknowledged_signatures_persisted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Serving::start(dir.path(), &[]);
    let http = client();
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let (http, url, pkh) = (http.clone(), server.url.clone(), server.tz2.clone());
            tokio::spawn(async move {
                // Spread over ~150 ms so SIGTERM lands in the middle of the stream.
                tokio::time::sleep(Duration::from_millis(3 * i as u64)).await;
                let payload = attestation(1000 + i, 0, 1);
                let answer = tokio::time::timeout(
                    Duration::from_secs(20),
                    try_sign(&http, &url, &pkh, &payload),
                )
                .await
                .ok()
                .flatten();
                (i, payload, answer)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let status = tokio::task::block_in_place(|| server.terminate(Duration::from_secs(30)));
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let mut acked = Vec::new();
    for t in tasks {
        let (i, payload, answer) = t.await.expect("join");
        if let Some((200, body)) = answer {
            acked.push((
                i,
                payload,
                body["signature"].as_str().expect("sig").to_string(),
            ));
        }
    }
    assert!(
        !acked.is_empty(),
        "no request was acknowledged before SIGTERM"
    );
    // Restart on the same data dir: the demo keys are reused, and the highest acknowledged
    // attestation is the watermark.
    let first_tz2 = server.tz2.clone();
    let server = Serving::start(dir.path(), &[]);
    assert_eq!(server.tz2, first_tz2, "demo key not reused after restart");
    let (i, payload, sig) = acked.iter().max_by_key(|a| a.0).expect("non-empty");
    let (status, body) = sign(&http, &server.url, &server.tz2, payload).await;
    if status == 200 {
        assert_eq!(
            body["signature"].as_str(),
            Some(sig.as_str()),
            "replay differs"
        );
    } else {
        // A later request may have been signed and persisted with its reply lost in the
        // shutdown: then the mark is higher, never lower.
        assert_eq!(status, 409, "{body}");
    }
    let (status, _) = sign(
        &http,
        &server.url,
        &server.tz2,
        &attestation(1000 + i, 0, 2),
    )
    .await;
    assert_eq!(
        status,
        409,
        "level {} signed again with other data after restart",
        1000 + i
    );
}

/// Crash safety: SIGKILL at seeded-random moments while a client streams increasing levels
/// (and retries recent levels with other data); after each restart nothing acknowledged went
/// backwards, and across the whole run no (level, round) was signed with two different data.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_at_random_moments_never_loses_a_watermark_or_double_signs() {
    let iterations: usize = std::env::var("CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let mut rng = StdRng::seed_from_u64(0x7e205_u64);
    let dir = tempfile::tempdir().expect("temp dir");
    let http = client();
    // (level) -> set of payload bytes that got a 200 (must stay a single element).
    let mut signed: BTreeMap<i32, BTreeSet<u8>> = BTreeMap::new();
    let mut highest_acked: Option<i32> = None;
    let mut next_level = 10_000;
    for iteration in 0..iterations {
        let mut server = Serving::start(dir.path(), &[]);
        // After a restart: a level at or below the highest acknowledged one must be refused
        // with any other data.
        if let Some(h) = highest_acked {
            // Payload 0 is never used by the stream, so this is always other data.
            let (status, body) = sign(&http, &server.url, &server.tz2, &attestation(h, 0, 0)).await;
            assert_eq!(
                status, 409,
                "iteration {iteration}: level {h} went backwards: {body}"
            );
        }
        let kill_after = Duration::from_millis(rng.gen_range(20..400));
        let stream = {
            let (http, url, pkh) = (http.clone(), server.url.clone(), server.tz2.clone());
            let seed: u64 = rng.r#gen();
            let start = next_level;
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed);
                let mut results = Vec::new();
                let mut level = start;
                loop {
                    // Mostly new levels; sometimes a conflicting retry of a recent one.
                    let (l, payload) = if rng.gen_bool(0.25) && level > start {
                        (
                            level - rng.gen_range(1..=2.min(level - start)),
                            rng.gen_range(1..=255u8),
                        )
                    } else {
                        level += 1;
                        (level, 1u8)
                    };
                    let answer = tokio::time::timeout(
                        Duration::from_secs(2),
                        http.post(format!("{url}/keys/{pkh}"))
                            .json(&attestation(l, 0, payload))
                            .send(),
                    )
                    .await;
                    match answer {
                        Ok(Ok(res)) => results.push((l, payload, res.status().as_u16())),
                        // The server is gone: stop streaming.
                        _ => return results,
                    }
                }
            })
        };
        tokio::time::sleep(kill_after).await;
        tokio::task::block_in_place(|| server.kill());
        let results = stream.await.expect("join");
        for (level, payload, status) in results {
            if status == 200 {
                signed.entry(level).or_default().insert(payload);
                highest_acked = Some(highest_acked.map_or(level, |h| h.max(level)));
            }
            next_level = next_level.max(level + 1);
        }
        next_level += 1;
    }
    let doubles: Vec<_> = signed.iter().filter(|(_, p)| p.len() > 1).collect();
    assert!(doubles.is_empty(), "double signs: {doubles:?}");
    assert!(
        signed.len() >= iterations,
        "too few signatures to mean anything: {}",
        signed.len()
    );
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_with_the_holder_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = Serving::start(dir.path(), &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
        .args([
            "serve",
            "--dev",
            "--port",
            "0",
            "--metrics-address",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("run second serve");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

#[test]
fn every_serve_flag_reads_an_environment_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
        .args(["serve", "--help"])
        .output()
        .expect("serve --help");
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "ADDRESS",
        "PORT",
        "DATA_DIR",
        "MAGIC_BYTES",
        "KEY",
        "POLICY",
        "AUTHORIZED_KEYS",
        "TLS_CERT",
        "TLS_KEY",
        "METRICS_ADDRESS",
        "KNOWN_KEYS",
        "MIN_LEVEL",
        "DEV",
    ] {
        assert!(
            help.contains(&format!("[env: TEZOS_AZURE_SIGNER_{var}=")),
            "no TEZOS_AZURE_SIGNER_{var} in:\n{help}"
        );
    }
}

#[cfg(feature = "emulator")] // rcgen makes the test certificate
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_tls_cert_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("cert");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let data = dir.path().join("data");
    let server = Serving::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().expect("utf-8 path"),
            "--tls-key",
            key.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let https = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("pem"),
        ])
        .build()
        .expect("client");
    let (status, body) = sign(&https, &server.url, &server.tz3, &attestation(42, 0, 1)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("p2sig"))
    );
}

/// `--authorized-keys`: unauthenticated requests get 401, a wrong signature 403, octez's
/// authentication bytes signed by an authorized key 200; `/authorized_keys` lists the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_requests_with_authorized_keys() {
    use tezos_azure_signer::auth::authentication_bytes;
    use tezos_azure_signer::tezos::{Pkh, SecretKey};

    let dir = tempfile::tempdir().expect("temp dir");
    let client_key: SecretKey = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9"
        .parse()
        .expect("vector key");
    let file = dir.path().join("authorized_keys");
    std::fs::write(&file, format!("# the baker\n{}\n", client_key.public_key())).expect("write");
    let server = Serving::start(
        &dir.path().join("data"),
        &["--authorized-keys", file.to_str().expect("utf-8 path")],
    );
    let http = client();
    let listed: serde_json::Value = http
        .get(format!("{}/authorized_keys", server.url))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(
        listed,
        serde_json::json!({ "authorized_keys": [client_key.public_key().pkh().to_string()] })
    );
    let payload = attestation(77, 0, 1);
    let data = hex::decode(&payload).expect("hex");
    let pkh: Pkh = server.tz2.parse().expect("pkh");
    let good = client_key.sign(&authentication_bytes(&pkh, &data));
    let wrong = client_key.sign(b"something else");
    let post = |query: String| {
        let (http, url, pkh, payload) = (
            http.clone(),
            server.url.clone(),
            server.tz2.clone(),
            payload.clone(),
        );
        async move {
            let res = http
                .post(format!("{url}/keys/{pkh}{query}"))
                .json(&payload)
                .send()
                .await
                .expect("POST");
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.expect("json"))
        }
    };
    let (status, body) = post(String::new()).await;
    assert_eq!(
        (status, body[0]["msg"].as_str()),
        (401, Some("missing authentication signature field"))
    );
    let (status, body) = post(format!("?authentication={wrong}")).await;
    assert_eq!(
        (status, body[0]["msg"].as_str()),
        (403, Some("invalid authentication signature"))
    );
    let (status, body) = post(format!("?authentication={good}&version=1")).await;
    assert_eq!(status, 200, "{body}");
}

/// The emulator answers high-S about half the time, like Azure: every tz2 signature that comes
/// out must be low-S and verify against the served public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tz2_signatures_are_always_low_s_and_verify() {
    use tezos_azure_signer::tezos::{PublicKey, Signature};

    let dir = tempfile::tempdir().expect("temp dir");
    let server = Serving::start(dir.path(), &[]);
    let http = client();
    let pk: serde_json::Value = http
        .get(format!("{}/keys/{}", server.url, server.tz2))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let pk: PublicKey = pk["public_key"]
        .as_str()
        .expect("pk")
        .parse()
        .expect("sppk");
    for level in 1..=32 {
        let payload = preattestation(level, 0, 9);
        let (status, body) = sign(&http, &server.url, &server.tz2, &payload).await;
        assert_eq!(status, 200, "{body}");
        let sig: Signature = body["signature"]
            .as_str()
            .expect("sig")
            .parse()
            .expect("spsig1");
        assert!(sig.is_low_s(), "level {level}: high-S signature released");
        pk.verify(&hex::decode(&payload).expect("hex"), &sig)
            .expect("signature verifies");
    }
}
