//! Where the passphrase of an encrypted key comes from: a file, a hidden terminal prompt, a
//! value handed over by a caller, or nowhere (then a clear error).
//!
//! Owns: trimming the trailing newline of passphrase files. Must never echo, log or keep a
//! passphrase outside `Zeroizing`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::KeyFileError;

/// Supplies the passphrase of an encrypted key. Called at most once per key, and only when the
/// key is actually encrypted. `what` names the key for prompts and errors.
pub trait PassphraseSource {
    /// The passphrase's bytes for the key described by `what` (e.g. "the encrypted PKCS#8
    /// key"), or why there is none (e.g. [`KeyFileError::PassphraseRequired`]).
    fn passphrase(&self, what: &str) -> Result<Zeroizing<Vec<u8>>, KeyFileError>;
}

/// Reads the passphrase from a file (one trailing `\n` or `\r\n` is removed).
#[derive(Debug, Clone)]
pub struct PassphraseFile(pub PathBuf);

impl PassphraseSource for PassphraseFile {
    fn passphrase(&self, _what: &str) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let mut bytes = Zeroizing::new(std::fs::read(&self.0).map_err(|source| {
            KeyFileError::PassphraseFile {
                path: self.0.clone(),
                source,
            }
        })?);
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        Ok(bytes)
    }
}

/// Asks on the terminal with hidden input (dialoguer, on stderr).
#[derive(Debug, Clone, Copy, Default)]
pub struct TerminalPrompt;

impl PassphraseSource for TerminalPrompt {
    fn passphrase(&self, what: &str) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        let text = Zeroizing::new(
            dialoguer::Password::new()
                .with_prompt(format!("Passphrase for {what}"))
                .allow_empty_password(true)
                .interact()
                .map_err(|e| KeyFileError::Prompt(e.to_string()))?,
        );
        Ok(Zeroizing::new(text.as_bytes().to_vec()))
    }
}

/// No passphrase available: an encrypted key is an error telling the user to pass
/// `--passphrase-file`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPassphrase;

impl PassphraseSource for NoPassphrase {
    fn passphrase(&self, what: &str) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        Err(KeyFileError::PassphraseRequired {
            what: what.to_owned(),
        })
    }
}

/// A passphrase the caller already holds (tests, or a command that read it elsewhere).
#[derive(Clone)]
pub struct FixedPassphrase(pub Zeroizing<Vec<u8>>);

impl FixedPassphrase {
    /// Copies `passphrase` into a buffer that is zeroed when dropped.
    pub fn new(passphrase: &[u8]) -> Self {
        FixedPassphrase(Zeroizing::new(passphrase.to_vec()))
    }
}

impl std::fmt::Debug for FixedPassphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedPassphrase(<redacted>)")
    }
}

impl PassphraseSource for FixedPassphrase {
    fn passphrase(&self, _what: &str) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        Ok(self.0.clone())
    }
}

/// The source a command should use: the file when given, else a hidden prompt when stdin is a
/// terminal, else none (encrypted keys then fail with a message naming `--passphrase-file`).
pub fn passphrase_source(file: Option<&Path>) -> Box<dyn PassphraseSource> {
    match file {
        Some(path) => Box::new(PassphraseFile(path.to_owned())),
        None if std::io::stdin().is_terminal() => Box::new(TerminalPrompt),
        None => Box::new(NoPassphrase),
    }
}
