//! The server's request-body decoding (`server::routes::decode_body`: a JSON string of hex)
//! followed by `SigningRequest::parse`, as `POST /keys/<pkh>` does: never a panic; decoded
//! bytes re-encode to the body's hex (case-insensitive).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tezos_azure_signer::server::routes::decode_body;
use tezos_azure_signer::tezos::SigningRequest;

fuzz_target!(|body: &[u8]| {
    if let Ok(bytes) = decode_body(body) {
        let text: String = serde_json::from_slice(body).expect("decode_body accepted a JSON string");
        assert_eq!(hex::encode(&bytes), text.trim().to_ascii_lowercase());
        let _ = SigningRequest::parse(&bytes);
    }
});
