//! Pipeline bench: `Signer::sign` with an in-memory vault (real ECDSA, no I/O) and the real
//! `LocalStore` in a temporary directory on the build's disk (so each fresh signature pays its
//! journal write + fdatasync), attestations at increasing levels.
//!
//! Against, in the same run:
//! - `baseline_vault_sign`: the in-memory vault's `sign_digest` alone (what any signer pays);
//! - `replay`: an identical retry (stored signature re-verified, no vault call, no write);
//! - `store_persist`: `DataDir::persist` alone at increasing levels: the journal write
//!   and fdatasync, so its share of `sign_fresh` can be read off directly;
//! - `store_persist_and_checkpoint_6000_other_entries`: a persist, then the checkpoint that
//!   rewrites a file holding 6,000 other entries (temporary, fsync, rename, directory fsync):
//!   what the writer thread pays off the critical path when the store goes idle.

use std::cell::Cell;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tezos_azure_signer::signer::{Signer, SignerConfig};
use tezos_azure_signer::testing::MemoryVault;
use tezos_azure_signer::tezos::{ChainId, Curve, Pkh, SigningRequest, blake2b_256};
use tezos_azure_signer::vault::Vault;
use tezos_azure_signer::watermark::{DataDir, LocalStore, MarkRequest};

mod support;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime starts")
}

/// A temp dir on the same disk as `target/` (not a tmpfs), so fsync costs what it costs.
fn disk_tempdir() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&base).expect("target/ is writable");
    tempfile::tempdir_in(base).expect("a temp dir under target/")
}

fn signer(rt: &tokio::runtime::Runtime, vault: Arc<MemoryVault>, dir: &Path) -> Signer {
    let store = DataDir::open(dir).expect("a fresh store opens");
    rt.block_on(Signer::new(
        vault,
        Arc::new(LocalStore::new(store)),
        SignerConfig::default(),
    ))
    .expect("the signer starts on the in-memory vault")
}

fn pipeline(c: &mut Criterion) {
    let rt = runtime();
    let vault = Arc::new(support::memory_vault(
        "bench-tz2",
        &support::secret(Curve::Secp256k1),
    ));
    let key = rt
        .block_on(vault.get_key("bench-tz2"))
        .expect("the memory vault holds its key");
    let pkh: Pkh = key.pkh();
    let mut group = c.benchmark_group("pipeline/tz2");

    let digest = blake2b_256(&support::attestation_at(1));
    group.bench_function("baseline_vault_sign", |b| {
        b.to_async(&rt)
            .iter(|| vault.sign_digest(&key, black_box(&digest)))
    });

    let replay_dir = disk_tempdir();
    let replay_signer = signer(&rt, vault.clone(), replay_dir.path());
    let replayed = support::attestation_at(1);
    let first = rt
        .block_on(replay_signer.sign(&pkh, &replayed, None))
        .expect("the first signature is released");
    assert!(!first.replayed());
    group.bench_function("replay", |b| {
        b.to_async(&rt).iter(|| async {
            let signed = replay_signer
                .sign(&pkh, black_box(&replayed), None)
                .await
                .expect("an identical retry is answered");
            assert!(signed.replayed());
            signed
        })
    });

    let fresh_dir = disk_tempdir();
    let fresh_signer = signer(&rt, vault.clone(), fresh_dir.path());
    let level = Cell::new(0i32);
    group.bench_function("sign_fresh", |b| {
        b.to_async(&rt).iter(|| {
            level.set(level.get() + 1);
            let data = support::attestation_at(level.get());
            let signer = &fresh_signer;
            let pkh = &pkh;
            async move {
                let signed = signer
                    .sign(pkh, &data, None)
                    .await
                    .expect("a higher level is signed");
                assert!(!signed.replayed());
                signed
            }
        })
    });

    let store_dir = disk_tempdir();
    let mut store = DataDir::open(store_dir.path()).expect("a fresh store opens");
    let signature = first.signature;
    let mut store_level = 0i32;
    group.bench_function("store_persist", |b| {
        b.iter(|| {
            store_level += 1;
            let data = support::attestation_at(store_level);
            let request = SigningRequest::parse(&data).expect("the vector parses");
            let wm = request
                .watermark_key()
                .expect("an attestation has a watermark");
            let mark = MarkRequest::new(&wm, &data).to_mark(signature);
            store
                .persist(wm.kind, wm.chain_id, pkh, mark)
                .expect("a higher level persists")
        })
    });

    // The same write in a file that also holds 6,000 other entries (junk chain ids a signer
    // before the chain cap accepted): entries are encoded once, so only the bytes grow.
    let crowded_dir = disk_tempdir();
    let mut crowded = DataDir::open(crowded_dir.path()).expect("a fresh store opens");
    let other: Pkh = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t"
        .parse()
        .expect("a vector pkh");
    for i in 0..6000u32 {
        let data = support::attestation_at(1);
        let wm = SigningRequest::parse(&data)
            .expect("the vector parses")
            .watermark_key()
            .expect("an attestation has a watermark");
        let mark = MarkRequest::new(&wm, &data).to_mark(signature);
        crowded
            .persist(wm.kind, ChainId(i.to_be_bytes()), other, mark)
            .expect("a new chain persists");
    }
    let mut crowded_level = 0i32;
    crowded.flush().expect("a checkpoint");
    group.bench_function("store_persist_and_checkpoint_6000_other_entries", |b| {
        b.iter(|| {
            crowded_level += 1;
            let data = support::attestation_at(crowded_level);
            let wm = SigningRequest::parse(&data)
                .expect("the vector parses")
                .watermark_key()
                .expect("an attestation has a watermark");
            let mark = MarkRequest::new(&wm, &data).to_mark(signature);
            crowded
                .persist(wm.kind, wm.chain_id, pkh, mark)
                .expect("a higher level persists");
            crowded.flush().expect("a checkpoint")
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = pipeline
}
criterion_main!(benches);
