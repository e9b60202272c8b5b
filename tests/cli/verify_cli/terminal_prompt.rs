//! The hidden passphrase prompt on a real pseudo-terminal: `verify --key` on an encrypted key
//! with no `--passphrase-file`. The test types the passphrase only once the prompt is on
//! screen and the program has turned echo off (typing earlier raced it: the line discipline
//! echoed the passphrase and the program's flush discarded it), and checks that it was never
//! echoed.

use std::path::Path;
use std::process::Command as StdCommand;

use super::{PASS, openssl_key_and_encrypted_pkcs8, verify_json, write};
use crate::pty::Pty;

/// Types `typed` at the prompt of `verify --key KEY --json` on a pseudo-terminal, once the
/// prompt is on screen and echo is off; returns the exit code and everything shown.
fn answer_prompt(key: &Path, typed: &str) -> (i32, String) {
    let mut cmd = StdCommand::new(env!("CARGO_BIN_EXE_tezos-azure-signer"));
    cmd.args(["verify", "--key"])
        .arg(key)
        .arg("--json")
        .env_remove("AZURE_KEYVAULT_URI")
        .env_remove("RUST_LOG")
        .env("TERM", "dumb");
    let mut pty = Pty::spawn(cmd);
    pty.expect("Passphrase for");
    pty.wait_for_hidden_input();
    pty.type_text(&format!("{typed}\r"));
    let code = pty.wait();
    (code, pty.screen())
}

#[test]
fn encrypted_key_passphrase_from_the_hidden_terminal_prompt() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(d, "pass", PASS);
    openssl_key_and_encrypted_pkcs8(d, "prime256v1");
    let (code, plain) = verify_json(&["--key", d.join("key.pem").to_str().unwrap()]);
    assert_eq!(code, 0, "{plain}");
    let pkh = plain["pkh"].as_str().expect("a pkh").to_owned();

    let (code, screen) = answer_prompt(&d.join("enc.pem"), PASS);
    assert_eq!(code, 0, "right passphrase:\n{screen}");
    assert!(screen.contains(&pkh), "the key's pkh is printed:\n{screen}");
    assert!(
        !screen.contains(PASS),
        "the passphrase was echoed:\n{screen}"
    );

    let (code, screen) = answer_prompt(&d.join("enc.pem"), "not the passphrase");
    assert_eq!(code, 3, "wrong passphrase:\n{screen}");
    assert!(screen.contains("cannot decrypt"), "{screen}");
    assert!(!screen.contains("not the passphrase"), "echoed:\n{screen}");
}
