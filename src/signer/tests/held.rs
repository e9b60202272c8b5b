//! Held requests inside the pipeline (`serve --confirm`): an approval names the key and the
//! bytes, an approved spend is counted like an allowed one (before the vault is called), a
//! held request never delays the same key's attestation, and nothing runs twice.

use std::sync::Arc;
use std::time::Duration;

use super::testkit::*;
use crate::confirm::{Confirmations, HeldLimits, request_hash};
use crate::policy::spending::SpendingLedger;
use crate::policy::{MagicBytes, Policy, PolicyRules};
use crate::signer::*;
use crate::testing::forge;
use crate::tezos::Pkh;

const FRIEND: &str = "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx";
const TEZ: u128 = 1_000_000;

/// A transfer of `tez` from `source` (fee 0.001 ꜩ, no storage).
fn transfer(source: &Pkh, tez: u128) -> Vec<u8> {
    forge::request(&[forge::transaction(
        &source.to_string(),
        forge::CHEAP,
        tez * TEZ,
        FRIEND,
        None,
    )])
}

async fn confirming(dir: &std::path::Path, set: Arc<Confirmations>) -> Setup {
    let rules = PolicyRules::parse(
        "[default]\nkinds = [\"generic\", \"attestation\"]\ngeneric = [\"transaction\"]\n\
         [default.spending]\nmax_per_request = \"100.01\"\nmax_total_24h = \"250.01\"\n",
    )
    .expect("policy");
    let config = SignerConfig {
        policy: Policy::new(MagicBytes::new([0x13]), Some(rules)).confirming(&[0x03]),
        spending: Some(Arc::new(
            SpendingLedger::open(dir, false).expect("ledger").0,
        )),
        confirm: Some(set),
        ..SignerConfig::default()
    };
    setup_in(tempfile::tempdir_in(dir).expect("dir"), config).await
}

async fn held_count(set: &Confirmations, n: usize) {
    for _ in 0..500 {
        if set.list().iter().map(|v| v.waiting).sum::<usize>() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("never held {n}");
}

/// Approve 200 ꜩ, then 100 + 100 against a daily 250: the approved 200 counted, so the
/// second 100 waits for a person too (on the code before, both went through on their own).
#[tokio::test]
async fn an_approved_spend_counts_against_the_daily_total() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = Arc::new(Confirmations::new(
        Duration::from_millis(400),
        HeldLimits::default(),
    ));
    let s = confirming(dir.path(), set.clone()).await;
    let big = transfer(&s.tz2, 200);
    let signing = {
        let (signer, pkh, big) = (s.signer.clone(), s.tz2, big.clone());
        tokio::spawn(async move { signer.sign(&pkh, &big, None).await })
    };
    held_count(&set, 1).await;
    assert_eq!(s.vault.signs(), 0, "nothing signed while held");
    assert_eq!(set.answer(&s.tz2, &request_hash(&big), true), 1);
    signing.await.expect("join").expect("approved and signed");
    assert_eq!(s.vault.signs(), 1);
    // 200.001 counted: a first 100 would pass the 250.01 limit, so it is held, and times
    // out; 40 fits, and then another 40 no longer does.
    let msg = refusal(s.signer.sign(&s.tz2, &transfer(&s.tz2, 100), None).await);
    assert!(msg.contains("not confirmed"), "{msg}");
    s.signer
        .sign(&s.tz2, &transfer(&s.tz2, 40), None)
        .await
        .expect("200 + 40 fits");
    let msg = refusal(s.signer.sign(&s.tz2, &transfer(&s.tz2, 41), None).await);
    assert!(msg.contains("not confirmed"), "{msg}");
    assert_eq!(
        s.vault.signs(),
        2,
        "neither the 100 nor the 41 was signed on its own"
    );
    // Another key's budget is its own.
    s.signer
        .sign(&s.tz3, &transfer(&s.tz3, 100), None)
        .await
        .expect("tz3 has spent nothing");
}

/// A client that sends the same over-limit bytes again and again gets one answer for all
/// of them, and the one operation is counted once, not once per copy.
#[tokio::test]
async fn identical_copies_share_one_approval_and_one_charge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = Arc::new(Confirmations::new(
        Duration::from_secs(5),
        HeldLimits::default(),
    ));
    let s = confirming(dir.path(), set.clone()).await;
    let bytes = transfer(&s.tz2, 200);
    let copies: Vec<_> = (0..4)
        .map(|_| {
            let (signer, pkh, bytes) = (s.signer.clone(), s.tz2, bytes.clone());
            tokio::spawn(async move { signer.sign(&pkh, &bytes, None).await })
        })
        .collect();
    held_count(&set, 4).await;
    assert_eq!(set.list().len(), 1, "one line for the four copies");
    assert_eq!(set.answer(&s.tz2, &request_hash(&bytes), true), 4);
    for c in copies {
        c.await.expect("join").expect("signed");
    }
    // 200.001 counted once: 40 more still fits the 250.01 limit (four charges would not).
    s.signer
        .sign(&s.tz2, &transfer(&s.tz2, 40), None)
        .await
        .expect("200 + 40 within 250");
}

/// The same bytes held for two keys: approving for one signs only that one; the other key's
/// request is still held, and listed on its own line.
#[tokio::test]
async fn an_approval_names_the_key_and_the_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = Arc::new(Confirmations::new(
        Duration::from_secs(5),
        HeldLimits::default(),
    ));
    let s = confirming(dir.path(), set.clone()).await;
    // The same bytes (a transfer whose source is tz2) asked of both keys.
    let bytes = transfer(&s.tz2, 150);
    let ask = |pkh: Pkh| {
        let (signer, bytes) = (s.signer.clone(), bytes.clone());
        tokio::spawn(async move { signer.sign(&pkh, &bytes, None).await })
    };
    let (a, b) = (ask(s.tz2), ask(s.tz3));
    held_count(&set, 2).await;
    let listed: Vec<String> = set.list().iter().map(|v| v.pkh.clone()).collect();
    assert_eq!(listed.len(), 2, "one line per (key, bytes): {listed:?}");
    assert_eq!(set.answer(&s.tz2, &request_hash(&bytes), true), 1);
    a.await.expect("join").expect("tz2 approved");
    assert_eq!(set.list().len(), 1, "tz3's is still held");
    assert_eq!(set.list()[0].pkh, s.tz3.to_string());
    assert_eq!(set.answer(&s.tz3, &request_hash(&bytes), false), 1);
    let msg = refusal(b.await.expect("join"));
    assert!(msg.contains("rejected by the operator"), "{msg}");
    assert_eq!(s.vault.signs(), 1);
}

/// A held transfer takes no key lock: the same key's attestation is signed meanwhile.
#[tokio::test]
async fn a_held_request_never_delays_an_attestation_of_the_same_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = Arc::new(Confirmations::new(
        Duration::from_secs(5),
        HeldLimits::default(),
    ));
    let s = confirming(dir.path(), set.clone()).await;
    let held = {
        let (signer, pkh, bytes) = (s.signer.clone(), s.tz2, transfer(&s.tz2, 150));
        tokio::spawn(async move { signer.sign(&pkh, &bytes, None).await })
    };
    held_count(&set, 1).await;
    let started = std::time::Instant::now();
    s.signer
        .sign(&s.tz2, &consensus("attestation", MAIN, 100, 0, 0), None)
        .await
        .expect("attestation signed while the transfer is held");
    assert!(started.elapsed() < Duration::from_secs(1));
    held.abort();
}

/// What cannot be decoded is refused, never held; beyond the cap a request is refused (503)
/// without waiting.
#[tokio::test]
async fn undecodable_bytes_are_refused_and_the_cap_refuses_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = HeldLimits {
        total: 1,
        per_client: 1,
    };
    let set = Arc::new(Confirmations::new(Duration::from_secs(5), limits));
    let s = confirming(dir.path(), set.clone()).await;
    let mut junk = vec![0x03];
    junk.extend([0u8; 32]);
    junk.extend([0xfa, 0, 0, 0]);
    let msg = refusal(s.signer.sign(&s.tz2, &junk, None).await);
    assert!(msg.contains("cannot check its contents"), "{msg}");
    assert!(set.list().is_empty());
    let first = {
        let (signer, pkh, bytes) = (s.signer.clone(), s.tz2, transfer(&s.tz2, 150));
        tokio::spawn(async move { signer.sign(&pkh, &bytes, None).await })
    };
    held_count(&set, 1).await;
    let err = s
        .signer
        .sign(&s.tz2, &transfer(&s.tz2, 160), None)
        .await
        .expect_err("full");
    assert!(matches!(err, SignError::HoldRefused(_)), "{err}");
    assert!(err.to_string().contains("--max-held"), "{err}");
    first.abort();
}
