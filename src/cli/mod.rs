//! The clap command line: the global options and one variant per subcommand, and `main`,
//! which parses it, sets up logging and dispatches. The same definition generates
//! `completions/` and `man/` ([`assets`], checked by `tests/cli/assets.rs`).
//!
//! The import graph runs one way: `cli` → `commands` (each command's clap arguments and its
//! conversion into the library's plain settings) → the library. Nothing under `commands` or
//! the library imports `cli`, and no library module names a clap type.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{self, GlobalArgs};

pub mod assets;

/// The whole command line: global options and one subcommand. `--help` shows the `about`
/// texts set in `#[command]`, not this comment.
#[derive(Debug, Parser)]
#[command(
    name = "tezos-azure-signer",
    version,
    about = "Tezos remote signer for tz2/tz3 keys held in Azure Key Vault",
    long_about = "An octez-compatible remote signer for Tezos bakers whose secp256k1 (tz2) and \
P-256 (tz3) keys live in Azure Key Vault, with durable high-watermark double-sign protection."
)]
pub struct Cli {
    /// Options accepted before or after any subcommand (vault URL, verbosity, log format).
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The subcommand given (`serve`, `verify`, `import`, `sign`, …) with its own arguments.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, each holding its own parsed arguments; [`main`] dispatches on it.
// Parsed once per process: the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the octez-compatible remote signer (`--dev`: with the bundled emulator).
    Serve(commands::serve::ServeArgs),
    /// Check tz2/tz3 public key hashes and signatures (for baker setup scripts).
    Verify(commands::verify::VerifyArgs),
    /// Import secret keys from files into the vault (HSM-protected unless --software).
    Import(commands::import::ImportArgs),
    /// Sign one request after you have seen it decoded and confirmed it.
    Sign(commands::sign::SignArgs),
    /// Show the high watermarks, or import another signer's (never lowering one).
    Watermarks(commands::watermarks::WatermarksArgs),
    /// Run the bundled Azure Key Vault emulator (HTTPS on loopback) for development and tests.
    #[cfg(feature = "emulator")]
    Emulator(commands::emulator::EmulatorArgs),
}

/// The process: parse the command line, set up logging, run the command, return its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let lost_log_lines = crate::logging::init(cli.global.verbose, cli.global.log_format);
    match cli.command {
        Command::Serve(args) => commands::serve::run(&cli.global, args, lost_log_lines),
        Command::Verify(args) => commands::verify::run(&cli.global, args),
        Command::Import(args) => commands::import::run(&cli.global, args),
        Command::Sign(args) => commands::sign::run(&cli.global, args),
        Command::Watermarks(args) => commands::watermarks::run(&cli.global, args),
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => commands::emulator::run(&cli.global, args),
    }
}
