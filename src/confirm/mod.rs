//! Held requests: requests whose magic byte `serve --confirm` covers and that the policy does
//! not already allow wait here for a person, who approves or rejects each one from
//! `sign --pending` over a local socket ([`socket`]).
//!
//! Owns: the set of held requests and their answers. An answer names the exact bytes (their
//! blake2b-256 hash), never a position in a list, so a request swapped in between cannot
//! inherit another's approval; every held request gets its own answer (approved, rejected, or
//! the timeout); one whose client left is dropped. Must never: release a request nobody
//! approved, or lose an answer.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::tezos::{Pkh, blake2b_256};

pub(crate) mod socket;

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
    /// A person approved the request from `sign --pending`: it goes on to be signed, its value
    /// at risk counted against the 24-hour limit.
    Approved,
    /// Approved with an identical request (same key, same bytes) answered first: the same
    /// operation, whose value that first request counts (once).
    ApprovedCopy,
    /// A person rejected it: refused, nothing signed.
    Rejected,
    /// Nobody answered within the confirmation timeout: refused as not confirmed, nothing signed.
    TimedOut,
}

/// How many requests may wait for a person: in total, and from one client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldLimits {
    /// Held requests of all clients together (`--max-held`, default 64).
    pub total: usize,
    /// Held requests from one client IP address (`--max-held-per-client`, default 16).
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
    /// `--max-held` requests (from all clients) already wait for a person.
    #[error(
        "{held} requests already wait for a person, the limit of --max-held: answer them with \
         `sign --pending`, then try again"
    )]
    Full {
        /// How many requests were held at the time.
        held: usize,
    },
    /// This client's IP address already has `--max-held-per-client` requests waiting.
    #[error(
        "client {client} already has {held} requests waiting for a person, the limit of \
         --max-held-per-client"
    )]
    ClientFull {
        /// The client's IP address (any port: the limit is per address).
        client: IpAddr,
        /// How many of its requests were held at the time.
        held: usize,
    },
}

/// How many of a request's first bytes a listing shows ([`HeldView::preview`]).
pub const PREVIEW_BYTES: usize = 64;

/// One held request as `sign --pending` sees it. A listing carries a preview of the bytes
/// only (a listing stays small whatever is held); `get` one request for its whole bytes.
/// Every field but the hash and the key may be missing (a signer of another version).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldView {
    /// The held request's number in this signer (the oldest of identical ones).
    #[serde(default)]
    pub id: u64,
    /// What a person answers it by: [`request_hash`] of its bytes (base58 blake2b-256).
    pub hash: String,
    /// The key it asks to sign with (`tz2…`/`tz3…`).
    pub pkh: String,
    /// The address (`ip:port`) of the client that sent it, when known.
    #[serde(default)]
    pub client: Option<String>,
    /// Milliseconds it has waited for an answer so far.
    #[serde(default)]
    pub waited_ms: u64,
    /// How many identical requests (same key, same bytes) wait for this one answer.
    #[serde(default = "one")]
    pub waiting: usize,
    /// The size of the request's bytes.
    #[serde(default)]
    pub size: usize,
    /// The first [`PREVIEW_BYTES`] of the request, hex, magic byte first.
    #[serde(default)]
    pub preview: String,
    /// The request's whole bytes, hex, magic byte first: only in the answer to `get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
    /// Why the policy did not allow it by itself.
    #[serde(default)]
    pub reason: String,
}

fn one() -> usize {
    1
}

#[derive(Debug)]
struct Held {
    id: u64,
    hash: Arc<str>,
    pkh: Pkh,
    client: Option<SocketAddr>,
    since: Instant,
    /// Shared, so that `get` copies a pointer under the lock, not the bytes.
    bytes: Arc<[u8]>,
    reason: Arc<str>,
    answer: oneshot::Sender<Answer>,
}

/// What a listing copies of one held request under the lock: a bounded amount, whatever
/// the request's size; everything else is done after the lock is released.
struct Copied {
    id: u64,
    hash: Arc<str>,
    pkh: Pkh,
    client: Option<SocketAddr>,
    since: Instant,
    size: usize,
    preview: Vec<u8>,
    reason: Arc<str>,
    bytes: Option<Arc<[u8]>>,
}

impl Copied {
    fn of(h: &Held, whole: bool) -> Copied {
        Copied {
            id: h.id,
            hash: Arc::clone(&h.hash),
            pkh: h.pkh,
            client: h.client,
            since: h.since,
            size: h.bytes.len(),
            preview: h.bytes[..h.bytes.len().min(PREVIEW_BYTES)].to_vec(),
            reason: Arc::clone(&h.reason),
            bytes: whole.then(|| Arc::clone(&h.bytes)),
        }
    }

    fn view(self, now: Instant) -> HeldView {
        HeldView {
            id: self.id,
            hash: self.hash.to_string(),
            pkh: self.pkh.to_string(),
            client: self.client.map(|c| c.to_string()),
            waited_ms: now.saturating_duration_since(self.since).as_millis() as u64,
            waiting: 1,
            size: self.size,
            preview: hex::encode(&self.preview),
            bytes: self.bytes.map(hex::encode),
            reason: self.reason.to_string(),
        }
    }
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
    /// An empty set whose requests wait at most `timeout` (`--confirm-timeout`) for an answer,
    /// within `limits`.
    pub fn new(timeout: Duration, limits: HeldLimits) -> Confirmations {
        Confirmations {
            timeout,
            limits,
            held: Mutex::new(Vec::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// How long a held request waits for a person before it is refused as not confirmed.
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
        // Hashed and copied before the lock: under it, only the counts and a push.
        let hash: Arc<str> = request_hash(bytes).into();
        let bytes: Arc<[u8]> = bytes.into();
        let reason: Arc<str> = reason.into();
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
                hash,
                pkh,
                client,
                since: Instant::now(),
                bytes,
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
            .partition(|h| &*h.hash == hash && h.pkh == *pkh);
        *held = kept;
        let n = answered.len();
        for (i, h) in answered.into_iter().enumerate() {
            let _ = h.answer.send(match (approve, i) {
                (true, 0) => Answer::Approved,
                (true, _) => Answer::ApprovedCopy,
                (false, _) => Answer::Rejected,
            });
        }
        n
    }

    /// [`Confirmations::answer`], but only while the held request `id` (the one the person
    /// saw) is among them, when an id is given; 0 otherwise.
    pub fn answer_seen(&self, pkh: &Pkh, hash: &str, id: Option<u64>, approve: bool) -> usize {
        if let Some(id) = id {
            let seen = self
                .lock()
                .iter()
                .any(|h| h.id == id && h.pkh == *pkh && &*h.hash == hash);
            if !seen {
                return 0;
            }
        }
        self.answer(pkh, hash, approve)
    }

    /// What is held now, one entry per (key, bytes), oldest first, each with a preview of
    /// its bytes only. The lock is held just long enough to copy a bounded part of each.
    pub fn list(&self) -> Vec<HeldView> {
        let copied: Vec<Copied> = self.lock().iter().map(|h| Copied::of(h, false)).collect();
        let now = Instant::now();
        let mut views: Vec<HeldView> = Vec::new();
        let mut at: HashMap<(Arc<str>, Pkh), usize> = HashMap::new();
        for c in copied {
            match at.entry((Arc::clone(&c.hash), c.pkh)) {
                Entry::Occupied(i) => views[*i.get()].waiting += 1,
                Entry::Vacant(slot) => {
                    slot.insert(views.len());
                    views.push(c.view(now));
                }
            }
        }
        views
    }

    /// The oldest held request of key `pkh` with these bytes (`hash`), whole bytes included;
    /// `None` when nothing holds them any more.
    pub fn get(&self, pkh: &Pkh, hash: &str) -> Option<HeldView> {
        let (first, waiting) = {
            let held = self.lock();
            let mut matching = held.iter().filter(|h| &*h.hash == hash && h.pkh == *pkh);
            let first = Copied::of(matching.next()?, true);
            (first, 1 + matching.count())
        };
        Some(HeldView {
            waiting,
            ..first.view(Instant::now())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
    const TZ3: &str = "tz3Lfm6CyfSTZ7EgMckptZZGiPxzs9GK59At";

    #[tokio::test]
    async fn answers_go_by_the_bytes_and_every_held_request_gets_its_own() {
        let set = confirmations(Duration::from_millis(300));
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

    /// A set of held requests with the default limits, each waiting at most `ttl`.
    fn confirmations(ttl: Duration) -> Arc<Confirmations> {
        Arc::new(Confirmations::new(ttl, HeldLimits::default()))
    }

    /// Spawns a task holding `bytes` for `pkh` from `client`; waits until it is listed.
    async fn held_by(
        set: &Arc<Confirmations>,
        pkh: Pkh,
        bytes: Vec<u8>,
        client: Option<SocketAddr>,
    ) -> tokio::task::JoinHandle<Result<Answer, HoldRefused>> {
        let before: usize = set.list().iter().map(|v| v.waiting).sum();
        let task = {
            let set = Arc::clone(set);
            tokio::spawn(async move { set.hold(pkh, &bytes, client, "policy".into()).await })
        };
        while set.list().iter().map(|v| v.waiting).sum::<usize>() == before {
            if task.is_finished() {
                break;
            }
            tokio::task::yield_now().await;
        }
        task
    }

    #[tokio::test]
    async fn the_same_bytes_for_two_keys_are_two_requests_answered_apart() {
        let set = confirmations(Duration::from_secs(60));
        let a: Pkh = TZ2.parse().expect("pkh");
        let b: Pkh = TZ3.parse().expect("pkh");
        let for_a = held_by(&set, a, vec![3, 7], None).await;
        let for_b = held_by(&set, b, vec![3, 7], None).await;
        let again_a = held_by(&set, a, vec![3, 7], None).await;
        let views = set.list();
        assert_eq!(views.len(), 2, "one per (key, bytes): {views:?}");
        assert_eq!((views[0].pkh.as_str(), views[0].waiting), (TZ2, 2));
        assert_eq!((views[1].pkh.as_str(), views[1].waiting), (TZ3, 1));
        assert_eq!(views[0].hash, views[1].hash);

        assert_eq!(set.answer(&a, &request_hash(&[3, 7]), true), 2);
        assert_eq!(for_a.await.expect("join"), Ok(Answer::Approved));
        assert_eq!(again_a.await.expect("join"), Ok(Answer::ApprovedCopy));
        assert!(!for_b.is_finished(), "the other key's request waits on");
        let views = set.list();
        assert_eq!(views.len(), 1);
        assert_eq!(views[0].pkh, TZ3);
        assert_eq!(set.answer(&b, &request_hash(&[3, 7]), false), 1);
        assert_eq!(for_b.await.expect("join"), Ok(Answer::Rejected));
    }

    #[tokio::test]
    async fn holding_beyond_the_limits_is_refused_at_once_naming_the_flag() {
        let set = Arc::new(Confirmations::new(
            Duration::from_secs(60),
            HeldLimits {
                total: 3,
                per_client: 2,
            },
        ));
        let pkh: Pkh = TZ2.parse().expect("pkh");
        let (x, y, z) = (
            SocketAddr::from(([10, 0, 0, 1], 1000)),
            SocketAddr::from(([10, 0, 0, 1], 2000)),
            SocketAddr::from(([10, 0, 0, 2], 1000)),
        );
        let x1 = held_by(&set, pkh, vec![3, 1], Some(x)).await;
        // Another port of the same address is the same client.
        let y1 = held_by(&set, pkh, vec![3, 2], Some(y)).await;
        let refused = set
            .hold(pkh, &[3, 3], Some(x), "policy".into())
            .await
            .expect_err("a third from one client");
        assert_eq!(
            refused,
            HoldRefused::ClientFull {
                client: x.ip(),
                held: 2
            }
        );
        assert!(
            refused.to_string().contains("--max-held-per-client"),
            "{refused}"
        );
        let z1 = held_by(&set, pkh, vec![3, 4], Some(z)).await;
        for client in [Some(z), None] {
            let refused = set
                .hold(pkh, &[3, 5], client, "policy".into())
                .await
                .expect_err("the set is full");
            assert_eq!(refused, HoldRefused::Full { held: 3 });
            assert!(refused.to_string().contains("--max-held:"), "{refused}");
        }
        assert_eq!(set.list().len(), 3, "refusals hold nothing");
        // An answer makes room again.
        assert_eq!(set.answer(&pkh, &request_hash(&[3, 1]), false), 1);
        assert_eq!(x1.await.expect("join"), Ok(Answer::Rejected));
        let x2 = held_by(&set, pkh, vec![3, 6], Some(x)).await;
        assert_eq!(set.list().len(), 3);
        for t in [y1, z1, x2] {
            t.abort();
        }
    }

    #[tokio::test]
    async fn a_listing_carries_a_preview_and_get_the_whole_request() {
        let set = confirmations(Duration::from_secs(60));
        let pkh: Pkh = TZ2.parse().expect("pkh");
        let other: Pkh = TZ3.parse().expect("pkh");
        let big: Vec<u8> = std::iter::once(3)
            .chain((0..30_000).map(|i| i as u8))
            .collect();
        let hash = request_hash(&big);
        let tasks = [
            held_by(&set, pkh, big.clone(), None).await,
            held_by(&set, pkh, big.clone(), None).await,
        ];
        let views = set.list();
        assert_eq!(views.len(), 1);
        let v = &views[0];
        assert_eq!(
            (v.size, v.waiting, v.hash.as_str()),
            (big.len(), 2, hash.as_str())
        );
        assert_eq!(v.preview, hex::encode(&big[..PREVIEW_BYTES]));
        assert_eq!(v.bytes, None);
        let listed = serde_json::to_string(&views).expect("json");
        assert!(listed.len() < 1024, "{} bytes listed", listed.len());

        let whole = set.get(&pkh, &hash).expect("held");
        assert_eq!(whole.bytes, Some(hex::encode(&big)));
        assert_eq!((whole.size, whole.waiting), (big.len(), 2));
        assert_eq!(whole.preview, v.preview);
        assert_eq!(
            set.get(&other, &hash),
            None,
            "another key holds nothing of it"
        );
        assert_eq!(set.get(&pkh, &request_hash(&[3])), None);
        for t in tasks {
            t.abort();
        }
    }

    #[test]
    fn a_view_from_another_version_still_reads() {
        // An older signer listed the whole bytes and no size or preview.
        let old: HeldView = serde_json::from_str(
            r#"{"hash":"h","pkh":"tz2x","client":null,"waited_ms":5,"bytes":"0301","reason":"r"}"#,
        )
        .expect("an older view");
        assert_eq!((old.waiting, old.size), (1, 0));
        assert_eq!(old.bytes.as_deref(), Some("0301"));
        let bare: HeldView =
            serde_json::from_str(r#"{"hash":"h","pkh":"tz2x","new_field":[1]}"#).expect("bare");
        assert_eq!(bare.preview, "");
        assert!(
            !serde_json::to_string(&bare)
                .expect("json")
                .contains("bytes")
        );
    }

    #[tokio::test]
    async fn an_answer_naming_the_id_seen_answers_nothing_once_that_request_left() {
        let set = confirmations(Duration::from_secs(60));
        let pkh: Pkh = TZ2.parse().expect("pkh");
        let first = held_by(&set, pkh, vec![3, 1], None).await;
        let seen = set.list()[0].id;
        first.abort();
        let _ = first.await;
        // The same bytes arrive again: a new request the person has not seen.
        let again = held_by(&set, pkh, vec![3, 1], None).await;
        let hash = request_hash(&[3, 1]);
        assert_eq!(set.answer_seen(&pkh, &hash, Some(seen), true), 0);
        let now = set.list()[0].id;
        assert_ne!(now, seen);
        assert_eq!(set.answer_seen(&pkh, &hash, Some(now), true), 1);
        assert_eq!(again.await.expect("join"), Ok(Answer::Approved));
    }

    #[tokio::test]
    async fn a_request_whose_waiter_left_is_no_longer_held() {
        let set = confirmations(Duration::from_secs(60));
        let pkh: Pkh = TZ2.parse().expect("pkh");
        let waiter = held_by(&set, pkh, vec![3, 1], None).await;
        waiter.abort();
        let _ = waiter.await;
        assert!(set.list().is_empty());
    }
}
