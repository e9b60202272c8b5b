//! Helpers for the vault integration tests: an in-process emulator, the real binary run as a
//! child with an explicit environment (never the test process's own), keys made by the openssl
//! command line, and an in-process `AzureVault` whose credentials come from an injected
//! environment. Loopback only: every child gets a DMI file saying "not an Azure VM".
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use keyvault_emulator::{Emulator, EmulatorConfig, Faults};
use serde_json::Value;
use tezos_azure_signer::vault::credentials::{AuthMode, CredentialEnv};
use tezos_azure_signer::vault::{AzureVault, VaultSettings, open_each_with_env};

pub const PASS: &str = "correct horse battery";

pub async fn emulator() -> Emulator {
    emulator_with(Faults::default()).await
}

pub async fn emulator_with(faults: Faults) -> Emulator {
    emulator_as(EmulatorConfig {
        faults,
        ..EmulatorConfig::default()
    })
    .await
}

/// An emulator started with `config` (a Standard vault, a Managed HSM…).
pub async fn emulator_as(config: EmulatorConfig) -> Emulator {
    Emulator::start(config).await.expect("emulator starts")
}

/// A scratch directory with a DMI asset tag file that is not Azure's.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dmi_tag"), "None\n").unwrap();
        Scratch { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
    pub fn dmi(&self) -> PathBuf {
        self.join("dmi_tag")
    }
}

/// The binary with an empty environment plus `env` (and the DMI override, and a PATH without
/// any `az`). stdin is empty: never a terminal, never a prompt.
pub fn bin(scratch: &Scratch, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"));
    cmd.env_clear()
        .env("PATH", "/nonexistent")
        .env("TEZOS_AZURE_SIGNER_DMI_ASSET_TAG_PATH", scratch.dmi())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .stdin(std::process::Stdio::null())
        .current_dir(scratch.path());
    cmd
}

/// Runs the binary off the async runtime (the in-process emulator keeps serving).
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("binary runs"))
        .await
        .unwrap()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Managed identity (App Service) through the emulator's endpoint, CA through SSL_CERT_FILE.
pub fn mi_env(emu: &Emulator) -> Vec<(String, String)> {
    emu.env()
}

/// Client secret through AZURE_AUTHORITY_HOST, CA through --vault-ca (the env var form).
pub fn client_secret_env(emu: &Emulator) -> Vec<(String, String)> {
    vec![
        ("AZURE_KEYVAULT_URI".into(), emu.vault_url()),
        (
            "TEZOS_AZURE_SIGNER_VAULT_CA".into(),
            emu.ca_path().display().to_string(),
        ),
        ("AZURE_AUTHORITY_HOST".into(), emu.authority_host()),
        ("AZURE_TENANT_ID".into(), emu.tenant_id().into()),
        ("AZURE_CLIENT_ID".into(), emu.client_id().into()),
        ("AZURE_CLIENT_SECRET".into(), emu.client_secret().into()),
    ]
}

/// An in-process vault on the emulator, with client-secret credentials from an injected
/// environment (the test process's environment is never read or changed).
pub fn vault(emu: &Emulator, scratch: &Scratch, sign_deadline_ms: u64) -> AzureVault {
    vault_with_deadlines(
        emu,
        scratch,
        std::time::Duration::from_millis(sign_deadline_ms),
        std::time::Duration::from_secs(20),
    )
}

/// [`vault`] with both deadlines chosen.
pub fn vault_with_deadlines(
    emu: &Emulator,
    scratch: &Scratch,
    sign_deadline: std::time::Duration,
    read_deadline: std::time::Duration,
) -> AzureVault {
    let env = CredentialEnv::new(client_secret_env(emu), &scratch.dmi());
    let settings = VaultSettings {
        urls: vec![emu.vault_url().parse().unwrap()],
        auth: AuthMode::Auto,
        sign_deadline,
        read_deadline,
        extra_ca: Some(emu.ca_path().to_path_buf()),
        hedge: Default::default(),
    };
    let (mut each, _) = open_each_with_env(&settings, &env).expect("vault opens");
    each.remove(0).1
}

pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh EC key `NAME.pem` (SEC1, with EC PARAMETERS) on `curve` (openssl's name).
pub fn genkey(dir: &Path, curve: &str, name: &str) -> PathBuf {
    let file = format!("{name}.pem");
    openssl(dir, &["ecparam", "-name", curve, "-genkey", "-out", &file]);
    dir.join(file)
}

/// The pkh of a key file, computed in-process by the library (the reference for imports).
pub fn pkh_of(path: &Path) -> String {
    let pass = tezos_azure_signer::keyfile::FixedPassphrase::new(PASS.as_bytes());
    tezos_azure_signer::keyfile::read_key_file(path, &pass)
        .expect("reference key reads")
        .pkh()
        .to_string()
}
