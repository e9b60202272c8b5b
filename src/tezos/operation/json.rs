//! Decoded operations as octez shows them in JSON (`octez-client` and the RPCs): the field
//! names and forms of protocol 025 (`"fee": "33"` as a string of mutez, `"period": 719` as a
//! number, hashes and keys in base58, Micheline as Micheline JSON). `sign --json` prints this,
//! and the tests compare it with octez's own JSON for the same bytes.

use serde_json::{Map, Value, json};

use super::{Body, Operation};
use crate::tezos::base58;

fn protocol_hash(h: &[u8; 32]) -> String {
    base58::encode(base58::PROTOCOL, h)
}

fn kt1(h: &[u8; 20]) -> String {
    base58::encode(base58::KT1, h)
}

fn proof(obj: &mut Map<String, Value>, proof: &Option<Vec<u8>>) {
    if let Some(p) = proof {
        obj.insert("proof".into(), json!(base58::encode(base58::BLSIG, p)));
    }
}

impl Operation {
    /// The element as octez's JSON (one object of a `contents` list).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("kind".into(), json!(self.kind.name()));
        if let Some(m) = &self.manager {
            obj.insert("source".into(), json!(m.source.to_string()));
            obj.insert("fee".into(), json!(m.fee.to_string()));
            obj.insert("counter".into(), json!(m.counter.to_string()));
            obj.insert("gas_limit".into(), json!(m.gas_limit.to_string()));
            obj.insert("storage_limit".into(), json!(m.storage_limit.to_string()));
        }
        let mut put = |k: &str, v: Value| {
            obj.insert(k.into(), v);
        };
        match &self.body {
            Body::ActivateAccount { pkh, secret } => {
                put("pkh", json!(pkh.to_string()));
                put("secret", json!(hex::encode(secret)));
            }
            Body::Proposals {
                source,
                period,
                proposals,
            } => {
                put("source", json!(source.to_string()));
                put("period", json!(period));
                put(
                    "proposals",
                    Value::Array(proposals.iter().map(|p| json!(protocol_hash(p))).collect()),
                );
            }
            Body::Ballot {
                source,
                period,
                proposal,
                vote,
            } => {
                put("source", json!(source.to_string()));
                put("period", json!(period));
                put("proposal", json!(protocol_hash(proposal)));
                put("ballot", json!(vote.name()));
            }
            Body::DrainDelegate {
                consensus_key,
                delegate,
                destination,
            } => {
                put("consensus_key", json!(consensus_key.to_string()));
                put("delegate", json!(delegate.to_string()));
                put("destination", json!(destination.to_string()));
            }
            Body::FailingNoop { message } => put("arbitrary", json!(hex::encode(message))),
            Body::Reveal {
                public_key,
                proof: p,
            } => {
                put("public_key", json!(public_key.to_base58()));
                proof(&mut obj, p);
            }
            Body::UpdateKey {
                public_key,
                proof: p,
            } => {
                put("pk", json!(public_key.to_base58()));
                proof(&mut obj, p);
            }
            Body::Transaction {
                amount,
                destination,
                parameters,
            } => {
                put("amount", json!(amount.to_string()));
                put("destination", json!(destination.to_string()));
                if let Some(p) = parameters {
                    put(
                        "parameters",
                        json!({ "entrypoint": p.entrypoint, "value": p.value.to_json() }),
                    );
                }
            }
            Body::Origination {
                balance,
                delegate,
                code,
                storage,
            } => {
                put("balance", json!(balance.to_string()));
                if let Some(d) = delegate {
                    put("delegate", json!(d.to_string()));
                }
                put(
                    "script",
                    json!({ "code": code.to_json(), "storage": storage.to_json() }),
                );
            }
            Body::Delegation { delegate } => {
                if let Some(d) = delegate {
                    put("delegate", json!(d.to_string()));
                }
            }
            Body::RegisterGlobalConstant { value } => put("value", value.to_json()),
            Body::SetDepositsLimit { limit } => {
                if let Some(l) = limit {
                    put("limit", json!(l.to_string()));
                }
            }
            Body::IncreasePaidStorage {
                amount,
                destination,
            } => {
                put("amount", json!(amount.to_decimal()));
                put("destination", json!(kt1(destination)));
            }
            Body::TransferTicket {
                contents,
                ty,
                ticketer,
                amount,
                destination,
                entrypoint,
            } => {
                put("ticket_contents", contents.to_json());
                put("ticket_ty", ty.to_json());
                put("ticket_ticketer", json!(ticketer.to_string()));
                put("ticket_amount", json!(amount.to_string()));
                put("destination", json!(destination.to_string()));
                put("entrypoint", json!(entrypoint));
            }
            Body::Opaque { bytes } => put("undecoded", json!(hex::encode(bytes))),
        }
        Value::Object(obj)
    }
}

/// A whole batch as octez's JSON: `{"branch": "B…", "contents": [...]}`.
pub fn batch_json(branch: &[u8; 32], operations: &[Operation]) -> Value {
    json!({
        "branch": base58::encode(base58::BLOCK_HASH, branch),
        "contents": operations.iter().map(Operation::to_json).collect::<Vec<_>>(),
    })
}
