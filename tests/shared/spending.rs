//! One 24-hour budget across two signers sharing one container (issue 17): with
//! `--shared-watermarks`, each key's spends are counted by compare-and-swap in the container
//! before the vault is called, so 250 ꜩ + 250 ꜩ asked of two signers at once against a daily
//! 250 ꜩ signs one of them (on the code before, each signer kept its own total and signed
//! both).

// Azurite only through `Azurite::start`: 127.0.0.1 and `--disableTelemetry`, nothing
// leaves loopback.
use crate::azurite::{Azurite, launcher};
use crate::serve_common::{client, sign};
use crate::signers::{KEY, SharedSigner, assert_valid, public_key, vault};
use tezos_azure_signer::testing::forge;

const FRIEND: &str = "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx";
const TEZ: u128 = 1_000_000;

fn transfer(tez: u128, counter_fee: u128) -> String {
    let limits = forge::Limits {
        fee: counter_fee,
        storage_limit: 0,
    };
    hex::encode(forge::request(&[forge::transaction(
        KEY,
        limits,
        tez * TEZ,
        FRIEND,
        None,
    )]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_signers_enforce_one_daily_total() {
    let Some(bin) = launcher() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[default]\nkinds = [\"block\", \"preattestation\", \"attestation\", \"generic\"]\n\
         generic = [\"transaction\"]\n[default.spending]\nmax_total_24h = \"250.01\"\n",
    )
    .expect("policy");
    let azurite = Azurite::start(bin, None);
    azurite.create_container("marks").await;
    let vault = vault(dir.path());
    let shared = azurite.url("marks", "bakers");
    let args = [
        "--policy",
        policy.to_str().expect("utf-8"),
        "--magic-bytes",
        "0x11,0x12,0x13,0x03",
    ];
    let a = SharedSigner::start_with(&vault, &dir.path().join("a"), &shared, &args);
    let b = SharedSigner::start_with(&vault, &dir.path().join("b"), &shared, &args);
    let http = client();
    let key = public_key(&http, &a.url).await;

    // 250 ꜩ asked of each signer at once (different bytes: different fees).
    let (on_a, on_b) = (transfer(250, 1_000), transfer(250, 2_000));
    let (ra, rb) = tokio::join!(
        sign(&http, &a.url, KEY, &on_a),
        sign(&http, &b.url, KEY, &on_b)
    );
    let signed: Vec<_> = [(&ra, &on_a), (&rb, &on_b)]
        .into_iter()
        .filter(|((status, _), _)| *status == 200)
        .collect();
    assert_eq!(signed.len(), 1, "exactly one of the two: {ra:?} {rb:?}");
    let ((_, body), hex) = signed[0];
    assert_valid(&key, hex, body);
    let refused = if ra.0 == 200 { &rb } else { &ra };
    assert_eq!(refused.0, 403, "{refused:?}");
    assert!(
        refused.1.to_string().contains("max_total_24h"),
        "{refused:?}"
    );
    // Then each signer refuses even 1 ꜩ more: the total is the container's.
    for url in [&a.url, &b.url] {
        let (status, body) = sign(&http, url, KEY, &transfer(1, 3_000)).await;
        assert_eq!(status, 403, "{body}");
    }
}
