//! A small test client for the emulator, shared by its own integration tests and by the
//! tests of programs that use it: start an in-process emulator, a reqwest client that trusts
//! only its CA, tokens, raw data-plane calls, and test keys. Loopback only; panics on failure
//! (it is for tests).

use crate::{Emulator, EmulatorConfig, Faults};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const API: &str = "api-version=7.6";

pub async fn start() -> Emulator {
    start_with(EmulatorConfig::default()).await
}

pub async fn start_with(config: EmulatorConfig) -> Emulator {
    Emulator::start(config).await.expect("emulator starts")
}

pub async fn start_faulty(faults: Faults) -> Emulator {
    start_with(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await
}

/// A client that trusts only the emulator's CA and never uses a proxy.
pub fn client(emu: &Emulator) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).expect("CA PEM");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .build()
        .expect("client")
}

/// A Key Vault token from the managed-identity endpoint.
pub async fn token(emu: &Emulator, http: &reqwest::Client) -> String {
    token_for(emu, http, "https://vault.azure.net").await
}

/// A token for `resource` from the managed-identity endpoint.
pub async fn token_for(emu: &Emulator, http: &reqwest::Client, resource: &str) -> String {
    let url = format!(
        "{}?api-version=2019-08-01&resource={resource}",
        emu.identity_endpoint()
    );
    let resp = http
        .get(url)
        .header("X-IDENTITY-HEADER", emu.identity_header())
        .send()
        .await
        .expect("identity endpoint");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_string()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).expect("base64url")
}

/// A fresh key as an import JWK for `crv` ("P-256" → P-256, anything else → secp256k1).
pub fn jwk(crv: &str) -> Value {
    let (d, point) = if crv == "P-256" {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let sk = p256::SecretKey::random(&mut rand::thread_rng());
        let p = sk.public_key().to_encoded_point(false).as_bytes().to_vec();
        (sk.to_bytes().to_vec(), p)
    } else {
        use k256::elliptic_curve::sec1::ToEncodedPoint;
        let sk = k256::SecretKey::random(&mut rand::thread_rng());
        let p = sk.public_key().to_encoded_point(false).as_bytes().to_vec();
        (sk.to_bytes().to_vec(), p)
    };
    json!({"kty": "EC", "crv": crv, "x": b64(&point[1..33]), "y": b64(&point[33..65]),
           "d": b64(&d), "key_ops": ["sign", "verify"]})
}

/// Authenticated request helper: returns (status, headers, JSON body or Null).
pub async fn call(
    http: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, headers, value)
}

/// `GET url` with the token: (status, headers, JSON body or Null).
pub async fn get(
    http: &reqwest::Client,
    token: &str,
    url: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    call(http, token, reqwest::Method::GET, url, None).await
}

/// The first page of the emulator's key listing.
pub fn keys_url(emu: &Emulator) -> String {
    format!("{}/keys?{API}", emu.vault_url())
}

/// Imports `jwk` under `name`; panics unless 200.
pub async fn import(
    emu: &Emulator,
    http: &reqwest::Client,
    token: &str,
    name: &str,
    body: Value,
) -> Value {
    let url = format!("{}/keys/{name}?{API}", emu.vault_url());
    let (status, _, value) = call(http, token, reqwest::Method::PUT, &url, Some(body)).await;
    assert_eq!(status, 200, "import {name}: {value}");
    value
}

/// Verifies r‖s over `digest` with the public key of a key bundle, after low-S normalisation.
pub fn verifies(bundle_key: &Value, digest: &[u8; 32], sig: &[u8]) -> bool {
    let mut point = vec![4u8];
    point.extend(unb64(bundle_key["x"].as_str().expect("x")));
    point.extend(unb64(bundle_key["y"].as_str().expect("y")));
    if bundle_key["crv"] == "P-256" {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("point");
        let Ok(s) = p256::ecdsa::Signature::from_slice(sig) else {
            return false;
        };
        vk.verify_prehash(digest, &s).is_ok()
    } else {
        use k256::ecdsa::signature::hazmat::PrehashVerifier;
        let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&point).expect("point");
        let Ok(s) = k256::ecdsa::Signature::from_slice(sig) else {
            return false;
        };
        let s = s.normalize_s().unwrap_or(s);
        vk.verify_prehash(digest, &s).is_ok()
    }
}

/// Whether a secp256k1 r‖s has a high S.
pub fn is_high_s(sig: &[u8]) -> bool {
    k256::ecdsa::Signature::from_slice(sig)
        .map(|s| s.normalize_s().is_some())
        .unwrap_or(false)
}
