//! The emulator driven with raw HTTP (reqwest over TLS, trusting only its CA): auth challenge,
//! token endpoints, Key Vault error codes, import/get/list/sign semantics. Loopback only.

mod emulator_common;

use emulator_common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tezos_azure_signer::emulator::{EmulatorConfig, Stats};

#[tokio::test]
async fn unauthenticated_requests_get_the_bearer_challenge() {
    let emu = start().await;
    let http = client(&emu);
    let resp = http
        .get(format!("{}/keys?{API}", emu.vault_url()))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(
        challenge,
        format!(
            "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"https://vault.azure.net\"",
            emu.tenant_id()
        )
    );
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"]["code"], "Unauthorized");

    for bad in ["Bearer not-a-token", "Basic abc", "Bearer "] {
        let resp = http
            .get(format!("{}/keys?{API}", emu.vault_url()))
            .header("Authorization", bad)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 401, "{bad}");
        assert!(resp.headers().contains_key("www-authenticate"));
    }
    let stats = emu.stats();
    assert_eq!(
        (stats.challenges, stats.unauthorized, stats.requests),
        (1, 3, 4)
    );
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let emu = start_with(EmulatorConfig {
        token_lifetime: std::time::Duration::from_secs(0),
        ..EmulatorConfig::default()
    })
    .await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let (status, _, body) = call(
        &http,
        &t,
        Method::GET,
        &format!("{}/keys?{API}", emu.vault_url()),
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn managed_identity_endpoint_checks_the_identity_header() {
    let emu = start().await;
    let http = client(&emu);
    let url = format!(
        "{}?api-version=2019-08-01&resource=https://vault.azure.net",
        emu.identity_endpoint()
    );
    let missing = http.get(&url).send().await.expect("request");
    assert_eq!(missing.status(), 400);
    let wrong = http
        .get(&url)
        .header("X-IDENTITY-HEADER", "nope")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), 401);
    let other_id = http
        .get(format!("{url}&client_id=someone-else"))
        .header("X-IDENTITY-HEADER", emu.identity_header())
        .send()
        .await
        .expect("request");
    assert_eq!(other_id.status(), 400);
    let ok = http
        .get(format!("{url}&client_id={}", emu.client_id()))
        .header("X-IDENTITY-HEADER", emu.identity_header())
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], "https://vault.azure.net");
    let expires: i64 = body["expires_on"]
        .as_str()
        .expect("string")
        .parse()
        .expect("unix secs");
    assert!(expires > time::OffsetDateTime::now_utc().unix_timestamp());
    let t = body["access_token"].as_str().expect("token");
    let (status, _, _) = call(
        &http,
        t,
        Method::GET,
        &format!("{}/keys?{API}", emu.vault_url()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let stats = emu.stats();
    assert_eq!((stats.tokens_managed_identity, stats.token_errors), (1, 3));
}

#[tokio::test]
async fn client_credentials_endpoint_accepts_only_the_registered_app() {
    let emu = start().await;
    let http = client(&emu);
    let post = |tenant: String, id: &str, secret: &str, scope: &str| {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", id)
            .append_pair("client_secret", secret)
            .append_pair("scope", scope)
            .finish();
        http.post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emu.authority_host()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
    };
    let scope = "https://vault.azure.net/.default";
    let tenant = emu.tenant_id().to_string();
    let cases = [
        (
            tenant.clone(),
            emu.client_id(),
            "wrong",
            scope,
            401,
            "invalid_client",
        ),
        (
            tenant.clone(),
            "other-app",
            emu.client_secret(),
            scope,
            400,
            "unauthorized_client",
        ),
        (
            "other-tenant".to_string(),
            emu.client_id(),
            emu.client_secret(),
            scope,
            400,
            "invalid_tenant",
        ),
        (
            tenant.clone(),
            emu.client_id(),
            emu.client_secret(),
            "https://vault.azure.net",
            400,
            "invalid_scope",
        ),
    ];
    for (t, id, secret, sc, status, error) in cases {
        let resp = post(t, id, secret, sc).await.expect("request");
        assert_eq!(resp.status(), status, "{error}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"], error);
        assert!(body["error_codes"].is_array());
    }
    let resp = post(tenant, emu.client_id(), emu.client_secret(), scope)
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert!(body["expires_in"].as_i64().expect("expires_in") > 0);
    let t = body["access_token"].as_str().expect("token");
    let (status, _, _) = call(
        &http,
        t,
        Method::GET,
        &format!("{}/keys?{API}", emu.vault_url()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(emu.stats().tokens_client_credentials, 1);
}

#[tokio::test]
async fn import_and_get_follow_the_key_vault_contract() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let vault = emu.vault_url();
    let key = jwk("P-256K");
    let first = import(&emu, &http, &t, "baker1", json!({"key": key, "Hsm": true})).await;
    assert_eq!(first["key"]["kty"], "EC-HSM");
    assert_eq!(first["key"]["crv"], "P-256K");
    assert_eq!(first["key"]["x"], key["x"]);
    assert!(first["key"].get("d").is_none(), "never returns d");
    assert_eq!(first["attributes"]["enabled"], true);
    let kid1 = first["key"]["kid"].as_str().expect("kid").to_string();
    assert!(kid1.starts_with(&format!("{vault}/keys/baker1/")), "{kid1}");

    // Software key with lowercase `hsm`: kty EC. Existing name → new version.
    let second = import(
        &emu,
        &http,
        &t,
        "baker1",
        json!({"key": jwk("P-256K"), "hsm": false}),
    )
    .await;
    assert_eq!(second["key"]["kty"], "EC");
    let kid2 = second["key"]["kid"].as_str().expect("kid").to_string();
    assert_ne!(kid1, kid2);

    for path in ["/keys/baker1", "/keys/baker1/", "/keys/BAKER1"] {
        let (status, _, body) = call(
            &http,
            &t,
            Method::GET,
            &format!("{vault}{path}?{API}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["key"]["kid"], kid2.as_str(), "{path}");
    }
    let version1 = kid1.rsplit('/').next().expect("version");
    let (status, _, body) = call(
        &http,
        &t,
        Method::GET,
        &format!("{vault}/keys/baker1/{version1}?{API}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["key"]["x"], key["x"]);

    let mismatched = json!({"kty": "EC", "crv": "P-256K", "x": key["x"], "y": key["y"], "d": jwk("P-256K")["d"]});
    let cases: Vec<(Method, String, Option<Value>, u16, &str)> = vec![
        (
            Method::GET,
            format!("{vault}/keys/nobody?{API}"),
            None,
            404,
            "KeyNotFound",
        ),
        (
            Method::GET,
            format!("{vault}/keys/baker1/00000000000000000000000000000000?{API}"),
            None,
            404,
            "KeyNotFound",
        ),
        (
            Method::GET,
            format!("{vault}/keys/baker1"),
            None,
            400,
            "BadParameter",
        ),
        (
            Method::PUT,
            format!("{vault}/keys/bad_name?{API}"),
            Some(json!({"key": jwk("P-256")})),
            400,
            "BadParameter",
        ),
        (
            Method::PUT,
            format!("{vault}/keys/{}?{API}", "k".repeat(128)),
            Some(json!({"key": jwk("P-256")})),
            400,
            "BadParameter",
        ),
        (
            Method::PUT,
            format!("{vault}/keys/x?{API}"),
            Some(json!({"key": mismatched})),
            400,
            "BadParameter",
        ),
        (
            Method::PUT,
            format!("{vault}/keys/x?{API}"),
            Some(json!({"nokey": 1})),
            400,
            "BadParameter",
        ),
        (
            Method::PUT,
            format!("{vault}/keys/x?{API}"),
            Some(json!({"key": {"kty": "RSA"}})),
            400,
            "BadParameter",
        ),
    ];
    for (method, url, body, status, code) in cases {
        let (got, _, reply) = call(&http, &t, method.clone(), &url, body).await;
        assert_eq!(got, status, "{method} {url}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{method} {url}");
        assert!(reply["error"]["message"].is_string());
    }
    let stats = emu.stats();
    assert_eq!((stats.import, stats.get, stats.client_errors), (2, 4, 8));
}

#[tokio::test]
async fn list_pages_with_absolute_next_links() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let vault = emu.vault_url();
    let mut names: Vec<String> = (0..31).map(|i| format!("k{i:02}")).collect();
    for n in &names {
        import(&emu, &http, &t, n, json!({"key": jwk("P-256")})).await;
    }
    names.sort();
    let (status, _, body) = call(
        &http,
        &t,
        Method::GET,
        &format!("{vault}/keys?{API}&maxresults=26"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadParameter"))
    );
    let (status, _, _) = call(
        &http,
        &t,
        Method::GET,
        &format!("{vault}/keys?{API}&maxresults=0"),
        None,
    )
    .await;
    assert_eq!(status, 400);

    for (max, pages) in [(None, 2), (Some(25), 2), (Some(10), 4)] {
        let mut url = match max {
            Some(m) => format!("{vault}/keys?{API}&maxresults={m}"),
            None => format!("{vault}/keys?{API}"),
        };
        let mut seen = Vec::new();
        let mut count = 0;
        loop {
            let (status, _, body) = call(&http, &t, Method::GET, &url, None).await;
            assert_eq!(status, 200, "{body}");
            count += 1;
            let items = body["value"].as_array().expect("value");
            assert!(items.len() <= max.unwrap_or(25));
            for item in items {
                let kid = item["kid"].as_str().expect("kid");
                let name = kid
                    .strip_prefix(&format!("{vault}/keys/"))
                    .expect("base kid, no version");
                assert!(!name.contains('/'), "{kid}");
                assert_eq!(item["attributes"]["enabled"], true);
                seen.push(name.to_string());
            }
            match body["nextLink"].as_str() {
                Some(next) => {
                    assert!(
                        next.starts_with(&format!("{vault}/keys?")),
                        "absolute: {next}"
                    );
                    url = next.to_string();
                }
                None => {
                    assert!(body["nextLink"].is_null());
                    break;
                }
            }
        }
        assert_eq!(seen, names, "max {max:?}");
        assert_eq!(count, pages, "max {max:?}");
    }
}

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
    let (status, _, body) = call(
        &http,
        &t,
        Method::GET,
        &format!("{vault}/keys/off?{API}"),
        None,
    )
    .await;
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
    let (status, _, body) = call(
        &http,
        &t,
        Method::GET,
        &format!("{}/keys/kept?{API}", emu.vault_url()),
        None,
    )
    .await;
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
