//! Pipeline tests with the in-memory vault: the rule on real payloads, independence of kinds,
//! chains and keys, concurrency, re-discovery, check order, faults and persistence.

use std::sync::Arc;
use std::time::Duration;

use super::fake::{FakeVault, Mode};
use super::*;
use crate::auth::{AuthorizedKeys, authentication_bytes};
use crate::policy::{MagicBytes, PolicyRules};
use crate::tezos::SecretKey;
use crate::watermark::file_name;

const SPSK: &str = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5";
const P2SK: &str = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9";
const OTHER_SPSK: &str = "spsk2rBDDeUqakQ42nBHDGQTtP3GErb6AahHPwF9bhca3Q5KA5HESE";

pub(super) fn vector(name: &str) -> (Vec<u8>, serde_json::Value) {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../tests/vectors/requests.json")).unwrap();
    let entry = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()
        .clone();
    (hex::decode(entry["hex"].as_str().unwrap()).unwrap(), entry)
}

/// A (pre)attestation built from a vector: level, round, and a payload-hash byte.
fn consensus(name: &str, chain: [u8; 4], level: i32, round: i32, variant: u8) -> Vec<u8> {
    let (mut b, _) = vector(name);
    b[1..5].copy_from_slice(&chain);
    b[40..44].copy_from_slice(&level.to_be_bytes());
    b[44..48].copy_from_slice(&round.to_be_bytes());
    b[48] = variant;
    b
}

/// A block built from the unlocked round-0 vector (fitness length 33).
fn block(level: i32, round: i32, variant: u8) -> Vec<u8> {
    let (mut b, _) = vector("block_round0_unlocked");
    b[5..9].copy_from_slice(&level.to_be_bytes());
    b[96..100].copy_from_slice(&level.to_be_bytes());
    b[116..120].copy_from_slice(&round.to_be_bytes());
    b[49] = variant;
    b
}

const MAIN: [u8; 4] = [0x7a, 0x06, 0xa7, 0x70];
const TEST: [u8; 4] = [1, 2, 3, 4];

struct Setup {
    vault: Arc<FakeVault>,
    signer: Arc<Signer>,
    dir: tempfile::TempDir,
    tz2: Pkh,
    tz3: Pkh,
}

async fn setup(config: SignerConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    setup_in(dir, config).await
}

async fn setup_in(dir: tempfile::TempDir, config: SignerConfig) -> Setup {
    let vault = Arc::new(FakeVault::new());
    let tz2 = vault.add("baker-tz2", SPSK);
    let tz3 = vault.add("baker-tz3", P2SK);
    let store = WatermarkStore::open(dir.path()).unwrap();
    let signer = Signer::new(vault.clone(), store, config).await.unwrap();
    Setup {
        vault,
        signer: Arc::new(signer),
        dir,
        tz2,
        tz3,
    }
}

fn refusal(r: Result<Signed, SignError>) -> String {
    match r {
        Ok(s) => panic!("expected a refusal, got {}", s.signature),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_sequence_on_real_payloads() {
    let t = setup(SignerConfig::default()).await;
    for pkh in [t.tz2, t.tz3] {
        let pk = t.signer.public_key(&pkh).await.unwrap();
        let calls = t.vault.signs();
        let (pre, _) = vector("preattestation");
        let first = t.signer.sign(&pkh, &pre, None).await.unwrap();
        assert!(!first.replayed && first.vault_latency.is_some());
        pk.verify(&pre, &first.signature).unwrap();
        assert!(first.signature.is_low_s());
        // Identical retry: the stored signature, no vault call.
        let again = t.signer.sign(&pkh, &pre, None).await.unwrap();
        assert!(again.replayed && again.vault_latency.is_none());
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
    // The marks are on disk in octez's format.
    let text = std::fs::read_to_string(t.dir.path().join(file_name(ConsensusKind::Block))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let m = &v["NetXdQprcVkpaWU"][t.tz2.to_string()];
    assert_eq!(
        (m["level"].as_i64(), m["round"].as_i64()),
        (Some(1331), Some(2))
    );
    assert_eq!(m["hash"], hex::encode(crate::tezos::blake2b_256(&b2)));
}

use crate::tezos::ConsensusKind;

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
                assert!(!s.replayed);
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
        replays += usize::from(s.replayed);
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

use std::str::FromStr;

/// (name, key, payload, authentication, expected message part)
type OrderRow = (&'static str, Pkh, Vec<u8>, Option<Signature>, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_run_in_octez_order() {
    let client: SecretKey = OTHER_SPSK.parse().unwrap();
    let config = SignerConfig {
        authorized_keys: Some(AuthorizedKeys::new(vec![client.public_key()]).unwrap()),
        policy: Policy::new(
            MagicBytes::from_str("0x11,0x12,0x13,0x05").unwrap(),
            Some(PolicyRules::parse("[default]\nkinds = [\"block\", \"attestation\"]").unwrap()),
        ),
        ..SignerConfig::default()
    };
    let t = setup(config).await;
    let stranger = SecretKey::from_str(OTHER_SPSK).unwrap().public_key().pkh();
    let auth = |pkh: &Pkh, data: &[u8]| client.sign(&authentication_bytes(pkh, data));
    let good_block = block(7, 0, 0);
    let pre = consensus("preattestation", MAIN, 7, 0, 0);
    let bad_magic = vec![0x03; 40];
    let malformed = vec![0x11, 0, 0];
    let ok_auth = auth(&t.tz2, &good_block);
    let rows: Vec<OrderRow> = vec![
        (
            "unknown key first",
            stranger,
            bad_magic.clone(),
            None,
            "is not known",
        ),
        ("empty payload", t.tz2, vec![], None, "empty payload"),
        (
            "magic byte before auth",
            t.tz2,
            bad_magic.clone(),
            None,
            "magic byte 0x03 not allowed",
        ),
        (
            "auth missing",
            t.tz2,
            good_block.clone(),
            None,
            "missing authentication signature field",
        ),
        (
            "auth for other data",
            t.tz2,
            pre.clone(),
            Some(ok_auth),
            "invalid authentication signature",
        ),
        (
            "auth for other key",
            t.tz3,
            good_block.clone(),
            Some(ok_auth),
            "invalid authentication signature",
        ),
        (
            "auth before decoding",
            t.tz2,
            malformed.clone(),
            None,
            "missing authentication",
        ),
        (
            "decode after auth",
            t.tz2,
            malformed.clone(),
            Some(auth(&t.tz2, &malformed)),
            "truncated payload",
        ),
        (
            "policy after decode",
            t.tz2,
            pre.clone(),
            Some(auth(&t.tz2, &pre)),
            "request kind preattestation is not allowed",
        ),
    ];
    for (name, pkh, data, sig, want) in rows {
        let got = refusal(t.signer.sign(&pkh, &data, sig.as_ref()).await);
        assert!(got.contains(want), "{name}: {got}");
    }
    assert_eq!(t.vault.signs(), 0, "nothing refused reaches the vault");
    t.signer
        .sign(&t.tz2, &good_block, Some(&ok_auth))
        .await
        .unwrap();
    assert_eq!(
        t.signer.authorized_keys(),
        Some(vec![client.public_key().pkh()])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_persist_releases_no_signature() {
    let t = setup(SignerConfig::default()).await;
    let tmp = t
        .dir
        .path()
        .join(format!(".{}.tmp", file_name(ConsensusKind::Block)));
    std::fs::create_dir(&tmp).unwrap();
    let data = block(42, 0, 1);
    let err = t.signer.sign(&t.tz2, &data, None).await.unwrap_err();
    assert!(
        matches!(err, SignError::Store(StoreError::Io { .. })),
        "{err}"
    );
    assert_eq!(
        t.vault.signs(),
        1,
        "the vault signed, but nothing was released"
    );
    assert!(!t.dir.path().join(file_name(ConsensusKind::Block)).exists());
    std::fs::remove_dir(&tmp).unwrap();
    let ok = t.signer.sign(&t.tz2, &data, None).await.unwrap();
    assert!(!ok.replayed);
    assert_eq!(t.vault.signs(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_faults() {
    let t = setup(SignerConfig::default()).await;
    let pk = t.signer.public_key(&t.tz2).await.unwrap();
    t.vault.set_mode(Mode::HighS);
    let data = block(5, 0, 0);
    let s = t.signer.sign(&t.tz2, &data, None).await.unwrap();
    assert!(s.signature.is_low_s());
    pk.verify(&data, &s.signature).unwrap();

    t.vault.set_mode(Mode::Wrong);
    let data = block(6, 0, 0);
    let err = t.signer.sign(&t.tz2, &data, None).await.unwrap_err();
    assert!(matches!(err, SignError::Vault(VaultError::InvalidSignature(p)) if p == t.tz2));
    t.vault.set_mode(Mode::Fail);
    assert!(matches!(
        t.signer.sign(&t.tz2, &data, None).await,
        Err(SignError::Vault(VaultError::Transport(_)))
    ));
    assert!(
        t.signer.check_vault().await.is_ok(),
        "get_key still answers"
    );
    // Nothing was marked: the same level signs once the vault behaves.
    t.vault.set_mode(Mode::Normal);
    t.signer.sign(&t.tz2, &data, None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_and_unwatermarked_kinds() {
    let config = SignerConfig {
        min_level: Some(2000),
        policy: Policy::new(
            MagicBytes::from_str("0x03,0x11").unwrap(),
            Some(
                PolicyRules::parse(
                    "[default]\nkinds = [\"block\", \"generic\"]\ngeneric = [\"delegation\"]",
                )
                .unwrap(),
            ),
        ),
        ..SignerConfig::default()
    };
    let t = setup(config).await;
    assert!(matches!(
        t.signer.sign(&t.tz2, &block(1999, 0, 0), None).await,
        Err(SignError::Watermark(WatermarkError::BelowFloor {
            floor: 2000,
            ..
        }))
    ));
    assert_eq!(t.vault.signs(), 0);
    t.signer
        .sign(&t.tz2, &block(2000, 0, 0), None)
        .await
        .unwrap();
    // A generic operation is not watermarked: signed each time, no mark file for it.
    let mut op = vec![0x03];
    op.extend([0u8; 32]);
    op.extend(hex::decode("6e023f3b21e54e98db3845a2a5033d96877f7f9cea870001000000").unwrap());
    let a = t.signer.sign(&t.tz2, &op, None).await.unwrap();
    let b = t.signer.sign(&t.tz2, &op, None).await.unwrap();
    assert!(!a.replayed && !b.replayed);
    assert_eq!(t.vault.signs(), 3);
    t.signer
        .public_key(&t.tz2)
        .await
        .unwrap()
        .verify(&op, &a.signature)
        .unwrap();
}

/// A mark written by octez-signer (generic `sig…` signature) is replayed as the key's own
/// curve; a stored signature that does not verify is never returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_octez_marks_and_checks_them() {
    let (data, entry) = vector("preattestation");
    let spsig: Signature = entry["signature"].as_str().unwrap().parse().unwrap();
    let write = |sig: String| {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"{{"NetXdQprcVkpaWU": {{"tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt": {{"level": 1331, "round": 0, "hash": "{}", "signature": "{sig}"}}}}}}"#,
            entry["blake2b256"].as_str().unwrap()
        );
        std::fs::write(dir.path().join("preattestation_high_watermarks"), text).unwrap();
        dir
    };
    let t = setup_in(write(spsig.to_generic_string()), SignerConfig::default()).await;
    let s = t.signer.sign(&t.tz2, &data, None).await.unwrap();
    assert!(s.replayed);
    assert_eq!(
        s.signature.to_string(),
        entry["signature"].as_str().unwrap()
    );
    assert_eq!(t.vault.signs(), 0);

    let mut raw = *spsig.raw();
    raw[10] ^= 1;
    let forged = Signature::from_raw(spsig.curve(), raw).to_string();
    let t = setup_in(write(forged), SignerConfig::default()).await;
    assert!(matches!(
        t.signer.sign(&t.tz2, &data, None).await,
        Err(SignError::Store(StoreError::InvalidStoredSignature { .. }))
    ));
    assert_eq!(t.vault.signs(), 0);
}
