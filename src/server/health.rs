//! The metrics listener's routes: `GET /metrics` (Prometheus text), `GET /healthz` (liveness)
//! and `GET /readyz` (readiness).
//!
//! Owns: readiness. Ready only when keys are loaded, the vault answers and the watermark store
//! takes a write (a probe file in the data directory; and a probe blob in the shared
//! container when configured), each within [`PROBE_TIMEOUT`]. The checks are cached for
//! [`HEALTH_CACHE`], so a tight probe loop cannot turn into billed vault calls or writes; the
//! result is also the `tezos_azure_signer_ready` gauge. Liveness says the process answers and
//! its signing path's workers run (a dead watermark writer never comes back, so a supervisor
//! should restart the process); a vault outage must not get the signer restarted.
//! Must never: expose anything but counters and a readiness verdict.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use warp::Filter;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use super::Signer;
use super::metrics::Metrics;

/// How long a readiness result is reused.
pub(crate) const HEALTH_CACHE: Duration = Duration::from_secs(10);
/// How long each readiness check (vault, store) may take.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Readiness with cached checks.
pub(crate) struct Health {
    signer: Arc<Signer>,
    cache: Mutex<Option<(Instant, Result<(), String>)>>,
    ttl: Duration,
    probe_timeout: Duration,
    metrics: Option<Arc<Metrics>>,
}

impl Health {
    pub(crate) fn new(signer: Arc<Signer>, ttl: Duration) -> Self {
        Health {
            signer,
            cache: Mutex::new(None),
            ttl,
            probe_timeout: PROBE_TIMEOUT,
            metrics: None,
        }
    }

    /// Each check may take `timeout` instead of [`PROBE_TIMEOUT`].
    #[cfg(test)]
    pub(crate) fn with_probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    /// Also sets `metrics`' readiness gauge on every fresh check.
    pub(crate) fn reporting_to(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// `Ok(number of keys)` when ready, else why not.
    pub(crate) async fn check(&self) -> Result<usize, String> {
        let keys = self.signer.known_keys().len();
        let mut cache = self.cache.lock().await;
        let checks = match cache.as_ref() {
            Some((at, result)) if at.elapsed() < self.ttl => result.clone(),
            _ => {
                let result = self.fresh().await;
                *cache = Some((Instant::now(), result.clone()));
                result
            }
        };
        let result = if keys == 0 {
            Err("no keys loaded from the vault".to_string())
        } else {
            checks.map(|()| keys)
        };
        if let Some(m) = &self.metrics {
            m.set_ready(result.is_ok());
        }
        result
    }

    async fn fresh(&self) -> Result<(), String> {
        let limit = self.probe_timeout;
        let timed = |what: &'static str| {
            move |r: Result<Result<(), String>, tokio::time::error::Elapsed>| match r {
                Ok(inner) => inner,
                Err(_) => Err(format!("{what} check gave no answer within {limit:?}")),
            }
        };
        let vault = async {
            self.signer
                .check_vault()
                .await
                .map_err(|e| format!("vault check failed: {e}"))
        };
        let store = async {
            self.signer
                .check_store()
                .await
                .map_err(|e| format!("watermark store check failed: {e}"))
        };
        let (vault, store) = tokio::join!(
            tokio::time::timeout(limit, vault),
            tokio::time::timeout(limit, store)
        );
        timed("vault")(vault).and_then(|()| timed("watermark store")(store))
    }
}

/// With several vaults: each one's standing, and `degraded` naming the demoted ones (the
/// signer stays ready while every key has a vault in good standing).
fn add_vaults(body: &mut serde_json::Value, vaults: &[crate::vault::MemberStatus]) {
    if vaults.is_empty() {
        return;
    }
    let each: Vec<_> = vaults
        .iter()
        .map(|v| match &v.demoted {
            None => serde_json::json!({"vault": v.url, "state": "up", "keys": v.keys}),
            Some(why) => {
                serde_json::json!({"vault": v.url, "state": "demoted", "reason": why, "keys": v.keys})
            }
        })
        .collect();
    let degraded: Vec<&str> = vaults
        .iter()
        .filter(|v| v.demoted.is_some())
        .map(|v| v.url.as_str())
        .collect();
    body["vaults"] = serde_json::json!(each);
    if !degraded.is_empty() {
        body["degraded"] = serde_json::json!(degraded);
    }
}

/// `/metrics`, `/healthz` and `/readyz`; anything else is 404.
pub(crate) fn routes(
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
    let for_live = health.clone();
    let live_route = warp::path!("healthz").and(warp::get()).map(move || {
        if for_live.signer.alive() {
            warp::reply::json(&serde_json::json!({"status": "alive"})).into_response()
        } else {
            let body = serde_json::json!({
                "status": "dead",
                "reason": "the watermark writer thread has stopped: nothing can be signed until the signer restarts",
            });
            warp::reply::with_status(warp::reply::json(&body), StatusCode::SERVICE_UNAVAILABLE)
                .into_response()
        }
    });
    let ready_route = warp::path!("readyz").and(warp::get()).then(move || {
        let health = health.clone();
        async move {
            let (status, mut body) = match health.check().await {
                Ok(keys) => (
                    StatusCode::OK,
                    serde_json::json!({"status": "ready", "keys": keys}),
                ),
                Err(reason) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    serde_json::json!({"status": "unavailable", "reason": reason}),
                ),
            };
            add_vaults(&mut body, &health.signer.vaults());
            warp::reply::with_status(warp::reply::json(&body), status).into_response()
        }
    });
    metrics_route
        .or(live_route)
        .unify()
        .or(ready_route)
        .unify()
        .or(warp::any().map(|| StatusCode::NOT_FOUND.into_response()))
        .unify()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::signer::SignerConfig;
    use crate::testing::{MemoryVault, Mode, TZ2_SECRET, TZ3_SECRET, signer_over};

    /// The real signer over a memory vault holding `keys` keys, up or down.
    struct Probe {
        vault: Arc<MemoryVault>,
        signer: Arc<Signer>,
        _dir: tempfile::TempDir,
    }

    async fn probe(keys: usize, up: bool) -> Probe {
        let vault = Arc::new(MemoryVault::new());
        for (i, secret) in [TZ2_SECRET, TZ3_SECRET][..keys].iter().enumerate() {
            vault.add(&format!("key-{i}"), secret);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let signer = signer_over(vault.clone(), dir.path(), SignerConfig::default()).await;
        if !up {
            vault.set_mode(Mode::Fail);
        }
        Probe {
            vault,
            signer,
            _dir: dir,
        }
    }

    #[tokio::test]
    async fn ready_only_with_keys_and_a_vault_that_answers() {
        assert_eq!(
            Health::new(probe(0, true).await.signer, HEALTH_CACHE)
                .check()
                .await,
            Err("no keys loaded from the vault".to_string())
        );
        let down = Health::new(probe(1, false).await.signer, HEALTH_CACHE)
            .check()
            .await;
        assert!(
            down.expect_err("vault down")
                .contains("memory vault is down")
        );
        assert_eq!(
            Health::new(probe(2, true).await.signer, HEALTH_CACHE)
                .check()
                .await,
            Ok(2)
        );
    }

    /// A vault or store that never answers makes readiness fail after the probe timeout,
    /// with a reason that says which, instead of hanging the probe.
    #[tokio::test]
    async fn a_hung_check_is_not_ready_within_the_probe_timeout() {
        let p = probe(1, true).await;
        p.vault.set_mode(Mode::Hang);
        let health = Health::new(p.signer.clone(), Duration::ZERO)
            .with_probe_timeout(Duration::from_millis(50));
        let started = std::time::Instant::now();
        let why = health.check().await.expect_err("not ready");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(why, "vault check gave no answer within 50ms");
        p.vault.set_mode(Mode::Normal);
        assert_eq!(health.check().await, Ok(1));
    }

    #[tokio::test]
    async fn vault_checks_are_cached() {
        let p = probe(1, true).await;
        let health = Health::new(p.signer.clone(), Duration::from_secs(60));
        for _ in 0..5 {
            assert_eq!(health.check().await, Ok(1));
        }
        assert_eq!(p.vault.get_calls.load(Ordering::SeqCst), 1);
        // Within the cache window a vault outage is not seen yet; with no cache it is.
        p.vault.set_mode(Mode::Fail);
        assert_eq!(health.check().await, Ok(1));
        let fresh = Health::new(p.signer.clone(), Duration::ZERO);
        assert!(fresh.check().await.is_err());
    }

    /// Two vaults holding the same keys: ready while one answers, and `/readyz` names the
    /// demoted one; not ready once neither does.
    #[tokio::test]
    async fn with_two_vaults_ready_while_one_answers_and_the_degraded_one_is_named() {
        let (a, b) = (Arc::new(MemoryVault::new()), Arc::new(MemoryVault::new()));
        for vault in [&a, &b] {
            vault.add("baker", TZ2_SECRET);
        }
        let member = |url: &str, v: &Arc<MemoryVault>| {
            (url.to_string(), v.clone() as Arc<dyn crate::vault::Vault>)
        };
        let set = crate::vault::VaultSet::new(
            vec![
                member("https://a.example/", &a),
                member("https://b.example/", &b),
            ],
            crate::vault::HedgeConfig::default(),
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let signer = signer_over(Arc::new(set), dir.path(), SignerConfig::default()).await;
        let metrics = Arc::new(Metrics::new());
        let filter = routes(metrics, Arc::new(Health::new(signer, Duration::ZERO)));
        let ready = || async {
            let res = warp::test::request().path("/readyz").reply(&filter).await;
            let body: serde_json::Value = serde_json::from_slice(res.body()).expect("json");
            (res.status(), body)
        };
        let (status, body) = ready().await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["vaults"][0]["state"], "up", "{body}");
        assert!(body.get("degraded").is_none(), "{body}");
        a.set_mode(Mode::Fail);
        for _ in 0..3 {
            ready().await;
        }
        let (status, body) = ready().await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["degraded"][0], "https://a.example/", "{body}");
        assert_eq!(body["vaults"][0]["state"], "demoted", "{body}");
        assert!(
            body["vaults"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("memory vault is down"),
            "{body}"
        );
        b.set_mode(Mode::Fail);
        let (status, body) = ready().await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }

    #[tokio::test]
    async fn routes_answer_503_when_not_ready_and_serve_metrics() {
        let metrics = Arc::new(Metrics::new());
        // Bound: its data directory must outlive the filter's checks.
        let p = probe(0, true).await;
        let filter = routes(
            metrics.clone(),
            Arc::new(Health::new(p.signer.clone(), HEALTH_CACHE).reporting_to(metrics.clone())),
        );
        let res = warp::test::request().path("/readyz").reply(&filter).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(metrics.render().contains("tezos_azure_signer_ready 0"));
        // Liveness does not depend on readiness.
        let res = warp::test::request().path("/healthz").reply(&filter).await;
        assert_eq!(res.status(), StatusCode::OK);
        let res = warp::test::request().path("/metrics").reply(&filter).await;
        assert_eq!(res.status(), StatusCode::OK);
        let text = String::from_utf8_lossy(res.body()).to_string();
        assert!(text.contains("tezos_azure_signer_keys_loaded 0"), "{text}");
        let res = warp::test::request().path("/other").reply(&filter).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
}
