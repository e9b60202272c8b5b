//! `serve --dev`: the bundled Key Vault emulator in-process, with a demo tz2 and a demo tz3 key,
//! reached through exactly the production path (the real Azure SDK over TLS, the emulator's CA
//! trusted in-process, the SDK's client-secret credential pointed at the emulator's token
//! endpoint).
//!
//! Owns: the emulator's lifetime and the demo keys. The emulator keeps its state (CA and keys)
//! under `<data dir>/emulator`, so the demo keys and their pkhs survive restarts.
//! Must never: print or log a secret key, or be reachable from anything but loopback.

use std::path::Path;
use std::sync::Arc;

use rand_core::{OsRng, RngCore};
use url::Url;
use zeroize::Zeroizing;

use super::ServeError;
use crate::emulator::{Emulator, EmulatorConfig};
use crate::tezos::{Curve, Pkh, SecretKey};
use crate::vault::credentials::{AuthMode, CredentialEnv};
use crate::vault::{ImportOptions, Vault, VaultKey, VaultSettings};

/// The demo keys' vault names.
pub(crate) const DEMO_KEYS: [(&str, Curve); 2] =
    [("demo-tz2", Curve::Secp256k1), ("demo-tz3", Curve::P256)];

/// A preattestation-free, ready-to-sign attestation (mainnet chain id, level 1331, round 0)
/// for the printed curl example.
pub(crate) const EXAMPLE_ATTESTATION: &str = "137a06a7700e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a815000000000533000000000000000000000000000000000000000000000000000000000000000000000000";

/// The running emulator of `serve --dev`, the vault client opened on it, and the demo keys
/// (`demo-tz2`, `demo-tz3`) it holds. Software keys in a loopback emulator: never for real funds.
pub struct DevVault {
    emulator: Emulator,
    vault: Arc<dyn Vault>,
    demo: Vec<(String, Pkh)>,
}

fn dev_err(e: impl Into<anyhow::Error>) -> ServeError {
    ServeError::Dev(e.into())
}

impl DevVault {
    /// Starts the emulator under `data_dir/emulator`, opens it like production would (with
    /// `vault`'s deadlines; the credential and CA are the emulator's), and creates the demo keys
    /// if they do not exist yet.
    pub async fn start(
        data_dir: &Path,
        vault: &VaultSettings,
        latency_ms: u64,
    ) -> Result<DevVault, ServeError> {
        let emulator = Emulator::start(EmulatorConfig {
            state_dir: Some(data_dir.join("emulator")),
            faults: crate::emulator::Faults {
                latency_ms,
                ..crate::emulator::Faults::default()
            },
            ..EmulatorConfig::default()
        })
        .await
        .map_err(dev_err)?;
        let url = Url::parse(&emulator.vault_url()).map_err(dev_err)?;
        // The client-secret credential against the emulator's Entra-style token endpoint
        // (https, same CA). Built from an explicit environment, not the process's: the SDK's
        // App Service managed identity reads IDENTITY_ENDPOINT from the process environment,
        // which a multi-threaded process cannot safely set for itself.
        let env = CredentialEnv::new(
            [
                (
                    "AZURE_AUTHORITY_HOST".to_string(),
                    emulator.authority_host(),
                ),
                (
                    "AZURE_TENANT_ID".to_string(),
                    emulator.tenant_id().to_string(),
                ),
                (
                    "AZURE_CLIENT_ID".to_string(),
                    emulator.client_id().to_string(),
                ),
                (
                    "AZURE_CLIENT_SECRET".to_string(),
                    emulator.client_secret().to_string(),
                ),
            ],
            Path::new("/nonexistent/tezos-azure-signer-dev"),
        );
        let settings = VaultSettings {
            url: Some(url),
            auth: AuthMode::ClientSecret,
            extra_ca: Some(emulator.ca_path().to_path_buf()),
            ..vault.clone()
        };
        let (vault, _) = crate::vault::open_with_env(&settings, &env).map_err(dev_err)?;
        let vault: Arc<dyn Vault> = Arc::new(vault);
        let demo = ensure_demo_keys(vault.as_ref()).await?;
        Ok(DevVault {
            emulator,
            vault,
            demo,
        })
    }

    /// The vault client for the emulator, opened exactly as production opens Azure Key Vault;
    /// hand it to the signer in place of the real vault.
    pub fn vault(&self) -> Arc<dyn Vault> {
        self.vault.clone()
    }

    /// The human-friendly banner: demo pkhs and a curl example.
    /// (Written to stdout; a closed stdout is ignored, never a stop.)
    pub fn print_banner(&self, url: &str, data_dir: &Path) {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Development mode: Key Vault emulator at {} (state in {})",
            self.emulator.vault_url(),
            data_dir.join("emulator").display()
        );
        for (name, pkh) in &self.demo {
            let _ = writeln!(out, "  demo key {name}: {pkh}");
        }
        if let Some((_, pkh)) = self.demo.first() {
            let _ = writeln!(out);
            let _ = writeln!(out, "Try:");
            let _ = writeln!(out, "  curl -s {url}/keys/{pkh}");
            let _ = writeln!(
                out,
                "  curl -s -X POST -H 'Content-Type: application/json' --data '\"{EXAMPLE_ATTESTATION}\"' {url}/keys/{pkh}"
            );
            let _ = writeln!(
                out,
                "Point a baker at it:  octez-client import secret key baker {url}/{pkh}"
            );
        }
        let _ = writeln!(out);
    }

    /// Stops the emulator and waits for its servers to end; its state stays on disk, so the
    /// next start finds the same demo keys.
    pub async fn shutdown(self) {
        self.emulator.shutdown().await;
    }
}

/// Returns (name, pkh) of each demo key, importing the missing ones.
async fn ensure_demo_keys(vault: &dyn Vault) -> Result<Vec<(String, Pkh)>, ServeError> {
    let existing: Vec<VaultKey> = vault.list_keys().await.map_err(dev_err)?;
    let mut demo = Vec::new();
    for (name, curve) in DEMO_KEYS {
        let key = match existing.iter().find(|k| k.name == name) {
            Some(k) => k.clone(),
            None => {
                let secret = random_secret(curve)?;
                let key = vault
                    .import_key(name, &secret, ImportOptions { software: true })
                    .await
                    .map_err(dev_err)?;
                tracing::info!(name, pkh = %key.pkh(), "created demo key in the emulator");
                key
            }
        };
        demo.push((name.to_string(), key.pkh()));
    }
    Ok(demo)
}

fn random_secret(curve: Curve) -> Result<SecretKey, ServeError> {
    // A uniformly random scalar is out of range with probability < 2^-32: retry a few times.
    for _ in 0..8 {
        let mut bytes = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(bytes.as_mut());
        if let Ok(secret) = SecretKey::from_scalar(curve, bytes.as_ref()) {
            return Ok(secret);
        }
    }
    Err(ServeError::Dev(anyhow::anyhow!(
        "could not draw a valid demo key"
    )))
}
