//! Policy tests: magic-byte parsing, policy file validation, and the decision table.

use super::*;

const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
const TZ3: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";
const MAINNET: &str = "NetXdQprcVkpaWU";

fn vector(name: &str) -> Vec<u8> {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/vectors/requests.json")).unwrap();
    let hex = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap()["hex"]
        .as_str()
        .unwrap()
        .to_string();
    hex::decode(hex).unwrap()
}

fn req(bytes: &[u8]) -> SigningRequest {
    SigningRequest::parse(bytes).unwrap()
}

/// A generic operation: branch of zeros + contents.
fn generic(contents_hex: &str) -> SigningRequest {
    let mut bytes = vec![0x03];
    bytes.extend([0u8; 32]);
    bytes.extend(hex::decode(contents_hex).unwrap());
    req(&bytes)
}

const DELEGATION: &str = "6e023f3b21e54e98db3845a2a5033d96877f7f9cea870001000000";
const TX_PLAIN: &str = "6c00e7670f32038107a59a2b9cfefae36ea21f5aa63cdb07c80300fd0a0a000002298c03ed7d454a101eb7022bc95f7e5f41ac7800";

fn pkh(s: &str) -> Pkh {
    s.parse().unwrap()
}

#[test]
fn magic_bytes_parse() {
    let ok: &[(&str, &[u8])] = &[
        ("0x11,0x12,0x13", &[0x11, 0x12, 0x13]),
        ("11, 12", &[0x11, 0x12]),
        ("0X03", &[0x03]),
        ("0x05,0x05", &[0x05]),
    ];
    for (text, want) in ok {
        let m: MagicBytes = text.parse().unwrap();
        assert_eq!(m.iter().collect::<Vec<_>>(), *want, "{text}");
    }
    for bad in [
        "",
        "0x",
        "0x111",
        "zz",
        "0x11,,0x12",
        "0x11;0x12",
        "0x99",
        "+11",
    ] {
        assert!(bad.parse::<MagicBytes>().is_err(), "{bad}");
    }
    assert_eq!(MagicBytes::default().to_string(), "0x11,0x12,0x13");
    let p = Policy::default();
    assert!(p.magic_byte_allowed(0x11) && !p.magic_byte_allowed(0x03));
}

#[test]
fn policy_file_validation() {
    let bad: &[(&str, &str)] = &[
        ("unknown kind", "[default]\nkinds = [\"transfer\"]"),
        ("unknown field", "[default]\nkinds = []\nchain = []"),
        ("generic without list", "[default]\nkinds = [\"generic\"]"),
        (
            "list without generic",
            "[default]\nkinds = [\"block\"]\ngeneric = [\"reveal\"]",
        ),
        (
            "unknown operation",
            "[default]\nkinds = [\"generic\"]\ngeneric = [\"stake_all\"]",
        ),
        (
            "bad chain",
            "[default]\nkinds = [\"block\"]\nchains = [\"NetX\"]",
        ),
        ("bad pkh", "[keys.tz2nope]\nkinds = [\"block\"]"),
        ("bad name", "[keys.\"my key\"]\nkinds = [\"block\"]"),
        ("not toml", "kinds = ["),
    ];
    for (name, text) in bad {
        assert!(
            matches!(PolicyRules::parse(text), Err(PolicyError::Invalid(_))),
            "{name}"
        );
    }
    let good = format!(
        "[default]\nkinds = [\"block\"]\n\n[keys.{TZ2}]\nkinds = [\"generic\", \"michelson_data\"]\n\
         generic = [\"reveal\", \"delegation\"]\nchains = [\"{MAINNET}\"]\n\n[keys.baker-2]\nkinds = []\n"
    );
    let rules = PolicyRules::parse(&good).unwrap();
    assert_eq!(rules.keys.len(), 2);
    let r = rules.rule_for(&pkh(TZ2), None).unwrap();
    assert_eq!(
        r.generic,
        [OperationKind::Reveal, OperationKind::Delegation].into()
    );
    // By name, by pkh first, then default.
    assert!(
        rules
            .rule_for(&pkh(TZ3), Some("baker-2"))
            .unwrap()
            .kinds
            .is_empty()
    );
    assert_eq!(rules.rule_for(&pkh(TZ2), Some("baker-2")), Some(r));
    assert_eq!(
        rules.rule_for(&pkh(TZ3), Some("other")),
        rules.default.as_ref()
    );
}

#[test]
fn decisions() {
    let block = req(&vector("block_round0_unlocked"));
    let pre = req(&vector("preattestation"));
    let att = req(&vector("attestation"));
    let dal = req(&vector("attestation_with_dal"));
    let michelson = req(&[0x05, 0x01, 0x00, 0x00, 0x00, 0x00]);
    let auth = req(&[0x04, 0x01]);
    let deleg = generic(DELEGATION);
    let batch = generic(&format!("{DELEGATION}{TX_PLAIN}"));
    // Tag 250 (0xfa, zk_rollup_origination): a kind the decoder does not know.
    let unknown = generic("fa000000");

    let file = PolicyRules::parse(&format!(
        "[keys.{TZ2}]\nkinds = [\"block\", \"attestation\", \"generic\"]\n\
         generic = [\"delegation\"]\nchains = [\"NetXnHfVqm9iesp\"]\n\n\
         [keys.named]\nkinds = [\"preattestation\", \"attestation_with_dal\", \"michelson_data\"]\n"
    ))
    .unwrap();
    let none = Policy::default();
    let with = Policy::new(MagicBytes::default(), Some(file));

    type Row<'a> = (
        &'a str,
        &'a Policy,
        &'a str,
        Option<&'a str>,
        &'a SigningRequest,
        Result<(), &'a str>,
    );
    let rows: Vec<Row> = vec![
        ("default: block", &none, TZ2, None, &block, Ok(())),
        ("default: preattestation", &none, TZ2, None, &pre, Ok(())),
        ("default: attestation", &none, TZ2, None, &att, Ok(())),
        ("default: dal", &none, TZ2, None, &dal, Ok(())),
        (
            "default: generic",
            &none,
            TZ2,
            None,
            &deleg,
            Err("request kind generic is not allowed for key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt"),
        ),
        (
            "default: michelson",
            &none,
            TZ3,
            None,
            &michelson,
            Err(
                "request kind michelson_data is not allowed for key tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t",
            ),
        ),
        (
            "auth payload",
            &none,
            TZ2,
            None,
            &auth,
            Err(
                "authentication payloads (magic byte 0x04) are never signed with key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt",
            ),
        ),
        (
            "wrong chain",
            &with,
            TZ2,
            None,
            &block,
            Err(
                "chain NetXdQprcVkpaWU is not allowed for key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt",
            ),
        ),
        (
            "kind not listed",
            &with,
            TZ2,
            None,
            &pre,
            Err(
                "request kind preattestation is not allowed for key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt",
            ),
        ),
        (
            "dal is its own kind",
            &with,
            TZ2,
            None,
            &dal,
            Err(
                "request kind attestation_with_dal is not allowed for key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt",
            ),
        ),
        (
            "allowed operation (no chain in generic)",
            &with,
            TZ2,
            None,
            &deleg,
            Ok(()),
        ),
        (
            "one forbidden element refuses the batch",
            &with,
            TZ2,
            None,
            &batch,
            Err(
                "operation kind transaction is not allowed for key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt (allowed: delegation)",
            ),
        ),
        (
            "undecodable batch",
            &with,
            TZ2,
            None,
            &unknown,
            Err(
                "generic operation refused for key tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt: cannot check its contents: unknown or unsupported operation tag 250 (0xfa) at byte 33: refusing what cannot be decoded",
            ),
        ),
        ("by vault name", &with, TZ3, Some("named"), &dal, Ok(())),
        (
            "by vault name: michelson",
            &with,
            TZ3,
            Some("named"),
            &michelson,
            Ok(()),
        ),
        (
            "by vault name: refused",
            &with,
            TZ3,
            Some("named"),
            &block,
            Err("request kind block is not allowed for key tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t"),
        ),
        (
            "no entry, no default",
            &with,
            TZ3,
            Some("other"),
            &block,
            Err(
                "key tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t has no entry in the policy file and there is no [default]",
            ),
        ),
    ];
    for (name, policy, key, vault_name, request, want) in rows {
        let got = policy
            .check(&pkh(key), vault_name, request)
            .map(drop)
            .map_err(|e| e.to_string());
        assert_eq!(
            got.as_ref().map_err(|e| e.as_str()),
            want.as_ref().map_err(|e| *e),
            "{name}"
        );
    }
}

/// The field rules over generic operations: each accepts the allowed case and refuses the
/// rest with the rule's name. TX_PLAIN pays a fee of 987 mutez and sends 10 mutez to
/// tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx.
#[test]
fn field_rules_accept_what_they_allow_and_name_the_rule_they_refuse_by() {
    let rule = |extra: &str| {
        let extra = extra
            .replace("[transaction]", &format!("[keys.\"{TZ2}\".transaction]"))
            .replace("[spending]", &format!("[keys.\"{TZ2}\".spending]"));
        let text = format!(
            "[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n{extra}"
        );
        Policy::new(
            MagicBytes::default(),
            Some(PolicyRules::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"))),
        )
    };
    let tx = generic(TX_PLAIN);
    let table: &[(&str, Result<Verdict, &str>)] = &[
        ("max_fee = \"0.000987\"", Ok(Verdict::default())),
        (
            "max_fee = \"0.000986\"",
            Err("operation 1 breaks max_fee for key"),
        ),
        // The older spelling: max_amount now bounds the request's whole value at risk,
        // 987 (fee) + 1,405 × 250 (storage) + 10 (amount) = 352,247 mutez.
        (
            "[transaction]\nmax_amount = \"0.352247\"",
            Ok(Verdict::default()),
        ),
        (
            "[transaction]\nmax_amount = \"0.352246\"",
            Err("breaks max_per_request"),
        ),
        (
            "[spending]\nmax_per_request = \"0.352246\"",
            Err("its value at risk (amounts, balances, fees and storage burns) is 0.352247 ꜩ"),
        ),
        (
            "[transaction]\ndestinations = [\"tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx\"]",
            Ok(Verdict::default()),
        ),
        (
            "[transaction]\ndestinations = [\"tz1ddb9NMYHZi5UzPdzTZMYQQZoMub195zgv\"]",
            Err("breaks destinations for key"),
        ),
        (
            "[spending]\ndestinations = [\"tz1ddb9NMYHZi5UzPdzTZMYQQZoMub195zgv\"]",
            Err("it sends value to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx"),
        ),
        (
            "[transaction]\nmax_total_24h = \"1\"",
            Ok(Verdict {
                charge: Some(Charge {
                    amount: 352_247,
                    limit: 1_000_000,
                }),
            }),
        ),
    ];
    for (extra, want) in table {
        let got = rule(extra).check(&pkh(TZ2), None, &tx);
        match (got, want) {
            (Ok(v), Ok(w)) => assert_eq!(v, *w, "{extra}"),
            (Err(e), Err(needle)) => {
                let msg = e.to_string();
                assert!(msg.contains(needle), "{extra}: {msg}");
            }
            (got, want) => panic!("{extra}: got {got:?}, wanted {want:?}"),
        }
    }
    // Field rules on a key that signs no generic operations, bad amounts, bad addresses.
    for (text, needle) in [
        (
            format!("[keys.\"{TZ2}\"]\nkinds = [\"block\"]\nmax_fee = \"1\""),
            "apply to generic operations",
        ),
        (
            format!(
                "[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\nmax_fee = \"1.0000001\""
            ),
            "not an amount of tez",
        ),
        (
            format!(
                "[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n[keys.\"{TZ2}\".transaction]\ndestinations = [\"nope\"]"
            ),
            "is not a Tezos address",
        ),
        (
            format!(
                "[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n[keys.\"{TZ2}\".transaction]\nmax_amont = \"1\""
            ),
            "unknown field",
        ),
    ] {
        let err = PolicyRules::parse(&text).expect_err(&text).to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

/// Kinds known by name only cannot be allowed (their fields, and what may follow them in a
/// batch, cannot be checked): the file refuses them, and a batch with one is refused even
/// when what follows is allowed.
#[test]
fn kinds_known_by_name_only_are_never_allowed() {
    let text = format!(
        "[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\ngeneric = [\"smart_rollup_add_messages\"]"
    );
    let err = PolicyRules::parse(&text).expect_err("refused").to_string();
    assert!(err.contains("cannot be allowed"), "{err}");
    let rules = PolicyRules::parse(&format!(
        "[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]"
    ))
    .expect("policy");
    let policy = Policy::new(MagicBytes::default(), Some(rules));
    // An add_messages header (tag 201) followed by a transaction the opaque element swallows.
    let hidden = format!("c9{}{TX_PLAIN}", &TX_PLAIN[2..46]);
    let err = policy
        .check(&pkh(TZ2), None, &generic(&hidden))
        .expect_err("refused")
        .to_string();
    assert!(err.contains("knows it by name only"), "{err}");
}

/// Every policy file the documentation shows (each TOML block of
/// docs/watermarks-policy-auth.md with `kinds =`) loads as it is written.
#[test]
fn the_documented_policy_files_load() {
    let doc = include_str!("../../docs/watermarks-policy-auth.md");
    let mut checked = 0;
    for block in doc.split("```toml").skip(1) {
        let toml = block.split("```").next().expect("closed block");
        if !toml.contains("kinds =") {
            continue;
        }
        PolicyRules::parse(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        checked += 1;
    }
    assert!(checked >= 2, "only {checked} documented policy files found");
}
