//! The signing pipeline: key known → magic byte allowed → authentication → parse → policy →
//! (per-key lock) watermark check → one vault signature, normalised and verified → durable
//! watermark → reply.
//!
//! Owns: the order of those checks (octez's), and the guarantee that a watermarked signature
//! is released only after its mark is on disk. Never signs twice at one (level, round) for a
//! key/kind/chain, never returns a signature that does not verify, never calls the vault for
//! a refused request or an identical retry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::AuthorizedKeys;
use crate::keyring::{KeyEntry, Keyring};
use crate::policy::Policy;
use crate::tezos::{ChainId, DecodeError, Pkh, PublicKey, Signature, SigningRequest, blake2b_256};
use crate::vault::{self, Vault, VaultError};
use crate::watermark::{self, Decision, MarkRequest, StoreError, WatermarkError, WatermarkStore};
pub use queue::{SignContext, Withdrawn};

pub mod queue;

/// How the signer is set up (from the command line).
#[derive(Debug, Clone)]
pub struct SignerConfig {
    pub policy: Policy,
    pub authorized_keys: Option<AuthorizedKeys>,
    /// Vault key names or pkhs to serve; empty = every usable key.
    pub key_filter: Vec<String>,
    /// `--min-level`: refuse consensus requests below this level until a mark exists there.
    pub min_level: Option<i32>,
    /// Minimum time between two re-discoveries triggered by unknown keys.
    pub rediscovery_interval: Duration,
    /// Requests that may wait for one key's lock; more are refused at once.
    pub max_queue_per_key: usize,
    /// Chains one key may hold watermarks on; a request for one more chain is refused before
    /// the vault is called (junk chain ids would otherwise grow the files without bound).
    pub max_chains_per_key: usize,
}

impl Default for SignerConfig {
    fn default() -> Self {
        SignerConfig {
            policy: Policy::default(),
            authorized_keys: None,
            key_filter: Vec::new(),
            min_level: None,
            rediscovery_interval: Duration::from_secs(30),
            max_queue_per_key: 64,
            max_chains_per_key: 4,
        }
    }
}

/// A released signature.
#[derive(Debug, Clone)]
pub struct Signed {
    pub signature: Signature,
    /// Time spent in the vault call; `None` when the stored signature of an identical earlier
    /// request was returned instead.
    pub vault_latency: Option<Duration>,
}

impl Signed {
    /// Whether this is the stored signature of an identical earlier request (no vault call).
    pub fn replayed(&self) -> bool {
        self.vault_latency.is_none()
    }
}

/// Why a request was not signed. Messages are octez's where octez has one.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("key {0} is not known to this signer")]
    UnknownKey(Pkh),
    #[error(transparent)]
    Decode(DecodeError),
    #[error("magic byte 0x{0:02X} not allowed")]
    MagicByteNotAllowed(u8),
    #[error("{0}")]
    PolicyRefused(String),
    #[error("missing authentication signature field")]
    MissingAuthentication,
    #[error("invalid authentication signature")]
    InvalidAuthentication,
    #[error(transparent)]
    Watermark(WatermarkError),
    #[error(transparent)]
    Vault(VaultError),
    #[error(transparent)]
    Store(StoreError),
    /// The request left without reaching the vault (queue full, client gone, time over).
    #[error("key {pkh}: {reason}")]
    Withdrawn { pkh: Pkh, reason: Withdrawn },
    #[error(
        "key {pkh} already has watermarks on {} chains ({}), the limit of --max-chains-per-key: \
         refusing chain {chain}. List the chains this key signs for in the policy file \
         (`chains = [...]`), or raise the limit",
        chains.len(),
        chains.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    ChainLimit {
        pkh: Pkh,
        chain: ChainId,
        chains: Vec<ChainId>,
    },
}

/// The signer. `Send + Sync`; share it behind an `Arc`.
pub struct Signer {
    vault: Arc<dyn Vault>,
    store: Arc<tokio::sync::Mutex<WatermarkStore>>,
    config: SignerConfig,
    keyring: Keyring,
}

// The server shares one signer between tasks.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Signer>();
    assert_send_sync::<SignError>();
};

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("keys", &self.keyring.pkhs())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Discovers the vault's keys (one listing) and takes ownership of the store.
    pub async fn new(
        vault: Arc<dyn Vault>,
        store: WatermarkStore,
        config: SignerConfig,
    ) -> Result<Signer, SignError> {
        let keyring = Keyring::new(config.key_filter.clone(), config.rediscovery_interval);
        let unmatched = keyring
            .discover(vault.as_ref())
            .await
            .map_err(SignError::Vault)?;
        for entry in unmatched {
            tracing::warn!(key = %entry, "--key matches no usable key in the vault (yet)");
        }
        for pkh in keyring.pkhs() {
            if let Some(e) = keyring.get(&pkh) {
                tracing::info!(%pkh, name = %e.key.name, version = %e.key.version, "serving key");
            }
        }
        Ok(Signer {
            vault,
            store: Arc::new(tokio::sync::Mutex::new(store)),
            config,
            keyring,
        })
    }

    async fn entry(&self, pkh: &Pkh) -> Result<Arc<KeyEntry>, SignError> {
        self.keyring
            .get_or_rediscover(self.vault.as_ref(), pkh)
            .await
            .map_err(SignError::Vault)?
            .ok_or(SignError::UnknownKey(*pkh))
    }

    /// The cached public key: no vault call for a known key.
    pub async fn public_key(&self, pkh: &Pkh) -> Result<PublicKey, SignError> {
        Ok(self.entry(pkh).await?.key.public_key.clone())
    }

    pub fn known_keys(&self) -> Vec<Pkh> {
        self.keyring.pkhs()
    }

    pub fn authorized_keys(&self) -> Option<Vec<Pkh>> {
        self.config.authorized_keys.as_ref().map(|k| k.pkhs())
    }

    /// One cheap vault request (read a served key, or list when none is served).
    pub async fn check_vault(&self) -> Result<(), VaultError> {
        match self.keyring.any() {
            Some(entry) => self.vault.get_key(&entry.key.name).await.map(drop),
            None => self.vault.list_keys().await.map(drop),
        }
    }

    /// Signs `data` (magic byte first) with `pkh`, or says why not, for a caller without a
    /// deadline.
    pub async fn sign(
        &self,
        pkh: &Pkh,
        data: &[u8],
        authentication: Option<&Signature>,
    ) -> Result<Signed, SignError> {
        self.sign_within(pkh, data, authentication, &SignContext::unbounded())
            .await
    }

    /// Signs `data` (magic byte first) with `pkh`, or says why not. The request reaches the
    /// vault only while `ctx` says it is still wanted (client there, deadline not passed), and
    /// the vault call itself must finish by the deadline.
    pub async fn sign_within(
        &self,
        pkh: &Pkh,
        data: &[u8],
        authentication: Option<&Signature>,
        ctx: &SignContext,
    ) -> Result<Signed, SignError> {
        let withdrawn = |reason| SignError::Withdrawn { pkh: *pkh, reason };
        let entry = self.entry(pkh).await?;
        let Some(&magic) = data.first() else {
            return Err(SignError::Decode(DecodeError::Empty));
        };
        if !self.config.policy.magic_byte_allowed(magic) {
            return Err(SignError::MagicByteNotAllowed(magic));
        }
        if let Some(keys) = &self.config.authorized_keys {
            let sig = authentication.ok_or(SignError::MissingAuthentication)?;
            if !keys.verify(pkh, data, sig) {
                return Err(SignError::InvalidAuthentication);
            }
        }
        let request = SigningRequest::parse(data).map_err(SignError::Decode)?;
        self.config
            .policy
            .check(pkh, Some(&entry.key.name), &request)
            .map_err(SignError::PolicyRefused)?;
        let Some(wm) = request.watermark_key() else {
            ctx.still_wanted().map_err(withdrawn)?;
            let (signature, latency) = self.vault_sign(&entry, &blake2b_256(data), ctx).await?;
            return Ok(Signed {
                signature,
                vault_latency: Some(latency),
            });
        };

        // Check → sign → persist for this key runs under its lock, end to end.
        let guard = entry
            .lock
            .enter(self.config.max_queue_per_key, ctx)
            .await
            .map_err(withdrawn)?;
        let mark_req = MarkRequest::new(&wm, data);
        // An async lock: while another key's mark is being fsynced, this waits without
        // blocking a runtime thread.
        let (current, chains) = {
            let store = self.store.lock().await;
            let current = store.get(wm.kind, &wm.chain_id, pkh).cloned();
            (current, store.chains_of(pkh).cloned().unwrap_or_default())
        };
        let decision = watermark::check(current.as_ref(), &mark_req, self.config.min_level)
            .map_err(SignError::Watermark)?;
        if let Decision::Replay(stored) = decision {
            let key = &entry.key.public_key;
            let stored = match stored.curve() {
                None => stored.with_curve(key.curve()),
                Some(_) => stored,
            };
            if key.verify_digest(&mark_req.hash, &stored).is_err() {
                return Err(SignError::Store(StoreError::InvalidStoredSignature {
                    kind: wm.kind,
                    pkh: *pkh,
                    level: wm.level,
                }));
            }
            return Ok(Signed {
                signature: stored,
                vault_latency: None,
            });
        }
        if !chains.contains(&wm.chain_id) && chains.len() >= self.config.max_chains_per_key {
            return Err(SignError::ChainLimit {
                pkh: *pkh,
                chain: wm.chain_id,
                chains: chains.into_iter().collect(),
            });
        }
        ctx.still_wanted().map_err(withdrawn)?;
        let (signature, latency) = self.vault_sign(&entry, &mark_req.hash, ctx).await?;
        // Persist on a blocking thread that also owns the key lock: even if this future is
        // dropped (client gone), the lock is released only once the write has finished.
        let store = Arc::clone(&self.store);
        let (kind, chain, owner) = (wm.kind, wm.chain_id, *pkh);
        let mark = mark_req.to_mark(signature);
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            store.blocking_lock().persist(kind, chain, owner, mark)
        })
        .await
        .map_err(|e| SignError::Store(StoreError::Unavailable(e.to_string())))?
        .map_err(SignError::Store)?;
        Ok(Signed {
            signature,
            vault_latency: Some(latency),
        })
    }

    /// One verified vault signature, finished by the request's deadline (a signature that
    /// comes later is dropped: its client has been told the request failed).
    async fn vault_sign(
        &self,
        entry: &KeyEntry,
        digest: &[u8; 32],
        ctx: &SignContext,
    ) -> Result<(Signature, Duration), SignError> {
        let started = Instant::now();
        let call = vault::sign_verified(self.vault.as_ref(), &entry.key, digest);
        let sig = match ctx.deadline {
            None => call.await,
            Some(deadline) => match tokio::time::timeout_at(deadline.into(), call).await {
                Ok(result) => result,
                Err(_) => {
                    return Err(SignError::Withdrawn {
                        pkh: entry.key.pkh(),
                        reason: Withdrawn::Expired {
                            waited_ms: ctx.started.elapsed().as_millis() as u64,
                        },
                    });
                }
            },
        }
        .map_err(SignError::Vault)?;
        Ok((sig, started.elapsed()))
    }
}

#[cfg(test)]
mod tests;
