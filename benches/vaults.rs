//! Two vaults at 20 ms (issue 20's table): the bundled emulator twice in one tenant, the same
//! P-256 key in each, reached through the real Azure SDK over TLS exactly as `serve` opens
//! several `--vault-url`s. Each row signs sequentially and reports the latency percentiles of
//! the vault step (what the pipeline waits for), failures, and vault requests per signature.
//!
//! Rows, all in this run: the bare call (vault A alone, healthy) as the baseline; A alone with
//! 2 % of its requests delayed by 1 s; both vaults with that tail on A (auto hedge delay, and a
//! fixed 10 ms one); both healthy (steady state); both with A shut down halfway. Loopback only.
//! Run by `scripts/bench.sh e2e` after the end-to-end harness.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyvault_emulator::{Emulator, EmulatorConfig, Faults};
use tezos_azure_signer::tezos::{Curve, SecretKey};
use tezos_azure_signer::vault::credentials::{AuthMode, CredentialEnv};
use tezos_azure_signer::vault::{
    HedgeConfig, HedgeDelay, ImportOptions, Vault, VaultKey, VaultSettings, as_one,
    open_each_with_env,
};

/// Every vault request's latency.
const LATENCY_MS: u64 = 20;
/// Signatures per row.
const SIGNATURES: u32 = 500;

struct Row {
    name: String,
    latencies: Vec<Duration>,
    failed: u32,
    requests_per_signature: Option<f64>,
}

impl Row {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let at = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[at]
    }
}

/// Two vaults of one tenant (A preferred), the key in both, and each opened on its own.
struct Tenant {
    a: Option<Emulator>,
    /// Vault B, kept running for the whole run.
    _b: Emulator,
    settings: VaultSettings,
    env: CredentialEnv,
    _scratch: tempfile::TempDir,
}

impl Tenant {
    async fn start() -> Tenant {
        let slow = Faults {
            latency_ms: LATENCY_MS,
            ..Faults::default()
        };
        let config = || EmulatorConfig {
            faults: slow.clone(),
            ..EmulatorConfig::default()
        };
        let a = Emulator::start(config()).await.expect("vault A starts");
        let b = a.start_sibling(config()).await.expect("vault B starts");
        let scratch = tempfile::tempdir().expect("scratch");
        let dmi = scratch.path().join("dmi_tag");
        std::fs::write(&dmi, "None\n").expect("dmi");
        let env = CredentialEnv::new(
            [
                ("AZURE_AUTHORITY_HOST".to_string(), a.authority_host()),
                ("AZURE_TENANT_ID".to_string(), a.tenant_id().to_string()),
                ("AZURE_CLIENT_ID".to_string(), a.client_id().to_string()),
                (
                    "AZURE_CLIENT_SECRET".to_string(),
                    a.client_secret().to_string(),
                ),
            ],
            &dmi,
        );
        let settings = VaultSettings {
            urls: vec![
                a.vault_url().parse().expect("url"),
                b.vault_url().parse().expect("url"),
            ],
            auth: AuthMode::ClientSecret,
            sign_deadline: Duration::from_secs(3),
            read_deadline: Duration::from_secs(30),
            extra_ca: Some(a.ca_path().to_path_buf()),
            hedge: HedgeConfig::default(),
        };
        let tenant = Tenant {
            a: Some(a),
            _b: b,
            settings,
            env,
            _scratch: scratch,
        };
        let secret = SecretKey::from_scalar(Curve::P256, &[0x5a; 32]).expect("key");
        let (each, _) = open_each_with_env(&tenant.settings, &tenant.env).expect("vaults open");
        for (_, vault) in &each {
            vault
                .import_key("baker", &secret, ImportOptions::default())
                .await
                .expect("imported");
        }
        tenant
    }

    fn a(&self) -> &Emulator {
        self.a.as_ref().expect("A runs")
    }

    /// Vault A alone, or both as one with `hedge`.
    async fn vault(&self, both: bool, hedge: HedgeConfig) -> (Arc<dyn Vault>, VaultKey) {
        let settings = VaultSettings {
            urls: self.settings.urls[..if both { 2 } else { 1 }].to_vec(),
            hedge,
            ..self.settings.clone()
        };
        let (each, _) = open_each_with_env(&settings, &self.env).expect("vaults open");
        let vault = as_one(each, hedge);
        let key = vault.list_keys().await.expect("listed").remove(0);
        (vault, key)
    }

    fn tail(&self, on: bool) {
        self.a().set_faults(Faults {
            latency_ms: LATENCY_MS,
            slow_rate: if on { 0.02 } else { 0.0 },
            slow_ms: 1000,
            ..Faults::default()
        });
    }
}

/// Signs [`SIGNATURES`] digests one after the other; `halfway` runs once in the middle.
async fn row(
    name: &str,
    vault: &Arc<dyn Vault>,
    key: &VaultKey,
    halfway: impl AsyncFnOnce(),
) -> Row {
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut halfway = Some(halfway);
    for i in 0..SIGNATURES {
        if i == SIGNATURES / 2
            && let Some(f) = halfway.take()
        {
            f().await;
        }
        let digest = tezos_azure_signer::tezos::blake2b_256(&i.to_be_bytes());
        let started = Instant::now();
        let deadline = Some(started + Duration::from_secs(3));
        match vault.sign_verified_until(key, &digest, deadline).await {
            Ok(_) => latencies.push(started.elapsed()),
            Err(e) => {
                failed += 1;
                eprintln!("{name}: {e}");
            }
        }
    }
    let members = vault.members();
    let requests_per_signature = (!members.is_empty())
        .then(|| members.iter().map(|m| m.requests).sum::<u64>() as f64 / f64::from(SIGNATURES));
    Row {
        name: name.to_string(),
        latencies,
        failed,
        requests_per_signature,
    }
}

async fn run() -> Vec<Row> {
    let mut tenant = Tenant::start().await;
    let auto = HedgeConfig::default();
    let fixed = HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::from_millis(10)),
        max_ratio: 1.0,
        ..auto
    };
    let mut rows = Vec::new();
    let (a, key) = tenant.vault(false, auto).await;
    rows.push(row("bare call: vault A alone, healthy", &a, &key, async || {}).await);
    tenant.tail(true);
    rows.push(row("A alone, 2 % of requests +1 s", &a, &key, async || {}).await);
    let (both, key) = tenant.vault(true, auto).await;
    rows.push(
        row(
            "A and B, 2 % of A's +1 s (hedge auto)",
            &both,
            &key,
            async || {},
        )
        .await,
    );
    let (both, key) = tenant.vault(true, fixed).await;
    rows.push(
        row(
            "A and B, 2 % of A's +1 s (hedge 10 ms)",
            &both,
            &key,
            async || {},
        )
        .await,
    );
    tenant.tail(false);
    let (both, key) = tenant.vault(true, auto).await;
    rows.push(row("A and B, healthy (steady state)", &both, &key, async || {}).await);
    let (both, key) = tenant.vault(true, auto).await;
    let a = tenant.a.take().expect("A runs");
    rows.push(
        row(
            "A and B, A shut down halfway",
            &both,
            &key,
            async move || {
                a.shutdown().await;
            },
        )
        .await,
    );
    drop(tenant);
    rows
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo bench` passes --bench; a plain run (cargo test --benches) only checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let rows = rt.block_on(run());
    let bare = rows[0].percentile(0.50);
    println!("\n## Two vaults at {LATENCY_MS} ms ({SIGNATURES} sequential signatures per row)\n");
    println!(
        "| {:<40} | {:>9} | {:>9} | {:>10} | {:>10} | {:>6} | {:>12} |",
        "row", "p50", "p99", "p99/bare50", "longest", "failed", "requests/sig"
    );
    println!(
        "|{}|{}|{}|{}|{}|{}|{}|",
        "-".repeat(42),
        "-".repeat(11),
        "-".repeat(11),
        "-".repeat(12),
        "-".repeat(12),
        "-".repeat(8),
        "-".repeat(14)
    );
    for r in &rows {
        println!(
            "| {:<40} | {:>9} | {:>9} | {:>9.2}× | {:>10} | {:>6} | {:>12} |",
            r.name,
            ms(r.percentile(0.50)),
            ms(r.percentile(0.99)),
            r.percentile(0.99).as_secs_f64() / bare.as_secs_f64(),
            ms(r.percentile(1.0)),
            r.failed,
            r.requests_per_signature
                .map_or("-".to_string(), |x| format!("{x:.3}")),
        );
    }
}
