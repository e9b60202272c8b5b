use std::time::Duration;

use warp::http::StatusCode;

use super::*;
use crate::tezos::{ConsensusKind, DecodeError, Pkh};
use crate::watermark::{StoreError, WatermarkError};

fn pkh() -> Pkh {
    "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt"
        .parse()
        .expect("valid vector pkh")
}

#[test]
fn every_sign_error_has_its_status_and_octez_text() {
    let table: Vec<(SignError, u16, &str)> = vec![
        (
            SignError::UnknownKey(pkh()),
            404,
            "unknown key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt",
        ),
        (
            SignError::Decode(DecodeError::Empty),
            400,
            "malformed payload: empty payload: nothing to sign",
        ),
        (
            SignError::MagicByteNotAllowed(0x03),
            403,
            "magic byte 0x03 not allowed",
        ),
        (
            SignError::PolicyRefused(crate::policy::PolicyRefusal::Kind {
                pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().expect("pkh"),
                kind: crate::tezos::RequestKind::Generic,
            }),
            403,
            "request kind generic is not allowed for key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt",
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
            SignError::Watermark(WatermarkError::Below {
                kind: ConsensusKind::Block,
                level: 5,
                mark_level: 6,
            }),
            409,
            "block level 5 below high watermark 6",
        ),
        (
            SignError::Vault(VaultError::Deadline(Duration::from_secs(3))),
            503,
            "vault request did not complete within 3s (retries included)",
        ),
        (
            SignError::Vault(VaultError::Throttled("retry after 1s".into())),
            503,
            "vault is throttling requests (HTTP 429): retry after 1s",
        ),
        (
            SignError::Vault(VaultError::Transport("connection refused".into())),
            502,
            "cannot reach the vault: connection refused",
        ),
        (
            SignError::Vault(VaultError::InvalidSignature(pkh())),
            502,
            "the vault returned a signature that does not verify for tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt: refusing to release it",
        ),
        (
            SignError::Store(StoreError::Io {
                op: "write",
                path: "/var/lib/x/attestation_high_watermarks".into(),
                source: std::io::Error::other("disk full"),
            }),
            500,
            "watermark store failure: no signature was released (see the signer's log)",
        ),
    ];
    for (error, status, msg) in table {
        let api = ApiError::from(&error);
        assert_eq!(api.status.as_u16(), status, "{error:?}");
        assert_eq!(api.msg, msg, "{error:?}");
        assert_eq!(
            api.body(),
            serde_json::json!([{"kind": "temporary", "id": "failure", "msg": msg}])
        );
    }
}

#[test]
fn every_request_error_has_its_status() {
    let table = [
        (
            RequestError::BodyTooLarge { limit: 10 },
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            RequestError::BodyNotJsonString("x".into()),
            StatusCode::BAD_REQUEST,
        ),
        (RequestError::BadHex("x".into()), StatusCode::BAD_REQUEST),
        (RequestError::BodyRead("x".into()), StatusCode::BAD_REQUEST),
        (RequestError::BadPkh("x".into()), StatusCode::BAD_REQUEST),
        (
            RequestError::BadAuthentication("x".into()),
            StatusCode::BAD_REQUEST,
        ),
        (
            RequestError::NoRoute {
                method: "GET".into(),
                path: "/x".into(),
            },
            StatusCode::NOT_FOUND,
        ),
        (
            RequestError::MethodNotAllowed {
                method: "PUT".into(),
                path: "/keys/x".into(),
            },
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (RequestError::KnownKeysDisabled, StatusCode::NOT_FOUND),
        (
            RequestError::Timeout(Duration::from_secs(1)),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (RequestError::ShuttingDown, StatusCode::SERVICE_UNAVAILABLE),
        (
            RequestError::Internal("x".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    ];
    for (error, status) in table {
        assert_eq!(ApiError::from(&error).status, status, "{error:?}");
    }
}
