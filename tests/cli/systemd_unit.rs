//! `scripts/tezos-azure-signer.service` is clean under `systemd-analyze verify`, and the env
//! template only sets variables the binary knows. The verify check is skipped (loudly) only
//! when systemd-analyze is absent and CI is not set; in CI, `.ci/run` installs systemd.

use std::path::Path;
use std::process::Command;

const UNIT: &str = include_str!("../../scripts/tezos-azure-signer.service");
const ENV_TEMPLATE: &str = include_str!("../../scripts/tezos-azure-signer.env");

#[test]
fn systemd_analyze_verify_is_clean() {
    let available = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok();
    if !available {
        crate::skip::skipped(
            "systemd unit check",
            "systemd-analyze is not installed",
            "install systemd",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    // verify checks that ExecStart exists and is executable: point it at the built binary.
    let unit = UNIT.replace(
        "/usr/local/bin/tezos-azure-signer",
        env!("CARGO_BIN_EXE_tezos-azure-signer"),
    );
    let path = dir.path().join("tezos-azure-signer.service");
    std::fs::write(&path, unit).expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .env("SYSTEMD_LOG_LEVEL", "notice")
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify failed:\n{stdout}\n{stderr}");
    let complaints: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|l| l.contains("tezos-azure-signer.service"))
        .collect();
    assert!(complaints.is_empty(), "verify complained: {complaints:#?}");
}

#[test]
fn unit_has_the_hardening_we_document() {
    for line in [
        "DynamicUser=yes",
        "StateDirectory=tezos-azure-signer",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "KillSignal=SIGTERM",
    ] {
        assert!(UNIT.lines().any(|l| l == line), "unit lacks {line:?}");
    }
}

#[test]
fn env_template_sets_only_known_variables() {
    let known_prefixes = ["TEZOS_AZURE_SIGNER_", "AZURE_", "RUST_LOG"];
    for line in ENV_TEMPLATE.lines().map(str::trim) {
        let line = line.trim_start_matches('#');
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        if name.contains(' ') || name.is_empty() {
            continue;
        }
        assert!(
            known_prefixes.iter().any(|p| name.starts_with(p)),
            "unexpected variable {name}"
        );
    }
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts/tezos-azure-signer.env")
            .exists()
    );
}
