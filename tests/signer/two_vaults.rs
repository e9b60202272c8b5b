//! `serve --dev --dev-vaults 2`: the real binary over two emulated vaults in one tenant, the
//! demo keys in both. The preferred vault failing every request (set through its admin
//! endpoint) costs no signature; `/readyz` and `/metrics` name it while it is demoted, and it
//! is asked first again once it answers.

use std::time::{Duration, Instant};

use crate::serve_common::*;

/// An HTTP client trusting the emulators' CA (in the data directory).
fn admin(data_dir: &std::path::Path) -> reqwest::Client {
    let ca = std::fs::read(data_dir.join("emulator").join("ca.pem")).expect("the tenant's CA");
    reqwest::Client::builder()
        .no_proxy()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).expect("CA"))
        .build()
        .expect("client")
}

async fn ready(client: &reqwest::Client, metrics: &str) -> (u16, serde_json::Value) {
    let res = client
        .get(format!("{metrics}/readyz"))
        .send()
        .await
        .expect("readyz");
    (res.status().as_u16(), res.json().await.expect("json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_signs_through_a_failing_vault_and_names_it_until_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut serving = Serving::start(dir.path(), &["--dev-vaults", "2"]);
    assert_eq!(serving.vaults.len(), 2, "{:?}", serving.vaults);
    let (a, b) = (&serving.vaults[0], &serving.vaults[1]);
    let client = client();
    let admin = admin(dir.path());
    let faults = |body: serde_json::Value| {
        let admin = admin.clone();
        let url = format!("{a}/_emulator/faults");
        async move {
            let res = admin.put(url).json(&body).send().await.expect("faults");
            assert!(res.status().is_success(), "{}", res.status());
        }
    };
    let key = public_key(&client, &serving.url, &serving.tz2).await;
    let hex = attestation(100, 0, 1);
    let (status, body) = sign(&client, &serving.url, &serving.tz2, &hex).await;
    assert_eq!(status, 200, "{body}");
    assert_valid(&key, &hex, &body);

    faults(serde_json::json!({"error_rate": 1.0})).await;
    for level in 101..=110 {
        let hex = attestation(level, 0, 1);
        let (status, body) = sign(&client, &serving.url, &serving.tz2, &hex).await;
        assert_eq!(status, 200, "level {level}: {body}");
        assert_valid(&key, &hex, &body);
    }
    // Readiness is cached for 10 s: wait for a fresh check that saw the demotion.
    let until = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let (status, body) = ready(&client, &serving.metrics).await;
        assert_eq!(status, 200, "one vault is enough: {body}");
        if body.get("degraded").is_some() {
            break body;
        }
        assert!(Instant::now() < until, "never degraded: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        body["degraded"][0].as_str(),
        Some(format!("{a}/").as_str()),
        "{body}"
    );
    assert_eq!(body["vaults"][1]["state"], "up", "{body}");
    let text = metrics_text(&client, &serving.metrics).await;
    assert!(
        text.contains(&format!("tezos_azure_signer_vault_up{{vault=\"{a}/\"}} 0")),
        "{text}"
    );
    assert!(
        text.contains(&format!("tezos_azure_signer_vault_up{{vault=\"{b}/\"}} 1")),
        "{text}"
    );

    // Back: probed every 5 s, then up in the metrics (read live).
    faults(serde_json::json!({})).await;
    let until = Instant::now() + Duration::from_secs(30);
    while !metrics_text(&client, &serving.metrics)
        .await
        .contains(&format!("tezos_azure_signer_vault_up{{vault=\"{a}/\"}} 1"))
    {
        assert!(Instant::now() < until, "never restored");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let hex = attestation(111, 0, 1);
    let (status, body) = sign(&client, &serving.url, &serving.tz2, &hex).await;
    assert_eq!(status, 200, "{body}");
    serving.kill();
}

/// `emulator --vaults 2 --print-env`: one process, two vaults in one tenant; the printed
/// environment names both, and `import` and `verify --vault-keys` use both through it.
#[test]
fn the_emulator_serves_two_vaults_and_the_cli_uses_both() {
    let emulator = crate::running_binary::RunningBinary::start(&["--ephemeral", "--vaults", "2"]);
    let urls: Vec<&str> = emulator.var("AZURE_KEYVAULT_URI").split(',').collect();
    assert_eq!(urls.len(), 2, "{urls:?}");
    assert_ne!(urls[0], urls[1]);
    let dir = tempfile::tempdir().unwrap();
    import_test_key(&emulator.env, dir.path(), "baker");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tezos-azure-signer"))
        .envs(emulator.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["verify", "--vault-keys", "--json"])
        .output()
        .expect("verify runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let vaults: Vec<&str> = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["vault"].as_str().unwrap())
        .collect();
    assert_eq!(vaults.len(), 2, "{json}");
    for url in urls {
        assert!(
            vaults.iter().any(|v| v.trim_end_matches('/') == url),
            "{url} in {json}"
        );
    }
    assert!(
        json["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["pkh"] == tezos_azure_signer::testing::TZ2),
        "{json}"
    );
}
