//! Regression tests for the defects adversarial testing found (issue 8), each through the real
//! binary: `serve --dev` (in-process Key Vault emulator, production code path).

mod serve_common;

use std::time::Duration;

use serve_common::{Serving, attestation, block, client, preattestation, sign};

fn msg(body: &serde_json::Value) -> String {
    body[0]["msg"].as_str().unwrap_or_default().to_string()
}

/// Negative levels and rounds used to be signed and persisted, and the next start refused the
/// store's own file ("negative round -1"): the baker was down until someone edited JSON.
#[tokio::test]
async fn negative_levels_and_rounds_are_refused_and_the_signer_still_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut serving = Serving::start(dir.path(), &[]);
    let c = client();
    let cases = [
        (preattestation(100, -1, 1), "negative round -1 at byte 44"),
        (attestation(100, -1, 1), "negative round -1 at byte 44"),
        (attestation(-1, 0, 1), "negative level -1 at byte 40"),
        (
            preattestation(i32::MIN, 0, 1),
            "negative level -2147483648 at byte 40",
        ),
        (block(-7, 0, 1), "negative level -7 at byte 5"),
        (block(100, -1, 1), "negative round -1 at byte 116"),
    ];
    for (hex, needle) in &cases {
        for pkh in [&serving.tz2, &serving.tz3] {
            let (status, body) = sign(&c, &serving.url, pkh, hex).await;
            assert_eq!(status, 400, "{needle}: {body}");
            assert!(msg(&body).contains(needle), "{needle}: {body}");
        }
    }
    let (status, body) = sign(&c, &serving.url, &serving.tz2, &preattestation(100, 0, 1)).await;
    assert_eq!(status, 200, "{body}");
    assert!(serving.terminate(Duration::from_secs(20)).success());

    // The data directory the refused requests were sent to opens again, with the valid mark.
    let serving = Serving::start(dir.path(), &[]);
    let (status, body) = sign(&c, &serving.url, &serving.tz2, &preattestation(100, 0, 2)).await;
    assert_eq!(
        status, 409,
        "the mark at (100, 0) survived the restart: {body}"
    );
}
