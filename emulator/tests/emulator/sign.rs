//! Signing, stats and persistence of the emulator over raw HTTP: algorithm/curve fit, digest
//! length, disabled keys, random k and high S, `/_emulator/stats`, the state directory and
//! the ephemeral CA. Loopback only.

use keyvault_emulator::testkit::*;
use keyvault_emulator::{EmulatorConfig, Stats};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn sign_checks_algorithm_digest_and_key_state() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let vault = emu.vault_url();
    let k1 = import(
        &emu,
        &http,
        &t,
        "k1",
        json!({"key": jwk("P-256K"), "Hsm": true}),
    )
    .await;
    let p2 = import(&emu, &http, &t, "p2", json!({"key": jwk("P-256")})).await;
    let legacy = import(&emu, &http, &t, "legacy", json!({"key": jwk("SECP256K1")})).await;
    import(
        &emu,
        &http,
        &t,
        "off",
        json!({"key": jwk("P-256K"), "attributes": {"enabled": false}}),
    )
    .await;
    let mut verify_only = jwk("P-256K");
    verify_only["key_ops"] = json!(["verify"]);
    import(&emu, &http, &t, "verify-only", json!({"key": verify_only})).await;
    let digest = [0x5au8; 32];
    let sign = |name: &str, version: &str, alg: &str, value: &[u8]| {
        let url = format!("{vault}/keys/{name}/{version}/sign?{API}");
        let body = json!({"alg": alg, "value": b64(value)});
        let (http, t) = (http.clone(), t.clone());
        async move { call(&http, &t, Method::POST, &url, Some(body)).await }
    };
    for (name, alg, bundle) in [
        ("k1", "ES256K", &k1),
        ("p2", "ES256", &p2),
        ("legacy", "ECDSA256", &legacy),
    ] {
        let version = bundle["key"]["kid"]
            .as_str()
            .expect("kid")
            .rsplit('/')
            .next()
            .expect("v")
            .to_string();
        for v in ["", version.as_str()] {
            let (status, _, body) = sign(name, v, alg, &digest).await;
            assert_eq!(status, 200, "{name} {alg}: {body}");
            assert_eq!(body["kid"], bundle["key"]["kid"]);
            let sig = unb64(body["value"].as_str().expect("value"));
            assert_eq!(sig.len(), 64);
            assert!(verifies(&bundle["key"], &digest, &sig), "{name}");
        }
    }
    let cases = [
        ("k1", "ES256", &digest[..], 400, "BadParameter"),
        ("k1", "ECDSA256", &digest[..], 400, "BadParameter"),
        ("p2", "ES256K", &digest[..], 400, "BadParameter"),
        ("legacy", "ES256K", &digest[..], 400, "BadParameter"),
        ("k1", "ES256K", &digest[..31], 400, "BadParameter"),
        ("k1", "ES256K", &[0u8; 48][..], 400, "BadParameter"),
        ("off", "ES256K", &digest[..], 403, "Forbidden"),
        ("verify-only", "ES256K", &digest[..], 403, "Forbidden"),
        ("ghost", "ES256K", &digest[..], 404, "KeyNotFound"),
    ];
    for (name, alg, value, status, code) in cases {
        let (got, _, body) = sign(name, "", alg, value).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{name} {alg} {}",
            value.len()
        );
    }
    // The disabled key is still listed and readable, flagged enabled=false.
    let (status, _, body) = get(&http, &t, &format!("{vault}/keys/off?{API}")).await;
    assert_eq!(
        (status, body["attributes"]["enabled"].as_bool()),
        (200, Some(false))
    );
}

#[tokio::test]
async fn secp256k1_signatures_are_random_and_high_s_about_half_the_time() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let bundle = import(&emu, &http, &t, "k", json!({"key": jwk("P-256K")})).await;
    let digest = [0x11u8; 32];
    let url = format!("{}/keys/k//sign?{API}", emu.vault_url());
    let mut high = 0u64;
    let mut sigs = std::collections::HashSet::new();
    for _ in 0..40 {
        let (status, _, body) = call(
            &http,
            &t,
            Method::POST,
            &url,
            Some(json!({"alg": "ES256K", "value": b64(&digest)})),
        )
        .await;
        assert_eq!(status, 200);
        let sig = unb64(body["value"].as_str().expect("value"));
        assert!(verifies(&bundle["key"], &digest, &sig));
        high += u64::from(is_high_s(&sig));
        sigs.insert(sig);
    }
    assert_eq!(sigs.len(), 40, "random k");
    assert!((4..=36).contains(&high), "high-S {high}/40");
    assert_eq!(emu.stats().high_s, high);
    assert_eq!(emu.stats().sign, 40);
}

#[tokio::test]
async fn stats_endpoint_serves_the_counters() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    import(&emu, &http, &t, "s", json!({"key": jwk("P-256")})).await;
    let served: Stats = http
        .get(format!("{}/_emulator/stats", emu.vault_url()))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(served, emu.stats());
    assert_eq!(
        (
            served.import,
            served.requests,
            served.tokens_managed_identity
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn keys_and_certificates_persist_in_the_state_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = EmulatorConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..EmulatorConfig::default()
    };
    let emu = start_with(config.clone()).await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let bundle = import(
        &emu,
        &http,
        &t,
        "kept",
        json!({"key": jwk("P-256K"), "Hsm": true}),
    )
    .await;
    let ca = emu.ca_pem().to_string();
    assert_eq!(emu.ca_path(), dir.path().join("ca.pem"));
    assert_eq!(std::fs::read_to_string(emu.ca_path()).expect("ca file"), ca);
    emu.shutdown().await;

    let emu = start_with(config).await;
    assert_eq!(emu.ca_pem(), ca, "same CA after restart");
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let (status, _, body) = get(&http, &t, &format!("{}/keys/kept?{API}", emu.vault_url())).await;
    assert_eq!(status, 200);
    assert_eq!(body["key"]["x"], bundle["key"]["x"]);
    assert_eq!(body["key"]["kty"], "EC-HSM");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for f in ["keys.json", "leaf-key.pem", "ca-key.pem"] {
            let mode = std::fs::metadata(dir.path().join(f))
                .expect(f)
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{f} is private");
        }
    }
}

#[tokio::test]
async fn ephemeral_ca_file_lives_as_long_as_the_emulator() {
    let emu = start().await;
    let path = emu.ca_path().to_path_buf();
    assert_eq!(std::fs::read_to_string(&path).expect("ca"), emu.ca_pem());
    let env = emu.env();
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "AZURE_KEYVAULT_URI",
            "SSL_CERT_FILE",
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER"
        ]
    );
    assert!(emu.vault_url().starts_with("https://localhost:"));
    assert!(emu.identity_endpoint().starts_with("http://127.0.0.1:"));
    emu.shutdown().await;
    assert!(!path.exists());
}

#[tokio::test]
async fn a_key_disabled_after_import_is_listed_disabled_and_refuses_to_sign() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let vault = emu.vault_url();
    import(&emu, &http, &t, "k", json!({"key": jwk("P-256K")})).await;
    let sign_body = json!({"alg": "ES256K", "value": b64(&[1u8; 32])});
    let sign_url = format!("{vault}/keys/k//sign?{API}");
    let (status, _, _) = call(&http, &t, Method::POST, &sign_url, Some(sign_body.clone())).await;
    assert_eq!(status, 200);
    for (path, enabled, sign_status) in [
        ("/keys/k", false, 403),
        ("/keys/k/", true, 200),
        ("/keys/k", false, 403),
    ] {
        let (status, _, body) = call(
            &http,
            &t,
            Method::PATCH,
            &format!("{vault}{path}?{API}"),
            Some(json!({"attributes": {"enabled": enabled}})),
        )
        .await;
        assert_eq!(
            (status, body["attributes"]["enabled"].as_bool()),
            (200, Some(enabled))
        );
        let (_, _, listed) =
            call(&http, &t, Method::GET, &format!("{vault}/keys?{API}"), None).await;
        assert_eq!(listed["value"][0]["attributes"]["enabled"], enabled);
        let (status, _, _) =
            call(&http, &t, Method::POST, &sign_url, Some(sign_body.clone())).await;
        assert_eq!(status, sign_status);
    }
    let (status, _, body) = call(
        &http,
        &t,
        Method::PATCH,
        &format!("{vault}/keys/ghost?{API}"),
        Some(json!({"attributes": {"enabled": false}})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("KeyNotFound"))
    );
    assert_eq!(emu.stats().update, 3);
}

#[tokio::test]
async fn set_key_enabled_toggles_a_key_in_process() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    import(&emu, &http, &t, "k", json!({"key": jwk("P-256")})).await;
    assert!(emu.set_key_enabled("K", false).expect("update"));
    assert!(!emu.set_key_enabled("ghost", false).expect("update"));
    let (status, _, body) = get(&http, &t, &format!("{}/keys/k?{API}", emu.vault_url())).await;
    assert_eq!(
        (status, body["attributes"]["enabled"].as_bool()),
        (200, Some(false))
    );
    assert_eq!(emu.key_count(), 1);
}
