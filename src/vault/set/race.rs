//! The hedged signature: one digest, several vaults, one signature out.
//!
//! The first vault in the set's order is asked. The next one is asked too when the first
//! fails (an error, a 429, its deadline) — at once — or when it has not answered within the
//! hedge delay and the hedge budget allows it. The first *verified* signature wins; the calls
//! still running are dropped (their signatures, if any, never leave the process). Every call
//! obeys the request's one deadline. When every vault failed with something that may pass
//! (throttling, a lost connection, a 5xx) and time is left, the round is tried again after a
//! short pause: the vaults' own clients do not retry inside a set, the other vault is the retry.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use super::{Member, Standing, VaultSet};
use crate::tezos::Signature;
use crate::vault::{VaultError, VaultKey};

/// Rounds over the vaults at most (see the module doc).
const ROUNDS: u32 = 3;
/// The pause before the second round; doubles for the third.
const ROUND_PAUSE: Duration = Duration::from_millis(50);
/// Less time than this left for a call, and its running out is not held against its vault.
const FAIR_TIME: Duration = Duration::from_millis(100);

/// The hedged signature of `digest` by `key` (see the module doc).
pub(super) async fn sign(
    set: &VaultSet,
    key: &VaultKey,
    digest: &[u8; 32],
    deadline: Option<Instant>,
) -> Result<Signature, VaultError> {
    set.budget.earn();
    let mut pause = ROUND_PAUSE;
    let mut round = 1;
    loop {
        let order = set.order(&key.pkh());
        if order.is_empty() {
            return Err(VaultError::NotFound(key.name.clone()));
        }
        let error = match one_round(set, &order, digest, deadline).await {
            Ok(sig) => return Ok(sig),
            Err(e) => e,
        };
        let time_left = deadline.is_none_or(|d| Instant::now() + pause < d);
        if round == ROUNDS || !passing(&error) || !time_left {
            return Err(error);
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
        round += 1;
    }
}

/// Whether another round may succeed where this one failed.
fn passing(e: &VaultError) -> bool {
    match e {
        VaultError::Throttled(_) | VaultError::Transport(_) => true,
        VaultError::Service { status, .. } => *status >= 500,
        _ => false,
    }
}

/// One round over `order`: the first verified signature, or the last error.
async fn one_round(
    set: &VaultSet,
    order: &[(&Arc<Member>, Arc<VaultKey>)],
    digest: &[u8; 32],
    deadline: Option<Instant>,
) -> Result<Signature, VaultError> {
    let first = order[0].0;
    let delay = set.hedge_delay(first);
    let call = |i: usize, hedge: bool| {
        let (member, key) = &order[i];
        let call = Call {
            member,
            config: &set.config,
            deadline,
            first: i == 0,
            hedge,
            slow: slow_after(member, delay),
        };
        call.start().sign(key, digest)
    };
    let time_left = || deadline.is_none_or(|d| Instant::now() < d);
    let mut calls = FuturesUnordered::new();
    calls.push(call(0, false));
    let mut next = 1;
    // Off once every vault was asked, or once the budget refused this round's hedge.
    let mut hedging = true;
    let mut timer = pin!(tokio::time::sleep(delay));
    loop {
        tokio::select! {
            Some((member, hedge, result)) = calls.next() => match result {
                Ok(sig) => {
                    if hedge {
                        Standing::bump(&member.standing.hedges_won);
                    }
                    return Ok(sig);
                }
                Err(e) if next < order.len() && time_left() => {
                    tracing::debug!(vault = %member.url, error = %e, "asking the next vault at once");
                    calls.push(call(next, false));
                    next += 1;
                }
                Err(e) if calls.is_empty() => return Err(e),
                Err(_) => {}
            },
            // A hedge only to a vault in good standing (a demoted one is asked only when the
            // others failed).
            () = &mut timer, if hedging && next < order.len() && order[next].0.standing.healthy() => {
                if set.budget.spend() {
                    calls.push(call(next, true));
                    next += 1;
                    // The vault after it (if any) after another delay.
                    timer.set(tokio::time::sleep(delay));
                } else {
                    Standing::bump(&order[next].0.standing.hedges_refused);
                    hedging = false;
                }
            }
        }
    }
}

/// How long a call to `member` may take before its slowness counts against it: twice its
/// recent 95th percentile, or the hedge delay while that is not known yet (at least 10 ms).
fn slow_after(member: &Member, delay: Duration) -> Duration {
    member
        .standing
        .p95()
        .map_or(delay, |p95| p95 * 2)
        .max(Duration::from_millis(10))
}

/// One vault's sign call. The first call of a round, dropped while still pending after
/// `slow` (another vault won, and this one was abnormally slow), counts as a failure of its
/// vault: a frozen vault that never answers is demoted this way, as one that fails is. A call
/// that ran out of the request's time counts only when it was given a fair time to answer
/// (`slow`, and at least [`FAIR_TIME`]): a request that arrived with little time left is no
/// fault of the vault.
struct Call<'a> {
    member: &'a Arc<Member>,
    config: &'a super::HedgeConfig,
    /// The request's deadline.
    deadline: Option<Instant>,
    /// The first vault asked in its round (the only one that can be outrun).
    first: bool,
    /// Sent because the vault before it had not answered within the hedge delay.
    hedge: bool,
    slow: Duration,
}

/// A [`Call`] under way: counted as sent, and watched for being dropped while pending.
struct Started<'a> {
    call: Call<'a>,
    at: Instant,
    pending: bool,
}

impl<'a> Call<'a> {
    fn start(self) -> Started<'a> {
        Standing::bump(&self.member.standing.requests);
        if self.hedge {
            Standing::bump(&self.member.standing.hedges_sent);
        }
        Started {
            call: self,
            at: Instant::now(),
            pending: true,
        }
    }
}

impl<'a> Started<'a> {
    /// The call; returns its vault and whether it was a hedge, with the result.
    async fn sign(
        mut self,
        key: &VaultKey,
        digest: &[u8; 32],
    ) -> (&'a Arc<Member>, bool, Result<Signature, VaultError>) {
        let Call {
            member,
            config,
            deadline,
            hedge,
            slow,
            ..
        } = self.call;
        let result = member
            .vault
            .sign_verified_until(key, digest, deadline)
            .await;
        self.pending = false;
        let had = deadline.map(|d| d.saturating_duration_since(self.at));
        match &result {
            Ok(_) => member.signed(self.at.elapsed()),
            Err(VaultError::Deadline(_)) if had.is_some_and(|had| had < slow.max(FAIR_TIME)) => {}
            Err(e) => member.failed(e, config),
        }
        (member, hedge, result)
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        let waited = self.at.elapsed();
        if self.pending && self.call.first && waited >= self.call.slow {
            let why = format!("no answer after {waited:?}, another vault answered first");
            self.call.member.failure("outrun", &why, self.call.config);
        }
    }
}
