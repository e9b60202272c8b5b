//! One file per subcommand. `main` parses the command line, sets up logging and dispatches;
//! each command returns its process exit code.

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

#[cfg(feature = "emulator")]
pub mod emulator;
pub mod import;
pub mod serve;
pub mod serve_args;
#[cfg(feature = "emulator")]
pub mod serve_dev;
pub mod verify;
pub mod verify_vault;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(cli.global.verbose, cli.global.log_format);
    match cli.command {
        Command::Serve(args) => serve::run(&cli.global, args),
        Command::Verify(args) => verify::run(&cli.global, args),
        Command::Import(args) => import::run(&cli.global, args),
        #[cfg(feature = "emulator")]
        Command::Emulator(args) => emulator::run(&cli.global, args),
    }
}

/// A small runtime for commands that call the vault from synchronous code (import, verify).
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
