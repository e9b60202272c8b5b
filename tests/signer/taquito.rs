//! A real client: Taquito's `@taquito/remote-signer` drives a running `serve --dev` (public
//! key, pkh, and block / preattestation / attestation signatures for tz2 and tz3), and checks
//! every signature with Taquito's own verification (`@taquito/utils` verifySignature).
//! Needs `npm ci` in tests/clients/taquito (done by .ci/run); skipped loudly only outside CI.

use std::path::Path;
use std::process::Command;

use crate::serve_common::{Serving, attestation, block, preattestation};

#[test]
fn taquito_remote_signer_signs_and_verifies_tz2_and_tz3() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/taquito");
    if !dir.join("node_modules/@taquito/remote-signer").exists() {
        crate::skip::skipped(
            "Taquito client test",
            "@taquito/remote-signer is not installed",
            "scripts/test.sh installs it when npm is there; or `npm ci` in tests/clients/taquito",
        );
        return;
    }
    let data = tempfile::tempdir().expect("temp dir");
    let server = Serving::start(data.path(), &[]);
    let job = serde_json::json!({
        "keys": [
            { "pkh": server.tz2, "payloads": {
                "block": block(500, 0, 3),
                "preattestation": preattestation(500, 0, 3),
                "attestation": attestation(500, 0, 3),
            }},
            { "pkh": server.tz3, "payloads": {
                "block": block(500, 0, 4),
                "preattestation": preattestation(500, 0, 4),
                "attestation": attestation(500, 0, 4),
            }},
        ]
    });
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("check.js")
        .arg(&server.url)
        .arg(job.to_string())
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Taquito check failed:\n{stdout}\n{stderr}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    // One public-key line and three verified signatures per key.
    assert_eq!(lines.len(), 8, "{stdout}");
    let verified = lines.iter().filter(|l| l["verified"] == true).count();
    assert_eq!(verified, 6, "{stdout}");
    // tz2 signatures must be low-S (libsecp256k1 in octez rejects high S; the emulator returns
    // high S about half the time, so this checks normalisation end to end).
    for line in lines
        .iter()
        .filter(|l| l["pkh"] == *server.tz2 && l["signature"].is_string())
    {
        let sig: tezos_azure_signer::tezos::Signature = line["signature"]
            .as_str()
            .expect("string")
            .parse()
            .expect("base58 signature");
        assert!(sig.is_low_s(), "high-S tz2 signature {line}");
    }
    for (pkh, prefix) in [(&server.tz2, "sppk"), (&server.tz3, "p2pk")] {
        assert!(
            lines.iter().any(|l| l["pkh"] == **pkh
                && l["public_key"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(prefix))),
            "{stdout}"
        );
    }
}
