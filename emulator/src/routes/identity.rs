//! The App Service–style managed-identity endpoint (`GET /msi/token?api-version=2019-08-01&
//! resource=…` with the `X-IDENTITY-HEADER` secret), as `azure_identity` and MSAL call it.
//! It mints tokens only for a caller presenting the right identity header.

use hyper::{Request, StatusCode};
use serde_json::json;

use super::{Resp, json_response, query_param};
use crate::Shared;
use crate::stats::bump;

/// Path of the endpoint on the identity port.
pub const PATH: &str = "/msi/token";

fn refuse(shared: &Shared, status: StatusCode, error: &str, description: &str) -> Resp {
    bump(&shared.counters.token_errors);
    json_response(
        status,
        &json!({"statusCode": status.as_u16(), "message": description, "error": error,
                "error_description": description}),
    )
}

pub fn token(shared: &Shared, req: Request<hyper::body::Incoming>) -> Resp {
    if req.uri().path() != PATH {
        return refuse(
            shared,
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
        );
    }
    if req.method() != hyper::Method::GET {
        return refuse(
            shared,
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "use GET",
        );
    }
    match req.headers().get("x-identity-header") {
        None => {
            return refuse(
                shared,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the X-IDENTITY-HEADER header is missing",
            );
        }
        Some(v) if v.as_bytes() != shared.identity_header.as_bytes() => {
            return refuse(
                shared,
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the X-IDENTITY-HEADER value is wrong",
            );
        }
        Some(_) => {}
    }
    if query_param(&req, "api-version").is_none() {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the api-version query parameter is missing",
        );
    }
    let Some(resource) = query_param(&req, "resource").filter(|r| !r.is_empty()) else {
        return refuse(
            shared,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the resource query parameter is missing",
        );
    };
    // A user-assigned identity must be the one assigned to this "app".
    for id_param in [
        "client_id",
        "clientid",
        "object_id",
        "principal_id",
        "mi_res_id",
        "msi_res_id",
    ] {
        if let Some(id) = query_param(&req, id_param)
            && !(id_param.starts_with("client") && id == shared.client_id)
        {
            return refuse(
                shared,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the requested identity has not been assigned to this resource",
            );
        }
    }
    let minted = shared.tokens.mint(&resource);
    bump(&shared.counters.tokens_managed_identity);
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": minted.access_token,
            "expires_on": minted.expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": shared.client_id,
        }),
    )
}
