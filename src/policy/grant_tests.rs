//! The value-at-risk rules against every way value left in the adversarial test: origination
//! balances, storage burns, fee sums, drains, tickets, token calls and consensus keys — each
//! refused with the rule it breaks, each allowed once the policy names it; the older files
//! that allowed hand-overs by kind alone refused with the line to add; a vault key named like
//! another key's pkh never takes its section.

use super::*;
use crate::testing::forge::{self, CHEAP, Limits};

const TZ2: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
const TZ3: &str = "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t";
const FRIEND: &str = "tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx";
const KT1: &str = "KT1RJ6PbjHpwc3M5rw5s2Nbmefwbuwbdxton";
const SPPK: &str = "sppk7aqSksZan1AGXuKtCz9UBLZZ77e3ZWGpFxR7ig1Z17GneEhSSbH";
const TEZ: u128 = 1_000_000;

fn policy(extra: &str) -> Policy {
    let text = format!(
        "[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\n\
         generic = [\"transaction\", \"origination\", \"increase_paid_storage\", \"drain_delegate\", \
         \"transfer_ticket\", \"update_consensus_key\"]\n\
         [keys.\"{TZ2}\".spending]\nmax_per_request = \"100\"\ndestinations = [\"{FRIEND}\"]\n\
         [keys.\"{TZ2}\".allow]\nconsensus_keys = [\"p2pk66tTYL5EvahKAXncbtbRPBkAnxo3CszzUho5wPCgWauBMyvybuB\"]\n\
         drain_to = [\"{FRIEND}\"]\nticket_to = [\"{FRIEND}\"]\n{extra}"
    );
    Policy::new(
        MagicBytes::new([0x03]),
        Some(PolicyRules::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"))),
    )
}

fn check(policy: &Policy, ops: &[Vec<u8>]) -> Result<Verdict, String> {
    let req = SigningRequest::parse(&forge::request(ops)).expect("parses");
    policy
        .check(&TZ2.parse().expect("pkh"), None, &req)
        .map_err(|e| e.to_string())
}

#[test]
fn every_way_value_leaves_is_bounded_or_named() {
    let p = policy("");
    let fee = |fee| Limits {
        fee,
        storage_limit: 0,
    };
    type Row = (&'static str, Vec<Vec<u8>>, Result<(), &'static str>);
    let rows: Vec<Row> = vec![
        (
            "a transfer within the limits",
            vec![forge::transaction(TZ2, CHEAP, 50 * TEZ, FRIEND, None)],
            Ok(()),
        ),
        (
            "an origination's 5,000 ꜩ",
            vec![forge::origination(TZ2, CHEAP, 5_000 * TEZ)],
            Err("its value at risk (amounts, balances, fees and storage burns) is 5000.001 ꜩ"),
        ),
        (
            "an origination sends value to no listed address",
            vec![forge::origination(TZ2, CHEAP, TEZ)],
            Err("it sends value to a new contract"),
        ),
        (
            "increase_paid_storage of 10⁹ bytes burns 250,000 ꜩ",
            vec![forge::increase_paid_storage(TZ2, CHEAP, 1_000_000_000, KT1)],
            Err("is 250000.001 ꜩ, above 100 ꜩ"),
        ),
        (
            "a storage limit is a burn",
            vec![forge::transaction(
                TZ2,
                Limits {
                    fee: 0,
                    storage_limit: 400_000,
                },
                1,
                FRIEND,
                None,
            )],
            Err("is 100.000001 ꜩ"),
        ),
        (
            "500 fees of 1 ꜩ in one batch",
            (0..500)
                .map(|_| forge::transaction(TZ2, fee(TEZ), 0, FRIEND, None))
                .collect(),
            Err("is 500 ꜩ, above 100 ꜩ"),
        ),
        (
            "a drain outside drain_to",
            vec![forge::drain_delegate(TZ2, TZ2, TZ3)],
            Err(
                "drain_delegate of everything to tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t, which hands over control",
            ),
        ),
        (
            "a drain to drain_to, while max_per_request is set",
            vec![forge::drain_delegate(TZ2, TZ2, FRIEND)],
            Err("no max_per_request or max_total_24h can bound it"),
        ),
        (
            "a ticket anywhere else",
            vec![forge::transfer_ticket(TZ2, CHEAP, KT1, 1, KT1)],
            Err(
                "`ticket_to = [\"KT1RJ6PbjHpwc3M5rw5s2Nbmefwbuwbdxton\"]` under [keys.<key>.allow]",
            ),
        ),
        (
            "an FA2 transfer through a listed contract",
            vec![forge::transaction(
                TZ2,
                CHEAP,
                0,
                FRIEND,
                Some(("transfer", forge::string("x"))),
            )],
            Err("a call of tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx%transfer"),
        ),
        (
            "a consensus key not listed",
            vec![forge::update_consensus_key(TZ2, CHEAP, SPPK)],
            Err("update_consensus_key to sppk7aqSksZan1AGXuKtCz9UBLZZ77e3ZWGpFxR7ig1Z17GneEhSSbH"),
        ),
    ];
    for (what, ops, want) in rows {
        match (check(&p, &ops), want) {
            (Ok(_), Ok(())) => {}
            (Err(msg), Err(needle)) => assert!(msg.contains(needle), "{what}: {msg}"),
            (got, want) => panic!("{what}: got {got:?}, wanted {want:?}"),
        }
    }
    // Named in the policy, the call and the key pass.
    let text = format!(
        "[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n\
         [keys.\"{TZ2}\".allow]\ncontract_calls = [\"{KT1}%transfer\"]\n"
    );
    let calls = Policy::new(
        MagicBytes::new([0x03]),
        Some(PolicyRules::parse(&text).expect("p")),
    );
    let call = vec![forge::transaction(
        TZ2,
        CHEAP,
        0,
        KT1,
        Some(("transfer", forge::string("x"))),
    )];
    assert!(check(&calls, &call).is_ok());
    let other = vec![forge::transaction(
        TZ2,
        CHEAP,
        0,
        KT1,
        Some(("update_operators", forge::unit())),
    )];
    assert!(check(&calls, &other).is_err(), "another entrypoint");
}

/// A granted drain passes only where no number bounds the key, and only to an address on
/// both lists; a granted ticket too must go where `destinations` allows.
#[test]
fn drains_and_tickets_also_obey_destinations() {
    let text = format!(
        "[default]\nkinds = [\"generic\"]\ngeneric = [\"drain_delegate\", \"transfer_ticket\"]\n\
         [default.spending]\ndestinations = [\"{FRIEND}\"]\n\
         [default.allow]\ndrain_to = [\"{FRIEND}\", \"{TZ3}\"]\nticket_to = [\"{KT1}\"]\n"
    );
    let p = Policy::new(
        MagicBytes::new([0x03]),
        Some(PolicyRules::parse(&text).expect("p")),
    );
    assert!(check(&p, &[forge::drain_delegate(TZ2, TZ2, FRIEND)]).is_ok());
    let msg = check(&p, &[forge::drain_delegate(TZ2, TZ2, TZ3)]).expect_err("not a destination");
    assert!(msg.contains("breaks destinations"), "{msg}");
    let msg = check(&p, &[forge::transfer_ticket(TZ2, CHEAP, KT1, 1, KT1)])
        .expect_err("not a destination");
    assert!(msg.contains("breaks destinations"), "{msg}");
}

#[test]
fn the_24_hour_charge_is_the_whole_value_at_risk() {
    let text = "[default]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n\
                [default.spending]\nmax_total_24h = \"250\"\n";
    let p = Policy::new(
        MagicBytes::new([0x03]),
        Some(PolicyRules::parse(text).expect("p")),
    );
    let v = check(
        &p,
        &[forge::transaction(
            TZ2,
            Limits {
                fee: 5,
                storage_limit: 2,
            },
            7,
            FRIEND,
            None,
        )],
    )
    .expect("allowed");
    assert_eq!(
        v.charge,
        Some(Charge {
            amount: 7 + 5 + 500,
            limit: 250 * TEZ
        })
    );
}

#[test]
fn older_files_that_hand_over_control_by_kind_alone_are_refused_with_the_line_to_add() {
    for (kind, needle) in [
        ("update_consensus_key", "consensus_keys = [\"p2pk…\"]"),
        ("drain_delegate", "drain_to = [\"tz1…\"]"),
        ("transfer_ticket", "ticket_to = [\"KT1…\"]"),
    ] {
        let text = format!("[default]\nkinds = [\"generic\"]\ngeneric = [\"{kind}\"]\n");
        let err = PolicyRules::parse(&text).expect_err(kind).to_string();
        assert!(err.contains(needle), "{kind}: {err}");
    }
    let both = "[default]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n\
                [default.spending]\nmax_per_request = \"1\"\n[default.transaction]\nmax_amount = \"1\"\n";
    assert!(PolicyRules::parse(both).is_err());
    let stray = "[default]\nkinds = [\"generic\"]\ngeneric = [\"reveal\"]\n[default.allow]\ndrain_to = [\"tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx\"]\n";
    let err = PolicyRules::parse(stray)
        .expect_err("grant without kind")
        .to_string();
    assert!(err.contains("drain_delegate is not among"), "{err}");
}

#[test]
fn a_vault_key_named_like_another_keys_pkh_does_not_take_its_section() {
    let text = format!("[keys.\"{TZ2}\"]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n");
    let rules = PolicyRules::parse(&text).expect("p");
    let other: Pkh = TZ3.parse().expect("pkh");
    assert!(
        rules.rule_for(&other, Some(TZ2)).is_none(),
        "named like TZ2, but it is TZ3"
    );
    assert!(rules.rule_for(&TZ2.parse().expect("pkh"), None).is_some());
}

#[test]
fn what_a_person_may_approve_is_held_and_what_cannot_be_counted_is_refused() {
    let text = "[default]\nkinds = [\"generic\"]\ngeneric = [\"transaction\"]\n\
                [default.spending]\nmax_per_request = \"1\"\nmax_total_24h = \"2\"\n";
    let p = Policy::new(
        MagicBytes::new([0x03]),
        Some(PolicyRules::parse(text).expect("p")),
    )
    .confirming(&[0x03]);
    let pkh: Pkh = TZ2.parse().expect("pkh");
    let big = SigningRequest::parse(&forge::request(&[forge::transaction(
        TZ2,
        CHEAP,
        200 * TEZ,
        FRIEND,
        None,
    )]))
    .expect("parses");
    match p.decide(&pkh, None, &big) {
        Decision::Hold { reason, charge } => {
            assert!(reason.to_string().contains("max_per_request"), "{reason}");
            assert_eq!(
                charge,
                Some(Charge {
                    amount: 200 * TEZ + 1_000,
                    limit: 2 * TEZ
                })
            );
        }
        other => panic!("{other:?}"),
    }
    let overflow = SigningRequest::parse(&forge::request(&[forge::transaction(
        TZ2,
        Limits {
            fee: 0,
            storage_limit: u128::MAX / 100,
        },
        0,
        FRIEND,
        None,
    )]))
    .expect("parses");
    assert!(matches!(
        p.decide(&pkh, None, &overflow),
        Decision::Refuse(PolicyRefusal::Uncountable { .. })
    ));
    let undecodable = SigningRequest::parse(&[0x03; 40]).expect("parses as generic");
    assert!(matches!(
        p.decide(&pkh, None, &undecodable),
        Decision::Refuse(_)
    ));
    assert!(!p.holds(0x11));
}

/// With `--confirm` but no policy file (or a rule without "generic"), every 0x03 and 0x05 is
/// refused by kind, which a person may approve: only what decodes in full and can be counted
/// is held; junk, kinds known by name only and undecodable Michelson are refused.
#[test]
fn only_what_can_be_shown_and_counted_is_held_whatever_refused_it() {
    let p = Policy::new(MagicBytes::default(), None).confirming(&[0x03, 0x05]);
    let pkh: Pkh = TZ2.parse().expect("pkh");
    let held = |bytes: &[u8]| {
        let req = SigningRequest::parse(bytes).expect("parses");
        matches!(p.decide(&pkh, None, &req), Decision::Hold { .. })
    };
    let transfer = forge::transaction(TZ2, CHEAP, TEZ, FRIEND, None);
    assert!(held(&forge::request(&[transfer])));
    let mut junk = vec![0x03];
    junk.extend([0u8; 32]);
    junk.extend([0xfa, 0, 0, 0]);
    assert!(!held(&junk), "an unknown tag");
    let mut opaque = vec![0x03];
    opaque.extend([0u8; 32]);
    opaque.extend(hex::decode("c9").expect("hex"));
    opaque.extend([0u8; 40]);
    assert!(!held(&opaque), "a kind known by name only");
    assert!(held(&[0x05, 0x03, 0x0b]), "Unit");
    assert!(!held(&[0x05, 0xff, 0x00]), "not Micheline");
}
