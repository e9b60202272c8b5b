//! The per-key queue through the whole pipeline (issue: 200 concurrent signs on one key kept
//! the vault busy for 14 s after their clients had given up, and a request answered 503 at the
//! time limit was signed afterwards), and the chain cap.

use std::time::{Duration, Instant};

use super::testkit::*;
use crate::signer::*;
use crate::tezos::ConsensusKind;

fn config(max_queue_per_key: usize) -> SignerConfig {
    SignerConfig {
        max_queue_per_key,
        ..SignerConfig::default()
    }
}

/// Waits until the vault has been called `n` times.
async fn vault_calls(t: &Setup, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while t.vault.signs() < n {
        assert!(
            Instant::now() < deadline,
            "the vault was not called {n} times"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn spawn_sign(
    t: &Setup,
    level: i32,
    ctx: SignContext,
) -> tokio::task::JoinHandle<Result<Signed, SignError>> {
    let (signer, pkh) = (t.signer.clone(), t.tz2);
    tokio::spawn(async move {
        let req = SignRequest::new(pkh, block(level, 0, 0), None, ctx, String::new());
        signer.sign_request(&req).await.result
    })
}

fn withdrawn(r: Result<Signed, SignError>) -> Withdrawn {
    match r {
        Err(SignError::Withdrawn { reason, .. }) => reason,
        other => panic!("expected a withdrawn request, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_queue_bound_requests_are_refused_at_once_and_others_keys_are_unaffected() {
    let t = setup(config(3)).await;
    let gate = t.vault.gate("baker-tz2");
    let holder = spawn_sign(&t, 10, SignContext::unbounded());
    vault_calls(&t, 1).await;
    // One after the other, so the (first-come, first-served) queue is in level order.
    let mut waiting = Vec::new();
    for (i, level) in (11..14).enumerate() {
        waiting.push(spawn_sign(&t, level, SignContext::unbounded()));
        while t.signer.keyring.get(&t.tz2).map(|e| e.lock.waiting()) != Some(i + 1) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let started = Instant::now();
    let refused = t.signer.sign(&t.tz2, &block(20, 0, 0), None).await;
    assert_eq!(withdrawn(refused), Withdrawn::QueueFull { waiting: 3 });
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused at once"
    );
    // Another key is not behind tz2's queue.
    t.signer.sign(&t.tz3, &block(10, 0, 0), None).await.unwrap();
    gate.add_permits(10);
    holder.await.unwrap().unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    assert_eq!(t.vault.signs(), 5, "4 tz2 signatures and 1 tz3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_whose_client_left_never_reach_the_vault_and_a_fresh_one_is_not_starved() {
    let t = setup(config(64)).await;
    let gate = t.vault.gate("baker-tz2");
    let holder = spawn_sign(&t, 10, SignContext::unbounded());
    vault_calls(&t, 1).await;
    let contexts: Vec<SignContext> = (0..40).map(|_| SignContext::unbounded()).collect();
    let stale: Vec<_> = contexts
        .iter()
        .enumerate()
        .map(|(i, ctx)| spawn_sign(&t, 11 + i as i32, ctx.clone()))
        .collect();
    while t.signer.keyring.get(&t.tz2).map(|e| e.lock.waiting()) != Some(40) {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for ctx in &contexts {
        ctx.client_gone.cancel();
    }
    for s in stale {
        assert_eq!(withdrawn(s.await.unwrap()), Withdrawn::ClientGone);
    }
    gate.add_permits(100);
    holder.await.unwrap().unwrap();
    // The fresh request is next: it does not wait behind 40 abandoned ones.
    let started = Instant::now();
    t.signer
        .sign(&t.tz2, &block(100, 0, 0), None)
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(
        t.vault.signs(),
        2,
        "only the holder and the fresh request reached the vault"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_time_ran_out_is_not_signed_afterwards() {
    let t = setup(config(64)).await;
    let gate = t.vault.gate("baker-tz2");
    let holder = spawn_sign(&t, 10, SignContext::unbounded());
    vault_calls(&t, 1).await;
    // Waiting in the queue past its deadline.
    let queued = spawn_sign(
        &t,
        11,
        SignContext::until(Instant::now() + Duration::from_millis(50)),
    );
    assert!(matches!(
        withdrawn(queued.await.unwrap()),
        Withdrawn::Expired { .. }
    ));
    gate.add_permits(1);
    holder.await.unwrap().unwrap();
    assert_eq!(
        t.vault.signs(),
        1,
        "the expired request never reached the vault"
    );

    // In the vault call when its deadline passes: nothing is released or recorded.
    let late = spawn_sign(
        &t,
        12,
        SignContext::until(Instant::now() + Duration::from_millis(50)),
    );
    assert!(matches!(
        withdrawn(late.await.unwrap()),
        Withdrawn::Late {
            waiting_for: crate::signer::Stage::Vault,
            ..
        }
    ));
    let slot = crate::watermark::Slot {
        kind: ConsensusKind::Block,
        chain: ChainId(MAIN),
        pkh: t.tz2,
    };
    let mark = t.signer.store.load(&slot).await.unwrap();
    // Reserved before the vault call, but no signature was released or recorded.
    assert_eq!(
        mark.map(|m| (m.level, m.signature.is_none())),
        Some((12, true)),
        "only a reservation for the expired request"
    );
    gate.add_permits(10);
    // The same request, asked again in time, is signed.
    t.signer.sign(&t.tz2, &block(12, 0, 0), None).await.unwrap();
}

#[tokio::test]
async fn a_key_signs_on_at_most_max_chains_per_key_chains() {
    let t = setup(SignerConfig {
        max_chains_per_key: 2,
        ..SignerConfig::default()
    })
    .await;
    let att = |chain: [u8; 4], level| consensus("attestation", chain, level, 0, 0);
    t.signer.sign(&t.tz2, &att(MAIN, 10), None).await.unwrap();
    t.signer.sign(&t.tz2, &att(TEST, 10), None).await.unwrap();
    let before = t.vault.signs();
    let third = [9, 9, 9, 9];
    let refused = t.signer.sign(&t.tz2, &att(third, 10), None).await;
    assert!(
        matches!(refused, Err(SignError::ChainLimit { .. })),
        "{refused:?}"
    );
    let msg = refusal(t.signer.sign(&t.tz2, &att(third, 11), None).await);
    assert!(
        msg.contains("--max-chains-per-key") && msg.contains("chains = [...]"),
        "{msg}"
    );
    assert!(msg.contains(&ChainId(MAIN).to_string()), "{msg}");
    assert_eq!(t.vault.signs(), before, "no vault call for a refused chain");
    // Known chains go on; other kinds on a known chain too; other keys have their own count.
    t.signer.sign(&t.tz2, &att(MAIN, 11), None).await.unwrap();
    t.signer
        .sign(&t.tz2, &consensus("preattestation", TEST, 11, 0, 0), None)
        .await
        .unwrap();
    t.signer.sign(&t.tz3, &att(third, 10), None).await.unwrap();
}
