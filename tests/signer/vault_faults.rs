//! Vault faults against the real binary: a throttling storm, 5xx, latency beyond the sign
//! deadline, wrong and malformed signatures, and the vault (the emulator process) killed and
//! brought back. The signer keeps answering (errors where it must), recovers by itself, and
//! never releases a signature that does not verify. And clients that leave while the
//! reservation and the vault call are in flight change nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tezos_azure_signer::tezos::{PublicKey, Signature, blake2b_256};

use crate::running_binary::RunningBinary;
use crate::serve_common::{
    assert_valid, attestation, client, import_test_key, preattestation, public_key, try_sign,
};

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The `emulator` subcommand on fixed ports with its state in a directory, so it can be killed
/// and started again as the same vault (same CA, same keys).
struct Vault {
    running: Option<RunningBinary>,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Vault {
    fn start(state: &Path) -> Vault {
        let args = vec![
            "--state-dir".to_string(),
            state.to_string_lossy().into_owned(),
            "--port".into(),
            free_port().to_string(),
            "--identity-port".into(),
            free_port().to_string(),
        ];
        let mut vault = Vault {
            running: None,
            args,
            env: Vec::new(),
        };
        vault.spawn();
        vault
    }

    fn spawn(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let running = RunningBinary::start(&args);
        self.env = running.env.clone();
        self.running = Some(running);
    }

    /// Kills the emulator (dropping it kills and reaps the process).
    fn kill(&mut self) {
        self.running = None;
    }

    fn var(&self, name: &str) -> &str {
        self.running.as_ref().expect("the emulator runs").var(name)
    }

    /// An HTTP client that trusts the emulator's CA.
    fn http(&self) -> reqwest::Client {
        let ca = std::fs::read(self.var("SSL_CERT_FILE")).expect("CA");
        reqwest::Client::builder()
            .no_proxy()
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).expect("CA"))
            .build()
            .expect("client")
    }

    async fn faults(&self, faults: serde_json::Value) {
        let res = self
            .http()
            .put(format!(
                "{}/_emulator/faults",
                self.var("AZURE_KEYVAULT_URI")
            ))
            .json(&faults)
            .send()
            .await
            .expect("faults");
        assert!(res.status().is_success(), "{}", res.status());
    }

    async fn stats(&self) -> serde_json::Value {
        self.http()
            .get(format!(
                "{}/_emulator/stats",
                self.var("AZURE_KEYVAULT_URI")
            ))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }
}

/// A child process killed when dropped (also when the test fails).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve` on `vault`; (process, API URL, metrics URL).
fn serve(vault: &Vault, data: &Path) -> (Killed, String, String) {
    let mut child = Command::new(BIN)
        .envs(vault.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("RUST_LOG", "error")
        .args(["serve", "--port", "0", "--metrics-address", "127.0.0.1:0"])
        .args([
            "--sign-deadline",
            "1s",
            "--request-timeout",
            "3s",
            "--data-dir",
        ])
        .arg(data)
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut url, mut metrics) = (None, None);
    while url.is_none() || metrics.is_none() {
        let line = lines.next().expect("serve announces itself").expect("line");
        if let Some(u) = line.strip_prefix("listening ") {
            url = Some(u.trim().to_string());
        } else if let Some(m) = line.strip_prefix("metrics ") {
            metrics = Some(m.trim().trim_end_matches("/metrics").to_string());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (Killed(child), url.expect("url"), metrics.expect("metrics"))
}

/// The emulator in `dir` with the test tz2 key imported, and `serve` on it: (vault, server,
/// API URL, the key's public key as the signer serves it).
async fn signer_on_emulator(dir: &Path) -> (Vault, Killed, String, PublicKey) {
    let vault = Vault::start(&dir.join("vault"));
    import_test_key(&vault.env, dir, "baker");
    let (server, url, _metrics) = serve(&vault, &dir.join("data"));
    let public = public_key(&client(), &url, tezos_azure_signer::testing::TZ2).await;
    (vault, server, url, public)
}

/// Sends one sign request over a raw connection and closes it after `after`, before the
/// answer (the vault is slower than that): the client has left mid-pipeline.
async fn sign_and_leave(url: &str, pkh: &str, hex: &str, after: Duration) {
    use tokio::io::AsyncWriteExt;
    let addr = url.trim_start_matches("http://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body = format!("\"{hex}\"");
    let head = format!(
        "POST /keys/{pkh} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("write head");
    tcp.write_all(body.as_bytes()).await.expect("write body");
    tokio::time::sleep(after).await;
    drop(tcp);
}

/// A client that leaves while its request's reservation and vault call are in flight changes
/// nothing: the pipeline ends as it would have with the client there. After a vault success
/// the identical request gets a valid signature and a different payload at that (level,
/// round) is refused; after a vault failure behind the reservation, the same. The next level
/// signs as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_pipeline_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (vault, _server, url, public) = signer_on_emulator(dir.path()).await;
    let pkh = tezos_azure_signer::testing::TZ2;
    let http = client();
    let signed_and_valid = async |hex: &str| {
        let (status, body) = try_sign(&http, &url, pkh, hex).await.expect("an answer");
        assert_eq!(status, 200, "{body}");
        assert_valid(&public, hex, &body);
    };
    let refused = async |hex: &str| {
        let (status, body) = try_sign(&http, &url, pkh, hex).await.expect("an answer");
        assert_eq!(
            status, 409,
            "a different payload at a reserved point: {body}"
        );
        assert!(body.get("signature").is_none(), "{body}");
    };
    // The vault takes 600 ms (inside the 1 s sign deadline); the client leaves after 150 ms.
    for (level, vault_fails) in [(10, false), (20, true)] {
        let faults = if vault_fails {
            serde_json::json!({"latency_ms": 600, "error_rate": 1.0})
        } else {
            serde_json::json!({"latency_ms": 600})
        };
        vault.faults(faults).await;
        let stats = vault.stats().await;
        let hex = attestation(level, 0, 1);
        sign_and_leave(&url, pkh, &hex, Duration::from_millis(150)).await;
        // Let the abandoned pipeline finish (vault call, reservation, signature record).
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let after = vault.stats().await;
        let reached =
            after["requests"].as_u64().expect("n") - stats["requests"].as_u64().expect("n");
        // A success is one vault request; a failure may be retried inside the deadline.
        assert!(
            reached == 1 || (vault_fails && reached >= 1),
            "the abandoned request reached the vault {reached} times (level {level})"
        );
        vault.faults(serde_json::json!({})).await;
        signed_and_valid(&hex).await;
        refused(&attestation(level, 0, 2)).await;
        signed_and_valid(&attestation(level + 1, 0, 2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_signer_survives_vault_faults_and_never_releases_a_bad_signature() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut vault, server, url, public) = signer_on_emulator(dir.path()).await;
    let pkh = tezos_azure_signer::testing::TZ2;
    let http = client();
    let mut level = 0;
    // Signs `n` new levels; counts answers by status and checks every released signature.
    let mut phase = async |n: usize, limit: Duration| -> std::collections::BTreeMap<u16, usize> {
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..n {
            level += 1;
            let hex = attestation(level, 0, 1);
            let started = Instant::now();
            let (status, body) = try_sign(&http, &url, pkh, &hex).await.expect("an answer");
            assert!(
                started.elapsed() < limit,
                "answered in {:?}",
                started.elapsed()
            );
            if status == 200 {
                let sig: Signature = body["signature"]
                    .as_str()
                    .expect("sig")
                    .parse()
                    .expect("sig");
                let digest = blake2b_256(&hex::decode(&hex).expect("hex"));
                public
                    .verify_digest(&digest, &sig)
                    .unwrap_or_else(|e| panic!("released a bad signature at level {level}: {e}"));
            } else {
                assert!(body.get("signature").is_none(), "{body}");
            }
            *seen.entry(status).or_default() += 1;
        }
        seen
    };
    let quick = Duration::from_millis(2500);
    assert_eq!(phase(5, quick).await.get(&200), Some(&5));

    // A throttling storm (every other request 429, Retry-After 0): retried within the deadline.
    vault
        .faults(serde_json::json!({"throttle_every": 2, "retry_after_secs": 0}))
        .await;
    let storm = phase(20, quick).await;
    assert!(storm.get(&200).copied().unwrap_or(0) >= 15, "{storm:?}");
    // Half of the requests answered 5xx.
    vault.faults(serde_json::json!({"error_rate": 0.5})).await;
    let errors = phase(20, quick).await;
    assert!(errors.get(&200).copied().unwrap_or(0) >= 5, "{errors:?}");
    assert!(
        errors.keys().all(|s| [200, 502, 503].contains(s)),
        "{errors:?}"
    );
    // Every signature wrong: nothing is released, each request says why.
    vault
        .faults(serde_json::json!({"wrong_signature_rate": 1.0}))
        .await;
    let wrong = phase(5, quick).await;
    assert_eq!(wrong.get(&502), Some(&5), "{wrong:?}");
    // Malformed signature values (63 and 65 bytes, r = 0, s out of range, not base64url, in
    // turn, twice): a 502 that says the vault's answer was bad, never a signature.
    vault
        .faults(serde_json::json!({"malformed_signature_rate": 1.0}))
        .await;
    let before = vault.stats().await["malformed_signatures"]
        .as_u64()
        .expect("counter");
    let malformed = phase(10, quick).await;
    assert_eq!(malformed.get(&502), Some(&10), "{malformed:?}");
    // The answer names the fault (a preattestation: its own watermark, apart from the phases').
    let (status, body) = try_sign(&http, &url, pkh, &preattestation(500_000, 0, 1))
        .await
        .expect("an answer");
    assert_eq!(status, 502, "{body}");
    let message = body.to_string();
    assert!(
        message.contains("vault") && message.contains("signature"),
        "a malformed vault signature must be named as such: {message}"
    );
    let after = vault.stats().await["malformed_signatures"]
        .as_u64()
        .expect("counter");
    assert_eq!(after - before, 11, "the emulator broke every reply");
    // Slower than the sign deadline: 503 within the deadline, nothing released.
    vault.faults(serde_json::json!({"latency_ms": 3000})).await;
    let slow = phase(3, quick).await;
    assert_eq!(slow.get(&503), Some(&3), "{slow:?}");
    vault.faults(serde_json::json!({})).await;
    assert_eq!(phase(3, quick).await.get(&200), Some(&3));

    // The vault goes away: quick errors, no restart needed when it comes back.
    vault.kill();
    let down = phase(3, quick).await;
    assert!(down.keys().all(|s| [502, 503].contains(s)), "{down:?}");
    vault.spawn();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut probe_level = 1_000_000;
    loop {
        probe_level += 1;
        // Preattestations: their own watermark, apart from the phases' attestations.
        let hex = preattestation(probe_level, 0, 1);
        let (status, body) = try_sign(&http, &url, pkh, &hex).await.expect("an answer");
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after the vault came back: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(phase(5, quick).await.get(&200), Some(&5));
    drop(server);
}
