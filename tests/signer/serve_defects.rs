//! Regression tests for the defects adversarial testing found (issue 8), each through the real
//! binary: `serve --dev` (in-process Key Vault emulator, production code path).

use std::time::Duration;

use crate::serve_common::{Serving, attestation, block, client, preattestation, sign};

fn msg(body: &serde_json::Value) -> String {
    body[0]["msg"].as_str().unwrap_or_default().to_string()
}

/// Negative levels and rounds used to be signed and persisted, and the next start refused the
/// store's own file ("negative round -1"): the baker was down until someone edited JSON.
#[tokio::test]
async fn negative_levels_and_rounds_are_refused_and_the_signer_still_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut serving = Serving::start(dir.path(), &[]);
    let c = client();
    let cases = [
        (preattestation(100, -1, 1), "negative round -1 at byte 44"),
        (attestation(100, -1, 1), "negative round -1 at byte 44"),
        (attestation(-1, 0, 1), "negative level -1 at byte 40"),
        (
            preattestation(i32::MIN, 0, 1),
            "negative level -2147483648 at byte 40",
        ),
        (block(-7, 0, 1), "negative level -7 at byte 5"),
        (block(100, -1, 1), "negative round -1 at byte 116"),
    ];
    for (hex, needle) in &cases {
        for pkh in [&serving.tz2, &serving.tz3] {
            let (status, body) = sign(&c, &serving.url, pkh, hex).await;
            assert_eq!(status, 400, "{needle}: {body}");
            assert!(msg(&body).contains(needle), "{needle}: {body}");
        }
    }
    let (status, body) = sign(&c, &serving.url, &serving.tz2, &preattestation(100, 0, 1)).await;
    assert_eq!(status, 200, "{body}");
    assert!(serving.terminate(Duration::from_secs(20)).success());

    // The data directory the refused requests were sent to opens again, with the valid mark.
    let serving = Serving::start(dir.path(), &[]);
    let (status, body) = sign(&c, &serving.url, &serving.tz2, &preattestation(100, 0, 2)).await;
    assert_eq!(
        status, 409,
        "the mark at (100, 0) survived the restart: {body}"
    );
}

// ---- HTTP: request targets, unread bodies, idle and half-open connections ----

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::serve_common::serve_dev;

/// host:port of a `http://host:port` URL.
fn authority(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

fn connect(url: &str) -> TcpStream {
    let s = TcpStream::connect(authority(url)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    s
}

/// Reads one HTTP/1.1 answer (head and a Content-Length body) from `s`.
fn read_answer(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    let _ = s.read_exact(&mut body);
    head + &String::from_utf8_lossy(&body)
}

/// Sends `request` on a fresh connection and returns the answer.
fn exchange(url: &str, request: &str) -> String {
    let mut s = connect(url);
    s.write_all(request.as_bytes()).expect("write");
    read_answer(&mut s)
}

/// Waits until the peer closes `s` (EOF or reset) and returns how long that took.
fn time_to_close(s: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    s.set_read_timeout(Some(limit)).expect("read timeout");
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return started.elapsed(),
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("still open after {limit:?}")
            }
            Err(_) => return started.elapsed(),
        }
    }
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame (length 0, type 4, no flags, stream 0).
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
/// A HEADERS frame on stream 1 without END_HEADERS: a header block that never completes.
const H2_PARTIAL_HEADERS: &[u8] = &[0, 0, 1, 1, 0, 0, 0, 0, 1, 0x82];

fn h2c_idle(url: &str) -> TcpStream {
    let mut s = connect(url);
    s.write_all(H2_PREFACE).expect("preface");
    s.write_all(H2_SETTINGS).expect("settings");
    s
}

/// `CONNECT host:port` and `GET host:80` used to panic a warp worker (no answer at all).
#[test]
fn request_targets_that_are_not_a_path_are_answered_without_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serving = Serving::start(dir.path(), &[]);
    for url in [&serving.url, &serving.metrics] {
        let cases = [
            (
                "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n",
                "405",
            ),
            (
                "GET 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                "400",
            ),
            ("OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "400"),
        ];
        for (request, status) in cases {
            let answer = exchange(url, request);
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status}")),
                "{url} {request:?}: {answer}"
            );
        }
    }
    // Absolute form is a path too, and still served; so is origin form.
    let tz2 = &serving.tz2;
    let host = authority(&serving.url);
    for target in [format!("http://{host}/keys/{tz2}"), format!("/keys/{tz2}")] {
        let answer = exchange(
            &serving.url,
            &format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
        );
        assert!(answer.starts_with("HTTP/1.1 200"), "{target}: {answer}");
        assert!(answer.contains("sppk"), "{answer}");
    }
}

/// A refusal answered before the body was read used to close the keep-alive connection
/// silently, so the client's next request on it failed.
#[test]
fn refusals_leave_the_connection_usable_or_say_it_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serving = Serving::start(dir.path(), &[]);
    let host = authority(&serving.url);
    let body = format!("\"{}\"", attestation(10, 0, 1));
    let get = format!("GET /keys/{} HTTP/1.1\r\nHost: {host}\r\n\r\n", serving.tz2);
    let mut s = connect(&serving.url);
    for bad in ["tz2bad", "keys"] {
        let post = format!(
            "POST /keys/{bad} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(post.as_bytes()).expect("write");
        let answer = read_answer(&mut s);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        assert!(
            !answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
        // The same connection answers the next request.
        s.write_all(get.as_bytes()).expect("write");
        assert!(read_answer(&mut s).starts_with("HTTP/1.1 200"));
    }
    // A body the signer never reads (an unknown route): the answer says the connection ends.
    let mut s = connect(&serving.url);
    let post = format!(
        "POST /nowhere HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(post.as_bytes()).expect("write");
    let answer = read_answer(&mut s);
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[test]
fn idle_and_half_sent_connections_are_closed_on_http1_and_http2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serving = Serving::start(
        dir.path(),
        &["--idle-timeout", "1s", "--header-timeout", "1s"],
    );
    let host = authority(&serving.url);
    // HTTP/1.1 keep-alive, idle after one answer.
    let mut h1 = connect(&serving.url);
    h1.write_all(format!("GET /keys/{} HTTP/1.1\r\nHost: {host}\r\n\r\n", serving.tz2).as_bytes())
        .expect("write");
    assert!(read_answer(&mut h1).starts_with("HTTP/1.1 200"));
    // HTTP/2 with prior knowledge: idle after its preface; and one whose header block never
    // completes.
    let mut h2 = h2c_idle(&serving.url);
    let mut h2_partial = h2c_idle(&serving.url);
    h2_partial.write_all(H2_PARTIAL_HEADERS).expect("headers");
    // And a TCP connection that never sends a byte.
    let mut silent = connect(&serving.url);
    for (what, s) in [
        ("idle HTTP/1.1", &mut h1),
        ("idle HTTP/2", &mut h2),
        ("incomplete HTTP/2 header block", &mut h2_partial),
        ("silent", &mut silent),
    ] {
        let took = time_to_close(s, Duration::from_secs(6));
        assert!(
            took < Duration::from_secs(4),
            "{what} closed after {took:?}"
        );
    }
}

/// One idle HTTP/2 client used to delay SIGTERM by the whole drain timeout (15 s).
#[test]
fn sigterm_is_not_held_up_by_idle_connections() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut serving = Serving::start(dir.path(), &[]);
    let _h2 = h2c_idle(&serving.url);
    let host = authority(&serving.url);
    let mut h1 = connect(&serving.url);
    h1.write_all(format!("GET /keys/{} HTTP/1.1\r\nHost: {host}\r\n\r\n", serving.tz2).as_bytes())
        .expect("write");
    assert!(read_answer(&mut h1).starts_with("HTTP/1.1 200"));
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert!(serving.terminate(Duration::from_secs(20)).success());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "exit took {:?}",
        started.elapsed()
    );
}

/// 300 idle HTTP/2 connections under a 256 file-descriptor limit used to make the signer
/// unreachable ("Too many open files"): the cap (lowered to fit the limit) closes the excess
/// at once (the oldest connections that never sent a request make room for new ones), the
/// idle timeout frees the rest, and the signer answers again by itself.
#[tokio::test]
async fn idle_connections_cannot_exhaust_file_descriptors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("serve.log");
    let inner = serve_dev(&dir.path().join("data"), "127.0.0.1:0");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(inner.get_program())
        .args(inner.get_args())
        .args(["--idle-timeout", "2s", "--header-timeout", "2s"])
        .env("RUST_LOG", "warn")
        .env_remove("AZURE_KEYVAULT_URI")
        .stderr(Stdio::from(std::fs::File::create(&log).expect("log file")));
    let serving = Serving::spawn(cmd);
    let held: Vec<TcpStream> = (0..300)
        .filter_map(|_| {
            let mut s = TcpStream::connect(authority(&serving.url)).ok()?;
            // Connections beyond the cap are closed at once: their writes may fail.
            let _ = s
                .write_all(H2_PREFACE)
                .and_then(|()| s.write_all(H2_SETTINGS));
            Some(s)
        })
        .collect();
    assert!(held.len() >= 250, "only {} connections opened", held.len());
    // The signer recovers by itself: within the idle timeout and a margin, a new client signs.
    let c = client();
    let started = Instant::now();
    let mut level = 100;
    let signed = loop {
        let quick = reqwest::Client::builder()
            .timeout(Duration::from_millis(500))
            .no_proxy()
            .build()
            .expect("client");
        level += 1;
        if let Some((200, _)) = crate::serve_common::try_sign(
            &quick,
            &serving.url,
            &serving.tz2,
            &attestation(level, 0, 1),
        )
        .await
        {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the signer did not recover"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        signed < Duration::from_secs(6),
        "recovered after {signed:?}"
    );
    let metrics = crate::serve_common::metrics_text(&c, &serving.metrics).await;
    let counter = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}{{listener=\"api\"}} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    // At the cap either the new connection or the oldest one still waiting for its first
    // request is closed: either way the cap holds.
    let closed = counter("tezos_azure_signer_connections_refused_total")
        + counter("tezos_azure_signer_connections_evicted_total");
    assert!(
        closed > 0,
        "no connection was closed at the cap:\n{metrics}"
    );
    drop(held);
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(log.contains("lowered to fit the open-files limit"), "{log}");
    assert!(
        !log.contains("accept failed"),
        "accept ran out of descriptors:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

/// At 100 ms vault latency, 60 concurrent requests on one key with a short request time: the
/// queue bound refuses some at once, the deadline some others, and no request that was refused
/// is signed afterwards (every released signature was answered 200).
#[tokio::test]
async fn requests_refused_for_time_or_queue_are_never_signed_afterwards() {
    let dir = tempfile::tempdir().expect("temp dir");
    let serving = Serving::start(
        dir.path(),
        &[
            "--dev-latency-ms",
            "100",
            "--request-timeout",
            "1500ms",
            "--max-queue-per-key",
            "20",
        ],
    );
    let c = client();
    let mut tasks = Vec::new();
    for i in 0..60 {
        let (c, url, pkh) = (c.clone(), serving.url.clone(), serving.tz2.clone());
        tasks.push(tokio::spawn(async move {
            sign(&c, &url, &pkh, &attestation(1000 + i, 0, 1)).await
        }));
        // Arrivals in level order, so that most requests are signable when their turn comes.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    let mut messages = Vec::new();
    for t in tasks {
        let (status, body) = t.await.expect("join");
        *by_status.entry(status).or_default() += 1;
        if status == 503 {
            messages.push(msg(&body));
        }
    }
    let ok = by_status.get(&200).copied().unwrap_or(0);
    assert!(ok > 0, "{by_status:?}");
    assert!(
        messages.iter().any(|m| m.contains("--max-queue-per-key")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("time ran out")),
        "{by_status:?} {:?}",
        messages
            .iter()
            .filter(|m| !m.contains("--max-queue-per-key"))
            .collect::<Vec<_>>()
    );
    // Anything still running would sign within the next vault latencies: wait, then count.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let metrics = crate::serve_common::metrics_text(&c, &serving.metrics).await;
    let released: usize = metrics
        .lines()
        .filter(|l| l.starts_with("tezos_azure_signer_signatures_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(
        released, ok,
        "signatures released vs answered 200 ({by_status:?})"
    );
}

/// A data directory of octez-signer 2024 or earlier (marks under `preendorsement_` and
/// `endorsement_high_watermarks`) used to give no (pre)attestation protection at all.
#[tokio::test]
async fn marks_under_older_octez_file_names_protect_after_migration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tz2 = {
        let mut first = Serving::start(dir.path(), &[]);
        assert!(first.terminate(Duration::from_secs(20)).success());
        first.tz2.clone()
    };
    let mark = |level: i32| {
        format!(
            r#"{{"NetXdQprcVkpaWU": {{"{tz2}": {{"level": {level}, "round": 0, "hash": "{}"}}}}}}"#,
            "ab".repeat(32)
        )
    };
    std::fs::write(
        dir.path().join("preendorsement_high_watermarks"),
        mark(5000),
    )
    .expect("write");
    std::fs::write(dir.path().join("endorsement_high_watermarks"), mark(6000)).expect("write");
    let serving = Serving::start(dir.path(), &[]);
    let c = client();
    let (status, body) = sign(&c, &serving.url, &tz2, &preattestation(4999, 0, 1)).await;
    assert_eq!(status, 409, "{body}");
    assert!(msg(&body).contains("high watermark 5000"), "{body}");
    let (status, body) = sign(&c, &serving.url, &tz2, &attestation(6000, 0, 1)).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = sign(&c, &serving.url, &tz2, &attestation(6001, 0, 1)).await;
    assert_eq!(status, 200, "{body}");
}

/// Deleting the lock file while `serve` ran used to let a second `serve` start on the same
/// directory (and both signed conflicting attestations).
#[test]
fn deleting_the_lock_file_does_not_let_a_second_signer_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = Serving::start(dir.path(), &[]);
    std::fs::remove_file(dir.path().join("tezos-azure-signer.lock")).expect("delete the lock file");
    let out = serve_dev(dir.path(), "off")
        .output()
        .expect("run a second serve");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}
