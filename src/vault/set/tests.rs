//! The set over memory vaults: who is asked, when the other vault is asked too, what is
//! released, demotion and the way back, the hedge cap, and keys matched by public key.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::*;
use crate::testing::{MemoryVault, Mode, TZ2_SECRET, TZ3_SECRET};
use crate::tezos::blake2b_256;

/// Two memory vaults holding the tz2 and tz3 keys (under other names in the second).
fn two() -> (Arc<MemoryVault>, Arc<MemoryVault>) {
    let (a, b) = (Arc::new(MemoryVault::new()), Arc::new(MemoryVault::new()));
    a.add("baker", TZ2_SECRET);
    a.add("tz3", TZ3_SECRET);
    b.add("baker-west", TZ2_SECRET);
    b.add("tz3-west", TZ3_SECRET);
    (a, b)
}

fn config() -> HedgeConfig {
    HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::from_millis(30)),
        max_ratio: 1.0,
        probe_every: Duration::from_millis(50),
        ..HedgeConfig::default()
    }
}

async fn set_of(a: &Arc<MemoryVault>, b: &Arc<MemoryVault>, config: HedgeConfig) -> VaultSet {
    let set = VaultSet::new(
        vec![
            (
                "https://a.vault.azure.net".into(),
                a.clone() as Arc<dyn Vault>,
            ),
            (
                "https://b.vault.azure.net".into(),
                b.clone() as Arc<dyn Vault>,
            ),
        ],
        config,
    );
    set.list_keys().await.expect("listed");
    set
}

/// [`two`] as a set with `config`, and its tz2 key.
async fn pair(config: HedgeConfig) -> (Arc<MemoryVault>, Arc<MemoryVault>, VaultSet, VaultKey) {
    let (a, b) = two();
    let set = set_of(&a, &b, config).await;
    let key = tz2(&set).await;
    (a, b, set, key)
}

async fn tz2(set: &VaultSet) -> VaultKey {
    let keys = set.list_keys().await.unwrap();
    keys.into_iter()
        .find(|k| k.curve() == crate::tezos::Curve::Secp256k1)
        .unwrap()
}

fn digest(i: u32) -> [u8; 32] {
    blake2b_256(&i.to_be_bytes())
}

async fn sign(set: &VaultSet, key: &VaultKey, i: u32) -> Result<Signature, VaultError> {
    set.sign_verified_until(
        key,
        &digest(i),
        Some(Instant::now() + Duration::from_secs(2)),
    )
    .await
}

/// Waits (up to 5 s) until vault `i` is probed back into good standing.
async fn restored(set: &VaultSet, i: usize) {
    let until = Instant::now() + Duration::from_secs(5);
    while set.members()[i].demoted.is_some() {
        assert!(Instant::now() < until, "never probed back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long a signature that must succeed took.
async fn timed(set: &VaultSet, key: &VaultKey, i: u32) -> Duration {
    let started = Instant::now();
    sign(set, key, i).await.expect("signed");
    started.elapsed()
}

#[tokio::test]
async fn keys_are_matched_by_public_key_and_named_as_the_first_vault_names_them() {
    let (a, b) = two();
    b.add(
        "only-west",
        "spsk2rBDDeUqakQ42nBHDGQTtP3GErb6AahHPwF9bhca3Q5KA5HESE",
    );
    let set = set_of(&a, &b, config()).await;
    let mut names: Vec<String> = set
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    names.sort();
    assert_eq!(names, ["baker", "only-west", "tz3"]);
    // A listing that fails keeps that vault's keys; only every listing failing is an error.
    a.set_mode(Mode::Fail);
    assert_eq!(set.list_keys().await.unwrap().len(), 3);
    b.set_mode(Mode::Fail);
    assert!(set.list_keys().await.is_err());
}

#[tokio::test]
async fn both_healthy_the_first_vault_alone_signs() {
    let (a, b, set, key) = pair(config()).await;
    for i in 0..20 {
        let sig = sign(&set, &key, i).await.unwrap();
        key.public_key.verify_digest(&digest(i), &sig).unwrap();
    }
    assert_eq!((a.signs(), b.signs()), (20, 0));
    let status = set.members();
    assert_eq!(status[0].requests, 20);
    assert_eq!(status[1].requests, 0);
    assert!(status.iter().all(|m| m.demoted.is_none()));
}

#[tokio::test]
async fn a_failing_vault_hands_over_at_once_is_demoted_and_probed_back() {
    // A hedge delay far longer than any hand-over: B is asked because A failed, not by the
    // timer (no hedge is counted).
    let (a, _b, set, key) = pair(HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::from_secs(5)),
        ..config()
    })
    .await;
    a.set_mode(Mode::Fail);
    for i in 0..3 {
        let took = timed(&set, &key, i).await;
        assert!(
            took < Duration::from_secs(2),
            "no hedge delay after an error: {took:?}"
        );
    }
    assert_eq!(a.signs(), 3);
    assert_eq!(set.members()[1].hedges_sent, 0, "handed over, not hedged");
    let demoted = set.members()[0]
        .demoted
        .clone()
        .expect("demoted after 3 failures");
    assert!(demoted.contains("memory vault is down"), "{demoted}");
    // Demoted: the other vault is asked first.
    for i in 3..10 {
        sign(&set, &key, i).await.unwrap();
    }
    assert_eq!(
        a.signs(),
        3,
        "a demoted vault is not asked while the other answers"
    );
    // Back up: a probe (a signature) restores it, and it is asked first again.
    a.set_mode(Mode::Normal);
    restored(&set, 0).await;
    let before = a.signs();
    sign(&set, &key, 10).await.unwrap();
    assert_eq!(a.signs(), before + 1);
}

#[tokio::test]
async fn a_frozen_vault_is_hedged_after_the_delay_then_demoted() {
    let (a, _b, set, key) = pair(config()).await;
    a.set_mode(Mode::Hang);
    for i in 0..3 {
        let took = timed(&set, &key, i).await;
        assert!(
            took >= Duration::from_millis(30),
            "after the hedge delay: {took:?}"
        );
    }
    let status = set.members();
    assert_eq!((status[1].hedges_sent, status[1].hedges_won), (3, 3));
    assert!(
        status[0]
            .demoted
            .as_deref()
            .unwrap()
            .contains("another vault answered first")
    );
    // Demoted: B is asked first, A not at all (no hedge, no delay).
    let asked = a.signs();
    sign(&set, &key, 3).await.unwrap();
    assert_eq!(a.signs(), asked);
    assert_eq!(set.members()[1].hedges_sent, 3);
}

#[tokio::test]
async fn only_verified_signatures_leave_and_one_per_call() {
    // Both asked at once every time: the race is real.
    let (a, b, set, key) = pair(HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::ZERO),
        demote_after: u32::MAX,
        ..config()
    })
    .await;
    for i in 0..50 {
        let sig = sign(&set, &key, i).await.unwrap();
        key.public_key.verify_digest(&digest(i), &sig).unwrap();
    }
    // A vault answering with another key's signature loses every time, and never leaks.
    a.set_mode(Mode::Wrong);
    for i in 50..60 {
        let sig = sign(&set, &key, i).await.unwrap();
        key.public_key.verify_digest(&digest(i), &sig).unwrap();
    }
    // Each of its ten calls failed its check, or lost the race before it could.
    let errors = &set.members()[0].errors;
    let lost: u64 = errors
        .iter()
        .filter(|(class, _)| *class == "invalid_signature" || *class == "outrun")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(lost, 10, "{errors:?}");
    b.set_mode(Mode::Wrong);
    let err = sign(&set, &key, 60).await.unwrap_err();
    assert!(matches!(err, VaultError::InvalidSignature(_)), "{err}");
}

#[tokio::test]
async fn the_cap_holds_hedges_under_a_slow_vault() {
    let (a, _b, set, key) = pair(HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::from_millis(5)),
        max_ratio: 0.1,
        demote_after: u32::MAX,
        ..config()
    })
    .await;
    a.set_latency(Duration::from_millis(25));
    for i in 0..60 {
        sign(&set, &key, i).await.unwrap();
    }
    let status = set.members();
    let allowed = (0.1 * 60.0 + HedgeBudget::BURST) as u64;
    assert!(
        status[1].hedges_sent <= allowed,
        "{} hedges for 60 signatures",
        status[1].hedges_sent
    );
    assert!(status[1].hedges_sent >= 5, "the budget is used");
    assert!(status[1].hedges_refused > 0);
    assert_eq!(
        status[0].requests + status[1].requests,
        60 + status[1].hedges_sent
    );
}

#[tokio::test]
async fn the_automatic_delay_follows_the_first_vaults_latency() {
    let (a, b, set, key) = pair(HedgeConfig {
        delay: HedgeDelay::Auto,
        ..config()
    })
    .await;
    assert_eq!(
        set.members()[0].hedge_delay,
        HedgeConfig::default().initial_delay
    );
    a.set_latency(Duration::from_millis(15));
    for i in 0..25 {
        sign(&set, &key, i).await.unwrap();
    }
    let delay = set.members()[0].hedge_delay;
    assert!(
        delay >= Duration::from_millis(15) && delay < Duration::from_millis(100),
        "{delay:?}"
    );
    assert_eq!(b.signs(), 0, "a steady vault is not hedged");
}

#[tokio::test]
async fn both_down_fails_within_the_deadline_and_readiness_says_so() {
    let (a, b, set, key) = pair(config()).await;
    a.set_mode(Mode::Hang);
    b.set_mode(Mode::Hang);
    let started = Instant::now();
    let err = set
        .sign_verified_until(
            &key,
            &digest(1),
            Some(Instant::now() + Duration::from_millis(200)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, VaultError::Deadline(_)), "{err}");
    assert!(started.elapsed() < Duration::from_millis(400));
    // One vault down: ready (degraded); both: not.
    a.set_mode(Mode::Fail);
    b.set_mode(Mode::Normal);
    set.check(std::slice::from_ref(&key))
        .await
        .expect("one vault is enough");
    b.set_mode(Mode::Fail);
    for _ in 0..3 {
        let _ = set.check(std::slice::from_ref(&key)).await;
    }
    assert!(set.check(std::slice::from_ref(&key)).await.is_err());
    assert!(set.members().iter().all(|m| m.demoted.is_some()));
}

#[tokio::test]
async fn a_key_in_one_vault_is_served_from_it() {
    let (a, b) = two();
    a.add(
        "lonely",
        "spsk2rBDDeUqakQ42nBHDGQTtP3GErb6AahHPwF9bhca3Q5KA5HESE",
    );
    let set = set_of(&a, &b, config()).await;
    let lonely = set
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name == "lonely")
        .unwrap();
    sign(&set, &lonely, 1).await.unwrap();
    a.set_mode(Mode::Fail);
    let err = sign(&set, &lonely, 2).await.unwrap_err();
    assert!(matches!(err, VaultError::Transport(_)), "{err}");
    assert_eq!(b.signs(), 0);
}

#[tokio::test]
async fn a_frozen_vault_holds_up_a_listing_only_for_the_grace_period() {
    let (a, b) = two();
    let set = set_of(&a, &b, config()).await;
    a.set_mode(Mode::Hang);
    let started = Instant::now();
    let keys = set.list_keys().await.expect("B answered");
    assert_eq!(keys.len(), 2, "A's last known keys are kept");
    let took = started.elapsed();
    assert!(
        took >= LIST_GRACE && took < LIST_GRACE + Duration::from_secs(1),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_frozen_vault_leaves_readiness_to_the_other_within_the_check_timeout() {
    let (a, b, set, key) = pair(config()).await;
    a.set_mode(Mode::Hang);
    let started = Instant::now();
    set.check(std::slice::from_ref(&key))
        .await
        .expect("B holds every served key");
    let took = started.elapsed();
    assert!(
        took >= CHECK_TIMEOUT && took < CHECK_TIMEOUT + Duration::from_secs(1),
        "{took:?}"
    );
    assert!(set.members()[0].errors.contains(&("deadline", 1)));
    // Both frozen: not ready, and still within the timeout.
    b.set_mode(Mode::Hang);
    assert!(set.check(std::slice::from_ref(&key)).await.is_err());
}

#[tokio::test]
async fn a_vault_that_never_listed_is_demoted_and_its_probe_lists_it() {
    let (a, b) = two();
    b.set_mode(Mode::Fail);
    let set = set_of(&a, &b, config()).await;
    let key = tz2(&set).await;
    let b_status = &set.members()[1];
    assert_eq!(b_status.keys, 0);
    assert!(
        b_status
            .demoted
            .as_deref()
            .unwrap()
            .contains("could not be listed")
    );
    b.set_mode(Mode::Normal);
    restored(&set, 1).await;
    assert_eq!(set.members()[1].keys, 2, "its keys are known now");
    a.set_mode(Mode::Fail);
    sign(&set, &key, 1).await.expect("B signs");
}

#[tokio::test]
async fn a_vault_that_knows_no_key_is_listed_by_the_readiness_check() {
    let (a, b) = two();
    b.set_mode(Mode::Fail);
    let set = set_of(
        &a,
        &b,
        HedgeConfig {
            probe_every: Duration::from_secs(3600),
            ..config()
        },
    )
    .await;
    let key = tz2(&set).await;
    b.set_mode(Mode::Normal);
    set.check(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(set.members()[1].keys, 2, "its keys are known now");
}

#[tokio::test]
async fn losing_a_race_or_arriving_late_is_no_failure_of_a_vault() {
    // Both asked at once on every request; B is always the slower.
    let (a, b, set, key) = pair(HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::ZERO),
        max_ratio: 1.0,
        ..config()
    })
    .await;
    a.set_latency(Duration::from_millis(5));
    b.set_latency(Duration::from_millis(15));
    for i in 0..20 {
        sign(&set, &key, i).await.unwrap();
    }
    // Requests that arrive with 1 ms left run out of time in both vaults: not their fault.
    for i in 20..25 {
        let late = Some(Instant::now() + Duration::from_millis(1));
        let _ = set.sign_verified_until(&key, &digest(i), late).await;
    }
    let status = set.members();
    assert!(status.iter().all(|m| m.demoted.is_none()), "{status:?}");
    assert!(status[1].errors.is_empty(), "{:?}", status[1].errors);
}

/// A key deleted from one vault is still served from the other; deleted from both, it is no
/// longer listed (the keyring then stops serving it, as with one vault).
#[tokio::test]
async fn a_key_deleted_from_one_vault_is_served_from_the_other_until_deleted_from_both() {
    let (a, b, set, key) = pair(config()).await;
    a.remove("baker");
    let listed = set.list_keys().await.unwrap();
    assert!(listed.iter().any(|k| k.pkh() == key.pkh()), "{listed:?}");
    sign(&set, &key, 1).await.expect("B signs");
    assert_eq!(a.signs(), 0, "A no longer holds it: not asked");
    b.remove("baker-west");
    let listed = set.list_keys().await.unwrap();
    assert!(listed.iter().all(|k| k.pkh() != key.pkh()), "{listed:?}");
    assert!(matches!(
        sign(&set, &key, 2).await,
        Err(VaultError::NotFound(_))
    ));
}
