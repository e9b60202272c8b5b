//! `SigningRequest::parse` on arbitrary bytes: a typed error or a request, never a panic; a
//! parsed consensus request has a watermark key and the magic byte it was parsed from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tezos_azure_signer::tezos::SigningRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = SigningRequest::parse(data) {
        assert_eq!(Some(&request.magic_byte().byte()), data.first());
        let _ = request.watermark_key();
        let _ = request.chain_id();
    }
});
