//! Prometheus metrics, in the text exposition format (version 0.0.4), written by hand.
//!
//! Owns: the counters, the latency histograms and their rendering. One [`Metrics`] value
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

use crate::latency::{BUCKETS, Histogram, Snapshot};
use crate::vault::{MemberStatus, Vault};
use crate::watermark::shared::SharedStats;

pub(crate) const PREFIX: &str = "tezos_azure_signer";

/// Counters keyed by (request kind, pkh).
type KindKeyCounts = BTreeMap<(String, String), u64>;

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    signatures: KindKeyCounts,
    replays: KindKeyCounts,
    watermark_refusals: KindKeyCounts,
    refusals: BTreeMap<String, u64>,
    vault_errors: BTreeMap<String, u64>,
    keys_loaded: u64,
    /// 1 when the last readiness check passed.
    ready: u64,
    in_flight: i64,
    /// By listener (`api`, `metrics`).
    connections_open: BTreeMap<&'static str, i64>,
    connections_refused: BTreeMap<&'static str, u64>,
    connections_evicted: BTreeMap<&'static str, u64>,
}

/// All metrics of one server.
#[derive(Default)]
pub(crate) struct Metrics {
    inner: Mutex<Inner>,
    /// Whole sign requests, from the body read to the answer.
    sign_requests: Histogram,
    /// Vault sign calls of released signatures (retries and the verification included).
    vault_latency: Histogram,
    /// Durable reservations of new marks (local, and shared when configured).
    watermark_writes: Histogram,
    /// The shared watermark store's counters, when `--shared-watermarks` is on.
    shared: OnceLock<Arc<SharedStats>>,
    /// Log lines stderr did not take (the process's logger).
    lost_log_lines: OnceLock<crate::logging::LostLines>,
    /// The vault, whose members are rendered when it is a set of several.
    vault: OnceLock<Arc<dyn Vault>>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A poisoned lock only means another thread panicked while counting: the counters
        // are still meaningful, keep serving them.
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    pub(crate) fn request(&self, route: &str, status: u16) {
        self.with(|m| *m.requests.entry((route.to_string(), status)).or_default() += 1);
    }
    /// A signature was released (`replayed`: the stored one, no vault call).
    pub(crate) fn signature(&self, kind: &str, pkh: &str, replayed: bool) {
        self.with(|m| {
            let key = (kind.to_string(), pkh.to_string());
            if replayed {
                *m.replays.entry(key).or_default() += 1;
            } else {
                *m.signatures.entry(key).or_default() += 1;
            }
        });
    }
    pub(crate) fn watermark_refusal(&self, kind: &str, pkh: &str) {
        self.with(|m| {
            *m.watermark_refusals
                .entry((kind.to_string(), pkh.to_string()))
                .or_default() += 1
        });
    }
    /// Any refused or failed sign request, by reason label.
    pub(crate) fn refusal(&self, reason: &str) {
        self.with(|m| *m.refusals.entry(reason.to_string()).or_default() += 1);
    }
    pub(crate) fn vault_error(&self, error: &str) {
        self.with(|m| *m.vault_errors.entry(error.to_string()).or_default() += 1);
    }
    pub(crate) fn vault_latency(&self, d: Duration) {
        self.vault_latency.observe(d);
    }
    pub(crate) fn sign_request(&self, d: Duration) {
        self.sign_requests.observe(d);
    }
    pub(crate) fn watermark_write(&self, d: Duration) {
        self.watermark_writes.observe(d);
    }
    pub(crate) fn set_ready(&self, ready: bool) {
        self.with(|m| m.ready = u64::from(ready));
    }
    pub(crate) fn set_keys_loaded(&self, n: usize) {
        self.with(|m| m.keys_loaded = n as u64);
    }
    /// Renders the shared watermark store's counters too.
    pub(crate) fn attach_shared(&self, stats: Arc<SharedStats>) {
        let _ = self.shared.set(stats);
    }
    /// Renders each vault's standing when `vault` is a set of several.
    pub(crate) fn attach_vault(&self, vault: Arc<dyn Vault>) {
        let _ = self.vault.set(vault);
    }
    /// Renders the count of log lines stderr did not take.
    pub(crate) fn attach_lost_log_lines(&self, lost: crate::logging::LostLines) {
        let _ = self.lost_log_lines.set(lost);
    }
    pub(crate) fn in_flight(&self, delta: i64) {
        self.with(|m| m.in_flight += delta);
    }
    /// A connection of `listener` opened (`1`) or closed (`-1`).
    pub(crate) fn connection(&self, listener: &'static str, delta: i64) {
        self.with(|m| *m.connections_open.entry(listener).or_default() += delta);
    }
    /// A connection of `listener` closed at once: the connection cap was reached.
    pub(crate) fn connection_refused(&self, listener: &'static str) {
        self.with(|m| *m.connections_refused.entry(listener).or_default() += 1);
    }
    /// A connection of `listener` that had sent no request, closed to make room for a new one.
    pub(crate) fn connection_evicted(&self, listener: &'static str) {
        self.with(|m| *m.connections_evicted.entry(listener).or_default() += 1);
    }

    /// The exposition text.
    pub(crate) fn render(&self) -> String {
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
            let histograms = [
                ("sign_request_duration_seconds", "Sign requests, from reading the body to the answer (refusals included).", &self.sign_requests),
                ("vault_sign_duration_seconds", "Vault sign calls of released signatures (retries and the signature check included).", &self.vault_latency),
                ("watermark_write_duration_seconds", "Durable reservations of new marks (journal write and fdatasync; and the shared container when configured).", &self.watermark_writes),
            ];
            for (name, help, h) in histograms {
                render_histogram(&mut out, &format!("{p}_{name}"), help, &h.snapshot());
            }
            header(&mut out, &format!("{p}_ready"), "gauge",
                "1 when the last readiness check (/readyz) passed: keys loaded, vault answering, watermark store writable.");
            let _ = writeln!(out, "{p}_ready {}", m.ready);
            header(&mut out, &format!("{p}_build_info"), "gauge",
                "Always 1; the labels say which build is running.");
            let _ = writeln!(out, "{p}_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
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
            header(&mut out, &format!("{p}_connections_evicted_total"), "counter",
                "Connections that had sent no request, closed at the cap to make room for a new one, by listener.");
            for (listener, n) in &m.connections_evicted {
                let _ = writeln!(out, "{p}_connections_evicted_total{{listener=\"{listener}\"}} {n}");
            }
            header(&mut out, &format!("{p}_log_lines_lost_total"), "counter",
                "Log lines stderr did not take (a full disk, a closed pipe): dropped, never a stop.");
            let lost = self.lost_log_lines.get().map_or(0, crate::logging::LostLines::count);
            let _ = writeln!(out, "{p}_log_lines_lost_total {lost}");
            if let Some(shared) = self.shared.get() {
                render_shared(&mut out, shared);
            }
            if let Some(vault) = self.vault.get() {
                render_members(&mut out, &vault.members());
            }
            out
        })
    }
}

#[rustfmt::skip]
fn render_shared(out: &mut String, shared: &SharedStats) {
    let p = PREFIX;
    let snap = shared.snapshot();
    render_histogram(out, &format!("{p}_shared_watermark_write_duration_seconds"),
        "Successful conditional writes of shared watermarks (retries included).", &snap.writes);
    header(out, &format!("{p}_shared_watermark_conflicts_total"), "counter",
        "Conditional writes of shared watermarks another signer got in first (lost races).");
    let _ = writeln!(out, "{p}_shared_watermark_conflicts_total {}", snap.conflicts);
    header(out, &format!("{p}_shared_watermark_errors_total"), "counter",
        "Failed shared-watermark storage requests, by error class.");
    for (error, n) in &snap.errors {
        let _ = writeln!(out, "{p}_shared_watermark_errors_total{{error=\"{error}\"}} {n}");
    }
}

/// A histogram in the exposition format: cumulative buckets, `+Inf`, sum and count.
/// Each vault of a set (nothing for one vault), labelled by its URL.
#[rustfmt::skip]
fn render_members(out: &mut String, members: &[MemberStatus]) {
    if members.is_empty() {
        return;
    }
    let p = PREFIX;
    type Field = fn(&MemberStatus) -> String;
    let families: [(&str, &str, &str, Field); 6] = [
        ("vault_up", "gauge", "1 while the vault is in good standing, 0 while it is demoted (asked last, probed until it answers).",
            |m| u8::from(m.demoted.is_none()).to_string()),
        ("vault_requests_total", "counter", "Sign requests sent to each vault (hedges and hand-overs included).",
            |m| m.requests.to_string()),
        ("vault_hedges_total", "counter", "Sign requests sent to a vault because the one asked before it had not answered within the hedge delay.",
            |m| m.hedges_sent.to_string()),
        ("vault_hedges_won_total", "counter", "Hedges whose signature was the one released.",
            |m| m.hedges_won.to_string()),
        ("vault_hedges_refused_total", "counter", "Hedges to a vault that the hedge budget (--hedge-max-ratio) refused.",
            |m| m.hedges_refused.to_string()),
        ("vault_hedge_delay_seconds", "gauge", "How long the vault has, when asked first, before the next one is asked too.",
            |m| m.hedge_delay.as_secs_f64().to_string()),
    ];
    for (name, kind, help, value) in families {
        header(out, &format!("{p}_{name}"), kind, help);
        for m in members {
            let _ = writeln!(out, "{p}_{name}{{vault=\"{}\"}} {}", esc(&m.url), value(m));
        }
    }
    header(out, &format!("{p}_vault_failures_total"), "counter",
        "Failed sign, read and probe calls of each vault, by error class (outrun: still pending when another vault answered).");
    for m in members {
        for (error, n) in &m.errors {
            let _ = writeln!(out, "{p}_vault_failures_total{{vault=\"{}\",error=\"{error}\"}} {n}", esc(&m.url));
        }
    }
    let name = format!("{p}_vault_member_sign_duration_seconds");
    header(out, &name, "histogram", "Verified signatures of each vault of a set, by latency.");
    for m in members {
        let vault = format!("vault=\"{}\"", esc(&m.url));
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&m.latency.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{vault},le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{vault},le=\"+Inf\"}} {}", m.latency.count);
        let _ = writeln!(out, "{name}_sum{{{vault}}} {}", m.latency.sum_seconds);
        let _ = writeln!(out, "{name}_count{{{vault}}} {}", m.latency.count);
    }
}

fn render_histogram(out: &mut String, name: &str, help: &str, h: &Snapshot) {
    header(out, name, "histogram", help);
    let mut cumulative = 0;
    for (bound, n) in BUCKETS.iter().zip(&h.buckets) {
        cumulative += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum_seconds);
    let _ = writeln!(out, "{name}_count {}", h.count);
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
            "tezos_azure_signer_vault_sign_duration_seconds_bucket{le=\"0.0025\"} 0",
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

    /// Every family, each observed once, the shared store's included.
    fn populated() -> Metrics {
        let m = Metrics::new();
        m.request("sign", 200);
        m.signature("block", "tz2X", false);
        m.signature("block", "tz2X", true);
        m.watermark_refusal("attestation", "tz2X");
        m.refusal("store");
        m.vault_error("deadline");
        m.vault_latency(Duration::from_millis(20));
        m.sign_request(Duration::from_millis(21));
        m.watermark_write(Duration::from_micros(130));
        m.set_ready(true);
        m.connection("api", 1);
        m.connection_refused("api");
        m.attach_shared(Arc::new(SharedStats::default()));
        m.attach_vault(two_vaults());
        m
    }

    fn two_vaults() -> Arc<dyn Vault> {
        let vault = |url: &str| {
            let memory: Arc<dyn Vault> = Arc::new(crate::testing::MemoryVault::new());
            (url.to_string(), memory)
        };
        Arc::new(crate::vault::VaultSet::new(
            vec![
                vault("https://a.vault.azure.net/"),
                vault("https://b.vault.azure.net/"),
            ],
            crate::vault::HedgeConfig::default(),
        ))
    }

    #[test]
    fn renders_each_vault_of_a_set_and_nothing_for_one_vault() {
        let text = populated().render();
        for line in [
            "tezos_azure_signer_vault_up{vault=\"https://a.vault.azure.net/\"} 1",
            "tezos_azure_signer_vault_up{vault=\"https://b.vault.azure.net/\"} 1",
            "tezos_azure_signer_vault_requests_total{vault=\"https://b.vault.azure.net/\"} 0",
            "tezos_azure_signer_vault_hedges_won_total{vault=\"https://a.vault.azure.net/\"} 0",
            "tezos_azure_signer_vault_hedge_delay_seconds{vault=\"https://a.vault.azure.net/\"} 0.25",
            "tezos_azure_signer_vault_member_sign_duration_seconds_count{vault=\"https://a.vault.azure.net/\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        let one = Metrics::new();
        one.attach_vault(Arc::new(crate::testing::MemoryVault::new()));
        assert!(!one.render().contains("vault_up"));
    }

    /// `name kind` of every `# TYPE` line.
    fn families(text: &str) -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .map(|(n, k)| (n.to_string(), k.to_string()))
            .collect()
    }

    /// Prometheus's naming conventions: one prefix, snake case, counters end in `_total`,
    /// durations are histograms in seconds, no other units.
    #[test]
    fn names_follow_prometheus_conventions() {
        for (name, kind) in families(&populated().render()) {
            assert!(name.starts_with("tezos_azure_signer_"), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            match kind.as_str() {
                "counter" => assert!(name.ends_with("_total"), "{name}"),
                "histogram" => assert!(name.ends_with("_duration_seconds"), "{name}"),
                "gauge" => assert!(!name.ends_with("_total"), "{name}"),
                other => panic!("{name}: unexpected type {other}"),
            }
            for unit in ["_ms", "_milliseconds", "_micros", "_bytes_total"] {
                assert!(!name.contains(unit), "{name}: use base units");
            }
        }
    }

    /// The shipped Grafana dashboard and alert rules use only metrics the signer exports.
    #[test]
    fn the_dashboard_and_alerts_use_existing_metrics() {
        let exported = families(&populated().render());
        let docs = [
            (
                "docs/monitoring/alerts.yml",
                include_str!("../../docs/monitoring/alerts.yml"),
            ),
            (
                "docs/monitoring/grafana-dashboard.json",
                include_str!("../../docs/monitoring/grafana-dashboard.json"),
            ),
        ];
        for (file, text) in docs {
            let mut used = 0;
            let mut rest = text;
            while let Some(at) = rest.find("tezos_azure_signer_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| {
                        name.strip_suffix(s)
                            .filter(|base| exported.get(*base).is_some_and(|k| k == "histogram"))
                    })
                    .unwrap_or(&name);
                assert!(
                    exported.contains_key(family),
                    "{file} uses {name}, which is not exported"
                );
                used += 1;
            }
            assert!(used >= 5, "{file} uses only {used} metrics");
        }
    }

    #[test]
    fn escapes_label_values() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
