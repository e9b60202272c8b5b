//! The value-at-risk model, table-driven: forged batches with known amounts, and every
//! Taquito-forged vector (tests/vectors/forged.json) checked against its own input JSON.

use super::*;
use crate::testing::forge::{self, CHEAP, Limits};
use crate::tezos::operation::decode_contents;

const TZ1: &str = "tz1SCzRi3TzfBn6DpNgAU3ePCX2V9RV9hsnz";
const OTHER: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
const KT1: &str = "KT1RJ6PbjHpwc3M5rw5s2Nbmefwbuwbdxton";
const SPPK: &str = "sppk7aqSksZan1AGXuKtCz9UBLZZ77e3ZWGpFxR7ig1Z17GneEhSSbH";

fn exposure(ops: &[Vec<u8>]) -> Exposure {
    let bytes = forge::request(ops);
    Exposure::of(&decode_contents(&bytes[33..]).expect("decodes"))
}

const TEZ: u128 = 1_000_000;

#[test]
fn every_kind_that_moves_value_is_counted() {
    let storage = Limits {
        fee: 2_000,
        storage_limit: 1_000,
    };
    // (what, batch, total mutez, everything, outflows, controls)
    type Row = (&'static str, Vec<Vec<u8>>, Option<u128>, bool, usize, usize);
    let rows: Vec<Row> = vec![
        (
            "plain transfer",
            vec![forge::transaction(TZ1, CHEAP, 5 * TEZ, OTHER, None)],
            Some(5 * TEZ + 1_000),
            false,
            1,
            0,
        ),
        (
            "origination balance and its storage",
            vec![forge::origination(TZ1, storage, 5_000 * TEZ)],
            Some(5_000 * TEZ + 2_000 + 250_000),
            false,
            1,
            0,
        ),
        (
            "increase_paid_storage burns 250 mutez a byte",
            vec![forge::increase_paid_storage(TZ1, CHEAP, 1_000_000_000, KT1)],
            Some(250_000 * TEZ + 1_000),
            false,
            0,
            0,
        ),
        (
            "fees summed over 500 operations",
            (0..500)
                .map(|_| {
                    forge::transaction(
                        TZ1,
                        Limits {
                            fee: TEZ,
                            storage_limit: 0,
                        },
                        0,
                        OTHER,
                        None,
                    )
                })
                .collect(),
            Some(500 * TEZ),
            false,
            500,
            0,
        ),
        (
            "drain moves everything",
            vec![forge::drain_delegate(TZ1, TZ1, OTHER)],
            Some(0),
            true,
            1,
            1,
        ),
        (
            "ticket",
            vec![forge::transfer_ticket(TZ1, CHEAP, KT1, 10, KT1)],
            Some(1_000),
            false,
            1,
            1,
        ),
        (
            "FA2 call",
            vec![forge::transaction(
                TZ1,
                CHEAP,
                0,
                KT1,
                Some(("transfer", forge::string("x"))),
            )],
            Some(1_000),
            false,
            1,
            1,
        ),
        (
            "default Unit to a KT1 is a plain transfer",
            vec![forge::transaction(
                TZ1,
                CHEAP,
                TEZ,
                KT1,
                Some(("default", forge::unit())),
            )],
            Some(TEZ + 1_000),
            false,
            1,
            0,
        ),
        (
            "stake to oneself stays in the account but is counted",
            vec![forge::transaction(
                TZ1,
                CHEAP,
                TEZ,
                TZ1,
                Some(("stake", forge::unit())),
            )],
            Some(TEZ + 1_000),
            false,
            0,
            0,
        ),
        (
            "set_delegate_parameters is a control",
            vec![forge::transaction(
                TZ1,
                CHEAP,
                0,
                TZ1,
                Some(("set_delegate_parameters", forge::unit())),
            )],
            Some(1_000),
            false,
            0,
            1,
        ),
        (
            "consensus key",
            vec![forge::update_consensus_key(TZ1, CHEAP, SPPK)],
            Some(1_000),
            false,
            0,
            1,
        ),
        (
            "a storage limit near u128::MAX overflows: no number",
            vec![forge::transaction(
                TZ1,
                Limits {
                    fee: 0,
                    storage_limit: u128::MAX / 100,
                },
                0,
                OTHER,
                None,
            )],
            None,
            false,
            1,
            0,
        ),
    ];
    for (what, batch, total, everything, outflows, controls) in rows {
        let e = exposure(&batch);
        assert_eq!(e.total(), total, "{what}");
        assert_eq!(e.everything, everything, "{what}");
        assert_eq!(e.outflows.len(), outflows, "{what}: {:?}", e.outflows);
        assert_eq!(e.controls.len(), controls, "{what}: {:?}", e.controls);
    }
}

#[test]
fn the_controls_name_what_they_hand_over() {
    let e = exposure(&[
        forge::update_consensus_key(TZ1, CHEAP, SPPK),
        forge::transaction(TZ1, CHEAP, 0, KT1, Some(("transfer", forge::unit()))),
        forge::drain_delegate(TZ1, TZ1, OTHER),
    ]);
    let shown: Vec<String> = e.controls.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            format!("update_consensus_key to {SPPK}"),
            format!("a call of {KT1}%transfer"),
            format!("drain_delegate of everything to {OTHER}"),
        ]
    );
    assert_eq!(e.controls[1].index(), 2);
}

/// Every Taquito-forged manager operation: the model's total equals fee, plus storage_limit
/// × 250, plus amount or balance (increase_paid_storage: amount × 250), read from the forger's
/// input (a ticket's amount is tickets, not tez: its input field is `ticket_amount`).
#[test]
fn taquito_vectors_agree_with_their_input() {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/vectors/forged.json")).unwrap();
    let num = |x: &serde_json::Value| -> u128 { x.as_str().map_or(0, |s| s.parse().unwrap()) };
    let mut checked = 0;
    for op in v["operations"].as_array().unwrap() {
        let bytes = hex::decode(op["hex"].as_str().unwrap()).unwrap();
        let Ok(ops) = decode_contents(&bytes[32..]) else {
            continue;
        };
        if ops.iter().any(|o| o.kind.is_opaque()) {
            continue;
        }
        let mut want: u128 = 0;
        for c in op["input"]["contents"].as_array().unwrap() {
            want += num(&c["fee"]) + num(&c["storage_limit"]) * MUTEZ_PER_STORAGE_BYTE;
            want += num(&c["amount"])
                * if c["kind"] == "increase_paid_storage" {
                    250
                } else {
                    1
                };
            want += num(&c["balance"]);
        }
        let e = Exposure::of(&ops);
        assert_eq!(e.total(), Some(want), "{}", op["name"]);
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} vectors checked");
}
