//! Re-authentication through `AzureVault` (the real SDK, client secret, as `open_with_env`
//! wires it) against the emulator over TLS: after the vault forgets its tokens (a restart or a
//! revocation, `POST /_emulator/revoke-tokens`), the next signature, read and import succeed
//! within their deadlines with exactly one new token, without waiting for the scheduled
//! refresh; a burst of concurrent signatures recovers together with one token; a vault that
//! refuses the new token at once is not asked again and again.

use std::time::{Duration, Instant};

use crate::vault_common::*;
use keyvault_emulator::Emulator;
use tezos_azure_signer::tezos::{Curve, SecretKey, blake2b_256};
use tezos_azure_signer::vault::{
    AzureVault, ImportOptions, Vault, VaultError, VaultKey, sign_verified,
};

fn digest(i: u32) -> [u8; 32] {
    blake2b_256(&i.to_be_bytes())
}

/// An emulator, a vault on it with one P-256 key, and one signature made (token cached).
async fn signing() -> (Emulator, Scratch, AzureVault, VaultKey) {
    let emu = emulator().await;
    let s = Scratch::new();
    let vault = vault(&emu, &s, 3000);
    let sk = SecretKey::from_scalar(Curve::P256, &[0x42; 32]).unwrap();
    vault
        .import_key("baker", &sk, ImportOptions::default())
        .await
        .unwrap();
    let key = vault.get_key("baker").await.unwrap();
    sign_verified(&vault, &key, &digest(0)).await.unwrap();
    assert_eq!(emu.stats().tokens_client_credentials, 1);
    (emu, s, vault, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_recovers_with_one_new_token_after_a_revocation() {
    let (emu, _s, vault, key) = signing().await;
    let before = emu.stats();
    assert_eq!(emu.revoke_tokens(), 1);

    let started = Instant::now();
    let sig = sign_verified(&vault, &key, &digest(1))
        .await
        .expect("the signature after the revocation succeeds");
    assert!(started.elapsed() < Duration::from_secs(3));
    key.public_key.verify_digest(&digest(1), &sig).unwrap();
    let after = emu.stats();
    assert_eq!(
        after.tokens_client_credentials - before.tokens_client_credentials,
        1,
        "exactly one new token: {after:?}"
    );
    assert_eq!(after.sign - before.sign, 1);
    // The price of the recovery: the refused request and the SDK's own challenge retry (401,
    // 401: the keeper still had the token), then after our reset the SDK's cached token once
    // more (401) and the request with the new token.
    assert_eq!(after.unauthorized - before.unauthorized, 3, "{after:?}");
    assert_eq!(after.requests - before.requests, 4, "{after:?}");

    // Steady state again: one request per signature, no further token.
    for i in 2..7 {
        sign_verified(&vault, &key, &digest(i)).await.unwrap();
    }
    let steady = emu.stats();
    assert_eq!(steady.requests - after.requests, 5);
    assert_eq!(steady.unauthorized, after.unauthorized);
    assert_eq!(
        steady.tokens_client_credentials,
        after.tokens_client_credentials
    );
}

// Each recovery below gets its own vault: the keeper acts on one reset per 30 s (a vault that
// refuses every token must not cost a token request per call).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readiness_read_recovers_after_a_revocation() {
    // `check_vault` reads a served key: /readyz recovers by itself.
    let (emu, _s, vault, key) = signing().await;
    emu.revoke_tokens();
    assert_eq!(vault.get_key("baker").await.unwrap(), key);
    assert_eq!(emu.stats().tokens_client_credentials, 2);
    // And signing uses the token the read fetched.
    sign_verified(&vault, &key, &digest(9)).await.unwrap();
    assert_eq!(emu.stats().tokens_client_credentials, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_recovers_after_a_revocation() {
    // The check when no key is served, and startup.
    let (emu, _s, vault, key) = signing().await;
    emu.revoke_tokens();
    assert_eq!(vault.list_keys().await.unwrap(), vec![key]);
    assert_eq!(emu.stats().tokens_client_credentials, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_refused_for_its_token_is_retried_once_and_done_once() {
    // A 401 means the vault did not process the import: retrying adds exactly one key.
    let (emu, _s, vault, _key) = signing().await;
    emu.revoke_tokens();
    let other = SecretKey::from_scalar(Curve::P256, &[0x07; 32]).unwrap();
    let imported = vault
        .import_key("other", &other, ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(imported.pkh(), other.public_key().pkh());
    let st = emu.stats();
    assert_eq!(st.tokens_client_credentials, 2);
    assert_eq!(st.import, 2, "baker, then other exactly once: {st:?}");
    assert_eq!(emu.key_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_revocation_soon_after_is_not_chased() {
    // The vault refusing the new token at once again looks like a configuration problem:
    // the call fails with the vault's refusal and no further token is requested.
    let (emu, _s, vault, key) = signing().await;
    emu.revoke_tokens();
    sign_verified(&vault, &key, &digest(1)).await.unwrap();
    emu.revoke_tokens();
    let before = emu.stats();
    let err = sign_verified(&vault, &key, &digest(2)).await.unwrap_err();
    assert!(
        matches!(&err, VaultError::Unauthorized(m) if m.contains("AKV10022")),
        "{err}"
    );
    assert_eq!(
        emu.stats().tokens_client_credentials,
        before.tokens_client_credentials
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_signatures_recovers_together() {
    let (emu, _s, vault, key) = signing().await;
    let before = emu.stats();
    emu.revoke_tokens();
    let started = Instant::now();
    let (v, k) = (&vault, &key);
    let results = futures::future::join_all(
        (1..=8u32).map(|i| async move { (i, sign_verified(v, k, &digest(i)).await) }),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    for (i, result) in results {
        let sig = result.unwrap_or_else(|e| panic!("signature {i} after the revocation: {e}"));
        key.public_key.verify_digest(&digest(i), &sig).unwrap();
    }
    let after = emu.stats();
    assert_eq!(
        after.tokens_client_credentials - before.tokens_client_credentials,
        1,
        "one new token for all 8 signatures: {after:?}"
    );
    assert_eq!(after.sign - before.sign, 8);
}
