//! The Key Vault backend against the emulator, one test binary: signing, import, every
//! credential path and token recovery, through the real Azure SDK over TLS.

#[path = "../support/skip.rs"]
#[allow(dead_code)]
mod skip;
mod vault_common;

mod vault_credentials;
mod vault_import;
mod vault_pair;
mod vault_reauth;
mod vault_sign;
