//! The fuzz smoke that runs in CI: every input of the committed cargo-fuzz corpora
//! (fuzz/corpus/<target>, grown over 10 million executions per target) through the same checks
//! as the fuzz targets in fuzz/fuzz_targets/: decoded values or a typed error, never a panic.

use std::path::Path;

use tezos_azure_signer::keyfile::{FixedPassphrase, parse_key_bytes};
use tezos_azure_signer::server::routes::decode_body;
use tezos_azure_signer::tezos::SigningRequest;
use tezos_azure_signer::tezos::micheline;
use tezos_azure_signer::tezos::operation::decode_contents;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let inputs: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.expect("entry").path()).expect("read"))
        .collect();
    assert!(inputs.len() > 50, "{target}: only {} inputs", inputs.len());
    inputs
}

#[test]
fn signing_request_corpus() {
    for data in corpus("signing_request") {
        if let Ok(request) = SigningRequest::parse(&data) {
            assert_eq!(Some(&request.magic_byte().byte()), data.first());
            let _ = request.watermark_key();
            let _ = request.chain_id();
        }
    }
}

#[test]
fn operation_contents_corpus() {
    for data in corpus("operation_contents") {
        if let Ok(ops) = decode_contents(&data) {
            assert_eq!(ops.iter().map(|o| o.size).sum::<usize>(), data.len());
            for op in &ops {
                let _ = op.to_json();
            }
        }
        if let Ok(node) = micheline::decode(&data, 0) {
            let _ = (node.to_michelson(), node.to_json());
        }
    }
}

#[test]
fn request_body_corpus() {
    for body in corpus("request_body") {
        if let Ok(bytes) = decode_body(&body) {
            let text: String = serde_json::from_slice(&body).expect("a JSON string");
            assert_eq!(hex::encode(&bytes), text.trim().to_ascii_lowercase());
            let _ = SigningRequest::parse(&bytes);
        }
    }
}

#[test]
fn key_file_corpus() {
    let passphrase = FixedPassphrase::new(b"fuzz passphrase");
    for data in corpus("key_file") {
        if let Ok(key) = parse_key_bytes(&data, &passphrase) {
            assert_eq!(key.public_key().curve(), key.curve());
            let _ = key.pkh();
        }
    }
}
