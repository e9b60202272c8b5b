//! What the signing pipeline needs from wherever marks live: [`MarkStore`]. The pipeline
//! knows only this trait; [`LocalStore`] keeps octez-signer's files and a reservation journal in
//! the data directory (its directory lock stays an implementation detail), and
//! [`super::SharedStore`] (several signers, one set of marks) is another implementation.
//!
//! The trait is shaped for a store that reserves a mark before its signature exists: a
//! [`Mark`] without a signature is a reservation (refusing everything at or below it but an
//! identical retry, which octez-signer's files already express), and
//! [`MarkStore::record_signature`] later adds the signature to it: after the reply for
//! (pre)attestations, before it for blocks (see the rule's module doc).
//! Must never: return from [`MarkStore::reserve`] before the mark is durable.

use std::collections::BTreeSet;
use std::time::Instant;

use async_trait::async_trait;

use super::data_dir::StoreError;
pub use super::local_store::LocalStore;
use super::rule::Mark;
use crate::tezos::{ChainId, ConsensusKind, Pkh, Signature};

/// One high watermark: a kind, a chain and a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// The operation kind: each kind has its own marks (its own octez-signer file).
    pub kind: ConsensusKind,
    /// The chain the operations are for: a mark on one chain never constrains another.
    pub chain: ChainId,
    /// The signing key's public key hash.
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
    /// the current one; its signature may be absent (a reservation). A store that waits on
    /// the network gives up at `until` (the request's deadline), or after its own budget
    /// without one; a local disk write cannot be interrupted, and its caller bounds the wait.
    async fn reserve(
        &self,
        slot: Slot,
        mark: Mark,
        until: Option<Instant>,
    ) -> Result<(), StoreError>;
    /// Adds the signature `signed` carries to the current mark of `slot`, which must be the
    /// reservation at its level and round for the same bytes, and returns the signature that
    /// may leave the process.
    ///
    /// For a block this is the record before release: durable when it returns, and with a
    /// shared store the one signature the container ever accepts for that block, which may be
    /// another signer's (recorded first): that one is returned, and `signed`'s is dropped. For
    /// the other kinds it need not be durable (losing it only means an identical retry is
    /// signed again, which is no double sign) and `signed`'s signature is returned. `until`
    /// as for [`MarkStore::reserve`].
    async fn record_signature(
        &self,
        slot: Slot,
        signed: Mark,
        until: Option<Instant>,
    ) -> Result<Signature, StoreError>;
    /// Makes everything recorded so far durable (at a clean shutdown).
    async fn flush(&self) -> Result<(), StoreError>;
    /// Whether the store can take marks now (readiness). A local store always can: its
    /// failures show on the write itself.
    async fn probe(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Whether the store's workers still run. A dead writer never comes back, so liveness
    /// (`/healthz`) reports it and a supervisor restarts the process.
    fn alive(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::watermark::data_dir::StoreError;
    use crate::watermark::rule::{Decision, MarkRequest, check};

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
        let store = LocalStore::open(dir.path()).expect("open");
        let reserved = Mark {
            level: 100,
            round: Some(0),
            hash: [7; 32],
            signature: None,
            unreleased: false,
        };
        store
            .reserve(slot(), reserved.clone(), None)
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
            .record_signature(slot(), other.to_mark(sig), None)
            .await;
        assert!(
            matches!(wrong, Err(StoreError::NotAReservation { .. })),
            "{wrong:?}"
        );
        let released = store
            .record_signature(slot(), same.to_mark(sig), None)
            .await
            .expect("record");
        assert_eq!(released, sig);
        let again = store
            .record_signature(slot(), same.to_mark(sig), None)
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
            unreleased: false,
        };
        store
            .reserve(other_key, unrelated, None)
            .await
            .expect("another reservation");
        drop(store);

        let store = LocalStore::open(dir.path()).expect("reopen");
        let current = store.load(&slot()).await.expect("load");
        assert_eq!(
            check(current.as_ref(), &same, None),
            Ok(Decision::Replay(sig))
        );
        assert_eq!(store.chains_of(&slot().pkh).await.expect("chains").len(), 1);
    }

    /// A block's signature is recorded before release: durable (journal) when
    /// `record_signature` returns, so a restart right after it replays that signature; an
    /// unsigned block reservation of this signer survives checkpoints and restarts as one
    /// that may be signed again, while an unsigned block mark from octez's files is refused.
    #[tokio::test]
    async fn a_block_signature_is_durable_before_release_and_unreleased_survives_restarts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let block = Slot {
            kind: ConsensusKind::Block,
            ..slot()
        };
        let req = |level| MarkRequest {
            kind: ConsensusKind::Block,
            level,
            round: Some(0),
            hash: [level as u8; 32],
        };
        let sig: Signature = SPSIG.parse().expect("sig");
        let store = LocalStore::open(dir.path()).expect("open");
        store
            .reserve(block, req(10).reservation(), None)
            .await
            .expect("reserve");
        assert_eq!(
            store
                .record_signature(block, req(10).to_mark(sig), None)
                .await
                .expect("record"),
            sig
        );
        // A restart replays it (the SIGKILL suites check it is durable before the reply).
        drop(store);
        let store = LocalStore::open(dir.path()).expect("reopen");
        let current = store.load(&block).await.expect("load");
        assert_eq!(
            check(current.as_ref(), &req(10), None),
            Ok(Decision::Replay(sig))
        );
        // Another reservation that never gets its signature (the vault call failed).
        store
            .reserve(block, req(11).reservation(), None)
            .await
            .expect("reserve");
        // A checkpoint (the files lose the proof; the journal carries it on).
        store.flush().await.expect("flush");
        drop(store);

        let store = LocalStore::open(dir.path()).expect("reopen");
        let current = store.load(&block).await.expect("load").expect("a mark");
        assert!(
            current.unreleased && current.signature.is_none(),
            "{current:?}"
        );
        assert_eq!(check(Some(&current), &req(11), None), Ok(Decision::Sign));
        assert!(store.flush().await.is_ok());
        drop(store);
        // The same bytes in octez's file alone (an import): refused.
        let store = LocalStore::open(dir.path()).expect("reopen");
        let current = store.load(&block).await.expect("load").expect("a mark");
        assert!(current.unreleased, "a second restart keeps the proof");
        drop(store);
        for name in [
            crate::watermark::journal::JOURNAL_FILE,
            crate::watermark::journal::ID_FILE,
        ] {
            std::fs::remove_file(dir.path().join(name)).expect("remove the journal");
        }
        let store = LocalStore::open(dir.path()).expect("reopen");
        let current = store.load(&block).await.expect("load").expect("a mark");
        assert!(!current.unreleased);
        assert!(matches!(
            check(Some(&current), &req(11), None),
            Err(crate::watermark::WatermarkError::UnsignedBlock {
                level: 11,
                round: 0
            })
        ));
    }
}
