//! Fault injection of the emulator: latency, periodic 429 with Retry-After, 5xx, wrong
//! signatures, runtime changes via `set_faults` and `PUT /_emulator/faults`. Loopback only.

use std::time::{Duration, Instant};

use keyvault_emulator::Faults;
use keyvault_emulator::testkit::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn latency_delays_data_plane_requests() {
    let emu = start_faulty(Faults {
        latency_ms: 150,
        ..Faults::default()
    })
    .await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let started = Instant::now();
    let (status, _, _) = get(&http, &t, &keys_url(&emu)).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    emu.set_faults(Faults::default());
    let started = Instant::now();
    get(&http, &t, &keys_url(&emu)).await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn every_nth_request_is_throttled_with_retry_after() {
    let emu = start_faulty(Faults {
        throttle_every: Some(3),
        retry_after_secs: 4,
        ..Faults::default()
    })
    .await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let url = keys_url(&emu);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let (status, headers, body) = get(&http, &t, &url).await;
        if status == 429 {
            assert_eq!(headers["retry-after"], "4");
            assert_eq!(body["error"]["code"], "Throttled");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);
    let stats = emu.stats();
    assert_eq!((stats.throttled, stats.list), (2, 4));
}

#[tokio::test]
async fn error_rate_one_fails_every_authenticated_request() {
    let emu = start_faulty(Faults {
        error_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    for _ in 0..3 {
        let (status, _, body) = get(&http, &t, &keys_url(&emu)).await;
        assert_eq!(status, 500);
        assert_eq!(body["error"]["code"], "InternalServerError");
    }
    // The challenge still comes first: faults apply to authenticated requests.
    let resp = http.get(keys_url(&emu)).send().await.expect("request");
    assert_eq!(resp.status(), 401);
    assert_eq!(emu.stats().server_errors, 3);
}

#[tokio::test]
async fn wrong_signatures_do_not_verify_and_are_counted() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let vault = emu.vault_url();
    let mut bundles = Vec::new();
    for (name, crv, alg) in [("k", "P-256K", "ES256K"), ("p", "P-256", "ES256")] {
        bundles.push((
            name,
            alg,
            import(&emu, &http, &t, name, json!({"key": jwk(crv)})).await,
        ));
    }
    // At runtime, over HTTP.
    let set = http
        .put(format!("{vault}/_emulator/faults"))
        .json(&json!({"wrong_signature_rate": 1.0}))
        .send()
        .await
        .expect("request");
    assert_eq!(set.status(), 200);
    assert_eq!(emu.faults().wrong_signature_rate, 1.0);
    let digest = [3u8; 32];
    for (name, alg, bundle) in &bundles {
        for _ in 0..5 {
            let url = format!("{vault}/keys/{name}//sign?{API}");
            let (status, _, body) = call(
                &http,
                &t,
                Method::POST,
                &url,
                Some(json!({"alg": alg, "value": b64(&digest)})),
            )
            .await;
            assert_eq!(status, 200);
            let sig = unb64(body["value"].as_str().expect("value"));
            assert_eq!(sig.len(), 64);
            assert!(
                !verifies(&bundle["key"], &digest, &sig),
                "{name}: must not verify"
            );
        }
    }
    assert_eq!(emu.stats().wrong_signatures, 10);
    emu.set_faults(Faults::default());
    let (_, _, body) = call(
        &http,
        &t,
        Method::POST,
        &format!("{vault}/keys/k//sign?{API}"),
        Some(json!({"alg": "ES256K", "value": b64(&digest)})),
    )
    .await;
    let sig = unb64(body["value"].as_str().expect("value"));
    assert!(verifies(&bundles[0].2["key"], &digest, &sig));
}
