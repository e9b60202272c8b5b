//! The accept loop: serves a warp filter on a bound TCP listener, over plain HTTP or TLS, with
//! hyper-util (HTTP/1.1 and HTTP/2).
//!
//! Owns: time limits (TLS handshake, request headers, whole request) and connection-level
//! graceful shutdown: when `shutdown` resolves it stops accepting, lets open connections
//! finish their current requests (bounded by `drain_timeout`) and returns.
//! Must never: hang on a slow or silent client, or keep accepting after shutdown began.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use warp::Filter;
use warp::reply::{Reply, Response};

use super::errors::{ApiError, RequestError};

/// Time limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Whole request, from the first byte of its headers to the last byte of the answer head.
    pub request_timeout: Duration,
    /// Reading the request head (slowloris protection).
    pub header_timeout: Duration,
    pub handshake_timeout: Duration,
    /// How long shutdown waits for open connections to finish their current request.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            drain_timeout: Duration::from_secs(15),
        }
    }
}

/// Serves `filter` on `listener` until `shutdown` resolves, then drains connections.
pub async fn serve<F>(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    filter: F,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
{
    let service = TowerToHyperService::new(warp::service(filter));
    let graceful = GracefulShutdown::new();
    let acceptor = tls.map(TlsAcceptor::from);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(stream, service, watcher, limits).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => serve_connection(tls, service, watcher, limits).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after the drain timeout");
    }
}

async fn serve_connection<IO, S>(io: IO, service: S, watcher: Watcher, limits: Limits)
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
    let timeout = limits.request_timeout;
    let timed = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let call = service.call(req);
        async move {
            match tokio::time::timeout(timeout, call).await {
                Ok(answer) => answer,
                Err(_) => Ok(ApiError::from(RequestError::Timeout(timeout)).into_response()),
            }
        }
    });
    // A client that connects and sends nothing: hyper's version sniffing would wait forever.
    // Wait for the first byte ourselves, within the header time limit.
    let mut io = BufReader::new(io);
    match tokio::time::timeout(limits.header_timeout, io.fill_buf()).await {
        Ok(Ok(first)) if !first.is_empty() => {}
        _ => return,
    }
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let conn = builder
        .serve_connection(TokioIo::new(io), timed)
        .into_owned();
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection closed with an error");
    }
}
