//! Every route and every error status/body of the HTTP API, in-process (warp::test) against a
//! fake pipeline that signs locally with known secret keys.

use std::sync::Arc;

use warp::http::StatusCode;

use super::*;
use crate::server::SignerApi as _;
use crate::server::metrics::Metrics;
use crate::server::{ApiOptions, AppState, InFlight};
use crate::signer::SignError;
use crate::testing::StubSigner;
use crate::tezos::{SecretKey, Signature};
use crate::vault::VaultError;

use crate::testing::{TZ2, TZ2_SECRET as TZ2_SK, TZ3, TZ3_SECRET as TZ3_SK};
const ATTESTATION: &str = "137a06a7700e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a815000000000533000000000000000000000000000000000000000000000000000000000000000000000000";

fn fake(authorized: Option<Vec<Pkh>>) -> Arc<StubSigner> {
    Arc::new(StubSigner::new(&[TZ2_SK, TZ3_SK]).with_authorized(authorized))
}

fn state(signer: Arc<StubSigner>, known_keys: bool) -> Arc<AppState> {
    Arc::new(AppState {
        signer,
        metrics: Arc::new(Metrics::new()),
        options: ApiOptions {
            known_keys,
            body_limit: 1024,
            ..ApiOptions::default()
        },
        inflight: InFlight::default(),
        request_ids: Default::default(),
    })
}

async fn call(
    state: &Arc<AppState>,
    method: &str,
    path: &str,
    body: &str,
) -> (StatusCode, serde_json::Value) {
    let res = warp::test::request()
        .method(method)
        .path(path)
        .body(body)
        .reply(&api(state.clone()))
        .await;
    let json = serde_json::from_slice(res.body()).unwrap_or(serde_json::Value::Null);
    (res.status(), json)
}

fn octez_error(msg: &str) -> serde_json::Value {
    serde_json::json!([{"kind": "temporary", "id": "failure", "msg": msg}])
}

#[tokio::test]
async fn get_public_key_with_and_without_prefix() {
    let st = state(fake(None), false);
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
    let signer = fake(None);
    let st = state(signer.clone(), false);
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
        let pk = signer
            .public_key(&pkh.parse().expect("pkh"))
            .await
            .expect("known");
        pk.verify(&bytes, &sig).expect("verifies");
        let prefix = if pkh == TZ2 { "spsig1" } else { "p2sig" };
        assert!(body["signature"].as_str().expect("str").starts_with(prefix));
    }
    let text = st.metrics.render();
    let line = "tezos_azure_signer_signatures_total{kind=\"attestation\",pkh=\"tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt\"} 1";
    assert!(text.contains(line), "{text}");
}

#[tokio::test]
async fn authentication_query_reaches_the_signer() {
    let auth_key: SecretKey = TZ3_SK.parse().expect("vector key");
    let signer = fake(Some(vec![auth_key.public_key().pkh()]));
    let st = state(signer.clone(), false);
    let auth = auth_key.sign(b"anything");
    let path = format!("/keys/{TZ2}?authentication={auth}&version=2");
    let (status, _) = call(&st, "POST", &path, &format!("\"{ATTESTATION}\"")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(*signer.seen_auth.lock().expect("lock"), vec![Some(auth)]);
    let (status, body) = call(&st, "GET", "/authorized_keys", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({ "authorized_keys": [TZ3] }));
}

#[tokio::test]
async fn authorized_keys_is_empty_object_without_authentication() {
    let st = state(fake(None), false);
    let (status, body) = call(&st, "GET", "/authorized_keys", "").await;
    assert_eq!((status, body), (StatusCode::OK, serde_json::json!({})));
}

#[tokio::test]
async fn known_keys_only_with_the_flag() {
    let (status, body) = call(&state(fake(None), false), "GET", "/known_keys", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        octez_error("the signer does not list its keys (start it with --known-keys)")
    );
    let (status, body) = call(&state(fake(None), true), "GET", "/known_keys", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::json!({ "known_keys": [TZ2, TZ3] }));
}

#[tokio::test]
async fn request_errors_have_precise_statuses_and_octez_bodies() {
    let st = state(fake(None), false);
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

#[tokio::test]
async fn signer_refusals_map_to_their_statuses() {
    let signer = fake(None);
    let st = state(signer.clone(), false);
    let pkh: Pkh = TZ2.parse().expect("pkh");
    let cases = [
        (
            SignError::MagicByteNotAllowed(0x13),
            403,
            "magic byte 0x13 not allowed",
        ),
        (
            SignError::MissingAuthentication,
            401,
            "missing authentication signature field",
        ),
        (
            SignError::InvalidAuthentication,
            403,
            "invalid authentication signature",
        ),
        (
            SignError::PolicyRefused(crate::policy::PolicyRefusal::NoRule {
                pkh: TZ2.parse().expect("pkh"),
            }),
            403,
            "key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt has no entry in the policy file and there is no [default]",
        ),
        (
            SignError::Watermark(crate::watermark::WatermarkError::DifferentData {
                kind: crate::tezos::ConsensusKind::Attestation,
                level: 1331,
                round: 0,
            }),
            409,
            "attestation level 1331 and round 0 already signed with different data",
        ),
        (
            SignError::Vault(VaultError::Deadline(std::time::Duration::from_secs(3))),
            503,
            "vault request did not complete within 3s (retries included)",
        ),
        (
            SignError::Vault(VaultError::Transport("refused".into())),
            502,
            "cannot reach the vault: refused",
        ),
        (
            SignError::UnknownKey(pkh),
            404,
            "unknown key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt",
        ),
    ];
    for (error, status, msg) in cases {
        signer.fail_next(error);
        let (got, body) = call(
            &st,
            "POST",
            &format!("/keys/{TZ2}"),
            &format!("\"{ATTESTATION}\""),
        )
        .await;
        assert_eq!(got.as_u16(), status, "{body}");
        assert_eq!(body, octez_error(msg));
    }
    let text = st.metrics.render();
    assert!(text.contains("tezos_azure_signer_watermark_refusals_total{kind=\"attestation\",pkh=\"tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt\"} 1"), "{text}");
    assert!(
        text.contains("tezos_azure_signer_vault_errors_total{error=\"deadline\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("tezos_azure_signer_http_requests_total{route=\"sign\",status=\"409\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn refuses_new_signatures_once_shutting_down() {
    let st = state(fake(None), false);
    st.inflight.close();
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
fn route_matching_allows_any_prefix() {
    assert_eq!(parse_route("/keys/tz2abc"), Some(Route::Key("tz2abc")));
    assert_eq!(parse_route("/a/b/keys/tz2abc/"), Some(Route::Key("tz2abc")));
    assert_eq!(
        parse_route("/p/authorized_keys"),
        Some(Route::AuthorizedKeys)
    );
    assert_eq!(parse_route("/known_keys"), Some(Route::KnownKeys));
    assert_eq!(parse_route("/keys"), None);
    assert_eq!(parse_route("/"), None);
}

#[tokio::test]
async fn a_signature_whose_client_left_is_still_logged_and_counted() {
    let signer = fake(None);
    signer.set_delay(std::time::Duration::from_millis(200));
    let st = state(signer, false);
    let (path, body) = (format!("/keys/{TZ2}"), format!("\"{ATTESTATION}\""));
    let request = call(&st, "POST", &path, &body);
    // The client gives up long before the (slow) signature is done.
    let gone = tokio::time::timeout(std::time::Duration::from_millis(20), request).await;
    assert!(gone.is_err(), "the client left before the answer");
    assert!(
        st.metrics
            .render()
            .contains("tezos_azure_signer_sign_in_flight 1")
    );
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let text = st.metrics.render();
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
    let st = state(fake(None), false);
    let body = format!("\"{ATTESTATION}\"");
    let sent = warp::test::request()
        .method("POST")
        .path(&format!("/keys/{TZ2}"))
        .header("x-request-id", "baker-7")
        .body(&body)
        .reply(&api(st.clone()))
        .await;
    assert_eq!(sent.headers()["x-request-id"], "baker-7");
    let fresh = warp::test::request()
        .path(&format!("/keys/{TZ2}"))
        .header("x-request-id", "two words")
        .reply(&api(st.clone()))
        .await;
    let id = fresh.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(id.contains('-') && !id.contains(' '), "{id}");
    let next = warp::test::request().path("/nowhere").reply(&api(st)).await;
    assert_ne!(next.headers()["x-request-id"].to_str().unwrap(), id);
}
