//! Signature-check bench: what the signer does with every vault signature (low-S
//! normalisation, then verification against the cached public key) for tz2 and tz3, against
//! a plain k256 / p256 `verify_prehash` of the same (already low-S) signature.
//!
//! The tz2 input is the high-S twin of a valid signature (as Key Vault returns about half of
//! the time), so the normalisation really rewrites it.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use tezos_azure_signer::tezos::{Curve, Signature, blake2b_256};

mod support;

/// The same ECDSA signature with s replaced by n − s.
fn high_s_k256(sig: &k256::ecdsa::Signature) -> [u8; 64] {
    let (r, s) = sig.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r, -*s).expect("n − s is a valid s");
    high.to_bytes().into()
}

fn high_s_p256(sig: &p256::ecdsa::Signature) -> [u8; 64] {
    let (r, s) = sig.split_scalars();
    let high = p256::ecdsa::Signature::from_scalars(r, -*s).expect("n − s is a valid s");
    high.to_bytes().into()
}

fn signature(c: &mut Criterion) {
    let digest = blake2b_256(&support::request("attestation"));

    let secret = support::secret(Curve::Secp256k1);
    let public = secret.public_key();
    let low = secret.sign_digest(&digest);
    let sig = k256::ecdsa::Signature::from_slice(low.raw()).expect("valid signature");
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&public.to_tezos_bytes())
        .expect("vector key is a valid point");
    let high = high_s_k256(&sig);
    assert!(!Signature::from_raw(Some(Curve::Secp256k1), high).is_low_s());
    let mut group = c.benchmark_group("signature/tz2");
    group.bench_function("baseline_k256_verify_prehash", |b| {
        b.iter(|| vk.verify_prehash(black_box(&digest), black_box(&sig)))
    });
    group.bench_function("normalize_verify", |b| {
        b.iter(|| {
            let s = Signature::from_raw(Some(Curve::Secp256k1), black_box(high)).normalized();
            public.verify_digest(black_box(&digest), &s)
        })
    });
    group.finish();

    let secret = support::secret(Curve::P256);
    let public = secret.public_key();
    let low = secret.sign_digest(&digest);
    let sig = p256::ecdsa::Signature::from_slice(low.raw()).expect("valid signature");
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&public.to_tezos_bytes())
        .expect("vector key is a valid point");
    let high = high_s_p256(&sig);
    let mut group = c.benchmark_group("signature/tz3");
    group.bench_function("baseline_p256_verify_prehash", |b| {
        b.iter(|| vk.verify_prehash(black_box(&digest), black_box(&sig)))
    });
    group.bench_function("normalize_verify", |b| {
        b.iter(|| {
            let s = Signature::from_raw(Some(Curve::P256), black_box(high)).normalized();
            public.verify_digest(black_box(&digest), &s)
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = signature
}
criterion_main!(benches);
