//! The accept loop: serves a warp filter on a bound TCP listener, over plain HTTP or TLS, with
//! hyper-util (HTTP/1.1 and HTTP/2, also HTTP/2 with prior knowledge); each connection is then
//! served by [`super::connection`].
//!
//! Owns: the listener's limits ([`Limits`], the same for HTTP/1 and HTTP/2), the TLS handshake
//! time limit, a cap on open connections (beyond it a new connection is closed at once, and the
//! cap is lowered to fit the file-descriptor limit; when it is reached the connection that has
//! waited longest without a request is closed to make room, see [`super::unserved`]), backing
//! off when accept fails, and the
//! shutdown: when `shutdown` resolves it stops accepting, tells every connection to close (idle
//! ones at once, others after their current request), waits at most `drain_timeout`, and
//! returns. Must never: spin on a failing accept, let connections pile up past the cap, or keep
//! accepting after shutdown began.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use warp::Filter;
use warp::reply::Response;

use super::metrics::Metrics;
use super::unserved::Unserved;

/// Limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Whole request, from the first byte of its headers to the last byte of the answer head.
    pub request_timeout: Duration,
    /// Reading a request head (slowloris protection); a new connection must have sent its
    /// first request within this time.
    pub header_timeout: Duration,
    /// The TLS handshake of a new connection (TLS listeners only); a connection that has not
    /// completed it in this time is closed.
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
pub(crate) struct Observer {
    /// The server's metrics, which count this listener's open, refused and evicted connections.
    pub metrics: Arc<Metrics>,
    /// The listener's name in metrics labels and log lines (`"api"` or `"metrics"`).
    pub listener: &'static str,
}

/// How long a new connection waits for the slot of the connection evicted for it.
const EVICTION_WAIT: Duration = Duration::from_millis(500);

/// File descriptors kept back from the connection cap: watermark files, the vault's and the
/// token endpoint's connections, logs, the other listener's own reserve.
const RESERVED_FDS: usize = 64;

/// Serves `filter` on `listener` until `shutdown` resolves, then drains connections.
pub(crate) async fn serve<F>(
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
    let unserved = Arc::new(Unserved::default());
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
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => Some(slot),
            // Full: close the connection that has waited longest without a request (a
            // slowloris one, typically) and take its slot once it is free. Waiting here, not
            // in a task of its own, also paces a flood: the kernel's backlog holds the others.
            Err(_) if unserved.evict_oldest() => {
                observer.metrics.connection_evicted(observer.listener);
                tokio::time::timeout(EVICTION_WAIT, Arc::clone(&slots).acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        };
        let Some(slot) = slot else {
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
        let ticket = unserved.enter();
        connections.spawn(async move {
            let _open = OpenConnection::new(observer, slot);
            let Some(acceptor) = acceptor else {
                return super::connection::serve_connection(stream, service, limits, stop, peer, ticket).await;
            };
            let handshake = tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream));
            tokio::select! {
                h = handshake => match h {
                    Ok(Ok(tls)) => super::connection::serve_connection(tls, service, limits, stop, peer, ticket).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                },
                () = stop.cancelled() => {}
                () = ticket.evicted.cancelled() => {}
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
