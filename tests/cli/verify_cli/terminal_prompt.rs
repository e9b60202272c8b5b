//! The hidden passphrase prompt on a real pseudo-terminal: `verify --key` on an encrypted key
//! with no `--passphrase-file`, run under util-linux `script` so that stdin is a terminal.
//! The test types the passphrase only once the prompt is on screen, and checks that it was
//! never echoed.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{PASS, openssl_key_and_encrypted_pkcs8, verify_json, write};

/// `verify --key KEY --json` on a fresh pseudo-terminal (`script -qfec … /dev/null`).
fn on_terminal(key: &Path) -> (Child, mpsc::Receiver<Vec<u8>>) {
    let command = format!(
        "'{}' verify --key '{}' --json",
        env!("CARGO_BIN_EXE_tezos-azure-signer"),
        key.display()
    );
    let mut child = StdCommand::new("script")
        .args(["-q", "-f", "-e", "-c", &command, "/dev/null"])
        .env_remove("AZURE_KEYVAULT_URI")
        .env_remove("RUST_LOG")
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("util-linux `script` must be installed (.ci/run installs bsdutils)");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Collects the terminal's output until `done` holds for it or the output ends (30 s limit).
fn read_until(rx: &mpsc::Receiver<Vec<u8>>, seen: &mut Vec<u8>, done: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(&String::from_utf8_lossy(seen)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => seen.extend_from_slice(&chunk),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                "the terminal showed no more within 30 s:\n{}",
                String::from_utf8_lossy(seen)
            ),
        }
    }
}

/// Types `typed` at the prompt; returns the exit code and everything the terminal showed.
fn answer_prompt(key: &Path, typed: &str) -> (i32, String) {
    let (mut child, rx) = on_terminal(key);
    let mut seen = Vec::new();
    read_until(&rx, &mut seen, |s| s.contains("Passphrase for"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(format!("{typed}\r").as_bytes())
        .expect("type the passphrase");
    stdin.flush().expect("flush");
    read_until(&rx, &mut seen, |_| false);
    let status = child.wait().expect("script exits");
    drop(stdin);
    (
        status.code().expect("an exit code"),
        String::from_utf8_lossy(&seen).into_owned(),
    )
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
