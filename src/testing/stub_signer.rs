//! A [`SignerApi`] that signs locally with known keys: the HTTP layer under test sees a
//! pipeline whose answers, delay, failures and vault health the test sets.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use crate::server::{SignError, Signed, SignerApi};
use crate::tezos::{Pkh, PublicKey, SecretKey, Signature, SigningRequest};
use crate::vault::VaultError;

/// Signs with its keys after an optional delay; can be told to fail the next request or to
/// report the vault down. Counts what it was asked.
pub struct StubSigner {
    keys: Vec<SecretKey>,
    authorized: Option<Vec<Pkh>>,
    fail_next: Mutex<Option<SignError>>,
    delay: Mutex<Duration>,
    vault_up: AtomicBool,
    /// Readiness checks (vault and store) never answer: a hung dependency.
    checks_hang: AtomicBool,
    /// The `authentication` of every sign request, in order.
    pub seen_auth: Mutex<Vec<Option<Signature>>>,
    /// Sign requests that finished (signed or refused after the delay).
    pub finished: AtomicUsize,
    /// Vault health checks.
    pub vault_checks: AtomicUsize,
}

impl StubSigner {
    /// A stub serving `secrets` (base58 `spsk…`/`p2sk…`), no authentication, vault up.
    pub fn new(secrets: &[&str]) -> StubSigner {
        StubSigner {
            keys: secrets
                .iter()
                .map(|s| s.parse().expect("a valid test secret key"))
                .collect(),
            authorized: None,
            fail_next: Mutex::new(None),
            delay: Mutex::new(Duration::ZERO),
            vault_up: AtomicBool::new(true),
            checks_hang: AtomicBool::new(false),
            seen_auth: Mutex::new(Vec::new()),
            finished: AtomicUsize::new(0),
            vault_checks: AtomicUsize::new(0),
        }
    }

    /// Requests must be authenticated by one of `keys` (as `GET /authorized_keys` reports).
    pub fn with_authorized(mut self, keys: Option<Vec<Pkh>>) -> StubSigner {
        self.authorized = keys;
        self
    }

    /// Each signature takes `delay` (a slow vault).
    pub fn with_delay(self, delay: Duration) -> StubSigner {
        self.set_delay(delay);
        self
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.delay.lock().unwrap_or_else(|p| p.into_inner()) = delay;
    }

    /// The next sign request fails with `error`.
    pub fn fail_next(&self, error: SignError) {
        *self.fail_next.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
    }

    pub fn set_vault_up(&self, up: bool) {
        self.vault_up.store(up, Ordering::SeqCst);
    }

    /// From now on the readiness checks of the vault and the store never answer.
    pub fn set_checks_hang(&self, hang: bool) {
        self.checks_hang.store(hang, Ordering::SeqCst);
    }

    async fn hang_if_told(&self) {
        if self.checks_hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }

    fn key(&self, pkh: &Pkh) -> Option<&SecretKey> {
        self.keys.iter().find(|k| k.public_key().pkh() == *pkh)
    }
}

#[async_trait]
impl SignerApi for StubSigner {
    async fn public_key(&self, pkh: &Pkh) -> Result<PublicKey, SignError> {
        self.key(pkh)
            .map(SecretKey::public_key)
            .ok_or(SignError::UnknownKey(*pkh))
    }
    fn known_keys(&self) -> Vec<Pkh> {
        self.keys.iter().map(|k| k.public_key().pkh()).collect()
    }
    fn authorized_keys(&self) -> Option<Vec<Pkh>> {
        self.authorized.clone()
    }
    async fn sign(
        &self,
        pkh: &Pkh,
        data: &[u8],
        authentication: Option<&Signature>,
    ) -> Result<Signed, SignError> {
        self.seen_auth
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(authentication.copied());
        let failure = self
            .fail_next
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(e) = failure {
            return Err(e);
        }
        let delay = *self.delay.lock().unwrap_or_else(|p| p.into_inner());
        tokio::time::sleep(delay).await;
        let result = match self.key(pkh) {
            None => Err(SignError::UnknownKey(*pkh)),
            Some(key) => SigningRequest::parse(data)
                .map_err(SignError::Decode)
                .map(|_| Signed {
                    signature: key.sign(data),
                    vault_latency: Some(delay.max(Duration::from_millis(1))),
                    watermark_latency: None,
                }),
        };
        self.finished.fetch_add(1, Ordering::SeqCst);
        result
    }
    async fn check_vault(&self) -> Result<(), VaultError> {
        self.vault_checks.fetch_add(1, Ordering::SeqCst);
        self.hang_if_told().await;
        if self.vault_up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(VaultError::Transport("connection refused".into()))
        }
    }
    async fn check_store(&self) -> Result<(), crate::watermark::StoreError> {
        self.hang_if_told().await;
        Ok(())
    }
}
