//! The Key Vault seam: what the signer needs from a vault, as a trait.
//!
//! Owns: the contract that a signature leaves this module only after it has been normalised
//! (low-S) and verified against the key's cached public key ([`sign_verified`]).
//! Implementations: [`azure`] (the real SDK, also used against the emulator). Tests may add
//! in-memory fakes.

use std::time::Duration;

use async_trait::async_trait;

use crate::tezos::{Curve, Pkh, PublicKey, SecretKey, Signature};

pub(crate) mod azure;
pub(crate) mod cause;
pub mod credentials;
mod open;
pub(crate) mod set;

pub use azure::{AzureVault, AzureVaultConfig};
pub use cause::Cause;
pub use open::{
    OpenError, VaultSettings, Vaults, as_one, azure_access, open, open_each, open_each_with_env,
    open_with_env,
};
pub use set::{HedgeConfig, HedgeDelay, MemberStatus, VaultSet};

/// A usable signing key in the vault (enabled, EC, secp256k1 or P-256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKey {
    /// The key's name in the vault.
    pub name: String,
    /// The key version the public key was read from (signing uses this exact version).
    pub version: String,
    /// The full key identifier (`kid`).
    pub id: String,
    /// The curve name as the vault spells it (`P-256K`, `SECP256K1`, `P-256`): decides the
    /// signing algorithm.
    pub vault_curve: String,
    /// The key's public key as read from the vault, cached: every signature is verified
    /// against it before it is released.
    pub public_key: PublicKey,
}

impl VaultKey {
    /// The key's curve, from its public key (secp256k1 or P-256).
    pub fn curve(&self) -> Curve {
        self.public_key.curve()
    }
    /// The key's Tezos address (`tz2…` or `tz3…`): how bakers name it.
    pub fn pkh(&self) -> Pkh {
        self.public_key.pkh()
    }
    /// The JWS algorithm Key Vault wants for this key's curve: ES256K for `P-256K`, ECDSA256
    /// for the legacy secp256k1 names, ES256 for P-256.
    pub fn algorithm(&self) -> &'static str {
        match self.curve() {
            Curve::Secp256k1 if self.vault_curve == "P-256K" => "ES256K",
            Curve::Secp256k1 => "ECDSA256",
            Curve::P256 | Curve::Ed25519 => "ES256",
        }
    }
}

/// Options for importing a key.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Software-protected instead of HSM-protected.
    pub software: bool,
}

/// Vault failures, each with a message a baker can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VaultError {
    /// The vault answered 404 for this key name (or the vault, when listing): check the key
    /// name and the vault URL. Holds the key name.
    #[error("key {0} not found in the vault")]
    NotFound(String),
    /// The vault answered 401 (token refused, also after a new one was fetched) or 403 (the
    /// identity lacks a role such as "Key Vault Crypto User"). Holds the service's code and
    /// message.
    #[error("vault refused the credentials: {0}")]
    Unauthorized(String),
    /// The call and its retries did not finish within the deadline it holds (the sign or read
    /// deadline): the vault or the network is slow or unreachable.
    #[error("vault request did not complete within {0:?} (retries included)")]
    Deadline(Duration),
    /// The vault kept answering 429 (Key Vault's request rate limits). Holds its message.
    #[error("vault is throttling requests (HTTP 429): {0}")]
    Throttled(String),
    /// Any other HTTP error status from the vault (400, 409, 5xx…).
    #[error("vault error (HTTP {status}, {code}): {message}")]
    Service {
        /// The HTTP status code.
        status: u16,
        /// Key Vault's error code, or the status when it sent none.
        code: String,
        /// The SDK's description of the error.
        message: String,
    },
    /// No HTTP answer (connection, DNS, TLS or I/O failure), or the `--vault-ca` file could not
    /// be used to build the HTTP client.
    #[error("cannot reach the vault: {0}")]
    Transport(#[source] Cause),
    /// The credential chain could not get an access token for the vault.
    #[error("could not obtain an Azure credential: {0}")]
    Credential(#[source] Cause),
    /// The key exists but cannot sign Tezos requests (disabled, not EC, not secp256k1 or
    /// P-256, invalid public key), or its name is not a valid Key Vault key name.
    #[error("key {name} cannot be used: {reason}")]
    UnusableKey {
        /// The key's name in the vault.
        name: String,
        /// What makes it unusable.
        reason: String,
    },
    /// The signature the vault returned does not verify against the key's cached public key
    /// (the key was replaced, or the vault misbehaved): it is never released. Holds the pkh.
    #[error("the vault returned a signature that does not verify for {0}: refusing to release it")]
    InvalidSignature(Pkh),
    /// The vault's answer could not be understood (malformed JSON or key, wrong signature
    /// length), or the vault URL is invalid.
    #[error("the vault answered something unexpected: {0}")]
    Protocol(#[source] Cause),
}

/// What the signer needs from a key vault.
#[async_trait]
pub trait Vault: Send + Sync {
    /// Every usable key (enabled EC keys on secp256k1 / P-256), following paging.
    async fn list_keys(&self) -> Result<Vec<VaultKey>, VaultError>;
    /// The latest version of one key.
    async fn get_key(&self, name: &str) -> Result<VaultKey, VaultError>;
    /// Raw r‖s over a 32-byte digest, exactly as the vault returned it: one vault request
    /// (plus bounded retries), all finished by `deadline` when one is given (a signing
    /// request's: the one clock the call obeys, capped by the vault's own sign deadline),
    /// else within the vault's own sign deadline. Callers use [`sign_verified_until`].
    async fn sign_digest_until(
        &self,
        key: &VaultKey,
        digest: &[u8; 32],
        deadline: Option<std::time::Instant>,
    ) -> Result<[u8; 64], VaultError>;

    /// [`Vault::sign_digest_until`] within the vault's own sign deadline.
    async fn sign_digest(&self, key: &VaultKey, digest: &[u8; 32]) -> Result<[u8; 64], VaultError> {
        self.sign_digest_until(key, digest, None).await
    }

    /// What callers use: [`Vault::sign_digest_until`], normalised (low-S) and verified against
    /// the key's cached public key ([`verified`]). A set of vaults overrides it so that the
    /// first *verified* signature of its vaults wins.
    async fn sign_verified_until(
        &self,
        key: &VaultKey,
        digest: &[u8; 32],
        deadline: Option<std::time::Instant>,
    ) -> Result<Signature, VaultError> {
        verified(
            key,
            digest,
            self.sign_digest_until(key, digest, deadline).await?,
        )
    }

    /// One cheap request that says whether the vault answers (readiness): reads the first of
    /// the `served` keys, or lists when none is served. A set of vaults checks each of its
    /// vaults, and that every served key has one in good standing.
    async fn check(&self, served: &[VaultKey]) -> Result<(), VaultError> {
        match served.first() {
            Some(key) => self.get_key(&key.name).await.map(drop),
            None => self.list_keys().await.map(drop),
        }
    }

    /// Each vault's standing when this is a set of several (readiness, metrics); empty for
    /// one vault.
    fn members(&self) -> Vec<MemberStatus> {
        Vec::new()
    }
    /// Imports `secret` under `name` (a new version if the name exists) and returns the key as
    /// the vault now reports it.
    async fn import_key(
        &self,
        name: &str,
        secret: &SecretKey,
        options: ImportOptions,
    ) -> Result<VaultKey, VaultError>;
}

/// Signs `digest` with `key` within the vault's own sign deadline: a canonical (low-S)
/// signature, verified against the key's cached public key ([`Vault::sign_verified_until`]).
pub async fn sign_verified(
    vault: &dyn Vault,
    key: &VaultKey,
    digest: &[u8; 32],
) -> Result<Signature, VaultError> {
    vault.sign_verified_until(key, digest, None).await
}

/// `raw` (a vault's r‖s for `digest`) as a canonical (low-S) signature, if it verifies against
/// `key`'s cached public key. A vault signature that does not verify is an error, never an
/// output.
pub(crate) fn verified(
    key: &VaultKey,
    digest: &[u8; 32],
    raw: [u8; 64],
) -> Result<Signature, VaultError> {
    let sig = Signature::from_raw(Some(key.curve()), raw).normalized();
    key.public_key
        .verify_digest(digest, &sig)
        .map_err(|_| VaultError::InvalidSignature(key.pkh()))?;
    Ok(sig)
}

impl VaultError {
    /// A stable label for the failure (metric labels `…_vault_errors_total{error=…}`).
    pub fn label(&self) -> &'static str {
        match self {
            VaultError::NotFound(_) => "not_found",
            VaultError::Unauthorized(_) => "unauthorized",
            VaultError::Deadline(_) => "deadline",
            VaultError::Throttled(_) => "throttled",
            VaultError::Service { .. } => "service",
            VaultError::Transport(_) => "transport",
            VaultError::Credential(_) => "credential",
            VaultError::UnusableKey { .. } => "unusable_key",
            VaultError::InvalidSignature(_) => "invalid_signature",
            VaultError::Protocol(_) => "protocol",
        }
    }

    /// Whether the failure says the vault itself is in trouble (unreachable, slow, throttling,
    /// failing, refusing this identity, answering nonsense), rather than something about one key
    /// (missing, unusable) that another request may not hit.
    pub fn is_vault_failure(&self) -> bool {
        !matches!(
            self,
            VaultError::NotFound(_) | VaultError::UnusableKey { .. }
        )
    }
}
