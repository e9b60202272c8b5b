//! `sign`: one-off signing after a person has seen what the bytes mean and said yes.
//!
//! Owns: reading the request (hex argument, file or stdin), showing it decoded on stderr
//! ([`show`]: the details, then last, right above the prompt, a fixed summary no detail can
//! push off the screen; long strings shortened unless `--full`; every character that a
//! terminal does not show as itself escaped, [`screen_safe`]), the confirmation (default
//! No; `--yes` for scripts; no terminal and no `--yes` is a refusal), and the signature on
//! stdout. Consensus payloads go through the same watermark store, rule and locking as
//! `serve` (the data directory's lock: a running `serve` makes `sign` refuse them, naming
//! it). Exit codes: 0 signed; 1 refused (by the person, the watermark, undecodable bytes
//! without `--blind`, no terminal); 2 usage; 3 vault or input error. Must never sign what
//! was not shown, or print a signature that does not verify.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::commands::{GlobalArgs, VaultArgs};
use crate::signer::{SignError, Signer, SignerConfig};
use crate::tezos::{DecodeError, MagicByte, Pkh, Signature, SigningRequest, blake2b_256};
use crate::vault::{OpenError, Vault, VaultError, VaultKey};
use crate::watermark::{LocalStore, StoreError};

mod pending;
pub(crate) mod show;
mod summary;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 signed, 1 refused (by you, the watermark, undecodable \
bytes without --blind, no terminal without --yes), 2 usage error, 3 vault or input error."
)]
pub struct SignArgs {
    /// The vault key to sign with: its pkh or its vault name.
    #[arg(long, value_name = "PKH|NAME", required_unless_present = "pending")]
    pub key: Option<String>,
    /// The bytes to sign, hex, magic byte first (a JSON string of hex is fine too); `-` reads
    /// them from stdin.
    #[arg(
        value_name = "HEX",
        required_unless_present_any = ["file", "pending"],
        conflicts_with = "file"
    )]
    pub hex: Option<String>,
    /// Read the hex from this file.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Sign without asking (scripts). What would be shown is still printed on stderr.
    #[arg(long)]
    pub yes: bool,
    /// Show long Michelson strings and bytes whole (with --pending too); without it they are
    /// shortened to their start, length and blake2b-256 hash.
    #[arg(long)]
    pub full: bool,
    /// Print one JSON object on stdout: the decoded request, the signature and the signed
    /// operation ready for injection.
    #[arg(long)]
    pub json: bool,
    /// Also offer to sign bytes that cannot be decoded, showing the base58 blake2b-256 hash
    /// of the whole payload for comparison on another screen.
    #[arg(long)]
    pub blind: bool,
    /// Answer the requests a running `serve --confirm` holds (same machine, its data
    /// directory): each is shown decoded, you approve or reject it. New ones appear as they come.
    #[arg(long, conflicts_with_all = ["hex", "file", "blind", "yes"])]
    pub pending: bool,
    /// With --pending: print the held requests and exit.
    #[arg(long, requires = "pending", conflicts_with_all = ["approve", "reject"])]
    pub list: bool,
    /// With --pending and --key PKH: approve that key's held request with this hash, without
    /// a prompt.
    #[arg(
        long,
        value_name = "HASH",
        requires_all = ["pending", "key"],
        conflicts_with = "reject"
    )]
    pub approve: Option<String>,
    /// With --pending and --key PKH: reject that key's held request with this hash.
    #[arg(long, value_name = "HASH", requires_all = ["pending", "key"])]
    pub reject: Option<String>,
    /// Data directory of the high watermarks (the same default as `serve`).
    #[arg(long, env = "TEZOS_AZURE_SIGNER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

/// Why nothing was signed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SignFailure {
    #[error(
        "no terminal to confirm on: run it in a terminal, or pass --yes to sign without asking"
    )]
    NoTerminal,
    #[error("not signed: you declined")]
    Declined,
    #[error(
        "refusing to sign bytes that cannot be decoded ({0}); --blind shows their hash for \
         comparison on another screen and still asks"
    )]
    Undecodable(String),
    #[error(
        "refusing to sign a consensus payload that cannot be decoded ({0}): it cannot be \
         checked against the high watermark, so not even --blind signs it"
    )]
    UndecodableConsensus(String),
    #[error("not signed: {0}")]
    Refused(SignError),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Input(String),
    #[error("cannot open the vault: {0}")]
    Open(#[from] OpenError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("no usable key {0} in the vault (by pkh or vault name)")]
    UnknownKey(String),
    #[error("the vault failed: {0}")]
    Signer(SignError),
}

impl SignFailure {
    /// The one mapping to exit codes.
    fn exit(&self) -> u8 {
        match self {
            SignFailure::NoTerminal
            | SignFailure::Declined
            | SignFailure::Undecodable(_)
            | SignFailure::UndecodableConsensus(_)
            | SignFailure::Refused(_) => 1,
            SignFailure::Store(StoreError::Locked { .. }) => 1,
            _ => 3,
        }
    }
}

pub(crate) fn run(global: &GlobalArgs, args: SignArgs) -> ExitCode {
    if args.pending {
        return pending::run(global, &args);
    }
    let outcome = crate::commands::runtime()
        .map_err(|e| SignFailure::Input(format!("cannot start the async runtime: {e}")))
        .and_then(|rt| rt.block_on(sign(global, &args)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit())
        }
    }
}

/// The request's bytes from the argument, the file or stdin.
fn read_bytes(args: &SignArgs) -> Result<Vec<u8>, SignFailure> {
    let text = match (&args.hex, &args.file) {
        (Some(h), _) if h == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| SignFailure::Input(format!("cannot read stdin: {e}")))?;
            s
        }
        (Some(h), _) => h.clone(),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| SignFailure::Input(format!("cannot read {}: {e}", f.display())))?,
        (None, None) => return Err(SignFailure::Input("nothing to sign".into())),
    };
    let t = text.trim().trim_matches('"');
    let t = t.strip_prefix("0x").unwrap_or(t);
    let bytes = hex::decode(t).map_err(|e| SignFailure::Input(format!("invalid hex: {e}")))?;
    if bytes.is_empty() {
        return Err(SignFailure::Input(
            "nothing to sign: the hex is empty".into(),
        ));
    }
    Ok(bytes)
}

/// The data directory `sign` uses (the same default as `serve`).
fn data_dir(args: &SignArgs) -> Result<PathBuf, SignFailure> {
    crate::commands::args::resolve_data_dir(args.data_dir.as_deref(), false)
        .map_err(|e| SignFailure::Input(e.to_string()))
}

async fn find_key(vault: &dyn Vault, wanted: &str) -> Result<VaultKey, SignFailure> {
    let keys = vault.list_keys().await?;
    let by_pkh = wanted.parse::<Pkh>().ok();
    keys.into_iter()
        .find(|k| Some(k.pkh()) == by_pkh || k.name == wanted)
        .ok_or_else(|| SignFailure::UnknownKey(wanted.to_string()))
}

fn confirm(args: &SignArgs, pkh: &Pkh) -> Result<(), SignFailure> {
    if args.yes {
        return Ok(());
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(SignFailure::NoTerminal);
    }
    let yes = dialoguer::Confirm::new()
        .with_prompt(format!("Sign this with {pkh}?"))
        .default(false)
        .interact_on(&dialoguer::console::Term::stderr())
        .map_err(|e| SignFailure::Input(format!("cannot ask on the terminal: {e}")))?;
    if yes {
        Ok(())
    } else {
        Err(SignFailure::Declined)
    }
}

async fn sign(global: &GlobalArgs, args: &SignArgs) -> Result<(), SignFailure> {
    let bytes = read_bytes(args)?;
    let parsed = SigningRequest::parse(&bytes);
    // By the magic byte, not the parse: a consensus payload that does not decode must never
    // reach the vault around the high watermark, --blind or not.
    let watermarked = MagicByte::from_byte(bytes[0]).is_some_and(MagicByte::is_watermarked);
    if watermarked && let Err(e) = &parsed {
        return Err(SignFailure::UndecodableConsensus(e.to_string()));
    }
    // The store's lock before the vault: a running serve holds it, and there is no way
    // around the double-sign protection.
    let store = if watermarked {
        Some(LocalStore::open(data_dir(args)?).map_err(SignFailure::Store)?)
    } else {
        None
    };
    let vault: Arc<dyn Vault> = crate::vault::open(&args.vault.settings(global))?;
    let wanted = args.key.as_deref().unwrap_or_default();
    // Consensus payloads are signed by serve's pipeline, whose key discovery finds the key;
    // the rest by one direct vault call after one listing.
    let (key, signer) = match store {
        Some(store) => {
            let config = SignerConfig {
                key_filter: vec![wanted.to_string()],
                policy: crate::policy::Policy::new(
                    crate::policy::MagicBytes::new(MagicByte::WATERMARKED.map(MagicByte::byte)),
                    None,
                ),
                ..SignerConfig::default()
            };
            let signer = Signer::new(vault.clone(), Arc::new(store), config)
                .await
                .map_err(SignFailure::Signer)?;
            let key = signer
                .known_keys()
                .first()
                .and_then(|pkh| signer.vault_key(pkh))
                .ok_or_else(|| SignFailure::UnknownKey(wanted.to_string()))?;
            (key, Some(signer))
        }
        None => (find_key(vault.as_ref(), wanted).await?, None),
    };
    let pkh = key.pkh();

    eprintln!("Signing with {pkh} (vault key {}):", key.name);
    let shown = parsed
        .as_ref()
        .map_err(DecodeError::to_string)
        .and_then(|req| show::request(&pkh, req, options(global, args)).map_err(|e| e.to_string()));
    let why = match &shown {
        Ok(s) => {
            for line in &s.lines {
                eprintln!("  {}", screen_safe(line));
            }
            s.opaque.then(|| "parts of it are not decoded".to_string())
        }
        Err(e) => Some(e.clone()),
    };
    if let Some(why) = why.map(|why| screen_safe(&why)) {
        if !args.blind {
            return Err(SignFailure::Undecodable(why));
        }
        eprintln!("  cannot be fully decoded: {why}");
        eprintln!(
            "  blake2b-256 of the whole payload: {} (compare it on another screen)",
            bs58::encode(blake2b_256(&bytes)).into_string()
        );
    }
    // Last, right above the prompt: nothing shown before can push it off the screen.
    if let Ok(s) = &shown {
        for line in &s.summary {
            eprintln!("{}", screen_safe(line));
        }
    }
    confirm(args, &pkh)?;

    let signature = match signer {
        Some(signer) => {
            let signed = signer.sign(&pkh, &bytes, None).await;
            // Write the signature with its mark before the process ends, as serve does at a
            // clean stop.
            if let Err(e) = signer.shutdown().await {
                tracing::warn!(error = %e, "could not record the signature with its mark");
            }
            match signed {
                Ok(signed) => signed.signature,
                Err(e @ (SignError::Vault(_) | SignError::Store(_) | SignError::UnknownKey(_))) => {
                    return Err(SignFailure::Signer(e));
                }
                Err(e) => return Err(SignFailure::Refused(e)),
            }
        }
        None => crate::vault::sign_verified(vault.as_ref(), &key, &blake2b_256(&bytes)).await?,
    };
    let decoded = shown.map(|s| s.json).unwrap_or(serde_json::Value::Null);
    print_result(
        args,
        &key,
        &bytes,
        parsed.ok().as_ref(),
        &decoded,
        &signature,
    );
    Ok(())
}

/// What to show of a request: `-v` and `--full`.
fn options(global: &GlobalArgs, args: &SignArgs) -> show::Options {
    show::Options {
        verbose: global.verbose > 0,
        full: args.full,
    }
}

/// Characters a terminal does not show as themselves: Unicode 16.0's general categories Cc
/// (controls), Cf (format: bidi embeddings, overrides and isolates U+202A–U+202E and
/// U+2066–U+2069, marks U+200E/F and U+061C, zero-width U+200B–U+200D, U+2060–U+2064, the
/// byte order mark U+FEFF, tags U+E0001–U+E007F…), Zl (U+2028) and Zp (U+2029), plus the
/// other invisible default-ignorable characters (combining grapheme joiner, Hangul fillers,
/// variation selectors). Sorted, inclusive ranges; a hand table rather than a Unicode crate:
/// these categories change little and rarely, and a missed one only shows raw.
const HIDDEN: &[(u32, u32)] = &[
    (0x0000, 0x001f),
    (0x007f, 0x009f),
    (0x00ad, 0x00ad),
    (0x034f, 0x034f),
    (0x0600, 0x0605),
    (0x061c, 0x061c),
    (0x06dd, 0x06dd),
    (0x070f, 0x070f),
    (0x0890, 0x0891),
    (0x08e2, 0x08e2),
    (0x115f, 0x1160),
    (0x17b4, 0x17b5),
    (0x180b, 0x180f),
    (0x200b, 0x200f),
    (0x2028, 0x202e),
    (0x2060, 0x206f),
    (0x3164, 0x3164),
    (0xfe00, 0xfe0f),
    (0xfeff, 0xfeff),
    (0xffa0, 0xffa0),
    (0xfff9, 0xfffb),
    (0x110bd, 0x110bd),
    (0x110cd, 0x110cd),
    (0x13430, 0x1343f),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0xe0001, 0xe0001),
    (0xe0020, 0xe007f),
    (0xe0100, 0xe01ef),
];

/// A character that must not reach a terminal raw.
fn hidden(c: char) -> bool {
    let c = u32::from(c);
    HIDDEN
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// A line as it may reach a terminal: every control, format, line or paragraph separator and
/// invisible character escaped (`\n`, `\u{1b}`, `\u{202e}`): a hostile payload must not
/// move the cursor, reorder what is shown (bidi overrides) or hide text.
pub(super) fn screen_safe(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if !hidden(c) {
            out.push(c);
        } else if c.is_ascii() {
            out.extend(c.escape_default());
        } else {
            out.extend(c.escape_unicode());
        }
    }
    out
}

/// JSON text as it may reach a terminal: the same characters as [`screen_safe`] written as
/// JSON escapes (`\u202e`), which stays the same JSON (serde_json escapes only U+0000–U+001F,
/// `"` and `\`, and these characters only occur inside strings).
fn json_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if hidden(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn print_result(
    args: &SignArgs,
    key: &VaultKey,
    bytes: &[u8],
    req: Option<&SigningRequest>,
    decoded: &serde_json::Value,
    signature: &Signature,
) {
    if !args.json {
        println!("{signature}");
        return;
    }
    // Only an operation (0x03) is injected: its bytes after the magic byte, then the
    // signature. Consensus payloads carry the chain id first, data and authentication
    // payloads are not injected at all.
    let signed = (bytes[0] == 0x03).then(|| {
        let mut op = bytes[1..].to_vec();
        op.extend_from_slice(signature.raw());
        hex::encode(op)
    });
    let json = serde_json::json!({
        "pkh": key.pkh().to_string(),
        "key": key.name,
        "kind": req.map(|r| r.kind().name()),
        "decoded": decoded,
        "signature": signature.to_string(),
        "signed_operation": signed,
    });
    println!("{}", json_safe(&json.to_string()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hidden_table_is_sorted_and_covers_every_control() {
        assert!(HIDDEN.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(HIDDEN.iter().all(|(lo, hi)| lo <= hi));
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            if c.is_control() {
                assert!(hidden(c), "{c:?}");
            }
        }
        for c in ['a', ' ', '~', 'ꜩ', 'é', '—', '…', '─', '\u{a0}'] {
            assert!(!hidden(c), "{c:?}");
        }
    }

    #[test]
    fn bidi_zero_width_and_separators_are_escaped_on_screen() {
        for (raw, shown) in [
            ("a\u{202e}b", "a\\u{202e}b"),
            (
                "\u{202a}\u{202b}\u{202c}\u{202d}",
                "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
            ),
            (
                "\u{2066}\u{2067}\u{2068}\u{2069}",
                "\\u{2066}\\u{2067}\\u{2068}\\u{2069}",
            ),
            ("\u{200e}\u{200f}\u{61c}", "\\u{200e}\\u{200f}\\u{61c}"),
            (
                "\u{200b}\u{200c}\u{200d}\u{feff}",
                "\\u{200b}\\u{200c}\\u{200d}\\u{feff}",
            ),
            ("line\u{2028}para\u{2029}", "line\\u{2028}para\\u{2029}"),
            ("\u{ad}\u{2060}\u{e0041}", "\\u{ad}\\u{2060}\\u{e0041}"),
            (
                "\u{1b}[2J\n\r\t\u{7f}\u{85}",
                "\\u{1b}[2J\\n\\r\\t\\u{7f}\\u{85}",
            ),
            ("5000 ꜩ to tz1…", "5000 ꜩ to tz1…"),
        ] {
            assert_eq!(screen_safe(raw), shown);
        }
    }

    #[test]
    fn json_output_escapes_the_same_characters_and_stays_the_same_json() {
        let value = serde_json::json!({ "s": "x\u{202e}\u{7f}\u{e0041}ꜩ\n" });
        let safe = json_safe(&value.to_string());
        assert_eq!(safe, r#"{"s":"x\u202e\u007f\udb40\udc41ꜩ\n"}"#);
        let back: serde_json::Value = serde_json::from_str(&safe).expect("JSON");
        assert_eq!(back, value);
    }
}
