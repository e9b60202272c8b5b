//! Prometheus metrics, in the text exposition format (version 0.0.4), written by hand.
//!
//! Owns: the counters, the vault latency histogram and their rendering. One [`Metrics`] value
//! per server, shared by `Arc` (no global registry). Hand-written rather than a crate: the
//! signer needs a handful of labelled counters and one histogram, and the text format is a
//! stable, documented, tiny grammar; this keeps the dependency tree (and audit surface) of a
//! key-handling process smaller.
//!
//! Must never: put request payloads, signatures or anything secret in a label. Labels are
//! route names, status codes, request kinds, public key hashes and error classes only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::watermark::shared::{LATENCY_BUCKETS as SHARED_BUCKETS, SharedStats};

/// Upper bounds (seconds) of the vault latency histogram buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0,
];

pub const PREFIX: &str = "tezos_azure_signer";

/// Counters keyed by (request kind, pkh).
type KindKeyCounts = BTreeMap<(String, String), u64>;

#[derive(Default)]
struct Histogram {
    /// Cumulative counts are computed at render time; these are per-bucket counts.
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    signatures: KindKeyCounts,
    replays: KindKeyCounts,
    watermark_refusals: KindKeyCounts,
    refusals: BTreeMap<String, u64>,
    vault_errors: BTreeMap<String, u64>,
    vault_latency: Histogram,
    keys_loaded: u64,
    in_flight: i64,
    /// By listener (`api`, `metrics`).
    connections_open: BTreeMap<&'static str, i64>,
    connections_refused: BTreeMap<&'static str, u64>,
}

/// All metrics of one server.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// The shared watermark store's counters, when `--shared-watermarks` is on.
    shared: OnceLock<Arc<SharedStats>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A poisoned lock only means another thread panicked while counting: the counters
        // are still meaningful, keep serving them.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    pub fn request(&self, route: &str, status: u16) {
        self.with(|m| *m.requests.entry((route.to_string(), status)).or_default() += 1);
    }
    /// A signature was released (`replayed`: the stored one, no vault call).
    pub fn signature(&self, kind: &str, pkh: &str, replayed: bool) {
        self.with(|m| {
            let key = (kind.to_string(), pkh.to_string());
            if replayed {
                *m.replays.entry(key).or_default() += 1;
            } else {
                *m.signatures.entry(key).or_default() += 1;
            }
        });
    }
    pub fn watermark_refusal(&self, kind: &str, pkh: &str) {
        self.with(|m| {
            *m.watermark_refusals
                .entry((kind.to_string(), pkh.to_string()))
                .or_default() += 1
        });
    }
    /// Any refused or failed sign request, by reason label.
    pub fn refusal(&self, reason: &str) {
        self.with(|m| *m.refusals.entry(reason.to_string()).or_default() += 1);
    }
    pub fn vault_error(&self, error: &str) {
        self.with(|m| *m.vault_errors.entry(error.to_string()).or_default() += 1);
    }
    pub fn vault_latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        self.with(|m| {
            let h = &mut m.vault_latency;
            if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
                h.buckets[i] += 1;
            }
            h.count += 1;
            h.sum += secs;
        });
    }
    pub fn set_keys_loaded(&self, n: usize) {
        self.with(|m| m.keys_loaded = n as u64);
    }
    /// Renders the shared watermark store's counters too.
    pub fn attach_shared(&self, stats: Arc<SharedStats>) {
        let _ = self.shared.set(stats);
    }
    pub fn in_flight(&self, delta: i64) {
        self.with(|m| m.in_flight += delta);
    }
    /// A connection of `listener` opened (`1`) or closed (`-1`).
    pub fn connection(&self, listener: &'static str, delta: i64) {
        self.with(|m| *m.connections_open.entry(listener).or_default() += delta);
    }
    /// A connection of `listener` closed at once: the connection cap was reached.
    pub fn connection_refused(&self, listener: &'static str) {
        self.with(|m| *m.connections_refused.entry(listener).or_default() += 1);
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        self.with(|m| {
            let mut out = String::new();
            let p = PREFIX;
            header(&mut out, &format!("{p}_http_requests_total"), "counter",
                "HTTP requests answered on the signer API, by route and status code.");
            for ((route, status), n) in &m.requests {
                let _ = writeln!(out, "{p}_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}", esc(route));
            }
            let pairs: [(&str, &str, &KindKeyCounts); 3] = [
                ("signatures_total", "Signatures released after a vault call, by request kind and key.", &m.signatures),
                ("replays_total", "Identical retries answered with the stored signature (no vault call), by request kind and key.", &m.replays),
                ("watermark_refusals_total", "Requests refused by the high watermark (possible double sign), by request kind and key.", &m.watermark_refusals),
            ];
            for (name, help, map) in pairs {
                header(&mut out, &format!("{p}_{name}"), "counter", help);
                for ((kind, pkh), n) in map {
                    let _ = writeln!(out, "{p}_{name}{{kind=\"{}\",pkh=\"{}\"}} {n}", esc(kind), esc(pkh));
                }
            }
            header(&mut out, &format!("{p}_refusals_total"), "counter",
                "Sign requests refused or failed, by reason.");
            for (reason, n) in &m.refusals {
                let _ = writeln!(out, "{p}_refusals_total{{reason=\"{}\"}} {n}", esc(reason));
            }
            header(&mut out, &format!("{p}_vault_errors_total"), "counter",
                "Failed vault sign calls (after bounded retries), by error class.");
            for (error, n) in &m.vault_errors {
                let _ = writeln!(out, "{p}_vault_errors_total{{error=\"{}\"}} {n}", esc(error));
            }
            let h = &m.vault_latency;
            let name = format!("{p}_vault_sign_duration_seconds");
            header(&mut out, &name, "histogram",
                "Latency of vault sign calls (retries included) for released signatures.");
            let mut cumulative = 0;
            for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum {}", h.sum);
            let _ = writeln!(out, "{name}_count {}", h.count);
            header(&mut out, &format!("{p}_keys_loaded"), "gauge",
                "Vault keys the signer currently knows.");
            let _ = writeln!(out, "{p}_keys_loaded {}", m.keys_loaded);
            header(&mut out, &format!("{p}_sign_in_flight"), "gauge",
                "Sign requests currently being processed.");
            let _ = writeln!(out, "{p}_sign_in_flight {}", m.in_flight);
            header(&mut out, &format!("{p}_connections_open"), "gauge",
                "Open HTTP connections, by listener.");
            for (listener, n) in &m.connections_open {
                let _ = writeln!(out, "{p}_connections_open{{listener=\"{listener}\"}} {n}");
            }
            header(&mut out, &format!("{p}_connections_refused_total"), "counter",
                "Connections closed at once because --max-connections were open, by listener.");
            for (listener, n) in &m.connections_refused {
                let _ = writeln!(out, "{p}_connections_refused_total{{listener=\"{listener}\"}} {n}");
            }
            if let Some(shared) = self.shared.get() {
                render_shared(&mut out, shared);
            }
            out
        })
    }
}

#[rustfmt::skip]
fn render_shared(out: &mut String, shared: &SharedStats) {
    let p = PREFIX;
    let snap = shared.snapshot();
    let name = format!("{p}_shared_watermark_write_duration_seconds");
    header(out, &name, "histogram",
        "Latency of successful conditional writes of shared watermarks (retries included).");
    let mut cumulative = 0;
    for (bound, n) in SHARED_BUCKETS.iter().zip(&snap.buckets) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", snap.writes);
    let _ = writeln!(out, "{name}_sum {}", snap.write_seconds);
    let _ = writeln!(out, "{name}_count {}", snap.writes);
    header(out, &format!("{p}_shared_watermark_conflicts_total"), "counter",
        "Conditional writes of shared watermarks another signer got in first (lost races).");
    let _ = writeln!(out, "{p}_shared_watermark_conflicts_total {}", snap.conflicts);
    header(out, &format!("{p}_shared_watermark_errors_total"), "counter",
        "Failed shared-watermark storage requests, by error class.");
    for (error, n) in &snap.errors {
        let _ = writeln!(out, "{p}_shared_watermark_errors_total{{error=\"{error}\"}} {n}");
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label value escaping per the exposition format.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histogram() {
        let m = Metrics::new();
        m.request("sign", 200);
        m.request("sign", 200);
        m.request("sign", 409);
        m.signature("block", "tz2X", false);
        m.signature("block", "tz2X", true);
        m.watermark_refusal("attestation", "tz3Y");
        m.refusal("watermark");
        m.vault_error("deadline");
        m.vault_latency(Duration::from_millis(7));
        m.vault_latency(Duration::from_millis(300));
        m.set_keys_loaded(2);
        m.connection("api", 1);
        m.connection("api", 1);
        m.connection("api", -1);
        m.connection_refused("api");
        let text = m.render();
        for line in [
            "tezos_azure_signer_http_requests_total{route=\"sign\",status=\"200\"} 2",
            "tezos_azure_signer_http_requests_total{route=\"sign\",status=\"409\"} 1",
            "tezos_azure_signer_signatures_total{kind=\"block\",pkh=\"tz2X\"} 1",
            "tezos_azure_signer_replays_total{kind=\"block\",pkh=\"tz2X\"} 1",
            "tezos_azure_signer_watermark_refusals_total{kind=\"attestation\",pkh=\"tz3Y\"} 1",
            "tezos_azure_signer_refusals_total{reason=\"watermark\"} 1",
            "tezos_azure_signer_vault_errors_total{error=\"deadline\"} 1",
            "tezos_azure_signer_vault_sign_duration_seconds_bucket{le=\"0.005\"} 0",
            "tezos_azure_signer_vault_sign_duration_seconds_bucket{le=\"0.01\"} 1",
            "tezos_azure_signer_vault_sign_duration_seconds_bucket{le=\"0.25\"} 1",
            "tezos_azure_signer_vault_sign_duration_seconds_bucket{le=\"0.5\"} 2",
            "tezos_azure_signer_vault_sign_duration_seconds_bucket{le=\"+Inf\"} 2",
            "tezos_azure_signer_vault_sign_duration_seconds_count 2",
            "tezos_azure_signer_keys_loaded 2",
            "tezos_azure_signer_connections_open{listener=\"api\"} 1",
            "tezos_azure_signer_connections_refused_total{listener=\"api\"} 1",
            "# TYPE tezos_azure_signer_vault_sign_duration_seconds histogram",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
