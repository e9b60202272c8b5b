//! The octez remote-signer routes (docs/protocol.md §1), behind an optional path prefix:
//! `GET /keys/<pkh>`, `POST /keys/<pkh>`, `GET /authorized_keys`, `GET /known_keys`.
//!
//! Owns: request decoding (path, query, size-limited JSON hex body), running each signature
//! as a task that a client disconnect cannot cancel, the per-request log line and request
//! metrics. Must never: answer a refusal itself (that is [`super::errors`]), log payload
//! bytes or anything secret, or read an unbounded body.

use std::convert::Infallible;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Buf;
use futures::{Stream, StreamExt};
use warp::http::Method;
use warp::path::FullPath;
use warp::reply::{Reply, Response};
use warp::{Filter, Rejection};

use super::errors::{ApiError, RequestError};
use super::metrics::Metrics;
use super::{AppState, SignContext, SignRequest};
use crate::tezos::{Pkh, Signature};

/// The whole API as one filter that never rejects: every request gets an answer.
pub fn api(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let state = warp::any().map(move || state.clone());
    let query = warp::query::raw().or(warp::any().map(String::new)).unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(meta())
        .and(warp::body::stream())
        .and(state)
        .then(handle)
        .recover(|r: Rejection| async move {
            let e = RequestError::Internal(format!("unhandled rejection {r:?}"));
            Ok::<Response, Infallible>(ApiError::from(&e).into_response())
        })
        .unify()
}

/// What the handler needs from the request head besides the route.
struct Meta {
    content_length: Option<String>,
    transfer_encoding: Option<String>,
    peer: Option<super::connection::PeerAddr>,
    /// The client's `X-Request-Id`, if it sent one.
    request_id: Option<String>,
}

fn meta() -> impl Filter<Extract = (Meta,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-length")
        .and(warp::header::optional::<String>("transfer-encoding"))
        .and(warp::ext::optional::<super::connection::PeerAddr>())
        .and(warp::header::optional::<String>("x-request-id"))
        .map(|content_length, transfer_encoding, peer, request_id| Meta {
            content_length,
            transfer_encoding,
            peer,
            request_id,
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Key(&'a str),
    AuthorizedKeys,
    KnownKeys,
}

/// Matches the route on the last path segments, so any prefix before `/keys` works.
fn parse_route(path: &str) -> Option<Route<'_>> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., "keys", pkh] => Some(Route::Key(pkh)),
        [.., "authorized_keys"] => Some(Route::AuthorizedKeys),
        [.., "known_keys"] => Some(Route::KnownKeys),
        _ => None,
    }
}

async fn handle<S, B>(
    method: Method,
    path: FullPath,
    query: String,
    meta: Meta,
    body: S,
    state: Arc<AppState>,
) -> Response
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let path = path.as_str();
    let Meta {
        content_length,
        transfer_encoding,
        peer,
        request_id,
    } = meta;
    // The id the log line and the answer carry, so a baker can find one request in the log.
    let request_id = state.request_ids.accept_or_new(request_id.as_deref());
    let has_body = transfer_encoding.is_some()
        || content_length
            .as_deref()
            .is_some_and(|l| l.trim().parse::<u64>() != Ok(0));
    let mut body_read = false;
    let (label, result) = match (parse_route(path), &method) {
        (Some(Route::Key(pkh)), &Method::GET) => ("public_key", public_key(&state, pkh).await),
        (Some(Route::Key(pkh)), &Method::POST) => {
            let head = SignHead {
                pkh,
                query: &query,
                content_length: content_length.as_deref(),
                peer: peer.map(|p| p.0),
                request_id: &request_id,
            };
            let result = sign(&state, head, body, &mut body_read).await;
            ("sign", result)
        }
        (Some(Route::AuthorizedKeys), &Method::GET) => {
            let reply = match state.signer.authorized_keys() {
                None => serde_json::json!({}),
                Some(keys) => serde_json::json!({ "authorized_keys": keys }),
            };
            ("authorized_keys", Ok(json(&reply)))
        }
        (Some(Route::KnownKeys), &Method::GET) => {
            let result = if state.options.known_keys {
                Ok(json(
                    &serde_json::json!({ "known_keys": state.signer.known_keys() }),
                ))
            } else {
                Err(RequestError::KnownKeysDisabled.into())
            };
            ("known_keys", result)
        }
        (Some(_), _) => {
            let e = RequestError::MethodNotAllowed {
                method: method.to_string(),
                path: path.to_string(),
            };
            ("method_not_allowed", Err(e.into()))
        }
        (None, _) => {
            let e = RequestError::NoRoute {
                method: method.to_string(),
                path: path.to_string(),
            };
            ("not_found", Err(e.into()))
        }
    };
    let mut response = result.unwrap_or_else(|e| e.into_response());
    if has_body && !body_read {
        // The unread body would be taken for the next request: say that this connection
        // ends here, so the client opens a new one instead of failing on a closed socket.
        // (HTTP/1 only: hyper leaves connection headers out of HTTP/2 answers.)
        response.headers_mut().insert(
            warp::http::header::CONNECTION,
            warp::http::HeaderValue::from_static("close"),
        );
    }
    if let Ok(id) = warp::http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", id);
    }
    state.metrics.request(label, response.status().as_u16());
    if label != "sign" {
        tracing::debug!(method = %method, path, status = response.status().as_u16(), request_id, "request");
    }
    response
}

fn json(value: &serde_json::Value) -> Response {
    warp::reply::json(value).into_response()
}

fn parse_pkh(pkh: &str) -> Result<Pkh, ApiError> {
    Pkh::from_str(pkh).map_err(|_| RequestError::BadPkh(pkh.chars().take(64).collect()).into())
}

async fn public_key(state: &AppState, pkh: &str) -> Result<Response, ApiError> {
    let pkh = parse_pkh(pkh)?;
    let pk = state.signer.public_key(&pkh).await?;
    Ok(json(&serde_json::json!({ "public_key": pk.to_string() })))
}

/// The `authentication` signature from the query, if any (`version` and others are ignored).
fn parse_query(query: &str) -> Result<Option<Signature>, RequestError> {
    let mut authentication = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == "authentication" {
            let sig = Signature::from_str(&v)
                .map_err(|e| RequestError::BadAuthentication(e.to_string()))?;
            authentication = Some(sig);
        }
    }
    Ok(authentication)
}

async fn read_body<S, B>(mut body: S, limit: usize) -> Result<Vec<u8>, RequestError>
where
    S: Stream<Item = Result<B, warp::Error>> + Unpin,
    B: Buf,
{
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let mut chunk = chunk.map_err(|e| RequestError::BodyRead(e.to_string()))?;
        if out.len() + chunk.remaining() > limit {
            return Err(RequestError::BodyTooLarge { limit });
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            out.extend_from_slice(piece);
            let n = piece.len();
            chunk.advance(n);
        }
    }
    Ok(out)
}

/// Decodes the body: a JSON string of hex bytes, upper or lower case.
pub fn decode_body(body: &[u8]) -> Result<Vec<u8>, RequestError> {
    let text: String =
        serde_json::from_slice(body).map_err(|e| RequestError::BodyNotJsonString(e.to_string()))?;
    hex::decode(text.trim()).map_err(|e| RequestError::BadHex(e.to_string()))
}

/// What a sign request's head says: the path's pkh, the query, the declared length, the
/// client and the request's id.
struct SignHead<'a> {
    pkh: &'a str,
    query: &'a str,
    content_length: Option<&'a str>,
    peer: Option<std::net::SocketAddr>,
    request_id: &'a str,
}

/// Signs the body's bytes. The body is read (within the limit) before anything else is
/// checked, so a refusal leaves the connection usable; `body_read` says whether it was.
async fn sign<S, B>(
    state: &AppState,
    head: SignHead<'_>,
    body: S,
    body_read: &mut bool,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let SignHead {
        pkh: pkh_text,
        query,
        content_length,
        peer,
        request_id,
    } = head;
    let started = Instant::now();
    let limit = state.options.body_limit;
    if let Some(len) = content_length.and_then(|l| l.trim().parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(RequestError::BodyTooLarge { limit }.into());
    }
    let body = read_body(body, limit).await?;
    *body_read = true;
    let pkh = parse_pkh(pkh_text)?;
    let authentication = parse_query(query)?;
    let data = decode_body(&body)?;
    let guard = state.inflight.enter().ok_or(RequestError::ShuttingDown)?;
    let signer = state.signer.clone();
    let metrics = state.metrics.clone();
    // Wanted until the deadline, and only while this handler runs: when the client leaves or
    // the request times out, hyper drops it and the token tells the task (which keeps running,
    // but no longer goes to the vault).
    let ctx = SignContext {
        started,
        deadline: Some(started + state.options.sign_deadline),
        client_gone: tokio_util::sync::CancellationToken::new(),
        peer,
    };
    let _cancel_on_drop = ctx.client_gone.clone().drop_guard();
    let req = SignRequest::new(pkh, data, authentication, ctx, request_id.to_string());
    // A task, not an inline future: a client that disconnects or times out must not cancel
    // a signature between the vault call and the watermark persistence. Its log line and
    // metrics are recorded in the task too, so a signature whose client left is still counted.
    let task = tokio::spawn(async move {
        let _guard = guard;
        let _gauge = InFlightGauge::enter(metrics.clone());
        let signing = signer.sign_request(&req).await;
        super::outcome::record(&metrics, &req.pkh, &signing, started, &req.id);
        signing.result
    });
    let signed = task
        .await
        .map_err(|e| RequestError::Internal(format!("sign task failed: {e}")))??;
    Ok(json(
        &serde_json::json!({ "signature": signed.signature.to_string() }),
    ))
}

/// Counts one sign task in the in-flight gauge for exactly its lifetime (a panic included).
struct InFlightGauge(Arc<Metrics>);

impl InFlightGauge {
    fn enter(metrics: Arc<Metrics>) -> Self {
        metrics.in_flight(1);
        InFlightGauge(metrics)
    }
}

impl Drop for InFlightGauge {
    fn drop(&mut self) {
        self.0.in_flight(-1);
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
