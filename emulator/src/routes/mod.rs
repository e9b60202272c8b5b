//! HTTP routing of the emulator: the HTTPS port serves the Key Vault data plane
//! ([`keys`]), the Entra v2 token endpoint ([`entra`]) and `/_emulator/*` introspection and
//! control (stats, faults, token revocation); the plain-http identity port serves only the App
//! Service managed-identity endpoint ([`identity`]). Routing only: every decision about keys,
//! tokens or faults lives elsewhere.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::{Method, Request, Response, StatusCode, header};
use serde_json::json;

use super::Shared;

pub mod entra;
pub mod identity;
pub mod keys;
mod ops;

/// The response type of every emulator handler.
pub type Resp = Response<Full<Bytes>>;

/// Largest request body accepted (a JWK import is well under 1 KiB).
const MAX_BODY: usize = 64 * 1024;

pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Resp {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Key Vault's error body: `{"error":{"code":..,"message":..}}`.
pub fn kv_error(status: StatusCode, code: &str, message: impl Into<String>) -> Resp {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message.into()}}),
    )
}

/// Reads the whole request body (bounded).
pub async fn read_body(req: Request<hyper::body::Incoming>) -> Result<Bytes, Resp> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            format!("the request body is unreadable or larger than {MAX_BODY} bytes"),
        )),
    }
}

/// Reads the body and parses it as JSON; a failure is Key Vault's BadParameter naming `what`.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    req: Request<hyper::body::Incoming>,
    what: &str,
) -> Result<T, Resp> {
    let body = read_body(req).await?;
    serde_json::from_slice(&body).map_err(|e| {
        kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            format!("The request body is not a valid {what}: {e}"),
        )
    })
}

/// The value of one query parameter.
pub fn query_param(req: &Request<hyper::body::Incoming>, name: &str) -> Option<String> {
    let query = req.uri().query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Entry point of the HTTPS port.
pub async fn vault(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Resp, Infallible> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let resp = if path == "/keys" || path.starts_with("/keys/") {
        keys::handle(&shared, req).await
    } else if path.ends_with("/oauth2/v2.0/token") {
        entra::token(&shared, req).await
    } else if path.ends_with("/v2.0/.well-known/openid-configuration") && method == Method::GET {
        entra::openid_configuration(&shared, &req)
    } else if path == "/_emulator/stats" && req.method() == Method::GET {
        json_response(
            StatusCode::OK,
            &serde_json::to_value(shared.counters.snapshot()).unwrap_or_default(),
        )
    } else if path == "/_emulator/faults" {
        faults(&shared, req).await
    } else if path == "/_emulator/revoke-tokens" {
        if req.method() == Method::POST {
            let revoked = shared.tokens.revoke_all();
            tracing::info!(revoked, "emulator: every access token revoked");
            json_response(StatusCode::OK, &json!({ "revoked": revoked }))
        } else {
            kv_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "use POST",
            )
        }
    } else {
        kv_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("no such operation: {} {path}", req.method()),
        )
    };
    tracing::debug!(%method, %path, status = resp.status().as_u16(), "emulator request");
    Ok(resp)
}

/// `GET /_emulator/faults` shows the active faults; `PUT` replaces them (JSON [`super::Faults`]).
async fn faults(shared: &Shared, req: Request<hyper::body::Incoming>) -> Resp {
    match *req.method() {
        Method::GET => json_response(
            StatusCode::OK,
            &serde_json::to_value(shared.faults.get()).unwrap_or_default(),
        ),
        Method::PUT => {
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            match serde_json::from_slice::<super::Faults>(&body) {
                Ok(f) => {
                    shared.faults.set(f.clone());
                    json_response(StatusCode::OK, &serde_json::to_value(f).unwrap_or_default())
                }
                Err(e) => kv_error(StatusCode::BAD_REQUEST, "BadParameter", e.to_string()),
            }
        }
        _ => kv_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "use GET or PUT",
        ),
    }
}

/// Entry point of the plain-http identity port.
pub async fn identity_port(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Resp, Infallible> {
    Ok(identity::token(&shared, req))
}
