//! `tezos::operation::decode_contents` on arbitrary operation contents, and binary Micheline
//! on arbitrary bytes: decoded values or a typed error, never a panic. Whatever decodes must
//! also render (octez JSON, Michelson text) and account for every byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tezos_azure_signer::tezos::micheline;
use tezos_azure_signer::tezos::operation::decode_contents;

fuzz_target!(|data: &[u8]| {
    if let Ok(ops) = decode_contents(data) {
        assert_eq!(ops.iter().map(|o| o.size).sum::<usize>(), data.len());
        for op in &ops {
            let _ = op.to_json();
        }
    }
    if let Ok(node) = micheline::decode(data, 0) {
        let _ = (node.to_michelson(), node.to_json());
    }
});
