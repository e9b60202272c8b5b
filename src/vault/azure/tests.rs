use super::*;

#[test]
fn loopback_hosts() {
    let cases = [
        ("https://localhost:8443", true),
        ("https://LOCALHOST", true),
        ("https://127.0.0.1:1", true),
        ("https://[::1]:1", true),
        ("https://myvault.vault.azure.net", false),
        ("https://myhsm.managedhsm.azure.net", false),
        ("https://localhost.example.com", false),
    ];
    for (url, want) in cases {
        assert_eq!(is_loopback(&url.parse().unwrap()), want, "{url}");
    }
}

#[test]
fn vault_url_checks() {
    for ok in [
        "https://myvault.vault.azure.net",
        "https://myvault.vault.azure.net/",
        "https://myhsm.managedhsm.azure.net",
        "https://127.0.0.1:8443",
    ] {
        assert!(check_vault_url(&ok.parse().unwrap()).is_ok(), "{ok}");
    }
    for bad in [
        "http://myvault.vault.azure.net",
        "https://myvault.vault.azure.net/keys/x",
        "https://myvault.vault.azure.net/?a=b",
    ] {
        assert!(
            matches!(
                check_vault_url(&bad.parse().unwrap()),
                Err(VaultError::Protocol(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn key_names() {
    assert!(valid_key_name("tz2BFTyPeYRzxd5aiBchbXN3WCZhx7BqbMBq"));
    assert!(valid_key_name("baker-1"));
    for bad in ["", "a/b", "a b", "a_b", "ключ", &"a".repeat(128)] {
        assert!(!valid_key_name(bad), "{bad}");
    }
}

#[test]
fn extra_ca_must_be_pem() {
    assert!(matches!(
        client_options(Some(b"not a certificate")),
        Err(VaultError::Transport(_))
    ));
    assert!(client_options(None).unwrap().transport.is_none());
}

// --- the real SDK pipeline over a scripted transport (no network at all) --------------------

mod scripted {
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
    use azure_core::http::headers::Headers;
    use azure_core::http::{AsyncRawResponse, HttpClient, Request, StatusCode};

    use super::super::*;
    use crate::tezos::{Curve, SecretKey};

    /// Answers the unauthenticated first request with a bearer challenge naming `resource`,
    /// then every authenticated request with `ok_body`. Records request URLs.
    #[derive(Debug)]
    struct Scripted {
        resource: &'static str,
        ok_body: String,
        seen: Mutex<Vec<(String, bool)>>,
    }

    #[async_trait]
    impl HttpClient for Scripted {
        async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
            let authed = request
                .headers()
                .get_optional_str(&azure_core::http::headers::AUTHORIZATION)
                .is_some();
            self.seen
                .lock()
                .unwrap()
                .push((request.url().to_string(), authed));
            let mut headers = Headers::new();
            if !authed {
                headers.insert(
                    "www-authenticate",
                    format!(
                        "Bearer authorization=\"https://login.microsoftonline.com/t\", resource=\"{}\"",
                        self.resource
                    ),
                );
                return Ok(AsyncRawResponse::from_bytes(
                    StatusCode::Unauthorized,
                    headers,
                    Vec::new(),
                ));
            }
            headers.insert("content-type", "application/json");
            Ok(AsyncRawResponse::from_bytes(
                StatusCode::Ok,
                headers,
                self.ok_body.clone().into_bytes(),
            ))
        }
    }

    /// Records the scopes it is asked for.
    #[derive(Debug, Default)]
    struct Recording(Mutex<Vec<String>>);

    #[async_trait]
    impl TokenCredential for Recording {
        async fn get_token(
            &self,
            scopes: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            self.0.lock().unwrap().push(scopes.join(" "));
            Ok(AccessToken::new(
                "t",
                azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
            ))
        }
    }

    fn key_body(vault: &str) -> (String, SecretKey) {
        use base64::Engine;
        let sk = SecretKey::from_scalar(Curve::P256, &[9; 32]).unwrap();
        let (x, y) = sk.public_key().coordinates().unwrap();
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = serde_json::json!({"key": {"kid": format!("{vault}/keys/k/v1"), "kty": "EC-HSM",
            "crv": "P-256", "x": b.encode(x), "y": b.encode(y)}, "attributes": {"enabled": true}});
        (body.to_string(), sk)
    }

    async fn get_through(
        vault: &str,
        resource: &'static str,
    ) -> (Result<VaultKey, VaultError>, Vec<String>, Arc<Scripted>) {
        let (ok_body, _) = key_body(vault);
        let transport = Arc::new(Scripted {
            resource,
            ok_body,
            seen: Mutex::new(Vec::new()),
        });
        let cred = Arc::new(Recording::default());
        let options = ClientOptions {
            retry: RetryOptions::none(),
            transport: Some(Transport::new(transport.clone())),
            ..Default::default()
        };
        let config = AzureVaultConfig::new(vault.parse().unwrap(), cred.clone());
        let v = AzureVault::with_client_options(config, options).unwrap();
        let got = v.get_key("k").await;
        let scopes = cred.0.lock().unwrap().clone();
        (got, scopes, transport)
    }

    #[tokio::test]
    async fn managed_hsm_gets_its_own_scope_from_the_challenge() {
        let vault = "https://myhsm.managedhsm.azure.net";
        let (got, scopes, transport) = get_through(vault, "https://managedhsm.azure.net").await;
        let key = got.unwrap();
        assert_eq!(key.name, "k");
        assert_eq!(key.version, "v1");
        assert_eq!(scopes, vec!["https://managedhsm.azure.net/.default"]);
        let seen = transport.seen.lock().unwrap().clone();
        assert_eq!(
            seen.len(),
            2,
            "challenge, then the authorised request: {seen:?}"
        );
        assert!(!seen[0].1 && seen[1].1);
    }

    #[tokio::test]
    async fn key_vault_scope_and_challenge_verification_on_real_hosts() {
        let (got, scopes, _) =
            get_through("https://myvault.vault.azure.net", "https://vault.azure.net").await;
        assert!(got.is_ok());
        assert_eq!(scopes, vec!["https://vault.azure.net/.default"]);
        // A challenge naming a resource the vault host does not belong to is refused: the
        // token would go to the wrong audience.
        let (got, scopes, _) = get_through(
            "https://myvault.vault.azure.net",
            "https://evil.example.com",
        )
        .await;
        assert!(got.is_err(), "{got:?}");
        assert!(
            scopes.is_empty(),
            "no token was requested for a foreign resource"
        );
    }

    #[tokio::test]
    async fn loopback_hosts_skip_the_challenge_check() {
        let (got, scopes, _) =
            get_through("https://127.0.0.1:8443", "https://vault.azure.net").await;
        assert!(got.is_ok(), "{got:?}");
        assert_eq!(scopes, vec!["https://vault.azure.net/.default"]);
    }
}
