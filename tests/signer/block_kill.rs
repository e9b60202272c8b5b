//! One block, one signature, ever (issue 16; ../shared/PROTOCOL.md §3, "Blocks are
//! different"): Key Vault's ECDSA nonce is random, so a second signature of identical block
//! bytes (0x11) is a second valid block header at that (level, round), which is slashable
//! double baking. One `serve --dev` (20 ms vault latency) is killed with SIGKILL at seeded
//! moments around a block reply: before the vault answers, around its answer (between the
//! vault answer and the record), as the reply arrives, and just after it. It is restarted on
//! the same data directory, then sent the identical block again. A signature that was
//! released comes back unchanged; no other signature of that block ever leaves.
//! `BLOCK_KILL_ITERATIONS=N` (default 24) for a longer run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::serve_common::{
    Serving, assert_valid, block, client, metrics_text, public_key, try_sign,
};

/// The in-process emulator's latency: a window for kills before the vault answers.
const LATENCY_MS: u64 = 20;

fn serve(dir: &Path) -> Serving {
    Serving::start(dir, &["--dev-latency-ms", &LATENCY_MS.to_string()])
}

/// When the SIGKILL lands, relative to the first request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Moment {
    /// 0 to 20 ms after the request left: before the vault answers.
    BeforeTheVaultAnswers,
    /// 20 to 30 ms after: between the vault answer, the record and the reply (which comes
    /// 26 to 30 ms after the request on the CI machine).
    AroundTheVaultAnswer,
    /// As soon as the client has read the reply.
    AtTheReply,
    /// 0 to 2 ms after the client read the reply.
    JustAfterTheReply,
}

const MOMENTS: [Moment; 4] = [
    Moment::BeforeTheVaultAnswers,
    Moment::AroundTheVaultAnswer,
    Moment::AtTheReply,
    Moment::JustAfterTheReply,
];

/// What the identical request sent after the restart got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Retry {
    /// The first request's signature (or, when it got none, the recorded one: a replay).
    Replayed,
    /// A vault call after the restart: a new signature.
    FreshlySigned,
    /// No signature.
    Refused,
}

/// `name{kind="block",pkh="PKH"}` in the exposition text; 0 when absent.
fn block_counter(text: &str, name: &str, pkh: &str) -> u64 {
    let prefix = format!("tezos_azure_signer_{name}{{kind=\"block\",pkh=\"{pkh}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_around_a_block_reply_never_releases_a_second_signature() {
    let iterations: usize = std::env::var("BLOCK_KILL_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(0xb10c_0016);
    let dir = tempfile::tempdir().expect("temp dir");
    let http = client();
    let mut server = serve(dir.path());
    // Both demo keys (tz2, tz3), in turn; the same keys after every restart.
    let keys = [
        (
            server.tz2.clone(),
            public_key(&http, &server.url, &server.tz2).await,
        ),
        (
            server.tz3.clone(),
            public_key(&http, &server.url, &server.tz3).await,
        ),
    ];
    // (pkh, level, round) → every signature released for that block.
    let mut released: BTreeMap<(String, i32, i32), BTreeSet<String>> = BTreeMap::new();
    // (moment, first answered, retry outcome) → count.
    let mut cases: BTreeMap<(Moment, bool, Retry), usize> = BTreeMap::new();
    // Answered first, then something else than that signature after the restart.
    let mut broken = Vec::new();
    for i in 0..iterations {
        let (pkh, key) = &keys[i % 2];
        let moment = MOMENTS[(i / 2) % 4];
        let level = 1000 + i as i32;
        let round: i32 = rng.gen_range(0..3);
        let hex = block(level, round, rng.r#gen());
        let point = (pkh.clone(), level, round);
        let request = {
            let (http, url, pkh, hex) =
                (http.clone(), server.url.clone(), pkh.clone(), hex.clone());
            tokio::spawn(async move { try_sign(&http, &url, &pkh, &hex).await })
        };
        let first = match moment {
            Moment::BeforeTheVaultAnswers | Moment::AroundTheVaultAnswer => {
                let micros = if moment == Moment::BeforeTheVaultAnswers {
                    rng.gen_range(0..LATENCY_MS * 1000)
                } else {
                    rng.gen_range(LATENCY_MS * 1000..(LATENCY_MS + 10) * 1000)
                };
                tokio::time::sleep(Duration::from_micros(micros)).await;
                tokio::task::block_in_place(|| server.kill());
                request.await.expect("join")
            }
            Moment::AtTheReply => {
                let answer = request.await.expect("join");
                tokio::task::block_in_place(|| server.kill());
                answer
            }
            Moment::JustAfterTheReply => {
                let answer = request.await.expect("join");
                tokio::time::sleep(Duration::from_micros(rng.gen_range(0..2000))).await;
                tokio::task::block_in_place(|| server.kill());
                answer
            }
        };
        let first = match first {
            Some((200, body)) => {
                let sig = assert_valid(key, &hex, &body).to_string();
                released
                    .entry(point.clone())
                    .or_default()
                    .insert(sig.clone());
                Some(sig)
            }
            _ => None,
        };

        server = serve(dir.path());
        let (status, body) = try_sign(&http, &server.url, pkh, &hex)
            .await
            .unwrap_or_else(|| panic!("iteration {i}: the restarted signer did not answer"));
        let retry = if status == 200 {
            let sig = assert_valid(key, &hex, &body).to_string();
            released
                .entry(point.clone())
                .or_default()
                .insert(sig.clone());
            // Once more, from the same process: the same signature.
            let (again, body) = try_sign(&http, &server.url, pkh, &hex)
                .await
                .expect("an answer");
            assert_eq!(again, 200, "iteration {i}: an identical request: {body}");
            let again = assert_valid(key, &hex, &body).to_string();
            released.entry(point.clone()).or_default().insert(again);
            match &first {
                Some(first) if *first == sig => Retry::Replayed,
                Some(_) => Retry::FreshlySigned,
                None => {
                    // Nothing to compare with: the fresh process's counters tell whether the
                    // retry was answered from the record (a replay) or by the vault.
                    let text = metrics_text(&http, &server.metrics).await;
                    if block_counter(&text, "signatures_total", pkh) > 0 {
                        Retry::FreshlySigned
                    } else {
                        Retry::Replayed
                    }
                }
            }
        } else {
            assert!(body.get("signature").is_none(), "{status} {body}");
            Retry::Refused
        };
        if first.is_some() && retry != Retry::Replayed {
            broken.push(format!(
                "iteration {i} ({moment:?}, level {level}, round {round}): answered, then {retry:?} after the restart ({status} {body})"
            ));
        }
        *cases.entry((moment, first.is_some(), retry)).or_default() += 1;
    }
    drop(server);

    let doubles: Vec<_> = released.iter().filter(|(_, s)| s.len() > 1).collect();
    println!(
        "block SIGKILL suite: {iterations} kills in {:.1?}, {} blocks with a released signature, {} with two or more",
        started.elapsed(),
        released.len(),
        doubles.len()
    );
    for ((moment, answered, retry), n) in &cases {
        let first = if *answered {
            "first answered"
        } else {
            "first not answered"
        };
        println!("  {moment:?}, {first}, retry {retry:?}: {n}");
    }
    assert!(
        doubles.is_empty(),
        "{} blocks got two or more different signatures: {doubles:?}",
        doubles.len()
    );
    assert!(
        broken.is_empty(),
        "a released block signature was not given back after a restart: {broken:?}"
    );
    if iterations >= 8 {
        let answered: usize = cases.iter().filter(|(c, _)| c.1).map(|(_, n)| n).sum();
        assert!(
            answered > 0 && answered < iterations,
            "the kills never landed on both sides of the reply: {cases:?}"
        );
    }
}
