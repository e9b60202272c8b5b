//! The shared store's compare-and-swap against an in-memory container with Azure's conditional
//! semantics (the same code runs against Azurite in tests/shared/).

use std::sync::Arc;

use super::*;
use crate::tezos::ConsensusKind;

use crate::testing::MemoryBlobs;

fn location() -> SharedLocation {
    SharedLocation::parse("http://127.0.0.1:10000/devstoreaccount1/marks?sv=1&sig=x").unwrap()
}

fn signer(blobs: &Arc<MemoryBlobs>) -> Container {
    let blobs: Arc<dyn Blobs> = blobs.clone();
    Container::new(
        blobs,
        location(),
        Duration::from_millis(300),
        Arc::new(SharedStats::default()),
    )
}

fn slot() -> Slot {
    Slot {
        kind: ConsensusKind::Attestation,
        chain: "NetXdQprcVkpaWU".parse().unwrap(),
        pkh: "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt".parse().unwrap(),
    }
}

fn mark(level: i32, round: i32, hash: u8) -> Mark {
    Mark {
        level,
        round: Some(round),
        hash: [hash; 32],
        signature: None,
        unreleased: false,
    }
}

#[tokio::test]
async fn the_usual_reservation_is_one_conditional_write_and_no_read() {
    let blobs = Arc::new(MemoryBlobs::default());
    let a = signer(&blobs);
    a.reserve(slot(), &mark(10, 0, 1), None)
        .await
        .expect("create");
    assert_eq!(
        blobs.counts(),
        (0, 1),
        "created with If-None-Match, no read"
    );
    for level in 11..20 {
        a.reserve(slot(), &mark(level, 0, 1), None)
            .await
            .expect("move up");
    }
    assert_eq!(blobs.counts(), (0, 10), "each move is one If-Match write");
    assert_eq!(a.stats().snapshot().writes.count, 10);
    assert_eq!(a.stats().snapshot().conflicts, 0);
}

/// The table of what a second signer may reserve once the first holds (100, 1, h1).
#[tokio::test]
async fn a_second_signer_is_held_to_the_first_ones_mark() {
    let cases: [(Mark, bool); 6] = [
        (mark(100, 1, 2), false), // other bytes at the same point: the double sign
        (mark(100, 0, 2), false), // below
        (mark(99, 5, 2), false),  // below
        (mark(100, 1, 1), true),  // the same bytes: no write needed
        (mark(100, 2, 2), true),  // above
        (mark(101, 0, 2), true),  // above
    ];
    for (request, allowed) in cases {
        let blobs = Arc::new(MemoryBlobs::default());
        let (a, b) = (signer(&blobs), signer(&blobs));
        a.reserve(slot(), &mark(100, 1, 1), None)
            .await
            .expect("first");
        let got = b.reserve(slot(), &request, None).await;
        assert_eq!(got.is_ok(), allowed, "{request:?}: {got:?}");
        if let Err(e) = got {
            assert!(matches!(e, SharedError::Refused { .. }), "{e:?}");
        }
        // A, whose cached ETag is now stale when B moved the mark, re-reads and decides again.
        let again = a.reserve(slot(), &mark(100, 1, 3), None).await;
        assert!(again.is_err(), "{again:?}");
    }
}

#[tokio::test]
async fn signers_racing_at_one_point_leave_exactly_one_winner() {
    for round in 0..20 {
        let blobs = Arc::new(MemoryBlobs::default());
        let signers: Vec<Arc<Container>> = (0..8).map(|_| Arc::new(signer(&blobs))).collect();
        let mut tasks = Vec::new();
        for (i, s) in signers.iter().enumerate() {
            let s = Arc::clone(s);
            tasks.push(tokio::spawn(async move {
                s.reserve(slot(), &mark(50, round, i as u8), None)
                    .await
                    .is_ok()
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.unwrap());
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test]
async fn storage_failures_fail_closed_within_the_budget_and_recover() {
    let blobs = Arc::new(MemoryBlobs::default());
    let a = signer(&blobs);
    a.reserve(slot(), &mark(1, 0, 1), None).await.expect("up");
    blobs.down.store(true, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let got = a.reserve(slot(), &mark(2, 0, 1), None).await;
    assert!(
        matches!(got, Err(SharedError::Unavailable { .. })),
        "{got:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
    assert!(a.probe().await.is_err());
    assert!(a.stats().snapshot().errors["unavailable"] >= 1);
    blobs.down.store(false, Ordering::SeqCst);
    a.reserve(slot(), &mark(2, 0, 1), None)
        .await
        .expect("recovered");
    a.probe().await.expect("ready again");
}

/// A storage outage longer than the tries a lost race gets is still reported as an outage,
/// not as two signers fighting over the mark.
#[tokio::test]
async fn a_long_outage_is_an_outage_not_a_fight() {
    let blobs = Arc::new(MemoryBlobs::default());
    let dyn_blobs: Arc<dyn Blobs> = blobs.clone();
    let a = Container::new(
        dyn_blobs,
        location(),
        Duration::from_millis(2500),
        Arc::new(SharedStats::default()),
    );
    a.reserve(slot(), &mark(1, 0, 1), None).await.expect("up");
    blobs.down.store(true, Ordering::SeqCst);
    let got = a.reserve(slot(), &mark(2, 0, 1), None).await;
    assert!(
        matches!(got, Err(SharedError::Unavailable { .. })),
        "{got:?}"
    );
}

#[tokio::test]
async fn an_unreadable_shared_mark_refuses_everything() {
    let blobs = Arc::new(MemoryBlobs::default());
    let name = location().blob_name(&slot());
    blobs
        .blobs
        .lock()
        .unwrap()
        .insert(name, (1, b"{\"level\": -4, \"hash\": \"00\"}".to_vec()));
    let got = signer(&blobs).reserve(slot(), &mark(5, 0, 1), None).await;
    assert!(matches!(got, Err(SharedError::Corrupt { .. })), "{got:?}");
}

#[tokio::test]
async fn push_raises_missing_and_lower_marks_and_never_lowers_one() {
    let blobs = Arc::new(MemoryBlobs::default());
    let shared = signer(&blobs);
    let other = |pkh: &str| Slot {
        pkh: pkh.parse().unwrap(),
        ..slot()
    };
    let (lower, higher, same) = (
        other("tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t"),
        other("tz1VSUr8wwNhLAzempoch5d6hLRiTh8Cjcjb"),
        other("tz1aSkwEot3L2kmUvcoxzjMomb9mvBNuzFK6"),
    );
    shared.reserve(lower, &mark(5, 0, 1), None).await.unwrap();
    shared.reserve(higher, &mark(50, 0, 1), None).await.unwrap();
    shared.reserve(same, &mark(7, 0, 1), None).await.unwrap();
    let report = push(
        &signer(&blobs),
        vec![
            (slot(), mark(9, 0, 9)),
            (lower, mark(6, 0, 9)),
            (higher, mark(10, 0, 9)),
            (same, mark(7, 0, 9)),
        ],
    )
    .await
    .expect("push");
    assert_eq!((report.created, report.raised, report.kept), (1, 1, 1));
    assert_eq!(report.diverged, vec![same]);
    let read = |s: Slot| {
        let body = blobs.blobs.lock().unwrap()[&location().blob_name(&s)]
            .1
            .clone();
        crate::watermark::format::parse_record(&body).unwrap().level
    };
    assert_eq!(
        [read(slot()), read(lower), read(higher), read(same)],
        [9, 6, 50, 7]
    );
}

/// The local files stay the floor, and a container that lost marks gets them back.
#[tokio::test]
async fn the_local_marks_are_the_floor_and_are_written_back_when_lost() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(MemoryBlobs::default());
    let local = LocalStore::open(dir.path()).unwrap();
    let other = Slot {
        kind: ConsensusKind::Block,
        ..slot()
    };
    local.reserve(other, mark(70, 0, 7), None).await.unwrap();
    let store = SharedStore::open(local, signer(&blobs))
        .await
        .expect("open");
    assert_eq!(
        blobs.blobs.lock().unwrap().len(),
        1,
        "seeded with the local mark"
    );
    store
        .reserve(slot(), mark(10, 0, 1), None)
        .await
        .expect("reserve");
    // The container is emptied: below the local mark stays refused (by the local files)...
    blobs.blobs.lock().unwrap().clear();
    let below = store.reserve(slot(), mark(9, 0, 2), None).await;
    assert!(
        matches!(below, Err(StoreError::Regression { .. })),
        "{below:?}"
    );
    // ... and the next reservation finds its slot gone and writes every local mark back.
    store
        .reserve(slot(), mark(11, 0, 1), None)
        .await
        .expect("reserve");
    for _ in 0..100 {
        if blobs.blobs.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let names: Vec<String> = blobs.blobs.lock().unwrap().keys().cloned().collect();
    assert!(names.contains(&location().blob_name(&other)), "{names:?}");
    store.probe().await.expect("probe");
}

#[path = "block_tests.rs"]
mod blocks;

/// A container that accepted the connection and froze.
struct Frozen;

#[async_trait::async_trait]
impl Blobs for Frozen {
    async fn read(&self, _: &str) -> Result<Option<(String, Vec<u8>)>, BlobError> {
        std::future::pending().await
    }
    async fn write(&self, _: &str, _: Vec<u8>, _: Condition) -> Result<String, BlobError> {
        std::future::pending().await
    }
}

/// The request's deadline is the container's one clock: a reservation and a block's record
/// give up at it, not at the container's own (longer) budget, which only serves callers
/// without a deadline.
#[tokio::test]
async fn the_request_deadline_bounds_every_container_step() {
    let container = Container::new(
        Arc::new(Frozen),
        location(),
        Duration::from_secs(30),
        Arc::new(SharedStats::default()),
    );
    let block = Slot {
        kind: ConsensusKind::Block,
        ..slot()
    };
    let until = || Some(std::time::Instant::now() + Duration::from_millis(80));
    let started = std::time::Instant::now();
    let reserved = container.reserve(slot(), &mark(5, 0, 1), until()).await;
    assert!(reserved.is_err(), "{reserved:?}");
    let sig: crate::tezos::Signature = "spsig16QPQy2nPP6BkV5vtKyQhtVXjDGTq9Wx8VQgqEv7bYKviCkbXjaaaD1n8R7HRMxTRcjUn9U4TaoAtSBq2Sx1F9fbAVjWGK".parse().unwrap();
    let signed = Mark {
        signature: Some(sig),
        ..mark(6, 0, 2)
    };
    let recorded = container.record_block(block, &signed, until()).await;
    assert!(recorded.is_err(), "{recorded:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "both steps ended at their deadline: {:?}",
        started.elapsed()
    );
}
