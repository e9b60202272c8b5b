//! The Entra ID v2 client-credentials token endpoint, `POST /{tenant}/oauth2/v2.0/token` on the
//! HTTPS port (what `ClientSecretCredential` calls when `AZURE_AUTHORITY_HOST` points here).
//! Only the one registered app gets a token, authenticated either by its client secret or by a
//! client assertion (`urn:ietf:params:oauth:client-assertion-type:jwt-bearer`) equal to the
//! federated token it trusts (what `WorkloadIdentityCredential` sends). Also serves the tenant's
//! OpenID configuration, which MSAL-based clients (Node, Python, .NET) fetch first.

use hyper::{Method, Request, StatusCode};
use serde_json::json;

use super::{Resp, json_response, read_body};
use crate::Shared;
use crate::stats::bump;
use std::sync::atomic::AtomicU64;

/// The only client assertion type Entra accepts.
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An Entra error reply (`error`, `error_description`, `error_codes`), as MSAL/azure_identity parse it.
fn refuse(shared: &Shared, status: StatusCode, error: &str, code: i32, description: &str) -> Resp {
    bump(&shared.counters.token_errors);
    json_response(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}"),
            "error_codes": [code],
        }),
    )
}

pub async fn token(shared: &Shared, req: Request<hyper::body::Incoming>) -> Resp {
    let tenant = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    if req.method() != Method::POST {
        return refuse(
            shared,
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests.",
        );
    }
    if !tenant.eq_ignore_ascii_case(&shared.tenant_id) {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if field("client_id") != shared.client_id {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            "Application not found in the directory.",
        );
    }
    let counter = match client_authentication(shared, &form) {
        Ok(counter) => counter,
        Err(resp) => return *resp,
    };
    let scope = field("scope");
    if !scope.ends_with("/.default") || scope.contains(' ') {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid: client credential flows must have one scope value with /.default.",
        );
    }
    let minted = shared.tokens.mint(scope);
    bump(counter);
    json_response(
        StatusCode::OK,
        &json!({
            "token_type": "Bearer",
            "expires_in": minted.expires_in,
            "ext_expires_in": minted.expires_in,
            "access_token": minted.access_token,
        }),
    )
}

/// Checks how the app authenticated: exactly one of `client_secret` or a jwt-bearer
/// `client_assertion`, and it must be the configured one. Returns the counter to bump on success.
fn client_authentication<'a>(
    shared: &'a Shared,
    form: &std::collections::HashMap<String, String>,
) -> Result<&'a AtomicU64, Box<Resp>> {
    let secret = form.get("client_secret");
    let assertion_type = form.get("client_assertion_type");
    let assertion = form.get("client_assertion");
    match (secret, assertion_type, assertion) {
        (Some(secret), None, None) => {
            if secret.as_str() == shared.client_secret.as_str() {
                Ok(&shared.counters.tokens_client_credentials)
            } else {
                Err(Box::new(refuse(
                    shared,
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided.",
                )))
            }
        }
        (None, Some(kind), Some(assertion)) => {
            if kind != JWT_BEARER {
                Err(Box::new(refuse(
                    shared,
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    50027,
                    &format!("Invalid client_assertion_type '{kind}': expected {JWT_BEARER}."),
                )))
            } else if assertion.as_str() == shared.federated_token.as_str() {
                Ok(&shared.counters.tokens_client_assertion)
            } else {
                Err(Box::new(refuse(
                    shared,
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    700211,
                    "No matching federated identity record found for presented assertion.",
                )))
            }
        }
        (None, None, None) => Err(Box::new(refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        ))),
        _ => Err(Box::new(refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9002341,
            "Provide exactly one of client_secret or client_assertion with client_assertion_type.",
        ))),
    }
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`, pointing MSAL at this host.
pub fn openid_configuration(shared: &Shared, req: &Request<hyper::body::Incoming>) -> Resp {
    let tenant = req
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    if !tenant.eq_ignore_ascii_case(&shared.tenant_id) {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("https://{h}"))
        .unwrap_or_else(|| shared.vault_url.clone());
    let t = &shared.tenant_id;
    json_response(
        StatusCode::OK,
        &json!({
            "token_endpoint": format!("{host}/{t}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "jwks_uri": format!("{host}/{t}/discovery/v2.0/keys"),
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{host}/{t}/v2.0"),
            "request_uri_parameter_supported": false,
            "authorization_endpoint": format!("{host}/{t}/oauth2/v2.0/authorize"),
            "end_session_endpoint": format!("{host}/{t}/oauth2/v2.0/logout"),
            "tenant_region_scope": null,
            "cloud_instance_name": "emulator",
        }),
    )
}
