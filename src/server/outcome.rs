//! What a sign request leaves behind: its one log line (with the request id the baker can look
//! up, and for a refusal what to do about it) and its metrics.
//!
//! Owns: the request id ([`RequestIds`]: the client's `X-Request-Id` when it is a plain token,
//! else `<process prefix>-<counter>`), and turning a [`Signing`] into metrics and a log line.
//! Must never: log a payload, a signature or a secret.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::errors::{refusal_hint, sign_error_label, sign_status};
use super::metrics::Metrics;
use super::{SignError, Signing};
use crate::signer::Withdrawn;
use crate::tezos::Pkh;
use crate::watermark::{SharedError, StoreError};

/// Request ids for one server.
#[derive(Debug)]
pub(crate) struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl Default for RequestIds {
    /// A prefix from the process id and start time, so ids of two runs rarely collide.
    fn default() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let seed = u64::from(std::process::id()) << 32 | u64::from(nanos);
        let prefix = format!(
            "{:08x}",
            crate::tezos::blake2b_256(&seed.to_be_bytes())[..4]
                .iter()
                .fold(0u32, |acc, b| acc << 8 | u32::from(*b))
        );
        RequestIds {
            prefix,
            next: AtomicU64::new(1),
        }
    }
}

impl RequestIds {
    /// The client's id when it is 1 to 64 of `[A-Za-z0-9._-]` (anything else could forge log
    /// lines), else a new one.
    pub(crate) fn accept_or_new(&self, client: Option<&str>) -> String {
        match client {
            Some(id)
                if (1..=64).contains(&id.len())
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) =>
            {
                id.to_string()
            }
            _ => format!(
                "{}-{}",
                self.prefix,
                self.next.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }
}

/// The one log line and the metrics of a sign request, from the pipeline's own summary of it
/// (`unknown` when the bytes did not decode).
pub(crate) fn record(
    metrics: &Metrics,
    pkh: &Pkh,
    signing: &Signing,
    started: Instant,
    request_id: &str,
) {
    let pkh_text = pkh.to_string();
    let summary = signing.request.as_ref();
    let kind = summary.map_or("unknown", |s| s.kind.name());
    let level = summary.and_then(|s| s.level);
    let round = summary.and_then(|s| s.round);
    let chain = summary.and_then(|s| s.chain).map(|c| c.to_string());
    let elapsed = started.elapsed();
    metrics.sign_request(elapsed);
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    match &signing.result {
        Ok(signed) => {
            metrics.signature(kind, &pkh_text, signed.replayed());
            if let Some(latency) = signed.vault_latency {
                metrics.vault_latency(latency);
            }
            if let Some(latency) = signed.watermark_latency {
                metrics.watermark_write(latency);
            }
            let decision = if signed.replayed() {
                "replayed"
            } else {
                "signed"
            };
            tracing::info!(
                request_id, pkh = %pkh_text, kind, level, round, chain, decision,
                vault_latency_ms = signed.vault_latency.map(|d| d.as_secs_f64() * 1000.0),
                watermark_ms = signed.watermark_latency.map(|d| d.as_secs_f64() * 1000.0),
                elapsed_ms, "sign request"
            );
        }
        Err(e) => {
            let reason = sign_error_label(e);
            metrics.refusal(reason);
            match e {
                SignError::Watermark(_)
                | SignError::Store(StoreError::Shared(SharedError::Refused { .. })) => {
                    metrics.watermark_refusal(kind, &pkh_text)
                }
                SignError::Vault(v) => metrics.vault_error(v.label()),
                _ => {}
            }
            let status = sign_status(e).as_u16();
            let hint = refusal_hint(e);
            let decision = format!("refused:{reason}");
            if matches!(
                e,
                SignError::Watermark(_)
                    | SignError::Vault(_)
                    | SignError::Store(_)
                    | SignError::Withdrawn {
                        reason: Withdrawn::Late { .. },
                        ..
                    }
            ) {
                tracing::warn!(request_id, pkh = %pkh_text, kind, level, round, chain, decision,
                    status, error = %e, hint, elapsed_ms, "sign request");
            } else {
                tracing::info!(request_id, pkh = %pkh_text, kind, level, round, chain, decision,
                    status, error = %e, hint, elapsed_ms, "sign request");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_the_clients_when_plain_and_fresh_otherwise() {
        let ids = RequestIds::default();
        assert_eq!(ids.accept_or_new(Some("baker-42.a_b")), "baker-42.a_b");
        let fresh = ids.accept_or_new(None);
        let forged = ids.accept_or_new(Some("x\nfake log line"));
        let long = ids.accept_or_new(Some(&"a".repeat(65)));
        for id in [&fresh, &forged, &long] {
            assert!(id.starts_with(&ids.prefix), "{id}");
        }
        assert_ne!(fresh, forged);
    }
}
