//! Fault injection for the emulator: artificial latency and a slow tail, periodic throttling
//! (429 with `Retry-After`) and Key Vault's own windowed throttling (429 without it), random
//! 5xx errors, rates of wrong and of malformed signatures, and list pages shaped as the
//! service sometimes shapes them (empty pages carrying a `nextLink`). It owns only the decision
//! "should this request misbehave, and how"; it never touches key state or tokens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Which faults the emulator injects into data-plane requests. The default injects nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay added before answering every data-plane request.
    pub latency_ms: u64,
    /// Every Nth authenticated data-plane request is answered `429 Throttled`.
    pub throttle_every: Option<u32>,
    /// The `Retry-After` value (seconds) sent with injected 429s.
    pub retry_after_secs: u64,
    /// Probability (0..=1) that an authenticated data-plane request fails with a 5xx.
    pub error_rate: f64,
    /// Probability (0..=1) that a sign reply carries a signature that does not verify.
    pub wrong_signature_rate: f64,
    /// Probability (0..=1) that a sign reply carries a malformed signature value, cycling
    /// through [`Malformed`]'s kinds so that a run sees each of them.
    pub malformed_signature_rate: f64,
    /// Probability (0..=1) that a data-plane request is delayed `slow_ms` more: a latency
    /// tail (a fraction of requests far slower than the rest).
    pub slow_rate: f64,
    /// The extra delay of a slow request, in milliseconds.
    pub slow_ms: u64,
    /// Key Vault's service limit as it counts it: at most this many authenticated data-plane
    /// requests per window of `throttle_window_ms`; the rest of the window is answered 429
    /// *without* `Retry-After`, as the service's recorded throttling replies are.
    pub throttle_per_window: Option<u32>,
    /// The throttling window, in milliseconds (Key Vault counts per 10 seconds).
    pub throttle_window_ms: u64,
    /// Every Nth key-listing request (a page) is answered `429` with `retry_after_secs`: a
    /// listing throttled part-way, whatever the other requests do.
    pub throttle_list_every: Option<u32>,
    /// Key listings as the service sometimes pages them: an empty page that still carries a
    /// `nextLink` before every page, and after the last full page an empty last page.
    pub empty_pages: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            throttle_every: None,
            retry_after_secs: 1,
            error_rate: 0.0,
            wrong_signature_rate: 0.0,
            malformed_signature_rate: 0.0,
            slow_rate: 0.0,
            slow_ms: 0,
            throttle_per_window: None,
            throttle_window_ms: 10_000,
            throttle_list_every: None,
            empty_pages: false,
        }
    }
}

/// What to do with one authenticated data-plane request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// Answer normally.
    None,
    /// Answer 429, with `Retry-After` when given.
    Throttle { retry_after_secs: Option<u64> },
    /// Answer 500.
    ServerError,
}

/// How a malformed sign reply is broken: each is something a faulty HSM, proxy or vault bug
/// could return, and none may ever become a signature the signer releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// 63 bytes instead of 64.
    Truncated,
    /// 65 bytes instead of 64.
    Overlong,
    /// `r = 0`: 64 bytes, but not a valid ECDSA signature on any curve.
    ZeroR,
    /// `s` ≥ the group order (all ones): not a scalar.
    SOutOfRange,
    /// A `value` that is not base64url at all.
    NotBase64,
}

impl Malformed {
    pub const ALL: [Malformed; 5] = [
        Malformed::Truncated,
        Malformed::Overlong,
        Malformed::ZeroR,
        Malformed::SOutOfRange,
        Malformed::NotBase64,
    ];

    /// The broken raw signature bytes, from a good 64-byte `r || s` (`None`: not base64url).
    pub fn apply(self, good: &[u8; 64]) -> Option<Vec<u8>> {
        match self {
            Malformed::Truncated => Some(good[..63].to_vec()),
            Malformed::Overlong => {
                let mut v = good.to_vec();
                v.push(0);
                Some(v)
            }
            Malformed::ZeroR => {
                let mut v = good.to_vec();
                v[..32].fill(0);
                Some(v)
            }
            Malformed::SOutOfRange => {
                let mut v = good.to_vec();
                v[32..].fill(0xff);
                Some(v)
            }
            Malformed::NotBase64 => None,
        }
    }
}

/// Runtime holder of the active [`Faults`], shared by every connection.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    faults: Arc<RwLock<Faults>>,
    counter: Arc<AtomicU64>,
    malformed: Arc<AtomicU64>,
    /// Key-listing requests so far (for `throttle_list_every`).
    lists: Arc<AtomicU64>,
    /// The current throttling window: when it started and the requests counted in it.
    window: Arc<std::sync::Mutex<Option<(std::time::Instant, u32)>>>,
}

impl FaultInjector {
    pub fn new(faults: Faults) -> Self {
        FaultInjector {
            faults: Arc::new(RwLock::new(faults)),
            counter: Arc::new(AtomicU64::new(0)),
            malformed: Arc::new(AtomicU64::new(0)),
            lists: Arc::new(AtomicU64::new(0)),
            window: Arc::default(),
        }
    }

    pub fn get(&self) -> Faults {
        match self.faults.read() {
            Ok(f) => f.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the active faults and restarts the throttle period.
    pub fn set(&self, faults: Faults) {
        match self.faults.write() {
            Ok(mut f) => *f = faults,
            Err(poisoned) => *poisoned.into_inner() = faults,
        }
        self.counter.store(0, Ordering::SeqCst);
        self.malformed.store(0, Ordering::SeqCst);
        self.lists.store(0, Ordering::SeqCst);
        *self.window.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// This request's added delay: the latency, plus `slow_ms` for the slow fraction.
    pub fn latency(&self) -> Option<Duration> {
        let faults = self.get();
        let slow = if chance(faults.slow_rate) {
            faults.slow_ms
        } else {
            0
        };
        let ms = faults.latency_ms + slow;
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// Whether this request is over the window's limit (counting it).
    fn over_window_limit(&self, limit: u32, window_ms: u64) -> bool {
        let now = std::time::Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let (started, count) = match *window {
            Some((started, count))
                if now.duration_since(started) < Duration::from_millis(window_ms) =>
            {
                (started, count + 1)
            }
            _ => (now, 1),
        };
        *window = Some((started, count));
        count > limit
    }

    /// Decides the fate of the next authenticated data-plane request.
    pub fn next_request(&self) -> Injected {
        let faults = self.get();
        let n = self.counter.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(every) = faults.throttle_every.filter(|e| *e > 0)
            && n.is_multiple_of(u64::from(every))
        {
            return Injected::Throttle {
                retry_after_secs: Some(faults.retry_after_secs),
            };
        }
        if let Some(limit) = faults.throttle_per_window
            && self.over_window_limit(limit, faults.throttle_window_ms)
        {
            return Injected::Throttle {
                retry_after_secs: None,
            };
        }
        if chance(faults.error_rate) {
            return Injected::ServerError;
        }
        Injected::None
    }

    /// Whether this key-listing request is throttled (`Some(Retry-After seconds)`).
    pub fn next_list(&self) -> Option<u64> {
        let faults = self.get();
        let n = self.lists.fetch_add(1, Ordering::SeqCst) + 1;
        let every = faults.throttle_list_every.filter(|e| *e > 0)?;
        n.is_multiple_of(u64::from(every))
            .then_some(faults.retry_after_secs)
    }

    /// Whether this sign reply should carry a wrong signature.
    pub fn wrong_signature(&self) -> bool {
        chance(self.get().wrong_signature_rate)
    }
}

impl FaultInjector {
    /// Whether (and how) this sign reply should carry a malformed signature; the kinds come
    /// in [`Malformed::ALL`]'s order.
    pub fn malformed_signature(&self) -> Option<Malformed> {
        if !chance(self.get().malformed_signature_rate) {
            return None;
        }
        let n = self.malformed.fetch_add(1, Ordering::SeqCst) as usize;
        Some(Malformed::ALL[n % Malformed::ALL.len()])
    }
}

fn chance(rate: f64) -> bool {
    if rate.is_nan() || rate <= 0.0 {
        return false;
    }
    if rate >= 1.0 {
        return true;
    }
    rand::thread_rng().gen_bool(rate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_every_nth_request() {
        let f = FaultInjector::new(Faults {
            throttle_every: Some(3),
            retry_after_secs: 7,
            ..Faults::default()
        });
        let got: Vec<Injected> = (0..6).map(|_| f.next_request()).collect();
        let t = Injected::Throttle {
            retry_after_secs: Some(7),
        };
        assert_eq!(
            got,
            vec![
                Injected::None,
                Injected::None,
                t,
                Injected::None,
                Injected::None,
                t
            ]
        );
    }

    #[test]
    fn rates_at_the_bounds_are_exact() {
        let f = FaultInjector::new(Faults {
            error_rate: 1.0,
            wrong_signature_rate: 1.0,
            ..Faults::default()
        });
        assert!((0..20).all(|_| f.next_request() == Injected::ServerError));
        assert!((0..20).all(|_| f.wrong_signature()));
        f.set(Faults {
            malformed_signature_rate: 1.0,
            ..Faults::default()
        });
        let kinds: Vec<_> = (0..6).filter_map(|_| f.malformed_signature()).collect();
        assert_eq!(kinds[..5], Malformed::ALL);
        assert_eq!(kinds[5], Malformed::Truncated);
        f.set(Faults::default());
        assert!((0..20).all(|_| f.malformed_signature().is_none()));
        assert!((0..20).all(|_| f.next_request() == Injected::None));
        assert!((0..20).all(|_| !f.wrong_signature()));
        assert_eq!(f.latency(), None);
        f.set(Faults {
            latency_ms: 5,
            slow_rate: 1.0,
            slow_ms: 300,
            ..Faults::default()
        });
        assert_eq!(f.latency(), Some(Duration::from_millis(305)));
    }

    /// Key Vault's own throttling: a limit per window, 429s without `Retry-After` for the
    /// rest of the window, a fresh count in the next one.
    #[test]
    fn throttles_past_a_limit_per_window_without_retry_after() {
        let f = FaultInjector::new(Faults {
            throttle_per_window: Some(2),
            throttle_window_ms: 200,
            ..Faults::default()
        });
        let over = Injected::Throttle {
            retry_after_secs: None,
        };
        let got: Vec<Injected> = (0..4).map(|_| f.next_request()).collect();
        assert_eq!(got, vec![Injected::None, Injected::None, over, over]);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(f.next_request(), Injected::None);
    }
}
