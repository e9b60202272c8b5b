//! `tezos::operation::decode_contents` on arbitrary operation contents: summaries or a typed
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tezos_azure_signer::tezos::operation::decode_contents;

fuzz_target!(|data: &[u8]| {
    let _ = decode_contents(data);
});
