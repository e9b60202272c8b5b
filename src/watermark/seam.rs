//! The seam between the signing pipeline and wherever marks live: [`MarkStore`]. The pipeline
//! knows only this trait; [`FileStore`] keeps octez-signer's files and a reservation journal in
//! the data directory (its directory lock stays an implementation detail), and
//! [`super::SharedStore`] (several signers, one set of marks) is another implementation.
//!
//! The trait is shaped for a store that reserves a mark before its signature exists: a
//! [`Mark`] without a signature is a reservation (refusing everything at or below it but an
//! identical retry, which octez-signer's files already express), and
//! [`MarkStore::record_signature`] later adds the released signature to it.
//! Must never: return from [`MarkStore::reserve`] before the mark is durable.

use std::collections::BTreeSet;

use async_trait::async_trait;

pub use super::file_store::FileStore;
use super::rule::Mark;
use super::store::StoreError;
use crate::tezos::{ChainId, ConsensusKind, Pkh, Signature};

/// One high watermark: a kind, a chain and a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    pub kind: ConsensusKind,
    pub chain: ChainId,
    pub pkh: Pkh,
}

/// Where the pipeline reads and writes marks.
#[async_trait]
pub trait MarkStore: Send + Sync + 'static {
    /// The current mark of `slot`, if any.
    async fn load(&self, slot: &Slot) -> Result<Option<Mark>, StoreError>;
    /// Whether `pkh` has marks on `chain` already, and on how many chains it has marks (any
    /// kind). Asked for every watermarked request, so it allocates nothing.
    async fn chain_use(&self, pkh: &Pkh, chain: &ChainId) -> Result<(bool, usize), StoreError>;
    /// The chains `pkh` has marks on, any kind.
    async fn chains_of(&self, pkh: &Pkh) -> Result<BTreeSet<ChainId>, StoreError>;
    /// Makes `mark` the mark of `slot`, durably before returning. It must be strictly above
    /// the current one; its signature may be absent (a reservation).
    async fn reserve(&self, slot: Slot, mark: Mark) -> Result<(), StoreError>;
    /// Adds the released `signature` to the current mark of `slot`, which must be the
    /// reservation at `level`, `round` of the bytes hashing to `hash`. Need not be durable:
    /// losing it only means an identical retry is signed again.
    async fn record_signature(
        &self,
        slot: Slot,
        level: i32,
        round: Option<i32>,
        hash: [u8; 32],
        signature: Signature,
    ) -> Result<(), StoreError>;
    /// Makes everything recorded so far durable (at a clean shutdown).
    async fn flush(&self) -> Result<(), StoreError>;
    /// Whether the store can take marks now (readiness). A local store always can: its
    /// failures show on the write itself.
    async fn probe(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watermark::WatermarkStore;
    use crate::watermark::rule::{Decision, MarkRequest, check};
    use crate::watermark::store::StoreError;

    const MAINNET: &str = "NetXdQprcVkpaWU";
    const SPSIG: &str = "spsig16QPQy2nPP6BkV5vtKyQhtVXjDGTq9Wx8VQgqEv7bYKviCkbXjaaaD1n8R7HRMxTRcjUn9U4TaoAtSBq2Sx1F9fbAVjWGK";

    fn slot() -> Slot {
        Slot {
            kind: ConsensusKind::Attestation,
            chain: MAINNET.parse().expect("chain"),
            pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().expect("pkh"),
        }
    }

    /// A reservation is durable and protects like a mark; its signature is added later (in
    /// memory, written with the file's next write) and is then what an identical retry gets
    /// back.
    #[tokio::test]
    async fn a_reservation_protects_and_then_takes_its_signature() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = FileStore::new(WatermarkStore::open(dir.path()).expect("open"));
        let reserved = Mark {
            level: 100,
            round: Some(0),
            hash: [7; 32],
            signature: None,
        };
        store
            .reserve(slot(), reserved.clone())
            .await
            .expect("reserve");
        let same = MarkRequest {
            kind: ConsensusKind::Attestation,
            level: 100,
            round: Some(0),
            hash: [7; 32],
        };
        let other = MarkRequest {
            hash: [8; 32],
            ..same
        };
        let current = store.load(&slot()).await.expect("load");
        assert!(check(current.as_ref(), &other, None).is_err());
        // Nothing to replay yet: the same bytes may be signed again, nothing else.
        assert_eq!(check(current.as_ref(), &same, None), Ok(Decision::Sign));

        let sig: Signature = SPSIG.parse().expect("sig");
        let wrong = store
            .record_signature(slot(), 100, Some(0), [8; 32], sig)
            .await;
        assert!(
            matches!(wrong, Err(StoreError::NotAReservation { .. })),
            "{wrong:?}"
        );
        store
            .record_signature(slot(), 100, Some(0), [7; 32], sig)
            .await
            .expect("record");
        let again = store
            .record_signature(slot(), 100, Some(0), [7; 32], sig)
            .await;
        assert!(
            matches!(again, Err(StoreError::NotAReservation { .. })),
            "{again:?}"
        );
        let current = store.load(&slot()).await.expect("load");
        assert_eq!(
            check(current.as_ref(), &same, None),
            Ok(Decision::Replay(sig))
        );
        // The next write of the file (another key's mark) carries the signature to disk.
        let other_key = Slot {
            pkh: "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t".parse().expect("pkh"),
            ..slot()
        };
        let unrelated = Mark {
            level: 5,
            round: Some(0),
            hash: [1; 32],
            signature: None,
        };
        store
            .reserve(other_key, unrelated)
            .await
            .expect("another reservation");
        drop(store);

        let store = FileStore::new(WatermarkStore::open(dir.path()).expect("reopen"));
        let current = store.load(&slot()).await.expect("load");
        assert_eq!(
            check(current.as_ref(), &same, None),
            Ok(Decision::Replay(sig))
        );
        assert_eq!(store.chains_of(&slot().pkh).await.expect("chains").len(), 1);
    }
}
