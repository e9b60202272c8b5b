//! The reservation journal: `marks.journal` in the data directory, where a new mark becomes
//! durable with one in-place write and one `fdatasync` (about a quarter of the cost of
//! rewriting a watermark file: write a temporary, fsync, rename, fsync the directory).
//!
//! Owns: the journal's layout and its crash semantics. The file is preallocated, so an append
//! changes no file metadata. Two header slots hold the current generation (a reset writes the
//! slot not in use, so a torn header write leaves the other intact); records carry their
//! generation and a checksum, and reading stops at the first record that is torn, stale (an
//! older generation) or empty. A record that was not completely written was never
//! acknowledged, so no signature depends on it. The octez-format files stay the long-term
//! state: the store writes them (a checkpoint) when the journal fills up, when it has been
//! idle for a moment, at a clean stop and at every open, and only then resets the journal.
//! Must never: report an append before `fdatasync` returned, or reset before the files it
//! replaces are durable.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::rule::Mark;
use super::seam::Slot;
use super::store::StoreError;
use crate::tezos::{ChainId, ConsensusKind, Curve, Pkh, Signature, blake2b_256};

/// The journal's file name in the data directory.
pub const JOURNAL_FILE: &str = "marks.journal";
/// Records the journal holds before the store must checkpoint.
pub const CAPACITY: usize = 8192;

const RECORD: usize = 256;
const HEADER_SLOTS: usize = 2;
/// Version 1 records have no flags; version 2 adds one flag byte (see [`encode_record`]).
/// Version 1 journals are read (their unsigned block reservations prove nothing: that version
/// recorded block signatures after the reply) and replaced by a version 2 generation before
/// anything is appended.
const MAGIC_V1: &[u8; 16] = b"tzaz-journal-v1\0";
const MAGIC: &[u8; 16] = b"tzaz-journal-v2\0";
const VERSION: u8 = 2;

/// The journal, open for appending.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    generation: u64,
    /// The record layout of `generation` (1 or 2).
    version: u8,
    /// Which header slot holds `generation`.
    slot: usize,
    /// Records in the current generation.
    len: usize,
}

impl Journal {
    /// Opens (creating and preallocating it if missing) the journal in `dir`, and returns it
    /// with the marks it holds, oldest first.
    pub fn open(dir: &Path) -> Result<(Journal, Vec<(Slot, Mark)>), StoreError> {
        let path = dir.join(JOURNAL_FILE);
        let io = |op| {
            let path = path.clone();
            move |source| StoreError::Io { op, path, source }
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => StoreError::NotARegularFile {
                    path: path.clone(),
                    what: "a symbolic link",
                },
                _ => StoreError::Io {
                    op: "open",
                    path: path.clone(),
                    source: e,
                },
            })?;
        let meta = file.metadata().map_err(io("stat"))?;
        if !meta.is_file() {
            return Err(StoreError::NotARegularFile {
                path,
                what: "not a regular file",
            });
        }
        let size = (HEADER_SLOTS + CAPACITY) * RECORD;
        if meta.len() == 0 {
            // New: preallocate (appends then change no metadata), write generation 1, make
            // the file and its directory entry durable.
            preallocate(&file, size).map_err(io("preallocate"))?;
            file.write_all_at(&header(1), 0).map_err(io("write"))?;
            file.sync_all().map_err(io("fsync"))?;
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io("fsync the directory of"))?;
        } else if (meta.len() as usize) < size {
            preallocate(&file, size).map_err(io("preallocate"))?;
        }
        let mut bytes = vec![0u8; size];
        read_at_most(&file, &mut bytes).map_err(io("read"))?;
        let headers: Vec<Option<(u64, u8)>> = (0..HEADER_SLOTS)
            .map(|i| parse_header(&bytes[i * RECORD..(i + 1) * RECORD]))
            .collect();
        let (slot, (generation, version)) = headers
            .iter()
            .enumerate()
            .filter_map(|(i, g)| g.map(|g| (i, g)))
            .max_by_key(|(_, (g, _))| *g)
            .ok_or_else(|| StoreError::Corrupt {
                path: path.clone(),
                reason: "neither journal header is valid".into(),
            })?;
        let mut marks = Vec::new();
        for i in 0..CAPACITY {
            let at = (HEADER_SLOTS + i) * RECORD;
            match parse_record(&bytes[at..at + RECORD], generation, version) {
                Some(Ok(m)) => marks.push(m),
                Some(Err(reason)) => {
                    return Err(StoreError::Corrupt {
                        path: path.clone(),
                        reason: format!("record {i}: {reason}"),
                    });
                }
                None => break,
            }
        }
        let len = marks.len();
        Ok((
            Journal {
                file,
                path,
                generation,
                version,
                slot,
                len,
            },
            marks,
        ))
    }

    /// Records in the current generation.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the journal is in this version's layout (an older one is read, then reset
    /// before anything is appended).
    pub fn is_current(&self) -> bool {
        self.version == VERSION
    }

    /// Room for `n` more records (never in an older layout: reset it first).
    pub fn has_room(&self, n: usize) -> bool {
        self.version == VERSION && self.len + n <= CAPACITY
    }

    /// Appends `marks` with one write and one `fdatasync`; durable when it returns. The
    /// caller checks [`Journal::has_room`] first.
    pub fn append(&mut self, marks: &[(Slot, Mark)]) -> Result<(), StoreError> {
        assert!(self.has_room(marks.len()), "journal append without room");
        let mut buf = Vec::with_capacity(marks.len() * RECORD);
        for (slot, mark) in marks {
            buf.extend_from_slice(&encode_record(self.generation, slot, mark));
        }
        let at = ((HEADER_SLOTS + self.len) * RECORD) as u64;
        self.file
            .write_all_at(&buf, at)
            .map_err(|source| self.io("write", source))?;
        self.file
            .sync_data()
            .map_err(|source| self.io("fdatasync", source))?;
        self.len += marks.len();
        Ok(())
    }

    /// Starts a new, empty generation (after a checkpoint made every record redundant).
    pub fn reset(&mut self) -> Result<(), StoreError> {
        let next = (self.slot + 1) % HEADER_SLOTS;
        let generation = self.generation + 1;
        self.file
            .write_all_at(&header(generation), (next * RECORD) as u64)
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

    fn io(&self, op: &'static str, source: io::Error) -> StoreError {
        StoreError::Io {
            op,
            path: self.path.clone(),
            source,
        }
    }
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

fn read_at_most(file: &File, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    Ok(())
}

fn checksum(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&blake2b_256(bytes)[..8]);
    out
}

fn header(generation: u64) -> [u8; RECORD] {
    let mut h = [0u8; RECORD];
    h[..16].copy_from_slice(MAGIC);
    h[16..24].copy_from_slice(&generation.to_le_bytes());
    let sum = checksum(&h[..24]);
    h[24..32].copy_from_slice(&sum);
    h
}

/// The generation and layout version a header slot holds.
fn parse_header(h: &[u8]) -> Option<(u64, u8)> {
    let version = match &h[..16] {
        m if m == MAGIC => VERSION,
        m if m == MAGIC_V1 => 1,
        _ => return None,
    };
    if h[24..32] != checksum(&h[..24]) {
        return None;
    }
    Some((u64::from_le_bytes(h[16..24].try_into().ok()?), version))
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
/// signature_tag(1) signature(64) flags(1) checksum(8)`, zero-padded to 256 bytes. The
/// signature tag: 0 none, 1 generic, 2 secp256k1, 3 P-256, 4 Ed25519. Flags: bit 0,
/// [`Mark::unreleased`]. (Version 1: no flags byte, the checksum at 140.)
fn encode_record(generation: u64, slot: &Slot, mark: &Mark) -> [u8; RECORD] {
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
    let sum = checksum(&r[..summed(VERSION)]);
    r[summed(VERSION)..summed(VERSION) + 8].copy_from_slice(&sum);
    r
}

/// Where a version 2 record keeps its flags.
const FLAGS: usize = 140;

/// The bytes a record's checksum covers (it follows them).
fn summed(version: u8) -> usize {
    if version == 1 { 140 } else { 141 }
}

/// `None`: the end of the generation (empty, torn or stale). `Some(Err)`: a record with a
/// valid checksum that cannot be a mark (never written by this code).
fn parse_record(r: &[u8], generation: u64, version: u8) -> Option<Result<(Slot, Mark), String>> {
    let summed = summed(version);
    if r[summed..summed + 8] != checksum(&r[..summed]) || r[..8] != generation.to_le_bytes() {
        return None;
    }
    let flags = if version == 1 { 0 } else { r[FLAGS] };
    if flags > 1 {
        return Some(Err(format!("unknown flags {flags:#04x}")));
    }
    let int = |at: usize| i32::from_le_bytes(r[at..at + 4].try_into().expect("4 bytes"));
    let kind = match r[8] {
        0 => ConsensusKind::Block,
        1 => ConsensusKind::Preattestation,
        2 => ConsensusKind::Attestation,
        3 => ConsensusKind::Endorsement,
        k => return Some(Err(format!("unknown kind {k}"))),
    };
    let chain = ChainId(r[9..13].try_into().expect("4 bytes"));
    let Some(pkh) = Pkh::from_tagged_bytes(r[13..34].try_into().expect("21 bytes")) else {
        return Some(Err(format!("unknown key tag {}", r[13])));
    };
    let curve = match r[75] {
        0 | 1 => None,
        2 => Some(Curve::Secp256k1),
        3 => Some(Curve::P256),
        4 => Some(Curve::Ed25519),
        t => return Some(Err(format!("unknown signature tag {t}"))),
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
    if let Err(e) = mark.validate_for(kind) {
        return Some(Err(e.to_string()));
    }
    Some(Ok((Slot { kind, chain, pkh }, mark)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(kind: ConsensusKind) -> Slot {
        Slot {
            kind,
            chain: "NetXdQprcVkpaWU".parse().unwrap(),
            pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().unwrap(),
        }
    }

    fn mark(level: i32, round: Option<i32>) -> Mark {
        Mark {
            level,
            round,
            hash: [level as u8; 32],
            signature: None,
            unreleased: false,
        }
    }

    #[test]
    fn appends_read_back_in_order_and_a_reset_empties_it() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, marks) = Journal::open(dir.path()).unwrap();
        assert!(marks.is_empty());
        let written = vec![
            (slot(ConsensusKind::Attestation), mark(10, Some(2))),
            (slot(ConsensusKind::Endorsement), mark(11, None)),
        ];
        j.append(&written[..1]).unwrap();
        j.append(&written[1..]).unwrap();
        drop(j);
        let (mut j, marks) = Journal::open(dir.path()).unwrap();
        assert_eq!(marks, written);
        assert_eq!(j.len(), 2);
        j.reset().unwrap();
        j.append(&[(slot(ConsensusKind::Block), mark(12, Some(0)))])
            .unwrap();
        drop(j);
        let (j, marks) = Journal::open(dir.path()).unwrap();
        assert_eq!(marks, vec![(slot(ConsensusKind::Block), mark(12, Some(0)))]);
        assert_eq!(j.generation, 2);
    }

    /// A crash mid-write: a torn record ends the journal there (it was never acknowledged);
    /// a torn header falls back to the other slot.
    #[test]
    fn torn_writes_end_the_journal_or_fall_back_to_the_other_header() {
        let dir = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(dir.path()).unwrap();
        let marks: Vec<_> = (1..=3)
            .map(|l| (slot(ConsensusKind::Attestation), mark(l, Some(0))))
            .collect();
        j.append(&marks).unwrap();
        drop(j);
        let path = dir.path().join(JOURNAL_FILE);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        // Tear the second record.
        file.write_all_at(&[0xff; 7], (3 * RECORD + 40) as u64)
            .unwrap();
        let (mut j, read) = Journal::open(dir.path()).unwrap();
        assert_eq!(read, marks[..1]);
        assert_eq!(j.len(), 1);
        // A reset whose header write is torn: generation 1's slot still stands.
        j.reset().unwrap();
        file.write_all_at(&[0xff; 5], (RECORD + 18) as u64).unwrap();
        let (j, read) = Journal::open(dir.path()).unwrap();
        assert_eq!(j.generation, 1);
        assert_eq!(read, marks[..1]);
        // Both headers gone: refuse to guess.
        file.write_all_at(&[0xff; 5], 18).unwrap();
        drop(j);
        assert!(matches!(
            Journal::open(dir.path()),
            Err(StoreError::Corrupt { .. })
        ));
    }

    /// The unreleased proof of a block reservation survives the journal; a version 1 journal
    /// (whose block reservations may have been released: that version recorded block
    /// signatures after the reply) is read without it, and replaced before any append.
    #[test]
    fn the_unreleased_proof_is_kept_and_an_older_journal_never_claims_it() {
        let dir = tempfile::tempdir().unwrap();
        let reservation = Mark {
            unreleased: true,
            ..mark(20, Some(1))
        };
        let (mut j, _) = Journal::open(dir.path()).unwrap();
        j.append(&[(slot(ConsensusKind::Block), reservation.clone())])
            .unwrap();
        drop(j);
        let (_, read) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            read,
            vec![(slot(ConsensusKind::Block), reservation.clone())]
        );

        // The same record in version 1's layout, under a version 1 header.
        let mut v1 = encode_record(1, &slot(ConsensusKind::Block), &reservation);
        v1[FLAGS..].fill(0);
        let sum = checksum(&v1[..140]);
        v1[140..148].copy_from_slice(&sum);
        let mut head = header(1);
        head[..16].copy_from_slice(MAGIC_V1);
        let sum = checksum(&head[..24]);
        head[24..32].copy_from_slice(&sum);
        let path = dir.path().join(JOURNAL_FILE);
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(&head, 0).unwrap();
        file.write_all_at(&[0; RECORD], RECORD as u64).unwrap();
        file.write_all_at(&v1, (2 * RECORD) as u64).unwrap();
        let (mut j, read) = Journal::open(dir.path()).unwrap();
        assert_eq!(
            read,
            vec![(slot(ConsensusKind::Block), mark(20, Some(1)))],
            "read, without the proof"
        );
        assert!(
            !j.is_current() && !j.has_room(1),
            "no append into version 1"
        );
        j.reset().unwrap();
        assert!(j.is_current() && j.has_room(1));
    }

    #[test]
    fn a_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/tmp/elsewhere", dir.path().join(JOURNAL_FILE)).unwrap();
        assert!(matches!(
            Journal::open(dir.path()),
            Err(StoreError::NotARegularFile { .. })
        ));
    }
}
