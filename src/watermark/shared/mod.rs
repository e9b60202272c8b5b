//! Shared watermarks (`serve --shared-watermarks`): several signers with the same vault keys,
//! one set of marks in an Azure Blob Storage container, so two redundant bakers cannot double
//! sign between them.
//!
//! Owns: [`SharedStore`], the [`MarkStore`] that keeps the local files ([`LocalStore`]) as the
//! floor and the container ([`container::Container`]) as the arbiter between signers. A
//! reservation is written to both at once (and both at once with the vault call, see the
//! pipeline); a signature is released only when both hold it. The local files decide first
//! (a signer never signs below its own marks, whatever the container says, even emptied or
//! restored from an old backup); the container then refuses what another signer already
//! passed. At open, and whenever a slot this signer wrote is found gone, the local marks are
//! written back to every slot where the container is missing or lower.
//!
//! Blocks get one signature, ever, among all signers (docs/protocol.md §3). Every signer
//! records a block's signature in the container before releasing it, and releases only the
//! signature the container holds:
//!
//! 1. *Reserve.* A block reservation is written with `"unreleased": true` (the local rule and
//!    the container's both let it through); a signer that finds the same bytes reserved there
//!    already writes nothing. An unsigned mark for the same bytes *without* that proof
//!    (pushed from imported marks, or written by an older version, which recorded after the
//!    reply) may stand for a released block: refused.
//! 2. *Sign.* Each signer that got through asks its vault (at the same time as step 1).
//! 3. *Record* ([`Container::record_block`]): a conditional write (`If-Match` the ETag of
//!    the unsigned reservation) fills in the signature. Azure applies one conditional write per
//!    ETag, so exactly one signer's fill succeeds; the others get 412, read the blob again,
//!    find the signature and return *it*, dropping their own. A blob that moved past the block,
//!    lost its proof, or vanished (an emptied container) means nobody can know what was
//!    released: refused.
//! 4. *Release.* The winning signature is recorded locally (journal, fdatasync), then leaves.
//!
//! Interleavings: a signature leaves a signer only after step 3 returned it, and step 3
//! returns either the fill that succeeded or the signature found in the blob; the blob's
//! signature at a (level, round, hash) is set once (a fill needs the ETag of the unsigned
//! state, and marks never go back down), so every released signature is that one. A crash
//! before step 3 released nothing (the reservation stays unreleased and is signed again
//! through the same CAS); a crash after it left the signature in the container, where the
//! next identical request finds it. `tests.rs` runs two signers through every interleaving of
//! reserve / sign / record / crash steps (a property test), and tests/shared runs two real
//! signers on Azurite. The one case outside the guarantee is a container emptied or restored
//! from a backup by hand: then each signer's local marks are its only floor.
//! Pushing local marks (`watermarks push`, the write-back above) never writes the unreleased
//! proof: only a reservation may assert it.
//! Must never: release a signature whose mark is not in the container, or lower a shared mark.

pub(crate) mod blobs;
pub(crate) mod container;
pub(crate) mod location;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

pub(crate) use blobs::{AzureBlobs, BlobError, Blobs, Condition, geo_replicated};
pub use container::SharedError;
pub(crate) use container::{Container, RaiseOutcome};
pub(crate) use location::SharedLocation;

use super::data_dir::StoreError;
use super::mark_store::{LocalStore, MarkStore, Slot};
use super::rule::Mark;
use crate::latency::{Histogram, Snapshot};
use crate::tezos::{ChainId, ConsensusKind, Pkh, Signature};

/// What the shared store did, for `/metrics`.
#[derive(Debug, Default)]
pub struct SharedStats {
    /// Successful conditional writes (reservations, raises, probes), retries included.
    pub writes: Histogram,
    conflicts: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

/// A copy of [`SharedStats`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedSnapshot {
    pub writes: Snapshot,
    /// Conditional writes another signer got in first.
    pub conflicts: u64,
    /// Failed storage requests, by error class.
    pub errors: BTreeMap<&'static str, u64>,
}

impl SharedStats {
    fn write(&self, took: Duration) {
        self.writes.observe(took);
    }
    fn conflict(&self) {
        self.conflicts.fetch_add(1, Ordering::Relaxed);
    }
    fn error(&self, class: &'static str) {
        *self
            .errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(class)
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> SharedSnapshot {
        SharedSnapshot {
            writes: self.writes.snapshot(),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }
}

/// What seeding a container from local marks did, slot by slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PushReport {
    pub created: usize,
    pub raised: usize,
    pub kept: usize,
    /// Slots where the container holds other bytes at the local mark's (level, round).
    pub diverged: Vec<Slot>,
}

/// Writes each of `marks` to the container wherever its slot there is missing or lower; never
/// lowers one. Up to 16 slots at a time.
pub(crate) async fn push(
    shared: &Container,
    marks: Vec<(Slot, Mark)>,
) -> Result<PushReport, SharedError> {
    let mut results = futures::stream::iter(marks)
        .map(|(slot, mark)| async move { shared.raise_to(slot, &mark).await.map(|r| (slot, r)) })
        .buffer_unordered(16);
    let mut report = PushReport::default();
    while let Some(result) = results.next().await {
        match result? {
            (_, RaiseOutcome::Created) => report.created += 1,
            (_, RaiseOutcome::Raised) => report.raised += 1,
            (_, RaiseOutcome::Kept) => report.kept += 1,
            (slot, RaiseOutcome::Diverged) => report.diverged.push(slot),
        }
    }
    Ok(report)
}

/// Local files as the floor, the container as the arbiter between signers.
pub struct SharedStore {
    local: LocalStore,
    shared: Arc<Container>,
}

impl SharedStore {
    /// Writes every local mark to the container where it is missing or lower, then serves.
    /// Fails (nothing is served) when the container cannot take them.
    pub async fn open(local: LocalStore, shared: Container) -> Result<SharedStore, StoreError> {
        let report = push(&shared, local.marks().await)
            .await
            .map_err(StoreError::Shared)?;
        tracing::info!(
            location = %shared.location(),
            created = report.created,
            raised = report.raised,
            kept = report.kept,
            "shared watermarks: the container holds at least this signer's local marks"
        );
        for slot in &report.diverged {
            tracing::warn!(kind = %slot.kind, chain = %slot.chain, pkh = %slot.pkh, "the shared mark and the local one are at the same level and round for different bytes: both refuse anything else there");
        }
        Ok(SharedStore {
            local,
            shared: Arc::new(shared),
        })
    }

    /// The container's counters (conditional writes, lost races, failed requests), shared
    /// with it, for `/metrics`.
    pub(crate) fn stats(&self) -> Arc<SharedStats> {
        Arc::clone(self.shared.stats())
    }

    /// After a slot was found deleted: the local marks go back in, in the background.
    fn restore_if_lost(&self) {
        if !self.shared.take_lost_marks() {
            return;
        }
        let (local, shared) = (self.local.clone(), Arc::clone(&self.shared));
        tokio::spawn(async move {
            match push(&shared, local.marks().await).await {
                Ok(report) => tracing::warn!(
                    created = report.created,
                    raised = report.raised,
                    "shared watermarks: wrote the local marks back into the container"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "shared watermarks: could not write the local marks back")
                }
            }
        });
    }
}

#[async_trait]
impl MarkStore for SharedStore {
    async fn load(&self, slot: &Slot) -> Result<Option<Mark>, StoreError> {
        self.local.load(slot).await
    }

    async fn chain_use(&self, pkh: &Pkh, chain: &ChainId) -> Result<(bool, usize), StoreError> {
        self.local.chain_use(pkh, chain).await
    }

    async fn chains_of(&self, pkh: &Pkh) -> Result<BTreeSet<ChainId>, StoreError> {
        self.local.chains_of(pkh).await
    }

    /// Durable locally and in the container, both at once; either failing fails the
    /// reservation (a local mark whose shared write failed only refuses more, never less).
    async fn reserve(
        &self,
        slot: Slot,
        mark: Mark,
        until: Option<std::time::Instant>,
    ) -> Result<(), StoreError> {
        let (local, shared) = tokio::join!(
            self.local.reserve(slot, mark.clone(), until),
            self.shared.reserve(slot, &mark, until)
        );
        self.restore_if_lost();
        local?;
        shared.map_err(StoreError::Shared)
    }

    /// A block: the container's compare-and-swap decides which signature is the block's
    /// ([`Container::record_block`]), then that one is recorded locally (durably); only then
    /// may it leave. Other kinds: locally only (the shared reservation is what keeps other
    /// signers out, and an identical (pre)attestation signed again elsewhere is no double sign).
    async fn record_signature(
        &self,
        slot: Slot,
        signed: Mark,
        until: Option<std::time::Instant>,
    ) -> Result<Signature, StoreError> {
        if slot.kind != ConsensusKind::Block {
            return self.local.record_signature(slot, signed, until).await;
        }
        let winner = self
            .shared
            .record_block(slot, &signed, until)
            .await
            .map_err(StoreError::Shared)?;
        let signed = Mark {
            signature: Some(winner),
            ..signed
        };
        self.local.record_signature(slot, signed, until).await
    }

    async fn flush(&self) -> Result<(), StoreError> {
        self.local.flush().await
    }

    fn alive(&self) -> bool {
        self.local.alive()
    }

    /// Both must take a write: the local directory and the container.
    async fn probe(&self) -> Result<(), StoreError> {
        let (local, shared) = tokio::join!(self.local.probe(), self.shared.probe());
        local?;
        shared.map_err(StoreError::Shared)
    }
}

#[cfg(test)]
mod tests;
