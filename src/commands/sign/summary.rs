//! The fixed summary `sign` and `sign --pending` print last, right above the prompt, so that
//! no detail above it (a 20,000-character string, a batch of 250 operations) can push it off
//! the screen or pass for it: the key, how many operations, the total amount, fee and
//! maximum storage burn, the value at risk ([`Exposure`]), every destination (the largest
//! first: [`MAX_DESTINATIONS`] lines, then the rest counted on one) and the warnings (the
//! operations that hand over control, [`Control`](crate::policy::value::Control): one line
//! each up to [`MAX_CONTROLS`], then the rest counted; overflows; sources other than the
//! key; undecoded operations; strings that are not valid Michelson; shortened fields).
//! Bounded whatever the request, about 20 lines, with the totals on the last three.
//!
//! Also the rendering whose counts the summary reports ([`Render`]): Michelson with long
//! strings and bytes shortened to their start, length and blake2b-256 hash unless `--full`,
//! and every character of a string outside printable ASCII escaped (`\u{…}`).
//!
//! Owns: what the summary says and the shortening rules. Pure: no I/O, no prompt.

use std::fmt::Write as _;

use crate::policy::value::{Exposure, Outflow};
use crate::tezos::micheline::{Leaf, Micheline};
use crate::tezos::operation::{Body, Operation};
use crate::tezos::tez::format as tez;
use crate::tezos::{Pkh, blake2b_256};

/// A string longer than this many characters (bytes: half as many bytes) is shown shortened
/// unless `--full`.
pub(super) const SHOWN_CHARS: usize = 64;
/// Destinations listed one per line; the rest are counted on one line.
pub(super) const MAX_DESTINATIONS: usize = 8;
/// Operations that hand over control named one per line; the rest are counted on one line.
pub(super) const MAX_CONTROLS: usize = 4;

const HEADER: &str = "── Summary: what you are signing (details above) ──";

/// What the rendering of the details found that the summary must warn about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Notes {
    /// Strings and bytes shown shortened.
    pub truncated: usize,
    /// Strings that are not valid Michelson strings (printable ASCII and newlines only).
    pub not_michelson: usize,
}

/// The base58 blake2b-256 hash of `bytes`, to compare what was shortened on another screen.
pub(super) fn hash(bytes: &[u8]) -> String {
    bs58::encode(blake2b_256(bytes)).into_string()
}

/// A valid Michelson string: printable ASCII and newlines only (the protocol's
/// `Script_string` check).
fn michelson_string(s: &str) -> bool {
    s.bytes().all(|b| b == b'\n' || (0x20..=0x7e).contains(&b))
}

/// Renders Micheline, strings and bytes, counting what the summary must warn about.
pub(super) struct Render {
    full: bool,
    pub notes: Notes,
}

impl Render {
    /// `full`: long strings and bytes whole (`--full`).
    pub(super) fn new(full: bool) -> Render {
        Render {
            full,
            notes: Notes::default(),
        }
    }

    /// A string literal: `"`, `\` and `\n \t \r \b` as Michelson writes them, printable ASCII
    /// as is, everything else as `\u{…}` (no homoglyph, bidi override or invisible character
    /// reaches the screen); shortened unless `--full`.
    fn string(&mut self, out: &mut String, s: &str) {
        if !michelson_string(s) {
            self.notes.not_michelson += 1;
        }
        let count = s.chars().count();
        let cut = !self.full && count > SHOWN_CHARS;
        out.push('"');
        for c in s.chars().take(if cut { SHOWN_CHARS } else { count }) {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                '\u{8}' => out.push_str("\\b"),
                ' '..='~' => out.push(c),
                c => {
                    let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
                }
            }
        }
        out.push('"');
        if cut {
            self.notes.truncated += 1;
            let _ = write!(
                out,
                "… ({count} characters in all, blake2b-256 {})",
                hash(s.as_bytes())
            );
        }
    }

    /// Bytes as `0x…`, shortened unless `--full`.
    fn bytes(&mut self, out: &mut String, b: &[u8]) {
        let cut = !self.full && b.len() > SHOWN_CHARS / 2;
        out.push_str("0x");
        out.push_str(&hex::encode(if cut { &b[..SHOWN_CHARS / 2] } else { b }));
        if cut {
            self.notes.truncated += 1;
            let _ = write!(out, "… ({} bytes in all, blake2b-256 {})", b.len(), hash(b));
        }
    }

    /// Michelson concrete syntax on one line, as [`Micheline::to_michelson`] writes it but
    /// with strings and bytes as above.
    pub(super) fn michelson(&mut self, m: &Micheline) -> String {
        let mut out = String::new();
        m.write_michelson(&mut out, &mut |out, leaf| match leaf {
            Leaf::String(s) => self.string(out, s),
            Leaf::Bytes(b) => self.bytes(out, b),
        });
        out
    }

    /// A failing_noop message: a string when it is UTF-8 text, bytes otherwise.
    pub(super) fn message(&mut self, message: &[u8]) -> String {
        let mut out = String::new();
        match std::str::from_utf8(message) {
            Ok(text) => self.string(&mut out, text),
            Err(_) => self.bytes(&mut out, message),
        }
        out
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// Mutez as tez, or what an overflow is shown as.
fn amount(mutez: Option<u128>) -> String {
    mutez.map_or_else(|| "more than can be counted".into(), tez)
}

/// One place value goes, all its operations together.
struct Destination {
    to: String,
    mutez: Option<u128>,
    operations: usize,
    first: usize,
    everything: bool,
    tickets: bool,
}

impl Destination {
    fn line(&self) -> String {
        let mut what = if self.everything {
            "EVERYTHING the delegate can spend".to_string()
        } else {
            amount(self.mutez)
        };
        if self.tickets {
            what.push_str(" and tickets");
        }
        let which = if self.operations == 1 {
            format!("operation {}", self.first)
        } else {
            format!("{} operations", self.operations)
        };
        format!("to {}: {what} ({which})", self.to)
    }
}

/// Every destination of the batch, the largest first.
fn destinations(ops: &[Operation], outflows: &[Outflow]) -> Vec<Destination> {
    let mut all: Vec<Destination> = Vec::new();
    for o in outflows {
        let to = o.to.clone().unwrap_or_else(|| "a new contract".into());
        let body = ops.get(o.index - 1).map(|op| &op.body);
        let (mutez, everything, tickets) = match body {
            Some(Body::Transaction { amount, .. }) => (*amount, false, false),
            Some(Body::Origination { balance, .. }) => (*balance, false, false),
            Some(Body::DrainDelegate { .. }) => (0, true, false),
            Some(Body::TransferTicket { .. }) => (0, false, true),
            _ => (0, false, false),
        };
        match all.iter_mut().find(|d| d.to == to) {
            Some(d) => {
                d.mutez = d.mutez.and_then(|m| m.checked_add(mutez));
                d.operations += 1;
                d.everything |= everything;
                d.tickets |= tickets;
            }
            None => all.push(Destination {
                to,
                mutez: Some(mutez),
                operations: 1,
                first: o.index,
                everything,
                tickets,
            }),
        }
    }
    // An overflowed sum (None) is the largest.
    all.sort_by_key(|d| {
        (
            std::cmp::Reverse(d.everything),
            std::cmp::Reverse(d.mutez.unwrap_or(u128::MAX)),
            d.first,
        )
    });
    all
}

fn warnings(out: &mut Vec<String>, notes: &Notes) {
    if notes.not_michelson > 0 {
        out.push(format!(
            "WARNING: {} not printable ASCII (invalid in Michelson), shown escaped",
            plural(notes.not_michelson, "string")
        ));
    }
    if notes.truncated > 0 {
        out.push(format!(
            "NOTE: {} shortened (start, length, hash); --full shows all",
            plural(notes.truncated, "long field")
        ));
    }
}

/// The summary of a batch of generic operations signed by `signer`.
pub(super) fn batch(signer: &Pkh, ops: &[Operation], notes: &Notes) -> Vec<String> {
    let e = Exposure::of(ops);
    let mut out = vec![HEADER.to_string()];

    let all = destinations(ops, &e.outflows);
    if all.is_empty() {
        out.push("no destination: nothing is sent to anyone".into());
    }
    for d in all.iter().take(MAX_DESTINATIONS) {
        out.push(d.line());
    }
    if all.len() > MAX_DESTINATIONS {
        let rest = &all[MAX_DESTINATIONS..];
        let mutez = rest
            .iter()
            .try_fold(0u128, |sum, d| sum.checked_add(d.mutez?));
        out.push(format!(
            "and {} more destination{}: {} in {}",
            rest.len(),
            if rest.len() == 1 { "" } else { "s" },
            amount(mutez),
            plural(rest.iter().map(|d| d.operations).sum(), "operation")
        ));
    }

    if !e.controls.is_empty() {
        out.push("WARNING: these hand over control, or move more than tez:".into());
    }
    for c in e.controls.iter().take(MAX_CONTROLS) {
        out.push(format!("  operation {}: {c}", c.index()));
    }
    if e.controls.len() > MAX_CONTROLS {
        out.push(format!(
            "  and {} more (see above)",
            plural(e.controls.len() - MAX_CONTROLS, "operation")
        ));
    }
    if e.total().is_none() {
        out.push("WARNING: the amounts overflow: the value at risk cannot be computed".into());
    }
    let foreign = ops
        .iter()
        .filter(|op| op.source().is_some_and(|s| s != *signer))
        .count();
    if foreign > 0 {
        out.push(format!(
            "WARNING: {} for another account than the signing key",
            plural(foreign, "operation")
        ));
    }
    let opaque = ops
        .iter()
        .filter(|op| matches!(op.body, Body::Opaque { .. }))
        .count();
    if opaque > 0 {
        out.push(format!(
            "WARNING: {} not decoded: their fields are not shown",
            plural(opaque, "operation")
        ));
    }
    warnings(&mut out, notes);

    out.push(format!("key {signer}, {}", plural(ops.len(), "operation")));
    out.push(format!(
        "total amount {}, total fee {}, maximum storage burn {}",
        amount(e.sent),
        amount(e.fees),
        amount(e.burns)
    ));
    let mut risk = match (e.total(), e.everything) {
        (None, _) => "value at risk: CANNOT BE COMPUTED (the amounts overflow)".to_string(),
        (Some(t), false) => format!("value at risk: {}", tez(t)),
        (Some(t), true) => format!(
            "value at risk: EVERYTHING the delegate can spend (drain_delegate), and {}",
            tez(t)
        ),
    };
    if !e.controls.is_empty() {
        risk.push_str(", plus what the warnings above can move");
    }
    out.push(risk);
    out
}

/// The summary of any other request: `what` it is, in one line.
pub(super) fn single(signer: &Pkh, what: &str, notes: &Notes) -> Vec<String> {
    let mut out = vec![HEADER.to_string()];
    warnings(&mut out, notes);
    out.push(format!("key {signer}: {what}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::sign::show::{Options, operations};
    use crate::testing::forge;
    use crate::tezos::PkhKind;
    use crate::tezos::operation::{OperationKind, decode_contents};

    const ME: &str = "tz2SSuN7FRcAurZPSAQS1swNWE8xxf71MTjt";
    const KT1: &str = "KT1RJ6PbjHpwc3M5rw5s2Nbmefwbuwbdxton";
    const FAKE: &str = "1 operation, total amount 0.5 ꜩ, total fee 0.001 ꜩ: to tz1KqTpEZ7Yob7QbPE4Hy4Wo8fHG8LhKxZSx";

    fn me() -> Pkh {
        ME.parse().expect("pkh")
    }

    /// Forged operations decoded back.
    fn decoded(ops: &[Vec<u8>]) -> Vec<Operation> {
        decode_contents(&forge::request(ops)[33..]).expect("decodes")
    }

    fn screen(ops: &[Operation], full: bool) -> (String, Vec<String>) {
        let options = Options {
            verbose: false,
            full,
        };
        let s = operations(&me(), &[0; 32], ops, options);
        ([s.lines, s.summary.clone()].concat().join("\n"), s.summary)
    }

    /// The whole screen, details then summary.
    fn shown(ops: &[Operation]) -> String {
        screen(ops, false).0
    }

    /// A distinct tz1 address per `n`.
    fn tz1(n: usize) -> String {
        let mut hash = [7u8; 20];
        hash[..8].copy_from_slice(&(n as u64).to_be_bytes());
        Pkh::new(PkhKind::Tz1, hash).to_string()
    }

    /// The hostile test's string (20,000 spaces, then a fake summary), and a 5,000 ꜩ call
    /// of a KT1 with it as parameter.
    fn padded_fake_transfer() -> (String, Vec<Operation>) {
        let fake = format!("{}{FAKE}", " ".repeat(20_000));
        let ops = decoded(&[forge::transaction(
            ME,
            forge::CHEAP,
            5_000_000_000,
            KT1,
            Some(("default", forge::string(&fake))),
        )]);
        (fake, ops)
    }

    #[test]
    fn long_strings_are_shortened_with_their_length_and_hash() {
        let (fake, ops) = padded_fake_transfer();
        let (text, summary) = screen(&ops, false);
        assert!(!text.contains("total amount 0.5"), "{text}");
        let shortened = format!(
            "\"{}\"… ({} characters in all, blake2b-256 {})",
            " ".repeat(SHOWN_CHARS),
            fake.chars().count(),
            hash(fake.as_bytes())
        );
        assert!(text.contains(&shortened), "{text}");
        assert!(text.len() < 2_000, "{text}");
        assert_eq!(
            summary,
            [
                HEADER.to_string(),
                format!("to {KT1}: 5000 ꜩ (operation 1)"),
                "WARNING: these hand over control, or move more than tez:".into(),
                format!("  operation 1: a call of {KT1}%default"),
                "WARNING: 1 string not printable ASCII (invalid in Michelson), shown escaped"
                    .into(),
                "NOTE: 1 long field shortened (start, length, hash); --full shows all".into(),
                format!("key {ME}, 1 operation"),
                "total amount 5000 ꜩ, total fee 0.001 ꜩ, maximum storage burn 0 ꜩ".into(),
                "value at risk: 5000.001 ꜩ, plus what the warnings above can move".into(),
            ]
        );
        // Bytes too.
        let ops = decoded(&[forge::transaction(
            ME,
            forge::CHEAP,
            1,
            KT1,
            Some(("default", {
                let mut b = vec![0x0a];
                b.extend(100u32.to_be_bytes());
                b.extend([0xab; 100]);
                b
            })),
        )]);
        let text = shown(&ops);
        let bytes = format!(
            "0x{}… (100 bytes in all, blake2b-256 {})",
            "ab".repeat(SHOWN_CHARS / 2),
            hash(&[0xab; 100])
        );
        assert!(text.contains(&bytes), "{text}");
    }

    #[test]
    fn full_shows_long_strings_and_bytes_whole() {
        let (fake, ops) = padded_fake_transfer();
        let (text, summary) = screen(&ops, true);
        let whole = fake.replace('ꜩ', "\\u{a729}");
        assert!(text.contains(&format!("\"{whole}\"")), "the whole string");
        assert!(!text.contains("characters in all"));
        assert!(!summary.iter().any(|l| l.contains("--full")), "{summary:?}");
        // Even whole, the fake is in the details, and the real summary comes after it.
        assert_eq!(
            summary.last().map(String::as_str),
            Some("value at risk: 5000.001 ꜩ, plus what the warnings above can move")
        );
    }

    /// 251 operations to 251 places: at most MAX_DESTINATIONS destination lines, the rest
    /// counted, the total always there; at most MAX_CONTROLS control lines.
    #[test]
    fn the_summary_stays_short_whatever_the_batch() {
        let mut ops = vec![forge::transaction(
            ME,
            forge::CHEAP,
            5_000_000_000,
            KT1,
            None,
        )];
        for n in 0..250 {
            ops.push(forge::transaction(ME, forge::CHEAP, 1, &tz1(n), None));
        }
        let ops = decoded(&ops);
        let (_, summary) = screen(&ops, false);
        assert_eq!(summary[1], format!("to {KT1}: 5000 ꜩ (operation 1)"));
        assert_eq!(
            summary[1 + MAX_DESTINATIONS],
            format!(
                "and {} more destinations: 0.000{} ꜩ in {} operations",
                251 - MAX_DESTINATIONS,
                251 - MAX_DESTINATIONS,
                251 - MAX_DESTINATIONS
            )
        );
        assert_eq!(
            &summary[summary.len() - 2..],
            [
                "total amount 5000.00025 ꜩ, total fee 0.251 ꜩ, maximum storage burn 0 ꜩ",
                "value at risk: 5000.25125 ꜩ",
            ]
        );
        assert!(summary.len() <= 14, "{summary:#?}");

        // 250 contract calls: the controls are capped too.
        let calls: Vec<_> = (0..250)
            .map(|_| {
                forge::transaction(ME, forge::CHEAP, 1, KT1, Some(("transfer", forge::unit())))
            })
            .collect();
        let (_, summary) = screen(&decoded(&calls), false);
        let controls = summary
            .iter()
            .filter(|l| l.starts_with("  operation "))
            .count();
        assert_eq!(controls, MAX_CONTROLS, "{summary:#?}");
        assert!(
            summary.contains(&format!(
                "  and {} more (see above)",
                plural(250 - MAX_CONTROLS, "operation")
            )),
            "{summary:#?}"
        );
        assert!(summary.contains(&format!("to {KT1}: 0.00025 ꜩ (250 operations)")));
        assert!(summary.len() <= 12, "{summary:#?}");
    }

    #[test]
    fn overflows_and_foreign_sources_are_warned_about() {
        let other = tz1(1);
        let ops = decoded(&[
            forge::increase_paid_storage(ME, forge::CHEAP, u128::MAX, KT1),
            forge::transaction(&other, forge::CHEAP, 1, KT1, None),
        ]);
        let (text, summary) = screen(&ops, false);
        assert!(text.contains("burns more than can be counted"), "{text}");
        for want in [
            "total amount 0.000001 ꜩ, total fee 0.002 ꜩ, maximum storage burn more than can be \
             counted",
            "WARNING: the amounts overflow: the value at risk cannot be computed",
            "WARNING: 1 operation for another account than the signing key",
            "value at risk: CANNOT BE COMPUTED (the amounts overflow)",
        ] {
            assert!(summary.iter().any(|l| l == want), "{want} in {summary:#?}");
        }
    }

    /// Bidi overrides and isolates, zero-width characters, line and paragraph separators and
    /// homoglyphs in a Michelson string never reach the lines raw, and are warned about.
    #[test]
    fn strings_outside_printable_ascii_are_escaped_and_warned_about() {
        let hostile = "pay \u{202e}zt1\u{202c} \u{2066}x\u{2069} \u{200b}\u{200d}\u{feff}\
                       \u{2028}\u{2029}\u{200e}\u{61c} tz1Ꮯ\u{430}";
        let ops = decoded(&[forge::transaction(
            ME,
            forge::CHEAP,
            1,
            KT1,
            Some(("default", forge::string(hostile))),
        )]);
        let text = shown(&ops);
        for raw in hostile.chars().filter(|c| !c.is_ascii()) {
            assert!(!text.contains(raw), "{:?} raw in:\n{text}", raw);
        }
        for escaped in [
            "\\u{202e}",
            "\\u{202c}",
            "\\u{2066}",
            "\\u{2069}",
            "\\u{200b}",
            "\\u{200d}",
            "\\u{feff}",
            "\\u{2028}",
            "\\u{2029}",
            "\\u{200e}",
            "\\u{61c}",
            "\\u{13df}",
            "\\u{430}",
        ] {
            assert!(text.contains(escaped), "{escaped} in:\n{text}");
        }
        assert!(
            text.contains(
                "WARNING: 1 string not printable ASCII (invalid in Michelson), shown escaped"
            ),
            "{text}"
        );
        // A valid Michelson string is no warning.
        let ops = decoded(&[forge::transaction(
            ME,
            forge::CHEAP,
            1,
            KT1,
            Some(("default", forge::string("plain\ntext"))),
        )]);
        assert!(!shown(&ops).contains("printable ASCII"));
    }

    #[test]
    fn failing_noop_messages_are_shortened_and_escaped() {
        let message = format!("\u{202e}{}", "m".repeat(100));
        let op = Operation {
            kind: OperationKind::FailingNoop,
            offset: 33,
            size: 0,
            manager: None,
            body: Body::FailingNoop {
                message: message.clone().into_bytes(),
            },
        };
        let text = shown(&[op]);
        assert!(
            text.contains(&format!(
                "failing_noop: 103 bytes (can never be included in a block): \"\\u{{202e}}{}\"… \
                 (101 characters in all, blake2b-256 {})",
                "m".repeat(63),
                hash(message.as_bytes())
            )),
            "{text}"
        );
    }
}
