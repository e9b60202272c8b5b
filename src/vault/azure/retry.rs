//! Bounded retries under a total deadline for vault calls.
//!
//! Owns: the rule "every vault call finishes (successfully or not) within its deadline",
//! exponential backoff with jitter between attempts, honouring `Retry-After` only when the
//! wait still fits in the remaining time, and one re-authentication per call: after a 401 the
//! token caches are reset ([`TokenReset`]) and the call is tried again at once, without
//! backoff and outside `max_attempts` (the refused attempt never reached the key). Must never
//! sleep past the deadline, never retry an error that cannot get better (404, 403, 4xx, a
//! second 401), and never run more than `max_attempts` plus that one re-authenticated attempt.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

use crate::vault::VaultError;
use crate::vault::credentials::TokenReset;

/// How one kind of vault call is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Total time for the call, every attempt and every wait included.
    pub deadline: Duration,
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles for each further one.
    pub base_delay: Duration,
    /// Upper bound for one backoff wait (not for `Retry-After`, which the deadline bounds).
    pub max_delay: Duration,
    /// Retry only throttling (429), which the service answers before doing anything: for
    /// calls that must not run twice (an import that did happen would add a second version).
    pub unprocessed_only: bool,
}

impl RetryPolicy {
    /// The policy for signing: short waits, a few attempts, the given total deadline.
    pub(crate) fn for_sign(deadline: Duration) -> Self {
        RetryPolicy {
            deadline,
            max_attempts: super::DEFAULT_SIGN_ATTEMPTS,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
            unprocessed_only: false,
        }
    }

    /// The policy for reads (listing, get): more patience.
    pub(crate) fn for_read(deadline: Duration) -> Self {
        RetryPolicy {
            deadline,
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            unprocessed_only: false,
        }
    }

    /// The policy for imports: the read policy's patience, but a 5xx, a lost connection or a
    /// timeout may mean the key was imported, so only throttling is retried.
    pub(crate) fn for_import(deadline: Duration) -> Self {
        RetryPolicy {
            unprocessed_only: true,
            ..RetryPolicy::for_read(deadline)
        }
    }

    /// This policy, its total time cut to what is left before `deadline` (the request's),
    /// when that is sooner: one budget, counted by one clock.
    pub(crate) fn until(&self, deadline: Option<std::time::Instant>) -> RetryPolicy {
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        RetryPolicy {
            deadline: left.map_or(self.deadline, |left| left.min(self.deadline)),
            ..*self
        }
    }

    /// The backoff before attempt `attempt + 1` (attempt counts from 1), without jitter.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// A failed attempt: the error and, when the service said so, how long to wait.
#[derive(Debug, Clone)]
pub(crate) struct AttemptError {
    pub error: VaultError,
    pub retry_after: Option<Duration>,
    /// The vault refused the access token (HTTP 401): a new token may succeed where the same
    /// one cannot. False for 403 (the token is fine, its rights are not) and everything else.
    pub stale_token: bool,
}

impl From<VaultError> for AttemptError {
    fn from(error: VaultError) -> Self {
        AttemptError {
            error,
            retry_after: None,
            stale_token: false,
        }
    }
}

/// Whether an error is worth another attempt under `policy`: throttling, and unless the call
/// must not run twice, 5xx and connection failures.
fn retryable(policy: &RetryPolicy, error: &VaultError) -> bool {
    match error {
        VaultError::Throttled(_) => true,
        VaultError::Transport(_) => !policy.unprocessed_only,
        VaultError::Service { status, .. } => *status >= 500 && !policy.unprocessed_only,
        _ => false,
    }
}

/// What to do after a failed attempt, given the time left. Pure, for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Give up and return the error.
    GiveUp,
}

/// Decides whether and when to retry after `attempt` (counting from 1) failed with `failure`.
/// `jitter` in [0, 1) spreads the backoff (the wait is between 50% and 100% of it).
pub(crate) fn decide(
    policy: &RetryPolicy,
    attempt: u32,
    failure: &AttemptError,
    remaining: Duration,
    jitter: f64,
) -> Next {
    if !retryable(policy, &failure.error) || attempt >= policy.max_attempts {
        return Next::GiveUp;
    }
    let wait = match failure.retry_after {
        Some(after) => after,
        None => {
            let full = policy.backoff(attempt);
            full.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
        }
    };
    // A wait that leaves no time for the attempt itself is pointless: give up now with the
    // real error rather than a deadline error later.
    if wait >= remaining {
        Next::GiveUp
    } else {
        Next::RetryAfter(wait)
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the policy's deadline passes. Every
/// attempt runs under the remaining time; the deadline yields [`VaultError::Deadline`].
#[cfg(test)]
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    attempt: F,
) -> Result<T, VaultError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    with_retries_reauth(policy, what, None, attempt).await
}

/// [`with_retries`], and when an attempt fails with a refused token and `reset` is given: the
/// token caches are reset once and the call is tried again at once (no backoff, not counted
/// against `max_attempts`), still under the same deadline. A second refusal is returned.
pub(crate) async fn with_retries_reauth<T, F, Fut>(
    policy: &RetryPolicy,
    what: &str,
    reset: Option<&dyn TokenReset>,
    mut attempt: F,
) -> Result<T, VaultError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AttemptError>>,
{
    let deadline_at = Instant::now() + policy.deadline;
    let mut n = 0u32;
    let mut reauthed = false;
    loop {
        n += 1;
        let remaining = deadline_at.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(VaultError::Deadline(policy.deadline));
        }
        let failure = match tokio::time::timeout(remaining, attempt()).await {
            Err(_elapsed) => {
                tracing::warn!(call = what, attempt = n, deadline = ?policy.deadline, "vault call hit its deadline");
                return Err(VaultError::Deadline(policy.deadline));
            }
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(failure)) => failure,
        };
        if failure.stale_token
            && !reauthed
            && let Some(reset) = reset
        {
            reauthed = true;
            // The refused attempt never reached the key: the next one takes its number.
            n -= 1;
            tracing::info!(call = what, error = %failure.error, "the vault refused the access token; retrying once with a new one");
            reset.reset(std::time::Instant::now());
            continue;
        }
        let remaining = deadline_at.saturating_duration_since(Instant::now());
        let jitter = rand::thread_rng().r#gen::<f64>();
        match decide(policy, n, &failure, remaining, jitter) {
            Next::GiveUp => return Err(failure.error),
            Next::RetryAfter(wait) => {
                tracing::debug!(call = what, attempt = n, ?wait, error = %failure.error, "retrying vault call");
                tokio::time::sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "retry_reauth_tests.rs"]
mod reauth_tests;
