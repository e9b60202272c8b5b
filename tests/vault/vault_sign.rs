//! Signing through `AzureVault` (the real SDK) against the emulator over TLS: one request and
//! no token fetch per signature, tz2 high-S always normalised, wrong signatures never released,
//! and throttling, latency and 5xx handled within the deadline (and the deadline firing); a
//! listing with all its key fetches runs under one read deadline.

use std::time::{Duration, Instant};

use crate::vault_common::*;
use keyvault_emulator::Faults;
use tezos_azure_signer::tezos::{Curve, SecretKey, blake2b_256};
use tezos_azure_signer::vault::{
    AzureVault, ImportOptions, Vault, VaultError, VaultKey, sign_verified,
};

async fn setup(
    curve: Curve,
    sign_deadline_ms: u64,
) -> (keyvault_emulator::Emulator, Scratch, AzureVault, VaultKey) {
    let emu = emulator().await;
    let s = Scratch::new();
    let vault = vault(&emu, &s, sign_deadline_ms);
    let sk = SecretKey::from_scalar(curve, &[0x42; 32]).unwrap();
    vault
        .import_key("baker", &sk, ImportOptions::default())
        .await
        .unwrap();
    // Warm up as `serve` does: list the keys (challenge + token happen here).
    let keys = vault.list_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys.into_iter().next().unwrap();
    assert_eq!(key.pkh(), sk.public_key().pkh());
    (emu, s, vault, key)
}

fn digest(i: u32) -> [u8; 32] {
    blake2b_256(&i.to_be_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_vault_request_and_no_token_fetch_per_signature() {
    let (emu, _s, vault, key) = setup(Curve::P256, 3000).await;
    let before = emu.stats();
    assert_eq!(before.tokens_client_credentials, 1);
    for i in 0..25 {
        let sig = sign_verified(&vault, &key, &digest(i)).await.unwrap();
        key.public_key.verify_digest(&digest(i), &sig).unwrap();
    }
    let after = emu.stats();
    assert_eq!(after.sign - before.sign, 25);
    assert_eq!(
        after.requests - before.requests,
        25,
        "exactly one HTTP request per signature"
    );
    assert_eq!(after.tokens_client_credentials, 1, "the token is cached");
    assert_eq!(after.challenges, before.challenges);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_s_from_the_vault_always_comes_out_low_s() {
    let (emu, _s, vault, key) = setup(Curve::Secp256k1, 3000).await;
    assert_eq!(key.algorithm(), "ES256K");
    let mut raw_high = 0;
    for i in 0..48 {
        let raw = vault.sign_digest(&key, &digest(i)).await.unwrap();
        let raw_sig = tezos_azure_signer::tezos::Signature::from_raw(Some(Curve::Secp256k1), raw);
        if !raw_sig.is_low_s() {
            raw_high += 1;
        }
        let sig = sign_verified(&vault, &key, &digest(i)).await.unwrap();
        assert!(sig.is_low_s(), "signature {i} is high-S");
        assert!(sig.to_string().starts_with("spsig1"));
        key.public_key.verify_digest(&digest(i), &sig).unwrap();
    }
    let high = emu.stats().high_s;
    assert!(
        raw_high > 0 && high > 0,
        "the emulator produced high-S signatures ({raw_high}, {high})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_signatures_from_the_vault_never_come_out() {
    let (emu, _s, vault, key) = setup(Curve::Secp256k1, 3000).await;
    emu.set_faults(Faults {
        wrong_signature_rate: 0.5,
        ..Faults::default()
    });
    let before = emu.stats().wrong_signatures;
    let (mut good, mut refused) = (0u64, 0u64);
    for i in 0..40 {
        match sign_verified(&vault, &key, &digest(i)).await {
            Ok(sig) => {
                key.public_key.verify_digest(&digest(i), &sig).unwrap();
                assert!(sig.is_low_s());
                good += 1;
            }
            Err(VaultError::InvalidSignature(pkh)) => {
                assert_eq!(pkh, key.pkh());
                refused += 1;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    let wrong = emu.stats().wrong_signatures - before;
    assert!(
        wrong > 0 && good > 0,
        "both happened: {wrong} wrong, {good} good"
    );
    assert_eq!(refused, wrong, "every wrong signature was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_within_the_deadline() {
    let (emu, _s, vault, key) = setup(Curve::P256, 3000).await;
    emu.set_faults(Faults {
        throttle_every: Some(2),
        retry_after_secs: 1,
        ..Faults::default()
    });
    for i in 0..4 {
        let started = Instant::now();
        sign_verified(&vault, &key, &digest(i)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
    }
    assert!(emu.stats().throttled >= 2, "{:?}", emu.stats());

    // A Retry-After beyond the deadline is not honoured: the throttling error comes back at once.
    emu.set_faults(Faults {
        throttle_every: Some(1),
        retry_after_secs: 30,
        ..Faults::default()
    });
    let started = Instant::now();
    let err = sign_verified(&vault, &key, &digest(9)).await.unwrap_err();
    assert!(matches!(err, VaultError::Throttled(_)), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_within_the_deadline_and_the_deadline_firing() {
    let (emu, _s, vault, key) = setup(Curve::P256, 1000).await;
    emu.set_faults(Faults {
        latency_ms: 200,
        ..Faults::default()
    });
    sign_verified(&vault, &key, &digest(1)).await.unwrap();
    emu.set_faults(Faults {
        latency_ms: 3000,
        ..Faults::default()
    });
    let started = Instant::now();
    let err = sign_verified(&vault, &key, &digest(2)).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, VaultError::Deadline(d) if d == Duration::from_secs(1)),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(990) && took < Duration::from_millis(1800),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_within_the_deadline() {
    let (emu, _s, vault, key) = setup(Curve::Secp256k1, 3000).await;
    emu.set_faults(Faults {
        error_rate: 0.25,
        ..Faults::default()
    });
    let before = emu.stats();
    let mut ok = 0u64;
    for i in 0..20 {
        match sign_verified(&vault, &key, &digest(i)).await {
            Ok(_) => ok += 1,
            // Four 5xx in a row (p = 0.4%) exhaust the attempts: a 5xx error, never a bad output.
            Err(VaultError::Service { status, .. }) => assert!(status >= 500),
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    let st = emu.stats();
    assert!(st.server_errors > 0, "{st:?}");
    assert!(ok >= 18, "only {ok} of 20 succeeded despite retries");
    let requests = st.requests - before.requests;
    let errors = st.server_errors - before.server_errors;
    assert_eq!(
        requests,
        ok + errors,
        "each request was a success or an injected 5xx"
    );
    assert!(requests > 20, "5xx were retried: {requests} requests");
}

use keyvault_emulator::testkit as emulator_common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_uses_the_cached_key_version() {
    let (_emu, _s, vault, v1) = setup(Curve::Secp256k1, 3000).await;
    let other = SecretKey::from_scalar(Curve::Secp256k1, &[0x07; 32]).unwrap();
    let v2 = vault
        .import_key("baker", &other, ImportOptions::default())
        .await
        .unwrap();
    assert_ne!(v1.version, v2.version);
    assert_eq!(
        vault.get_key("baker").await.unwrap(),
        v2,
        "latest is the new version"
    );
    // The cached v1 still signs with v1, not with whatever is latest.
    let sig = sign_verified(&vault, &v1, &digest(5)).await.unwrap();
    v1.public_key.verify_digest(&digest(5), &sig).unwrap();
    let sig = sign_verified(&vault, &v2, &digest(5)).await.unwrap();
    v2.public_key.verify_digest(&digest(5), &sig).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_curve_names_and_disabled_keys() {
    use serde_json::json;
    let emu = emulator().await;
    let s = Scratch::new();
    let vault = vault(&emu, &s, 3000);
    let http = emulator_common::client(&emu);
    let token = emulator_common::token(&emu, &http).await;
    let body = |crv: &str, enabled: bool| json!({"key": emulator_common::jwk(crv), "Hsm": true, "attributes": {"enabled": enabled}});
    emulator_common::import(&emu, &http, &token, "legacy", body("SECP256K1", true)).await;
    emulator_common::import(&emu, &http, &token, "legacy-lower", body("secp256k1", true)).await;
    emulator_common::import(&emu, &http, &token, "modern", body("P-256K", true)).await;
    emulator_common::import(&emu, &http, &token, "off", body("P-256", false)).await;
    let keys = vault.list_keys().await.unwrap();
    let names: Vec<_> = keys
        .iter()
        .map(|k| (k.name.as_str(), k.algorithm()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("legacy", "ECDSA256"),
            ("legacy-lower", "ECDSA256"),
            ("modern", "ES256K")
        ],
        "the disabled key is skipped"
    );
    for key in &keys {
        assert_eq!(key.curve(), Curve::Secp256k1);
        let sig = sign_verified(&vault, key, &digest(3)).await.unwrap();
        assert!(sig.is_low_s());
    }
    let err = vault.get_key("off").await.unwrap_err();
    assert!(
        matches!(&err, VaultError::UnusableKey { reason, .. } if reason.contains("disabled")),
        "{err}"
    );
    assert!(matches!(vault.get_key("absent").await, Err(VaultError::NotFound(n)) if n == "absent"));
}

/// An SDK vault client at the production-shaped `host` (resolved to the emulator, challenge
/// verification on), its credential chain a client secret; and a plain HTTP client for `host`.
fn production_shaped(
    emu: &keyvault_emulator::Emulator,
    s: &Scratch,
    host: &str,
) -> (AzureVault, reqwest::Client, String) {
    use std::sync::Arc;
    use tezos_azure_signer::vault::AzureVaultConfig;
    use tezos_azure_signer::vault::credentials::{
        AuthMode, ChainCredential, CredentialEnv, SdkFactory, plan,
    };
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", emu.port()).parse().unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve(host, addr)
        .no_proxy()
        .build()
        .unwrap();
    let options = azure_core::http::ClientOptions {
        retry: azure_core::http::RetryOptions::none(),
        transport: Some(azure_core::http::Transport::new(Arc::new(http.clone()))),
        ..Default::default()
    };
    let env = CredentialEnv::new(client_secret_env(emu), &s.dmi());
    let chain = ChainCredential::new(
        &plan(AuthMode::ClientSecret, &env),
        &env,
        &SdkFactory::new(options.clone()),
    );
    let base = format!("https://{host}:{}", emu.port());
    let config = AzureVaultConfig::new(base.parse().unwrap(), Arc::new(chain));
    let vault = AzureVault::with_client_options(config, options).unwrap();
    (vault, http, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_shaped_host_with_challenge_verification_on() {
    let emu = emulator().await;
    let s = Scratch::new();
    let (vault, _, _) = production_shaped(&emu, &s, "myvault.vault.azure.net");
    let sk = SecretKey::from_scalar(Curve::Secp256k1, &[0x11; 32]).unwrap();
    let key = vault
        .import_key("baker", &sk, ImportOptions::default())
        .await
        .unwrap();
    assert!(
        key.id.starts_with("https://myvault.vault.azure.net"),
        "{}",
        key.id
    );
    let sig = sign_verified(&vault, &key, &digest(1)).await.unwrap();
    sk.public_key().verify_digest(&digest(1), &sig).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_and_its_key_fetches_share_one_read_deadline() {
    let emu = emulator().await;
    let s = Scratch::new();
    let vault = vault_with_deadlines(&emu, &s, Duration::from_secs(3), Duration::from_millis(700));
    for i in 0..17u8 {
        let sk = SecretKey::from_scalar(Curve::P256, &[i + 1; 32]).unwrap();
        vault
            .import_key(&format!("k{i}"), &sk, ImportOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(vault.list_keys().await.unwrap().len(), 17);
    // 200 ms per request: the page (200 ms) and 17 fetches, 8 at a time (600 ms), each well
    // inside 700 ms, together past it.
    emu.set_faults(Faults {
        latency_ms: 200,
        ..Faults::default()
    });
    let started = Instant::now();
    let err = vault.list_keys().await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, VaultError::Deadline(d) if d == Duration::from_millis(700)),
        "{err}"
    );
    assert!(took < Duration::from_millis(1000), "{took:?}");
}

/// A latency tail: the slow fraction of requests pays its extra delay, the rest does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_tail_is_paid_by_the_slow_requests_only() {
    let (emu, _s, vault, key) = setup(Curve::P256, 3000).await;
    emu.set_faults(Faults {
        slow_rate: 1.0,
        slow_ms: 400,
        ..Faults::default()
    });
    let started = Instant::now();
    sign_verified(&vault, &key, &digest(1)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(400));
    emu.set_faults(Faults::default());
    let started = Instant::now();
    sign_verified(&vault, &key, &digest(2)).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(400));
}

/// Key Vault's own throttling (a limit per window, 429s without `Retry-After`): the client
/// backs off within the request's deadline and then says it is throttled, instead of waiting
/// for a window it cannot see the end of; once the window has passed, signing works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_throttling_without_retry_after_fails_within_the_deadline() {
    let (emu, _s, vault, key) = setup(Curve::Secp256k1, 1000).await;
    emu.set_faults(Faults {
        throttle_per_window: Some(2),
        throttle_window_ms: 2500,
        ..Faults::default()
    });
    let window = Instant::now();
    for i in 0..2 {
        sign_verified(&vault, &key, &digest(i)).await.unwrap();
    }
    let started = Instant::now();
    let err = sign_verified(&vault, &key, &digest(3)).await.unwrap_err();
    assert!(
        matches!(err, VaultError::Throttled(_) | VaultError::Deadline(_)),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(emu.stats().throttled >= 1, "{:?}", emu.stats());
    tokio::time::sleep(Duration::from_millis(2600).saturating_sub(window.elapsed())).await;
    sign_verified(&vault, &key, &digest(4)).await.unwrap();
}

/// Managed HSM mode, end to end through the real SDK at a production-shaped
/// `*.managedhsm.azure.net` host: the SDK verifies the challenge's resource against that host
/// and fetches a token for it, imports (always HSM there), lists (no `nextLink` member on the
/// last page) and signs (a reply that also names `alg`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_hsm_mode_end_to_end() {
    let emu = emulator_as(keyvault_emulator::EmulatorConfig {
        managed_hsm: true,
        ..keyvault_emulator::EmulatorConfig::default()
    })
    .await;
    let s = Scratch::new();
    let (vault, http, base) = production_shaped(&emu, &s, "myhsm.managedhsm.azure.net");
    // What a client without a token sees: the HSM's challenge, and an empty body.
    let res = http
        .get(format!("{base}/keys?api-version=7.5"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("resource=\"https://managedhsm.azure.net\""),
        "{challenge}"
    );
    assert!(res.bytes().await.unwrap().is_empty());

    for (i, curve) in [Curve::Secp256k1, Curve::P256].into_iter().enumerate() {
        let sk = SecretKey::from_scalar(curve, &[0x21 + i as u8; 32]).unwrap();
        let name = format!("baker{i}");
        let software = ImportOptions { software: true };
        let key = vault.import_key(&name, &sk, software).await.unwrap();
        assert!(key.id.starts_with(&base), "{}", key.id);
    }
    let keys = vault.list_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    for (i, key) in keys.iter().enumerate() {
        let sig = sign_verified(&vault, key, &digest(i as u32)).await.unwrap();
        key.public_key
            .verify_digest(&digest(i as u32), &sig)
            .unwrap();
    }
}

/// Two vaults in one tenant (`Emulator::start_sibling`), as two regions' vaults are: one CA,
/// one token issuer. A client whose tokens come from vault A's tenant endpoint imports into and
/// signs with vault B too, and keeps signing with B after A has stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_vaults_in_one_tenant_share_the_ca_and_the_token_issuer() {
    use tezos_azure_signer::vault::credentials::{AuthMode, CredentialEnv};
    use tezos_azure_signer::vault::{VaultSettings, open_each_with_env};
    let a = emulator().await;
    let b = a
        .start_sibling(keyvault_emulator::EmulatorConfig::default())
        .await
        .expect("the second vault starts");
    assert_ne!(a.vault_url(), b.vault_url());
    assert_eq!(a.ca_pem(), b.ca_pem());
    let s = Scratch::new();
    // One credential chain for both: tokens from A's tenant endpoint.
    let env = CredentialEnv::new(client_secret_env(&a), &s.dmi());
    let open = |url: String| {
        let settings = VaultSettings {
            urls: vec![url.parse().unwrap()],
            auth: AuthMode::Auto,
            sign_deadline: Duration::from_secs(3),
            read_deadline: Duration::from_secs(20),
            extra_ca: Some(a.ca_path().to_path_buf()),
            hedge: Default::default(),
        };
        open_each_with_env(&settings, &env)
            .expect("vault opens")
            .0
            .remove(0)
            .1
    };
    let (vault_a, vault_b) = (open(a.vault_url()), open(b.vault_url()));
    let sk = SecretKey::from_scalar(Curve::P256, &[0x33; 32]).unwrap();
    for vault in [&vault_a, &vault_b] {
        vault
            .import_key("baker", &sk, ImportOptions::default())
            .await
            .unwrap();
    }
    assert_eq!(
        (a.key_count(), b.key_count()),
        (1, 1),
        "each vault its own keys"
    );
    let key_b = vault_b.list_keys().await.unwrap().remove(0);
    assert_eq!(key_b.pkh(), sk.public_key().pkh());
    assert_eq!(b.stats().tokens_client_credentials, 0, "B minted no token");
    a.shutdown().await;
    assert!(
        b.ca_path().exists(),
        "the tenant's CA file outlives the first vault"
    );
    let sig = sign_verified(&vault_b, &key_b, &digest(7)).await.unwrap();
    sk.public_key().verify_digest(&digest(7), &sig).unwrap();
}
