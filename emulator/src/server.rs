//! Accept loops of the emulator: HTTPS (tokio-rustls + hyper-util, HTTP/1.1 and HTTP/2) for
//! the vault port and plain HTTP for the loopback identity port. They stop when the shutdown
//! signal fires (or its sender is dropped), aborting open connections. They never bind
//! anything but loopback addresses.

use std::future::Future;
use std::sync::Arc;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::Shared;
use super::routes::{self, Resp};

type Handler<F> = fn(Arc<Shared>, hyper::Request<hyper::body::Incoming>) -> F;

async fn wait_shutdown(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Serves the HTTPS vault port on every listener until shutdown.
pub async fn serve_tls(
    listeners: Vec<TcpListener>,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    let mut loops = JoinSet::new();
    for listener in listeners {
        let (acceptor, shared) = (acceptor.clone(), shared.clone());
        loops.spawn(accept_until_shutdown(
            listener,
            shutdown.clone(),
            move |stream| {
                let (acceptor, shared) = (acceptor.clone(), shared.clone());
                async move {
                    match acceptor.accept(stream).await {
                        Ok(tls) => serve_conn(tls, shared, routes::vault).await,
                        Err(e) => tracing::debug!(error = %e, "emulator: TLS handshake failed"),
                    }
                }
            },
        ));
    }
    while loops.join_next().await.is_some() {}
}

/// Serves the plain-http identity port until shutdown.
pub async fn serve_plain(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
) {
    accept_until_shutdown(listener, shutdown, move |stream| {
        serve_conn(stream, shared.clone(), routes::identity_port)
    })
    .await
}

/// Accepts connections and runs `on_conn` for each until shutdown; returning drops (aborts)
/// the connections still open.
async fn accept_until_shutdown<C, Fut>(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    on_conn: C,
) where
    C: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = wait_shutdown(&mut shutdown) => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors or similar: back off instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                while conns.try_join_next().is_some() {}
                conns.spawn(on_conn(stream));
            }
        }
    }
}

async fn serve_conn<S, F>(stream: S, shared: Arc<Shared>, handler: Handler<F>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Future<Output = Result<Resp, std::convert::Infallible>> + Send + 'static,
{
    let service = service_fn(move |req| handler(shared.clone(), req));
    if let Err(e) = Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!(error = %e, "emulator: connection ended with an error");
    }
}
