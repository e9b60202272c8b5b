//! The whole request, end to end: the real `serve` binary as a process, its vault the bundled
//! emulator as another process (the real Azure SDK over TLS in between), a loopback HTTP
//! client in this one. The emulator runs apart so that the bare call waits for another
//! process, as the signer's call does (in-process, the emulator's timer would wake the waiting
//! client on its own thread: a cheaper path than any real vault call).
//! Run with `scripts/bench.sh e2e`; prints Markdown tables.
//!
//! - Latency: `POST /keys/<pkh>` against the bare vault sign call (the same SDK call the
//!   signer makes, from this process), alternating one of each so both see the same machine
//!   state; p50/p99 at vault latency 0 and 20 ms, data directory on disk and on tmpfs. With
//!   nginx on PATH (`scripts/bench.sh e2e` installs Debian's), a third call alternates with
//!   them: the same bare SDK call through nginx as a do-nothing TLS reverse proxy (keep-alive
//!   both sides), the floor of any process between a baker and the vault on this machine.
//! - Throughput at concurrency 1, 8, 64 over 1 and 64 keys (0 ms), with serve's CPU time per
//!   signature (from /proc), next to the bare vault's throughput at the same concurrency;
//!   vault requests and token fetches per signature (emulator counters); serve's threads and
//!   peak RSS.
//! - Shared watermarks (Azurite, if `npm ci` was run in tests/clients/azurite): p50 with the
//!   vault at 20 ms against a local-only signer in the same run.
//! - Blocks, recorded before release, against attestations and the bare vault call, at 20 ms,
//!   local and (with Azurite) shared.
//!
//! - Cold start with 100 keys (4 pages of the vault's listing) at 0 and 20 ms: time to
//!   `listening` and to the first answered GET.
//! - Soak: serve's threads and RSS after 10,000 and 100,000 signatures at concurrency 64.
//!
//! `E2E_SAMPLES` (default 500) latency samples per row, `E2E_SIGNATURES` (default 3000) per
//! throughput row, `E2E_ONLY=latency,throughput,shared,blocks,coldstart,soak` to run some sections. Nothing leaves
//! loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use keyvault_emulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_TENANT_ID};
use tezos_azure_signer::testing::requests::block;
use tezos_azure_signer::tezos::{Curve, SecretKey, blake2b_256};
use tezos_azure_signer::vault::credentials::{AuthMode, CredentialEnv};
use tezos_azure_signer::vault::{ImportOptions, Vault, VaultKey, VaultSettings};

// Azurite only through `azurite::Azurite::start`: 127.0.0.1 and `--disableTelemetry`, nothing
// leaves loopback.
#[path = "../tests/shared/azurite.rs"]
#[allow(dead_code)]
mod azurite;
#[path = "../tests/support/skip.rs"]
mod skip;

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A consensus attestation (0x13) on `chain` at (level, round).
fn attestation(chain: [u8; 4], level: i32, round: i32) -> String {
    let mut b = vec![0x13];
    b.extend_from_slice(&chain);
    b.extend_from_slice(&[0x11; 32]);
    b.push(0x15);
    b.extend_from_slice(&0u16.to_be_bytes());
    b.extend_from_slice(&level.to_be_bytes());
    b.extend_from_slice(&round.to_be_bytes());
    b.extend_from_slice(&[0x22; 32]);
    hex::encode(b)
}

/// One `serve` process.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(emulator: &EmulatorProc, data_dir: &Path, extra: &[&str]) -> Serve {
        let mut child = Command::new(BIN)
            .envs(emulator.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(
                "RUST_LOG",
                std::env::var("E2E_SERVE_LOG").unwrap_or_else(|_| "error".into()),
            )
            .args(["serve", "--port", "0", "--metrics-address", "off"])
            .args(["--max-chains-per-key", "64", "--max-queue-per-key", "128"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let url = loop {
            let line = lines.next().expect("serve announces itself").expect("line");
            if let Some(u) = line.strip_prefix("listening ") {
                break u.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Serve { child, url }
    }

    /// user + system CPU time so far.
    fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).expect("/proc stat");
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .expect("comm")
            .1
            .split_whitespace()
            .collect();
        // utime and stime are fields 14 and 15 (1-based), in clock ticks (USER_HZ = 100).
        let ticks: u64 =
            fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        Duration::from_millis(ticks * 10)
    }

    /// (threads, peak RSS in MiB).
    fn threads_and_peak_rss(&self) -> (u64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("Threads:"), field("VmHWM:") as f64 / 1024.0)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `emulator` subcommand as a process, with its control endpoints.
struct EmulatorProc {
    child: Child,
    env: Vec<(String, String)>,
    url: String,
    control: reqwest::Client,
}

impl EmulatorProc {
    fn start() -> EmulatorProc {
        let mut child = Command::new(BIN)
            .args(["emulator", "--ephemeral", "--print-env"])
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the emulator starts");
        let mut env = Vec::new();
        for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
            let line = line.expect("line");
            let (k, v) = line
                .strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .expect("an export line");
            env.push((k.to_string(), v.trim_matches('\'').to_string()));
        }
        let var = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .expect("printed")
        };
        let ca = std::fs::read(var("SSL_CERT_FILE")).expect("the emulator's CA");
        let control = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).expect("CA"))
            .build()
            .expect("client");
        let url = var("AZURE_KEYVAULT_URI");
        EmulatorProc {
            child,
            env,
            url,
            control,
        }
    }

    fn var(&self, name: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .expect("printed")
    }

    async fn set_latency(&self, ms: u64) {
        let res = self
            .control
            .put(format!("{}/_emulator/faults", self.url))
            .json(&serde_json::json!({ "latency_ms": ms }))
            .send()
            .await
            .expect("faults");
        assert!(res.status().is_success(), "{}", res.status());
    }

    /// (sign requests, managed-identity token fetches) so far.
    async fn counters(&self) -> (u64, u64) {
        let stats: serde_json::Value = self
            .control
            .get(format!("{}/_emulator/stats", self.url))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("json");
        let n = |k: &str| {
            stats[k]
                .as_u64()
                .unwrap_or_else(|| panic!("{k} in {stats}"))
        };
        (n("sign"), n("tokens_managed_identity"))
    }
}

impl Drop for EmulatorProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx as a do-nothing TLS reverse proxy in front of the emulator: a child process in the
/// foreground (`daemon off`, `master_process off`: one process, no workers) with its config,
/// pid, logs and temp files in its own directory, listening on 127.0.0.1 with the emulator's
/// own leaf certificate (valid for 127.0.0.1, signed by the CA the SDK client already
/// trusts), keep-alive to the client and to the emulator.
struct Nginx {
    child: Child,
    /// `https://127.0.0.1:PORT`.
    url: String,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// The nginx binary on PATH (or Debian's /usr/sbin, often not on a user's PATH).
    fn binary() -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join("nginx"))
            .find(|bin| bin.is_file())
    }

    /// Starts nginx in front of `emulator`; Err says why it cannot (the caller skips the row).
    fn start(bin: &Path, emulator: &EmulatorProc) -> Result<Nginx, String> {
        let upstream = emulator
            .url
            .rsplit_once(':')
            .and_then(|(_, port)| port.trim_end_matches('/').parse::<u16>().ok())
            .ok_or_else(|| format!("no port in the emulator URL {}", emulator.url))?;
        // The leaf certificate and key the emulator writes next to its CA (emulator/src/tls.rs).
        let state = PathBuf::from(emulator.var("SSL_CERT_FILE"));
        let state = state.parent().ok_or("the CA file has no directory")?;
        let (cert, key) = (state.join("leaf.pem"), state.join("leaf-key.pem"));
        if !cert.is_file() || !key.is_file() {
            return Err(format!(
                "no leaf certificate and key in {}",
                state.display()
            ));
        }
        // A free port: bound and released (nothing else on this machine races for it).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let dir = tempfile::tempdir().map_err(|e| format!("no temp dir: {e}"))?;
        let d = dir.path().display();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    upstream vault {{
        server 127.0.0.1:{upstream};
        keepalive 16;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass https://vault;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # The emulator names keys (`kid`) after the Host it was asked at: the client's.
            proxy_set_header Host $http_host;
            proxy_ssl_session_reuse on;
        }}
    }}
}}
"#,
            cert = cert.display(),
            key = key.display(),
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("cannot write the config: {e}"))?;
        let mut child = Command::new(bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(conf_path)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let log = |dir: &Path| std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("nginx exited ({status}): {}", log(dir.path())));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("nginx did not listen: {}", log(dir.path())));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Nginx {
            child,
            url: format!("https://127.0.0.1:{port}"),
            dir,
        })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let errors = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        if !errors.trim().is_empty() {
            eprintln!("nginx's error log:\n{errors}");
        }
    }
}

/// An SDK vault client of this process (client-credentials token from the emulator) talking
/// to the vault at `url`: the emulator itself, or a proxy in front of it.
fn client_vault(emulator: &EmulatorProc, url: &str) -> Arc<dyn Vault> {
    let env = CredentialEnv::new(
        [
            ("AZURE_AUTHORITY_HOST".to_string(), emulator.url.clone()),
            ("AZURE_TENANT_ID".to_string(), DEFAULT_TENANT_ID.to_string()),
            ("AZURE_CLIENT_ID".to_string(), DEFAULT_CLIENT_ID.to_string()),
            (
                "AZURE_CLIENT_SECRET".to_string(),
                DEFAULT_CLIENT_SECRET.to_string(),
            ),
        ],
        Path::new("/nonexistent/e2e"),
    );
    let settings = VaultSettings {
        urls: vec![url.parse().expect("url")],
        auth: AuthMode::ClientSecret,
        sign_deadline: Duration::from_secs(3),
        read_deadline: Duration::from_secs(30),
        extra_ca: Some(emulator.var("SSL_CERT_FILE").into()),
        hedge: Default::default(),
    };
    let (vault, _) = tezos_azure_signer::vault::open_with_env(&settings, &env).expect("vault");
    vault
}

struct Bench {
    emulator: EmulatorProc,
    vault: Arc<dyn Vault>,
    http: reqwest::Client,
    tz2: Vec<VaultKey>,
    tz3: VaultKey,
    level: AtomicUsize,
}

impl Bench {
    async fn bare(&self, key: &VaultKey) -> Duration {
        self.bare_on(&self.vault, key).await
    }

    /// One SDK sign call of this process through `vault` (the emulator, or a proxy of it).
    async fn bare_on(&self, vault: &Arc<dyn Vault>, key: &VaultKey) -> Duration {
        let digest = blake2b_256(&self.level.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        let started = Instant::now();
        vault
            .sign_digest(key, &digest)
            .await
            .expect("the vault signs");
        started.elapsed()
    }

    async fn signed(&self, url: &str, key: &VaultKey, chain: [u8; 4], level: i32) -> Duration {
        self.request(url, key, attestation(chain, level, 0)).await
    }

    /// One sign request of `body` (hex) through `serve`: its wall time.
    async fn request(&self, url: &str, key: &VaultKey, body: String) -> Duration {
        let started = Instant::now();
        let res = self
            .http
            .post(format!("{url}/keys/{}", key.pkh()))
            .json(&body)
            .send()
            .await
            .expect("serve answers");
        let status = res.status();
        let text = res.text().await.expect("body");
        assert!(status.is_success(), "{status}: {text}");
        started.elapsed()
    }
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes --bench; nothing else to parse.
    let samples = env_usize("E2E_SAMPLES", 500);
    let signatures = env_usize("E2E_SIGNATURES", 3000);
    let emulator = EmulatorProc::start();
    // This process signs as a client-credentials app (the serve processes use the managed
    // identity): both token endpoints are the emulator's.
    let vault = client_vault(&emulator, &emulator.url);
    let mut tz2 = Vec::new();
    for i in 0..64u8 {
        let secret = SecretKey::from_scalar(Curve::Secp256k1, &[i + 1; 32]).expect("scalar");
        tz2.push(
            vault
                .import_key(
                    &format!("bench-tz2-{i}"),
                    &secret,
                    ImportOptions { software: true },
                )
                .await
                .expect("import"),
        );
    }
    let secret = SecretKey::from_scalar(Curve::P256, &[7; 32]).expect("scalar");
    let tz3 = vault
        .import_key("bench-tz3", &secret, ImportOptions { software: true })
        .await
        .expect("import");
    let bench = Bench {
        emulator,
        vault,
        http: reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(256)
            .build()
            .expect("client"),
        tz2,
        tz3,
        level: AtomicUsize::new(0),
    };

    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let disk = tempfile::tempdir_in(&target).expect("a data dir on disk");
    let shm = tempfile::tempdir_in("/dev/shm").expect("a data dir on tmpfs");
    println!(
        "# e2e, {} cores, {samples} latency samples and {signatures} signatures per row",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // E2E_ONLY=latency,throughput,shared,blocks picks sections (all by default).
    let only = std::env::var("E2E_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|s| s == name);
    if wanted("latency") {
        latency(&bench, disk.path(), shm.path(), samples).await;
    }
    if wanted("throughput") {
        throughput(&bench, &target, signatures).await;
    }
    if wanted("shared") {
        shared(&bench, &target, samples).await;
    }
    if wanted("blocks") {
        blocks(&bench, &target, samples).await;
    }
    if wanted("coldstart") {
        cold_start(&bench, &target).await;
    }
    if wanted("soak") {
        soak(&bench, &target).await;
    }
}

/// Alternating bare vault calls, the same calls through nginx (when it is installed) and
/// signatures through `serve`.
async fn latency(bench: &Bench, disk: &Path, shm: &Path, samples: usize) {
    // The do-nothing proxy: nginx in front of the emulator, and an SDK client pointed at it.
    let nginx = match Nginx::binary() {
        None => {
            skip::skipped(
                "e2e nginx hop row",
                "nginx is not installed (not on PATH, not in /usr/sbin)",
                "scripts/bench.sh e2e installs it: apt-get install nginx-light",
            );
            None
        }
        Some(bin) => match Nginx::start(&bin, &bench.emulator) {
            Ok(nginx) => Some(nginx),
            Err(why) => {
                skip::skipped(
                    "e2e nginx hop row",
                    &format!("nginx did not start: {why}"),
                    "see the message",
                );
                None
            }
        },
    };
    let hop = nginx
        .as_ref()
        .map(|n| (n, client_vault(&bench.emulator, &n.url)));
    if let Some((_, vault)) = &hop {
        // Its token, its connection to nginx and nginx's to the emulator, before any sample.
        for key in [&bench.tz2[0], &bench.tz3] {
            bench.bare_on(vault, key).await;
        }
    }
    println!("\n## Latency: POST /keys/<pkh> vs the bare vault sign call, alternating\n");
    println!(
        "| vault latency | data dir | key | bare p50 | bare p99 | signer p50 | signer p99 | p50 × | p99 × | overhead p50 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let on_disk = Serve::start(&bench.emulator, disk, &[]);
    let on_tmpfs = Serve::start(&bench.emulator, shm, &[]);
    let mut hop_rows = Vec::new();
    let mut level = 1;
    for latency_ms in [0u64, 20] {
        bench.emulator.set_latency(latency_ms).await;
        for (place, serve) in [("disk", &on_disk), ("tmpfs", &on_tmpfs)] {
            for (name, key) in [("tz2", &bench.tz2[0]), ("tz3", &bench.tz3)] {
                let (mut bare, mut hopped, mut signed) = (Vec::new(), Vec::new(), Vec::new());
                let before = bench.emulator.counters().await;
                for i in 0..samples + 20 {
                    let b = bench.bare(key).await;
                    let h = match &hop {
                        Some((_, vault)) => Some(bench.bare_on(vault, key).await),
                        None => None,
                    };
                    let s = bench.signed(&serve.url, key, [1, 2, 3, 4], level).await;
                    level += 1;
                    if i >= 20 {
                        bare.push(b);
                        hopped.extend(h);
                        signed.push(s);
                    }
                }
                let after = bench.emulator.counters().await;
                let (b50, b99) = (percentile(&mut bare, 0.5), percentile(&mut bare, 0.99));
                let (s50, s99) = (percentile(&mut signed, 0.5), percentile(&mut signed, 0.99));
                println!(
                    "| {latency_ms} ms | {place} | {name} | {} | {} | {} | {} | {:.3} | {:.3} | {} |",
                    ms(b50),
                    ms(b99),
                    ms(s50),
                    ms(s99),
                    s50.as_secs_f64() / b50.as_secs_f64(),
                    s99.as_secs_f64() / b99.as_secs_f64(),
                    us(s50.saturating_sub(b50)),
                );
                if !hopped.is_empty() {
                    let (h50, h99) = (percentile(&mut hopped, 0.5), percentile(&mut hopped, 0.99));
                    let (hop_over, serve_over) = (
                        h50.as_secs_f64() - b50.as_secs_f64(),
                        s50.as_secs_f64() - b50.as_secs_f64(),
                    );
                    hop_rows.push(format!(
                        "| {latency_ms} ms | {place} | {name} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.3} |",
                        ms(b50),
                        ms(b99),
                        ms(h50),
                        ms(h99),
                        signed_us(hop_over),
                        ms(s50),
                        ms(s99),
                        signed_us(serve_over),
                        serve_over / hop_over,
                        s99.as_secs_f64() / b99.as_secs_f64(),
                    ));
                }
                // Each round is one bare sign (two with the hop) and one signer sign: the
                // signer's own vault use.
                let n = (samples + 20) as f64;
                let bare_calls = if hop.is_some() { 2.0 } else { 1.0 };
                let vault_per_signature = (after.0 - before.0) as f64 / n - bare_calls;
                let tokens = after.1 - before.1;
                assert!(
                    (vault_per_signature - 1.0).abs() < 0.01 && tokens == 0,
                    "vault sign requests per signature {vault_per_signature:.3}, token fetches {tokens}"
                );
            }
        }
    }
    println!(
        "\nVault sign requests per signature through serve: 1.00; token fetches while signing: 0 (emulator counters, every row)."
    );
    if let Some((nginx, _)) = &hop {
        println!(
            "\n## Serve against a do-nothing proxy: the bare call through nginx, same rounds (bare, hop, serve)\n"
        );
        println!(
            "| vault latency | data dir | key | bare p50 | bare p99 | hop p50 | hop p99 | hop overhead p50 | serve p50 | serve p99 | serve overhead p50 | serve ÷ hop overhead (goal ≤ 1.5) | serve p99 ÷ bare p99 (goal ≤ 1.03) |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for row in &hop_rows {
            println!("{row}");
        }
        println!(
            "\nnginx: {}, one process, TLS with the emulator's leaf certificate, keep-alive both sides.",
            nginx.url
        );
    }
}

/// Microseconds of a difference that may be negative.
fn signed_us(seconds: f64) -> String {
    format!("{:.0} µs", seconds * 1e6)
}

/// Signatures per second and serve's CPU per signature, by keys and concurrency (0 ms).
async fn throughput(bench: &Bench, target: &Path, signatures: usize) {
    bench.emulator.set_latency(0).await;
    println!("\n## Throughput at vault latency 0 ms, data dir on disk\n");
    println!(
        "| keys | concurrency | bare vault sig/s | signer sig/s | serve CPU / signature | serve threads | serve peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|");
    for keys in [1usize, 64] {
        for concurrency in [1usize, 8, 64] {
            let dir = tempfile::tempdir_in(target).expect("data dir");
            let serve = Serve::start(&bench.emulator, dir.path(), &[]);
            let url = serve.url.as_str();
            // Warm-up: every key's first signature (connections, the first mark of each slot).
            for key in &bench.tz2[..keys] {
                bench.signed(url, key, [0, 0, 0, 0], 1).await;
            }
            let bare = run_concurrently(concurrency, signatures, |_, _| async {
                bench.bare(&bench.tz2[0]).await;
            })
            .await;
            let cpu_before = serve.cpu();
            // Worker w signs on its own (key, chain) slot at increasing levels: never refused.
            let signed = run_concurrently(concurrency, signatures, |worker, i| async move {
                let key = &bench.tz2[worker % keys];
                let chain = [0, 0, 0, (worker / keys) as u8];
                bench.signed(url, key, chain, 2 + i as i32).await;
            })
            .await;
            let cpu = serve.cpu().saturating_sub(cpu_before);
            let (threads, rss) = serve.threads_and_peak_rss();
            println!(
                "| {keys} | {concurrency} | {:.0} | {:.0} | {} | {threads} | {rss:.1} MiB |",
                signatures as f64 / bare.as_secs_f64(),
                signatures as f64 / signed.as_secs_f64(),
                us(cpu / signatures as u32),
            );
        }
    }
}

/// Runs `total` calls of `call(worker, nth call of that worker)` on `workers` tasks; the
/// wall time.
async fn run_concurrently<'a, F, Fut>(workers: usize, total: usize, call: F) -> Duration
where
    F: Fn(usize, usize) -> Fut + Sync + 'a,
    Fut: std::future::Future<Output = ()> + 'a,
{
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    let tasks = (0..workers).map(|w| {
        let (next, call) = (&next, &call);
        async move {
            let mut mine = 0;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                call(w, mine).await;
                mine += 1;
            }
        }
    });
    futures::future::join_all(tasks).await;
    started.elapsed()
}

/// The shared store against local-only, alternating, vault at 20 ms.
async fn shared(bench: &Bench, target: &Path, samples: usize) {
    let Some(bin) = azurite::launcher() else {
        println!("\n(shared watermarks: skipped, run `npm ci` in tests/clients/azurite)");
        return;
    };
    let azurite = azurite::Azurite::start(bin, None);
    azurite.create_container("marks").await;
    bench.emulator.set_latency(20).await;
    let (a, b) = (
        tempfile::tempdir_in(target).expect("dir"),
        tempfile::tempdir_in(target).expect("dir"),
    );
    let url = azurite.url("marks", "bench");
    let local = Serve::start(&bench.emulator, a.path(), &[]);
    let shared = Serve::start(&bench.emulator, b.path(), &["--shared-watermarks", &url]);
    let (mut l, mut s) = (Vec::new(), Vec::new());
    for i in 0..samples + 20 {
        let level = 1 + i as i32;
        let tl = bench
            .signed(&local.url, &bench.tz2[1], [5, 5, 5, 5], level)
            .await;
        let ts = bench
            .signed(&shared.url, &bench.tz2[2], [5, 5, 5, 5], level)
            .await;
        if i >= 20 {
            l.push(tl);
            s.push(ts);
        }
    }
    let (l50, l99) = (percentile(&mut l, 0.5), percentile(&mut l, 0.99));
    let (s50, s99) = (percentile(&mut s, 0.5), percentile(&mut s, 0.99));
    println!("\n## Shared watermarks (Azurite on loopback), vault latency 20 ms, alternating\n");
    println!("| signer | p50 | p99 | p50 × local | p99 × local |");
    println!("|---|---|---|---|---|");
    println!(
        "| local files only | {} | {} | 1.000 | 1.000 |",
        ms(l50),
        ms(l99)
    );
    println!(
        "| `--shared-watermarks` | {} | {} | {:.3} | {:.3} |",
        ms(s50),
        ms(s99),
        s50.as_secs_f64() / l50.as_secs_f64(),
        s99.as_secs_f64() / l99.as_secs_f64()
    );
}

/// Blocks, whose signature is recorded before release (one more journal write, and with
/// `--shared-watermarks` one conditional blob write, after the vault call), against
/// attestations (recorded after the reply) and the bare vault call, alternating, vault at
/// 20 ms, data dir on disk.
async fn blocks(bench: &Bench, target: &Path, samples: usize) {
    bench.emulator.set_latency(20).await;
    println!(
        "
## Blocks (recorded before release) vs attestations, vault latency 20 ms, alternating
"
    );
    println!("| store | kind | p50 | p99 | p50 × bare | p99 × bare | p50 × attestation |");
    println!("|---|---|---|---|---|---|---|");
    let azurite = azurite::launcher().map(|bin| azurite::Azurite::start(bin, None));
    if let Some(azurite) = &azurite {
        azurite.create_container("blocks").await;
    }
    let mut stores = vec![("local", Vec::new())];
    match &azurite {
        Some(azurite) => stores.push(("shared", vec![azurite.url("blocks", "bench")])),
        None => println!("(shared row skipped: run `npm ci` in tests/clients/azurite)"),
    }
    for (store, url) in stores {
        let dir = tempfile::tempdir_in(target).expect("dir");
        let extra: Vec<&str> = match url.first() {
            Some(url) => vec!["--shared-watermarks", url],
            None => vec![],
        };
        let serve = Serve::start(&bench.emulator, dir.path(), &extra);
        let key = &bench.tz2[3];
        let (mut bare, mut att, mut blk) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..samples + 20 {
            let level = 1 + i as i32;
            let b = bench.bare(key).await;
            let a = bench.signed(&serve.url, key, [9, 9, 9, 9], level).await;
            let k = bench
                .request(&serve.url, key, block([9, 9, 9, 9], level, 0, 1))
                .await;
            if i >= 20 {
                bare.push(b);
                att.push(a);
                blk.push(k);
            }
        }
        let (b50, b99) = (percentile(&mut bare, 0.5), percentile(&mut bare, 0.99));
        let (a50, a99) = (percentile(&mut att, 0.5), percentile(&mut att, 0.99));
        let (k50, k99) = (percentile(&mut blk, 0.5), percentile(&mut blk, 0.99));
        for (kind, p50, p99) in [("attestation", a50, a99), ("block", k50, k99)] {
            println!(
                "| {store} | {kind} | {} | {} | {:.3} | {:.3} | {:.3} |",
                ms(p50),
                ms(p99),
                p50.as_secs_f64() / b50.as_secs_f64(),
                p99.as_secs_f64() / b99.as_secs_f64(),
                p50.as_secs_f64() / a50.as_secs_f64(),
            );
        }
    }
}

/// Time to `listening` and to the first answered GET with 100 keys in the vault.
async fn cold_start(bench: &Bench, target: &Path) {
    for i in 0..35u8 {
        let secret = SecretKey::from_scalar(Curve::P256, &[i + 100; 32]).expect("scalar");
        bench
            .vault
            .import_key(
                &format!("bench-extra-{i}"),
                &secret,
                ImportOptions { software: true },
            )
            .await
            .expect("import");
    }
    println!("\n## Cold start with 100 keys (4 pages of 25)\n");
    println!("| vault latency | to `listening` | to the first answered GET |");
    println!("|---|---|---|");
    for latency_ms in [0u64, 20] {
        bench.emulator.set_latency(latency_ms).await;
        let dir = tempfile::tempdir_in(target).expect("dir");
        let started = Instant::now();
        let serve = Serve::start(&bench.emulator, dir.path(), &[]);
        let listening = started.elapsed();
        let url = format!("{}/keys/{}", serve.url, bench.tz2[0].pkh());
        loop {
            let res = bench.http.get(&url).send().await.expect("GET");
            if res.status().is_success() {
                break;
            }
        }
        let answered = started.elapsed();
        println!("| {latency_ms} ms | {} | {} |", ms(listening), ms(answered));
    }
    bench.emulator.set_latency(0).await;
}

/// Threads and memory after long runs: nothing may grow with the number of signatures.
async fn soak(bench: &Bench, target: &Path) {
    bench.emulator.set_latency(0).await;
    println!("\n## Soak: 64 keys at concurrency 64, vault latency 0 ms\n");
    println!("| signatures | serve threads | serve RSS | serve peak RSS |");
    println!("|---|---|---|---|");
    let dir = tempfile::tempdir_in(target).expect("dir");
    let serve = Serve::start(&bench.emulator, dir.path(), &[]);
    let url = serve.url.as_str();
    let mut done = 0usize;
    // E2E_SOAK: the signature counts to report at (default 10,000 and 100,000).
    let checkpoints: Vec<usize> = std::env::var("E2E_SOAK")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    for (phase, checkpoint) in checkpoints.into_iter().enumerate() {
        // Each phase on its own chain: every worker's levels start afresh.
        let chain = [7, 7, 7, phase as u8];
        run_concurrently(64, checkpoint - done, |worker, i| async move {
            let key = &bench.tz2[worker % 64];
            bench.signed(url, key, chain, 1 + i as i32).await;
        })
        .await;
        done = checkpoint;
        let (threads, peak) = serve.threads_and_peak_rss();
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", serve.child.id())).expect("status");
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0;
        println!("| {done} | {threads} | {rss:.1} MiB | {peak:.1} MiB |");
    }
}
