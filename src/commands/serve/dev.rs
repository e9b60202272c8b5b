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
use crate::vault::{AzureVault, ImportOptions, Vault, VaultKey, VaultSettings};

/// The demo keys' vault names.
pub(crate) const DEMO_KEYS: [(&str, Curve); 2] =
    [("demo-tz2", Curve::Secp256k1), ("demo-tz3", Curve::P256)];

/// A preattestation-free, ready-to-sign attestation (mainnet chain id, level 1331, round 0)
/// for the printed curl example.
pub(crate) const EXAMPLE_ATTESTATION: &str = "137a06a7700e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a815000000000533000000000000000000000000000000000000000000000000000000000000000000000000";

/// The running emulator of `serve --dev` (one per emulated vault, in one tenant), the vault
/// client opened on it, and the demo keys (`demo-tz2`, `demo-tz3`) each holds. Software keys in
/// a loopback emulator: never for real funds.
pub struct DevVault {
    emulators: Vec<Emulator>,
    vault: Arc<dyn Vault>,
    demo: Vec<(String, Pkh)>,
}

fn dev_err(e: impl Into<anyhow::Error>) -> ServeError {
    ServeError::Dev(e.into())
}

/// Where the `n`th emulated vault (from 0) keeps its state.
fn state_dir(data_dir: &Path, n: usize) -> std::path::PathBuf {
    match n {
        0 => data_dir.join("emulator"),
        n => data_dir.join(format!("emulator-{}", n + 1)),
    }
}

impl DevVault {
    /// Starts `vaults` emulated vaults in one tenant under `data_dir/emulator[-N]`, opens them
    /// like production would (with `vault`'s deadlines and hedging; the credential and CA are
    /// the emulator's), and creates the demo keys in every vault if they are not there yet.
    pub async fn start(
        data_dir: &Path,
        vault: &VaultSettings,
        latency_ms: u64,
        vaults: u8,
    ) -> Result<DevVault, ServeError> {
        let config = |n| EmulatorConfig {
            state_dir: Some(state_dir(data_dir, n)),
            faults: crate::emulator::Faults {
                latency_ms,
                ..crate::emulator::Faults::default()
            },
            ..EmulatorConfig::default()
        };
        let others = (1..usize::from(vaults)).map(config);
        let emulators = Emulator::start_tenant(config(0), others)
            .await
            .map_err(dev_err)?;
        let emulator = &emulators[0];
        let urls = emulators
            .iter()
            .map(|e| Url::parse(&e.vault_url()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(dev_err)?;
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
            urls,
            auth: AuthMode::ClientSecret,
            extra_ca: Some(emulator.ca_path().to_path_buf()),
            ..vault.clone()
        };
        let (each, _) = crate::vault::open_each_with_env(&settings, &env).map_err(dev_err)?;
        let demo = ensure_demo_keys(&each).await?;
        Ok(DevVault {
            emulators,
            vault: crate::vault::as_one(each, settings.hedge),
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
        for (n, emulator) in self.emulators.iter().enumerate() {
            let _ = writeln!(
                out,
                "Development mode: Key Vault emulator at {} (state in {})",
                emulator.vault_url(),
                state_dir(data_dir, n).display()
            );
        }
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
        for emulator in self.emulators {
            emulator.shutdown().await;
        }
    }
}

/// Returns (name, pkh) of each demo key, importing the missing ones: a demo key that is not
/// in every vault with one public key is drawn anew and imported into all of them (a new
/// version where the name exists), so that the vaults hold the same keys.
async fn ensure_demo_keys(vaults: &[(Url, AzureVault)]) -> Result<Vec<(String, Pkh)>, ServeError> {
    let mut listed = Vec::new();
    for (_, vault) in vaults {
        listed.push(vault.list_keys().await.map_err(dev_err)?);
    }
    let mut demo = Vec::new();
    for (name, curve) in DEMO_KEYS {
        let pkhs: Vec<Option<Pkh>> = listed
            .iter()
            .map(|keys| keys.iter().find(|k| k.name == name).map(VaultKey::pkh))
            .collect();
        let pkh = match pkhs.first().copied().flatten() {
            Some(pkh) if pkhs.iter().all(|p| *p == Some(pkh)) => pkh,
            _ => {
                let secret = random_secret(curve)?;
                for (_, vault) in vaults {
                    vault
                        .import_key(name, &secret, ImportOptions { software: true })
                        .await
                        .map_err(dev_err)?;
                }
                let pkh = secret.public_key().pkh();
                tracing::info!(name, pkh = %pkh, vaults = vaults.len(), "created demo key in the emulator");
                pkh
            }
        };
        demo.push((name.to_string(), pkh));
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
