//! One re-authentication per call: a refused token (401) resets the token caches once and is
//! retried at once, outside the attempt budget; a second 401, a 403, or no reset hook gives up
//! as before.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts resets.
#[derive(Debug, Default)]
struct Resets {
    count: AtomicU32,
}

impl TokenReset for Resets {
    fn reset(&self, _seen_at: std::time::Instant) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }
}

impl Resets {
    fn hook(&self) -> Option<&dyn TokenReset> {
        Some(self as &dyn TokenReset)
    }
    fn count(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }
}

/// What `classify` makes of a 401 from the vault.
fn refused_token() -> AttemptError {
    AttemptError {
        stale_token: true,
        ..AttemptError::from(VaultError::Unauthorized(
            "Unauthorized: AKV10022: the access token is unknown or malformed".into(),
        ))
    }
}

/// What `classify` makes of a 403: the token is fine, its rights are not.
fn forbidden() -> AttemptError {
    AttemptError::from(VaultError::Unauthorized(
        "Forbidden: the caller is not authorized".into(),
    ))
}

/// One attempt only, long backoff: a re-authenticated retry that counted against the budget
/// would give up, and one that waited for a backoff would take a second.
fn one_attempt() -> RetryPolicy {
    RetryPolicy {
        deadline: Duration::from_secs(3),
        max_attempts: 1,
        base_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(1),
        unprocessed_only: false,
    }
}

#[tokio::test]
async fn a_refused_token_is_reset_once_and_retried_at_once() {
    let resets = Resets::default();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let started = std::time::Instant::now();
    let out = with_retries_reauth(&one_attempt(), "test", resets.hook(), move || {
        let c = c.clone();
        async move {
            match c.fetch_add(1, Ordering::SeqCst) {
                0 => Err(refused_token()),
                _ => Ok(7u8),
            }
        }
    })
    .await;
    assert_eq!(out.unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(resets.count(), 1);
    assert!(
        started.elapsed() < ms(500),
        "no backoff before the re-authenticated attempt"
    );
}

#[tokio::test]
async fn a_token_refused_again_after_the_reset_is_returned() {
    let resets = Resets::default();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let policy = RetryPolicy {
        max_attempts: 4,
        ..one_attempt()
    };
    let out: Result<(), _> = with_retries_reauth(&policy, "test", resets.hook(), move || {
        c.fetch_add(1, Ordering::SeqCst);
        async { Err(refused_token()) }
    })
    .await;
    assert!(
        matches!(&out, Err(VaultError::Unauthorized(m)) if m.contains("AKV10022")),
        "{out:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one re-authenticated attempt, no more"
    );
    assert_eq!(resets.count(), 1);
}

#[tokio::test]
async fn forbidden_never_resets_the_token() {
    let resets = Resets::default();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let out: Result<(), _> =
        with_retries_reauth(&one_attempt(), "test", resets.hook(), move || {
            c.fetch_add(1, Ordering::SeqCst);
            async { Err(forbidden()) }
        })
        .await;
    assert!(matches!(out, Err(VaultError::Unauthorized(_))), "{out:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(resets.count(), 0);
}

#[tokio::test]
async fn without_a_reset_hook_a_refused_token_is_returned_at_once() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let out: Result<(), _> = with_retries(&one_attempt(), "test", move || {
        c.fetch_add(1, Ordering::SeqCst);
        async { Err(refused_token()) }
    })
    .await;
    assert!(matches!(out, Err(VaultError::Unauthorized(_))), "{out:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_re_authenticated_attempt_keeps_the_budget_and_the_deadline() {
    // 401, then 503s: the 503s still get the full budget of 3 attempts, and a slow
    // re-authenticated attempt still ends at the deadline.
    let resets = Resets::default();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let policy = RetryPolicy {
        deadline: ms(2000),
        max_attempts: 3,
        base_delay: ms(5),
        max_delay: ms(5),
        unprocessed_only: false,
    };
    let out: Result<(), _> = with_retries_reauth(&policy, "test", resets.hook(), move || {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Err(refused_token())
            } else {
                Err(AttemptError::from(VaultError::Service {
                    status: 503,
                    code: "X".into(),
                    message: "m".into(),
                }))
            }
        }
    })
    .await;
    assert!(
        matches!(out, Err(VaultError::Service { status: 503, .. })),
        "{out:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        4,
        "the 401 plus 3 counted attempts"
    );
    assert_eq!(resets.count(), 1);

    let resets = Resets::default();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let policy = RetryPolicy {
        deadline: ms(300),
        ..policy
    };
    let started = std::time::Instant::now();
    let out: Result<(), _> = with_retries_reauth(&policy, "test", resets.hook(), move || {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                Err(refused_token())
            } else {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            }
        }
    })
    .await;
    assert!(
        matches!(out, Err(VaultError::Deadline(d)) if d == ms(300)),
        "{out:?}"
    );
    assert!(started.elapsed() < ms(2000), "{:?}", started.elapsed());
    assert_eq!(resets.count(), 1);
}
