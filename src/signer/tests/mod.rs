//! Pipeline tests with the in-memory vault: the rule on real payloads, independence of kinds,
//! chains and keys, concurrency, and re-discovery.

mod check;
mod held;
mod prop;
mod queue;
mod rediscovery;
mod spending;
mod testkit;
mod two_vaults;

use std::str::FromStr;
use std::time::Duration;

use super::*;
use crate::tezos::{ConsensusKind, SecretKey};
use crate::watermark::file_name;
use testkit::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_sequence_on_real_payloads() {
    let t = setup(SignerConfig::default()).await;
    for pkh in [t.tz2, t.tz3] {
        let pk = t.signer.public_key(&pkh).await.unwrap();
        let calls = t.vault.signs();
        let (pre, _) = vector("preattestation");
        let first = t.signer.sign(&pkh, &pre, None).await.unwrap();
        assert!(!first.replayed() && first.vault_latency.is_some());
        pk.verify(&pre, &first.signature).unwrap();
        assert!(first.signature.is_low_s());
        // Identical retry: the stored signature, no vault call.
        let again = t.signer.sign(&pkh, &pre, None).await.unwrap();
        assert!(again.replayed() && again.vault_latency.is_none());
        assert_eq!(again.signature, first.signature);
        assert_eq!(t.vault.signs(), calls + 1);
        // Same (level, round), other bytes.
        let other = consensus("preattestation", MAIN, 1331, 0, 9);
        assert_eq!(
            refusal(t.signer.sign(&pkh, &other, None).await),
            "preattestation level 1331 and round 0 already signed with different data"
        );
        // Same level, higher round; then lower round, lower level, higher level.
        let r1 = consensus("preattestation", MAIN, 1331, 1, 9);
        pk.verify(
            &r1,
            &t.signer.sign(&pkh, &r1, None).await.unwrap().signature,
        )
        .unwrap();
        assert_eq!(
            refusal(t.signer.sign(&pkh, &pre, None).await),
            "preattestation level 1331 and round 0 not above high watermark (1331,1)"
        );
        let low = consensus("preattestation", MAIN, 1330, 5, 0);
        assert_eq!(
            refusal(t.signer.sign(&pkh, &low, None).await),
            "preattestation level 1330 below high watermark 1331"
        );
        let up = consensus("preattestation", MAIN, 1332, 0, 0);
        t.signer.sign(&pkh, &up, None).await.unwrap();
        assert_eq!(t.vault.signs(), calls + 3);
    }
    // Blocks by their round (from the fitness), with the real block vectors.
    let (b0, _) = vector("block_round0_unlocked");
    let (b2, _) = vector("block_round2_locked1");
    t.signer.sign(&t.tz2, &b0, None).await.unwrap();
    t.signer.sign(&t.tz2, &b2, None).await.unwrap();
    assert_eq!(
        refusal(t.signer.sign(&t.tz2, &b0, None).await),
        "block level 1331 and round 0 not above high watermark (1331,2)"
    );
    // The marks are on disk in octez's format (after a checkpoint).
    t.signer.shutdown().await.unwrap();
    let text = std::fs::read_to_string(t.dir.path().join(file_name(ConsensusKind::Block))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let m = &v["NetXdQprcVkpaWU"][t.tz2.to_string()];
    assert_eq!(
        (m["level"].as_i64(), m["round"].as_i64()),
        (Some(1331), Some(2))
    );
    assert_eq!(m["hash"], hex::encode(crate::tezos::blake2b_256(&b2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_chains_and_keys_are_independent() {
    let t = setup(SignerConfig::default()).await;
    let requests = [
        block(100, 0, 1),
        consensus("preattestation", MAIN, 100, 0, 1),
        consensus("attestation", MAIN, 100, 0, 1),
        consensus("attestation_with_dal", MAIN, 100, 0, 2),
        // Other chain, even at a lower level.
        block(50, 0, 1),
        consensus("preattestation", TEST, 50, 0, 1),
        consensus("attestation", TEST, 50, 0, 1),
    ];
    let mut blocks_on_test = requests.to_vec();
    blocks_on_test[4][1..5].copy_from_slice(&TEST);
    for (i, data) in blocks_on_test.iter().enumerate() {
        let r = t.signer.sign(&t.tz2, data, None).await;
        // The DAL attestation shares the attestation mark: same (level, round), other bytes.
        if i == 3 {
            assert_eq!(
                refusal(r),
                "attestation level 100 and round 0 already signed with different data"
            );
        } else {
            assert!(r.is_ok(), "request {i}: {:?}", r.err());
        }
    }
    // The other key has its own marks.
    for data in &blocks_on_test[..3] {
        t.signer.sign(&t.tz3, data, None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_conflicting_requests_sign_once() {
    let t = setup(SignerConfig::default()).await;
    let tasks: Vec<_> = (0..64u8)
        .map(|i| {
            let signer = t.signer.clone();
            let pkh = t.tz2;
            tokio::spawn(async move {
                signer
                    .sign(&pkh, &consensus("attestation", MAIN, 500, 1, i), None)
                    .await
            })
        })
        .collect();
    let mut signed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(s) => {
                assert!(!s.replayed());
                signed += 1;
            }
            Err(SignError::Watermark(WatermarkError::DifferentData {
                level: 500,
                round: 1,
                ..
            })) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(signed, 1);
    assert_eq!(t.vault.signs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_requests_get_one_signature() {
    let t = setup(SignerConfig::default()).await;
    let data = consensus("preattestation", MAIN, 600, 0, 3);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (signer, pkh, data) = (t.signer.clone(), t.tz3, data.clone());
            tokio::spawn(async move { signer.sign(&pkh, &data, None).await })
        })
        .collect();
    let mut sigs = Vec::new();
    let mut replays = 0;
    for task in tasks {
        let s = task.await.unwrap().unwrap();
        replays += usize::from(s.replayed());
        sigs.push(s.signature);
    }
    assert!(sigs.iter().all(|s| *s == sigs[0]));
    assert_eq!(replays, 63);
    assert_eq!(t.vault.signs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn different_keys_do_not_block_each_other() {
    let t = setup(SignerConfig::default()).await;
    let gate = t.vault.gate("baker-tz2");
    let slow = {
        let (signer, pkh) = (t.signer.clone(), t.tz2);
        tokio::spawn(async move { signer.sign(&pkh, &block(10, 0, 0), None).await })
    };
    // Wait until tz2 is inside the vault call (holding its key lock).
    while t.vault.signs() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // tz3 signs while tz2's signature is held in the vault.
    let fast = tokio::time::timeout(
        Duration::from_secs(5),
        t.signer.sign(&t.tz3, &block(10, 0, 0), None),
    )
    .await
    .expect("tz3 must not wait for tz2");
    fast.unwrap();
    assert!(!slow.is_finished());
    gate.add_permits(1);
    slow.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_trigger_rate_limited_rediscovery() {
    let config = SignerConfig {
        rediscovery_interval: Duration::from_secs(3600),
        ..SignerConfig::default()
    };
    let t = setup(config).await;
    assert_eq!(t.vault.lists(), 1);
    // Known keys: no vault call at all.
    t.signer.public_key(&t.tz2).await.unwrap();
    assert_eq!(
        (
            t.vault.lists(),
            t.vault.get_calls.load(std::sync::atomic::Ordering::SeqCst)
        ),
        (1, 0)
    );
    let newcomer = SecretKey::from_str(OTHER_SPSK).unwrap().public_key().pkh();
    // The last listing is recent: no re-discovery however many ask.
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let signer = t.signer.clone();
            tokio::spawn(async move { signer.public_key(&newcomer).await })
        })
        .collect();
    for task in tasks {
        assert!(matches!(task.await.unwrap(), Err(SignError::UnknownKey(p)) if p == newcomer));
    }
    assert_eq!(t.vault.lists(), 1);

    // With a zero interval an unknown key triggers one listing and is then served.
    let t = setup(SignerConfig {
        rediscovery_interval: Duration::ZERO,
        ..SignerConfig::default()
    })
    .await;
    let err = t
        .signer
        .sign(&newcomer, &block(1, 0, 0), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("key {newcomer} is not known to this signer")
    );
    assert_eq!(t.vault.lists(), 2);
    t.vault.add("rotated-in", OTHER_SPSK);
    t.signer
        .sign(&newcomer, &block(1, 0, 0), None)
        .await
        .unwrap();
    assert_eq!(t.vault.lists(), 3);
    assert!(t.signer.known_keys().contains(&newcomer));
}

/// After a restart on the same data directory, identical requests get the signatures
/// released before the restart, and conflicting ones are refused: nothing was forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_marks_and_signatures() {
    let t = setup(SignerConfig::default()).await;
    let requests = [
        block(70, 1, 0),
        consensus("preattestation", MAIN, 70, 1, 0),
        consensus("attestation", MAIN, 70, 1, 0),
    ];
    let mut released = Vec::new();
    for data in &requests {
        released.push(t.signer.sign(&t.tz3, data, None).await.unwrap().signature);
    }
    let Setup { signer, dir, .. } = t;
    signer.shutdown().await.unwrap(); // a clean stop writes the recorded signatures
    drop(signer); // releases the store and its directory lock
    let t = setup_in(dir, SignerConfig::default()).await;
    for (data, sig) in requests.iter().zip(&released) {
        let again = t.signer.sign(&t.tz3, data, None).await.unwrap();
        assert!(again.replayed());
        assert_eq!(again.signature, *sig);
    }
    assert_eq!(t.vault.signs(), 0);
    assert!(matches!(
        t.signer.sign(&t.tz3, &block(70, 1, 9), None).await,
        Err(SignError::Watermark(WatermarkError::DifferentData { .. }))
    ));
}

/// Legacy magic bytes as octez-signer handles them: 0x02 has its own `endorsement` watermark
/// (independent of 0x13 attestations), 0x01 shares the block one, and neither has a round, so
/// a Tenderbake block at the level of a legacy block is refused whatever its round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_magic_bytes_use_octez_watermarks() {
    use crate::policy::MagicBytes;
    let t = setup(SignerConfig {
        policy: Policy::new(
            MagicBytes::new(
                crate::tezos::MagicByte::WATERMARKED.map(crate::tezos::MagicByte::byte),
            ),
            None,
        ),
        ..SignerConfig::default()
    })
    .await;
    let endorsement = |level: i32, variant: u8| {
        let mut b = vec![0x02];
        b.extend(MAIN);
        b.extend([variant; 32]);
        b.push(0x00);
        b.extend(level.to_be_bytes());
        b
    };
    let first = t
        .signer
        .sign(&t.tz2, &endorsement(10, 1), None)
        .await
        .unwrap();
    // The attestation at the same level is another watermark: signed.
    t.signer
        .sign(&t.tz2, &consensus("attestation", MAIN, 10, 0, 1), None)
        .await
        .unwrap();
    assert_eq!(
        refusal(t.signer.sign(&t.tz2, &endorsement(10, 2), None).await),
        "endorsement level 10 already signed with different data"
    );
    let again = t
        .signer
        .sign(&t.tz2, &endorsement(10, 1), None)
        .await
        .unwrap();
    assert!(again.replayed() && again.signature == first.signature);
    // The file as octez-signer reads it, once the store has checkpointed.
    t.signer.shutdown().await.unwrap();
    let text =
        std::fs::read_to_string(t.dir.path().join(file_name(ConsensusKind::Endorsement))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mark = v.as_object().unwrap().values().next().unwrap()[t.tz2.to_string()].clone();
    assert_eq!(mark["level"], 10);
    assert!(mark.get("round").is_none(), "{text}");

    let mut legacy_block = vec![0x01];
    legacy_block.extend(MAIN);
    legacy_block.extend(20i32.to_be_bytes());
    legacy_block.extend([0u8; 8]);
    t.signer.sign(&t.tz2, &legacy_block, None).await.unwrap();
    assert_eq!(
        refusal(t.signer.sign(&t.tz2, &block(20, 1, 0), None).await),
        "block level 20 already signed with different data"
    );
    t.signer.sign(&t.tz2, &block(21, 0, 0), None).await.unwrap();
}
