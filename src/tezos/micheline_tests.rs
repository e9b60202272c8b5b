//! Binary Micheline: every node tag, printing as Michelson and as JSON, strictness.

use super::*;

fn d(hex_text: &str) -> Result<Micheline, DecodeError> {
    decode(&hex::decode(hex_text).expect("test hex"), 0)
}

#[test]
fn every_node_tag_decodes_and_prints() {
    let table: &[(&str, &str, &str)] = &[
        ("0000", "0", r#"{"int":"0"}"#),
        ("0041", "-1", r#"{"int":"-1"}"#),
        ("0100000003616263", r#""abc""#, r#"{"string":"abc"}"#),
        ("0a00000002beef", "0xbeef", r#"{"bytes":"beef"}"#),
        ("0a00000000", "0x", r#"{"bytes":""}"#),
        ("0200000000", "{}", "[]"),
        ("030b", "Unit", r#"{"prim":"Unit"}"#),
        // pair 1 2 → Pair 1 2
        (
            "070700010002",
            "Pair 1 2",
            r#"{"prim":"Pair","args":[{"int":"1"},{"int":"2"}]}"#,
        ),
        // Some (Pair 1 2): nested applications are parenthesised.
        (
            "0509070700010002",
            "Some (Pair 1 2)",
            r#"{"prim":"Some","args":[{"prim":"Pair","args":[{"int":"1"},{"int":"2"}]}]}"#,
        ),
    ];
    for (hex_text, michelson, json) in table {
        let node = d(hex_text).unwrap_or_else(|e| panic!("{hex_text}: {e}"));
        assert_eq!(node.to_michelson(), *michelson, "{hex_text}");
        let want: serde_json::Value = serde_json::from_str(json).expect("test json");
        assert_eq!(node.to_json(), want, "{hex_text}");
    }
}

#[test]
fn applications_with_annotations_and_sequences() {
    // pair (nat %a) (string :b @c)
    let mut b = vec![0x07, 0x65]; // prim 2 args, pair (101)
    b.extend([0x04, 0x62]); // nat + annots
    b.extend(2u32.to_be_bytes());
    b.extend(b"%a");
    b.extend([0x04, 0x68]); // string + annots
    b.extend(5u32.to_be_bytes());
    b.extend(b":b @c");
    let node = decode(&b, 0).expect("decodes");
    assert_eq!(node.to_michelson(), "pair (nat %a) (string :b @c)");
    // { CAR ; NIL operation ; PAIR }
    let mut seq = vec![0x03, 0x16, 0x05, 0x3d, 0x03, 0x6d, 0x03, 0x42];
    let mut s = vec![0x02];
    s.extend((seq.len() as u32).to_be_bytes());
    s.append(&mut seq);
    let node = decode(&s, 0).expect("decodes");
    assert_eq!(node.to_michelson(), "{ CAR ; NIL operation ; PAIR }");
    // A generic application (tag 0x09): PUSH with annots.
    let mut g = vec![0x09, 0x43]; // PUSH (67)
    let args = [0x03, 0x5b, 0x00, 0x05]; // int, 5
    g.extend((args.len() as u32).to_be_bytes());
    g.extend(args);
    g.extend(2u32.to_be_bytes());
    g.extend(b"@x");
    assert_eq!(
        decode(&g, 0).expect("decodes").to_michelson(),
        "PUSH @x int 5"
    );
}

#[test]
fn strings_are_escaped_and_control_characters_never_reach_the_terminal_raw() {
    let node = Micheline::String("a\"b\\c\nd\te\u{1b}[2J ꜩ".into());
    assert_eq!(node.to_michelson(), r#""a\"b\\c\nd\te\u{1b}[2J ꜩ""#);
}

#[test]
fn malformed_micheline_is_refused_with_its_offset() {
    let table: &[(&str, &str)] = &[
        ("0b", "unknown node tag"),
        ("03ff", "unknown primitive"),
        ("0100000005616263", "needs 2 more"),
        ("00800080", "Zarith"),
        ("0040", "negative zero"),
        ("01000000020080", "not UTF-8"),
        ("030b00", "trailing byte"),
        ("02000000020b0b", "unknown node tag"),
    ];
    for (hex_text, needle) in table {
        let e = d(hex_text).expect_err(hex_text).to_string();
        assert!(e.contains(needle), "{hex_text}: {e}");
    }
    // Deep nesting: Some (Some (… Unit)) past the limit is refused, not a stack overflow.
    let mut deep = [0x05, 0x09].repeat(MAX_DEPTH + 10);
    deep.extend([0x03, 0x0b]);
    let e = decode(&deep, 0).expect_err("too deep").to_string();
    assert!(e.contains("nested too deeply"), "{e}");
}

proptest::proptest! {
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        let _ = decode(&bytes, 0).map(|m| (m.to_michelson(), m.to_json()));
    }
}

#[test]
fn annotations_must_be_michelson_annotations() {
    // nat with the annotation "%a\x1b[2J" (a terminal escape): refused.
    let mut b = vec![0x04, 0x62];
    let annot = b"%a\x1b[2J";
    b.extend((annot.len() as u32).to_be_bytes());
    b.extend(annot);
    let e = decode(&b, 0).expect_err("refused").to_string();
    assert!(e.contains("not Michelson annotations"), "{e}");
    let mut ok = vec![0x04, 0x62];
    ok.extend(4u32.to_be_bytes());
    ok.extend(b"%a b");
    assert!(decode(&ok, 0).is_err(), "a bare word is not an annotation");
    let mut ok = vec![0x04, 0x62];
    ok.extend(9u32.to_be_bytes());
    ok.extend(b"%a_1 :b.c");
    assert_eq!(
        decode(&ok, 0).expect("valid").to_michelson(),
        "nat %a_1 :b.c"
    );
}
