//! The clap command line: global options and one variant per subcommand. The same definition
//! generates `completions/` and `man/` (see `tests/assets.rs`).

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tezos-azure-signer",
    version,
    about = "Tezos remote signer for tz2/tz3 keys held in Azure Key Vault",
    long_about = "An octez-compatible remote signer for Tezos bakers whose secp256k1 (tz2) and \
P-256 (tz3) keys live in Azure Key Vault, with durable high-watermark double-sign protection."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Key Vault URL, e.g. https://myvault.vault.azure.net
    #[arg(long, global = true, env = "AZURE_KEYVAULT_URI", value_name = "URL")]
    pub vault_url: Option<url::Url>,
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
    #[arg(long, env = "TEZOS_AZURE_SIGNER_AUTH", value_enum, default_value_t = crate::vault::credentials::AuthMode::Auto)]
    pub auth: crate::vault::credentials::AuthMode,
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

/// Parses `3s`, `1500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the octez-compatible remote signer (`--dev`: with the bundled emulator).
    Serve(crate::commands::serve::ServeArgs),
    /// Check tz2/tz3 public key hashes and signatures (for baker setup scripts).
    Verify(crate::commands::verify::VerifyArgs),
    /// Import secret keys from files into the vault (HSM-protected unless --software).
    Import(crate::commands::import::ImportArgs),
    /// Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests.
    #[cfg(feature = "emulator")]
    Emulator(crate::commands::emulator::EmulatorArgs),
}
