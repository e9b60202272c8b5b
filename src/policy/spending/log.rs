//! The local spending log, `spending.log` in the data directory: a header line, then one
//! line per counted spend (`<unix seconds> <pkh> <mutez>`), appended and fdatasynced before
//! the vault is asked. A request costs one append (O(1)); the file is rewritten without the
//! expired entries only when they outnumber the live ones (and at start), so it grows with
//! spends, not with requests.
//!
//! Owns: the file and its recovery rules. A last line without its newline is a torn append
//! whose signature was never released (the append returns before anything is signed): it is
//! dropped. Anything else unreadable, a missing header, or entries absurdly far ahead of the
//! clock stop the signer with the file's name. Must never: follow a link, or count a spend
//! in memory that is not on disk.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::SpendingError;
use super::window::{MAX_AHEAD_SECS, Window, wall_clock};
use crate::tezos::Pkh;

/// The file name in the data directory.
pub(crate) const FILE: &str = "spending.log";
/// The first version's file (JSON, rewritten whole per request): read once, then replaced.
pub(crate) const OLD_FILE: &str = "spending_24h.json";
const HEADER: &str = "tezos-azure-signer spending log v2";

/// The log of one data directory, open for appending.
#[derive(Debug)]
pub(super) struct SpendLog {
    dir: PathBuf,
    file: File,
    windows: BTreeMap<Pkh, Window>,
    /// The ledger's clock: never behind its newest entry.
    newest: u64,
    /// Lines in the file (entries, expired ones included).
    lines: usize,
}

/// How the log was found at start, for the start-up log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Existing,
    Created,
    Migrated,
}

impl SpendLog {
    /// Opens (or creates) the log of `dir`. A missing log is created only when `may_create`
    /// (the caller decides whether its absence could hide spent budget).
    pub(super) fn open(dir: &Path, may_create: bool) -> Result<(SpendLog, Found), SpendingError> {
        let path = dir.join(FILE);
        let unreadable = |reason: String| SpendingError::Unreadable {
            path: path.clone(),
            reason,
        };
        let (windows, found, torn) = match std::fs::symlink_metadata(&path) {
            Ok(m) if !m.file_type().is_file() => {
                return Err(unreadable("not a regular file (a link?)".into()));
            }
            Ok(_) => {
                let text = std::fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
                let (windows, torn) = parse(&text).map_err(unreadable)?;
                (windows, Found::Existing, torn)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match read_old(dir)? {
                Some(windows) => (windows, Found::Migrated, false),
                None if may_create => (BTreeMap::new(), Found::Created, false),
                None => return Err(SpendingError::Missing { path }),
            },
            Err(e) => return Err(unreadable(e.to_string())),
        };
        let newest = windows
            .values()
            .filter_map(Window::newest)
            .max()
            .unwrap_or(0);
        let now = wall_clock();
        if newest > now.saturating_add(MAX_AHEAD_SECS) {
            return Err(unreadable(format!(
                "an entry is dated {newest}, more than a year after the clock ({now}): the \
                 file is damaged or the clock is wrong"
            )));
        }
        let mut windows = windows;
        let now = now.max(newest);
        for w in windows.values_mut() {
            w.expire(now);
        }
        windows.retain(|_, w| !w.is_empty());
        // Rewritten at start: drops the torn tail and what expired, creates or migrates.
        let (file, lines) = rewrite(dir, &windows)?;
        let log = SpendLog {
            dir: dir.to_path_buf(),
            file,
            windows,
            newest,
            lines,
        };
        if found == Found::Migrated {
            let _ = std::fs::remove_file(dir.join(OLD_FILE));
        }
        if torn {
            tracing::warn!(path = %path.display(), "dropped a torn last line of the spending log (an append interrupted before anything was signed)");
        }
        Ok((log, found))
    }

    /// The ledger's time now: the wall clock, but never before the newest entry.
    pub(super) fn now(&self) -> u64 {
        wall_clock().max(self.newest)
    }

    fn expire(&mut self) {
        let now = self.now();
        for w in self.windows.values_mut() {
            w.expire(now);
        }
        self.windows.retain(|_, w| !w.is_empty());
    }

    /// What `pkh` spent in the window at the ledger's time (`None`: more than can be
    /// counted). No copy: asked for every counted request.
    pub(super) fn spent(&mut self, pkh: &Pkh) -> Option<u128> {
        let now = self.now();
        match self.windows.get_mut(pkh) {
            Some(w) => {
                w.expire(now);
                w.spent()
            }
            None => Some(0),
        }
    }

    /// A copy of `pkh`'s window at the ledger's time (to seed an emptied shared container).
    pub(super) fn window(&mut self, pkh: &Pkh) -> Window {
        self.expire();
        self.windows.get(pkh).cloned().unwrap_or_else(Window::new)
    }

    /// Appends a spend, durably (fdatasync) before it returns; compacts when expired lines
    /// outnumber the live ones.
    pub(super) fn append(&mut self, pkh: &Pkh, mutez: u128) -> Result<(), SpendingError> {
        let at = self.now();
        let line = format!("{at} {pkh} {mutez}\n");
        let write = |f: &mut File| f.write_all(line.as_bytes()).and_then(|()| f.sync_data());
        write(&mut self.file).map_err(|e| SpendingError::Append {
            path: self.dir.join(FILE),
            source: e,
        })?;
        self.windows.entry(*pkh).or_default().push(at, mutez);
        self.newest = at;
        self.lines += 1;
        let live: usize = self.windows.values().map(Window::len).sum();
        if self.lines > 1024 + 2 * live {
            self.expire();
            (self.file, self.lines) = rewrite(&self.dir, &self.windows)?;
        }
        Ok(())
    }
}

/// Writes the live entries to a new file and renames it into place (atomic, durable); the
/// new file open for appending, and its number of entries.
fn rewrite(dir: &Path, windows: &BTreeMap<Pkh, Window>) -> Result<(File, usize), SpendingError> {
    let mut text = format!("{HEADER}\n");
    let mut lines = 0;
    for (pkh, w) in windows {
        for (at, mutez) in w.iter() {
            text.push_str(&format!("{at} {pkh} {mutez}\n"));
            lines += 1;
        }
    }
    private_fs::write_durably(dir, FILE, text.as_bytes(), 0o600).map_err(|source| {
        SpendingError::Write {
            path: dir.join(FILE),
            source,
        }
    })?;
    Ok((open_append(&dir.join(FILE))?, lines))
}

fn open_append(path: &Path) -> Result<File, SpendingError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| SpendingError::Unreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// The entries of a log's text, and whether its last line was torn.
fn parse(text: &str) -> Result<(BTreeMap<Pkh, Window>, bool), String> {
    let mut lines = text.split_inclusive('\n');
    match lines.next() {
        Some(h) if h.trim_end() == HEADER && h.ends_with('\n') => {}
        _ => {
            return Err(format!(
                "the header line is missing (the file was emptied or is not a spending log): \
                 it must start with {HEADER:?}"
            ));
        }
    }
    let mut windows: BTreeMap<Pkh, Window> = BTreeMap::new();
    let mut torn = false;
    for (i, line) in lines.enumerate() {
        if !line.ends_with('\n') {
            torn = true;
            break;
        }
        let bad = || {
            format!(
                "line {}: {:?} is not `<seconds> <pkh> <mutez>`",
                i + 2,
                line.trim_end()
            )
        };
        let mut fields = line.split_whitespace();
        let (Some(at), Some(pkh), Some(mutez), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad());
        };
        let at: u64 = at.parse().map_err(|_| bad())?;
        let pkh: Pkh = pkh.parse().map_err(|_| bad())?;
        let mutez: u128 = mutez.parse().map_err(|_| bad())?;
        windows.entry(pkh).or_default().push(at, mutez);
    }
    Ok((windows, torn))
}

/// The first version's JSON file, if there is one.
fn read_old(dir: &Path) -> Result<Option<BTreeMap<Pkh, Window>>, SpendingError> {
    let path = dir.join(OLD_FILE);
    let unreadable = |reason: String| SpendingError::Unreadable {
        path: path.clone(),
        reason,
    };
    match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e.to_string())),
        Ok(m) if !m.file_type().is_file() => {
            return Err(unreadable("not a regular file (a link?)".into()));
        }
        Ok(_) => {}
    }
    let text = std::fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
    let raw: BTreeMap<String, Vec<(u64, String)>> =
        serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
    let mut windows = BTreeMap::new();
    for (pkh, list) in raw {
        let pkh: Pkh = pkh.parse().map_err(|e| unreadable(format!("{pkh}: {e}")))?;
        let mut list: Vec<(u64, u128)> = list
            .into_iter()
            .map(|(at, m)| {
                m.parse()
                    .map(|m| (at, m))
                    .map_err(|e| unreadable(format!("{m:?}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        list.sort_unstable();
        let w: &mut Window = windows.entry(pkh).or_default();
        for (at, m) in list {
            w.push(at, m);
        }
    }
    Ok(Some(windows))
}
