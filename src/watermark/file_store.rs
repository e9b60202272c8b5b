//! [`FileStore`]: the [`MarkStore`] of one data directory, with one writer thread.
//!
//! Owns: group commit and bounded threads. Every reservation goes to one writer thread, which
//! takes all that are waiting (a lone one is not delayed), checks each against the marks,
//! makes them durable together with one journal write and one fdatasync, applies them in
//! memory and answers each. Readers (the rule's `load`, the chain cap) only take the marks'
//! lock for a lookup, never during I/O. The writer also checkpoints: it rewrites the
//! octez-format files that are behind memory when the journal is full, after
//! [`IDLE_CHECKPOINT`] without writes, on [`MarkStore::flush`] and when the store is dropped.
//! One thread, whatever the number of keys or waiting requests.
//! Must never: answer a reservation before it is durable, or apply a mark that is not.

use std::collections::{BTreeSet, HashSet};
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::marks::Marks;
use super::rule::Mark;
use super::seam::{MarkStore, Slot};
use super::store::{Disk, StoreError, WatermarkStore};
use crate::tezos::{ChainId, ConsensusKind, Pkh, Signature};

/// The files are brought up to date after this long without a new mark.
pub const IDLE_CHECKPOINT: Duration = Duration::from_millis(200);
/// Reservations made durable by one journal write, at most.
const MAX_BATCH: usize = 512;

type Reply = oneshot::Sender<Result<(), StoreError>>;

enum Job {
    Reserve {
        slot: Slot,
        mark: Mark,
        done: Reply,
    },
    Flush {
        done: Reply,
    },
    /// Readiness: a durable write of a probe file in the data directory.
    Probe {
        done: Reply,
    },
    /// A writer that dies (tests of liveness).
    #[cfg(test)]
    Die,
}

/// octez-signer's files and the reservation journal of a locked data directory.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    marks: Arc<Mutex<Marks>>,
    /// Journal writes so far (each makes a whole batch durable).
    commits: Arc<std::sync::atomic::AtomicU64>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileStore")
    }
}

impl Drop for Inner {
    /// The last clone: the writer checkpoints and ends, and the directory lock is released
    /// before this returns (so the directory can be opened again at once).
    fn drop(&mut self) {
        drop(lock(&self.jobs).take());
        if let Some(writer) = lock(&self.writer).take() {
            let _ = writer.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere leaves the marks as consistent as before it (every change is one
    // insertion): keep serving them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FileStore {
    pub fn new(store: WatermarkStore) -> FileStore {
        let (marks, disk) = store.into_parts();
        let marks = Arc::new(Mutex::new(marks));
        let (tx, rx) = mpsc::channel();
        let for_writer = Arc::clone(&marks);
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        let writer = std::thread::Builder::new()
            .name("watermarks".into())
            .spawn(move || write_loop(&for_writer, disk, &rx, &counted))
            .expect("spawn the watermark writer thread");
        FileStore {
            inner: Arc::new(Inner {
                marks,
                commits,
                jobs: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
            }),
        }
    }

    /// Journal writes so far: with group commit, fewer than the reservations made.
    pub fn commits(&self) -> u64 {
        self.inner
            .commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every mark, by slot (to seed a shared container).
    pub async fn marks(&self) -> Vec<(Slot, Mark)> {
        lock(&self.inner.marks)
            .entries()
            .map(|(kind, chain, pkh, mark)| (Slot { kind, chain, pkh }, mark.clone()))
            .collect()
    }

    async fn submit(&self, job: impl FnOnce(Reply) -> Job) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let sent = match lock(&self.inner.jobs).as_ref() {
            Some(jobs) => jobs.send(job(done)).is_ok(),
            None => false,
        };
        if !sent {
            return Err(StoreError::Unavailable(
                "the watermark writer thread has stopped".into(),
            ));
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the watermark writer thread stopped before answering".into(),
            ))
        })
    }
}

#[async_trait]
impl MarkStore for FileStore {
    async fn load(&self, slot: &Slot) -> Result<Option<Mark>, StoreError> {
        Ok(lock(&self.inner.marks)
            .get(slot.kind, &slot.chain, &slot.pkh)
            .cloned())
    }

    async fn chain_use(&self, pkh: &Pkh, chain: &ChainId) -> Result<(bool, usize), StoreError> {
        Ok(lock(&self.inner.marks)
            .chains_of(pkh)
            .map_or((false, 0), |c| (c.contains(chain), c.len())))
    }

    async fn chains_of(&self, pkh: &Pkh) -> Result<BTreeSet<ChainId>, StoreError> {
        Ok(lock(&self.inner.marks)
            .chains_of(pkh)
            .cloned()
            .unwrap_or_default())
    }

    /// Durable when it returns, even if the caller's future is dropped meanwhile (the writer
    /// finishes the batch either way).
    async fn reserve(&self, slot: Slot, mark: Mark) -> Result<(), StoreError> {
        self.submit(|done| Job::Reserve { slot, mark, done }).await
    }

    /// A block's signature goes through the writer like a reservation (one journal record,
    /// durable when this returns); any other kind's is kept in memory until the next
    /// checkpoint.
    async fn record_signature(&self, slot: Slot, signed: Mark) -> Result<Signature, StoreError> {
        let signature = signed.signature.ok_or_else(|| {
            StoreError::Unavailable("a signature to record without a signature".into())
        })?;
        if slot.kind == ConsensusKind::Block {
            self.submit(|done| Job::Reserve {
                slot,
                mark: signed,
                done,
            })
            .await?;
        } else {
            lock(&self.inner.marks).record_signature(
                slot,
                signed.level,
                signed.round,
                signed.hash,
                signature,
            )?;
        }
        Ok(signature)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.submit(|done| Job::Flush { done }).await
    }

    /// Whether the directory takes a write now (full disk, read-only mount, lost lock).
    async fn probe(&self) -> Result<(), StoreError> {
        self.submit(|done| Job::Probe { done }).await
    }

    fn alive(&self) -> bool {
        lock(&self.inner.writer)
            .as_ref()
            .is_some_and(|writer| !writer.is_finished())
    }
}

/// The writer thread: batches of reservations, checkpoints when idle, a last one at the end.
fn write_loop(
    marks: &Mutex<Marks>,
    mut disk: Disk,
    jobs: &mpsc::Receiver<Job>,
    commits: &std::sync::atomic::AtomicU64,
) {
    // After a failed idle checkpoint (a full disk), the next try waits longer, up to a minute.
    let mut retry_after = IDLE_CHECKPOINT;
    let mut next_try = std::time::Instant::now();
    loop {
        let first = match jobs.recv_timeout(IDLE_CHECKPOINT) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let behind = lock(marks).is_dirty() || disk.journaled() > 0;
                if behind && std::time::Instant::now() >= next_try {
                    match checkpoint(marks, &mut disk) {
                        Ok(()) => retry_after = IDLE_CHECKPOINT,
                        Err(e) => {
                            tracing::warn!(error = %e, retry_in_s = retry_after.as_secs_f64(), "could not bring the watermark files up to date; the journal still holds every mark (free space in the data directory)");
                            next_try = std::time::Instant::now() + retry_after;
                            retry_after = (retry_after * 4).min(Duration::from_secs(60));
                        }
                    }
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Err(e) = checkpoint(marks, &mut disk) {
                    tracing::error!(error = %e, "could not write the watermark files at the end (the journal holds every mark; the next start writes them)");
                }
                return;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut reserves = Vec::with_capacity(batch.len());
        let mut flushes = Vec::new();
        let mut probes = Vec::new();
        for job in batch {
            match job {
                Job::Reserve { slot, mark, done } => reserves.push((slot, mark, done)),
                Job::Flush { done } => flushes.push(done),
                Job::Probe { done } => probes.push(done),
                #[cfg(test)]
                Job::Die => panic!("the writer thread dies (test)"),
            }
        }
        if !probes.is_empty() {
            let result = disk.probe();
            for done in probes {
                let _ = done.send(result.as_ref().map(|_| ()).map_err(shared_error));
            }
        }
        if commit(marks, &mut disk, reserves) {
            commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if !flushes.is_empty() {
            let result = checkpoint(marks, &mut disk);
            for done in flushes {
                let _ = done.send(result.as_ref().map(|_| ()).map_err(shared_error));
            }
        }
    }
}

/// Checks each reservation, makes the accepted ones durable with one journal write, applies
/// them, and answers every one. Returns whether it wrote the journal.
fn commit(marks: &Mutex<Marks>, disk: &mut Disk, reserves: Vec<(Slot, Mark, Reply)>) -> bool {
    let mut accepted = Vec::with_capacity(reserves.len());
    let mut replies = Vec::with_capacity(reserves.len());
    {
        let marks = lock(marks);
        let mut seen = HashSet::new();
        for (slot, mark, done) in reserves {
            if !seen.insert(slot) {
                // The pipeline's per-key lock never sends two marks of one slot at once.
                let _ = done.send(Err(StoreError::Unavailable(
                    "two reservations of one watermark at once".into(),
                )));
                continue;
            }
            match marks.check_new(&slot, &mark) {
                Ok(true) => {
                    accepted.push((slot, mark));
                    replies.push(done);
                }
                Ok(false) => {
                    let _ = done.send(Ok(()));
                }
                Err(e) => {
                    let _ = done.send(Err(e));
                }
            }
        }
    }
    if accepted.is_empty() {
        return false;
    }
    let durable = if disk.has_room(accepted.len()) {
        Ok(())
    } else {
        checkpoint(marks, disk)
    }
    .and_then(|()| disk.append(&accepted));
    match durable {
        Ok(()) => {
            let mut marks = lock(marks);
            for (slot, mark) in accepted {
                marks.apply(slot, mark);
            }
            drop(marks);
            for done in replies {
                let _ = done.send(Ok(()));
            }
            true
        }
        Err(e) => {
            for done in replies {
                let _ = done.send(Err(shared_error(&e)));
            }
            false
        }
    }
}

/// Writes the files behind memory (never holding the marks' lock during I/O), then empties
/// the journal. Only the writer thread appends, so the files then hold every journal record.
fn checkpoint(marks: &Mutex<Marks>, disk: &mut Disk) -> Result<(), StoreError> {
    let texts = lock(marks).take_dirty();
    if let Err(e) = disk.write_files(&texts) {
        lock(marks).mark_dirty(texts.into_iter().map(|(k, _)| k));
        return Err(e);
    }
    let carried = lock(marks).unreleased();
    disk.reset_journal(&carried)
}

/// The same failure for every request of a batch.
fn shared_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Io { op, path, source } => StoreError::Io {
            op,
            path: path.clone(),
            source: io::Error::new(source.kind(), source.to_string()),
        },
        StoreError::DirectoryReplaced { dir } => StoreError::DirectoryReplaced { dir: dir.clone() },
        StoreError::JournalReplaced { path } => StoreError::JournalReplaced { path: path.clone() },
        other => StoreError::Unavailable(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tezos::{ConsensusKind, PkhKind};
    use crate::watermark::journal::JOURNAL_FILE;

    fn slot(i: u8) -> Slot {
        Slot {
            kind: ConsensusKind::Attestation,
            chain: "NetXdQprcVkpaWU".parse().unwrap(),
            pkh: Pkh::new(PkhKind::Tz2, [i; 20]),
        }
    }

    fn mark(level: i32) -> Mark {
        Mark {
            level,
            round: Some(0),
            hash: [level as u8; 32],
            signature: None,
            unreleased: false,
        }
    }

    /// 64 keys reserving at once share journal writes, and every mark is durable.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reservations_share_one_fdatasync() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(WatermarkStore::open(dir.path()).unwrap());
        let tasks: Vec<_> = (0..64u8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.reserve(slot(i), mark(100)).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().expect("reserved");
        }
        let commits = store.commits();
        assert!(commits < 64, "{commits} journal writes for 64 reservations");
        // A lone reservation is not held back to wait for company.
        let started = std::time::Instant::now();
        store.reserve(slot(0), mark(101)).await.unwrap();
        assert!(
            started.elapsed() < IDLE_CHECKPOINT,
            "{:?}",
            started.elapsed()
        );
        drop(store);
        let reopened = WatermarkStore::open(dir.path()).unwrap();
        for i in 0..64u8 {
            let s = slot(i);
            let want = if i == 0 { 101 } else { 100 };
            assert_eq!(
                reopened.get(s.kind, &s.chain, &s.pkh).map(|m| m.level),
                Some(want)
            );
        }
    }

    /// The files catch up on their own when the store is idle, and the journal empties.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_idle_store_brings_its_files_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(WatermarkStore::open(dir.path()).unwrap());
        store.reserve(slot(1), mark(7)).await.unwrap();
        let file = dir.path().join("attestation_high_watermarks");
        let deadline = std::time::Instant::now() + IDLE_CHECKPOINT * 10;
        while !std::fs::read_to_string(&file).is_ok_and(|t| t.contains("\"level\": 7")) {
            assert!(std::time::Instant::now() < deadline, "no checkpoint");
            tokio::time::sleep(IDLE_CHECKPOINT / 4).await;
        }
        assert!(dir.path().join(JOURNAL_FILE).exists());
        // A regression is refused by the writer, and the caller hears why.
        let err = store.reserve(slot(1), mark(6)).await.unwrap_err();
        assert!(matches!(err, StoreError::Regression { .. }), "{err}");
    }

    /// A writer thread that dies is seen: the store says so (liveness), and every later
    /// reservation fails at once instead of waiting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_writer_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(WatermarkStore::open(dir.path()).unwrap());
        assert!(store.alive());
        let died = store.submit(|_| Job::Die).await;
        assert!(matches!(died, Err(StoreError::Unavailable(_))), "{died:?}");
        for _ in 0..100 {
            if !store.alive() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!store.alive());
        let err = store.reserve(slot(1), mark(1)).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    }
}
