//! The key operations with a body: import (`PUT /keys/{name}`), update (`PATCH
//! /keys/{name}/{version}`, enable/disable) and sign (`POST /keys/{name}/{version}/sign`).
//! Import validates the JWK before storing; sign refuses a curve/algorithm mismatch, a digest
//! that is not 32 bytes, and disabled keys.

use std::collections::BTreeMap;

use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::keys::{bundle_json, not_found};
use super::{Resp, json_response, kv_error, read_json};
use crate::Shared;
use crate::jwk::{ImportJwk, KeyMaterial, b64url, b64url_decode};
use crate::state::{ImportAttributes, valid_name};
use crate::stats::bump;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ImportAttributesJson {
    enabled: Option<bool>,
    nbf: Option<i64>,
    exp: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ImportBody {
    key: Option<ImportJwk>,
    #[serde(rename = "Hsm")]
    hsm_upper: Option<bool>,
    hsm: Option<bool>,
    attributes: Option<ImportAttributesJson>,
    tags: Option<BTreeMap<String, String>>,
}

/// What a Standard-tier vault answers to an HSM key import or creation.
pub(crate) const STANDARD_TIER_HSM: &str = "Hardware key operation not allowed on standard vault";

fn bad(message: impl Into<String>) -> Resp {
    kv_error(StatusCode::BAD_REQUEST, "BadParameter", message)
}

pub async fn import(
    shared: &Shared,
    req: Request<hyper::body::Incoming>,
    base: &str,
    name: &str,
) -> Resp {
    if !valid_name(name) {
        return bad(format!(
            "The key name '{name}' is invalid: it must match ^[0-9a-zA-Z-]+$ and be 1 to 127 characters long."
        ));
    }
    let parsed: ImportBody = match read_json(req, "key import").await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(jwk) = parsed.key else {
        return bad("The 'key' property is required.");
    };
    let (material, key_ops) = match KeyMaterial::from_import(&jwk) {
        Ok(ok) => ok,
        Err(e) => return bad(format!("Invalid key: {e}")),
    };
    // A Managed HSM holds every key in the HSM.
    let hsm = parsed.hsm_upper.or(parsed.hsm).unwrap_or(false) || shared.managed_hsm;
    if hsm && shared.standard_tier {
        // The service's text (seen in Azure SDK and docs issues); the status and code are
        // this emulator's assumption.
        return bad(STANDARD_TIER_HSM);
    }
    let attrs = parsed.attributes.unwrap_or_default();
    let attributes = ImportAttributes {
        enabled: attrs.enabled,
        nbf: attrs.nbf,
        exp: attrs.exp,
    };
    let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
    match store.import(
        name,
        material,
        key_ops,
        hsm,
        attributes,
        parsed.tags.unwrap_or_default(),
    ) {
        Ok(_) => {
            let Some((entry, v)) = store.get(name, None) else {
                return kv_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "the imported key vanished",
                );
            };
            bump(&shared.counters.import);
            json_response(StatusCode::OK, &bundle_json(base, entry, v))
        }
        Err(e) => {
            tracing::error!(error = %e, "emulator: cannot persist imported key");
            kv_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                e.to_string(),
            )
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UpdateBody {
    attributes: Option<ImportAttributesJson>,
    tags: Option<BTreeMap<String, String>>,
}

/// `PATCH /keys/{name}/{version}`: enable/disable a key version (and replace its tags).
pub async fn update(
    shared: &Shared,
    req: Request<hyper::body::Incoming>,
    base: &str,
    name: &str,
    version: &str,
) -> Resp {
    if !valid_name(name) {
        return not_found(name, Some(version));
    }
    let parsed: UpdateBody = match read_json(req, "key update").await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let enabled = parsed.attributes.and_then(|a| a.enabled);
    let mut store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
    match store.update(name, Some(version), enabled, parsed.tags) {
        Ok(true) => match store.get(name, Some(version)) {
            Some((entry, v)) => {
                bump(&shared.counters.update);
                json_response(StatusCode::OK, &bundle_json(base, entry, v))
            }
            None => not_found(name, Some(version)),
        },
        Ok(false) => not_found(name, Some(version)),
        Err(e) => kv_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            e.to_string(),
        ),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SignBody {
    alg: Option<String>,
    value: Option<String>,
}

pub async fn sign(
    shared: &Shared,
    req: Request<hyper::body::Incoming>,
    base: &str,
    name: &str,
    version: &str,
) -> Resp {
    if !valid_name(name) {
        return not_found(name, Some(version));
    }
    let parsed: SignBody = match read_json(req, "sign request").await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let Some(alg) = parsed.alg else {
        return bad("The 'alg' property is required.");
    };
    let Some(value) = parsed.value.as_deref().and_then(b64url_decode) else {
        return bad("The 'value' property is missing or not base64url.");
    };
    let (kid, material) = {
        let store = shared.store.lock().unwrap_or_else(|p| p.into_inner());
        let Some((entry, v)) = store.get(name, Some(version)) else {
            return not_found(name, Some(version));
        };
        if !v.enabled {
            return kv_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Operation sign is not allowed on a disabled key.",
            );
        }
        if !v.key_ops.iter().any(|op| op == "sign") {
            return kv_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Operation sign is not permitted on this key.",
            );
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if v.nbf.is_some_and(|nbf| now < nbf) || v.exp.is_some_and(|exp| now >= exp) {
            return kv_error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Operation sign is not allowed outside the key's validity period (nbf/exp).",
            );
        }
        (
            format!("{base}/keys/{}/{}", entry.name, v.version),
            v.material.clone(),
        )
    };
    let expected = material.crv.sign_algorithm();
    if alg != expected {
        return bad(format!(
            "Key and signing algorithm are incompatible: curve {} signs with {expected}, not {alg}.",
            material.crv.as_str()
        ));
    }
    let Ok(digest) = <[u8; 32]>::try_from(value.as_slice()) else {
        return bad(format!(
            "Invalid length of 'value': {} bytes; {alg} needs a 32-byte digest.",
            value.len()
        ));
    };
    let wrong = shared.faults.wrong_signature();
    let to_sign = if wrong {
        // A well-formed signature over a different digest: it will not verify.
        let mut other = digest;
        other[0] ^= 0x01;
        other
    } else {
        digest
    };
    match material.sign(&to_sign) {
        Ok((sig, high_s)) => {
            bump(&shared.counters.sign);
            if wrong {
                bump(&shared.counters.wrong_signatures);
            }
            if high_s {
                bump(&shared.counters.high_s);
            }
            let value = match shared.faults.malformed_signature() {
                None => b64url(&sig),
                Some(kind) => {
                    bump(&shared.counters.malformed_signatures);
                    kind.apply(&sig)
                        .map_or_else(|| "not*base64url!".to_string(), |v| b64url(&v))
                }
            };
            let mut reply = json!({"kid": kid, "value": value});
            // A Managed HSM names the algorithm in its reply.
            if shared.managed_hsm {
                reply["alg"] = json!(alg);
            }
            json_response(StatusCode::OK, &reply)
        }
        Err(e) => kv_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            e.to_string(),
        ),
    }
}
