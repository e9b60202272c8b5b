//! Re-discovery keeps the served keys equal to what the vault lists: a deleted or disabled key
//! stops being served (UnknownKey, no vault call), a new version of the same key (same pkh) is
//! signed with from then on, a name re-used for other key material retires the old pkh, and a
//! pkh's lock survives all of it so no two requests for one pkh ever sign concurrently.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use super::testkit::*;
use crate::signer::*;
use crate::tezos::SecretKey;

fn eager() -> SignerConfig {
    SignerConfig {
        rediscovery_interval: Duration::ZERO,
        ..SignerConfig::default()
    }
}

/// An unknown pkh: the cheapest way to make the signer list the vault again.
fn stranger() -> Pkh {
    SecretKey::from_str("p2sk2obfVMEuPUnadAConLWk7Tf4Dt3n4svSgJwrgpamRqJXvaYcg1")
        .expect("vector key")
        .public_key()
        .pkh()
}

async fn rediscover(t: &Setup) {
    let before = t.vault.lists();
    assert!(matches!(
        t.signer.public_key(&stranger()).await,
        Err(SignError::UnknownKey(_))
    ));
    assert_eq!(t.vault.lists(), before + 1, "one listing");
}

fn last_signed(t: &Setup) -> (String, String) {
    t.vault
        .signed_versions
        .lock()
        .expect("test lock")
        .last()
        .cloned()
        .expect("a sign call")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_gone_from_the_vault_is_no_longer_served() {
    let t = setup(eager()).await;
    t.signer.sign(&t.tz2, &block(1, 0, 0), None).await.unwrap();
    t.vault.remove("baker-tz2");
    // Until the next listing the signer does not know (and asks the vault nothing).
    rediscover(&t).await;
    let signs = t.vault.signs();
    assert!(matches!(
        t.signer.public_key(&t.tz2).await,
        Err(SignError::UnknownKey(p)) if p == t.tz2
    ));
    assert!(matches!(
        t.signer.sign(&t.tz2, &block(2, 0, 0), None).await,
        Err(SignError::UnknownKey(p)) if p == t.tz2
    ));
    assert_eq!(t.vault.signs(), signs, "no vault call for a vanished key");
    assert_eq!(t.signer.known_keys(), vec![t.tz3]);
    // The other key is untouched; the key comes back when it is in the vault again, and its
    // watermark was kept: level 1 is still refused.
    t.signer.sign(&t.tz3, &block(1, 0, 0), None).await.unwrap();
    t.vault.add("baker-tz2", SPSK);
    t.signer.sign(&t.tz2, &block(2, 0, 0), None).await.unwrap();
    assert!(matches!(
        t.signer.sign(&t.tz2, &block(1, 0, 1), None).await,
        Err(SignError::Watermark(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_listing_changes_nothing() {
    let t = setup(eager()).await;
    t.vault.remove("baker-tz2");
    t.vault.set_mode(crate::testing::Mode::Fail);
    assert!(matches!(
        t.signer.public_key(&stranger()).await,
        Err(SignError::Vault(_))
    ));
    t.vault.set_mode(crate::testing::Mode::Normal);
    assert_eq!(t.signer.known_keys().len(), 2);
    assert!(t.signer.public_key(&t.tz2).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_of_the_same_key_is_used_after_rediscovery() {
    let t = setup(eager()).await;
    t.signer.sign(&t.tz2, &block(1, 0, 0), None).await.unwrap();
    assert_eq!(last_signed(&t), ("baker-tz2".into(), "v1".into()));
    // Re-imported under the same name (same key material): same pkh, new version.
    assert_eq!(t.vault.add_version("baker-tz2", "v2", SPSK), t.tz2);
    t.signer.sign(&t.tz2, &block(2, 0, 0), None).await.unwrap();
    assert_eq!(
        last_signed(&t),
        ("baker-tz2".into(), "v1".into()),
        "no listing yet: the cached version"
    );
    rediscover(&t).await;
    t.signer.sign(&t.tz2, &block(3, 0, 0), None).await.unwrap();
    assert_eq!(last_signed(&t), ("baker-tz2".into(), "v2".into()));
    // The watermark belongs to the pkh, not to the version.
    assert!(matches!(
        t.signer.sign(&t.tz2, &block(3, 0, 1), None).await,
        Err(SignError::Watermark(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_reused_for_another_key_retires_the_old_pkh() {
    let t = setup(eager()).await;
    let rotated = t.vault.add_version("baker-tz2", "v2", OTHER_SPSK);
    assert_ne!(rotated, t.tz2);
    // The new pkh is unknown: asking for it lists the vault, and it is served.
    t.signer
        .sign(&rotated, &block(1, 0, 0), None)
        .await
        .unwrap();
    assert_eq!(last_signed(&t), ("baker-tz2".into(), "v2".into()));
    assert!(matches!(
        t.signer.sign(&t.tz2, &block(1, 0, 0), None).await,
        Err(SignError::UnknownKey(p)) if p == t.tz2
    ));
    let mut want = vec![rotated, t.tz3];
    want.sort();
    assert_eq!(t.signer.known_keys(), want);
}

/// A request that holds a key's lock while the key vanishes and comes back still excludes a
/// conflicting request made on the re-discovered entry: one signature, the other refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_key_lock_survives_removal_and_return() {
    let t = setup(eager()).await;
    let before = t.signer.keyring.get(&t.tz2).expect("served");
    let gate = t.vault.gate("baker-tz2");
    let signer = Arc::clone(&t.signer);
    let tz2 = t.tz2;
    let first = tokio::spawn(async move { signer.sign(&tz2, &block(5, 0, 1), None).await });
    // Wait until the first request is inside the vault call (holding the lock).
    while t.vault.signs() == 0 {
        tokio::task::yield_now().await;
    }
    t.vault.remove("baker-tz2");
    rediscover(&t).await;
    assert!(t.signer.keyring.get(&t.tz2).is_none());
    t.vault.add_version("baker-tz2", "v2", SPSK);
    rediscover(&t).await;
    let after = t.signer.keyring.get(&t.tz2).expect("served again");
    assert_eq!(after.key.version, "v2");
    assert!(Arc::ptr_eq(&before.lock, &after.lock), "one lock per pkh");

    let signer = Arc::clone(&t.signer);
    let second = tokio::spawn(async move { signer.sign(&tz2, &block(5, 0, 2), None).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !second.is_finished(),
        "the second request waits for the lock"
    );
    assert_eq!(t.vault.signs(), 1);
    gate.add_permits(2);
    first.await.unwrap().unwrap();
    assert!(matches!(
        second.await.unwrap(),
        Err(SignError::Watermark(_))
    ));
    assert_eq!(t.vault.signs(), 1, "exactly one signature at (5, 0)");
}
