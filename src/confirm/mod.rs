//! Held requests: requests whose magic byte `serve --confirm` covers and that the policy does
//! not already allow wait here for a person, who approves or rejects each one from
//! `sign --pending` over a local socket ([`socket`]).
//!
//! Owns: the set of held requests and their answers. An answer names the exact bytes (their
//! blake2b-256 hash), never a position in a list, so a request swapped in between cannot
//! inherit another's approval; every held request gets its own answer (approved, rejected, or
//! the timeout); one whose client left is dropped. Must never: release a request nobody
//! approved, or lose an answer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::tezos::{Pkh, blake2b_256};

pub mod socket;

/// The file name of the socket in the data directory.
pub const SOCKET: &str = "confirm.sock";

/// The id a person answers a held request by: base58 of the blake2b-256 of its bytes (as
/// `sign --blind` shows it).
pub fn request_hash(bytes: &[u8]) -> String {
    bs58::encode(blake2b_256(bytes)).into_string()
}

/// What the person said, or that nobody did in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approved,
    Rejected,
    TimedOut,
}

/// How many requests may wait for a person: in total, and from one client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldLimits {
    pub total: usize,
    pub per_client: usize,
}

impl Default for HeldLimits {
    fn default() -> Self {
        HeldLimits {
            total: 64,
            per_client: 16,
        }
    }
}

/// Why a request was not held (it is refused with 503: nothing was signed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldRefused {
    #[error(
        "{held} requests already wait for a person, the limit of --max-held: answer them with \
         `sign --pending`, then try again"
    )]
    Full { held: usize },
    #[error(
        "client {client} already has {held} requests waiting for a person, the limit of \
         --max-held-per-client"
    )]
    ClientFull { client: IpAddr, held: usize },
}

/// One held request as `sign --pending` sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldView {
    pub hash: String,
    pub pkh: String,
    pub client: Option<String>,
    pub waited_ms: u64,
    /// How many identical requests (same key, same bytes) wait for this one answer.
    #[serde(default = "one")]
    pub waiting: usize,
    /// The request's bytes, hex, magic byte first.
    pub bytes: String,
    /// Why the policy did not allow it by itself.
    pub reason: String,
}

fn one() -> usize {
    1
}

#[derive(Debug)]
struct Held {
    id: u64,
    hash: String,
    pkh: Pkh,
    client: Option<SocketAddr>,
    since: Instant,
    bytes: Vec<u8>,
    reason: String,
    answer: oneshot::Sender<Answer>,
}

/// The held requests of one server.
#[derive(Debug)]
pub struct Confirmations {
    timeout: Duration,
    limits: HeldLimits,
    held: Mutex<Vec<Held>>,
    next_id: AtomicU64,
}

/// Removes a held request whose waiter went away (client left, task ended).
struct Unhold<'a> {
    set: &'a Confirmations,
    id: u64,
}

impl Drop for Unhold<'_> {
    fn drop(&mut self) {
        self.set.lock().retain(|h| h.id != self.id);
    }
}

impl Confirmations {
    pub fn new(timeout: Duration, limits: HeldLimits) -> Confirmations {
        Confirmations {
            timeout,
            limits,
            held: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds a request of key `pkh` until a person answers it or the timeout passes; refused
    /// at once when the limits are reached.
    pub async fn hold(
        &self,
        pkh: Pkh,
        bytes: &[u8],
        client: Option<SocketAddr>,
        reason: String,
    ) -> Result<Answer, HoldRefused> {
        let (tx, rx) = oneshot::channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut held = self.lock();
            if held.len() >= self.limits.total {
                return Err(HoldRefused::Full { held: held.len() });
            }
            if let Some(ip) = client.map(|c| c.ip()) {
                let from = held
                    .iter()
                    .filter(|h| h.client.map(|c| c.ip()) == Some(ip))
                    .count();
                if from >= self.limits.per_client {
                    return Err(HoldRefused::ClientFull {
                        client: ip,
                        held: from,
                    });
                }
            }
            held.push(Held {
                id,
                hash: request_hash(bytes),
                pkh,
                client,
                since: Instant::now(),
                bytes: bytes.to_vec(),
                reason,
                answer: tx,
            });
        }
        let _unhold = Unhold { set: self, id };
        Ok(match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(answer)) => answer,
            // Timed out (or the sender vanished, which only a removal does): no approval.
            _ => Answer::TimedOut,
        })
    }

    /// Answers every held request of key `pkh` with exactly these bytes (`hash`); the number
    /// answered. A request of another key with the same bytes is not answered.
    pub fn answer(&self, pkh: &Pkh, hash: &str, approve: bool) -> usize {
        let mut held = self.lock();
        let (answered, kept): (Vec<Held>, Vec<Held>) = held
            .drain(..)
            .partition(|h| h.hash == hash && h.pkh == *pkh);
        *held = kept;
        let n = answered.len();
        for h in answered {
            let _ = h.answer.send(if approve {
                Answer::Approved
            } else {
                Answer::Rejected
            });
        }
        n
    }

    /// What is held now, one entry per (key, bytes), oldest first.
    pub fn list(&self) -> Vec<HeldView> {
        let held = self.lock();
        let mut views: Vec<HeldView> = Vec::new();
        for h in held.iter() {
            let pkh = h.pkh.to_string();
            if let Some(v) = views.iter_mut().find(|v| v.hash == h.hash && v.pkh == pkh) {
                v.waiting += 1;
                continue;
            }
            views.push(HeldView {
                hash: h.hash.clone(),
                pkh,
                client: h.client.map(|c| c.to_string()),
                waited_ms: h.since.elapsed().as_millis() as u64,
                waiting: 1,
                bytes: hex::encode(&h.bytes),
                reason: h.reason.clone(),
            });
        }
        views
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";

    #[tokio::test]
    async fn answers_go_by_the_bytes_and_every_held_request_gets_its_own() {
        let set = Arc::new(Confirmations::new(
            Duration::from_millis(300),
            HeldLimits::default(),
        ));
        let pkh: Pkh = TZ2.parse().expect("pkh");
        let spawn = |bytes: Vec<u8>| {
            let set = Arc::clone(&set);
            tokio::spawn(async move {
                set.hold(pkh, &bytes, None, "policy".into())
                    .await
                    .expect("held")
            })
        };
        let a = spawn(vec![3, 1]);
        let b = spawn(vec![3, 2]);
        let c = spawn(vec![3, 3]);
        while set.list().len() < 3 {
            tokio::task::yield_now().await;
        }
        assert_eq!(set.answer(&pkh, &request_hash(&[3, 1]), true), 1);
        assert_eq!(set.answer(&pkh, &request_hash(&[3, 2]), false), 1);
        assert_eq!(
            set.answer(&pkh, &request_hash(&[3, 9]), true),
            0,
            "nothing holds these bytes"
        );
        assert_eq!(a.await.expect("join"), Answer::Approved);
        assert_eq!(b.await.expect("join"), Answer::Rejected);
        assert_eq!(c.await.expect("join"), Answer::TimedOut);
        assert!(
            set.list().is_empty(),
            "answered and expired requests are gone"
        );
    }

    #[tokio::test]
    async fn a_request_whose_waiter_left_is_no_longer_held() {
        let set = Arc::new(Confirmations::new(
            Duration::from_secs(60),
            HeldLimits::default(),
        ));
        let pkh: Pkh = TZ2.parse().expect("pkh");
        let waiter = {
            let set = Arc::clone(&set);
            tokio::spawn(async move {
                set.hold(pkh, &[3, 1], None, "policy".into())
                    .await
                    .expect("held")
            })
        };
        while set.list().is_empty() {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        let _ = waiter.await;
        assert!(set.list().is_empty());
    }
}
