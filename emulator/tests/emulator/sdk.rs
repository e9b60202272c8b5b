//! The emulator driven by Microsoft's Rust SDK (`azure_security_keyvault_keys::KeyClient`) over
//! TLS with the real challenge flow: client-secret credential in-process (authority host and
//! CA passed through client options, no process env), and the App Service managed-identity
//! credential in a child process of this test binary (it reads IDENTITY_ENDPOINT/HEADER from
//! the process environment, which must not be mutated in a multi-threaded test).

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
};
use azure_security_keyvault_keys::models::{
    CurveName, ImportKeyParameters, JsonWebKey, KeyClientGetKeyOptions,
    KeyClientListKeyPropertiesOptions, KeyClientSignOptions, KeyType, SignParameters,
    SignatureAlgorithm,
};
use azure_security_keyvault_keys::{KeyClient, KeyClientOptions, ResourceExt as _};
use futures::TryStreamExt as _;
use keyvault_emulator::testkit::*;
use serde_json::Value;

fn transport(ca_pem: &str) -> Transport {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM");
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .build()
        .expect("client");
    Transport::new(Arc::new(http))
}

/// A KeyClient trusting the emulator's CA: through `ca_pem` in a custom transport, or (None)
/// through the SDK's default transport, which reads `SSL_CERT_FILE`.
fn key_client(
    vault: &str,
    ca_pem: Option<&str>,
    credential: Arc<dyn TokenCredential>,
) -> KeyClient {
    let options = KeyClientOptions {
        client_options: ClientOptions {
            transport: ca_pem.map(transport),
            retry: RetryOptions::none(),
            ..ClientOptions::default()
        },
        verify_challenge_resource: Some(false),
        ..KeyClientOptions::default()
    };
    KeyClient::new(vault, credential, Some(options)).expect("key client")
}

fn sdk_jwk(crv: &str) -> JsonWebKey {
    let j = jwk(crv);
    let field = |k: &str| Some(unb64(j[k].as_str().expect("field")));
    JsonWebKey {
        kty: Some(KeyType::Ec),
        crv: Some(match crv {
            "P-256" => CurveName::P256,
            "P-256K" => CurveName::P256K,
            other => CurveName::UnknownValue(other.to_string()),
        }),
        x: field("x"),
        y: field("y"),
        d: field("d"),
        key_ops: Some(vec!["sign".into(), "verify".into()]),
        ..JsonWebKey::default()
    }
}

/// Imports, gets, lists (paged) and signs through the SDK; returns how many keys were imported.
async fn exercise(client: &KeyClient) -> usize {
    let cases = [
        ("sdk-tz2", "P-256K", SignatureAlgorithm::Es256K),
        ("sdk-tz3", "P-256", SignatureAlgorithm::Es256),
        (
            "sdk-legacy",
            "SECP256K1",
            SignatureAlgorithm::UnknownValue("ECDSA256".into()),
        ),
    ];
    for (name, crv, alg) in cases {
        let params = ImportKeyParameters {
            key: Some(sdk_jwk(crv)),
            hsm: Some(true),
            ..ImportKeyParameters::default()
        };
        let imported = client
            .import_key(name, params.try_into().expect("json"), None)
            .await
            .expect("import")
            .into_model()
            .expect("key");
        let jwk = imported.key.clone().expect("jwk");
        assert_eq!(jwk.kty, Some(KeyType::EcHsm), "{name}");
        assert!(jwk.d.is_none());
        let id = imported.resource_id().expect("kid");
        assert_eq!(id.name, name);

        // Latest (empty version segment) and explicit version.
        for version in [None, id.version.clone()] {
            let got = client
                .get_key(
                    name,
                    Some(KeyClientGetKeyOptions {
                        key_version: version,
                        ..Default::default()
                    }),
                )
                .await
                .expect("get")
                .into_model()
                .expect("key");
            assert_eq!(got.key.as_ref().and_then(|k| k.x.clone()), jwk.x);
        }

        let digest = [0x42u8; 32];
        let signed = client
            .sign(
                name,
                SignParameters {
                    algorithm: Some(alg),
                    value: Some(digest.to_vec()),
                }
                .try_into()
                .expect("json"),
                Some(KeyClientSignOptions {
                    key_version: id.version.clone(),
                    ..Default::default()
                }),
            )
            .await
            .expect("sign")
            .into_model()
            .expect("result");
        let sig = signed.result.expect("signature");
        let bundle: Value = serde_json::json!({
            "crv": if crv == "P-256" { "P-256" } else { "P-256K" },
            "x": b64(jwk.x.as_deref().expect("x")),
            "y": b64(jwk.y.as_deref().expect("y")),
        });
        assert!(verifies(&bundle, &digest, &sig), "{name}");
    }

    // A wrong algorithm is a typed HTTP 400 from the service, not a transport error.
    let err = client
        .sign(
            "sdk-tz2",
            SignParameters {
                algorithm: Some(SignatureAlgorithm::Es256),
                value: Some(vec![0; 32]),
            }
            .try_into()
            .expect("json"),
            None,
        )
        .await
        .expect_err("incompatible algorithm");
    assert_eq!(
        err.http_status(),
        Some(azure_core::http::StatusCode::BadRequest)
    );

    // Enough keys for several pages.
    for i in 0..8 {
        let params = ImportKeyParameters {
            key: Some(sdk_jwk("P-256")),
            ..ImportKeyParameters::default()
        };
        client
            .import_key(&format!("page-{i}"), params.try_into().expect("json"), None)
            .await
            .expect("import");
    }
    let mut pager = client
        .list_key_properties(Some(KeyClientListKeyPropertiesOptions {
            maxresults: Some(4),
            ..Default::default()
        }))
        .expect("pager");
    let mut names = Vec::new();
    while let Some(item) = pager.try_next().await.expect("page") {
        names.push(item.resource_id().expect("kid").name);
    }
    names.sort();
    let mut want: Vec<String> = ["sdk-tz2", "sdk-tz3", "sdk-legacy"]
        .map(String::from)
        .to_vec();
    want.extend((0..8).map(|i| format!("page-{i}")));
    want.sort();
    assert_eq!(names, want);
    want.len()
}

#[tokio::test]
async fn sdk_with_client_secret_credential() {
    let emu = start().await;
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = emu.authority_host();
    let credential = ClientSecretCredential::new(
        emu.tenant_id(),
        emu.client_id().to_string(),
        Secret::new(emu.client_secret().to_string()),
        Some(ClientSecretCredentialOptions {
            client_options: ClientOptions {
                transport: Some(transport(emu.ca_pem())),
                cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
                retry: RetryOptions::none(),
                ..ClientOptions::default()
            },
        }),
    )
    .expect("credential");
    let client = key_client(&emu.vault_url(), Some(emu.ca_pem()), credential);
    let imported = exercise(&client).await;
    let stats = emu.stats();
    assert_eq!(stats.import as usize, imported);
    assert_eq!(
        stats.tokens_client_credentials, 1,
        "token cached, not fetched per call"
    );
    assert_eq!(stats.challenges, 1, "one challenge, then the cached scope");
    assert_eq!(stats.list, 3);
}

/// Production-shaped configuration: a `*.vault.azure.net` host resolved to the emulator by the
/// transport, so the SDK's challenge-resource verification stays on.
#[tokio::test]
async fn sdk_with_a_vault_host_name_keeps_challenge_verification_on() {
    let emu = start().await;
    let ca = reqwest::Certificate::from_pem(emu.ca_pem().as_bytes()).expect("CA PEM");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], emu.port()));
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("myvault.vault.azure.net", addr)
        .no_proxy()
        .build()
        .expect("client");
    let client_options = || ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        retry: RetryOptions::none(),
        ..ClientOptions::default()
    };
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = emu.authority_host();
    let credential = ClientSecretCredential::new(
        emu.tenant_id(),
        emu.client_id().to_string(),
        Secret::new(emu.client_secret().to_string()),
        Some(ClientSecretCredentialOptions {
            client_options: ClientOptions {
                cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
                ..client_options()
            },
        }),
    )
    .expect("credential");
    let options = KeyClientOptions {
        client_options: client_options(),
        ..KeyClientOptions::default()
    };
    assert_eq!(options.verify_challenge_resource, Some(true));
    let vault = format!("https://myvault.vault.azure.net:{}", emu.port());
    let client = KeyClient::new(&vault, credential, Some(options)).expect("key client");
    assert_eq!(exercise(&client).await, 11);
}

const CHILD_MARKER: &str = "TEZOS_AZURE_SIGNER_SDK_MI_CHILD";

#[tokio::test]
async fn sdk_with_managed_identity_credential() {
    let emu = start().await;
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args([
        "--exact",
        "sdk::managed_identity_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_MARKER, "1")
    .env_remove("AZURE_CLIENT_ID")
    .env_remove("IDENTITY_SERVER_THUMBPRINT")
    .env_remove("SSL_CERT_DIR");
    for (k, v) in emu.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
    let stats = emu.stats();
    assert_eq!(stats.import, 11);
    assert_eq!(stats.tokens_managed_identity, 1);
    assert_eq!(stats.tokens_client_credentials, 0);
}

/// Runs only as the child of `sdk_with_managed_identity_credential` (its environment names the
/// emulator); on its own it has nothing to talk to and says so.
#[tokio::test]
#[ignore = "run by sdk_with_managed_identity_credential in a child process"]
async fn managed_identity_child() {
    if std::env::var_os(CHILD_MARKER).is_none() {
        eprintln!("managed_identity_child: run through sdk_with_managed_identity_credential");
        return;
    }
    let vault = std::env::var("AZURE_KEYVAULT_URI").expect("AZURE_KEYVAULT_URI");
    // The default transport, trusting the emulator's CA through SSL_CERT_FILE exactly as the
    // signer does when run with the emulator's --print-env variables.
    let credential = ManagedIdentityCredential::new(None).expect("managed identity credential");
    let client = key_client(&vault, None, credential);
    assert_eq!(exercise(&client).await, 11);
}
