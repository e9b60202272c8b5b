//! The HTTP server layer over real sockets, with the real pipeline over the in-memory vault
//! (the crate's `testing::signer_over`): TLS, request and header timeouts, the body limit for chunked
//! bodies (no Content-Length), metrics/health listener, and the shutdown order (in-flight
//! signatures finish before `run` returns).

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tezos_azure_signer::server::listen::Limits;
use tezos_azure_signer::server::run::Server;
use tezos_azure_signer::server::{ApiOptions, tls};
use tezos_azure_signer::signer::{Signer, SignerConfig};
use tezos_azure_signer::testing::{MemoryVault, TZ2, TZ2_SECRET as TZ2_SK, signer_over};
use tokio::sync::oneshot;

const ATTESTATION: &str = "137a06a7700e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a815000000000533000000000000000000000000000000000000000000000000000000000000000000000000";

/// The real signer over a memory vault holding the tz2 key, each signature taking `latency`.
struct Pipeline {
    vault: Arc<MemoryVault>,
    signer: Arc<Signer>,
    _dir: tempfile::TempDir,
}

async fn fake(latency: Duration) -> Pipeline {
    let vault = Arc::new(MemoryVault::new());
    vault.add("baker-tz2", TZ2_SK);
    vault.set_latency(latency);
    let dir = tempfile::tempdir().expect("temp dir");
    let signer = signer_over(vault.clone(), dir.path(), SignerConfig::default()).await;
    Pipeline {
        vault,
        signer,
        _dir: dir,
    }
}

fn limits() -> Limits {
    Limits {
        request_timeout: Duration::from_millis(600),
        header_timeout: Duration::from_millis(300),
        handshake_timeout: Duration::from_millis(300),
        drain_timeout: Duration::from_secs(5),
        ..Limits::default()
    }
}

async fn start(
    pipeline: &Pipeline,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (
    String,
    String,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<bool>,
) {
    let server = Server::bind(
        pipeline.signer.clone(),
        "127.0.0.1:0".parse().expect("addr"),
        Some("127.0.0.1:0".parse().expect("addr")),
        tls.clone(),
        ApiOptions::default(),
        limits(),
    )
    .await
    .expect("bind");
    let scheme = if tls.is_some() { "https" } else { "http" };
    let api = format!("{scheme}://{}", server.api_address().expect("addr"));
    let metrics = format!("http://{}", server.metrics_address().expect("metrics addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = rx.await;
            })
            .await
            .drained
    });
    (api, metrics, tx, task)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_api_over_tls_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let config = tls::server_config(&cert, &key).expect("tls config");
    let pipeline = fake(Duration::ZERO).await;
    let (api, _, stop, task) = start(&pipeline, Some(config)).await;
    let port = api.rsplit(':').next().expect("port").to_string();
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("pem"),
        ])
        .build()
        .expect("client");
    let url = format!("https://localhost:{port}");
    let res = client
        .get(format!("{url}/keys/{TZ2}"))
        .send()
        .await
        .expect("https GET");
    assert_eq!(res.status().as_u16(), 200);
    let res = client
        .post(format!("{url}/keys/{TZ2}"))
        .json(&ATTESTATION)
        .send()
        .await
        .expect("https POST");
    assert_eq!(res.status().as_u16(), 200);
    // Plain HTTP on the TLS port gets no answer.
    assert!(
        http()
            .get(format!("http://127.0.0.1:{port}/keys/{TZ2}"))
            .send()
            .await
            .is_err()
    );
    let _ = stop.send(());
    assert!(task.await.expect("join"));
}

#[test]
fn tls_config_errors_name_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a pem").expect("write");
    let err = tls::server_config(&empty, &empty).expect_err("no certificate");
    assert!(err.to_string().contains("empty.pem"), "{err}");
    let missing = dir.path().join("missing.pem");
    let err = tls::server_config(&missing, &missing).expect_err("missing file");
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_signatures_time_out_with_503_but_still_finish() {
    let signer = fake(Duration::from_millis(1200)).await;
    let (api, _, stop, task) = start(&signer, None).await;
    let started = Instant::now();
    let res = http()
        .post(format!("{api}/keys/{TZ2}"))
        .json(&ATTESTATION)
        .send()
        .await
        .expect("POST");
    assert_eq!(res.status().as_u16(), 503);
    assert!(
        started.elapsed() < Duration::from_millis(1100),
        "{:?}",
        started.elapsed()
    );
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body[0]["msg"], "request did not complete within 600ms");
    let _ = stop.send(());
    // Shutdown waits for the detached sign task.
    assert!(task.await.expect("join"));
    assert_eq!(signer.vault.signatures(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_are_disconnected_after_the_header_timeout() {
    let pipeline = fake(Duration::ZERO).await;
    let (api, _, stop, task) = start(&pipeline, None).await;
    let addr = api.trim_start_matches("http://").to_string();
    // A partial request head, a connection that never sends anything, and an idle keep-alive
    // connection after one complete request.
    let full = &b"GET /authorized_keys HTTP/1.1\r\nHost: x\r\n\r\n"[..];
    for prefix in [&b"POST /keys/"[..], &b""[..], full] {
        let addr = addr.clone();
        let held = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(addr).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            s.write_all(prefix).expect("partial head");
            let started = Instant::now();
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            started.elapsed()
        })
        .await
        .expect("join");
        assert!(
            held < Duration::from_secs(3),
            "connection held for {held:?}"
        );
    }
    let _ = stop.send(());
    assert!(task.await.expect("join"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_in_flight_signatures_and_refuses_new_ones() {
    let signer = fake(Duration::from_millis(400)).await;
    let (api, metrics, stop, task) = start(&signer, None).await;
    let health = http()
        .get(format!("{metrics}/readyz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status().as_u16(), 200);
    let in_flight = {
        let api = api.clone();
        tokio::spawn(async move {
            http()
                .post(format!("{api}/keys/{TZ2}"))
                .json(&ATTESTATION)
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = stop.send(());
    let res = in_flight
        .await
        .expect("join")
        .expect("in-flight request answered");
    assert_eq!(res.status().as_u16(), 200);
    assert!(task.await.expect("join"), "not drained");
    assert_eq!(signer.vault.signatures(), 1);
    // The listener is closed now.
    assert!(
        http()
            .get(format!("{api}/keys/{TZ2}"))
            .send()
            .await
            .is_err()
    );
    let text = http().get(format!("{metrics}/metrics")).send().await;
    assert!(text.is_err(), "metrics listener still open after shutdown");
}

/// POSTs `body` to `path` with `Transfer-Encoding: chunked` (no Content-Length), in 4 KiB
/// chunks, over a raw socket; returns the status line and the response body.
fn post_chunked(addr: &str, path: &str, body: &[u8]) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut wire = head.into_bytes();
    for chunk in body.chunks(4096) {
        wire.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        wire.extend_from_slice(chunk);
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    // The server may answer 413 and stop reading before everything is written.
    let _ = s.write_all(&wire);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).into_owned();
    assert!(!reply.is_empty(), "no reply");
    let status = reply.lines().next().unwrap_or_default().to_string();
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A JSON hex string body of exactly `len` bytes holding a block whose protocol data is
/// padded to fill it (the signer reads a block's header and fitness, and signs all its bytes).
fn block_body(len: usize) -> Vec<u8> {
    let hex_len = len - 2;
    assert_eq!(hex_len % 2, 0, "whole bytes");
    let block = tezos_azure_signer::testing::requests::block([0x7a, 0x06, 0xa7, 0x70], 1400, 0, 1);
    let mut body = String::with_capacity(len);
    body.push('"');
    body.push_str(&block);
    body.push_str(&"00".repeat((hex_len - block.len()) / 2));
    body.push('"');
    assert_eq!(body.len(), len);
    body.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_are_limited_to_64_kib_without_a_content_length() {
    let signer = fake(Duration::ZERO).await;
    let (api, _, stop, task) = start(&signer, None).await;
    let addr = api.trim_start_matches("http://").to_string();
    let limit = ApiOptions::default().body_limit;
    assert_eq!(limit, 64 * 1024);
    let path = format!("/keys/{TZ2}");
    let cases = [
        // Exactly at the limit: read in full and signed.
        (limit, "200"),
        // One chunk further (two bytes: the JSON must stay whole hex bytes): refused.
        (limit + 2, "413"),
        // Far beyond (1 MiB): refused without reading it all.
        (1024 * 1024, "413"),
    ];
    for (len, want) in cases {
        let (addr, path) = (addr.clone(), path.clone());
        let (status, body) =
            tokio::task::spawn_blocking(move || post_chunked(&addr, &path, &block_body(len)))
                .await
                .expect("join");
        assert!(
            status.starts_with("HTTP/1.1 ") && status.contains(&format!(" {want} ")),
            "{len} bytes: {status}\n{body}"
        );
        if want == "413" {
            let json: serde_json::Value = serde_json::from_str(body.trim()).expect("octez error");
            assert_eq!(
                json[0]["msg"],
                format!("request body too large: the limit is {limit} bytes"),
                "{len} bytes"
            );
        } else {
            let json: serde_json::Value = serde_json::from_str(body.trim()).expect("signature");
            assert!(
                json["signature"]
                    .as_str()
                    .expect("signature")
                    .starts_with("spsig1")
            );
        }
    }
    assert_eq!(
        signer.vault.signatures(),
        1,
        "only the body at the limit was signed"
    );
    let _ = stop.send(());
    assert!(task.await.expect("join"));
}
