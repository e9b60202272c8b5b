//! Each key's lock with a bounded queue, and the context a request brings to it: its deadline
//! and whether its client is still there.
//!
//! Owns: who may run check → sign → persist for a key next. A request waits in a bounded queue
//! (beyond the bound it is refused at once), leaves the queue when its client leaves or its
//! time runs out, and is checked once more after it got the lock. Must never: let a request
//! whose client has left or whose time is over reach the vault, or let stale requests pile up
//! in front of a fresh one.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_util::sync::CancellationToken;

/// Why a request was given up without a signature: before it reached the vault, or (`Late`)
/// when its time ran out during the vault call or the reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Withdrawn {
    /// `--max-queue-per-key` requests already waited for the key's lock: refused at once.
    #[error(
        "{waiting} requests are already waiting for this key (the limit of \
         --max-queue-per-key): refused without signing. Something sends faster than the vault \
         answers"
    )]
    QueueFull {
        /// How many requests were waiting for the key when this one came.
        waiting: usize,
    },
    /// The client disconnected (or its HTTP request timed out) before the request reached the
    /// vault, while it waited for its key or for a person.
    #[error("the client left before the request reached the vault: not signed")]
    ClientGone,
    /// The deadline passed before the request reached the vault, typically while it waited
    /// for its key's earlier requests.
    #[error(
        "the request's time ran out after {waited_ms} ms waiting for this key's earlier \
         requests: not signed"
    )]
    Expired {
        /// Time since the request arrived, in milliseconds.
        waited_ms: u64,
    },
    /// The deadline passed during the vault call or the mark's reservation or record: no
    /// signature is released (a store step still running is left to finish).
    #[error(
        "the request's time ran out after {waited_ms} ms waiting for {waiting_for}: not signed"
    )]
    Late {
        /// Time since the request arrived, in milliseconds.
        waited_ms: u64,
        /// The step that had not finished.
        waiting_for: Stage,
    },
}

/// The step a request was still waiting for when its time ran out (after it got the lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The vault's signature.
    Vault,
    /// The durable reservation of the new mark (the data directory, or the shared store).
    Reservation,
    /// A block's signature, recorded (durably, and in the shared store) before it leaves.
    Record,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Vault => "the vault's signature",
            Stage::Reservation => "the watermark reservation",
            Stage::Record => "the block signature's record",
        })
    }
}

/// What the caller knows about a request: until when its answer is still wanted, and a token
/// cancelled when its client is gone.
#[derive(Debug, Clone)]
pub struct SignContext {
    /// When the request arrived; the waits reported in [`Withdrawn`] count from here.
    pub started: Instant,
    /// After this instant the request no longer goes to the vault; `None` waits forever.
    pub deadline: Option<Instant>,
    /// Cancelled when the client is gone (the HTTP handler was dropped).
    pub client_gone: CancellationToken,
    /// The client's address (held requests are capped per address).
    pub peer: Option<std::net::SocketAddr>,
}

impl SignContext {
    /// No deadline and a client that never leaves (one-off signing, tests).
    pub fn unbounded() -> Self {
        SignContext {
            started: Instant::now(),
            deadline: None,
            client_gone: CancellationToken::new(),
            peer: None,
        }
    }

    /// Answers are wanted until `deadline`.
    pub fn until(deadline: Instant) -> Self {
        SignContext {
            deadline: Some(deadline),
            ..SignContext::unbounded()
        }
    }

    /// The request's time ran out (how long it has been waiting).
    pub fn expired(&self) -> Withdrawn {
        Withdrawn::Expired {
            waited_ms: self.started.elapsed().as_millis() as u64,
        }
    }

    /// The request's time ran out while it waited for `stage`.
    pub fn late(&self, stage: Stage) -> Withdrawn {
        Withdrawn::Late {
            waited_ms: self.started.elapsed().as_millis() as u64,
            waiting_for: stage,
        }
    }

    /// Whether the request may still go to the vault.
    pub fn still_wanted(&self) -> Result<(), Withdrawn> {
        if self.client_gone.is_cancelled() {
            return Err(Withdrawn::ClientGone);
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(self.expired()),
            _ => Ok(()),
        }
    }

    async fn deadline_passed(&self) {
        match self.deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    }
}

/// One key's lock and the number of requests waiting for it.
#[derive(Debug, Default)]
pub(crate) struct KeyQueue {
    lock: Arc<Mutex<()>>,
    waiting: AtomicUsize,
}

/// Counts a request as waiting for exactly as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl KeyQueue {
    /// The key's lock, once every earlier request has finished with it. Refused at once when
    /// `limit` requests already wait; given up when the client leaves or the deadline passes
    /// (the request then leaves the queue). Checked once more after the lock is taken.
    pub(crate) async fn enter(
        &self,
        limit: usize,
        ctx: &SignContext,
    ) -> Result<OwnedMutexGuard<()>, Withdrawn> {
        ctx.still_wanted()?;
        if let Ok(guard) = Arc::clone(&self.lock).try_lock_owned() {
            return Ok(guard);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if ahead >= limit {
            return Err(Withdrawn::QueueFull { waiting: ahead });
        }
        let guard = tokio::select! {
            guard = Arc::clone(&self.lock).lock_owned() => guard,
            () = ctx.client_gone.cancelled() => return Err(Withdrawn::ClientGone),
            () = ctx.deadline_passed() => return Err(ctx.expired()),
        };
        ctx.still_wanted()?;
        Ok(guard)
    }

    /// How many requests wait for the lock now.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn the_queue_is_bounded_and_frees_its_places() {
        let q = Arc::new(KeyQueue::default());
        let held = q.enter(2, &SignContext::unbounded()).await.expect("free");
        let mut waiters = Vec::new();
        for _ in 0..2 {
            let q = Arc::clone(&q);
            waiters.push(tokio::spawn(async move {
                q.enter(2, &SignContext::unbounded()).await.map(drop)
            }));
        }
        while q.waiting() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            q.enter(2, &SignContext::unbounded()).await.map(drop),
            Err(Withdrawn::QueueFull { waiting: 2 })
        );
        assert_eq!(q.waiting(), 2, "a refused request takes no place");
        drop(held);
        for w in waiters {
            assert_eq!(w.await.expect("join"), Ok(()));
        }
        assert_eq!(q.waiting(), 0);
    }

    #[tokio::test]
    async fn a_request_leaves_the_queue_when_its_client_leaves_or_its_time_is_over() {
        let q = Arc::new(KeyQueue::default());
        let held = q.enter(8, &SignContext::unbounded()).await.expect("free");
        let gone = SignContext::unbounded();
        let waiter = {
            let (q, ctx) = (Arc::clone(&q), gone.clone());
            tokio::spawn(async move { q.enter(8, &ctx).await.map(drop) })
        };
        while q.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        gone.client_gone.cancel();
        assert_eq!(waiter.await.expect("join"), Err(Withdrawn::ClientGone));
        assert_eq!(q.waiting(), 0);

        let soon = SignContext::until(Instant::now() + Duration::from_millis(30));
        let got = q.enter(8, &soon).await.map(drop);
        assert!(matches!(got, Err(Withdrawn::Expired { .. })), "{got:?}");
        assert_eq!(q.waiting(), 0);
        drop(held);

        // Nothing waits any more: a fresh request gets the lock at once.
        q.enter(8, &SignContext::unbounded())
            .await
            .expect("free again");
        // A request already past its time or abandoned never gets the lock, even a free one.
        let late = SignContext::until(Instant::now() - Duration::from_millis(1));
        assert!(matches!(
            q.enter(8, &late).await.map(drop),
            Err(Withdrawn::Expired { .. })
        ));
    }
}
