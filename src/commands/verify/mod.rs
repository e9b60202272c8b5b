//! `verify`: inspect a key, check that it hashes to a pkh, check a Tezos signature over bytes.
//! Used by baker setup scripts, so the output and exit codes are a contract:
//! 0 ok, 1 mismatch or invalid signature, 2 usage error (clap), 3 input unreadable/undecryptable.
//!
//! Owns: where the key to check comes from ([`resolve_key`], the one place a new key source is
//! added) and the report (text or one JSON object on stdout). Never prints secret material.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::commands::GlobalArgs;
use crate::keyfile::{self, KeyFileError};
use crate::tezos::{Curve, Pkh, PublicKey, Signature};

/// `--vault-key` and `--vault-keys`: keys read from the vault.
mod vault;

#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 ok, 1 mismatch or invalid signature, \
2 usage error, 3 key could not be read or decrypted.")]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: KeySourceArgs,
    /// Check that the key hashes to this public key hash (tz1…, tz2…, tz3…).
    #[arg(long, value_name = "TZ")]
    pub pkh: Option<Pkh>,
    /// Check this Tezos signature (spsig1…, p2sig…, edsig…, sig…) over --data.
    #[arg(long, value_name = "SIG", requires = "data")]
    pub signature: Option<Signature>,
    /// The signed bytes, hex (an optional 0x prefix is ignored); the digest is BLAKE2b-256.
    #[arg(long, value_name = "HEX", requires = "signature", value_parser = parse_hex)]
    pub data: Option<HexBytes>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Where the key comes from: exactly one of the `key_source` group. A new source is one more
/// field with `group = "key_source"` and one more arm in [`resolve_key`].
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("key_source").required(true).multiple(false)))]
pub struct KeySourceArgs {
    /// Key file: PEM (SEC1, PKCS#8, encrypted, public key), DER, JWK JSON or a Tezos base58
    /// key (spsk, p2sk, sppk, p2pk, edpk).
    #[arg(long, value_name = "FILE", group = "key_source")]
    pub key: Option<PathBuf>,
    /// A Tezos public key (sppk…, p2pk…, edpk…).
    #[arg(long, value_name = "PK", group = "key_source")]
    pub public_key: Option<PublicKey>,
    /// File holding the passphrase of an encrypted --key (default: hidden prompt on a terminal).
    // clap waives `requires` when a member of the same group is present, hence the conflict.
    #[arg(
        long,
        value_name = "FILE",
        requires = "key",
        conflicts_with = "public_key"
    )]
    pub passphrase_file: Option<PathBuf>,
    /// A key in the vault, by name (its latest version).
    #[arg(long, value_name = "NAME", group = "key_source")]
    pub vault_key: Option<String>,
    /// List every usable key in the vault with curve, pkh and state.
    #[arg(long, group = "key_source", conflicts_with_all = ["pkh", "signature", "data"])]
    pub vault_keys: bool,
    #[command(flatten)]
    pub vault: crate::commands::VaultArgs,
}

/// Bytes given in hex on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexBytes(pub Vec<u8>);

fn parse_hex(s: &str) -> Result<HexBytes, String> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    hex::decode(s)
        .map(HexBytes)
        .map_err(|e| format!("not hex: {e}"))
}

/// The key being checked, and a description of where it came from (never its secret).
#[derive(Debug, Clone)]
pub(crate) struct ResolvedKey {
    pub public_key: PublicKey,
    /// True when the source held the secret key (only its public part is used here).
    pub had_secret: bool,
    pub source: String,
}

/// Why the key could not be obtained (exit code 3).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(transparent)]
    Vault(#[from] vault::VaultReadError),
}

/// Resolves the key source into a public key. The one place a new key source is added.
pub(crate) fn resolve_key(
    _global: &GlobalArgs,
    src: &KeySourceArgs,
) -> Result<ResolvedKey, ResolveError> {
    if let Some(pk) = &src.public_key {
        return Ok(ResolvedKey {
            public_key: pk.clone(),
            had_secret: false,
            source: "--public-key".into(),
        });
    }
    if let Some(path) = &src.key {
        let passphrase = keyfile::passphrase_source(src.passphrase_file.as_deref());
        let material = keyfile::read_key_file(path, passphrase.as_ref())?;
        return Ok(ResolvedKey {
            public_key: material.public_key(),
            had_secret: material.is_secret(),
            source: path.display().to_string(),
        });
    }
    if let Some(name) = &src.vault_key {
        return Ok(vault::resolve(_global, &src.vault, name)?);
    }
    unreachable!("clap requires exactly one member of the key_source group")
}

/// The process exit codes of `verify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Ok = 0,
    Failed = 1,
    /// clap's own exit code for a usage error (it exits before `verify` runs).
    #[allow(dead_code)]
    Usage = 2,
    Input = 3,
}

#[derive(Debug, serde::Serialize)]
struct PkhCheck {
    expected: Pkh,
    ok: bool,
}

#[derive(Debug, serde::Serialize)]
struct SignatureCheck {
    signature: Signature,
    data_len: usize,
    ok: bool,
    /// For secp256k1 and P-256: whether s ≤ n/2.
    low_s: Option<bool>,
    error: Option<String>,
}

#[derive(Debug, Default, serde::Serialize)]
struct Report {
    ok: bool,
    exit_code: u8,
    pkh: Option<Pkh>,
    public_key: Option<String>,
    curve: Option<Curve>,
    key_type: Option<&'static str>,
    source: Option<String>,
    pkh_check: Option<PkhCheck>,
    signature_check: Option<SignatureCheck>,
    error: Option<String>,
}

/// Runs the checks and builds the report (no output).
fn evaluate(global: &GlobalArgs, args: &VerifyArgs) -> Report {
    let key = match resolve_key(global, &args.source) {
        Ok(k) => k,
        Err(e) => {
            return Report {
                exit_code: Exit::Input as u8,
                error: Some(e.to_string()),
                ..Report::default()
            };
        }
    };
    let pk = &key.public_key;
    let mut failures = Vec::new();
    let pkh_check = args.pkh.map(|expected| {
        let ok = pk.pkh() == expected;
        if !ok {
            failures.push(format!("the key hashes to {}, not {expected}", pk.pkh()));
        }
        PkhCheck { expected, ok }
    });
    let signature_check = match (&args.signature, &args.data) {
        (Some(sig), Some(HexBytes(data))) => {
            let result = pk.verify(data, sig);
            if let Err(e) = &result {
                failures.push(format!("signature: {e}"));
            }
            let curve = sig.curve().unwrap_or(pk.curve());
            Some(SignatureCheck {
                signature: *sig,
                data_len: data.len(),
                ok: result.is_ok(),
                low_s: (curve != Curve::Ed25519).then(|| sig.with_curve(curve).is_low_s()),
                error: result.err().map(|e| e.to_string()),
            })
        }
        _ => None,
    };
    let ok = failures.is_empty();
    Report {
        ok,
        exit_code: if ok { Exit::Ok } else { Exit::Failed } as u8,
        pkh: Some(pk.pkh()),
        public_key: Some(pk.to_string()),
        curve: Some(pk.curve()),
        key_type: Some(if key.had_secret { "secret" } else { "public" }),
        source: Some(key.source),
        pkh_check,
        signature_check,
        error: (!ok).then(|| failures.join("; ")),
    }
}

fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |label: &str, value: &dyn std::fmt::Display| {
        out.push_str(&format!("{label:<12}{value}\n"));
    };
    if let (Some(pk), Some(pkh), Some(curve)) = (&r.public_key, &r.pkh, &r.curve) {
        line("public key:", pk);
        line("pkh:", pkh);
        line("curve:", curve);
    }
    if let (Some(kind), Some(src)) = (r.key_type, &r.source) {
        line("source:", &format!("{src} ({kind} key)"));
    }
    if let Some(c) = &r.pkh_check {
        let v = if c.ok {
            format!("ok ({})", c.expected)
        } else {
            format!("MISMATCH: expected {}", c.expected)
        };
        line("pkh check:", &v);
    }
    if let Some(c) = &r.signature_check {
        let v = match &c.error {
            None => format!("ok ({} bytes)", c.data_len),
            Some(e) => format!("INVALID: {e}"),
        };
        line("signature:", &v);
    }
    out
}

pub(crate) fn run(global: &GlobalArgs, args: VerifyArgs) -> ExitCode {
    if args.source.vault_keys {
        return vault::list(global, &args.source.vault, args.json);
    }
    let report = evaluate(global, &args);
    if args.json {
        match serde_json::to_string(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("error: cannot serialise the report: {e}");
                return ExitCode::from(Exit::Input as u8);
            }
        }
    } else {
        print!("{}", render_text(&report));
    }
    if let Some(e) = &report.error {
        if report.exit_code == Exit::Input as u8 {
            eprintln!("error: {e}");
        } else {
            eprintln!("verify failed: {e}");
        }
    }
    ExitCode::from(report.exit_code)
}
