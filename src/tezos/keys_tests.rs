use super::*;
use crate::tezos::signature::VerifyError;

#[derive(serde::Deserialize)]
struct KeyVector {
    curve: String,
    secret_hex: Option<String>,
    secret_key: String,
    public_key: String,
    public_key_compressed_hex: Option<String>,
    pkh: String,
    pkh_hex: Option<String>,
    signed_hex: Option<String>,
    signature: Option<String>,
    signature_generic: Option<String>,
}

fn vectors() -> Vec<KeyVector> {
    #[derive(serde::Deserialize)]
    struct File {
        keys: Vec<KeyVector>,
    }
    let f: File = serde_json::from_str(include_str!("../../tests/vectors/keys.json")).unwrap();
    f.keys
}

#[test]
fn shared_key_vectors() {
    for v in vectors() {
        let curve = match v.curve.as_str() {
            "secp256k1" => Curve::Secp256k1,
            "p256" => Curve::P256,
            other => panic!("{other}"),
        };
        let sk: SecretKey = v.secret_key.parse().unwrap();
        assert_eq!(sk.curve(), curve);
        assert_eq!(&*sk.to_base58(), &v.secret_key);
        if let Some(h) = &v.secret_hex {
            assert_eq!(hex::encode(&sk.to_scalar_bytes()[..]), *h);
            let again = SecretKey::from_scalar(curve, &hex::decode(h).unwrap()).unwrap();
            assert_eq!(again.public_key(), sk.public_key());
        }
        let pk = sk.public_key();
        assert_eq!(pk.to_string(), v.public_key);
        let parsed: PublicKey = v.public_key.parse().unwrap();
        assert_eq!(parsed, pk);
        if let Some(h) = &v.public_key_compressed_hex {
            assert_eq!(hex::encode(pk.to_tezos_bytes()), *h);
        }
        assert_eq!(pk.pkh().to_string(), v.pkh);
        let pkh: Pkh = v.pkh.parse().unwrap();
        assert_eq!(pkh, pk.pkh());
        if let Some(h) = &v.pkh_hex {
            assert_eq!(hex::encode(pkh.hash()), *h);
        }
        // Uncompressed and coordinate forms give the same key.
        let (x, y) = pk.coordinates().unwrap();
        assert_eq!(PublicKey::from_coordinates(curve, &x, &y).unwrap(), pk);
        if let (Some(data), Some(sig)) = (&v.signed_hex, &v.signature) {
            let data = hex::decode(data).unwrap();
            let sig: crate::tezos::Signature = sig.parse().unwrap();
            assert_eq!(sig.curve(), Some(curve));
            pk.verify(&data, &sig).unwrap();
            // RFC 6979 is deterministic: our own signature must be the vector's.
            assert_eq!(sk.sign(&data), sig);
            let generic: crate::tezos::Signature =
                v.signature_generic.as_ref().unwrap().parse().unwrap();
            assert_eq!(generic.curve(), None);
            assert_eq!(generic.raw(), sig.raw());
            assert_eq!(generic.to_string(), *v.signature_generic.as_ref().unwrap());
            assert_eq!(
                sig.to_generic_string(),
                *v.signature_generic.as_ref().unwrap()
            );
            pk.verify(&data, &generic).unwrap();
            assert_eq!(pk.verify(b"other", &sig), Err(VerifyError::Invalid));
        }
    }
}

#[test]
fn wrong_curve_signature_is_refused() {
    let v = vectors();
    let tz2: SecretKey = v[0].secret_key.parse().unwrap();
    let tz3: SecretKey = v[1].secret_key.parse().unwrap();
    let sig = tz2.sign(b"\x03abc");
    assert_eq!(
        tz3.public_key().verify(b"\x03abc", &sig),
        Err(VerifyError::CurveMismatch {
            sig: Curve::Secp256k1,
            key: Curve::P256
        })
    );
}

#[test]
fn pkh_parsing_errors() {
    let table = [
        ("", "checksum"),
        ("tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTju", "checksum"),
        (
            "sppk7aFpmJLm3ZxMd3F4osvGBq77R1NeSpiJVnof3Wiv4mt84EBE9aX",
            "expected one of",
        ),
        ("tz2SSuN7FRcAurZPSAQS1sw0", "base58"),
    ];
    for (input, needle) in table {
        let err = input.parse::<Pkh>().unwrap_err().to_string();
        assert!(err.contains(needle), "{input}: {err}");
    }
    let tz4 = base58::encode(base58::TZ4, &[7u8; 20]);
    assert_eq!(tz4.parse::<Pkh>().unwrap().kind(), PkhKind::Tz4);
    let tz1: Pkh = base58::encode(base58::TZ1, &[7u8; 20]).parse().unwrap();
    assert_eq!(tz1.to_tagged_bytes()[0], 0);
}

#[test]
fn public_key_validation() {
    // Not on the curve: x = 5 on secp256k1 has no point (y² = 130 is a non-residue mod p).
    let mut bad = [0u8; 33];
    bad[0] = 2;
    bad[32] = 5;
    assert_eq!(
        PublicKey::from_sec1(Curve::Secp256k1, &bad),
        Err(KeyError::NotOnCurve(Curve::Secp256k1))
    );
    assert!(matches!(
        PublicKey::from_sec1(Curve::P256, &[2u8; 20]),
        Err(KeyError::PublicKeyLength { got: 20, .. })
    ));
    let mut bad_prefix = [1u8; 33];
    bad_prefix[0] = 0x05;
    assert!(PublicKey::from_sec1(Curve::P256, &bad_prefix).is_err());
    // A JWK coordinate over 32 significant bytes is refused.
    assert!(matches!(
        PublicKey::from_coordinates(Curve::P256, &[1u8; 33], &[1u8; 32]),
        Err(KeyError::CoordinateLength { got: 33 })
    ));
}

#[test]
fn ed25519_public_keys_hash_and_verify() {
    use ed25519_dalek::Signer;
    let sk = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let pk = PublicKey::Ed25519(sk.verifying_key());
    let text = pk.to_string();
    assert!(text.starts_with("edpk"));
    assert_eq!(text.parse::<PublicKey>().unwrap(), pk);
    assert!(pk.pkh().to_string().starts_with("tz1"));
    let data = b"\x04hello";
    let raw = sk.sign(&blake2b_256(data)).to_bytes();
    let sig = Signature::from_raw(Some(Curve::Ed25519), raw);
    assert!(sig.to_string().starts_with("edsig"));
    pk.verify(data, &sig).unwrap();
    assert_eq!(pk.verify(b"\x04other", &sig), Err(VerifyError::Invalid));
}

#[test]
fn secret_key_debug_is_redacted_and_scalar_checked() {
    let sk: SecretKey = vectors()[0].secret_key.parse().unwrap();
    let dbg = format!("{sk:?}");
    assert!(dbg.contains("redacted") && !dbg.contains("b4cf"));
    assert_eq!(
        SecretKey::from_scalar(Curve::Secp256k1, &[0u8; 32]).unwrap_err(),
        KeyError::BadScalar(Curve::Secp256k1)
    );
    assert_eq!(
        SecretKey::from_scalar(Curve::P256, &[0xffu8; 32]).unwrap_err(),
        KeyError::BadScalar(Curve::P256)
    );
    assert!(matches!(
        SecretKey::from_scalar(Curve::P256, &[1u8; 33]),
        Err(KeyError::SecretKeyLength { got: 33 })
    ));
}

mod base58_round_trips {
    use super::*;
    use proptest::prelude::*;

    fn curve_strategy() -> impl Strategy<Value = Curve> {
        prop_oneof![Just(Curve::Secp256k1), Just(Curve::P256)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn pkh(kind in 0usize..4, hash in any::<[u8; 20]>()) {
            let kind = [PkhKind::Tz1, PkhKind::Tz2, PkhKind::Tz3, PkhKind::Tz4][kind];
            let pkh = Pkh::new(kind, hash);
            let text = pkh.to_string();
            prop_assert_eq!(text.len(), 36);
            let back: Pkh = text.parse().unwrap();
            prop_assert_eq!(back, pkh);
            prop_assert_eq!(back.kind(), kind);
        }

        #[test]
        fn secret_and_public_keys(curve in curve_strategy(), scalar in any::<[u8; 32]>()) {
            // Scalars outside [1, n) are refused; everything else round-trips.
            let Ok(sk) = SecretKey::from_scalar(curve, &scalar) else {
                return Ok(());
            };
            prop_assert_eq!(&sk.to_scalar_bytes()[..], &scalar[..]);
            let text = sk.to_base58();
            prop_assert_eq!(text.len(), 54);
            let back: SecretKey = text.parse().unwrap();
            prop_assert_eq!(back.curve(), curve);
            prop_assert_eq!(&back.to_scalar_bytes()[..], &scalar[..]);

            let pk = sk.public_key();
            let pk_text = pk.to_string();
            prop_assert_eq!(pk_text.len(), 55);
            let pk_back: PublicKey = pk_text.parse().unwrap();
            prop_assert_eq!(&pk_back, &pk);
            prop_assert_eq!(pk_back.pkh(), pk.pkh());
            // Uncompressed / JWK coordinate forms are the same key.
            let (x, y) = pk.coordinates().unwrap();
            prop_assert_eq!(PublicKey::from_coordinates(curve, &x, &y).unwrap(), pk);
        }

        #[test]
        fn ed25519_public_keys(seed in any::<[u8; 32]>()) {
            let pk = PublicKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key());
            let text = pk.to_string();
            prop_assert_eq!(text.len(), 54);
            prop_assert_eq!(text.parse::<PublicKey>().unwrap(), pk);
        }

        #[test]
        fn mutated_strings_are_refused_without_panic(
            curve in curve_strategy(),
            scalar in any::<[u8; 32]>(),
            pos in any::<prop::sample::Index>(),
            c in "[1-9A-HJ-NP-Za-km-z]",
        ) {
            let Ok(sk) = SecretKey::from_scalar(curve, &scalar) else {
                return Ok(());
            };
            let pk = sk.public_key();
            let texts = [sk.to_base58().to_string(), pk.to_string(), pk.pkh().to_string()];
            for (which, text) in texts.iter().enumerate() {
                let i = pos.index(text.len());
                let mut mutated = text.clone();
                mutated.replace_range(i..i + 1, &c);
                // Whatever the text, parsing never panics.
                let results = [
                    mutated.parse::<SecretKey>().is_ok(),
                    mutated.parse::<PublicKey>().is_ok(),
                    mutated.parse::<Pkh>().is_ok(),
                ];
                // One changed character is caught by the checksum (or the prefix).
                if mutated != *text {
                    prop_assert!(!results[which], "{} accepted", mutated);
                }
            }
        }
    }
}
