//! The test doubles, one of each, shared by the unit tests, the integration tests and the
//! benches (feature `testing`, which the crate's own dev-dependency on itself turns on; never
//! in a release build): [`MemoryVault`], an in-memory [`crate::vault::Vault`] that really
//! signs, and [`signer_over`], the real signing pipeline over it (what the HTTP tests drive).

pub mod forge;
mod memory_blobs;
mod memory_vault;
pub mod requests;

pub use memory_blobs::MemoryBlobs;
pub use memory_vault::{MemoryVault, Mode};

use std::path::Path;
use std::sync::Arc;

use crate::signer::{Signer, SignerConfig};
use crate::watermark::LocalStore;

/// The real signer over `vault` (a [`MemoryVault`], or a set of them), its marks in files in
/// `dir` as in production.
pub async fn signer_over(
    vault: Arc<dyn crate::vault::Vault>,
    dir: &Path,
    config: SignerConfig,
) -> Arc<Signer> {
    let store = LocalStore::open(dir).expect("a watermark store in the test's directory");
    let signer = Signer::new(vault, Arc::new(store), config)
        .await
        .expect("the signer starts over the memory vault");
    Arc::new(signer)
}

/// The test vectors' secp256k1 secret key (tz2SSuN7…).
pub const TZ2_SECRET: &str = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5";
/// The pkh of [`TZ2_SECRET`].
pub const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
/// The test vectors' P-256 secret key (tz3ZxowX…).
pub const TZ3_SECRET: &str = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9";
/// The pkh of [`TZ3_SECRET`].
pub const TZ3: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";
