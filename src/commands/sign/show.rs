//! What `sign` shows a person before anything is signed: each operation with its kind and
//! fields, Michelson for parameters, code and storage (after a "review carefully" line), and
//! warnings where an operation moves more than it seems to; then, last, a short fixed summary
//! ([`super::summary`]) that no detail above can push off the screen.
//!
//! Long Michelson strings and bytes (and failing_noop messages) are shortened to their start,
//! length and blake2b-256 hash unless `--full`, and every character of a string outside
//! printable ASCII is escaped (`summary::Render`).
//!
//! Owns: turning decoded requests into lines of text. Pure: no I/O, no prompt.

use super::summary::{self, Notes, Render};
use crate::policy::value::MUTEZ_PER_STORAGE_BYTE;
use crate::tezos::base58;
use crate::tezos::micheline::Micheline;
use crate::tezos::operation::{Body, Destination, Operation, OperationKind};
use crate::tezos::{BlockHeader, ConsensusOperation, Pkh, SigningRequest};

use crate::tezos::tez::format as tez;

/// How much to show.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// Counters and gas limits too (`-v`).
    pub verbose: bool,
    /// Long strings and bytes whole (`--full`).
    pub full: bool,
}

/// What the screen shows for one request, and whether it could be decoded.
pub(crate) struct Shown {
    /// The details, operation by operation.
    pub lines: Vec<String>,
    /// The fixed summary, to print last, right above the prompt: the key, what is signed,
    /// the value at risk, every destination (bounded) and the warnings.
    pub summary: Vec<String>,
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

fn michelson(lines: &mut Vec<String>, render: &mut Render, label: &str, m: &Micheline) {
    lines.push(format!("     {label} (review carefully):"));
    lines.push(format!("       {}", render.michelson(m)));
}

/// The lines for a batch of generic operations signed by `signer`: the details, and the
/// summary to print last.
pub(crate) fn operations(
    signer: &Pkh,
    branch: &[u8; 32],
    ops: &[Operation],
    options: Options,
) -> Shown {
    let mut render = Render::new(options.full);
    let mut lines = vec![format!(
        "branch: {}",
        base58::encode(base58::BLOCK_HASH, branch)
    )];
    let mut opaque = false;
    for (i, op) in ops.iter().enumerate() {
        opaque |= matches!(op.body, Body::Opaque { .. });
        operation(&mut lines, i + 1, op, signer, &mut render, options.verbose);
    }
    Shown {
        lines,
        summary: summary::batch(signer, ops, &render.notes),
        opaque,
        json: crate::tezos::operation::batch_json(branch, ops),
    }
}

/// What `increase_paid_storage` of `amount` bytes burns.
fn paid_storage_burn(amount: &crate::tezos::zarith::Zarith) -> String {
    match amount
        .to_u128()
        .and_then(|a| a.checked_mul(MUTEZ_PER_STORAGE_BYTE))
    {
        Some(burn) => tez(burn),
        None => "more than can be counted".into(),
    }
}

fn operation(
    lines: &mut Vec<String>,
    n: usize,
    op: &Operation,
    signer: &Pkh,
    render: &mut Render,
    verbose: bool,
) {
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
            "increase_paid_storage: {amount} bytes for {}, burns {}",
            base58::encode(base58::KT1, destination),
            paid_storage_burn(amount)
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
            render.message(message)
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
        } => michelson(lines, render, "parameters", &p.value),
        Body::Origination { code, storage, .. } => {
            michelson(lines, render, "code", code);
            michelson(lines, render, "storage", storage);
        }
        Body::RegisterGlobalConstant { value } => michelson(lines, render, "value", value),
        Body::TransferTicket { contents, ty, .. } => {
            michelson(lines, render, "ticket type", ty);
            michelson(lines, render, "ticket contents", contents);
        }
        _ => {}
    }
}

/// The lines for any request, or the decoder's error when it cannot be decoded.
pub(crate) fn request(
    signer: &Pkh,
    req: &SigningRequest,
    options: Options,
) -> Result<Shown, crate::tezos::DecodeError> {
    match req {
        SigningRequest::Generic(g) => {
            let ops = crate::tezos::operation::decode_contents(&g.contents)?;
            Ok(operations(signer, &g.branch, &ops, options))
        }
        SigningRequest::MichelsonData(data) => {
            let m = crate::tezos::micheline::decode(data, 1)?;
            let mut render = Render::new(options.full);
            let lines = vec![
                "Michelson data (review carefully):".into(),
                format!("  {}", render.michelson(&m)),
            ];
            let what = format!(
                "Michelson data (0x05), {} bytes, blake2b-256 {}: what it authorizes is up to \
                 the contract that checks it",
                data.len(),
                summary::hash(data)
            );
            Ok(Shown {
                lines,
                summary: summary::single(signer, &what, &render.notes),
                opaque: false,
                json: m.to_json(),
            })
        }
        SigningRequest::Authentication(_) => Ok(Shown {
            lines: vec!["an authentication payload (0x04)".into()],
            summary: summary::single(
                signer,
                "an authentication payload (0x04)",
                &Notes::default(),
            ),
            opaque: true,
            json: serde_json::Value::Null,
        }),
        other => {
            let s = other.summary();
            let lines = consensus(other);
            Ok(Shown {
                summary: summary::single(signer, &lines.join("; "), &Notes::default()),
                lines,
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
    use crate::testing::forge;
    use crate::tezos::operation::{ManagerHeader, Parameters, decode_contents};

    const ME: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
    const KT1: &str = "KT1RJ6PbjHpwc3M5rw5s2Nbmefwbuwbdxton";

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

    /// The details, then the summary, as the screen shows them.
    fn shown(ops: &[Operation]) -> String {
        let s = operations(&me(), &[0; 32], ops, Options::default());
        [s.lines, s.summary].concat().join("\n")
    }

    /// Forged operations decoded back.
    fn decoded(ops: &[Vec<u8>]) -> Vec<Operation> {
        decode_contents(&forge::request(ops)[33..]).expect("decodes")
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
            text.contains(&format!(
                "key {ME}, 2 operations\n\
                 total amount 1.75 ꜩ, total fee 0.0015 ꜩ, maximum storage burn 0.06425 ꜩ\n\
                 value at risk: 1.81575 ꜩ"
            )),
            "{text}"
        );
        assert!(text.contains("1. transaction: 1.5 ꜩ to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx"));
        assert!(text.contains("to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx: 1.75 ꜩ (2 operations)"));
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
        assert!(
            text.contains("value at risk: EVERYTHING the delegate can spend"),
            "{text}"
        );
    }

    /// 4·10⁹ bytes at 250 mutez each burn 1,000,000 ꜩ: in the operation's line and in the
    /// summary's maximum storage burn.
    #[test]
    fn increase_paid_storage_shows_what_it_burns() {
        let ops = decoded(&[forge::increase_paid_storage(
            ME,
            forge::CHEAP,
            4_000_000_000,
            KT1,
        )]);
        let text = shown(&ops);
        assert!(
            text.contains(&format!(
                "1. increase_paid_storage: 4000000000 bytes for {KT1}, burns 1000000 ꜩ"
            )),
            "{text}"
        );
        assert!(
            text.contains("total fee 0.001 ꜩ, maximum storage burn 1000000 ꜩ"),
            "{text}"
        );
        assert!(text.contains("value at risk: 1000000.001 ꜩ"), "{text}");
    }
}
