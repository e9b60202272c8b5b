use super::*;
use crate::tezos::keys::SecretKey;
use proptest::prelude::*;

/// secp256k1 group order n.
const N_K256: [u8; 32] =
    hex_literal("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");

const fn hex_literal(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nib(b[2 * i]) << 4) | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}
const fn nib(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        _ => c - b'a' + 10,
    }
}

/// n − s, big-endian.
fn negate(s: &[u8; 32], n: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = n[i] as i16 - s[i] as i16 - borrow;
        borrow = if d < 0 { 1 } else { 0 };
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

fn high_s_twin(sig: &Signature) -> Signature {
    let mut raw = *sig.raw();
    let s: [u8; 32] = raw[32..].try_into().unwrap();
    raw[32..].copy_from_slice(&negate(&s, &N_K256));
    Signature::from_raw(sig.curve(), raw)
}

#[test]
fn tz2_high_s_is_rejected_like_octez_and_normalize_fixes_it() {
    let sk: SecretKey = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5"
        .parse()
        .unwrap();
    let pk = sk.public_key();
    let data = b"\x11some block";
    let low = sk.sign(data);
    assert!(low.is_low_s());
    let high = high_s_twin(&low);
    assert!(!high.is_low_s());
    assert_eq!(pk.verify(data, &high), Err(VerifyError::HighS));
    assert_eq!(high.normalized(), low);
    assert_eq!(low.normalized(), low);
    pk.verify(data, &high.normalized()).unwrap();
    // A high-S signature over other data is plainly invalid, not "high S".
    assert_eq!(pk.verify(b"\x11other", &high), Err(VerifyError::Invalid));
}

#[test]
fn tz3_accepts_high_s() {
    const N_P256: [u8; 32] =
        hex_literal("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let sk: SecretKey = "p2sk2g5Btw8MK7fnhQg9d7DaE8QYX8A89BLWaqWTQcHuATYY3ABjD9"
        .parse()
        .unwrap();
    let data = b"\x12x";
    let low = sk.sign(data);
    let mut raw = *low.raw();
    let s: [u8; 32] = raw[32..].try_into().unwrap();
    raw[32..].copy_from_slice(&negate(&s, &N_P256));
    let high = Signature::from_raw(low.curve(), raw);
    assert!(!high.is_low_s());
    sk.public_key().verify(data, &high).unwrap();
    assert_eq!(high.normalized(), low);
}

#[test]
fn malformed_signatures() {
    let sk: SecretKey = "spsk2oCGdj7yZFmAWr1wqopU512kDtCfWfs7N4FoRH6bkHhgXk5Tu5"
        .parse()
        .unwrap();
    let zero = Signature::from_raw(Some(Curve::Secp256k1), [0u8; 64]);
    assert_eq!(
        sk.public_key().verify(b"x", &zero),
        Err(VerifyError::Malformed)
    );
    assert_eq!(zero.normalized(), zero);
    assert!("edpk123".parse::<Signature>().is_err());
    assert_eq!(
        crate::tezos::base58::encode(crate::tezos::base58::SPPK, &[2u8; 33]).parse::<Signature>(),
        Err(SignatureError::UnknownPrefix)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn normalize_always_verifies_and_is_low_s(seed in any::<[u8; 32]>(), data in proptest::collection::vec(any::<u8>(), 0..200), flip in any::<bool>()) {
        prop_assume!(seed != [0u8; 32]);
        for curve in [Curve::Secp256k1, Curve::P256] {
            let Ok(sk) = SecretKey::from_scalar(curve, &seed) else { continue };
            let sig = sk.sign(&data);
            let n = if curve == Curve::Secp256k1 { N_K256 } else {
                hex_literal("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")
            };
            let mut raw = *sig.raw();
            if flip {
                let s: [u8; 32] = raw[32..].try_into().unwrap();
                raw[32..].copy_from_slice(&negate(&s, &n));
            }
            let maybe_high = Signature::from_raw(Some(curve), raw);
            let norm = maybe_high.normalized();
            prop_assert!(norm.is_low_s());
            prop_assert_eq!(norm, sig);
            prop_assert!(sk.public_key().verify(&data, &norm).is_ok());
        }
    }

    /// OpenSSL's P-256 check (the signing path's) gives the p256 crate's answer for valid,
    /// high-S, tampered, wrong-digest and out-of-range signatures.
    #[test]
    fn p256_openssl_agrees_with_the_p256_crate(seed in any::<[u8; 32]>(), digest in any::<[u8; 32]>(), tamper in 0usize..5, byte in 0usize..64) {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        let Ok(sk) = SecretKey::from_scalar(Curve::P256, &seed) else { return Ok(()) };
        let PublicKey::P256(pk) = sk.public_key() else { unreachable!() };
        let good = sk.sign_digest(&digest);
        let mut raw = *good.raw();
        let mut checked = digest;
        match tamper {
            0 => {}
            1 => raw[byte] ^= 0x01,
            2 => checked[byte % 32] ^= 0x80,
            3 => raw[32..].copy_from_slice(&[0xff; 32]),
            _ => {
                let s: [u8; 32] = raw[32..].try_into().unwrap();
                let n = hex_literal("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
                raw[32..].copy_from_slice(&negate(&s, &n));
            }
        }
        let crate_says = p256::ecdsa::Signature::from_slice(&raw)
            .map_err(|_| VerifyError::Malformed)
            .and_then(|sig| {
                p256::ecdsa::VerifyingKey::from(&pk)
                    .verify_prehash(&checked, &sig)
                    .map_err(|_| VerifyError::Invalid)
            });
        let ours = Signature::from_raw(Some(Curve::P256), raw).verify_with(&sk.public_key(), &checked);
        prop_assert_eq!(ours, crate_says);
        prop_assert_eq!(tamper == 0 || tamper == 4, ours.is_ok());
    }

    #[test]
    fn signature_base58_round_trips(raw in any::<[u8; 64]>(), which in 0usize..4) {
        let curve = [None, Some(Curve::Secp256k1), Some(Curve::P256), Some(Curve::Ed25519)][which];
        let sig = Signature::from_raw(curve, raw);
        let back: Signature = sig.to_string().parse().unwrap();
        prop_assert_eq!(back, sig);
    }
}
