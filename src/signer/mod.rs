//! The signer: its configuration, its keys, its store, and the entry points of the signing
//! pipeline ([`pipeline`] holds the steps, [`queue`] each key's bounded queue). A request is
//! parsed once, here, and its summary comes back with the outcome ([`Signing`]).
//!
//! Owns: the guarantee that a watermarked signature is released only after its mark is on
//! disk. Never signs twice at one (level, round) for a key/kind/chain, never returns a
//! signature that does not verify, never calls the vault for a refused request or an
//! identical retry.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::AuthorizedKeys;
use crate::confirm::{Confirmations, HoldRefused};
use crate::policy::spending::{SpendingError, SpendingLedger};
use crate::policy::{Policy, PolicyRefusal};
use crate::tezos::{ChainId, DecodeError, Pkh, PublicKey, RequestSummary, Signature};
use crate::vault::{Vault, VaultError};
use crate::watermark::{MarkStore, StoreError, WatermarkError};
use keyring::{KeyEntry, Keyring};
pub use queue::{SignContext, Stage, Withdrawn};
pub use request::SignRequest;

mod admit;
mod keyring;
mod pipeline;
pub(crate) mod queue;
mod request;

/// How the signer is set up (from the command line).
#[derive(Debug, Clone)]
pub struct SignerConfig {
    /// Which magic bytes are signed, the per-key rules (`--policy`) and what `--confirm` holds.
    pub policy: Policy,
    /// `--authorized-keys`: when set, every sign request must carry an `authentication`
    /// signature by one of these keys; `None` accepts unauthenticated requests.
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
    /// Where the policy's rolling 24-hour totals are counted (the data directory's ledger).
    pub spending: Option<Arc<SpendingLedger>>,
    /// `--confirm`: where held requests wait for a person (the policy says which).
    pub confirm: Option<Arc<Confirmations>>,
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
            spending: None,
            confirm: None,
        }
    }
}

/// A released signature.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The signature over the request's bytes, already checked against the key's public key.
    pub signature: Signature,
    /// Time spent in the vault call; `None` when the stored signature of an identical earlier
    /// request was returned instead.
    pub vault_latency: Option<Duration>,
    /// Time to make the new mark durable (it ran alongside the vault call); `None` when no
    /// mark was written (unwatermarked kinds, replays).
    pub watermark_latency: Option<Duration>,
}

impl Signed {
    /// Whether this is the stored signature of an identical earlier request (no vault call).
    pub fn replayed(&self) -> bool {
        self.vault_latency.is_none()
    }
}

/// What one sign request came to: the request as parsed (when it could be), for logs and
/// metrics, and the signature or the refusal.
#[derive(Debug)]
pub struct Signing {
    /// The parsed request's summary (kind, level, round…); `None` when the bytes did not parse.
    pub request: Option<RequestSummary>,
    /// The released signature, or why none was.
    pub result: Result<Signed, SignError>,
}

/// Why a request was not signed. Messages are octez's where octez has one.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// No served key has this pkh, even after a re-discovery: check `--key` and that the
    /// vault holds an enabled secp256k1 or P-256 key for it.
    #[error("key {0} is not known to this signer")]
    UnknownKey(Pkh),
    /// The bytes are empty or do not decode as a Tezos signing request of their kind.
    #[error(transparent)]
    Decode(DecodeError),
    /// The request's magic byte (its kind) is not in `--magic-bytes`.
    #[error("magic byte 0x{0:02X} not allowed")]
    MagicByteNotAllowed(u8),
    /// A rule of the policy file refused the request.
    #[error(transparent)]
    PolicyRefused(#[from] PolicyRefusal),
    /// `--authorized-keys` is set and the request carried no `authentication` signature.
    #[error("missing authentication signature field")]
    MissingAuthentication,
    /// The `authentication` signature verifies against none of the `--authorized-keys`.
    #[error("invalid authentication signature")]
    InvalidAuthentication,
    /// The watermark rule refused the request: a signature at or above its level and round
    /// was already released for this key, kind and chain (a retry, or a second baker using
    /// the key), or it is below `--min-level`.
    #[error(transparent)]
    Watermark(WatermarkError),
    /// A Key Vault call failed (key discovery or the signature itself): nothing was signed.
    #[error(transparent)]
    Vault(VaultError),
    /// The watermark store (the data directory, or the shared container) could not read or
    /// write the key's mark, or another signer holds it: nothing was released.
    #[error(transparent)]
    Store(StoreError),
    /// A held request (`serve --confirm`) the operator refused.
    #[error("rejected by the operator")]
    RejectedByOperator,
    /// Too many requests already wait for a person.
    #[error(transparent)]
    HoldRefused(HoldRefused),
    /// A held request nobody answered in time.
    #[error("not confirmed within {} s", .0.as_secs())]
    NotConfirmed(Duration),
    /// The 24-hour spending ledger could not count the request: nothing was signed.
    #[error(transparent)]
    Spending(SpendingError),
    /// The request left without reaching the vault (queue full, client gone, time over).
    #[error("key {pkh}: {reason}")]
    Withdrawn {
        /// The key the request was for.
        pkh: Pkh,
        /// Why it was given up: queue full, client gone, or time over (and at which step).
        reason: Withdrawn,
    },
    /// The key already holds watermarks on `--max-chains-per-key` chains and the request is
    /// for yet another one: the vault is not called.
    #[error(
        "key {pkh} already has watermarks on {} chains ({}), the limit of --max-chains-per-key: \
         refusing chain {chain}. List the chains this key signs for in the policy file \
         (`chains = [...]`), or raise the limit",
        chains.len(),
        chains.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    ChainLimit {
        /// The key the request was for.
        pkh: Pkh,
        /// The refused request's chain.
        chain: ChainId,
        /// The chains the key already holds watermarks on.
        chains: Vec<ChainId>,
    },
}

/// The signer. `Send + Sync`; share it behind an `Arc`.
pub struct Signer {
    vault: Arc<dyn Vault>,
    store: Arc<dyn MarkStore>,
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
    /// Discovers the vault's keys (one listing); marks go through `store` (a
    /// [`crate::watermark::LocalStore`] in production).
    pub async fn new(
        vault: Arc<dyn Vault>,
        store: Arc<dyn MarkStore>,
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
            store,
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

    /// The vault key serving `pkh`, if any.
    pub fn vault_key(&self, pkh: &Pkh) -> Option<crate::vault::VaultKey> {
        self.keyring.get(pkh).map(|e| e.key.clone())
    }

    /// Each vault's standing when several serve the keys (empty for one vault).
    pub fn vaults(&self) -> Vec<crate::vault::MemberStatus> {
        self.vault.members()
    }

    /// Every served key's pkh, sorted (what `GET /known_keys` lists).
    pub fn known_keys(&self) -> Vec<Pkh> {
        self.keyring.pkhs()
    }

    /// The pkhs of the `--authorized-keys` (what `GET /authorized_keys` lists); `None` when
    /// requests need no authentication.
    pub fn authorized_keys(&self) -> Option<Vec<Pkh>> {
        self.config.authorized_keys.as_ref().map(|k| k.pkhs())
    }

    /// Waits until every signature released so far is recorded with its mark (the records run
    /// after the reply, holding their key's lock).
    pub async fn settle(&self) {
        for pkh in self.keyring.pkhs() {
            if let Some(entry) = self.keyring.get(&pkh) {
                drop(
                    entry
                        .lock
                        .enter(usize::MAX, &SignContext::unbounded())
                        .await,
                );
            }
        }
    }

    /// A clean stop: every released signature recorded and written with its mark, so that an
    /// identical retry after the restart gets it back.
    pub async fn shutdown(&self) -> Result<(), StoreError> {
        self.settle().await;
        self.store.flush().await
    }

    /// One cheap vault request (read a served key, or list when none is served).
    pub async fn check_vault(&self) -> Result<(), VaultError> {
        self.vault.check(&self.keyring.served_keys()).await
    }

    /// Whether the signing path's workers run (the watermark writer thread).
    pub fn alive(&self) -> bool {
        self.store.alive()
    }

    /// Whether the watermark store can take marks (the shared container answers).
    pub async fn check_store(&self) -> Result<(), StoreError> {
        self.store.probe().await
    }

    /// Signs `data` (magic byte first) with `pkh`, or says why not, for a caller without a
    /// deadline or a client to lose (one-off signing, tests).
    pub async fn sign(
        &self,
        pkh: &Pkh,
        data: &[u8],
        authentication: Option<&Signature>,
    ) -> Result<Signed, SignError> {
        let req = SignRequest::new(
            *pkh,
            data.to_vec(),
            authentication.copied(),
            SignContext::unbounded(),
            String::new(),
        );
        self.sign_request(&req).await.result
    }

    /// The pipeline's one entry point: signs the request, or says why not, with its summary.
    /// It reaches the vault only while its context says it is still wanted (client there,
    /// deadline not passed), and every step finishes by its deadline. The steps are in
    /// [`pipeline`].
    pub async fn sign_request(&self, req: &SignRequest) -> Signing {
        let result = self.run(req).await;
        Signing {
            request: req.summary(),
            result,
        }
    }
}

#[cfg(test)]
mod tests;
