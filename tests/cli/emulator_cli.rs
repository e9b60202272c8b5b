//! The `emulator` subcommand as a process: `--print-env` output usable by `eval` in a shell
//! while the emulator keeps serving, `--state-dir` persistence across restarts, flag
//! validation. Loopback only.

#![cfg(feature = "emulator")]

use crate::running_binary::RunningBinary;

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");

#[test]
fn print_env_output_can_be_evaluated_by_a_shell() {
    // The emulator prints its exports, detaches stdout and keeps serving: `$(… &)` returns.
    let script = r#"
        eval "$("$BIN" emulator --ephemeral --print-env 2>/dev/null & echo "export EMU_PID=$!")"
        trap 'kill "$EMU_PID"' EXIT
        test -n "$AZURE_KEYVAULT_URI" && test -s "$SSL_CERT_FILE" && test -n "$IDENTITY_HEADER"
        case "$IDENTITY_ENDPOINT" in http://127.0.0.1:*/msi/token) ;; *) exit 3 ;; esac
        kill -0 "$EMU_PID"
        echo "ok $AZURE_KEYVAULT_URI"
    "#;
    let out = std::process::Command::new("bash")
        .args(["-c", script])
        .env("BIN", BIN)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok https://localhost:"), "{stdout}");
}

#[test]
fn state_dir_keeps_the_ca_the_identity_secret_and_ports_can_be_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().to_str().expect("utf-8 path");
    let first = RunningBinary::start(&["--state-dir", state]);
    let ca_path = first.var("SSL_CERT_FILE").to_string();
    assert_eq!(std::path::Path::new(&ca_path), dir.path().join("ca.pem"));
    let ca = std::fs::read_to_string(&ca_path).expect("CA");
    let identity_header = first.var("IDENTITY_HEADER").to_string();
    let port: u16 = first
        .var("AZURE_KEYVAULT_URI")
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    drop(first);
    let port_arg = port.to_string();
    let second = RunningBinary::start(&["--state-dir", state, "--port", &port_arg]);
    assert_eq!(
        second.var("AZURE_KEYVAULT_URI"),
        format!("https://localhost:{port}")
    );
    assert_eq!(
        std::fs::read_to_string(second.var("SSL_CERT_FILE")).expect("CA"),
        ca
    );
    // The identity endpoint's secret too: clients configured against the first run still
    // get tokens.
    assert_eq!(second.var("IDENTITY_HEADER"), identity_header);
    let ephemeral = RunningBinary::start(&["--ephemeral"]);
    assert_ne!(ephemeral.var("IDENTITY_HEADER"), identity_header);
}

#[test]
fn bad_flags_are_refused() {
    for args in [
        vec!["emulator"],
        vec!["emulator", "--ephemeral", "--state-dir", "/tmp/x"],
        vec!["emulator", "--ephemeral", "--error-rate", "1.5"],
        vec!["emulator", "--ephemeral", "--throttle-every", "0"],
    ] {
        let out = std::process::Command::new(BIN)
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}
