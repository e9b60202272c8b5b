//! The 24-hour spending log under `serve`: spends survive a restart, a log deleted from a
//! data directory that has signed stops the next start (with the way back), and
//! `--reset-spending` starts from zero deliberately. `--confirm` takes 0x03 and 0x05 only.

use std::process::Stdio;

use tezos_azure_signer::testing::forge;

use crate::serve_common::{Serving, client, serve_dev, try_sign};

const FRIEND: &str = "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx";

fn transfer(source: &str, tez: u128) -> String {
    hex::encode(forge::request(&[forge::transaction(
        source,
        forge::CHEAP,
        tez * 1_000_000,
        FRIEND,
        None,
    )]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_spending_log_stops_serve_until_reset_deliberately() {
    let http = client();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[default]\nkinds = [\"block\", \"preattestation\", \"attestation\", \"generic\"]\n\
         generic = [\"transaction\"]\n[default.spending]\nmax_total_24h = \"10\"\n",
    )
    .expect("policy");
    let args = [
        "--policy",
        policy.to_str().expect("utf-8"),
        "--magic-bytes",
        "0x11,0x12,0x13,0x03",
    ];
    let mut server = Serving::start(&data, &args);
    let key = server.tz2.clone();
    let (status, body) = try_sign(&http, &server.url, &key, &transfer(&key, 9))
        .await
        .expect("answer");
    assert_eq!(status, 200, "{body}");
    server.kill();
    // Kept across a restart: 9 of 10 spent.
    let mut server = Serving::start(&data, &args);
    let (status, body) = try_sign(&http, &server.url, &key, &transfer(&key, 2))
        .await
        .expect("answer");
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("max_total_24h"), "{body}");
    server.kill();

    std::fs::remove_file(data.join("spending.log")).expect("delete the log");
    let out = serve_dev(&data, "off")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("spending.log") && stderr.contains("--reset-spending"),
        "{stderr}"
    );
    let mut with_reset = args.to_vec();
    with_reset.push("--reset-spending");
    let mut server = Serving::start(&data, &with_reset);
    let (status, body) = try_sign(&http, &server.url, &key, &transfer(&key, 2))
        .await
        .expect("answer");
    assert_eq!(status, 200, "from zero, deliberately: {body}");
    server.kill();
}

#[test]
fn confirm_takes_operations_and_michelson_data_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    for byte in ["0x04", "0x11", "0x13"] {
        let out = serve_dev(&dir.path().join("data"), "off")
            .args(["--confirm", byte])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{byte}: {stderr}");
        assert!(
            stderr.contains("cannot be confirmed by a person"),
            "{stderr}"
        );
    }
}
