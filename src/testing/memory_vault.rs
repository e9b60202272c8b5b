//! An in-memory [`Vault`] for tests and benches: real keys, randomised (non-deterministic)
//! ECDSA like Key Vault, no I/O, call counters, and switchable faults (high-S, wrong signature,
//! failure, a vault that never answers, a latency, a gate that holds one key's signatures until
//! released), and key removal and new versions (what the listing shows changes; the signer's
//! cached versions are recorded).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use k256::ecdsa::signature::hazmat::RandomizedPrehashSigner;

use crate::tezos::{Curve, Pkh, SecretKey};
use crate::vault::{ImportOptions, Vault, VaultError, VaultKey};

/// How the memory vault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Valid, randomised signatures, as Key Vault makes them.
    Normal,
    /// Returns the high-S form (n − s) of a valid signature.
    HighS,
    /// Returns a signature by another key.
    Wrong,
    /// Every call fails as an unreachable vault would.
    Fail,
    /// Every call waits forever (a vault that accepted the connection and froze).
    Hang,
}

/// The in-memory vault (see the module doc).
pub struct MemoryVault {
    keys: Mutex<Vec<(VaultKey, SecretKey)>>,
    /// Sign requests received (counted before the gate, the latency and the mode).
    pub sign_calls: AtomicUsize,
    /// Key listings.
    pub list_calls: AtomicUsize,
    /// Single-key reads (what the signer's vault health check makes).
    pub get_calls: AtomicUsize,
    /// Signatures returned (after the latency and the gate).
    pub signed: AtomicUsize,
    mode: Mutex<Mode>,
    /// How long each sign call takes.
    latency: Mutex<std::time::Duration>,
    /// `(name, version)` of every sign call, in order.
    pub signed_versions: Mutex<Vec<(String, String)>>,
    /// Signatures by the key with this name wait for a permit.
    gate: Mutex<Option<(String, std::sync::Arc<tokio::sync::Semaphore>)>>,
}

impl Default for MemoryVault {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryVault {
    /// An empty vault in [`Mode::Normal`], without latency.
    pub fn new() -> Self {
        MemoryVault {
            keys: Mutex::new(Vec::new()),
            sign_calls: AtomicUsize::new(0),
            list_calls: AtomicUsize::new(0),
            get_calls: AtomicUsize::new(0),
            signed: AtomicUsize::new(0),
            mode: Mutex::new(Mode::Normal),
            latency: Mutex::new(std::time::Duration::ZERO),
            signed_versions: Mutex::new(Vec::new()),
            gate: Mutex::new(None),
        }
    }

    /// Imports `secret` (base58 `spsk…`/`p2sk…`) as version `v1` of key `name`; its pkh.
    pub fn add(&self, name: &str, secret: &str) -> Pkh {
        self.add_version(name, "v1", secret)
    }

    /// Makes `secret` the latest version `version` of `name` (what a new import under an
    /// existing name does: the listing then shows only this version).
    pub fn add_version(&self, name: &str, version: &str, secret: &str) -> Pkh {
        self.remove(name);
        let sk: SecretKey = secret.parse().unwrap();
        let public_key = sk.public_key();
        let vault_curve = match sk.curve() {
            Curve::Secp256k1 => "P-256K",
            _ => "P-256",
        };
        let key = VaultKey {
            name: name.to_string(),
            version: version.into(),
            id: format!("https://fake.vault.azure.net/keys/{name}/{version}"),
            vault_curve: vault_curve.into(),
            public_key,
        };
        let pkh = key.pkh();
        self.keys.lock().unwrap().push((key, sk));
        pkh
    }

    /// Deletes (or disables) `name`: no longer listed, and it can no longer sign.
    pub fn remove(&self, name: &str) {
        self.keys.lock().unwrap().retain(|(k, _)| k.name != name);
    }

    /// Answers as `mode` says from now on.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// Each sign call takes `latency` from now on (a slow vault).
    pub fn set_latency(&self, latency: std::time::Duration) {
        *self.latency.lock().unwrap() = latency;
    }

    /// Fails or never answers, as the mode says (every call but signing, which waits for its
    /// gate and latency first).
    async fn answer(&self) -> Result<(), VaultError> {
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Fail => Err(down()),
            Mode::Hang => std::future::pending().await,
            _ => Ok(()),
        }
    }

    /// Makes signatures by `name` wait until the returned semaphore gets permits.
    pub fn gate(&self, name: &str) -> std::sync::Arc<tokio::sync::Semaphore> {
        let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        *self.gate.lock().unwrap() = Some((name.to_string(), sem.clone()));
        sem
    }

    /// Sign requests received.
    pub fn signs(&self) -> usize {
        self.sign_calls.load(Ordering::SeqCst)
    }
    /// Key listings made.
    pub fn lists(&self) -> usize {
        self.list_calls.load(Ordering::SeqCst)
    }
    /// Signatures the vault returned.
    pub fn signatures(&self) -> usize {
        self.signed.load(Ordering::SeqCst)
    }
}

fn down() -> VaultError {
    VaultError::Transport("memory vault is down".into())
}

fn randomized(sk: &SecretKey, digest: &[u8; 32]) -> [u8; 64] {
    let mut rng = rand_core::OsRng;
    match sk {
        SecretKey::Secp256k1(k) => {
            let s: k256::ecdsa::Signature = k256::ecdsa::SigningKey::from(k)
                .sign_prehash_with_rng(&mut rng, digest)
                .unwrap();
            s.to_bytes().into()
        }
        SecretKey::P256(k) => {
            let s: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k)
                .sign_prehash_with_rng(&mut rng, digest)
                .unwrap();
            s.to_bytes().into()
        }
    }
}

fn high_s(curve: Curve, raw: [u8; 64]) -> [u8; 64] {
    match curve {
        Curve::Secp256k1 => {
            let sig = k256::ecdsa::Signature::from_slice(&raw).unwrap();
            let (r, s) = sig.split_scalars();
            let s = if sig.normalize_s().is_some() { *s } else { -*s };
            k256::ecdsa::Signature::from_scalars(r, s)
                .unwrap()
                .to_bytes()
                .into()
        }
        _ => {
            let sig = p256::ecdsa::Signature::from_slice(&raw).unwrap();
            let (r, s) = sig.split_scalars();
            let s = if sig.normalize_s().is_some() { *s } else { -*s };
            p256::ecdsa::Signature::from_scalars(r, s)
                .unwrap()
                .to_bytes()
                .into()
        }
    }
}

impl MemoryVault {
    /// One signature, as the vault's sign call makes it (gate, mode, counters).
    async fn sign_now(&self, key: &VaultKey, digest: &[u8; 32]) -> Result<[u8; 64], VaultError> {
        self.sign_calls.fetch_add(1, Ordering::SeqCst);
        self.signed_versions
            .lock()
            .unwrap()
            .push((key.name.clone(), key.version.clone()));
        let gate = self.gate.lock().unwrap().clone();
        if let Some((name, sem)) = gate
            && name == key.name
        {
            sem.acquire().await.unwrap().forget();
        }
        let sk = {
            let keys = self.keys.lock().unwrap();
            keys.iter()
                .find(|(k, _)| k.name == key.name)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| VaultError::NotFound(key.name.clone()))?
        };
        // Let other tasks run in between, as a network call would.
        tokio::task::yield_now().await;
        let latency = *self.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mode = *self.mode.lock().unwrap();
        let signature = match mode {
            Mode::Normal => Ok(randomized(&sk, digest)),
            Mode::HighS => Ok(high_s(sk.curve(), randomized(&sk, digest))),
            Mode::Wrong => {
                let other: SecretKey = "spsk2rBDDeUqakQ42nBHDGQTtP3GErb6AahHPwF9bhca3Q5KA5HESE"
                    .parse()
                    .unwrap();
                Ok(*other.sign_digest(digest).raw())
            }
            Mode::Fail => Err(down()),
            Mode::Hang => std::future::pending().await,
        };
        self.signed.fetch_add(1, Ordering::SeqCst);
        signature
    }
}

#[async_trait]
impl Vault for MemoryVault {
    async fn list_keys(&self) -> Result<Vec<VaultKey>, VaultError> {
        self.list_calls.fetch_add(1, Ordering::SeqCst);
        self.answer().await?;
        Ok(self
            .keys
            .lock()
            .unwrap()
            .iter()
            .map(|(k, _)| k.clone())
            .collect())
    }

    async fn get_key(&self, name: &str) -> Result<VaultKey, VaultError> {
        self.get_calls.fetch_add(1, Ordering::SeqCst);
        self.answer().await?;
        let keys = self.keys.lock().unwrap();
        keys.iter()
            .find(|(k, _)| k.name == name)
            .map(|(k, _)| k.clone())
            .ok_or_else(|| VaultError::NotFound(name.into()))
    }

    async fn sign_digest_until(
        &self,
        key: &VaultKey,
        digest: &[u8; 32],
        deadline: Option<std::time::Instant>,
    ) -> Result<[u8; 64], VaultError> {
        let call = self.sign_now(key, digest);
        match deadline {
            None => call.await,
            Some(d) => {
                tokio::time::timeout_at(d.into(), call)
                    .await
                    .unwrap_or(Err(VaultError::Deadline(
                        d.saturating_duration_since(std::time::Instant::now()),
                    )))
            }
        }
    }

    async fn import_key(
        &self,
        _name: &str,
        _secret: &SecretKey,
        _options: ImportOptions,
    ) -> Result<VaultKey, VaultError> {
        Err(VaultError::Protocol(
            "the memory vault does not import".into(),
        ))
    }
}
