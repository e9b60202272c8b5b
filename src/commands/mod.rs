//! One folder or file per subcommand, each with its clap arguments, their conversion into the
//! library's plain settings, and its `run` returning the process exit code. [`args`] holds
//! what several commands share. Commands never import `cli` (which dispatches to them) nor a
//! sibling command's internals.

pub(crate) mod args;
#[cfg(feature = "emulator")]
pub(crate) mod emulator;
pub(crate) mod import;
pub(crate) mod serve;
/// The Key Vault emulator behind `serve --dev` (for the tests and benches that run it).
#[cfg(feature = "emulator")]
pub use serve::dev::DevVault;
pub(crate) mod sign;
pub(crate) mod verify;
pub(crate) mod watermarks;

pub use args::{GlobalArgs, VaultArgs};

/// A small runtime for commands that call the vault from synchronous code (import, verify).
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
