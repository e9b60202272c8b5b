//! The metrics listener's routes: `GET /metrics` (Prometheus text) and `GET /healthz`.
//!
//! Owns: readiness. Ready only when keys are loaded, the vault answers and the watermark store
//! takes marks (a shared container answers); the checks are for [`HEALTH_CACHE`] so a tight probe loop cannot turn into billed vault calls.
//! Must never: expose anything but counters and a readiness verdict.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::SignerApi;
use super::metrics::Metrics;

/// How long a vault check result is reused.
pub const HEALTH_CACHE: Duration = Duration::from_secs(10);

/// Readiness with a cached vault check.
pub struct Health {
    signer: Arc<dyn SignerApi>,
    cache: Mutex<Option<(Instant, Result<(), String>)>>,
    ttl: Duration,
}

impl Health {
    pub fn new(signer: Arc<dyn SignerApi>, ttl: Duration) -> Self {
        Health {
            signer,
            cache: Mutex::new(None),
            ttl,
        }
    }

    /// `Ok(number of keys)` when ready, else why not.
    pub async fn check(&self) -> Result<usize, String> {
        let keys = self.signer.known_keys().len();
        if keys == 0 {
            return Err("no keys loaded from the vault".to_string());
        }
        let mut cache = self.cache.lock().await;
        let vault = match cache.as_ref() {
            Some((at, result)) if at.elapsed() < self.ttl => result.clone(),
            _ => {
                let (vault, store) =
                    tokio::join!(self.signer.check_vault(), self.signer.check_store());
                let result = vault
                    .map_err(|e| format!("vault check failed: {e}"))
                    .and_then(|()| store.map_err(|e| format!("watermark store check failed: {e}")));
                *cache = Some((Instant::now(), result.clone()));
                result
            }
        };
        vault.map(|()| keys)
    }
}

/// `/metrics` and `/healthz`; anything else is 404.
pub fn routes(
    metrics: Arc<Metrics>,
    health: Arc<Health>,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    let for_metrics = health.clone();
    let metrics_route = warp::path!("metrics")
        .and(warp::get())
        .map(move || {
            metrics.set_keys_loaded(for_metrics.signer.known_keys().len());
            metrics.render()
        })
        .map(|text: String| {
            warp::reply::with_header(text, "content-type", "text/plain; version=0.0.4")
                .into_response()
        });
    let health_route = warp::path!("healthz").and(warp::get()).then(move || {
        let health = health.clone();
        async move {
            match health.check().await {
                Ok(keys) => {
                    warp::reply::json(&serde_json::json!({"status": "ready", "keys": keys}))
                        .into_response()
                }
                Err(reason) => warp::reply::with_status(
                    warp::reply::json(
                        &serde_json::json!({"status": "unavailable", "reason": reason}),
                    ),
                    StatusCode::SERVICE_UNAVAILABLE,
                )
                .into_response(),
            }
        }
    });
    metrics_route
        .or(health_route)
        .unify()
        .or(warp::any().map(|| StatusCode::NOT_FOUND.into_response()))
        .unify()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::testing::{StubSigner, TZ2_SECRET, TZ3_SECRET};

    fn probe(keys: usize, up: bool) -> Arc<StubSigner> {
        let secrets = [TZ2_SECRET, TZ3_SECRET];
        let stub = StubSigner::new(&secrets[..keys]);
        stub.set_vault_up(up);
        Arc::new(stub)
    }

    #[tokio::test]
    async fn ready_only_with_keys_and_a_vault_that_answers() {
        assert_eq!(
            Health::new(probe(0, true), HEALTH_CACHE).check().await,
            Err("no keys loaded from the vault".to_string())
        );
        let down = Health::new(probe(1, false), HEALTH_CACHE).check().await;
        assert!(down.expect_err("vault down").contains("connection refused"));
        assert_eq!(
            Health::new(probe(2, true), HEALTH_CACHE).check().await,
            Ok(2)
        );
    }

    #[tokio::test]
    async fn vault_checks_are_cached() {
        let p = probe(1, true);
        let health = Health::new(p.clone(), Duration::from_secs(60));
        for _ in 0..5 {
            assert_eq!(health.check().await, Ok(1));
        }
        assert_eq!(p.vault_checks.load(Ordering::SeqCst), 1);
        // Within the cache window a vault outage is not seen yet; with no cache it is.
        p.set_vault_up(false);
        assert_eq!(health.check().await, Ok(1));
        let fresh = Health::new(p.clone(), Duration::ZERO);
        assert!(fresh.check().await.is_err());
    }

    #[tokio::test]
    async fn routes_answer_503_when_not_ready_and_serve_metrics() {
        let filter = routes(
            Arc::new(Metrics::new()),
            Arc::new(Health::new(probe(0, true), HEALTH_CACHE)),
        );
        let res = warp::test::request().path("/healthz").reply(&filter).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let res = warp::test::request().path("/metrics").reply(&filter).await;
        assert_eq!(res.status(), StatusCode::OK);
        let text = String::from_utf8_lossy(res.body()).to_string();
        assert!(text.contains("tezos_azure_signer_keys_loaded 0"), "{text}");
        let res = warp::test::request().path("/other").reply(&filter).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
