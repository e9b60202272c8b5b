//! Generic operations (0x03) forged for tests: the few kinds the policy tests need, with any
//! amounts, in protocol 025's binary encoding (docs/protocol.md §9). `operation::decode_contents`
//! reads every one of them back (tested below); the vectors in tests/vectors/forged.json cross
//! check the encoding against Taquito's forger.

use crate::tezos::Pkh;
use crate::tezos::base58;

/// A Zarith natural.
pub fn nat(mut n: u128) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A Zarith integer (non-negative here: sign bit clear).
pub fn int(n: u128) -> Vec<u8> {
    let mut out = vec![(n & 0x3f) as u8];
    let mut rest = n >> 6;
    while rest != 0 {
        *out.last_mut().expect("one byte") |= 0x80;
        out.push((rest & 0x7f) as u8);
        rest >>= 7;
    }
    out
}

fn pkh(address: &str) -> Vec<u8> {
    let p: Pkh = address.parse().expect("a tz address");
    p.to_tagged_bytes().to_vec()
}

/// A contract id: `tz…` (implicit) or `KT1…` (originated).
pub fn contract(address: &str) -> Vec<u8> {
    if address.starts_with("KT1") {
        let mut out = vec![1];
        out.extend(base58::decode(base58::KT1, address).expect("a KT1 address"));
        out.push(0);
        out
    } else {
        let mut out = vec![0];
        out.extend(pkh(address));
        out
    }
}

fn dynamic(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u32).to_be_bytes().to_vec();
    out.extend(bytes);
    out
}

/// Micheline `Unit`.
pub fn unit() -> Vec<u8> {
    vec![0x03, 0x0b]
}

/// A Micheline string (any UTF-8: the decoder accepts it, the display flags it).
pub fn string(s: &str) -> Vec<u8> {
    let mut out = vec![0x01];
    out.extend(dynamic(s.as_bytes()));
    out
}

/// Micheline `Pair a b`.
pub fn pair(a: Vec<u8>, b: Vec<u8>) -> Vec<u8> {
    let mut out = vec![0x07, 0x07];
    out.extend(a);
    out.extend(b);
    out
}

/// The manager header: `source`, `fee` and `storage_limit` as given, counter 1, gas 10,000.
fn manager(tag: u8, source: &str, fee: u128, storage_limit: u128) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(pkh(source));
    out.extend(nat(fee));
    out.extend(nat(1));
    out.extend(nat(10_000));
    out.extend(nat(storage_limit));
    out
}

/// The fee and storage limit of a manager operation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The fee, in mutez.
    pub fee: u128,
    /// The storage limit, in bytes (burnt at 250 mutez each when used).
    pub storage_limit: u128,
}

/// 0.001 ꜩ fee, no storage.
pub const CHEAP: Limits = Limits {
    fee: 1_000,
    storage_limit: 0,
};

/// A transaction of `amount` mutez to `destination`, with optional (entrypoint, Micheline).
pub fn transaction(
    source: &str,
    limits: Limits,
    amount: u128,
    destination: &str,
    parameters: Option<(&str, Vec<u8>)>,
) -> Vec<u8> {
    let mut out = manager(108, source, limits.fee, limits.storage_limit);
    out.extend(nat(amount));
    out.extend(contract(destination));
    match parameters {
        None => out.push(0),
        Some((entrypoint, value)) => {
            out.push(0xff);
            out.push(0xff);
            out.push(entrypoint.len() as u8);
            out.extend(entrypoint.as_bytes());
            out.extend(dynamic(&value));
        }
    }
    out
}

/// An origination of a unit contract with `balance` mutez.
pub fn origination(source: &str, limits: Limits, balance: u128) -> Vec<u8> {
    let mut out = manager(109, source, limits.fee, limits.storage_limit);
    out.extend(nat(balance));
    out.push(0);
    // parameter unit; storage unit; code { CDR; NIL operation; PAIR }
    let code =
        hex::decode("02000000170500036c0501036c050202000000080317053d036d0342").expect("code hex");
    out.extend(dynamic(&code[..]));
    out.extend(dynamic(&unit()));
    out
}

/// `increase_paid_storage` of `bytes` for the contract `kt1`.
pub fn increase_paid_storage(source: &str, limits: Limits, bytes: u128, kt1: &str) -> Vec<u8> {
    let mut out = manager(113, source, limits.fee, limits.storage_limit);
    out.extend(int(bytes));
    out.extend(contract(kt1));
    out
}

/// `drain_delegate`: `delegate`'s balance to `destination`, signed by `consensus_key`.
pub fn drain_delegate(consensus_key: &str, delegate: &str, destination: &str) -> Vec<u8> {
    let mut out = vec![9];
    out.extend(pkh(consensus_key));
    out.extend(pkh(delegate));
    out.extend(pkh(destination));
    out
}

/// `update_consensus_key` to `public_key` (`sppk…` or `p2pk…`), without proof.
pub fn update_consensus_key(source: &str, limits: Limits, public_key: &str) -> Vec<u8> {
    let mut out = manager(114, source, limits.fee, limits.storage_limit);
    let (tag, prefix) = if public_key.starts_with("sppk") {
        (1, base58::SPPK)
    } else {
        (2, base58::P2PK)
    };
    out.push(tag);
    out.extend(base58::decode(prefix, public_key).expect("a public key"));
    out.push(0);
    out
}

/// `transfer_ticket` of `amount` string tickets from `ticketer` to `destination`.
pub fn transfer_ticket(
    source: &str,
    limits: Limits,
    ticketer: &str,
    amount: u128,
    destination: &str,
) -> Vec<u8> {
    let mut out = manager(158, source, limits.fee, limits.storage_limit);
    out.extend(dynamic(&string("ticket")));
    out.extend(dynamic(&[0x03, 0x68]));
    out.extend(contract(ticketer));
    out.extend(nat(amount));
    out.extend(contract(destination));
    out.extend(dynamic(b"default"));
    out
}

/// A whole 0x03 request: magic byte, a zero branch, then the operations in order.
pub fn request(ops: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0x03];
    out.extend([0u8; 32]);
    for op in ops {
        out.extend(op);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tezos::operation::{Body, decode_contents};

    const TZ1: &str = "tz1SCzRi3TzfBn6DpNgAU3ePCX2V9RV9hsnz";
    const KT1: &str = "KT1RJ6PbjHpwc3M5rw5s2Nbmefwbuwbdxton";
    const SPPK: &str = "sppk7aqSksZan1AGXuKtCz9UBLZZ77e3ZWGpFxR7ig1Z17GneEhSSbH";

    #[test]
    fn every_forged_kind_decodes_back_with_its_values() {
        let big = 5_000_000_000u128;
        let batch = [
            transaction(TZ1, CHEAP, big, KT1, Some(("transfer", string("x")))),
            origination(TZ1, CHEAP, big),
            increase_paid_storage(TZ1, CHEAP, 1_000_000_000, KT1),
            drain_delegate(TZ1, TZ1, TZ1),
            update_consensus_key(TZ1, CHEAP, SPPK),
            transfer_ticket(TZ1, CHEAP, KT1, 7, KT1),
        ];
        let bytes = request(&batch);
        let ops = decode_contents(&bytes[33..]).expect("decodes");
        assert_eq!(ops.len(), 6);
        assert!(matches!(&ops[0].body, Body::Transaction { amount, .. } if *amount == big));
        assert!(matches!(&ops[1].body, Body::Origination { balance, .. } if *balance == big));
        assert!(
            matches!(&ops[2].body, Body::IncreasePaidStorage { amount, .. } if amount.to_u128() == Some(1_000_000_000))
        );
        assert!(matches!(
            &ops[5].body,
            Body::TransferTicket { amount: 7, .. }
        ));
        assert_eq!(nat(300), vec![0xac, 0x02]);
        assert_eq!(int(64), vec![0x80, 0x01]);
    }
}
