//! The rolling 24-hour total of each key's value at risk: counted durably before the vault is
//! asked, so a restart, a second signer, a deleted file or a clock set back cannot revive
//! spent budget.
//!
//! - [`log`]: the data directory's append-only log (`spending.log`), O(1) per spend;
//! - [`shared`]: with `--shared-watermarks`, one blob per key in the shared container,
//!   counted by compare-and-swap, so two signers enforce one total;
//! - [`window`]: the window's arithmetic and the ledger's monotonic clock.
//!
//! Owns: the order — the local log decides first (a signer never passes its own floor,
//! whatever the container says), then the container, then the local append — all under the
//! key's lock, so two requests of this signer never both pass one remaining budget (and one
//! key's slow container call never holds up another key). A counted
//! spend whose signature then failed stays counted (the total errs on the side of spending
//! less). Must never: release a signature whose value at risk was not counted, or start
//! without a log while its absence could hide spent budget.

mod log;
pub(crate) mod shared;
mod window;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use log::Found;
#[cfg(test)]
use log::{FILE, OLD_FILE};
pub(crate) use shared::SharedBudget;

use super::{Charge, PolicyRefusal};
use crate::tezos::Pkh;
use crate::watermark::shared::BlobError;

/// Why the ledger failed (not a refusal: nothing is signed, the operator must look).
#[derive(Debug, thiserror::Error)]
pub enum SpendingError {
    #[error("cannot read the 24-hour spending log {}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "the 24-hour spending log {} is missing, but this data directory has signed before and \
         the policy has a max_total_24h: its spends would be forgotten. Restore the file, or \
         start once with --reset-spending to begin from zero deliberately",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error("cannot record the spending in {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: private_fs::WriteError,
    },
    #[error("cannot append to the spending log {}: {source}", path.display())]
    Append {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the shared spending budget in {location} failed: {error}")]
    Shared {
        location: String,
        #[source]
        error: BlobError,
    },
    #[error("the spending ledger is unavailable after an internal failure: {0}")]
    Unavailable(String),
}

/// What counting a charge came to.
#[derive(Debug, thiserror::Error)]
pub enum Spend {
    #[error(transparent)]
    Refused(#[from] PolicyRefusal),
    #[error(transparent)]
    Failed(#[from] SpendingError),
}

/// Whether a charge must fit its limit, or was approved by a person and is counted anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforce {
    Limit,
    Approved,
}

/// The ledger of one data directory (and, when configured, of the shared container).
#[derive(Debug)]
pub struct SpendingLedger {
    /// The file: held only to read a window or to append (never across a network call).
    log: Arc<std::sync::Mutex<log::SpendLog>>,
    /// One lock per key, held from the check to the append: two requests of one key never
    /// both pass one remaining budget, and keys never wait for each other.
    keys: std::sync::Mutex<HashMap<Pkh, Arc<tokio::sync::Mutex<()>>>>,
    shared: Option<SharedBudget>,
}

/// How long a count may take when the request has no deadline.
const NO_DEADLINE: Duration = Duration::from_secs(10);

impl SpendingLedger {
    /// Opens the ledger of `dir`, creating an empty log unless `must_exist` (the caller knows
    /// the directory has signed before under a 24-hour limit, so a missing log could hide
    /// spent budget: see [`SpendingLedger::must_exist`]).
    pub fn open(dir: &Path, must_exist: bool) -> Result<(SpendingLedger, Found), SpendingError> {
        let (log, found) = log::SpendLog::open(dir, !must_exist)?;
        let ledger = SpendingLedger {
            log: Arc::new(std::sync::Mutex::new(log)),
            keys: std::sync::Mutex::new(HashMap::new()),
            shared: None,
        };
        Ok((ledger, found))
    }

    /// Whether `dir`'s log must already exist: the policy has a 24-hour limit (`required`),
    /// the directory has signed before (its watermark journal exists; call this before the
    /// watermark store opens, which creates it), and no `--reset-spending` (`reset`).
    pub fn must_exist(dir: &Path, required: bool, reset: bool) -> bool {
        required && !reset && dir.join(crate::watermark::journal::ID_FILE).exists()
    }

    /// Counts in the shared container too: one budget across signers.
    pub fn with_shared(mut self, shared: SharedBudget) -> SpendingLedger {
        self.shared = Some(shared);
        self
    }

    /// Counts `charge` against `pkh`'s rolling total, durably (and in the shared container)
    /// before it returns Ok; with [`Enforce::Limit`], refused when it would pass the limit.
    pub async fn count(
        &self,
        pkh: &Pkh,
        charge: Charge,
        enforce: Enforce,
        deadline: Option<Instant>,
    ) -> Result<(), Spend> {
        if charge.amount == 0 {
            return Ok(());
        }
        let deadline = deadline.unwrap_or_else(|| Instant::now() + NO_DEADLINE);
        let limit = (enforce == Enforce::Limit).then_some(charge.limit);
        let key_lock = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(keys.entry(*pkh).or_default())
        };
        let _key = tokio::time::timeout_at(deadline.into(), key_lock.lock_owned())
            .await
            .map_err(|_| {
                SpendingError::Unavailable(
                    "the request's time ran out while another spend of this key was counted".into(),
                )
            })?;
        let spent = self.lock_log().spent(pkh);
        if let Some(limit) = limit
            && !window::fits(spent, charge.amount, limit)
        {
            return Err(PolicyRefusal::MaxTotal24h {
                pkh: *pkh,
                spent: spent.unwrap_or(u128::MAX),
                amount: charge.amount,
                limit,
            }
            .into());
        }
        if let Some(shared) = &self.shared {
            // The container decides between signers; an emptied one is seeded with this
            // signer's own spends, its floor.
            shared
                .count(
                    pkh,
                    charge.amount,
                    limit,
                    &|| self.lock_log().window(pkh),
                    deadline,
                )
                .await?;
        }
        let (log, pkh) = (Arc::clone(&self.log), *pkh);
        tokio::task::spawn_blocking(move || {
            log.lock()
                .unwrap_or_else(|p| p.into_inner())
                .append(&pkh, charge.amount)
        })
        .await
        .map_err(|e| SpendingError::Unavailable(e.to_string()))??;
        Ok(())
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, log::SpendLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests;
