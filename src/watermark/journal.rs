//! The reservation journal: `marks.journal` in the data directory, where a new mark becomes
//! durable with one in-place write and one `fdatasync` (about a quarter of the cost of
//! rewriting a watermark file: write a temporary, fsync, rename, fsync the directory).
//!
//! Owns: the journal's layout, its crash semantics and the argument that recovery never loses
//! an acknowledged mark. The octez-format files stay the long-term state: the store writes
//! them (a checkpoint) when the journal fills up, when it has been idle for a moment, at a
//! clean stop and at every open, and only then starts a new generation of the journal.
//!
//! Layout (version 2): two header slots, then [`CAPACITY`] record slots, then a mirror of the
//! record slots. A header holds the generation and the journal's identity (16 random bytes,
//! also kept in `journal.id` beside it); a reset writes the slot not in use, so a torn header
//! write leaves the other. An append writes its records into their slots *and* into the mirror
//! (one `fdatasync` for both); each record carries its generation, its slot index and a
//! checksum. The file is preallocated, so an append changes no metadata.
//!
//! Recovery, and why it loses no acknowledged mark. A mark is acknowledged only after both of
//! its copies were written and `fdatasync` returned; the records of a generation fill slots
//! 0, 1, 2… in order. Reading classifies each copy of each slot: intact and of the current
//! generation at this index, empty, stale (intact, an older generation), or damaged.
//! - A slot with one intact current copy is that record, whatever happened to the other
//!   copy (a single damaged copy is repaired from its mirror, and counted).
//! - The first slot with no intact current copy ends the generation. Every later slot must
//!   hold no current record: one there means an acknowledged record before it was lost, and
//!   the journal is refused. The end slot itself may be damaged in both copies only by a torn
//!   write (a crash during the append that was never acknowledged); an acknowledged record
//!   damaged in both copies would need two independent corruptions of the same record.
//! - A record of a generation newer than the header means the current header is damaged: the
//!   journal is refused rather than read as the older generation.
//! - The identity in the header must be `journal.id`'s: a journal copied from another data
//!   directory is refused. While `journal.id` exists, a missing, empty, truncated or extended
//!   journal is refused (it held marks that may be in no other file).
//!
//! A refused journal is never rewritten: the store writes nothing before the journal was read
//! in full, and read-only commands open it without writing. Version 1 journals (no identity,
//! no mirror, no flags) are read for the upgrade and replaced by a version 2 generation before
//! anything is appended.
//!
//! Must never: report an append before `fdatasync` returned, reset before the files it
//! replaces are durable, or write to a journal that is not the one in the directory.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::data_dir::StoreError;
use super::mark_store::Slot;
use super::rule::Mark;
use crate::tezos::{ChainId, ConsensusKind, Curve, Pkh, Signature, blake2b_256};

/// The journal's file name in the data directory.
pub(crate) const JOURNAL_FILE: &str = "marks.journal";
/// The journal's identity, beside it: while it exists, the journal must too.
pub(crate) const ID_FILE: &str = "journal.id";
/// Records the journal holds before the store must checkpoint.
pub(crate) const CAPACITY: usize = 8192;

const RECORD: usize = 256;
const HEADER_SLOTS: usize = 2;
/// Version 1 records have no flags, no index and no mirror, and its header no identity.
const MAGIC_V1: &[u8; 16] = b"tzaz-journal-v1\0";
const MAGIC: &[u8; 16] = b"tzaz-journal-v2\0";
const VERSION: u8 = 2;

/// The journal's file size in `version`'s layout.
fn file_size(version: u8) -> usize {
    let copies = if version == 1 { 1 } else { 2 };
    (HEADER_SLOTS + copies * CAPACITY) * RECORD
}

/// Where record slot `i` (and its mirror) starts.
fn record_at(i: usize, mirror: bool) -> usize {
    (HEADER_SLOTS + i + if mirror { CAPACITY } else { 0 }) * RECORD
}

/// The journal, open for appending.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    path: PathBuf,
    /// (device, inode) of the file opened: every write first checks the directory still
    /// names it.
    inode: (u64, u64),
    id: [u8; 16],
    generation: u64,
    /// The record layout of `generation` (1 or 2).
    version: u8,
    /// Which header slot holds `generation`.
    slot: usize,
    /// Records in the current generation.
    len: usize,
}

/// What reading a journal found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Recovery {
    /// The current generation's marks, oldest first.
    pub marks: Vec<(Slot, Mark)>,
    /// Records with one damaged (or missing) copy, read from the other.
    pub repaired: usize,
    /// Whether the generation ends with a record damaged in both copies: a torn append that
    /// was never acknowledged.
    pub torn_tail: bool,
}

/// A journal read in full (its header and its records).
struct Loaded {
    id: Option<[u8; 16]>,
    generation: u64,
    version: u8,
    slot: usize,
    recovery: Recovery,
}

impl Journal {
    /// Opens the journal in `dir` (creating and preallocating it, with a new identity, when
    /// the directory never had one), reads it in full (refusing it as the module doc says),
    /// and returns it with what it held.
    pub(crate) fn open(dir: &Path) -> Result<(Journal, Recovery), StoreError> {
        let path = dir.join(JOURNAL_FILE);
        let expected = read_id(dir)?;
        let file = match open_file(&path, Access::Write)? {
            Some(file) => file,
            None if expected.is_some() => return Err(missing(&path)),
            None => return Journal::create(dir, path),
        };
        let meta = file.metadata().map_err(io_at("stat", &path))?;
        if meta.len() == 0 {
            if expected.is_some() {
                return Err(damaged(&path, "it is empty".into()));
            }
            drop(file);
            return Journal::create(dir, path);
        }
        let loaded = load(&file, &path, meta.len(), expected)?;
        let id = match loaded.id {
            Some(id) => id,
            // Version 1: the identity the next generation's header will carry.
            None => expected.unwrap_or_else(new_id),
        };
        if loaded.version != VERSION {
            preallocate(&file, file_size(VERSION)).map_err(io_at("preallocate", &path))?;
        }
        if expected.is_none() {
            write_id(dir, &id)?;
        }
        let journal = Journal {
            inode: (meta.dev(), meta.ino()),
            file,
            path,
            id,
            generation: loaded.generation,
            version: loaded.version,
            slot: loaded.slot,
            len: loaded.recovery.marks.len(),
        };
        Ok((journal, loaded.recovery))
    }

    /// Reads the journal in `dir` without writing anything (read-only commands): the marks
    /// it holds, refused as [`Journal::open`] would. No journal and no identity: nothing.
    pub(crate) fn read(dir: &Path) -> Result<Recovery, StoreError> {
        let path = dir.join(JOURNAL_FILE);
        let expected = read_id(dir)?;
        let Some(file) = open_file(&path, Access::Read)? else {
            return match expected {
                Some(_) => Err(missing(&path)),
                None => Ok(Recovery::default()),
            };
        };
        let len = file.metadata().map_err(io_at("stat", &path))?.len();
        if len == 0 {
            return match expected {
                Some(_) => Err(damaged(&path, "it is empty".into())),
                None => Ok(Recovery::default()),
            };
        }
        Ok(load(&file, &path, len, expected)?.recovery)
    }

    /// A new journal: preallocated (appends then change no metadata), generation 1 under a
    /// new identity, durable with its directory entry, then the identity beside it.
    fn create(dir: &Path, path: PathBuf) -> Result<(Journal, Recovery), StoreError> {
        let file = open_file(&path, Access::Create)?.ok_or_else(|| missing(&path))?;
        let id = new_id();
        preallocate(&file, file_size(VERSION)).map_err(io_at("preallocate", &path))?;
        file.write_all_at(&header(1, &id), 0)
            .map_err(io_at("write", &path))?;
        file.sync_all().map_err(io_at("fsync", &path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_at("fsync the directory of", &path))?;
        write_id(dir, &id)?;
        let meta = file.metadata().map_err(io_at("stat", &path))?;
        let journal = Journal {
            inode: (meta.dev(), meta.ino()),
            file,
            path,
            id,
            generation: 1,
            version: VERSION,
            slot: 0,
            len: 0,
        };
        Ok((journal, Recovery::default()))
    }

    /// Records in the current generation.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the journal is in this version's layout (an older one is read, then reset
    /// before anything is appended).
    pub(crate) fn is_current(&self) -> bool {
        self.version == VERSION
    }

    /// Room for `n` more records (never in an older layout: reset it first).
    pub(crate) fn has_room(&self, n: usize) -> bool {
        self.version == VERSION && self.len + n <= CAPACITY
    }

    /// Appends `marks` into their slots and the mirror, with one `fdatasync`; durable when it
    /// returns. The caller checks [`Journal::has_room`] first.
    pub(crate) fn append(&mut self, marks: &[(Slot, Mark)]) -> Result<(), StoreError> {
        assert!(self.has_room(marks.len()), "journal append without room");
        self.still_ours()?;
        let mut buf = Vec::with_capacity(marks.len() * RECORD);
        for (i, (slot, mark)) in marks.iter().enumerate() {
            let index = (self.len + i) as u32;
            buf.extend_from_slice(&encode_record(self.generation, index, slot, mark));
        }
        for mirror in [false, true] {
            self.file
                .write_all_at(&buf, record_at(self.len, mirror) as u64)
                .map_err(|source| self.io("write", source))?;
        }
        self.file
            .sync_data()
            .map_err(|source| self.io("fdatasync", source))?;
        self.len += marks.len();
        Ok(())
    }

    /// Starts a new, empty generation (after a checkpoint made every record redundant).
    pub(crate) fn reset(&mut self) -> Result<(), StoreError> {
        self.still_ours()?;
        if self.version != VERSION {
            // Version 1's records, in another layout, would read as damaged copies: clear them
            // (the files hold every mark before a reset).
            let records = record_at(0, false);
            self.file
                .write_all_at(&vec![0u8; file_size(VERSION) - records], records as u64)
                .map_err(|source| self.io("write", source))?;
        }
        let next = (self.slot + 1) % HEADER_SLOTS;
        let generation = self.generation + 1;
        self.file
            .write_all_at(&header(generation, &self.id), (next * RECORD) as u64)
            .map_err(|source| self.io("write", source))?;
        self.file
            .sync_data()
            .map_err(|source| self.io("fdatasync", source))?;
        self.generation = generation;
        self.version = VERSION;
        self.slot = next;
        self.len = 0;
        Ok(())
    }

    /// Whether the directory still names the journal this store writes (deleted, renamed
    /// away or replaced under a running signer, its writes would reach no file a restart
    /// reads): checked before every write, and by the readiness probe.
    pub(crate) fn still_ours(&self) -> Result<(), StoreError> {
        self.watch().check()
    }

    /// What [`Journal::still_ours`] checks, for another thread (the readiness probe).
    pub(crate) fn watch(&self) -> JournalWatch {
        JournalWatch {
            path: self.path.clone(),
            inode: self.inode,
        }
    }

    fn io(&self, op: &'static str, source: io::Error) -> StoreError {
        StoreError::Io {
            op,
            path: self.path.clone(),
            source,
        }
    }
}

/// The journal's path and the (device, inode) it must still name.
#[derive(Debug, Clone)]
pub(crate) struct JournalWatch {
    path: PathBuf,
    inode: (u64, u64),
}

impl JournalWatch {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == self.inode => Ok(()),
            _ => Err(StoreError::JournalReplaced {
                path: self.path.clone(),
            }),
        }
    }
}

fn io_at<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn damaged(path: &Path, reason: String) -> StoreError {
    StoreError::JournalDamaged {
        path: path.to_path_buf(),
        reason,
    }
}

fn missing(path: &Path) -> StoreError {
    damaged(
        path,
        format!("it is missing, although {ID_FILE} says this directory had one"),
    )
}

/// How [`open_file`] opens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
    /// Write, creating the file if it is missing.
    Create,
}

/// The file at `path`, if it exists (or was created): a regular file, never through a link.
fn open_file(path: &Path, access: Access) -> Result<Option<File>, StoreError> {
    let opened = OpenOptions::new()
        .read(true)
        .write(access != Access::Read)
        .create(access == Access::Create)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(StoreError::NotARegularFile {
                path: path.to_path_buf(),
                what: "a symbolic link",
            });
        }
        Err(e) => return Err(io_at("open", path)(e)),
    };
    if !file.metadata().map_err(io_at("stat", path))?.is_file() {
        return Err(StoreError::NotARegularFile {
            path: path.to_path_buf(),
            what: "not a regular file",
        });
    }
    Ok(Some(file))
}

fn new_id() -> [u8; 16] {
    use rand_core::RngCore;
    let mut id = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut id);
    id
}

/// The identity `journal.id` holds (32 hex digits), if the file exists.
fn read_id(dir: &Path) -> Result<Option<[u8; 16]>, StoreError> {
    let path = dir.join(ID_FILE);
    let Some(file) = open_file(&path, Access::Read)? else {
        return Ok(None);
    };
    let mut text = [0u8; 64];
    let n = file.read_at(&mut text, 0).map_err(io_at("read", &path))?;
    let mut id = [0u8; 16];
    let digits = std::str::from_utf8(&text[..n]).unwrap_or("").trim();
    if digits.len() != 32 || hex::decode_to_slice(digits, &mut id).is_err() {
        return Err(StoreError::Corrupt {
            path,
            reason: "expected the journal's identity, 32 hex digits".into(),
        });
    }
    Ok(Some(id))
}

fn write_id(dir: &Path, id: &[u8; 16]) -> Result<(), StoreError> {
    let text = format!("{}\n", hex::encode(id));
    crate::private_fs::write_durably(dir, ID_FILE, text.as_bytes(), 0o600)?;
    Ok(())
}

/// Reads a whole journal of `len` bytes and recovers its current generation, or refuses it.
fn load(
    file: &File,
    path: &Path,
    len: u64,
    expected: Option<[u8; 16]>,
) -> Result<Loaded, StoreError> {
    let mut heads = [0u8; HEADER_SLOTS * RECORD];
    file.read_exact_at(&mut heads, 0)
        .map_err(|_| damaged(path, format!("it is {len} bytes, shorter than its headers")))?;
    let (slot, (generation, version, id)) = (0..HEADER_SLOTS)
        .filter_map(|i| parse_header(&heads[i * RECORD..(i + 1) * RECORD]).map(|h| (i, h)))
        .max_by_key(|(_, (g, _, _))| *g)
        .ok_or_else(|| damaged(path, "neither header is valid".into()))?;
    // A version 1 file may already be grown for its upgrade (a crash before the reset).
    let upgrading = version == 1 && len == file_size(VERSION) as u64;
    if len != file_size(version) as u64 && !upgrading {
        return Err(damaged(
            path,
            format!(
                "it is {len} bytes, not the {} of its layout (truncated or overwritten)",
                file_size(version)
            ),
        ));
    }
    if let (Some(want), Some(have)) = (expected, id)
        && want != have
    {
        return Err(damaged(
            path,
            format!(
                "it belongs to another data directory (identity {}, {ID_FILE} says {})",
                hex::encode(have),
                hex::encode(want)
            ),
        ));
    }
    let mut bytes = vec![0u8; file_size(version)];
    file.read_exact_at(&mut bytes, 0)
        .map_err(io_at("read", path))?;
    let recovery = if version == 1 {
        recover_v1(&bytes, generation, path)?
    } else {
        recover(&bytes, generation, path)?
    };
    Ok(Loaded {
        id,
        generation,
        version,
        slot,
        recovery,
    })
}

/// One copy of a record slot, as read.
enum Copy {
    Current(Slot, Mark),
    Empty,
    Stale,
    Newer(u64),
    Damaged,
}

fn classify(r: &[u8], generation: u64, index: usize, path: &Path) -> Result<Copy, StoreError> {
    // One comparison with a zeroed record (memcmp), not a loop over bytes: every open reads
    // all of the preallocated journal, and debug builds (the tests) would crawl.
    if r == [0u8; RECORD] {
        return Ok(Copy::Empty);
    }
    let summed = summed(VERSION);
    if r[summed..summed + 8] != checksum(&r[..summed]) {
        return Ok(Copy::Damaged);
    }
    let of = u64::from_le_bytes(r[..8].try_into().expect("8 bytes"));
    if of < generation {
        return Ok(Copy::Stale);
    }
    if of > generation {
        return Ok(Copy::Newer(of));
    }
    if u32::from_le_bytes(r[INDEX..INDEX + 4].try_into().expect("4 bytes")) as usize != index {
        return Ok(Copy::Damaged);
    }
    match decode_record(r, VERSION) {
        Ok((slot, mark)) => Ok(Copy::Current(slot, mark)),
        Err(reason) => Err(damaged(path, format!("record {index}: {reason}"))),
    }
}

/// The module doc's recovery of a version 2 generation.
fn recover(bytes: &[u8], generation: u64, path: &Path) -> Result<Recovery, StoreError> {
    let mut out = Recovery::default();
    let mut end: Option<usize> = None;
    for i in 0..CAPACITY {
        let copy = |mirror| {
            let at = record_at(i, mirror);
            classify(&bytes[at..at + RECORD], generation, i, path)
        };
        let (first, second) = (copy(false)?, copy(true)?);
        for c in [&first, &second] {
            if let Copy::Newer(g) = c {
                return Err(damaged(
                    path,
                    format!(
                        "record {i} is of generation {g}, newer than its header's {generation}: \
                         the current header is damaged"
                    ),
                ));
            }
        }
        let current = match (first, second) {
            (Copy::Current(s, a), Copy::Current(t, b)) if (s, &a) != (t, &b) => {
                return Err(damaged(
                    path,
                    format!("the two copies of record {i} differ"),
                ));
            }
            (Copy::Current(s, m), Copy::Current(..)) => Some(((s, m), false)),
            (Copy::Current(s, m), _) | (_, Copy::Current(s, m)) => Some(((s, m), true)),
            (a, b) => {
                if end.is_none() {
                    out.torn_tail = matches!(a, Copy::Damaged) || matches!(b, Copy::Damaged);
                }
                None
            }
        };
        match (current, end) {
            (Some((record, repaired)), None) => {
                out.marks.push(record);
                out.repaired += usize::from(repaired);
            }
            (Some(_), Some(at)) => {
                return Err(damaged(
                    path,
                    format!(
                        "record {i} is intact but record {at} before it is damaged in both \
                         copies: an acknowledged mark is lost"
                    ),
                ));
            }
            (None, None) => end = Some(i),
            (None, Some(_)) => {}
        }
    }
    Ok(out)
}

/// A version 1 generation, read as that version did (for the upgrade): up to the first
/// record that is not intact.
fn recover_v1(bytes: &[u8], generation: u64, path: &Path) -> Result<Recovery, StoreError> {
    let mut out = Recovery::default();
    for i in 0..CAPACITY {
        let r = &bytes[record_at(i, false)..record_at(i, false) + RECORD];
        let summed = summed(1);
        if r[summed..summed + 8] != checksum(&r[..summed]) || r[..8] != generation.to_le_bytes() {
            break;
        }
        let record =
            decode_record(r, 1).map_err(|reason| damaged(path, format!("record {i}: {reason}")))?;
        out.marks.push(record);
    }
    Ok(out)
}

fn preallocate(file: &File, size: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY-free: posix_fallocate only reads its integer arguments.
    let rc = unsafe_free_fallocate(file.as_raw_fd(), size as libc::off_t);
    if rc == 0 {
        return Ok(());
    }
    // Filesystems without fallocate (some tmpfs/overlay setups): zero-fill instead.
    if rc == libc::EOPNOTSUPP || rc == libc::EINVAL {
        let len = file.metadata()?.len() as usize;
        if len < size {
            file.write_all_at(&vec![0u8; size - len], len as u64)?;
        }
        return Ok(());
    }
    Err(io::Error::from_raw_os_error(rc))
}

#[allow(unsafe_code)]
fn unsafe_free_fallocate(fd: libc::c_int, size: libc::off_t) -> libc::c_int {
    // SAFETY: `fd` is an open file descriptor owned by the caller for the whole call; the
    // call takes no pointers.
    unsafe { libc::posix_fallocate(fd, 0, size) }
}

fn checksum(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&blake2b_256(bytes)[..8]);
    out
}

/// `magic(16) generation(8) identity(16) checksum(8)` (version 1: no identity, the checksum
/// at 24).
fn header(generation: u64, id: &[u8; 16]) -> [u8; RECORD] {
    let mut h = [0u8; RECORD];
    h[..16].copy_from_slice(MAGIC);
    h[16..24].copy_from_slice(&generation.to_le_bytes());
    h[24..40].copy_from_slice(id);
    let sum = checksum(&h[..40]);
    h[40..48].copy_from_slice(&sum);
    h
}

/// The generation, layout version and identity (none in version 1) a header slot holds.
fn parse_header(h: &[u8]) -> Option<(u64, u8, Option<[u8; 16]>)> {
    let generation = u64::from_le_bytes(h[16..24].try_into().ok()?);
    match &h[..16] {
        m if m == MAGIC && h[40..48] == checksum(&h[..40]) => {
            Some((generation, VERSION, Some(h[24..40].try_into().ok()?)))
        }
        m if m == MAGIC_V1 && h[24..32] == checksum(&h[..24]) => Some((generation, 1, None)),
        _ => None,
    }
}

fn kind_byte(kind: ConsensusKind) -> u8 {
    match kind {
        ConsensusKind::Block => 0,
        ConsensusKind::Preattestation => 1,
        ConsensusKind::Attestation => 2,
        ConsensusKind::Endorsement => 3,
    }
}

/// `generation(8) kind(1) chain(4) pkh(21) level(4) has_round(1) round(4) hash(32)
/// signature_tag(1) signature(64) flags(1) index(4) checksum(8)`, zero-padded to 256 bytes.
/// The signature tag: 0 none, 1 generic, 2 secp256k1, 3 P-256, 4 Ed25519. Flags: bit 0,
/// [`Mark::unreleased`]. `index`: the record's slot. (Version 1: no flags, no index, the
/// checksum at 140.)
fn encode_record(generation: u64, index: u32, slot: &Slot, mark: &Mark) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    r[..8].copy_from_slice(&generation.to_le_bytes());
    r[8] = kind_byte(slot.kind);
    r[9..13].copy_from_slice(&slot.chain.0);
    r[13..34].copy_from_slice(&slot.pkh.to_tagged_bytes());
    r[34..38].copy_from_slice(&mark.level.to_le_bytes());
    r[38] = u8::from(mark.round.is_some());
    r[39..43].copy_from_slice(&mark.round.unwrap_or(0).to_le_bytes());
    r[43..75].copy_from_slice(&mark.hash);
    if let Some(sig) = &mark.signature {
        r[75] = match sig.curve() {
            None => 1,
            Some(Curve::Secp256k1) => 2,
            Some(Curve::P256) => 3,
            Some(Curve::Ed25519) => 4,
        };
        r[76..140].copy_from_slice(sig.raw());
    }
    r[FLAGS] = u8::from(mark.unreleased && mark.signature.is_none());
    r[INDEX..INDEX + 4].copy_from_slice(&index.to_le_bytes());
    let sum = checksum(&r[..summed(VERSION)]);
    r[summed(VERSION)..summed(VERSION) + 8].copy_from_slice(&sum);
    r
}

/// Where a version 2 record keeps its flags, and its slot index.
const FLAGS: usize = 140;
const INDEX: usize = 141;

/// The bytes a record's checksum covers (it follows them).
fn summed(version: u8) -> usize {
    if version == 1 { 140 } else { 145 }
}

/// The mark of an intact record (checksum and generation already checked); an error for one
/// this code never writes.
fn decode_record(r: &[u8], version: u8) -> Result<(Slot, Mark), String> {
    let flags = if version == 1 { 0 } else { r[FLAGS] };
    if flags > 1 {
        return Err(format!("unknown flags {flags:#04x}"));
    }
    let int = |at: usize| i32::from_le_bytes(r[at..at + 4].try_into().expect("4 bytes"));
    let kind = match r[8] {
        0 => ConsensusKind::Block,
        1 => ConsensusKind::Preattestation,
        2 => ConsensusKind::Attestation,
        3 => ConsensusKind::Endorsement,
        k => return Err(format!("unknown kind {k}")),
    };
    let chain = ChainId(r[9..13].try_into().expect("4 bytes"));
    let Some(pkh) = Pkh::from_tagged_bytes(r[13..34].try_into().expect("21 bytes")) else {
        return Err(format!("unknown key tag {}", r[13]));
    };
    let curve = match r[75] {
        0 | 1 => None,
        2 => Some(Curve::Secp256k1),
        3 => Some(Curve::P256),
        4 => Some(Curve::Ed25519),
        t => return Err(format!("unknown signature tag {t}")),
    };
    let signature =
        (r[75] != 0).then(|| Signature::from_raw(curve, r[76..140].try_into().expect("64 bytes")));
    let mark = Mark {
        level: int(34),
        round: (r[38] == 1).then(|| int(39)),
        hash: r[43..75].try_into().expect("32 bytes"),
        unreleased: flags & 1 == 1 && signature.is_none() && kind == ConsensusKind::Block,
        signature,
    };
    mark.validate_for(kind).map_err(|e| e.to_string())?;
    Ok((Slot { kind, chain, pkh }, mark))
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
