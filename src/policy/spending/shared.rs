//! One 24-hour budget across signers (`serve --shared-watermarks`): each key's spends in one
//! blob of the shared container (`.spending/<pkh>`, JSON), counted by compare-and-swap
//! (`If-Match` the ETag read, or `If-None-Match: *` for the first) before the vault is
//! called, so two signers enforce one total.
//!
//! Owns: that blob's format and the CAS loop (a lost race reads again and re-decides; the
//! limit is checked against what the container holds, never a cached copy). Must never: write
//! without a condition, or report a spend counted that the container did not accept.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::window::{Window, wall_clock};
use super::{Spend, SpendingError};
use crate::policy::PolicyRefusal;
use crate::tezos::Pkh;
use crate::watermark::shared::{BlobError, Blobs, Condition, SharedLocation};

/// The blob's content.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Record {
    /// (unix seconds, mutez as a string) in time order.
    entries: Vec<(u64, String)>,
}

/// The shared budget of one container.
#[derive(Clone)]
pub struct SharedBudget {
    blobs: Arc<dyn Blobs>,
    location: SharedLocation,
}

impl std::fmt::Debug for SharedBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBudget")
            .field("location", &self.location.to_string())
            .finish()
    }
}

impl SharedBudget {
    pub fn new(blobs: Arc<dyn Blobs>, location: SharedLocation) -> SharedBudget {
        SharedBudget { blobs, location }
    }

    /// Counts `amount` for `pkh`, refusing it when `limit` is given and the container's
    /// total would pass it; within `deadline`. A missing blob (a first spend, or an emptied
    /// container) starts from `floor`, this signer's own spends.
    pub async fn count(
        &self,
        pkh: &Pkh,
        amount: u128,
        limit: Option<u128>,
        floor: &(dyn Fn() -> Window + Sync),
        deadline: Instant,
    ) -> Result<(), Spend> {
        let name = self.location.spending_name(pkh);
        let mut backoff = Duration::from_millis(20);
        loop {
            let attempt = async {
                let (condition, found) = self.read(&name).await?;
                let mut window = found.unwrap_or_else(floor);
                // This signer's clock, not the newest entry's: another signer's fast clock
                // must not expire everyone's entries early (entries ahead count longer).
                let now = wall_clock();
                window.expire(now);
                if let Some(limit) = limit
                    && !window.fits(amount, limit)
                {
                    return Ok(Err(PolicyRefusal::MaxTotal24h {
                        pkh: *pkh,
                        spent: window.spent().unwrap_or(u128::MAX),
                        amount,
                        limit,
                    }));
                }
                window.push(now, amount);
                let record = Record {
                    entries: window.iter().map(|(at, m)| (at, m.to_string())).collect(),
                };
                let body = serde_json::to_vec(&record).expect("integers and strings serialise");
                self.blobs.write(&name, body, condition).await.map(Ok)
            };
            let failed = match tokio::time::timeout_at(deadline.into(), attempt).await {
                Ok(Ok(Ok(_))) => return Ok(()),
                Ok(Ok(Err(refusal))) => return Err(refusal.into()),
                // Another signer counted first, or the blob came or went: decide again.
                Ok(Err(BlobError::Conflict | BlobError::Missing)) => None,
                Ok(Err(e)) if e.is_transient() => Some(e),
                Ok(Err(e)) => return Err(self.failed(e)),
                Err(_) => {
                    return Err(
                        self.failed(BlobError::Transient("the request's time ran out".into()))
                    );
                }
            };
            if let Some(e) = failed {
                if Instant::now() + backoff >= deadline {
                    return Err(self.failed(e));
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }

    async fn read(&self, name: &str) -> Result<(Condition, Option<Window>), BlobError> {
        let Some((etag, body)) = self.blobs.read(name).await? else {
            return Ok((Condition::Absent, None));
        };
        let record: Record = serde_json::from_slice(&body).map_err(|e| {
            BlobError::Failed(format!("the spending blob {name} is damaged: {e}").into())
        })?;
        let mut window = Window::new();
        for (at, mutez) in record.entries {
            let mutez: u128 = mutez.parse().map_err(|_| {
                BlobError::Failed(format!("the spending blob {name} is damaged: {mutez:?}").into())
            })?;
            window.push(at, mutez);
        }
        Ok((Condition::Matches(etag), Some(window)))
    }

    fn failed(&self, e: BlobError) -> Spend {
        Spend::Failed(SpendingError::Shared {
            location: self.location.to_string(),
            error: e,
        })
    }
}
