//! THE one place that turns failures into HTTP answers: every [`SignError`] and every request
//! error maps here to a status and octez's error body
//! `[{"kind":"temporary","id":"failure","msg":"…"}]`, with octez's own message texts where
//! octez has one.
//!
//! Must never: leak secrets or internal paths into a message, or answer 2xx for a refusal.

use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::signer::{SignError, Stage, Withdrawn};
use crate::vault::VaultError;
use crate::watermark::{SharedError, StoreError, WatermarkError};

/// Requests refused before they reach the signer (HTTP-level problems).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request body too large: the limit is {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("malformed request body: expected a JSON string of hex bytes ({0})")]
    BodyNotJsonString(String),
    #[error("malformed request body: invalid hex ({0})")]
    BadHex(String),
    #[error("cannot read the request body: {0}")]
    BodyRead(String),
    #[error("malformed public key hash {0:?} in the path")]
    BadPkh(String),
    #[error("malformed authentication query parameter: {0}")]
    BadAuthentication(String),
    #[error("malformed request target {0:?}: expected a path such as /keys/<pkh>")]
    BadTarget(String),
    #[error("no such route: {method} {path}")]
    NoRoute { method: String, path: String },
    #[error("method {method} not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("the signer does not list its keys (start it with --known-keys)")]
    KnownKeysDisabled,
    #[error("request did not complete within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the signer is shutting down")]
    ShuttingDown,
    #[error("internal error: {0}")]
    Internal(String),
}

/// A refusal or failure ready to be sent: status and octez's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub msg: String,
}

impl ApiError {
    /// The octez error body for this message.
    pub(crate) fn body(&self) -> serde_json::Value {
        serde_json::json!([{ "kind": "temporary", "id": "failure", "msg": self.msg }])
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        warp::reply::with_status(warp::reply::json(&body), self.status).into_response()
    }
}

impl From<&RequestError> for ApiError {
    fn from(e: &RequestError) -> Self {
        use RequestError::*;
        let status = match e {
            BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BodyNotJsonString(_) | BadHex(_) | BodyRead(_) | BadPkh(_) | BadAuthentication(_)
            | BadTarget(_) => StatusCode::BAD_REQUEST,
            NoRoute { .. } | KnownKeysDisabled => StatusCode::NOT_FOUND,
            MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Timeout(_) | ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            msg: e.to_string(),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        ApiError::from(&e)
    }
}

/// The HTTP status for a vault failure: 503 when waiting could help (deadline, throttling),
/// 502 for everything else the vault got wrong.
pub(crate) fn vault_status(e: &VaultError) -> StatusCode {
    match e {
        VaultError::Deadline(_) | VaultError::Throttled(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// The HTTP status of each signer refusal: the one place it is decided.
pub(crate) fn sign_status(e: &SignError) -> StatusCode {
    match e {
        SignError::UnknownKey(_) => StatusCode::NOT_FOUND,
        SignError::Decode(_) => StatusCode::BAD_REQUEST,
        SignError::MagicByteNotAllowed(_)
        | SignError::PolicyRefused(_)
        | SignError::InvalidAuthentication => StatusCode::FORBIDDEN,
        SignError::MissingAuthentication => StatusCode::UNAUTHORIZED,
        SignError::Watermark(_) => StatusCode::CONFLICT,
        SignError::ChainLimit { .. }
        | SignError::RejectedByOperator
        | SignError::NotConfirmed(_) => StatusCode::FORBIDDEN,
        SignError::Withdrawn { .. } | SignError::HoldRefused(_) => StatusCode::SERVICE_UNAVAILABLE,
        // The shared budget's container may come back, like the shared marks'.
        SignError::Spending(crate::policy::spending::SpendingError::Shared { .. }) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        SignError::Vault(v) => vault_status(v),
        SignError::Store(StoreError::Shared(
            SharedError::Refused { .. } | SharedError::ReservationLost { .. },
        )) => StatusCode::CONFLICT,
        // Storage that may come back: the baker retries.
        SignError::Store(StoreError::Shared(_)) => StatusCode::SERVICE_UNAVAILABLE,
        SignError::Store(_) | SignError::Spending(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<&SignError> for ApiError {
    fn from(e: &SignError) -> Self {
        let msg = match e {
            // octez-signer's texts where the log's differ.
            SignError::UnknownKey(pkh) => format!("unknown key {pkh}"),
            SignError::Decode(d) => format!("malformed payload: {d}"),
            // What another signer holds, or which storage failed (the URL without its SAS).
            SignError::Store(StoreError::Shared(shared)) => shared.to_string(),
            // The details (paths, OS errors) go to the log line, not to the client.
            SignError::Store(_) => {
                "watermark store failure: no signature was released (see the signer's log)".into()
            }
            SignError::Spending(_) => {
                "spending ledger failure: no signature was released (see the signer's log)".into()
            }
            other => other.to_string(),
        };
        ApiError {
            status: sign_status(e),
            msg,
        }
    }
}

impl From<SignError> for ApiError {
    fn from(e: SignError) -> Self {
        ApiError::from(&e)
    }
}

/// What the operator can do about a refusal, for its log line.
pub(crate) fn refusal_hint(e: &SignError) -> &'static str {
    match e {
        SignError::UnknownKey(_) => {
            "the vault has no enabled secp256k1/P-256 key with this pkh among those served: check --key and the vault's keys"
        }
        SignError::Decode(_) => {
            "the client sent bytes that are not a Tezos signing request: check the baker's version and the magic byte"
        }
        SignError::MagicByteNotAllowed(_) => {
            "this request kind is not allowed: add its magic byte to --magic-bytes if this signer should sign it"
        }
        SignError::PolicyRefused(_) => {
            "the policy file refuses it: change --policy if this request should be signed"
        }
        SignError::MissingAuthentication | SignError::InvalidAuthentication => {
            "the client must sign its requests with a key listed in --authorized-keys (octez-client's authentication key)"
        }
        SignError::Watermark(WatermarkError::UnsignedBlock { .. }) => {
            "the block's mark has no recorded signature and no proof that none was released (imported or pushed marks, or an older signer): it is never signed again; the baker moves on to the next round"
        }
        SignError::Store(StoreError::Shared(SharedError::ReservationLost { .. })) => {
            "the shared container lost this block's reservation (emptied or restored): check the container and every signer's local marks; the block is not signed again"
        }
        SignError::Watermark(_)
        | SignError::Store(StoreError::Shared(SharedError::Refused { .. })) => {
            "a signature at or above this level and round was already released for this key: nothing to do if the baker retried; if another baker uses this key, stop one of them"
        }
        SignError::ChainLimit { .. } => {
            "list this key's chains in the policy (chains = [...]) or raise --max-chains-per-key"
        }
        SignError::Vault(_) => {
            "check the vault: that it answers from this host, the identity's \"Key Vault Crypto User\" role, and the key (the error says which)"
        }
        SignError::Store(StoreError::Shared(_)) => {
            "check the storage account: that it answers from this host, the container, and the identity's \"Storage Blob Data Contributor\" role or the SAS token's expiry"
        }
        SignError::Store(_) => {
            "check the data directory: free space, permissions, and that no other process uses it; nothing was signed"
        }
        SignError::Spending(_) => {
            "check the spending ledger (spending.log in the data directory, and with --shared-watermarks the container's .spending/ blobs); nothing was signed"
        }
        SignError::RejectedByOperator | SignError::NotConfirmed(_) => {
            "held requests are answered with `tezos-azure-signer sign --pending`"
        }
        SignError::HoldRefused(_) => {
            "too many requests wait for a person: answer them with `tezos-azure-signer sign --pending`; nothing was signed"
        }
        SignError::Withdrawn {
            reason: Withdrawn::ClientGone,
            ..
        } => "the client disconnected before the signature: nothing was signed",
        SignError::Withdrawn {
            reason:
                Withdrawn::Late {
                    waiting_for: Stage::Reservation,
                    ..
                },
            ..
        } => {
            "the watermark reservation is slow: check the data directory's disk and, with --shared-watermarks, the storage account's latency (tezos_azure_signer_watermark_write_duration_seconds); nothing was signed"
        }
        SignError::Withdrawn {
            reason:
                Withdrawn::Late {
                    waiting_for: Stage::Record,
                    ..
                },
            ..
        } => {
            "recording the block signature is slow: check the data directory's disk and, with --shared-watermarks, the storage account's latency; nothing was released, and the identical request gets the recorded signature once it is recorded"
        }
        SignError::Withdrawn {
            reason:
                Withdrawn::Late {
                    waiting_for: Stage::Vault,
                    ..
                },
            ..
        } => {
            "the vault answered after the request's deadline: check the vault's latency (tezos_azure_signer_vault_sign_duration_seconds) and --sign-deadline/--request-timeout; nothing was released"
        }
        SignError::Withdrawn { .. } => {
            "the vault is slower than the requests arrive: check the vault's latency (tezos_azure_signer_vault_sign_duration_seconds) and --request-timeout"
        }
    }
}

/// A short stable label for metrics and logs (`decision=refused:<label>`).
pub(crate) fn sign_error_label(e: &SignError) -> &'static str {
    match e {
        SignError::UnknownKey(_) => "unknown_key",
        SignError::Decode(_) => "malformed",
        SignError::MagicByteNotAllowed(_) => "magic_byte",
        SignError::PolicyRefused(_) => "policy",
        SignError::MissingAuthentication => "missing_authentication",
        SignError::InvalidAuthentication => "invalid_authentication",
        SignError::Watermark(_) => "watermark",
        SignError::Vault(_) => "vault",
        SignError::Store(StoreError::Shared(SharedError::Refused { .. })) => "shared_watermark",
        SignError::Store(StoreError::Shared(_)) => "shared_store",
        SignError::Store(_) => "store",
        SignError::Spending(_) => "spending",
        SignError::ChainLimit { .. } => "chain_limit",
        SignError::RejectedByOperator => "rejected_by_operator",
        SignError::NotConfirmed(_) => "not_confirmed",
        SignError::HoldRefused(_) => "held_full",
        SignError::Withdrawn {
            reason: Withdrawn::QueueFull { .. },
            ..
        } => "queue_full",
        SignError::Withdrawn {
            reason: Withdrawn::ClientGone,
            ..
        } => "client_gone",
        SignError::Withdrawn {
            reason: Withdrawn::Expired { .. } | Withdrawn::Late { .. },
            ..
        } => "expired",
    }
}

#[cfg(test)]
#[path = "errors_tests.rs"]
mod tests;
