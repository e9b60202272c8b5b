//! Property test of the whole pipeline: arbitrary request sequences (kinds, chains, keys,
//! levels, rounds, payload variants), sent in concurrent bursts through the real signer and
//! store, never get two signatures for different bytes at one (kind, chain, key, level,
//! round), and every replay is the signature first released for those exact bytes.

use std::collections::HashMap;

use proptest::prelude::*;

use super::testkit::*;
use crate::signer::*;

/// (kind 0..3, chain 0..2, key 0..2, level, round, variant)
type Req = (u8, u8, u8, i32, i32, u8);
/// (kind, chain, key, level, round) -> (bytes, signature) first released there.
type Released = HashMap<(u8, u8, u8, i32, i32), (Vec<u8>, Signature)>;

fn payload(&(kind, chain, _, level, round, variant): &Req) -> Vec<u8> {
    let chain = if chain == 0 { MAIN } else { TEST };
    match kind {
        0 => {
            let mut b = block(level, round, variant);
            b[1..5].copy_from_slice(&chain);
            b
        }
        1 => consensus("preattestation", chain, level, round, variant),
        _ => consensus("attestation", chain, level, round, variant),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn no_double_signature_under_concurrency(
        bursts in proptest::collection::vec(
            proptest::collection::vec((0u8..3, 0u8..2, 0u8..2, 1i32..4, 0i32..3, 0u8..2), 1..8),
            1..6),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let result: Result<(), TestCaseError> = rt.block_on(async {
            let t = setup(SignerConfig::default()).await;
            let mut released = Released::new();
            for burst in bursts {
                let tasks: Vec<_> = burst
                    .iter()
                    .map(|req| {
                        let signer = t.signer.clone();
                        let pkh = if req.2 == 0 { t.tz2 } else { t.tz3 };
                        let data = payload(req);
                        tokio::spawn(async move {
                            let r = signer.sign(&pkh, &data, None).await;
                            (data, r)
                        })
                    })
                    .collect();
                let mut results = Vec::new();
                for (req, task) in burst.iter().zip(tasks) {
                    let (data, r) = task.await.unwrap();
                    results.push((req, data, r));
                }
                // Within a burst a replay may finish before the signature it repeats.
                results.sort_by_key(|(_, _, r)| matches!(r, Ok(s) if s.replayed()));
                for (req, data, r) in results {
                    let slot = (req.0, req.1, req.2, req.3, req.4);
                    match r {
                        Ok(s) => match released.get(&slot) {
                            Some((bytes, sig)) => {
                                prop_assert_eq!(bytes, &data, "two payloads signed at {:?}", slot);
                                prop_assert_eq!(*sig, s.signature);
                                prop_assert!(s.replayed());
                            }
                            None => {
                                prop_assert!(!s.replayed());
                                released.insert(slot, (data, s.signature));
                            }
                        },
                        Err(SignError::Watermark(_)) => {}
                        Err(e) => prop_assert!(false, "unexpected error {}", e),
                    }
                }
            }
            Ok(())
        });
        result?;
    }
}
