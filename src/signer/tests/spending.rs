//! The policy's rolling 24-hour total through the pipeline: counted durably before the vault
//! is called, refused beyond the limit without a vault call, and kept across a restart.

use std::sync::Arc;

use super::testkit::*;
use crate::policy::spending::SpendingLedger;
use crate::policy::{MagicBytes, Policy, PolicyRules};
use crate::signer::*;
use crate::testing::MemoryVault;
use crate::watermark::LocalStore;

/// A transaction of 10 mutez (fee 987, storage limit 1,405) to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx:
/// a value at risk of 352,247 mutez, two of which fit the limit of 880,617.
const TX: &str = "6c00e7670f32038107a59a2b9cfefae36ea21f5aa63cdb07c80300fd0a0a000002298c03ed7d454a101eb7022bc95f7e5f41ac7800";

fn tx() -> Vec<u8> {
    let mut b = vec![0x03];
    b.extend([0x22u8; 32]);
    b.extend(hex::decode(TX).expect("hex"));
    b
}

async fn signer_on(dir: &std::path::Path, vault: Arc<MemoryVault>) -> Signer {
    let rules = PolicyRules::parse(
        "[default]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n\
         [default.transaction]\nmax_total_24h = \"0.880617\"\n",
    )
    .expect("policy");
    let config = SignerConfig {
        policy: Policy::new(MagicBytes::new([0x03]), Some(rules)),
        spending: Some(Arc::new(
            SpendingLedger::open(dir, false).expect("ledger").0,
        )),
        ..SignerConfig::default()
    };
    let store = LocalStore::open(dir).expect("store");
    Signer::new(vault, Arc::new(store), config)
        .await
        .expect("signer")
}

#[tokio::test]
async fn the_24_hour_total_is_enforced_before_the_vault_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = Arc::new(MemoryVault::new());
    let pkh = vault.add("baker", SPSK);
    {
        let signer = signer_on(dir.path(), vault.clone()).await;
        signer.sign(&pkh, &tx(), None).await.expect("one");
        signer.sign(&pkh, &tx(), None).await.expect("two");
        let msg = refusal(signer.sign(&pkh, &tx(), None).await);
        assert!(msg.contains("max_total_24h"), "{msg}");
        assert_eq!(vault.signs(), 2, "no vault call for the refused request");
    }
    // After a restart the total is still two of them.
    let signer = signer_on(dir.path(), vault.clone()).await;
    let msg = refusal(signer.sign(&pkh, &tx(), None).await);
    assert!(
        msg.contains("0.704494 ꜩ already at risk in the last 24 hours"),
        "{msg}"
    );
    assert_eq!(vault.signs(), 2);
}
