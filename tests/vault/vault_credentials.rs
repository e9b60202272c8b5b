//! Every credential path of the chain, through the real binary against the emulator: managed
//! identity (IDENTITY_ENDPOINT/IDENTITY_HEADER), client secret (AZURE_AUTHORITY_HOST on
//! loopback), the Azure CLI (a fake `az` first on PATH), workload identity (a federated token
//! file the emulator's token endpoint trusts, and one it refuses), and the all-failed error. Environment is set only on the child process.

use crate::vault_common::*;
use keyvault_emulator::Emulator;

fn with(mut env: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_identity_and_client_secret_each_work_and_auto_prefers_the_secret() {
    let emu = emulator().await;
    let s = Scratch::new();
    let list = ["verify", "--vault-keys", "--json"];

    // App Service managed identity, CA via SSL_CERT_FILE.
    let out = run(bin(&s, &mi_env(&emu), &list)).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let st = emu.stats();
    assert!(
        st.tokens_managed_identity >= 1 && st.tokens_client_credentials == 0,
        "{st:?}"
    );

    // Client secret through AZURE_AUTHORITY_HOST, CA via TEZOS_AZURE_SIGNER_VAULT_CA.
    let out = run(bin(&s, &client_secret_env(&emu), &list)).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(emu.stats().tokens_client_credentials >= 1);

    // Both configured: auto takes the client secret first; --auth managed-identity overrides.
    let mut both = client_secret_env(&emu);
    both.extend(mi_env(&emu));
    let mi_before = emu.stats().tokens_managed_identity;
    let cc_before = emu.stats().tokens_client_credentials;
    let out = run(bin(&s, &both, &list)).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(emu.stats().tokens_managed_identity, mi_before);
    assert!(emu.stats().tokens_client_credentials > cc_before);
    let out = run(bin(
        &s,
        &both,
        &[
            "--vault-url",
            &emu.vault_url(),
            "verify",
            "--vault-keys",
            "--auth",
            "managed-identity",
        ],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(emu.stats().tokens_managed_identity > mi_before);
    let out = run(bin(
        &s,
        &with(both, &[("TEZOS_AZURE_SIGNER_AUTH", "managed-identity")]),
        &list,
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_cli_through_a_fake_az_on_path() {
    use std::os::unix::fs::PermissionsExt;
    let emu = emulator().await;
    let s = Scratch::new();
    // The fake az hands out a token the emulator minted (fetched here, over loopback).
    let http = reqwest::Client::new();
    let url = format!(
        "{}?api-version=2019-08-01&resource=https://vault.azure.net",
        emu.identity_endpoint()
    );
    let body: serde_json::Value = http
        .get(url)
        .header("X-IDENTITY-HEADER", emu.identity_header())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let expires = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    std::fs::create_dir(s.join("bin")).unwrap();
    let log = s.join("az.log");
    let script = format!(
        "#!/bin/sh\necho \"$@\" >> '{}'\nprintf '%s' '{{\"accessToken\":\"{token}\",\"expiresOn\":\"2099-01-01 00:00:00.000000\",\"expires_on\":{expires},\"subscription\":\"s\",\"tenant\":\"t\",\"tokenType\":\"Bearer\"}}'\n",
        log.display()
    );
    let az = s.write("bin/az", &script);
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = vec![
        ("AZURE_KEYVAULT_URI".to_string(), emu.vault_url()),
        (
            "SSL_CERT_FILE".to_string(),
            emu.ca_path().display().to_string(),
        ),
    ];
    let mut cmd = bin(&s, &env, &["verify", "--vault-keys", "--json"]);
    cmd.env("PATH", s.join("bin"));
    let out = run(cmd).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.contains("account get-access-token")
            && calls.contains("--scope https://vault.azure.net/.default"),
        "{calls}"
    );
    assert_eq!(
        calls.lines().count(),
        1,
        "one token for the whole command: {calls}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_configured_lists_every_credential_with_its_fix() {
    let emu = emulator().await;
    let s = Scratch::new();
    let env = vec![
        ("AZURE_KEYVAULT_URI".to_string(), emu.vault_url()),
        (
            "SSL_CERT_FILE".to_string(),
            emu.ca_path().display().to_string(),
        ),
    ];
    let out = run(bin(&s, &env, &["verify", "--vault-keys"])).await;
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    for needle in [
        "no Azure credential worked",
        "client secret: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set",
        "workload identity: AZURE_FEDERATED_TOKEN_FILE",
        "managed identity (App Service): IDENTITY_ENDPOINT, IDENTITY_HEADER not set",
        "managed identity (Azure VM): not an Azure VM",
        "Azure CLI: az not found on PATH",
        "az login",
        "--auth",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    assert_eq!(emu.stats().requests, 0, "nothing was sent to the vault");
    // import: a setup error, exit 1.
    let key = genkey(s.path(), "secp256k1", "k");
    let out = run(bin(&s, &env, &["import", "--key", key.to_str().unwrap()])).await;
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("no Azure credential worked"));
    let out = run(bin(
        &s,
        &env,
        &["import", "--json", "--key", key.to_str().unwrap()],
    ))
    .await;
    assert_eq!(code(&out), 1);
    let report = stdout_json(&out);
    assert_eq!(report["exit_code"], 1);
    assert!(report["error"].as_str().unwrap().contains("az login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_credentials_that_fail_are_reported_with_the_reason() {
    let emu = emulator().await;
    let s = Scratch::new();
    s.write("federated-token", "a.b.c");
    let env = vec![
        ("AZURE_KEYVAULT_URI".to_string(), emu.vault_url()),
        (
            "TEZOS_AZURE_SIGNER_VAULT_CA".to_string(),
            emu.ca_path().display().to_string(),
        ),
        ("AZURE_AUTHORITY_HOST".to_string(), emu.authority_host()),
        ("AZURE_TENANT_ID".to_string(), emu.tenant_id().to_string()),
        ("AZURE_CLIENT_ID".to_string(), emu.client_id().to_string()),
        (
            "AZURE_CLIENT_SECRET".to_string(),
            "wrong-secret".to_string(),
        ),
        (
            "AZURE_FEDERATED_TOKEN_FILE".to_string(),
            s.join("federated-token").display().to_string(),
        ),
    ];
    let out = run(bin(
        &s,
        &env,
        &["verify", "--vault-keys", "--read-deadline", "10s"],
    ))
    .await;
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(err.contains("no Azure credential worked"), "{err}");
    // Both were tried against the (loopback) token endpoint and refused.
    assert!(emu.stats().token_errors >= 2, "{:?}", emu.stats());
    let secret_line = err
        .lines()
        .find(|l| l.contains("- client secret:"))
        .unwrap();
    assert!(!secret_line.contains("not set"), "{secret_line}");
    let wi_line = err
        .lines()
        .find(|l| l.contains("- workload identity:"))
        .unwrap();
    assert!(!wi_line.contains("not set"), "{wi_line}");
    assert!(
        secret_line.contains("fix: "),
        "one line per credential: {err}"
    );
    assert!(!err.contains("wrong-secret"), "the secret is never printed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_client_id_selects_a_user_assigned_managed_identity() {
    let emu = emulator().await;
    let s = Scratch::new();
    let list = ["verify", "--vault-keys"];
    // The identity assigned to this "app": accepted.
    let assigned = with(mi_env(&emu), &[("AZURE_CLIENT_ID", emu.client_id())]);
    let out = run(bin(&s, &assigned, &list)).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // Another client id is sent as such and refused by the identity endpoint.
    let before = emu.stats().token_errors;
    let other = with(
        mi_env(&emu),
        &[("AZURE_CLIENT_ID", "00000000-0000-4000-8000-00000000dead")],
    );
    let out = run(bin(&s, &other, &list)).await;
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(
        err.contains("managed identity (App Service):") && err.contains("not been assigned"),
        "{err}"
    );
    assert!(emu.stats().token_errors > before);
}

/// Workload identity as on AKS: only the pod's variables, no client secret.
fn workload_env(emu: &Emulator, token_file: &std::path::Path) -> Vec<(String, String)> {
    vec![
        ("AZURE_KEYVAULT_URI".into(), emu.vault_url()),
        (
            "TEZOS_AZURE_SIGNER_VAULT_CA".into(),
            emu.ca_path().display().to_string(),
        ),
        ("AZURE_AUTHORITY_HOST".into(), emu.authority_host()),
        ("AZURE_TENANT_ID".into(), emu.tenant_id().into()),
        ("AZURE_CLIENT_ID".into(), emu.client_id().into()),
        (
            "AZURE_FEDERATED_TOKEN_FILE".into(),
            token_file.display().to_string(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_federated_token_lists_keys_and_a_wrong_token_is_refused() {
    let emu = emulator().await;
    let s = Scratch::new();
    let key = genkey(s.path(), "prime256v1", "wi");
    let pkh = pkh_of(&key);
    let import = run(bin(
        &s,
        &client_secret_env(&emu),
        &["import", "--key", key.to_str().unwrap()],
    ))
    .await;
    assert_eq!(code(&import), 0, "{}", stderr(&import));
    let token_file = s.write("federated-token", emu.federated_token());
    let env = workload_env(&emu, &token_file);

    let before = emu.stats();
    let out = run(bin(
        &s,
        &env,
        &["verify", "--vault-keys", "--json", "--auth", "auto"],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout_json(&out).to_string().contains(&pkh),
        "the imported key is listed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = emu.stats();
    assert_eq!(
        after.tokens_client_assertion,
        before.tokens_client_assertion + 1,
        "one token, from the federated assertion: {after:?}"
    );
    assert_eq!(
        after.tokens_client_credentials, before.tokens_client_credentials,
        "no client secret was used"
    );
    assert_eq!(after.token_errors, before.token_errors);

    // Explicit mode works the same way.
    let out = run(bin(
        &s,
        &env,
        &["verify", "--vault-keys", "--auth", "workload-identity"],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // A token the app does not trust: refused by the token endpoint, reported with the reason.
    let wrong = s.write("wrong-token", "header.not-the-trusted-one.signature");
    let out = run(bin(
        &s,
        &workload_env(&emu, &wrong),
        &[
            "verify",
            "--vault-keys",
            "--auth",
            "auto",
            "--read-deadline",
            "10s",
        ],
    ))
    .await;
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(err.contains("no Azure credential worked"), "{err}");
    let wi_line = err
        .lines()
        .find(|l| l.contains("- workload identity:"))
        .unwrap_or_else(|| panic!("a workload identity line in:\n{err}"));
    assert!(
        wi_line.contains("No matching federated identity record"),
        "the Entra reason is shown: {wi_line}"
    );
    assert!(
        !err.contains("not-the-trusted-one"),
        "the token is never printed"
    );
    assert!(emu.stats().token_errors > after.token_errors);
}
