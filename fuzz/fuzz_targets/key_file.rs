//! `keyfile::parse_key_bytes` on arbitrary file contents (PEM, DER, JWK, base58, encrypted
//! forms with a fixed passphrase): key material or a typed error, never a panic. A parsed key
//! always has a pkh of its own curve.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tezos_azure_signer::keyfile::{FixedPassphrase, parse_key_bytes};

fuzz_target!(|data: &[u8]| {
    let passphrase = FixedPassphrase::new(b"fuzz passphrase");
    if let Ok(key) = parse_key_bytes(data, &passphrase) {
        assert_eq!(key.public_key().curve(), key.curve());
        let _ = key.pkh();
    }
});
