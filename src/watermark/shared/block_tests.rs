//! One block, one signature: two signers sharing one container, driven step by step through
//! arbitrary interleavings of the pipeline's store steps (the rule and the reservation, the
//! vault's signature, the record before release) and crashes, with identical block requests.
//! Whatever the order, at most one distinct signature leaves for each (level, round).

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::tezos::{Curve, Signature};
use crate::watermark::rule::{Decision, MarkRequest, check};

/// The block points the signers are asked for: (level, round), each with its own bytes.
const POINTS: [(i32, i32); 4] = [(1, 0), (1, 1), (2, 0), (3, 2)];

fn block_slot() -> Slot {
    Slot {
        kind: ConsensusKind::Block,
        ..slot()
    }
}

fn request(point: usize) -> MarkRequest {
    let (level, round) = POINTS[point];
    MarkRequest {
        kind: ConsensusKind::Block,
        level,
        round: Some(round),
        hash: [point as u8 + 1; 32],
    }
}

/// A step of one signer.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A request for `POINTS[i]` arrives: the local rule, then the reservation (local and
    /// shared) — or the stored signature of an identical earlier request.
    Request(usize),
    /// The vault answers the pending request (a new random-nonce signature).
    Sign,
    /// The pending signature is recorded before release (for blocks), and released if the
    /// store says so.
    Record,
    /// The process dies and restarts on the same data directory.
    Crash,
}

fn step() -> impl Strategy<Value = (usize, Step)> {
    (
        0usize..2,
        prop_oneof![
            3 => (0..POINTS.len()).prop_map(Step::Request),
            3 => Just(Step::Sign),
            3 => Just(Step::Record),
            1 => Just(Step::Crash),
        ],
    )
}

/// Where one signer is in its current request.
enum Pending {
    Idle,
    Reserved(usize),
    Signed(usize, Signature),
}

struct Signer {
    dir: tempfile::TempDir,
    store: Option<SharedStore>,
    pending: Pending,
}

impl Signer {
    async fn open(dir: tempfile::TempDir, blobs: &Arc<MemoryBlobs>) -> Signer {
        let local = LocalStore::open(dir.path()).expect("open");
        let store = SharedStore::open(local, signer(blobs))
            .await
            .expect("open shared");
        Signer {
            dir,
            store: Some(store),
            pending: Pending::Idle,
        }
    }

    fn store(&self) -> &SharedStore {
        self.store.as_ref().expect("open")
    }
}

/// Runs `steps`; returns every signature released, by point.
async fn run(steps: &[(usize, Step)]) -> BTreeMap<usize, BTreeSet<[u8; 64]>> {
    let blobs = Arc::new(MemoryBlobs::default());
    let mut signers = Vec::new();
    for _ in 0..2 {
        signers.push(Signer::open(tempfile::tempdir().expect("dir"), &blobs).await);
    }
    let mut released: BTreeMap<usize, BTreeSet<[u8; 64]>> = BTreeMap::new();
    let mut nonce = 0u8;
    for &(who, step) in steps {
        let s = &mut signers[who];
        match (step, std::mem::replace(&mut s.pending, Pending::Idle)) {
            (Step::Request(point), Pending::Idle) => {
                let req = request(point);
                let current = s.store().load(&block_slot()).await.expect("load");
                match check(current.as_ref(), &req, None) {
                    Ok(Decision::Replay(sig)) => {
                        released.entry(point).or_default().insert(*sig.raw());
                    }
                    Ok(Decision::Sign) => {
                        if s.store()
                            .reserve(block_slot(), req.reservation(), None)
                            .await
                            .is_ok()
                        {
                            s.pending = Pending::Reserved(point);
                        }
                    }
                    Err(_) => {}
                }
            }
            (Step::Sign, Pending::Reserved(point)) => {
                nonce = nonce.wrapping_add(1);
                let sig = Signature::from_raw(Some(Curve::P256), [nonce; 64]);
                s.pending = Pending::Signed(point, sig);
            }
            (Step::Record, Pending::Signed(point, sig)) => {
                let recorded = s
                    .store()
                    .record_signature(block_slot(), request(point).to_mark(sig), None)
                    .await;
                if let Ok(sig) = recorded {
                    released.entry(point).or_default().insert(*sig.raw());
                }
            }
            (Step::Crash, _) => {
                drop(s.store.take());
                let dir = std::mem::replace(&mut s.dir, tempfile::tempdir().expect("dir"));
                *s = Signer::open(dir, &blobs).await;
            }
            // A step that does not apply in this state (a signer answers one request at a
            // time, as under its key lock): nothing happens.
            (_, pending) => s.pending = pending,
        }
    }
    released
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Any interleaving of two signers' request / sign / record / crash steps releases at most
    /// one signature per block.
    #[test]
    fn any_interleaving_releases_at_most_one_signature_per_block(
        steps in proptest::collection::vec(step(), 1..48)
    ) {
        let released = runtime().block_on(run(&steps));
        for (point, sigs) in released {
            prop_assert!(sigs.len() <= 1, "{:?}: {} signatures", POINTS[point], sigs.len());
        }
    }
}

/// The race the property test draws at random, forced: both signers reserve the same block,
/// both get a vault signature, both record; the second recorder returns the first one's
/// signature, and so does every identical request afterwards, on either signer, before and
/// after a restart.
#[test]
fn the_second_recorder_returns_the_first_signature() {
    use Step::*;
    let steps = [
        (0, Request(0)),
        (1, Request(0)),
        (0, Sign),
        (1, Sign),
        (1, Record),
        (0, Record),
        (0, Request(0)),
        (1, Request(0)),
        (0, Crash),
        (1, Crash),
        (0, Request(0)),
        (1, Request(0)),
    ];
    let released = runtime().block_on(run(&steps));
    assert_eq!(released[&0].len(), 1, "{released:?}");
}

/// A signer that dies between the vault's answer and the record released nothing: after the
/// restart it may sign the block again, and the container keeps one signature.
#[test]
fn a_crash_before_the_record_lets_the_block_be_signed_again_once() {
    use Step::*;
    let steps = [
        (0, Request(0)),
        (0, Sign),
        (0, Crash),
        (0, Request(0)),
        (0, Sign),
        (0, Record),
        (1, Request(0)),
        (1, Sign),
        (1, Record),
    ];
    let released = runtime().block_on(run(&steps));
    assert_eq!(released[&0].len(), 1, "{released:?}");
}

/// An unsigned block mark without the proof that nothing was released (pushed into the
/// container from imported marks): the identical block is refused, by the container.
#[tokio::test]
async fn a_pushed_unsigned_block_mark_is_refused() {
    let blobs = Arc::new(MemoryBlobs::default());
    let req = request(0);
    push(&signer(&blobs), vec![(block_slot(), req.reservation())])
        .await
        .expect("push");
    let got = signer(&blobs)
        .reserve(block_slot(), &req.reservation(), None)
        .await;
    assert!(
        matches!(
            got,
            Err(SharedError::Refused {
                reason: crate::watermark::WatermarkError::UnsignedBlock { .. },
                ..
            })
        ),
        "{got:?}"
    );
}
