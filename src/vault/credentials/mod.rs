//! The Azure credential chain: which credential to use, decided from an injected environment.
//!
//! Owns: the `--auth` modes, the exact order of `auto` (client secret → workload identity →
//! App Service managed identity → VM managed identity only on an Azure VM → Azure CLI), and the
//! one error that lists every credential tried with its fix. Reads the environment only through
//! [`CredentialEnv`], so tests never touch the process environment. Must never log a secret, and
//! must never let the SDK fall back to the VM metadata endpoint unless that was chosen.
//! Also owns [`TokenReset`], the one way to make every cache below the vault client forget a
//! token the vault rejected.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod chain;
mod keeper;
mod sdk;

pub use chain::{ChainCredential, CredentialFactory};
pub use keeper::{KeeperHandle, KeeperTiming, keep_fresh, keep_fresh_with_reset};
pub use sdk::SdkFactory;

/// Forgets tokens the vault has rejected (HTTP 401: revoked, or unknown after a vault restart).
///
/// Owns: nothing but the contract. `reset(seen_at)` drops every cached token obtained before
/// `seen_at` (the moment the rejection was seen), so the next token request really asks Entra
/// ID again. A token obtained after `seen_at` is kept: a burst of concurrent rejections with
/// about the same `seen_at` costs one new token, not one per request. An implementation may
/// ignore resets that come too often. Must never fetch a token itself or wait on the network
/// (it runs on the signing path), and never panic.
pub trait TokenReset: Send + Sync + fmt::Debug {
    /// Drops every cached token obtained before `seen_at`, the moment the vault's 401 was seen.
    fn reset(&self, seen_at: Instant);
}

/// `--auth`: how to obtain Azure tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// Client secret, workload identity, managed identity, Azure CLI: the first that is configured.
    #[default]
    Auto,
    /// Managed identity: App Service (IDENTITY_ENDPOINT) or the VM metadata endpoint.
    ManagedIdentity,
    /// Service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    ClientSecret,
    /// Kubernetes workload identity: AZURE_FEDERATED_TOKEN_FILE (+ tenant and client id).
    WorkloadIdentity,
    /// The Azure CLI's login (`az login`).
    AzureCli,
}

impl AuthMode {
    /// Every mode, in the order `--help` lists them (clap's possible values).
    pub const ALL: [AuthMode; 5] = [
        AuthMode::Auto,
        AuthMode::ManagedIdentity,
        AuthMode::ClientSecret,
        AuthMode::WorkloadIdentity,
        AuthMode::AzureCli,
    ];

    /// The name on the command line and in `TEZOS_AZURE_SIGNER_AUTH`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMode::Auto => "auto",
            AuthMode::ManagedIdentity => "managed-identity",
            AuthMode::ClientSecret => "client-secret",
            AuthMode::WorkloadIdentity => "workload-identity",
            AuthMode::AzureCli => "azure-cli",
        }
    }

    /// One line on what the mode uses.
    pub fn help(self) -> &'static str {
        match self {
            AuthMode::Auto => {
                "Client secret, workload identity, managed identity, Azure CLI: the first that is configured"
            }
            AuthMode::ManagedIdentity => {
                "Managed identity: App Service (IDENTITY_ENDPOINT) or the VM metadata endpoint"
            }
            AuthMode::ClientSecret => {
                "Service principal: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"
            }
            AuthMode::WorkloadIdentity => {
                "Kubernetes workload identity: AZURE_FEDERATED_TOKEN_FILE (+ tenant and client id)"
            }
            AuthMode::AzureCli => "The Azure CLI's login (`az login`)",
        }
    }
}

/// One credential the chain can try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A service principal's secret: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET.
    ClientSecret,
    /// A Kubernetes federated token: AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID,
    /// AZURE_CLIENT_ID.
    WorkloadIdentity,
    /// The managed identity of an App Service or Container App (IDENTITY_ENDPOINT,
    /// IDENTITY_HEADER).
    AppServiceManagedIdentity,
    /// An Azure VM's managed identity, through the instance metadata endpoint; in `auto` only
    /// tried when the DMI asset tag says this is an Azure VM.
    VmManagedIdentity,
    /// The token of the Azure CLI's login (`az login`), when `az` is on the PATH.
    AzureCli,
}

impl CredentialKind {
    /// The name in logs and in the chain's error (`client secret`, `Azure CLI`…).
    pub fn name(self) -> &'static str {
        match self {
            CredentialKind::ClientSecret => "client secret",
            CredentialKind::WorkloadIdentity => "workload identity",
            CredentialKind::AppServiceManagedIdentity => "managed identity (App Service)",
            CredentialKind::VmManagedIdentity => "managed identity (Azure VM)",
            CredentialKind::AzureCli => "Azure CLI",
        }
    }

    /// What a baker should do to make this credential work.
    pub fn fix(self) -> &'static str {
        match self {
            CredentialKind::ClientSecret => {
                "set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET of a service principal with Key Vault Crypto User access"
            }
            CredentialKind::WorkloadIdentity => {
                "enable workload identity on the pod (AZURE_FEDERATED_TOKEN_FILE, AZURE_TENANT_ID, AZURE_CLIENT_ID)"
            }
            CredentialKind::AppServiceManagedIdentity => {
                "enable the managed identity of the App Service / Container App (IDENTITY_ENDPOINT, IDENTITY_HEADER)"
            }
            CredentialKind::VmManagedIdentity => {
                "assign a managed identity to the VM, or pass --auth managed-identity on an Azure VM"
            }
            CredentialKind::AzureCli => "install the Azure CLI and run `az login`",
        }
    }
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The DMI chassis asset tag Azure sets on its virtual machines.
pub const AZURE_VM_ASSET_TAG: &str = "7783-7084-3265-9085-8269-3286-77";
/// Where Linux exposes it.
pub const DMI_ASSET_TAG_PATH: &str = "/sys/class/dmi/id/chassis_asset_tag";
/// Overrides [`DMI_ASSET_TAG_PATH`] (tests on CI runners that are themselves Azure VMs must be
/// able to say "not an Azure VM", so that nothing ever probes the metadata endpoint).
pub const DMI_ASSET_TAG_PATH_ENV: &str = "TEZOS_AZURE_SIGNER_DMI_ASSET_TAG_PATH";

/// The environment the chain decides from: variables and the DMI asset tag file. Its `Debug`
/// shows variable names only (values include the client secret).
#[derive(Clone)]
pub struct CredentialEnv {
    vars: HashMap<String, String>,
    dmi_asset_tag_path: PathBuf,
}

impl fmt::Debug for CredentialEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("CredentialEnv")
            .field("vars", &names)
            .field("dmi_asset_tag_path", &self.dmi_asset_tag_path)
            .finish()
    }
}

impl CredentialEnv {
    /// The real process environment (used by the binary only).
    pub fn from_process() -> Self {
        let vars: HashMap<String, String> = std::env::vars().collect();
        let dmi_asset_tag_path = vars
            .get(DMI_ASSET_TAG_PATH_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DMI_ASSET_TAG_PATH));
        CredentialEnv {
            vars,
            dmi_asset_tag_path,
        }
    }

    /// An explicit environment (tests).
    pub fn new<K, V>(vars: impl IntoIterator<Item = (K, V)>, dmi_asset_tag_path: &Path) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        CredentialEnv {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            dmi_asset_tag_path: dmi_asset_tag_path.to_path_buf(),
        }
    }

    /// A variable, when set and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// Whether the machine says it is an Azure VM (DMI chassis asset tag).
    pub fn is_azure_vm(&self) -> bool {
        std::fs::read_to_string(&self.dmi_asset_tag_path)
            .map(|tag| tag.trim() == AZURE_VM_ASSET_TAG)
            .unwrap_or(false)
    }

    /// Whether an `az` executable is on this environment's PATH.
    pub fn az_on_path(&self) -> bool {
        let Some(path) = self.var("PATH") else {
            return false;
        };
        std::env::split_paths(path).any(|dir| is_executable(&dir.join("az")))
    }

    fn missing(&self, names: &[&str]) -> Vec<String> {
        names
            .iter()
            .filter(|n| self.var(n).is_none())
            .map(|n| (*n).to_owned())
            .collect()
    }
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// A credential in the plan: ready to try, or not configured (with the reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Which credential.
    pub kind: CredentialKind,
    /// Why it cannot be tried (e.g. `AZURE_CLIENT_SECRET not set`, `az not found on PATH`);
    /// `None` when it is configured.
    pub unavailable: Option<String>,
}

/// The ordered credentials for `mode` in `env`. Pure: it only looks at variables, the DMI tag
/// and PATH.
pub fn plan(mode: AuthMode, env: &CredentialEnv) -> Vec<Candidate> {
    use CredentialKind::*;
    let kinds: Vec<CredentialKind> = match mode {
        AuthMode::Auto => vec![
            ClientSecret,
            WorkloadIdentity,
            AppServiceManagedIdentity,
            VmManagedIdentity,
            AzureCli,
        ],
        AuthMode::ManagedIdentity => {
            if app_service_configured(env) {
                vec![AppServiceManagedIdentity]
            } else {
                vec![VmManagedIdentity]
            }
        }
        AuthMode::ClientSecret => vec![ClientSecret],
        AuthMode::WorkloadIdentity => vec![WorkloadIdentity],
        AuthMode::AzureCli => vec![AzureCli],
    };
    let explicit = mode != AuthMode::Auto;
    kinds
        .into_iter()
        .map(|kind| Candidate {
            kind,
            unavailable: unavailable(kind, env, explicit),
        })
        .collect()
}

fn app_service_configured(env: &CredentialEnv) -> bool {
    env.var("IDENTITY_ENDPOINT").is_some() && env.var("IDENTITY_HEADER").is_some()
}

fn unavailable(kind: CredentialKind, env: &CredentialEnv, explicit: bool) -> Option<String> {
    let not_set = |names: &[&str]| {
        let missing = env.missing(names);
        (!missing.is_empty()).then(|| format!("{} not set", missing.join(", ")))
    };
    match kind {
        CredentialKind::ClientSecret => {
            not_set(&["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"])
        }
        CredentialKind::WorkloadIdentity => not_set(&[
            "AZURE_FEDERATED_TOKEN_FILE",
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
        ]),
        CredentialKind::AppServiceManagedIdentity => {
            not_set(&["IDENTITY_ENDPOINT", "IDENTITY_HEADER"])
        }
        CredentialKind::VmManagedIdentity => (!explicit && !env.is_azure_vm()).then(|| {
            "not an Azure VM (DMI chassis asset tag does not say so); not probing the metadata endpoint"
                .to_owned()
        }),
        CredentialKind::AzureCli => (!env.az_on_path()).then(|| "az not found on PATH".to_owned()),
    }
}

/// No credential produced a token: every one tried, why, and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.attempts))]
pub struct ChainError {
    /// Each credential of the plan, in order, with why it could not be used or the error its
    /// token request returned.
    pub attempts: Vec<(CredentialKind, String)>,
}

fn render(attempts: &[(CredentialKind, String)]) -> String {
    let mut out = String::from("no Azure credential worked:");
    for (kind, why) in attempts {
        out.push_str(&format!("\n  - {kind}: {why}; fix: {}", kind.fix()));
    }
    out.push_str("\n  (choose one explicitly with --auth or TEZOS_AZURE_SIGNER_AUTH)");
    out
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
