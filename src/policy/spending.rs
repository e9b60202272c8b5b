//! The rolling 24-hour total of each key's transactions, kept durably in the data directory
//! (`spending_24h.json`), so that a restart does not reset it.
//!
//! Owns: counting an amount against a key's limit atomically (check and record under one lock)
//! and durably before the vault is asked: a signature whose amount was not counted is never
//! released. A counted amount whose signature then failed stays counted (the total errs on the
//! side of spending less). Must never: follow a link, or start with a file it cannot read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::PolicyRefusal;
use crate::tezos::Pkh;

/// The file name in the data directory.
pub const FILE: &str = "spending_24h.json";
const DAY_SECS: u64 = 24 * 60 * 60;

/// Why the ledger failed (not a refusal: nothing is signed, the operator must look).
#[derive(Debug, thiserror::Error)]
pub enum SpendingError {
    #[error("cannot read the 24-hour spending file {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("cannot record the spending in {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: private_fs::WriteError,
    },
    #[error("the spending ledger is unavailable after an internal failure: {0}")]
    Unavailable(String),
}

/// What counting an amount came to.
#[derive(Debug, thiserror::Error)]
pub enum Spend {
    #[error(transparent)]
    Refused(#[from] PolicyRefusal),
    #[error(transparent)]
    Failed(#[from] SpendingError),
}

type Entries = BTreeMap<Pkh, Vec<(u64, u128)>>;

/// The ledger of one data directory.
#[derive(Debug)]
pub struct SpendingLedger {
    dir: PathBuf,
    entries: Arc<tokio::sync::Mutex<Entries>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl SpendingLedger {
    /// Loads the ledger of `dir` (an absent file is an empty ledger).
    pub fn open(dir: &Path) -> Result<SpendingLedger, SpendingError> {
        let path = dir.join(FILE);
        let unreadable = |reason: String| SpendingError::Unreadable {
            path: path.clone(),
            reason,
        };
        let entries = match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Entries::new(),
            Err(e) => return Err(unreadable(e.to_string())),
            Ok(m) if !m.file_type().is_file() => {
                return Err(unreadable("not a regular file (a link?)".into()));
            }
            Ok(_) => {
                let text = std::fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
                let raw: BTreeMap<String, Vec<(u64, String)>> =
                    serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
                let mut entries = Entries::new();
                for (pkh, list) in raw {
                    let pkh: Pkh = pkh.parse().map_err(|e| unreadable(format!("{pkh}: {e}")))?;
                    let list = list
                        .into_iter()
                        .map(|(at, mutez)| {
                            mutez
                                .parse::<u128>()
                                .map(|m| (at, m))
                                .map_err(|e| unreadable(format!("{pkh}: {mutez:?}: {e}")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    entries.insert(pkh, list);
                }
                entries
            }
        };
        Ok(SpendingLedger {
            dir: dir.to_path_buf(),
            entries: Arc::new(tokio::sync::Mutex::new(entries)),
        })
    }

    /// Counts `amount` against `pkh`'s rolling 24-hour total if the total stays within
    /// `limit`; durable before it returns Ok.
    pub async fn count(&self, pkh: &Pkh, amount: u128, limit: u128) -> Result<(), Spend> {
        self.count_at(pkh, amount, limit, unix_now()).await
    }

    async fn count_at(&self, pkh: &Pkh, amount: u128, limit: u128, now: u64) -> Result<(), Spend> {
        let mut entries = Arc::clone(&self.entries).lock_owned().await;
        let spent: u128 = entries
            .get(pkh)
            .map(|l| {
                l.iter()
                    .filter(|(at, _)| at + DAY_SECS > now)
                    .map(|(_, m)| m)
                    .sum()
            })
            .unwrap_or(0);
        if spent.saturating_add(amount) > limit {
            return Err(PolicyRefusal::MaxTotal24h {
                pkh: *pkh,
                spent,
                amount,
                limit,
            }
            .into());
        }
        let mut next = entries.clone();
        for list in next.values_mut() {
            list.retain(|(at, _)| at + DAY_SECS > now);
        }
        next.retain(|_, l| !l.is_empty());
        next.entry(*pkh).or_default().push((now, amount));
        let dir = self.dir.clone();
        let text = render(&next);
        tokio::task::spawn_blocking(move || {
            private_fs::write_durably(&dir, FILE, text.as_bytes(), 0o600).map_err(|source| {
                SpendingError::Write {
                    path: dir.join(FILE),
                    source,
                }
            })
        })
        .await
        .map_err(|e| SpendingError::Unavailable(e.to_string()))??;
        *entries = next;
        Ok(())
    }
}

fn render(entries: &Entries) -> String {
    let raw: BTreeMap<String, Vec<(u64, String)>> = entries
        .iter()
        .map(|(p, l)| {
            (
                p.to_string(),
                l.iter().map(|(at, m)| (*at, m.to_string())).collect(),
            )
        })
        .collect();
    serde_json::to_string_pretty(&raw).expect("strings and integers always serialise") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";

    #[tokio::test]
    async fn the_rolling_total_is_enforced_kept_across_restarts_and_forgets_after_a_day() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pkh: Pkh = TZ2.parse().expect("pkh");
        let t0 = 1_700_000_000;
        let ledger = SpendingLedger::open(dir.path()).expect("open");
        ledger
            .count_at(&pkh, 6_000_000, 10_000_000, t0)
            .await
            .expect("within");
        let over = ledger.count_at(&pkh, 5_000_000, 10_000_000, t0 + 60).await;
        let msg = over.expect_err("over the limit").to_string();
        assert!(msg.contains("max_total_24h"), "{msg}");
        assert!(msg.contains("6 ꜩ") && msg.contains("10 ꜩ"), "{msg}");
        drop(ledger);
        // A restart keeps what was counted.
        let ledger = SpendingLedger::open(dir.path()).expect("reopen");
        assert!(
            ledger
                .count_at(&pkh, 5_000_000, 10_000_000, t0 + 120)
                .await
                .is_err()
        );
        ledger
            .count_at(&pkh, 4_000_000, 10_000_000, t0 + 120)
            .await
            .expect("fits");
        // A day after the first, only the later amount counts.
        ledger
            .count_at(&pkh, 6_000_000, 10_000_000, t0 + DAY_SECS)
            .await
            .expect("the first amount has rolled out");
    }

    #[test]
    fn an_unreadable_file_stops_the_ledger() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE), "not json").expect("write");
        assert!(SpendingLedger::open(dir.path()).is_err());
        std::fs::remove_file(dir.path().join(FILE)).expect("rm");
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join(FILE)).expect("link");
        assert!(SpendingLedger::open(dir.path()).is_err());
    }
}
