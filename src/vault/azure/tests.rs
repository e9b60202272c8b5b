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
