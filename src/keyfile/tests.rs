//! Table-driven tests of every key file format, with fixtures made by the `openssl` CLI for the
//! first key of tests/vectors/keys.json (and RustCrypto encoders for the P-256 one).

use super::*;
use k256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

const K1_SK: &str = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5";
const K1_PKH: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
const P2_SK: &str = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9";
const P2_PKH: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";
const PASS: &[u8] = b"correct-horse";

const K1_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHQCAQEEILTPwzn+oUEt7+XmChU/6s+wwXF1d1EnjmXCZU6ly84foAcGBSuBBAAK
oUQDQgAEfU+xvW6z7iouZf5N0vvJh6OKOR7CP7+8h46Vssg4YANvJ1rZYypDzuj4
XRIFQ2HyBJYMAgyOa+djSi7BAgRBSg==
-----END EC PRIVATE KEY-----
";
const K1_PARAMS: &str =
    "-----BEGIN EC PARAMETERS-----\nBgUrgQQACg==\n-----END EC PARAMETERS-----\n";
/// SEC1 without the optional public key (and so without anything to cross-check).
const K1_SEC1_MIN_B64: &str = "MC4CAQEEILTPwzn+oUEt7+XmChU/6s+wwXF1d1EnjmXCZU6ly84foAcGBSuBBAAK";
const K1_LEGACY: &str = "-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-256-CBC,C6D7B2C0ACEFBB844BC3016DB19D2F2B

Qn/f6X2bTT9lfYbB3YwQ4gxxXr5JEvMeAd51EGR2iQshkDf0HJVV/HtU6A2N2CXP
9UPnda1TGtrd2azYq9xDNzKsiLmFtnW05nB3SjqvaUF787D4TqowjlSIkCeb+dHL
fIl8xbATzpQ7HzeKhlG5NNQsJAFZ4B5Pe+Op58KeCdA=
-----END EC PRIVATE KEY-----
";
const K1_ENC_PKCS8: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAg0ntbbkTFV4AICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEENUDB0HkilLgJTaaBVqf5hgEgZA7
7DrBcs6pBjsT6ZG6kh5YGraAapxT9Ol8luP8ZHw1qz45YS5376DpLxqi49Ja3yGw
Wbvx28IJnYwz7V7WO5yaGXjKX4Ssy1gvUwm5lD/XSpWqIxBCPeMEqsOYVyAngtC/
cp2gCCTbv/4hp/2yKcKH3JYdo5Y2ysvc8oXN1saKEXuPUUhJGxGvwohOeuRjV4A=
-----END ENCRYPTED PRIVATE KEY-----
";
const K1_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEfU+xvW6z7iouZf5N0vvJh6OKOR7CP7+8
h46Vssg4YANvJ1rZYypDzuj4XRIFQ2HyBJYMAgyOa+djSi7BAgRBSg==
-----END PUBLIC KEY-----
";
const P384: &str = "-----BEGIN EC PARAMETERS-----
BgUrgQQAIg==
-----END EC PARAMETERS-----
-----BEGIN EC PRIVATE KEY-----
MIGkAgEBBDCk+yxjMAz8GIQEdHGMnWjRbh+jyVfZYtVdJ/zycW4KFwbJpvNWM8tB
yaVcI3LDBg6gBwYFK4EEACKhZANiAAR7C62Qzt0zCx3XaapvDmaAjp3hQN5e8twl
lm68dCRaW/Br+210vZnGwhpMIwu5HCS3IoOC1GAkYAEm5nKssL17vGSNSO2ZG5ri
gUwNdzLZYxTA9OdejdCoEsYRz/NHwng=
-----END EC PRIVATE KEY-----
";
const P384_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEewutkM7dMwsd12mqbw5mgI6d4UDeXvLc
JZZuvHQkWlvwa/ttdL2ZxsIaTCMLuRwktyKDgtRgJGABJuZyrLC9e7xkjUjtmRua
4oFMDXcy2WMUwPTnXo3QqBLGEc/zR8J4
-----END PUBLIC KEY-----
";
const ED_SK: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIF2vIR6sTvKz9bDIDaso4k2FGnns3Ce73VmQmuXeKUEB
-----END PRIVATE KEY-----
";
const ED_PK: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAjCoCANheTAfjoBOAbmouxn+ZyZJFzscJ1IV7xhYV3Lk=
-----END PUBLIC KEY-----
";

fn b64url(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn p256_key() -> p256::SecretKey {
    match P2_SK.parse::<SecretKey>().unwrap() {
        SecretKey::P256(k) => k,
        other => panic!("{other:?}"),
    }
}

fn jwk_for(sk: &SecretKey, crv: &str, with_d: bool) -> String {
    let (x, y) = sk.public_key().coordinates().unwrap();
    let d = if with_d {
        format!(r#","d":"{}""#, b64url(&sk.to_scalar_bytes()[..]))
    } else {
        String::new()
    };
    format!(
        r#"{{"kty":"EC","crv":"{crv}","x":"{}","y":"{}"{d}}}"#,
        b64url(&x),
        b64url(&y)
    )
}

#[test]
fn every_format_yields_the_expected_key() {
    let k1: SecretKey = K1_SK.parse().unwrap();
    let p2: SecretKey = P2_SK.parse().unwrap();
    let min_der = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(K1_SEC1_MIN_B64)
            .unwrap()
    };
    let min_pem = format!(
        "-----BEGIN EC PRIVATE KEY-----\n{K1_SEC1_MIN_B64}\n-----END EC PRIVATE KEY-----\n"
    );
    let p2k = p256_key();
    let p2_pkcs8 = p2k.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let p2_sec1 = p2k.to_sec1_pem(LineEnding::CRLF).unwrap().to_string();
    let p2_spki = p2k.public_key().to_public_key_pem(LineEnding::LF).unwrap();
    let p2_pkcs8_der = p2k.to_pkcs8_der().unwrap().as_bytes().to_vec();
    let ed_pkh = {
        let pk = match parse_key_bytes(ED_PK.as_bytes(), &NoPassphrase).unwrap() {
            KeyMaterial::Public(pk) => pk,
            other => panic!("{other:?}"),
        };
        pk.pkh().to_string()
    };
    let table: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        ("sec1 pem", K1_SEC1.into(), true, K1_PKH),
        (
            "sec1 + ec parameters",
            format!("{K1_PARAMS}{K1_SEC1}").into(),
            true,
            K1_PKH,
        ),
        ("sec1 without public key", min_pem.into(), true, K1_PKH),
        (
            "sec1 with surrounding text",
            format!("key:\n{K1_SEC1}\ntrailer\n").into(),
            true,
            K1_PKH,
        ),
        ("sec1 der", min_der, true, K1_PKH),
        ("legacy encrypted", K1_LEGACY.into(), true, K1_PKH),
        ("encrypted pkcs8", K1_ENC_PKCS8.into(), true, K1_PKH),
        ("spki", K1_SPKI.into(), false, K1_PKH),
        ("p256 pkcs8", p2_pkcs8.into(), true, P2_PKH),
        ("p256 sec1 crlf", p2_sec1.into(), true, P2_PKH),
        ("p256 spki", p2_spki.into(), false, P2_PKH),
        ("p256 pkcs8 der", p2_pkcs8_der, true, P2_PKH),
        ("spsk", format!("{K1_SK}\n").into(), true, K1_PKH),
        (
            "unencrypted:spsk",
            format!("unencrypted:{K1_SK}").into(),
            true,
            K1_PKH,
        ),
        ("p2sk", P2_SK.into(), true, P2_PKH),
        ("sppk", k1.public_key().to_string().into(), false, K1_PKH),
        (
            "p2pk with BOM",
            format!("\u{feff}{}\r\n", p2.public_key()).into(),
            false,
            P2_PKH,
        ),
        (
            "jwk public P-256K",
            jwk_for(&k1, "P-256K", false).into(),
            false,
            K1_PKH,
        ),
        (
            "jwk private secp256k1",
            jwk_for(&k1, "secp256k1", true).into(),
            true,
            K1_PKH,
        ),
        (
            "jwk private SECP256K1",
            jwk_for(&k1, "SECP256K1", true).into(),
            true,
            K1_PKH,
        ),
        (
            "jwk private P-256",
            jwk_for(&p2, "P-256", true).into(),
            true,
            P2_PKH,
        ),
        (
            "jwk d only",
            format!(
                r#"{{"kty":"EC","crv":"P-256","d":"{}"}}"#,
                b64url(&p2.to_scalar_bytes()[..])
            )
            .into(),
            true,
            P2_PKH,
        ),
        (
            "key vault reply",
            format!(
                r#"{{"key":{},"attributes":{{"enabled":true}}}}"#,
                jwk_for(&p2, "P-256", false)
            )
            .into(),
            false,
            P2_PKH,
        ),
        ("ed25519 spki", ED_PK.into(), false, ed_pkh.as_str()),
    ];
    let pass = FixedPassphrase::new(PASS);
    for (name, bytes, secret, pkh) in table {
        let km = parse_key_bytes(&bytes, &pass).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(km.pkh().to_string(), pkh, "{name}");
        assert_eq!(km.is_secret(), secret, "{name}");
    }
}

#[test]
fn unencrypted_keys_never_ask_for_a_passphrase() {
    for text in [K1_SEC1, K1_SPKI, K1_SK] {
        parse_key_bytes(text.as_bytes(), &NoPassphrase).unwrap();
    }
}

#[test]
fn errors_are_typed_and_say_what_to_do() {
    let wrong = FixedPassphrase::new(b"wrong");
    let pass = FixedPassphrase::new(PASS);
    let k1: SecretKey = K1_SK.parse().unwrap();
    let mut bad_jwk = jwk_for(&k1, "P-256K", false);
    bad_jwk = bad_jwk.replacen(r#""kty":"EC""#, r#""kty":"EC","d":"AQ""#, 1);
    let corrupt = K1_SEC1.replace("oUQDQgAE", "oUQDQgA!");
    let truncated = K1_SEC1.replace("XRIFQ2HyBJYMAgyOa+djSi7BAgRBSg==\n", "");
    let cases: Vec<(&str, String, &dyn PassphraseSource, &str)> = vec![
        (
            "legacy wrong pass",
            K1_LEGACY.into(),
            &wrong,
            "cannot decrypt",
        ),
        (
            "pkcs8 wrong pass",
            K1_ENC_PKCS8.into(),
            &wrong,
            "cannot decrypt",
        ),
        (
            "legacy no pass",
            K1_LEGACY.into(),
            &NoPassphrase,
            "--passphrase-file",
        ),
        (
            "pkcs8 no pass",
            K1_ENC_PKCS8.into(),
            &NoPassphrase,
            "--passphrase-file",
        ),
        (
            "secp384r1",
            P384.into(),
            &pass,
            "unsupported curve secp384r1",
        ),
        (
            "secp384r1 spki",
            P384_SPKI.into(),
            &pass,
            "unsupported curve secp384r1",
        ),
        (
            "ed25519 secret",
            ED_SK.into(),
            &pass,
            "unsupported curve ed25519",
        ),
        (
            "jwk P-384",
            jwk_for(&k1, "P-384", false),
            &pass,
            "unsupported curve P-384",
        ),
        (
            "jwk okp x25519",
            r#"{"kty":"OKP","crv":"X25519","x":"AA"}"#.into(),
            &pass,
            "unsupported curve X25519",
        ),
        (
            "jwk rsa",
            r#"{"kty":"RSA","crv":"x"}"#.into(),
            &pass,
            "JWK key type RSA",
        ),
        ("jwk x/y vs d", bad_jwk, &pass, "do not belong"),
        ("jwk bad json", "{nope".into(), &pass, "malformed JWK JSON"),
        ("corrupt base64", corrupt, &pass, "bad base64"),
        ("truncated der", truncated, &pass, "malformed SEC1"),
        (
            "no END",
            K1_SEC1.replace("-----END EC PRIVATE KEY-----", ""),
            &pass,
            "no matching END",
        ),
        (
            "two keys",
            format!("{K1_SEC1}{K1_SPKI}"),
            &pass,
            "put exactly one key",
        ),
        (
            "certificate",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----".into(),
            &pass,
            "CERTIFICATE is not a supported key",
        ),
        (
            "spesk",
            "spesk1xxxx".into(),
            &pass,
            "decrypt it with octez-client",
        ),
        (
            "encrypted: p2esk",
            "encrypted:p2esk1xx".into(),
            &pass,
            "p2esk is an encrypted Tezos secret key",
        ),
        (
            "encrypted: edesk",
            "encrypted:edesk1xx".into(),
            &pass,
            "edesk is an encrypted Tezos secret key",
        ),
        (
            "encrypted: other",
            "encrypted:xyz".into(),
            &pass,
            "this key is an encrypted Tezos secret key",
        ),
        (
            "edsk",
            "edsk3xyz".into(),
            &pass,
            "unsupported curve ed25519",
        ),
        ("pkh", K1_PKH.into(), &pass, "public key hash"),
        (
            "bad checksum",
            K1_SK.replace("Tu5", "Tu6"),
            &pass,
            "checksum",
        ),
        (
            "sec1 naming no curve, without public key",
            "-----BEGIN EC PRIVATE KEY-----\nMCUCAQEEILTPwzn+oUEt7+XmChU/6s+wwXF1d1EnjmXCZU6ly84f\n-----END EC PRIVATE KEY-----".into(),
            &pass,
            "names no curve",
        ),
        ("garbage", "hello world".into(), &pass, "unrecognised"),
        ("empty", "\n  \n".into(), &pass, "empty"),
    ];
    for (name, text, source, needle) in cases {
        let err = parse_key_bytes(text.as_bytes(), source)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{name}: {err}");
    }
    assert!(matches!(
        parse_key_bytes(K1_LEGACY.as_bytes(), &wrong),
        Err(KeyFileError::Decrypt { .. })
    ));
    assert!(matches!(
        parse_key_bytes(P384.as_bytes(), &pass),
        Err(KeyFileError::UnsupportedCurve(c)) if c == "secp384r1"
    ));
    assert!(matches!(
        parse_key_bytes(&[0xff, 0xfe, 0x00], &pass),
        Err(KeyFileError::Unrecognised(_))
    ));
    assert!(matches!(
        parse_key_bytes(&[0x30, 0x03, 0x02, 0x01, 0x01], &pass),
        Err(KeyFileError::Unrecognised(_))
    ));
}

#[test]
fn files_and_passphrase_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let pass = dir.path().join("pass");
    std::fs::write(&key, K1_ENC_PKCS8).unwrap();
    std::fs::write(&pass, b"correct-horse\r\n").unwrap();
    let km = read_key_file(&key, &PassphraseFile(pass.clone())).unwrap();
    assert_eq!(km.pkh().to_string(), K1_PKH);
    let src = passphrase_source(Some(&pass));
    assert_eq!(
        read_key_file(&key, src.as_ref()).unwrap().pkh().to_string(),
        K1_PKH
    );
    let missing = dir.path().join("missing");
    assert!(matches!(
        read_key_file(&missing, &NoPassphrase),
        Err(KeyFileError::Read { .. })
    ));
    assert!(matches!(
        read_key_file(&key, &PassphraseFile(missing)),
        Err(KeyFileError::PassphraseFile { .. })
    ));
    assert!(format!("{:?}", FixedPassphrase::new(b"s3cret")).contains("redacted"));
}
