//! The shared marks' compare-and-swap: one blob per slot, moved only upwards, only if nobody
//! moved it since it was read.
//!
//! Owns: deciding a reservation against the shared mark (octez's rule, [`check`]), the
//! conditional write (`If-None-Match: *` to create, `If-Match: <ETag>` to replace), re-reading
//! and deciding again when another signer won the race (bounded tries), and the last ETag of
//! each slot, so the usual reservation is one conditional write and no read. Every request runs
//! inside the reservation's deadline; transient failures are retried within it, anything else
//! fails closed. Must never: write a mark that is not above the shared one, or report a
//! reservation that is not in the container.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::SharedStats;
use super::blobs::{BlobError, Blobs, Condition};
use super::location::SharedLocation;
use crate::tezos::{ConsensusKind, Signature};
use crate::watermark::format::{encode_record, parse_record};
use crate::watermark::mark_store::Slot;
use crate::watermark::rule::{Decision, Mark, MarkRequest, WatermarkError, check};

/// Conditional writes tried for one reservation before giving up (each lost race means
/// another signer moved the mark: a few in a row means a fight the baker should look at).
const MAX_TRIES: usize = 8;

/// Why the shared store did not take a mark.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SharedError {
    /// Another signer holds a mark this request may not pass.
    #[error("{reason} (the shared mark another signer wrote)")]
    Refused {
        /// The (kind, chain, key) whose shared mark refused.
        slot: Slot,
        /// The rule's refusal against the shared mark, in octez-signer's words.
        reason: WatermarkError,
    },
    /// The container could not be used: a storage request failed for good (a non-transient
    /// error, or transient ones until the deadline), or its client could not be opened. Fails
    /// closed: no signature is released.
    #[error(
        "shared watermarks at {location}, {during}: {error}. No signature was released; check \
         that the storage account answers from this host"
    )]
    Unavailable {
        /// The container's URL (any SAS token redacted) and prefix.
        location: String,
        /// What the signer was doing (`"reserving a mark"`, `"reading a mark"`…).
        during: &'static str,
        /// The storage failure.
        error: BlobError,
    },
    /// A slot's blob does not parse as a mark, or holds a mark invalid for its kind: the
    /// signer refuses to sign over a shared mark it cannot read.
    #[error(
        "the shared mark {blob} cannot be read ({reason}): refusing to sign over an unknown \
         mark. Repair or delete the blob after checking every signer's local marks"
    )]
    Corrupt {
        /// The blob's name (`[<prefix>/]<chain>/<pkh>/<kind's file name>`).
        blob: String,
        /// Why it cannot be read as a mark.
        reason: String,
    },
    /// Every conditional write of one reservation, record or raise lost its race to another
    /// signer: the step gives up rather than keep fighting over the mark.
    #[error(
        "the shared mark {blob} changed under this signer {tries} times in a row: another \
         signer keeps moving it. Check that two bakers are not fighting over one key"
    )]
    Contended {
        /// The blob's name.
        blob: String,
        /// How many conditional writes were tried.
        tries: usize,
    },
    /// The block reservation this signer wrote is no longer the blob's mark, and nothing
    /// above it says what was released: no signature may leave.
    #[error(
        "the block reservation in {blob} is gone (the container was emptied or restored): \
         cannot tell whether another signer released this block, so this signature is not \
         released"
    )]
    ReservationLost {
        /// The blob's name.
        blob: String,
    },
}

/// What this signer last saw of a slot's blob.
#[derive(Debug, Clone)]
enum Known {
    Absent,
    At { etag: String, mark: Mark },
}

/// What [`Container::raise_to`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaiseOutcome {
    /// The slot had no mark: it now has the given one.
    Created,
    /// The shared mark was lower: raised.
    Raised,
    /// The shared mark was as high or higher: left alone.
    Kept,
    /// The shared mark is at the same (level, round) for other bytes: left alone (the two
    /// signers' histories differ there; both refuse anything else at that point).
    Diverged,
}

/// The shared marks in one container.
pub struct Container {
    blobs: Arc<dyn Blobs>,
    location: SharedLocation,
    /// Time for one reservation or record, retries included, when the caller has no deadline
    /// of its own (a signing request brings its own: see [`Container::reserve`]).
    budget: Duration,
    known: Mutex<HashMap<Slot, Known>>,
    stats: Arc<SharedStats>,
    /// Set when a slot this signer had written was found gone: the container lost marks.
    lost_marks: AtomicBool,
    /// This signer's readiness probe blob, and its last ETag.
    probe_id: String,
    probe_etag: Mutex<Option<String>>,
}

impl Container {
    pub fn new(
        blobs: Arc<dyn Blobs>,
        location: SharedLocation,
        budget: Duration,
        stats: Arc<SharedStats>,
    ) -> Container {
        Container {
            blobs,
            location,
            budget,
            known: Mutex::new(HashMap::new()),
            stats,
            lost_marks: AtomicBool::new(false),
            probe_id: probe_id(),
            probe_etag: Mutex::new(None),
        }
    }

    pub fn location(&self) -> &SharedLocation {
        &self.location
    }

    /// Names the readiness probe's blob after this host and `data_dir` (a signer's identity:
    /// one data directory is one signer), so restarts reuse one blob instead of leaving one
    /// per process in the container.
    pub fn probing_as(mut self, data_dir: &std::path::Path) -> Container {
        let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
        let digest = crate::tezos::blake2b_256(dir.as_os_str().as_encoded_bytes());
        self.probe_id = format!("{}-{}", host_name(), hex::encode(&digest[..8]));
        self
    }

    /// Gives up on `slot` after `MAX_TRIES` lost races (its cached state is forgotten).
    fn contended(&self, slot: &Slot, blob: String) -> SharedError {
        self.forget(slot);
        SharedError::Contended {
            blob,
            tries: MAX_TRIES,
        }
    }

    /// The one deadline of a step: the caller's, else this container's budget from now.
    fn deadline(&self, until: Option<Instant>) -> Instant {
        until.unwrap_or_else(|| Instant::now() + self.budget)
    }

    pub fn stats(&self) -> &Arc<SharedStats> {
        &self.stats
    }

    /// Whether a slot this signer wrote was found deleted since the last call (the container
    /// was emptied or restored): the caller writes its local marks back.
    pub fn take_lost_marks(&self) -> bool {
        self.lost_marks.swap(false, Ordering::AcqRel)
    }

    /// Makes `mark` (just allowed by the local rule) the shared mark of `slot`, if the shared
    /// rule allows it too. Returns once the container holds it (or an identical reservation).
    /// Finished by `until` (the request's deadline), or within the budget without one.
    pub async fn reserve(
        &self,
        slot: Slot,
        mark: &Mark,
        until: Option<Instant>,
    ) -> Result<(), SharedError> {
        let deadline = self.deadline(until);
        let name = self.location.blob_name(&slot);
        let request = request_for(&slot, mark);
        let mut known = self.cached(&slot);
        let mut backoff = Backoff::until(deadline);
        // Lost races count towards MAX_TRIES; transient failures are bounded by the deadline
        // alone (a storage outage is reported as one, not as a fight between signers).
        let mut conflicts = 0;
        while conflicts < MAX_TRIES {
            let condition = match &known {
                None | Some(Known::Absent) => Condition::Absent,
                Some(Known::At {
                    etag,
                    mark: current,
                }) => {
                    if same_point(current, mark) {
                        // The same bytes at the same point are reserved already (an identical
                        // retry, here or on another signer): nothing to move. A block's mark
                        // must also prove nothing was released, or carry its signature.
                        if slot.kind == ConsensusKind::Block {
                            check(Some(current), &request, None)
                                .map_err(|reason| SharedError::Refused { slot, reason })?;
                        }
                        return Ok(());
                    }
                    check(Some(current), &request, None)
                        .map_err(|reason| SharedError::Refused { slot, reason })?;
                    Condition::Matches(etag.clone())
                }
            };
            match self.write(&name, mark, condition, deadline).await {
                Ok(etag) => {
                    self.remember(
                        slot,
                        Known::At {
                            etag,
                            mark: mark.clone(),
                        },
                    );
                    return Ok(());
                }
                Err(BlobError::Conflict | BlobError::Missing) => {
                    conflicts += 1;
                    // With nothing cached this is the first look at the slot, not a lost race.
                    if known.is_some() {
                        self.stats.conflict();
                    }
                    let was_written = matches!(known, Some(Known::At { .. }));
                    let now = self.read(&slot, &name, deadline).await?;
                    if was_written && matches!(now, Known::Absent) {
                        self.lost_marks.store(true, Ordering::Release);
                        tracing::error!(blob = %name, location = %self.location, "a shared mark this signer wrote is gone: the container was emptied or restored; writing the local marks back");
                    }
                    known = Some(now);
                }
                Err(e) if e.is_transient() && backoff.fits() => backoff.wait().await,
                Err(error) => {
                    self.forget(&slot);
                    return Err(self.unavailable("reserving a mark", error));
                }
            }
        }
        Err(self.contended(&slot, name))
    }

    /// Records `signed`'s signature as the one signature of its block, over the unsigned
    /// reservation of the same bytes in the container, and returns the signature that may be
    /// released: `signed`'s if this write filled the reservation, or the one another signer
    /// recorded first. Refuses (nothing may be released) when the blob moved past the block,
    /// holds no proof that nothing was released, or lost the reservation. See the module
    /// documentation of [`super`] for the argument.
    pub async fn record_block(
        &self,
        slot: Slot,
        signed: &Mark,
        until: Option<Instant>,
    ) -> Result<Signature, SharedError> {
        let deadline = self.deadline(until);
        let name = self.location.blob_name(&slot);
        let request = request_for(&slot, signed);
        let mut known = match self.cached(&slot) {
            Some(known) => known,
            None => self.read(&slot, &name, deadline).await?,
        };
        let mut backoff = Backoff::until(deadline);
        // Lost races count towards MAX_TRIES; transient failures are bounded by the deadline
        // alone (a storage outage is reported as one, not as a fight between signers).
        let mut conflicts = 0;
        while conflicts < MAX_TRIES {
            let Known::At {
                etag,
                mark: current,
            } = &known
            else {
                return Err(SharedError::ReservationLost { blob: name });
            };
            if !same_point(current, signed) {
                // Above the block (another point was signed since) or below it (the blob was
                // restored): either way nobody can say what was released for it.
                check(Some(current), &request, None)
                    .map_err(|reason| SharedError::Refused { slot, reason })?;
                return Err(SharedError::ReservationLost { blob: name });
            }
            match check(Some(current), &request, None) {
                Ok(Decision::Replay(first)) => return Ok(first),
                Ok(Decision::Sign) => {}
                Err(reason) => return Err(SharedError::Refused { slot, reason }),
            }
            match self
                .write(&name, signed, Condition::Matches(etag.clone()), deadline)
                .await
            {
                Ok(etag) => {
                    let signature = signed
                        .signature
                        .ok_or(SharedError::ReservationLost { blob: name.clone() })?;
                    self.remember(
                        slot,
                        Known::At {
                            etag,
                            mark: signed.clone(),
                        },
                    );
                    return Ok(signature);
                }
                Err(BlobError::Conflict | BlobError::Missing) => {
                    conflicts += 1;
                    self.stats.conflict();
                    known = self.read(&slot, &name, deadline).await?;
                }
                Err(e) if e.is_transient() && backoff.fits() => backoff.wait().await,
                Err(error) => {
                    self.forget(&slot);
                    return Err(self.unavailable("recording a block signature", error));
                }
            }
        }
        Err(self.contended(&slot, name))
    }

    /// Raises the shared mark of `slot` to `mark` unless it is as high already (seeding a
    /// container from the local marks; never lowers one). The unreleased proof of a block
    /// reservation is never pushed: only a reservation write may assert it. A signature for
    /// the shared mark's own unsigned bytes is filled in.
    pub async fn raise_to(&self, slot: Slot, mark: &Mark) -> Result<RaiseOutcome, SharedError> {
        let deadline = Instant::now() + self.budget;
        let name = self.location.blob_name(&slot);
        let mark = &Mark {
            unreleased: false,
            ..mark.clone()
        };
        let mut known = self.read(&slot, &name, deadline).await?;
        // Lost races count towards MAX_TRIES; transient failures are bounded by the deadline
        // alone (a storage outage is reported as one, not as a fight between signers).
        let mut conflicts = 0;
        while conflicts < MAX_TRIES {
            let (condition, created) = match &known {
                Known::Absent => (Condition::Absent, true),
                Known::At {
                    etag,
                    mark: current,
                } => {
                    let (have, want) = (point(current), point(mark));
                    if have > want {
                        return Ok(RaiseOutcome::Kept);
                    }
                    let fills = current.hash == mark.hash
                        && current.signature.is_none()
                        && mark.signature.is_some();
                    if have == want && !fills {
                        return Ok(if current.hash == mark.hash {
                            RaiseOutcome::Kept
                        } else {
                            RaiseOutcome::Diverged
                        });
                    }
                    (Condition::Matches(etag.clone()), false)
                }
            };
            match self.write(&name, mark, condition, deadline).await {
                Ok(etag) => {
                    self.remember(
                        slot,
                        Known::At {
                            etag,
                            mark: mark.clone(),
                        },
                    );
                    return Ok(if created {
                        RaiseOutcome::Created
                    } else {
                        RaiseOutcome::Raised
                    });
                }
                Err(BlobError::Conflict | BlobError::Missing) => {
                    conflicts += 1;
                    self.stats.conflict();
                    known = self.read(&slot, &name, deadline).await?;
                }
                Err(error) => return Err(self.unavailable("raising a mark", error)),
            }
        }
        Err(SharedError::Contended {
            blob: name,
            tries: MAX_TRIES,
        })
    }

    /// Whether the container takes a conditional write now, within the budget: this signer's
    /// own probe blob (`[<prefix>/].probes/<id>`), created or replaced like a mark.
    pub async fn probe(&self) -> Result<(), SharedError> {
        let deadline = Instant::now() + self.budget;
        let name = self.location.probe_name(&self.probe_id);
        let body = b"{\"probe\":true}".to_vec();
        let mut condition = match self
            .probe_etag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(etag) => Condition::Matches(etag),
            None => Condition::Absent,
        };
        for _ in 0..2 {
            let result = timed(deadline, self.blobs.write(&name, body.clone(), condition)).await;
            match result {
                Ok(etag) => {
                    *self.probe_etag.lock().unwrap_or_else(|p| p.into_inner()) = Some(etag);
                    return Ok(());
                }
                // Ours, changed since (another process with the same id, or a lost ETag).
                Err(BlobError::Conflict | BlobError::Missing) => {
                    condition = match timed(deadline, self.blobs.read(&name)).await {
                        Ok(Some((etag, _))) => Condition::Matches(etag),
                        Ok(None) => Condition::Absent,
                        Err(e) => return Err(self.unavailable("probing the container", e)),
                    };
                }
                Err(e) => {
                    self.stats.error(e.label());
                    return Err(self.unavailable("probing the container with a write", e));
                }
            }
        }
        Err(self.unavailable("probing the container with a write", BlobError::Conflict))
    }

    async fn write(
        &self,
        name: &str,
        mark: &Mark,
        condition: Condition,
        deadline: Instant,
    ) -> Result<String, BlobError> {
        let started = Instant::now();
        let body = encode_record(mark).into_bytes();
        let result = timed(deadline, self.blobs.write(name, body, condition)).await;
        match &result {
            Ok(_) => self.stats.write(started.elapsed()),
            Err(BlobError::Conflict | BlobError::Missing) => {}
            Err(e) => self.stats.error(e.label()),
        }
        result
    }

    async fn read(&self, slot: &Slot, name: &str, deadline: Instant) -> Result<Known, SharedError> {
        let mut backoff = Backoff::until(deadline);
        let found = loop {
            match timed(deadline, self.blobs.read(name)).await {
                Ok(found) => break found,
                Err(e) if e.is_transient() && backoff.fits() => {
                    self.stats.error(e.label());
                    backoff.wait().await;
                }
                Err(e) => {
                    self.stats.error(e.label());
                    self.forget(slot);
                    return Err(self.unavailable("reading a mark", e));
                }
            }
        };
        let known = match found {
            None => Known::Absent,
            Some((etag, body)) => {
                let mark = parse_record(&body)
                    .and_then(|m| {
                        m.validate_for(slot.kind)
                            .map(|()| m)
                            .map_err(|e| e.to_string())
                    })
                    .map_err(|reason| SharedError::Corrupt {
                        blob: name.to_string(),
                        reason,
                    })?;
                Known::At { etag, mark }
            }
        };
        self.remember(*slot, known.clone());
        Ok(known)
    }

    fn unavailable(&self, during: &'static str, error: BlobError) -> SharedError {
        tracing::warn!(location = %self.location, %error, during, "shared watermark store failed");
        SharedError::Unavailable {
            location: self.location.to_string(),
            during,
            error,
        }
    }

    fn cached(&self, slot: &Slot) -> Option<Known> {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(slot)
            .cloned()
    }

    fn remember(&self, slot: Slot, known: Known) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(slot, known);
    }

    fn forget(&self, slot: &Slot) {
        self.known
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(slot);
    }
}

/// A name for this process's probe blob: host name and process id.
fn probe_id() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

/// The host name, as a blob name may carry it ("signer" when there is none).
fn host_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(63)
        .collect();
    if host.is_empty() {
        "signer".into()
    } else {
        host
    }
}

/// (level, round) as the rule orders them (a mark without a round is round 0).
fn point(m: &Mark) -> (i32, i32) {
    (m.level, m.round.unwrap_or(0))
}

fn same_point(a: &Mark, b: &Mark) -> bool {
    (a.level, a.round, a.hash) == (b.level, b.round, b.hash)
}

async fn timed<T>(
    deadline: Instant,
    call: impl std::future::Future<Output = Result<T, BlobError>>,
) -> Result<T, BlobError> {
    match tokio::time::timeout_at(deadline.into(), call).await {
        Ok(result) => result,
        Err(_) => Err(BlobError::Transient(
            "no answer within the sign deadline".into(),
        )),
    }
}

/// The request `mark` answers in `slot` (what the shared rule checks it as).
fn request_for(slot: &Slot, mark: &Mark) -> MarkRequest {
    MarkRequest {
        kind: slot.kind,
        level: mark.level,
        round: mark.round,
        hash: mark.hash,
    }
}

/// The wait between tries of a transient failure: 20 ms, doubling up to 500 ms, and never
/// a wait that would end past the step's deadline.
struct Backoff {
    next: Duration,
    deadline: Instant,
}

impl Backoff {
    fn until(deadline: Instant) -> Backoff {
        Backoff {
            next: Duration::from_millis(20),
            deadline,
        }
    }

    /// Whether one more wait ends before the deadline.
    fn fits(&self) -> bool {
        Instant::now() + self.next < self.deadline
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.next).await;
        self.next = (self.next * 2).min(Duration::from_millis(500));
    }
}
