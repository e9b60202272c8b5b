//! Two vaults in one tenant holding the same key, used as one (`--vault-url` twice) through
//! the real Azure SDK over TLS: signing survives the preferred vault killed, frozen, throttled
//! in windows or failing with 5xx, and it is asked first again once it answers; the hedge cap
//! holds under a slow vault; a block gets one signature with both vaults answering.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyvault_emulator::{Emulator, EmulatorConfig, Faults};
use tezos_azure_signer::signer::SignerConfig;
use tezos_azure_signer::tezos::{Curve, SecretKey};
use tezos_azure_signer::vault::credentials::{AuthMode, CredentialEnv};
use tezos_azure_signer::vault::{
    HedgeConfig, HedgeDelay, ImportOptions, Vault, VaultKey, VaultSettings, as_one,
    open_each_with_env,
};

use crate::vault_common::*;

/// Vault A and its sibling B, the same P-256 key imported into each, and the set of both
/// (A preferred).
struct Pair {
    a: Option<Emulator>,
    b: Emulator,
    set: Arc<dyn Vault>,
    key: VaultKey,
    secret: SecretKey,
    _scratch: Scratch,
}

impl Pair {
    fn a(&self) -> &Emulator {
        self.a.as_ref().expect("A runs")
    }

    async fn sign(&self, i: u8) -> Result<Duration, String> {
        let digest = [i; 32];
        let started = Instant::now();
        let deadline = Some(started + Duration::from_secs(3));
        let sig = self
            .set
            .sign_verified_until(&self.key, &digest, deadline)
            .await
            .map_err(|e| e.to_string())?;
        self.secret
            .public_key()
            .verify_digest(&digest, &sig)
            .map_err(|e| format!("released a signature that does not verify: {e}"))?;
        Ok(started.elapsed())
    }

    fn demoted(&self, i: usize) -> Option<String> {
        self.set.members()[i].demoted.clone()
    }

    async fn until_restored(&self, i: usize) {
        let until = Instant::now() + Duration::from_secs(10);
        while self.demoted(i).is_some() {
            assert!(Instant::now() < until, "vault {i} was never probed back");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn hedging() -> HedgeConfig {
    HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::from_millis(100)),
        probe_every: Duration::from_millis(200),
        ..HedgeConfig::default()
    }
}

async fn pair(hedge: HedgeConfig) -> Pair {
    let a = emulator().await;
    let b = a
        .start_sibling(EmulatorConfig::default())
        .await
        .expect("the second vault starts");
    let url = a.vault_url();
    pair_on(a, b, &url, hedge).await
}

/// The pair of `a` (reached at `a_url`) and `b`.
async fn pair_on(a: Emulator, b: Emulator, a_url: &str, hedge: HedgeConfig) -> Pair {
    let s = Scratch::new();
    let env = CredentialEnv::new(client_secret_env(&a), &s.dmi());
    let settings = VaultSettings {
        urls: vec![a_url.parse().unwrap(), b.vault_url().parse().unwrap()],
        auth: AuthMode::Auto,
        sign_deadline: Duration::from_secs(3),
        read_deadline: Duration::from_secs(1),
        extra_ca: Some(a.ca_path().to_path_buf()),
        hedge,
    };
    let (each, _) = open_each_with_env(&settings, &env).expect("both vaults open");
    let secret = SecretKey::from_scalar(Curve::P256, &[0x42; 32]).unwrap();
    for (_, vault) in &each {
        vault
            .import_key("baker", &secret, ImportOptions::default())
            .await
            .expect("imported");
    }
    let set = as_one(each, hedge);
    let key = set.list_keys().await.unwrap().remove(0);
    Pair {
        a: Some(a),
        b,
        set,
        key,
        secret,
        _scratch: s,
    }
}

/// tests/support/tcp_forward.py in front of a vault: stopping it (SIGSTOP) freezes the vault
/// for real, at the process level. Killed on drop.
struct Forwarder {
    child: std::process::Child,
    port: u16,
}

impl Forwarder {
    /// `None` when python3 is missing (the caller reports the skip).
    fn start(target: u16) -> Option<Forwarder> {
        use std::io::BufRead as _;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tcp_forward.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(target.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .ok()?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take()?)
            .read_line(&mut line)
            .ok()?;
        let port = line.trim().parse().ok()?;
        Some(Forwarder { child, port })
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal}");
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_survives_the_preferred_vault_killed_mid_run() {
    // A hedge delay far beyond any hand-over: B is asked because A failed, not by the timer.
    let mut p = pair(HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::from_secs(5)),
        ..hedging()
    })
    .await;
    for i in 0..10 {
        p.sign(i).await.unwrap();
    }
    assert_eq!((p.a().stats().sign, p.b.stats().sign), (10, 0));
    p.a.take().unwrap().shutdown().await;
    let mut longest = Duration::ZERO;
    for i in 10..40 {
        longest = longest.max(p.sign(i).await.expect("B signs"));
    }
    assert_eq!(p.b.stats().sign, 30);
    // A refused connection hands over at once: no answer waits for the hedge delay.
    assert!(longest < Duration::from_millis(2500), "{longest:?}");
    assert_eq!(p.set.members()[1].hedges_sent, 0, "handed over, not hedged");
    assert!(p.demoted(0).is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_vault_is_hedged_then_demoted_and_asked_first_again_once_it_answers() {
    let p = pair(hedging()).await;
    p.sign(0).await.unwrap();
    // Frozen: every request waits far beyond any deadline (a stopped process).
    p.a().set_faults(Faults {
        slow_rate: 1.0,
        slow_ms: 60_000,
        ..Faults::default()
    });
    for i in 1..=3 {
        let took = p.sign(i).await.expect("the hedge signs");
        assert!(took >= Duration::from_millis(100), "{took:?}");
    }
    let demoted = p.demoted(0).expect("demoted after three hedges won");
    assert!(
        demoted.contains("another vault answered first"),
        "{demoted}"
    );
    // Demoted: B is asked first and A not at all (no hedge, no delay).
    let asked = p.set.members()[0].requests;
    for i in 4..10 {
        p.sign(i).await.unwrap();
    }
    assert_eq!(p.set.members()[0].requests, asked);
    let status = &p.set.members()[1];
    assert_eq!((status.hedges_sent, status.hedges_won), (3, 3));
    // Thawed: a probe brings it back and it signs again.
    p.a().set_faults(Faults::default());
    p.until_restored(0).await;
    let before = p.a().stats().sign;
    p.sign(10).await.unwrap();
    assert_eq!(p.a().stats().sign, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_stopped_with_sigstop_is_hedged_demoted_and_back_after_sigcont() {
    let a = emulator().await;
    let b = a.start_sibling(EmulatorConfig::default()).await.unwrap();
    let Some(forwarder) = Forwarder::start(a.port()) else {
        crate::skip::skipped(
            "SIGSTOP test of two vaults",
            "python3 could not run tests/support/tcp_forward.py",
            "install python3",
        );
        return;
    };
    let p = pair_on(
        a,
        b,
        &format!("https://localhost:{}", forwarder.port),
        hedging(),
    )
    .await;
    p.sign(0).await.unwrap();
    assert_eq!(p.set.members()[0].requests, 1);
    forwarder.signal("-STOP");
    for i in 1..=3 {
        let took = p.sign(i).await.expect("the hedge signs");
        assert!(took >= Duration::from_millis(100), "{took:?}");
    }
    assert!(p.demoted(0).is_some(), "demoted after three hedges won");
    // Demoted: B is asked first and A not at all.
    let asked = p.set.members()[0].requests;
    for i in 4..8 {
        p.sign(i).await.unwrap();
    }
    assert_eq!(p.set.members()[0].requests, asked);
    assert_eq!(p.set.members()[1].hedges_sent, 3);
    forwarder.signal("-CONT");
    p.until_restored(0).await;
    let before = p.set.members()[0].requests;
    p.sign(8).await.unwrap();
    assert_eq!(p.set.members()[0].requests, before + 1, "asked first again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_signatures_from_one_vault_never_leave() {
    let p = pair(HedgeConfig {
        demote_after: u32::MAX,
        ..hedging()
    })
    .await;
    p.a().set_faults(Faults {
        wrong_signature_rate: 1.0,
        ..Faults::default()
    });
    // Pair::sign verifies every released signature against the key.
    for i in 0..10 {
        p.sign(i).await.expect("B's verified signature");
    }
    assert!(p.a().stats().wrong_signatures >= 10);
    let errors = &p.set.members()[0].errors;
    assert!(errors.contains(&("invalid_signature", 10)), "{errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_in_windows_and_5xx_hand_over_at_once() {
    // A hedge delay far beyond any hand-over: B is asked because A refused, not by the timer.
    let p = pair(HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::from_secs(5)),
        ..hedging()
    })
    .await;
    // Key Vault's own throttling: 2 requests per 10-second window, 429 without Retry-After.
    p.a().set_faults(Faults {
        throttle_per_window: Some(2),
        throttle_window_ms: 10_000,
        ..Faults::default()
    });
    for i in 0..12 {
        let took = p.sign(i).await.expect("signed through the window");
        assert!(took < Duration::from_millis(2500), "{took:?}");
    }
    assert_eq!(p.set.members()[1].hedges_sent, 0, "handed over, not hedged");
    assert!(p.a().stats().throttled > 0);
    assert!(p.b.stats().sign >= 8, "{:?}", p.b.stats().sign);
    // Back to normal, then failing with 500 on every request.
    p.a().set_faults(Faults::default());
    p.until_restored(0).await;
    p.a().set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    for i in 12..20 {
        p.sign(i).await.expect("B signs while A answers 500");
    }
    assert!(p.demoted(0).unwrap().contains("500"), "{:?}", p.demoted(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hedge_cap_holds_under_a_slow_preferred_vault() {
    let p = pair(HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::from_millis(20)),
        max_ratio: 0.1,
        demote_after: u32::MAX,
        ..hedging()
    })
    .await;
    p.a().set_faults(Faults {
        latency_ms: 120,
        ..Faults::default()
    });
    for i in 0..40 {
        p.sign(i).await.unwrap();
    }
    let b = &p.set.members()[1];
    assert!(
        b.hedges_sent <= 4 + 5,
        "{} hedges for 40 signatures",
        b.hedges_sent
    );
    assert!(b.hedges_refused > 0);
    assert_eq!(
        p.set.members()[0].requests,
        40,
        "every request asked A first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_through_two_answering_vaults_get_one_signature_each() {
    let p = pair(HedgeConfig {
        delay: HedgeDelay::Fixed(Duration::ZERO),
        max_ratio: 1.0,
        demote_after: u32::MAX,
        ..hedging()
    })
    .await;
    for emulator in [p.a(), &p.b] {
        emulator.set_faults(Faults {
            latency_ms: 5,
            ..Faults::default()
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let signer = tezos_azure_signer::testing::signer_over(
        p.set.clone(),
        dir.path(),
        SignerConfig::default(),
    )
    .await;
    let pkh = p.key.pkh();
    let chain = [0x7a, 0x06, 0xa7, 0x70];
    for level in 1..=15 {
        let bytes = hex::decode(tezos_azure_signer::testing::requests::block(
            chain, level, 0, 1,
        ))
        .unwrap();
        let first = signer.sign(&pkh, &bytes, None).await.unwrap();
        let again = signer.sign(&pkh, &bytes, None).await.unwrap();
        assert_eq!(first.signature, again.signature, "level {level}");
        p.secret
            .public_key()
            .verify(&bytes, &first.signature)
            .unwrap();
    }
    assert!(
        p.b.stats().sign >= 5,
        "both vaults were asked: {}",
        p.b.stats().sign
    );
}

/// The environment of the binary on the tenant of `a`: its client secret and CA, and `urls`
/// in AZURE_KEYVAULT_URI (comma-separated).
fn env_for(a: &Emulator, urls: &[&Emulator]) -> Vec<(String, String)> {
    let urls: Vec<String> = urls.iter().map(|e| e.vault_url()).collect();
    let mut env = client_secret_env(a);
    env.retain(|(k, _)| k != "AZURE_KEYVAULT_URI");
    env.push(("AZURE_KEYVAULT_URI".into(), urls.join(",")));
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_puts_the_key_into_every_vault_and_verify_lists_it_per_vault() {
    let a = emulator().await;
    let b = a.start_sibling(EmulatorConfig::default()).await.unwrap();
    let s = Scratch::new();
    let file = genkey(s.path(), "prime256v1", "baker");
    let pkh = pkh_of(&file);
    let env = env_for(&a, &[&a, &b]);
    let out = run(bin(
        &s,
        &env,
        &[
            "import",
            "--json",
            "--name",
            "baker",
            "--key",
            file.to_str().unwrap(),
        ],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json = stdout_json(&out);
    let ids = json["keys"][0]["key_id"].as_str().unwrap().to_string();
    assert!(
        ids.contains(&a.vault_url()) && ids.contains(&b.vault_url()),
        "{ids}"
    );
    assert_eq!((a.key_count(), b.key_count()), (1, 1));

    let out = run(bin(&s, &env, &["verify", "--vault-keys", "--json"])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json = stdout_json(&out);
    let listed: Vec<(String, String)> = json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["vault"].as_str().unwrap().to_string(),
                k["pkh"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 2, "{json}");
    assert!(listed.iter().all(|(_, p)| *p == pkh), "{json}");
    assert!(json["missing"].as_array().unwrap().is_empty(), "{json}");

    // A key in A only is named as missing from B.
    let other = genkey(s.path(), "secp256k1", "other");
    let out = run(bin(
        &s,
        &env_for(&a, &[&a]),
        &["import", "--key", other.to_str().unwrap()],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = run(bin(&s, &env, &["verify", "--vault-keys"])).await;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("VAULT"), "{text}");
    assert!(
        text.contains(&format!("{} is not in {}", pkh_of(&other), b.vault_url())),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_refuses_before_uploading_when_one_vault_holds_another_key_under_the_name() {
    let a = emulator().await;
    let b = a.start_sibling(EmulatorConfig::default()).await.unwrap();
    let s = Scratch::new();
    // B already holds a different key named "baker".
    let squatter = genkey(s.path(), "secp256k1", "squatter");
    let env_b = env_for(&a, &[&b]);
    let out = run(bin(
        &s,
        &env_b,
        &[
            "import",
            "--name",
            "baker",
            "--key",
            squatter.to_str().unwrap(),
        ],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let file = genkey(s.path(), "prime256v1", "baker");
    let out = run(bin(
        &s,
        &env_for(&a, &[&a, &b]),
        &["import", "--name", "baker", "--key", file.to_str().unwrap()],
    ))
    .await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&b.vault_url()), "{err}");
    assert!(
        err.contains(&format!(
            "already exists in the vault (holding {})",
            pkh_of(&squatter)
        )),
        "{err}"
    );
    assert_eq!(a.key_count(), 0, "nothing uploaded to A when B refused");
}
