//! One block, one signature, ever, across two signers sharing one container (issue 16;
//! ../shared/PROTOCOL.md §3, "Blocks are different"): Key Vault's ECDSA nonce is random, so
//! two signatures of identical block bytes (0x11) are two valid block headers at one (level,
//! round), which is slashable double baking. The same block bytes go to both signers at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// Azurite only through `Azurite::start`: 127.0.0.1 and `--disableTelemetry`, nothing
// leaves loopback.
use crate::azurite::{Azurite, launcher};
use crate::serve_common::{block, client, try_sign};
use crate::signers::{KEY, SharedSigner, assert_valid, public_key, vault_with};

/// 40 levels at round 0, then rounds 0 to 9 of one level: each block sent twice to each
/// signer, at seeded offsets of 0 to 15 ms (the vault takes 10 ms), so some copies race each
/// other into the vault and some arrive while the other signer records. Among all 200 answers,
/// exactly one distinct signature per (level, round), every one valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_blocks_on_two_signers_get_one_signature_per_level_and_round() {
    let Some(bin) = launcher() else { return };
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let azurite = Azurite::start(bin, None);
    azurite.create_container("marks").await;
    let vault = vault_with(dir.path(), &["--latency-ms", "10"]);
    let shared = azurite.url("marks", "bakers");
    let a = SharedSigner::start(&vault, &dir.path().join("a"), &shared);
    let b = SharedSigner::start(&vault, &dir.path().join("b"), &shared);
    let http = client();
    let key = public_key(&http, &a.url).await;
    let mut rng = StdRng::seed_from_u64(0xb10c_2516);

    let points: Vec<(i32, i32)> = (1..=40)
        .map(|level| (level, 0))
        .chain((0..10).map(|round| (41, round)))
        .collect();
    // (level, round) → distinct signatures released.
    let mut released: BTreeMap<(i32, i32), BTreeSet<String>> = BTreeMap::new();
    let mut answered: BTreeMap<&str, usize> = BTreeMap::new();
    // (status, message) → count.
    let mut refused: BTreeMap<(u16, String), usize> = BTreeMap::new();
    let mut unanswered = 0;
    let mut requests = 0;
    for &(level, round) in &points {
        let hex = block(level, round, 7);
        let mut tasks = Vec::new();
        for (name, url) in [("a", &a.url), ("b", &b.url), ("a", &a.url), ("b", &b.url)] {
            let offset = if rng.gen_bool(0.4) {
                0
            } else {
                rng.gen_range(0..15_000)
            };
            let (http, url, hex) = (http.clone(), url.clone(), hex.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(offset)).await;
                (name, try_sign(&http, &url, KEY, &hex).await)
            }));
        }
        for t in tasks {
            requests += 1;
            let (name, answer) = t.await.expect("task");
            match answer {
                Some((200, body)) => {
                    let sig = assert_valid(&key, &hex, &body).to_string();
                    released.entry((level, round)).or_default().insert(sig);
                    *answered.entry(name).or_default() += 1;
                }
                Some((status, body)) => {
                    assert!(
                        body.get("signature").is_none(),
                        "({level}, {round}) on {name}: a signature with {status}: {body}"
                    );
                    let msg = body[0]["msg"].as_str().unwrap_or_default();
                    let msg: String = msg.chars().take(80).collect();
                    *refused.entry((status, msg)).or_default() += 1;
                }
                None => unanswered += 1,
            }
        }
    }

    let total_answered: usize = answered.values().sum();
    let mut distinct: BTreeMap<usize, usize> = BTreeMap::new();
    for &point in &points {
        *distinct
            .entry(released.get(&point).map_or(0, BTreeSet::len))
            .or_default() += 1;
    }
    println!(
        "identical blocks on two signers: {requests} requests over {} (level, round) in {:.1?}: \
         {total_answered} answered {answered:?}, {} refused {refused:?}, {unanswered} unanswered; \
         (level, round) by number of distinct signatures: {distinct:?}",
        points.len(),
        started.elapsed(),
        refused.values().sum::<usize>(),
    );
    let doubles: Vec<_> = released.iter().filter(|(_, s)| s.len() > 1).collect();
    assert!(
        doubles.is_empty(),
        "{} of {} (level, round) got two or more different block signatures: {doubles:?}",
        doubles.len(),
        points.len()
    );
    assert_eq!(unanswered, 0, "requests without an HTTP answer");
    let unsigned: Vec<_> = points
        .iter()
        .filter(|p| !released.contains_key(p))
        .collect();
    assert!(
        unsigned.is_empty(),
        "(level, round) without any answer: {unsigned:?}"
    );
    assert!(
        total_answered * 2 >= requests,
        "most requests answered: {total_answered} of {requests}"
    );
}
