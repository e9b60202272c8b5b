//! Codec bench: `SigningRequest::parse` on the block, attestation and DAL-attestation vectors,
//! each against BLAKE2b-256 over the same bytes (the least any signer does with a request).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tezos_azure_signer::tezos::{SigningRequest, blake2b_256};

mod support;

fn codec(c: &mut Criterion) {
    for name in [
        "block_round0_unlocked",
        "attestation",
        "attestation_with_dal",
    ] {
        let bytes = support::request(name);
        assert!(SigningRequest::parse(&bytes).is_ok(), "{name} parses");
        let mut group = c.benchmark_group(format!("codec/{name}"));
        group.bench_function("baseline_blake2b256", |b| {
            b.iter(|| blake2b_256(black_box(&bytes)))
        });
        group.bench_function("parse", |b| {
            b.iter(|| SigningRequest::parse(black_box(&bytes)))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = codec
}
criterion_main!(benches);
