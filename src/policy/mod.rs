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
//! generic = ["reveal", "delegation", "update_consensus_key"]  # required with "generic"
//! chains = ["NetXdQprcVkpaWU"]                    # optional; absent = any chain
//! ```
//! Chains restrict requests that name one (blocks and consensus operations); generic
//! operations and Michelson data carry no chain id.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

pub use fields::FieldRules;

mod fields;
pub mod spending;
pub mod value;

use crate::tezos::operation::decode_contents;
use crate::tezos::{
    ChainId, DecodeError, MagicByte, OperationKind, Pkh, RequestKind, SigningRequest, tez,
};

/// Why a request is refused by the policy. Formatted only when shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRefusal {
    #[error("authentication payloads (magic byte 0x04) are never signed with key {pkh}")]
    Authentication { pkh: Pkh },
    #[error("request kind {kind} is not allowed for key {pkh}")]
    Kind { pkh: Pkh, kind: RequestKind },
    #[error("chain {chain} is not allowed for key {pkh}")]
    Chain { pkh: Pkh, chain: ChainId },
    #[error("generic operation refused for key {pkh}: cannot check its contents: {reason}")]
    Undecodable { pkh: Pkh, reason: DecodeError },
    #[error(
        "operation kind {kind} is not allowed for key {pkh} (allowed: {})",
        names(allowed)
    )]
    Operation {
        pkh: Pkh,
        kind: OperationKind,
        allowed: Vec<OperationKind>,
    },
    #[error("key {pkh} has no entry in the policy file and there is no [default]")]
    NoRule { pkh: Pkh },
    #[error(
        "operation kind {kind} is refused for key {pkh}: this signer knows it by name only, so \
         it cannot check its fields (nor what may follow it in the batch)"
    )]
    Unchecked { pkh: Pkh, kind: OperationKind },
    #[error(
        "operation {index} breaks max_fee for key {pkh}: its fee {} is above {}",
        tez::format(*fee), tez::format(*limit)
    )]
    MaxFee {
        pkh: Pkh,
        index: usize,
        fee: u128,
        limit: u128,
    },
    #[error(
        "operation {index} breaks max_amount for key {pkh}: {} is above {}",
        tez::format(*amount), tez::format(*limit)
    )]
    MaxAmount {
        pkh: Pkh,
        index: usize,
        amount: u128,
        limit: u128,
    },
    #[error(
        "operation {index} breaks destinations for key {pkh}: {destination} is not an allowed \
         destination"
    )]
    Destination {
        pkh: Pkh,
        index: usize,
        destination: String,
    },
    #[error(
        "the batch breaks max_total_24h for key {pkh}: {} already sent in the last 24 hours, \
         {} more would pass the limit of {}",
        tez::format(*spent), tez::format(*amount), tez::format(*limit)
    )]
    MaxTotal24h {
        pkh: Pkh,
        spent: u128,
        amount: u128,
        limit: u128,
    },
}

/// What the policy allows, and what it asks of the pipeline before the vault is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// (amount, limit) in mutez: the batch's transactions to count against the key's rolling
    /// 24-hour limit.
    pub spend: Option<(u128, u128)>,
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
    #[error(
        "bad --magic-bytes value {0:?} ({1}): expected a comma-separated list such as 0x11,0x12,0x13"
    )]
    MagicBytes(String, String),
    #[error("cannot read the policy file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid policy file: {0}")]
    Invalid(String),
}

/// The magic bytes a signer accepts (`--magic-bytes`), default 0x11, 0x12, 0x13.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MagicBytes(BTreeSet<u8>);

impl MagicBytes {
    pub fn new(bytes: impl IntoIterator<Item = u8>) -> Self {
        MagicBytes(bytes.into_iter().collect())
    }
    pub fn allows(&self, byte: u8) -> bool {
        self.0.contains(&byte)
    }
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
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
            let ops = decode_contents(&op.contents)
                .map_err(|reason| PolicyRefusal::Undecodable { pkh, reason })?;
            if let Some(opaque) = ops.iter().find(|o| o.kind.is_opaque()) {
                return Err(PolicyRefusal::Unchecked {
                    pkh,
                    kind: opaque.kind,
                });
            }
            if let Some(bad) = ops.iter().find(|o| !self.generic.contains(&o.kind)) {
                return Err(PolicyRefusal::Operation {
                    pkh,
                    kind: bad.kind,
                    allowed: self.generic.iter().copied().collect(),
                });
            }
            self.fields.check(&pkh, &ops)?;
            if let Some(limit) = self.fields.max_total_24h {
                return Ok(Verdict {
                    spend: Some((FieldRules::transferred(&ops), limit)),
                });
            }
        }
        Ok(Verdict::default())
    }
}

/// A loaded `--policy` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRules {
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
    #[serde(default)]
    transaction: Option<fields::RawTransactionRules>,
}

impl PolicyRules {
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

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
            .or_else(|| name.and_then(|n| self.keys.get(n)))
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
    let fields = FieldRules::from_raw(raw.max_fee, raw.transaction).map_err(&invalid)?;
    if !fields.is_empty() && !kinds.contains(&RequestKind::Generic) {
        return Err(invalid(
            "max_fee and [transaction] rules apply to generic operations: \"generic\" is not among the kinds"
                .into(),
        ));
    }
    Ok(KeyRule {
        kinds,
        generic,
        chains,
        fields,
    })
}

/// The signer's whole policy: magic bytes plus, optionally, the per-key rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub magic_bytes: MagicBytes,
    pub rules: Option<PolicyRules>,
}

impl Policy {
    pub fn new(magic_bytes: MagicBytes, rules: Option<PolicyRules>) -> Self {
        Policy { magic_bytes, rules }
    }

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
mod tests;
