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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check tz2/tz3 public key hashes and signatures (for baker setup scripts).
    Verify(crate::commands::verify::VerifyArgs),
    /// Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests.
    #[cfg(feature = "emulator")]
    Emulator(crate::commands::emulator::EmulatorArgs),
}
