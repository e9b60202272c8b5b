//! The accept loop: serves a warp filter on a bound TCP listener, over plain HTTP or TLS, with
//! hyper-util (HTTP/1.1 and HTTP/2, also HTTP/2 with prior knowledge).
//!
//! Owns: the connection limits, the same for HTTP/1 and HTTP/2 — TLS handshake, the first
//! request's head (`header_timeout`, counted from the connection's start), the whole request
//! (`request_timeout`), idle connections (`idle_timeout`: no request in progress; HTTP/2 also
//! pings and drops a peer that does not answer), and a cap on open connections (beyond it a new
//! connection is closed at once, and the cap is lowered to fit the file-descriptor limit). Also
//! connection-level graceful shutdown: when `shutdown` resolves it stops accepting, lets open
//! connections finish their current requests (bounded by `drain_timeout`), closes idle ones at
//! once, and returns. Request targets that are not a path (authority or asterisk form) are
//! answered 400/405 here, before the routes.
//! Must never: hang on a slow or silent client, spin on a failing accept, let idle connections
//! pile up or hold up shutdown, or keep accepting after shutdown began.

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::http::Method;
use warp::reply::{Reply, Response};

use super::errors::{ApiError, RequestError};
use super::metrics::Metrics;

/// Limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Whole request, from the first byte of its headers to the last byte of the answer head.
    pub request_timeout: Duration,
    /// Reading a request head (slowloris protection); a new connection must have sent its
    /// first request within this time.
    pub header_timeout: Duration,
    pub handshake_timeout: Duration,
    /// How long shutdown waits for open connections to finish their current request.
    pub drain_timeout: Duration,
    /// A connection with no request in progress for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            max_connections: 256,
        }
    }
}

/// Where a listener reports its connections: the server's metrics, under the listener's name.
#[derive(Clone)]
pub struct Observer {
    pub metrics: Arc<Metrics>,
    pub listener: &'static str,
}

/// File descriptors kept back from the connection cap: watermark files, the vault's and the
/// token endpoint's connections, logs, the other listener's own reserve.
const RESERVED_FDS: usize = 64;
/// After a close was asked of a connection with nothing in progress, how long the peer gets
/// to see it before the connection is dropped.
const CLOSE_GRACE: Duration = Duration::from_millis(250);

/// Serves `filter` on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve<F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    filter: F,
    limits: Limits,
    observer: Observer,
    shutdown: impl Future<Output = ()>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let service = TowerToHyperService::new(warp::service(filter));
    let acceptor = tls.map(TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(connection_cap(
        limits.max_connections,
        observer.listener,
    )));
    let stop = CancellationToken::new();
    let mut connections = JoinSet::new();
    let mut accept_failures = 0u32;
    let mut refusal_logged: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(pair) => {
                    accept_failures = 0;
                    pair
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off (up to a second) instead
                    // of spinning; open connections keep being served meanwhile.
                    accept_failures = accept_failures.saturating_add(1);
                    let pause = Duration::from_millis(10u64 << accept_failures.min(7))
                        .min(Duration::from_secs(1));
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "accept failed");
                    tokio::select! {
                        _ = &mut shutdown => break,
                        () = tokio::time::sleep(pause) => continue,
                    }
                }
            },
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            observer.metrics.connection_refused(observer.listener);
            if refusal_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                refusal_logged = Some(Instant::now());
                tracing::warn!(%peer, listener = observer.listener, max = limits.max_connections,
                    "connection cap reached: closing new connections until some close \
                     (see --max-connections, --idle-timeout)");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let acceptor = acceptor.clone();
        let stop = stop.clone();
        let observer = observer.clone();
        connections.spawn(async move {
            let _open = OpenConnection::new(observer, slot);
            let Some(acceptor) = acceptor else {
                return serve_connection(stream, service, limits, stop).await;
            };
            let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream));
            tokio::select! {
                h = handshake => match h {
                    Ok(Ok(tls)) => serve_connection(tls, service, limits, stop).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
                () = stop.cancelled() => {}
            }
        });
    }
    drop(listener);
    stop.cancel();
    let drained = tokio::time::timeout(limits.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some connections were still open after the drain timeout");
        connections.shutdown().await;
    }
}

/// One open connection: its place under the cap and in the open-connections gauge, for
/// exactly its lifetime (an aborted task included).
struct OpenConnection {
    observer: Observer,
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(observer: Observer, slot: tokio::sync::OwnedSemaphorePermit) -> Self {
        observer.metrics.connection(observer.listener, 1);
        OpenConnection {
            observer,
            _slot: slot,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.observer.metrics.connection(self.observer.listener, -1);
    }
}

/// `wanted`, lowered to what the open-files limit leaves for one listener.
fn connection_cap(wanted: usize, listener: &'static str) -> usize {
    let Some(limit) = open_files_limit() else {
        return wanted;
    };
    let budget = (limit.saturating_sub(RESERVED_FDS) / 2).max(1);
    if wanted > budget {
        tracing::warn!(
            listener,
            wanted,
            open_files_limit = limit,
            cap = budget,
            "--max-connections lowered to fit the open-files limit (raise it with \
             LimitNOFILE= or ulimit -n)"
        );
        return budget;
    }
    wanted
}

/// The soft `RLIMIT_NOFILE`, if it can be read and is finite.
fn open_files_limit() -> Option<usize> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct it is given, which lives on this stack frame.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if rc != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    usize::try_from(limit.rlim_cur).ok()
}

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

async fn serve_connection<IO, S>(io: IO, service: S, limits: Limits, stop: CancellationToken)
where
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
    let timed = {
        let activity = Arc::clone(&activity);
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let busy = activity.begin();
            let refusal = refuse_target(&req);
            let call = refusal.is_none().then(|| service.call(req));
            async move {
                let _busy = busy;
                let Some(call) = call else {
                    let e = refusal.unwrap_or(RequestError::Internal("no call".into()));
                    return Ok(ApiError::from(e).into_response());
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
    }
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
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
        .max_header_list_size(64 * 1024);
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
