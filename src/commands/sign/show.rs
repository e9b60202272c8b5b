//! What `sign` shows a person before anything is signed: a summary (signer, branch, number of
//! operations, total amount, total fee, maximum storage burn), then each operation with its
//! kind and fields, Michelson for parameters, code and storage (after a "review carefully"
//! line), and warnings where an operation moves more than it seems to.
//!
//! Owns: turning decoded requests into lines of text. Pure: no I/O, no prompt.

use crate::tezos::base58;
use crate::tezos::micheline::Micheline;
use crate::tezos::operation::{Body, Destination, Operation, OperationKind};
use crate::tezos::{BlockHeader, ConsensusOperation, Pkh, SigningRequest};

/// Mainnet's storage cost: what one byte of storage burns, in mutez.
pub const MUTEZ_PER_STORAGE_BYTE: u128 = 250;

use crate::tezos::tez::format as tez;

/// What the screen shows for one request, and whether it could be decoded.
pub struct Shown {
    pub lines: Vec<String>,
    /// Something in the request could not be decoded field by field.
    pub opaque: bool,
    /// The same request as JSON (octez's for operations, Micheline JSON for data), for
    /// `sign --json`.
    pub json: serde_json::Value,
}

/// The entrypoints a transaction to oneself calls for staking.
const STAKING: [&str; 4] = [
    "stake",
    "unstake",
    "finalize_unstake",
    "set_delegate_parameters",
];

fn chain_level_round(chain: &impl std::fmt::Display, level: i32, round: Option<i32>) -> String {
    match round {
        Some(r) => format!("chain {chain}, level {level}, round {r}"),
        None => format!("chain {chain}, level {level}"),
    }
}

/// The lines for a consensus request (block, preattestation, attestation).
fn consensus(req: &SigningRequest) -> Vec<String> {
    match req {
        SigningRequest::Block(BlockHeader {
            chain_id,
            level,
            round,
            payload_round,
            legacy,
        }) => {
            let what = if *legacy { "legacy block" } else { "block" };
            vec![format!(
                "{what}: {}, payload round {payload_round}",
                chain_level_round(chain_id, *level, (!legacy).then_some(*round))
            )]
        }
        SigningRequest::Preattestation(c) | SigningRequest::Attestation(c) => {
            let ConsensusOperation {
                chain_id,
                level,
                round,
                slot,
                ..
            } = c;
            vec![format!(
                "{}: {}, slot {slot}",
                req.kind(),
                chain_level_round(chain_id, *level, Some(*round))
            )]
        }
        SigningRequest::LegacyEndorsement { chain_id, level } => {
            vec![format!(
                "legacy endorsement: {}",
                chain_level_round(chain_id, *level, None)
            )]
        }
        _ => Vec::new(),
    }
}

fn michelson(lines: &mut Vec<String>, label: &str, m: &Micheline) {
    lines.push(format!("     {label} (review carefully):"));
    lines.push(format!("       {}", m.to_michelson()));
}

/// The lines for a batch of generic operations signed by `signer`.
pub fn operations(signer: &Pkh, branch: &[u8; 32], ops: &[Operation], verbose: bool) -> Shown {
    let total_amount: u128 = ops
        .iter()
        .map(|o| match &o.body {
            Body::Transaction { amount, .. } => *amount,
            Body::Origination { balance, .. } => *balance,
            _ => 0,
        })
        .sum();
    let total_fee: u128 = ops
        .iter()
        .filter_map(|o| o.manager.as_ref())
        .map(|m| m.fee)
        .sum();
    let burn: u128 = ops
        .iter()
        .filter_map(|o| o.manager.as_ref())
        .map(|m| m.storage_limit.saturating_mul(MUTEZ_PER_STORAGE_BYTE))
        .sum();
    let mut lines = vec![
        format!("branch: {}", base58::encode(base58::BLOCK_HASH, branch)),
        format!(
            "{} operation{}, total amount {}, total fee {}, maximum storage burn {}",
            ops.len(),
            if ops.len() == 1 { "" } else { "s" },
            tez(total_amount),
            tez(total_fee),
            tez(burn)
        ),
    ];
    let mut opaque = false;
    for (i, op) in ops.iter().enumerate() {
        opaque |= matches!(op.body, Body::Opaque { .. });
        operation(&mut lines, i + 1, op, signer, verbose);
    }
    Shown {
        lines,
        opaque,
        json: crate::tezos::operation::batch_json(branch, ops),
    }
}

fn operation(lines: &mut Vec<String>, n: usize, op: &Operation, signer: &Pkh, verbose: bool) {
    let head = match &op.body {
        Body::Transaction {
            amount,
            destination,
            parameters,
        } => {
            let to_self =
                op.manager.as_ref().map(|m| Destination::Implicit(m.source)) == Some(*destination);
            match parameters {
                Some(p) if to_self && STAKING.contains(&p.entrypoint.as_str()) => format!(
                    "staking operation {}: {} ({} to itself)",
                    p.entrypoint,
                    tez(*amount),
                    destination
                ),
                Some(p) => format!(
                    "transaction: {} to {destination}, entrypoint {}",
                    tez(*amount),
                    p.entrypoint
                ),
                None => format!("transaction: {} to {destination}", tez(*amount)),
            }
        }
        Body::Origination {
            balance, delegate, ..
        } => format!(
            "origination: a new contract with {}{}",
            tez(*balance),
            delegate
                .map(|d| format!(", delegated to {d}"))
                .unwrap_or_default()
        ),
        Body::Delegation { delegate: Some(d) } => format!("delegation: to {d}"),
        Body::Delegation { delegate: None } => "delegation: withdraw (no delegate)".into(),
        Body::Reveal { public_key, proof } => format!(
            "reveal: public key {}{}",
            public_key.to_base58(),
            if proof.is_some() {
                " (with its proof)"
            } else {
                ""
            }
        ),
        Body::UpdateKey { public_key, proof } => format!(
            "{}: new key {}{}",
            op.kind,
            public_key.to_base58(),
            if proof.is_some() {
                " (with its proof)"
            } else {
                ""
            }
        ),
        Body::SetDepositsLimit { limit } => match limit {
            Some(l) => format!("set_deposits_limit: {}", tez(*l)),
            None => "set_deposits_limit: remove the limit".into(),
        },
        Body::IncreasePaidStorage {
            amount,
            destination,
        } => format!(
            "increase_paid_storage: {amount} bytes for {}",
            base58::encode(base58::KT1, destination)
        ),
        Body::RegisterGlobalConstant { .. } => "register_global_constant".into(),
        Body::TransferTicket {
            ticketer,
            amount,
            destination,
            entrypoint,
            ..
        } => format!(
            "transfer_ticket: {amount} of {ticketer}'s ticket to {destination}, entrypoint {entrypoint}"
        ),
        Body::DrainDelegate {
            consensus_key,
            delegate,
            destination,
        } => format!(
            "drain_delegate: all of {delegate}'s spendable balance to {destination} (signed by its consensus key {consensus_key})"
        ),
        Body::Ballot {
            source,
            period,
            proposal,
            vote,
        } => format!(
            "ballot: {} on {} (period {period}, voter {source})",
            vote.name(),
            base58::encode(base58::PROTOCOL, proposal)
        ),
        Body::Proposals {
            source,
            period,
            proposals,
        } => format!(
            "proposals: {} (period {period}, by {source})",
            proposals
                .iter()
                .map(|p| base58::encode(base58::PROTOCOL, p))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Body::ActivateAccount { pkh, .. } => format!("activate_account: {pkh}"),
        Body::FailingNoop { message } => format!(
            "failing_noop: {} bytes (can never be included in a block): {}",
            message.len(),
            String::from_utf8_lossy(message).escape_debug()
        ),
        Body::Opaque { bytes } => format!(
            "{}: {} bytes whose fields this signer does not decode",
            op.kind,
            bytes.len()
        ),
    };
    lines.push(format!("{n}. {head}"));
    if let Some(m) = &op.manager {
        let from = if m.source == *signer {
            String::new()
        } else {
            format!(" — source {} is not the signing key", m.source)
        };
        lines.push(format!(
            "     source {}, fee {}, storage limit {} (burns at most {}){from}",
            m.source,
            tez(m.fee),
            m.storage_limit,
            tez(m.storage_limit.saturating_mul(MUTEZ_PER_STORAGE_BYTE))
        ));
        if verbose {
            lines.push(format!(
                "     counter {}, gas limit {}",
                m.counter, m.gas_limit
            ));
        }
    }
    if op.kind == OperationKind::DrainDelegate {
        lines.push(
            "     WARNING: this moves the delegate's whole spendable balance; only sign it to \
             recover from a compromised manager key"
                .into(),
        );
    }
    match &op.body {
        Body::Transaction {
            parameters: Some(p),
            ..
        } => michelson(lines, "parameters", &p.value),
        Body::Origination { code, storage, .. } => {
            michelson(lines, "code", code);
            michelson(lines, "storage", storage);
        }
        Body::RegisterGlobalConstant { value } => michelson(lines, "value", value),
        Body::TransferTicket { contents, ty, .. } => {
            michelson(lines, "ticket type", ty);
            michelson(lines, "ticket contents", contents);
        }
        _ => {}
    }
}

/// The lines for any request, or the decoder's error when it cannot be decoded.
pub fn request(
    signer: &Pkh,
    req: &SigningRequest,
    verbose: bool,
) -> Result<Shown, crate::tezos::DecodeError> {
    match req {
        SigningRequest::Generic(g) => {
            let ops = crate::tezos::operation::decode_contents(&g.contents)?;
            Ok(operations(signer, &g.branch, &ops, verbose))
        }
        SigningRequest::MichelsonData(data) => {
            let m = crate::tezos::micheline::decode(data, 1)?;
            Ok(Shown {
                lines: vec![
                    "Michelson data (review carefully):".into(),
                    format!("  {}", m.to_michelson()),
                ],
                opaque: false,
                json: m.to_json(),
            })
        }
        SigningRequest::Authentication(_) => Ok(Shown {
            lines: vec!["an authentication payload (0x04)".into()],
            opaque: true,
            json: serde_json::Value::Null,
        }),
        other => {
            let s = other.summary();
            Ok(Shown {
                lines: consensus(other),
                opaque: false,
                json: serde_json::json!({
                    "chain": s.chain.map(|c| c.to_string()),
                    "level": s.level,
                    "round": s.round,
                }),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tezos::operation::{ManagerHeader, Parameters};

    const ME: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";

    fn me() -> Pkh {
        ME.parse().expect("pkh")
    }

    fn managed(kind: OperationKind, fee: u128, storage_limit: u128, body: Body) -> Operation {
        Operation {
            kind,
            offset: 33,
            size: 0,
            manager: Some(ManagerHeader {
                source: me(),
                fee,
                counter: 7,
                gas_limit: 1000,
                storage_limit,
            }),
            body,
        }
    }

    fn shown(ops: &[Operation]) -> String {
        operations(&me(), &[0; 32], ops, false).lines.join("\n")
    }

    #[test]
    fn the_summary_adds_amounts_fees_and_the_storage_burn() {
        let to =
            Destination::Implicit("tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx".parse().expect("pkh"));
        let tx = |amount| Body::Transaction {
            amount,
            destination: to,
            parameters: None,
        };
        let text = shown(&[
            managed(OperationKind::Transaction, 1_000, 100, tx(1_500_000)),
            managed(OperationKind::Transaction, 500, 157, tx(250_000)),
        ]);
        assert!(
            text.contains(
                "2 operations, total amount 1.75 ꜩ, total fee 0.0015 ꜩ, maximum storage burn 0.06425 ꜩ"
            ),
            "{text}"
        );
        assert!(text.contains("1. transaction: 1.5 ꜩ to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx"));
        assert!(!text.contains("counter"), "counter only with -v");
    }

    #[test]
    fn self_transfers_to_staking_entrypoints_are_named_as_staking() {
        for entrypoint in STAKING {
            let body = Body::Transaction {
                amount: 2_000_000,
                destination: Destination::Implicit(me()),
                parameters: Some(Parameters {
                    entrypoint: entrypoint.into(),
                    value: Micheline::Prim {
                        prim: "Unit",
                        args: vec![],
                        annots: vec![],
                    },
                }),
            };
            let text = shown(&[managed(OperationKind::Transaction, 0, 0, body)]);
            assert!(
                text.contains(&format!(
                    "staking operation {entrypoint}: 2 ꜩ ({ME} to itself)"
                )),
                "{text}"
            );
        }
    }

    #[test]
    fn drain_delegate_is_warned_about() {
        let p = me();
        let op = Operation {
            kind: OperationKind::DrainDelegate,
            offset: 33,
            size: 64,
            manager: None,
            body: Body::DrainDelegate {
                consensus_key: p,
                delegate: p,
                destination: p,
            },
        };
        let text = shown(&[op]);
        assert!(
            text.contains("WARNING: this moves the delegate's whole spendable balance"),
            "{text}"
        );
    }
}
