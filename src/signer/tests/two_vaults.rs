//! The pipeline over two vaults holding the same keys, both answering every request (the
//! hedge delay is zero, so both are asked every time): a block gets one signature, ever — the
//! one recorded before release — across many levels, retries and a restart.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::testkit::*;
use crate::signer::*;
use crate::testing::MemoryVault;
use crate::vault::{HedgeConfig, HedgeDelay, Vault, VaultSet};

fn both_asked(a: &Arc<MemoryVault>, b: &Arc<MemoryVault>) -> Arc<dyn Vault> {
    Arc::new(VaultSet::new(
        vec![
            ("https://a.example/".into(), a.clone() as Arc<dyn Vault>),
            ("https://b.example/".into(), b.clone() as Arc<dyn Vault>),
        ],
        HedgeConfig {
            delay: HedgeDelay::Fixed(Duration::ZERO),
            max_ratio: 1.0,
            demote_after: u32::MAX,
            ..HedgeConfig::default()
        },
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_signed_through_two_racing_vaults_releases_one_signature() {
    let (a, b) = (Arc::new(MemoryVault::new()), Arc::new(MemoryVault::new()));
    let pkh = a.add("baker", SPSK);
    b.add("baker-west", SPSK);
    // The second vault is asked a moment after the first and answers about as soon.
    a.set_latency(Duration::from_millis(3));
    b.set_latency(Duration::from_millis(2));
    let dir = tempfile::tempdir().unwrap();
    let mut last = None;
    for (restart, levels) in [(false, 1..=40), (true, 41..=60)] {
        let signer =
            crate::testing::signer_over(both_asked(&a, &b), dir.path(), SignerConfig::default())
                .await;
        let pk = signer.public_key(&pkh).await.unwrap();
        // After the restart, the last block asked again gets the signature released before.
        if restart {
            let (bytes, before): (Vec<u8>, crate::tezos::Signature) = last.take().unwrap();
            let again = signer.sign(&pkh, &bytes, None).await.unwrap();
            assert!(again.replayed());
            assert_eq!(again.signature, before);
        }
        for level in levels {
            let bytes = block(level, 0, 1);
            let mut seen = HashSet::new();
            for _ in 0..3 {
                let signed = signer.sign(&pkh, &bytes, None).await.unwrap();
                pk.verify(&bytes, &signed.signature).unwrap();
                seen.insert(signed.signature.to_string());
                last = Some((bytes.clone(), signed.signature));
            }
            assert_eq!(seen.len(), 1, "level {level}: {seen:?}");
        }
        drop(signer);
    }
    // Both vaults were asked for most blocks (each signs with a random nonce), yet each block
    // left with one signature.
    assert!(
        a.signs() >= 20 && b.signs() >= 20,
        "{} {}",
        a.signs(),
        b.signs()
    );
}
