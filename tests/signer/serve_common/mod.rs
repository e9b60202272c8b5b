//! Helpers for end-to-end tests of `serve`: run the real binary in `--dev` mode (bundled
//! emulator, real SDK over TLS) on loopback ports chosen by the OS, and build payloads.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tezos_azure_signer::tezos::{PublicKey, Signature, blake2b_256};

pub const CHAIN: [u8; 4] = [0x7a, 0x06, 0xa7, 0x70];

/// `serve --dev` on `data_dir`, OS-chosen API port, metrics at `metrics` (an address or
/// `off`), error-level logs, no vault URL from the test's environment.
pub fn serve_dev(data_dir: &Path, metrics: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"));
    cmd.args([
        "serve",
        "--dev",
        "--port",
        "0",
        "--metrics-address",
        metrics,
    ])
    .arg("--data-dir")
    .arg(data_dir)
    .env("RUST_LOG", "error")
    .env_remove("AZURE_KEYVAULT_URI");
    cmd
}

/// A running `serve --dev`.
pub struct Serving {
    pub child: Child,
    pub url: String,
    pub metrics: String,
    pub tz2: String,
    pub tz3: String,
    /// The ready-to-paste curl commands of the `--dev` banner.
    pub curl: Vec<String>,
    /// The emulated vaults' URLs, from the banner (several with `--dev-vaults`).
    pub vaults: Vec<String>,
}

impl Serving {
    /// Starts `serve --dev` on `data_dir` and waits until it announced its address and keys.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Serving {
        let mut cmd = serve_dev(data_dir, "127.0.0.1:0");
        cmd.args(extra).stderr(Stdio::inherit());
        Serving::spawn(cmd)
    }

    /// Starts `cmd` (a `serve --dev` command line, possibly wrapped) and waits until it
    /// announced its address and keys.
    pub fn spawn(mut cmd: Command) -> Serving {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn serve --dev");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    // Keep draining so the server never blocks on a full pipe.
                    continue;
                }
            }
        });
        let (mut url, mut metrics, mut tz2, mut tz3) = (None, None, None, None);
        let mut curl = Vec::new();
        let mut vaults = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while url.is_none() || metrics.is_none() || tz2.is_none() || tz3.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "serve --dev did not announce itself within 60 s (exit: {:?})",
                        child.try_wait()
                    );
                }
            };
            if line.trim_start().starts_with("curl ") {
                curl.push(line.trim().to_string());
            }
            if let Some(rest) = line.strip_prefix("Development mode: Key Vault emulator at ") {
                vaults.extend(rest.split(' ').next().map(str::to_string));
            }
            if let Some(u) = line.strip_prefix("listening ") {
                url = Some(u.trim().to_string());
            } else if let Some(m) = line.strip_prefix("metrics ") {
                metrics = Some(m.trim().trim_end_matches("/metrics").to_string());
            } else if let Some(k) = line.trim().strip_prefix("demo key demo-tz2: ") {
                tz2 = Some(k.trim().to_string());
            } else if let Some(k) = line.trim().strip_prefix("demo key demo-tz3: ") {
                tz3 = Some(k.trim().to_string());
            }
        }
        // The banner's curl lines follow the key lines: collect them too.
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            if line.trim_start().starts_with("curl ") {
                curl.push(line.trim().to_string());
            }
            if line.starts_with("Point a baker at it") {
                break;
            }
        }
        Serving {
            curl,
            vaults,
            child,
            url: url.expect("checked"),
            metrics: metrics.expect("checked"),
            tz2: tz2.expect("checked"),
            tz3: tz3.expect("checked"),
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then the exit status (within `limit`).
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        self.signal("-TERM", limit)
    }

    /// Sends `signal` (e.g. `-INT`) with kill(1), then the exit status (within `limit`).
    pub fn signal(&mut self, signal: &str, limit: Duration) -> ExitStatus {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("server did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A consensus operation: 0x12 preattestation (tag 0x14) or 0x13 attestation (tag 0x15).
pub fn consensus(magic: u8, level: i32, round: i32, payload: u8) -> String {
    let tag = if magic == 0x12 { 0x14 } else { 0x15 };
    let mut b = vec![magic];
    b.extend_from_slice(&CHAIN);
    b.extend_from_slice(&[0x11; 32]); // branch
    b.push(tag);
    b.extend_from_slice(&0u16.to_be_bytes()); // slot
    b.extend_from_slice(&level.to_be_bytes());
    b.extend_from_slice(&round.to_be_bytes());
    b.extend_from_slice(&[payload; 32]);
    hex::encode(b)
}

pub fn attestation(level: i32, round: i32, payload: u8) -> String {
    consensus(0x13, level, round, payload)
}

pub fn preattestation(level: i32, round: i32, payload: u8) -> String {
    consensus(0x12, level, round, payload)
}

/// The vector block moved to `level` (header and fitness) with `round`, `payload` varying
/// the payload hash.
pub fn block(level: i32, round: i32, payload: u8) -> String {
    tezos_azure_signer::testing::requests::block(CHAIN, level, round, payload)
}

/// POST a sign request; `None` when the server could not be reached or did not answer.
pub async fn try_sign(
    client: &reqwest::Client,
    url: &str,
    pkh: &str,
    hex: &str,
) -> Option<(u16, serde_json::Value)> {
    let res = client
        .post(format!("{url}/keys/{pkh}"))
        .json(&hex)
        .send()
        .await
        .ok()?;
    let status = res.status().as_u16();
    let body = res.json().await.ok()?;
    Some((status, body))
}

/// POST a sign request; returns (status, body).
pub async fn sign(
    client: &reqwest::Client,
    url: &str,
    pkh: &str,
    hex: &str,
) -> (u16, serde_json::Value) {
    let res = client
        .post(format!("{url}/keys/{pkh}"))
        .json(&hex)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .no_proxy()
        .build()
        .expect("client")
}

/// The metrics listener's exposition text.
pub async fn metrics_text(client: &reqwest::Client, metrics: &str) -> String {
    client
        .get(format!("{metrics}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text")
}

/// Imports the test vectors' tz2 key as `name` (software) into the vault that `env` (an
/// emulator's `--print-env` lines) points at, with the real binary's `import`.
pub fn import_test_key(env: &[(String, String)], dir: &Path, name: &str) {
    let key = dir.join(format!("{name}.sk"));
    std::fs::write(&key, tezos_azure_signer::testing::TZ2_SECRET).expect("write key");
    let out = Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["import", "--name", name, "--software", "--key"])
        .arg(&key)
        .output()
        .expect("run import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&key).expect("remove key");
}

/// `pkh`'s public key as the signer at `url` serves it.
pub async fn public_key(client: &reqwest::Client, url: &str, pkh: &str) -> PublicKey {
    let body: serde_json::Value = client
        .get(format!("{url}/keys/{pkh}"))
        .send()
        .await
        .expect("get key")
        .json()
        .await
        .expect("json");
    body["public_key"]
        .as_str()
        .expect("public_key")
        .parse()
        .expect("public key")
}

/// Checks that `body` (a 200 answer) holds a valid signature of `hex` by `key`.
pub fn assert_valid(key: &PublicKey, hex: &str, body: &serde_json::Value) -> Signature {
    let sig: Signature = body["signature"]
        .as_str()
        .unwrap_or_else(|| panic!("no signature in {body}"))
        .parse()
        .expect("signature");
    let data = hex::decode(hex).expect("hex");
    key.verify_digest(&blake2b_256(&data), &sig)
        .unwrap_or_else(|e| panic!("invalid signature over {hex}: {e}"));
    sig
}
