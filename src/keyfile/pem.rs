//! PEM files: splitting into blocks (with RFC 1421 headers such as `Proc-Type`), then handing
//! each key block to the right decoder. Text outside blocks (e.g. `openssl -text` output) is
//! ignored; an `EC PARAMETERS` block only names the curve for the key that follows.
//!
//! Must never: keep base64 or DER of a private key outside `Zeroizing`.

use base64::Engine;
use zeroize::Zeroizing;

use super::{KeyFileError, KeyMaterial, PassphraseSource, asn1};

/// One `-----BEGIN label-----` … `-----END label-----` block.
struct Block {
    label: String,
    headers: Vec<(String, String)>,
    /// The base64 body lines, newline-separated, as in the file.
    body: Zeroizing<String>,
    der: Zeroizing<Vec<u8>>,
}

impl Block {
    fn is_legacy_encrypted(&self) -> bool {
        self.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("Proc-Type") && v.to_ascii_uppercase().contains("ENCRYPTED")
        })
    }

    /// The block as PEM text again (for OpenSSL), headers included.
    fn to_pem(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(format!("-----BEGIN {}-----\n", self.label));
        for (k, v) in &self.headers {
            s.push_str(k);
            s.push_str(": ");
            s.push_str(v);
            s.push('\n');
        }
        if !self.headers.is_empty() {
            s.push('\n');
        }
        s.push_str(&self.body);
        s.push_str(&format!("\n-----END {}-----\n", self.label));
        s
    }
}

fn label_of<'a>(line: &'a str, kind: &str) -> Option<&'a str> {
    line.strip_prefix("-----")?
        .strip_prefix(kind)?
        .strip_prefix(' ')?
        .strip_suffix("-----")
}

fn split_blocks(text: &str) -> Result<Vec<Block>, KeyFileError> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().map(str::trim).enumerate();
    while let Some((_, line)) = lines.next() {
        let Some(label) = label_of(line, "BEGIN") else {
            continue;
        };
        let what = format!("PEM block {label}");
        let mut headers = Vec::new();
        let mut body = Zeroizing::new(String::new());
        let mut in_headers = true;
        let mut closed = false;
        for (n, line) in lines.by_ref() {
            if let Some(end) = label_of(line, "END") {
                if end != label {
                    return Err(KeyFileError::malformed(
                        what,
                        format!("line {}: END {end} closes BEGIN {label}", n + 1),
                    ));
                }
                closed = true;
                break;
            }
            if in_headers {
                if line.is_empty() {
                    in_headers = false;
                    continue;
                }
                if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_owned(), v.trim().to_owned()));
                    continue;
                }
                in_headers = false;
            }
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(line);
        }
        if !closed {
            return Err(KeyFileError::malformed(what, "no matching END line"));
        }
        let compact: Zeroizing<String> =
            Zeroizing::new(body.chars().filter(|c| !c.is_whitespace()).collect());
        let der = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|e| KeyFileError::malformed(what.clone(), format!("bad base64: {e}")))?,
        );
        if der.is_empty() {
            return Err(KeyFileError::malformed(what, "empty body"));
        }
        blocks.push(Block {
            label: label.to_owned(),
            headers,
            body,
            der,
        });
    }
    Ok(blocks)
}

/// Parses PEM text holding exactly one key (optionally preceded by `EC PARAMETERS`).
pub(super) fn parse_pem(
    text: &str,
    passphrase: &dyn PassphraseSource,
) -> Result<KeyMaterial, KeyFileError> {
    let blocks = split_blocks(text)?;
    let mut params = None;
    let mut keys = Vec::new();
    let mut others = Vec::new();
    for block in &blocks {
        match block.label.as_str() {
            "EC PARAMETERS" => params = Some(asn1::parse_ec_parameters(&block.der)?),
            "EC PRIVATE KEY" | "PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" | "PUBLIC KEY" => {
                keys.push(block)
            }
            other => others.push(other),
        }
    }
    let block = match keys.as_slice() {
        [one] => *one,
        [] => {
            // An EC PARAMETERS block alone still tells us whether the curve is supported.
            if let Some(oid) = &params {
                asn1::curve_from_oid(oid)?;
            }
            return Err(KeyFileError::Unrecognised(if others.is_empty() {
                "PEM without a key block".into()
            } else {
                format!(
                    "PEM block {} is not a supported key (expected EC PRIVATE KEY, PRIVATE KEY, \
                     ENCRYPTED PRIVATE KEY or PUBLIC KEY)",
                    others.join(", ")
                )
            }));
        }
        many => {
            return Err(KeyFileError::malformed(
                "PEM file",
                format!(
                    "it holds {} keys; put exactly one key in the file",
                    many.len()
                ),
            ));
        }
    };
    if block.is_legacy_encrypted() {
        return parse_legacy_encrypted(block, passphrase);
    }
    match block.label.as_str() {
        "EC PRIVATE KEY" => asn1::parse_sec1(&block.der, params.as_ref()),
        "PRIVATE KEY" => asn1::parse_pkcs8(&block.der, params.as_ref()),
        "ENCRYPTED PRIVATE KEY" => asn1::parse_encrypted_pkcs8(&block.der, passphrase),
        _ => asn1::parse_spki(&block.der),
    }
}

/// `Proc-Type: 4,ENCRYPTED` PEM as `openssl ec -aes256` writes it: decrypted by OpenSSL.
fn parse_legacy_encrypted(
    block: &Block,
    passphrase: &dyn PassphraseSource,
) -> Result<KeyMaterial, KeyFileError> {
    let what = format!("the encrypted {} (legacy OpenSSL PEM)", block.label);
    let pass = passphrase.passphrase(&what)?;
    let pem = block.to_pem();
    let pkey = openssl::pkey::PKey::private_key_from_pem_passphrase(pem.as_bytes(), &pass)
        .map_err(|e| KeyFileError::Decrypt {
            what,
            detail: first_openssl_reason(&e),
        })?;
    asn1::from_openssl(&pkey)
}

fn first_openssl_reason(e: &openssl::error::ErrorStack) -> String {
    e.errors()
        .iter()
        .find_map(|x| x.reason().map(str::to_owned))
        .unwrap_or_else(|| e.to_string())
}
