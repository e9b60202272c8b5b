//! The octez-compatible HTTP API (docs/protocol.md §1) and its operations side: TLS, metrics,
//! health, request timeouts and graceful shutdown.
//!
//! Owns: turning HTTP requests into calls on the signing pipeline ([`Signer`]) and the
//! results into octez's replies. Every answer for a failure is built in [`errors`].
//! Must never: sign anything itself, decide a watermark, or drop an in-flight signature on
//! shutdown (signatures run as tasks the shutdown waits for, see [`InFlight`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub(crate) mod connection;
pub(crate) mod errors;
pub(crate) mod health;
pub mod listen;
pub(crate) mod metrics;
pub(crate) mod outcome;
pub mod routes;
pub mod run;
pub mod tls;
mod unserved;

pub use crate::signer::{SignContext, SignError, SignRequest, Signed, Signer, Signing};

/// Limits and switches of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Answer `GET /known_keys` (octez only does when allowed by a flag).
    pub known_keys: bool,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// How long after it arrived a sign request may still reach the vault and get its
    /// signature: a little less than the request time limit, so that no request is signed
    /// after its client was answered that it timed out.
    pub sign_deadline: Duration,
}

/// What the request time limit keeps back for the watermark write after the vault call.
pub const PERSIST_MARGIN: Duration = Duration::from_millis(500);

impl ApiOptions {
    /// The sign deadline that fits a request time limit of `request_timeout`.
    pub fn sign_deadline_within(request_timeout: Duration) -> Duration {
        request_timeout
            .saturating_sub(PERSIST_MARGIN)
            .max(request_timeout / 2)
    }
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            known_keys: false,
            body_limit: 64 * 1024,
            sign_deadline: ApiOptions::sign_deadline_within(
                listen::Limits::default().request_timeout,
            ),
        }
    }
}

/// Everything a request handler needs.
pub(crate) struct AppState {
    /// The signing pipeline behind every route (sign, public keys, authorized keys).
    pub signer: Arc<Signer>,
    /// The server's metrics, shared with the metrics listener that renders them.
    pub metrics: Arc<metrics::Metrics>,
    /// Limits and switches of the API (body limit, sign deadline, `/known_keys`).
    pub options: ApiOptions,
    /// The sign tasks still running, which shutdown waits for.
    pub inflight: InFlight,
    /// Gives each request the id its `X-Request-Id` answer header and log line carry.
    pub request_ids: outcome::RequestIds,
}

/// Tracks sign tasks so shutdown can wait for them (including their watermark persistence).
/// Each task holds an [`InFlightGuard`]; [`InFlight::close`] refuses new ones and
/// [`InFlight::wait`] returns once every guard is dropped.
#[derive(Clone)]
pub struct InFlight {
    sender: Arc<std::sync::Mutex<Option<mpsc::Sender<()>>>>,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<()>>>,
}

/// Held by one in-flight signature.
pub struct InFlightGuard {
    _sender: mpsc::Sender<()>,
}

impl Default for InFlight {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(1);
        InFlight {
            sender: Arc::new(std::sync::Mutex::new(Some(tx))),
            receiver: Arc::new(tokio::sync::Mutex::new(rx)),
        }
    }
}

impl InFlight {
    /// A guard for a new signature, or `None` once shutdown has begun.
    pub fn enter(&self) -> Option<InFlightGuard> {
        let guard = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        guard.as_ref().map(|s| InFlightGuard { _sender: s.clone() })
    }
    /// Refuses new signatures from now on.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
    /// Closes, then waits until every in-flight signature has finished, or `limit` passed.
    /// Returns whether all finished.
    pub async fn wait(&self, limit: Duration) -> bool {
        self.close();
        let mut rx = self.receiver.lock().await;
        // recv() yields None once every sender (guard) is gone.
        tokio::time::timeout(limit, async { while rx.recv().await.is_some() {} })
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn inflight_waits_for_guards_and_refuses_after_close() {
        let inflight = InFlight::default();
        let guard = inflight.enter().expect("open");
        let waiter = {
            let inflight = inflight.clone();
            tokio::spawn(async move { inflight.wait(Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiter.is_finished(),
            "wait returned while a guard was alive"
        );
        assert!(inflight.enter().is_none(), "enter succeeded after close");
        drop(guard);
        assert!(waiter.await.expect("join"));
    }

    #[tokio::test]
    async fn inflight_wait_times_out() {
        let inflight = InFlight::default();
        let _guard = inflight.enter().expect("open");
        assert!(!inflight.wait(Duration::from_millis(20)).await);
    }
}
