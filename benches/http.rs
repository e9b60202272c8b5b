//! End-to-end bench: the real server (`server::run::Server`, the `Signer`, the durable
//! watermark store) in-process, its vault the bundled emulator reached through the real Azure
//! SDK over TLS (exactly `serve --dev`'s wiring, via `commands::DevVault`), and a
//! loopback HTTP client POSTing attestations at increasing levels.
//!
//! Baseline in the same run: the same SDK sign call straight to the emulator, no signer. The
//! ratio is the signer's overhead per signature (HTTP, parse, watermark check, low-S + verify,
//! fsync'd watermark). Loopback only: the client has proxies disabled.

use std::cell::Cell;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tezos_azure_signer::commands::DevVault;
use tezos_azure_signer::server::ApiOptions;
use tezos_azure_signer::server::listen::Limits;
use tezos_azure_signer::server::run::Server;
use tezos_azure_signer::signer::{Signer, SignerConfig};
use tezos_azure_signer::tezos::blake2b_256;
use tezos_azure_signer::vault::VaultSettings;
use tezos_azure_signer::vault::credentials::AuthMode;
use tezos_azure_signer::watermark::{DataDir, LocalStore};

mod support;

fn http(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the runtime starts");
    // Under target/ (same disk as the build), not a tmpfs: the fsync is real.
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&base).expect("target/ is writable");
    let data_dir = tempfile::tempdir_in(base).expect("a temp dir under target/");

    // serve's default deadlines; the credential and CA are the emulator's.
    let deadlines = VaultSettings {
        urls: Vec::new(),
        auth: AuthMode::ClientSecret,
        sign_deadline: std::time::Duration::from_secs(3),
        read_deadline: std::time::Duration::from_secs(30),
        extra_ca: None,
        hedge: Default::default(),
    };
    let dev = rt
        .block_on(DevVault::start(data_dir.path(), &deadlines, 0, 1))
        .expect("the emulator starts with its demo keys");
    let vault = dev.vault();
    let key = rt
        .block_on(vault.list_keys())
        .expect("the emulator lists its keys")
        .into_iter()
        .find(|k| k.name == "demo-tz2")
        .expect("serve --dev's demo tz2 key exists");
    let pkh = key.pkh();

    let store = DataDir::open(data_dir.path()).expect("a fresh store opens");
    let signer = rt
        .block_on(Signer::new(
            vault.clone(),
            Arc::new(LocalStore::new(store)),
            SignerConfig::default(),
        ))
        .expect("the signer starts against the emulator");
    let signer = Arc::new(signer);
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
    let server = rt
        .block_on(Server::bind(
            signer,
            loopback,
            None,
            None,
            ApiOptions::default(),
            Limits::default(),
        ))
        .expect("the API binds on loopback");
    let address = server.api_address().expect("a bound address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = rt.spawn(server.run(async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let url = format!("http://{address}/keys/{pkh}");

    let mut group = c.benchmark_group("http/tz2");
    let digest = blake2b_256(&support::attestation_at(1));
    group.bench_function("baseline_sdk_sign", |b| {
        b.to_async(&rt).iter(|| async {
            vault
                .sign_digest(&key, black_box(&digest))
                .await
                .expect("the emulator signs")
        })
    });
    let level = Cell::new(0i32);
    group.bench_function("http_sign_fresh", |b| {
        b.to_async(&rt).iter(|| {
            level.set(level.get() + 1);
            let body = format!("\"{}\"", hex::encode(support::attestation_at(level.get())));
            let request = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body);
            async move {
                let response = request.send().await.expect("the signer answers");
                assert_eq!(response.status(), 200, "a higher level is signed");
                response.bytes().await.expect("a body")
            }
        })
    });
    group.finish();

    let _ = stop.send(());
    let report = rt
        .block_on(running)
        .expect("the server task does not panic");
    assert!(report.drained, "every signature finished before shutdown");
    rt.block_on(dev.shutdown());
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = http
}
criterion_main!(benches);
