//! octez-signer's high-watermark file format (one JSON file per kind in the base directory):
//! `{"<chain id>": {"<pkh>": {"level": n, "round": n, "hash": "<hex>", "signature": "<b58>"}}}`.
//!
//! Owns: reading that format tolerantly (optional `round`/`signature` as octez allows, hashes
//! in hex as octez writes them or as a `vh…` value hash as some tools do, unknown fields
//! ignored) and writing it faithfully (lowercase hex hash, curve-specific signature prefix,
//! octez's field order). Never accepts a file it does not fully understand: a bad chain id,
//! key, hash, signature or a duplicate key is an error, never a skipped entry.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, MapAccess, Visitor};

use super::rule::Mark;
use crate::tezos::base58;
use crate::tezos::{ChainId, ConsensusKind, Pkh, Signature};

/// All marks of one kind: chain id → key → mark.
pub(crate) type KindMarks = BTreeMap<ChainId, BTreeMap<Pkh, Mark>>;

/// octez's file name for a kind (`<kind>_high_watermark` + the wallet's plural `s`).
pub fn file_name(kind: ConsensusKind) -> &'static str {
    match kind {
        ConsensusKind::Block => "block_high_watermarks",
        ConsensusKind::Preattestation => "preattestation_high_watermarks",
        ConsensusKind::Attestation => "attestation_high_watermarks",
        ConsensusKind::Endorsement => "endorsement_high_watermarks",
    }
}

/// A JSON object read as ordered (key, value) pairs, refusing duplicate keys (a JSON parser
/// would silently keep the last one, which could hide a higher mark).
struct UniqueMap<V>(Vec<(String, V)>);

impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: serde::Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out: Vec<(String, V)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, V>()? {
                    if out.iter().any(|(seen, _)| *seen == k) {
                        return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
                    }
                    out.push((k, v));
                }
                Ok(UniqueMap(out))
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

#[derive(serde::Deserialize)]
struct RawMark {
    level: i32,
    #[serde(default)]
    round: Option<i32>,
    hash: String,
    #[serde(default)]
    signature: Option<String>,
    /// Shared blobs only (see [`Mark::unreleased`]); ignored in octez's files.
    #[serde(default)]
    unreleased: bool,
}

#[derive(serde::Serialize)]
struct OutMark {
    level: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    round: Option<i32>,
    hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
    /// Written in shared blobs only, and only when true: octez's files keep octez's fields.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    unreleased: bool,
}

impl OutMark {
    /// The octez entry of `mark` (never with the `unreleased` field, which octez does not know).
    fn of(mark: &Mark) -> OutMark {
        OutMark {
            level: mark.level,
            round: mark.round,
            hash: hex::encode(mark.hash),
            signature: mark.signature.map(|s| s.to_string()),
            unreleased: false,
        }
    }
}

impl RawMark {
    /// The mark of an octez file entry: whatever it says, it proves nothing about release.
    fn into_mark(self) -> Result<Mark, String> {
        self.into_record(false)
    }

    /// `honour_unreleased`: a shared blob, where only a reservation write sets the field.
    fn into_record(self, honour_unreleased: bool) -> Result<Mark, String> {
        let hash = parse_hash(&self.hash)?;
        let signature = match self.signature {
            None => None,
            Some(s) => Some(
                s.parse::<Signature>()
                    .map_err(|e| format!("bad signature {s:?}: {e}"))?,
            ),
        };
        let unreleased = honour_unreleased && self.unreleased && signature.is_none();
        let mark = Mark {
            level: self.level,
            round: self.round,
            hash,
            signature,
            unreleased,
        };
        mark.validate().map_err(|e| e.to_string())?;
        Ok(mark)
    }
}

/// One mark alone, as octez writes a key's entry (`{"level":…,"round":…,"hash":…}`), plus
/// `"unreleased":true` for an unsigned block reservation: the content of a shared-watermark
/// blob.
pub(crate) fn encode_record(mark: &Mark) -> String {
    let out = OutMark {
        unreleased: mark.unreleased && mark.signature.is_none(),
        ..OutMark::of(mark)
    };
    serde_json::to_string(&out).expect("a struct of integers and strings always serialises")
}

/// Parses what [`encode_record`] writes (and octez's other spellings of an entry).
pub(crate) fn parse_record(text: &[u8]) -> Result<Mark, String> {
    let raw: RawMark = serde_json::from_slice(text).map_err(|e| format!("invalid JSON: {e}"))?;
    raw.into_record(true)
}

/// Parses one file's contents. The error says which entry is wrong.
pub(crate) fn parse(text: &str) -> Result<KindMarks, String> {
    let raw: UniqueMap<UniqueMap<RawMark>> =
        serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut out = KindMarks::new();
    for (chain_text, keys) in raw.0 {
        let chain: ChainId = chain_text
            .parse()
            .map_err(|e| format!("bad chain id {chain_text:?}: {e}"))?;
        if out.contains_key(&chain) {
            return Err(format!("chain id {chain} appears twice"));
        }
        let mut marks = BTreeMap::new();
        for (pkh_text, m) in keys.0 {
            let pkh: Pkh = pkh_text
                .parse()
                .map_err(|e| format!("bad key {pkh_text:?} under {chain}: {e}"))?;
            let mark = m
                .into_mark()
                .map_err(|e| format!("{pkh} on {chain}: {e}"))?;
            if marks.insert(pkh, mark).is_some() {
                return Err(format!("key {pkh} appears twice under {chain}"));
            }
        }
        out.insert(chain, marks);
    }
    Ok(out)
}

/// The hash as octez writes it (64 hex digits), or a base58 `vh…` value hash.
fn parse_hash(s: &str) -> Result<[u8; 32], String> {
    if s.len() == 64 {
        let mut out = [0u8; 32];
        if hex::decode_to_slice(s, &mut out).is_ok() {
            return Ok(out);
        }
    }
    base58::decode_array(base58::VALUE_HASH, s)
        .map_err(|_| format!("bad hash {s:?}: expected 64 hex digits or a vh… value hash"))
}

/// One entry as it appears in a file, `"<pkh>": {…}` indented for its place, encoded once when
/// the mark is stored so that writing a file never re-encodes the marks that did not change.
pub(crate) fn encode_entry(pkh: &Pkh, mark: &Mark) -> String {
    let body = serde_json::to_string_pretty(&OutMark::of(mark))
        .expect("a struct of integers and strings always serialises");
    let mut text = format!("    \"{pkh}\": ");
    for (i, line) in body.lines().enumerate() {
        if i > 0 {
            text.push_str("\n    ");
        }
        text.push_str(line);
    }
    text
}

/// Assembles a file from encoded entries, chain by chain (octez's layout, pretty-printed).
pub(crate) fn assemble<'a, C, E>(chains: C) -> String
where
    C: IntoIterator<Item = (ChainId, E)>,
    E: IntoIterator<Item = &'a str>,
{
    let mut text = String::from("{");
    let mut first_chain = true;
    for (chain, entries) in chains {
        text.push_str(if first_chain { "\n" } else { ",\n" });
        first_chain = false;
        text.push_str(&format!("  \"{chain}\": {{"));
        let mut first = true;
        for entry in entries {
            text.push_str(if first { "\n" } else { ",\n" });
            first = false;
            text.push_str(entry);
        }
        text.push_str(if first { "}" } else { "\n  }" });
    }
    text.push_str(if first_chain { "}\n" } else { "\n}\n" });
    text
}

/// Renders marks in octez's layout (pretty-printed, chain ids and keys in a stable order).
#[cfg(test)]
pub(crate) fn render(marks: &KindMarks) -> String {
    let encoded: Vec<(ChainId, Vec<String>)> = marks
        .iter()
        .map(|(chain, keys)| {
            let entries = keys.iter().map(|(pkh, m)| encode_entry(pkh, m)).collect();
            (*chain, entries)
        })
        .collect();
    assemble(
        encoded
            .iter()
            .map(|(chain, entries)| (*chain, entries.iter().map(String::as_str))),
    )
}

/// One kind's file in memory: its marks and each entry's encoded text, so that a write
/// re-encodes only the entry that changed.
#[derive(Debug, Default)]
pub(crate) struct KindFile {
    pub marks: KindMarks,
    encoded: BTreeMap<ChainId, BTreeMap<Pkh, String>>,
}

impl KindFile {
    pub(crate) fn new(marks: KindMarks) -> Self {
        let encoded = marks
            .iter()
            .map(|(chain, keys)| {
                let keys = keys
                    .iter()
                    .map(|(pkh, m)| (*pkh, encode_entry(pkh, m)))
                    .collect();
                (*chain, keys)
            })
            .collect();
        KindFile { marks, encoded }
    }

    /// A file with nothing in it.
    pub(crate) const EMPTY: KindFile = KindFile {
        marks: BTreeMap::new(),
        encoded: BTreeMap::new(),
    };

    /// The file's text, with `extra`'s entries for the keys this file does not hold itself.
    pub(crate) fn render(&self, extra: &KindFile) -> String {
        let mut chains: BTreeSet<ChainId> = self.encoded.keys().copied().collect();
        chains.extend(extra.encoded.keys().copied());
        let empty = BTreeMap::new();
        assemble(chains.into_iter().map(|c| {
            let own = self.encoded.get(&c).unwrap_or(&empty);
            let carried = extra.encoded.get(&c).unwrap_or(&empty);
            let mut keys: BTreeSet<Pkh> = own.keys().copied().collect();
            keys.extend(carried.keys().copied());
            let entries: Vec<&str> = keys
                .into_iter()
                .filter_map(|k| own.get(&k).or_else(|| carried.get(&k)).map(String::as_str))
                .collect();
            (c, entries)
        }))
    }

    pub(crate) fn insert(&mut self, chain: ChainId, pkh: Pkh, mark: Mark, entry: String) {
        self.marks.entry(chain).or_default().insert(pkh, mark);
        self.encoded.entry(chain).or_default().insert(pkh, entry);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::tezos::{Curve, PkhKind};

    fn mark_strategy() -> impl Strategy<Value = Mark> {
        (
            0i32..i32::MAX,
            proptest::option::of(0i32..i32::MAX),
            any::<[u8; 32]>(),
            proptest::option::of((any::<[u8; 32]>(), 0usize..4)),
        )
            .prop_map(|(level, round, hash, sig)| Mark {
                level,
                round,
                hash,
                signature: sig.map(|(half, curve)| {
                    let mut raw = [0u8; 64];
                    raw[..32].copy_from_slice(&half);
                    raw[32..].copy_from_slice(&half);
                    let curve = [
                        None,
                        Some(Curve::Secp256k1),
                        Some(Curve::P256),
                        Some(Curve::Ed25519),
                    ][curve];
                    Signature::from_raw(curve, raw)
                }),
                unreleased: false,
            })
    }

    proptest! {
        /// Whatever we write, we read back identically (signature prefixes included).
        #[test]
        fn render_then_parse_is_identity(
            entries in proptest::collection::vec(
                (any::<[u8; 4]>(), 0usize..4, any::<[u8; 20]>(), mark_strategy()), 0..12)
        ) {
            let kinds = [PkhKind::Tz1, PkhKind::Tz2, PkhKind::Tz3, PkhKind::Tz4];
            let mut marks = KindMarks::new();
            for (chain, kind, hash, mark) in entries {
                marks
                    .entry(ChainId(chain))
                    .or_default()
                    .insert(Pkh::new(kinds[kind], hash), mark);
            }
            let text = render(&marks);
            prop_assert_eq!(parse(&text), Ok(marks.clone()));
            // Each entry on its own lines, indented as octez's pretty printer does.
            for line in text.lines().skip(1) {
                prop_assert!(line.starts_with("  ") || line == "}", "{}", line);
            }
        }
    }
}
