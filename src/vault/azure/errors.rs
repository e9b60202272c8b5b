//! Maps Azure SDK errors to [`VaultError`] and reads the service's retry hints.
//!
//! Owns: the one table from HTTP status / SDK error kind to vault error variant, telling a
//! rejected token (401, worth one new token) from missing rights (403, not), and the parsing
//! of `Retry-After` / `retry-after-ms` / `x-ms-retry-after-ms`. Must never put a request body or
//! a bearer token into an error message (the SDK's messages carry neither; we add only the
//! service's error code and message).

use std::time::Duration;

use azure_core::error::ErrorKind;
use azure_core::http::headers::{HeaderName, Headers};

use super::retry::AttemptError;
use crate::vault::{Cause, VaultError};

const RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");
const X_MS_RETRY_AFTER_MS: HeaderName = HeaderName::from_static("x-ms-retry-after-ms");
const RETRY_AFTER: HeaderName = HeaderName::from_static("retry-after");

/// Converts an SDK error for an operation on `key` (a key name, or the vault for listing).
pub(crate) fn classify(err: azure_core::Error, key: &str) -> AttemptError {
    match err.kind() {
        ErrorKind::HttpResponse {
            status,
            error_code,
            raw_response,
        } => {
            let status = u16::from(*status);
            let code = error_code.clone().unwrap_or_else(|| status.to_string());
            let message = err.to_string();
            let retry_after = raw_response
                .as_ref()
                .and_then(|raw| retry_after(raw.headers()));
            AttemptError {
                error: from_status(status, code, message, key),
                retry_after,
                // The SDK's bearer policy already answered the challenge once: a 401 that
                // reaches us means the token it was handed (revoked, or unknown to a
                // restarted vault) is refused. A 403 is a permission the token lacks.
                stale_token: status == 401,
            }
        }
        ErrorKind::Connection | ErrorKind::Io => VaultError::Transport(Cause::new(err)).into(),
        ErrorKind::Credential => VaultError::Credential(Cause::new(err)).into(),
        _ => VaultError::Protocol(Cause::new(err)).into(),
    }
}

/// The vault error for an HTTP error status.
pub(crate) fn from_status(status: u16, code: String, message: String, key: &str) -> VaultError {
    match status {
        404 => VaultError::NotFound(key.to_owned()),
        401 | 403 => VaultError::Unauthorized(format!("{code}: {message}")),
        429 => VaultError::Throttled(message),
        _ => VaultError::Service {
            status,
            code,
            message,
        },
    }
}

/// The wait the service asked for, from `retry-after-ms`, `x-ms-retry-after-ms` or
/// `Retry-After` (delta seconds or an HTTP date), in that order.
pub(crate) fn retry_after(headers: &Headers) -> Option<Duration> {
    for name in [&RETRY_AFTER_MS, &X_MS_RETRY_AFTER_MS] {
        if let Some(ms) = headers
            .get_optional_str(name)
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = headers.get_optional_str(&RETRY_AFTER)?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = azure_core::time::parse_rfc7231(value).ok()?;
    let delta = when - azure_core::time::OffsetDateTime::now_utc();
    Some(Duration::try_from(delta).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::{RawResponse, StatusCode};

    fn http_error(status: u16, headers: Headers, body: &str) -> azure_core::Error {
        let raw = RawResponse::from_bytes(StatusCode::from(status), headers, body.to_owned());
        azure_core::Error::with_message(
            ErrorKind::HttpResponse {
                status: StatusCode::from(status),
                error_code: serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v["error"]["code"].as_str().map(str::to_owned)),
                raw_response: Some(Box::new(raw)),
            },
            "message from the service",
        )
    }

    type Check = fn(&VaultError) -> bool;

    #[test]
    fn status_table() {
        let body = r#"{"error":{"code":"Code","message":"m"}}"#;
        let cases: Vec<(u16, Check)> = vec![
            (
                404,
                |e| matches!(e, VaultError::NotFound(k) if k == "mykey"),
            ),
            (
                401,
                |e| matches!(e, VaultError::Unauthorized(m) if m.contains("Code")),
            ),
            (403, |e| matches!(e, VaultError::Unauthorized(_))),
            (429, |e| matches!(e, VaultError::Throttled(_))),
            (500, |e| {
                matches!(e, VaultError::Service { status: 500, .. })
            }),
            (
                503,
                |e| matches!(e, VaultError::Service { status: 503, code, .. } if code == "Code"),
            ),
            (400, |e| {
                matches!(e, VaultError::Service { status: 400, .. })
            }),
            (409, |e| {
                matches!(e, VaultError::Service { status: 409, .. })
            }),
        ];
        for (status, check) in cases {
            let got = classify(http_error(status, Headers::new(), body), "mykey");
            assert!(check(&got.error), "{status}: {:?}", got.error);
            assert_eq!(got.retry_after, None);
            assert_eq!(
                got.stale_token,
                status == 401,
                "{status}: only 401 asks for a new token"
            );
        }
    }

    #[test]
    fn retry_after_headers() {
        let mut h = Headers::new();
        h.insert("retry-after", "2");
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "150");
        assert_eq!(retry_after(&h), Some(Duration::from_millis(150)));
        let mut h = Headers::new();
        h.insert("x-ms-retry-after-ms", "30");
        assert_eq!(retry_after(&h), Some(Duration::from_millis(30)));
        let mut h = Headers::new();
        h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a past date means now"
        );
        let mut h = Headers::new();
        h.insert("retry-after", "soon");
        assert_eq!(retry_after(&h), None);
        assert_eq!(retry_after(&Headers::new()), None);
    }

    #[test]
    fn throttle_carries_retry_after() {
        let mut h = Headers::new();
        h.insert("retry-after", "1");
        let got = classify(http_error(429, h, "{}"), "k");
        assert!(matches!(got.error, VaultError::Throttled(_)));
        assert_eq!(got.retry_after, Some(Duration::from_secs(1)));
    }

    #[test]
    fn non_http_kinds() {
        let cases: Vec<(ErrorKind, Check)> = vec![
            (ErrorKind::Connection, |e| {
                matches!(e, VaultError::Transport(_))
            }),
            (ErrorKind::Io, |e| matches!(e, VaultError::Transport(_))),
            (
                ErrorKind::Credential,
                |e| matches!(e, VaultError::Credential(m) if m.to_string().contains("boom")),
            ),
            (ErrorKind::DataConversion, |e| {
                matches!(e, VaultError::Protocol(_))
            }),
            (ErrorKind::Other, |e| matches!(e, VaultError::Protocol(_))),
        ];
        for (kind, check) in cases {
            let err = azure_core::Error::with_message(kind.clone(), "boom");
            let got = classify(err, "k");
            assert!(check(&got.error), "{:?}", got.error);
            assert!(!got.stale_token, "{:?}", got.error);
            // The SDK's error itself is kept as the typed source.
            let source = std::error::Error::source(&got.error).expect("a source");
            let cause = source
                .downcast_ref::<crate::vault::Cause>()
                .expect("a cause");
            let sdk = cause.error().downcast_ref::<azure_core::Error>();
            assert!(sdk.is_some_and(|e| *e.kind() == kind), "{:?}", got.error);
        }
    }
}
