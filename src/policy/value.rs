//! Value at risk: what one decoded generic batch (0x03) can take out of the signing key's
//! account, as one number, plus every place value goes and every operation that hands over
//! control of funds in a way no number can measure.
//!
//! Owns: the accounting model (docs/watermarks-policy-auth.md, "Value at risk"):
//! - transaction amounts and origination balances are *sent*;
//! - fees are summed over the batch;
//! - storage can burn at most `storage_limit` × [`MUTEZ_PER_STORAGE_BYTE`] per manager
//!   operation, and `increase_paid_storage` burns its amount × the same price on top;
//! - `drain_delegate` can move *everything* (the delegate's whole spendable balance);
//! - `update_consensus_key`, `drain_delegate`, `set_delegate_parameters`, contract calls
//!   (a transaction with parameters other than `default`/`Unit`, which can move tokens) and
//!   `transfer_ticket` (a ticket's worth is not in tez) are [`Control`]s: a policy must name
//!   each one explicitly.
//!
//! Pure and total; every sum is overflow-checked (an overflow is [`Exposure::total`] `None`,
//! which no limit accepts).

use crate::tezos::micheline::Micheline;
use crate::tezos::operation::{Body, Destination, Operation, OperationKind};

/// What one byte of storage burns on mainnet, in mutez (`cost_per_byte`).
pub(crate) const MUTEZ_PER_STORAGE_BYTE: u128 = 250;

/// Transactions to oneself that move tez within the account (staking), not out of it.
const STAKING: [&str; 3] = ["stake", "unstake", "finalize_unstake"];

/// Where one operation sends value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outflow {
    /// 1-based position in the batch.
    pub index: usize,
    pub kind: OperationKind,
    /// The receiving address (`tz…`, `KT1…`, `sr1…`), or `None` for an origination (its
    /// contract does not exist yet, so it can be on no allow-list).
    pub to: Option<String>,
}

/// An operation that hands over control of funds, or moves what tez cannot measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Control {
    /// `update_consensus_key`: once active, the new key can drain the delegate.
    ConsensusKey { index: usize, public_key: String },
    /// `drain_delegate`: the delegate's whole spendable balance to `destination`.
    Drain { index: usize, destination: String },
    /// `set_delegate_parameters` (a transaction to oneself).
    DelegateParameters { index: usize },
    /// A contract call whose parameters can move tokens.
    ContractCall {
        index: usize,
        contract: String,
        entrypoint: String,
    },
    /// `transfer_ticket`: tickets to `destination`.
    Ticket { index: usize, destination: String },
}

impl Control {
    pub(crate) fn index(&self) -> usize {
        match self {
            Control::ConsensusKey { index, .. }
            | Control::Drain { index, .. }
            | Control::DelegateParameters { index }
            | Control::ContractCall { index, .. }
            | Control::Ticket { index, .. } => *index,
        }
    }
}

impl std::fmt::Display for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Control::ConsensusKey { public_key, .. } => {
                write!(f, "update_consensus_key to {public_key}")
            }
            Control::Drain { destination, .. } => {
                write!(f, "drain_delegate of everything to {destination}")
            }
            Control::DelegateParameters { .. } => f.write_str("set_delegate_parameters"),
            Control::ContractCall {
                contract,
                entrypoint,
                ..
            } => write!(f, "a call of {contract}%{entrypoint}"),
            Control::Ticket { destination, .. } => {
                write!(f, "transfer_ticket to {destination}")
            }
        }
    }
}

/// What a batch can take out of the key's account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Exposure {
    /// Mutez: transaction amounts and origination balances.
    pub sent: Option<u128>,
    /// Mutez: fees summed over the batch.
    pub fees: Option<u128>,
    /// Mutez: the most storage can burn.
    pub burns: Option<u128>,
    /// A `drain_delegate` can move the delegate's whole balance.
    pub everything: bool,
    pub outflows: Vec<Outflow>,
    pub controls: Vec<Control>,
}

fn add(a: Option<u128>, b: Option<u128>) -> Option<u128> {
    a?.checked_add(b?)
}

fn burn(bytes: Option<u128>) -> Option<u128> {
    bytes?.checked_mul(MUTEZ_PER_STORAGE_BYTE)
}

/// A transaction's parameters that only pass tez: none, or `default` with `Unit`.
fn plain_transfer(parameters: &Option<crate::tezos::operation::Parameters>) -> bool {
    match parameters {
        None => true,
        Some(p) => {
            p.entrypoint == "default"
                && matches!(&p.value, Micheline::Prim { prim: "Unit", args, .. } if args.is_empty())
        }
    }
}

impl Exposure {
    /// The model applied to a decoded batch.
    pub(crate) fn of(ops: &[Operation]) -> Exposure {
        let mut e = Exposure {
            sent: Some(0),
            fees: Some(0),
            burns: Some(0),
            ..Exposure::default()
        };
        for (i, op) in ops.iter().enumerate() {
            let index = i + 1;
            if let Some(m) = &op.manager {
                e.fees = add(e.fees, Some(m.fee));
                e.burns = add(e.burns, burn(Some(m.storage_limit)));
            }
            let mut outflow = |to: Option<String>| {
                e.outflows.push(Outflow {
                    index,
                    kind: op.kind,
                    to,
                })
            };
            match &op.body {
                Body::Transaction {
                    amount,
                    destination,
                    parameters,
                } => {
                    let to_self = matches!(destination, Destination::Implicit(p)
                        if Some(*p) == op.manager.as_ref().map(|m| m.source));
                    let entrypoint = parameters.as_ref().map(|p| p.entrypoint.as_str());
                    if to_self && entrypoint == Some("set_delegate_parameters") {
                        e.controls.push(Control::DelegateParameters { index });
                    } else if !(to_self && entrypoint.is_some_and(|p| STAKING.contains(&p))) {
                        outflow(Some(destination.to_string()));
                        if !plain_transfer(parameters) {
                            e.controls.push(Control::ContractCall {
                                index,
                                contract: destination.to_string(),
                                entrypoint: entrypoint.unwrap_or("default").to_string(),
                            });
                        }
                    }
                    e.sent = add(e.sent, Some(*amount));
                }
                Body::Origination { balance, .. } => {
                    if *balance > 0 {
                        outflow(None);
                    }
                    e.sent = add(e.sent, Some(*balance));
                }
                Body::IncreasePaidStorage { amount, .. } => {
                    e.burns = add(e.burns, burn(amount.to_u128()));
                }
                Body::DrainDelegate { destination, .. } => {
                    e.everything = true;
                    outflow(Some(destination.to_string()));
                    e.controls.push(Control::Drain {
                        index,
                        destination: destination.to_string(),
                    });
                }
                Body::TransferTicket { destination, .. } => {
                    outflow(Some(destination.to_string()));
                    e.controls.push(Control::Ticket {
                        index,
                        destination: destination.to_string(),
                    });
                }
                Body::UpdateKey { public_key, .. }
                    if op.kind == OperationKind::UpdateConsensusKey =>
                {
                    e.controls.push(Control::ConsensusKey {
                        index,
                        public_key: public_key.to_base58(),
                    });
                }
                _ => {}
            }
        }
        e
    }

    /// The request's value at risk in mutez (sent + fees + burns), not counting what a
    /// `drain_delegate` moves; `None` when a sum overflowed (no limit accepts it).
    pub(crate) fn total(&self) -> Option<u128> {
        add(add(self.sent, self.fees), self.burns)
    }
}

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
