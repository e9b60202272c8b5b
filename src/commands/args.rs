//! The arguments every command shares, as clap parses them, and their one conversion into the
//! library's plain settings ([`VaultSettings`]; logging takes verbosity and [`LogFormat`]).
//! Clap's value enums for the library's [`AuthMode`] and [`LogFormat`] are implemented here,
//! so the library itself never names a clap type.

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::logging::LogFormat;
use crate::vault::VaultSettings;
use crate::vault::credentials::AuthMode;

/// The options every subcommand accepts (`global = true`: before or after its name); the vault
/// URL is turned into [`VaultSettings`] together with a command's [`VaultArgs`].
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Key Vault URL, e.g. https://myvault.vault.azure.net. Give it again for a second vault
    /// holding the same keys (another region): the first is preferred, the others take over
    /// when it fails or is slow (in the environment: a comma-separated list).
    #[arg(long, global = true, env = "AZURE_KEYVAULT_URI", value_name = "URL", value_delimiter = ',', action = clap::ArgAction::Append)]
    pub vault_url: Vec<url::Url>,
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How to reach and authenticate to the vault (flattened into every subcommand that uses it).
#[derive(Debug, Clone, clap::Args)]
pub struct VaultArgs {
    /// How to authenticate to Azure (auto: client secret, workload identity, managed identity,
    /// Azure CLI — the first that is configured).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_AUTH", value_enum, default_value_t = AuthMode::Auto)]
    pub auth: AuthMode,
    /// Total time for one signature, retries included (e.g. 3s, 1500ms).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_SIGN_DEADLINE", value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub sign_deadline: std::time::Duration,
    /// Total time for one read or import (listing, get, import), retries included.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_READ_DEADLINE", value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub read_deadline: std::time::Duration,
    /// An extra CA certificate (PEM) to trust for the vault and token endpoints (e.g. the
    /// emulator's); the system roots stay trusted.
    #[arg(long, env = "TEZOS_AZURE_SIGNER_VAULT_CA", value_name = "FILE")]
    pub vault_ca: Option<std::path::PathBuf>,
}

/// A `--shared-watermarks` / `watermarks push` URL.
pub(crate) fn parse_shared_location(
    text: &str,
) -> Result<crate::watermark::shared::SharedLocation, String> {
    crate::watermark::shared::SharedLocation::parse(text).map_err(|e| e.to_string())
}

/// Parses `3s`, `1500ms`, `2m` or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 3s or 1500ms"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s or m")),
    };
    if d.is_zero() {
        return Err("duration must be positive".into());
    }
    Ok(d)
}

/// No data directory was given and none could be derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("data directory: neither --data-dir, STATE_DIRECTORY nor HOME is set")]
pub struct NoDataDir;

/// The data directory of `serve`, `sign` and `watermarks`: `flag`, else `$STATE_DIRECTORY` (systemd; the
/// first of several colon-separated ones), else `~/.tezos-azure-signer`; `dev` uses a `dev`
/// subdirectory of the default so demo watermarks never mix with real ones.
pub(crate) fn resolve_data_dir(
    flag: Option<&std::path::Path>,
    dev: bool,
) -> Result<std::path::PathBuf, NoDataDir> {
    use std::path::PathBuf;
    if let Some(dir) = flag {
        return Ok(dir.to_path_buf());
    }
    let base = match std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(
            v.to_string_lossy()
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
        None => {
            let home = std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .ok_or(NoDataDir)?;
            PathBuf::from(home).join(".tezos-azure-signer")
        }
    };
    Ok(if dev { base.join("dev") } else { base })
}

impl VaultArgs {
    /// The library's vault settings: these flags and the global `--vault-url`.
    pub fn settings(&self, global: &GlobalArgs) -> VaultSettings {
        VaultSettings {
            urls: global.vault_url.clone(),
            auth: self.auth,
            sign_deadline: self.sign_deadline,
            read_deadline: self.read_deadline,
            extra_ca: self.vault_ca.clone(),
            hedge: crate::vault::HedgeConfig::default(),
        }
    }
}

impl ValueEnum for AuthMode {
    fn value_variants<'a>() -> &'a [Self] {
        &AuthMode::ALL
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(self.help()))
    }
}

impl ValueEnum for LogFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &LogFormat::ALL
    }
    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_enums_round_trip_their_names() {
        for mode in AuthMode::ALL {
            assert_eq!(AuthMode::from_str(mode.name(), false), Ok(mode));
        }
        for format in LogFormat::ALL {
            assert_eq!(LogFormat::from_str(format.name(), true), Ok(format));
        }
        assert!(AuthMode::from_str("password", false).is_err());
    }
}
