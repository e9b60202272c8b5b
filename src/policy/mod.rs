//! What may be signed: the `--magic-bytes` whitelist and the per-key `--policy` file.
//!
//! Owns: the decision, for a known key and a parsed request, whether its kind, chain and (for
//! generic operations) every operation kind in the batch are allowed. Pure once loaded.
//! Never allows what it cannot decode: a generic batch with an unknown element is refused.
//!
//! Policy file (TOML). Keys are matched by pkh first, then by vault key name; keys without
//! an entry use `[default]`, and without `[default]` may sign nothing.
//! ```toml
//! [default]
//! kinds = ["block", "preattestation", "attestation", "attestation_with_dal"]
//!
//! [keys."tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt"]   # or a vault key name: [keys.baker-1]
//! kinds = ["block", "preattestation", "attestation", "generic"]
//! generic = ["reveal", "delegation"]             # required with "generic"
//! chains = ["NetXdQprcVkpaWU"]                    # optional; absent = any chain
//! ```
//! Chains restrict requests that name one (blocks and consensus operations); generic
//! operations and Michelson data carry no chain id. Generic operations are further bounded by
//! their value at risk ([`value`], [`fields`]): `[keys.X.spending]` and `[keys.X.allow]`, in
//! docs/watermarks-policy-auth.md.
//!
//! With `serve --confirm`, the verdict is [`Decision::Allow`], [`Decision::Hold`] (a person
//! may approve what the rules refused) or [`Decision::Refuse`] (never held: what cannot be
//! decoded or counted, authentication payloads).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use fields::{FieldRules, Grants};

mod fields;
pub(crate) mod spending;
pub(crate) mod value;

use crate::tezos::operation::{Operation, decode_contents};
use crate::tezos::{
    ChainId, DecodeError, MagicByte, OperationKind, Pkh, RequestKind, SigningRequest, tez,
};
use value::Exposure;

/// Why a request is refused by the policy. Formatted only when shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRefusal {
    /// The request is an authentication payload (magic byte 0x04): never signed with a
    /// signing key, whatever the policy, and never held for a person.
    #[error("authentication payloads (magic byte 0x04) are never signed with key {pkh}")]
    Authentication {
        /// The key the request asked to sign with.
        pkh: Pkh,
    },
    /// The key's rule (without a policy file: the baking kinds) does not list the request's
    /// kind, e.g. `generic` for a baking-only key.
    #[error("request kind {kind} is not allowed for key {pkh}")]
    Kind {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// The request's policy kind (Emmy blocks and endorsements count as their successors).
        kind: RequestKind,
    },
    /// The request names a chain (a block or consensus operation) outside the key's `chains`.
    #[error("chain {chain} is not allowed for key {pkh}")]
    Chain {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// The chain id the request names.
        chain: ChainId,
    },
    /// A generic batch, or Michelson data that would be held for a person, does not decode:
    /// its contents cannot be checked, so it is never held.
    #[error("generic operation refused for key {pkh}: cannot check its contents: {reason}")]
    Undecodable {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// Why it did not decode.
        reason: DecodeError,
    },
    /// A generic batch holds an operation kind the key's `generic` list does not name.
    #[error(
        "operation kind {kind} is not allowed for key {pkh} (allowed: {})",
        names(allowed)
    )]
    Operation {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// The first operation kind in the batch that is not allowed.
        kind: OperationKind,
        /// The key's `generic` list, for the message.
        allowed: Vec<OperationKind>,
    },
    /// A policy file is loaded, the key has no section of its own (by pkh or vault name) and
    /// there is no `[default]`: the key may sign nothing.
    #[error("key {pkh} has no entry in the policy file and there is no [default]")]
    NoRule {
        /// The key the request asked to sign with.
        pkh: Pkh,
    },
    /// A generic batch holds an operation kind this signer knows by name only: neither its
    /// fields nor what follows it can be checked, so it is never held.
    #[error(
        "operation kind {kind} is refused for key {pkh}: this signer knows it by name only, so \
         it cannot check its fields (nor what may follow it in the batch)"
    )]
    Unchecked {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// The kind known by name only, whose fields this signer does not decode.
        kind: OperationKind,
    },
    /// An operation's fee is above the key's `max_fee`.
    #[error(
        "operation {index} breaks max_fee for key {pkh}: its fee {} is above {}",
        tez::format(*fee), tez::format(*limit)
    )]
    MaxFee {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// 1-based position of the operation in the batch.
        index: usize,
        /// Mutez: the operation's fee.
        fee: u128,
        /// Mutez: the key's `max_fee`.
        limit: u128,
    },
    /// The request's value at risk (amounts, balances, fees, storage burns) is above the
    /// key's `max_per_request`.
    #[error(
        "the request breaks max_per_request for key {pkh}: its value at risk (amounts, \
         balances, fees and storage burns) is {}, above {}",
        tez::format(*total), tez::format(*limit)
    )]
    MaxPerRequest {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// Mutez: the request's value at risk.
        total: u128,
        /// Mutez: the key's `max_per_request`.
        limit: u128,
    },
    /// The batch's value at risk cannot be summed (a sum overflows), so no limit can be
    /// checked; never held.
    #[error(
        "the request's value at risk cannot be counted for key {pkh} (a sum overflows): refused"
    )]
    Uncountable {
        /// The key the request asked to sign with.
        pkh: Pkh,
    },
    /// The batch has a `drain_delegate` (it moves the delegate's whole balance) while the key
    /// has a `max_per_request` or `max_total_24h`, which it could not respect.
    #[error(
        "the request has a drain_delegate for key {pkh}, which can move the delegate's whole \
         balance: no max_per_request or max_total_24h can bound it, so it is refused while \
         either is set"
    )]
    Everything {
        /// The key the request asked to sign with.
        pkh: Pkh,
    },
    /// An operation sends value (a granted drain or ticket transfer included) to an address
    /// outside the key's `destinations`.
    #[error(
        "operation {index} ({kind}) breaks destinations for key {pkh}: it sends value to \
         {destination}, which is not an allowed destination"
    )]
    Destination {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// 1-based position of the operation in the batch.
        index: usize,
        /// The operation's kind (transaction, origination, drain, ticket transfer, …).
        kind: OperationKind,
        /// The receiving address, or "a new contract" for an origination.
        destination: String,
    },
    /// An operation hands over control of funds (consensus key, drain, delegate parameters,
    /// contract call, ticket transfer) and the key's `[keys.X.allow]` does not name it.
    #[error(
        "operation {index} is {what}, which hands over control of funds: key {pkh} may sign it \
         only if the policy names it (`{grant}` under [keys.<key>.allow])"
    )]
    NotGranted {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// 1-based position of the operation in the batch.
        index: usize,
        /// What the operation hands over, e.g. "drain_delegate of everything to tz1…".
        what: String,
        /// The line that would allow it, e.g. `drain_to = ["tz1…"]`.
        grant: String,
    },
    /// Counting this request in the key's rolling 24-hour spending log would pass its
    /// `max_total_24h`.
    #[error(
        "the request breaks max_total_24h for key {pkh}: {} already at risk in the last 24 \
         hours, {} more would pass the limit of {}",
        tez::format(*spent), tez::format(*amount), tez::format(*limit)
    )]
    MaxTotal24h {
        /// The key the request asked to sign with.
        pkh: Pkh,
        /// Mutez already counted in the last 24 hours (`u128::MAX` if that sum overflowed).
        spent: u128,
        /// Mutez this request would add (a drain counts as the whole limit).
        amount: u128,
        /// Mutez: the key's `max_total_24h`.
        limit: u128,
    },
}

impl PolicyRefusal {
    /// Whether a person may approve what this refused (`serve --confirm`): not what cannot be
    /// decoded or counted, nor an authentication payload.
    pub fn holdable(&self) -> bool {
        !matches!(
            self,
            PolicyRefusal::Authentication { .. }
                | PolicyRefusal::Undecodable { .. }
                | PolicyRefusal::Unchecked { .. }
                | PolicyRefusal::Uncountable { .. }
        )
    }
}

/// A request's value at risk to count against its key's rolling 24-hour limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// Mutez.
    pub amount: u128,
    /// Mutez: `max_total_24h`.
    pub limit: u128,
}

/// What the policy allows, and what it asks of the pipeline before the vault is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The value at risk to count against the key's rolling 24-hour limit, when it has one.
    pub charge: Option<Charge>,
}

/// The policy's verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The rules allow it; the verdict says what to count against the 24-hour limit.
    Allow(Verdict),
    /// Refused by the rules, but `--confirm` covers it: a person may approve it. Once
    /// approved, `charge` is counted like an allowed request's.
    Hold {
        /// The rules' refusal, shown to the person in `sign --pending`.
        reason: PolicyRefusal,
        /// Its value at risk, when the key has a 24-hour limit.
        charge: Option<Charge>,
    },
    /// Refused outright: `--confirm` does not cover its magic byte, or it cannot be shown in
    /// full and counted (see [`PolicyRefusal::holdable`]).
    Refuse(PolicyRefusal),
}

fn names(kinds: &[OperationKind]) -> String {
    if kinds.is_empty() {
        return "none".into();
    }
    kinds
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors in `--magic-bytes` or the policy file.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// An item of `--magic-bytes` is not a hex byte, or not a Tezos magic byte; holds the
    /// whole value and why.
    #[error(
        "bad --magic-bytes value {0:?} ({1}): expected a comma-separated list such as 0x11,0x12,0x13"
    )]
    MagicBytes(String, String),
    /// The `--policy` file could not be read (missing, unreadable, or not UTF-8).
    #[error("cannot read the policy file {path}: {source}")]
    Read {
        /// The file given as `--policy`, as displayed.
        path: String,
        /// The I/O error from reading it.
        #[source]
        source: std::io::Error,
    },
    /// The policy file is not valid TOML, has an unknown field, or breaks a rule (an unknown
    /// kind or chain, `generic` without its list, a missing grant, …); holds the message,
    /// which names the section.
    #[error("invalid policy file: {0}")]
    Invalid(String),
}

/// The magic bytes a signer accepts (`--magic-bytes`), default 0x11, 0x12, 0x13.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagicBytes(BTreeSet<u8>);

impl MagicBytes {
    /// The set of `bytes`, taken as they are (parsing `--magic-bytes` also refuses bytes that
    /// are no Tezos magic byte).
    pub fn new(bytes: impl IntoIterator<Item = u8>) -> Self {
        MagicBytes(bytes.into_iter().collect())
    }
    /// Whether a request whose first byte is `byte` passes the whitelist.
    pub fn allows(&self, byte: u8) -> bool {
        self.0.contains(&byte)
    }
    /// The accepted magic bytes, in order.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        self.0.iter().copied()
    }
}

impl Default for MagicBytes {
    fn default() -> Self {
        MagicBytes::new(MagicByte::BAKING.map(MagicByte::byte))
    }
}

/// One magic byte, always hexadecimal (`0x11` or `11`), and one Tezos knows.
pub fn parse_magic_byte(s: &str) -> Result<u8, String> {
    let t = s.trim();
    let digits = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let not_hex = || format!("{s:?} is not a hex byte");
    if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(not_hex());
    }
    let b = u8::from_str_radix(digits, 16).map_err(|_| not_hex())?;
    if MagicByte::from_byte(b).is_none() {
        return Err(format!("0x{b:02x} is not a Tezos magic byte"));
    }
    Ok(b)
}

impl FromStr for MagicBytes {
    type Err = PolicyError;
    /// A comma-separated list of [`parse_magic_byte`] items.
    fn from_str(s: &str) -> Result<Self, PolicyError> {
        s.split(',')
            .map(parse_magic_byte)
            .collect::<Result<BTreeSet<u8>, String>>()
            .map(MagicBytes)
            .map_err(|why| PolicyError::MagicBytes(s.to_string(), why))
    }
}

impl fmt::Display for MagicBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(|b| format!("0x{b:02x}")).collect();
        f.write_str(&items.join(","))
    }
}

/// What one key may sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRule {
    /// Request kinds the key may sign, by their policy kind (`block`, `attestation`,
    /// `generic`, …; Emmy blocks and endorsements count as `block` and `attestation`).
    pub kinds: BTreeSet<RequestKind>,
    /// Operation kinds allowed inside generic (0x03) batches.
    pub generic: BTreeSet<OperationKind>,
    /// Allowed chains; `None` = any.
    pub chains: Option<BTreeSet<ChainId>>,
    /// Rules over the fields of generic operations.
    pub fields: FieldRules,
}

impl KeyRule {
    /// The rule without a policy file: baking kinds on any chain.
    pub fn baking() -> Self {
        KeyRule {
            kinds: RequestKind::BAKING.into_iter().collect(),
            generic: BTreeSet::new(),
            chains: None,
            fields: FieldRules::default(),
        }
    }

    /// The 24-hour charge of a batch with this exposure, when the key has a 24-hour limit.
    /// A drain (approved by a person) takes the whole day's budget.
    fn charge(&self, exposure: &Exposure) -> Option<Charge> {
        let limit = self.fields.max_total_24h?;
        let amount = match exposure.total() {
            Some(_) if exposure.everything => limit,
            Some(total) => total,
            None => u128::MAX,
        };
        Some(Charge { amount, limit })
    }

    /// What a person's approval of `req` costs against the 24-hour limit (its value at risk),
    /// whatever the rules said of it.
    fn charge_of(&self, req: &SigningRequest) -> Option<Charge> {
        let SigningRequest::Generic(op) = req else {
            return None;
        };
        let ops = decode_contents(&op.contents).ok()?;
        self.charge(&Exposure::of(&ops))
    }

    /// Checks `req` for the key `pkh`.
    pub fn check(&self, pkh: &Pkh, req: &SigningRequest) -> Result<Verdict, PolicyRefusal> {
        let pkh = *pkh;
        let Some(kind) = req.kind().policy_kind() else {
            return Err(PolicyRefusal::Authentication { pkh });
        };
        if !self.kinds.contains(&kind) {
            return Err(PolicyRefusal::Kind { pkh, kind });
        }
        if let (Some(chains), Some(chain)) = (&self.chains, req.chain_id())
            && !chains.contains(&chain)
        {
            return Err(PolicyRefusal::Chain { pkh, chain });
        }
        if let SigningRequest::Generic(op) = req {
            let ops = checkable_batch(&pkh, &op.contents)?;
            if let Some(bad) = ops.iter().find(|o| !self.generic.contains(&o.kind)) {
                return Err(PolicyRefusal::Operation {
                    pkh,
                    kind: bad.kind,
                    allowed: self.generic.iter().copied().collect(),
                });
            }
            let exposure = Exposure::of(&ops);
            self.fields.check(&pkh, &ops, &exposure)?;
            return Ok(Verdict {
                charge: self.charge(&exposure),
            });
        }
        Ok(Verdict::default())
    }
}

/// A loaded `--policy` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRules {
    /// `[default]`: the rule of keys without a section of their own; without it, such keys
    /// may sign nothing.
    pub default: Option<KeyRule>,
    /// By pkh (`tz…`) or vault key name, as written in the file.
    pub keys: BTreeMap<String, KeyRule>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    default: Option<RawRule>,
    #[serde(default)]
    keys: BTreeMap<String, RawRule>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    kinds: Vec<String>,
    #[serde(default)]
    generic: Option<Vec<String>>,
    #[serde(default)]
    chains: Option<Vec<String>>,
    /// Tez, the largest fee of one generic operation.
    #[serde(default)]
    max_fee: Option<String>,
    /// Bounds on the value at risk.
    #[serde(default)]
    spending: Option<fields::RawSpending>,
    /// The older spelling of `spending`.
    #[serde(default)]
    transaction: Option<fields::RawSpending>,
    /// Operations that hand over control of funds, named explicitly.
    #[serde(default)]
    allow: Option<fields::RawGrants>,
}

impl PolicyRules {
    /// Reads and parses the `--policy` file at `path`.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses policy TOML (format in the module docs). Anything it does not understand is an
    /// error, never ignored: unknown fields, kinds or chains, and missing grants.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let raw: RawFile =
            toml::from_str(text).map_err(|e| PolicyError::Invalid(e.message().to_string()))?;
        let default = raw
            .default
            .map(|r| convert_rule("[default]", r))
            .transpose()?;
        let mut keys = BTreeMap::new();
        for (id, rule) in raw.keys {
            let valid_id = if id.starts_with("tz") {
                id.parse::<Pkh>().is_ok()
            } else {
                !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            };
            if !valid_id {
                return Err(PolicyError::Invalid(format!(
                    "[keys.{id:?}]: not a public key hash nor a vault key name"
                )));
            }
            let rule = convert_rule(&format!("[keys.{id:?}]"), rule)?;
            keys.insert(id, rule);
        }
        Ok(PolicyRules { default, keys })
    }

    /// The rule for a key: by pkh, then by vault key name, then `[default]`.
    pub fn rule_for(&self, pkh: &Pkh, name: Option<&str>) -> Option<&KeyRule> {
        self.keys
            .get(&pkh.to_string())
            // A vault key *named* like a pkh must not take that key's section.
            .or_else(|| {
                name.filter(|n| n.parse::<Pkh>().is_err())
                    .and_then(|n| self.keys.get(n))
            })
            .or(self.default.as_ref())
    }
}

fn convert_rule(section: &str, raw: RawRule) -> Result<KeyRule, PolicyError> {
    let invalid = |msg: String| PolicyError::Invalid(format!("{section}: {msg}"));
    let kinds: BTreeSet<RequestKind> = raw
        .kinds
        .iter()
        .map(|n| {
            RequestKind::from_name(n)
                .filter(|k| RequestKind::POLICY.contains(k))
                .ok_or_else(|| {
                    let known: Vec<&str> = RequestKind::POLICY.iter().map(|k| k.name()).collect();
                    invalid(format!(
                        "unknown request kind {n:?} (known: {})",
                        known.join(", ")
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    let generic = match (kinds.contains(&RequestKind::Generic), raw.generic) {
        (true, Some(names)) => names
            .iter()
            .map(|n| {
                if let Some(k) = OperationKind::from_name(n).filter(|k| k.is_opaque()) {
                    return Err(invalid(format!(
                        "{k} cannot be allowed: its fields are not decoded, so neither they nor \
                         what may follow it in a batch could be checked"
                    )));
                }
                OperationKind::from_name(n).ok_or_else(|| {
                    let known: Vec<&str> = OperationKind::ALL.iter().map(|k| k.name()).collect();
                    invalid(format!(
                        "unknown operation kind {n:?} (known: {})",
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()?,
        (true, None) => {
            return Err(invalid(
                "\"generic\" needs `generic = [...]`, the operation kinds it allows".into(),
            ));
        }
        (false, Some(_)) => {
            return Err(invalid(
                "`generic` is set but \"generic\" is not among the kinds".into(),
            ));
        }
        (false, None) => BTreeSet::new(),
    };
    let chains = raw
        .chains
        .map(|list| {
            list.iter()
                .map(|c| {
                    c.parse::<ChainId>()
                        .map_err(|e| invalid(format!("bad chain id {c:?}: {e}")))
                })
                .collect::<Result<BTreeSet<_>, _>>()
        })
        .transpose()?;
    let spending = match (raw.spending, raw.transaction) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "both [spending] and [transaction]: keep [spending] ([transaction] is its older \
                 name, and its max_amount is now max_per_request)"
                    .into(),
            ));
        }
        (a, b) => a.or(b),
    };
    let fields = FieldRules::from_raw(raw.max_fee, spending, raw.allow).map_err(&invalid)?;
    if !fields.is_empty() && !kinds.contains(&RequestKind::Generic) {
        return Err(invalid(
            "max_fee, [spending] and [allow] apply to generic operations: \"generic\" is not \
             among the kinds"
                .into(),
        ));
    }
    check_grants(&generic, &fields.grants).map_err(&invalid)?;
    Ok(KeyRule {
        kinds,
        generic,
        chains,
        fields,
    })
}

/// A generic batch decoded in full, every element's fields included: refused when it does not
/// decode, or holds a kind known by name only (neither it nor what follows could be checked).
fn checkable_batch(pkh: &Pkh, contents: &[u8]) -> Result<Vec<Operation>, PolicyRefusal> {
    let pkh = *pkh;
    let ops =
        decode_contents(contents).map_err(|reason| PolicyRefusal::Undecodable { pkh, reason })?;
    match ops.iter().find(|o| o.kind.is_opaque()) {
        Some(opaque) => Err(PolicyRefusal::Unchecked {
            pkh,
            kind: opaque.kind,
        }),
        None => Ok(ops),
    }
}

/// Whether a person could see all of `req` and its value be counted: a generic batch that
/// decodes fully (no kind known by name only) with a countable value at risk, or Michelson
/// data that decodes. What is not is refused, never held.
fn accountable(pkh: &Pkh, req: &SigningRequest) -> Result<(), PolicyRefusal> {
    let pkh = *pkh;
    match req {
        SigningRequest::Generic(op) => {
            let ops = checkable_batch(&pkh, &op.contents)?;
            Exposure::of(&ops)
                .total()
                .map(drop)
                .ok_or(PolicyRefusal::Uncountable { pkh })
        }
        SigningRequest::MichelsonData(data) => crate::tezos::micheline::decode(data, 1)
            .map(drop)
            .map_err(|reason| PolicyRefusal::Undecodable { pkh, reason }),
        _ => Ok(()),
    }
}

/// A kind that hands over control of funds needs its grant, and a grant its kind: an older
/// file that allows `update_consensus_key` or `drain_delegate` by kind alone is refused here
/// with the line to add.
fn check_grants(generic: &BTreeSet<OperationKind>, grants: &Grants) -> Result<(), String> {
    let pairs = [
        (
            OperationKind::UpdateConsensusKey,
            !grants.consensus_keys.is_empty(),
            "update_consensus_key hands the key's funds to the new key once active: name the \
             public keys it may switch to, `consensus_keys = [\"p2pk…\"]` under [allow]",
            "allow.consensus_keys",
        ),
        (
            OperationKind::DrainDelegate,
            !grants.drain_to.is_empty(),
            "drain_delegate sends the delegate's whole balance: name where it may go, \
             `drain_to = [\"tz1…\"]` under [allow]",
            "allow.drain_to",
        ),
        (
            OperationKind::TransferTicket,
            !grants.ticket_to.is_empty(),
            "transfer_ticket moves tickets whose worth is not in tez: name where they may go, \
             `ticket_to = [\"KT1…\"]` under [allow]",
            "allow.ticket_to",
        ),
        (
            OperationKind::Transaction,
            grants.delegate_parameters || !grants.contract_calls.is_empty(),
            "",
            "allow.delegate_parameters and allow.contract_calls",
        ),
    ];
    for (kind, granted, missing, field) in pairs {
        let allowed = generic.contains(&kind);
        if allowed && !granted && !missing.is_empty() {
            return Err(missing.into());
        }
        if !allowed && granted {
            return Err(format!(
                "{field} is set but {} is not among the generic kinds",
                kind.name()
            ));
        }
    }
    Ok(())
}

/// The signer's whole policy: magic bytes plus, optionally, the per-key rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// The whitelist a request's first byte must pass before anything else is checked:
    /// `--magic-bytes`, plus the `--confirm` bytes.
    pub magic_bytes: MagicBytes,
    /// The `--policy` file; `None` = every key may sign the baking kinds, on any chain.
    pub rules: Option<PolicyRules>,
    /// `--confirm`: magic bytes whose refused requests a person may approve (0x03, 0x05).
    pub confirm: BTreeSet<u8>,
}

impl Policy {
    /// A policy without `--confirm`: whatever the rules refuse is refused (see
    /// [`Self::confirming`]).
    pub fn new(magic_bytes: MagicBytes, rules: Option<PolicyRules>) -> Self {
        Policy {
            magic_bytes,
            rules,
            confirm: BTreeSet::new(),
        }
    }

    /// With `--confirm`: these magic bytes pass the whitelist, and what the rules refuse of
    /// them may be approved by a person.
    pub fn confirming(mut self, magic_bytes: &[u8]) -> Self {
        self.confirm = magic_bytes.iter().copied().collect();
        self.magic_bytes.0.extend(magic_bytes);
        self
    }

    /// The verdict on `req` for key `pkh` (vault name `name`): allowed, held for a person
    /// (`--confirm` covers its magic byte and a person may approve what refused it), or
    /// refused.
    pub fn decide(&self, pkh: &Pkh, name: Option<&str>, req: &SigningRequest) -> Decision {
        match self.check(pkh, name, req) {
            Ok(verdict) => Decision::Allow(verdict),
            Err(reason) if reason.holdable() && self.holds(req.magic_byte().byte()) => {
                // Only what can be shown in full and counted may wait for a person.
                if let Err(refusal) = accountable(pkh, req) {
                    return Decision::Refuse(refusal);
                }
                let charge = self
                    .rules
                    .as_ref()
                    .and_then(|r| r.rule_for(pkh, name))
                    .and_then(|rule| rule.charge_of(req));
                Decision::Hold { reason, charge }
            }
            Err(reason) => Decision::Refuse(reason),
        }
    }

    /// Whether some key has a 24-hour limit (then the spending log must not go missing).
    pub fn has_24h_limit(&self) -> bool {
        self.rules.as_ref().is_some_and(|r| {
            r.default
                .iter()
                .chain(r.keys.values())
                .any(|rule| rule.fields.max_total_24h.is_some())
        })
    }

    /// Whether a refusal of a request with this magic byte may wait for a person.
    pub fn holds(&self, magic_byte: u8) -> bool {
        self.confirm.contains(&magic_byte)
    }

    /// Whether a request whose first byte is `byte` passes the whitelist; checked before
    /// authentication and decoding.
    pub fn magic_byte_allowed(&self, byte: u8) -> bool {
        self.magic_bytes.allows(byte)
    }

    /// Kind, chain and operation checks for key `pkh` (vault name `name`). Without a policy
    /// file: baking kinds on any chain. With one: the key's rule, or refusal if it has none.
    pub fn check(
        &self,
        pkh: &Pkh,
        name: Option<&str>,
        req: &SigningRequest,
    ) -> Result<Verdict, PolicyRefusal> {
        match &self.rules {
            None => KeyRule::baking().check(pkh, req),
            Some(rules) => match rules.rule_for(pkh, name) {
                Some(rule) => rule.check(pkh, req),
                None => Err(PolicyRefusal::NoRule { pkh: *pkh }),
            },
        }
    }
}

#[cfg(test)]
mod grant_tests;
#[cfg(test)]
mod tests;
