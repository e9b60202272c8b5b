//! The Key Vault data plane under `/keys`: bearer-token check (401 challenge), the required
//! `api-version`, injected faults, then dispatch to list / get / import / sign. Tolerates the
//! empty path segments the Rust SDK sends (`/keys/{name}/`, `/keys/{name}//sign`).

use hyper::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use super::{Resp, kv_error, query_param};
use crate::Shared;
use crate::faults::Injected;
use crate::state::{KeyEntry, KeyVersion, valid_name};
use crate::stats::bump;

/// Largest page Key Vault serves.
pub const MAX_RESULTS: usize = 25;

pub async fn handle(shared: &Shared, req: Request<hyper::body::Incoming>) -> Resp {
    bump(&shared.counters.requests);
    if let Some(delay) = shared.faults.latency() {
        tokio::time::sleep(delay).await;
    }
    if let Some(resp) = authenticate(shared, &req) {
        return resp;
    }
    let resp = route(shared, req).await;
    if resp.status().is_client_error() {
        bump(&shared.counters.client_errors);
    }
    resp
}

fn challenge(shared: &Shared, status: StatusCode, body: Resp) -> Resp {
    // A Managed HSM answers its 401s with an empty body.
    let mut resp = body;
    if shared.managed_hsm {
        *resp.body_mut() = http_body_util::Full::new(bytes::Bytes::new());
        resp.headers_mut().remove(header::CONTENT_TYPE);
    }
    *resp.status_mut() = status;
    let value = format!(
        "Bearer authorization=\"https://login.microsoftonline.com/{}\", resource=\"{}\"",
        shared.tenant_id,
        shared.resource()
    );
    if let Ok(v) = header::HeaderValue::from_str(&value) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// None when the request carries a valid token; otherwise the 401 to send.
fn authenticate(shared: &Shared, req: &Request<hyper::body::Incoming>) -> Option<Resp> {
    let Some(auth) = req.headers().get(header::AUTHORIZATION) else {
        bump(&shared.counters.challenges);
        let body = kv_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        );
        return Some(challenge(shared, StatusCode::UNAUTHORIZED, body));
    };
    let refusal = match auth.to_str() {
        Ok(value) => shared
            .tokens
            .check_header_for(value, shared.resource())
            .err(),
        Err(_) => Some(crate::tokens::TokenRefusal::Unknown),
    };
    refusal.map(|r| {
        bump(&shared.counters.unauthorized);
        let body = kv_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            format!("AKV10022: {r}"),
        );
        challenge(shared, StatusCode::UNAUTHORIZED, body)
    })
}

async fn route(shared: &Shared, req: Request<hyper::body::Incoming>) -> Resp {
    let Some(api_version) = query_param(&req, "api-version").filter(|v| !v.is_empty()) else {
        return kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The 'api-version' query parameter is missing.",
        );
    };
    match shared.faults.next_request() {
        Injected::None => {}
        Injected::Throttle { retry_after_secs } => {
            bump(&shared.counters.throttled);
            let mut resp = kv_error(
                StatusCode::TOO_MANY_REQUESTS,
                "Throttled",
                "Operations per second is over the limit. (emulator fault injection)",
            );
            if let Some(secs) = retry_after_secs {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            }
            return resp;
        }
        Injected::ServerError => {
            bump(&shared.counters.server_errors);
            return kv_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "The service encountered an internal error. (emulator fault injection)",
            );
        }
    }
    let base = base_url(shared, &req);
    let path = req.uri().path().to_string();
    let rest = path.strip_prefix("/keys").unwrap_or_default();
    let segs: Vec<&str> = rest
        .strip_prefix('/')
        .map(|r| r.split('/').collect())
        .unwrap_or_default();
    let method = req.method().clone();
    match (method, segs.as_slice()) {
        (Method::GET, []) | (Method::GET, [""]) => list(shared, &req, &base, &api_version, None),
        (Method::PUT, [name]) => super::ops::import(shared, req, &base, name).await,
        (Method::GET, [name]) | (Method::GET, [name, ""]) => get(shared, &base, name, None),
        (Method::GET, [name, "versions"]) => list(shared, &req, &base, &api_version, Some(name)),
        (Method::GET, [name, version]) => get(shared, &base, name, Some(version)),
        (Method::PATCH, [name]) | (Method::PATCH, [name, ""]) => {
            super::ops::update(shared, req, &base, name, "").await
        }
        (Method::PATCH, [name, version]) => {
            super::ops::update(shared, req, &base, name, version).await
        }
        (Method::POST, [name, version, "sign"]) => {
            super::ops::sign(shared, req, &base, name, version).await
        }
        (m, _) => kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            format!("Operation {m} {path} is not supported by the emulator."),
        ),
    }
}

/// `https://host[:port]` as the client addressed it (so `kid`s and `nextLink`s match).
fn base_url(shared: &Shared, req: &Request<hyper::body::Incoming>) -> String {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(h) if !h.is_empty() => format!("https://{h}"),
        _ => shared.vault_url.clone(),
    }
}

pub fn attributes_json(v: &KeyVersion) -> Value {
    let mut a = json!({
        "enabled": v.enabled,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": "Recoverable+Purgeable",
        "recoverableDays": 90,
        "exportable": false,
    });
    if let Some(nbf) = v.nbf {
        a["nbf"] = json!(nbf);
    }
    if let Some(exp) = v.exp {
        a["exp"] = json!(exp);
    }
    a
}

/// The key bundle Key Vault returns for import and get (never with `d`).
pub fn bundle_json(base: &str, entry: &KeyEntry, v: &KeyVersion) -> Value {
    let m = &v.material;
    let mut b = json!({
        "key": {
            "kid": format!("{base}/keys/{}/{}", entry.name, v.version),
            "kty": if v.hsm { "EC-HSM" } else { "EC" },
            "key_ops": v.key_ops,
            "crv": m.crv.as_str(),
            "x": crate::jwk::b64url(&m.x),
            "y": crate::jwk::b64url(&m.y),
        },
        "attributes": attributes_json(v),
    });
    if !v.tags.is_empty() {
        b["tags"] = json!(v.tags);
    }
    b
}

fn bad_name(name: &str) -> Resp {
    kv_error(
        StatusCode::BAD_REQUEST,
        "BadParameter",
        format!(
            "The key name '{name}' is invalid: it must match ^[0-9a-zA-Z-]+$ and be 1 to 127 characters long."
        ),
    )
}

pub fn not_found(name: &str, version: Option<&str>) -> Resp {
    let what = match version.filter(|v| !v.is_empty()) {
        Some(v) => format!("A key with (name/id) {name}/{v} was not found in this key vault."),
        None => format!("A key with (name/id) {name} was not found in this key vault."),
    };
    kv_error(StatusCode::NOT_FOUND, "KeyNotFound", what)
}

fn get(shared: &Shared, base: &str, name: &str, version: Option<&str>) -> Resp {
    if !valid_name(name) {
        return bad_name(name);
    }
    let store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
    match store.get(name, version) {
        Some((entry, v)) => {
            bump(&shared.counters.get);
            super::json_response(StatusCode::OK, &bundle_json(base, entry, v))
        }
        None => not_found(name, version),
    }
}

/// The token of the empty last page (not a key name: names have no `$`).
const END: &str = "$end";

/// `GET /keys` (one item per key, base kid) or `GET /keys/{name}/versions` (one item per
/// version, versioned kid), `maxresults` ≤ 25, absolute `nextLink`; with
/// [`crate::Faults::empty_pages`], key listings interleave empty pages as the service does.
fn list(
    shared: &Shared,
    req: &Request<hyper::body::Incoming>,
    base: &str,
    api: &str,
    versions_of: Option<&str>,
) -> Resp {
    let max = match query_param(req, "maxresults") {
        None => MAX_RESULTS,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => n,
            _ => {
                return kv_error(
                    StatusCode::BAD_REQUEST,
                    "BadParameter",
                    format!("Invalid maxresults '{m}': it must be between 1 and {MAX_RESULTS}."),
                );
            }
        },
    };
    let after = match query_param(req, "$skiptoken") {
        None => None,
        Some(t) => match crate::jwk::b64url_decode(&t).and_then(|b| String::from_utf8(b).ok()) {
            Some(name) => Some(name),
            None => {
                return kv_error(
                    StatusCode::BAD_REQUEST,
                    "BadParameter",
                    "Invalid $skiptoken.",
                );
            }
        },
    };
    let store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
    let item = |kid: String, v: &KeyVersion| {
        let mut item = json!({"kid": kid, "attributes": attributes_json(v)});
        if !v.tags.is_empty() {
            item["tags"] = json!(v.tags);
        }
        item
    };
    if versions_of.is_none()
        && let Some(secs) = shared.faults.next_list()
    {
        bump(&shared.counters.throttled);
        let mut resp = kv_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Throttled",
            "Operations per second is over the limit. (emulator fault injection)",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        return resp;
    }
    let empty_pages = shared.faults.get().empty_pages && versions_of.is_none();
    // With empty pages, tokens say which page comes: `R:<after>` a real page, `E:<next>` the
    // empty page before it (`E:` + END: the empty last page). Key names have no ':'.
    let (after, empty_before) = match (empty_pages, after.as_deref()) {
        (false, _) => (after, None),
        (true, None) => (None, Some(Some(String::new()))),
        (true, Some(token)) => match token.split_once(':') {
            Some(("R", a)) => ((!a.is_empty()).then(|| a.to_string()), None),
            Some(("E", END)) => (None, Some(None)),
            Some(("E", n)) => (None, Some(Some(n.to_string()))),
            _ => (after, None),
        },
    };
    if let Some(next_real) = empty_before {
        let next_link = next_real.map(|n| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("api-version", api)
                .append_pair(
                    "$skiptoken",
                    &crate::jwk::b64url(format!("R:{n}").as_bytes()),
                )
                .append_pair("maxresults", &max.to_string())
                .finish();
            format!("{base}/keys?{query}")
        });
        bump(&shared.counters.list);
        let mut page = json!({"value": [], "nextLink": next_link});
        // A Managed HSM leaves the member out of the last page instead of sending null.
        if shared.managed_hsm && page["nextLink"].is_null() {
            page.as_object_mut().map(|p| p.remove("nextLink"));
        }
        return super::json_response(StatusCode::OK, &page);
    }
    let (value, next, path): (Vec<Value>, Option<String>, String) = match versions_of {
        None => {
            let (page, next) = store.page(after.as_deref(), max);
            // Each real page is followed by an empty one (the last by the empty last page).
            let next = match (empty_pages, next) {
                (true, Some(n)) => Some(format!("E:{n}")),
                (true, None) => Some(format!("E:{END}")),
                (false, next) => next,
            };
            let value = page
                .iter()
                .filter_map(|e| Some(item(format!("{base}/keys/{}", e.name), e.latest()?)))
                .collect();
            (value, next, "/keys".to_string())
        }
        Some(name) => {
            if !valid_name(name) {
                return bad_name(name);
            }
            let Some((entry, page, next)) = store.versions_page(name, after.as_deref(), max) else {
                return not_found(name, None);
            };
            let value = page
                .iter()
                .map(|v| item(format!("{base}/keys/{}/{}", entry.name, v.version), v))
                .collect();
            (value, next, format!("/keys/{}/versions", entry.name))
        }
    };
    let next_link = next.map(|n| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("api-version", api)
            .append_pair("$skiptoken", &crate::jwk::b64url(n.as_bytes()))
            .append_pair("maxresults", &max.to_string())
            .finish();
        format!("{base}{path}?{query}")
    });
    bump(&shared.counters.list);
    let mut page = json!({"value": value, "nextLink": next_link});
    // A Managed HSM leaves the member out of the last page instead of sending null.
    if shared.managed_hsm && page["nextLink"].is_null() {
        page.as_object_mut().map(|p| p.remove("nextLink"));
    }
    super::json_response(StatusCode::OK, &page)
}
