//! Running the whole server: the signer API listener (plain or TLS), the metrics listener, and
//! the orderly shutdown.
//!
//! Owns: the shutdown order. When `shutdown` resolves: new signatures are refused (503), both
//! listeners stop accepting, open connections finish their current request, and every sign
//! task still running (vault call + watermark persistence) is awaited before [`Server::run`]
//! returns. Must never: return while a signature is between the vault and the disk.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::health::{HEALTH_CACHE, Health};
use super::listen::{self, Limits};
use super::metrics::Metrics;
use super::{ApiOptions, AppState, InFlight, Signer, routes};

/// A bound, ready-to-run server.
pub struct Server {
    api: TcpListener,
    metrics_listener: Option<TcpListener>,
    tls: Option<Arc<rustls::ServerConfig>>,
    state: Arc<AppState>,
    limits: Limits,
}

/// How the shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Every in-flight signature finished (and persisted) before returning.
    pub drained: bool,
}

impl Server {
    /// Binds both listeners (so the caller can announce the real addresses before serving).
    pub async fn bind(
        signer: Arc<Signer>,
        api_address: SocketAddr,
        metrics_address: Option<SocketAddr>,
        tls: Option<Arc<rustls::ServerConfig>>,
        options: ApiOptions,
        limits: Limits,
    ) -> std::io::Result<Server> {
        let api = listen_on(api_address)?;
        let metrics_listener = match metrics_address {
            Some(a) => Some(listen_on(a)?),
            None => None,
        };
        let state = Arc::new(AppState {
            signer,
            metrics: Arc::new(Metrics::new()),
            options,
            inflight: InFlight::default(),
            request_ids: Default::default(),
        });
        Ok(Server {
            api,
            metrics_listener,
            tls,
            state,
            limits,
        })
    }

    /// The address the signer API listener is bound to (the real port when 0 was asked for).
    pub fn api_address(&self) -> std::io::Result<SocketAddr> {
        self.api.local_addr()
    }
    /// The address the metrics and health listener is bound to, if there is one.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }
    /// The server's metrics, to attach more sources to (shared watermark statistics, lost log
    /// lines) before [`Server::run`].
    pub(crate) fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    /// Serves until `shutdown` resolves, then shuts down in order (see the module doc).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> ShutdownReport {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let metrics_task = self.metrics_listener.map(|listener| {
            let health = Arc::new(
                Health::new(self.state.signer.clone(), HEALTH_CACHE)
                    .reporting_to(self.state.metrics.clone()),
            );
            // The readiness gauge stays current even when nothing polls /readyz.
            let refresher = {
                let health = health.clone();
                tokio::spawn(async move {
                    loop {
                        let _ = health.check().await;
                        tokio::time::sleep(HEALTH_CACHE).await;
                    }
                })
            };
            let filter = super::health::routes(self.state.metrics.clone(), health);
            let listening = tokio::spawn(listen::serve(
                listener,
                None,
                filter,
                self.limits,
                listen::Observer {
                    metrics: self.state.metrics.clone(),
                    listener: "metrics",
                },
                stopped(),
            ));
            (listening, refresher)
        });
        let api_task = tokio::spawn(listen::serve(
            self.api,
            self.tls,
            routes::api(self.state.clone()),
            self.limits,
            listen::Observer {
                metrics: self.state.metrics.clone(),
                listener: "api",
            },
            stopped(),
        ));
        shutdown.await;
        tracing::info!("shutting down: refusing new signatures, finishing in-flight ones");
        self.state.inflight.close();
        let _ = stop_tx.send(true);
        let _ = api_task.await;
        if let Some((task, refresher)) = metrics_task {
            refresher.abort();
            let _ = task.await;
        }
        // Sign tasks outlive their connections (a client disconnect cannot cancel them):
        // wait for every one of them, including its watermark persistence.
        let drained = self
            .state
            .inflight
            .wait(self.limits.drain_timeout + Duration::from_secs(5))
            .await;
        if let Err(e) = self.state.signer.shutdown().await {
            tracing::error!(error = %e, "could not write the recorded signatures at shutdown");
        }
        if drained {
            tracing::info!("all in-flight signatures finished");
        } else {
            tracing::error!("some signatures were still in flight after the drain timeout");
        }
        ShutdownReport { drained }
    }
}

/// SIGTERM and SIGINT listeners, registered when created. Create it before announcing that the
/// server listens: a signal that arrives earlier is then held for [`TerminationSignal::wait`]
/// instead of killing the process through the default disposition.
pub struct TerminationSignal {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl TerminationSignal {
    /// Registers the listeners (needs a running tokio runtime).
    pub fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for {name}");
                    None
                }
            };
            TerminationSignal {
                term: listen(SignalKind::terminate(), "SIGTERM"),
                int: listen(SignalKind::interrupt(), "SIGINT"),
            }
        }
        #[cfg(not(unix))]
        TerminationSignal {}
    }

    /// Resolves on the first SIGTERM or SIGINT (including one received since `register`).
    pub async fn wait(self) {
        #[cfg(unix)]
        {
            async fn recv(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = recv(self.term) => tracing::info!("SIGTERM received"),
                _ = recv(self.int) => tracing::info!("SIGINT received"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A listening socket with a backlog of 1,024 (std's and tokio's `bind` use 128): under a
/// flood of connections the kernel queues new clients instead of dropping their SYNs, which
/// would cost a legitimate client a one-second retransmission.
fn listen_on(address: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match address {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}
