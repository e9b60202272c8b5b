//! Table tests of the double-sign rule, row by row of docs/protocol.md §3 and octez's variants,
//! plus property tests over arbitrary request sequences.

use std::collections::HashMap;

use proptest::prelude::*;

use crate::tezos::{ConsensusKind, Curve, Signature};
use crate::watermark::rule::{Decision, Mark, MarkRequest, WatermarkError, check};

fn sig(n: u8) -> Signature {
    Signature::from_raw(Some(Curve::Secp256k1), [n; 64])
}

fn hash(n: u8) -> [u8; 32] {
    [n; 32]
}

fn mark(level: i32, round: Option<i32>, h: u8, s: Option<u8>) -> Mark {
    Mark {
        level,
        round,
        hash: hash(h),
        signature: s.map(sig),
        unreleased: false,
    }
}

fn req(kind: ConsensusKind, level: i32, round: i32, h: u8) -> MarkRequest {
    MarkRequest {
        kind,
        level,
        round: Some(round),
        hash: hash(h),
    }
}

/// Expected outcome: a decision or the exact octez message.
#[derive(Debug)]
enum Want {
    Sign,
    Replay(u8),
    Refuse(&'static str),
}

/// (name, stored mark, request, floor, expected outcome)
type Row = (&'static str, Option<Mark>, MarkRequest, Option<i32>, Want);

#[test]
fn rule_table() {
    use ConsensusKind::*;
    let full = Some(mark(100, Some(2), 1, Some(9)));
    let rows: Vec<Row> = vec![
        ("no mark", None, req(Block, 1, 0, 1), None, Want::Sign),
        (
            "lower level",
            full.clone(),
            req(Block, 99, 7, 1),
            None,
            Want::Refuse("block level 99 below high watermark 100"),
        ),
        (
            "same level lower round",
            full.clone(),
            req(Preattestation, 100, 1, 1),
            None,
            Want::Refuse("preattestation level 100 and round 1 not above high watermark (100,2)"),
        ),
        (
            "same level and round, same bytes: replay",
            full.clone(),
            req(Attestation, 100, 2, 1),
            None,
            Want::Replay(9),
        ),
        (
            "same level and round, other bytes",
            full.clone(),
            req(Attestation, 100, 2, 3),
            None,
            Want::Refuse("attestation level 100 and round 2 already signed with different data"),
        ),
        (
            "same level higher round",
            full.clone(),
            req(Block, 100, 3, 3),
            None,
            Want::Sign,
        ),
        (
            "higher level lower round",
            full.clone(),
            req(Block, 101, 0, 3),
            None,
            Want::Sign,
        ),
        // octez's older marks: no round, with a signature (level-only rule).
        (
            "no round: lower level",
            Some(mark(100, None, 1, Some(9))),
            req(Block, 99, 0, 1),
            None,
            Want::Refuse("block level 99 below high watermark 100"),
        ),
        (
            "no round: same level same bytes",
            Some(mark(100, None, 1, Some(9))),
            req(Block, 100, 5, 1),
            None,
            Want::Replay(9),
        ),
        (
            "no round: same level other bytes, even at a higher round",
            Some(mark(100, None, 1, Some(9))),
            req(Block, 100, 5, 2),
            None,
            Want::Refuse("block level 100 already signed with different data"),
        ),
        (
            "no round: higher level",
            Some(mark(100, None, 1, Some(9))),
            req(Block, 101, 0, 2),
            None,
            Want::Sign,
        ),
        // No round, no signature: strictly above only.
        (
            "bare mark: same level",
            Some(mark(100, None, 1, None)),
            req(Block, 100, 0, 1),
            None,
            Want::Refuse("block level 100 not above high watermark 100"),
        ),
        (
            "bare mark: higher level",
            Some(mark(100, None, 1, None)),
            req(Block, 101, 0, 1),
            None,
            Want::Sign,
        ),
        // Round but no signature (a reservation whose signature was never recorded): the same
        // (pre)attestation bytes may be signed again — identical bytes are no double sign (see
        // rule.rs) — and anything else at that (level, round) is refused. The same block only
        // when its reservation proves nothing was released: two signatures of one block are a
        // double bake.
        (
            "unsigned mark: same level and round, same attestation bytes",
            Some(mark(100, Some(2), 1, None)),
            req(Attestation, 100, 2, 1),
            None,
            Want::Sign,
        ),
        (
            "unsigned mark: same level and round, same preattestation bytes",
            Some(mark(100, Some(2), 1, None)),
            req(Preattestation, 100, 2, 1),
            None,
            Want::Sign,
        ),
        (
            "unsigned block mark (imported, pushed, older signer): same block refused",
            Some(mark(100, Some(2), 1, None)),
            req(Block, 100, 2, 1),
            None,
            Want::Refuse(
                "block level 100 and round 2 is marked without a recorded signature (imported, \
                 pushed or written by an older signer): the block may have been released \
                 already, and a second signature of it would be a double bake; refusing",
            ),
        ),
        (
            "unreleased block reservation: same block signed again (nothing left)",
            Some(Mark {
                unreleased: true,
                ..mark(100, Some(2), 1, None)
            }),
            req(Block, 100, 2, 1),
            None,
            Want::Sign,
        ),
        (
            "unreleased block reservation: other bytes refused",
            Some(Mark {
                unreleased: true,
                ..mark(100, Some(2), 1, None)
            }),
            req(Block, 100, 2, 7),
            None,
            Want::Refuse("block level 100 and round 2 not above high watermark (100,2)"),
        ),
        (
            "signed block: the one signature again",
            Some(mark(100, Some(2), 1, Some(9))),
            req(Block, 100, 2, 1),
            None,
            Want::Replay(9),
        ),
        (
            "unsigned mark: same level and round, other bytes",
            Some(mark(100, Some(2), 1, None)),
            req(Block, 100, 2, 7),
            None,
            Want::Refuse("block level 100 and round 2 not above high watermark (100,2)"),
        ),
        (
            "unsigned mark: same level, lower round, same bytes",
            Some(mark(100, Some(2), 1, None)),
            req(Block, 100, 1, 1),
            None,
            Want::Refuse("block level 100 and round 1 not above high watermark (100,2)"),
        ),
        (
            "unsigned mark: lower level",
            Some(mark(100, Some(2), 1, None)),
            req(Block, 99, 2, 1),
            None,
            Want::Refuse("block level 99 not above high watermark 100"),
        ),
        (
            "unsigned mark: same level higher round",
            Some(mark(100, Some(2), 1, None)),
            req(Block, 100, 3, 1),
            None,
            Want::Sign,
        ),
        // The --min-level floor.
        (
            "floor, no mark, below",
            None,
            req(Attestation, 49, 0, 1),
            Some(50),
            Want::Refuse(
                "attestation level 49 below the minimum level 50 this signer was started with (--min-level)",
            ),
        ),
        (
            "floor, no mark, at floor",
            None,
            req(Attestation, 50, 0, 1),
            Some(50),
            Want::Sign,
        ),
        (
            "floor above an old mark",
            Some(mark(40, Some(0), 1, Some(9))),
            req(Block, 45, 0, 1),
            Some(50),
            Want::Refuse(
                "block level 45 below the minimum level 50 this signer was started with (--min-level)",
            ),
        ),
        (
            "floor below the mark: the mark decides",
            Some(mark(60, Some(0), 1, Some(9))),
            req(Block, 55, 0, 1),
            Some(50),
            Want::Refuse("block level 55 below high watermark 60"),
        ),
        (
            "identical retry under the floor is still replayed (nothing new released)",
            Some(mark(40, Some(0), 1, Some(9))),
            req(Block, 40, 0, 1),
            Some(50),
            Want::Replay(9),
        ),
    ];
    for (name, mark, request, floor, want) in rows {
        let got = check(mark.as_ref(), &request, floor);
        match (&want, &got) {
            (Want::Sign, Ok(Decision::Sign)) => {}
            (Want::Replay(n), Ok(Decision::Replay(s))) => assert_eq!(*s, sig(*n), "{name}"),
            (Want::Refuse(msg), Err(e)) => {
                assert_eq!(e.to_string(), *msg, "{name}");
                assert_eq!(e.kind(), request.kind, "{name}");
            }
            _ => panic!("{name}: wanted {want:?}, got {got:?}"),
        }
    }
}

#[test]
fn to_mark_keeps_request_fields() {
    let r = req(ConsensusKind::Block, 7, 3, 4);
    let m = r.to_mark(sig(5));
    assert_eq!(m, mark(7, Some(3), 4, Some(5)));
    // Right after signing, the same request is a replay and a different one is refused.
    assert_eq!(check(Some(&m), &r, None), Ok(Decision::Replay(sig(5))));
    assert!(matches!(
        check(Some(&m), &req(ConsensusKind::Block, 7, 3, 6), None),
        Err(WatermarkError::DifferentData { .. })
    ));
}

/// Legacy requests (0x01, 0x02) carry no round, as in octez-signer: compared as round 0,
/// recorded without a round, so a later request at the same level is refused whatever its
/// round (octez's `None` round case), and a legacy request after a Tenderbake mark is round 0.
#[test]
fn legacy_requests_have_no_round() {
    let legacy = MarkRequest {
        kind: ConsensusKind::Block,
        level: 7,
        round: None,
        hash: hash(1),
    };
    let m = legacy.to_mark(sig(1));
    assert_eq!(m, mark(7, None, 1, Some(1)));
    assert_eq!(check(Some(&m), &legacy, None), Ok(Decision::Replay(sig(1))));
    assert_eq!(
        check(Some(&m), &req(ConsensusKind::Block, 7, 3, 2), None),
        Err(WatermarkError::DifferentDataAtLevel {
            kind: ConsensusKind::Block,
            level: 7
        })
    );
    assert_eq!(
        check(Some(&m), &req(ConsensusKind::Block, 8, 0, 2), None),
        Ok(Decision::Sign)
    );
    // Against a Tenderbake mark at round 0 / 1 of the same level.
    let other = MarkRequest {
        hash: hash(9),
        ..legacy
    };
    assert!(matches!(
        check(Some(&mark(7, Some(0), 3, Some(3))), &other, None),
        Err(WatermarkError::DifferentData { round: 0, .. })
    ));
    assert!(matches!(
        check(Some(&mark(7, Some(1), 3, Some(3))), &other, None),
        Err(WatermarkError::RoundNotAbove {
            round: 0,
            mark_round: 1,
            ..
        })
    ));
}

fn kind_strategy() -> impl Strategy<Value = ConsensusKind> {
    prop_oneof![
        Just(ConsensusKind::Block),
        Just(ConsensusKind::Preattestation),
        Just(ConsensusKind::Attestation),
        Just(ConsensusKind::Endorsement),
    ]
}

proptest! {
    /// Drives the rule like the signer does (sign → store the new mark) over arbitrary
    /// sequences, and checks the safety invariants on everything that was released.
    #[test]
    fn never_double_signs_and_never_goes_back(
        requests in proptest::collection::vec(
            (kind_strategy(), 0i32..6, 0i32..4, 0u8..3), 1..60),
        floor in proptest::option::of(0i32..4),
    ) {
        let mut marks: HashMap<ConsensusKind, Mark> = HashMap::new();
        // (kind, level, round) -> (hash, signature) of everything signed.
        let mut signed: HashMap<(ConsensusKind, i32, i32), ([u8; 32], Signature)> = HashMap::new();
        let mut highest: HashMap<ConsensusKind, (i32, i32)> = HashMap::new();
        let mut counter: u8 = 0;
        for (kind, level, round, h) in requests {
            let r = req(kind, level, round, h);
            match check(marks.get(&kind), &r, floor) {
                Ok(Decision::Sign) => {
                    // Nothing was ever signed at this (level, round) for this kind.
                    prop_assert!(!signed.contains_key(&(kind, level, round)));
                    // Strictly above everything signed before.
                    if let Some(prev) = highest.get(&kind) {
                        prop_assert!((level, round) > *prev);
                    }
                    if let Some(f) = floor {
                        prop_assert!(level >= f);
                    }
                    counter = counter.wrapping_add(1);
                    let s = sig(counter);
                    signed.insert((kind, level, round), (r.hash, s));
                    highest.insert(kind, (level, round));
                    marks.insert(kind, r.to_mark(s));
                }
                Ok(Decision::Replay(s)) => {
                    // Only ever the signature released for exactly these bytes.
                    prop_assert_eq!(signed.get(&(kind, level, round)), Some(&(r.hash, s)));
                }
                Err(e) => {
                    prop_assert_eq!(e.kind(), kind);
                    // A refusal never happens for a strictly higher request without a floor.
                    if floor.is_none() {
                        if let Some(prev) = highest.get(&kind) {
                            prop_assert!((level, round) <= *prev);
                        } else {
                            prop_assert!(false, "refused with no mark and no floor: {}", e);
                        }
                    }
                }
            }
        }
    }
}

proptest! {
    /// A block is signed again at the point of its mark only from an unsigned reservation
    /// that proves nothing was released; a signed block mark only ever replays its signature.
    #[test]
    fn a_block_point_is_signed_again_only_from_an_unreleased_reservation(
        level in 0i32..4, round in 0i32..3, h in 0u8..2, signed in any::<bool>(),
        unreleased in any::<bool>(), req_level in 0i32..4, req_round in 0i32..3, req_h in 0u8..2,
    ) {
        let stored = Mark {
            unreleased: unreleased && !signed,
            ..mark(level, Some(round), h, signed.then_some(9))
        };
        let r = req(ConsensusKind::Block, req_level, req_round, req_h);
        let at_the_mark = (req_level, req_round) == (level, round);
        match check(Some(&stored), &r, None) {
            Ok(Decision::Sign) if at_the_mark => {
                prop_assert!(stored.unreleased && req_h == h, "{stored:?} {r:?}");
            }
            Ok(Decision::Sign) => prop_assert!((req_level, req_round) > (level, round)),
            Ok(Decision::Replay(s)) => {
                prop_assert!(signed && at_the_mark && req_h == h);
                prop_assert_eq!(s, sig(9));
            }
            Err(_) => prop_assert!((req_level, req_round) <= (level, round)),
        }
    }
}
