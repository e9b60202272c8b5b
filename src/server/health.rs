//! The metrics listener's routes: `GET /metrics` (Prometheus text) and `GET /healthz`.
//!
//! Owns: readiness. Ready only when keys are loaded and the vault answers; the vault check is
//! cached for [`HEALTH_CACHE`] so a tight probe loop cannot turn into billed vault calls.
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
                let result = self
                    .signer
                    .check_vault()
                    .await
                    .map_err(|e| format!("vault check failed: {e}"));
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
