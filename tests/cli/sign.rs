//! `sign` as a person and a script use it: the real binary against the `emulator`
//! subcommand (managed identity through IDENTITY_ENDPOINT on loopback), with confirmations
//! typed on a real pseudo-terminal.

#![cfg(feature = "emulator")]

use std::path::Path;
use std::process::Command;

use tezos_azure_signer::testing::forge;
use tezos_azure_signer::testing::{TZ2, TZ2_SECRET};
use tezos_azure_signer::tezos::{Pkh, PkhKind, PublicKey, Signature, blake2b_256};

use crate::pty::Pty;
use crate::running_binary::{RunningBinary, serve_dev_on};

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");

/// An emulator holding the test vectors' tz2 key as `baker`.
fn emulator_with_baker(dir: &Path) -> RunningBinary {
    let emu = RunningBinary::start(&["--ephemeral"]);
    let key = dir.join("baker.sk");
    std::fs::write(&key, TZ2_SECRET).expect("write the key file");
    let out = with_vault(Command::new(BIN), &emu)
        .args(["import", "--name", "baker", "--software", "--key"])
        .arg(&key)
        .output()
        .expect("run import");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    emu
}

fn with_vault(mut cmd: Command, emu: &RunningBinary) -> Command {
    for (k, v) in &emu.env {
        cmd.env(k, v);
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

/// `sign --key baker --data-dir DIR ARGS…`.
fn sign_cmd(emu: &RunningBinary, data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = with_vault(Command::new(BIN), emu);
    cmd.args(["sign", "--key", "baker", "--data-dir"])
        .arg(data_dir)
        .args(args);
    cmd
}

fn vector(name: &str) -> String {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../vectors/operations.json")).expect("vectors");
    doc["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .find(|o| o["name"] == name)
        .and_then(|o| o["hex"].as_str())
        .expect("the vector")
        .to_string()
}

fn baker_key() -> PublicKey {
    TZ2_SECRET
        .parse::<tezos_azure_signer::tezos::SecretKey>()
        .expect("key")
        .public_key()
}

fn verifies(hex_bytes: &str, signature: &str) {
    let sig: Signature = signature.trim().parse().expect("a signature on stdout");
    let bytes = hex::decode(hex_bytes).expect("hex");
    baker_key()
        .verify(&bytes, &sig)
        .expect("the printed signature verifies");
}

/// A (pre)attestation at `level`, round 0, payload byte `payload` (mainnet chain id).
fn attestation(level: i32, payload: u8) -> String {
    let mut b = vec![0x13, 0x7a, 0x06, 0xa7, 0x70];
    b.extend([0x11; 32]);
    b.push(0x15);
    b.extend(0u16.to_be_bytes());
    b.extend(level.to_be_bytes());
    b.extend(0i32.to_be_bytes());
    b.extend([payload; 32]);
    hex::encode(b)
}

#[test]
fn a_transaction_is_shown_decoded_then_signed_with_yes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    let tx = vector("transaction-to-originated");
    let out = sign_cmd(&emu, &dir.path().join("data"), &["--yes", &tx])
        .output()
        .expect("run sign");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    verifies(&tx, &String::from_utf8_lossy(&out.stdout));
    for shown in [
        &format!("Signing with {TZ2} (vault key baker)"),
        "branch: BKpbfCvh777DQHnXjU2sqHvVUNZ7dBAdqEfKkdw8EGSkD9LSYXb",
        "total amount 0.000407 ꜩ, total fee 0.000033 ꜩ",
        "value at risk: 14256232.77969 ꜩ, plus what the warnings above can move",
        "transaction: 0.000407 ꜩ to KT1DieU51jzXLerQx5AqMCiLC1SsCeM8yRat, entrypoint action",
        "parameters (review carefully):",
        "{ UNIT }",
        "is not the signing key",
    ] {
        assert!(stderr.contains(shown), "missing {shown:?} in:\n{stderr}");
    }
    // Counter and gas limit only with -v.
    assert!(!stderr.contains("gas limit"), "{stderr}");
    let out = sign_cmd(&emu, &dir.path().join("data"), &["--yes", "-v", &tx])
        .output()
        .expect("run sign -v");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("counter 732, gas limit 9451117"),
        "{stderr}"
    );
}

#[test]
fn json_output_carries_the_decoded_request_and_the_operation_for_injection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    let reveal = vector("reveal");
    let out = sign_cmd(
        &emu,
        &dir.path().join("data"),
        &["--yes", "--json", &reveal],
    )
    .output()
    .expect("run sign");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["pkh"], TZ2);
    assert_eq!(v["kind"], "generic");
    assert_eq!(v["decoded"]["contents"][0]["kind"], "reveal");
    let sig = v["signature"].as_str().expect("signature");
    verifies(&reveal, sig);
    let parsed: Signature = sig.parse().expect("sig");
    let want = format!("{}{}", &reveal[2..], hex::encode(parsed.raw()));
    assert_eq!(v["signed_operation"], want);
}

#[test]
fn without_a_terminal_and_without_yes_nothing_is_signed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    let out = sign_cmd(&emu, &dir.path().join("data"), &[&vector("delegation")])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run sign");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no terminal to confirm on"), "{stderr}");
    assert!(
        stderr.contains("delegation: to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx"),
        "{stderr}"
    );
}

#[test]
fn the_person_confirms_declines_or_presses_enter_for_no() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    let tx = vector("transaction-to-implicit");
    for (typed, code) in [("y\r", 0), ("n\r", 1), ("\r", 1)] {
        let mut pty = Pty::spawn(sign_cmd(&emu, &dir.path().join("data"), &[&tx]));
        pty.expect("Sign this with");
        pty.wait_for_key_input();
        pty.type_text(typed);
        let got = pty.wait();
        let screen = pty.screen();
        assert_eq!(got, code, "typed {typed:?}:\n{screen}");
        assert!(screen.contains("transaction: 0.000407 ꜩ to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx"));
        if code == 0 {
            assert!(screen.contains("spsig1"), "{screen}");
        } else {
            assert!(screen.contains("you declined"), "{screen}");
            assert!(!screen.contains("spsig1"), "{screen}");
        }
    }
}

const KT1: &str = "KT1RJ6PbjHpwc3M5rw5s2Nbmefwbuwbdxton";

/// What an 80×24 terminal shows while `sign` asks about `hex`: its last 24 rows (the prompt
/// is the last), and they all in one string (wrapped lines whole again). Then the person
/// says no.
fn screen_at_the_prompt(emu: &RunningBinary, data: &Path, hex: &str) -> (String, String) {
    let mut pty = Pty::spawn_sized(sign_cmd(emu, data, &[hex]), 80, 24);
    pty.expect("Sign this with");
    pty.wait_for_key_input();
    let rows = pty.rows(80, 24);
    pty.type_text("n\r");
    assert_eq!(pty.wait(), 1, "{}", pty.screen());
    let (text, rows) = (rows.concat(), rows.join("\n"));
    assert!(text.contains("Sign this with"), "{rows}");
    (text, rows)
}

/// A 5,000 ꜩ contract call whose string parameter is 20,000 spaces and then a fake summary of
/// a small transfer: at the prompt the screen names the 5,000 ꜩ and the KT1, and the fake
/// is nowhere (shortened away, and the real summary comes last).
#[test]
fn a_padded_fake_summary_cannot_take_the_place_of_the_real_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    let fake = format!(
        "{}1 operation, total amount 0.5 ꜩ, total fee 0.001 ꜩ\n\
         1. transaction: 0.5 ꜩ to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx",
        " ".repeat(20_000)
    );
    let op = forge::transaction(
        TZ2,
        forge::CHEAP,
        5_000_000_000,
        KT1,
        Some(("default", forge::string(&fake))),
    );
    let hex = hex::encode(forge::request(&[op]));
    let (text, rows) = screen_at_the_prompt(&emu, &dir.path().join("data"), &hex);
    for shown in [
        &format!("to {KT1}: 5000 ꜩ (operation 1)"),
        "total amount 5000 ꜩ, total fee 0.001 ꜩ",
        "value at risk: 5000.001 ꜩ",
        &format!("operation 1: a call of {KT1}%default"),
        "--full shows all",
    ] {
        assert!(
            text.contains(shown),
            "missing {shown:?} at the prompt:\n{rows}"
        );
    }
    for fake in ["total amount 0.5", "0.5 ꜩ to tz1"] {
        assert!(!text.contains(fake), "{fake:?} at the prompt:\n{rows}");
    }
}

/// One 5,000 ꜩ transfer and 250 one-mutez transfers (251 destinations): the real total is on
/// the screen at the prompt, not scrolled away with the first lines.
#[test]
fn a_long_batch_cannot_scroll_its_total_off_the_screen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    let mut ops = vec![forge::transaction(
        TZ2,
        forge::CHEAP,
        5_000_000_000,
        KT1,
        None,
    )];
    for n in 0..250u64 {
        let mut hash = [9u8; 20];
        hash[..8].copy_from_slice(&n.to_be_bytes());
        let to = Pkh::new(PkhKind::Tz1, hash).to_string();
        ops.push(forge::transaction(TZ2, forge::CHEAP, 1, &to, None));
    }
    let hex = hex::encode(forge::request(&ops));
    let (text, rows) = screen_at_the_prompt(&emu, &dir.path().join("data"), &hex);
    for shown in [
        &format!("to {KT1}: 5000 ꜩ (operation 1)"),
        "and 243 more destinations: 0.000243 ꜩ in 243 operations",
        &format!("key {TZ2}, 251 operations"),
        "total amount 5000.00025 ꜩ, total fee 0.251 ꜩ, maximum storage burn 0 ꜩ",
        "value at risk: 5000.25125 ꜩ",
    ] {
        assert!(
            text.contains(shown),
            "missing {shown:?} at the prompt:\n{rows}"
        );
    }
}

#[test]
fn undecodable_bytes_are_refused_unless_blind_which_shows_their_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    // A generic operation whose only element has a tag no kind has.
    let junk = format!("03{}fa00", "11".repeat(32));
    let out = sign_cmd(&emu, &dir.path().join("data"), &["--yes", &junk])
        .output()
        .expect("run sign");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unknown or unsupported operation tag 250"),
        "{stderr}"
    );
    assert!(stderr.contains("--blind"), "{stderr}");
    let out = sign_cmd(&emu, &dir.path().join("data"), &["--yes", "--blind", &junk])
        .output()
        .expect("run sign --blind");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let hash = bs58::encode(blake2b_256(&hex::decode(&junk).expect("hex"))).into_string();
    assert!(
        stderr.contains(&hash),
        "the payload's hash {hash} in:\n{stderr}"
    );
    verifies(&junk, &String::from_utf8_lossy(&out.stdout));
}

#[test]
fn michelson_data_is_shown_as_michelson() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    // 0x05 ‖ Pair 1 "a"
    let data = "05070700010100000001".to_string() + "61";
    let out = sign_cmd(&emu, &dir.path().join("data"), &["--yes", &data])
        .output()
        .expect("run sign");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(r#"Pair 1 "a""#), "{stderr}");
}

/// Consensus payloads go through serve's watermark files and rule; a running serve holds the
/// data directory, and sign then refuses them, naming it.
#[test]
fn consensus_payloads_use_the_same_watermarks_as_serve() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    let data = dir.path().join("data");
    let first = attestation(100, 1);
    let out = sign_cmd(&emu, &data, &["--yes", &first])
        .output()
        .expect("run sign");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("attestation: chain NetXdQprcVkpaWU, level 100, round 0"),
        "{stderr}"
    );
    verifies(&first, &String::from_utf8_lossy(&out.stdout));
    let marks = std::fs::read_to_string(data.join("attestation_high_watermarks")).expect("marks");
    let marks: serde_json::Value = serde_json::from_str(&marks).expect("json");
    assert_eq!(marks["NetXdQprcVkpaWU"][TZ2]["level"], 100);

    let out = sign_cmd(&emu, &data, &["--yes", &attestation(100, 2)])
        .output()
        .expect("run sign");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already signed with different data"),
        "{stderr}"
    );

    // A running serve on the same directory: refused before the vault is asked.
    let (mut serve, _, _) = serve_dev_on(&data, &[]);
    let out = sign_cmd(&emu, &data, &["--yes", &attestation(101, 1)])
        .output()
        .expect("run sign");
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
    assert!(
        stderr.contains("serve --dev"),
        "the holder is named: {stderr}"
    );
}

/// A consensus payload that does not decode cannot be checked against the watermark, so
/// even --blind never signs it.
#[test]
fn undecodable_consensus_payloads_are_never_signed_even_blind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emu = emulator_with_baker(dir.path());
    // An attestation with a BLS-only tag (0x29).
    let mut bls = hex::decode(attestation(100, 1)).expect("hex");
    bls[37] = 0x29;
    let out = sign_cmd(
        &emu,
        &dir.path().join("data"),
        &["--yes", "--blind", &hex::encode(bls)],
    )
    .output()
    .expect("run sign");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not even --blind signs it"), "{stderr}");
}

/// Sends one sign request (a JSON body) whose answer is read later from the stream.
fn post_sign(url: &str, pkh: &str, body: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut http = std::net::TcpStream::connect(url).expect("connect");
    write!(
        http,
        "POST /keys/{pkh} HTTP/1.1\r\nHost: {url}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    http
}

/// `sign --pending` on the data directory `data`.
fn pending_cmd(data: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["sign", "--pending", "--data-dir"])
        .arg(data)
        .env_remove("RUST_LOG");
    cmd
}

/// `sign --pending` on a terminal: a held request appears decoded, the person approves it,
/// and the waiting HTTP client gets its signature.
#[test]
fn sign_pending_shows_held_requests_and_the_person_approves() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (mut serve, url, tz2) = serve_dev_on(&data, &["--confirm", "0x03"]);
    // A withdrawal (delegation without delegate): refused by the default policy, so held.
    let body = format!("\"{}\"", vector("delegation-withdrawal"));
    let mut http = post_sign(&url, &tz2, &body);
    let cmd = pending_cmd(&data);
    let mut pty = Pty::spawn(cmd);
    pty.expect("delegation: withdraw (no delegate)");
    // The summary, last, right above the prompt.
    pty.expect("no destination: nothing is sent to anyone");
    pty.expect("value at risk: ");
    pty.expect("Approve");
    pty.wait_for_key_input();
    pty.type_text("y");
    pty.expect("approved");
    let mut answer = String::new();
    http.read_to_string(&mut answer).expect("the answer");
    let _ = pty.child.kill();
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("spsig1"), "{answer}");
}

/// `sign --pending` on an 80×24 terminal: a held 5,000 ꜩ transfer whose parameter is 20,000
/// spaces and a fake summary shows, at the prompt, the real total and the KT1, never the
/// fake; the person says no and the client gets 403.
#[test]
fn sign_pending_shows_the_real_summary_at_the_prompt() {
    use std::io::Read;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (mut serve, url, tz2) = serve_dev_on(&data, &["--confirm", "0x03"]);
    let fake = format!(
        "{}1 operation, total amount 0.5 ꜩ, total fee 0.001 ꜩ",
        " ".repeat(20_000)
    );
    let op = forge::transaction(
        &tz2,
        forge::CHEAP,
        5_000_000_000,
        KT1,
        Some(("default", forge::string(&fake))),
    );
    let body = format!("\"{}\"", hex::encode(forge::request(&[op])));
    let mut http = post_sign(&url, &tz2, &body);
    let cmd = pending_cmd(&data);
    let mut pty = Pty::spawn_sized(cmd, 80, 24);
    pty.expect("Approve");
    pty.wait_for_key_input();
    let rows = pty.rows(80, 24);
    pty.type_text("n");
    pty.expect("rejected");
    let (text, rows) = (rows.concat(), rows.join("\n"));
    for shown in [
        &format!("to {KT1}: 5000 ꜩ (operation 1)"),
        "value at risk: 5000.001 ꜩ",
    ] {
        assert!(
            text.contains(shown),
            "missing {shown:?} at the prompt:\n{rows}"
        );
    }
    assert!(
        !text.contains("total amount 0.5"),
        "the fake at the prompt:\n{rows}"
    );
    let mut answer = String::new();
    http.read_to_string(&mut answer).expect("the answer");
    let _ = pty.child.kill();
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("rejected by the operator"), "{answer}");
}
