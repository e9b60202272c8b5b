//! The test doubles, one of each, shared by the unit tests, the integration tests and the
//! benches (feature `testing`, which the crate's own dev-dependency on itself turns on; never
//! in a release build): [`MemoryVault`], an in-memory [`crate::vault::Vault`] that really
//! signs, and [`StubSigner`], a [`crate::server::SignerApi`] that signs locally, for testing
//! the HTTP layer without the pipeline.

pub mod forge;
mod memory_blobs;
mod memory_vault;
pub mod requests;
mod stub_signer;

pub use memory_blobs::MemoryBlobs;
pub use memory_vault::{MemoryVault, Mode};
pub use stub_signer::StubSigner;

/// The test vectors' secp256k1 key (tz2SSuN7…) and P-256 key (tz3ZxowX…).
pub const TZ2_SECRET: &str = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5";
pub const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
pub const TZ3_SECRET: &str = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9";
pub const TZ3: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";
