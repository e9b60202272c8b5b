//! One connection: the request time limits, the idle watchdog and the close on shutdown, the
//! same for HTTP/1 and HTTP/2.
//!
//! Owns: the first request's head (`header_timeout`, counted from the connection's start), the
//! whole request (`request_timeout`), idle connections (`idle_timeout`: no request in
//! progress; HTTP/2 also pings and drops a peer that does not answer), answering request
//! targets that are not a path (authority or asterisk form) with 400/405 before the routes,
//! and a 500 for a handler that panicked. Must never: hang on a slow or silent client, let an
//! idle connection live past its limit, or hold up shutdown with one.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};

/// Largest request head (the HTTP/1 buffer, the HTTP/2 header list), in bytes.
const MAX_HEAD: usize = 64 * 1024;
use tokio_util::sync::CancellationToken;
use warp::http::Method;
use warp::reply::{Reply, Response};

use super::errors::{ApiError, RequestError};
use super::listen::Limits;
use super::unserved::Ticket;

/// The client's address, in every request's extensions (held requests show it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerAddr(pub std::net::SocketAddr);

/// After a close was asked of a connection with nothing in progress, how long the peer gets
/// to see it before the connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// What a connection is doing: requests in progress, whether it served any, since when idle.
struct Activity {
    active: AtomicUsize,
    served: AtomicBool,
    idle_since: Mutex<Instant>,
}

/// Counts one request as in progress for exactly its lifetime.
struct Busy(Arc<Activity>);

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            active: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
        })
    }
    fn begin(self: &Arc<Self>) -> Busy {
        self.active.fetch_add(1, Ordering::SeqCst);
        self.served.store(true, Ordering::SeqCst);
        Busy(Arc::clone(self))
    }
    fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
    /// How long nothing has been in progress (zero while a request is).
    fn idle_for(&self) -> Duration {
        if self.active() > 0 {
            return Duration::ZERO;
        }
        self.idle_since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The answer for a request target that is not a path: `CONNECT host:port` (authority form),
/// `GET host:80`, `OPTIONS *`. warp's path filters assume a path (and panicked on these).
fn refuse_target(req: &hyper::Request<Incoming>) -> Option<RequestError> {
    if req.method() == Method::CONNECT {
        return Some(RequestError::MethodNotAllowed {
            method: "CONNECT".into(),
            path: req.uri().to_string(),
        });
    }
    match req.uri().path_and_query() {
        Some(pq) if pq.path().starts_with('/') => None,
        _ => Some(RequestError::BadTarget(
            req.uri().to_string().chars().take(64).collect(),
        )),
    }
}

pub(super) async fn serve_connection<IO, S>(
    io: IO,
    service: S,
    limits: Limits,
    stop: CancellationToken,
    peer: std::net::SocketAddr,
    ticket: Ticket,
) where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    S: hyper::service::Service<
            hyper::Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static,
{
    let activity = Activity::new();
    let timeout = limits.request_timeout;
    let evicted = ticket.evicted.clone();
    let ticket = Arc::new(ticket);
    let timed = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(PeerAddr(peer));
            // A request began: this connection is no longer one a full listener may close.
            ticket.served();
            let busy = activity.begin();
            let call = match refuse_target(&req) {
                Some(refusal) => Err(refusal),
                None => Ok(service.call(req)),
            };
            async move {
                let _busy = busy;
                let call = match call {
                    Ok(call) => call,
                    Err(refusal) => return Ok(ApiError::from(refusal).into_response()),
                };
                // A panic in a handler answers 500 on this request instead of killing the
                // connection without a word.
                match tokio::time::timeout(timeout, AssertUnwindSafe(call).catch_unwind()).await {
                    Ok(Ok(answer)) => answer,
                    Ok(Err(_)) => Ok(ApiError::from(RequestError::Internal(
                        "the request handler failed".into(),
                    ))
                    .into_response()),
                    Err(_) => Ok(ApiError::from(RequestError::Timeout(timeout)).into_response()),
                }
            }
        })
    };
    // A client that connects and sends nothing: hyper's version sniffing would wait forever.
    // Wait for the first byte ourselves, within the header time limit.
    let mut io = BufReader::new(io);
    tokio::select! {
        first = tokio::time::timeout(limits.header_timeout, io.fill_buf()) => match first {
            Ok(Ok(first)) if !first.is_empty() => {}
            _ => return,
        },
        () = stop.cancelled() => return,
        () = evicted.cancelled() => return,
    }
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // The same 64 KiB bound on a request head as HTTP/2's header list (hyper's default
        // buffer is ~400 KB): a bigger head gets 431.
        .max_buf_size(MAX_HEAD);
    builder
        .http2()
        .timer(TokioTimer::new())
        // Pings find peers that vanished without closing; one that does not answer within the
        // header time limit is dropped.
        .keep_alive_interval(Some(
            (limits.idle_timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(30)),
        ))
        .keep_alive_timeout(limits.header_timeout)
        .max_concurrent_streams(64)
        .max_header_list_size(MAX_HEAD as u32);
    let conn = builder
        .serve_connection(TokioIo::new(io), timed)
        .into_owned();
    tokio::pin!(conn);
    let tick = (limits.idle_timeout.min(limits.header_timeout) / 4)
        .clamp(Duration::from_millis(20), Duration::from_secs(1));
    let mut closing: Option<Instant> = None;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection closed with an error");
                }
                return;
            }
            () = stop.cancelled(), if closing.is_none() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Instant::now());
            }
            // Evicted before its first request began (see `super::unserved`).
            () = evicted.cancelled() => return,
            () = tokio::time::sleep(tick) => match closing {
                // Closing: once nothing is in progress (and the peer had a moment to see the
                // close), drop the connection rather than wait for the peer to agree.
                Some(since) => {
                    if activity.active() == 0 && since.elapsed() >= CLOSE_GRACE {
                        return;
                    }
                }
                None => {
                    let limit = if activity.served.load(Ordering::SeqCst) {
                        limits.idle_timeout
                    } else {
                        limits.header_timeout
                    };
                    if activity.idle_for() >= limit {
                        tracing::debug!(idle_ms = limit.as_millis() as u64, "closing an idle connection");
                        conn.as_mut().graceful_shutdown();
                        closing = Some(Instant::now());
                    }
                }
            },
        }
    }
}
