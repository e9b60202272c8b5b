//! TEMPORARY: the error and result types of `crate::signer` as agreed with the `watermark`
//! branch, so the HTTP layer compiles and is tested before that branch lands. Removed by the
//! merge (the server then imports `crate::signer::{Signed, SignError}` instead). Holds no
//! behaviour: only the shapes the server maps to HTTP.

use std::time::Duration;

use crate::tezos::{DecodeError, Pkh, Signature, SigningRequest};
use crate::vault::VaultError;

/// A released signature and what it was for.
#[derive(Debug, Clone)]
pub struct Signed {
    pub signature: Signature,
    pub request: SigningRequest,
    /// The stored signature of an identical retry was returned (no vault call).
    pub replayed: bool,
    pub vault_latency: Option<Duration>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct WatermarkError(pub String);

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

#[derive(Debug, Clone, thiserror::Error)]
pub enum SignError {
    #[error("unknown key {0}")]
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
}
