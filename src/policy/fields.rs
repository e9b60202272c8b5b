//! Rules over the fields of decoded generic operations (0x03), per key, all in terms of the
//! request's value at risk ([`super::value`]): the largest fee of one operation, the largest
//! value at risk of one request, the addresses value may go to, the largest total over a
//! rolling 24 hours (kept durably by [`super::spending`]), and the explicit grants that let
//! an operation hand over control of funds.
//!
//! Owns: reading those rules from the policy file (`[keys.X.spending]`, its older spelling
//! `[keys.X.transaction]`, and `[keys.X.allow]`) and checking a decoded batch against them.
//! Pure. Must never: allow a value it cannot count, or a control nobody named.

use std::collections::BTreeSet;

use super::PolicyRefusal;
use super::value::{Control, Exposure};
use crate::tezos::operation::Operation;
use crate::tezos::{Pkh, tez};

/// The field rules of one key; every one is optional.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldRules {
    /// Mutez, the fee of one operation.
    pub max_fee: Option<u128>,
    /// Mutez, the value at risk of one request.
    pub max_per_request: Option<u128>,
    /// Mutez, the values at risk of the key's requests in a rolling 24 hours.
    pub max_total_24h: Option<u128>,
    /// Addresses value may go to (`tz…`, `KT1…`, `sr1…`); `None` = anywhere.
    pub destinations: Option<BTreeSet<String>>,
    /// `[keys.X.allow]`: the operations that hand over control of funds this key may sign.
    pub grants: Grants,
}

/// What the policy explicitly lets a key hand over.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    /// Public keys `update_consensus_key` may switch to.
    pub consensus_keys: BTreeSet<String>,
    /// Where `drain_delegate` may send everything.
    pub drain_to: BTreeSet<String>,
    /// Whether `set_delegate_parameters` may be signed.
    pub delegate_parameters: bool,
    /// `KT1…%entrypoint` pairs that may be called with parameters.
    pub contract_calls: BTreeSet<String>,
    /// Where `transfer_ticket` may send tickets.
    pub ticket_to: BTreeSet<String>,
}

/// `[keys.X.spending]`, and its older spelling `[keys.X.transaction]` (`max_amount` then
/// bounded one transaction; it now bounds the request's whole value at risk, which is only
/// stricter).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpending {
    #[serde(alias = "max_amount")]
    max_per_request: Option<String>,
    max_total_24h: Option<String>,
    destinations: Option<Vec<String>>,
}

/// `[keys.X.allow]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrants {
    #[serde(default)]
    consensus_keys: Vec<String>,
    #[serde(default)]
    drain_to: Vec<String>,
    #[serde(default)]
    delegate_parameters: bool,
    #[serde(default)]
    contract_calls: Vec<String>,
    #[serde(default)]
    ticket_to: Vec<String>,
}

fn tez_field(name: &str, text: Option<String>) -> Result<Option<u128>, String> {
    text.map(|t| {
        tez::parse(&t)
            .ok_or_else(|| format!("{name} = {t:?} is not an amount of tez such as \"1.5\""))
    })
    .transpose()
}

fn address(field: &str, d: &str) -> Result<(), String> {
    let known = ["tz1", "tz2", "tz3", "tz4", "KT1", "sr1"];
    if !known.iter().any(|p| d.starts_with(p)) || d.len() != 36 {
        return Err(format!("{field}: {d:?} is not a Tezos address"));
    }
    Ok(())
}

fn addresses(field: &str, list: Vec<String>) -> Result<BTreeSet<String>, String> {
    list.iter().try_for_each(|d| address(field, d))?;
    Ok(list.into_iter().collect())
}

impl Grants {
    fn from_raw(raw: RawGrants) -> Result<Grants, String> {
        for k in &raw.consensus_keys {
            if !["sppk", "p2pk", "edpk", "BLpk"]
                .iter()
                .any(|p| k.starts_with(p))
            {
                return Err(format!("allow.consensus_keys: {k:?} is not a public key"));
            }
        }
        for call in &raw.contract_calls {
            let ok = call
                .split_once('%')
                .is_some_and(|(c, e)| address("", c).is_ok() && !e.is_empty());
            if !ok {
                return Err(format!(
                    "allow.contract_calls: {call:?} is not CONTRACT%ENTRYPOINT (such as \
                     \"KT1…%transfer\")"
                ));
            }
        }
        Ok(Grants {
            consensus_keys: raw.consensus_keys.into_iter().collect(),
            drain_to: addresses("allow.drain_to", raw.drain_to)?,
            delegate_parameters: raw.delegate_parameters,
            contract_calls: raw.contract_calls.into_iter().collect(),
            ticket_to: addresses("allow.ticket_to", raw.ticket_to)?,
        })
    }

    /// Whether `control` is granted; else the line of the policy file that would grant it.
    fn grants(&self, control: &Control) -> Result<(), String> {
        let (granted, hint) = match control {
            Control::ConsensusKey { public_key, .. } => (
                self.consensus_keys.contains(public_key),
                format!("consensus_keys = [\"{public_key}\"]"),
            ),
            Control::Drain { destination, .. } => (
                self.drain_to.contains(destination),
                format!("drain_to = [\"{destination}\"]"),
            ),
            Control::DelegateParameters { .. } => (
                self.delegate_parameters,
                "delegate_parameters = true".into(),
            ),
            Control::ContractCall {
                contract,
                entrypoint,
                ..
            } => {
                let pair = format!("{contract}%{entrypoint}");
                let hint = format!("contract_calls = [\"{pair}\"]");
                (self.contract_calls.contains(&pair), hint)
            }
            Control::Ticket { destination, .. } => (
                self.ticket_to.contains(destination),
                format!("ticket_to = [\"{destination}\"]"),
            ),
        };
        if granted { Ok(()) } else { Err(hint) }
    }
}

impl FieldRules {
    pub(super) fn from_raw(
        max_fee: Option<String>,
        spending: Option<RawSpending>,
        allow: Option<RawGrants>,
    ) -> Result<FieldRules, String> {
        let spending = spending.unwrap_or_default();
        Ok(FieldRules {
            max_fee: tez_field("max_fee", max_fee)?,
            max_per_request: tez_field("max_per_request", spending.max_per_request)?,
            max_total_24h: tez_field("max_total_24h", spending.max_total_24h)?,
            destinations: spending
                .destinations
                .map(|l| addresses("destinations", l))
                .transpose()?,
            grants: allow.map(Grants::from_raw).transpose()?.unwrap_or_default(),
        })
    }

    /// Whether no rule is set; a key with any of them must list "generic" among its kinds.
    pub(crate) fn is_empty(&self) -> bool {
        *self == FieldRules::default()
    }

    /// Checks the batch and its value at risk (the 24-hour total is the ledger's).
    pub(crate) fn check(
        &self,
        pkh: &Pkh,
        ops: &[Operation],
        exposure: &Exposure,
    ) -> Result<(), PolicyRefusal> {
        let pkh = *pkh;
        for (i, op) in ops.iter().enumerate() {
            if let (Some(limit), Some(m)) = (self.max_fee, &op.manager)
                && m.fee > limit
            {
                return Err(PolicyRefusal::MaxFee {
                    pkh,
                    index: i + 1,
                    fee: m.fee,
                    limit,
                });
            }
        }
        let Some(total) = exposure.total() else {
            return Err(PolicyRefusal::Uncountable { pkh });
        };
        if let Some(limit) = self.max_per_request
            && total > limit
        {
            return Err(PolicyRefusal::MaxPerRequest { pkh, total, limit });
        }
        for control in &exposure.controls {
            self.grants
                .grants(control)
                .map_err(|grant| PolicyRefusal::NotGranted {
                    pkh,
                    index: control.index(),
                    what: control.to_string(),
                    grant,
                })?;
        }
        if exposure.everything && (self.max_per_request.is_some() || self.max_total_24h.is_some()) {
            return Err(PolicyRefusal::Everything { pkh });
        }
        if let Some(allowed) = &self.destinations {
            // Every operation that sends value, a granted drain or ticket included.
            for out in &exposure.outflows {
                if !out.to.as_ref().is_some_and(|to| allowed.contains(to)) {
                    return Err(PolicyRefusal::Destination {
                        pkh,
                        index: out.index,
                        kind: out.kind,
                        destination: out
                            .to
                            .clone()
                            .unwrap_or_else(|| "a new contract".to_string()),
                    });
                }
            }
        }
        Ok(())
    }
}
