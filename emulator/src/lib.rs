//! The bundled Azure Key Vault stand-in (`tezos-azure-signer emulator`, feature `emulator`), in
//! the spirit of Azurite: the Key Vault keys data plane (import, get, list, sign) over HTTPS on
//! loopback with its own CA, the 401 bearer challenge, tokens from an App Service–style
//! managed-identity endpoint and an Entra v2 client-credentials endpoint (client secret, or a
//! workload identity's federated token as client assertion), fault injection, token
//! revocation (`POST /_emulator/revoke-tokens`, as a vault restart forgets its tokens) and
//! per-operation counters at `GET /_emulator/stats`. It is a development and test tool: it
//! binds only loopback addresses and must never be reachable from, or reach, the network.
//!
//! Layout: [`tls`] (CA + leaf), [`state`] (keys, persistence), [`jwk`] (key validation and
//! signing), [`tokens`], [`faults`], [`stats`], `routes` (HTTP), `server` (accept loops).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rand::RngCore as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zeroize::Zeroizing;

pub mod faults;
pub mod jwk;
mod routes;
mod server;
pub mod state;
mod state_file;
pub mod stats;
pub mod testkit;
pub mod tls;
pub mod tokens;

pub use faults::Faults;
pub use stats::Stats;

/// Path of the managed-identity endpoint on the identity port.
pub const IDENTITY_PATH: &str = routes::identity::PATH;

/// How to run the emulator.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where keys (`keys.json`) and the CA/leaf live. None = ephemeral: keys in memory, the CA
    /// written to a temporary directory that lives as long as the [`Emulator`].
    pub state_dir: Option<PathBuf>,
    /// HTTPS port (0 = pick a free one).
    pub port: u16,
    /// Plain-http managed-identity port (0 = pick a free one).
    pub identity_port: u16,
    pub faults: Faults,
    /// Tenant named in the 401 challenge and accepted by the client-credentials endpoint.
    pub tenant_id: String,
    /// The one registered app for the client-credentials flow (also the managed identity's
    /// client id for user-assigned requests).
    pub client_id: String,
    pub client_secret: String,
    /// The federated (Kubernetes service-account) token the registered app trusts: accepted as
    /// `client_assertion` (type jwt-bearer) for `client_id`, as a workload identity sends it.
    /// Compared for equality only (no JWT validation). Default: random per config.
    pub federated_token: String,
    /// Lifetime of minted tokens.
    pub token_lifetime: Duration,
    /// Answer as a Standard-tier vault: HSM-protected keys are refused, with the service's
    /// message. Default: Premium, which holds both.
    pub standard_tier: bool,
    /// Answer as a Managed HSM (`*.managedhsm.azure.net`): the challenge names its resource
    /// and tokens must be for it, a 401 has an empty body, the last list page has no
    /// `nextLink` member, sign replies carry `alg`, and every key is `EC-HSM`.
    pub managed_hsm: bool,
}

/// Default tenant of the emulated directory.
pub const DEFAULT_TENANT_ID: &str = "e1e1e1e1-0000-4000-8000-000000000001";
/// Default client id of the registered app.
pub const DEFAULT_CLIENT_ID: &str = "c1c1c1c1-0000-4000-8000-000000000002";
/// Default client secret of the registered app (a test value, not a secret).
pub const DEFAULT_CLIENT_SECRET: &str = "emulator-client-secret";

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            state_dir: None,
            port: 0,
            identity_port: 0,
            faults: Faults::default(),
            tenant_id: DEFAULT_TENANT_ID.to_string(),
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            federated_token: random_federated_token(),
            token_lifetime: Duration::from_secs(3600),
            standard_tier: false,
            managed_hsm: false,
        }
    }
}

/// A fresh random federated token, JWT-shaped (three dot-separated parts) like the ones
/// Kubernetes projects into `AZURE_FEDERATED_TOKEN_FILE`.
pub fn random_federated_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("emulator.{}.federated", hex::encode(bytes))
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub(crate) store: Mutex<state::KeyStore>,
    /// The tenant's token issuer: shared with sibling vaults ([`Emulator::start_sibling`]).
    pub(crate) tokens: Arc<tokens::TokenStore>,
    pub(crate) faults: faults::FaultInjector,
    pub(crate) counters: stats::Counters,
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: Zeroizing<String>,
    pub(crate) federated_token: Zeroizing<String>,
    pub(crate) identity_header: String,
    pub(crate) vault_url: String,
    pub(crate) standard_tier: bool,
    pub(crate) managed_hsm: bool,
}

impl Shared {
    /// The audience tokens must carry, and the challenge names.
    pub(crate) fn resource(&self) -> &'static str {
        if self.managed_hsm {
            tokens::MANAGED_HSM_RESOURCE
        } else {
            tokens::VAULT_RESOURCE
        }
    }
}

/// A temporary directory removed on drop (ephemeral mode's CA file).
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let mut bytes = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut bytes);
        let path = std::env::temp_dir().join(format!(
            "tezos-azure-signer-emulator-{}-{}",
            std::process::id(),
            hex::encode(bytes)
        ));
        private_fs::create_new(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running emulator. Dropping it stops the servers; [`Emulator::shutdown`] also waits.
pub struct Emulator {
    shared: Arc<Shared>,
    tls: tls::TlsMaterial,
    port: u16,
    identity_port: u16,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The ephemeral state directory (the CA file), shared with sibling vaults.
    _temp: Option<Arc<TempDir>>,
}

async fn bind_loopback(port: u16) -> anyhow::Result<Vec<TcpListener>> {
    let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let actual = v4.local_addr()?.port();
    let mut listeners = vec![v4];
    // `localhost` may resolve to ::1 first; serve it too when the host has IPv6 loopback.
    if let Ok(v6) = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, actual))).await {
        listeners.push(v6);
    }
    Ok(listeners)
}

fn new_identity_header() -> String {
    let mut secret = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut secret);
    hex::encode(secret)
}

/// The identity endpoint's secret in `dir/identity_header` (created 0600 on first use).
fn load_or_create_identity_header(dir: &Path) -> anyhow::Result<String> {
    const NAME: &str = "identity_header";
    let path = dir.join(NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) if text.trim().len() == 32 => Ok(text.trim().to_string()),
        Ok(_) => anyhow::bail!("{} is not a 32-digit identity secret", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let header = new_identity_header();
            private_fs::write_durably(dir, NAME, header.as_bytes(), 0o600)
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(header)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

impl Emulator {
    /// Generates or loads the TLS material and keys, binds the ports and starts serving.
    pub async fn start(config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let (dir, temp, store) = match &config.state_dir {
            Some(dir) => {
                private_fs::create_all(dir)
                    .with_context(|| format!("cannot create state directory {}", dir.display()))?;
                (dir.clone(), None, state::KeyStore::open(dir)?)
            }
            None => {
                let temp = TempDir::new().context("cannot create a temporary directory")?;
                (temp.0.clone(), Some(temp), state::KeyStore::ephemeral())
            }
        };
        let tls = tls::load_or_create(&dir)?;
        // With a state directory the identity endpoint's secret stays across restarts, as an
        // App Service's does for its lifetime: clients started against it keep working.
        let identity_header = match &config.state_dir {
            Some(dir) => load_or_create_identity_header(dir)?,
            None => new_identity_header(),
        };
        let tokens = Arc::new(tokens::TokenStore::new(config.token_lifetime));
        Emulator::serve(
            config,
            store,
            tls,
            tokens,
            identity_header,
            temp.map(Arc::new),
        )
        .await
    }

    /// A second vault in this one's tenant, as two real vaults in one tenant are: its own
    /// keys, port, faults and counters, but this emulator's CA (one trust root for both), its
    /// token issuer (a token from either's endpoints is accepted by both) and its app and
    /// identity secrets. `config`'s tenant, app and token settings are ignored. Stopping one
    /// leaves the other serving (the CA file stays while either runs).
    pub async fn start_sibling(&self, config: EmulatorConfig) -> anyhow::Result<Emulator> {
        let store = match &config.state_dir {
            Some(dir) => {
                private_fs::create_all(dir)
                    .with_context(|| format!("cannot create state directory {}", dir.display()))?;
                state::KeyStore::open(dir)?
            }
            None => state::KeyStore::ephemeral(),
        };
        let config = EmulatorConfig {
            tenant_id: self.shared.tenant_id.clone(),
            client_id: self.shared.client_id.clone(),
            client_secret: self.shared.client_secret.to_string(),
            federated_token: self.shared.federated_token.to_string(),
            ..config
        };
        let (tls, tokens) = (self.tls.clone(), Arc::clone(&self.shared.tokens));
        let identity_header = self.shared.identity_header.clone();
        let temp = self._temp.clone();
        Emulator::serve(config, store, tls, tokens, identity_header, temp).await
    }

    /// Several vaults of one tenant: the first started with `first`, then one sibling
    /// ([`Emulator::start_sibling`]) for each of `others`. The first vault comes first.
    pub async fn start_tenant(
        first: EmulatorConfig,
        others: impl IntoIterator<Item = EmulatorConfig>,
    ) -> anyhow::Result<Vec<Emulator>> {
        let mut vaults = vec![Emulator::start(first).await?];
        for config in others {
            let sibling = vaults[0].start_sibling(config).await?;
            vaults.push(sibling);
        }
        Ok(vaults)
    }

    /// Binds the ports and starts serving `store` with the tenant's TLS and tokens.
    async fn serve(
        config: EmulatorConfig,
        store: state::KeyStore,
        tls: tls::TlsMaterial,
        tokens: Arc<tokens::TokenStore>,
        identity_header: String,
        temp: Option<Arc<TempDir>>,
    ) -> anyhow::Result<Emulator> {
        let vault_listeners = bind_loopback(config.port).await?;
        let port = vault_listeners[0].local_addr()?.port();
        let identity_listener = TcpListener::bind(SocketAddr::from((
            Ipv4Addr::LOCALHOST,
            config.identity_port,
        )))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", config.identity_port))?;
        let identity_port = identity_listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            tokens,
            faults: faults::FaultInjector::new(config.faults.clone()),
            counters: stats::Counters::default(),
            tenant_id: config.tenant_id.clone(),
            client_id: config.client_id.clone(),
            client_secret: Zeroizing::new(config.client_secret.clone()),
            federated_token: Zeroizing::new(config.federated_token.clone()),
            identity_header,
            vault_url: format!("https://localhost:{port}"),
            standard_tier: config.standard_tier,
            managed_hsm: config.managed_hsm,
        });
        let (tx, rx) = watch::channel(false);
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config.clone());
        let tasks = vec![
            tokio::spawn(server::serve_tls(
                vault_listeners,
                acceptor,
                shared.clone(),
                rx.clone(),
            )),
            tokio::spawn(server::serve_plain(identity_listener, shared.clone(), rx)),
        ];
        Ok(Emulator {
            shared,
            tls,
            port,
            identity_port,
            shutdown: tx,
            tasks,
            _temp: temp,
        })
    }

    /// `https://localhost:PORT`.
    pub fn vault_url(&self) -> String {
        self.shared.vault_url.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.tls.ca_pem
    }

    /// Where the CA PEM is written (for `SSL_CERT_FILE`).
    pub fn ca_path(&self) -> &Path {
        &self.tls.ca_path
    }

    /// `http://127.0.0.1:IPORT/msi/token` (App Service managed identity, for `IDENTITY_ENDPOINT`).
    pub fn identity_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}{IDENTITY_PATH}", self.identity_port)
    }

    /// The secret the identity endpoint expects in `X-IDENTITY-HEADER` (for `IDENTITY_HEADER`).
    pub fn identity_header(&self) -> &str {
        &self.shared.identity_header
    }

    /// `https://localhost:PORT` (for `AZURE_AUTHORITY_HOST`, client-credentials flow).
    pub fn authority_host(&self) -> String {
        self.vault_url()
    }

    pub fn tenant_id(&self) -> &str {
        &self.shared.tenant_id
    }

    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    pub fn client_secret(&self) -> &str {
        &self.shared.client_secret
    }

    /// The federated token accepted as client assertion (write it to the file named by
    /// `AZURE_FEDERATED_TOKEN_FILE` for the workload-identity flow).
    pub fn federated_token(&self) -> &str {
        &self.shared.federated_token
    }

    /// `AZURE_KEYVAULT_URI`, `SSL_CERT_FILE`, `IDENTITY_ENDPOINT`, `IDENTITY_HEADER`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AZURE_KEYVAULT_URI".into(), self.vault_url()),
            (
                "SSL_CERT_FILE".into(),
                self.ca_path().to_string_lossy().into_owned(),
            ),
            ("IDENTITY_ENDPOINT".into(), self.identity_endpoint()),
            ("IDENTITY_HEADER".into(), self.identity_header().to_string()),
        ]
    }

    /// A snapshot of the per-operation counters (also `GET /_emulator/stats`).
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults.get()
    }

    /// Replaces the injected faults (also `PUT /_emulator/faults`).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.faults.set(faults);
    }

    /// Forgets every token minted so far, as a restarted or revoking vault does: requests with
    /// them get 401 `AKV10022` until the client fetches a new one (also `POST
    /// /_emulator/revoke-tokens`). Returns how many were forgotten.
    pub fn revoke_tokens(&self) -> usize {
        self.shared.tokens.revoke_all()
    }

    /// Number of keys in the vault.
    pub fn key_count(&self) -> usize {
        self.shared
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Enables or disables the latest version of a key (as `PATCH /keys/{name}` does).
    /// Returns false when no such key exists.
    pub fn set_key_enabled(&self, name: &str, enabled: bool) -> anyhow::Result<bool> {
        let mut store = self.shared.store.lock().unwrap_or_else(|p| p.into_inner());
        Ok(store.update(name, None, Some(enabled), None)?)
    }

    /// Stops accepting, closes connections and waits for the servers to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
