//! One vault's standing in a set: healthy or demoted (and why), its recent latencies (the
//! adaptive hedge delay is their 95th percentile), and its counters for the metrics.
//!
//! Owns: the demotion rule — `demote_after` vault failures in a row (errors, throttling,
//! deadlines, or, for the first vault asked, being outrun while abnormally slow: see
//! [`super::race`]) demote a vault; a verified signature restores it — and the hedge budget
//! shared by the set. Must never: block (every lock is held
//! for a few instructions, never across an await).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::latency::Histogram;

/// Successful latencies kept for the percentile.
const WINDOW: usize = 256;
/// Fewer samples than this: no percentile yet (the configured initial delay is used).
const MIN_SAMPLES: usize = 20;

/// What a failure did to the standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    /// Nothing to report.
    None,
    /// This failure demoted the vault.
    Demoted,
    /// This success brought a demoted vault back.
    Restored,
}

#[derive(Debug, Default)]
struct State {
    /// Vault failures in a row.
    failures: u32,
    /// Why the vault is demoted, when it is.
    demoted: Option<String>,
    /// Recent successful latencies, newest last.
    recent: VecDeque<Duration>,
    /// A probe of the demoted vault is running.
    probing: bool,
    /// Failed calls, by error class ([`crate::vault::VaultError::label`], or `outrun`).
    errors: BTreeMap<&'static str, u64>,
}

/// One vault's standing (see the module doc).
#[derive(Debug, Default)]
pub(super) struct Standing {
    state: Mutex<State>,
    /// Sign calls that returned a verified signature, by latency.
    pub(super) latency: Histogram,
    /// Sign requests sent to this vault.
    pub(super) requests: AtomicU64,
    /// Hedges: requests sent to this vault because another one had not answered in time.
    pub(super) hedges_sent: AtomicU64,
    /// Hedges whose signature was the one released.
    pub(super) hedges_won: AtomicU64,
    /// Hedges to this vault that the budget refused.
    pub(super) hedges_refused: AtomicU64,
}

impl Standing {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the vault is in good standing (not demoted).
    pub(super) fn healthy(&self) -> bool {
        self.state().demoted.is_none()
    }

    /// Why the vault is demoted, if it is.
    pub(super) fn demoted(&self) -> Option<String> {
        self.state().demoted.clone()
    }

    /// A verified signature after `took` (kept for the percentile).
    pub(super) fn succeeded(&self, took: Duration) -> Change {
        self.latency.observe(took);
        let mut s = self.state();
        s.failures = 0;
        if s.recent.len() == WINDOW {
            s.recent.pop_front();
        }
        s.recent.push_back(took);
        match s.demoted.take() {
            Some(_) => Change::Restored,
            None => Change::None,
        }
    }

    /// A vault failure of class `label` (`why`: its text, kept as the demotion's reason).
    pub(super) fn failed(&self, label: &'static str, why: &str, demote_after: u32) -> Change {
        let mut s = self.state();
        *s.errors.entry(label).or_default() += 1;
        s.failures = s.failures.saturating_add(1);
        if s.demoted.is_none() && s.failures >= demote_after {
            s.demoted = Some(format!("{} failures in a row, the last: {why}", s.failures));
            return Change::Demoted;
        }
        Change::None
    }

    /// Demotes the vault now for `why` (nothing to count: it cannot be used at all).
    pub(super) fn demote(&self, why: &str) -> Change {
        let mut s = self.state();
        if s.demoted.is_some() {
            return Change::None;
        }
        s.demoted = Some(why.to_string());
        Change::Demoted
    }

    /// Claims the one probe of a demoted vault: false when one runs already or it is healthy.
    pub(super) fn start_probe(&self) -> bool {
        let mut s = self.state();
        if s.demoted.is_none() || s.probing {
            return false;
        }
        s.probing = true;
        true
    }

    /// Ends the probe if the vault is healthy again (true), under the lock a demotion takes.
    pub(super) fn end_probe_if_healthy(&self) -> bool {
        let mut s = self.state();
        if s.demoted.is_none() {
            s.probing = false;
            return true;
        }
        false
    }

    /// The 95th percentile of recent successful latencies, once there are enough of them.
    /// Asked on every signature: a selection in a copy on the stack, no allocation.
    pub(super) fn p95(&self) -> Option<Duration> {
        let mut window = [Duration::ZERO; WINDOW];
        let n = {
            let s = self.state();
            for (slot, d) in window.iter_mut().zip(&s.recent) {
                *slot = *d;
            }
            s.recent.len()
        };
        if n < MIN_SAMPLES {
            return None;
        }
        let at = (n * 95).div_ceil(100) - 1;
        Some(*window[..n].select_nth_unstable(at).1)
    }

    /// Failed calls by class, for the metrics.
    pub(super) fn errors(&self) -> BTreeMap<&'static str, u64> {
        self.state().errors.clone()
    }

    pub(super) fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The cap on hedges: each signature earns `ratio` of a hedge, up to [`HedgeBudget::BURST`]
/// saved; a hedge spends one. Over any run, hedges ≤ ratio × signatures + the burst.
#[derive(Debug)]
pub(super) struct HedgeBudget {
    tokens: Mutex<f64>,
    ratio: f64,
}

impl HedgeBudget {
    /// Hedges that may be sent back to back (and the budget a fresh set starts with).
    pub(super) const BURST: f64 = 5.0;

    pub(super) fn new(ratio: f64) -> HedgeBudget {
        HedgeBudget {
            tokens: Mutex::new(if ratio > 0.0 { Self::BURST } else { 0.0 }),
            ratio,
        }
    }

    /// One signature was asked for: it earns its share of a hedge.
    pub(super) fn earn(&self) {
        let mut t = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        *t = (*t + self.ratio).min(Self::BURST);
    }

    /// Whether one more hedge may be sent now (and spends it).
    pub(super) fn spend(&self) -> bool {
        let mut t = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if *t >= 1.0 {
            *t -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demoted_after_failures_in_a_row_and_restored_by_a_success() {
        let s = Standing::default();
        assert_eq!(s.failed("transport", "down", 3), Change::None);
        assert_eq!(
            s.succeeded(Duration::from_millis(20)),
            Change::None,
            "a success resets the count"
        );
        assert_eq!(s.failed("transport", "down", 3), Change::None);
        assert_eq!(s.failed("throttled", "429", 3), Change::None);
        assert!(s.healthy());
        assert_eq!(s.failed("deadline", "slow", 3), Change::Demoted);
        assert!(!s.healthy());
        assert!(
            s.demoted()
                .unwrap()
                .contains("3 failures in a row, the last: slow")
        );
        assert_eq!(
            s.failed("deadline", "slow", 3),
            Change::None,
            "demoted once"
        );
        assert!(s.start_probe());
        assert!(!s.start_probe(), "one probe at a time");
        assert!(
            !s.end_probe_if_healthy(),
            "still demoted: the probe goes on"
        );
        assert_eq!(s.succeeded(Duration::from_millis(20)), Change::Restored);
        assert!(s.healthy());
        assert!(s.end_probe_if_healthy());
        assert_eq!(s.failed("deadline", "slow", 1), Change::Demoted);
        assert!(s.start_probe(), "a new demotion starts a new probe");
        let errors = s.errors();
        assert_eq!(errors["transport"], 2);
        assert_eq!(errors["deadline"], 3);
    }

    #[test]
    fn the_percentile_needs_enough_samples_and_follows_the_tail() {
        let s = Standing::default();
        for _ in 0..(MIN_SAMPLES - 1) {
            s.succeeded(Duration::from_millis(20));
        }
        assert_eq!(s.p95(), None);
        for i in 0..100u64 {
            s.succeeded(Duration::from_millis(if i % 50 == 0 { 1000 } else { 20 }));
        }
        // 2 % slow: the 95th percentile is still the usual latency.
        assert_eq!(s.p95(), Some(Duration::from_millis(20)));
        for _ in 0..20 {
            s.succeeded(Duration::from_millis(300));
        }
        assert_eq!(s.p95(), Some(Duration::from_millis(300)));
    }

    #[test]
    fn the_budget_holds_hedges_to_their_share_plus_the_burst() {
        let b = HedgeBudget::new(0.1);
        let mut hedges = 0;
        for _ in 0..1000 {
            b.earn();
            if b.spend() {
                hedges += 1;
            }
        }
        assert!(
            hedges as f64 <= 0.1 * 1000.0 + HedgeBudget::BURST,
            "{hedges} hedges"
        );
        assert!(
            hedges >= 100,
            "{hedges} hedges: the budget is spent as earned"
        );
        let none = HedgeBudget::new(0.0);
        none.earn();
        assert!(!none.spend(), "a zero ratio never hedges");
    }
}
