//! Unit tests of JWK validation, signing and the key store (paging, versions, persistence).

use std::collections::BTreeMap;

use crate::jwk::{CurveName, ImportJwk, JwkError, KeyMaterial, b64url};
use crate::state::{ImportAttributes, KeyStore, valid_name};

fn jwk_for(crv: &str) -> ImportJwk {
    let mut jwk: ImportJwk =
        serde_json::from_value(crate::testkit::jwk(crv)).expect("the testkit JWK is an import JWK");
    jwk.key_ops = None;
    jwk
}

#[test]
fn valid_jwks_import_for_every_curve() {
    for (crv, name, alg) in [
        ("P-256K", CurveName::P256K, "ES256K"),
        ("P-256", CurveName::P256, "ES256"),
        ("SECP256K1", CurveName::Secp256k1Legacy, "ECDSA256"),
        ("secp256k1", CurveName::Secp256k1LegacyLower, "ECDSA256"),
    ] {
        let (key, ops) = KeyMaterial::from_import(&jwk_for(crv)).expect(crv);
        assert_eq!(key.crv, name);
        assert_eq!(key.crv.as_str(), crv);
        assert_eq!(key.crv.sign_algorithm(), alg);
        assert_eq!(ops, vec!["sign".to_string(), "verify".to_string()]);
    }
}

#[test]
fn invalid_jwks_are_refused_with_a_reason() {
    let good = jwk_for("P-256K");
    let other = jwk_for("P-256K");
    let cases: Vec<(&str, ImportJwk, JwkError)> = vec![
        (
            "no kty",
            ImportJwk {
                kty: None,
                ..jwk_for("P-256K")
            },
            JwkError::MissingKty,
        ),
        (
            "RSA",
            ImportJwk {
                kty: Some("RSA".into()),
                ..jwk_for("P-256K")
            },
            JwkError::UnsupportedKty("RSA".into()),
        ),
        (
            "no crv",
            ImportJwk {
                crv: None,
                ..jwk_for("P-256K")
            },
            JwkError::MissingCrv,
        ),
        (
            "P-384",
            ImportJwk {
                crv: Some("P-384".into()),
                ..jwk_for("P-256K")
            },
            JwkError::UnsupportedCurve("P-384".into()),
        ),
        (
            "no d",
            ImportJwk {
                d: None,
                ..jwk_for("P-256K")
            },
            JwkError::Missing("d"),
        ),
        (
            "bad b64",
            ImportJwk {
                x: Some("***".into()),
                ..jwk_for("P-256K")
            },
            JwkError::NotBase64("x"),
        ),
        (
            "short d",
            ImportJwk {
                d: Some(b64url(&[1u8; 31])),
                ..jwk_for("P-256K")
            },
            JwkError::BadLength {
                field: "d",
                len: 31,
            },
        ),
        (
            "long y",
            ImportJwk {
                y: Some(b64url(&[1u8; 33])),
                ..jwk_for("P-256K")
            },
            JwkError::BadLength {
                field: "y",
                len: 33,
            },
        ),
        (
            "zero d",
            ImportJwk {
                d: Some(b64url(&[0u8; 32])),
                ..jwk_for("P-256K")
            },
            JwkError::BadScalar("secp256k1"),
        ),
        (
            "mismatch",
            ImportJwk {
                d: other.d.clone(),
                ..jwk_for("P-256K")
            },
            JwkError::Mismatch,
        ),
        (
            "curve swap",
            ImportJwk {
                crv: Some("P-256".into()),
                ..jwk_for("P-256K")
            },
            JwkError::Mismatch,
        ),
        (
            "bad op",
            ImportJwk {
                key_ops: Some(vec!["encrypt".into()]),
                ..jwk_for("P-256K")
            },
            JwkError::BadKeyOp("encrypt".into()),
        ),
    ];
    for (what, jwk, want) in cases {
        assert_eq!(KeyMaterial::from_import(&jwk).err(), Some(want), "{what}");
    }
    assert!(KeyMaterial::from_import(&good).is_ok());
}

#[test]
fn padded_base64url_is_accepted() {
    let mut jwk = jwk_for("P-256");
    jwk.x = jwk.x.map(|x| format!("{x}="));
    assert!(KeyMaterial::from_import(&jwk).is_ok());
}

#[test]
fn secp256k1_signatures_verify_and_are_high_s_about_half_the_time() {
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    let (key, _) = KeyMaterial::from_import(&jwk_for("P-256K")).expect("valid key");
    let mut pk = vec![4u8];
    pk.extend_from_slice(&key.x);
    pk.extend_from_slice(&key.y);
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&pk).expect("point");
    let digest = [7u8; 32];
    let mut high = 0;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..64 {
        let (sig, is_high) = key.sign(&digest).expect("sign");
        seen.insert(sig);
        let parsed = k256::ecdsa::Signature::from_slice(&sig).expect("r‖s");
        assert_eq!(parsed.normalize_s().is_some(), is_high);
        let low = parsed.normalize_s().unwrap_or(parsed);
        vk.verify_prehash(&digest, &low)
            .expect("verifies after normalisation");
        high += usize::from(is_high);
    }
    assert!((8..=56).contains(&high), "high-S count {high} of 64");
    assert_eq!(seen.len(), 64, "random nonces give distinct signatures");
}

#[test]
fn p256_signatures_verify() {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    let (key, _) = KeyMaterial::from_import(&jwk_for("P-256")).expect("valid key");
    let mut pk = vec![4u8];
    pk.extend_from_slice(&key.x);
    pk.extend_from_slice(&key.y);
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&pk).expect("point");
    let (a, _) = key.sign(&[9u8; 32]).expect("sign");
    let (b, _) = key.sign(&[9u8; 32]).expect("sign");
    assert_ne!(a, b);
    let sig = p256::ecdsa::Signature::from_slice(&a).expect("r‖s");
    vk.verify_prehash(&[9u8; 32], &sig).expect("verifies");
}

#[test]
fn key_names_follow_the_key_vault_pattern() {
    for ok in ["a", "tz2abc", "my-key-1", &"k".repeat(127)] {
        assert!(valid_name(ok), "{ok}");
    }
    for bad in ["", "a_b", "a.b", "a/b", "é", &"k".repeat(128)] {
        assert!(!valid_name(bad), "{bad}");
    }
}

fn material(crv: &str) -> KeyMaterial {
    KeyMaterial::from_import(&jwk_for(crv))
        .expect("valid key")
        .0
}

fn import(store: &mut KeyStore, name: &str) -> String {
    let ops = vec!["sign".to_string(), "verify".to_string()];
    let (_, v) = store
        .import(
            name,
            material("P-256K"),
            ops,
            true,
            ImportAttributes::default(),
            BTreeMap::new(),
        )
        .expect("import");
    v.version
}

#[test]
fn reimport_adds_a_version_and_names_are_case_insensitive() {
    let mut store = KeyStore::ephemeral();
    let v1 = import(&mut store, "Baker");
    let v2 = import(&mut store, "baker");
    assert_ne!(v1, v2);
    assert_eq!(v1.len(), 32);
    assert_eq!(store.len(), 1);
    let (entry, latest) = store.get("BAKER", None).expect("latest");
    assert_eq!(entry.name, "Baker");
    assert_eq!(latest.version, v2);
    assert_eq!(
        store.get("baker", Some("")).map(|(_, v)| v.version.clone()),
        Some(v2)
    );
    assert_eq!(
        store
            .get("baker", Some(&v1))
            .map(|(_, v)| v.version.clone()),
        Some(v1)
    );
    assert!(store.get("baker", Some("0123")).is_none());
    assert!(store.get("nobody", None).is_none());
}

#[test]
fn paging_visits_every_key_once_in_order() {
    let mut store = KeyStore::ephemeral();
    let mut names: Vec<String> = (0..53).map(|i| format!("key-{i:03}")).collect();
    for n in &names {
        import(&mut store, n);
    }
    names.sort();
    for max in [1, 7, 25] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = store.page(after.as_deref(), max);
            assert!(page.len() <= max);
            seen.extend(page.iter().map(|e| e.name.clone()));
            match next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, names, "max {max}");
    }
    let empty = KeyStore::ephemeral();
    let (page, next) = empty.page(None, 25);
    assert!(page.is_empty() && next.is_none());
}

#[test]
fn persisted_keys_survive_a_reopen_and_the_file_is_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = KeyStore::open(dir.path()).expect("open");
    let v = import(&mut store, "persisted");
    let before = store.get("persisted", None).map(|(_, k)| k.material.x);
    drop(store);
    let store = KeyStore::open(dir.path()).expect("reopen");
    let (_, k) = store.get("persisted", None).expect("still there");
    assert_eq!(k.version, v);
    assert_eq!(Some(k.material.x), before);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("keys.json"))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!private_fs::temp_path(dir.path(), "keys.json").exists());
}

#[test]
fn a_corrupt_state_file_is_an_error_not_an_empty_vault() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("keys.json"), b"{not json").expect("write");
    let err = KeyStore::open(dir.path()).expect_err("corrupt");
    assert!(err.to_string().contains("corrupt"), "{err}");
}

mod paging_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Following skip tokens visits every key exactly once, in name order, whatever the
        /// page size.
        #[test]
        fn paging_covers_every_key_exactly_once(
            names in proptest::collection::btree_set("[a-z0-9-]{1,12}", 0..60),
            max in 1usize..=25,
        ) {
            let key = material("P-256");
            let mut store = KeyStore::ephemeral();
            for n in &names {
                store
                    .import(n, key.clone(), vec!["sign".into()], false, ImportAttributes::default(), BTreeMap::new())
                    .expect("import");
            }
            let mut seen = Vec::new();
            let mut after: Option<String> = None;
            let mut pages = 0;
            loop {
                let (page, next) = store.page(after.as_deref(), max);
                pages += 1;
                prop_assert!(page.len() <= max);
                prop_assert!(next.is_none() || page.len() == max);
                seen.extend(page.iter().map(|e| e.name.clone()));
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            let want: Vec<String> = names.iter().cloned().collect();
            prop_assert_eq!(seen, want);
            prop_assert_eq!(pages, names.len().div_ceil(max).max(1));
        }
    }
}
