//! Connections still waiting for their first request, oldest first: the ones a full listener
//! closes to make room for a new connection.
//!
//! Owns: the rule that under a flood of connections that never finish a request (slowloris)
//! a new client still gets in. When every slot is taken, the connection that has waited
//! longest without sending a whole request head is closed and the new one takes its place. A
//! connection that has begun a request is never evicted (its slot is its own until it closes
//! or idles out), so a legitimate client loses nothing but a connection it had not used yet.
//! Must never: evict a connection with a request in progress or already served.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// The waiting connections of one listener.
#[derive(Debug, Default)]
pub(super) struct Unserved {
    next: AtomicU64,
    waiting: Mutex<BTreeMap<u64, CancellationToken>>,
}

/// One connection's place in the list, until its first request begins (or it closes).
#[derive(Debug)]
pub(super) struct Ticket {
    list: Arc<Unserved>,
    id: u64,
    /// Set once the connection left the list: later requests skip its lock.
    left: AtomicBool,
    /// Cancelled when the connection is evicted: it closes at once.
    pub evicted: CancellationToken,
}

impl Unserved {
    fn waiting(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, CancellationToken>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection joins the end of the list.
    pub(super) fn enter(self: &Arc<Self>) -> Ticket {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evicted = CancellationToken::new();
        self.waiting().insert(id, evicted.clone());
        Ticket {
            list: Arc::clone(self),
            id,
            left: AtomicBool::new(false),
            evicted,
        }
    }

    /// Closes the connection that has waited longest for its first request; whether there was
    /// one.
    pub(super) fn evict_oldest(&self) -> bool {
        let oldest = self.waiting().pop_first();
        match oldest {
            Some((_, evicted)) => {
                evicted.cancel();
                true
            }
            None => false,
        }
    }
}

impl Ticket {
    /// The connection's first request began: it is no longer evictable.
    pub(super) fn served(&self) {
        if !self.left.swap(true, Ordering::Relaxed) {
            self.list.waiting().remove(&self.id);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.served();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_unserved_connection_goes_first_and_served_ones_never() {
        let list = Arc::new(Unserved::default());
        let (a, b, c) = (list.enter(), list.enter(), list.enter());
        a.served();
        assert!(list.evict_oldest());
        assert!(!a.evicted.is_cancelled(), "served: never evicted");
        assert!(b.evicted.is_cancelled(), "the oldest waiting one");
        assert!(!c.evicted.is_cancelled());
        drop(c);
        assert!(list.waiting().is_empty());
        assert!(!list.evict_oldest());
    }
}
