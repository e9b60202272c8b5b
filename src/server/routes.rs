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

/// The route table: the whole API as one filter that never rejects (every request gets an
/// answer). Each route matches the end of the path, so any prefix before it (a reverse
/// proxy's `/signer/v1`) works, as with octez-signer behind one.
pub(crate) fn api(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let state = warp::any().map(move || state.clone());
    let public_key = warp::get()
        .and(ending(Route::Key))
        .and(state.clone())
        .then(public_key);
    let sign = warp::post()
        .and(ending(Route::Key))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::ext::optional::<super::connection::PeerAddr>())
        .and(warp::body::stream())
        .and(head())
        .and(state.clone())
        .then(sign);
    let authorized_keys = warp::get()
        .and(ending(Route::AuthorizedKeys))
        .and(state.clone())
        .map(authorized_keys);
    let known_keys = warp::get()
        .and(ending(Route::KnownKeys))
        .and(state.clone())
        .map(known_keys);
    let unrouted = warp::method().and(warp::path::full()).map(unrouted);
    let routes = public_key
        .or(sign)
        .unify()
        .or(authorized_keys)
        .unify()
        .or(known_keys)
        .unify()
        .or(unrouted)
        .unify();
    head()
        .and(warp::method())
        .and(warp::path::full())
        .and(state)
        .and(routes)
        .map(finish)
        .recover(|r: Rejection| async move {
            let e = RequestError::Internal(format!("unhandled rejection {r:?}"));
            Ok::<Response, Infallible>(ApiError::from(&e).into_response())
        })
        .unify()
}

/// The routes, by how their path ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// `…/keys/<pkh>`: GET the public key, POST a signing request.
    Key,
    /// `…/authorized_keys`: GET.
    AuthorizedKeys,
    /// `…/known_keys`: GET (with `--known-keys`).
    KnownKeys,
}

impl Route {
    /// The route `path` ends with, and its argument (the pkh of [`Route::Key`]).
    fn of(path: &str) -> Option<(Route, &str)> {
        let mut segments = path.split('/').filter(|s| !s.is_empty()).rev();
        match (segments.next()?, segments.next()) {
            (pkh, Some("keys")) => Some((Route::Key, pkh)),
            ("authorized_keys", _) => Some((Route::AuthorizedKeys, "")),
            ("known_keys", _) => Some((Route::KnownKeys, "")),
            _ => None,
        }
    }
}

/// Matches paths ending with `route`, extracting its argument.
fn ending(route: Route) -> impl Filter<Extract = (String,), Error = Rejection> + Clone {
    warp::path::full().and_then(move |path: FullPath| async move {
        match Route::of(path.as_str()) {
            Some((found, arg)) if found == route => Ok(arg.to_string()),
            _ => Err(warp::reject::not_found()),
        }
    })
}

/// What every answer needs from the request head.
#[derive(Clone)]
struct Head {
    content_length: Option<String>,
    transfer_encoding: Option<String>,
    /// The client's `X-Request-Id`, if it sent one.
    request_id: Option<String>,
}

impl Head {
    fn has_body(&self) -> bool {
        self.transfer_encoding.is_some()
            || self
                .content_length
                .as_deref()
                .is_some_and(|l| l.trim().parse::<u64>() != Ok(0))
    }
}

fn head() -> impl Filter<Extract = (Head,), Error = Rejection> + Clone {
    warp::header::optional::<String>("content-length")
        .and(warp::header::optional::<String>("transfer-encoding"))
        .and(warp::header::optional::<String>("x-request-id"))
        .map(|content_length, transfer_encoding, request_id| Head {
            content_length,
            transfer_encoding,
            request_id,
        })
}

/// One route's answer, before [`finish`].
struct Answer {
    /// The route's metric label.
    route: &'static str,
    result: Result<Response, ApiError>,
    /// Whether the request body was read (an unread one ends the connection).
    body_read: bool,
    /// The id the log line and the answer carry (a sign request's is chosen by its route).
    request_id: Option<String>,
}

impl Answer {
    fn of(route: &'static str, result: Result<Response, ApiError>) -> Answer {
        Answer {
            route,
            result,
            body_read: false,
            request_id: None,
        }
    }
}

/// Puts on the answer what every answer carries (request id, connection) and counts it.
fn finish(
    head: Head,
    method: Method,
    path: FullPath,
    state: Arc<AppState>,
    answer: Answer,
) -> Response {
    // The id the log line and the answer carry, so a baker can find one request in the log.
    let request_id = answer
        .request_id
        .unwrap_or_else(|| state.request_ids.accept_or_new(head.request_id.as_deref()));
    let mut response = answer.result.unwrap_or_else(|e| e.into_response());
    if head.has_body() && !answer.body_read {
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
    state
        .metrics
        .request(answer.route, response.status().as_u16());
    if answer.route != "sign" {
        let (path, status) = (path.as_str(), response.status().as_u16());
        tracing::debug!(method = %method, path, status, request_id, "request");
    }
    response
}

fn authorized_keys(_: String, state: Arc<AppState>) -> Answer {
    let reply = match state.signer.authorized_keys() {
        None => serde_json::json!({}),
        Some(keys) => serde_json::json!({ "authorized_keys": keys }),
    };
    Answer::of("authorized_keys", Ok(json(&reply)))
}

fn known_keys(_: String, state: Arc<AppState>) -> Answer {
    let result = if state.options.known_keys {
        Ok(json(
            &serde_json::json!({ "known_keys": state.signer.known_keys() }),
        ))
    } else {
        Err(RequestError::KnownKeysDisabled.into())
    };
    Answer::of("known_keys", result)
}

/// No route took the request: a known path with another method, or an unknown path.
fn unrouted(method: Method, path: FullPath) -> Answer {
    let (method, path) = (method.to_string(), path.as_str().to_string());
    if Route::of(&path).is_some() {
        let e = RequestError::MethodNotAllowed { method, path };
        Answer::of("method_not_allowed", Err(e.into()))
    } else {
        let e = RequestError::NoRoute { method, path };
        Answer::of("not_found", Err(e.into()))
    }
}

fn json(value: &serde_json::Value) -> Response {
    warp::reply::json(value).into_response()
}

fn parse_pkh(pkh: &str) -> Result<Pkh, ApiError> {
    Pkh::from_str(pkh).map_err(|_| RequestError::BadPkh(pkh.chars().take(64).collect()).into())
}

async fn public_key(pkh: String, state: Arc<AppState>) -> Answer {
    let result = async {
        let pkh = parse_pkh(&pkh)?;
        let pk = state.signer.public_key(&pkh).await?;
        Ok(json(&serde_json::json!({ "public_key": pk.to_string() })))
    };
    Answer::of("public_key", result.await)
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

/// `POST …/keys/<pkh>`: a signing request.
async fn sign<S, B>(
    pkh: String,
    query: String,
    peer: Option<super::connection::PeerAddr>,
    body: S,
    head: Head,
    state: Arc<AppState>,
) -> Answer
where
    S: Stream<Item = Result<B, warp::Error>> + Send + Unpin,
    B: Buf,
{
    let request_id = state.request_ids.accept_or_new(head.request_id.as_deref());
    let sign_head = SignHead {
        pkh: &pkh,
        query: &query,
        content_length: head.content_length.as_deref(),
        peer: peer.map(|p| p.0),
        request_id: &request_id,
    };
    let mut body_read = false;
    let result = sign_body(&state, sign_head, body, &mut body_read).await;
    Answer {
        route: "sign",
        result,
        body_read,
        request_id: Some(request_id),
    }
}

/// Signs the body's bytes. The body is read (within the limit) before anything else is
/// checked, so a refusal leaves the connection usable; `body_read` says whether it was.
async fn sign_body<S, B>(
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
