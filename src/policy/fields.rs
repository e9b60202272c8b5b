//! Rules over the fields of decoded generic operations (0x03), per key: the largest fee of
//! one operation, the largest amount of one transaction, where transactions may go, and the
//! largest total of transactions over a rolling 24 hours (kept durably by [`super::spending`]).
//!
//! Owns: reading those rules from the policy file and checking a decoded batch against them.
//! Pure: the 24-hour total is only computed here and counted by the ledger.

use std::collections::BTreeSet;

use super::PolicyRefusal;
use crate::tezos::operation::{Body, Operation};
use crate::tezos::{Pkh, tez};

/// The field rules of one key; every one is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldRules {
    /// Mutez.
    pub max_fee: Option<u128>,
    /// Mutez, per transaction.
    pub max_amount: Option<u128>,
    /// Mutez, all transactions of the key in a rolling 24 hours.
    pub max_total_24h: Option<u128>,
    /// Addresses transactions may go to (`tz…`, `KT1…`, `sr1…`); `None` = anywhere.
    pub destinations: Option<BTreeSet<String>>,
}

/// The `[keys.X.transaction]` table of the policy file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTransactionRules {
    max_amount: Option<String>,
    max_total_24h: Option<String>,
    destinations: Option<Vec<String>>,
}

fn tez_field(name: &str, text: Option<String>) -> Result<Option<u128>, String> {
    text.map(|t| {
        tez::parse(&t)
            .ok_or_else(|| format!("{name} = {t:?} is not an amount of tez such as \"1.5\""))
    })
    .transpose()
}

impl FieldRules {
    pub(super) fn from_raw(
        max_fee: Option<String>,
        transaction: Option<RawTransactionRules>,
    ) -> Result<FieldRules, String> {
        let tx = transaction.unwrap_or_default();
        let destinations = match tx.destinations {
            None => None,
            Some(list) => {
                for d in &list {
                    let known = ["tz1", "tz2", "tz3", "tz4", "KT1", "sr1"];
                    if !known.iter().any(|p| d.starts_with(p)) || d.len() != 36 {
                        return Err(format!("destinations: {d:?} is not a Tezos address"));
                    }
                }
                Some(list.into_iter().collect())
            }
        };
        Ok(FieldRules {
            max_fee: tez_field("max_fee", max_fee)?,
            max_amount: tez_field("max_amount", tx.max_amount)?,
            max_total_24h: tez_field("max_total_24h", tx.max_total_24h)?,
            destinations,
        })
    }

    pub fn is_empty(&self) -> bool {
        *self == FieldRules::default()
    }

    /// The sum of the batch's transaction amounts, in mutez.
    pub fn transferred(ops: &[Operation]) -> u128 {
        ops.iter()
            .map(|o| match &o.body {
                Body::Transaction { amount, .. } => *amount,
                _ => 0,
            })
            .fold(0, u128::saturating_add)
    }

    /// Checks every operation of the batch; the 24-hour total is the ledger's.
    pub fn check(&self, pkh: &Pkh, ops: &[Operation]) -> Result<(), PolicyRefusal> {
        let pkh = *pkh;
        for (i, op) in ops.iter().enumerate() {
            let index = i + 1;
            if let (Some(limit), Some(m)) = (self.max_fee, &op.manager)
                && m.fee > limit
            {
                return Err(PolicyRefusal::MaxFee {
                    pkh,
                    index,
                    fee: m.fee,
                    limit,
                });
            }
            if let Body::Transaction {
                amount,
                destination,
                ..
            } = &op.body
            {
                if let Some(limit) = self.max_amount
                    && *amount > limit
                {
                    return Err(PolicyRefusal::MaxAmount {
                        pkh,
                        index,
                        amount: *amount,
                        limit,
                    });
                }
                if let Some(allowed) = &self.destinations
                    && !allowed.contains(&destination.to_string())
                {
                    return Err(PolicyRefusal::Destination {
                        pkh,
                        index,
                        destination: destination.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}
