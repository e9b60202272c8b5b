//! Every route and every error status/body of the HTTP API, in-process (warp::test) against the
//! real signing pipeline over the in-memory vault.

use std::sync::Arc;

use warp::http::StatusCode;

use super::*;
use crate::auth::{AuthorizedKeys, authentication_bytes};
use crate::server::metrics::Metrics;
use crate::server::{ApiOptions, AppState, InFlight};
use crate::signer::SignerConfig;
use crate::testing::{MemoryVault, Mode, signer_over};
use crate::tezos::{PublicKey, SecretKey, Signature};

use crate::testing::{TZ2, TZ2_SECRET as TZ2_SK, TZ3, TZ3_SECRET as TZ3_SK};
const ATTESTATION: &str = "137a06a7700e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a815000000000533000000000000000000000000000000000000000000000000000000000000000000000000";

/// The API over the real signer, its vault holding the tz2 and tz3 test keys.
struct Api {
    vault: Arc<MemoryVault>,
    state: Arc<AppState>,
    _dir: tempfile::TempDir,
}

async fn api_with(authorized: Option<Vec<PublicKey>>, options: ApiOptions) -> Api {
    let vault = Arc::new(MemoryVault::new());
    vault.add("baker-tz2", TZ2_SK);
    vault.add("baker-tz3", TZ3_SK);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SignerConfig {
        authorized_keys: authorized.map(|k| AuthorizedKeys::new(k).expect("authorized keys")),
        ..SignerConfig::default()
    };
    let state = Arc::new(AppState {
        signer: signer_over(vault.clone(), dir.path(), config).await,
        metrics: Arc::new(Metrics::new()),
        options: ApiOptions {
            body_limit: 1024,
            ..options
        },
        inflight: InFlight::default(),
        request_ids: Default::default(),
    });
    Api {
        vault,
        state,
        _dir: dir,
    }
}

async fn state(known_keys: bool) -> Api {
    let options = ApiOptions {
        known_keys,
        ..ApiOptions::default()
    };
    api_with(None, options).await
}

/// The test attestation at another level.
fn attestation_at(level: i32) -> String {
    let mut bytes = hex::decode(ATTESTATION).expect("vector hex");
    bytes[40..44].copy_from_slice(&level.to_be_bytes());
    hex::encode(bytes)
}

async fn call(to: &Api, method: &str, path: &str, body: &str) -> (StatusCode, serde_json::Value) {
    let res = warp::test::request()
        .method(method)
        .path(path)
        .body(body)
        .reply(&api(to.state.clone()))
        .await;
    let json = serde_json::from_slice(res.body()).unwrap_or(serde_json::Value::Null);
    (res.status(), json)
}

fn octez_error(msg: &str) -> serde_json::Value {
    serde_json::json!([{"kind": "temporary", "id": "failure", "msg": msg}])
}

#[tokio::test]
async fn get_public_key_with_and_without_prefix() {
    let st = state(false).await;
    for (path, pk) in [
        (
            format!("/keys/{TZ2}"),
            "sppk7aFpmJLm3ZxMd3F4osvGBq77R1NeSpiJVnof3Wiv4mt84EBE9aX",
        ),
        (
            format!("/keys/{TZ3}"),
            "p2pk66Y3178eHvgWFA4CDsgGPhbkWtwrYCVUKJnsAi41eGP7MbHKv24",
        ),
        (
            format!("/signer/v1/keys/{TZ2}"),
            "sppk7aFpmJLm3ZxMd3F4osvGBq77R1NeSpiJVnof3Wiv4mt84EBE9aX",
        ),
    ] {
        let (status, body) = call(&st, "GET", &path, "").await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, serde_json::json!({ "public_key": pk }), "{path}");
    }
}

#[tokio::test]
async fn sign_accepts_lower_and_upper_hex_and_the_signature_verifies() {
    let st = state(false).await;
    let bytes = hex::decode(ATTESTATION).expect("vector hex");
    for (pkh, hex_body) in [
        (TZ2, ATTESTATION.to_string()),
        (TZ3, ATTESTATION.to_uppercase()),
    ] {
        let path = format!("/keys/{pkh}?version=1");
        let (status, body) = call(&st, "POST", &path, &format!("\"{hex_body}\"")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let sig: Signature = body["signature"]
            .as_str()
            .expect("signature")
            .parse()
            .expect("b58");
        let pk = st
            .state
            .signer
            .public_key(&pkh.parse().expect("pkh"))
            .await
            .expect("known");
        pk.verify(&bytes, &sig).expect("verifies");
        let prefix = if pkh == TZ2 { "spsig1" } else { "p2sig" };
        assert!(body["signature"].as_str().expect("str").starts_with(prefix));
    }
    let text = st.state.metrics.render();
    let line = "tezos_azure_signer_signatures_total{kind=\"attestation\",pkh=\"tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt\"} 1";
    assert!(text.contains(line), "{text}");
}

/// The `authentication` query reaches the signer: a signature by an authorized key over the
/// request is signed, one over other bytes is refused, none is refused.
#[tokio::test]
async fn authentication_query_reaches_the_signer() {
    let auth_key: SecretKey = TZ3_SK.parse().expect("vector key");
    let st = api_with(Some(vec![auth_key.public_key()]), ApiOptions::default()).await;
    let pkh: Pkh = TZ2.parse().expect("pkh");
    let body = format!("\"{ATTESTATION}\"");
    let (status, json) = call(&st, "POST", &format!("/keys/{TZ2}"), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    let wrong = auth_key.sign(b"anything");
    let path = format!("/keys/{TZ2}?authentication={wrong}&version=2");
    let (status, json) = call(&st, "POST", &path, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{json}");
    let data = hex::decode(ATTESTATION).expect("vector hex");
    let auth = auth_key.sign(&authentication_bytes(&pkh, &data));
    let path = format!("/keys/{TZ2}?authentication={auth}&version=2");
    let (status, json) = call(&st, "POST", &path, &body).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        st.vault.signatures(),
        1,
        "only the authenticated request reached the vault"
    );
    let (status, body) = call(&st, "GET", "/authorized_keys", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({ "authorized_keys": [TZ3] }));
}

#[tokio::test]
async fn authorized_keys_is_empty_object_without_authentication() {
    let st = state(false).await;
    let (status, body) = call(&st, "GET", "/authorized_keys", "").await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::json!({})));
}

#[tokio::test]
async fn known_keys_only_with_the_flag() {
    let (status, body) = call(&state(false).await, "GET", "/known_keys", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        octez_error("the signer does not list its keys (start it with --known-keys)")
    );
    let (status, body) = call(&state(true).await, "GET", "/known_keys", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({ "known_keys": [TZ2, TZ3] }));
}

#[tokio::test]
async fn request_errors_have_precise_statuses_and_octez_bodies() {
    let st = state(false).await;
    let sign_path = format!("/keys/{TZ2}");
    let too_big = format!("\"{}\"", "00".repeat(600));
    let cases: Vec<(&str, String, String, StatusCode, &str)> = vec![
        (
            "POST",
            sign_path.clone(),
            ATTESTATION.to_string(),
            StatusCode::BAD_REQUEST,
            "malformed request body: expected a JSON string",
        ),
        (
            "POST",
            sign_path.clone(),
            "\"13zz\"".into(),
            StatusCode::BAD_REQUEST,
            "malformed request body: invalid hex",
        ),
        (
            "POST",
            sign_path.clone(),
            "\"123\"".into(),
            StatusCode::BAD_REQUEST,
            "malformed request body: invalid hex",
        ),
        (
            "POST",
            sign_path.clone(),
            "\"\"".into(),
            StatusCode::BAD_REQUEST,
            "malformed payload: empty payload",
        ),
        (
            "POST",
            sign_path.clone(),
            "\"1300\"".into(),
            StatusCode::BAD_REQUEST,
            "malformed payload: truncated payload",
        ),
        (
            "POST",
            sign_path.clone(),
            too_big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large: the limit is 1024 bytes",
        ),
        (
            "POST",
            format!("{sign_path}?authentication=notasig"),
            format!("\"{ATTESTATION}\""),
            StatusCode::BAD_REQUEST,
            "malformed authentication query parameter",
        ),
        (
            "POST",
            "/keys/tz9nope".into(),
            format!("\"{ATTESTATION}\""),
            StatusCode::BAD_REQUEST,
            "malformed public key hash",
        ),
        (
            "GET",
            format!("/keys/tz2{}", "z".repeat(60_000)),
            String::new(),
            StatusCode::BAD_REQUEST,
            "malformed public key hash",
        ),
        (
            "POST",
            format!("{sign_path}?authentication=sig{}", "z".repeat(60_000)),
            format!("\"{ATTESTATION}\""),
            StatusCode::BAD_REQUEST,
            "malformed authentication query parameter",
        ),
        (
            "GET",
            "/keys/tz2Ch1abG7FNiibmV26Uzgdsnfni9XGrk5wD".into(),
            String::new(),
            StatusCode::NOT_FOUND,
            "unknown key tz2Ch1abG7FNiibmV26Uzgdsnfni9XGrk5wD",
        ),
        (
            "GET",
            "/nothing/here".into(),
            String::new(),
            StatusCode::NOT_FOUND,
            "no such route: GET /nothing/here",
        ),
        (
            "PUT",
            sign_path.clone(),
            String::new(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method PUT not allowed",
        ),
        (
            "POST",
            "/authorized_keys".into(),
            String::new(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method POST not allowed",
        ),
    ];
    for (method, path, body, status, msg_start) in cases {
        // Oversized base58 is refused before decoding (which is quadratic): no case is slow.
        let started = std::time::Instant::now();
        let (got, json) = call(&st, method, &path, &body).await;
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_millis(250),
            "{method} took {took:?}"
        );
        assert_eq!(got, status, "{method} {path} {body}: {json}");
        let msg = json[0]["msg"].as_str().unwrap_or_default();
        assert!(msg.starts_with(msg_start), "{method} {path}: {msg:?}");
        assert_eq!(json[0]["kind"], "temporary");
        assert_eq!(json[0]["id"], "failure");
    }
}

/// Refusals made by the real pipeline reach the client with their status and octez text, and
/// are counted (the mapping of every error is tabled in `errors_tests.rs`).
#[tokio::test]
async fn signer_refusals_map_to_their_statuses() {
    let options = ApiOptions {
        sign_deadline: std::time::Duration::from_millis(100),
        ..ApiOptions::default()
    };
    let st = api_with(None, options).await;
    let sign = format!("/keys/{TZ2}");
    let post = |path: String, hex: String| {
        let st = &st;
        async move { call(st, "POST", &path, &format!("\"{hex}\"")).await }
    };
    assert_eq!(
        post(sign.clone(), ATTESTATION.into()).await.0,
        StatusCode::OK
    );
    let mut other = hex::decode(ATTESTATION).expect("vector hex");
    other[50] ^= 1;
    let cases: Vec<(Mode, String, String, u16, &str)> = vec![
        (
            Mode::Normal,
            sign.clone(),
            hex::encode(&other),
            409,
            "attestation level 1331 and round 0 already signed with different data",
        ),
        (
            Mode::Normal,
            sign.clone(),
            format!("05{}", "00".repeat(8)),
            403,
            "magic byte 0x05 not allowed",
        ),
        (
            Mode::Normal,
            "/keys/tz2Ch1abG7FNiibmV26Uzgdsnfni9XGrk5wD".into(),
            ATTESTATION.into(),
            404,
            "unknown key tz2Ch1abG7FNiibmV26Uzgdsnfni9XGrk5wD",
        ),
        (
            Mode::Fail,
            sign.clone(),
            attestation_at(1400),
            502,
            "cannot reach the vault: memory vault is down",
        ),
        (
            Mode::Hang,
            sign.clone(),
            attestation_at(1401),
            503,
            "key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt: the request's time ran out",
        ),
    ];
    for (mode, path, hex, status, msg) in cases {
        st.vault.set_mode(mode);
        let (got, body) = post(path, hex).await;
        assert_eq!(got.as_u16(), status, "{body}");
        let text = body[0]["msg"].as_str().unwrap_or_default();
        assert!(text.starts_with(msg), "{text:?} is not {msg:?}");
        assert_eq!(body, octez_error(text));
    }
    let text = st.state.metrics.render();
    assert!(text.contains("tezos_azure_signer_watermark_refusals_total{kind=\"attestation\",pkh=\"tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt\"} 1"), "{text}");
    for line in [
        "tezos_azure_signer_vault_errors_total{error=\"transport\"} 1",
        "tezos_azure_signer_refusals_total{reason=\"expired\"} 1",
        "tezos_azure_signer_refusals_total{reason=\"magic_byte\"} 1",
        "tezos_azure_signer_refusals_total{reason=\"unknown_key\"} 1",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert!(
        text.contains("tezos_azure_signer_http_requests_total{route=\"sign\",status=\"409\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn refuses_new_signatures_once_shutting_down() {
    let st = state(false).await;
    st.state.inflight.close();
    let (status, body) = call(
        &st,
        "POST",
        &format!("/keys/{TZ2}"),
        &format!("\"{ATTESTATION}\""),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, octez_error("the signer is shutting down"));
}

#[test]
fn routes_match_the_end_of_the_path() {
    assert_eq!(Route::of("/keys/tz2abc"), Some((Route::Key, "tz2abc")));
    assert_eq!(Route::of("/a/b/keys/tz2abc/"), Some((Route::Key, "tz2abc")));
    assert_eq!(
        Route::of("/p/authorized_keys"),
        Some((Route::AuthorizedKeys, ""))
    );
    assert_eq!(Route::of("/known_keys"), Some((Route::KnownKeys, "")));
    assert_eq!(Route::of("/keys"), None);
    assert_eq!(Route::of("/"), None);
}

#[tokio::test]
async fn a_signature_whose_client_left_is_still_logged_and_counted() {
    let st = state(false).await;
    st.vault.set_latency(std::time::Duration::from_millis(200));
    let (path, body) = (format!("/keys/{TZ2}"), format!("\"{ATTESTATION}\""));
    let request = call(&st, "POST", &path, &body);
    // The client gives up long before the (slow) signature is done.
    let gone = tokio::time::timeout(std::time::Duration::from_millis(20), request).await;
    assert!(gone.is_err(), "the client left before the answer");
    assert!(
        st.state
            .metrics
            .render()
            .contains("tezos_azure_signer_sign_in_flight 1")
    );
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let text = st.state.metrics.render();
    assert!(
        text.contains(&format!(
            "tezos_azure_signer_signatures_total{{kind=\"attestation\",pkh=\"{TZ2}\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains("tezos_azure_signer_sign_in_flight 0"),
        "{text}"
    );
}

/// Every answer carries a request id the log line has too: the client's when it sent a plain
/// one, a fresh one otherwise.
#[tokio::test]
async fn answers_carry_a_request_id() {
    let st = state(false).await;
    let body = format!("\"{ATTESTATION}\"");
    let sent = warp::test::request()
        .method("POST")
        .path(&format!("/keys/{TZ2}"))
        .header("x-request-id", "baker-7")
        .body(&body)
        .reply(&api(st.state.clone()))
        .await;
    assert_eq!(sent.headers()["x-request-id"], "baker-7");
    let fresh = warp::test::request()
        .path(&format!("/keys/{TZ2}"))
        .header("x-request-id", "two words")
        .reply(&api(st.state.clone()))
        .await;
    let id = fresh.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(id.contains('-') && !id.contains(' '), "{id}");
    let next = warp::test::request()
        .path("/nowhere")
        .reply(&api(st.state.clone()))
        .await;
    assert_ne!(next.headers()["x-request-id"].to_str().unwrap(), id);
}
