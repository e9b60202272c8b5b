//! High watermarks: the double-sign rule ([`rule`], pure), the trait the pipeline stores
//! marks through ([`mark_store`]: [`MarkStore`]), and its two implementations:
//! - [`LocalStore`] ([`local_store`]), the marks of one data directory: one writer thread
//!   over [`DataDir`] ([`data_dir`]: the marks in memory ([`marks`]), the reservation journal
//!   ([`journal`]) and octez-signer's file format ([`format`]) and names ([`files`]) under an
//!   exclusive directory lock ([`lock`]));
//! - [`SharedStore`] ([`shared`]): a local store as the floor and the marks in an Azure Blob
//!   Storage container ([`shared::Container`]) as the arbiter between several signers.
//!
//! Owns: deciding whether a consensus request may be signed, and remembering every signature
//! that was released. Never lets a signature out before its mark is on disk (the signer
//! persists first, then replies), and never resets or guesses a mark it cannot read.

pub(crate) mod data_dir;
pub(crate) mod files;
pub(crate) mod format;
pub(crate) mod journal;
pub(crate) mod local_store;
pub(crate) mod lock;
pub(crate) mod mark_store;
pub(crate) mod marks;
pub(crate) mod rule;
pub(crate) mod shared;

pub use data_dir::{DataDir, Migration, StoreError};
pub use format::file_name;
pub use lock::LOCK_FILE;
pub use mark_store::{LocalStore, MarkStore, Slot};
pub use rule::{Decision, InvalidMark, Mark, MarkRequest, WatermarkError, check};
pub use shared::{SharedError, SharedStore};
