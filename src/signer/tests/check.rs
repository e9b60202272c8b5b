//! Pipeline tests with the in-memory vault: order of checks, authentication and policy
//! refusals, vault and store faults, the --min-level floor, unwatermarked kinds, and marks
//! written by octez.

use std::str::FromStr;

use super::testkit::*;
use crate::auth::{AuthorizedKeys, authentication_bytes};
use crate::policy::{MagicBytes, PolicyRules};
use crate::signer::*;
use crate::testing::Mode;
use crate::tezos::SecretKey;

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
    // The data directory moved away under the signer: no mark can be made durable there.
    let away = t.dir.path().with_extension("moved");
    std::fs::rename(t.dir.path(), &away).unwrap();
    let data = block(42, 0, 1);
    let err = t.signer.sign(&t.tz2, &data, None).await.unwrap_err();
    assert!(
        matches!(err, SignError::Store(StoreError::DirectoryReplaced { .. })),
        "{err}"
    );
    assert_eq!(
        t.vault.signs(),
        1,
        "the vault signed, but nothing was released"
    );
    std::fs::rename(&away, t.dir.path()).unwrap();
    let ok = t.signer.sign(&t.tz2, &data, None).await.unwrap();
    assert!(!ok.replayed());
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
        t.signer.check_vault().await.is_err(),
        "a vault that is down fails the health check too"
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
    assert!(!a.replayed() && !b.replayed());
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
    assert!(s.replayed());
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

/// The mark is reserved while the vault signs: when the vault then fails, the reservation
/// stays; the identical request can be signed again (identical bytes are no double sign) and
/// any other payload at that (level, round) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_failure_after_the_reservation_leaves_only_the_identical_request_signable() {
    let t = setup(SignerConfig::default()).await;
    let first = block(80, 0, 1);
    t.vault.set_mode(Mode::Fail);
    assert!(matches!(
        t.signer.sign(&t.tz2, &first, None).await,
        Err(SignError::Vault(_))
    ));
    t.vault.set_mode(Mode::Normal);
    let other = refusal(t.signer.sign(&t.tz2, &block(80, 0, 2), None).await);
    assert!(other.contains("not above high watermark (80,0)"), "{other}");
    let again = t
        .signer
        .sign(&t.tz2, &first, None)
        .await
        .expect("signed again");
    t.signer.settle().await;
    // Now recorded: a further identical retry gets that very signature back.
    let replay = t.signer.sign(&t.tz2, &first, None).await.expect("replayed");
    assert!(replay.replayed());
    assert_eq!(replay.signature, again.signature);
}

/// A container that accepted the connection and froze.
struct FrozenContainer;

#[async_trait::async_trait]
impl crate::watermark::shared::Blobs for FrozenContainer {
    async fn read(
        &self,
        _: &str,
    ) -> Result<Option<(String, Vec<u8>)>, crate::watermark::shared::BlobError> {
        std::future::pending().await
    }
    async fn write(
        &self,
        _: &str,
        _: Vec<u8>,
        _: crate::watermark::shared::Condition,
    ) -> Result<String, crate::watermark::shared::BlobError> {
        std::future::pending().await
    }
}

/// A shared container still answering at the request's deadline makes the request late at
/// the reservation (a 503 that says so), not "storage unavailable": the container gives up
/// at that same deadline, and its timeout must not pass for an outage. Nothing is signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_still_answering_at_the_deadline_makes_the_request_late() {
    use crate::watermark::shared::{Container, SharedLocation, SharedStats};
    let dir = tempfile::tempdir().unwrap();
    let vault = std::sync::Arc::new(crate::testing::MemoryVault::new());
    let tz2 = vault.add("baker-tz2", SPSK);
    let location =
        SharedLocation::parse("http://127.0.0.1:10000/devstoreaccount1/marks?sv=1&sig=x").unwrap();
    let container = Container::new(
        std::sync::Arc::new(FrozenContainer),
        location,
        std::time::Duration::from_secs(30),
        std::sync::Arc::new(SharedStats::default()),
    );
    let local = crate::watermark::LocalStore::open(dir.path()).unwrap();
    let store = crate::watermark::SharedStore::open(local, container)
        .await
        .unwrap();
    let signer = Signer::new(
        vault.clone(),
        std::sync::Arc::new(store),
        SignerConfig::default(),
    )
    .await
    .unwrap();
    let ctx = SignContext {
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_millis(150)),
        ..SignContext::unbounded()
    };
    let data = consensus("attestation", MAIN, 100, 0, 1);
    let req = SignRequest::new(tz2, data, None, ctx, String::new());
    let started = std::time::Instant::now();
    let err = signer.sign_request(&req).await.result.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(
        matches!(
            err,
            SignError::Withdrawn {
                reason: Withdrawn::Late {
                    waiting_for: Stage::Reservation,
                    ..
                },
                ..
            }
        ),
        "{err:?}"
    );
}
