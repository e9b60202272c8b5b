//! `serve`: the octez-compatible remote signer (and `serve --dev`, the same code path against
//! the bundled emulator).
//!
//! Owns: startup order (data dir → vault → watermark store (locked) → signer → listeners →
//! serve) and the exit code. Production and `--dev` differ only in where the vault and its
//! credential come from; everything after [`Signer::new`] is identical.
//! Must never: start serving when the store cannot be read (no silent reset), or exit before
//! in-flight signatures are persisted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use crate::auth::AuthorizedKeys;
use crate::commands::GlobalArgs;
use crate::confirm::socket::ConfirmSocket;
use crate::confirm::{Confirmations, HeldLimits};
use crate::logging::LostLines;
use crate::policy::spending::{SharedBudget, SpendingLedger};
use crate::policy::{MagicBytes, Policy, PolicyRules};
use crate::server::run::{Server, TerminationSignal};
use crate::server::{ApiOptions, tls};
use crate::signer::{Signer, SignerConfig};
use crate::vault::Vault;
use crate::watermark::shared::{
    AzureBlobs, Blobs, Container, SharedLocation, SharedStats, SharedStore, geo_replicated,
};
use crate::watermark::{DataDir, LocalStore, MarkStore, SharedError, StoreError};

pub(crate) use args::ServeArgs;

mod args;
#[cfg(feature = "emulator")]
pub(crate) mod dev;

/// A startup failure, with what to do about it. Each source keeps its type; the message is
/// formatted once, when `serve` prints it (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    NoDataDir(#[from] crate::commands::args::NoDataDir),
    #[error("cannot create the data directory {path}: {source}")]
    CreateDataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("policy file: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    #[error("authorized keys file: {0}")]
    AuthorizedKeys(#[from] crate::auth::AuthError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot open the vault: {0}")]
    Vault(#[from] crate::vault::OpenError),
    #[error("watermark store: {0}")]
    Store(#[from] crate::watermark::StoreError),
    #[error("spending ledger: {0}")]
    Spending(#[from] crate::policy::spending::SpendingError),
    #[error("cannot start the signer: {0}")]
    Signer(#[from] crate::signer::SignError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("dev mode: {0:#}")]
    Dev(#[source] anyhow::Error),
    #[error("dev mode: this build has no emulator (built without the `emulator` feature)")]
    NoEmulator,
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot create the confirmation socket in the data directory: {0}")]
    ConfirmSocket(std::io::Error),
}

pub(crate) fn run(global: &GlobalArgs, args: ServeArgs, lost_log_lines: LostLines) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {}", ServeError::Runtime(e));
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(serve(global, args, lost_log_lines)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: stopped with signatures still in flight after the drain timeout");
            ExitCode::from(1)
        }
        Err(e) => {
            tracing::error!(error = %e, "serve failed");
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Creates the data directory (owner-only) if needed.
fn prepare_data_dir(dir: &Path) -> Result<(), ServeError> {
    crate::private_fs::create_all(dir).map_err(|source| ServeError::CreateDataDir {
        path: dir.to_path_buf(),
        source,
    })
}

fn signer_config(args: &ServeArgs) -> Result<SignerConfig, ServeError> {
    let rules = match &args.policy {
        Some(path) => Some(PolicyRules::load(path)?),
        None => None,
    };
    let authorized_keys = match &args.authorized_keys {
        Some(path) => Some(AuthorizedKeys::load(path)?),
        None => None,
    };
    Ok(SignerConfig {
        // What --confirm covers passes the whitelist: the policy then decides, and what it
        // refuses (and a person may approve) is held for a person.
        policy: Policy::new(MagicBytes::new(args.magic_bytes.iter().copied()), rules)
            .confirming(&args.confirm),
        authorized_keys,
        key_filter: args.keys.clone(),
        min_level: args.min_level,
        max_queue_per_key: args.max_queue_per_key as usize,
        max_chains_per_key: args.max_chains_per_key as usize,
        ..SignerConfig::default()
    })
}

/// Returns whether every in-flight signature finished before exit.
async fn serve(
    global: &GlobalArgs,
    args: ServeArgs,
    lost_log_lines: LostLines,
) -> Result<bool, ServeError> {
    // Before anything else: a SIGTERM/SIGINT during startup then shuts down gracefully once
    // the server runs, instead of killing the process by the default disposition.
    let termination = TerminationSignal::register();
    let data_dir = args.resolved_data_dir()?;
    prepare_data_dir(&data_dir)?;
    // Configuration errors first: they need no vault.
    let config = signer_config(&args)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
        _ => None,
    };
    // Before the store opens (it creates the journal): has this directory signed before?
    let spending_must_exist = SpendingLedger::must_exist(
        &data_dir,
        config.policy.has_24h_limit(),
        args.reset_spending,
    );
    // The store lock before the vault: a second process on this data dir stops here.
    let store = DataDir::open(&data_dir)?;
    let (spending, found) = SpendingLedger::open(&data_dir, spending_must_exist)?;
    if args.reset_spending {
        tracing::warn!(
            ?found,
            "--reset-spending: a missing spending log was allowed to start from zero"
        );
    }

    #[cfg(feature = "emulator")]
    let dev = if args.dev {
        Some(
            dev::DevVault::start(
                &data_dir,
                &args.vault_settings(global),
                args.dev_latency_ms,
                args.dev_vaults,
            )
            .await?,
        )
    } else {
        None
    };
    #[cfg(not(feature = "emulator"))]
    if args.dev {
        return Err(ServeError::NoEmulator);
    }

    #[cfg(feature = "emulator")]
    let vault: Arc<dyn Vault> = match &dev {
        Some(dev) => dev.vault(),
        None => open_vault(global, &args)?,
    };
    #[cfg(not(feature = "emulator"))]
    let vault: Arc<dyn Vault> = open_vault(global, &args)?;

    let (store, shared_stats, shared_budget) = open_store(global, &args, store).await?;
    let spending = match shared_budget {
        Some(budget) => spending.with_shared(budget),
        None => spending,
    };
    let confirm = if args.confirm.is_empty() {
        None
    } else {
        let set = Arc::new(Confirmations::new(
            args.confirm_timeout,
            HeldLimits {
                total: args.max_held as usize,
                per_client: args.max_held_per_client as usize,
            },
        ));
        let socket = ConfirmSocket::bind(&data_dir).map_err(ServeError::ConfirmSocket)?;
        tracing::info!(socket = %socket.path().display(), "held requests are answered with `sign --pending`");
        tokio::spawn(socket.serve(Arc::clone(&set)));
        Some(set)
    };
    let config = SignerConfig {
        spending: Some(Arc::new(spending)),
        confirm,
        ..config
    };
    let signer = Signer::new(vault.clone(), store, config).await?;
    let signer = Arc::new(signer);
    let limits = args.limits();
    let options = ApiOptions {
        known_keys: args.known_keys,
        sign_deadline: ApiOptions::sign_deadline_within(args.request_timeout),
        ..ApiOptions::default()
    };
    let api_address = args.api_address();
    let server = Server::bind(
        signer.clone(),
        api_address,
        args.metrics_address.address(),
        tls.clone(),
        options,
        limits,
    )
    .await
    .map_err(|source| ServeError::Bind {
        address: format!("{api_address} / {}", args.metrics_address),
        source,
    })?;
    if let Some(stats) = shared_stats {
        server.metrics().attach_shared(stats);
    }
    server.metrics().attach_lost_log_lines(lost_log_lines);
    server.metrics().attach_vault(vault);
    let bound = server.api_address().map_err(|source| ServeError::Bind {
        address: api_address.to_string(),
        source,
    })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{bound}");
    tracing::info!(
        %url,
        data_dir = %data_dir.display(),
        metrics = ?server.metrics_address(),
        keys = signer.known_keys().len(),
        "signer ready"
    );
    if signer.known_keys().is_empty() {
        tracing::warn!(
            "no keys loaded from the vault: every sign request is refused and /readyz answers \
             503 until one is; check that the vault holds tz2/tz3 keys (`verify --vault-keys`), \
             that they are enabled, and that --key names them"
        );
    }
    // Machine-readable lines on stdout (scripts and tests wait for them); a closed stdout
    // must not stop the signer.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening {url}");
    if let Some(m) = server.metrics_address() {
        let _ = writeln!(stdout, "metrics http://{m}/metrics");
    }
    #[cfg(feature = "emulator")]
    if let Some(dev) = &dev {
        dev.print_banner(&url, &data_dir);
    }
    let report = server.run(termination.wait()).await;
    #[cfg(feature = "emulator")]
    if let Some(dev) = dev {
        dev.shutdown().await;
    }
    Ok(report.drained)
}

/// The local files, and with `--shared-watermarks` the container on top of them (seeded with
/// the local marks before anything is signed).
/// The mark store, its shared container's statistics, and the shared 24-hour budget in the
/// same container (with `--shared-watermarks`).
type Stores = (
    Arc<dyn MarkStore>,
    Option<Arc<SharedStats>>,
    Option<SharedBudget>,
);

async fn open_store(
    global: &GlobalArgs,
    args: &ServeArgs,
    store: DataDir,
) -> Result<Stores, ServeError> {
    let local = LocalStore::new(store);
    let Some(location) = &args.shared_watermarks else {
        return Ok((Arc::new(local), None, None));
    };
    let settings = args.vault.settings(global);
    let (credential, options) = crate::vault::azure_access(&settings, !location.uses_sas())?;
    let blobs = AzureBlobs::new(location, credential, options).map_err(|e| {
        ServeError::Store(StoreError::Shared(SharedError::Unavailable {
            location: location.to_string(),
            during: "opening the container client",
            error: e,
        }))
    })?;
    let blobs: Arc<dyn Blobs> = Arc::new(blobs);
    warn_if_geo_replicated(blobs.as_ref(), location).await;
    let budget = SharedBudget::new(Arc::clone(&blobs), location.clone());
    let shared = Container::new(
        blobs,
        location.clone(),
        settings.sign_deadline,
        Arc::new(SharedStats::default()),
    )
    .probing_as(&args.resolved_data_dir()?);
    let store = SharedStore::open(local, shared).await?;
    let stats = store.stats();
    tracing::info!(location = %location, sas = location.uses_sas(), "shared watermarks on");
    Ok((Arc::new(store), Some(stats), Some(budget)))
}

/// Reads the storage account's SKU and warns when it is geo-replicated: an account failover
/// could then roll shared marks back (docs/watermarks-policy-auth.md, shared watermarks).
/// Not fatal either way: the marks work on any SKU, and a SAS may not allow the read.
async fn warn_if_geo_replicated(blobs: &dyn Blobs, location: &SharedLocation) {
    match tokio::time::timeout(std::time::Duration::from_secs(10), blobs.sku()).await {
        Ok(Ok(Some(sku))) if geo_replicated(&sku) => tracing::warn!(
            location = %location,
            sku,
            "the shared watermarks' storage account is geo-replicated: replication to the \
             secondary region is asynchronous, so an account failover can roll marks back and \
             let two signers double sign; use an LRS or ZRS account"
        ),
        Ok(Ok(Some(sku))) => tracing::info!(location = %location, sku, "storage account SKU"),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => {
            tracing::warn!(location = %location, error = %e, "could not read the storage account's SKU (Get Account Information): check that it is LRS or ZRS")
        }
        Err(_) => {
            tracing::warn!(location = %location, "the storage account's SKU did not arrive within 10 s: check that it is LRS or ZRS")
        }
    }
}

fn open_vault(global: &GlobalArgs, args: &ServeArgs) -> Result<Arc<dyn Vault>, ServeError> {
    Ok(crate::vault::open(&args.vault_settings(global))?)
}
