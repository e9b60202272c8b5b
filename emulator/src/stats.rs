//! Per-operation request counters of the emulator, served as JSON at `GET /_emulator/stats`.
//! Counting only: it never decides anything about a request.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A snapshot of the emulator's counters (the JSON body of `GET /_emulator/stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Data-plane requests received (any outcome, including 401 challenges).
    pub requests: u64,
    /// Successful operations, by kind.
    pub import: u64,
    pub get: u64,
    pub list: u64,
    pub sign: u64,
    /// Successful attribute updates (PATCH, e.g. disabling a key).
    pub update: u64,
    /// Unauthenticated data-plane requests answered with the 401 bearer challenge.
    pub challenges: u64,
    /// Requests refused for a bad, unknown or expired token (401) or missing rights (403).
    pub unauthorized: u64,
    /// Client errors (400 BadParameter, 404 KeyNotFound, ...), injected faults excluded.
    pub client_errors: u64,
    /// Injected faults.
    pub throttled: u64,
    pub server_errors: u64,
    pub wrong_signatures: u64,
    /// Sign replies whose value was made malformed (`malformed_signature_rate`).
    pub malformed_signatures: u64,
    /// secp256k1 signatures returned with a high S (s > n/2), as Azure does about half the time.
    pub high_s: u64,
    /// Tokens minted by the managed-identity endpoint / the client-credentials endpoint (client
    /// secret) / the client-credentials endpoint with a federated client assertion (workload
    /// identity).
    pub tokens_managed_identity: u64,
    pub tokens_client_credentials: u64,
    pub tokens_client_assertion: u64,
    /// Token requests refused (wrong identity header, wrong client secret, ...).
    pub token_errors: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub import: AtomicU64,
    pub get: AtomicU64,
    pub list: AtomicU64,
    pub sign: AtomicU64,
    pub update: AtomicU64,
    pub challenges: AtomicU64,
    pub unauthorized: AtomicU64,
    pub client_errors: AtomicU64,
    pub throttled: AtomicU64,
    pub server_errors: AtomicU64,
    pub wrong_signatures: AtomicU64,
    pub malformed_signatures: AtomicU64,
    pub high_s: AtomicU64,
    pub tokens_managed_identity: AtomicU64,
    pub tokens_client_credentials: AtomicU64,
    pub tokens_client_assertion: AtomicU64,
    pub token_errors: AtomicU64,
}

/// Increments one counter.
pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> Stats {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            requests: g(&self.requests),
            import: g(&self.import),
            get: g(&self.get),
            list: g(&self.list),
            sign: g(&self.sign),
            update: g(&self.update),
            challenges: g(&self.challenges),
            unauthorized: g(&self.unauthorized),
            client_errors: g(&self.client_errors),
            throttled: g(&self.throttled),
            server_errors: g(&self.server_errors),
            wrong_signatures: g(&self.wrong_signatures),
            malformed_signatures: g(&self.malformed_signatures),
            high_s: g(&self.high_s),
            tokens_managed_identity: g(&self.tokens_managed_identity),
            tokens_client_credentials: g(&self.tokens_client_credentials),
            tokens_client_assertion: g(&self.tokens_client_assertion),
            token_errors: g(&self.token_errors),
        }
    }
}
