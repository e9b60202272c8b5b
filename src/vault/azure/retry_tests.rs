use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn policy() -> RetryPolicy {
    RetryPolicy {
        deadline: ms(300),
        max_attempts: 4,
        base_delay: ms(10),
        max_delay: ms(40),
        unprocessed_only: false,
    }
}

fn throttled(after: Option<u64>) -> AttemptError {
    AttemptError {
        error: VaultError::Throttled("busy".into()),
        retry_after: after.map(Duration::from_secs),
        stale_token: false,
    }
}

fn service(status: u16) -> AttemptError {
    VaultError::Service {
        status,
        code: "X".into(),
        message: "m".into(),
    }
    .into()
}

#[test]
fn backoff_doubles_and_caps() {
    let p = policy();
    assert_eq!(p.backoff(1), ms(10));
    assert_eq!(p.backoff(2), ms(20));
    assert_eq!(p.backoff(3), ms(40));
    assert_eq!(p.backoff(4), ms(40));
    assert_eq!(p.backoff(200), ms(40));
}

#[test]
fn decide_table() {
    let p = policy();
    let long = Duration::from_secs(10);
    let cases: Vec<(&str, u32, AttemptError, Duration, f64, Next)> = vec![
        (
            "429 no header: backoff",
            1,
            throttled(None),
            long,
            1.0,
            Next::RetryAfter(ms(10)),
        ),
        (
            "429 jitter halves at most",
            2,
            throttled(None),
            long,
            0.0,
            Next::RetryAfter(ms(10)),
        ),
        (
            "429 retry-after fits",
            1,
            throttled(Some(1)),
            long,
            0.5,
            Next::RetryAfter(ms(1000)),
        ),
        (
            "429 retry-after past deadline",
            1,
            throttled(Some(20)),
            long,
            0.5,
            Next::GiveUp,
        ),
        (
            "503 retried",
            1,
            service(503),
            long,
            1.0,
            Next::RetryAfter(ms(10)),
        ),
        (
            "500 retried",
            3,
            service(500),
            long,
            1.0,
            Next::RetryAfter(ms(40)),
        ),
        (
            "attempts exhausted",
            4,
            service(503),
            long,
            1.0,
            Next::GiveUp,
        ),
        (
            "400 never retried",
            1,
            service(400),
            long,
            1.0,
            Next::GiveUp,
        ),
        (
            "404 never retried",
            1,
            VaultError::NotFound("k".into()).into(),
            long,
            1.0,
            Next::GiveUp,
        ),
        (
            "401 never retried",
            1,
            VaultError::Unauthorized("no".into()).into(),
            long,
            1.0,
            Next::GiveUp,
        ),
        (
            "credential never retried",
            1,
            VaultError::Credential("no".into()).into(),
            long,
            1.0,
            Next::GiveUp,
        ),
        (
            "transport retried",
            1,
            VaultError::Transport("reset".into()).into(),
            long,
            1.0,
            Next::RetryAfter(ms(10)),
        ),
        (
            "no time left for the wait",
            1,
            service(503),
            ms(5),
            1.0,
            Next::GiveUp,
        ),
    ];
    for (name, attempt, failure, remaining, jitter, want) in cases {
        assert_eq!(
            decide(&p, attempt, &failure, remaining, jitter),
            want,
            "{name}"
        );
    }
}

#[tokio::test]
async fn retries_transient_errors_then_succeeds() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let out = with_retries(&policy(), "test", move || {
        let c = c.clone();
        async move {
            match c.fetch_add(1, Ordering::SeqCst) {
                0 => Err(throttled(None)),
                1 => Err(service(502)),
                _ => Ok(7u8),
            }
        }
    })
    .await;
    assert_eq!(out.unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn permanent_error_is_returned_after_one_attempt() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let out: Result<(), _> = with_retries(&policy(), "test", move || {
        c.fetch_add(1, Ordering::SeqCst);
        async { Err(VaultError::NotFound("k".into()).into()) }
    })
    .await;
    assert!(matches!(out, Err(VaultError::NotFound(_))));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn gives_up_after_max_attempts_with_the_last_error() {
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let out: Result<(), _> = with_retries(&policy(), "test", move || {
        c.fetch_add(1, Ordering::SeqCst);
        async { Err(service(503)) }
    })
    .await;
    assert!(matches!(out, Err(VaultError::Service { status: 503, .. })));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn slow_attempt_hits_the_deadline() {
    let started = std::time::Instant::now();
    let out: Result<(), _> = with_retries(&policy(), "test", || async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(())
    })
    .await;
    assert!(matches!(out, Err(VaultError::Deadline(d)) if d == ms(300)));
    let took = started.elapsed();
    assert!(took >= ms(300) && took < ms(2000), "took {took:?}");
}

#[tokio::test]
async fn long_retry_after_returns_throttled_immediately() {
    let started = std::time::Instant::now();
    let out: Result<(), _> =
        with_retries(&policy(), "test", || async { Err(throttled(Some(60))) }).await;
    assert!(matches!(out, Err(VaultError::Throttled(_))));
    assert!(started.elapsed() < ms(200));
}

mod props {
    use proptest::prelude::*;

    use super::*;

    fn any_error() -> impl Strategy<Value = VaultError> {
        prop_oneof![
            Just(VaultError::Throttled("t".into())),
            Just(VaultError::Transport("x".into())),
            Just(VaultError::NotFound("k".into())),
            Just(VaultError::Unauthorized("u".into())),
            Just(VaultError::Credential("c".into())),
            (400u16..600).prop_map(|status| VaultError::Service {
                status,
                code: "c".into(),
                message: "m".into(),
            }),
        ]
    }

    proptest! {
        /// Whatever happens, a retry never waits past the deadline, never exceeds the attempt
        /// budget, and only transient errors are retried.
        #[test]
        fn decide_respects_deadline_budget_and_kind(
            error in any_error(),
            retry_after in proptest::option::of(0u64..120_000),
            attempt in 1u32..10,
            remaining_ms in 0u64..10_000,
            jitter in 0.0f64..1.0,
            deadline_ms in 1u64..10_000,
            max_attempts in 1u32..8,
        ) {
            let policy = RetryPolicy { max_attempts, ..RetryPolicy::for_sign(ms(deadline_ms)) };
            let transient = is_transient(&error);
            let failure = AttemptError { error, retry_after: retry_after.map(ms), stale_token: false };
            let remaining = ms(remaining_ms);
            match decide(&policy, attempt, &failure, remaining, jitter) {
                Next::RetryAfter(wait) => {
                    prop_assert!(wait < remaining);
                    prop_assert!(attempt < max_attempts);
                    prop_assert!(transient);
                    if let Some(after) = failure.retry_after {
                        prop_assert_eq!(wait, after, "Retry-After honoured exactly");
                    } else {
                        prop_assert!(wait <= policy.max_delay);
                    }
                }
                Next::GiveUp => {}
            }
        }
    }
}

#[test]
fn imports_retry_only_what_the_service_did_not_process() {
    let import = RetryPolicy {
        unprocessed_only: true,
        ..policy()
    };
    assert_eq!(
        RetryPolicy::for_import(ms(300)),
        RetryPolicy {
            unprocessed_only: true,
            ..RetryPolicy::for_read(ms(300))
        }
    );
    let long = Duration::from_secs(10);
    assert_eq!(
        decide(&import, 1, &throttled(None), long, 1.0),
        Next::RetryAfter(ms(10))
    );
    let transport: AttemptError = VaultError::Transport("connection reset".into()).into();
    // A 5xx or a lost connection may hide a done import: reads retry them, imports do not.
    for failure in [service(503), service(500), transport] {
        assert_eq!(
            decide(&import, 1, &failure, long, 1.0),
            Next::GiveUp,
            "{failure:?}"
        );
        assert_ne!(
            decide(&policy(), 1, &failure, long, 1.0),
            Next::GiveUp,
            "{failure:?}"
        );
    }
}

/// The test's own idea of a transient error (independent of `retry::retryable`).
fn is_transient(error: &VaultError) -> bool {
    matches!(
        error,
        VaultError::Throttled(_) | VaultError::Transport(_) | VaultError::Deadline(_)
    ) || matches!(error, VaultError::Service { status, .. } if *status >= 500)
}

/// A signing request's deadline and the vault's own become one budget, counted once: the
/// sooner of the two.
#[test]
fn a_request_deadline_cuts_the_sign_budget_to_what_is_left() {
    let policy = RetryPolicy::for_sign(Duration::from_secs(5));
    assert_eq!(policy.until(None), policy);
    let soon = std::time::Instant::now() + Duration::from_millis(300);
    let cut = policy.until(Some(soon));
    assert!(cut.deadline <= Duration::from_millis(300), "{cut:?}");
    assert_eq!(cut.max_attempts, policy.max_attempts);
    let late = std::time::Instant::now() + Duration::from_secs(60);
    assert_eq!(policy.until(Some(late)).deadline, Duration::from_secs(5));
    let past = std::time::Instant::now() - Duration::from_millis(1);
    assert_eq!(policy.until(Some(past)).deadline, Duration::ZERO);
}
