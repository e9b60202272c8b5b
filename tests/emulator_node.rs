//! Microsoft's Node SDK (@azure/keyvault-keys + @azure/identity, tests/clients/azure-sdk)
//! against the real `tezos-azure-signer emulator --ephemeral --print-env` binary: import,
//! list, get and sign with the App Service managed-identity credential. Skipped (loudly) only
//! when node_modules is absent and CI is not set; `.ci/run` runs `npm ci` first. Loopback only.

mod emulator_common;

use std::path::PathBuf;

use emulator_common::{RunningBinary, verifies};
use serde_json::{Value, json};

fn client_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients/azure-sdk")
}

#[test]
fn node_sdk_imports_lists_gets_and_signs() {
    let dir = client_dir();
    if !dir.join("node_modules/@azure/keyvault-keys").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but {}/node_modules is missing: run `npm ci` there (.ci/run does)",
            dir.display()
        );
        eprintln!(
            "\n*** SKIPPED node_sdk_imports_lists_gets_and_signs: no node_modules in {} ***\n\
             *** run `npm ci` in that folder to enable the Node SDK test ***\n",
            dir.display()
        );
        return;
    }
    let emu = RunningBinary::start(&["--ephemeral"]);
    let mut cmd = std::process::Command::new("node");
    cmd.arg("smoke.mjs").current_dir(&dir);
    for var in [
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
        "IDENTITY_SERVER_THUMBPRINT",
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
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
    cmd.env("NODE_EXTRA_CA_CERTS", emu.var("SSL_CERT_FILE"));
    let out = cmd.output().expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "node failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.trim()).expect("one JSON document");

    let vault = emu.var("AZURE_KEYVAULT_URI");
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
        let digest: [u8; 32] = emulator_common::unb64(s["digest"].as_str().expect("digest"))
            .try_into()
            .expect("32 bytes");
        let sig = emulator_common::unb64(s["signature"].as_str().expect("signature"));
        assert_eq!(sig.len(), 64);
        let bundle = json!({"crv": s["crv"], "x": key["x"], "y": key["y"]});
        assert!(verifies(&bundle, &digest, &sig), "{s}");
        assert_eq!(s["kid"], key["id"]);
    }
}
