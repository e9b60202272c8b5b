//! Microsoft's Node SDK (@azure/keyvault-keys + @azure/identity, tests/clients/azure-sdk)
//! against the real `tezos-azure-signer emulator --ephemeral --print-env` binary: import,
//! list, get and sign with the App Service managed-identity credential and with the
//! client-secret credential (AZURE_AUTHORITY_HOST at the emulator). Skipped (loudly) only
//! when node_modules is absent and CI is not set; `.ci/run` runs `npm ci` first. Loopback only.

#![cfg(feature = "emulator")]

use std::path::PathBuf;

use crate::running_binary::RunningBinary;
use keyvault_emulator::testkit::verifies;
use serde_json::{Value, json};

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/azure-sdk")
}

#[test]
fn node_sdk_imports_lists_gets_and_signs() {
    let dir = client_dir();
    if !dir.join("node_modules/@azure/keyvault-keys").exists() {
        crate::skip::skipped(
            "Node Key Vault SDK test",
            "@azure/keyvault-keys is not installed",
            "scripts/test.sh installs it when npm is there; or `npm ci` in tests/clients/azure-sdk",
        );
        return;
    }
    let emu = RunningBinary::start(&["--ephemeral"]);
    let vault = emu.var("AZURE_KEYVAULT_URI").to_string();
    let managed_identity = run_smoke(&dir, &emu, &[]);
    check(&vault, &managed_identity);
    // The same through the client-secret credential and the emulator's Entra endpoint.
    let authority = vault.clone();
    let client_secret = run_smoke(
        &dir,
        &emu,
        &[
            ("SMOKE_CREDENTIAL", "client-secret"),
            ("AZURE_TENANT_ID", keyvault_emulator::DEFAULT_TENANT_ID),
            ("AZURE_CLIENT_ID", keyvault_emulator::DEFAULT_CLIENT_ID),
            (
                "AZURE_CLIENT_SECRET",
                keyvault_emulator::DEFAULT_CLIENT_SECRET,
            ),
            ("AZURE_AUTHORITY_HOST", &authority),
        ],
    );
    check(&vault, &client_secret);
}

/// Runs smoke.mjs against the emulator with `extra` env; returns its JSON output.
fn run_smoke(dir: &std::path::Path, emu: &RunningBinary, extra: &[(&str, &str)]) -> Value {
    let mut cmd = std::process::Command::new("node");
    cmd.arg("smoke.mjs").current_dir(dir);
    for var in [
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "IDENTITY_SERVER_THUMBPRINT",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "SMOKE_CREDENTIAL",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in &emu.env {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.env("NODE_EXTRA_CA_CERTS", emu.var("SSL_CERT_FILE"));
    let out = cmd.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node failed ({extra:?}):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("one JSON document")
}

/// The imported keys are HSM keys with ids under the vault, both are listed, and every
/// signature verifies against the imported public key.
fn check(vault: &str, result: &Value) {
    let imported = result["imported"].as_array().expect("imported");
    assert_eq!(imported.len(), 2);
    for (item, crv) in imported.iter().zip(["P-256K", "P-256"]) {
        assert_eq!(item["kty"], "EC-HSM");
        assert_eq!(item["crv"], crv);
        let id = item["id"].as_str().expect("id");
        assert!(
            id.starts_with(&format!(
                "{vault}/keys/{}/",
                item["name"].as_str().expect("name")
            )),
            "{id}"
        );
    }
    let mut listed: Vec<&str> = result["listed"]
        .as_array()
        .expect("listed")
        .iter()
        .map(|l| l["name"].as_str().expect("name"))
        .collect();
    listed.sort();
    assert_eq!(listed, ["node-tz2", "node-tz3"]);

    let sigs = result["signatures"].as_array().expect("signatures");
    assert_eq!(sigs.len(), 8);
    for s in sigs {
        let key = imported
            .iter()
            .find(|i| i["name"] == s["name"])
            .expect("signed key was imported");
        let digest: [u8; 32] =
            keyvault_emulator::testkit::unb64(s["digest"].as_str().expect("digest"))
                .try_into()
                .expect("32 bytes");
        let sig = keyvault_emulator::testkit::unb64(s["signature"].as_str().expect("signature"));
        assert_eq!(sig.len(), 64);
        let bundle = json!({"crv": s["crv"], "x": key["x"], "y": key["y"]});
        assert!(verifies(&bundle, &digest, &sig), "{s}");
        assert_eq!(s["kid"], key["id"]);
    }
}
