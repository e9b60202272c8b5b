//! The emulator's authentication over raw HTTP (reqwest over TLS, trusting only its CA): the
//! 401 bearer challenge, expired and revoked tokens, the managed-identity and
//! client-credentials token endpoints (client secret and federated client assertion).
//! Loopback only.

use keyvault_emulator::EmulatorConfig;
use keyvault_emulator::testkit::*;
use serde_json::Value;

#[tokio::test]
async fn unauthenticated_requests_get_the_bearer_challenge() {
    let emu = start().await;
    let http = client(&emu);
    let resp = http.get(keys_url(&emu)).send().await.expect("request");
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
            .get(keys_url(&emu))
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
    let (status, _, body) = get(&http, &t, &keys_url(&emu)).await;
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
async fn revoked_tokens_get_the_unknown_token_challenge() {
    let emu = start().await;
    let http = client(&emu);
    let t = token(&emu, &http).await;
    assert_eq!(get(&http, &t, &keys_url(&emu)).await.0, 200);
    let revoke = format!("{}/_emulator/revoke-tokens", emu.vault_url());
    let resp = http.post(&revoke).send().await.expect("request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["revoked"], 1);
    let (status, headers, body) = get(&http, &t, &keys_url(&emu)).await;
    assert_eq!(status, 401);
    assert!(headers.contains_key("www-authenticate"));
    assert_eq!(body["error"]["code"], "Unauthorized");
    assert_eq!(
        body["error"]["message"],
        "AKV10022: the access token is unknown or malformed"
    );
    // A new token works; the route takes POST only.
    let fresh = token(&emu, &http).await;
    assert_eq!(get(&http, &fresh, &keys_url(&emu)).await.0, 200);
    let resp = http.get(&revoke).send().await.expect("request");
    assert_eq!(resp.status(), 405);
    assert_eq!(emu.revoke_tokens(), 1, "GET revoked nothing");
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
    let (status, _, _) = get(&http, t, &keys_url(&emu)).await;
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
    let (status, _, _) = get(&http, t, &keys_url(&emu)).await;
    assert_eq!(status, 200);
    assert_eq!(emu.stats().tokens_client_credentials, 1);
}

#[tokio::test]
async fn client_assertion_is_accepted_only_with_the_trusted_federated_token() {
    const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    let emu = start().await;
    let http = client(&emu);
    let token = emu.federated_token().to_string();
    let secret = emu.client_secret().to_string();
    let id = emu.client_id().to_string();
    let post = |fields: Vec<(&'static str, String)>| {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("scope", "https://vault.azure.net/.default");
        for (k, v) in &fields {
            form.append_pair(k, v);
        }
        http.post(format!(
            "{}/{}/oauth2/v2.0/token",
            emu.authority_host(),
            emu.tenant_id()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
    };
    let assertion = |kind: &str, value: &str| {
        vec![
            ("client_assertion_type", kind.to_string()),
            ("client_assertion", value.to_string()),
        ]
    };
    let with_id = |mut f: Vec<(&'static str, String)>, client: &str| {
        f.push(("client_id", client.to_string()));
        f
    };
    type Form = Vec<(&'static str, String)>;
    let cases: Vec<(&str, Form, u16, &str, i64)> = vec![
        (
            "another token",
            with_id(assertion(JWT_BEARER, "a.b.c"), &id),
            401,
            "invalid_client",
            700211,
        ),
        (
            "another assertion type",
            with_id(assertion("urn:example:saml", &token), &id),
            400,
            "invalid_request",
            50027,
        ),
        (
            "another app",
            with_id(assertion(JWT_BEARER, &token), "other-app"),
            400,
            "unauthorized_client",
            700016,
        ),
        (
            "assertion without its type",
            with_id(vec![("client_assertion", token.clone())], &id),
            400,
            "invalid_request",
            9002341,
        ),
        (
            "secret and assertion",
            with_id(
                {
                    let mut f = assertion(JWT_BEARER, &token);
                    f.push(("client_secret", secret.clone()));
                    f
                },
                &id,
            ),
            400,
            "invalid_request",
            9002341,
        ),
        (
            "neither",
            with_id(vec![], &id),
            400,
            "invalid_client",
            7000216,
        ),
    ];
    for (what, fields, status, error, code) in cases {
        let resp = post(fields).await.expect("request");
        assert_eq!(resp.status(), status, "{what}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["error"], error, "{what}");
        assert_eq!(body["error_codes"][0], code, "{what}");
    }
    assert_eq!(emu.stats().token_errors, 6);
    assert_eq!(emu.stats().tokens_client_assertion, 0);

    let resp = post(with_id(assertion(JWT_BEARER, &token), &id))
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    let t = body["access_token"].as_str().expect("token");
    let (status, _, _) = get(&http, t, &keys_url(&emu)).await;
    assert_eq!(status, 200);
    let st = emu.stats();
    assert_eq!(
        (st.tokens_client_assertion, st.tokens_client_credentials),
        (1, 0)
    );
    // Two configs get two different default tokens.
    assert_ne!(
        EmulatorConfig::default().federated_token,
        EmulatorConfig::default().federated_token
    );
}
