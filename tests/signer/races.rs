//! Races at scale: 256 concurrent clients over 1,000 levels with conflicting payloads (one
//! signature per level), and two processes started at the same moment on one data directory
//! (exactly one serves).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use crate::serve_common::{Serving, attestation, client, serve_dev, try_sign};

/// 256 clients take the next level and send one of 4 conflicting payloads for it, so each
/// level is asked for by 4 clients at once: exactly one payload is signed per level.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_fifty_six_clients_over_a_thousand_levels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Serving::start(dir.path(), &["--max-queue-per-key", "512"]);
    let next = Arc::new(AtomicI32::new(0));
    // serve's thread count, sampled during the load: bounded whatever the number of waiting
    // requests (one writer thread, no blocking task per waiter).
    let pid = server.child.id();
    let threads = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let (threads, next) = (threads.clone(), next.clone());
        tokio::spawn(async move {
            while next.load(Ordering::SeqCst) < 4000 {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                if let Some(n) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|n| n.trim().parse::<u64>().ok())
                {
                    threads.fetch_max(n, Ordering::SeqCst);
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for _ in 0..256 {
        let (next, url, pkh) = (next.clone(), server.url.clone(), server.tz2.clone());
        let http = client();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= 4000 {
                    return outcomes;
                }
                let (level, payload) = (1 + n / 4, 1 + (n % 4) as u8);
                let (status, _) = try_sign(&http, &url, &pkh, &attestation(level, 0, payload))
                    .await
                    .expect("an answer");
                outcomes.push((level, payload, status));
            }
        }));
    }
    let mut signed: BTreeMap<i32, BTreeSet<u8>> = BTreeMap::new();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for t in tasks {
        for (level, payload, status) in t.await.expect("client") {
            *statuses.entry(status).or_default() += 1;
            if status == 200 {
                signed.entry(level).or_default().insert(payload);
            }
        }
    }
    sampler.await.expect("sampler");
    let peak_threads = threads.load(Ordering::SeqCst);
    let doubles: Vec<_> = signed.iter().filter(|(_, p)| p.len() > 1).collect();
    eprintln!(
        "races: 256 clients, 4000 requests over 1000 levels: {} levels signed, {} double signs, statuses {statuses:?}, serve's peak threads {peak_threads}",
        signed.len(),
        doubles.len()
    );
    assert!(peak_threads > 0, "sampled serve's threads");
    assert!(
        peak_threads <= 32,
        "serve ran {peak_threads} threads for 256 clients: threads must not grow with waiters"
    );
    assert!(doubles.is_empty(), "two payloads signed at: {doubles:?}");
    // Every refusal is the watermark's; every level got its signature (the first request
    // of a level to reach the key lock wins, unless a higher level got there first).
    assert!(
        statuses.keys().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert!(
        signed.len() > 500,
        "only {} of 1000 levels signed: {statuses:?}",
        signed.len()
    );
}

/// Two `serve` processes started together on one data directory, 10 times: one serves, the
/// other stops at once naming the holder.
#[test]
fn two_processes_racing_for_one_data_directory() {
    for round in 0..10 {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut children: Vec<_> = (0..2)
            .map(|_| {
                serve_dev(dir.path(), "off")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn")
            })
            .collect();
        let mut serving = 0;
        let mut refused = Vec::new();
        for child in &mut children {
            let out = BufReader::new(child.stdout.take().expect("stdout"));
            let mut listening = false;
            for line in out.lines().map_while(Result::ok) {
                if line.starts_with("listening ") {
                    listening = true;
                    break;
                }
            }
            if listening {
                serving += 1;
            } else {
                let status = child.wait().expect("wait");
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .expect("stderr")
                    .read_to_string(&mut err)
                    .expect("read");
                refused.push((status, err));
            }
        }
        assert_eq!(serving, 1, "round {round}: {refused:?}");
        let (status, err) = &refused[0];
        assert_eq!(status.code(), Some(1), "round {round}: {err}");
        assert!(
            err.contains("is in use by another process"),
            "round {round}: {err}"
        );
        for mut child in children {
            let _ = child.kill();
            let _ = child.wait();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
