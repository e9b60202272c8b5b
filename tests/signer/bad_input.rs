//! The bad-input catalogue: malformed and hostile requests, each on its own connection to the
//! real binary, with the exact status and message it must get, and a check after every one
//! that the signer still answers and signed nothing it should not have.
//! `BAD_INPUT_PRINT=1` prints what each case got (to review a new case).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tezos_azure_signer::auth::authentication_bytes;
use tezos_azure_signer::tezos::{Curve, Pkh, SecretKey, Signature};

use crate::serve_common::{Serving, attestation, block, consensus, preattestation};

/// What one connection got: status and the first error message (or the raw body).
fn exchange(authority: &str, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(authority).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // A refusal may close before the whole request is read: ignore write errors.
    let _ = s.write_all(request);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let msg = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v[0]["msg"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().chars().take(120).collect());
    (status, msg)
}

fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: signer\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn post_hex(path: &str, hex: &str) -> Vec<u8> {
    post(path, format!("\"{hex}\"").as_bytes())
}

fn raw(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// `hex` cut to its first `bytes` bytes.
fn cut(hex: &str, bytes: usize) -> String {
    hex[..bytes * 2].to_string()
}

/// The tz2 authentication signature's high-S twin (same r, s' = n - s): valid maths, but not
/// what octez accepts.
fn high_s(sig: &Signature) -> Signature {
    let low = k256::ecdsa::Signature::from_slice(sig.raw()).expect("a secp256k1 signature");
    let (r, s) = low.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r, -*s).expect("scalars");
    Signature::from_raw(Some(Curve::Secp256k1), high.to_bytes().into())
}

struct Case {
    name: &'static str,
    auth_server: bool,
    request: Vec<u8>,
    status: u16,
    msg: &'static str,
}

#[test]
fn the_bad_input_catalogue() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A short request time limit, so the body that never comes costs 3 s, not 10.
    let plain = Serving::start(&dir.path().join("plain"), &["--request-timeout", "3s"]);
    let client = SecretKey::from_scalar(Curve::Secp256k1, &[0x42; 32]).expect("client key");
    let keys = dir.path().join("authorized_keys");
    std::fs::write(&keys, format!("{}\n", client.public_key())).expect("authorized keys");
    let keys_arg = keys.to_string_lossy().into_owned();
    let authed = Serving::start(
        &dir.path().join("authed"),
        &["--authorized-keys", &keys_arg, "--request-timeout", "3s"],
    );
    let tz2 = plain.tz2.clone();
    let k = |rest: &str| format!("/keys/{tz2}{rest}");
    let att = attestation(100, 0, 1);
    let blk = block(100, 0, 1);
    let pre = preattestation(100, 0, 1);
    let att_bytes = hex::decode(&att).expect("hex");
    // The authenticated server has its own demo keys (its own emulator state).
    let pkh: Pkh = authed.tz2.parse().expect("pkh");
    let ka = |rest: &str| format!("/keys/{}{rest}", authed.tz2);
    let good_auth = client.sign(&authentication_bytes(&pkh, &att_bytes));
    // The twin is the same signature, only not canonical: refusing it tests the low-S rule.
    assert!(!high_s(&good_auth).is_low_s());
    assert_eq!(high_s(&good_auth).normalized(), good_auth);
    let stranger = SecretKey::from_scalar(Curve::Secp256k1, &[0x43; 32]).expect("key");
    let mut tz4_path = String::from("/keys/tz4");
    tz4_path.push_str(&"1".repeat(33));
    let mut bad_tag = hex::decode(&att).expect("hex");
    bad_tag[37] = 0x99;
    let mut dal_trailing = hex::decode(&att).expect("hex");
    dal_trailing.extend_from_slice(&[0xff; 3]);
    let mut neg_level = hex::decode(&att).expect("hex");
    neg_level[40..44].copy_from_slice(&(-5i32).to_be_bytes());
    let mut neg_round = hex::decode(&att).expect("hex");
    neg_round[44..48].copy_from_slice(&(-1i32).to_be_bytes());
    let mut fitness_huge = hex::decode(&blk).expect("hex");
    fitness_huge[83..87].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
    let mut fitness_garbage = hex::decode(&blk).expect("hex");
    fitness_garbage[87..91].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
    let huge = vec![b'a'; 70 * 1024];
    let mut huge_body = b"\"".to_vec();
    huge_body.extend_from_slice(&huge);
    huge_body.push(b'"');

    let c = |name, request, status, msg| Case {
        name,
        auth_server: false,
        request,
        status,
        msg,
    };
    let a = |name, request, status, msg| Case {
        name,
        auth_server: true,
        request,
        status,
        msg,
    };
    let cases = vec![
        // Bodies
        c(
            "empty body",
            post(&k(""), b""),
            400,
            "malformed request body: expected a JSON string of hex bytes (EOF while parsing a value",
        ),
        c(
            "not JSON",
            post(&k(""), b"hello"),
            400,
            "malformed request body: expected a JSON string of hex bytes (expected value",
        ),
        c(
            "JSON number",
            post(&k(""), b"42"),
            400,
            "malformed request body: expected a JSON string of hex bytes (invalid type: integer",
        ),
        c(
            "JSON object",
            post(&k(""), b"{\"data\":\"13\"}"),
            400,
            "malformed request body: expected a JSON string of hex bytes (invalid type: map",
        ),
        c(
            "JSON array",
            post(&k(""), b"[\"13\"]"),
            400,
            "malformed request body: expected a JSON string of hex bytes (invalid type: sequence",
        ),
        c(
            "JSON null",
            post(&k(""), b"null"),
            400,
            "malformed request body: expected a JSON string of hex bytes (invalid type: null",
        ),
        c(
            "empty hex string",
            post_hex(&k(""), ""),
            400,
            "malformed payload: empty payload: nothing to sign",
        ),
        c(
            "non-hex characters",
            post_hex(&k(""), "13zz"),
            400,
            "malformed request body: invalid hex (Invalid character 'z' at position 2)",
        ),
        c(
            "odd-length hex",
            post_hex(&k(""), "137"),
            400,
            "malformed request body: invalid hex (Odd number of digits)",
        ),
        c(
            "0x prefix",
            post_hex(&k(""), &format!("0x{att}")),
            400,
            "malformed request body: invalid hex (Invalid character 'x' at position 1)",
        ),
        c(
            "space inside the hex",
            post_hex(&k(""), &format!("{} {}", &att[..10], &att[10..])),
            400,
            "malformed request body: invalid hex",
        ),
        c(
            "trailing garbage after the JSON string",
            post(&k(""), format!("\"{att}\"x").as_bytes()),
            400,
            "expected a JSON string of hex bytes (trailing characters",
        ),
        c(
            "unterminated JSON string",
            post(&k(""), format!("\"{att}").as_bytes()),
            400,
            "expected a JSON string of hex bytes (EOF while parsing a string",
        ),
        c(
            "body over 64 KiB",
            post(&k(""), &huge_body),
            413,
            "request body too large: the limit is 65536 bytes",
        ),
        c(
            "Content-Length over 64 KiB, no body",
            raw(&format!(
                "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\nConnection: close\r\n\r\n",
                k("")
            )),
            413,
            "request body too large: the limit is 65536 bytes",
        ),
        // Magic bytes
        c(
            "magic byte 0x00",
            post_hex(&k(""), "00"),
            403,
            "magic byte 0x00 not allowed",
        ),
        c(
            "magic byte 0x01 (legacy block, not allowed)",
            post_hex(&k(""), &format!("01{}", &att[2..])),
            403,
            "magic byte 0x01 not allowed",
        ),
        c(
            "magic byte 0x02 (legacy endorsement, not allowed)",
            post_hex(&k(""), &format!("02{}", &att[2..])),
            403,
            "magic byte 0x02 not allowed",
        ),
        c(
            "magic byte 0x03 (generic, not allowed)",
            post_hex(&k(""), "03aa"),
            403,
            "magic byte 0x03 not allowed",
        ),
        c(
            "magic byte 0x04 (authentication)",
            post_hex(&k(""), "04aa"),
            403,
            "magic byte 0x04 not allowed",
        ),
        c(
            "magic byte 0x05 (Michelson data, not allowed)",
            post_hex(&k(""), "0500"),
            403,
            "magic byte 0x05 not allowed",
        ),
        c(
            "magic byte 0xff",
            post_hex(&k(""), "ff00"),
            403,
            "magic byte 0xFF not allowed",
        ),
        c(
            "magic byte only, 0x13",
            post_hex(&k(""), "13"),
            400,
            "malformed payload: truncated payload: chain id at byte 1 needs 4 more byte(s)",
        ),
        // Truncations at each field boundary
        c(
            "attestation cut after the chain id",
            post_hex(&k(""), &cut(&att, 5)),
            400,
            "truncated payload: branch at byte 5 needs 32 more byte(s)",
        ),
        c(
            "attestation cut in the branch",
            post_hex(&k(""), &cut(&att, 20)),
            400,
            "truncated payload: branch at byte 5 needs 17 more byte(s)",
        ),
        c(
            "attestation cut before the tag",
            post_hex(&k(""), &cut(&att, 37)),
            400,
            "truncated payload: operation tag at byte 37 needs 1 more byte(s)",
        ),
        c(
            "attestation cut in the slot",
            post_hex(&k(""), &cut(&att, 39)),
            400,
            "truncated payload: slot at byte 38 needs 1 more byte(s)",
        ),
        c(
            "attestation cut in the level",
            post_hex(&k(""), &cut(&att, 42)),
            400,
            "truncated payload: level at byte 40 needs 2 more byte(s)",
        ),
        c(
            "attestation cut in the round",
            post_hex(&k(""), &cut(&att, 46)),
            400,
            "truncated payload: round at byte 44 needs 2 more byte(s)",
        ),
        c(
            "attestation cut in the payload hash",
            post_hex(&k(""), &cut(&att, 60)),
            400,
            "truncated payload: block payload hash at byte 48 needs 20 more byte(s)",
        ),
        c(
            "attestation one byte short",
            post_hex(&k(""), &cut(&att, att.len() / 2 - 1)),
            400,
            "truncated payload: block payload hash at byte 48 needs 1 more byte(s)",
        ),
        c(
            "preattestation cut in the level",
            post_hex(&k(""), &cut(&pre, 42)),
            400,
            "truncated payload: level at byte 40 needs 2 more byte(s)",
        ),
        c(
            "block cut after the chain id",
            post_hex(&k(""), &cut(&blk, 5)),
            400,
            "truncated payload: level at byte 5 needs 4 more byte(s)",
        ),
        c(
            "block cut in the level",
            post_hex(&k(""), &cut(&blk, 7)),
            400,
            "truncated payload: level at byte 5 needs 2 more byte(s)",
        ),
        c(
            "block cut in the predecessor",
            post_hex(&k(""), &cut(&blk, 30)),
            400,
            "truncated payload: predecessor at byte 10 needs 12 more byte(s)",
        ),
        c(
            "block cut in the fitness",
            post_hex(&k(""), &cut(&blk, 100)),
            400,
            "truncated payload: fitness at byte 87 needs 20 more byte(s)",
        ),
        c(
            "block cut before the round",
            post_hex(&k(""), &cut(&blk, 116)),
            400,
            "truncated payload: fitness at byte 87 needs 4 more byte(s)",
        ),
        // The protocol data after the fitness belongs to the protocol (octez-signer does not
        // read it either): a block missing its last byte is signed like any other at its
        // (level, round), which then refuses the real block there. Only the baker sends it.
        c(
            "block missing its last protocol-data byte",
            post_hex(&k(""), &cut(&blk, blk.len() / 2 - 1)),
            200,
            "\"signature\":\"spsig1",
        ),
        // Wrong tags, BLS, garbage fields
        c(
            "attestation with an unknown operation tag",
            post_hex(&k(""), &hex::encode(&bad_tag)),
            400,
            "operation tag 0x99 at byte 37 does not belong under magic byte attestation (0x13)",
        ),
        c(
            "preattestation tag under the attestation magic byte",
            post_hex(&k(""), &consensus(0x13, 100, 0, 1).replacen("15", "14", 1)),
            400,
            "operation tag 0x14 at byte 37 does not belong under magic byte attestation (0x13)",
        ),
        c(
            "attestation with trailing bytes",
            post_hex(&k(""), &hex::encode(&dal_trailing)),
            400,
            "3 unexpected trailing byte(s) at byte 80",
        ),
        c(
            "negative level",
            post_hex(&k(""), &hex::encode(&neg_level)),
            400,
            "negative level -5 at byte 40: Tezos levels and rounds are never negative",
        ),
        c(
            "negative round",
            post_hex(&k(""), &hex::encode(&neg_round)),
            400,
            "negative round -1 at byte 44: Tezos levels and rounds are never negative",
        ),
        c(
            "block fitness length beyond the payload",
            post_hex(&k(""), &hex::encode(&fitness_huge)),
            400,
            "truncated payload: fitness at byte 87 needs 2147483536 more byte(s)",
        ),
        c(
            "block fitness with a garbage element",
            post_hex(&k(""), &hex::encode(&fitness_garbage)),
            400,
            "malformed fitness at byte 87: element lengths do not add up to the fitness length 33",
        ),
        c(
            "tz4 (BLS) key path",
            post_hex(&tz4_path, &att),
            400,
            "malformed public key hash \"tz41111",
        ),
        // Paths
        c(
            "unknown key",
            post_hex("/keys/tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t", &att),
            404,
            "unknown key tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t",
        ),
        c(
            "pkh with a bad checksum",
            post_hex(&format!("/keys/{}x", &tz2[..tz2.len() - 1]), &att),
            400,
            "malformed public key hash",
        ),
        c(
            "pkh of 300 characters",
            post_hex(&format!("/keys/tz2{}", "a".repeat(297)), &att),
            400,
            "malformed public key hash \"tz2aaaa",
        ),
        c(
            "empty pkh",
            post_hex("/keys/", &att),
            404,
            "no such route: POST /keys/",
        ),
        c(
            "dot segments",
            post_hex(&format!("/keys/../keys/{tz2}/.."), &att),
            404,
            "no such route: POST /keys/../keys/",
        ),
        c(
            "encoded slash in the pkh",
            post_hex(&format!("/keys/{tz2}%2F"), &att),
            400,
            "%2F\" in the path",
        ),
        c(
            "unknown route",
            raw("GET /admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            404,
            "no such route: GET /admin",
        ),
        c(
            "PUT on a key",
            raw(&format!(
                "PUT {} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                k("")
            )),
            405,
            "method PUT not allowed on /keys/",
        ),
        c(
            "DELETE on a key",
            raw(&format!(
                "DELETE {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                k("")
            )),
            405,
            "method DELETE not allowed on /keys/",
        ),
        c(
            "CONNECT",
            raw("CONNECT signer:443 HTTP/1.1\r\nHost: signer:443\r\n\r\n"),
            405,
            "method CONNECT not allowed on signer:443",
        ),
        c(
            "OPTIONS *",
            raw("OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            400,
            "malformed request target \"*\": expected a path such as /keys/<pkh>",
        ),
        c(
            "absolute-form target",
            raw(&format!(
                "GET http://evil.example{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                k("")
            )),
            200,
            "\"public_key\":\"sppk",
        ),
        c(
            "authority-form GET",
            raw("GET signer:80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            400,
            "malformed request target \"signer:80\"",
        ),
        c(
            "/known_keys without --known-keys",
            raw("GET /known_keys HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            404,
            "the signer does not list its keys (start it with --known-keys)",
        ),
        // HTTP framing
        c(
            "header block over the limit",
            raw(&format!(
                "GET {} HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                k(""),
                "a".repeat(100 * 1024)
            )),
            431,
            "",
        ),
        c("garbage request line", raw("HELLO\r\n\r\n"), 400, ""),
        c(
            "invalid chunked body",
            raw(&format!(
                "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
                k("")
            )),
            400,
            "cannot read the request body",
        ),
        c(
            "body shorter than its Content-Length",
            raw(&format!(
                "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\nConnection: close\r\n\r\n\"13\"",
                k("")
            )),
            503,
            "request did not complete within 3s",
        ),
        // Authentication (the server started with --authorized-keys)
        a(
            "no authentication",
            post_hex(&ka(""), &att),
            401,
            "missing authentication signature field",
        ),
        a(
            "authentication not base58",
            post_hex(&ka("?authentication=notasignature"), &att),
            400,
            "malformed authentication query parameter: bad base58 checksum",
        ),
        a(
            "authentication by an unknown key",
            post_hex(
                &ka(&format!(
                    "?authentication={}",
                    stranger.sign(&authentication_bytes(&pkh, &att_bytes))
                )),
                &att,
            ),
            403,
            "invalid authentication signature",
        ),
        a(
            "authentication over other bytes",
            post_hex(
                &ka(&format!("?authentication={}", client.sign(b"other bytes"))),
                &att,
            ),
            403,
            "invalid authentication signature",
        ),
        a(
            "authentication for another pkh",
            post_hex(
                &ka(&format!(
                    "?authentication={}",
                    client.sign(&authentication_bytes(
                        &"tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t".parse().expect("pkh"),
                        &att_bytes
                    ))
                )),
                &att,
            ),
            403,
            "invalid authentication signature",
        ),
        a(
            "high-S twin of a valid tz2 authentication",
            post_hex(
                &ka(&format!("?authentication={}", high_s(&good_auth))),
                &att,
            ),
            403,
            "invalid authentication signature",
        ),
        a(
            "authentication given twice, the second forged",
            post_hex(
                &ka(&format!(
                    "?authentication={good_auth}&authentication={}",
                    client.sign(b"x")
                )),
                &att,
            ),
            403,
            "invalid authentication signature",
        ),
        // The valid request last: it must still be signed.
        a(
            "valid authenticated attestation",
            post_hex(&ka(&format!("?authentication={good_auth}")), &att),
            200,
            "\"signature\":\"spsig1",
        ),
    ];
    assert!(cases.len() >= 60, "{} cases", cases.len());

    let print = std::env::var_os("BAD_INPUT_PRINT").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let server = if case.auth_server { &authed } else { &plain };
        let authority = server.url.trim_start_matches("http://").to_string();
        let (status, msg) = exchange(&authority, &case.request);
        if print {
            println!("{:<55} {status} {msg:?}", case.name);
        }
        if status != case.status || (case.msg != "?" && !msg.contains(case.msg)) {
            failures.push(format!(
                "{}: got {status} {msg:?}, want {} {:?}",
                case.name, case.status, case.msg
            ));
        }
        // Still healthy: a plain GET answers on a new connection.
        let (health, body) = exchange(
            &authority,
            &raw(&format!(
                "GET /keys/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                server.tz2
            )),
        );
        assert_eq!(
            health, 200,
            "after {:?} the signer no longer answers: {body}",
            case.name
        );
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Nothing was signed but the cases that expect a signature: the two servers' counters of
    // released signatures (and stored ones given back) add up to exactly those.
    let expected = cases
        .iter()
        .filter(|c| c.status == 200 && c.msg.contains("signature"))
        .count() as u64;
    assert!(expected >= 2, "the catalogue has signable cases");
    let released: u64 = [&plain, &authed]
        .iter()
        .map(|server| signatures_released(&server.metrics))
        .sum();
    assert_eq!(
        released, expected,
        "signatures released over the catalogue, against the cases that expect one"
    );
}

/// `signatures_total` plus `replays_total` over every kind and key, from `metrics`'s text.
fn signatures_released(metrics: &str) -> u64 {
    let authority = metrics.trim_start_matches("http://");
    let mut s = TcpStream::connect(authority).expect("connect to metrics");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.lines()
        .filter(|l| {
            l.starts_with("tezos_azure_signer_signatures_total{")
                || l.starts_with("tezos_azure_signer_replays_total{")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Pipelined HTTP/1.1 requests are answered in order on one connection, and an HTTP/2
/// prior-knowledge client (h2c) is served on the same port. (Slow and idle connections:
/// serve_defects.rs.)
#[test]
fn pipelining_and_http2_prior_knowledge() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Serving::start(dir.path(), &[]);
    let authority = server.url.trim_start_matches("http://").to_string();
    let get = format!("GET /keys/{} HTTP/1.1\r\nHost: x\r\n\r\n", server.tz2);
    let sign = post_hex(&format!("/keys/{}", server.tz2), &attestation(7, 0, 1));
    let mut pipelined = get.clone().into_bytes();
    pipelined.extend_from_slice(&sign); // ends with Connection: close
    let mut s = TcpStream::connect(&authority).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(&pipelined).expect("write");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    let first = answer.find("public_key").expect("GET answered");
    let second = answer.find("signature").expect("POST answered");
    assert!(first < second, "answered in order: {answer}");

    // curl as a real HTTP/2 client without upgrade (h2c prior knowledge).
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-H",
            "Content-Type: application/json",
        ])
        .args(["-w", "\n%{http_version} %{http_code}", "--data"])
        .arg(format!("\"{}\"", attestation(8, 0, 1)))
        .arg(format!("{}/keys/{}", server.url, server.tz2))
        .output()
        .expect("curl (installed by .ci/run)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("\n2 200"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("\"signature\":\"spsig1"), "{text}");
}
