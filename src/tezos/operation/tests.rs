//! Decoding tests: octez-codec encodings of Seoul operations (published with their JSON by a
//! Tezos SDK's test suite), hand-built elements for the other kinds, and malformed input.

use proptest::prelude::*;

use super::*;

fn kinds(hex_contents: &str) -> Result<Vec<OperationKind>, DecodeError> {
    let bytes = hex::decode(hex_contents).unwrap();
    decode_contents(&bytes).map(|ops| ops.into_iter().map(|o| o.kind).collect())
}

fn sources(hex_contents: &str) -> Vec<String> {
    let bytes = hex::decode(hex_contents).unwrap();
    decode_contents(&bytes)
        .unwrap()
        .into_iter()
        .map(|o| o.source().map(|p| p.to_string()).unwrap_or_default())
        .collect()
}

/// `octez-codec encode "023-PtSeouLo.operation.contents"` outputs.
const REVEAL_TZ2: &str = "6b01f3023970264e14502daa1db4324527bc464fe0fd1fed0759070103480fcf4241d5903bd5b9a71db63fc6784dc9e686acf0dac9b4305d54cb64294600";
const REVEAL_TZ4_PROOF: &str = "6b038f54fa9607db6d164b42bd23f3bfedc99460d4bc7f5bb21900039423b322ccff9b945501d28f743a0369583c1552d47dc69fa5d624bde1034df571103c62a969d5998d4682be60ca3e83ff000000609517ce0faabbf099b46a3b786f3ae0ef81cfdf4d89a8b0d1ff9216bf092a8e90987549cbc3234f21af4b29fe0a5f217c16d56336cdc26d5c364c961ca1f7ac44e9a778f9bab5695dd88f0a7cfbfa0582cb8cd7b5ef158b6b59abd576eb181ddc";
const TX_NAMED_ENTRYPOINT: &str = "6c0002298c03ed7d454a101eb7022bc95f7e5f41ac78950302e40a00c0843d014151d57ddff98da8cd49f0f2cbf89465bcf267a400ffff01420000000a010000000548656c6c6f";
const TX_PLAIN: &str = "6c00e7670f32038107a59a2b9cfefae36ea21f5aa63cdb07c80300fd0a0a000002298c03ed7d454a101eb7022bc95f7e5f41ac7800";
const TX_FIXED_ENTRYPOINT: &str = "6c02ebfd1371b542831b4be730161d08885c5312e44207ff200000000003db557924e5a295652eff2c1f141d5a5b72b9cc91ff0400000002030b";
const ORIGINATION: &str = "6d00760f1b125362fdf15f0e1093b1c6555b2dfdb8e434bf050524840f000000001e020000001905000362050103620502020000000a037a0312053d036d0342000000020000";
const ORIGINATION_DELEGATED: &str = "6d02c10752a0a4ac42262999b3f7300ae60ee62f963499043fbb130219ff036f641e94b212a840099872f3982315f2961a2d380000002602000000210500036c0501035905020200000012032003770349035403190325053d036d0342000000020303";
const DELEGATION: &str = "6e03ae7b7d713977a27ec643969f0c2e665ba9ad9aa1a8463bae028008ff004afbd2ede908e6700eb9b54352c1d2dceee8d0fe";
const UNDELEGATION: &str = "6e023f3b21e54e98db3845a2a5033d96877f7f9cea870001000000";
/// `octez-codec encode "023-PtSeouLo.operation.contents_list"`: reveal (edpk) + transaction.
const REVEAL_THEN_TX: &str = "6b00f60642ed6e39e3a5ecf6e8313cd044323a315c03880297972e9b010000ab0795c320972960ffe5e222a163494294a8d9259acab890f96fcbd18fd158f8006c00f60642ed6e39e3a5ecf6e8313cd044323a315c03d80398972ef9109502a09c0100004173796fda78e7ca2512edbb87124834f358bca200";

/// Manager header: tag, source tz2 (hash 0x07…), fee 10, counter 1, gas 100, storage 0.
fn mgr(tag: u8) -> String {
    format!("{tag:02x}01{}0a016400", "07".repeat(20))
}

#[test]
fn octez_codec_vectors() {
    use OperationKind::*;
    let rows: &[(&str, &[OperationKind], &[&str])] = &[
        (
            REVEAL_TZ2,
            &[Reveal],
            &["tz2WU9XW86EdgVQZrbPphjUZiRfXXssY9wEP"],
        ),
        (
            REVEAL_TZ4_PROOF,
            &[Reveal],
            &["tz4N581kB4vkDANA7WTN6tcnBeCDawv1k4Cy"],
        ),
        (
            TX_NAMED_ENTRYPOINT,
            &[Transaction],
            &["tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx"],
        ),
        (
            TX_PLAIN,
            &[Transaction],
            &["tz1gjaF81ZRRvdzjobyfVNsAeSC6PScjfQwN"],
        ),
        (
            TX_FIXED_ENTRYPOINT,
            &[Transaction],
            &["tz3hqqamVC1G22LACFoMgcJeFKZgoGMFSfSn"],
        ),
        (
            ORIGINATION,
            &[Origination],
            &["tz1WQGXKa2h5edfELL1XMBrDmcb4qLHQye4U"],
        ),
        (
            ORIGINATION_DELEGATED,
            &[Origination],
            &["tz3dvgoUnnXoAP9MDqAwiZwRtvTFHcuDMxTR"],
        ),
        (
            DELEGATION,
            &[Delegation],
            &["tz4Quq6VcCeJVmCknjzTX5kcrhUzcMruoavF"],
        ),
        (
            UNDELEGATION,
            &[Delegation],
            &["tz3S6P2LccJNrejt27KvJRb3BcuS5vGghkP8"],
        ),
        (
            REVEAL_THEN_TX,
            &[Reveal, Transaction],
            &[
                "tz1i4tRMvnyb672Wm7HGTi21MHyW4DSxSqvd",
                "tz1i4tRMvnyb672Wm7HGTi21MHyW4DSxSqvd",
            ],
        ),
    ];
    for (hex_contents, want, want_sources) in rows {
        assert_eq!(kinds(hex_contents).as_deref(), Ok(*want), "{hex_contents}");
        assert_eq!(sources(hex_contents), *want_sources, "{hex_contents}");
    }
}

/// Rio's reveal has no proof option: the key ends the element.
#[test]
fn rio_reveal_without_proof_option() {
    let rio_reveal = &REVEAL_TZ2[..REVEAL_TZ2.len() - 2];
    assert_eq!(kinds(rio_reveal), Ok(vec![OperationKind::Reveal]));
    assert_eq!(
        kinds(&format!("{rio_reveal}{TX_PLAIN}")),
        Ok(vec![OperationKind::Reveal, OperationKind::Transaction])
    );
}

#[test]
fn hand_built_elements() {
    use OperationKind::*;
    let pkh = format!("01{}", "07".repeat(20));
    let rows: Vec<(String, OperationKind)> = vec![
        (format!("04{}", "aa".repeat(40)), ActivateAccount),
        (
            format!("05{pkh}00000010 00000040{}", "bb".repeat(64)),
            Proposals,
        ),
        (format!("06{pkh}00000010{}02", "bb".repeat(32)), Ballot),
        (format!("09{pkh}{pkh}{pkh}"), DrainDelegate),
        ("1100000003abcdef".to_string(), FailingNoop),
        (
            // The constant must be one well-formed Micheline node (here `Unit`).
            format!("{}00000002030b", mgr(111)),
            RegisterGlobalConstant,
        ),
        (format!("{}ff8080808001", mgr(112)), SetDepositsLimit),
        (format!("{}00", mgr(112)), SetDepositsLimit),
        (
            format!("{}0501{}00", mgr(113), "cc".repeat(20)),
            IncreasePaidStorage,
        ),
        (
            format!("{}c10101{}00", mgr(113), "cc".repeat(20)),
            IncreasePaidStorage,
        ),
        (
            format!("{}02{}00", mgr(114), "03".repeat(33)),
            UpdateConsensusKey,
        ),
        (
            format!(
                "{}03{}ff00000060{}",
                mgr(114),
                "aa".repeat(48),
                "dd".repeat(96)
            ),
            UpdateConsensusKey,
        ),
        (
            format!(
                "{}00000002030b 00000002036c 01{}00 05 00{pkh} 00000007 default",
                mgr(158),
                "ee".repeat(20)
            )
            .replace("default", &hex::encode("default")),
            TransferTicket,
        ),
    ];
    for (hex_contents, want) in rows {
        let hex_contents = hex_contents.replace(' ', "");
        assert_eq!(
            kinds(&hex_contents),
            Ok(vec![want]),
            "{want}: {hex_contents}"
        );
    }
    // A batch of several kinds keeps its order.
    let batch = format!("{REVEAL_TZ2}{}00{TX_PLAIN}", mgr(110));
    assert_eq!(kinds(&batch), Ok(vec![Reveal, Delegation, Transaction]));
}

#[test]
fn malformed_and_unknown_input_is_refused() {
    let rows: Vec<(&str, String, DecodeError)> = vec![
        (
            "empty",
            String::new(),
            DecodeError::Truncated {
                what: "operation contents",
                offset: 33,
                needed: 1,
            },
        ),
        (
            "consensus tag under 0x03",
            format!("15{}", "00".repeat(40)),
            DecodeError::UnknownOperationTag {
                tag: 21,
                offset: 33,
            },
        ),
        (
            "trailing zero after a transaction",
            format!("{TX_PLAIN}00"),
            DecodeError::UnknownOperationTag {
                tag: 0,
                offset: 33 + TX_PLAIN.len() / 2,
            },
        ),
        (
            "bad option tag",
            format!("{}01", mgr(110)),
            DecodeError::Malformed {
                what: "delegate",
                offset: 33 + 26,
                reason: "option tag must be 00 or ff",
            },
        ),
        (
            "bad source tag",
            "6e09".to_string() + &"00".repeat(30),
            DecodeError::Malformed {
                what: "manager source",
                offset: 34,
                reason: "unknown public key hash tag",
            },
        ),
        (
            "bad ballot",
            format!(
                "06{}{}{}03",
                "00".repeat(21),
                "00".repeat(4),
                "00".repeat(32)
            ),
            DecodeError::Malformed {
                what: "ballot",
                offset: 33 + 58,
                reason: "not yay (0), nay (1) or pass (2)",
            },
        ),
        (
            "truncated transaction",
            TX_PLAIN[..TX_PLAIN.len() - 6].to_string(),
            DecodeError::Truncated {
                what: "destination",
                offset: 33 + 32,
                needed: 2,
            },
        ),
        (
            "script length beyond the end",
            format!("{}0000ffffffff", mgr(109)),
            DecodeError::Truncated {
                what: "script code",
                offset: 33 + 32,
                needed: 0xffff_ffff,
            },
        ),
    ];
    for (name, hex_contents, want) in rows {
        assert_eq!(kinds(&hex_contents), Err(want), "{name}");
    }
}

/// Smart-rollup and DAL kinds are known by name, their fields are not decoded: such an
/// element takes the rest of the batch (what follows is never taken for a separate element)
/// and is shown as opaque bytes of known size.
#[test]
fn kinds_known_by_name_only_take_the_rest_of_the_batch() {
    for tag in [200u8, 201, 202, 203, 204, 205, 206, 207, 230] {
        let bytes = hex::decode(format!("{}{}", mgr(tag), mgr(110))).unwrap();
        let ops = decode_contents(&bytes).expect("decodes as one opaque element");
        assert_eq!(ops.len(), 1, "{tag}");
        assert_eq!(ops[0].kind.tag(), tag);
        assert_eq!(ops[0].size, bytes.len(), "{tag}: its size is the rest");
        assert!(
            matches!(ops[0].body, Body::Opaque { ref bytes } if bytes.len() == 26),
            "{tag}"
        );
    }
}

#[test]
fn names_and_tags_round_trip() {
    for k in OperationKind::ALL {
        assert_eq!(OperationKind::from_tag(k.tag()), Some(k));
        assert_eq!(OperationKind::from_name(k.name()), Some(k));
        assert_eq!(k.is_manager(), k.tag() >= 107);
    }
    assert_eq!(OperationKind::from_name("stake"), None);
}

proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_contents(&bytes);
    }

    #[test]
    fn never_panics_after_a_valid_header(tag in prop_oneof![Just(107u8), Just(108), Just(109),
            Just(110), Just(111), Just(112), Just(113), Just(114), Just(158)],
            tail in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut bytes = hex::decode(mgr(tag)).unwrap();
        bytes.extend(tail);
        let _ = decode_contents(&bytes);
    }
}

/// A generic request's batch decoded, and as octez's JSON.
fn decode_request(
    name: &str,
    bytes: &[u8],
) -> (
    crate::tezos::GenericOperation,
    Vec<Operation>,
    serde_json::Value,
) {
    let Ok(crate::tezos::SigningRequest::Generic(op)) = crate::tezos::SigningRequest::parse(bytes)
    else {
        panic!("{name}: not a generic operation");
    };
    let ops = decode_contents(&op.contents).unwrap_or_else(|e| panic!("{name}: {e}"));
    let json = batch_json(&op.branch, &ops);
    (op, ops, json)
}

/// Every sample of octez's own encodings (tests/vectors/operations.json, protocol 025): the
/// decoded batch, as octez's JSON, equals the JSON octez decodes the same bytes to, field by
/// field.
#[test]
fn octez_encoding_samples_decode_to_octez_json() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/vectors/operations.json")).unwrap();
    let samples = doc["operations"].as_array().unwrap();
    assert!(samples.len() >= 12);
    for sample in samples {
        let name = sample["name"].as_str().unwrap();
        let bytes = hex::decode(sample["hex"].as_str().unwrap()).unwrap();
        let (op, ops, got) = decode_request(name, &bytes);
        let want = &sample["json"];
        assert_eq!(got["branch"], want["branch"], "{name}");
        let (got, want) = (
            got["contents"].as_array().unwrap(),
            want["contents"].as_array().unwrap(),
        );
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, w) in got.iter().zip(want) {
            for (field, value) in w.as_object().unwrap() {
                assert_eq!(g.get(field), Some(value), "{name}: field {field}");
            }
            assert_eq!(
                g.as_object().unwrap().len(),
                w.as_object().unwrap().len(),
                "{name}: {g}"
            );
        }
        // Sizes add up to the whole contents.
        assert_eq!(
            ops.iter().map(|o| o.size).sum::<usize>(),
            op.contents.len(),
            "{name}"
        );
    }
}

/// Operations forged by Taquito's `@taquito/local-forging` for protocol 025
/// (tests/vectors/forged.json, made by tests/clients/forging): every field given to the
/// forger comes back out of the decoder unchanged. Kinds known by name only are checked for
/// kind and size.
#[test]
fn operations_forged_by_taquito_decode_to_what_it_was_given() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/vectors/forged.json")).unwrap();
    let samples = doc["operations"].as_array().unwrap();
    assert!(samples.len() >= 60);
    let mut kinds_seen = std::collections::BTreeSet::new();
    for sample in samples {
        let name = sample["name"].as_str().unwrap();
        let mut bytes = vec![0x03];
        bytes.extend(hex::decode(sample["hex"].as_str().unwrap()).unwrap());
        let (_, ops, got) = decode_request(name, &bytes);
        let input = &sample["input"];
        assert_eq!(got["branch"], input["branch"], "{name}");
        let want = input["contents"].as_array().unwrap();
        assert_eq!(ops.len(), want.len(), "{name}");
        for ((g, w), o) in got["contents"]
            .as_array()
            .unwrap()
            .iter()
            .zip(want)
            .zip(&ops)
        {
            kinds_seen.insert(o.kind);
            assert_eq!(g["kind"], w["kind"], "{name}");
            if o.kind.is_opaque() {
                continue;
            }
            for (field, value) in w.as_object().unwrap() {
                // Unit to the default entrypoint is the same call as no parameters at all:
                // forgers leave it out, and so does the encoding.
                let default_unit =
                    serde_json::json!({"entrypoint": "default", "value": {"prim": "Unit"}});
                if field == "parameters" && *value == default_unit && g.get(field).is_none() {
                    continue;
                }
                let mine = g
                    .get(field)
                    .unwrap_or_else(|| panic!("{name}: no field {field} in {g}"));
                // Taquito takes numbers as JSON numbers or strings; octez writes strings.
                let same = match (mine, value) {
                    (serde_json::Value::String(a), serde_json::Value::Number(b)) => {
                        *a == b.to_string()
                    }
                    _ => mine == value,
                };
                assert!(
                    same,
                    "{name}: field {field}: decoded {mine}, forged from {value}"
                );
            }
        }
    }
    assert!(kinds_seen.len() >= 19, "{kinds_seen:?}");
}

/// Micheline packed by Taquito's michel-codec: the decoder's JSON equals the expression.
#[test]
fn micheline_packed_by_taquito_decodes_to_the_same_expression() {
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/vectors/forged.json")).unwrap();
    let samples = doc["micheline"].as_array().unwrap();
    assert!(samples.len() >= 30);
    for sample in samples {
        let name = sample["name"].as_str().unwrap();
        let bytes = hex::decode(sample["hex"].as_str().unwrap()).unwrap();
        let node =
            crate::tezos::micheline::decode(&bytes, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(node.to_json(), sample["expr"], "{name}");
        let _ = node.to_michelson();
    }
}

proptest! {
    /// Whatever decodes accounts for every byte (sizes add up) and renders as JSON.
    #[test]
    fn decoded_batches_account_for_every_byte(tag in prop_oneof![Just(107u8), Just(108), Just(109),
            Just(110), Just(111), Just(112), Just(113), Just(114), Just(115), Just(158), Just(201)],
            tail in proptest::collection::vec(any::<u8>(), 0..120)) {
        let mut bytes = hex::decode(mgr(tag)).unwrap();
        bytes.extend(tail);
        if let Ok(ops) = decode_contents(&bytes) {
            prop_assert_eq!(ops.iter().map(|o| o.size).sum::<usize>(), bytes.len());
            for op in &ops {
                let _ = op.to_json();
            }
        }
    }
}

#[test]
fn amounts_beyond_an_int64_and_odd_ticket_entrypoints_are_refused() {
    // A transaction of 2^63 mutez: one more than the protocol's int64 holds.
    let mut big = vec![0x80u8; 9];
    big.push(0x01);
    let tx = format!(
        "{}{}{}",
        mgr(108),
        hex::encode(&big),
        &TX_PLAIN[TX_PLAIN.len() - 46..]
    );
    let e = kinds(&tx).expect_err("refused").to_string();
    assert!(e.contains("int64"), "{e}");
    // A ticket whose entrypoint name carries a terminal escape.
    let ticket = format!(
        "{}00000002030b00000002036c01{}00050000{}0000000561611b5b32",
        mgr(158),
        "ee".repeat(20),
        "07".repeat(20)
    );
    let e = kinds(&ticket).expect_err("refused").to_string();
    assert!(e.contains("not a valid entrypoint name"), "{e}");
}
