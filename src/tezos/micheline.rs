//! Binary Micheline: the values, scripts and parameters inside generic operations and the
//! payload of 0x05 (Michelson data) requests. Decoding into a tree, then printing it as
//! Michelson concrete syntax on one line (as `octez-client` prints it without line breaks) or
//! as Micheline JSON (as octez's RPCs and `--json` show it).
//!
//! Owns: the node tags (0x00 int … 0x0a bytes), the primitive table of the current protocol
//! ([`super::micheline_prims`]), and strictness: unknown tags or primitives, bad lengths,
//! non-canonical numbers, strings that are not UTF-8, nesting deeper than [`MAX_DEPTH`] and
//! trailing bytes are typed errors with the byte offset. Pure and total.

use std::fmt::{self, Write as _};

use super::micheline_prims::PRIMITIVES;
use super::reader::{DecodeError, Reader};
use super::zarith::{self, Zarith};

/// Deeper nesting is refused (hostile input must not exhaust the stack; real scripts are far
/// shallower).
pub const MAX_DEPTH: usize = 256;

/// A string or bytes leaf, for a printer that writes them its own way.
#[derive(Debug, Clone, Copy)]
pub enum Leaf<'a> {
    /// A string literal as decoded (UTF-8, not yet quoted or escaped).
    String(&'a str),
    /// A bytes literal, raw ([`Micheline::to_michelson`] writes it as `0x` and hex).
    Bytes(&'a [u8]),
}

/// A Micheline node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Micheline {
    /// An integer literal of any size (node tag 0x00), e.g. `42` or `-1`.
    Int(Zarith),
    /// A string literal (node tag 0x01), valid UTF-8.
    String(String),
    /// A bytes literal (node tag 0x0a), written `0x…` in Michelson.
    Bytes(Vec<u8>),
    /// A sequence `{ a ; b }` (node tag 0x02): a block of instructions or a list, set or
    /// map literal.
    Seq(Vec<Micheline>),
    /// A primitive application (node tags 0x03–0x09): an instruction, type, data
    /// constructor or script section with its arguments, e.g. `PUSH nat 3` or `Pair 1 2`.
    Prim {
        /// The primitive's name from the protocol's table, e.g. `PUSH`, `pair`, `Some`, `code`.
        prim: &'static str,
        /// Its arguments, in order (tags 0x03–0x08 carry 0, 1 or 2; tag 0x09 any number).
        args: Vec<Micheline>,
        /// Its annotations (`@var`, `:type`, `%field`), each with its leading character.
        annots: Vec<String>,
    },
}

/// Decodes `bytes` (which start at `base` in the whole request) as exactly one node.
pub fn decode(bytes: &[u8], base: usize) -> Result<Micheline, DecodeError> {
    let mut r = Reader::with_base(bytes, base);
    let node = read_node(&mut r, 0)?;
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes {
            offset: r.offset(),
            count: r.remaining(),
        });
    }
    Ok(node)
}

fn malformed(what: &'static str, offset: usize, reason: &'static str) -> DecodeError {
    DecodeError::Malformed {
        what,
        offset,
        reason,
    }
}

fn read_prim(r: &mut Reader<'_>) -> Result<&'static str, DecodeError> {
    let at = r.offset();
    let tag = r.u8("Michelson primitive")?;
    PRIMITIVES
        .get(usize::from(tag))
        .copied()
        .ok_or_else(|| malformed("Michelson primitive", at, "unknown primitive"))
}

fn read_string(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    let len = r.u32(what)? as usize;
    let at = r.offset();
    let raw = r.take(len, what)?;
    String::from_utf8(raw.to_vec()).map_err(|_| malformed(what, at, "not UTF-8 text"))
}

/// Annotations: `@`, `:` or `%` and then letters, digits, `_ . % @ :`, separated by spaces.
/// Anything else (control characters above all) is refused: annotations are printed as they
/// are.
fn read_annots(r: &mut Reader<'_>) -> Result<Vec<String>, DecodeError> {
    let at = r.offset() + 4;
    let text = read_string(r, "annotations")?;
    let annots: Vec<String> = text
        .split(' ')
        .filter(|a| !a.is_empty())
        .map(String::from)
        .collect();
    let valid = |a: &str| {
        a.starts_with(['@', ':', '%'])
            && a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'%' | b'@' | b':'))
    };
    if !annots.iter().all(|a| valid(a)) {
        return Err(malformed(
            "annotations",
            at,
            "not Michelson annotations (@, : or % then letters, digits, _ . % @)",
        ));
    }
    Ok(annots)
}

fn read_node(r: &mut Reader<'_>, depth: usize) -> Result<Micheline, DecodeError> {
    let at = r.offset();
    if depth > MAX_DEPTH {
        return Err(malformed("Micheline", at, "nested too deeply"));
    }
    let tag = r.u8("Micheline node")?;
    let prim_with = |r: &mut Reader<'_>, nargs: usize, annots: bool| {
        let prim = read_prim(r)?;
        let args = (0..nargs)
            .map(|_| read_node(r, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        let annots = if annots { read_annots(r)? } else { Vec::new() };
        Ok(Micheline::Prim { prim, args, annots })
    };
    match tag {
        0x00 => zarith::integer(r, "Micheline int").map(Micheline::Int),
        0x01 => read_string(r, "Micheline string").map(Micheline::String),
        0x02 => {
            let len = r.u32("Micheline sequence")? as usize;
            let base = r.offset();
            let body = r.take(len, "Micheline sequence")?;
            let mut inner = Reader::with_base(body, base);
            let mut items = Vec::new();
            while !inner.is_empty() {
                items.push(read_node(&mut inner, depth + 1)?);
            }
            Ok(Micheline::Seq(items))
        }
        0x03 => prim_with(r, 0, false),
        0x04 => prim_with(r, 0, true),
        0x05 => prim_with(r, 1, false),
        0x06 => prim_with(r, 1, true),
        0x07 => prim_with(r, 2, false),
        0x08 => prim_with(r, 2, true),
        0x09 => {
            let prim = read_prim(r)?;
            let len = r.u32("Micheline arguments")? as usize;
            let base = r.offset();
            let body = r.take(len, "Micheline arguments")?;
            let mut inner = Reader::with_base(body, base);
            let mut args = Vec::new();
            while !inner.is_empty() {
                args.push(read_node(&mut inner, depth + 1)?);
            }
            let annots = read_annots(r)?;
            Ok(Micheline::Prim { prim, args, annots })
        }
        0x0a => {
            let len = r.u32("Micheline bytes")? as usize;
            r.take(len, "Micheline bytes")
                .map(|b| Micheline::Bytes(b.to_vec()))
        }
        _ => Err(malformed("Micheline node", at, "unknown node tag")),
    }
}

impl Micheline {
    /// Michelson concrete syntax on one line, e.g. `{ CAR ; NIL operation ; PAIR }` or
    /// `Pair 1 (Some "a")`.
    pub fn to_michelson(&self) -> String {
        let mut out = String::new();
        self.write_michelson(&mut out, &mut |out, leaf| match leaf {
            Leaf::String(s) => write_string(out, s),
            Leaf::Bytes(b) => {
                out.push_str("0x");
                out.push_str(&hex::encode(b));
            }
        });
        out
    }

    /// [`Micheline::to_michelson`]'s layout, with strings and bytes written by `leaf` (what
    /// `sign` shows shortens and escapes them).
    pub fn write_michelson(&self, out: &mut String, leaf: &mut dyn FnMut(&mut String, Leaf<'_>)) {
        self.write(out, false, leaf);
    }

    /// Micheline JSON (`{"prim", "args", "annots"}`, `{"int"}`, `{"string"}`, `{"bytes"}`,
    /// arrays for sequences), as octez shows it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        match self {
            Micheline::Int(z) => json!({ "int": z.to_decimal() }),
            Micheline::String(s) => json!({ "string": s }),
            Micheline::Bytes(b) => json!({ "bytes": hex::encode(b) }),
            Micheline::Seq(items) => Value::Array(items.iter().map(Self::to_json).collect()),
            Micheline::Prim { prim, args, annots } => {
                let mut obj = serde_json::Map::new();
                obj.insert("prim".into(), json!(prim));
                if !args.is_empty() {
                    obj.insert(
                        "args".into(),
                        Value::Array(args.iter().map(Self::to_json).collect()),
                    );
                }
                if !annots.is_empty() {
                    obj.insert("annots".into(), json!(annots));
                }
                Value::Object(obj)
            }
        }
    }

    /// `nested`: the node is an argument of an application, where an application with
    /// arguments or annotations needs parentheses.
    fn write(&self, out: &mut String, nested: bool, leaf: &mut dyn FnMut(&mut String, Leaf<'_>)) {
        match self {
            Micheline::Int(z) => out.push_str(&z.to_decimal()),
            Micheline::String(s) => leaf(out, Leaf::String(s)),
            Micheline::Bytes(b) => leaf(out, Leaf::Bytes(b)),
            Micheline::Seq(items) if items.is_empty() => out.push_str("{}"),
            Micheline::Seq(items) => {
                out.push_str("{ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" ; ");
                    }
                    item.write(out, false, leaf);
                }
                out.push_str(" }");
            }
            Micheline::Prim { prim, args, annots } => {
                let wrap = nested && (!args.is_empty() || !annots.is_empty());
                if wrap {
                    out.push('(');
                }
                out.push_str(prim);
                for a in annots {
                    out.push(' ');
                    out.push_str(a);
                }
                for a in args {
                    out.push(' ');
                    a.write(out, true, leaf);
                }
                if wrap {
                    out.push(')');
                }
            }
        }
    }
}

impl fmt::Display for Micheline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_michelson())
    }
}

/// A Michelson string literal: `"`, `\` and the control characters Michelson has escapes for
/// written as it writes them (`\"`, `\\`, `\n`, `\t`, `\r`, `\b`). Other control characters
/// have no Michelson escape; octez prints them raw, but a hostile one must never reach the
/// operator's terminal, so they are shown as `\u{…}`.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
#[path = "micheline_tests.rs"]
mod tests;
