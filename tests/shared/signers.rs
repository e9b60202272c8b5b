//! Two (or more) real `serve` processes with `--shared-watermarks` on one Azurite container,
//! signing with one key of one Key Vault emulator (the real binary's `emulator`, reached by the
//! real Azure SDK over TLS).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tezos_azure_signer::tezos::PublicKey;

use crate::running_binary::RunningBinary;
pub use crate::serve_common::assert_valid;
use crate::serve_common::import_test_key;

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");
pub use tezos_azure_signer::testing::TZ2 as KEY;

/// A Key Vault emulator holding the test vectors' tz2 key.
pub fn vault(dir: &Path) -> RunningBinary {
    vault_with(dir, &[])
}

/// A Key Vault emulator holding the test vectors' tz2 key, with more `emulator` flags (e.g.
/// `--latency-ms 10`).
pub fn vault_with(dir: &Path, extra: &[&str]) -> RunningBinary {
    let mut args = vec!["--ephemeral"];
    args.extend_from_slice(extra);
    let emu = RunningBinary::start(&args);
    import_test_key(&emu.env, dir, "baker");
    emu
}

/// One `serve` with shared watermarks.
pub struct SharedSigner {
    child: Option<Child>,
    pub url: String,
    pub metrics: String,
    data_dir: PathBuf,
    shared: String,
    vault_env: Vec<(String, String)>,
    /// More `serve` arguments (a policy file, magic bytes).
    extra: Vec<String>,
    /// stderr (the log), kept for assertions.
    pub log: PathBuf,
}

impl SharedSigner {
    pub fn start(vault: &RunningBinary, data_dir: &Path, shared: &str) -> SharedSigner {
        SharedSigner::start_with(vault, data_dir, shared, &[])
    }

    /// [`SharedSigner::start`] with more `serve` arguments.
    pub fn start_with(
        vault: &RunningBinary,
        data_dir: &Path,
        shared: &str,
        extra: &[&str],
    ) -> SharedSigner {
        let mut signer = SharedSigner {
            child: None,
            url: String::new(),
            metrics: String::new(),
            data_dir: data_dir.to_path_buf(),
            shared: shared.to_string(),
            vault_env: vault.env.clone(),
            extra: extra.iter().map(ToString::to_string).collect(),
            log: data_dir.with_extension("log"),
        };
        signer.spawn().unwrap_or_else(|e| panic!("{e}"));
        signer
    }

    /// Starts the process; `Err` with its log when it exits before listening.
    fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut child = Command::new(BIN)
            .envs(self.vault_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "warn")
            .args(["serve", "--port", "0", "--metrics-address", "127.0.0.1:0"])
            .args(["--sign-deadline", "1s", "--request-timeout", "2s"])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--shared-watermarks")
            .arg(&self.shared)
            .args(&self.extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut url, mut metrics) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(30);
        while url.is_none() || metrics.is_none() {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(u) = line.strip_prefix("listening ") {
                        url = Some(u.trim().to_string());
                    } else if let Some(m) = line.strip_prefix("metrics ") {
                        metrics = Some(m.trim().trim_end_matches("/metrics").to_string());
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "serve did not start: {}",
                        std::fs::read_to_string(&self.log).unwrap_or_default()
                    ));
                }
            }
        }
        self.url = url.expect("checked");
        self.metrics = metrics.expect("checked");
        self.child = Some(child);
        Ok(())
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL and start again on the same data directory (new ports).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn().unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for SharedSigner {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The key's public key, from a signer.
pub async fn public_key(client: &reqwest::Client, url: &str) -> PublicKey {
    crate::serve_common::public_key(client, url, KEY).await
}
