//! Azurite, Microsoft's Azure Storage emulator (pinned in tests/clients/azurite, installed by
//! .ci/run), as a child process on a free loopback port.
//!
//! Always started with `--disableTelemetry` (nothing leaves loopback) and
//! `--skipApiVersionCheck` (the Rust SDK sends a newer API version than Azurite 3.35 knows).
//! Requests are authenticated with an account SAS signed with Azurite's well-known
//! development key, over plain HTTP: the SDK refuses to send a bearer token over HTTP, a SAS
//! token is what works there, and it is what an operator who prefers a container-scoped SAS
//! to a role assignment passes too.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

/// Azurite's development account and key (public, documented by Microsoft).
pub const ACCOUNT: &str = "devstoreaccount1";
const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The azurite-blob launcher, or `None` (with a loud note) when `npm ci` was not run outside
/// CI. In CI its absence fails the test.
pub fn launcher() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients/azurite/node_modules/.bin/azurite-blob");
    if bin.exists() {
        return Some(bin);
    }
    crate::skip::skipped(
        "shared-watermark suite (tests/shared)",
        "Azurite's npm package is not installed",
        "scripts/test.sh installs it when npm is there; or `npm ci` in tests/clients/azurite",
    );
    None
}

/// A running Azurite blob service.
pub struct Azurite {
    bin: PathBuf,
    child: Option<Child>,
    pub port: u16,
    /// Where it keeps its data; `None`: in memory (a restart comes back empty).
    location: Option<PathBuf>,
}

impl Azurite {
    /// Starts Azurite on a free port, in memory (`location: None`) or persisting to a folder.
    pub fn start(bin: PathBuf, location: Option<&Path>) -> Azurite {
        let port = free_port();
        let mut azurite = Azurite {
            bin,
            child: None,
            port,
            location: location.map(Path::to_path_buf),
        };
        azurite.spawn();
        azurite
    }

    fn spawn(&mut self) {
        let child = launch_command(&self.bin, self.port, self.location.as_deref())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "azurite did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL (its in-memory data, if any, is gone).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (e.g. `-STOP`, `-CONT`) to the running Azurite.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let ok = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} {pid}");
    }

    /// Starts it again on the same port (and folder).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1/CONTAINER[/PREFIX]?SAS`.
    pub fn url(&self, container: &str, prefix: &str) -> String {
        let path = if prefix.is_empty() {
            container.to_string()
        } else {
            format!("{container}/{prefix}")
        };
        format!(
            "http://127.0.0.1:{}/{ACCOUNT}/{path}?{}",
            self.port,
            account_sas()
        )
    }

    /// Creates `container` (PUT ?restype=container).
    pub async fn create_container(&self, container: &str) {
        let url = format!(
            "http://127.0.0.1:{}/{ACCOUNT}/{container}?restype=container&{}",
            self.port,
            account_sas()
        );
        let res = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .put(url)
            .header("x-ms-version", "2021-12-02")
            .header("content-length", "0")
            .send()
            .await
            .expect("create container");
        assert!(
            res.status().as_u16() == 201 || res.status().as_u16() == 409,
            "create container: {}",
            res.status()
        );
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The one way Azurite is started (tests and bench): on 127.0.0.1 only, and always with
/// `--disableTelemetry` (otherwise it phones home; nothing may leave loopback).
fn launch_command(bin: &Path, port: u16, location: Option<&Path>) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["--blobHost", "127.0.0.1", "--blobPort"])
        .arg(port.to_string())
        .args(["--disableTelemetry", "--skipApiVersionCheck", "--silent"]);
    match location {
        Some(dir) => cmd.arg("--location").arg(dir),
        None => cmd.arg("--inMemoryPersistence"),
    };
    cmd
}

#[cfg(test)]
#[test]
fn azurite_is_started_on_loopback_without_telemetry() {
    for location in [None, Some(Path::new("/tmp/azurite"))] {
        let cmd = launch_command(Path::new("azurite-blob"), 10000, location);
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.iter().any(|a| a == "--disableTelemetry"), "{args:?}");
        let host = args.iter().position(|a| a == "--blobHost").expect("a host");
        assert_eq!(args[host + 1], "127.0.0.1", "{args:?}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An account SAS (blob service; service, container and object; read, write, delete, list,
/// add, create) signed with the development key, valid until 2099.
pub fn account_sas() -> String {
    let (sp, ss, srt, se, spr, sv) = (
        "rwdlac",
        "b",
        "sco",
        "2099-01-01T00:00:00Z",
        "https,http",
        "2019-12-12",
    );
    let to_sign = format!("{ACCOUNT}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n");
    let key = openssl::base64::decode_block(ACCOUNT_KEY).expect("key");
    let pkey = PKey::hmac(&key).expect("hmac key");
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).expect("signer");
    signer.update(to_sign.as_bytes()).expect("update");
    let sig = openssl::base64::encode_block(&signer.sign_to_vec().expect("sign"));
    let sig: String = url::form_urlencoded::byte_serialize(sig.as_bytes()).collect();
    format!("sv={sv}&ss={ss}&srt={srt}&sp={sp}&se={se}&spr={spr}&sig={sig}")
}
