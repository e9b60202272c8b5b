//! [`LocalStore`]: the [`MarkStore`] of one data directory, with one writer thread.
//!
//! Owns: group commit and bounded threads. Every reservation goes to one writer thread, which
//! takes all that are waiting (a lone one is not delayed), checks each against the marks,
//! makes them durable together with one journal write and one fdatasync, applies them in
//! memory and answers each. Readers (the rule's `load`, the chain cap) only take the marks'
//! lock for a lookup, never during I/O. The octez-format files that are behind memory are
//! rewritten (a checkpoint) after [`IDLE_CHECKPOINT`] without writes by a second thread, the
//! checkpointer, which also runs the readiness probes: on a slow disk their fsyncs never hold
//! up a reservation, which costs one journal write of its own. The writer starts the new
//! journal generation once a checkpoint's files are durable and nothing was appended
//! meanwhile (otherwise the next idle checkpoint tries again). Only a full journal (8,192
//! marks since the last checkpoint), [`MarkStore::flush`] and the end checkpoint on the
//! writer itself, waiting for the one in flight. Two threads, whatever the number of keys or
//! waiting requests.
//! Must never: answer a reservation before it is durable, or apply a mark that is not.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use super::data_dir::{DataDir, Disk, Files, StoreError};
use super::mark_store::{MarkStore, Slot};
use super::marks::Marks;
use super::rule::Mark;
use crate::tezos::{ChainId, ConsensusKind, Pkh, Signature};

/// The files are brought up to date after this long without a new mark.
pub(crate) const IDLE_CHECKPOINT: Duration = Duration::from_millis(200);
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
    /// The checkpointer finished writing the files of the snapshot it was given.
    Checkpointed {
        kinds: Vec<ConsensusKind>,
        result: Result<(), StoreError>,
    },
    /// The store is dropped: a last checkpoint, then the threads end.
    Stop,
    /// A writer that dies (tests of liveness).
    #[cfg(test)]
    Die,
    /// The checkpointer sleeps this long before its next work (tests of a slow disk).
    #[cfg(test)]
    Stall(Duration),
    /// The writer itself sleeps this long (tests of jobs that pile up behind it).
    #[cfg(test)]
    Pause(Duration),
}

/// What the checkpointer thread does beside the writer.
enum Work {
    /// Write these files (a snapshot of the marks), then report [`Job::Checkpointed`].
    Files(Vec<(ConsensusKind, String)>),
    Probe(Reply),
    #[cfg(test)]
    Stall(Duration),
}

/// octez-signer's files and the reservation journal of a locked data directory.
#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

struct Inner {
    marks: Arc<Mutex<Marks>>,
    /// Journal writes so far (each makes a whole batch durable).
    commits: Arc<std::sync::atomic::AtomicU64>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalStore")
    }
}

impl Drop for Inner {
    /// The last clone: the writer checkpoints and ends, and the directory lock is released
    /// before this returns (so the directory can be opened again at once).
    fn drop(&mut self) {
        if let Some(jobs) = lock(&self.jobs).take() {
            let _ = jobs.send(Job::Stop);
        }
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

impl LocalStore {
    /// Opens the marks of data directory `dir` (see [`DataDir::open`]) and starts serving them.
    pub fn open(dir: impl AsRef<std::path::Path>) -> Result<LocalStore, StoreError> {
        DataDir::open(dir).map(LocalStore::new)
    }

    /// Serves the marks of an opened data directory.
    pub fn new(store: DataDir) -> LocalStore {
        let (marks, disk) = store.into_parts();
        let marks = Arc::new(Mutex::new(marks));
        let (tx, rx) = mpsc::channel();
        let for_writer = Arc::clone(&marks);
        let commits = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = Arc::clone(&commits);
        let for_checkpointer = tx.clone();
        let writer = std::thread::Builder::new()
            .name("watermarks".into())
            .spawn(move || {
                let files = disk.files();
                let (work, todo) = mpsc::channel();
                let checkpointer = std::thread::Builder::new()
                    .name("checkpoints".into())
                    .spawn(move || checkpoint_loop(&files, &todo, &for_checkpointer))
                    .expect("spawn the checkpoint thread");
                Writer {
                    marks: &for_writer,
                    disk,
                    jobs: &rx,
                    deferred: VecDeque::new(),
                    work,
                    in_flight: None,
                    commits: &counted,
                }
                .run();
                let _ = checkpointer.join();
            })
            .expect("spawn the watermark writer thread");
        LocalStore {
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
impl MarkStore for LocalStore {
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
    /// `until` is not needed: the disk write cannot be interrupted (the pipeline bounds its wait).
    async fn reserve(
        &self,
        slot: Slot,
        mark: Mark,
        _until: Option<std::time::Instant>,
    ) -> Result<(), StoreError> {
        self.submit(|done| Job::Reserve { slot, mark, done }).await
    }

    /// A block's signature goes through the writer like a reservation (one journal record,
    /// durable when this returns); any other kind's is kept in memory until the next
    /// checkpoint.
    async fn record_signature(
        &self,
        slot: Slot,
        signed: Mark,
        _until: Option<std::time::Instant>,
    ) -> Result<Signature, StoreError> {
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

/// The writer thread: the journal's only writer. It takes the reservations waiting at each
/// moment and makes them durable together; files are written beside it by the checkpointer.
struct Writer<'a> {
    marks: &'a Mutex<Marks>,
    disk: Disk,
    jobs: &'a mpsc::Receiver<Job>,
    /// Jobs that arrived while a checkpoint was awaited, served next.
    deferred: VecDeque<Job>,
    work: mpsc::Sender<Work>,
    /// A checkpoint being written by the checkpointer: how many marks were appended since
    /// its snapshot (the files it writes lack them).
    in_flight: Option<usize>,
    commits: &'a std::sync::atomic::AtomicU64,
}

impl Writer<'_> {
    fn run(mut self) {
        // After a failed idle checkpoint (a full disk), the next try waits longer, up to a
        // minute.
        let mut retry_after = IDLE_CHECKPOINT;
        let mut next_try = std::time::Instant::now();
        loop {
            let first = match self.deferred.pop_front() {
                Some(job) => job,
                None => match self.jobs.recv_timeout(IDLE_CHECKPOINT) {
                    Ok(job) => job,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let behind = lock(self.marks).is_dirty() || self.disk.journaled() > 0;
                        if behind
                            && self.in_flight.is_none()
                            && std::time::Instant::now() >= next_try
                        {
                            self.start_checkpoint();
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return self.stop(),
                },
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match self
                    .deferred
                    .pop_front()
                    .map(Ok)
                    .unwrap_or_else(|| self.jobs.try_recv())
                {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let mut reserves = Vec::with_capacity(batch.len());
            let mut flushes = Vec::new();
            // The end waits for the rest of its batch: a checkpointer's answer behind it would
            // otherwise be dropped, and the last checkpoint would wait for it forever.
            let mut stopping = false;
            for job in batch {
                match job {
                    Job::Reserve { slot, mark, done } => reserves.push((slot, mark, done)),
                    Job::Flush { done } => flushes.push(done),
                    // Beside the journal: a slow probe never holds up a reservation.
                    Job::Probe { done } => {
                        let _ = self.work.send(Work::Probe(done));
                    }
                    Job::Checkpointed { kinds, result } => {
                        match self.finish_checkpoint(kinds, result) {
                            Ok(()) => retry_after = IDLE_CHECKPOINT,
                            Err(e) => {
                                tracing::warn!(error = %e, retry_in_s = retry_after.as_secs_f64(), "could not bring the watermark files up to date; the journal still holds every mark (free space in the data directory)");
                                next_try = std::time::Instant::now() + retry_after;
                                retry_after = (retry_after * 4).min(Duration::from_secs(60));
                            }
                        }
                    }
                    Job::Stop => stopping = true,
                    #[cfg(test)]
                    Job::Die => panic!("the writer thread dies (test)"),
                    #[cfg(test)]
                    Job::Stall(d) => {
                        let _ = self.work.send(Work::Stall(d));
                    }
                    #[cfg(test)]
                    Job::Pause(d) => std::thread::sleep(d),
                }
            }
            if self.commit(reserves) {
                self.commits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if !flushes.is_empty() {
                let result = self.checkpoint_now();
                for done in flushes {
                    let _ = done.send(result.as_ref().map(|_| ()).map_err(shared_error));
                }
            }
            if stopping {
                return self.stop();
            }
        }
    }

    /// Hands a snapshot of the files that are behind to the checkpointer.
    fn start_checkpoint(&mut self) {
        let texts = lock(self.marks).take_dirty();
        self.in_flight = Some(0);
        let _ = self.work.send(Work::Files(texts));
    }

    /// The checkpointer's files are durable (or failed). The journal starts a new generation
    /// only if nothing was appended since the snapshot: a mark appended meanwhile is in the
    /// journal alone, and carrying it into the new generation would leave a crash window where
    /// it is in neither (the next idle checkpoint covers it). Unreleased block reservations
    /// are carried as [`Disk::reset_journal`] says.
    fn finish_checkpoint(
        &mut self,
        kinds: Vec<ConsensusKind>,
        result: Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let appended_since = self.in_flight.take().unwrap_or_default();
        if let Err(e) = result {
            lock(self.marks).mark_dirty(kinds);
            return Err(e);
        }
        if appended_since > 0 {
            return Ok(());
        }
        let carried = lock(self.marks).unreleased();
        self.disk.reset_journal(&carried)
    }

    /// A checkpoint that must be complete when it returns (a full journal, a flush, the
    /// end): waits for the one in flight, then writes what is behind on this thread.
    fn checkpoint_now(&mut self) -> Result<(), StoreError> {
        while self.in_flight.is_some() {
            match self.jobs.recv() {
                Ok(Job::Checkpointed { kinds, result }) => {
                    if let Err(e) = self.finish_checkpoint(kinds, result) {
                        tracing::warn!(error = %e, "a checkpoint failed; writing the files again");
                    }
                }
                Ok(job) => self.deferred.push_back(job),
                Err(_) => self.in_flight = None,
            }
        }
        // The marks' lock only to render and to read the reservations to carry, never during
        // the writes: the rule's lookups on the signing path go on meanwhile.
        let texts = lock(self.marks).take_dirty();
        if let Err(e) = self.disk.write_files(&texts) {
            lock(self.marks).mark_dirty(texts.into_iter().map(|(kind, _)| kind));
            return Err(e);
        }
        let carried = lock(self.marks).unreleased();
        self.disk.reset_journal(&carried)
    }

    /// The last checkpoint; the checkpointer ends once its channel closes.
    fn stop(mut self) {
        if let Err(e) = self.checkpoint_now() {
            tracing::error!(error = %e, "could not write the watermark files at the end (the journal holds every mark; the next start writes them)");
        }
    }

    /// Checks each reservation, makes the accepted ones durable with one journal write,
    /// applies them, and answers every one. Returns whether it wrote the journal.
    fn commit(&mut self, reserves: Vec<(Slot, Mark, Reply)>) -> bool {
        let mut accepted = Vec::with_capacity(reserves.len());
        let mut replies = Vec::with_capacity(reserves.len());
        {
            let marks = lock(self.marks);
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
        let durable = if self.disk.has_room(accepted.len()) {
            Ok(())
        } else {
            self.checkpoint_now()
        }
        .and_then(|()| self.disk.append(&accepted));
        match durable {
            Ok(()) => {
                if let Some(since) = &mut self.in_flight {
                    *since += accepted.len();
                }
                let mut marks = lock(self.marks);
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
}

/// The checkpointer thread: writes snapshots of the files and probes, never touching the
/// journal, so a slow disk's fsyncs there never hold up a reservation.
fn checkpoint_loop(files: &Files, todo: &mpsc::Receiver<Work>, writer: &mpsc::Sender<Job>) {
    for work in todo {
        match work {
            Work::Files(texts) => {
                let result = files.write(&texts);
                let kinds = texts.into_iter().map(|(kind, _)| kind).collect();
                let _ = writer.send(Job::Checkpointed { kinds, result });
            }
            Work::Probe(done) => {
                let _ = done.send(files.probe());
            }
            #[cfg(test)]
            Work::Stall(d) => std::thread::sleep(d),
        }
    }
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
        let store = LocalStore::open(dir.path()).unwrap();
        let tasks: Vec<_> = (0..64u8)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.reserve(slot(i), mark(100), None).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().expect("reserved");
        }
        let commits = store.commits();
        assert!(commits < 64, "{commits} journal writes for 64 reservations");
        // A lone reservation is not held back to wait for company.
        let started = std::time::Instant::now();
        store.reserve(slot(0), mark(101), None).await.unwrap();
        assert!(
            started.elapsed() < IDLE_CHECKPOINT,
            "{:?}",
            started.elapsed()
        );
        drop(store);
        let reopened = DataDir::open(dir.path()).unwrap();
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
        let store = LocalStore::open(dir.path()).unwrap();
        store.reserve(slot(1), mark(7), None).await.unwrap();
        let file = dir.path().join("attestation_high_watermarks");
        let deadline = std::time::Instant::now() + IDLE_CHECKPOINT * 10;
        while !std::fs::read_to_string(&file).is_ok_and(|t| t.contains("\"level\": 7")) {
            assert!(std::time::Instant::now() < deadline, "no checkpoint");
            tokio::time::sleep(IDLE_CHECKPOINT / 4).await;
        }
        assert!(dir.path().join(JOURNAL_FILE).exists());
        // A regression is refused by the writer, and the caller hears why.
        let err = store.reserve(slot(1), mark(6), None).await.unwrap_err();
        assert!(matches!(err, StoreError::Regression { .. }), "{err}");
    }

    /// A writer thread that dies is seen: the store says so (liveness), and every later
    /// reservation fails at once instead of waiting.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dead_writer_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
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
        let err = store.reserve(slot(1), mark(1), None).await.unwrap_err();
        assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    }

    /// The end of a store whose last checkpoint answer arrives behind its stop, in one batch
    /// (the checkpointer was on a slow disk, the writer busy): the store still closes, at
    /// once, and keeps every mark. The writer used to drop that answer and wait for it forever.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stop_queued_before_the_last_checkpoint_answer_still_closes_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        // The checkpointer is stuck for 1.5 s when the idle checkpoint is handed to it.
        let _ = store
            .submit(|_| Job::Stall(Duration::from_millis(1500)))
            .await;
        store.reserve(slot(1), mark(1), None).await.unwrap();
        tokio::time::sleep(IDLE_CHECKPOINT * 2).await;
        // The writer is busy until well after the checkpointer answers; the stop queues first.
        let _ = store
            .submit(|_| Job::Pause(Duration::from_millis(2500)))
            .await;
        let (closed, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            drop(store);
            let _ = closed.send(());
        });
        wait.recv_timeout(Duration::from_secs(20))
            .expect("the store closes (its writer waited for an answer it had dropped)");
        let reopened = DataDir::open(dir.path()).unwrap();
        let s = slot(1);
        assert_eq!(
            reopened.get(s.kind, &s.chain, &s.pkh).map(|m| m.level),
            Some(1)
        );
    }

    /// A slow disk: while the checkpointer is stuck in a checkpoint's (or a probe's) fsyncs,
    /// reservations still cost one journal write of their own; the checkpoint and the probe
    /// finish later, and every mark is there after a restart.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_checkpoint_or_probe_never_holds_up_a_reservation() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).unwrap();
        store.reserve(slot(1), mark(1), None).await.unwrap();
        let stall = Duration::from_secs(2);
        let _ = store.submit(|_| Job::Stall(stall)).await;
        // An idle checkpoint and a readiness probe queue up behind the stalled disk.
        tokio::time::sleep(IDLE_CHECKPOINT * 2).await;
        let probing = {
            let store = store.clone();
            tokio::spawn(async move { store.probe().await })
        };
        let started = std::time::Instant::now();
        let mut slowest = Duration::ZERO;
        for level in 2..=30 {
            let one = std::time::Instant::now();
            store.reserve(slot(1), mark(level), None).await.unwrap();
            slowest = slowest.max(one.elapsed());
        }
        assert!(
            started.elapsed() < stall / 2,
            "29 reservations took {:?} behind a stalled checkpoint",
            started.elapsed()
        );
        assert!(slowest < Duration::from_millis(200), "{slowest:?}");
        probing
            .await
            .unwrap()
            .expect("the probe finishes once the disk answers");
        drop(store);
        let reopened = DataDir::open(dir.path()).unwrap();
        let s = slot(1);
        assert_eq!(
            reopened.get(s.kind, &s.chain, &s.pkh).map(|m| m.level),
            Some(30)
        );
    }
}
