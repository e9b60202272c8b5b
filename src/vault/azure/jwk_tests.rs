use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use super::*;

fn secret(curve: Curve, seed: u8) -> SecretKey {
    let mut scalar = [seed; 32];
    scalar[0] = 1;
    SecretKey::from_scalar(curve, &scalar).unwrap()
}

fn key_json(kty: &str, crv: &str, pk: &PublicKey, enabled: bool) -> Key {
    let (x, y) = pk.coordinates().unwrap();
    let body = serde_json::json!({
        "key": {
            "kid": "https://v.vault.azure.net/keys/baker-1/0123abcd",
            "kty": kty, "crv": crv, "x": B64.encode(x), "y": B64.encode(y),
            "key_ops": ["sign", "verify"]
        },
        "attributes": {"enabled": enabled}
    });
    serde_json::from_value(body).unwrap()
}

#[test]
fn usable_keys_and_algorithms() {
    let cases = [
        ("EC-HSM", "P-256K", Curve::Secp256k1, "ES256K"),
        ("EC", "P-256K", Curve::Secp256k1, "ES256K"),
        ("EC-HSM", "SECP256K1", Curve::Secp256k1, "ECDSA256"),
        ("EC", "secp256k1", Curve::Secp256k1, "ECDSA256"),
        ("EC-HSM", "P-256", Curve::P256, "ES256"),
    ];
    for (kty, crv, curve, alg) in cases {
        let sk = secret(curve, 7);
        let key = vault_key(&key_json(kty, crv, &sk.public_key(), true)).unwrap();
        assert_eq!(key.name, "baker-1");
        assert_eq!(key.version, "0123abcd");
        assert_eq!(key.vault_curve, crv);
        assert_eq!(key.algorithm(), alg, "{crv}");
        assert_eq!(key.pkh(), sk.public_key().pkh());
    }
}

#[test]
fn unusable_keys_are_refused_with_a_reason() {
    let pk = secret(Curve::P256, 3).public_key();
    assert_eq!(
        vault_key(&key_json("EC", "P-256", &pk, false)),
        Err(Unusable::Disabled)
    );
    assert_eq!(
        vault_key(&key_json("EC", "P-384", &pk, true)),
        Err(Unusable::OtherCurve("P-384".into()))
    );
    assert!(matches!(
        vault_key(&key_json("RSA", "P-256", &pk, true)),
        Err(Unusable::NotEc(_))
    ));
    // A P-256 point labelled as secp256k1 is not on that curve.
    assert!(matches!(
        vault_key(&key_json("EC", "P-256K", &pk, true)),
        Err(Unusable::BadPoint(_))
    ));
    let no_kid: Key = serde_json::from_value(serde_json::json!({"key": {"kty": "EC"}})).unwrap();
    assert!(matches!(vault_key(&no_kid), Err(Unusable::Missing(_))));
}

#[test]
fn import_jwk_is_padded_and_round_trips() {
    for curve in [Curve::Secp256k1, Curve::P256] {
        // Find a key whose x coordinate and scalar both start with a zero byte, to exercise
        // the left padding a peer's importer gets wrong.
        let sk = (1u32..100_000)
            .map(|i| {
                let mut s = [0u8; 32];
                s[1..5].copy_from_slice(&i.to_be_bytes());
                s[31] = 1;
                SecretKey::from_scalar(curve, &s).unwrap()
            })
            .find(|sk| sk.public_key().coordinates().unwrap().0[0] == 0)
            .expect("one key in 256 has x starting with 0");
        let mut jwk = import_jwk(&sk);
        assert_eq!(jwk.x.as_ref().unwrap().len(), 32);
        assert_eq!(jwk.y.as_ref().unwrap().len(), 32);
        assert_eq!(jwk.d.as_ref().unwrap().len(), 32);
        assert_eq!(jwk.d.as_ref().unwrap()[0], 0);
        let json = serde_json::to_value(&jwk).unwrap();
        let want_crv = if curve == Curve::Secp256k1 {
            "P-256K"
        } else {
            "P-256"
        };
        assert_eq!(json["kty"], "EC");
        assert_eq!(json["crv"], want_crv);
        assert_eq!(json["key_ops"], serde_json::json!(["sign", "verify"]));
        assert_eq!(B64.decode(json["x"].as_str().unwrap()).unwrap().len(), 32);
        assert_eq!(B64.decode(json["d"].as_str().unwrap()).unwrap().len(), 32);
        let back = SecretKey::from_scalar(curve, jwk.d.as_ref().unwrap()).unwrap();
        assert_eq!(back.public_key(), sk.public_key());
        wipe(&mut jwk);
        assert!(jwk.d.is_none());
        assert!(serde_json::to_value(&jwk).unwrap().get("d").is_none());
    }
}

mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any valid scalar gives a JWK with 32-byte x/y/d whose d reproduces the key, and a
        /// vault answer built from that JWK gives back the same pkh.
        #[test]
        fn import_jwk_round_trips(scalar in proptest::array::uniform32(any::<u8>()), k1 in any::<bool>()) {
            let curve = if k1 { Curve::Secp256k1 } else { Curve::P256 };
            let Ok(sk) = SecretKey::from_scalar(curve, &scalar) else {
                return Ok(()); // zero or not below the order
            };
            let jwk = import_jwk(&sk);
            prop_assert_eq!(jwk.x.as_ref().map(Vec::len), Some(32));
            prop_assert_eq!(jwk.y.as_ref().map(Vec::len), Some(32));
            prop_assert_eq!(jwk.d.as_ref().map(Vec::len), Some(32));
            let back = SecretKey::from_scalar(curve, jwk.d.as_ref().unwrap()).unwrap();
            prop_assert_eq!(back.public_key(), sk.public_key());
            let crv = if k1 { "P-256K" } else { "P-256" };
            let key = vault_key(&key_json("EC-HSM", crv, &sk.public_key(), true)).unwrap();
            prop_assert_eq!(key.pkh(), sk.public_key().pkh());
        }
    }
}
