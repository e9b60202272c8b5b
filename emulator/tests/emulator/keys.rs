//! The Key Vault data plane of the emulator over raw HTTP: import/get error codes and
//! versions, list paging with absolute nextLinks. Loopback only.

use keyvault_emulator::testkit::*;
use reqwest::Method;
use serde_json::{Value, json};

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
        let (status, _, body) = get(&http, &t, &format!("{vault}{path}?{API}")).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(body["key"]["kid"], kid2.as_str(), "{path}");
    }
    let version1 = kid1.rsplit('/').next().expect("version");
    let (status, _, body) = get(&http, &t, &format!("{vault}/keys/baker1/{version1}?{API}")).await;
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
    let (status, _, body) = get(&http, &t, &format!("{vault}/keys?{API}&maxresults=26")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("BadParameter"))
    );
    let (status, _, _) = get(&http, &t, &format!("{vault}/keys?{API}&maxresults=0")).await;
    assert_eq!(status, 400);

    for (max, pages) in [(None, 2), (Some(25), 2), (Some(10), 4)] {
        let mut url = match max {
            Some(m) => format!("{vault}/keys?{API}&maxresults={m}"),
            None => format!("{vault}/keys?{API}"),
        };
        let mut seen = Vec::new();
        let mut count = 0;
        loop {
            let (status, _, body) = get(&http, &t, &url).await;
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
async fn versions_are_listed_oldest_first_with_paging() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    let vault = emu.vault_url();
    let mut kids = Vec::new();
    for _ in 0..5 {
        let b = import(&emu, &http, &t, "rotated", json!({"key": jwk("P-256K")})).await;
        kids.push(b["key"]["kid"].as_str().expect("kid").to_string());
    }
    let mut url = format!("{vault}/keys/rotated/versions?{API}&maxresults=2");
    let mut seen = Vec::new();
    loop {
        let (status, _, body) = get(&http, &t, &url).await;
        assert_eq!(status, 200, "{body}");
        for item in body["value"].as_array().expect("value") {
            seen.push(item["kid"].as_str().expect("kid").to_string());
        }
        match body["nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, kids);
    let (status, _, body) = get(&http, &t, &format!("{vault}/keys/ghost/versions?{API}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("KeyNotFound"))
    );
}

/// Managed HSM mode on the wire: tokens for the HSM's audience only, an empty 401 body, every
/// key EC-HSM (even one imported without `hsm`), no `nextLink` member on the last page, and
/// `alg` in sign replies.
#[tokio::test]
async fn managed_hsm_mode_answers_as_a_managed_hsm() {
    let emu = start_with(keyvault_emulator::EmulatorConfig {
        managed_hsm: true,
        ..keyvault_emulator::EmulatorConfig::default()
    })
    .await;
    let http = client(&emu);
    let vault_token = token(&emu, &http).await;
    let (status, headers, _) = get(&http, &vault_token, &keys_url(&emu)).await;
    assert_eq!(status, 401, "a Key Vault token is not a Managed HSM token");
    let challenge = headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains("resource=\"https://managedhsm.azure.net\""),
        "{challenge}"
    );
    let raw = http.get(keys_url(&emu)).send().await.unwrap();
    assert_eq!(raw.status(), 401);
    assert!(raw.bytes().await.unwrap().is_empty(), "an empty 401 body");

    let t = token_for(&emu, &http, "https://managedhsm.azure.net").await;
    let bundle = import(&emu, &http, &t, "k", json!({"key": jwk("P-256K")})).await;
    assert_eq!(bundle["key"]["kty"], "EC-HSM");
    let (status, _, page) = get(&http, &t, &keys_url(&emu)).await;
    assert_eq!(status, 200);
    assert!(page.get("nextLink").is_none(), "{page}");
    let kid = bundle["key"]["kid"].as_str().unwrap();
    let url = format!("{kid}/sign?{API}");
    let body = json!({"alg": "ES256K", "value": b64(&[7u8; 32])});
    let (status, _, reply) = call(&http, &t, Method::POST, &url, Some(body)).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["alg"], "ES256K");
}
