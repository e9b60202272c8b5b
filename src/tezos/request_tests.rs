use super::*;
use crate::tezos::hash::blake2b_256;
use proptest::prelude::*;

#[derive(serde::Deserialize)]
struct RequestVector {
    name: String,
    hex: String,
    kind: String,
    chain_id: String,
    level: i32,
    round: i32,
    payload_round: Option<i32>,
    blake2b256: Option<String>,
    signature: String,
}

fn vectors() -> Vec<RequestVector> {
    #[derive(serde::Deserialize)]
    struct File {
        requests: Vec<RequestVector>,
    }
    let f: File = serde_json::from_str(include_str!("../../tests/vectors/requests.json")).unwrap();
    f.requests
}

fn bytes_of(name: &str) -> Vec<u8> {
    let v = vectors().into_iter().find(|v| v.name == name).unwrap();
    hex::decode(v.hex).unwrap()
}

#[test]
fn shared_request_vectors() {
    let signer: crate::tezos::PublicKey = "sppk7aFpmJLm3ZxMd3F4osvGBq77R1NeSpiJVnof3Wiv4mt84EBE9aX"
        .parse()
        .unwrap();
    for v in vectors() {
        let bytes = hex::decode(&v.hex).unwrap();
        let req = SigningRequest::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        let wm = req.watermark_key().unwrap();
        assert_eq!(wm.kind.name(), v.kind, "{}", v.name);
        assert_eq!(wm.chain_id.to_string(), v.chain_id, "{}", v.name);
        assert_eq!(wm.level, v.level, "{}", v.name);
        assert_eq!(wm.round, Some(v.round), "{}", v.name);
        if let Some(h) = &v.blake2b256 {
            assert_eq!(hex::encode(blake2b_256(&bytes)), *h);
        }
        if let SigningRequest::Block(b) = &req {
            assert_eq!(
                b.payload_round,
                v.payload_round.unwrap_or(v.round),
                "{}",
                v.name
            );
        }
        let sig: crate::tezos::Signature = v.signature.parse().unwrap();
        signer.verify(&bytes, &sig).unwrap();
    }
}

#[test]
fn block_round_comes_from_fitness_not_payload_round() {
    let SigningRequest::Block(b) =
        SigningRequest::parse(&bytes_of("block_round2_locked1")).unwrap()
    else {
        panic!()
    };
    assert_eq!((b.level, b.round, b.payload_round), (1331, 2, 0));
}

#[test]
fn attestation_with_dal_content() {
    let SigningRequest::Attestation(a) =
        SigningRequest::parse(&bytes_of("attestation_with_dal")).unwrap()
    else {
        panic!()
    };
    assert_eq!(a.tag, TAG_ATTESTATION_WITH_DAL);
    assert_eq!(a.dal_content.as_deref(), Some(&[0x80, 0x20][..]));
    assert_eq!(a.slot, 0);
}

fn with(mut b: Vec<u8>, at: usize, v: &[u8]) -> Vec<u8> {
    b[at..at + v.len()].copy_from_slice(v);
    b
}

fn err_of(bytes: &[u8]) -> String {
    SigningRequest::parse(bytes).unwrap_err().to_string()
}

#[test]
fn strictness_table() {
    let pre = bytes_of("preattestation");
    let att = bytes_of("attestation");
    let dal = bytes_of("attestation_with_dal");
    let block = bytes_of("block_round0_unlocked");
    let mut att_trailing = att.clone();
    att_trailing.push(0);
    let mut dal_noncanonical = dal.clone();
    dal_noncanonical.pop();
    dal_noncanonical.extend([0x80, 0x00]);
    let mut block_bad_len = block.clone();
    block_bad_len[86] = 0x22; // fitness length 0x21 -> 0x22
    let table: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "empty payload"),
        ("unknown magic", vec![0x42, 1, 2], "unknown magic byte 0x42"),
        (
            "pre with attestation tag",
            with(pre.clone(), 37, &[0x15]),
            "tag 0x15 at byte 37 does not belong under magic byte preattestation",
        ),
        (
            "att with preattestation tag",
            with(att.clone(), 37, &[0x14]),
            "tag 0x14 at byte 37",
        ),
        (
            "bls-only tag 0x28",
            with(att.clone(), 37, &[0x28]),
            "only valid for BLS",
        ),
        (
            "bls-only tag 0x1f",
            with(pre.clone(), 37, &[0x1f]),
            "only valid for BLS",
        ),
        (
            "trailing after attestation",
            att_trailing,
            "1 unexpected trailing byte(s) at byte 80",
        ),
        (
            "truncated attestation",
            att[..60].to_vec(),
            "block payload hash at byte 48 needs 20 more",
        ),
        ("dal missing", dal[..80].to_vec(), "DAL content at byte 80"),
        (
            "dal non-canonical",
            dal_noncanonical,
            "non-canonical Zarith",
        ),
        (
            "fitness version",
            with(block.clone(), 91, &[0x01]),
            "fitness version must be 02",
        ),
        ("fitness lengths", block_bad_len, "malformed fitness"),
        (
            "fitness level mismatch",
            with(block.clone(), 99, &[0x06]),
            "differs from the header level",
        ),
        (
            "truncated block",
            block[..100].to_vec(),
            "truncated payload",
        ),
        // Levels and rounds are int32 on the wire but never negative in Tezos: a negative one
        // must be refused here, or its mark would be persisted and refused by the store's own
        // loader at the next start (a signer that cannot restart).
        (
            "preattestation round -1",
            with(pre.clone(), 44, &[0xff; 4]),
            "negative round -1 at byte 44",
        ),
        (
            "attestation round i32::MIN",
            with(att.clone(), 44, &[0x80, 0, 0, 0]),
            "negative round -2147483648 at byte 44",
        ),
        (
            "attestation level -1",
            with(att.clone(), 40, &[0xff; 4]),
            "negative level -1 at byte 40",
        ),
        (
            "dal attestation round -2",
            with(dal.clone(), 44, &[0xff, 0xff, 0xff, 0xfe]),
            "negative round -2 at byte 44",
        ),
        (
            "block level -1",
            with(block.clone(), 5, &[0xff; 4]),
            "negative level -1 at byte 5",
        ),
        (
            "block round -1",
            with(block.clone(), 116, &[0xff; 4]),
            "negative round -1 at byte 116",
        ),
        (
            "block payload round -1",
            with(block.clone(), 184, &[0xff; 4]),
            "negative payload round -1 at byte 184",
        ),
        (
            "legacy block level -1",
            vec![0x01, 0x7a, 0x06, 0xa7, 0x70, 0xff, 0xff, 0xff, 0xff],
            "negative level -1 at byte 5",
        ),
        (
            "legacy endorsement level -1",
            {
                let mut e = vec![0x02, 0x7a, 0x06, 0xa7, 0x70];
                e.extend([0u8; 32]);
                e.push(0x00);
                e.extend([0xff; 4]);
                e
            },
            "negative level -1 at byte 38",
        ),
        (
            "generic without contents",
            {
                let mut g = vec![0x03];
                g.extend([0u8; 32]);
                g
            },
            "operation contents",
        ),
    ];
    for (name, bytes, needle) in table {
        let e = err_of(&bytes);
        assert!(e.contains(needle), "{name}: got {e:?}, wanted {needle:?}");
    }
}

#[test]
fn locked_round_block_offsets() {
    // The round is the last 4 bytes of the fitness, at 83 + F.
    let b = bytes_of("block_round2_locked1");
    let f = u32::from_be_bytes(b[83..87].try_into().unwrap()) as usize;
    assert_eq!(f, 37);
    assert_eq!(i32::from_be_bytes(b[83 + f..87 + f].try_into().unwrap()), 2);
    let bumped = with(b, 83 + f, &7i32.to_be_bytes());
    let SigningRequest::Block(h) = SigningRequest::parse(&bumped).unwrap() else {
        panic!()
    };
    assert_eq!(h.round, 7);
}

#[test]
fn other_kinds() {
    let mut g = vec![0x03];
    g.extend([9u8; 32]);
    g.extend([0x6c, 0x00]);
    let SigningRequest::Generic(op) = SigningRequest::parse(&g).unwrap() else {
        panic!()
    };
    assert_eq!(op.contents, vec![0x6c, 0x00]);
    assert_eq!(SigningRequest::parse(&g).unwrap().watermark_key(), None);
    assert_eq!(
        SigningRequest::parse(&[0x05, 0x00, 0x01]).unwrap(),
        SigningRequest::MichelsonData(vec![0x00, 0x01])
    );
    let mut legacy = vec![0x01, 1, 2, 3, 4];
    legacy.extend(77i32.to_be_bytes());
    let req = SigningRequest::parse(&legacy).unwrap();
    assert_eq!(req.magic_byte(), MagicByte::LegacyBlock);
    let wm = req.watermark_key().unwrap();
    // As octez-signer: the block watermark, without a round.
    assert_eq!(
        (wm.kind, wm.level, wm.round),
        (ConsensusKind::Block, 77, None)
    );
    let mut endorsement = vec![0x02, 1, 2, 3, 4];
    endorsement.extend([0u8; 33]);
    endorsement.extend(78i32.to_be_bytes());
    let wm = SigningRequest::parse(&endorsement)
        .unwrap()
        .watermark_key()
        .unwrap();
    // octez-signer's own `endorsement` watermark (not the attestation one), without a round.
    assert_eq!(
        (wm.kind, wm.level, wm.round),
        (ConsensusKind::Endorsement, 78, None)
    );
    // octez reads the level from the last four bytes: trailing bytes decide it too.
    endorsement.extend(79i32.to_be_bytes());
    let wm = SigningRequest::parse(&endorsement)
        .unwrap()
        .watermark_key()
        .unwrap();
    assert_eq!((wm.kind, wm.level), (ConsensusKind::Endorsement, 79));
    // Too short to hold branch, tag and level: a precise error, not a guess.
    assert!(SigningRequest::parse(&[0x02, 1, 2, 3, 4, 0, 0, 0, 9]).is_err());
}

#[test]
fn magic_byte_roundtrip() {
    for m in MagicByte::ALL {
        assert_eq!(MagicByte::from_byte(m.byte()), Some(m));
    }
    assert_eq!(MagicByte::from_byte(0x00), None);
    assert_eq!(
        "NetXdQprcVkpaWU".parse::<ChainId>().unwrap().0,
        [0x7a, 0x06, 0xa7, 0x70]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = SigningRequest::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_magic_prefixed_bytes(magic in prop::sample::select(vec![0x01u8, 0x02, 0x03, 0x04, 0x05, 0x11, 0x12, 0x13]), tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut b = vec![magic];
        b.extend(tail);
        let _ = SigningRequest::parse(&b);
    }
}

#[test]
fn every_truncation_and_single_byte_mutation_of_the_samples() {
    for v in vectors() {
        let bytes = hex::decode(&v.hex).unwrap();
        for cut in 0..bytes.len() {
            let r = SigningRequest::parse(&bytes[..cut]);
            // Blocks tolerate a cut after the proof-of-work nonce; everything else must fail.
            if v.kind != "block" {
                assert!(r.is_err(), "{} cut at {cut} parsed", v.name);
            }
        }
        for i in 0..bytes.len() {
            for b in [0x00u8, 0x01, 0x7f, 0x80, 0xff, bytes[i] ^ 0x01] {
                let mut m = bytes.clone();
                m[i] = b;
                let _ = SigningRequest::parse(&m);
            }
        }
    }
}
