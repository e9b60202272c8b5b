//! Marks imported from another signer carry no signature. For a (pre)attestation the identical
//! request may be signed again (no double sign), but a block's one signature may already be
//! out: the identical block is refused, by the real binary, after `watermarks import`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tezos_azure_signer::tezos::blake2b_256;

use crate::serve_common::{Serving, attestation, block, client, sign};

/// An octez-signer file holding one mark of `pkh` on mainnet at (level, round) for `bytes`.
fn octez_file(pkh: &str, level: i32, round: i32, bytes: &[u8]) -> String {
    format!(
        r#"{{"NetXdQprcVkpaWU": {{"{pkh}": {{"level": {level}, "round": {round}, "hash": "{}"}}}}}}"#,
        hex::encode(blake2b_256(bytes))
    )
}

fn import_octez(data: &Path, octez: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
        .args(["watermarks", "import", "--from", "octez"])
        .arg(octez)
        .arg("--data-dir")
        .arg(data)
        .env_remove("RUST_LOG")
        .output()
        .expect("run watermarks import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_block_mark_without_signature_refuses_the_identical_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, octez) = (dir.path().join("data"), dir.path().join("octez"));
    std::fs::create_dir(&octez).expect("mkdir");
    // The demo keys are made at the first start and kept in the data directory.
    let mut serving = Serving::start(&data, &[]);
    let tz2 = serving.tz2.clone();
    serving.terminate(Duration::from_secs(10));

    let (blk, att) = (block(700, 1, 3), attestation(700, 1, 3));
    let bytes = |h: &str| hex::decode(h).expect("hex");
    std::fs::write(
        octez.join("block_high_watermarks"),
        octez_file(&tz2, 700, 1, &bytes(&blk)),
    )
    .expect("write");
    std::fs::write(
        octez.join("attestation_high_watermarks"),
        octez_file(&tz2, 700, 1, &bytes(&att)),
    )
    .expect("write");
    import_octez(&data, &octez);

    let serving = Serving::start(&data, &[]);
    let http = client();
    let (status, body) = sign(&http, &serving.url, &tz2, &blk).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.to_string()
            .contains("block level 700 and round 1 is marked without a recorded signature"),
        "{body}"
    );
    // Still refused on a retry: a block is never signed a second time.
    assert_eq!(sign(&http, &serving.url, &tz2, &blk).await.0, 409);
    // The identical attestation is signed (identical attestation bytes are no double sign).
    let (status, body) = sign(&http, &serving.url, &tz2, &att).await;
    assert_eq!(status, 200, "{body}");
    // The next round's block is signed, and its identical retry gets the same signature.
    let next = block(700, 2, 3);
    let (status, first) = sign(&http, &serving.url, &tz2, &next).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = sign(&http, &serving.url, &tz2, &next).await;
    assert_eq!((status, &again), (200, &first));
}
