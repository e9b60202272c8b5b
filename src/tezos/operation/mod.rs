//! Decoding of generic operation batches (magic byte 0x03), every field of every kind of
//! protocol 025 (docs/protocol.md §9; octez's `operation_repr.ml`): the manager header, the
//! kind's own fields, Micheline parameters, code and storage ([`crate::tezos::micheline`]).
//!
//! Owns: walking the contents list (after the 32-byte branch) element by element. Pure and
//! total. An unknown tag, a malformed field or a trailing byte is an error with its offset,
//! never a guess: the policy and `sign` refuse what this module cannot decode. Smart-rollup
//! and DAL kinds are known by name; their fields are not decoded, so they are accepted only as
//! the last element of a batch (where their size is what is left) and shown as opaque bytes.

use super::keys::Pkh;
use super::micheline::Micheline;
use super::reader::{DecodeError, Reader};
use super::zarith;
pub use fields::{Destination, EncodedPublicKey, NAMED_ENTRYPOINTS};
pub use json::batch_json;

mod fields;
mod json;
mod kind;

pub use kind::OperationKind;

use fields::{
    contract, destination, dynamic, entrypoint, malformed, micheline, option_tag,
    optional_trailing_proof, pkh, public_key,
};

/// A ballot's vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    /// For the proposal (encoded 0).
    Yay,
    /// Against the proposal (encoded 1).
    Nay,
    /// Abstention: counts toward the quorum only (encoded 2).
    Pass,
}

impl Vote {
    /// The vote as octez's JSON `"ballot"` field writes it: `yay`, `nay` or `pass`.
    pub fn name(self) -> &'static str {
        match self {
            Vote::Yay => "yay",
            Vote::Nay => "nay",
            Vote::Pass => "pass",
        }
    }
}

/// What every manager operation carries: who pays, how much, and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerHeader {
    /// The implicit account that signs, pays the fee and whose counter is used.
    pub source: Pkh,
    /// Mutez.
    pub fee: u128,
    /// The source's counter for this operation (one more than its last), against replay.
    pub counter: u128,
    /// The most gas units the operation may consume.
    pub gas_limit: u128,
    /// The most new storage, in bytes, the source agrees to pay (burn) for.
    pub storage_limit: u128,
}

/// A transaction's parameters: the entrypoint and the value passed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    /// The entrypoint called: `default`, another well-known one (`do`, `stake`…) or the
    /// contract's own name (at most 31 characters).
    pub entrypoint: String,
    /// The argument passed to the entrypoint.
    pub value: Micheline,
}

/// The kind-specific fields of one element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Activates a fundraiser account (`activate_account`).
    ActivateAccount {
        /// The `tz1` account activated (encoded as its 20 bytes, with no tag).
        pkh: Pkh,
        /// The 20-byte activation code (hex in the JSON).
        secret: [u8; 20],
    },
    /// Submits or upvotes protocol proposals (`proposals`).
    Proposals {
        /// The delegate proposing.
        source: Pkh,
        /// Index of the voting period the proposals are made in.
        period: i32,
        /// The protocol hashes proposed (`P…` in base58), at most 20.
        proposals: Vec<[u8; 32]>,
    },
    /// A vote on the proposal under exploration or promotion (`ballot`).
    Ballot {
        /// The delegate voting.
        source: Pkh,
        /// Index of the voting period the vote is cast in.
        period: i32,
        /// The protocol hash voted on (`P…` in base58).
        proposal: [u8; 32],
        /// The vote cast.
        vote: Vote,
    },
    /// A consensus key draining its delegate's account (`drain_delegate`).
    DrainDelegate {
        /// The delegate's consensus key, which signs the operation.
        consensus_key: Pkh,
        /// The delegate whose spendable balance is moved.
        delegate: Pkh,
        /// The implicit account the balance goes to.
        destination: Pkh,
    },
    /// Arbitrary bytes that can never be included in a block (`failing_noop`).
    FailingNoop {
        /// The bytes signed (hex in the JSON's `arbitrary` field).
        message: Vec<u8>,
    },
    /// Publishes the source's public key (`reveal`).
    Reveal {
        /// The key revealed; its hash must be the manager source.
        public_key: EncodedPublicKey,
        /// For a BLS (`tz4`) key, its 96-byte proof of possession (a BLS signature).
        proof: Option<Vec<u8>>,
    },
    /// A transfer of tez, possibly a contract or rollup call (`transaction`).
    Transaction {
        /// Mutez transferred.
        amount: u128,
        /// The receiving account, contract or rollup.
        destination: Destination,
        /// The entrypoint and argument; `None` for a plain transfer (`Unit` to `default`).
        parameters: Option<Parameters>,
    },
    /// Deploys a smart contract (`origination`).
    Origination {
        /// Mutez the new contract starts with, taken from the source.
        balance: u128,
        /// The new contract's delegate, if any.
        delegate: Option<Pkh>,
        /// The contract's script: its `parameter`, `storage` and `code` sections.
        code: Micheline,
        /// The contract's initial storage.
        storage: Micheline,
    },
    /// Sets the source's delegate (`delegation`).
    Delegation {
        /// The new delegate (the source itself to register as a baker); `None` withdraws.
        delegate: Option<Pkh>,
    },
    /// Stores a global constant (`register_global_constant`).
    RegisterGlobalConstant {
        /// The value, which scripts then reference by its expression hash (`expr…`).
        value: Micheline,
    },
    /// Limits the source delegate's frozen deposits (`set_deposits_limit`).
    SetDepositsLimit {
        /// The cap in mutez; `None` removes it.
        limit: Option<u128>,
    },
    /// Prepays a contract's storage (`increase_paid_storage`).
    IncreasePaidStorage {
        /// Bytes of storage bought (an integer; the protocol wants it positive).
        amount: zarith::Zarith,
        /// The 20-byte hash of the `KT1` contract whose paid storage grows.
        destination: [u8; 20],
    },
    /// `update_consensus_key` and `update_companion_key`.
    UpdateKey {
        /// The new consensus or companion key.
        public_key: EncodedPublicKey,
        /// For a BLS (`tz4`) key, its 96-byte proof of possession (a BLS signature).
        proof: Option<Vec<u8>>,
    },
    /// Sends tickets held by the source (`transfer_ticket`).
    TransferTicket {
        /// The ticket's payload (Micheline data).
        contents: Micheline,
        /// The Michelson type of `contents`.
        ty: Micheline,
        /// The contract that created the ticket.
        ticketer: Destination,
        /// How many units of the ticket are sent.
        amount: u128,
        /// The contract receiving them.
        destination: Destination,
        /// The destination's entrypoint receiving them.
        entrypoint: String,
    },
    /// A kind whose fields are not decoded (smart rollups, DAL): its bytes after the header.
    Opaque {
        /// Everything after the manager header, to the end of the batch.
        bytes: Vec<u8>,
    },
}

/// One decoded element of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The element's kind, from its tag.
    pub kind: OperationKind,
    /// Offset of the element's tag in the whole request (magic byte = 0).
    pub offset: usize,
    /// The element's size in bytes, tag included.
    pub size: usize,
    /// The manager header; `None` for `activate_account`, `proposals`, `ballot`,
    /// `drain_delegate` and `failing_noop`.
    pub manager: Option<ManagerHeader>,
    /// The kind's own fields.
    pub body: Body,
}

impl Operation {
    /// The account the element acts for (manager source, voter, consensus key of a drain),
    /// when the encoding names one.
    pub fn source(&self) -> Option<Pkh> {
        if let Some(m) = &self.manager {
            return Some(m.source);
        }
        match &self.body {
            Body::Proposals { source, .. } | Body::Ballot { source, .. } => Some(*source),
            Body::DrainDelegate { consensus_key, .. } => Some(*consensus_key),
            _ => None,
        }
    }
}

/// Offset of the contents in a generic request: magic byte (1) + branch (32).
pub const CONTENTS_OFFSET: usize = 33;

/// Decodes a contents list (the bytes after the branch) into its elements.
pub fn decode_contents(contents: &[u8]) -> Result<Vec<Operation>, DecodeError> {
    let mut r = Reader::with_base(contents, CONTENTS_OFFSET);
    let mut out = Vec::new();
    if r.is_empty() {
        return Err(DecodeError::Truncated {
            what: "operation contents",
            offset: CONTENTS_OFFSET,
            needed: 1,
        });
    }
    while !r.is_empty() {
        let offset = r.offset();
        let tag = r.u8("operation tag")?;
        let kind =
            OperationKind::from_tag(tag).ok_or(DecodeError::UnknownOperationTag { tag, offset })?;
        let (manager, body) = decode_element(&mut r, kind)?;
        out.push(Operation {
            kind,
            offset,
            size: r.offset() - offset,
            manager,
            body,
        });
    }
    Ok(out)
}

fn manager_header(r: &mut Reader<'_>) -> Result<ManagerHeader, DecodeError> {
    Ok(ManagerHeader {
        source: pkh(r, "manager source")?,
        fee: zarith::mutez(r, "fee")?,
        counter: zarith::natural_u128(r, "counter")?,
        gas_limit: zarith::natural_u128(r, "gas limit")?,
        storage_limit: zarith::natural_u128(r, "storage limit")?,
    })
}

/// Decodes one element after its tag.
fn decode_element(
    r: &mut Reader<'_>,
    kind: OperationKind,
) -> Result<(Option<ManagerHeader>, Body), DecodeError> {
    use OperationKind::*;
    let body = match kind {
        ActivateAccount => Body::ActivateAccount {
            pkh: Pkh::new(
                super::keys::PkhKind::Tz1,
                r.array("activation public key hash")?,
            ),
            secret: r.array("activation code")?,
        },
        Proposals => {
            let source = pkh(r, "proposals source")?;
            let period = r.i32("voting period")?;
            let at = r.offset();
            let (list, _) = dynamic(r, "proposals list")?;
            if list.len() % 32 != 0 || list.len() > 20 * 32 {
                return Err(malformed(
                    "proposals list",
                    at,
                    "not a list of at most 20 protocol hashes",
                ));
            }
            let proposals = list
                .chunks_exact(32)
                .map(|c| {
                    let mut h = [0u8; 32];
                    h.copy_from_slice(c);
                    h
                })
                .collect();
            Body::Proposals {
                source,
                period,
                proposals,
            }
        }
        Ballot => {
            let source = pkh(r, "ballot source")?;
            let period = r.i32("voting period")?;
            let proposal = r.array("proposal")?;
            let at = r.offset();
            let vote = match r.u8("ballot")? {
                0 => Vote::Yay,
                1 => Vote::Nay,
                2 => Vote::Pass,
                _ => return Err(malformed("ballot", at, "not yay (0), nay (1) or pass (2)")),
            };
            Body::Ballot {
                source,
                period,
                proposal,
                vote,
            }
        }
        DrainDelegate => Body::DrainDelegate {
            consensus_key: pkh(r, "consensus key")?,
            delegate: pkh(r, "delegate")?,
            destination: pkh(r, "destination")?,
        },
        FailingNoop => Body::FailingNoop {
            message: dynamic(r, "failing_noop payload")?.0.to_vec(),
        },
        _ => {
            let header = manager_header(r)?;
            let body = decode_manager_body(r, kind)?;
            return Ok((Some(header), body));
        }
    };
    Ok((None, body))
}

fn decode_manager_body(r: &mut Reader<'_>, kind: OperationKind) -> Result<Body, DecodeError> {
    use OperationKind::*;
    Ok(match kind {
        Reveal => Body::Reveal {
            public_key: public_key(r, "public key")?,
            proof: optional_trailing_proof(r)?,
        },
        UpdateConsensusKey | UpdateCompanionKey => Body::UpdateKey {
            public_key: public_key(r, "public key")?,
            proof: optional_trailing_proof(r)?,
        },
        Transaction => {
            let amount = zarith::mutez(r, "amount")?;
            let destination = destination(r, "destination")?;
            let parameters = if option_tag(r, "parameters")? {
                Some(Parameters {
                    entrypoint: entrypoint(r)?,
                    value: micheline(r, "parameters value")?,
                })
            } else {
                None
            };
            Body::Transaction {
                amount,
                destination,
                parameters,
            }
        }
        Origination => {
            let balance = zarith::mutez(r, "balance")?;
            let delegate = if option_tag(r, "delegate")? {
                Some(pkh(r, "delegate")?)
            } else {
                None
            };
            Body::Origination {
                balance,
                delegate,
                code: micheline(r, "script code")?,
                storage: micheline(r, "script storage")?,
            }
        }
        Delegation => Body::Delegation {
            delegate: if option_tag(r, "delegate")? {
                Some(pkh(r, "delegate")?)
            } else {
                None
            },
        },
        RegisterGlobalConstant => Body::RegisterGlobalConstant {
            value: micheline(r, "constant value")?,
        },
        SetDepositsLimit => Body::SetDepositsLimit {
            limit: if option_tag(r, "limit")? {
                Some(zarith::mutez(r, "limit")?)
            } else {
                None
            },
        },
        IncreasePaidStorage => {
            let amount = zarith::integer(r, "amount")?;
            // An originated contract: tag 1, 20-byte hash, one padding byte.
            let at = r.offset();
            let Destination::Originated(destination) = contract(r, "destination contract")? else {
                return Err(malformed(
                    "destination contract",
                    at,
                    "must be an originated contract (KT1)",
                ));
            };
            Body::IncreasePaidStorage {
                amount,
                destination,
            }
        }
        TransferTicket => {
            let contents = micheline(r, "ticket contents")?;
            let ty = micheline(r, "ticket type")?;
            let ticketer = contract(r, "ticketer")?;
            let amount = zarith::natural_u128(r, "ticket amount")?;
            let destination = contract(r, "destination")?;
            let (name, at) = dynamic(r, "entrypoint")?;
            let entrypoint = fields::entrypoint_name(name, at)?;
            Body::TransferTicket {
                contents,
                ty,
                ticketer,
                amount,
                destination,
                entrypoint,
            }
        }
        k if k.is_opaque() => {
            // Known by name only: its size is what is left, so it must come last.
            Body::Opaque {
                bytes: r.rest().to_vec(),
            }
        }
        // The non-manager kinds are decoded by `decode_element` and never get here.
        _ => {
            return Err(malformed(
                "operation",
                r.offset(),
                "not a manager operation",
            ));
        }
    })
}

#[cfg(test)]
mod tests;
