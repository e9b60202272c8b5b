#![warn(unreachable_pub, missing_docs)]
//! tezos-azure-signer: an octez-compatible remote signer for tz2/tz3 keys held in Azure Key
//! Vault. See DESIGN in the README for the data flow of one signature.
//!
//! - [`tezos`]: the Tezos codec (pure, no I/O): keys, signatures, signing requests.
//! - [`keyfile`]: reading key files (PEM, JWK, base58) into key types.
//! - [`vault`]: the Key Vault trait, the Azure SDK implementation and the credential chain.
//! - [`watermark`]: the double-sign rule and its durable store.
//! - [`policy`], [`auth`]: what may be signed (kinds, chains, field rules, 24-hour totals),
//!   and who may ask; [`confirm`]: requests held for a person.
//! - [`signer`]: the signing pipeline that ties them together.
//! - [`server`]: the octez-compatible HTTP API.
//! - `emulator`: the bundled Key Vault stand-in, the `keyvault-emulator` workspace crate
//!   (feature `emulator`).
//! - [`commands`]: one folder or file per subcommand; [`cli`] holds the clap definition and
//!   `main` (dispatch), and generates the completions and man pages.

pub mod auth;
pub mod cli;
pub mod commands;
pub mod confirm;
/// The Key Vault emulator crate, for `serve --dev` and the `emulator` subcommand.
#[cfg(feature = "emulator")]
pub use keyvault_emulator as emulator;
pub mod keyfile;
pub(crate) mod latency;
pub(crate) mod logging;
pub mod policy;
pub use private_fs;
pub mod server;
pub mod signer;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tezos;
pub mod vault;
pub mod watermark;
