//! High watermarks: the double-sign rule ([`rule`], pure), the trait the pipeline stores
//! marks through ([`mark_store`]: [`MarkStore`]), the file store behind it ([`store`], in
//! octez-signer's file format ([`format`]) and names ([`files`]) under an exclusive directory
//! lock ([`lock`])), and the store several signers share on Azure Blob Storage ([`shared`]).
//!
//! Owns: deciding whether a consensus request may be signed, and remembering every signature
//! that was released. Never lets a signature out before its mark is on disk (the signer
//! persists first, then replies), and never resets or guesses a mark it cannot read.

pub mod file_store;
pub mod files;
pub mod format;
pub mod journal;
pub mod lock;
pub mod mark_store;
pub mod marks;
pub mod rule;
pub mod shared;
pub mod store;

pub use format::file_name;
pub use lock::LOCK_FILE;
pub use mark_store::{FileStore, MarkStore, Slot};
pub use rule::{Decision, InvalidMark, Mark, MarkRequest, WatermarkError, check};
pub use shared::{SharedError, SharedStore};
pub use store::{Migration, StoreError, WatermarkStore};
