//! Shared by the signer tests: key material, payload builders from the request vectors, and
//! a signer over the in-memory vault in a temporary data directory.

use std::sync::Arc;

use crate::signer::*;
use crate::testing::MemoryVault;

pub(super) const SPSK: &str = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5";
pub(super) const P2SK: &str = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9";
pub(super) const OTHER_SPSK: &str = "spsk2rBDDeUqakQ42nBHDGQTtP3GErb6AahHPwF9bhca3Q5KA5HESE";

pub(super) fn vector(name: &str) -> (Vec<u8>, serde_json::Value) {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/vectors/requests.json")).unwrap();
    let entry = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()
        .clone();
    (hex::decode(entry["hex"].as_str().unwrap()).unwrap(), entry)
}

/// A (pre)attestation built from a vector: level, round, and a payload-hash byte.
pub(super) fn consensus(
    name: &str,
    chain: [u8; 4],
    level: i32,
    round: i32,
    variant: u8,
) -> Vec<u8> {
    let (mut b, _) = vector(name);
    b[1..5].copy_from_slice(&chain);
    b[40..44].copy_from_slice(&level.to_be_bytes());
    b[44..48].copy_from_slice(&round.to_be_bytes());
    b[48] = variant;
    b
}

/// A block built from the unlocked round-0 vector (fitness length 33).
pub(super) fn block(level: i32, round: i32, variant: u8) -> Vec<u8> {
    let (mut b, _) = vector("block_round0_unlocked");
    b[5..9].copy_from_slice(&level.to_be_bytes());
    b[96..100].copy_from_slice(&level.to_be_bytes());
    b[116..120].copy_from_slice(&round.to_be_bytes());
    b[49] = variant;
    b
}

pub(super) const MAIN: [u8; 4] = [0x7a, 0x06, 0xa7, 0x70];
pub(super) const TEST: [u8; 4] = [1, 2, 3, 4];

pub(super) struct Setup {
    pub vault: Arc<MemoryVault>,
    pub signer: Arc<Signer>,
    pub dir: tempfile::TempDir,
    pub tz2: Pkh,
    pub tz3: Pkh,
}

pub(super) async fn setup(config: SignerConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    setup_in(dir, config).await
}

pub(super) async fn setup_in(dir: tempfile::TempDir, config: SignerConfig) -> Setup {
    let vault = Arc::new(MemoryVault::new());
    let tz2 = vault.add("baker-tz2", SPSK);
    let tz3 = vault.add("baker-tz3", P2SK);
    let signer = crate::testing::signer_over(vault.clone(), dir.path(), config).await;
    Setup {
        vault,
        signer,
        dir,
        tz2,
        tz3,
    }
}

pub(super) fn refusal(r: Result<Signed, SignError>) -> String {
    match r {
        Ok(s) => panic!("expected a refusal, got {}", s.signature),
        Err(e) => e.to_string(),
    }
}
