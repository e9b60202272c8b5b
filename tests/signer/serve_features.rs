//! End to end through the real binary `serve --dev`: operational features (TLS, authorized
//! keys, low-S normalisation through the emulator, the data-dir lock, environment variables).

use crate::serve_common::{Serving, attestation, client, preattestation, serve_dev, sign};

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_with_the_holder_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _first = Serving::start(dir.path(), &[]);
    let out = serve_dev(dir.path(), "127.0.0.1:0")
        .output()
        .expect("run second serve");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}

#[test]
fn every_serve_flag_reads_an_environment_variable() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
        .args(["serve", "--help"])
        .output()
        .expect("serve --help");
    let help = String::from_utf8_lossy(&out.stdout);
    for var in [
        "ADDRESS",
        "PORT",
        "DATA_DIR",
        "MAGIC_BYTES",
        "KEY",
        "POLICY",
        "AUTHORIZED_KEYS",
        "TLS_CERT",
        "TLS_KEY",
        "METRICS_ADDRESS",
        "KNOWN_KEYS",
        "MIN_LEVEL",
        "DEV",
    ] {
        assert!(
            help.contains(&format!("[env: TEZOS_AZURE_SIGNER_{var}=")),
            "no TEZOS_AZURE_SIGNER_{var} in:\n{help}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_tls_cert_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("cert");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, certified.cert.pem()).expect("write cert");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    let data = dir.path().join("data");
    let server = Serving::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().expect("utf-8 path"),
            "--tls-key",
            key.to_str().expect("utf-8 path"),
        ],
    );
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let https = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).expect("pem"),
        ])
        .build()
        .expect("client");
    let (status, body) = sign(&https, &server.url, &server.tz3, &attestation(42, 0, 1)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("p2sig"))
    );
}

/// `--authorized-keys`: unauthenticated requests get 401, a wrong signature 403, octez's
/// authentication bytes signed by an authorized key 200; `/authorized_keys` lists the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticated_requests_with_authorized_keys() {
    use tezos_azure_signer::auth::authentication_bytes;
    use tezos_azure_signer::tezos::{Pkh, SecretKey};

    let dir = tempfile::tempdir().expect("temp dir");
    let client_key: SecretKey = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9"
        .parse()
        .expect("vector key");
    let file = dir.path().join("authorized_keys");
    std::fs::write(&file, format!("# the baker\n{}\n", client_key.public_key())).expect("write");
    let server = Serving::start(
        &dir.path().join("data"),
        &["--authorized-keys", file.to_str().expect("utf-8 path")],
    );
    let http = client();
    let listed: serde_json::Value = http
        .get(format!("{}/authorized_keys", server.url))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(
        listed,
        serde_json::json!({ "authorized_keys": [client_key.public_key().pkh().to_string()] })
    );
    let payload = attestation(77, 0, 1);
    let data = hex::decode(&payload).expect("hex");
    let pkh: Pkh = server.tz2.parse().expect("pkh");
    let good = client_key.sign(&authentication_bytes(&pkh, &data));
    let wrong = client_key.sign(b"something else");
    let post = |query: String| {
        let (http, url, pkh, payload) = (
            http.clone(),
            server.url.clone(),
            server.tz2.clone(),
            payload.clone(),
        );
        async move {
            let res = http
                .post(format!("{url}/keys/{pkh}{query}"))
                .json(&payload)
                .send()
                .await
                .expect("POST");
            let status = res.status().as_u16();
            (status, res.json::<serde_json::Value>().await.expect("json"))
        }
    };
    let (status, body) = post(String::new()).await;
    assert_eq!(
        (status, body[0]["msg"].as_str()),
        (401, Some("missing authentication signature field"))
    );
    let (status, body) = post(format!("?authentication={wrong}")).await;
    assert_eq!(
        (status, body[0]["msg"].as_str()),
        (403, Some("invalid authentication signature"))
    );
    let (status, body) = post(format!("?authentication={good}&version=1")).await;
    assert_eq!(status, 200, "{body}");
}

/// The emulator answers high-S about half the time, like Azure: every tz2 signature that comes
/// out must be low-S and verify against the served public key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tz2_signatures_are_always_low_s_and_verify() {
    use tezos_azure_signer::tezos::{PublicKey, Signature};

    let dir = tempfile::tempdir().expect("temp dir");
    let server = Serving::start(dir.path(), &[]);
    let http = client();
    let pk: serde_json::Value = http
        .get(format!("{}/keys/{}", server.url, server.tz2))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let pk: PublicKey = pk["public_key"]
        .as_str()
        .expect("pk")
        .parse()
        .expect("sppk");
    for level in 1..=32 {
        let payload = preattestation(level, 0, 9);
        let (status, body) = sign(&http, &server.url, &server.tz2, &payload).await;
        assert_eq!(status, 200, "{body}");
        let sig: Signature = body["signature"]
            .as_str()
            .expect("sig")
            .parse()
            .expect("spsig1");
        assert!(sig.is_low_s(), "level {level}: high-S signature released");
        pk.verify(&hex::decode(&payload).expect("hex"), &sig)
            .expect("signature verifies");
    }
}

/// The `--dev` banner's curl commands work as printed (GET public key, POST an attestation,
/// and the same POST again gives the same signature).
#[test]
fn dev_banner_curl_examples_work_as_printed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Serving::start(dir.path(), &[]);
    assert_eq!(server.curl.len(), 2, "{:?}", server.curl);
    let run = |cmd: &str| {
        let out = std::process::Command::new("sh")
            .args(["-c", cmd])
            .output()
            .expect("run curl");
        assert!(out.status.success(), "{cmd}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON answer")
    };
    let pk = run(&server.curl[0]);
    assert!(
        pk["public_key"]
            .as_str()
            .is_some_and(|p| p.starts_with("sppk")),
        "{pk}"
    );
    let first = run(&server.curl[1]);
    let again = run(&server.curl[1]);
    assert!(
        first["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("spsig1")),
        "{first}"
    );
    assert_eq!(first, again);
}

#[test]
fn sigint_when_idle_exits_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Serving::start(dir.path(), &[]);
    let status = server.signal("-INT", std::time::Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "{status:?}");
}

/// Startup errors are precise and exit 1 before anything is served.
#[test]
fn startup_errors_exit_one_with_a_precise_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad_policy = dir.path().join("policy.toml");
    std::fs::write(&bad_policy, "this is = = not toml").expect("write");
    let missing = dir.path().join("missing.pem");
    let data = dir.path().join("data");
    let data = data.to_str().expect("utf-8");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--data-dir", data], "no vault URL"),
        (
            vec![
                "--data-dir",
                data,
                "--policy",
                bad_policy.to_str().expect("utf-8"),
            ],
            "policy file",
        ),
        (
            vec![
                "--data-dir",
                data,
                "--authorized-keys",
                missing.to_str().expect("utf-8"),
            ],
            "authorized keys file",
        ),
        (
            vec![
                "--data-dir",
                data,
                "--tls-cert",
                missing.to_str().expect("utf-8"),
                "--tls-key",
                missing.to_str().expect("utf-8"),
            ],
            "missing.pem",
        ),
    ];
    for (args, expected) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
            .arg("serve")
            .args(&args)
            .args(["--port", "0", "--metrics-address", "127.0.0.1:0"])
            .env_remove("AZURE_KEYVAULT_URI")
            .env("RUST_LOG", "off")
            .output()
            .expect("run serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?} printed a listening line");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
        .args(["serve", "--tls-cert", "x.pem"])
        .output()
        .expect("run serve");
    assert_eq!(
        out.status.code(),
        Some(2),
        "--tls-cert without --tls-key is a usage error"
    );
}

#[test]
fn metrics_address_off_runs_no_metrics_listener() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = serve_dev(dir.path(), "off")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve --dev");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let done = line.starts_with("Point a baker at it");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        lines.iter().any(|l| l.starts_with("listening http://")),
        "the signer API still serves: {lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("metrics ")),
        "no metrics listener was announced: {lines:?}"
    );
}

#[test]
fn serve_dev_applies_the_vault_deadline_flags() {
    // A 1 ms read deadline cannot fit a TLS round trip to the emulator: the start-up listing
    // fails with the deadline the flag set (serve --dev used to replace it with 30 s).
    let dir = tempfile::tempdir().expect("temp dir");
    let out = serve_dev(dir.path(), "off")
        .args(["--read-deadline", "1ms"])
        .env("RUST_LOG", "off")
        .output()
        .expect("run serve --dev");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("did not complete within 1ms"), "{stderr}");
    assert!(out.stdout.is_empty(), "it never listened");
}
